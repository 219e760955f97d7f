#!/usr/bin/env bash
# vfabctl --store (northbound) against real etcd members in a namespace of
# this test's own: a two-tenant fabric applied and read back equal to what
# vfabd makes of the same file; add/del; refused changes write nothing (the
# etcd revision does not move); a store edited by hand is reported by key
# and repaired by apply; two writers racing (one wins, the other retries or
# is told to); a change over one txn's limits cut into txns (or refused with
# --atomic), by ops and by bytes; the live chassis and bindings views; TLS
# and users through vfabctl's options; a 3-member cluster whose leader is
# killed during a stream of 100 adds: every acknowledged add is there and
# the store loads whole.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"
need_etcd
need_root

NS=vfnorth
mkns "$NS"
IN=(ip netns exec "$NS")
EP=http://127.0.0.1:2379
STORE=$EP
V() { "${IN[@]}" "$VFABCTL" --store "$STORE" "$@"; }
CTL() { "${IN[@]}" etcdctl --endpoints "$STORE" "$@"; }
rev() { CTL endpoint status -w json | json_get "d[0]['Status']['header']['revision']"; }
# expect STATUS WHAT CMD...: runs CMD, stderr to $TMP/err; the exit status must be STATUS.
expect() {
  local want=$1 what=$2 rc; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
  [ "$rc" = "$want" ] || { cat "$TMP/out" "$TMP/err"; fail "$what: exit $rc, want $want"; }
}
has() { grep -qF -- "$1" "$2" || { cat "$2"; fail "'$1' not in $2"; }; }

FAB="$TMP/fabric.yaml"              # demo.yaml without its local part
sed '/^local:/,$d' "$SRC/examples/demo.yaml" >"$FAB"

# Lists sorted, so that a fabric compares equal whatever order its lists
# came in (the store gives objects in key order).
NORM='
import json, sys
def n(x):
    if isinstance(x, dict): return {k: n(v) for k, v in x.items() if k != "local"}
    if isinstance(x, list): return sorted((n(v) for v in x), key=lambda v: json.dumps(v, sort_keys=True))
    return x
print(json.dumps(n(json.load(sys.stdin)), sort_keys=True))'

# A fabric with a third tenant of N ports on one switch.
big() {
  cp "$FAB" "$1"
  { echo "  - name: big"; echo "    switches:"; echo "      - name: big-sw"
    echo "        vni: 3001"; echo "        ports:"
    for i in $(seq 1 "$2"); do
      printf '          - {name: big%d, mac: "02:00:00:03:%02x:%02x", ips: ["10.3.%d.%d"], chassis: hv%d, attach: {type: ring}}\n' \
        "$i" $((i / 256)) $((i % 256)) $((i / 200)) $((i % 200 + 1)) $((i % 2 + 1))
    done; } >>"$1"
}

single() {
member s1 "$EP" 2380 s1=http://127.0.0.1:2380
healthy "$EP"

# ---- apply and read back ----
expect 0 "apply" V apply "$FAB"
has "in 1 txn" "$TMP/out"
expect 0 "apply again" V apply --dry-run "$FAB"
has "no change" "$TMP/out"
start_vfabd "$NS" "$SRC/examples/demo.yaml" "$TMP/v.sock"
"${IN[@]}" "$VFABCTL" -s "$TMP/v.sock" --json show | python3 -c "$NORM" >"$TMP/vfabd.json" ||
  fail "vfabd show"
V --json show | python3 -c "$NORM" >"$TMP/store.json" || fail "store show"
cmp -s "$TMP/vfabd.json" "$TMP/store.json" ||
  { diff "$TMP/vfabd.json" "$TMP/store.json"; fail "the store's fabric differs from vfabd's"; }
[ "$(CTL get /vfab/format --print-value-only)" = 1 ] || fail "no format key"
pass "a two-tenant fabric applied through the store reads back as vfabd loads it"

# ---- add / del ----
expect 0 "add port" V add port blue-web name=vm9 mac=02:00:00:00:01:09 ips=10.0.0.9 chassis=hv2
has "+ port vm9" "$TMP/out"
V --json list port | json_get "[p['port']['name'] for p in d]" | grep -q vm9 || fail "vm9 not listed"
[ -n "$(CTL get /vfab/desired/port/blue-web/vm9 --print-value-only)" ] || fail "no key for vm9"
expect 0 "add acl" V add acl switch=blue-db direction=to-port priority=5 action=drop match.proto=udp
expect 0 "del port" V del port vm9
expect 0 "del acl" V del acl switch=blue-db priority=5 match.proto=udp
expect 0 "after add/del" V apply --dry-run "$FAB"
has "no change" "$TMP/out"
pass "add and del through the store"

# ---- refused changes write nothing ----
r0=$(rev)
expect 1 "bad mac" V add port blue-web name=vmx mac=02:00:zz chassis=hv1
has "field 'mac'" "$TMP/err"
expect 1 "duplicate name" V add port red-web name=blue-vm1 mac=02:00:00:00:09:01 chassis=hv1
expect 1 "ACL tie" V add acl switch=blue-web direction=to-port priority=100 action=allow match.proto=tcp
has "give them different priorities" "$TMP/err"
expect 1 "chassis in use" V del chassis hv2
sed 's/vni: 2001/vni: 1001/' "$FAB" >"$TMP/badvni.yaml"
expect 1 "bad file" V apply "$TMP/badvni.yaml"
has "badvni.yaml:" "$TMP/err"
has "field 'vni'" "$TMP/err"
expect 1 "file with local" V apply "$SRC/examples/demo.yaml"
has "local:" "$TMP/err"
expect 0 "dry run" V add port blue-web name=vm8 mac=02:00:00:00:01:08 chassis=hv1 --dry-run
has "nothing written" "$TMP/out"
[ "$(rev)" = "$r0" ] || fail "a refused change moved etcd from revision $r0 to $(rev)"
pass "refused changes and a dry run write nothing (etcd revision $r0 unchanged)"

# ---- a store edited by hand ----
CTL put /vfab/desired/port/blue-web/bad \
  '{"name":"bad","switch":"blue-web","mac":"02:00:zz","chassis":"hv1"}' >/dev/null
expect 1 "show a bad store" V show
has "key /vfab/desired/port/blue-web/bad: field 'mac'" "$TMP/err"
expect 1 "add to a bad store" V add tenant name=green
expect 0 "apply repairs" V apply "$FAB"
has "this apply replaces" "$TMP/err"
[ -z "$(CTL get /vfab/desired/port/blue-web/bad)" ] || fail "apply left the bad key"
pass "a store edited by hand is reported by key and field; apply repairs it"

# ---- two writers ----
# A reads, then holds until B has written; A's guard fails.
VFABCTL_TEST_HOLD=$TMP/h1 V add port blue-web name=ra mac=02:00:00:00:01:a1 chassis=hv1 \
  >"$TMP/a.out" 2>"$TMP/a.err" &
apid=$!
wait_for test -e "$TMP/h1.read" || fail "writer A never read the store"
expect 0 "writer B" V add port blue-web name=rb mac=02:00:00:00:01:b1 chassis=hv1
touch "$TMP/h1"
wait $apid || { cat "$TMP/a.err"; fail "writer A (add) did not retry to success"; }
has "another writer changed the store first" "$TMP/a.err"
has "retrying on the new state (1 of 5)" "$TMP/a.err"
V --json list port | json_get "' '.join(p['port']['name'] for p in d)" | grep -q "ra.*rb\|rb.*ra" ||
  fail "both racing adds should be in the store"
# apply does not retry: told to, nothing written.
big "$TMP/race.yaml" 1
VFABCTL_TEST_HOLD=$TMP/h2 V apply "$TMP/race.yaml" >"$TMP/a.out" 2>"$TMP/a.err" &
apid=$!
wait_for test -e "$TMP/h2.read" || fail "writer A never read the store"
expect 0 "writer B" V del port rb
touch "$TMP/h2"
wait $apid; rc=$?
[ $rc = 4 ] || { cat "$TMP/a.err"; fail "the losing apply exited $rc, want 4"; }
has "nothing of this change was written" "$TMP/a.err"
[ -z "$(CTL get /vfab/desired/port/big-sw/big1)" ] || fail "the losing apply wrote"
[ -z "$(CTL get /vfab/desired/port/blue-web/rb)" ] || fail "the winning del is lost"
expect 0 "apply again" V apply "$FAB"
pass "two writers: add retried on the new state; apply refused with exit 4, nothing written"

# ---- over one txn's limits ----
big "$TMP/big.yaml" 150                # 150 ports + 2 index keys + tenant + switch
r0=$(rev)
expect 1 "atomic" V apply --atomic "$TMP/big.yaml"
has "etcd --max-txn-ops" "$TMP/err"
[ "$(rev)" = "$r0" ] || fail "a refused --atomic apply wrote"
expect 0 "split apply" V apply "$TMP/big.yaml"
has "in 2 txns" "$TMP/out"
expect 0 "split apply read back" V apply --dry-run "$TMP/big.yaml"
has "no change" "$TMP/out"
expect 0 "split delete" V apply "$FAB"
has "in 2 txns" "$TMP/out"
pass "a change over 128 ops: refused with --atomic, else written in 2 txns"

# ---- runtime records (by hand, as hosts will write them) ----
lease=$(CTL lease grant 30 | awk '{print $2}')
CTL put --lease="$lease" /vfab/chassis/hv1 \
  '{"name":"hv1","underlay_ip":"192.0.2.1","encap":"geneve","port":6081,"version":"0.1.0","started":1764765000}' >/dev/null
CTL put --lease="$lease" /vfab/bindings/blue-vm1 '{"chassis":"hv1"}' >/dev/null
CTL put --lease="$lease" /vfab/bindings/blue-vm4 '{"chassis":"hv1"}' >/dev/null
left=$(V --json chassis | json_get "[c['lease_left_s'] for c in d if c['name'] == 'hv1'][0]")
[ "$left" -ge 1 ] && [ "$left" -le 30 ] || fail "hv1's lease left: $left"
V --json bindings | json_get "sorted((b['port'], b['chassis'], b['desired']) for b in d)" \
  >"$TMP/b.txt"
has "('blue-vm4', 'hv1', 'hv2')" "$TMP/b.txt"
CTL lease revoke "$lease" >/dev/null
[ "$(V --json chassis | json_get 'len(d)')" = 0 ] || fail "a revoked chassis is still listed"
pass "chassis (lease left $left s) and bindings views; a dead lease takes them away"
stop_members
}

# ---- etcd's byte limit ----
bytes() {
member b1 "$EP" 2380 b1=http://127.0.0.1:2380 --max-request-bytes 16384 --max-txn-ops 4096
healthy "$EP"
big "$TMP/big.yaml" 150
expect 1 "over etcd's bytes" V --max-txn-ops 4096 apply "$TMP/big.yaml"
has "max-request-bytes" "$TMP/err"
[ -z "$(CTL get --prefix /vfab/desired/ --keys-only)" ] || fail "a refused apply wrote"
expect 0 "cut by bytes" V --json --max-txn-ops 4096 --max-request-bytes 16384 apply "$TMP/big.yaml"
txns=$(json_get "d['txns']" <"$TMP/out")
[ "$txns" -ge 2 ] || fail "a change of about 30 KB went in $txns txn(s) under a 16 KB limit"
expect 0 "read back" V apply --dry-run "$TMP/big.yaml"
has "no change" "$TMP/out"
stop_members
pass "etcd at --max-request-bytes 16384: refused whole when vfabctl is not told, cut in $txns txns when it is"
}

# ---- TLS ----
tls() {
PKI="$TMP/pki"
server_pki
STORE=https://127.0.0.1:2379
member t1 "$STORE" 2380 t1=http://127.0.0.1:2380 --cert-file "$PKI/server.crt" \
  --key-file "$PKI/server.key" --trusted-ca-file "$PKI/ca.crt" --client-cert-auth
healthy "$STORE" --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key"
expect 0 "TLS apply" V --ca "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key" apply "$FAB"
expect 0 "TLS show" V --ca "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key" show
expect 3 "wrong CA" V --ca "$PKI/evil.crt" --cert "$PKI/client.crt" --key "$PKI/client.key" show
has "etcd https://127.0.0.1:2379: TLS" "$TMP/err"
expect 3 "rogue client" V --ca "$PKI/ca.crt" --cert "$PKI/rogue.crt" --key "$PKI/rogue.key" show
has "client certificate" "$TMP/err"
expect 2 "cert without key" V --ca "$PKI/ca.crt" --cert "$PKI/client.crt" show
expect 2 "unreadable CA" V --ca "$PKI/nope.crt" show
has "nope.crt" "$TMP/err"
stop_members
STORE=$EP
pass "TLS: right certificates work; a wrong CA or client certificate is refused clearly"
}

# ---- users and roles ----
auth() {
member a1 "$EP" 2380 a1=http://127.0.0.1:2380
healthy "$EP"
ctl() { CTL "$@" >/dev/null || fail "etcdctl $*"; }
ctl user add root:rootpw
ctl user grant-role root root
ctl role add vfab
ctl role grant-permission vfab --prefix=true readwrite /vfab/
ctl user add alice:apw
ctl user grant-role alice vfab
ctl auth enable
echo apw >"$TMP/pw"; echo nope >"$TMP/badpw"
expect 0 "alice applies" V --user alice --password-file "$TMP/pw" apply "$FAB"
expect 0 "alice shows" env VFAB_STORE_PASSWORD=apw "${IN[@]}" "$VFABCTL" --store "$EP" --user alice show
expect 1 "wrong password" V --user alice --password-file "$TMP/badpw" show
has "authentication as user alice failed" "$TMP/err"
expect 1 "outside the role" V --user alice --password-file "$TMP/pw" --prefix /other/ apply "$FAB"
has "permission denied" "$TMP/err"
expect 1 "no user" V show
has "user and password" "$TMP/err"
grep -q apw "$TMP/err" "$TMP/out" && fail "the password was printed"
stop_members
pass "auth: a user with a role on /vfab/ writes; wrong password, other prefix, no user refused"
}

# ---- 3 members, leader killed during 100 adds ----
cluster() {
three_members
l=$(leader "$ALL") || fail "no leader"
others=$(echo "$ALL" | tr , '\n' | grep -vx "$l" | paste -sd,)
STORE="$l,$others"
expect 0 "cluster apply" V apply "$FAB"
: >"$TMP/acked"
# The adds run on while the leader dies under them (some in flight).
(
  for i in $(seq 1 100); do
    if V --timeout 3000 add port blue-web name=s$i mac="$(printf '02:00:00:00:0b:%02x' "$i")" \
         ips=10.0.0.$((i + 100)) chassis=hv2 >>"$TMP/stream.out" 2>>"$TMP/stream.err"; then
      echo "s$i" >>"$TMP/acked"
    fi
  done
) &
adder=$!
for _ in $(seq 1 300); do
  [ "$(wc -l <"$TMP/acked")" -ge 30 ] && break
  sleep 0.1
done
kill -9 "$(member_pid "$l")"
echo "  killed the leader $l after $(wc -l <"$TMP/acked") acknowledged adds"
wait "$adder"
STORE=$others
V --json list port >"$TMP/ports.json" || { cat "$TMP/err"; fail "the store does not load after the kill"; }
json_get "'\n'.join(p['port']['name'] for p in d)" <"$TMP/ports.json" >"$TMP/have"
missing=$(grep -vxFf "$TMP/have" "$TMP/acked" | wc -l)
[ "$missing" = 0 ] || fail "$missing acknowledged adds are not in the store"
acked=$(wc -l <"$TMP/acked")
stored=$(grep -c '^s[0-9]' "$TMP/have")
[ "$acked" -ge 1 ] || fail "no add was acknowledged"
stop_members
STORE=$EP
unclear=$(grep -c "an unclear answer" "$TMP/stream.out")
pass "leader killed during 100 adds: $acked acknowledged ($unclear after reading back), $stored stored, the store loads whole, none lost"
}

# ---- the leader freezes with a txn in flight ----
frozen() {
three_members
l=$(leader "$ALL") || fail "no leader"
others=$(echo "$ALL" | tr , '\n' | grep -vx "$l" | paste -sd,)
STORE="$l,$others"
expect 0 "frozen: apply" V apply "$FAB"
serial=$(CTL get /vfab/serial --print-value-only)
# A reads from the leader, which then freezes (SIGSTOP: TCP stays open and
# silent), so A's txn gets no answer: was it applied? A reads back from
# the others once they elected a leader: not applied; sends it again.
VFABCTL_TEST_HOLD=$TMP/h3 V --timeout 3000 add port blue-web name=f1 mac=02:00:00:00:01:f1 \
  chassis=hv1 >"$TMP/a.out" 2>"$TMP/a.err" &
apid=$!
wait_for test -e "$TMP/h3.read" || fail "writer never read the store"
kill -STOP "$(member_pid "$l")"
touch "$TMP/h3"
wait $apid || { cat "$TMP/a.out" "$TMP/a.err"; kill -CONT "$(member_pid "$l")"; fail "add under a frozen leader"; }
has "an unclear answer: found not applied, sent again" "$TMP/a.out"
kill -CONT "$(member_pid "$l")"
# The frozen member's copy of the txn, if it ever reaches the new leader,
# fails its guard: the serial moved by exactly one.
sleep 2
STORE=$ALL
[ "$(CTL get /vfab/serial --print-value-only)" = $((serial + 1)) ] ||
  fail "serial $(CTL get /vfab/serial --print-value-only), want $((serial + 1))"
V --json list port | json_get "[p['port']['name'] for p in d]" | grep -q "'f1'" || fail "f1 lost"
stop_members
STORE=$EP
pass "a txn in flight to a frozen leader: read back as not applied, sent once more, applied once"
}

for g in ${VF_NORTH_GROUPS:-single bytes tls auth frozen cluster}; do
  "$g"
done
