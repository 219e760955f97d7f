#!/usr/bin/env bash
# vfabd --check: valid files exit 0; invalid ones exit 2 naming entry and field.
# One tap per logical port and Linux interface names, through --check, apply,
# live add and (as root) at start.
. "$(dirname "$0")/lib.sh"

for f in "$SRC"/examples/*.yaml; do
  out=$("$VFABD" -c "$f" --check 2>&1) || fail "$f should be valid: $out"
done
pass "examples validate"

cat > "$TMP/bad-mac.yaml" <<'Y'
chassis:
  - {name: hv1, underlay_ip: 192.0.2.1, encap: geneve}
tenants:
  - name: blue
    switches:
      - name: blue-web
        vni: 1001
        ports:
          - {name: vm1, mac: "02:00:zz:00:01:01", ips: ["10.0.0.1"], chassis: hv1, attach: {type: ring}}
Y
out=$("$VFABD" -c "$TMP/bad-mac.yaml" --check 2>&1); rc=$?
[ $rc -eq 2 ] || fail "bad MAC: exit $rc, want 2 ($out)"
echo "$out" | grep -q "vm1" || fail "bad MAC: error does not name the port: $out"
echo "$out" | grep -q "mac" || fail "bad MAC: error does not name the field: $out"
pass "bad MAC refused: $out"

cat > "$TMP/unknown-field.yaml" <<'Y'
chassis:
  - {name: hv1, underlay_ip: 192.0.2.1, encap: geneve, colour: red}
Y
out=$("$VFABD" -c "$TMP/unknown-field.yaml" --check 2>&1); rc=$?
[ $rc -eq 2 ] || fail "unknown field: exit $rc, want 2 ($out)"
echo "$out" | grep -q "colour" || fail "unknown field not named: $out"
pass "unknown field refused: $out"

out=$("$VFABD" -c "$TMP/does-not-exist.yaml" --check 2>&1); rc=$?
[ $rc -ne 0 ] || fail "missing file accepted"
echo "$out" | grep -q "does-not-exist" || fail "missing file not named: $out"
pass "missing file reported"

# One tap, one logical port: blue's and red's ports on one tap of one
# chassis (the red team's file) are refused, naming both ports.
tap_model() {  # tap_model NAME_BLUE NAME_RED CHASSIS_RED
  cat <<Y
chassis:
  - {name: hv1, underlay_ip: 192.0.2.1}
  - {name: hv2, underlay_ip: 192.0.2.2}
tenants:
  - name: blue
    switches: [{name: s1, vni: 100, ports: [
      {name: p1, mac: "02:00:00:00:00:01", ips: [10.0.0.1], chassis: hv1, attach: {type: tap, name: "$1"}},
      {name: b2, mac: "02:00:00:00:00:02", ips: [10.0.0.2], chassis: hv1, attach: {type: tap, name: vtb2}}]}]
  - name: red
    switches: [{name: s2, vni: 200, ports: [
      {name: p2, mac: "02:00:00:00:00:01", ips: [10.0.0.1], chassis: $3, attach: {type: tap, name: "$2"}},
      {name: r2, mac: "02:00:00:00:00:02", ips: [10.0.0.2], chassis: hv1, attach: {type: tap, name: vtr2}}]}]
Y
}
tap_model vtsame vtsame hv1 >"$TMP/same-tap.yaml"
out=$("$VFABD" -c "$TMP/same-tap.yaml" --check 2>&1); rc=$?
[ $rc -eq 2 ] || fail "one tap for two ports: exit $rc, want 2 ($out)"
echo "$out" | grep -q "ports\[0\] (p2): field 'attach.name'" || fail "same tap: the later port is not named: $out"
echo "$out" | grep -q "tap interface vtsame on chassis hv1 already backs tenants\[0\] (blue) switches\[0\] (s1) ports\[0\] (p1)" \
  || fail "same tap: the first port is not named: $out"
pass "one tap for two tenants' ports refused: $out"
tap_model vtsame vtsame hv2 >"$TMP/two-chassis.yaml"
out=$("$VFABD" -c "$TMP/two-chassis.yaml" --check 2>&1) || fail "one tap name on two chassis is two taps: $out"
pass "the same tap name on two chassis accepted"

# Interface names Linux refuses (or that TUNSETIFF would rewrite).
for name in "../x" "." ".." "vtap-0123456789a" "vt x" "vt:0" "vt%d"; do
  tap_model "$name" vtr1 hv1 >"$TMP/name.yaml"
  out=$("$VFABD" -c "$TMP/name.yaml" --check 2>&1); rc=$?
  [ $rc -eq 2 ] || fail "tap name '$name': exit $rc, want 2 ($out)"
  echo "$out" | grep -q "(p1): field 'attach.name'" || fail "tap name '$name': port and field not named: $out"
done
pass "bad interface names refused by --check (../x . .. 16 bytes, space, ':', '%')"

# IPv6 in ips: parsed and checked like IPv4.
tap_model vtb1 vtr1 hv1 | sed 's/ips: \[10.0.0.1\], chassis: hv1, attach: {type: tap, name: "vtb1"}/ips: [10.0.0.1, "2001:db8::1"], chassis: hv1, attach: {type: tap, name: "vtb1"}/' >"$TMP/v6.yaml"
out=$("$VFABD" -c "$TMP/v6.yaml" --check 2>&1) || fail "an IPv6 address in ips: $out"
sed 's/2001:db8::1/ff02::1/' "$TMP/v6.yaml" >"$TMP/v6-bad.yaml"
out=$("$VFABD" -c "$TMP/v6-bad.yaml" --check 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "(p1): field 'ips': ff02::1 is a multicast address" \
  || fail "multicast IPv6 in ips: exit $rc ($out)"
pass "IPv6 in ips: accepted, multicast refused"

# The same through a running vfabd: apply and live add refuse a second
# port on one tap (ports on hv2, so this host opens no tap: no root needed).
cat >"$TMP/run.yaml" <<'Y'
chassis:
  - {name: hv1, underlay_ip: 192.0.2.1}
  - {name: hv2, underlay_ip: 192.0.2.2}
tenants:
  - name: blue
    switches: [{name: blue-web, vni: 100, ports: [{name: b1, mac: "02:00:00:00:00:01", chassis: hv1}]}]
  - name: red
    switches: [{name: red-web, vni: 200, ports: [{name: r1, mac: "02:00:00:00:00:01", chassis: hv1}]}]
local: {chassis: hv1, workers: 1, uplink: {type: ring}}
Y
"$VFABD" -c "$TMP/run.yaml" -s "$TMP/c.sock" -q >"$TMP/c.out" 2>&1 &
PIDS+=($!)
wait_for test -S "$TMP/c.sock" || { cat "$TMP/c.out"; fail "vfabd did not start"; }
tap_model vtsame vtsame hv2 | sed 's/chassis: hv1/chassis: hv2/g' >"$TMP/apply-same.yaml"
out=$("$VFABCTL" -s "$TMP/c.sock" apply "$TMP/apply-same.yaml" 2>&1) && fail "apply of one tap for two ports accepted: $out"
echo "$out" | grep -q "(p2): field 'attach.name': tap interface vtsame on chassis hv2 already backs .*(p1)" \
  || fail "apply: both ports not named: $out"
pass "apply refuses one tap for two ports: $out"
"$VFABCTL" -s "$TMP/c.sock" add port blue-web name=blue-x mac=02:00:00:00:00:09 chassis=hv2 \
  attach.type=tap attach.name=vtX >/dev/null || fail "add of the first port on vtX"
out=$("$VFABCTL" -s "$TMP/c.sock" add port red-web name=red-x mac=02:00:00:00:00:09 chassis=hv2 \
  attach.type=tap attach.name=vtX 2>&1) && fail "live add of a second port on vtX accepted: $out"
echo "$out" | grep -q "(red-x): field 'attach.name': tap interface vtX on chassis hv2 already backs .*(blue-x)" \
  || fail "add: both ports not named: $out"
"$VFABCTL" -s "$TMP/c.sock" --json list port | grep -q red-x && fail "red-x was added anyway"
pass "live add refuses a second port on one tap: $out"

# A name that exists as another kind of device: refused when the port
# opens, naming the port and the device (root: vfabd opens taps).
if [ "$(id -u)" -eq 0 ] && ip netns add vfchk$$ 2>/dev/null; then
  NETNS+=(vfchk$$)
  ip -n vfchk$$ link set lo up
  sed 's/name: b1, mac: "02:00:00:00:00:01", chassis: hv1/&, attach: {type: tap, name: lo}/' \
    "$TMP/run.yaml" >"$TMP/lo.yaml"
  out=$(timeout 20 ip netns exec vfchk$$ "$VFABD" -c "$TMP/lo.yaml" -s "$TMP/lo.sock" -q 2>&1); rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "vfabd started with a port on lo (exit $rc): $out"
  echo "$out" | grep -q "port b1: attach.name lo: .*interface lo already exists and is the loopback device, not a tap" \
    || fail "lo: the message does not name the port and the device: $out"
  pass "a port on lo refused at start: $(echo "$out" | grep -m1 "lo already")"
else
  echo "note: not root, the existing-device check at start is not run"
fi

"$VFABD" --help | grep -q -- "--check" || fail "vfabd --help"
"$VFABCTL" --help | grep -q "trace" || fail "vfabctl --help"
pass "--help"
