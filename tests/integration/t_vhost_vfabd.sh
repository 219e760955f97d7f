#!/usr/bin/env bash
# Real QEMU guests attached to vfabd through vhost-user, on two vfab hosts
# (namespaces hA, hB, the UDP underlay of t_real_hosts.sh). vfabd is the
# client of the sockets the QEMUs serve (`attach: {type: vhost-user,
# socket: PATH}`). Guests run under TCG (see t_vhost_qemu.sh) from the
# image tests/vhost/build-guest.sh builds from Debian packages, cached
# under the build folder; their serial consoles are driven through FIFOs.
#   1. blue-vm1 (guest on hA) pings blue-vm2 (guest on hB) and runs a TCP
#      transfer (iperf3, or nc when the image has none);
#   2. isolation: red's ports on hB (taps, the same MACs and IPs as blue's)
#      received none of it; per-ring stats show negotiated features, ring
#      sizes, kicks and calls;
#   3. port security: a source IP and a source MAC the port does not own
#      are dropped and counted (port_security);
#   4. vfabd on hA is killed with -9 and started again: the guest's traffic
#      resumes without the guest restarting (vfabd reconnects to QEMU);
#   5. the guest on hB is killed: vfabd notices (disconnect counted, rings
#      not live), keeps serving its other ports (red pings), and counts
#      what it cannot deliver; the guest boots again: traffic resumes.
# Skips (77) when QEMU cannot start or the guest image cannot be built.
. "$(dirname "$0")/lib.sh"
need_root
command -v ping >/dev/null || skip "ping is not installed (scripts/install-deps.sh)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (qemu-system-x86)"
echo quit | timeout 20 qemu-system-x86_64 -machine none -nodefaults -display none \
  -monitor stdio >/dev/null 2>&1 || skip "qemu-system-x86_64 cannot start here"
GUEST="$VF_BUILD/vhost-guest"
bash "$SRC/tests/vhost/build-guest.sh" "$GUEST" 2>"$TMP/build.err"
rc=$?
[ $rc -eq 77 ] && skip "guest image: $(cat "$TMP/build.err")"
[ $rc -eq 0 ] || { cat "$TMP/build.err"; fail "guest image build failed"; }

P=vfv$$
S1="$TMP/vm1.sock"; S2="$TMP/vm2.sock"
mkns ${P}hA; mkns ${P}hB
underlay ${P}hA ${P}hB
cat >"$TMP/fabric.yaml" <<EOF
chassis:
  - {name: hv1, underlay_ip: 192.0.2.1, encap: geneve}
  - {name: hv2, underlay_ip: 192.0.2.2, encap: geneve}
tenants:
  - name: blue
    switches:
      - name: blue-web
        vni: 1001
        ports:
          - {name: blue-vm1, mac: "02:00:00:00:01:01", ips: ["10.0.0.1"], chassis: hv1, attach: {type: vhost-user, socket: "$S1"}, port_security: true}
          - {name: blue-vm2, mac: "02:00:00:00:01:02", ips: ["10.0.0.2"], chassis: hv2, attach: {type: vhost-user, socket: "$S2", mode: client}, port_security: true}
  - name: red
    switches:
      - name: red-web
        vni: 2001
        ports:
          - {name: red-vm1, mac: "02:00:00:00:01:01", ips: ["10.0.0.1"], chassis: hv2, attach: {type: tap, name: vfr1}, port_security: true}
          - {name: red-vm2, mac: "02:00:00:00:01:02", ips: ["10.0.0.2"], chassis: hv2, attach: {type: tap, name: vfr2}, port_security: true}
EOF
for h in 1 2; do
  { cat "$TMP/fabric.yaml"
    echo "local: {chassis: hv$h, workers: 1, uplink: {type: udp, bind: \"192.0.2.$h:6081\"}}"
  } >"$TMP/hv$h.yaml"
done
start_vfabd ${P}hA "$TMP/hv1.yaml" "$TMP/a.sock"
VA=${PIDS[-1]}
start_vfabd ${P}hB "$TMP/hv2.yaml" "$TMP/b.sock"
vm ${P}hB vfr1 ${P}r1 02:00:00:00:01:01 10.0.0.1/24
vm ${P}hB vfr2 ${P}r2 02:00:00:00:01:02 10.0.0.2/24

# gboot NAME SOCKET MAC IP: boots a guest whose console reads $TMP/NAME.in
# (held open on fd GFD_NAME) and writes $TMP/NAME.out; QEMU's PID in GPID.
# QEMU serves the socket (server=on) and waits for vfabd to connect.
declare -A GFD
gboot() {
  local name=$1 sock=$2 mac=$3 ip=$4 fd
  rm -f "$TMP/$name.in"; mkfifo "$TMP/$name.in"
  qemu-system-x86_64 -accel tcg -cpu max -m 256 -smp 1 -nographic \
    -no-reboot -nodefaults -serial stdio \
    -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initramfs.cpio" \
    -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
    -chardev "socket,id=c0,path=$sock,server=on" \
    -netdev "vhost-user,id=n0,chardev=c0,queues=1" \
    -device "virtio-net-pci,netdev=n0,mrg_rxbuf=on,vectors=0,mac=$mac,romfile=" \
    -append "console=ttyS0 quiet panic=-1 vip=$ip" \
    <"$TMP/$name.in" >"$TMP/$name.out" 2>&1 &
  GPID=$!
  PIDS+=($GPID)
  exec {fd}>"$TMP/$name.in"
  GFD[$name]=$fd
}
# gwait NAME PATTERN SECONDS: waits (bounded) for PATTERN in NAME's console.
gwait() {
  local i
  for i in $(seq 1 $(($3 * 10))); do
    grep -aq -- "$2" "$TMP/$1.out" && return 0
    sleep 0.1
  done
  return 1
}
# gsh NAME SECONDS CMD: runs CMD in the guest's shell and waits for it;
# returns its exit status (124 when it did not finish in time). The marker
# line is "ENDn=RC=": the echoed input shows "ENDn=$?=", never a number.
N=0
gsh() {
  local name=$1 secs=$2 cmd=$3
  N=$((N + 1))
  echo "$cmd; echo END$N=\$?=" >&"${GFD[$name]}"
  gwait "$name" "END$N=[0-9]*=" "$secs" || return 124
  return "$(grep -ao "END$N=[0-9]*=" "$TMP/$name.out" | tail -1 | cut -d= -f2)"
}
vstat() { "$VFABCTL" -s "$1" --json stats | json_get "$2"; }
port() { echo "[p for p in d['ports'] if p['name']=='$1'][0]"; }

gboot g1 "$S1" 02:00:00:00:01:01 10.0.0.1/24
G1=$GPID
gboot g2 "$S2" 02:00:00:00:01:02 10.0.0.2/24
G2=$GPID
gwait g1 NET-UP 60 || { tail -20 "$TMP/g1.out"; cat "$TMP/a.sock.err"; fail "guest 1 did not boot"; }
gwait g2 NET-UP 60 || { tail -20 "$TMP/g2.out"; cat "$TMP/b.sock.err"; fail "guest 2 did not boot"; }
# The overlay leaves 1438 bytes for a VM's IP MTU (t_real_hosts.sh).
gsh g1 10 "ip link set eth0 mtu 1400" || fail "g1: mtu"
gsh g2 10 "ip link set eth0 mtu 1400" || fail "g2: mtu"
# reach NAME IP SECONDS: the guest pings IP until one answer (bounded).
reach() {
  gsh "$1" $(($3 + 10)) "n=0; until ping -c 1 -W 1 $2 >/dev/null; do n=\$((n+1)); [ \$n -ge $3 ] && break; done; ping -c 1 -W 1 $2 >/dev/null"
}

# ---- 1. ping and TCP between the two guests, across hosts ----
reach g1 10.0.0.2 30 || { tail -5 "$TMP/g1.out"; cat "$TMP/a.sock.err" "$TMP/b.sock.err"; fail "guest 1 cannot reach guest 2"; }
gsh g1 20 "ping -c 5 -i 0.2 -W 2 10.0.0.2" || { tail -12 "$TMP/g1.out"; fail "ping between the guests"; }
grep -aq "5 packets received" "$TMP/g1.out" || fail "not all 5 pings answered"
pass "guest on hv1 pings guest on hv2 through vfabd's vhost-user ports"
if grep -q iperf3 <(cpio -t <"$GUEST/initramfs.cpio" 2>/dev/null); then
  gsh g2 10 "(iperf3 -s -1 >/tmp/srv 2>&1 &)" || fail "g2: iperf3 server"
  sleep 1
  gsh g1 40 "iperf3 -c 10.0.0.2 -t 2" || { tail -12 "$TMP/g1.out"; fail "iperf3 TCP between the guests"; }
  grep -a "receiver" "$TMP/g1.out" | tail -1
  pass "TCP (iperf3, 2 s) between the guests across hosts"
else
  gsh g2 10 "(nc -l -p 5000 | wc -c >/tmp/srv &)" || fail "g2: nc server"
  sleep 1
  gsh g1 40 "dd if=/dev/zero bs=65536 count=32 2>/dev/null | nc 10.0.0.2 5000" || fail "nc TCP"
  gsh g2 10 "cat /tmp/srv" ; grep -aq "^2097152" "$TMP/g2.out" || fail "the TCP transfer did not arrive whole"
  pass "TCP (nc, 2 MB) between the guests across hosts"
fi

# ---- 2. isolation from red; per-ring stats ----
for p in red-vm1 red-vm2; do
  t=$(port_stat "$TMP/b.sock" $p tx_pkts)
  [ "$t" -eq 0 ] || fail "$p received $t packets of blue's traffic"
done
ip netns exec ${P}r1 ping -c 2 -i 0.2 -W 2 10.0.0.2 >/dev/null || fail "red vm1 -> vm2 (same addresses as blue)"
pass "isolation: red (same MACs and IPs) saw none of blue's guest traffic, and works"
"$VFABCTL" -s "$TMP/a.sock" --json stats >"$TMP/statsA.json"
j() { json_get "$1" <"$TMP/statsA.json"; }
V="$(port blue-vm1)['vhost-user']"
[ "$(j "$V['state']")" = connected ] || fail "blue-vm1 not connected: $(j "$V")"
f=$(j "$V['features']")
# VERSION_1 (32) and MRG_RXBUF (15) negotiated with the guest.
(( (f >> 32) & 1 && (f >> 15) & 1 )) || fail "features $f lack VERSION_1/MRG_RXBUF"
[ "$(j "$V['rings']['0']['size']")" -gt 0 ] || fail "ring 0 has no size"
[ "$(j "$V['rings']['1']['kicks']")" -gt 0 ] || fail "no kicks counted on the guest's TX ring"
[ "$(j "$V['rings']['0']['pkts']")" -gt 0 ] || fail "nothing delivered on the guest's RX ring"
[ "$(j "$V['rings']['1']['broken']")" = "" ] || fail "a ring broke: $(j "$V['rings']")"
echo "blue-vm1: features $(printf '0x%x' "$f"), rings $(j "[(k, r['size'], r['kicks'], r['calls']) for k, r in $V['rings'].items()]")"
pass "per-ring stats: negotiated features, ring sizes, kicks, calls"

# ---- 3. port security on the guest's IP and MAC ----
before=$(drop_stat "$TMP/a.sock" port_security)
gsh g1 20 "ip addr add 10.0.0.99/24 dev eth0; ping -c 2 -W 1 -I 10.0.0.99 10.0.0.2; r=\$?; ip addr del 10.0.0.99/24 dev eth0; [ \$r -eq 0 ]" &&
  fail "a spoofed source IP got answers"
mid=$(drop_stat "$TMP/a.sock" port_security)
[ "$mid" -gt "$before" ] || fail "spoofed IP: port_security drops did not grow ($before -> $mid)"
gsh g1 20 "ip link set eth0 address 02:00:00:00:01:99; ping -c 2 -W 1 10.0.0.2; r=\$?; ip link set eth0 address 02:00:00:00:01:01; [ \$r -eq 0 ]" &&
  fail "a spoofed source MAC got answers"
after=$(drop_stat "$TMP/a.sock" port_security)
[ "$after" -gt "$mid" ] || fail "spoofed MAC: port_security drops did not grow ($mid -> $after)"
pass "port security: spoofed IP and MAC dropped ($before -> $mid -> $after)"

# ---- 4. kill -9 vfabd on hv1, start it again: the guest is not restarted ----
kill -9 "$VA"; wait "$VA" 2>/dev/null
rm -f "$TMP/a.sock"
start_vfabd ${P}hA "$TMP/hv1.yaml" "$TMP/a.sock"
reach g1 10.0.0.2 30 || { tail -8 "$TMP/g1.out"; cat "$TMP/a.sock.err"; fail "traffic did not resume after vfabd's restart"; }
gsh g1 20 "ping -c 3 -i 0.2 -W 2 10.0.0.2" || fail "pings after vfabd's restart"
kill -0 "$G1" || fail "guest 1 died"
[ "$(grep -ac NET-UP "$TMP/g1.out")" -eq 1 ] || fail "guest 1 booted again"
[ "$(vstat "$TMP/a.sock" "$(port blue-vm1)['vhost-user']['connects']")" -ge 1 ] || fail "no reconnect counted"
pass "kill -9 of vfabd and restart: the running guest's traffic resumed (no guest restart)"

# ---- 5. guest 2 killed: vfabd notices and keeps serving; it boots again ----
kill -9 "$G2"; wait "$G2" 2>/dev/null
V2="$(port blue-vm2)['vhost-user']"
for _ in $(seq 1 50); do
  [ "$(vstat "$TMP/b.sock" "$V2['state']")" != connected ] && break
  sleep 0.1
done
"$VFABCTL" -s "$TMP/b.sock" --json stats >"$TMP/statsB.json"
jb() { json_get "$1" <"$TMP/statsB.json"; }
[ "$(jb "$V2['state']")" = waiting ] || fail "vfabd did not notice the guest's death: $(jb "$V2['state']")"
[ "$(jb "$V2['disconnects']")" -ge 1 ] || fail "no disconnect counted"
[ "$(jb "$V2['rings']['0']['live']")" = False ] || fail "the dead guest's ring is still live"
down0=$(drop_stat "$TMP/b.sock" port_down)
gsh g1 10 "ping -c 2 -W 1 10.0.0.2" && fail "pings answered by a dead guest"
down1=$(drop_stat "$TMP/b.sock" port_down)
[ "$down1" -gt "$down0" ] || fail "frames for the dead guest not counted as port_down ($down0 -> $down1)"
ip netns exec ${P}r1 ping -c 2 -i 0.2 -W 2 10.0.0.2 >/dev/null || fail "vfabd on hv2 stopped serving red"
pass "guest killed: vfabd noticed (state waiting, $(jb "$V2['disconnects']") disconnect, port_down $down0 -> $down1), kept serving red"
gboot g2b "$S2" 02:00:00:00:01:02 10.0.0.2/24
gwait g2b NET-UP 60 || { tail -20 "$TMP/g2b.out"; fail "guest 2 did not boot again"; }
gsh g2b 10 "ip link set eth0 mtu 1400" || fail "g2 (again): mtu"
reach g1 10.0.0.2 30 || { tail -8 "$TMP/g1.out"; cat "$TMP/b.sock.err"; fail "traffic did not resume with the rebooted guest"; }
[ "$(vstat "$TMP/b.sock" "$V2['connects']")" -ge 2 ] || fail "vfabd did not reconnect to the new guest"
pass "guest booted again on the same socket: traffic resumed"

# ---- 6. the port removed and added again at runtime (vf_apply) ----
"$VFABCTL" -s "$TMP/b.sock" del port blue-vm2 >"$TMP/del.out" 2>&1 || { cat "$TMP/del.out"; fail "del port blue-vm2"; }
[ "$(vstat "$TMP/b.sock" "len([p for p in d['ports'] if p['name']=='blue-vm2'])")" -eq 0 ] || fail "blue-vm2 still in the port table"
gsh g1 10 "ping -c 2 -W 1 10.0.0.2" && fail "pings answered through a deleted port"
"$VFABCTL" -s "$TMP/b.sock" apply "$TMP/fabric.yaml" >"$TMP/apply.out" 2>&1 || { cat "$TMP/apply.out"; fail "apply with blue-vm2 again"; }
reach g1 10.0.0.2 30 || { tail -8 "$TMP/g1.out"; cat "$TMP/b.sock.err"; fail "traffic did not resume with the port added again"; }
[ "$(vstat "$TMP/b.sock" "$V2['state']")" = connected ] || fail "blue-vm2 not connected after apply"
pass "vhost-user port deleted and added again at runtime: the running guest reconnected"
