#!/usr/bin/env bash
# A tap deleted under a running vfabd is reported once and counted, never a
# crash; `vfabctl apply` of the same state re-creates it and traffic flows
# again.
. "$(dirname "$0")/lib.sh"
need_root
command -v ping >/dev/null || skip "ping is not installed"
P=vfg$$
mkns ${P}h
cat >"$TMP/s.yaml" <<'Y'
chassis: [{name: hv1, underlay_ip: 192.0.2.1}]
tenants:
  - name: blue
    switches:
      - name: web
        vni: 10
        ports:
          - {name: vm1, mac: "02:00:00:00:01:01", ips: ["10.0.0.1"], chassis: hv1, attach: {type: tap, name: vfg1}}
          - {name: vm2, mac: "02:00:00:00:01:02", ips: ["10.0.0.2"], chassis: hv1, attach: {type: tap, name: vfg2}}
local: {chassis: hv1, workers: 1, uplink: {type: ring}}
Y
start_vfabd ${P}h "$TMP/s.yaml" "$TMP/v.sock"
SOCKERR="$TMP/v.sock.err"
vm ${P}h vfg1 ${P}a 02:00:00:00:01:01 10.0.0.1/24
vm ${P}h vfg2 ${P}b 02:00:00:00:01:02 10.0.0.2/24
ip netns exec ${P}a ping -c 2 -i 0.2 -W 2 10.0.0.2 >/dev/null || fail "ping before"
pass "ping before the tap goes away"

ip -n ${P}b link del vfg2
for _ in $(seq 1 50); do grep -q "vfg2 disappeared" "$SOCKERR" && break; sleep 0.1; done
grep -q "vfg2 disappeared" "$SOCKERR" || fail "vfabd did not report the lost tap: $(cat "$SOCKERR")"
ip netns exec ${P}a ping -c 1 -W 1 10.0.0.2 >/dev/null 2>&1 && fail "ping through a deleted tap"
errs=$(port_stat "$TMP/v.sock" vm2 rx_errors)
[ "$errs" -ge 1 ] || fail "lost tap not counted in rx_errors"
"$VFABCTL" -s "$TMP/v.sock" status >/dev/null || fail "vfabd died with its tap"
[ "$(grep -c "vfg2 disappeared" "$SOCKERR")" -eq 1 ] || fail "lost tap reported more than once"
pass "lost tap reported once, counted ($errs rx_errors), vfabd alive"

"$VFABCTL" -s "$TMP/v.sock" apply "$TMP/s.yaml" >/dev/null || fail "re-apply"
ip netns del ${P}b
vm ${P}h vfg2 ${P}b 02:00:00:00:01:02 10.0.0.2/24
ip netns exec ${P}a ping -c 2 -i 0.2 -W 2 10.0.0.2 >/dev/null || fail "ping after re-apply"
pass "re-apply re-created the tap; ping works again"
