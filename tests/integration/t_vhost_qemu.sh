#!/usr/bin/env bash
# Real QEMU guests on vfab's vhost-user backend (fabric/ only: the
# tests/vhost/vhost_echo harness, not vfabd; the mgmt wiring comes later).
# Guests run under TCG (this machine's KVM cannot run a stock kernel, see
# shared/findings/kvm-vhost-user-probe.md) from an image built from Debian
# packages and cached under the build folder (tests/vhost/build-guest.sh).
#   1. A guest pings the backend (ARP + ICMP echo answered by vhost_echo);
#      midway the backend is killed with -9 and started again: the guest's
#      pings resume without the guest restarting.
#   2. The guest powers off (the backend notices the disconnect and keeps
#      running); a new guest, with two queue pairs this time (MQ), boots on
#      the same socket and pings: traffic resumes on the reconnected device,
#      on both queue pairs.
#   3. Two guests, the backend forwarding between them with TSO offered:
#      they ping each other and run a short TCP transfer (iperf3 when the
#      image has it); both sides negotiated TSO.
# Skips (77) when QEMU cannot start or the guest image cannot be built.
. "$(dirname "$0")/lib.sh"

ECHO="$VF_BUILD/tests/vhost_echo"
[ -x "$ECHO" ] || fail "$ECHO not built"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (qemu-system-x86)"
echo quit | timeout 20 qemu-system-x86_64 -machine none -nodefaults -display none \
  -monitor stdio >/dev/null 2>&1 || skip "qemu-system-x86_64 cannot start here"
GUEST="$VF_BUILD/vhost-guest"
bash "$SRC/tests/vhost/build-guest.sh" "$GUEST" 2>"$TMP/build.err"
rc=$?
[ $rc -eq 77 ] && skip "guest image: $(cat "$TMP/build.err")"
[ $rc -eq 0 ] || { cat "$TMP/build.err"; fail "guest image build failed"; }

# guest NAME SOCKET MACBYTE "COMMAND" [QUEUES]: boots a guest (background)
# whose serial console goes to $TMP/NAME.out; its PID is in GPID.
guest() {
  local name=$1 sock=$2 n=$3 cmd=$4 queues=${5:-1}
  timeout 120 qemu-system-x86_64 -accel tcg -cpu max -m 256 -smp 1 -nographic \
    -no-reboot -nodefaults -serial stdio \
    -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initramfs.cpio" \
    -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
    -chardev "socket,id=c0,path=$sock,server=on" \
    -netdev "vhost-user,id=n0,chardev=c0,queues=$queues" \
    -device "virtio-net-pci,netdev=n0,mq=$([ "$queues" -gt 1 ] && echo on || echo off),mrg_rxbuf=on,vectors=0,mac=52:54:00:00:00:0$n,romfile=" \
    -append "console=ttyS0 quiet panic=-1 vip=10.0.0.$n/24 vcmd=\"$cmd\"" \
    </dev/null >"$TMP/$name.out" 2>&1 &
  GPID=$!
  PIDS+=($GPID)
}
# echo_start NAME ARGS...: the backend in the background; its PID in EPID.
echo_start() {
  local name=$1; shift
  "$ECHO" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  EPID=$!
  PIDS+=($EPID)
}
# field FILE PORT NAME: one counter of vhost_echo's report line for PORT.
field() { grep "^port $2:" "$1" | sed -n "s/.* $3 \([^ ]*\).*/\1/p"; }
# rxq FILE PORT Q: frames the backend received on queue Q of PORT.
rxq() { grep "^port $2:" "$1" | sed 's/.* rxq //' | cut -d' ' -f$(($3 + 1)); }
wait_guest() {
  # QEMU's own timeout bounds this.
  wait "$1" 2>/dev/null
  grep -q "CMD-END" "$TMP/$2.out" || { tail -20 "$TMP/$2.out"; fail "guest $2 did not finish its command"; }
}
stop_echo() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

S0="$TMP/vm0.sock"

# ---- 1. ping, with the backend killed and restarted midway ----
echo_start e1 --socket "$S0" --queues 2
E1=$EPID
guest g1 "$S0" 2 "ping -c 25 -i 0.2 -W 2 10.0.0.1"
G1=$GPID
for _ in $(seq 1 300); do grep -qs "seq=2 " "$TMP/g1.out" && break; sleep 0.1; done
grep -q "seq=2 " "$TMP/g1.out" || { tail -20 "$TMP/g1.out"; fail "first pings not answered"; }
kill -9 "$E1"; wait "$E1" 2>/dev/null
before=$(grep -c "bytes from 10.0.0.1" "$TMP/g1.out")
echo_start e2 --socket "$S0" --queues 2
E2=$EPID
wait_guest "$G1" g1
got=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' "$TMP/g1.out")
after=$((got - before))
echo "ping: $before replies before kill -9, $got of 25 in all"
grep -q "seq=24 " "$TMP/g1.out" || fail "the last ping was not answered after the restart"
[ "$after" -ge 10 ] || fail "only $after replies after the backend restarted"
pass "guest kept pinging across kill -9 and restart of the backend ($got/25)"

# ---- 2. the guest powered off; a new one (two queue pairs) on the socket ----
# Both queue pairs on, and XPS sends everything from the guest's one CPU
# on TX queue 1: the backend answers on the queue a frame came in on, so
# queue pair 1 carries the pings both ways.
MQCMD="ethtool -L eth0 combined 2; echo 0 > /sys/class/net/eth0/queues/tx-0/xps_cpus; echo 1 > /sys/class/net/eth0/queues/tx-1/xps_cpus; n=0; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do ping -c 1 -W 2 10.0.0.1 >/dev/null && n=\$((n+1)); done; echo pings-answered=\$n"
guest g2 "$S0" 3 "$MQCMD" 2
wait_guest "$GPID" g2
grep -q "pings-answered=12" "$TMP/g2.out" || { tail -8 "$TMP/g2.out"; fail "second guest's pings"; }
stop_echo "$E2"
cat "$TMP/e2.out"
[ "$(field "$TMP/e2.out" 0 connects)" = 2 ] || fail "backend did not reconnect for the second guest"
[ "$(field "$TMP/e2.out" 0 broken)" = none ] || fail "a ring broke"
[ "$(field "$TMP/e2.out" 0 refused)" = 0 ] || fail "messages were refused: $(cat "$TMP/e2.err")"
[ "$(field "$TMP/e2.out" 0 arp_replies)" -ge 1 ] || fail "no ARP answered"
[ "$(rxq "$TMP/e2.out" 0 1)" -ge 12 ] || fail "the pings did not come on queue pair 1 (MQ)"
pass "guest shut down, a new guest (2 queue pairs) on the same socket got answers"

# ---- 3. two guests through the backend, TSO ----
SA="$TMP/vmA.sock"; SB="$TMP/vmB.sock"
echo_start e3 --socket "$SA" --socket "$SB" --forward --tso
E3=$EPID
if grep -q iperf3 <(cpio -t <"$GUEST/initramfs.cpio" 2>/dev/null); then
  SRV="iperf3 -s -1"
  CLI="iperf3 -c 10.0.0.4 -t 2"
else
  SRV="nc -l -p 5000 | wc -c"
  CLI="dd if=/dev/zero bs=65536 count=64 2>/dev/null | nc 10.0.0.4 5000"
fi
guest gA "$SA" 4 "$SRV"
GA=$GPID
guest gB "$SB" 5 "until ping -c1 -W1 10.0.0.4 >/dev/null; do sleep 0.2; done; ping -c 3 -i 0.2 10.0.0.4; $CLI"
GB=$GPID
wait_guest "$GB" gB
wait_guest "$GA" gA
stop_echo "$E3"
cat "$TMP/e3.out"
grep -q "3 packets received" "$TMP/gB.out" || { tail -8 "$TMP/gB.out"; fail "guests could not ping each other"; }
if [ "$SRV" = "iperf3 -s -1" ]; then
  grep -E "receiver" "$TMP/gB.out" || fail "no iperf3 result"
else
  grep -q "^4194304" "$TMP/gA.out" || fail "the TCP transfer did not arrive whole"
fi
for p in 0 1; do
  f=$(field "$TMP/e3.out" $p features)
  # HOST_TSO4 (bit 11) and GUEST_TSO4 (bit 7): the guest sends and takes TSO.
  (( (f >> 11) & 1 && (f >> 7) & 1 )) || fail "port $p: TSO not negotiated (features $f)"
  [ "$(field "$TMP/e3.out" $p broken)" = none ] || fail "port $p: a ring broke"
done
pass "two guests through vhost-user: ping and TCP with TSO"
