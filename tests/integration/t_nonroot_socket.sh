#!/usr/bin/env bash
# Non-root defaults (redteam 18) and the permission message (redteam 19):
# vfabd and vfabctl run by one user meet at the same default socket in a
# private 0700 directory ($XDG_RUNTIME_DIR/vfab, else /tmp/vfab-UID); a
# directory another user made there first is refused by both, never used;
# a user who may not open root's socket is told so and which group to
# join, not asked whether vfabd runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-user.sh"

U=vft$$a
V=vft$$b
mkuser "$U"
mkuser "$V"
UID_U=$(id -u "$U")
chmod 0711 "$TMP"          # the users may pass through, not list
CFG="$TMP/demo.yaml"
cp "$SRC/examples/demo.yaml" "$CFG"
chmod 0644 "$CFG"

# 1. No XDG_RUNTIME_DIR: /tmp/vfab-UID/vfabd.sock for both programs.
env -u XDG_RUNTIME_DIR -u VFAB_SOCKET setpriv --reuid="$UID_U" --regid="$(id -g "$U")" \
  --clear-groups -- "$VFABD" -c "$CFG" -q --duration 30 >"$TMP/u1.out" 2>"$TMP/u1.err" &
PIDS+=($!)
wait_for test -S "/tmp/vfab-$UID_U/vfabd.sock" || { cat "$TMP/u1.err"; fail "no socket at /tmp/vfab-$UID_U/vfabd.sock"; }
[ "$(stat -c '%U %a' "/tmp/vfab-$UID_U")" = "$U 700" ] || fail "directory: $(stat -c '%U %a' "/tmp/vfab-$UID_U")"
env -u XDG_RUNTIME_DIR -u VFAB_SOCKET setpriv --reuid="$UID_U" --regid="$(id -g "$U")" \
  --clear-groups -- "$VFABCTL" --json status >"$TMP/s1.json" 2>"$TMP/s1.err" ||
  fail "vfabctl without -s did not find the user's vfabd: $(cat "$TMP/s1.err")"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null
pass "non-root: vfabd and vfabctl meet at /tmp/vfab-$UID_U/vfabd.sock (0700)"

# 2. XDG_RUNTIME_DIR owned by the user: $XDG_RUNTIME_DIR/vfab/vfabd.sock.
XDG="$TMP/xdg-$U"
mkdir -m 0700 "$XDG" && chown "$U" "$XDG"
env -u VFAB_SOCKET XDG_RUNTIME_DIR="$XDG" setpriv --reuid="$UID_U" --regid="$(id -g "$U")" \
  --clear-groups -- "$VFABD" -c "$CFG" -q --duration 30 >"$TMP/u2.out" 2>"$TMP/u2.err" &
PIDS+=($!)
wait_for test -S "$XDG/vfab/vfabd.sock" || { cat "$TMP/u2.err"; fail "no socket under XDG_RUNTIME_DIR"; }
env -u VFAB_SOCKET XDG_RUNTIME_DIR="$XDG" setpriv --reuid="$UID_U" --regid="$(id -g "$U")" \
  --clear-groups -- "$VFABCTL" status >/dev/null 2>"$TMP/s2.err" ||
  fail "vfabctl did not find \$XDG_RUNTIME_DIR/vfab/vfabd.sock: $(cat "$TMP/s2.err")"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null
pass "non-root: \$XDG_RUNTIME_DIR/vfab/vfabd.sock when XDG_RUNTIME_DIR is set"

# 3. Another user squats /tmp/vfab-UID first: refused by both, never used.
rm -rf "/tmp/vfab-$UID_U"
as_user "$V" mkdir -m 0777 "/tmp/vfab-$UID_U" || fail "squatting as $V"
env -u XDG_RUNTIME_DIR -u VFAB_SOCKET setpriv --reuid="$UID_U" --regid="$(id -g "$U")" \
  --clear-groups -- timeout 20 "$VFABD" -c "$CFG" -q --duration 5 >"$TMP/u3.out" 2>"$TMP/u3.err"
rc=$?
[ $rc -ne 0 ] || fail "vfabd started in a directory another user made"
grep -q "not a private directory of user $UID_U" "$TMP/u3.err" || fail "squat message: $(cat "$TMP/u3.err")"
[ -e "/tmp/vfab-$UID_U/vfabd.sock" ] && fail "a socket was created in the squatted directory"
env -u XDG_RUNTIME_DIR -u VFAB_SOCKET setpriv --reuid="$UID_U" --regid="$(id -g "$U")" \
  --clear-groups -- "$VFABCTL" status >/dev/null 2>"$TMP/s3.err"
rc=$?
[ $rc -eq 3 ] && grep -q "not a private directory" "$TMP/s3.err" || fail "vfabctl used a squatted directory (rc $rc): $(cat "$TMP/s3.err")"
rm -rf "/tmp/vfab-$UID_U"
pass "non-root: a directory squatted by another user is refused by vfabd and vfabctl"

# 4. Permission denied on root's socket names the group to join.
SOCK="$TMP/root.sock"
"$VFABD" -c "$CFG" -s "$SOCK" -q --duration 30 >"$TMP/r.out" 2>"$TMP/r.err" &
PIDS+=($!)
wait_for test -S "$SOCK" || { cat "$TMP/r.err"; fail "root vfabd did not start"; }
as_user "$U" "$VFABCTL" -s "$SOCK" status >/dev/null 2>"$TMP/s4.err"; rc=$?
[ $rc -eq 3 ] || fail "rc $rc for a socket the user may not open"
grep -q "permission denied" "$TMP/s4.err" && grep -q "member of group root" "$TMP/s4.err" ||
  fail "EACCES message: $(cat "$TMP/s4.err")"
grep -q "is vfabd running" "$TMP/s4.err" && fail "EACCES still asks whether vfabd runs"
pass "EACCES: \"$(head -c 120 "$TMP/s4.err")...\""
