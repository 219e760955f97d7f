#!/usr/bin/env bash
# perf/compare/run.sh - side by side: the same two-host topology built with
# vfab (Geneve, VXLAN), Open vSwitch's userspace datapath (Geneve) and the
# Linux kernel (bridge + VXLAN), beside a plain veth pair as the baseline
# and taprelay.c, the floor of any user-space forwarder on taps and a UDP
# underlay (four kernel copies per frame and nothing else).
# Measures tenant-to-tenant TCP throughput, 64-byte UDP packets/s received
# and ping RTT p50/p99, prints a table with ratios to plain veth and writes
# perf/results/compare.json (schema: docs/compare.md).
#
# Each system is built, measured and torn down before the next, so they
# never share the CPUs. Everything is bounded in time; namespaces and
# processes are removed by name/PID on any exit (trap). Traffic stays inside
# namespaces this script made (192.0.2.0/24 underlay, 10.0.0.0/24 tenants).
#
# Usage: perf/compare/run.sh [--quick] [--build DIR] [--out FILE]
#          [--tcp-s N] [--udp-s N] [--ping-count N] [--only a,b,...]
#          [--keep DIR]  (copy raw iperf3/ping/udpblast outputs to DIR)
# Systems: veth relay-floor kernel-vxlan ovs-geneve vfab-geneve vfab-vxlan.
# Env: VF_BUILD (default ./build), VFABD_ARGS (extra vfabd options, e.g.
# "--idle-polls 0" for busy polling; recorded in the JSON).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD="${VF_BUILD:-$SRC/build}"
OUT="$SRC/perf/results/compare.json"
TCP_S=5 UDP_S=5 PING_N=300 PING_I=0.01
SYSTEMS="veth relay-floor kernel-vxlan ovs-geneve vfab-geneve vfab-vxlan"
MTU=1400
QUICK=0
SETTLE_S=${VF_COMPARE_SETTLE_S:-1}  # pause between systems, see the main loop
KEEP=""            # --keep DIR: copy the raw outputs there for a closer look

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; TCP_S=1 UDP_S=1 PING_N=50 ;;
    --build) BUILD=$2; shift ;;
    --out) OUT=$2; shift ;;
    --tcp-s) TCP_S=$2; shift ;;
    --udp-s) UDP_S=$2; shift ;;
    --ping-count) PING_N=$2; shift ;;
    --only) SYSTEMS=${2//,/ }; shift ;;
    --keep) KEEP=$2; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for v in "$TCP_S:60" "$UDP_S:60" "$PING_N:3000"; do
  case "${v%:*}" in ''|*[!0-9]*) echo "durations and counts are whole numbers" >&2; exit 2 ;; esac
  [ "${v%:*}" -ge 1 ] && [ "${v%:*}" -le "${v#*:}" ] || { echo "out of range: ${v%:*} (1..${v#*:})" >&2; exit 2; }
done

[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces, tap devices)" >&2; exit 77; }
for c in ip iperf3 ping python3 ethtool timeout; do
  command -v "$c" >/dev/null || { echo "missing $c (scripts/install-deps.sh)" >&2; exit 77; }
done

VFABD="$BUILD/mgmt/vfabd"
TMP=$(mktemp -d /tmp/vfcompare.XXXXXX)
RES="$TMP/results"; mkdir -p "$RES"
P=vfc$$             # namespace prefix: unique to this run
PIDS=()             # processes of the system being measured
FWD=()              # its forwarders (vfabd, taprelay): syscalls counted
NETNS=()            # namespaces of the system being measured
T0=$(date +%s%N)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)   # other work on the machine skews every figure

log() { echo "[compare $(( ($(date +%s%N) - T0) / 1000000 ))ms] $*" >&2; }

# teardown: ends this system's processes by PID (TERM, then KILL after a
# bounded wait) and deletes its namespaces, which removes their links.
teardown() {
  local p
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && { timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null; kill -9 "$p" 2>/dev/null; }
  done
  for p in "${NETNS[@]:-}"; do [ -n "$p" ] && ip netns del "$p" 2>/dev/null; done
  PIDS=(); NETNS=(); FWD=()
}
final_cleanup() {
  teardown
  rm -rf "$TMP"
}
trap final_cleanup EXIT
trap 'exit 130' INT TERM

# wait_for CMD...: retries CMD for up to 10 s.
wait_for() {
  local _
  for _ in $(seq 1 100); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

mkns() {
  ip netns del "$1" 2>/dev/null
  ip netns add "$1" || return 1
  NETNS+=("$1")
  ip -n "$1" link set lo up
  # No IPv6 chatter: only the measured traffic crosses the paths.
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# Names shared by every topology: hosts hA, hB; VMs vA (10.0.0.1) on hA and
# vB (10.0.0.2) on hB; the underlay veth uA 192.0.2.1 <-> uB 192.0.2.2.
HA=${P}hA HB=${P}hB VA=${P}vA VB=${P}vB
MAC_A=02:00:00:00:01:01 MAC_B=02:00:00:00:01:02

hosts() {
  mkns "$HA" && mkns "$HB" || return 1
  ip link add uA netns "$HA" type veth peer name uB netns "$HB" || return 1
  ip -n "$HA" addr add 192.0.2.1/24 dev uA
  ip -n "$HB" addr add 192.0.2.2/24 dev uB
  ip -n "$HA" link set uA up
  ip -n "$HB" link set uB up
}

# ---- (4) baseline: one veth pair between the two VM namespaces ----
setup_veth() {
  mkns "$VA" && mkns "$VB" || return 1
  ip link add eth0 netns "$VA" mtu $MTU address $MAC_A type veth \
    peer name eth0 netns "$VB" mtu $MTU address $MAC_B || return 1
  ip -n "$VA" addr add 10.0.0.1/24 dev eth0; ip -n "$VA" link set eth0 up
  ip -n "$VB" addr add 10.0.0.2/24 dev eth0; ip -n "$VB" link set eth0 up
}

# ---- (3) Linux kernel: per host a bridge holding a vxlan device and the
# host end of each VM's veth ----
setup_kernel_vxlan() {
  hosts && mkns "$VA" && mkns "$VB" || return 1
  local h vm me peer up mac
  for h in A B; do
    if [ $h = A ]; then vm=$VA me=192.0.2.1 peer=192.0.2.2 up=uA mac=$MAC_A; h=$HA
    else vm=$VB me=192.0.2.2 peer=192.0.2.1 up=uB mac=$MAC_B; h=$HB; fi
    ip -n "$h" link add br0 type bridge || return 1
    ip -n "$h" link add vx100 type vxlan id 100 dstport 4789 local $me remote $peer dev $up || return 1
    ip -n "$h" link set vx100 master br0
    ip link add vm0 netns "$h" mtu $MTU type veth peer name eth0 netns "$vm" mtu $MTU address $mac || return 1
    ip -n "$h" link set vm0 master br0
    ip -n "$h" link set vx100 up; ip -n "$h" link set vm0 up; ip -n "$h" link set br0 up
  done
  ip -n "$VA" addr add 10.0.0.1/24 dev eth0; ip -n "$VA" link set eth0 up
  ip -n "$VB" addr add 10.0.0.2/24 dev eth0; ip -n "$VB" link set eth0 up
}

# ---- (2) Open vSwitch userspace datapath: per host an ovsdb-server and an
# ovs-vswitchd under the temp dir; br-phy (netdev) holds the underlay veth
# and its address, br-int (netdev) holds a Geneve port and an internal port
# that is moved into the VM namespace ----
ovs_host() {
  local ns=$1 d=$2 me=$3 peer=$4 up=$5 mac=$6 vm=$7
  mkdir -p "$d"
  local env=(env OVS_RUNDIR="$d" OVS_LOGDIR="$d" OVS_DBDIR="$d")
  local vsctl=(ovs-vsctl --db=unix:"$d/db.sock" --timeout=20)
  ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema >/dev/null || return 1
  ip netns exec "$ns" "${env[@]}" ovsdb-server "$d/conf.db" --remote=punix:"$d/db.sock" \
    --pidfile="$d/ovsdb.pid" --detach --log-file="$d/ovsdb.log" >"$d/start.log" 2>&1 || return 1
  PIDS+=("$(cat "$d/ovsdb.pid")")
  "${vsctl[@]}" --no-wait init || return 1
  ip netns exec "$ns" "${env[@]}" ovs-vswitchd unix:"$d/db.sock" \
    --pidfile="$d/vswitchd.pid" --detach --log-file="$d/vswitchd.log" >>"$d/start.log" 2>&1 || return 1
  PIDS+=("$(cat "$d/vswitchd.pid")")
  "${vsctl[@]}" add-br br-phy -- set bridge br-phy datapath_type=netdev -- add-port br-phy "$up" || return 1
  ip -n "$ns" addr del $me/24 dev "$up"
  ip -n "$ns" addr add $me/24 dev br-phy
  ip -n "$ns" link set br-phy up
  "${vsctl[@]}" add-br br-int -- set bridge br-int datapath_type=netdev \
    -- add-port br-int gnv0 -- set interface gnv0 type=geneve options:remote_ip=$peer options:key=100 \
    -- add-port br-int vm -- set interface vm type=internal || return 1
  wait_for ip -n "$ns" link show vm || return 1
  ip -n "$ns" link set vm netns "$vm" || return 1
  ip -n "$vm" link set vm address "$mac" mtu $MTU
  ip -n "$vm" link set vm name eth0
  ip -n "$vm" link set eth0 up
}
setup_ovs_geneve() {
  command -v ovs-vswitchd >/dev/null || { echo "skipped: openvswitch-switch is not installed"; return 2; }
  hosts && mkns "$VA" && mkns "$VB" || return 1
  # OVS reads and writes the veth with AF_PACKET: hand it whole checksums.
  ip netns exec "$HA" ethtool -K uA tx off >/dev/null
  ip netns exec "$HB" ethtool -K uB tx off >/dev/null
  ovs_host "$HA" "$TMP/ovsA" 192.0.2.1 192.0.2.2 uA $MAC_A "$VA" || return 1
  ovs_host "$HB" "$TMP/ovsB" 192.0.2.2 192.0.2.1 uB $MAC_B "$VB" || return 1
  ip -n "$VA" addr add 10.0.0.1/24 dev eth0
  ip -n "$VB" addr add 10.0.0.2/24 dev eth0
}

# ---- (1) vfab: vfabd per host with the UDP uplink, tenant VMs are
# namespaces holding vfabd's taps ----
vfab_yaml() {  # vfab_yaml ENCAP HOSTNUM PORT
  cat <<Y
chassis:
  - {name: hv1, underlay_ip: 192.0.2.1, encap: $1}
  - {name: hv2, underlay_ip: 192.0.2.2, encap: $1}
tenants:
  - name: blue
    switches:
      - name: blue-web
        vni: 100
        ports:
          - {name: vm-a, mac: "$MAC_A", ips: ["10.0.0.1"], chassis: hv1, attach: {type: tap, name: vfcA}, port_security: true}
          - {name: vm-b, mac: "$MAC_B", ips: ["10.0.0.2"], chassis: hv2, attach: {type: tap, name: vfcB}, port_security: true}
local: {chassis: hv$2, workers: 1, uplink: {type: udp, bind: "192.0.2.$2:$3"}}
Y
}
setup_vfab() {
  local encap=$1 port=$2 h ns tap vm mac
  [ -x "$VFABD" ] || { echo "skipped: $VFABD not built (cmake --build build)"; return 2; }
  hosts && mkns "$VA" && mkns "$VB" || return 1
  for h in 1 2; do
    if [ $h = 1 ]; then ns=$HA; else ns=$HB; fi
    vfab_yaml "$encap" $h "$port" >"$TMP/vfab-$encap-$h.yaml"
    # shellcheck disable=SC2086  # word-split on purpose: extra vfabd options
    ip netns exec "$ns" "$VFABD" -c "$TMP/vfab-$encap-$h.yaml" -s "$TMP/vfab-$h.sock" -q ${VFABD_ARGS:-} \
      >"$TMP/vfab-$encap-$h.out" 2>"$TMP/vfab-$encap-$h.err" &
    PIDS+=($!); FWD+=($!)
    wait_for test -S "$TMP/vfab-$h.sock" || { cat "$TMP/vfab-$encap-$h.err" >&2; return 1; }
  done
  tap_vms
}
setup_vfab_geneve() { setup_vfab geneve 6081; }
setup_vfab_vxlan() { setup_vfab vxlan 4789; }

# tap_vms: moves the taps vfcA (in hA) and vfcB (in hB) into the VM
# namespaces as eth0, with the VMs' MACs, MTU and addresses.
tap_vms() {
  local h ns tap vm mac
  for h in A B; do
    if [ $h = A ]; then ns=$HA tap=vfcA vm=$VA mac=$MAC_A; else ns=$HB tap=vfcB vm=$VB mac=$MAC_B; fi
    wait_for ip -n "$ns" link show $tap || return 1
    ip -n "$ns" link set $tap netns "$vm" || return 1
    ip -n "$vm" link set $tap address $mac mtu $MTU
    ip -n "$vm" link set $tap name eth0
    ip -n "$vm" link set eth0 up
  done
  ip -n "$VA" addr add 10.0.0.1/24 dev eth0
  ip -n "$VB" addr add 10.0.0.2/24 dev eth0
}

# ---- (5) the floor: per host taprelay (a tap like vfabd's, frames sent
# whole over UDP GSO/GRO, no tunnel header, no pipeline) ----
setup_relay_floor() {
  hosts && mkns "$VA" && mkns "$VB" || return 1
  local h ns me peer
  # Bounded: it outlives the measurement by a margin, then exits itself.
  local life=$((TCP_S + UDP_S + PING_N / 50 + 120))
  for h in A B; do
    if [ $h = A ]; then ns=$HA me=192.0.2.1 peer=192.0.2.2; else ns=$HB me=192.0.2.2 peer=192.0.2.1; fi
    ip netns exec "$ns" "$RELAY" vfc$h $me 7000 $peer $life >"$TMP/relay-$h.out" 2>&1 &
    PIDS+=($!); FWD+=($!)
    wait_for ip -n "$ns" link show vfc$h || { cat "$TMP/relay-$h.out" >&2; return 1; }
  done
  tap_vms
}

# ---- measurement: vA -> vB, the same for every system. Raw outputs go to
# $RES/NAME.*; report.py parses them all at the end (one Python start: it
# costs over a second on a small VM). ----
measure() {
  local r="$RES/$1"
  # Reachability first (ARP, flow setup): up to 5 tries of one second.
  local ok=0 i
  for i in 1 2 3 4 5; do
    ip netns exec "$VA" ping -c 1 -W 1 10.0.0.2 >/dev/null 2>&1 && { ok=1; break; }
  done
  [ $ok = 1 ] || { echo "failed: vA cannot reach vB"; return 1; }

  # Latency on the idle path: every reply's rtt; percentiles in report.py.
  timeout $((PING_N / 50 + 15)) ip netns exec "$VA" ping -c "$PING_N" -i "$PING_I" -W 1 10.0.0.2 \
    >"$r.ping" 2>&1

  log "$1: TCP"
  ip netns exec "$VB" timeout $((TCP_S + 30)) iperf3 -s -1 -B 10.0.0.2 >/dev/null 2>&1 &
  PIDS+=($!)
  wait_for bash -c "ip netns exec $VB ss -Hltn | grep -q '10.0.0.2:5201 '" \
    || { echo "failed: iperf3 server did not start"; return 1; }
  # CPU time of the whole machine around the TCP run (first line of
  # /proc/stat): what each bit costs, wherever it is spent.
  head -1 /proc/stat >"$r.cpu0"
  # System calls of the forwarders (both hosts, every thread) during the
  # run, counted by the kernel's tracepoint (no strace slowdown): report.py
  # divides them by the bytes moved (syscalls per GB).
  local pstat=()
  if [ ${#FWD[@]} -gt 0 ] && command -v perf >/dev/null; then
    pstat=(perf stat -x, -e raw_syscalls:sys_enter -p "$(IFS=,; echo "${FWD[*]}")" -o "$r.syscalls" --)
  fi
  # and their user and system CPU time (clock ticks, /proc/PID/stat fields
  # 14 and 15, all threads), before and after.
  fwd_cpu() { local p; for p in "${FWD[@]}"; do cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null; done; }
  [ ${#FWD[@]} -gt 0 ] && fwd_cpu >"$r.fwdcpu0"
  "${pstat[@]}" timeout $((TCP_S + 15)) ip netns exec "$VA" iperf3 -c 10.0.0.2 -t "$TCP_S" -J >"$r.tcp" 2>&1 \
    || log "$1: iperf3 TCP failed: $(tail -c 300 "$r.tcp" | tr '\n' ' ')"
  [ ${#FWD[@]} -gt 0 ] && fwd_cpu >"$r.fwdcpu1"
  head -1 /proc/stat >"$r.cpu1"

  log "$1: UDP"
  # 64-byte UDP payloads as fast as one sender can; the receiver counts.
  ip netns exec "$VB" "$BLAST" recv 10.0.0.2 9000 "$UDP_S" >"$r.udp_recv" 2>&1 &
  local rx=$!
  PIDS+=($rx)
  wait_for bash -c "ip netns exec $VB ss -Hlun | grep -q '10.0.0.2:9000 '" \
    || { echo "failed: UDP receiver did not start"; return 1; }
  ip netns exec "$VA" "$BLAST" send 10.0.0.2 9000 "$UDP_S" 64 >"$r.udp_send" 2>&1 \
    || log "$1: UDP sender failed: $(cat "$r.udp_send")"
  timeout $((UDP_S + 12)) tail --pid=$rx -f /dev/null
  return 0
}

SYSTEMS_ALL="veth relay-floor kernel-vxlan ovs-geneve vfab-geneve vfab-vxlan"
for s in $SYSTEMS; do
  case " $SYSTEMS_ALL " in *" $s "*) ;; *) echo "unknown system $s ($SYSTEMS_ALL)" >&2; exit 2 ;; esac
done

# The UDP generator and the relay: built here so the script needs nothing
# from CMake.
BLAST="$TMP/udpblast" RELAY="$TMP/taprelay"
cc -O2 -Wall -o "$BLAST" "$HERE/udpblast.c" || { echo "cannot build udpblast (needs cc)" >&2; exit 1; }
cc -O2 -Wall -o "$RELAY" "$HERE/taprelay.c" || { echo "cannot build taprelay (needs cc)" >&2; exit 1; }

for s in $SYSTEMS; do
  log "$s: setting up"
  ts=$(date +%s%N)
  # Not in $(...): setup and measure add to PIDS/NETNS, which a subshell
  # would lose.
  "setup_${s//-/_}" >"$TMP/$s.msg" 2>"$TMP/$s.setup.err"; rc=$?
  msg=$(cat "$TMP/$s.msg")
  if [ $rc -ne 0 ]; then
    [ -n "$msg" ] || msg="failed: setup (rc $rc): $(tail -c 300 "$TMP/$s.setup.err" | tr '\n' ' ')"
    log "$s: $msg"
  else
    log "$s: measuring (ping $PING_N, TCP ${TCP_S}s, UDP ${UDP_S}s)"
    measure "$s" >"$TMP/$s.msg"; rc=$?
    msg=$(cat "$TMP/$s.msg")
    [ $rc -eq 0 ] && msg=ok
  fi
  echo "$msg" >"$RES/$s.status"
  log "$s: tearing down"
  teardown
  # The kernel frees deleted namespaces later, in a work queue; the pause
  # keeps that work out of the next system's first measurement (its RTT).
  sleep "$SETTLE_S"
  echo $(( ($(date +%s%N) - ts) / 1000000 )) >"$RES/$s.wall_ms"
done

mkdir -p "$(dirname "$OUT")"
{
  echo "systems=$SYSTEMS"
  echo "git=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null)"
  echo "quick=$QUICK"
  echo "vfabd_args=${VFABD_ARGS:-}"
  echo "loadavg_start=$LOAD0"
  echo "tenant_mtu=$MTU"
  echo "tcp_s=$TCP_S"
  echo "udp_s=$UDP_S"
  echo "ping_count=$PING_N"
  echo "ping_interval_s=$PING_I"
  echo "total_ms=$(( ($(date +%s%N) - T0) / 1000000 ))"
} >"$RES/meta"
python3 "$HERE/report.py" "$RES" "$OUT"
rc=$?
[ -n "$KEEP" ] && mkdir -p "$KEEP" && cp -r "$RES"/. "$KEEP"/
exit $rc
