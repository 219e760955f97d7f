#!/usr/bin/env bash
# Two hosts for real: namespaces hA and hB joined by a veth underlay, each
# running vfabd with the UDP uplink; tenant VMs are namespaces holding
# vfabd's taps. blue and red share 10.0.0.0/24 and the same MACs.
# Checks ping across hosts and across blue's router, red isolation, the ssh
# ACL and port security on real traffic, and iperf3 TCP beside plain veth.
. "$(dirname "$0")/lib.sh"
need_root
command -v ping >/dev/null || skip "ping is not installed (scripts/install-deps.sh)"
P=vfr$$
real_hosts ${P}hA ${P}hB
vm ${P}hA vfb1 ${P}b1 02:00:00:00:01:01 10.0.0.1/24 10.0.0.254
vm ${P}hB vfb2 ${P}b2 02:00:00:00:01:02 10.0.0.2/24 10.0.0.254
vm ${P}hB vfb3 ${P}b3 02:00:00:00:02:01 10.0.1.1/24 10.0.1.254
vm ${P}hA vfr1 ${P}r1 02:00:00:00:01:01 10.0.0.1/24
vm ${P}hB vfr2 ${P}r2 02:00:00:00:01:02 10.0.0.2/24

ip netns exec ${P}b1 ping -c 3 -i 0.2 -W 2 10.0.0.2 >"$TMP/p1" || { cat "$TMP/p1"; fail "blue vm1 -> vm2 across hosts"; }
pass "blue ping across hosts"
ip netns exec ${P}b1 ping -c 3 -i 0.2 -W 2 10.0.1.1 >"$TMP/p2" || { cat "$TMP/p2"; fail "blue vm1 -> db1 across the router"; }
grep -q "ttl=63" "$TMP/p2" || fail "routed ping did not decrement TTL: $(cat "$TMP/p2")"
pass "blue ping across its logical router (ttl 63)"

# Red saw none of blue's traffic; red works on its own with the same IPs.
rtx=$(port_stat "$TMP/b.sock" red-vm2 tx_pkts)
[ "$rtx" -eq 0 ] || fail "red-vm2 received $rtx packets during blue's pings"
ip netns exec ${P}r1 ping -c 2 -i 0.2 -W 2 10.0.0.2 >/dev/null || fail "red vm1 -> vm2"
btx=$(port_stat "$TMP/b.sock" blue-vm2 tx_pkts)
rtx=$(port_stat "$TMP/b.sock" red-vm2 tx_pkts)
[ "$rtx" -gt 0 ] || fail "red-vm2 got nothing from red-vm1"
pass "isolation: red-vm2 saw only red's $rtx packets (blue-vm2 $btx)"

# ACL: ssh (tcp/22) to a blue web VM is dropped; tcp/80 connects.
for port in 22 80; do
  ip netns exec ${P}b2 timeout 15 python3 -c "
import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.0.0.2', $port)); s.listen(4); s.settimeout(12)
try:
    c,_=s.accept(); c.close()
except Exception: pass" &
done
listening() { ip netns exec ${P}b2 ss -Hltn | grep -q "10.0.0.2:$1 "; }
wait_for listening 22 && wait_for listening 80 || fail "test listeners did not start"
ip netns exec ${P}b1 timeout 5 bash -c 'exec 3<>/dev/tcp/10.0.0.2/80' || fail "tcp/80 should connect"
if ip netns exec ${P}b1 timeout 3 bash -c 'exec 3<>/dev/tcp/10.0.0.2/22' 2>/dev/null; then
  fail "tcp/22 connected through the ssh ACL"
fi
acl=$(drop_stat "$TMP/b.sock" acl_egress)
[ "$acl" -gt 0 ] || fail "no acl_egress drop counted on hv2"
pass "ACL: tcp/80 connects, tcp/22 blocked ($acl acl_egress drops on hv2)"

# Port security: a source address the port does not own is dropped.
ip -n ${P}b1 addr add 10.0.0.99/24 dev vfb1
before=$(drop_stat "$TMP/a.sock" port_security)
if ip netns exec ${P}b1 ping -c 2 -i 0.2 -W 1 -I 10.0.0.99 10.0.0.2 >/dev/null 2>&1; then
  fail "spoofed source got through"
fi
after=$(drop_stat "$TMP/a.sock" port_security)
[ "$after" -gt "$before" ] || fail "port_security drops did not grow ($before -> $after)"
pass "port security: spoofed source dropped ($before -> $after)"
ip -n ${P}b1 addr del 10.0.0.99/24 dev vfb1

# Path MTU discovery through the overlay: with a VM MTU above what the
# tunnel carries, a DF packet too big for it is answered with ICMP
# fragmentation-needed (vf_icmp.h), the VM's stack learns the path MTU,
# and then fragments to fit.
ip -n ${P}b1 link set vfb1 mtu 1500
ip netns exec ${P}b1 ping -c 1 -M do -s 1472 -W 2 10.0.0.2 >"$TMP/pm1" 2>&1
grep -Eq "mtu ?= ?1438" "$TMP/pm1" || { cat "$TMP/pm1"; fail "no fragmentation-needed answer naming mtu 1438"; }
ip netns exec ${P}b1 ip route get 10.0.0.2 | grep -q "mtu 1438" || fail "the VM did not learn the path MTU"
ip netns exec ${P}b1 ping -c 2 -i 0.2 -s 1472 -W 2 10.0.0.2 >"$TMP/pm2" 2>&1 || { cat "$TMP/pm2"; fail "1500-byte ping after PMTU discovery"; }
icmp=$("$VFABCTL" -s "$TMP/a.sock" --json status | json_get 'sum(w["icmp_frag_needed"] for w in d["workers"])')
[ "$icmp" -ge 1 ] || fail "icmp_frag_needed not counted ($icmp)"
pass "PMTU discovery: DF ping at 1500 answered 'frag needed, mtu 1438', then fragmented pings get through ($icmp answers)"
ip -n ${P}b1 link set vfb1 mtu 1400

# iperf3 TCP through vfab, beside a plain veth pair in the same run.
if command -v iperf3 >/dev/null; then
  ip netns exec ${P}b2 timeout 30 iperf3 -s -1 -B 10.0.0.2 >/dev/null 2>&1 &
  wait_for listening 5201 || fail "iperf3 server did not start"
  ip netns exec ${P}b1 timeout 25 iperf3 -c 10.0.0.2 -t 3 -J >"$TMP/ip.json" 2>&1 \
    || { tail -5 "$TMP/ip.json"; fail "iperf3 through vfab"; }
  vf=$(json_get 'd["end"]["sum_received"]["bits_per_second"]' <"$TMP/ip.json")
  mkns ${P}p1; mkns ${P}p2
  ip link add pv1 netns ${P}p1 mtu 1450 type veth peer name pv2 netns ${P}p2 mtu 1450
  ip -n ${P}p1 addr add 10.9.0.1/24 dev pv1; ip -n ${P}p1 link set pv1 up
  ip -n ${P}p2 addr add 10.9.0.2/24 dev pv2; ip -n ${P}p2 link set pv2 up
  ip netns exec ${P}p2 timeout 30 iperf3 -s -1 -B 10.9.0.2 >/dev/null 2>&1 &
  wait_for bash -c "ip netns exec ${P}p2 ss -Hltn | grep -q 10.9.0.2:5201" || fail "iperf3 server (veth) did not start"
  ip netns exec ${P}p1 timeout 25 iperf3 -c 10.9.0.2 -t 3 -J >"$TMP/ipv.json" 2>&1 || fail "iperf3 on plain veth"
  pv=$(json_get 'd["end"]["sum_received"]["bits_per_second"]' <"$TMP/ipv.json")
  ratio=$(python3 -c "print(f'{$vf/$pv:.3f}')")
  python3 -c "print(f'iperf3 TCP: vfab {$vf/1e9:.2f} Gb/s, plain veth {$pv/1e9:.2f} Gb/s, ratio $ratio')"
  pass "iperf3 TCP completed through vfab (ratio to plain veth $ratio, recorded, not asserted)"

  # The floor: the same taps and underlay with perf/compare/taprelay.c,
  # which only moves frames (four kernel copies, no tunnel, no pipeline).
  if command -v cc >/dev/null && cc -O2 -o "$TMP/taprelay" "$SRC/perf/compare/taprelay.c"; then
    mkns ${P}fA; mkns ${P}fB
    underlay ${P}fA ${P}fB
    ip netns exec ${P}fA "$TMP/taprelay" vff1 192.0.2.1 7000 192.0.2.2 40 >"$TMP/relay1" 2>&1 &
    PIDS+=($!)
    ip netns exec ${P}fB "$TMP/taprelay" vff2 192.0.2.2 7000 192.0.2.1 40 >"$TMP/relay2" 2>&1 &
    PIDS+=($!)
    vm ${P}fA vff1 ${P}f1 02:00:00:00:01:01 10.0.0.1/24
    vm ${P}fB vff2 ${P}f2 02:00:00:00:01:02 10.0.0.2/24
    ip netns exec ${P}f2 timeout 30 iperf3 -s -1 -B 10.0.0.2 >/dev/null 2>&1 &
    wait_for bash -c "ip netns exec ${P}f2 ss -Hltn | grep -q 10.0.0.2:5201" || fail "iperf3 server (relay) did not start"
    ip netns exec ${P}f1 timeout 25 iperf3 -c 10.0.0.2 -t 3 -J >"$TMP/ipf.json" 2>&1 \
      || { tail -5 "$TMP/ipf.json"; fail "iperf3 through taprelay"; }
    pf=$(json_get 'd["end"]["sum_received"]["bits_per_second"]' <"$TMP/ipf.json")
    python3 -c "print(f'iperf3 TCP: copy floor (taprelay) {$pf/1e9:.2f} Gb/s, {$pf/$pv:.3f} of plain veth; vfab {$vf/$pf:.3f} of the floor')"
    pass "iperf3 TCP through the copy floor (recorded beside vfab, not asserted)"
  fi
fi
