#!/usr/bin/env bash
# Interop with a peer no one here wrote: the Linux kernel's VXLAN device.
# Host hA runs vfabd (chassis hv1) with a tap VM; host hB is a plain kernel
# with a vxlan device standing for the model's port on chassis hv2. Tenant
# traffic flows both ways and arrives intact (ping checks its payload; a
# UDP payload is compared byte for byte).
. "$(dirname "$0")/lib.sh"
need_root
P=vfk$$
mkns ${P}hA; mkns ${P}hB
underlay ${P}hA ${P}hB
cat >"$TMP/hv1.yaml" <<'Y'
chassis:
  - {name: hv1, underlay_ip: 192.0.2.1, encap: vxlan}
  - {name: hv2, underlay_ip: 192.0.2.2, encap: vxlan}
tenants:
  - name: blue
    switches:
      - name: blue-web
        vni: 100
        ports:
          - {name: vm1, mac: "02:00:00:00:01:01", ips: ["10.0.0.1"], chassis: hv1, attach: {type: tap, name: vfk1}, port_security: true}
          - {name: kvm, mac: "02:00:00:00:01:02", ips: ["10.0.0.2"], chassis: hv2}
local: {chassis: hv1, workers: 1, uplink: {type: udp, bind: "192.0.2.1:4789"}}
Y
start_vfabd ${P}hA "$TMP/hv1.yaml" "$TMP/a.sock"
vm ${P}hA vfk1 ${P}v1 02:00:00:00:01:01 10.0.0.1/24
# The kernel peer: VNI 100, standard port, MAC/IP of the model's port kvm.
ip -n ${P}hB link add vx100 type vxlan id 100 dstport 4789 local 192.0.2.2 \
  remote 192.0.2.1 dev uB || skip "kernel has no VXLAN support"
ip netns exec ${P}hB sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n ${P}hB link set vx100 address 02:00:00:00:01:02 mtu 1400
ip -n ${P}hB addr add 10.0.0.2/24 dev vx100
ip -n ${P}hB link set vx100 up
# veth (and the vxlan device over it) hand packets on with the inner L4
# checksum left for an offload that never happens (CHECKSUM_PARTIAL); an
# underlay socket cannot see that, so the peer computes checksums itself,
# as a real NIC would.
ip netns exec ${P}hB ethtool -K vx100 tx off >/dev/null
ip netns exec ${P}hB ethtool -K uB tx off >/dev/null

ip netns exec ${P}v1 ping -c 3 -i 0.2 -W 2 -p a5c3 10.0.0.2 >"$TMP/p1" \
  || { cat "$TMP/p1"; fail "vfab VM -> kernel VXLAN"; }
pass "ping vfab VM -> kernel VXLAN host"
ip netns exec ${P}hB ping -c 3 -i 0.2 -W 2 -s 1000 10.0.0.1 >"$TMP/p2" \
  || { cat "$TMP/p2"; fail "kernel VXLAN -> vfab VM"; }
pass "ping kernel VXLAN host -> vfab VM (1000-byte payload)"

# A UDP payload both ways, compared byte for byte.
payload=$(head -c 900 /dev/urandom | base64 -w0)
for dir in "${P}hB 10.0.0.2 ${P}v1" "${P}v1 10.0.0.1 ${P}hB"; do
  set -- $dir
  rx=$1 rxip=$2 tx=$3
  ip netns exec "$rx" timeout 10 python3 -c "
import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$rxip', 9999)); s.settimeout(8); print(s.recv(4096).decode())" >"$TMP/rx" &
  RXP=$!
  wait_for bash -c "ip netns exec $rx ss -Hlun | grep -q '$rxip:9999'" || fail "udp listener"
  ip netns exec "$tx" python3 -c "
import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'$payload', ('$rxip', 9999))"
  wait "$RXP"
  [ "$(cat "$TMP/rx")" = "$payload" ] || fail "UDP payload to $rxip arrived damaged or not at all"
done
pass "UDP payloads intact in both directions"
drops=$("$VFABCTL" -s "$TMP/a.sock" --json stats | json_get 'sum(v for k,v in d["drops"].items() if k.startswith("tunnel_"))')
[ "$drops" -eq 0 ] || fail "$drops tunnel decap drops on traffic from the kernel"
pass "no decap drops"
