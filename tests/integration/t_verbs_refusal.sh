#!/usr/bin/env bash
# A verbs uplink on a machine without an RDMA device is refused at start
# with a message that says so and names the alternatives; never a crash.
. "$(dirname "$0")/lib.sh"
if ls /sys/class/infiniband/* >/dev/null 2>&1; then
  skip "this machine has an RDMA device; the refusal path does not apply"
fi
sed 's/uplink: {type: ring}/uplink: {type: verbs, device: mlx5_0}/' \
  "$SRC/examples/demo.yaml" >"$TMP/verbs.yaml"
out=$(timeout 20 "$VFABD" -c "$TMP/verbs.yaml" -s "$TMP/s.sock" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "want exit 1, got $rc: $out"
echo "$out" | grep -q "no RDMA device" || fail "message does not say there is no device: $out"
echo "$out" | grep -q "type: udp" || fail "message does not name the alternatives: $out"
pass "verbs uplink refused: $out"
