#!/usr/bin/env bash
# Metrics against slow clients (redteam 11: 16 connections trickling one
# header line each blocked every scrape for as long as they trickled).
# From one address, 40 such connections take at most their per-address
# share, so a scrape from another address is served meanwhile; a slow
# connection is closed once its request has taken 10 s, however it
# trickles. A bind beyond loopback is warned about at start.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SOCK="$TMP/vfabd.sock"
"$VFABD" -c "$SRC/examples/demo.yaml" -s "$SOCK" -q --duration 90 --metrics "127.0.0.1:$PORT" \
  >"$TMP/out" 2>"$TMP/err" &
PIDS+=($!)
wait_for test -S "$SOCK" || { cat "$TMP/err"; fail "vfabd did not start"; }
URL="http://127.0.0.1:$PORT/metrics"
wait_for curl -sf "$URL" || { cat "$TMP/err"; fail "no metrics at $URL"; }

# slow.py N SRC SECONDS: N connections from SRC trickle a header line every
# second for up to SECONDS; prints how many the server closed, and when.
cat >"$TMP/slow.py" <<'PY'
import socket, sys, time
n, src, secs, port = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
conns = []
for _ in range(n):
    s = socket.socket()
    s.bind((src, 0))
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        conns.append(s)
    except OSError:
        s.close()
open(sys.argv[5], "w").write("open %d\n" % len(conns))
closed, t0 = {}, time.time()
while time.time() - t0 < secs and len(closed) < len(conns):
    time.sleep(1)
    for i, s in enumerate(conns):
        if i in closed:
            continue
        try:
            s.sendall(b"X-Slow: 1\r\n")
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    closed[i] = time.time() - t0
            except BlockingIOError:
                pass
            s.setblocking(True)
        except OSError:
            closed[i] = time.time() - t0
print("open %d closed %d latest %.1f" % (len(conns), len(closed), max(closed.values() or [0])))
PY

python3 "$TMP/slow.py" 40 127.0.0.2 25 "$PORT" "$TMP/slow40.started" >"$TMP/slow40.out" &
SPID=$!
PIDS+=($SPID)
wait_for test -s "$TMP/slow40.started" || fail "the slow clients never connected"
sleep 1
code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$URL")
[ "$code" = 200 ] || fail "a scrape beside 40 slow connections got HTTP $code"
pass "scrape served beside 40 slow connections from another address ($(cat "$TMP/slow40.started"))"

wait $SPID
read -r _ opened _ closed _ latest <"$TMP/slow40.out"
[ "$opened" -ge 1 ] && [ "$closed" -eq "$opened" ] || fail "slow connections: $(cat "$TMP/slow40.out") (all must be closed)"
pass "every slow connection was closed although it kept trickling ($(cat "$TMP/slow40.out") s)"
grep -q "metrics: closed .* connection.* whose request took more than 10 s" "$TMP/err" || fail "the closing was not logged"

P2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
timeout 20 "$VFABD" -c "$SRC/examples/demo.yaml" -s "$TMP/s2.sock" -q --duration 1 \
  --metrics "0.0.0.0:$P2" >"$TMP/o2" 2>"$TMP/e2" || fail "vfabd with metrics on 0.0.0.0: $(cat "$TMP/e2")"
grep -q "metrics: serving http://0.0.0.0:$P2/metrics beyond this host" "$TMP/e2" || fail "no warning: $(cat "$TMP/e2")"
pass "metrics on 0.0.0.0 warned about at start"
