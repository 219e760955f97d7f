#!/usr/bin/env bash
# perf/vfab-sim.sh [BUILD] [SIM ARGS...]: runs perf/vfab-sim (N simulated
# chassis, docs/store.md) against one throwaway etcd member (Debian's
# etcd-server) on loopback in a network namespace of its own, data in a
# temp dir, stopped by pid. The sim's arguments go through, e.g.
#   perf/vfab-sim.sh build --chassis 1000 --switches 1000 --ports 10000
# A benchmark, not a test: it prints figures.
set -eu
BUILD=${1:-build}
shift || true
BIN="$BUILD/perf/vfab-sim"
[ -x "$BIN" ] || { echo "build $BIN first (make build)" >&2; exit 1; }
command -v etcd >/dev/null || { echo "etcd is not installed (etcd-server)" >&2; exit 77; }
[ "$(id -u)" = 0 ] || { echo "needs root (a network namespace)" >&2; exit 77; }
NS=vfsim-$$
T=$(mktemp -d /tmp/vfsim.XXXXXX)
ip netns add "$NS"
ip -n "$NS" link set lo up
# Each chassis holds a watch stream, a keepalive and request connections.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
ip netns exec "$NS" etcd --name s1 --data-dir "$T/s1" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster s1=http://127.0.0.1:2380 --quota-backend-bytes 4294967296 \
  >"$T/etcd.log" 2>&1 &
PID=$!
cleanup() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
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
ip netns exec "$NS" "$BIN" --etcd http://127.0.0.1:2379 --etcd-pid "$PID" "$@"
