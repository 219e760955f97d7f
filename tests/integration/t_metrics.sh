#!/usr/bin/env bash
# Metrics: vfabd --demo with local.metrics on a free loopback port; the page
# is valid Prometheus text exposition, has the families of every kind, and
# its counters grow between two scrapes. local.metrics round-trips through
# `vfabctl show`, and a bad address is refused by --check.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CFG="$TMP/demo.yaml"
sed "s/^  uplink: {type: ring}/  uplink: {type: ring}\n  metrics: \"127.0.0.1:$PORT\"/" \
  "$SRC/examples/demo.yaml" >"$CFG"
grep -q "metrics: \"127.0.0.1:$PORT\"" "$CFG" || fail "could not build the config"

sed 's/metrics: .*/metrics: "127.0.0.1"/' "$CFG" >"$TMP/bad.yaml"
"$VFABD" -c "$TMP/bad.yaml" --check >"$TMP/check.out" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "--check accepted local.metrics without a port (rc $rc)"
grep -q "metrics" "$TMP/check.out" || fail "the error does not name the field: $(cat "$TMP/check.out")"
pass "--check refuses local.metrics without a port"

SOCK="$TMP/vfabd.sock"
"$VFABD" -c "$CFG" -s "$SOCK" --demo -q --duration 60 >"$TMP/out" 2>"$TMP/err" &
PIDS+=($!)
wait_for test -S "$SOCK" || { cat "$TMP/err"; fail "control socket never appeared"; }
URL="http://127.0.0.1:$PORT/metrics"
wait_for curl -sf "$URL" || { cat "$TMP/err"; fail "no metrics at $URL"; }
sleep 1.2
curl -s -D "$TMP/hdr1" "$URL" >"$TMP/m1" || fail "first scrape"
sleep 2.5
curl -s "$URL" >"$TMP/m2" || fail "second scrape"
grep -qi "^content-type: text/plain; version=0.0.4" "$TMP/hdr1" || fail "content type: $(cat "$TMP/hdr1")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nothing")
[ "$code" = 404 ] || fail "unknown path answered $code"

cat >"$TMP/check.py" <<'PY'
import re, sys
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^(%s)(\{(%s)(,%s)*\})? (\S+)$' % (NAME, LABEL, LABEL))
def parse(path):
    types, helps, samples = {}, set(), {}
    for n, line in enumerate(open(path).read().split('\n')[:-1], 1):
        if line.startswith('# HELP '):
            helps.add(line.split(' ')[2]); continue
        if line.startswith('# TYPE '):
            _, _, name, typ = line.split(' ')
            assert typ in ('counter', 'gauge', 'histogram', 'summary', 'untyped'), line
            assert name not in types, 'TYPE twice for ' + name
            types[name] = typ; continue
        assert not line.startswith('#'), 'line %d: stray comment %r' % (n, line)
        m = SAMPLE.match(line)
        assert m, 'line %d: not `name{labels} value`: %r' % (n, line)
        name = m.group(1)
        assert name in types, 'line %d: %s has no TYPE line before it' % (n, name)
        assert name in helps, 'line %d: %s has no HELP line' % (n, name)
        float(m.group(5))
        key = line.rsplit(' ', 1)[0]
        assert key not in samples, 'duplicate series ' + key
        samples[key] = float(m.group(5))
    return types, samples
t1, s1 = parse(sys.argv[1])
t2, s2 = parse(sys.argv[2])
want = ['vfab_port_rx_packets_total', 'vfab_port_tx_bytes_total',
        'vfab_port_tx_drops_total', 'vfab_port_rx_errors_total',
        'vfab_port_no_buffer_total',
        'vfab_worker_rx_packets_total', 'vfab_worker_busy_cycles_total',
        'vfab_worker_idle_cycles_total', 'vfab_worker_flow_cache_hits_total',
        'vfab_worker_flow_cache_misses_total', 'vfab_worker_flow_cache_evictions_total',
        'vfab_worker_sleeps_total', 'vfab_worker_spin_cuts_total',
        'vfab_worker_spin_budget', 'vfab_drops_total', 'vfab_tables_generation',
        'vfab_tables_publications_total', 'vfab_tables_last_update_seconds',
        'vfab_tables_max_update_seconds', 'vfab_uptime_seconds',
        'vfab_heap_allocated_bytes', 'vfab_heap_resident_bytes',
        'vfab_conntrack_connections', 'vfab_conntrack_connections_max',
        'vfab_conntrack_lookups_total', 'vfab_conntrack_invalid_total',
        'vfab_conntrack_created_total', 'vfab_conntrack_zone_full_total',
        'vfab_reject_answers_total']
for w in want:
    assert w in t1, 'missing family ' + w
# vfabd's heap holds at least its tables and model: never zero.
assert s1['vfab_heap_allocated_bytes'] > 0, 'heap allocated is 0'
assert s1['vfab_heap_resident_bytes'] >= s1['vfab_heap_allocated_bytes'] / 2
# vfabd has a connection table by default (docs/config.md, Limits).
assert s1['vfab_conntrack_connections_max'] == 262144, 'conntrack max'
for k, v in s1.items():
    if t1[k.split('{')[0]] == 'counter':
        assert k.split('{')[0].endswith('_total'), k
        assert s2.get(k, -1) >= v, 'counter went down or vanished: ' + k
def grew(prefix, label=''):
    ks = [k for k in s1 if k.startswith(prefix) and label in k]
    assert ks, 'no series ' + prefix + label
    assert any(s2[k] > s1[k] for k in ks), 'no %s%s grew' % (prefix, label)
grew('vfab_port_rx_packets_total{', 'port="blue-vm1"')
grew('vfab_worker_rx_packets_total{', 'cpu="')
grew('vfab_drops_total{', 'reason="port_security"')
grew('vfab_uptime_seconds')
assert any('numa_node="' in k for k in s1), 'no numa_node label'
print('%d series, %d families' % (len(s1), len(t1)))
PY
python3 "$TMP/check.py" "$TMP/m1" "$TMP/m2" >"$TMP/py.out" 2>&1 || { cat "$TMP/py.out"; fail "exposition text invalid"; }
pass "metrics: $(cat "$TMP/py.out"), counters grow"

"$VFABCTL" -s "$SOCK" --json show | json_get 'd["local"]["metrics"]' >"$TMP/show" || fail "vfabctl show"
grep -qx "127.0.0.1:$PORT" "$TMP/show" || fail "show lost local.metrics: $(cat "$TMP/show")"
pass "local.metrics round-trips through show"

# --metrics overrides the file; a second daemon on the same port is refused.
"$VFABD" -c "$CFG" -s "$TMP/b.sock" -q --duration 2 >/dev/null 2>"$TMP/err2"; rc=$?
[ $rc -ne 0 ] || { cat "$TMP/err2"; fail "a second daemon served the same metrics port"; }
grep -q "metrics" "$TMP/err2" || fail "port-in-use error does not say metrics: $(cat "$TMP/err2")"
"$VFABD" -c "$CFG" -s "$TMP/c.sock" -q --duration 1 --metrics nonsense >/dev/null 2>"$TMP/err3"; rc=$?
[ $rc -eq 2 ] || fail "--metrics nonsense exited $rc"
pass "metrics port conflicts and bad --metrics are refused"
