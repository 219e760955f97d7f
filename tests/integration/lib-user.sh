# lib-user.sh - throwaway local users for tests of non-root behaviour
# (sourced after lib.sh). mkuser NAME creates a system user with a group of
# its own, removed at exit with its /tmp/vfab-UID directory; as_user NAME
# CMD... runs CMD as that user (no supplementary groups, the caller's
# environment minus XDG_RUNTIME_DIR unless the caller sets it).
VF_USERS=()

user_cleanup() {
  local u uid
  for u in "${VF_USERS[@]:-}"; do
    [ -n "$u" ] || continue
    uid=$(id -u "$u" 2>/dev/null) && rm -rf "/tmp/vfab-$uid"
    userdel "$u" 2>/dev/null
    getent group "$u" >/dev/null && groupdel "$u" 2>/dev/null
  done
}
trap 'cleanup; user_cleanup' EXIT

mkuser() {
  [ "$(id -u)" -eq 0 ] || skip "needs root to create a throwaway user"
  command -v useradd >/dev/null && command -v setpriv >/dev/null ||
    skip "useradd or setpriv missing"
  userdel "$1" 2>/dev/null
  getent group "$1" >/dev/null && groupdel "$1" 2>/dev/null
  useradd -r -U -M -d /nonexistent -s /usr/sbin/nologin "$1" ||
    skip "cannot create user $1"
  VF_USERS+=("$1")
  rm -rf "/tmp/vfab-$(id -u "$1")"
}

as_user() {
  local u=$1; shift
  setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups -- "$@"
}
