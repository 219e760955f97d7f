#!/usr/bin/env bash
# vhost-anchor.sh [BUILD] - the interop anchor for vhost-user (issue 19):
# the same two QEMU guests, one after the other in one run, on
#   1. vfabd: two `attach: {type: vhost-user}` ports of one switch (vfabd
#      the client of the sockets QEMU serves, one worker, ring uplink);
#   2. Open vSwitch with DPDK: two dpdkvhostuserclient ports on a netdev
#      bridge (userspace TSO on, sleeping PMD), as in
#      shared/findings/kvm-vhost-user-probe.md;
# each: ping (5), then iperf3 TCP for SECS seconds (default 5) from guest B
# to guest A, and the virtio features each switch negotiated. One bounded
# command (every step has a timeout; about 1-2 minutes), not part of
# `make test`. Prints one line per switch and leaves nothing behind (its
# OVS runs from private directories; the hugepages it reserves for OVS's
# mbufs are given back).
#
# Guests run under TCG unless ACCEL=kvm: this machine's KVM cannot run a
# stock kernel (the probe), so here the figures measure QEMU's emulator,
# and only "both work" means something. VM-to-VM Gb/s and packets/s that
# compare vfab with OVS-DPDK need a host with working KVM: run it there
# with ACCEL=kvm.
#
# Needs root, qemu-system-x86, openvswitch-switch-dpdk and
# librte-mempool-ring23 (scripts/install-deps.sh), 2 MB hugepages (1 GB
# for OVS), and the guest image (tests/vhost/build-guest.sh, cached under
# BUILD). Exits 77 with the reason when something is missing.
#   perf/compare/vhost-anchor.sh build          # SECS=5 ACCEL=tcg
set -u
BUILD=$(cd "${1:-build}" && pwd) || exit 2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${SECS:-5}
ACCEL=${ACCEL:-tcg}
VFABD="$BUILD/mgmt/vfabd"
VFABCTL="$BUILD/mgmt/vfabctl"
OVSD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
skip() { echo "SKIP: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root (OVS, hugepages)"
[ -x "$VFABD" ] || skip "$VFABD not built"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (qemu-system-x86)"
[ -x "$OVSD" ] || skip "$OVSD missing (apt-get install openvswitch-switch-dpdk)"
ls /usr/lib/x86_64-linux-gnu/dpdk/pmds-*/librte_mempool_ring.so* >/dev/null 2>&1 ||
  skip "DPDK's ring mempool driver missing (librte-mempool-ring23): OVS would create no mbuf pool"
for t in ovsdb-tool ovsdb-server ovs-vsctl ovs-appctl; do
  command -v $t >/dev/null || skip "$t missing (openvswitch-common)"
done
GUEST="$BUILD/vhost-guest"
bash "$SRC/tests/vhost/build-guest.sh" "$GUEST" || skip "guest image cannot be built"
grep -q iperf3 <(cpio -t <"$GUEST/initramfs.cpio" 2>/dev/null) || skip "the guest image has no iperf3 (install iperf3, rebuild it)"

# One QEMU-heavy job at a time with the integration tests (their lock).
. "$SRC/tests/integration/lib-lock.sh"
vf_lock
T=$(mktemp -d /tmp/vhanchor.XXXXXX)
PIDS=()
HUGE0=$(cat /proc/sys/vm/nr_hugepages)
MOUNTED=""
OVS_UP=""
cleanup() {
  [ -n "$OVS_UP" ] && ovs-vsctl --db=unix:$T/ovs/db.sock --timeout=5 --if-exists del-br vhabr >/dev/null 2>&1
  for f in "$T"/ovs/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null; done
  for f in "$T"/ovs/*.pid; do [ -f "$f" ] && timeout 10 tail --pid="$(cat "$f")" -f /dev/null 2>/dev/null; done
  [ -n "$MOUNTED" ] && umount "$T/huge"
  echo "$HUGE0" >/proc/sys/vm/nr_hugepages
  rm -rf "$T"
  vf_unlock
}
trap cleanup EXIT

if [ "$ACCEL" = kvm ]; then ACC="-accel kvm -cpu host"; VEC=""; else ACC="-accel tcg -cpu max"; VEC=",vectors=0"; fi
# guest NAME SOCKET N CMD: boots guest N (10.77.0.N, MAC ...:0N) on SOCKET
# (QEMU serves it); PID in GPID; console in $T/NAME.out.
guest() {
  timeout $((SECS + 100)) qemu-system-x86_64 $ACC -m 512 -smp 1 -nographic -no-reboot -nodefaults \
    -serial stdio -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initramfs.cpio" \
    -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
    -chardev "socket,id=c0,path=$2,server=on" -netdev vhost-user,id=n0,chardev=c0 \
    -device "virtio-net-pci,netdev=n0,mrg_rxbuf=on$VEC,mac=52:54:00:77:00:0$3,romfile=" \
    -append "console=ttyS0 quiet panic=-1 vip=10.77.0.$3/24 vcmd=\"$4\"" </dev/null >"$T/$1.out" 2>&1 &
  GPID=$!
  PIDS+=($GPID)
}
# pair LABEL SOCKA SOCKB [HOOK]: the two guests, A serving, B pinging and
# sending; HOOK runs while they do (it must return before they finish).
pair() {
  local a b
  guest "$1-A" "$2" 1 "iperf3 -s -1"
  a=$GPID
  guest "$1-B" "$3" 2 "until ping -c1 -W1 10.77.0.1 >/dev/null; do :; done; ping -c 5 -i 0.2 10.77.0.1; iperf3 -c 10.77.0.1 -t $SECS"
  b=$GPID
  [ -n "${4:-}" ] && $4
  wait "$b"; wait "$a"
  grep -q "CMD-END rc=0" "$T/$1-B.out" || { tail -15 "$T/$1-B.out"; fail "$1: guest B's ping/iperf3 failed"; }
  RTT=$(sed -n 's|.*min/avg/max = [0-9.]*/\([0-9.]*\)/.*|\1|p' "$T/$1-B.out")
  GBPS=$(awk '/receiver/ {v=$(NF-2); u=$(NF-1); if (u ~ /^M/) v/=1000; print v}' "$T/$1-B.out" | tail -1)
}

# ---- 1. vfabd ----
cat >"$T/vfab.yaml" <<EOF
chassis:
  - {name: hv1, underlay_ip: 192.0.2.1}
tenants:
  - name: t
    switches:
      - name: s
        vni: 7
        ports:
          - {name: vmA, mac: "52:54:00:77:00:01", ips: ["10.77.0.1"], chassis: hv1, attach: {type: vhost-user, socket: "$T/vfA.sock"}}
          - {name: vmB, mac: "52:54:00:77:00:02", ips: ["10.77.0.2"], chassis: hv1, attach: {type: vhost-user, socket: "$T/vfB.sock"}}
local: {chassis: hv1, workers: 1, uplink: {type: ring}}
EOF
"$VFABD" -c "$T/vfab.yaml" -s "$T/vfab.ctl" -q >"$T/vfabd.out" 2>&1 &
VP=$!
PIDS+=($VP)
for _ in $(seq 1 100); do [ -S "$T/vfab.ctl" ] && break; sleep 0.1; done
[ -S "$T/vfab.ctl" ] || { cat "$T/vfabd.out"; fail "vfabd did not start"; }
# What vmA negotiated, read while its guest is connected (a guest that
# powered off has none).
vf_features() {
  local i f=0x0
  for i in $(seq 1 300); do
    f=$("$VFABCTL" -s "$T/vfab.ctl" --json stats 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print(hex([p for p in d['ports'] if p['name']=='vmA'][0]['vhost-user']['features']))" 2>/dev/null)
    [ -n "$f" ] && [ "$f" != 0x0 ] && break
    sleep 0.2
  done
  VF_FEAT=$f
}
pair vfab "$T/vfA.sock" "$T/vfB.sock" vf_features
VF_RTT=$RTT VF_GBPS=$GBPS
kill "$VP"; wait "$VP" 2>/dev/null

# ---- 2. OVS-DPDK ----
# Its mbuf pool: 262144 mbufs at MTU 1500 need 1 GB of 2 MB pages.
echo $((HUGE0 + 512)) >/proc/sys/vm/nr_hugepages
free2m=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
[ "$free2m" -ge 512 ] || skip "could not reserve 512 free 2 MB hugepages for OVS-DPDK ($free2m free)"
mkdir -p "$T/huge" "$T/ovs"
mount -t hugetlbfs -o pagesize=2M none "$T/huge" && MOUNTED=1 || skip "cannot mount hugetlbfs"
export OVS_RUNDIR=$T/ovs OVS_DBDIR=$T/ovs OVS_LOGDIR=$T/ovs
DB="--db=unix:$T/ovs/db.sock"
ovsdb-tool create "$T/ovs/conf.db" /usr/share/openvswitch/vswitch.ovsschema || fail "ovsdb-tool create"
ovsdb-server --remote=punix:$T/ovs/db.sock --pidfile=$T/ovs/ovsdb-server.pid --detach \
  -vconsole:off --log-file=$T/ovs/ovsdb-server.log "$T/ovs/conf.db" || fail "ovsdb-server"
ovs-vsctl $DB --no-wait init
ovs-vsctl $DB --no-wait set Open_vSwitch . other_config:dpdk-init=true \
  other_config:dpdk-extra="--huge-dir=$T/huge --no-pci --file-prefix=vhanchor$$" \
  other_config:dpdk-socket-mem=1024 other_config:dpdk-lcore-mask=0x1 other_config:pmd-cpu-mask=0x2 \
  other_config:pmd-maxsleep=100 other_config:userspace-tso-enable=true
timeout 60 "$OVSD" unix:$T/ovs/db.sock --pidfile=$T/ovs/ovs-vswitchd.pid --detach \
  -vconsole:off --log-file=$T/ovs/ovs-vswitchd.log || { tail -20 "$T/ovs/ovs-vswitchd.log"; fail "ovs-vswitchd-dpdk did not start"; }
OVS_UP=1
[ "$(ovs-vsctl $DB --timeout=30 get Open_vSwitch . dpdk_initialized)" = true ] ||
  { tail -20 "$T/ovs/ovs-vswitchd.log"; fail "DPDK did not initialise in OVS"; }
ovs-vsctl $DB --timeout=30 add-br vhabr -- set bridge vhabr datapath_type=netdev || fail "add-br"
for s in A B; do
  ovs-vsctl $DB --timeout=30 add-port vhabr vh$s -- set Interface vh$s type=dpdkvhostuserclient \
    options:vhost-server-path=$T/ovs$s.sock || fail "add-port vh$s"
done
pair ovs "$T/ovsA.sock" "$T/ovsB.sock"
OVS_RTT=$RTT OVS_GBPS=$GBPS
OVS_FEAT=$(grep -o "negotiated Virtio features: 0x[0-9a-f]*" "$T/ovs/ovs-vswitchd.log" | tail -1 | awk '{print $NF}')

echo "vhost-user anchor ($ACCEL guests, iperf3 ${SECS} s B->A, ping avg ms, features of guest A's connection):"
printf '  %-10s %6s Gb/s  ping %6s ms  features %s\n' vfabd "$VF_GBPS" "$VF_RTT" "$VF_FEAT"
printf '  %-10s %6s Gb/s  ping %6s ms  features %s\n' ovs-dpdk "$OVS_GBPS" "$OVS_RTT" "${OVS_FEAT:-?}"
[ "$ACCEL" = kvm ] || echo "  (TCG: these measure QEMU's emulator; only that both work means something here)"
