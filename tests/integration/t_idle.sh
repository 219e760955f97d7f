#!/usr/bin/env bash
# An idle vfabd must cost (almost) no CPU: workers sleep after empty polls.
# This is a CPU-time bound over a 3 s idle period, not a speed measurement:
# busy polling would burn ~3 s per worker.
. "$(dirname "$0")/lib.sh"

SOCK="$TMP/vfabd.sock"
"$VFABD" -c "$SRC/examples/demo.yaml" -s "$SOCK" -q >"$TMP/out" 2>"$TMP/err" &
DPID=$!; PIDS+=($DPID)
wait_for test -S "$SOCK" || { cat "$TMP/err"; fail "control socket never appeared"; }
sleep 0.5
ticks() { awk '{print $14 + $15}' "/proc/$DPID/stat"; }
t0=$(ticks); sleep 3; t1=$(ticks)
hz=$(getconf CLK_TCK)
used_ms=$(( (t1 - t0) * 1000 / hz ))
nw=$("$VFABCTL" -s "$SOCK" --json status | json_get 'len(d["workers"])')
sleeps=$("$VFABCTL" -s "$SOCK" --json status | json_get 'sum(w["sleeps"] for w in d["workers"])')
echo "idle: $used_ms ms CPU in 3 s with $nw workers, $sleeps sleeps"
[ "$sleeps" -gt 0 ] || fail "workers never slept"
[ "$used_ms" -lt 600 ] || fail "idle vfabd used $used_ms ms of CPU in 3 s (workers not sleeping?)"
pass "idle vfabd used $used_ms ms CPU in 3 s"
