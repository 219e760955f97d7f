#!/usr/bin/env bash
# t_conntrack_kernel.sh - vfab's conntrack against the Linux kernel's, per packet.
#
# A router namespace forwards between two veths; its forward chain is the
# security group of the reference: established and related pass both ways,
# new only from A's side (nftables over the kernel's conntrack, with the
# same short timeouts as vfab, no sequence-window check, no mid-stream
# pickup). The endpoints namespace sends random connections through it
# (ct_kernel_ref.py: TCP, UDP, ICMP/ICMPv6 echo and errors, IPv4 and IPv6,
# strays, pauses that let connections expire) and records which packets
# came out; vfab-ct-replay runs the same packets, at the same times, through
# vfab's conntrack under the same policy, and again through vfab's real
# pipeline (--pipeline: the policy as a security group on a logical port,
# flow cache on); every verdict must agree, both ways.
# docs/conntrack.md lists the deliberate differences (the generator does not
# produce them).
#
# Short by default (one seed, 60 connections, about 15 s). VF_CT_REF_LONG=1:
# 5 seeds of 300 connections with 6 pauses (a few minutes).
# VF_CT_REF_SEED=N repeats a run; VF_CT_REF_KEEP=DIR keeps each trace there
# (replay one later: vfab-ct-replay < TRACE, then ct_kernel_ref.py compare).
. "$(dirname "$0")/lib.sh"
need_root
command -v nft >/dev/null || skip "nft missing (scripts/install-deps.sh installs nftables)"
/usr/bin/python3 -c "import scapy" 2>/dev/null || skip "scapy missing under /usr/bin/python3 (python3-scapy)"
REPLAY="$VF_BUILD/tests/vfab-ct-replay"
[ -x "$REPLAY" ] || fail "$REPLAY not built"
REF="$SRC/tests/integration/ct_kernel_ref.py"

R=vfct-r
E=vfct-e
mkns $R
mkns $E
ip link add vctA netns $E type veth peer name rctA netns $R || fail "veth A"
ip link add vctB netns $E type veth peer name rctB netns $R || fail "veth B"
# The endpoints have no addresses and no IPv6: they answer nothing, so only
# the test's own packets reach the router.
for i in vctA vctB; do
  ip netns exec $E sysctl -qw net.ipv6.conf.$i.disable_ipv6=1
done
ip -n $E link set vctA address 02:71:00:00:00:0a up
ip -n $E link set vctB address 02:71:00:00:00:0b up
ip -n $R link set rctA address 02:71:00:00:01:0a up
ip -n $R link set rctB address 02:71:00:00:01:0b up
ip -n $R addr add 10.71.1.1/24 dev rctA
ip -n $R addr add 10.71.2.1/24 dev rctB
ip -n $R addr add fd71:1::1/64 dev rctA nodad
ip -n $R addr add fd71:2::1/64 dev rctB nodad
ip -n $R neigh add 10.71.1.2 lladdr 02:71:00:00:00:0a dev rctA nud permanent
ip -n $R neigh add 10.71.2.2 lladdr 02:71:00:00:00:0b dev rctB nud permanent
ip -n $R -6 neigh add fd71:1::2 lladdr 02:71:00:00:00:0a dev rctA nud permanent
ip -n $R -6 neigh add fd71:2::2 lladdr 02:71:00:00:00:0b dev rctB nud permanent
ip netns exec $R sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
  net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.all.rp_filter=0 \
  net.ipv4.conf.default.rp_filter=0 || fail "router sysctls"
ip netns exec $R nft -f - <<'EOF' || fail "nft ruleset"
table inet sg {
  chain sg_forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "rctA" ct state new accept
  }
}
EOF
# The kernel's conntrack as vfab's: no pickup of connections that did not
# start with a SYN (an unsolicited ACK never creates an entry), no window
# check (vfab keeps none), and the short timeouts in seconds; the two
# timeout overrides vfab does not have (retransmissions, unacknowledged
# data) out of the way. The timeouts come from ct_kernel_ref.py, which
# writes vfab's into the trace.
NF=net.netfilter.nf_conntrack
ip netns exec $R sysctl -qw ${NF}_tcp_loose=0 ${NF}_tcp_be_liberal=1 \
  ${NF}_tcp_timeout_max_retrans=600 ${NF}_tcp_timeout_unacknowledged=600 \
  $(/usr/bin/python3 "$REF" sysctls) || fail "conntrack sysctls"

one_run() {   # SEED FLOWS PAUSES
  local seed=$1 flows=$2 pauses=$3 rc try
  ip netns exec $R conntrack -F >/dev/null 2>&1
  for try in 1 2; do
    ip netns exec $E /usr/bin/python3 "$REF" run "$TMP/trace" --seed "$seed" \
      --flows "$flows" --pauses "$pauses"
    rc=$?
    [ $rc -ne 3 ] && break   # 3: verdicts unreadable on a loaded machine
    ip netns exec $R conntrack -F >/dev/null 2>&1
  done
  [ $rc -eq 0 ] || fail "sending the packets (seed $seed)"
  [ -n "${VF_CT_REF_KEEP:-}" ] && cp "$TMP/trace" "$VF_CT_REF_KEEP/trace.$seed"
  local mode
  for mode in "" --pipeline; do
    "$REPLAY" $mode <"$TMP/trace" >"$TMP/vfab" || fail "vfab-ct-replay $mode"
    /usr/bin/python3 "$REF" compare "$TMP/trace" "$TMP/vfab" ||
      { cp "$TMP/trace" /tmp/vfab-ct-trace.$seed 2>/dev/null;
        fail "vfab ${mode:-conntrack} and the kernel disagree (seed $seed; trace kept in /tmp/vfab-ct-trace.$seed)"; }
  done
}

if [ "${VF_CT_REF_LONG:-0}" = 1 ]; then
  base=${VF_CT_REF_SEED:-$RANDOM}
  for k in 0 1 2 3 4; do
    echo "seed $((base + k))"
    one_run $((base + k)) 300 1.3,3.3,5.6,3.3,1.3,5.6
  done
  pass "vfab's conntrack and pipeline agree with the kernel's on 5 seeds x 300 connections (from seed $base)"
else
  seed=${VF_CT_REF_SEED:-$RANDOM}
  echo "seed $seed"
  one_run "$seed" 60 1.3,3.3
  pass "vfab's conntrack and pipeline agree with the kernel's (seed $seed)"
fi
