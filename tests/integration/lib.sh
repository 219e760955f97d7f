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

. "$(dirname "${BASH_SOURCE[0]}")/lib-lock.sh"
# run-all.sh takes the lock once for the whole run (so no test's time limit
# is spent waiting for it) and tells its tests with VF_LOCK_OWNER.
if [ "${VF_LOCK_OWNER:-}" != "" ] && [ "$(cat "$VF_LOCK/pid" 2>/dev/null)" = "$VF_LOCK_OWNER" ]; then
  vf_unlock() { :; }
else
  vf_lock
fi

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
  vf_unlock
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

# ---- network-namespace hosts (root only) ----
need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, tap devices)"; }

# mkns NAME: a fresh namespace with lo up, removed at exit.
mkns() {
  ip netns del "$1" 2>/dev/null
  ip netns add "$1" || skip "cannot create network namespace $1"
  NETNS+=("$1")
  ip -n "$1" link set lo up
}

# underlay A B: veth uA (in A, 192.0.2.1/24) <-> uB (in B, 192.0.2.2/24).
underlay() {
  ip link add uA netns "$1" type veth peer name uB netns "$2" || fail "veth"
  ip -n "$1" addr add 192.0.2.1/24 dev uA
  ip -n "$2" addr add 192.0.2.2/24 dev uB
  ip -n "$1" link set uA up
  ip -n "$2" link set uB up
}

# real_hosts A B: namespace hosts A (hv1, 192.0.2.1) and B (hv2, .2) joined
# by underlay(), each running vfabd with tests/integration/data/
# real-hosts.yaml over the UDP uplink; control sockets $TMP/a.sock and
# $TMP/b.sock. The VMs are the caller's (vm).
real_hosts() {
  local h
  mkns "$1"; mkns "$2"
  underlay "$1" "$2"
  for h in 1 2; do
    { cat "$SRC/tests/integration/data/real-hosts.yaml"
      echo "local: {chassis: hv$h, workers: 1, uplink: {type: udp, bind: \"192.0.2.$h:6081\"}}"
    } >"$TMP/hv$h.yaml"
  done
  start_vfabd "$1" "$TMP/hv1.yaml" "$TMP/a.sock"
  start_vfabd "$2" "$TMP/hv2.yaml" "$TMP/b.sock"
}

# vm HOSTNS TAP VMNS MAC IP/LEN [GATEWAY]: moves vfabd's tap from the host
# namespace into a VM namespace and configures it like a guest would.
vm() {
  local host=$1 tap=$2 ns=$3 mac=$4 ip=$5 gw=${6:-}
  mkns "$ns"
  # No IPv6 chatter (router/neighbour solicitations): counters stay exact.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  wait_for ip -n "$host" link show "$tap" || fail "tap $tap never appeared in $host"
  ip -n "$host" link set "$tap" netns "$ns" || fail "moving $tap into $ns"
  # 1500 underlay - outer IPv4 20 - UDP 8 - Geneve 8 - our option 12 - Ethernet 14
  # leaves 1438 for the VM's IP MTU; 1400 keeps a margin.
  ip -n "$ns" link set "$tap" address "$mac" mtu 1400
  ip -n "$ns" addr add "$ip" dev "$tap"
  ip -n "$ns" link set "$tap" up
  [ -n "$gw" ] && ip -n "$ns" route add default via "$gw"
  return 0
}

# start_vfabd NS CONFIG SOCK [ARGS...]: vfabd inside NS; waits for its socket.
start_vfabd() {
  local ns=$1 cfg=$2 sock=$3; shift 3
  ip netns exec "$ns" "$VFABD" -c "$cfg" -s "$sock" -q "$@" \
    >"$sock.out" 2>"$sock.err" &
  PIDS+=($!)
  wait_for test -S "$sock" || { cat "$sock.err"; fail "vfabd in $ns did not start"; }
}

# port_stat SOCK PORT FIELD: one counter of one port from vfabctl stats.
port_stat() {
  "$VFABCTL" -s "$1" --json stats |
    json_get "[p for p in d['ports'] if p['name']=='$2'][0]['$3']"
}
drop_stat() { "$VFABCTL" -s "$1" --json stats | json_get "d['drops']['$2']"; }
