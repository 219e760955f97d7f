#!/usr/bin/env bash
# IPv6 port security on real traffic (docs/config.md, "Port security"), two
# hosts in namespaces (hA, hB) with tap VMs whose guests run IPv6:
#   blue-vm1 hA  secured, 10.0.0.1 + 2001:db8::1   the attacker
#   blue-vm3 hA  NOT secured, 10.0.0.3             the control sender
#   blue-vm2 hB  secured, 10.0.0.2 + 2001:db8::2   the victim (accept_ra=2)
#   blue-vm4 hB  secured, 10.0.0.4, no IPv6 in ips (its link-local only)
# A real guest's IPv6 start (DAD, MLD, router solicitations) costs no drop;
# ping6 works between modelled addresses and between link-local ones. From
# vm1, scapy sends spoofed sources, a rogue RA, forged neighbour
# advertisements and redirects: each is dropped under its own reason, the
# counts exact, and none reaches vm2 (a sniffer there counts them; the RA
# installs nothing, the neighbour cache keeps the right MAC). The same
# frames from the unsecured vm3 do reach vm2 and do take effect: proof that
# the checks above could have seen the attack.
#
# Counters stay exact although the guests run IPv6: every frame a guest's
# own stack sends is allowed (the first check asserts it), so the four IPv6
# reasons move only for what the test sends, and the sniffer stops at an
# end marker sent after the attack frames on the same path (one worker, one
# tap queue, one tunnel: in order), never after a sleep.
. "$(dirname "$0")/lib.sh"
need_root
command -v ping >/dev/null || skip "ping is not installed (scripts/install-deps.sh)"
PY=/usr/bin/python3
$PY -c "import scapy.all" 2>/dev/null || skip "scapy for $PY is not installed (python3-scapy)"
P=vf6$$
mkns ${P}hA; mkns ${P}hB
# The hosts' own stacks stay off IPv6: a tap is up in vfabd's namespace
# before the test moves it to its VM, and the host would otherwise send
# its own solicitations into it (from the tap's random MAC).
for h in hA hB; do
  ip netns exec ${P}$h sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
underlay ${P}hA ${P}hB
for h in 1 2; do
  cat >"$TMP/hv$h.yaml" <<Y
chassis:
  - {name: hv1, underlay_ip: 192.0.2.1, encap: geneve}
  - {name: hv2, underlay_ip: 192.0.2.2, encap: geneve}
tenants:
  - name: blue
    switches:
      - name: blue-web
        vni: 1001
        ports:
          - {name: blue-vm1, mac: "02:00:00:00:01:01", ips: [10.0.0.1, "2001:db8::1"], chassis: hv1, attach: {type: tap, name: vf6b1}, port_security: true}
          - {name: blue-vm3, mac: "02:00:00:00:01:03", ips: [10.0.0.3], chassis: hv1, attach: {type: tap, name: vf6b3}}
          - {name: blue-vm2, mac: "02:00:00:00:01:02", ips: [10.0.0.2, "2001:db8::2"], chassis: hv2, attach: {type: tap, name: vf6b2}, port_security: true}
          - {name: blue-vm4, mac: "02:00:00:00:01:04", ips: [10.0.0.4], chassis: hv2, attach: {type: tap, name: vf6b4}, port_security: true}
local: {chassis: hv$h, workers: 1, uplink: {type: udp, bind: "192.0.2.$h:6081"}}
Y
done
start_vfabd ${P}hA "$TMP/hv1.yaml" "$TMP/a.sock"
start_vfabd ${P}hB "$TMP/hv2.yaml" "$TMP/b.sock"
vm ${P}hA vf6b1 ${P}v1 02:00:00:00:01:01 10.0.0.1/24
vm ${P}hA vf6b3 ${P}v3 02:00:00:00:01:03 10.0.0.3/24
vm ${P}hB vf6b2 ${P}v2 02:00:00:00:01:02 10.0.0.2/24
vm ${P}hB vf6b4 ${P}v4 02:00:00:00:01:04 10.0.0.4/24

# v6on NS TAP ACCEPT_RA: IPv6 on, as a guest has it (lib.sh's vm turned it
# off), with an EUI-64 link-local address and DAD.
v6on() {
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 \
    net.ipv6.conf.default.disable_ipv6=0 "net.ipv6.conf.$2.addr_gen_mode=0" \
    "net.ipv6.conf.$2.accept_ra=$3" "net.ipv6.conf.$2.disable_ipv6=0" || fail "sysctl in $1"
}
v6on ${P}v1 vf6b1 0
v6on ${P}v3 vf6b3 0
v6on ${P}v2 vf6b2 2
v6on ${P}v4 vf6b4 0
ip -n ${P}v1 addr add 2001:db8::1/64 dev vf6b1
ip -n ${P}v2 addr add 2001:db8::2/64 dev vf6b2
settled() { ! ip -n "$1" -6 addr show tentative | grep -q inet6 && ip -n "$1" -6 addr show | grep -q "$2"; }
for v in "v1 fe80::ff:fe00:101" "v2 fe80::ff:fe00:102" "v3 fe80::ff:fe00:103" "v4 fe80::ff:fe00:104"; do
  set -- $v
  wait_for settled ${P}$1 "$2" || fail "$1: IPv6 addresses never left DAD ($(ip -n ${P}$1 -6 addr show))"
done
wait_for settled ${P}v1 2001:db8::1 && wait_for settled ${P}v2 2001:db8::2 || fail "modelled addresses never left DAD"

REASONS="port_security port_security_ipv6_source port_security_nd port_security_ra port_security_redirect"
drops() {  # drops SOCK: the five port security counters, one line
  "$VFABCTL" -s "$1" --json stats |
    python3 -c "import json,sys; d=json.load(sys.stdin)['drops']; print(' '.join(str(d.get(r, 0)) for r in '$REASONS'.split()))"
}
# delta BEFORE AFTER: "a b c d e" differences
delta() { python3 -c "import sys; a,b=sys.argv[1].split(),sys.argv[2].split(); print(' '.join(str(int(y)-int(x)) for x,y in zip(a,b)))" "$1" "$2"; }

# 1. A guest's own IPv6 start: no drop on either host.
[ "$(drops "$TMP/a.sock")" = "0 0 0 0 0" ] || fail "hv1 dropped guest IPv6 start traffic: $REASONS = $(drops "$TMP/a.sock")"
[ "$(drops "$TMP/b.sock")" = "0 0 0 0 0" ] || fail "hv2 dropped guest IPv6 start traffic: $REASONS = $(drops "$TMP/b.sock")"
pass "guests' DAD, MLD and router solicitations pass port security (0 drops)"

# 2. ping6: modelled addresses across hosts, link-local ones, and a port
# with no IPv6 modelled over its link-local address.
ip netns exec ${P}v1 ping -6 -c 3 -i 0.2 -W 2 2001:db8::2 >"$TMP/p1" || { cat "$TMP/p1"; fail "ping6 2001:db8::1 -> ::2"; }
ip netns exec ${P}v1 ping -6 -c 3 -i 0.2 -W 2 fe80::ff:fe00:102%vf6b1 >"$TMP/p2" || { cat "$TMP/p2"; fail "ping6 vm1 -> vm2 link-local"; }
ip netns exec ${P}v4 ping -6 -c 3 -i 0.2 -W 2 fe80::ff:fe00:102%vf6b4 >"$TMP/p3" || { cat "$TMP/p3"; fail "ping6 vm4 (no IPv6 modelled) -> vm2 link-local"; }
ip netns exec ${P}v2 ping -6 -c 2 -i 0.2 -W 2 fe80::ff:fe00:104%vf6b2 >"$TMP/p4" || { cat "$TMP/p4"; fail "ping6 vm2 -> vm4 link-local"; }
pass "ping6: modelled addresses across hosts, link-local, and a port with no IPv6 modelled"

# 3. vm4 has no global IPv6 address modelled: its own stack sending from
# one is dropped, exactly its 2 echo requests (a static neighbour entry, so
# no solicitation goes out from that address).
ip -n ${P}v4 addr add 2001:db8::44/64 dev vf6b4 nodad
ip -n ${P}v4 -6 neigh replace 2001:db8::2 lladdr 02:00:00:00:01:02 dev vf6b4 nud permanent
b0=$(drops "$TMP/b.sock")
if ip netns exec ${P}v4 ping -6 -c 2 -i 0.2 -W 1 -I 2001:db8::44 2001:db8::2 >/dev/null 2>&1; then
  fail "vm4 reached vm2 from an address it does not own"
fi
d=$(delta "$b0" "$(drops "$TMP/b.sock")")
[ "$d" = "0 2 0 0 0" ] || fail "vm4's spoofed pings: $REASONS moved by $d, want 0 2 0 0 0"
pass "a guest sending from an unmodelled global address: 2 echo requests, 2 port_security_ipv6_source"

# sniff NS TAP END_MAC OUT: counts on vm2 what the test sends, until the end
# marker (UDP to port 9997) from END_MAC; readiness in OUT.ready.
cat >"$TMP/sniff.py" <<'PYEOF'
import json, sys
from scapy.all import (AsyncSniffer, Ether, UDP, ICMPv6ND_RA, ICMPv6ND_NA,
                       ICMPv6ND_Redirect, ICMPv6NDOptDstLLAddr)
iface, end_mac, out = sys.argv[1:4]
c = {"spoof": 0, "good": 0, "ra": 0, "na": 0, "redirect": 0, "timeout": 0}
def seen(p):
    if UDP in p and p[UDP].dport == 9999: c["spoof"] += 1
    if UDP in p and p[UDP].dport == 9998: c["good"] += 1
    if ICMPv6ND_RA in p: c["ra"] += 1
    if ICMPv6ND_Redirect in p: c["redirect"] += 1
    if (ICMPv6ND_NA in p and p[ICMPv6ND_NA].tgt == "fe80::ff:fe00:104" and
            ICMPv6NDOptDstLLAddr in p and
            p[ICMPv6NDOptDstLLAddr].lladdr == "02:00:00:00:01:01"):
        c["na"] += 1
def end(p):
    return UDP in p and p[UDP].dport == 9997 and p[Ether].src == end_mac
s = AsyncSniffer(iface=iface, prn=seen, stop_filter=end, store=False,
                 started_callback=lambda: open(out + ".ready", "w").close())
s.start()
s.join(timeout=40)
if s.running:
    s.stop()
    c["timeout"] = 1
json.dump(c, open(out, "w"))
PYEOF
sniff() {
  ip netns exec "$1" timeout 60 $PY "$TMP/sniff.py" "$2" "$3" "$4" >"$4.log" 2>&1 &
  SNIFF=$!
  PIDS+=($SNIFF)
  wait_for test -e "$4.ready" || { cat "$4.log"; fail "the sniffer in $1 did not start"; }
}
sniffed() {  # sniffed OUT: waits for the sniffer, prints its counts
  timeout 60 tail --pid=$SNIFF -f /dev/null
  [ -s "$1" ] || { cat "$1.log"; fail "the sniffer wrote nothing"; }
  cat "$1"
}

# send NS TAP MAC LLA: the attack frames (and the end marker) from one VM.
cat >"$TMP/send.py" <<'PYEOF'
import sys
from scapy.all import (Ether, IPv6, UDP, ICMPv6ND_RA, ICMPv6ND_NA,
                       ICMPv6ND_Redirect, ICMPv6NDOptSrcLLAddr,
                       ICMPv6NDOptDstLLAddr, ICMPv6NDOptPrefixInfo, sendp)
iface, me, lla, router, prefix, n = sys.argv[1:7]
n = int(n)
v2, v2lla = "02:00:00:00:01:02", "fe80::ff:fe00:102"
pk = []
for i in range(n):       # spoofed source: another global address
    pk.append(Ether(src=me, dst=v2) / IPv6(src="2001:db8::66", dst="2001:db8::2") /
              UDP(sport=4000 + i, dport=9999) / b"spoofed")
if n > 1:                # its own addresses: delivered
    for i in range(3):
        pk.append(Ether(src=me, dst=v2) / IPv6(src="2001:db8::1", dst="2001:db8::2") /
                  UDP(sport=5000 + i, dport=9998) / b"own")
    for i in range(2):
        pk.append(Ether(src=me, dst=v2) / IPv6(src=lla, dst=v2lla) /
                  UDP(sport=5100 + i, dport=9998) / b"own-ll")
for i in range(max(n - 2, 1)):   # the red team's rogue RA
    pk.append(Ether(src=me, dst="33:33:00:00:00:01") /
              IPv6(src=router, dst="ff02::1", hlim=255) /
              ICMPv6ND_RA(routerlifetime=1800) / ICMPv6NDOptSrcLLAddr(lladdr=me) /
              ICMPv6NDOptPrefixInfo(prefix=prefix, prefixlen=64, L=1, A=1,
                                    validlifetime=86400, preferredlifetime=86400))
for i in range(max(n - 2, 1)):   # vm4's link-local address is vm1's MAC
    pk.append(Ether(src=me, dst=v2) / IPv6(src=lla, dst=v2lla, hlim=255) /
              ICMPv6ND_NA(tgt="fe80::ff:fe00:104", R=0, S=0, O=1) /
              ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:01:01"))
for i in range(max(n - 3, 1)):   # "go through me to reach 2001:db8::4"
    pk.append(Ether(src=me, dst=v2) / IPv6(src=lla, dst=v2lla, hlim=255) /
              ICMPv6ND_Redirect(tgt=lla, dst="2001:db8::4"))
pk.append(Ether(src=me, dst=v2) / IPv6(src=lla, dst=v2lla) / UDP(dport=9997) / b"end")
sendp(pk, iface=iface, verbose=0)
PYEOF

# 4. The attack from vm1: 5 spoofed sources, 3 rogue RAs, 3 forged NAs,
# 2 redirects, and 5 frames from its own addresses.
sniff ${P}v2 vf6b2 02:00:00:00:01:01 "$TMP/s1.json"
a0=$(drops "$TMP/a.sock")
ip netns exec ${P}v1 $PY "$TMP/send.py" vf6b1 02:00:00:00:01:01 fe80::ff:fe00:101 \
  fe80::bad 2001:db8:bad:: 5 || fail "scapy in vm1"
got=$(sniffed "$TMP/s1.json")
d=$(delta "$a0" "$(drops "$TMP/a.sock")")
[ "$d" = "0 5 3 3 2" ] || fail "hv1: $REASONS moved by $d, want 0 5 3 3 2 (5 spoofed, 3 NA, 3 RA, 2 redirects)"
echo "$got" | json_get 'd["spoof"]==0 and d["ra"]==0 and d["na"]==0 and d["redirect"]==0 and d["good"]==5 and d["timeout"]==0' \
  | grep -q True || fail "vm2 saw: $got (want nothing forged, its 5 own frames)"
ip -n ${P}v2 -6 route show default | grep -q fe80::bad && fail "the rogue RA installed a default route: $(ip -n ${P}v2 -6 route)"
ip -n ${P}v2 -6 addr show | grep -q 2001:db8:bad && fail "the rogue RA gave vm2 an address"
ip -n ${P}v2 -6 neigh show fe80::ff:fe00:104 dev vf6b2 | grep -q 02:00:00:00:01:01 \
  && fail "the forged NA poisoned vm2's neighbour cache: $(ip -n ${P}v2 -6 neigh)"
pass "from secured vm1: 5 spoofed sources, 3 RAs, 3 forged NAs, 2 redirects dropped as $REASONS = $d; vm2 saw none of them and its 5 own frames"

# 5. The control: the same RA, NA and a spoofed source from unsecured vm3
# reach vm2 and take effect, so step 4 would have seen them.
sniff ${P}v2 vf6b2 02:00:00:00:01:03 "$TMP/s2.json"
a0=$(drops "$TMP/a.sock")
ip netns exec ${P}v3 $PY "$TMP/send.py" vf6b3 02:00:00:00:01:03 fe80::ff:fe00:103 \
  fe80::c0 2001:db8:c0:: 1 || fail "scapy in vm3"
got=$(sniffed "$TMP/s2.json")
[ "$(delta "$a0" "$(drops "$TMP/a.sock")")" = "0 0 0 0 0" ] || fail "unsecured vm3's frames were dropped by port security"
echo "$got" | json_get 'd["spoof"]==1 and d["ra"]==1 and d["na"]==1 and d["redirect"]==1 and d["timeout"]==0' \
  | grep -q True || fail "vm2 saw from unsecured vm3: $got (want 1 of each)"
wait_for bash -c "ip -n ${P}v2 -6 route show default | grep -q fe80::c0" \
  || fail "vm2 ignored an RA that was delivered: $(ip -n ${P}v2 -6 route)"
wait_for bash -c "ip -n ${P}v2 -6 neigh show fe80::ff:fe00:104 dev vf6b2 | grep -q 02:00:00:00:01:01" \
  || fail "vm2 ignored a forged NA that was delivered: $(ip -n ${P}v2 -6 neigh)"
pass "control: the same frames from unsecured vm3 reach vm2 (RA installs a default route, NA rewrites its neighbour cache)"
