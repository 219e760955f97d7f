#!/usr/bin/env bash
# The etcd client library (mgmt/store) against real etcd members (Debian's
# etcd-server): a single member, a 3-member cluster whose leader is killed
# under a watch and a stream of writes, a member serving TLS with a
# throwaway CA, and a member with users and roles. Every member runs in a
# network namespace of this test's own, with its data under the test's temp
# dir, and is stopped by pid. tests/integration/store_client.c asserts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"
need_etcd
command -v openssl >/dev/null || skip "openssl is not installed"
need_root
BIN="$VF_BUILD/tests/store-client-test"
[ -x "$BIN" ] || fail "$BIN is not built"

NS=vfstore
mkns "$NS"
IN=(ip netns exec "$NS")
EP=http://127.0.0.1:2379

# ---- one member ----
single() {
member s1 "$EP" 2380 s1=http://127.0.0.1:2380 --experimental-watch-progress-notify-interval 1s
healthy "$EP"
pid=$(awk '{print $2}' "$TMP/members")
VF_STORE_EP=$EP VF_STORE_PID=$pid "${IN[@]}" "$BIN" single || fail "single member"
stop_members
pass "single member: kv, pages, txn race, sizes, watch, progress, compaction, leases, timeouts"
}

# ---- three members; the leader is killed under the client ----
cluster() {
three_members
leader=$(leader "$ALL") || fail "no leader in the 3-member cluster"
others=$(echo "$ALL" | tr , '\n' | grep -vx "$leader" | paste -sd,)
cat >"$TMP/member-signal" <<EOF
#!/bin/sh
# member-signal SIGNAL URL: sends SIGNAL to the member serving client URL.
pid=\$(awk -v u="\$2" '\$1 == u {print \$2}' "$TMP/members")
[ -n "\$pid" ] && kill -"\$1" "\$pid" && echo "  SIG\$1 to the member at \$2 (pid \$pid)"
EOF
chmod +x "$TMP/member-signal"
VF_STORE_EPS="$leader,$others" VF_STORE_SIGNAL="$TMP/member-signal" "${IN[@]}" "$BIN" cluster ||
  fail "3-member cluster"
stop_members
pass "3-member cluster: leader $leader killed, then quorum lost: watch resumed exactly, lease kept"
}

# ---- TLS with a throwaway CA ----
tls() {
PKI="$TMP/pki"
server_pki
TEP=https://127.0.0.1:2379
member t1 "$TEP" 2380 t1=http://127.0.0.1:2380 --cert-file "$PKI/server.crt" \
  --key-file "$PKI/server.key" --trusted-ca-file "$PKI/ca.crt" --client-cert-auth
healthy "$TEP" --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key"
VF_STORE_EP=$TEP VF_STORE_PKI=$PKI "${IN[@]}" "$BIN" tls || fail "TLS"
stop_members
pass "TLS: the right certificates work; a wrong CA, client certificate or scheme is refused clearly"
}

# ---- users and roles ----
auth() {
member a1 "$EP" 2380 a1=http://127.0.0.1:2380 --auth-token-ttl 2
healthy "$EP"
ctl() { "${IN[@]}" etcdctl --endpoints "$EP" "$@" >/dev/null || fail "etcdctl $*"; }
ctl user add root:rootpw
ctl user grant-role root root
ctl role add vfab
ctl role grant-permission vfab --prefix=true readwrite /vfab/
ctl user add alice:apw
ctl user grant-role alice vfab
ctl auth enable
VF_STORE_EP=$EP "${IN[@]}" "$BIN" auth || fail "auth"
stop_members
pass "auth: user with a role, token refreshed after expiry, wrong password and no user refused"
}

# VF_STORE_GROUPS picks some (when debugging one); all by default.
for g in ${VF_STORE_GROUPS:-single cluster tls auth}; do
  "$g"
done
