#!/usr/bin/env bash
# Capture: vfabd --demo; `vfabctl capture` of one logical port writes 50
# frames to a pcap file that tshark reads as 50 Ethernet frames, each with
# the port's MAC as source or destination. Errors are refused cleanly;
# vfabctl opens the file itself, never over an existing file or a link.
. "$(dirname "$0")/lib.sh"
command -v tshark >/dev/null || skip "tshark not installed"

PORT=blue-vm1
MAC=$(python3 - "$SRC/examples/demo.yaml" "$PORT" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r'name: %s\b.*?mac: "?([0-9a-fA-F:]{17})' % re.escape(sys.argv[2]), text, re.S)
print(m.group(1).lower())
PY
) || fail "no MAC for $PORT in demo.yaml"

SOCK="$TMP/vfabd.sock"
"$VFABD" -c "$SRC/examples/demo.yaml" -s "$SOCK" --demo -q --duration 60 \
  >"$TMP/out" 2>"$TMP/err" &
PIDS+=($!)
wait_for test -S "$SOCK" || { cat "$TMP/err"; fail "control socket never appeared"; }

# A relative path: vfabctl makes it absolute; vfabd writes it.
( cd "$TMP" && timeout 30 "$VFABCTL" -s "$SOCK" capture "$PORT" -w cap.pcap -c 50 ) \
  >"$TMP/cap.out" 2>&1 || { cat "$TMP/cap.out" "$TMP/err"; fail "vfabctl capture"; }
grep -q "^50 frames of $PORT written" "$TMP/cap.out" || fail "capture said: $(cat "$TMP/cap.out")"
[ -s "$TMP/cap.pcap" ] || fail "no pcap file"

tshark -r "$TMP/cap.pcap" -T fields -e frame.protocols -e eth.src -e eth.dst \
  >"$TMP/frames.txt" 2>"$TMP/tshark.err" || { cat "$TMP/tshark.err"; fail "tshark cannot read the file"; }
n=$(wc -l <"$TMP/frames.txt")
[ "$n" -eq 50 ] || fail "tshark shows $n frames, want 50"
neth=$(grep -c "^eth:" "$TMP/frames.txt")
[ "$neth" -eq 50 ] || fail "$neth of 50 frames decode as Ethernet"
# A frame flooded to the port (broadcast/multicast destination) counts as
# delivered to it: its destination is the group, not the port's MAC.
nmac=$(awk -v m="$MAC" '$2 == m || $3 == m || $3 ~ /^.[13579bdf]:/' "$TMP/frames.txt" | wc -l)
[ "$nmac" -eq 50 ] || { head "$TMP/frames.txt"; fail "$nmac of 50 frames have $MAC as source or destination"; }
pass "capture: 50 Ethernet frames of $PORT ($MAC) in a pcap tshark reads"

grep -q "capture of port $PORT .* ended (count reached)" "$TMP/err" || fail "the capture's end was not logged"

# A time-bounded capture ends by itself; bad requests are refused.
timeout 20 "$VFABCTL" -s "$SOCK" --json capture "$PORT" -w "$TMP/t.pcap" --seconds 0.5 >"$TMP/t.json" \
  || fail "time-bounded capture"
json_get 'd["ended"]' <"$TMP/t.json" | grep -q "time is up" || fail "time bound: $(cat "$TMP/t.json")"
"$VFABCTL" -s "$SOCK" capture nosuchport -w "$TMP/x.pcap" -c 1 2>"$TMP/e1"; rc=$?
[ $rc -eq 1 ] && grep -q "nosuchport" "$TMP/e1" || fail "unknown port: rc $rc $(cat "$TMP/e1")"
"$VFABCTL" -s "$SOCK" capture "$PORT" -w "$TMP/nodir/x.pcap" -c 1 2>"$TMP/e2"; rc=$?
[ $rc -eq 1 ] || fail "unwritable file accepted (rc $rc)"
[ -e "$TMP/x.pcap" ] && fail "a refused capture left its file behind"
"$VFABCTL" -s "$SOCK" call capture_start "{\"port\":\"$PORT\",\"file\":\"$TMP/p.pcap\",\"count\":1}" 2>"$TMP/e3"; rc=$?
[ $rc -eq 1 ] && grep -q "descriptor" "$TMP/e3" || fail "the daemon opened a path itself: rc $rc $(cat "$TMP/e3")"
[ -e "$TMP/p.pcap" ] && fail "the daemon created $TMP/p.pcap"
"$VFABCTL" -s "$SOCK" --json status >/dev/null || fail "daemon unhealthy after refused captures"
pass "capture: time bound ends it; unknown port, bad file, a bare path refused"

# An existing file is never truncated, a link in its place never followed;
# --overwrite replaces a file the user may write (redteam 9).
echo precious >"$TMP/victim"
"$VFABCTL" -s "$SOCK" capture "$PORT" -w "$TMP/victim" -c 1 --seconds 1 2>"$TMP/e4"; rc=$?
[ $rc -eq 1 ] && grep -q "overwrite" "$TMP/e4" || fail "existing file: rc $rc $(cat "$TMP/e4")"
[ "$(cat "$TMP/victim")" = precious ] || fail "an existing file was truncated"
ln -s "$TMP/victim" "$TMP/link.pcap"
"$VFABCTL" -s "$SOCK" capture "$PORT" -w "$TMP/link.pcap" -c 1 --seconds 1 --overwrite 2>"$TMP/e5"; rc=$?
[ $rc -eq 1 ] || fail "a symbolic link was followed (rc $rc)"
[ "$(cat "$TMP/victim")" = precious ] || fail "the link's target was written"
timeout 20 "$VFABCTL" -s "$SOCK" capture "$PORT" -w "$TMP/victim" -c 1 --seconds 1 --overwrite \
  >"$TMP/o6" 2>&1 || fail "--overwrite: $(cat "$TMP/o6")"
[ "$(head -c 4 "$TMP/victim" | od -An -tx1 | tr -d ' ')" = d4c3b2a1 ] || fail "--overwrite did not write a pcap file"
pass "capture: an existing file and a link are refused and untouched; --overwrite replaces"
