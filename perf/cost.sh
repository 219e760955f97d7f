#!/usr/bin/env bash
# perf/cost.sh - where the instructions go: exact counts per packet / frame.
#
# Runs each benchmark of vfab-count (perf/count_main.c) under
# valgrind --tool=callgrind twice, for N and 2N iterations, counting only
# inside vf_pipeline_burst and vf_worker_flush (what a worker does with a
# burst, the benchmark's generator left out), and prints the difference
# divided by the items of N iterations: instructions per item, in all and
# by function (self cost; an inlined function is named by its source).
# Instruction counts do not depend on how busy the machine is: the same
# build gives the same figures, so before/after comparisons of a change
# need no quiet machine (cache misses and cycles are another matter).
#
# Usage: perf/cost.sh [--build DIR] [--iters N] [--top K] [--json FILE]
#                     [BENCH:ARG ...]
# Default benchmarks: the TCP path (BM_tcp_gso_tx, BM_tcp_gro_rx, Geneve
# and VXLAN), 64-byte frames (BM_pipeline_l2_cached), drops
# (BM_pipeline_drops/32). Needs valgrind (scripts/install-deps.sh).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD="${VF_BUILD:-$HERE/../build}"
ITERS=200 TOP=8 JSON=""
BENCHES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift ;;
    --iters) ITERS=$2; shift ;;
    --top) TOP=$2; shift ;;
    --json) JSON=$2; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) BENCHES+=("$1") ;;
  esac
  shift
done
[ ${#BENCHES[@]} -gt 0 ] || BENCHES=(BM_tcp_gso_tx:0 BM_tcp_gso_tx:1 BM_tcp_gro_rx:0
  BM_tcp_gro_rx:1 BM_pipeline_l2_cached:0 BM_pipeline_drops:32)
command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null \
  || { echo "cost.sh: needs valgrind (scripts/install-deps.sh)" >&2; exit 77; }
BIN="$BUILD/perf/vfab-count"
[ -x "$BIN" ] || { echo "cost.sh: $BIN not built (cmake --build $BUILD --target vfab-count)" >&2; exit 2; }
TMP=$(mktemp -d /tmp/vfcost.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

for b in "${BENCHES[@]}"; do
  name=${b%%:*} arg=${b#*:}
  [ "$arg" != "$b" ] || arg=0
  for n in "$ITERS" $((ITERS * 2)); do
    valgrind --tool=callgrind --callgrind-out-file="$TMP/$name-$arg-$n.cg" \
      --toggle-collect=vf_pipeline_burst --toggle-collect=vf_worker_flush \
      "$BIN" "$name" "$arg" "$n" >"$TMP/$name-$arg-$n.out" 2>"$TMP/$name-$arg-$n.err" \
      || { echo "cost.sh: $name/$arg failed:" >&2; tail -5 "$TMP/$name-$arg-$n.err" >&2; exit 1; }
    callgrind_annotate --auto=no --threshold=100 "$TMP/$name-$arg-$n.cg" >"$TMP/$name-$arg-$n.ann"
  done
done

python3 - "$TMP" "$ITERS" "$TOP" "$JSON" "${BENCHES[@]}" <<'PY'
import json, os, re, sys
tmp, iters, top, jpath = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
line = re.compile(r'^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$')

def load(path):
    total, funcs = 0, {}
    for l in open(path):
        if l.startswith('-----') and funcs:
            break       # the summary ends; annotated sources would follow
        m = line.match(l)
        if not m:
            continue
        ir, rest = int(m.group(1).replace(',', '')), m.group(2)
        if rest.startswith('PROGRAM TOTALS'):
            total = ir
            continue
        rest = re.sub(r' \[[^\]]*\]$', '', rest)
        f, _, fn = rest.rpartition(':')
        key = os.path.basename(f) + ':' + fn
        funcs[key] = funcs.get(key, 0) + ir
    return total, funcs

def items(path):
    for l in open(path):
        if l.startswith('items '):
            return int(l.split()[1])
    return 0

out = []
for b in sys.argv[5:]:
    name, _, arg = b.partition(':')
    arg = arg or '0'
    base = f'{tmp}/{name}-{arg}'
    t1, f1 = load(f'{base}-{iters}.ann')
    t2, f2 = load(f'{base}-{iters * 2}.ann')
    n = items(f'{base}-{iters * 2}.out') - items(f'{base}-{iters}.out')
    if n <= 0:
        print(f'{name}/{arg}: no items', file=sys.stderr)
        continue
    per = {k: (f2.get(k, 0) - f1.get(k, 0)) / n for k in set(f1) | set(f2)}
    rows = sorted(((v, k) for k, v in per.items() if v > 0.05), reverse=True)
    total = (t2 - t1) / n
    out.append({'bench': f'{name}/{arg}', 'items': n, 'ir_per_item': round(total, 1),
                'functions': [{'function': k, 'ir_per_item': round(v, 1)} for v, k in rows]})
    print(f'\n{name}/{arg}: {total:,.1f} instructions per item ({n} items)')
    print('| function | Ir/item | share |\n| --- | ---: | ---: |')
    for v, k in rows[:top]:
        print(f'| {k} | {v:,.1f} | {100 * v / total:.1f}% |')
    rest = total - sum(v for v, _ in rows[:top])
    if len(rows) > top:
        print(f'| (the other {len(rows) - top}) | {rest:,.1f} | {100 * rest / total:.1f}% |')
if jpath:
    with open(jpath, 'w') as fh:
        json.dump({'iters': iters, 'results': out}, fh, indent=1)
PY
