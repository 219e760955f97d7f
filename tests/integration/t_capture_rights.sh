#!/usr/bin/env bash
# Capture with the user's own rights (redteam 9): a member of vfabd's
# socket group (not root) captures into a file of their own, which vfabctl
# creates as that user; a symbolic link to a directory the user may not
# write (a root 0700 directory) leads nowhere: refused, nothing created,
# although vfabd runs as root.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-user.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (vfabd as root, a throwaway user)"

U=vft$$c
mkuser "$U"
chmod 0711 "$TMP"
SOCK="$TMP/vfabd.sock"
"$VFABD" -c "$SRC/examples/demo.yaml" -s "$SOCK" --demo -q --duration 60 \
  >"$TMP/out" 2>"$TMP/err" &
PIDS+=($!)
wait_for test -S "$SOCK" || { cat "$TMP/err"; fail "control socket never appeared"; }
chgrp "$U" "$SOCK"        # the user is in vfabd's socket group

mkdir -m 0700 "$TMP/protected"
ln -s "$TMP/protected" "$TMP/lnk"
mkdir -m 0700 "$TMP/mine" && chown "$U" "$TMP/mine"

as_user "$U" timeout 20 "$VFABCTL" -s "$SOCK" capture blue-vm1 -w "$TMP/mine/c.pcap" -c 5 \
  >"$TMP/c1" 2>&1 || fail "capture as $U: $(cat "$TMP/c1")"
[ "$(stat -c %U "$TMP/mine/c.pcap")" = "$U" ] || fail "the pcap file belongs to $(stat -c %U "$TMP/mine/c.pcap"), not $U"
[ -s "$TMP/mine/c.pcap" ] || fail "nothing written"
pass "capture as a socket-group member: the file is the user's own ($U)"

as_user "$U" timeout 20 "$VFABCTL" -s "$SOCK" capture blue-vm1 -w "$TMP/lnk/planted.pcap" -c 1 \
  --seconds 1 >"$TMP/c2" 2>&1; rc=$?
[ $rc -eq 1 ] || fail "capture through a link into a root 0700 directory: rc $rc $(cat "$TMP/c2")"
grep -q "Permission denied" "$TMP/c2" || fail "message: $(cat "$TMP/c2")"
[ -e "$TMP/protected/planted.pcap" ] && fail "a file was planted in the protected directory"
"$VFABCTL" -s "$SOCK" status >/dev/null || fail "daemon unhealthy"
pass "capture through a symlinked directory the user may not write: refused, nothing created"
