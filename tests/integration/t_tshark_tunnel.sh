#!/usr/bin/env bash
# t_tshark_tunnel.sh - an outside decoder agrees with our tunnel headers.
#
# test_tunnel writes tunnel.pcap (VF_PCAP_DIR) with three frames made by
# vf_tunnel_encap: 1 Geneve VNI 0x123456, our option (class 0xff7f, type
# 0x01, ports 7 and 9), UDP checksum on; 2 VXLAN VNI 0xabcdef, UDP checksum
# on; 3 Geneve VNI 4242, option ports 1 and 0, no UDP checksum. tshark must
# decode VNIs and the option, find the IPv4 and UDP checksums good (status 1;
# 3 = not present), and see the inner Ethernet frame (EtherType 0x88b5).
# Exit 77 (skip) without tshark. tshark as root only warns (on stderr).
set -u
if ! command -v tshark >/dev/null 2>&1; then
  echo "skip: tshark is not installed (apt-get install tshark)"
  exit 77
fi
BIN=${VF_BUILD:-build}/tests/test_tunnel
if [ ! -x "$BIN" ]; then
  echo "FAIL: $BIN not built"
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! VF_PCAP_DIR="$tmp" "$BIN" >"$tmp/unit.log" 2>&1; then
  cat "$tmp/unit.log"
  echo "FAIL: $BIN failed"
  exit 1
fi
if [ ! -s "$tmp/tunnel.pcap" ]; then
  echo "FAIL: $BIN wrote no $tmp/tunnel.pcap"
  exit 1
fi

# HOME/XDG point at the scratch dir so tshark neither reads nor writes a
# profile of the user running the tests; no capture, so no privileges asked.
got=$(HOME="$tmp" XDG_CONFIG_HOME="$tmp" tshark -r "$tmp/tunnel.pcap" -n \
  -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE \
  -d udp.port==6081,geneve -d udp.port==4789,vxlan \
  -T fields -E separator='|' \
  -e frame.number -e geneve.vni -e geneve.option.class -e geneve.option.type \
  -e geneve.option.unknown.data -e vxlan.vni -e vxlan.flag_i \
  -e ip.checksum.status -e udp.checksum.status -e eth.type 2>/dev/null)
want='1|0x123456|0xff7f|0x01|0000000700000009|||1|1|0x0800,0x88b5
2|||||11259375|1|1|1|0x0800,0x88b5
3|0x001092|0xff7f|0x01|0000000100000000|||1|3|0x0800,0x88b5'

if [ "$got" != "$want" ]; then
  echo "FAIL: tshark decoded differently"
  echo "--- want"; echo "$want"
  echo "--- got"; echo "$got"
  exit 1
fi
echo "ok: tshark decodes Geneve VNI + option and VXLAN VNI; checksums good"
exit 0
