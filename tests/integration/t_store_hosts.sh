#!/usr/bin/env bash
# Two namespace hosts run `vfabd --store` with files that hold only
# `local:`; the fabric (tests/integration/data/real-hosts.yaml, two tenants
# with the same addresses) is written only through `vfabctl --store apply`
# to an etcd member inside host A's namespace. Checks: ping across hosts,
# isolation between the tenants; a bad apply writes nothing; the control
# socket's edits are refused; a change in the store reaches both hosts;
# every open port is bound to its host, and a port moved to the other host
# and back is released and claimed each time;
# kill -9 of one vfabd: the other drops it from the live chassis and counts
# tunnel_chassis_down for traffic to it, and resumes when it is back; etcd
# stopped: pings go on, a vfabd restarted with --state-dir forwards from its
# snapshot; etcd back: both catch up (a new change reaches both).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"
need_etcd
need_root
command -v ping >/dev/null || skip "ping is not installed (scripts/install-deps.sh)"

P=vfs$$
A=${P}hA B=${P}hB
mkns "$A"; mkns "$B"
underlay "$A" "$B"
IN=(ip netns exec "$A")
EP=http://192.0.2.1:2379
TTL=3
V() { "${IN[@]}" "$VFABCTL" --store "$EP" "$@"; }
CTL() { "${IN[@]}" etcdctl --endpoints "$EP" "$@"; }
rev() { CTL endpoint status -w json | json_get "d[0]['Status']['header']['revision']"; }

start_etcd() { member s1 "$EP" 2380 s1=http://127.0.0.1:2380; healthy "$EP"; }
start_etcd

FAB="$TMP/fabric.yaml"
sed '/^local:/,$d' "$SRC/tests/integration/data/real-hosts.yaml" >"$FAB"
V apply "$FAB" >"$TMP/apply.out" 2>&1 || { cat "$TMP/apply.out"; fail "vfabctl --store apply"; }
r0=$(rev)
# A bad apply (two switches with one VNI) writes nothing.
sed 's/vni: 2001/vni: 1001/' "$FAB" >"$TMP/bad.yaml"
if V apply "$TMP/bad.yaml" >"$TMP/bad.out" 2>&1; then fail "a bad apply was accepted"; fi
[ "$(rev)" = "$r0" ] || fail "a refused apply moved the revision ($r0 -> $(rev))"
pass "fabric written through vfabctl --store apply; a bad apply wrote nothing ($(head -c 160 "$TMP/bad.out"))"

for h in 1 2; do
  echo "local: {chassis: hv$h, workers: 1, uplink: {type: udp, bind: \"192.0.2.$h:6081\"}, store: {lease_ttl: $TTL}}" >"$TMP/hv$h.yaml"
  mkdir -p "$TMP/state$h"
done
# A file with the fabric and --store is refused, naming what to drop.
cp "$SRC/tests/integration/data/real-hosts.yaml" "$TMP/full.yaml"
echo "local: {chassis: hv1}" >>"$TMP/full.yaml"
if ip netns exec "$A" "$VFABD" -c "$TMP/full.yaml" --store "$EP" -s "$TMP/x.sock" -q 2>"$TMP/full.err"; then
  fail "vfabd took a fabric file with --store"
fi
grep -q "drop 'chassis', 'tenants'" "$TMP/full.err" || { cat "$TMP/full.err"; fail "the refusal does not say what to drop"; }
pass "a file with the fabric and --store is refused: $(head -c 200 "$TMP/full.err")"

# start_host N: vfabd --store for hv N (host A or B), state in $TMP/stateN.
start_host() {
  local ns=$A; [ "$1" = 2 ] && ns=$B
  # A vfabd killed with -9 leaves its socket file: wait for the new one's,
  # or the VMs' taps would be moved while the new vfabd still sets them up.
  rm -f "$TMP/h$1.sock"
  ip netns exec "$ns" "$VFABD" -c "$TMP/hv$1.yaml" --store "$EP" --state-dir "$TMP/state$1" \
    -s "$TMP/h$1.sock" -q >"$TMP/h$1.out" 2>>"$TMP/h$1.err" &
  PIDS+=($!)
  eval "H$1=$!"
  disown $!                        # no "Killed" job notice for the kill -9
  wait_for test -S "$TMP/h$1.sock" || { cat "$TMP/h$1.err"; fail "vfabd hv$1 did not start"; }
}
# vms N: hv N's VMs (its taps moved into VM namespaces, made again).
vms() {
  if [ "$1" = 1 ]; then
    vm "$A" vfb1 ${P}b1 02:00:00:00:01:01 10.0.0.1/24 10.0.0.254
    vm "$A" vfr1 ${P}r1 02:00:00:00:01:01 10.0.0.1/24
  else
    vm "$B" vfb2 ${P}b2 02:00:00:00:01:02 10.0.0.2/24 10.0.0.254
    vm "$B" vfb3 ${P}b3 02:00:00:00:02:01 10.0.1.1/24 10.0.1.254
    vm "$B" vfr2 ${P}r2 02:00:00:00:01:02 10.0.0.2/24
  fi
}
st() { "$VFABCTL" -s "$TMP/h$1.sock" --json status | json_get "d['store']$2"; }
ping_ok() { ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }
# pings_ok NS ADDR: up to 10 single pings until one answers.
pings_ok() { for _ in $(seq 1 10); do ping_ok "$1" "$2" && return 0; sleep 0.2; done; return 1; }
live() { V --json chassis 2>/dev/null | json_get "sorted(c['name'] for c in d)"; }
down() { st "$1" "['chassis_down']" 2>/dev/null; }
drops() { drop_stat "$TMP/h$1.sock" tunnel_chassis_down; }
no_ping() { ! ping_ok "$@"; }
n_live() { [ "$(V --json chassis 2>/dev/null | json_get 'len(d)')" = "$1" ]; }
live_is() { [ "$(live)" = "$1" ]; }
none_down() { local h; for h in "$@"; do [ "$(down "$h")" = '[]' ] || return 1; done; }

start_host 1
start_host 2
vms 1; vms 2
wait_for n_live 2 || fail "both chassis never registered: $(V --json chassis)"
wait_for none_down 1 2 || fail "a host sees the other down: $(down 1) $(down 2)"

pings_ok ${P}b1 10.0.0.2 || fail "blue vm1 -> vm2 across hosts"
ip netns exec ${P}b1 ping -c 2 -i 0.2 -W 2 10.0.1.1 >"$TMP/p2" || { cat "$TMP/p2"; fail "blue vm1 -> db1 across the router"; }
grep -q "ttl=63" "$TMP/p2" || fail "routed ping did not decrement TTL"
pass "blue pings across hosts and across its router, from a fabric only in etcd"
rtx=$(port_stat "$TMP/h2.sock" red-vm2 tx_pkts)
[ "$rtx" -eq 0 ] || fail "red-vm2 received $rtx packets during blue's pings"
pings_ok ${P}r1 10.0.0.2 || fail "red vm1 -> vm2"
[ "$(port_stat "$TMP/h2.sock" red-vm2 tx_pkts)" -gt 0 ] || fail "red-vm2 got nothing from red-vm1"
pass "isolation: red (same addresses) saw none of blue's pings, and pings on its own"

[ "$(st 1 "['connected']")" = True ] || fail "hv1 status: store not connected: $(st 1 '')"
srev=$(st 1 "['revision']")
[ "$srev" -ge "$r0" ] || fail "hv1 runs revision $srev, the fabric was written at $r0"
"$VFABCTL" -s "$TMP/h1.sock" status | grep -q "^store: $EP" || fail "vfabctl status shows no store line"
pass "vfabctl status shows the store: connected, revision $srev"

if "$VFABCTL" -s "$TMP/h1.sock" del port blue-vm1 >"$TMP/ed.out" 2>&1; then
  fail "the control socket took an edit on a --store vfabd"
fi
grep -q "vfabctl --store" "$TMP/ed.out" || { cat "$TMP/ed.out"; fail "the refusal does not point at vfabctl --store"; }
pass "edits on the control socket are refused: $(head -c 160 "$TMP/ed.out")"

# A change through the store reaches both hosts: an ACL dropping ICMP to
# blue-web's ports, then its removal.
sed 's/^    acls:$/    acls:\n      - {switch: blue-web, direction: to-port, priority: 200, action: drop, match: {proto: icmp}}/' "$FAB" >"$TMP/acl.yaml"
V apply "$TMP/acl.yaml" >/dev/null 2>&1 || fail "applying the ICMP ACL"
wait_for no_ping ${P}b1 10.0.0.2 || fail "the ICMP ACL never took effect"
V apply "$FAB" >/dev/null 2>&1 || fail "removing the ICMP ACL"
pings_ok ${P}b1 10.0.0.2 || fail "ping after the ACL was removed"
pass "a change in the store (ACL added, removed) took effect on the hosts"

# Bindings: each host claims the ports it has open.
binds() { V --json bindings 2>/dev/null | json_get "' '.join(sorted(r['port'] + '@' + str(r.get('chassis')) for r in d))"; }
binds_are() { [ "$(binds)" = "$1" ]; }
ALL="blue-db1@hv2 blue-vm1@hv1 blue-vm2@hv2 red-vm1@hv1 red-vm2@hv2"
wait_for binds_are "$ALL" || fail "bindings: $(binds), want $ALL"
pass "bindings: every open port is bound to its host ($ALL)"

# A move: red-vm2 to hv1 (hv2 closes it and releases, hv1 opens and
# claims), then back to hv2.
sed '/red-vm2/s/chassis: hv2/chassis: hv1/' "$FAB" >"$TMP/move.yaml"
V apply "$TMP/move.yaml" >/dev/null 2>&1 || fail "applying the move of red-vm2"
wait_for binds_are "${ALL/red-vm2@hv2/red-vm2@hv1}" || fail "red-vm2 never bound to hv1: $(binds)"
vm "$A" vfr2 ${P}r2 02:00:00:00:01:02 10.0.0.2/24
pings_ok ${P}r1 10.0.0.2 || fail "red vm1 -> vm2 after vm2 moved to hv1"
V apply "$FAB" >/dev/null 2>&1 || fail "moving red-vm2 back"
wait_for binds_are "$ALL" || fail "red-vm2 never bound to hv2 again: $(binds)"
vm "$B" vfr2 ${P}r2 02:00:00:00:01:02 10.0.0.2/24
pings_ok ${P}r1 10.0.0.2 || fail "red vm1 -> vm2 after vm2 moved back to hv2"
pass "a port moved to hv1 and back: released by the old host, claimed by the new, pinged each time"

# kill -9 hv2: hv1 drops it from the live chassis (within its lease TTL)
# and counts traffic to it as tunnel_chassis_down.
before=$(drops 1)
t0=$(date +%s.%N)
kill -9 "$H2"; forget_pid "$H2"
for _ in $(seq 1 $((TTL * 40))); do
  [ "$(down 1)" = "['hv2']" ] && break
  sleep 0.1
done
t1=$(date +%s.%N)
[ "$(down 1)" = "['hv2']" ] || fail "hv1 never saw hv2 go: $(down 1)"
[ "$(live)" = "['hv1']" ] || fail "vfabctl --store chassis still lists hv2: $(live)"
if ping_ok ${P}b1 10.0.0.2; then fail "a ping reached a killed chassis"; fi
after=$(drops 1)
[ "$after" -gt "$before" ] || fail "tunnel_chassis_down did not grow ($before -> $after)"
pass "kill -9 hv2: hv1 saw it go after $(python3 -c "print(f'{$t1-$t0:.1f}')") s (lease TTL $TTL s) and counted $((after - before)) tunnel_chassis_down drops"

start_host 2
vms 2
wait_for none_down 1 || fail "hv1 never saw hv2 come back: $(down 1)"
pings_ok ${P}b1 10.0.0.2 || fail "blue vm1 -> vm2 after hv2 came back"
pass "hv2 restarted: hv1 tunnels to it again"

# etcd stopped: forwarding goes on; hv2 restarted while etcd is down
# forwards from its saved snapshot.
stop_members
pings_ok ${P}b1 10.0.0.2 || fail "ping with etcd stopped"
kill "$H2"; timeout 15 tail --pid="$H2" -f /dev/null; forget_pid "$H2"
start_host 2
vms 2
pings_ok ${P}b1 10.0.0.2 || fail "hv2 restarted with etcd down does not forward"
[ "$(st 2 "['connected']")" = False ] || fail "hv2 says it is connected with etcd down"
pass "etcd stopped: pings go on; hv2 restarted from its snapshot forwards before the store answers"

# etcd back: both hosts catch up; a new change reaches both.
start_etcd
for h in 1 2; do
  for _ in $(seq 1 300); do
    [ "$(st $h "['connected']" 2>/dev/null)" = True ] && [ "$(st $h "['registration']" 2>/dev/null)" = registered ] && break
    sleep 0.1
  done
  [ "$(st $h "['connected']")" = True ] || fail "hv$h never reconnected: $(st $h '')"
done
wait_for live_is "['hv1', 'hv2']" || fail "both chassis never registered again: $(live)"
V apply "$TMP/acl.yaml" >/dev/null 2>&1 || fail "applying the ICMP ACL after etcd came back"
wait_for no_ping ${P}b1 10.0.0.2 || fail "hv1/hv2 never caught up with the ICMP ACL"
wait_for no_ping ${P}b2 10.0.0.1 || fail "hv1 never caught up with the ICMP ACL (from hv2)"
pass "etcd back: both hosts reconnected, registered again and applied a new change"
