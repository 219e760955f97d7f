#!/usr/bin/env bash
# UDP datagrams larger than the VMs' MTU (issue 12 item 5, redteam defect 4):
# the sending VM's kernel cuts them into IP fragments, the first of which
# has a UDP length longer than itself. Two namespace hosts joined by a veth
# underlay (tests/integration/data/real-hosts.yaml), blue-vm1 on hA sends
# 10 datagrams each of 3000 and 9000 bytes to blue-vm2 on hB, over IPv4
# and over IPv6 (the VMs' link-local addresses, which their MACs derive,
# so a port with port_security may send them); at MTU 1400 every one of
# them is fragmented, and every one must arrive whole.
. "$(dirname "$0")/lib.sh"
need_root
P=vfu$$
real_hosts ${P}hA ${P}hB
vm ${P}hA vfb1 ${P}b1 02:00:00:00:01:01 10.0.0.1/24 10.0.0.254
vm ${P}hB vfb2 ${P}b2 02:00:00:00:01:02 10.0.0.2/24 10.0.0.254
# IPv6 back on in the two VMs (vm() turns it off), with only the
# link-local address the MAC derives (EUI-64) and no DAD to wait for.
for v in "${P}b1 vfb1" "${P}b2 vfb2"; do
  set -- $v
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
    net.ipv6.conf.$2.accept_dad=0 net.ipv6.conf.all.disable_ipv6=0 \
    net.ipv6.conf.default.disable_ipv6=0 net.ipv6.conf.$2.disable_ipv6=0
done
LL1=fe80::ff:fe00:101; LL2=fe80::ff:fe00:102
ll_ready() { ip -n "$1" -6 addr show dev "$2" | grep "$3/64 scope link" | grep -qv tentative; }
wait_for ll_ready ${P}b1 vfb1 $LL1 || fail "blue-vm1 has no link-local $LL1"
wait_for ll_ready ${P}b2 vfb2 $LL2 || fail "blue-vm2 has no link-local $LL2"

# The listener: one line "FAMILY LENGTH" per datagram whose bytes are all
# the expected pattern (so a damaged reassembly does not count).
ip netns exec ${P}b2 timeout 120 /usr/bin/python3 -c "
import select, socket
s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s4.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s4.bind(('10.0.0.2', 7777))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s6.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s6.bind(('$LL2', 7777, 0, socket.if_nametoindex('vfb2')))
with open('$TMP/rx.txt', 'a') as f:
    while True:
        for s in select.select([s4, s6], [], [])[0]:
            d = s.recv(65535)
            ok = d == bytes(i % 251 for i in range(len(d)))
            f.write(('4' if s is s4 else '6') + ' ' + str(len(d)) + (' ok' if ok else ' bad') + '\n')
            f.flush()" &
PIDS+=($!)
listening() { ip netns exec ${P}b2 ss -Hlun | grep -qF "$1"; }
wait_for listening "10.0.0.2:7777" && wait_for listening "[$LL2]%vfb2:7777" || fail "listener in blue-vm2"
# Neighbours first (ARP, ND), so no datagram waits in a neighbour queue.
ip netns exec ${P}b1 ping -c 2 -i 0.2 -W 2 10.0.0.2 >/dev/null || fail "IPv4 ping blue-vm1 -> blue-vm2"
ip netns exec ${P}b1 ping -6 -c 2 -i 0.2 -W 2 "$LL2%vfb1" >/dev/null || fail "IPv6 link-local ping blue-vm1 -> blue-vm2"
bad0=$(drop_stat "$TMP/a.sock" udp_bad_length)

# One datagram at a time: the next goes when the listener has logged the
# last one, or after 2 s (then it counts as lost), so the test measures
# fragment handling, not how a burst meets the uplink's buffers.
ip netns exec ${P}b1 /usr/bin/python3 -c "
import socket, time
s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
dst4 = ('10.0.0.2', 7777)
dst6 = ('$LL2', 7777, 0, socket.if_nametoindex('vfb1'))
def logged():
    with open('$TMP/rx.txt') as f:
        return sum(1 for _ in f)
for size in (3000, 9000):
    d = bytes(i % 251 for i in range(size))
    for _ in range(10):
        for s, dst in ((s4, dst4), (s6, dst6)):
            n = logged()
            s.sendto(d, dst)
            end = time.monotonic() + 2
            while logged() == n and time.monotonic() < end:
                time.sleep(0.002)" || fail "sending from blue-vm1"
want=40
got_all() { [ "$(grep -c ' ok$' "$TMP/rx.txt")" -ge $want ]; }
wait_for got_all
sleep 0.3   # anything extra (a duplicate) would show in the counts below
# On a loss: where it went (vfab's counters, the taps' kernel counters, the
# receiver's reassembly counters).
explain() {
  for s in a b; do
    echo "--- host $s: nonzero drops, ports"
    "$VFABCTL" -s "$TMP/$s.sock" --json stats | python3 -c '
import json, sys
d = json.load(sys.stdin)
for k, v in d["drops"].items():
    if v:
        print("drop", k, v)
for p in d["ports"]:
    print("port", " ".join(f"{k}={v}" for k, v in p.items()))'
  done
  ip -n ${P}b1 -s link show vfb1; ip -n ${P}b2 -s link show vfb2
  ip netns exec ${P}b2 nstat -az 2>/dev/null | grep -E "Reasm|Ip6InDiscards|UdpRcvbuf|Udp6RcvbufErrors|Ip6InHdrErrors" || true
}
for c in "4 3000" "4 9000" "6 3000" "6 9000"; do
  n=$(grep -c "^$c ok\$" "$TMP/rx.txt")
  echo "IPv${c% *} ${c#* }-byte datagrams received whole: $n of 10"
  [ "$n" -eq 10 ] || { explain; fail "IPv${c% *} ${c#* }-byte datagrams: $n of 10 arrived whole"; }
done
! grep -q " bad$" "$TMP/rx.txt" || fail "a datagram arrived damaged: $(grep ' bad$' "$TMP/rx.txt" | head -3)"
bad1=$(drop_stat "$TMP/a.sock" udp_bad_length)
[ "$bad1" -eq "$bad0" ] || fail "hv1 counted $((bad1 - bad0)) udp_bad_length drops"
pass "3000- and 9000-byte UDP, IPv4 and IPv6, fragmented at MTU 1400: 40 of 40 delivered across hosts"
