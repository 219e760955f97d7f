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
. "$(dirname "$0")/etcd-member.sh" vfstore-bench
ip netns exec "$NS" "$BIN" http://127.0.0.1:2379 "$N"
