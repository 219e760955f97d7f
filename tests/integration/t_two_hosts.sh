#!/usr/bin/env bash
# Two vfabd (chassis hv1 and hv2) over the UDP underlay on loopback, inside
# a network namespace of the test's own. hv1 generates a fixed number of
# frames for two tenants with the same addresses; hv2 only receives. Checks:
# packets cross, isolation holds, and the counters add up exactly:
#   hv1 underlay tx == hv2 underlay rx + kernel UDP receive-buffer drops
#   hv2 underlay rx == hv2 deliveries + hv2 counted drops
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root for a network namespace"
NS="vft2h-$$"
ip netns add "$NS" || skip "cannot create a network namespace"
NETNS+=("$NS")
ip -n "$NS" link set lo up

ip netns exec "$NS" "$VFABD" -c "$SRC/examples/two-hosts-hv2.yaml" -s "$TMP/h2.sock" \
  --demo-count 0 -q >"$TMP/h2.out" 2>"$TMP/h2.err" &
H2=$!; PIDS+=($H2)
wait_for test -S "$TMP/h2.sock" || { cat "$TMP/h2.err"; fail "hv2 did not start"; }
ip netns exec "$NS" "$VFABD" -c "$SRC/examples/two-hosts-hv1.yaml" -s "$TMP/h1.sock" \
  --demo-count 200000 -q >"$TMP/h1.out" 2>"$TMP/h1.err" &
H1=$!; PIDS+=($H1)
wait_for test -S "$TMP/h1.sock" || { cat "$TMP/h1.err"; fail "hv1 did not start"; }

uplink_tx() { "$VFABCTL" -s "$TMP/h1.sock" --json stats | json_get '[p for p in d["ports"] if p["name"]=="uplink"][0]["tx_pkts"]'; }
# Wait until hv1 has sent everything (its underlay tx stops moving), bounded.
prev=-1
for _ in $(seq 1 60); do
  cur=$(uplink_tx)
  [ "$cur" = "$prev" ] && [ "$cur" -gt 0 ] && break
  prev=$cur; sleep 0.5
done
sleep 0.5
"$VFABCTL" -s "$TMP/h1.sock" --json stats >"$TMP/s1.json" || fail "hv1 stats"
"$VFABCTL" -s "$TMP/h2.sock" --json stats >"$TMP/s2.json" || fail "hv2 stats"
T=$(json_get '[p for p in d["ports"] if p["name"]=="uplink"][0]["tx_pkts"]' <"$TMP/s1.json")
R=$(json_get '[p for p in d["ports"] if p["name"]=="uplink"][0]["rx_pkts"]' <"$TMP/s2.json")
D=$(json_get 'sum(p["tx_pkts"] for p in d["ports"] if p["name"]!="uplink")' <"$TMP/s2.json")
X=$(json_get 'sum(d["drops"].values())' <"$TMP/s2.json")
K=$(ip netns exec "$NS" awk '/^Udp: [0-9]/ {print $6}' /proc/net/snmp)
echo "hv1 underlay tx $T; hv2 underlay rx $R, kernel rcvbuf drops $K; hv2 delivered $D, dropped $X"
[ "$T" -gt 0 ] || fail "hv1 sent nothing on the underlay"
[ "$T" -eq $((R + K)) ] || fail "underlay: tx $T != rx $R + kernel drops $K"
[ "$R" -eq $((D + X)) ] || fail "hv2: rx $R != delivered $D + counted drops $X"
pass "counters add up"

kill -INT "$H2"; wait "$H2"
grep -q " 0 isolation violations" "$TMP/h2.out" || { cat "$TMP/h2.out"; fail "isolation violated on hv2"; }
remote=$(sed -n 's/.*(\([0-9]*\) from other chassis).*/\1/p' "$TMP/h2.out")
[ "${remote:-0}" -gt 0 ] || { cat "$TMP/h2.out"; fail "hv2 received nothing from hv1"; }
[ "$remote" -le "$D" ] || fail "hv2 counted $remote remote deliveries but delivered $D"
pass "hv2 received $remote frames from hv1, no isolation violation"
kill -INT "$H1"; wait "$H1"
grep -q " 0 isolation violations" "$TMP/h1.out" || fail "isolation violated on hv1"
