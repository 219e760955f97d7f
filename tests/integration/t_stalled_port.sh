#!/usr/bin/env bash
# One VM stops reading its queue while another tenant's traffic and the
# underlay keep flowing (issue 12, item 1). vfabd (chassis hv2 of
# examples/two-hosts-hv2.yaml) runs in a namespace of the test's own; its
# demo sink reads blue-vm4 and blue-db2 but never red-vm4 (--demo-stall).
# Geneve datagrams from hv1's address go to all three in turn, in rounds,
# each round sent once the previous one is accounted for (so the kernel's
# receive buffer never overflows). Checks, exactly:
#   the underlay received every datagram (rx_errors 0, no_buffer 0)
#   blue-vm4 and blue-db2 (the other tenant) got every one of theirs
#   red-vm4 holds exactly its tx_limit and dropped exactly the rest, as
#   tx_queue_full on red-vm4; no other drop at all
. "$(dirname "$0")/lib.sh"
need_root
ROUND=900      # datagrams per round, 300 per port
ROUNDS=${STALL_ROUNDS:-10}
NS="vftsp-$$"
mkns "$NS"
start_vfabd "$NS" "$SRC/examples/two-hosts-hv2.yaml" "$TMP/h2.sock" \
  --demo-count 0 --demo-stall red-vm4

stats() { "$VFABCTL" -s "$TMP/h2.sock" --json stats >"$TMP/s.json" || fail "stats"; }
pstat() { json_get "[p for p in d['ports'] if p['name']=='$1'][0].get('$2', 0)" <"$TMP/s.json"; }
accounted() { stats; [ $(( $(pstat uplink rx_pkts) + $(pstat uplink no_buffer) + $(pstat uplink rx_errors) )) -ge "$1" ]; }
sent=0
for _ in $(seq 1 "$ROUNDS"); do
  ip netns exec "$NS" /usr/bin/python3 "$SRC/tests/integration/geneve_send.py" \
    127.0.0.1:6081 127.0.0.1:6082 "$ROUND" 0 \
    1001/02:00:00:00:01:04 1002/02:00:00:00:02:02 2001/02:00:00:00:01:04 \
    >/dev/null || fail "sender failed"
  sent=$((sent + ROUND))
  wait_for accounted "$sent" || { cat "$TMP/s.json"; fail "hv2 did not receive round $((sent / ROUND))"; }
done
EACH=$((sent / 3))
# Wait (bounded) until the sink has read everything the two blue ports got.
blue_done() { stats; [ $(( $(pstat blue-vm4 tx_pkts) + $(pstat blue-db2 tx_pkts) )) -ge $((2 * EACH)) ]; }
wait_for blue_done
stats
K=$(ip netns exec "$NS" awk '/^Udp: [0-9]/ {print $6}' /proc/net/snmp)
R=$(pstat uplink rx_pkts); E=$(pstat uplink rx_errors); B=$(pstat uplink no_buffer)
LIM=$(pstat red-vm4 tx_limit); RT=$(pstat red-vm4 tx_pkts); RD=$(pstat red-vm4 tx_drops)
echo "sent $sent ($EACH per port); uplink rx $R rx_errors $E no_buffer $B, kernel drops $K"
for p in blue-vm4 blue-db2 red-vm4; do
  echo "  $p: tx_pkts $(pstat $p tx_pkts) tx_drops $(pstat $p tx_drops) no_buffer $(pstat $p no_buffer) tx_limit $(pstat $p tx_limit)"
done
json_get '"  drops: " + (", ".join("%s %d" % kv for kv in d["drops"].items() if kv[1]) or "none")' <"$TMP/s.json"

[ "$K" -eq 0 ] && [ "$E" -eq 0 ] && [ "$B" -eq 0 ] && [ "$R" -eq "$sent" ] ||
  fail "underlay lost datagrams: rx $R of $sent, rx_errors $E, no_buffer $B, kernel $K"
pass "the underlay received all $sent datagrams"
for p in blue-vm4 blue-db2; do
  [ "$(pstat $p tx_pkts)" -eq "$EACH" ] && [ "$(pstat $p tx_drops)" -eq 0 ] &&
    [ "$(pstat $p no_buffer)" -eq 0 ] || fail "$p (the other tenant) lost packets"
done
pass "blue got all $((2 * EACH)) of its packets"
[ "$LIM" -gt 0 ] && [ "$LIM" -lt "$EACH" ] || fail "red-vm4's tx_limit $LIM does not bound $EACH packets"
[ "$RT" -eq "$LIM" ] || fail "red-vm4 holds $RT, its limit is $LIM"
[ "$RD" -eq $((EACH - LIM)) ] || fail "red-vm4 dropped $RD, expected $((EACH - LIM))"
TXF=$(json_get 'd["drops"]["tx_queue_full"]' <"$TMP/s.json")
ALL=$(json_get 'sum(d["drops"].values())' <"$TMP/s.json")
[ "$TXF" -eq "$RD" ] && [ "$ALL" -eq "$RD" ] ||
  fail "drops: tx_queue_full $TXF, all reasons $ALL; expected $RD, all on red-vm4"
pass "red-vm4 holds its limit ($LIM) and dropped the other $RD as tx_queue_full"
