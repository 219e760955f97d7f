#!/usr/bin/env bash
# Restarts and signals, as an operator meets them (redteam #12, #14, #15,
# #17; docs/observe.md "Restarts, signals and the state directory"):
#  - a first start into an empty state directory logs "seeding a new
#    state"; a missing state directory is refused with what to do;
#  - SIGHUP is logged and ignored; SIGUSR1, SIGUSR2 and SIGQUIT stop vfabd
#    like SIGTERM: exit 0, "stopped" logged, socket file removed;
#  - with a good saved state, a missing or broken -c file is logged and the
#    saved state (with its acknowledged changes) still starts;
#  - local comes from -c: a restart with other workers runs them with the
#    saved fabric, and an apply that changes local is refused naming the
#    -c file to edit;
#  - a dangling state.json symlink (state disk not mounted) is refused and
#    left as it is, never reseeded.
# Loopback only (ring ports); every vfabd is stopped by PID, and one that
# should refuse to start is given 20 s (an old vfabd that starts anyway
# fails the test instead of hanging it).
. "$(dirname "$0")/lib.sh"
SD="$TMP/state"; mkdir -p "$SD"
SOCK="$TMP/v.sock"
SEED="$TMP/seed.yaml"
cp "$SRC/examples/demo.yaml" "$SEED"

start() {   # start [SEED]: vfabd on $SOCK with --state-dir $SD
  : >"$TMP/err"
  "$VFABD" -c "${1:-$SEED}" -s "$SOCK" --state-dir "$SD" -q >"$TMP/out" 2>"$TMP/err" &
  DPID=$!; PIDS+=($DPID)
  wait_for "$VFABCTL" -s "$SOCK" status || { cat "$TMP/err"; fail "vfabd did not start"; }
}
stop_with() {   # stop_with SIG: vfabd exits 0 and cleans up
  kill -"$1" "$DPID"
  timeout 20 tail --pid="$DPID" -f /dev/null
  wait "$DPID"; rc=$?
  [ $rc -eq 0 ] || fail "SIG$1: exit $rc, want 0: $(cat "$TMP/err")"
  [ -e "$SOCK" ] && fail "SIG$1: socket file $SOCK left behind"
  grep -q "SIG$1: stopping" "$TMP/err" || fail "SIG$1: no log line: $(cat "$TMP/err")"
  grep -q "stopped" "$TMP/err" || fail "SIG$1: not a clean stop: $(cat "$TMP/err")"
}
tenants() { "$VFABCTL" -s "$SOCK" --json list tenant | json_get "' '.join(t['tenant']['name'] for t in d)"; }

# A missing state directory: refused, saying what to do.
out=$(timeout 20 "$VFABD" -c "$SEED" -s "$SOCK" --state-dir "$TMP/nodir" -q 2>&1); rc=$?
[ $rc -ne 0 ] || fail "started with a state directory that does not exist"
echo "$out" | grep -q "does not exist" || fail "missing state dir not explained: $out"
[ -e "$TMP/nodir" ] && fail "vfabd created the missing state directory"
pass "missing state directory refused: $out"

# First start: seeded, said so.
start
grep -q "seeding a new state in $SD" "$TMP/err" || fail "first start did not say it seeds: $(cat "$TMP/err")"
"$VFABCTL" -s "$SOCK" add tenant name=green >/dev/null || fail "add tenant"
pass "first start seeds $SD"

# HUP: logged, ignored; the daemon still answers.
kill -HUP "$DPID"
wait_for grep -q "SIGHUP.*ignored" "$TMP/err" || fail "SIGHUP not logged: $(cat "$TMP/err")"
"$VFABCTL" -s "$SOCK" status >/dev/null || fail "vfabd died on SIGHUP"
pass "SIGHUP logged and ignored"
stop_with USR1
pass "SIGUSR1 stops cleanly (exit 0, socket removed)"

# The seed is gone: the saved state starts anyway, and says why.
start "$TMP/missing.yaml"
grep -q "missing.yaml" "$TMP/err" || fail "the missing seed is not logged: $(cat "$TMP/err")"
[[ " $(tenants) " == *" green "* ]] || fail "saved tenant green lost: $(tenants)"
stop_with USR2
printf 'chassis: [unclosed\n' >"$TMP/broken.yaml"
start "$TMP/broken.yaml"
grep -q "YAML syntax error" "$TMP/err" || fail "the broken seed is not logged: $(cat "$TMP/err")"
[[ " $(tenants) " == *" green "* ]] || fail "saved tenant green lost: $(tenants)"
stop_with QUIT
pass "missing or broken -c file with a good saved state: started from it"

# local from -c: one worker now, with the saved fabric.
sed 's/^  workers: auto/  workers: 1/' "$SEED" >"$TMP/one.yaml"
start "$TMP/one.yaml"
n=$("$VFABCTL" -s "$SOCK" --json status | json_get "len(d['workers'])")
[ "$n" -eq 1 ] || fail "restart with workers: 1 runs $n workers"
grep -q "local.workers in $TMP/one.yaml differs" "$TMP/err" || fail "local change not logged: $(cat "$TMP/err")"
[[ " $(tenants) " == *" green "* ]] || fail "saved tenant green lost: $(tenants)"
# An apply that changes local names the file to edit.
if "$VFABCTL" -s "$SOCK" apply "$SEED" >"$TMP/apply" 2>&1; then
  fail "apply changing local.workers accepted"
fi
grep -q "local.workers is this host's own setting: edit $TMP/one.yaml and restart vfabd" "$TMP/apply" \
  || fail "apply refusal does not say how: $(cat "$TMP/apply")"
# Without local, the same file applies (this host keeps its own).
sed '/^local:/,$d' "$SEED" >"$TMP/fabric.yaml"
"$VFABCTL" -s "$SOCK" apply "$TMP/fabric.yaml" >/dev/null || fail "apply without local refused"
pass "local from -c at restart; apply changing it refused, naming the file"
stop_with TERM

# A dangling state.json symlink: refused, never reseeded.
mv "$SD/state.json" "$TMP/saved.json"
ln -s "$TMP/unmounted/state.json" "$SD/state.json"
out=$(timeout 20 "$VFABD" -c "$SEED" -s "$SOCK" --state-dir "$SD" -q 2>&1); rc=$?
[ $rc -ne 0 ] || fail "started over a dangling state.json symlink"
echo "$out" | grep -q "symbolic link" || fail "dangling link not explained: $out"
[ -L "$SD/state.json" ] && [ "$(readlink "$SD/state.json")" = "$TMP/unmounted/state.json" ] \
  || fail "the dangling link was replaced"
pass "dangling state.json symlink refused and left as it is"
