#!/usr/bin/env bash
# The control socket's edges and messages (redteam 10, 6, 19):
#  - 70 clients that send half a request and stall do not lock operators
#    out: `vfabctl status` is answered at once (the quietest is evicted,
#    told why), and every stalled one is told and closed within the read
#    deadline (10 s) although it never sends more;
#  - a file with a NUL byte, a UTF-16 file and a deeply nested file are
#    refused by `vfabd --check` and `vfabctl apply` in the same words,
#    naming file, line and column;
#  - a server that refuses a connection is quoted, not "Broken pipe".
. "$(dirname "$0")/lib.sh"

SOCK="$TMP/vfabd.sock"
"$VFABD" -c "$SRC/examples/demo.yaml" -s "$SOCK" -q --duration 120 >"$TMP/out" 2>"$TMP/err" &
PIDS+=($!)
wait_for test -S "$SOCK" || { cat "$TMP/err"; fail "vfabd did not start"; }

cat >"$TMP/stall.py" <<'PY'
import json, socket, sys, time
n, path, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
conns = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    try:
        s.sendall(b'{"jsonrpc":"2.0","id":1,"meth')
    except OSError:
        pass  # refused at once; what it was told is read below
    conns.append(s)
open(sys.argv[4], "w").write("stalled %d\n" % n)
said, t0 = {}, time.time()
while time.time() - t0 < secs and len(said) < n:
    time.sleep(0.5)
    for i, s in enumerate(conns):
        if i in said:
            continue
        s.setblocking(False)
        try:
            data = s.recv(4096)
            if data:
                try:
                    said[i] = json.loads(data.split(b"\n")[0])["error"]["message"]
                except (ValueError, KeyError):
                    said[i] = data.decode(errors="replace")
            else:
                said[i] = "(closed without a word)"
        except BlockingIOError:
            pass
        except OSError:
            said[i] = "(closed without a word)"
kinds = {}
for m in said.values():
    k = "evicted" if "make room" in m else "incomplete" if "incomplete" in m else m
    kinds[k] = kinds.get(k, 0) + 1
print("told %d of %d: %s" % (len(said), n, kinds))
PY
python3 "$TMP/stall.py" 70 "$SOCK" 25 "$TMP/stall.started" >"$TMP/stall.out" &
SPID=$!
PIDS+=($SPID)
wait_for test -s "$TMP/stall.started" || fail "stalled clients never connected"
timeout 20 "$VFABCTL" -s "$SOCK" status >"$TMP/st.out" 2>&1 || fail "status with 70 stalled clients: $(cat "$TMP/st.out")"
pass "status answered beside 70 stalled clients"
wait $SPID
grep -q "^told 70 of 70" "$TMP/stall.out" || fail "stalled clients: $(cat "$TMP/stall.out")"
grep -q "closed without a word" "$TMP/stall.out" && fail "a client was closed without being told why: $(cat "$TMP/stall.out")"
# 64 slots: the 6 beyond them (and status) each made room by evicting one;
# the rest met the read deadline.
grep -q "'evicted': \([6-9]\|[1-9][0-9]\)" "$TMP/stall.out" || fail "fewer than 6 evicted: $(cat "$TMP/stall.out")"
grep -q "'incomplete': [1-9]" "$TMP/stall.out" || fail "none met the read deadline: $(cat "$TMP/stall.out")"
pass "every stalled client was told and closed: $(cat "$TMP/stall.out")"

# Same refusal from --check and apply.
same() {  # FILE WHAT
  timeout 60 "$VFABD" -c "$1" --check >"$TMP/c.out" 2>&1; rc1=$?
  timeout 60 "$VFABCTL" -s "$SOCK" apply "$1" >"$TMP/a.out" 2>&1; rc2=$?
  [ $rc1 -eq 2 ] && [ $rc2 -ne 0 ] || fail "$2: --check rc $rc1, apply rc $rc2"
  grep -q "$2" "$TMP/c.out" || fail "--check on $2: $(cat "$TMP/c.out")"
  c=$(sed 's/^vfabd: //' "$TMP/c.out"); a=$(sed 's/^vfabctl: \(apply: \)\{0,1\}//' "$TMP/a.out")
  [ "$c" = "$a" ] || fail "$2: --check says '$c', apply says '$a'"
  pass "$2: --check and apply both say: $c"
}
{ head -c 200 "$SRC/examples/demo.yaml"; printf '\0'; tail -c +201 "$SRC/examples/demo.yaml"; } >"$TMP/nul.yaml"
same "$TMP/nul.yaml" "a NUL byte"
python3 -c "import sys; sys.stdout.buffer.write(open(sys.argv[1]).read().encode('utf-16'))" \
  "$SRC/examples/demo.yaml" >"$TMP/u16.yaml"
same "$TMP/u16.yaml" "UTF-16 text"
python3 -c "d=200000; open('$TMP/deep.yaml','w').write('chassis: []\ntenants: '+'['*d+']'*d+'\n')"
same "$TMP/deep.yaml" "YAML nested more than 16 levels"

# A server that refuses the connection (busy) before reading: its reason,
# not the send error, even when the request is too large to go out.
cat >"$TMP/busy.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
open(sys.argv[2], "w").write("up\n")
c, _ = s.accept()
c.sendall(b'{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"vfabd is busy: test"}}\n')
c.close(); s.close(); os.unlink(sys.argv[1])
PY
python3 "$TMP/busy.py" "$TMP/busy.sock" "$TMP/busy.up" &
PIDS+=($!)
wait_for test -s "$TMP/busy.up" || fail "fake busy server"
{ cat "$SRC/examples/demo.yaml"; python3 -c "print(('# ' + 'x' * 98 + '\n') * 4000, end='')"; } >"$TMP/big.yaml"
timeout 20 "$VFABCTL" -s "$TMP/busy.sock" apply "$TMP/big.yaml" >"$TMP/b.out" 2>&1
grep -q "vfabd is busy: test" "$TMP/b.out" || fail "busy server: $(cat "$TMP/b.out")"
grep -q "Broken pipe" "$TMP/b.out" && fail "still says Broken pipe"
pass "a refused connection is quoted: $(cat "$TMP/b.out")"

timeout 20 "$VFABCTL" -s "$SOCK" status >"$TMP/st2.out" 2>&1 || fail "status after all this: $(cat "$TMP/st2.out")"
kill -0 "${PIDS[0]}" || fail "vfabd died"
pass "vfabd still answers"
