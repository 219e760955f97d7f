#!/usr/bin/env bash
# vfabd --check: valid files exit 0; invalid ones exit 2 naming entry and field.
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

"$VFABD" --help | grep -q -- "--check" || fail "vfabd --help"
"$VFABCTL" --help | grep -q "trace" || fail "vfabctl --help"
pass "--help"
