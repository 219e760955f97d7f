#!/usr/bin/env bash
# The demo while ports come and go (redteam 5: vfabd --demo died with
# SIGSEGV when a local port was added or deleted, the generator walking the
# port table mgmt rebuilt). Local ring ports are added and deleted, a
# demo VM's own port is deleted and re-added, and a tenant is added in
# front of the others (renumbering them); vfabd keeps running, still
# forwards, and ends cleanly with no isolation violation.
. "$(dirname "$0")/lib.sh"

SOCK="$TMP/vfabd.sock"
"$VFABD" -c "$SRC/examples/demo.yaml" -s "$SOCK" --demo -q --duration 40 \
  >"$TMP/out" 2>"$TMP/err" &
DPID=$!
PIDS+=($DPID)
wait_for test -S "$SOCK" || { cat "$TMP/err"; fail "control socket never appeared"; }
ctl() { "$VFABCTL" -s "$SOCK" "$@" >/dev/null 2>>"$TMP/ctl.err" || fail "vfabctl $*: $(tail -1 "$TMP/ctl.err")"; }

for i in 1 2 3 4 5; do
  ctl add port blue-web name=z$i mac=02:00:00:00:0a:0$i ips=10.0.0.5$i chassis=hv1
  ctl add port red-web name=r$i mac=02:00:00:00:0b:0$i ips=10.0.0.6$i chassis=hv1
  sleep 0.2
  ctl del port z$i
done
# A demo VM's port goes and comes back (a new port object under the name).
ctl del port blue-vm2
sleep 0.3
ctl add port blue-web name=blue-vm2 mac=02:00:00:00:01:02 ips=10.0.0.2 chassis=hv1 port_security=true
# A tenant whose name sorts first: every tenant index shifts.
"$VFABCTL" -s "$SOCK" --json show >"$TMP/show.json" || fail "show"
ctl add tenant name=aaa
ctl add switch aaa name=aaa-sw vni=3001
ctl add port aaa-sw name=a1 mac=02:00:00:00:01:01 ips=10.0.0.1 chassis=hv1
sleep 1
kill -0 $DPID 2>/dev/null || { cat "$TMP/err"; fail "vfabd died while ports came and went"; }
s1=$("$VFABCTL" -s "$SOCK" --json stats | json_get 'sum(w["rx_pkts"] for w in d["workers"])')
sleep 1
s2=$("$VFABCTL" -s "$SOCK" --json stats | json_get 'sum(w["rx_pkts"] for w in d["workers"])')
[ "$s2" -gt "$s1" ] || fail "no traffic after the edits ($s1 -> $s2)"
pass "vfabd --demo alive after 16 port/tenant edits, still forwarding ($s1 -> $s2 packets)"

kill -INT $DPID
wait $DPID; rc=$?
[ $rc -eq 0 ] || { tail -5 "$TMP/err" "$TMP/out"; fail "demo exited $rc"; }
grep -q " 0 isolation violations" "$TMP/out" || { tail -3 "$TMP/out"; fail "isolation violated"; }
pass "demo ended cleanly: $(grep -o '[0-9]* frames sent, [0-9]* delivered' "$TMP/out")"
