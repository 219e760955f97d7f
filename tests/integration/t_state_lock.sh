#!/usr/bin/env bash
# One vfabd per state directory (redteam 8): a second vfabd on the same
# --state-dir refuses to start and names the first's pid; the first keeps
# serving; after the first is killed (-9), the lock is gone with it and a
# new vfabd starts with the acknowledged state. A state directory that
# does not exist is refused with what to do, not "the previous state is
# unchanged" (redteam 19).
. "$(dirname "$0")/lib.sh"

SD="$TMP/sd"
mkdir "$SD"
"$VFABD" -c "$SRC/examples/demo.yaml" -s "$TMP/s1.sock" -q --state-dir "$SD" \
  >"$TMP/1.out" 2>"$TMP/1.err" &
P1=$!
PIDS+=($P1)
wait_for test -S "$TMP/s1.sock" || { cat "$TMP/1.err"; fail "first vfabd did not start"; }
"$VFABCTL" -s "$TMP/s1.sock" add tenant name=green >/dev/null || fail "add tenant"

timeout 20 "$VFABD" -c "$SRC/examples/demo.yaml" -s "$TMP/s2.sock" -q --state-dir "$SD" \
  --duration 5 >"$TMP/2.out" 2>"$TMP/2.err"
rc=$?
[ $rc -eq 1 ] || fail "second vfabd on the same state dir: rc $rc"
grep -q "is in use by vfabd pid $P1 " "$TMP/2.err" || fail "message: $(cat "$TMP/2.err")"
[ -e "$TMP/s2.sock" ] && fail "the second vfabd opened its socket"
"$VFABCTL" -s "$TMP/s1.sock" --json list tenant | grep -q green || fail "the first vfabd lost its state"
pass "second vfabd refused: $(cut -c1-110 "$TMP/2.err")..."

kill -9 $P1; wait $P1 2>/dev/null
"$VFABD" -c "$SRC/examples/demo.yaml" -s "$TMP/s3.sock" -q --state-dir "$SD" \
  >"$TMP/3.out" 2>"$TMP/3.err" &
PIDS+=($!)
wait_for test -S "$TMP/s3.sock" || { cat "$TMP/3.err"; fail "vfabd after kill -9 of the holder did not start"; }
"$VFABCTL" -s "$TMP/s3.sock" --json list tenant | grep -q green || fail "acknowledged tenant lost"
pass "after kill -9 of the holder the next vfabd starts with the acknowledged state"

timeout 20 "$VFABD" -c "$SRC/examples/demo.yaml" -s "$TMP/s4.sock" -q --state-dir "$TMP/nodir" \
  --duration 5 >"$TMP/4.out" 2>"$TMP/4.err"
rc=$?
[ $rc -eq 1 ] || fail "missing state dir: rc $rc"
grep -q "mkdir -m 0700 $TMP/nodir" "$TMP/4.err" || fail "missing dir message: $(cat "$TMP/4.err")"
grep -q "previous state is unchanged" "$TMP/4.err" && fail "missing dir still says the previous state is unchanged"
pass "missing state dir: $(cut -c1-100 "$TMP/4.err")..."
