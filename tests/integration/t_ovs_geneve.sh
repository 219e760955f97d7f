#!/usr/bin/env bash
# Interop with Open vSwitch's userspace datapath as the Geneve peer (OVS
# sends Geneve without options; vfab sends its own non-critical option).
# Host hA runs vfabd with a tap VM; host hB runs ovsdb-server and
# ovs-vswitchd (datapath_type=netdev), started here with their run
# directories under the test's temp dir, and stopped by PID at the end.
# Also: tshark decodes what vfab put on the wire as valid Geneve.
. "$(dirname "$0")/lib.sh"
need_root
command -v ovs-vswitchd >/dev/null || skip "openvswitch-switch is not installed"
P=vfo$$
mkns ${P}hA; mkns ${P}hB
underlay ${P}hA ${P}hB
ip netns exec ${P}hA ethtool -K uA tx off >/dev/null
ip netns exec ${P}hB ethtool -K uB tx off >/dev/null
cat >"$TMP/hv1.yaml" <<'Y'
chassis:
  - {name: hv1, underlay_ip: 192.0.2.1, encap: geneve}
  - {name: ovs, underlay_ip: 192.0.2.2, encap: geneve}
tenants:
  - name: blue
    switches:
      - name: blue-web
        vni: 1001
        ports:
          - {name: vm1, mac: "02:00:00:00:01:01", ips: ["10.0.0.1"], chassis: hv1, attach: {type: tap, name: vfo1}, port_security: true}
          - {name: ovsvm, mac: "02:00:00:00:01:02", ips: ["10.0.0.2"], chassis: ovs}
local: {chassis: hv1, workers: 1, uplink: {type: udp, bind: "192.0.2.1:6081"}}
Y
start_vfabd ${P}hA "$TMP/hv1.yaml" "$TMP/a.sock"
vm ${P}hA vfo1 ${P}v1 02:00:00:00:01:01 10.0.0.1/24

D="$TMP/ovs"; mkdir -p "$D"
OVSENV=(env OVS_RUNDIR="$D" OVS_LOGDIR="$D" OVS_DBDIR="$D")
VSCTL=(ovs-vsctl --db=unix:"$D/db.sock" --timeout=20)
ovsdb-tool create "$D/conf.db" /usr/share/openvswitch/vswitch.ovsschema || fail "ovsdb-tool"
ip netns exec ${P}hB "${OVSENV[@]}" ovsdb-server "$D/conf.db" --remote=punix:"$D/db.sock" \
  --pidfile="$D/ovsdb.pid" --detach --log-file="$D/ovsdb.log" >"$D/start.log" 2>&1 || fail "ovsdb-server"
PIDS+=("$(cat "$D/ovsdb.pid")")
"${VSCTL[@]}" --no-wait init
ip netns exec ${P}hB "${OVSENV[@]}" ovs-vswitchd unix:"$D/db.sock" \
  --pidfile="$D/vswitchd.pid" --detach --log-file="$D/vswitchd.log" >>"$D/start.log" 2>&1 || fail "ovs-vswitchd"
PIDS+=("$(cat "$D/vswitchd.pid")")
"${VSCTL[@]}" add-br br-phy -- set bridge br-phy datapath_type=netdev -- add-port br-phy uB \
  || fail "br-phy"
ip -n ${P}hB addr del 192.0.2.2/24 dev uB
ip -n ${P}hB addr add 192.0.2.2/24 dev br-phy
ip -n ${P}hB link set br-phy up
"${VSCTL[@]}" add-br br-int -- set bridge br-int datapath_type=netdev \
  -- add-port br-int gnv0 -- set interface gnv0 type=geneve options:remote_ip=192.0.2.1 options:key=1001 \
  -- add-port br-int vm -- set interface vm type=internal || fail "br-int"
ip netns exec ${P}hB sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n ${P}hB link set vm address 02:00:00:00:01:02 mtu 1400
ip -n ${P}hB addr add 10.0.0.2/24 dev vm
ip -n ${P}hB link set vm up
ip netns exec ${P}hB ethtool -K vm tx off >/dev/null 2>&1

# Capture vfab's Geneve on the underlay while the VM pings the OVS host.
CAP=""
if command -v tshark >/dev/null; then
  ip netns exec ${P}hA timeout 60 tshark -q -i uA -f "udp dst port 6081 and src host 192.0.2.1" \
    -c 4 -w "$TMP/gnv.pcapng" >/dev/null 2>"$TMP/cap.err" &
  CAP=$!
  # tshark is slow to start: wait until it says it is capturing.
  for _ in $(seq 1 300); do grep -q "Capturing on" "$TMP/cap.err" && break; sleep 0.1; done
  grep -q "Capturing on" "$TMP/cap.err" || fail "tshark did not start capturing: $(cat "$TMP/cap.err")"
fi
ok=0
for _ in 1 2 3; do
  ip netns exec ${P}v1 ping -c 3 -i 0.2 -W 2 10.0.0.2 >"$TMP/p1" && { ok=1; break; }
done
[ $ok -eq 1 ] || { cat "$TMP/p1"; tail -5 "$D/vswitchd.log"; fail "vfab VM -> OVS host"; }
pass "ping vfab VM -> Open vSwitch (Geneve)"
ip netns exec ${P}hB ping -c 3 -i 0.2 -W 2 -s 1000 10.0.0.1 >"$TMP/p2" \
  || { cat "$TMP/p2"; fail "OVS host -> vfab VM"; }
pass "ping Open vSwitch (Geneve, no options) -> vfab VM"

if [ -n "$CAP" ]; then
  wait "$CAP"
  tshark -r "$TMP/gnv.pcapng" -d udp.port==6081,geneve -T fields \
    -e geneve.vni -e geneve.option.class -e ip.checksum.status -e _ws.expert \
    >"$TMP/dec" 2>/dev/null
  [ -s "$TMP/dec" ] || fail "tshark captured nothing from vfab"
  vnis=$(awk '{print $1}' "$TMP/dec" | sort -u | python3 -c "import sys; print(sorted({int(x, 0) for x in sys.stdin.read().split()}))")
  [ "$vnis" = "[1001]" ] || fail "tshark: VNIs are $vnis, want [1001]: $(cat "$TMP/dec")"
  grep -qi "0xff7f\|65407" "$TMP/dec" || fail "tshark: our Geneve option class missing: $(cat "$TMP/dec")"
  pass "tshark decodes vfab's wire Geneve: VNI 1001, option class 0xff7f"
fi
drops=$("$VFABCTL" -s "$TMP/a.sock" --json stats | json_get 'sum(v for k,v in d["drops"].items() if k.startswith("tunnel_"))')
[ "$drops" -eq 0 ] || fail "$drops tunnel decap drops on traffic from OVS"
pass "no decap drops on OVS's Geneve"
