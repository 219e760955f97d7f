#!/usr/bin/env bash
# Forged tunnel packets on real sockets (issue 12 item 2, redteam defect 1).
# Hosts hA (hv1, receives Geneve) and hB (hv2, receives VXLAN) joined by a
# veth underlay, each with one red VM on a tap; hv3 (192.0.2.3) is a chassis
# of the model that runs no vfabd: its address is added on hB's side so the
# test can send as hv3. Tunnel packets crafted with scapy carry a UDP
# datagram for a red VM, sent:
#   - from addresses that are no chassis (192.0.2.99 on hB's side, .98 on
#     hA's): Geneve with vfab's option naming red ports, Geneve without
#     options, VXLAN: all dropped as tunnel_unknown_chassis;
#   - from a known chassis (hv2) naming a port of another chassis (hv3's):
#     dropped as tunnel_in_port_not_on_chassis;
#   - from the right chassis (hv3 naming its port, hv2 naming its port, hv1's
#     address with a random source port over VXLAN): delivered.
# The VMs' UDP listeners and the drop counters must agree exactly. The
# delivered packets go last, on the same socket and worker as the forged
# ones, so once they have arrived a forged packet would have too.
. "$(dirname "$0")/lib.sh"
need_root
command -v ping >/dev/null || skip "ping is not installed (scripts/install-deps.sh)"
/usr/bin/python3 -c "import scapy" 2>/dev/null || skip "scapy is not installed for /usr/bin/python3 (python3-scapy)"
P=vfg$$
mkns ${P}hA; mkns ${P}hB
underlay ${P}hA ${P}hB
ip -n ${P}hB addr add 192.0.2.99/24 dev uB      # no chassis
ip -n ${P}hB addr add 192.0.2.3/24 dev uB       # chassis hv3 (no vfabd)
ip -n ${P}hA addr add 192.0.2.98/24 dev uA      # no chassis
for h in 1 2; do
  enc=geneve; [ $h -eq 2 ] && enc=vxlan
  port=6081; [ $h -eq 2 ] && port=4789
  cat >"$TMP/hv$h.yaml" <<Y
chassis:
  - {name: hv1, underlay_ip: 192.0.2.1, encap: geneve}
  - {name: hv2, underlay_ip: 192.0.2.2, encap: vxlan}
  - {name: hv3, underlay_ip: 192.0.2.3, encap: geneve}
tenants:
  - name: red
    switches:
      - name: red-web
        vni: 2001
        ports:
          - {name: red-vm1, mac: "02:00:00:00:01:01", ips: ["10.0.0.1"], chassis: hv1, attach: {type: tap, name: vfg1}}
          - {name: red-vm2, mac: "02:00:00:00:01:02", ips: ["10.0.0.2"], chassis: hv2, attach: {type: tap, name: vfg2}}
          - {name: red-vm3, mac: "02:00:00:00:01:03", ips: ["10.0.0.3"], chassis: hv3}
local: {chassis: hv$h, workers: 1, uplink: {type: udp, bind: "192.0.2.$h:$port"}}
Y
done
start_vfabd ${P}hA "$TMP/hv1.yaml" "$TMP/a.sock"
start_vfabd ${P}hB "$TMP/hv2.yaml" "$TMP/b.sock"
vm ${P}hA vfg1 ${P}r1 02:00:00:00:01:01 10.0.0.1/24
vm ${P}hB vfg2 ${P}r2 02:00:00:00:01:02 10.0.0.2/24

# vfab's own traffic between its chassis still flows (VXLAN to hv2, Geneve
# back to hv1).
ip netns exec ${P}r1 ping -c 3 -i 0.2 -W 2 10.0.0.2 >"$TMP/p1" || { cat "$TMP/p1"; fail "red vm1 -> vm2 across hosts"; }
pass "red ping across hosts (VXLAN to hv2, Geneve to hv1)"

pid_of() {
  "$VFABCTL" -s "$TMP/a.sock" --json list port |
    json_get "[p['id'] for p in d if p['port']['name']=='$1'][0]"
}
ID1=$(pid_of red-vm1); ID2=$(pid_of red-vm2); ID3=$(pid_of red-vm3)
[ -n "$ID1" ] && [ -n "$ID2" ] && [ -n "$ID3" ] || fail "port ids from vfabctl list port"

# send.py SRC DST DPORT KIND IN OUT DMAC DIP TAG COUNT: COUNT datagrams to
# the red VM (DMAC, DIP) UDP 7777 carrying TAG, tunnelled with VNI 2001 as
# KIND (geneve-opt: with vfab's option naming IN -> OUT; geneve: no
# options, as OVS sends; vxlan) from SRC (any source port) to DST:DPORT.
cat >"$TMP/send.py" <<'PY'
import socket, struct, sys
from scapy.all import Ether, IP, UDP, Raw
src, dst, dport, kind, inp, outp, dmac, dip, tag, count = sys.argv[1:]
inner = bytes(Ether(src="02:00:00:00:01:09", dst=dmac) /
              IP(src="10.0.0.9", dst=dip) / UDP(sport=5555, dport=7777) /
              Raw(tag.encode()))
vni = 2001 << 8
if kind == "vxlan":
    hdr = struct.pack("!II", 0x08000000, vni)
elif kind == "geneve":
    hdr = struct.pack("!BBHI", 0, 0, 0x6558, vni)
else:
    hdr = struct.pack("!BBHI", 3, 0, 0x6558, vni) + \
          struct.pack("!HBBII", 0xff7f, 1, 2, int(inp), int(outp))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
for _ in range(int(count)):
    s.sendto(hdr + inner, (dst, int(dport)))
PY
send() { local ns=$1; shift; ip netns exec "$ns" /usr/bin/python3 "$TMP/send.py" "$@" || fail "send.py $*"; }

# listen VMNS FILE: every datagram to UDP 7777 in the VM becomes a line.
listen() {
  ip netns exec "$1" timeout 120 /usr/bin/python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 7777))
with open('$2', 'a') as f:
    while True:
        f.write(s.recv(2048).decode() + '\n'); f.flush()" &
  PIDS+=($!)
  wait_for bash -c "ip netns exec $1 ss -Hlun | grep -q ':7777 '" || fail "listener in $1"
}
lines() { grep -c "^$2\$" "$1" 2>/dev/null; }
got_lines() { [ "$(wc -l <"$1")" -ge "$2" ]; }
: >"$TMP/r1.txt"; : >"$TMP/r2.txt"
listen ${P}r1 "$TMP/r1.txt"
listen ${P}r2 "$TMP/r2.txt"

# ---- Geneve at hv1 ----
M1=02:00:00:00:01:01
uk0=$(drop_stat "$TMP/a.sock" tunnel_unknown_chassis)
ip0=$(drop_stat "$TMP/a.sock" tunnel_in_port_not_on_chassis)
tx0=$(port_stat "$TMP/a.sock" red-vm1 tx_pkts)
send ${P}hB 192.0.2.99 192.0.2.1 6081 geneve-opt "$ID2" "$ID1" $M1 10.0.0.1 forged-opt 5
send ${P}hB 192.0.2.99 192.0.2.1 6081 geneve 0 0 $M1 10.0.0.1 forged-noopt 5
send ${P}hB 192.0.2.2 192.0.2.1 6081 geneve-opt "$ID3" "$ID1" $M1 10.0.0.1 hv2-as-hv3 5
send ${P}hB 192.0.2.3 192.0.2.1 6081 geneve-opt "$ID3" "$ID1" $M1 10.0.0.1 hv3-ok 5
send ${P}hB 192.0.2.2 192.0.2.1 6081 geneve-opt "$ID2" "$ID1" $M1 10.0.0.1 hv2-ok 5
wait_for got_lines "$TMP/r1.txt" 10 || { cat "$TMP/r1.txt"; fail "red-vm1 did not get the 10 datagrams from hv2 and hv3"; }
uk1=$(drop_stat "$TMP/a.sock" tunnel_unknown_chassis)
ip1=$(drop_stat "$TMP/a.sock" tunnel_in_port_not_on_chassis)
tx1=$(port_stat "$TMP/a.sock" red-vm1 tx_pkts)
echo "hv1: red-vm1 got: $(sort "$TMP/r1.txt" | uniq -c | tr -s ' \n' ' '); unknown_chassis +$((uk1 - uk0)), in_port_not_on_chassis +$((ip1 - ip0)), red-vm1 tx +$((tx1 - tx0))"
for t in forged-opt forged-noopt hv2-as-hv3; do
  [ "$(lines "$TMP/r1.txt" $t)" -eq 0 ] || fail "hv1 delivered '$t' into red-vm1"
done
[ "$(lines "$TMP/r1.txt" hv3-ok)" -eq 5 ] || fail "hv3's packets for its own port: $(lines "$TMP/r1.txt" hv3-ok) of 5"
[ "$(lines "$TMP/r1.txt" hv2-ok)" -eq 5 ] || fail "hv2's packets for its own port: $(lines "$TMP/r1.txt" hv2-ok) of 5"
[ $((uk1 - uk0)) -eq 10 ] || fail "hv1 counted $((uk1 - uk0)) tunnel_unknown_chassis drops, want 10"
[ $((ip1 - ip0)) -eq 5 ] || fail "hv1 counted $((ip1 - ip0)) tunnel_in_port_not_on_chassis drops, want 5"
[ $((tx1 - tx0)) -eq 10 ] || fail "red-vm1 tx grew by $((tx1 - tx0)), want 10"
pass "Geneve: 10 from a non-chassis (with and without ports) and 5 from hv2 naming hv3's port dropped by name; 10 from the right chassis delivered"

# ---- VXLAN at hv2 ----
M2=02:00:00:00:01:02
uk0=$(drop_stat "$TMP/b.sock" tunnel_unknown_chassis)
tx0=$(port_stat "$TMP/b.sock" red-vm2 tx_pkts)
send ${P}hA 192.0.2.98 192.0.2.2 4789 vxlan 0 0 $M2 10.0.0.2 forged-vxlan 5
send ${P}hA 192.0.2.1 192.0.2.2 4789 vxlan 0 0 $M2 10.0.0.2 hv1-ok 5
wait_for got_lines "$TMP/r2.txt" 5 || { cat "$TMP/r2.txt"; fail "red-vm2 did not get the 5 datagrams from hv1"; }
uk1=$(drop_stat "$TMP/b.sock" tunnel_unknown_chassis)
tx1=$(port_stat "$TMP/b.sock" red-vm2 tx_pkts)
echo "hv2: red-vm2 got: $(sort "$TMP/r2.txt" | uniq -c | tr -s ' \n' ' '); unknown_chassis +$((uk1 - uk0)), red-vm2 tx +$((tx1 - tx0))"
[ "$(lines "$TMP/r2.txt" forged-vxlan)" -eq 0 ] || fail "hv2 delivered forged VXLAN into red-vm2"
[ "$(lines "$TMP/r2.txt" hv1-ok)" -eq 5 ] || fail "hv1's VXLAN from a random source port: $(lines "$TMP/r2.txt" hv1-ok) of 5"
[ $((uk1 - uk0)) -eq 5 ] || fail "hv2 counted $((uk1 - uk0)) tunnel_unknown_chassis drops, want 5"
[ $((tx1 - tx0)) -eq 5 ] || fail "red-vm2 tx grew by $((tx1 - tx0)), want 5"
pass "VXLAN: 5 from a non-chassis dropped as tunnel_unknown_chassis; 5 from hv1's address (any source port) delivered"
