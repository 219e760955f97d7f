#!/usr/bin/env bash
# perf/scale.sh - multi-worker scaling in one bounded command, for a host
# with enough cores (16: eight workers and eight generators, each on a core
# of its own).
#
# Runs `vfab-stress scale` (perf/stress_churn.c): a whole daemon in-process
# with ring ports, 1..MAX workers, one generator thread per worker (its own
# sources, the tx queue its worker sends on, pinned to a core no worker
# has), every received frame checked (intended port, per-flow sequence);
# packets/s per point and the speedup against the 1-worker point of the
# same run. Writes the JSON (default perf/results/scale-HOST-DATE.json)
# and prints one line per point. Bounded: DURATION seconds of traffic in
# all (default 120, split evenly between the points) plus setup, under
# `timeout 290`, so the whole command ends in under 5 minutes.
#
# Usage: perf/scale.sh [--build DIR] [--max-workers N] [--duration S]
#                      [--json FILE] [--small]
# --small runs on a host with fewer than 2 x N CPUs anyway (the points
# where workers and generators share cores are marked cores_shared: they
# measure the scheduler, not vfab). Exit: 0 ok, 1 a check failed, 77 the
# host is too small (without --small).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD="${VF_BUILD:-$HERE/../build}"
MAXW=8 DURATION=120 JSON="" SMALL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift ;;
    --max-workers) MAXW=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --json) JSON=$2; shift ;;
    --small) SMALL=1 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$MAXW$DURATION" in *[!0-9]*) echo "--max-workers and --duration are whole numbers" >&2; exit 2 ;; esac
[ "$MAXW" -ge 1 ] && [ "$MAXW" -le 16 ] || { echo "--max-workers is 1..16" >&2; exit 2; }
[ "$DURATION" -ge "$MAXW" ] && [ "$DURATION" -le 240 ] \
  || { echo "--duration is max-workers..240 seconds (the whole run stays under 5 minutes)" >&2; exit 2; }
NCPU=$(nproc)
if [ "$NCPU" -lt $((2 * MAXW)) ] && [ "$SMALL" = 0 ]; then
  echo "perf/scale.sh: $NCPU CPUs here; $MAXW workers with a generator each need $((2 * MAXW))" \
       "(--small runs anyway, with shared cores marked)" >&2
  exit 77
fi
BIN="$BUILD/perf/vfab-stress"
[ -x "$BIN" ] || cmake --build "$BUILD" --target vfab-stress -j "$NCPU" >/dev/null
[ -n "$JSON" ] || JSON="$HERE/results/scale-$(hostname -s)-$(date -u +%Y%m%dT%H%M%SZ).json"
mkdir -p "$(dirname "$JSON")"
rc=0
timeout 290 "$BIN" scale --max-workers "$MAXW" --duration "$DURATION" --json "$JSON" || rc=$?
[ "$rc" -ne 124 ] || { echo "perf/scale.sh: timed out (290 s)" >&2; exit 1; }
[ -s "$JSON" ] || { echo "perf/scale.sh: no JSON (vfab-stress exit $rc)" >&2; exit 1; }
python3 - "$JSON" "$NCPU" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = d.get("scale", d)
for p in s.get("points", []):
    print(f"{p['workers']} worker(s): {p['pps']:,.0f} pps, speedup {p['speedup']:.2f}"
          + ("  (cores shared)" if p.get("cores_shared") else "") + ("" if p.get("ok") else "  CHECK FAILED"))
print(f"{sys.argv[2]} CPUs; JSON: {sys.argv[1]}")
PY
exit "$rc"
