# perf/etcd-member.sh, sourced by perf/store-bench.sh and perf/vfab-sim.sh:
#   . perf/etcd-member.sh NAME [ETCD ARGS...]
# starts one throwaway etcd member (Debian's etcd-server) on loopback,
# http://127.0.0.1:2379, inside a network namespace of its own ($NS), data
# in a temp dir ($T), and waits until it answers; at exit it is stopped by
# its pid ($ETCD_PID), the namespace deleted and the dir removed. Exits 77
# where etcd or root is missing. Prints one line saying what runs where.
command -v etcd >/dev/null || { echo "etcd is not installed (etcd-server)" >&2; exit 77; }
[ "$(id -u)" = 0 ] || { echo "needs root (a network namespace)" >&2; exit 77; }
NS=$1-$$
shift
T=$(mktemp -d "/tmp/$NS.XXXXXX")
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" etcd --name m1 --data-dir "$T/m1" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster m1=http://127.0.0.1:2380 "$@" >"$T/etcd.log" 2>&1 &
ETCD_PID=$!
etcd_member_cleanup() {
  kill "$ETCD_PID" 2>/dev/null || true
  wait "$ETCD_PID" 2>/dev/null || true   # set -e would end the trap here otherwise
  ip netns del "$NS" || true
  rm -rf "$T"
}
trap etcd_member_cleanup EXIT
for _ in $(seq 1 100); do
  ip netns exec "$NS" etcdctl --endpoints http://127.0.0.1:2379 endpoint health \
    >/dev/null 2>&1 && break
  sleep 0.2
done
echo "etcd $(etcd --version | head -1 | awk '{print $3}'), one member, data on $(df -P "$T" | awk 'NR==2{print $1}'), $(nproc) CPUs"
