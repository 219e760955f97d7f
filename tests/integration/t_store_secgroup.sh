#!/usr/bin/env bash
# Security groups through the store (issue 15): a fabric with port groups,
# address sets and port groups' ACLs applied with vfabctl --store reads back
# equal to what vfabd makes of the same file; its keys are where
# docs/store.md part 2 says; add/del of a set and a group; the same change
# cut into one-op txns (each must leave a fabric that loads: sets and groups
# put before the ACLs that use them and deleted after them), both ways; a
# group edited by hand is reported by key and repaired by apply.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"
need_etcd
need_root

NS=vfsgstore
mkns "$NS"
IN=(ip netns exec "$NS")
EP=http://127.0.0.1:2379
STORE=$EP
V() { "${IN[@]}" "$VFABCTL" --store "$STORE" "$@"; }
CTL() { "${IN[@]}" etcdctl --endpoints "$STORE" "$@"; }
expect() {
  local want=$1 what=$2 rc; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
  [ "$rc" = "$want" ] || { cat "$TMP/out" "$TMP/err"; fail "$what: exit $rc, want $want"; }
}
has() { grep -qF -- "$1" "$2" || { cat "$2"; fail "'$1' not in $2"; }; }
keys() { CTL get --prefix /vfab/desired/ --keys-only | grep -c "^/vfab/desired/$1" || true; }

# demo.yaml's fabric with a security group on blue across both switches.
FAB="$TMP/fabric.yaml" SG="$TMP/sg.yaml" SGL="$TMP/sg-local.yaml"
sed '/^local:/,$d' "$SRC/examples/demo.yaml" >"$FAB"
awk '
  { print }
  /match: \{proto: tcp, dst_port: 22\}\}/ && !done {
    print "      - {port_group: web-sg, direction: from-port, priority: 100, action: allow-related}"
    print "      - {port_group: web-sg, direction: to-port, priority: 200, action: allow-related,"
    print "         match: {proto: tcp, dst_port: 22, src_ip: $admins}}"
    print "      - {switch: blue-db, port_group: web-sg, direction: to-port, priority: 50,"
    print "         action: reject, match: {proto: udp, src_ip: $admins}}"
    print "    port_groups:"
    print "      - {name: web-sg, ports: [blue-vm1, blue-db2]}"
    print "      - {name: spare}"
    print "    address_sets:"
    print "      - {name: admins, addresses: [192.0.2.0/28, \"2001:db8:a::/48\"]}"
    done = 1
  }' "$FAB" >"$SG"
grep -q "name: web-sg" "$SG" || fail "the test's fabric was not built"
{ cat "$SG"; sed -n '/^local:/,$p' "$SRC/examples/demo.yaml"; } >"$SGL"

NORM='
import json, sys
def n(x):
    if isinstance(x, dict): return {k: n(v) for k, v in x.items() if k != "local"}
    if isinstance(x, list): return sorted((n(v) for v in x), key=lambda v: json.dumps(v, sort_keys=True))
    return x
print(json.dumps(n(json.load(sys.stdin)), sort_keys=True))'

member s1 "$EP" 2380 s1=http://127.0.0.1:2380
healthy "$EP"

# ---- apply and read back ----
expect 0 "apply" V apply "$SG"
expect 0 "apply again" V apply --dry-run "$SG"
has "no change" "$TMP/out"
start_vfabd "$NS" "$SGL" "$TMP/v.sock"
"${IN[@]}" "$VFABCTL" -s "$TMP/v.sock" --json show | python3 -c "$NORM" >"$TMP/vfabd.json" ||
  fail "vfabd show"
V --json show | python3 -c "$NORM" >"$TMP/store.json" || { cat "$TMP/err"; fail "store show"; }
grep -q '"port_groups"' "$TMP/store.json" || fail "the store's show has no port_groups"
grep -q '"address_sets"' "$TMP/store.json" || fail "the store's show has no address_sets"
cmp -s "$TMP/vfabd.json" "$TMP/store.json" ||
  { diff "$TMP/vfabd.json" "$TMP/store.json"; fail "the store's fabric differs from vfabd's"; }
[ "$(keys port-group/)" = 2 ] || fail "want 2 port-group/ keys, have $(keys port-group/)"
[ "$(keys address-set/)" = 1 ] || fail "want 1 address-set/ key"
[ "$(keys port-group-acl/web-sg/)" = 2 ] || fail "want 2 port-group-acl/web-sg/ keys"
[ "$(keys acl/blue-db/)" = 1 ] || fail "want the switch+group ACL under acl/blue-db/"
CTL get /vfab/desired/port-group/web-sg --print-value-only >"$TMP/g.json"
has '"tenant":"blue"' "$TMP/g.json"
pass "port groups, address sets and their ACLs applied through the store read back as vfabd loads them"

# ---- add / del ----
expect 0 "add set" V add address-set blue name=ops
[ "$(keys address-set/ops)" = 1 ] || fail "no key for the new set"
expect 0 "add group" V add port-group blue name=db-sg
[ "$(keys port-group/db-sg)" = 1 ] || fail "no key for the new group"
expect 1 "del a set in use" V del address-set admins
has "admins" "$TMP/err"
expect 0 "del set" V del address-set ops
expect 0 "del group" V del port-group db-sg
expect 0 "after add/del" V apply --dry-run "$SG"
has "no change" "$TMP/out"
pass "add and del of a set and a group through the store; a set in use is refused"

# ---- one op a txn: every prefix of the change must load ----
expect 0 "down in 1-op txns" V --max-txn-ops 3 apply "$FAB"
# "written: 6 changes (0 puts, 6 deletes) in 6 txns": 3 ACLs, 2 groups, 1 set.
n=$(sed -n 's/^written: \([0-9]*\) changes .* in \([0-9]*\) txns.*/\1 \2/p' "$TMP/out")
[ "$n" = "6 6" ] || { cat "$TMP/out"; fail "changes and txns: '$n', want '6 6' (one op a txn)"; }
n=6
[ "$(keys port-group)" = 0 ] && [ "$(keys address-set/)" = 0 ] ||
  fail "groups or sets left after applying the fabric without them"
expect 0 "up in 1-op txns" V --max-txn-ops 3 apply "$SG"
has "written: 6 changes (6 puts, 0 deletes) in 6 txns" "$TMP/out"
expect 0 "read back" V apply --dry-run "$SG"
has "no change" "$TMP/out"
pass "removed and put back in $n one-op txns, each leaving a fabric that loads"

# ---- a group edited by hand ----
CTL put /vfab/desired/port-group/web-sg \
  '{"name":"web-sg","ports":["blue-vm1","nope"],"tenant":"blue"}' >/dev/null
expect 1 "show a bad store" V show
has "key /vfab/desired/port-group/web-sg: field 'ports'" "$TMP/err"
expect 0 "apply repairs" V apply "$SG"
expect 0 "repaired" V apply --dry-run "$SG"
has "no change" "$TMP/out"
pass "a group edited by hand is reported by key and field; apply repairs it"
stop_members
