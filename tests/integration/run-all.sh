#!/usr/bin/env bash
# Runs every integration test (tests/integration/t_*.sh) against BUILD.
# A test exits 0 (pass), 77 (skipped: says why) or anything else (fail).
set -u
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
cd "$(dirname "$0")"
# One lock for the whole run (lib.sh: tests share namespace names and
# ports with any other checkout's run on this machine).
. ./lib-lock.sh
vf_lock
trap vf_unlock EXIT
export VF_LOCK_OWNER=$$
pass=0 fail=0 skip=0
# Seconds per test and in all, counted from when the lock was taken (the
# wait for another checkout's run is not this run's cost).
start=$SECONDS
for t in t_*.sh; do
  [ -e "$t" ] || continue
  echo "=== $t"
  t0=$SECONDS
  VF_BUILD="$BUILD" timeout 300 bash "$t"
  rc=$?
  took="$((SECONDS - t0)) s"
  case $rc in
    0) pass=$((pass+1)); echo "--- PASS $t ($took)" ;;
    77) skip=$((skip+1)); echo "--- SKIP $t ($took)" ;;
    *) fail=$((fail+1)); echo "--- FAIL $t (exit $rc, $took)" ;;
  esac
done
echo "integration: $pass passed, $fail failed, $skip skipped ($((SECONDS - start)) s)"
[ $fail -eq 0 ]
