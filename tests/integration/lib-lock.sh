# lib-lock.sh - the machine-wide lock of integration tests (sourced by
# lib.sh and run-all.sh).
# One integration test at a time per machine, whoever runs it (parallel
# checkouts included): tests use fixed namespace names and loopback ports.
# A directory is the lock (no fd for started daemons to inherit); a lock
# whose owner is gone is taken over. The wait is bounded.
VF_LOCK=/tmp/vfab-integration.lock
vf_lock() {
  local i owner
  for i in $(seq 1 3600); do
    if mkdir "$VF_LOCK" 2>/dev/null; then
      echo $$ >"$VF_LOCK/pid"
      return 0
    fi
    owner=$(cat "$VF_LOCK/pid" 2>/dev/null)
    if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
      rm -rf "$VF_LOCK"
      continue
    fi
    [ "$i" -eq 1 ] && echo "waiting for $VF_LOCK (held by pid ${owner:-?})" >&2
    sleep 1
  done
  echo "FAIL: $VF_LOCK held for 60 minutes by pid ${owner:-?}" >&2
  exit 1
}
vf_unlock() {
  [ "$(cat "$VF_LOCK/pid" 2>/dev/null)" = "$$" ] && rm -rf "$VF_LOCK"
}
