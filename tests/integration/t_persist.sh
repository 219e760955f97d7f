#!/usr/bin/env bash
# Durable state: a stream of `vfabctl add port`, vfabd killed with -9 in the
# middle, restarted from the same --state-dir: every add that vfabctl saw
# acknowledged is there, and nothing half-written. A corrupt state file is
# refused at start with a message; a refused change leaves the file as is.
. "$(dirname "$0")/lib.sh"
SD="$TMP/state"; mkdir -p "$SD"
SOCK="$TMP/v.sock"
start() {
  "$VFABD" -c "$SRC/examples/demo.yaml" -s "$SOCK" --state-dir "$SD" -q \
    >>"$TMP/out" 2>>"$TMP/err" &
  DPID=$!; PIDS+=($DPID)
  wait_for "$VFABCTL" -s "$SOCK" status || { cat "$TMP/err"; fail "vfabd did not start"; }
}
start
# Adds in the background; vfabd dies under them.
(
  for i in $(seq 1 200); do
    mac=$(printf '02:00:00:00:0a:%02x' "$i")
    if "$VFABCTL" -s "$SOCK" add port blue-web name=p$i mac=$mac ips=10.0.0.$((i + 20)) \
         chassis=hv2 >/dev/null 2>&1; then
      echo "p$i" >>"$TMP/acked"
    fi
  done
) &
ADDER=$!
for _ in $(seq 1 100); do
  [ -s "$TMP/acked" ] && [ "$(wc -l <"$TMP/acked")" -ge 20 ] && break
  sleep 0.1
done
kill -9 "$DPID"
wait "$ADDER" 2>/dev/null
acked=$(wc -l <"$TMP/acked")
[ "$acked" -ge 1 ] || fail "no add was acknowledged before the kill"
rm -f "$SOCK"
start
"$VFABCTL" -s "$SOCK" --json list port >"$TMP/ports.json" || fail "list port after restart"
missing=0
while read -r p; do
  grep -q "\"$p\"" "$TMP/ports.json" || { echo "lost acknowledged port $p"; missing=$((missing+1)); }
done <"$TMP/acked"
[ "$missing" -eq 0 ] || fail "$missing acknowledged adds lost after kill -9"
grep -q "restored the acknowledged state" "$TMP/err" || fail "restart did not say it restored the state"
pass "kill -9 after $acked acknowledged adds: all of them restored"

# A refused change leaves the state file byte for byte.
cp "$SD/state.json" "$TMP/before"
if "$VFABCTL" -s "$SOCK" add port blue-web name=bad mac=zz ips=10.0.0.250 chassis=hv2 2>"$TMP/e"; then
  fail "bad MAC accepted"
fi
grep -q "mac" "$TMP/e" || fail "refusal does not name the field: $(cat "$TMP/e")"
cmp -s "$SD/state.json" "$TMP/before" || fail "refused change modified the state file"
pass "refused change: $(cat "$TMP/e"); state file unchanged"

# Corruption is detected at start, never half-loaded.
kill "$DPID"; wait "$DPID" 2>/dev/null
printf 'X' | dd of="$SD/state.json" bs=1 seek=200 conv=notrunc status=none
rm -f "$SOCK"
out=$("$VFABD" -c "$SRC/examples/demo.yaml" -s "$SOCK" --state-dir "$SD" -q 2>&1); rc=$?
[ $rc -ne 0 ] || fail "vfabd started from a corrupt state file"
echo "$out" | grep -qi "crc\|corrupt\|check" || fail "corruption not explained: $out"
pass "corrupt state refused: $out"
