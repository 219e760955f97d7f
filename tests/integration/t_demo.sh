#!/usr/bin/env bash
# The demo: vfabd on ring ports with generated traffic. Checks that traffic
# flows through pinned workers, drops are counted by reason, the live view
# and vfabctl show the workers' cores and NUMA nodes, and isolation holds.
. "$(dirname "$0")/lib.sh"

SOCK="$TMP/vfabd.sock"
"$VFABD" -c "$SRC/examples/demo.yaml" -s "$SOCK" --demo --duration 8 \
  >"$TMP/out" 2>"$TMP/err" &
PIDS+=($!)
DPID=$!
wait_for test -S "$SOCK" || { cat "$TMP/err"; fail "control socket never appeared"; }
sleep 1.5

# Ask everything while the demo runs; check afterwards.
"$VFABCTL" -s "$SOCK" --json status >"$TMP/status.json" || fail "vfabctl status"
"$VFABCTL" -s "$SOCK" --json stats >"$TMP/stats.json" || fail "vfabctl stats"
"$VFABCTL" -s "$SOCK" status >"$TMP/status.txt" || fail "vfabctl status (human)"
"$VFABCTL" -s "$SOCK" stats >"$TMP/stats.txt" || fail "vfabctl stats (human)"

nw=$(json_get 'len(d["workers"])' <"$TMP/status.json")
[ "$nw" -ge 1 ] || fail "no workers in status"
json_get 'all("cpu" in w and "numa_node" in w for w in d["workers"])' <"$TMP/status.json" \
  | grep -q True || fail "status lacks cpu/numa_node per worker"
pass "status: $nw workers with core and NUMA node"

rx=$(json_get 'sum(w["rx_pkts"] for w in d["workers"])' <"$TMP/stats.json")
[ "$rx" -gt 0 ] || fail "workers received nothing"
ps=$(json_get 'd["drops"]["port_security"]' <"$TMP/stats.json")
acl=$(json_get 'd["drops"]["acl_ingress"] + d["drops"]["acl_egress"]' <"$TMP/stats.json")
[ "$ps" -gt 0 ] || fail "spoofed demo traffic not dropped by port security"
[ "$acl" -gt 0 ] || fail "ssh demo traffic not dropped by the ACL"
json_get '[p["name"] for p in d["ports"]]' <"$TMP/stats.json" | grep -q "vm" \
  || fail "stats do not list ports by logical name"
pass "stats: rx $rx, port_security drops $ps, acl drops $acl"

grep -q "worker" "$TMP/status.txt" || fail "human status output"
grep -q "drops by reason" "$TMP/stats.txt" || fail "human stats output"

wait "$DPID"; rc=$?
[ $rc -eq 0 ] || { cat "$TMP/err" "$TMP/out"; fail "demo exited $rc"; }
grep -q "worker 0 cpu" "$TMP/out" || fail "no live per-worker line"
grep -q "isolation violations 0" "$TMP/out" || fail "isolation line missing or non-zero"
delivered=$(sed -n 's/.* \([0-9]*\) delivered to VMs.*/\1/p' "$TMP/out")
[ "${delivered:-0}" -gt 0 ] || fail "nothing delivered to VMs"
grep -q " 0 isolation violations" "$TMP/out" || fail "isolation violated"
pass "demo: $delivered frames delivered, no isolation violation"
