# lib.sh - shared helpers for integration tests (sourced).
# Every test: bounded in time, cleans up what it started (by PID), and
# sends traffic only to loopback or namespaces it created itself.
set -u
: "${VF_BUILD:?VF_BUILD must point at the build directory}"
VFABD="$VF_BUILD/mgmt/vfabd"
VFABCTL="$VF_BUILD/mgmt/vfabctl"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d /tmp/vftest.XXXXXX)
PIDS=()
NETNS=()

cleanup() {
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null
  done
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && { timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null; kill -9 "$p" 2>/dev/null; }
  done
  for n in "${NETNS[@]:-}"; do
    [ -n "$n" ] && ip netns del "$n" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
pass() { echo "ok: $*"; }

# wait_for CMD...: retries CMD for up to 10 s.
wait_for() {
  for _ in $(seq 1 100); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# jq-free JSON field access: json_get 'expr' reads JSON on stdin, python3
# evaluates expr with the document bound to `d`.
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
