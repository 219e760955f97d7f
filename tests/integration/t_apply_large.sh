#!/usr/bin/env bash
# One file for a whole fabric at NVP's scale (63,000 ports, 7,000 switches,
# 1,000 tenants, 3,000 chassis; 8.6 MB) applies over the control socket
# (redteam 13: apply stopped at ~512 KB). While vfabd validates it, the
# socket keeps serving: `status` answers with the tables still in force,
# bracketed by two "busy" refusals of another change (redteam 6/issue 17:
# a big apply held the socket for minutes). A client that gives up before
# the change is applied leaves nothing changed (checked first, while the
# model is still small).
. "$(dirname "$0")/lib.sh"

GEN="$SRC/tests/integration/gen_fabric.py"
python3 "$GEN" 1 1 2 2 1 >"$TMP/small.yaml" || fail "generator"
python3 "$GEN" 1000 7 9 3000 >"$TMP/nvp.yaml" || fail "generator"
size=$(stat -c %s "$TMP/nvp.yaml")
[ "$size" -gt 8000000 ] || fail "the NVP-scale file is only $size bytes"

mkdir "$TMP/sd"
SOCK="$TMP/vfabd.sock"
"$VFABD" -c "$TMP/small.yaml" -s "$SOCK" -q --state-dir "$TMP/sd" >"$TMP/out" 2>"$TMP/err" &
PIDS+=($!)
wait_for test -S "$SOCK" || { cat "$TMP/err"; fail "vfabd did not start"; }
gen0=$("$VFABCTL" -s "$SOCK" --json status | json_get 'd["tables"]["generation"]')

# Another change is refused as busy exactly while a file is being validated.
busy() {
  "$VFABCTL" -s "$SOCK" add tenant name=probe --dry-run 2>&1 >/dev/null | grep -q "busy: an apply"
}

# A client that gives up: nothing changes.
"$VFABCTL" -s "$SOCK" apply "$TMP/nvp.yaml" >/dev/null 2>&1 &
QPID=$!
wait_for busy || fail "the apply never ran beside the socket"
kill -9 $QPID; wait $QPID 2>/dev/null
for _ in $(seq 1 600); do busy || break; sleep 0.1; done
busy && fail "the abandoned apply never ended"
wait_for grep -q "apply of $TMP/nvp.yaml abandoned: the client left before it was applied; nothing changed" "$TMP/err" \
  || { tail "$TMP/err"; fail "no log line for the abandoned apply"; }
g=$("$VFABCTL" -s "$SOCK" --json status | json_get 'd["tables"]["generation"]')
n=$("$VFABCTL" -s "$SOCK" --json list port | json_get 'len(d)')
[ "$g" = "$gen0" ] && [ "$n" -eq 2 ] || fail "after an abandoned apply: generation $g (was $gen0), $n ports"
pass "an apply whose client left changed nothing (generation $g, $n ports)"

timeout 300 "$VFABCTL" -s "$SOCK" apply "$TMP/nvp.yaml" >"$TMP/apply.out" 2>&1 &
APID=$!
wait_for busy || { cat "$TMP/apply.out"; fail "the apply never ran beside the socket"; }
"$VFABCTL" -s "$SOCK" --json status >"$TMP/st.json" || fail "status during the apply"
busy || fail "the apply ended before status answered: cannot tell (rerun on a busier file)"
g=$(json_get 'd["tables"]["generation"]' <"$TMP/st.json")
[ "$g" = "$gen0" ] || fail "status during the apply shows generation $g, want $gen0"
pass "status answered while the 8.6 MB file was validated (generation $g still in force)"

wait $APID || { cat "$TMP/apply.out"; fail "apply of the NVP-scale file"; }
grep -q "^applied: .* changes, tables generation .*, saved" "$TMP/apply.out" || fail "apply said: $(cat "$TMP/apply.out")"
nports=$("$VFABCTL" -s "$SOCK" --json list port | json_get 'len(d)')
[ "$nports" -eq 63000 ] || fail "$nports ports after the apply, want 63000"
pass "apply of $size bytes (63,000 ports): $(tail -1 "$TMP/apply.out")"

