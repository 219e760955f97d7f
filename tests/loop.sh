#!/usr/bin/env bash
# Runs one integration test N times in a row and stops at the first failure
# (races show up on a fresh, idle CI machine; a new test must pass 10 runs,
# t_two_hosts.sh 20). Not part of `make test`.
#   tests/loop.sh t_two_hosts.sh 20 [BUILD]
# Prints each run's last line and a summary; exits 0 only if all N passed
# (a skip, exit 77, counts as a failure here: the loop proves nothing).
set -u
[ $# -ge 2 ] || { echo "usage: $0 TEST N [BUILD]" >&2; exit 2; }
T=$1 N=$2
BUILD=$(cd "${3:-$(dirname "$0")/../build}" && pwd) || exit 2
TEST="$(cd "$(dirname "$0")" && pwd)/integration/${T##*/}"
[ -f "$TEST" ] || { echo "no such test: $TEST" >&2; exit 2; }
case $N in ''|*[!0-9]*) echo "N must be a number, got '$N'" >&2; exit 2 ;; esac
log=$(mktemp /tmp/vfloop.XXXXXX)
trap 'rm -f "$log"' EXIT
for i in $(seq 1 "$N"); do
  start=$(date +%s.%N)
  # 300 s for the test, as run-all.sh, plus up to 30 min waiting for the
  # machine-wide integration lock that lib.sh takes (other checkouts).
  VF_BUILD="$BUILD" timeout 2100 bash "$TEST" >"$log" 2>&1
  rc=$?
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  echo "run $i/$N: exit $rc (${secs} s) $(tail -n 1 "$log")"
  if [ $rc -ne 0 ]; then
    echo "--- output of run $i:"
    cat "$log"
    echo "$T: failed on run $i of $N"
    exit 1
  fi
done
echo "$T: $N of $N runs passed"
