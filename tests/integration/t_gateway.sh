#!/usr/bin/env bash
# A tenant reaches the outside through its router's gateway port (issue
# 16, slice 2): namespaces hA (hv1) and hB (hv2) joined by a veth underlay
# run vfabd; an "outside" namespace holds a bridge joined by veths to one
# interface on each host, the hosts' physical network "ext"
# (local.physical_networks); it has 203.0.113.1/24 and, beyond it,
# 198.51.100.1, with a route back to the tenant's 10.0.0.0/24 via the
# gateway port's 203.0.113.2 (no NAT yet). Checks:
#   - hv1 (first of gateway_chassis) serves the gateway: its physical port
#     is open, hv2's is not; the outside learned 203.0.113.2 at hv1's
#     gateway MAC from the gratuitous ARP alone (arp_accept, no traffic);
#   - an ARP request for 203.0.113.2 from the outside gets exactly one
#     answer (hv2 does not answer);
#   - VM vga (on hv1) pings 198.51.100.1 through the router: the next hop
#     203.0.113.1 was resolved by ARP on the physical network; a TCP
#     exchange with the outside works both ways;
#   - VM vgb on hv2, which does not serve the gateway, does the same: hv2
#     routes, cannot know the next hop's MAC, and redirects to hv1, which
#     resolves it; replies from the outside are routed at hv1 and
#     tunnelled to hv2.
. "$(dirname "$0")/lib.sh"
need_root
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import scapy.all" 2>/dev/null \
  || skip "scapy (python3-scapy under /usr/bin/python3) is needed to count ARP answers"
P=vfg$$
O=${P}o
mkns ${P}hA; mkns ${P}hB; mkns $O
underlay ${P}hA ${P}hB
# The outside: a bridge with one port toward each host's physical interface.
ip -n $O link add br0 type bridge || fail "bridge"
for h in a b; do
  ip link add ${P}x$h type veth peer name ${P}o$h netns $O || fail "veth"
  ip link set ${P}x$h netns ${P}h${h^^} || fail "veth into host"
  ip -n ${P}h${h^^} link set ${P}x$h up
  ip -n $O link set ${P}o$h master br0 up
  # Whole checksums from the outside's stack (veth would leave them partial).
  ip netns exec $O ethtool -K ${P}o$h tx off >/dev/null 2>&1 || true
done
ip -n $O link set br0 up
ip -n $O addr add 203.0.113.1/24 dev br0
ip -n $O addr add 198.51.100.1/32 dev lo
ip -n $O route add 10.0.0.0/24 via 203.0.113.2
ip netns exec $O ethtool -K br0 tx off >/dev/null 2>&1 || true
ip netns exec $O sysctl -qw net.ipv4.conf.br0.arp_accept=1
ip netns exec $O sysctl -qw net.ipv6.conf.all.disable_ipv6=1

for h in 1 2; do
  x=$([ $h = 1 ] && echo a || echo b)
  { cat "$SRC/tests/integration/data/gw-hosts.yaml"
    echo "local: {chassis: hv$h, workers: 1, uplink: {type: udp, bind: \"192.0.2.$h:6081\"},"
    echo "        physical_networks: {ext: ${P}x$x}}"
  } >"$TMP/hv$h.yaml"
done
start_vfabd ${P}hA "$TMP/hv1.yaml" "$TMP/a.sock"
start_vfabd ${P}hB "$TMP/hv2.yaml" "$TMP/b.sock"
vm ${P}hA vfga ${P}a 02:00:00:00:01:01 10.0.0.1/24 10.0.0.254
vm ${P}hB vfgb ${P}b 02:00:00:00:01:02 10.0.0.2/24 10.0.0.254
ip netns exec ${P}a ethtool -K vfga tx off >/dev/null 2>&1 || true
ip netns exec ${P}b ethtool -K vfgb tx off >/dev/null 2>&1 || true

has_port() { "$VFABCTL" -s "$1" --json stats | json_get "any(p['name']=='$2' for p in d['ports'])"; }
[ "$(has_port "$TMP/a.sock" blue-ext/physical)" = True ] \
  || fail "hv1 serves blue-r-ext but has no physical port"
[ "$(has_port "$TMP/b.sock" blue-ext/physical)" = False ] \
  || fail "hv2 is not the active gateway but opened the physical port"
pass "the gateway is served on hv1 only"

gw_learned() { ip -n $O neigh show 203.0.113.2 | grep -q 02:00:00:00:ff:09; }
wait_for gw_learned || fail "the outside never learned the gateway from its gratuitous ARP: $(ip -n $O neigh)"
pass "gratuitous ARP: the outside knows 203.0.113.2 at 02:00:00:00:ff:09"

n=$(ip netns exec $O /usr/bin/python3 -c "
from scapy.all import ARP, Ether, srp, conf
conf.verb = 0
ans, _ = srp(Ether(dst='ff:ff:ff:ff:ff:ff')/ARP(pdst='203.0.113.2', psrc='203.0.113.1'),
             iface='br0', timeout=2, multi=True)
print(len([r for _, r in ans if r[ARP].hwsrc == '02:00:00:00:ff:09']))") || fail "scapy ARP"
[ "$n" = 1 ] || fail "ARP for the gateway answered $n times (want once, from hv1)"
pass "ARP for the gateway answered once"

ok=0
for _ in $(seq 1 30); do
  ip netns exec ${P}a ping -c 1 -W 1 198.51.100.1 >/dev/null 2>&1 && { ok=1; break; }
done
[ $ok = 1 ] || { cat "$TMP/a.sock.err" "$TMP/a.sock.out" >&2; "$VFABCTL" -s "$TMP/a.sock" trace vga eth_dst=02:00:00:00:ff:01 ip_dst=198.51.100.1 >&2; false; } || fail "vga cannot ping 198.51.100.1 through the gateway; drops: $("$VFABCTL" -s "$TMP/a.sock" --json stats | json_get "{k: v for k, v in d['drops'].items() if v}")"
ip netns exec ${P}a ping -c 3 -i 0.2 -W 2 198.51.100.1 >/dev/null \
  || fail "pings to 198.51.100.1 lost after the first"
pass "vga pings 198.51.100.1 through the gateway port"

ip netns exec $O timeout 30 python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('198.51.100.1', 8080)); s.listen(4)
for _ in range(4):
    c, peer = s.accept(); c.settimeout(5)
    c.sendall(b'outside saw ' + peer[0].encode() + b' ' + c.recv(64)); c.close()" &
PIDS+=($!)
wait_for bash -c "ip netns exec $O ss -Hltn | grep -q :8080" || fail "outside server did not listen"
out=$(ip netns exec ${P}a timeout 10 python3 -c "
import socket
s = socket.create_connection(('198.51.100.1', 8080), timeout=5)
s.sendall(b'hello'); print(s.recv(128).decode())") || fail "TCP from vga to the outside"
[ "$out" = "outside saw 10.0.0.1 hello" ] || fail "TCP answer: '$out'"
pass "TCP from vga to the outside and back"

ip netns exec ${P}b ping -c 3 -i 0.2 -W 2 198.51.100.1 >/dev/null \
  || fail "vgb (hv2) cannot ping 198.51.100.1 through hv1's gateway; hv1 drops: $("$VFABCTL" -s "$TMP/a.sock" --json stats | json_get "{k: v for k, v in d['drops'].items() if v}"); hv2 drops: $("$VFABCTL" -s "$TMP/b.sock" --json stats | json_get "{k: v for k, v in d['drops'].items() if v}")"
pass "vgb on hv2 pings 198.51.100.1 through hv1's gateway (redirected)"
out=$(ip netns exec ${P}b timeout 10 python3 -c "
import socket
s = socket.create_connection(('198.51.100.1', 8080), timeout=5)
s.sendall(b'hi'); print(s.recv(128).decode())") || fail "TCP from vgb to the outside"
[ "$out" = "outside saw 10.0.0.2 hi" ] || fail "TCP answer to vgb: '$out'"
pass "TCP from vgb (hv2) to the outside and back"
