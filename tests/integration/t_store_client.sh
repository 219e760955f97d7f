#!/usr/bin/env bash
# The etcd client library (mgmt/store) against real etcd members (Debian's
# etcd-server): a single member, a 3-member cluster whose leader is killed
# under a watch and a stream of writes, a member serving TLS with a
# throwaway CA, and a member with users and roles. Every member runs in a
# network namespace of this test's own, with its data under the test's temp
# dir, and is stopped by pid. tests/integration/store_client.c asserts.
. "$(dirname "$0")/lib.sh"
command -v etcd >/dev/null || skip "etcd is not installed (Debian package etcd-server)"
command -v etcdctl >/dev/null || skip "etcdctl is not installed (Debian package etcd-client)"
command -v openssl >/dev/null || skip "openssl is not installed"
need_root
BIN="$VF_BUILD/tests/store-client-test"
[ -x "$BIN" ] || fail "$BIN is not built"

NS=vfstore
mkns "$NS"
IN=(ip netns exec "$NS")
: >"$TMP/members"                  # "client-URL pid" per running member

# member NAME CLIENT_URL PEER_PORT CLUSTER [ETCD ARGS...]
member() {
  local name=$1 url=$2 pport=$3 cluster=$4; shift 4
  "${IN[@]}" etcd --name "$name" --data-dir "$TMP/$name" \
    --listen-client-urls "$url" --advertise-client-urls "$url" \
    --listen-peer-urls "http://127.0.0.1:$pport" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "$cluster" --initial-cluster-state new \
    --initial-cluster-token vfstore "$@" >"$TMP/$name.log" 2>&1 &
  PIDS+=($!)
  echo "$url $!" >>"$TMP/members"
  disown $!                        # no "Killed" job notice when a test kills it
}

forget_pid() {
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# Stops every member (by pid) and forgets them.
stop_members() {
  local url pid
  while read -r url pid; do
    kill "$pid" 2>/dev/null
    timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -9 "$pid" 2>/dev/null
    forget_pid "$pid"
  done <"$TMP/members"
  : >"$TMP/members"
}

# healthy ENDPOINTS [ETCDCTL ARGS...]: waits up to 30 s for every endpoint.
healthy() {
  local eps=$1 end=$((SECONDS + 30)); shift
  while [ $SECONDS -lt $end ]; do
    "${IN[@]}" etcdctl --endpoints "$eps" --dial-timeout 1s --command-timeout 1s "$@" \
      endpoint health >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  tail -n 5 "$TMP"/*.log >&2
  fail "etcd at $eps never became healthy"
}

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
c=c1=http://127.0.0.1:23801,c2=http://127.0.0.1:23802,c3=http://127.0.0.1:23803
for i in 1 2 3; do
  member "c$i" "http://127.0.0.1:2379$i" "2380$i" "$c"
done
ALL=http://127.0.0.1:23791,http://127.0.0.1:23792,http://127.0.0.1:23793
healthy "$ALL"
leader=""
for _ in $(seq 1 100); do
  leader=$("${IN[@]}" etcdctl --endpoints "$ALL" endpoint status -w json 2>/dev/null |
    json_get "next((e['Endpoint'] for e in d if e['Status']['leader'] == e['Status']['header']['member_id']), '')")
  [ -n "$leader" ] && break
  sleep 0.1
done
[ -n "$leader" ] || fail "no leader in the 3-member cluster"
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
PKI="$TMP/pki"; mkdir -p "$PKI"
mkca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -keyout "$PKI/$1.key" -out "$PKI/$1.crt" -subj "/CN=$1" 2>/dev/null || fail "openssl CA $1"
}
# mkcert NAME CA EXTENSIONS
mkcert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$PKI/$1.key" -out "$PKI/$1.csr" -subj "/CN=$1" 2>/dev/null || fail "openssl $1"
  printf '%s\n' "$3" >"$PKI/$1.ext"
  openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.crt" -CAkey "$PKI/$2.key" \
    -CAcreateserial -days 1 -extfile "$PKI/$1.ext" -out "$PKI/$1.crt" 2>/dev/null ||
    fail "openssl sign $1"
}
mkca ca
mkca evil
# etcd's gateway dials its own gRPC server with the server certificate as
# its client certificate: it needs clientAuth as well as serverAuth.
mkcert server ca "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth"
mkcert client ca "extendedKeyUsage=clientAuth"
mkcert rogue evil "extendedKeyUsage=clientAuth"
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
