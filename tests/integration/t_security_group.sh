#!/usr/bin/env bash
# Security groups on real traffic across two hosts (issue 15): namespaces
# hA (hv1) and hB (hv2) joined by a veth underlay, each running vfabd with
# the UDP uplink; VMs are namespaces holding vfabd's taps
# (tests/integration/data/sg-hosts.yaml). VM A is in group "sg": anything
# out (allow-related), nothing in but SSH from an address set no VM has.
# Checks:
#   - A opens TCP and UDP to B on the other host and gets the replies;
#   - B cannot open TCP or UDP to A (acl_stateful_default_deny on hv1);
#   - a forged reply from B (a SYN-ACK, an ACK, a UDP "reply" to a port A
#     never used is a new packet, so only TCP here) is dropped as
#     ct_invalid on hv1 and never reaches A;
#   - `vfabctl conntrack` lists A's connections in A's zone, `trace` shows
#     the state a packet would have, `conntrack flush --zone` empties it.
. "$(dirname "$0")/lib.sh"
need_root
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import scapy.all" 2>/dev/null \
  || skip "scapy (python3-scapy under /usr/bin/python3) is needed to forge replies"
P=vfs$$
mkns ${P}hA; mkns ${P}hB
underlay ${P}hA ${P}hB
for h in 1 2; do
  { cat "$SRC/tests/integration/data/sg-hosts.yaml"
    echo "local: {chassis: hv$h, workers: 1, uplink: {type: udp, bind: \"192.0.2.$h:6081\"}}"
  } >"$TMP/hv$h.yaml"
done
start_vfabd ${P}hA "$TMP/hv1.yaml" "$TMP/a.sock"
start_vfabd ${P}hB "$TMP/hv2.yaml" "$TMP/b.sock"
vm ${P}hA vfsa ${P}a 02:00:00:00:01:01 10.0.0.1/24
vm ${P}hB vfsb ${P}b 02:00:00:00:01:02 10.0.0.2/24
# Static neighbours: no ARP exchange to wait for or to count.
ip -n ${P}a neigh replace 10.0.0.2 lladdr 02:00:00:00:01:02 dev vfsa nud permanent
ip -n ${P}b neigh replace 10.0.0.1 lladdr 02:00:00:00:01:01 dev vfsb nud permanent
# Taps deliver CHECKSUM_PARTIAL frames from the guest; scapy's are whole.
for ns in ${P}a ${P}b; do
  ip netns exec $ns ethtool -K vfs${ns: -1} tx off >/dev/null 2>&1 || true
done

A() { ip netns exec ${P}a "$@"; }
B() { ip netns exec ${P}b "$@"; }
listening() { ip netns exec "$1" ss -Hl"$2"n | grep -q "$3:$4 "; }

# Echo servers: TCP and UDP on B (for A to open), TCP and UDP on A (for B to
# try). Each serves until the test ends (bounded by timeout).
server() {  # NS IP PORT tcp|udp
  ip netns exec "$1" timeout 120 python3 -c "
import socket, sys
ip, port, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if kind == 'udp':
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((ip, port))
    while True:
        data, peer = s.recvfrom(2048); s.sendto(b'echo:' + data, peer)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port)); s.listen(8)
while True:
    c, _ = s.accept(); c.settimeout(5)
    try:
        data = c.recv(2048); c.sendall(b'echo:' + data)
    except Exception: pass
    c.close()" "$2" "$3" "$4" >/dev/null 2>&1 &
  PIDS+=($!)
}
server ${P}b 10.0.0.2 8080 tcp
server ${P}b 10.0.0.2 5353 udp
server ${P}a 10.0.0.1 9090 tcp
server ${P}a 10.0.0.1 9091 udp
wait_for listening ${P}b t 10.0.0.2 8080 || fail "B's TCP server did not start"
wait_for listening ${P}b u 10.0.0.2 5353 || fail "B's UDP server did not start"
wait_for listening ${P}a t 10.0.0.1 9090 || fail "A's TCP server did not start"
wait_for listening ${P}a u 10.0.0.1 9091 || fail "A's UDP server did not start"

# client NS DST PORT tcp|udp MSG: prints the answer, exit 0 if there was one.
client() {
  ip netns exec "$1" timeout 10 python3 -c "
import socket, sys
dst, port, kind, msg = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
if kind == 'udp':
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
    for _ in range(3):
        s.sendto(msg, (dst, port))
        try:
            print(s.recvfrom(2048)[0].decode()); sys.exit(0)
        except socket.timeout: pass
    sys.exit(1)
s = socket.create_connection((dst, port), timeout=3); s.settimeout(3)
s.sendall(msg); print(s.recv(2048).decode())" "$2" "$3" "$4" "$5"
}
drops() { "$VFABCTL" -s "$TMP/a.sock" --json stats | json_get "d['drops']['$1']"; }

# ---- A opens, replies come back ----
out=$(client ${P}a 10.0.0.2 8080 tcp hello-tcp) || fail "A -> B TCP: no reply (${out})"
[ "$out" = "echo:hello-tcp" ] || fail "A -> B TCP: got '$out'"
out=$(client ${P}a 10.0.0.2 5353 udp hello-udp) || fail "A -> B UDP: no reply"
[ "$out" = "echo:hello-udp" ] || fail "A -> B UDP: got '$out'"
pass "A opens TCP and UDP to B across hosts and gets the replies"

# ---- the connections are listed in A's zone ----
"$VFABCTL" -s "$TMP/a.sock" --json conntrack --zone vma >"$TMP/ct.json" || fail "vfabctl conntrack"
n=$(json_get 'len([c for c in d["connections"] if c["port"]=="vma" and c["orig_src"]["ip"]=="10.0.0.1" and c["orig_dst"]["port"] in (8080, 5353) and c["seen_reply"]])' <"$TMP/ct.json")
[ "$n" -eq 2 ] || { cat "$TMP/ct.json"; fail "conntrack lists $n of A's 2 replied connections"; }
"$VFABCTL" -s "$TMP/a.sock" conntrack >"$TMP/ct.txt" || fail "vfabctl conntrack (text)"
grep -q "10.0.0.1:[0-9]* -> 10.0.0.2:8080" "$TMP/ct.txt" || { cat "$TMP/ct.txt"; fail "text listing lacks the TCP connection"; }
pass "vfabctl conntrack lists A's TCP and UDP connections in its zone"

# ---- --zone names a port of this host's zones only ----
# vma's zone lives on hv1: hv2 has no zone of it, and vmb (hv2's own) is
# not tracked (no allow-related ACL applies to it). Both are refused by
# name, never an empty listing that reads as "no connections".
"$VFABCTL" -s "$TMP/b.sock" conntrack --zone vma >"$TMP/z.out" 2>"$TMP/z.err" &&
  { cat "$TMP/z.out"; fail "hv2 listed a zone of hv1's port vma"; }
grep -q 'vma" is not a logical port on this chassis' "$TMP/z.err" || { cat "$TMP/z.err"; fail "--zone vma on hv2: unclear refusal"; }
"$VFABCTL" -s "$TMP/b.sock" conntrack flush --zone vma >"$TMP/z.out" 2>"$TMP/z.err" &&
  fail "hv2 flushed a zone of hv1's port vma"
"$VFABCTL" -s "$TMP/b.sock" conntrack --zone vmb >"$TMP/z.out" 2>"$TMP/z.err" &&
  fail "hv2 listed a zone for the untracked port vmb"
grep -q "port vmb is not tracked" "$TMP/z.err" || { cat "$TMP/z.err"; fail "--zone vmb: unclear refusal"; }
pass "conntrack --zone for a port on another host, or untracked, is refused by name"

# ---- B cannot open to A ----
before=$(drops acl_stateful_default_deny)
if out=$(client ${P}b 10.0.0.1 9090 tcp nope 2>/dev/null); then fail "B opened TCP to A ($out)"; fi
if out=$(client ${P}b 10.0.0.1 9091 udp nope 2>/dev/null); then fail "B opened UDP to A ($out)"; fi
after=$(drops acl_stateful_default_deny)
# TCP: at least the SYN; UDP: three datagrams.
[ "$after" -ge $((before + 4)) ] || fail "acl_stateful_default_deny on hv1: $before -> $after"
pass "B cannot open TCP or UDP to A ($((after - before)) packets dropped as acl_stateful_default_deny)"

# trace: a SYN from A is a new packet in A's zone.
"$VFABCTL" -s "$TMP/a.sock" --json trace vma ip_dst=10.0.0.2 eth_dst=02:00:00:00:01:02 proto=tcp sport=40000 dport=8080 >"$TMP/tr.json" \
  || fail "vfabctl trace"
st=$(json_get '[c["state"] for c in d["result"].get("conntrack", [])]' <"$TMP/tr.json")
[ "$st" = "['new']" ] || { cat "$TMP/tr.json"; fail "trace: conntrack states $st, want ['new']"; }
pass "trace shows the conntrack state (new) of A's SYN"

# ---- forged replies from B ----
inv0=$(drops ct_invalid)
tx0=$(port_stat "$TMP/a.sock" vma tx_pkts)
B timeout 20 /usr/bin/python3 -c "
from scapy.all import Ether, IP, TCP, sendp
f = Ether(src='02:00:00:00:01:02', dst='02:00:00:00:01:01')/IP(src='10.0.0.2', dst='10.0.0.1')
pk = [f/TCP(sport=8080, dport=45678, flags='SA', seq=1000, ack=2000),
      f/TCP(sport=8080, dport=45679, flags='A', seq=1000, ack=2000),
      f/TCP(sport=5353, dport=45680, flags='PA', seq=7, ack=9)/b'forged']
sendp(pk, iface='vfsb', verbose=False)" || fail "scapy could not send"
wait_for bash -c "[ \$(\"$VFABCTL\" -s \"$TMP/a.sock\" --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"drops\"][\"ct_invalid\"])') -ge $((inv0 + 3)) ]" \
  || fail "ct_invalid on hv1: $inv0 -> $(drops ct_invalid), want +3"
tx1=$(port_stat "$TMP/a.sock" vma tx_pkts)
[ "$tx1" -eq "$tx0" ] || fail "A received $((tx1 - tx0)) frames while only forged replies were sent"
pass "3 forged replies from B dropped as ct_invalid on hv1 (visible in vfabctl stats), none reached A"

# ---- flush ----
f=$("$VFABCTL" -s "$TMP/a.sock" --json conntrack flush --zone vma | json_get 'd["flushed"]')
[ "$f" -ge 2 ] || fail "conntrack flush --zone vma flushed $f"
n=$("$VFABCTL" -s "$TMP/a.sock" --json conntrack --zone vma | json_get 'len(d["connections"])')
[ "$n" -eq 0 ] || fail "$n connections left in A's zone after the flush"
c=$("$VFABCTL" -s "$TMP/a.sock" --json stats | json_get 'd["conntrack"]["flushed"]')
[ "$c" -ge "$f" ] || fail "stats conntrack.flushed $c < $f"
pass "conntrack flush --zone vma: $f connections gone"
