#!/bin/sh
# ct_traces.sh REPLAY REF TRACE.gz... - vfab's conntrack against verdicts
# the Linux kernel gave, recorded by t_conntrack_kernel.sh (which needs
# root and namespaces; this needs neither): each trace replayed through
# vfab-ct-replay must agree packet by packet, both straight through
# conntrack and through the real pipeline as a security group
# (--pipeline). The traces kept are runs that once found a difference, now
# followed (docs/conntrack.md).
set -eu
REPLAY=$1
REF=$2
shift 2
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for t in "$@"; do
  for mode in "" --pipeline; do
    echo "== $(basename "$t") ${mode:-conntrack}"
    gzip -dc "$t" | "$REPLAY" $mode >"$OUT"
    python3 "$REF" compare "$t" "$OUT"
  done
done
