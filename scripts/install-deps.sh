#!/usr/bin/env bash
# Installs the Debian packages vfab builds, tests and benchmarks with.
# Idempotent: does nothing when everything is present. Nothing is downloaded
# from anywhere but Debian's package registry.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libibverbs-dev liburing-dev libhwloc-dev libjemalloc-dev liburcu-dev
  libjansson-dev libcyaml-dev libyaml-dev libcmocka-dev libbenchmark-dev
  libpcap-dev libmicrohttpd-dev libcurl4-openssl-dev
  iproute2 ethtool iputils-ping iperf3 tshark python3-scapy python3-matplotlib
  openvswitch-switch procps curl nftables conntrack
  qemu-system-x86 busybox-static cpio
  openvswitch-switch-dpdk librte-mempool-ring23
  etcd-server etcd-client openssl
  valgrind linux-perf
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
