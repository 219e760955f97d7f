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
# Each chassis holds a watch stream, a keepalive and request connections.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
. "$(dirname "$0")/etcd-member.sh" vfsim --quota-backend-bytes 4294967296
ip netns exec "$NS" "$BIN" --etcd http://127.0.0.1:2379 --etcd-pid "$ETCD_PID" "$@"
