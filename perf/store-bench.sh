#!/usr/bin/env bash
# perf/store-bench.sh [BUILD] [N]: the etcd client's round trips (put,
# range, async puts) and put-to-watch latency against one throwaway etcd
# member (Debian etcd-server) on loopback inside a network namespace of
# its own, data in a temp dir, stopped by pid. Prints a table; a baseline
# (plain libcurl) from the same run gives the ratios.
set -eu
BUILD=${1:-build}
N=${2:-2000}
BIN="$BUILD/perf/vfab-store-bench"
[ -x "$BIN" ] || { echo "build $BIN first (make build)" >&2; exit 1; }
command -v etcd >/dev/null || { echo "etcd is not installed (etcd-server)" >&2; exit 77; }
NS=vfstore-bench-$$
T=$(mktemp -d /tmp/vfstore-bench.XXXXXX)
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" etcd --name b1 --data-dir "$T/b1" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster b1=http://127.0.0.1:2380 >"$T/etcd.log" 2>&1 &
PID=$!
cleanup() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true   # set -e would end the trap here otherwise
  ip netns del "$NS" || true
  rm -rf "$T"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  ip netns exec "$NS" etcdctl --endpoints http://127.0.0.1:2379 endpoint health \
    >/dev/null 2>&1 && break
  sleep 0.2
done
echo "etcd $(etcd --version | head -1 | awk '{print $3}'), one member, data on $(df -P "$T" | awk 'NR==2{print $1}'), $(nproc) CPUs"
ip netns exec "$NS" "$BIN" http://127.0.0.1:2379 "$N"
