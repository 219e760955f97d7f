#!/usr/bin/env bash
# Line coverage that a fuzz target's corpus reaches in the files it attacks.
#
#   tests/fuzz/coverage.sh TARGET FILE... -- CORPUS_DIR...
#   e.g. tests/fuzz/coverage.sh fuzz_parse pipeline/parse.c -- /tmp/fuzz-parse
#
# Builds build-fuzz-cov once (clang, the fuzz targets, source-based coverage
# instead of sanitizers), replays every input of the corpus directories
# once (-runs=0), and prints llvm-cov's report for FILE... (paths from the
# repository root). Nothing is written outside build-fuzz-cov.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 3 ] || { sed -n 2,9p "$0"; exit 2; }
target=$1; shift
files=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do files+=("$PWD/$1"); shift; done
[ "${1:-}" = "--" ] || { echo "coverage.sh: missing -- before the corpus" >&2; exit 2; }
shift
B=build-fuzz-cov
if [ ! -f $B/CMakeCache.txt ]; then
  cmake -S . -B $B -DVF_FUZZ=ON -DVF_FUZZ_COVERAGE=ON -DVF_BUILD_PERF=OFF \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
fi
cmake --build $B -j2 --target "$target" >/dev/null
prof=$B/cov-$target
rm -rf "$prof" && mkdir -p "$prof"
LLVM_PROFILE_FILE="$prof/%p.profraw" $B/tests/$target -runs=0 "$@" \
  >"$prof/replay.log" 2>&1 || { tail -20 "$prof/replay.log"; exit 1; }
llvm-profdata merge -sparse "$prof"/*.profraw -o "$prof/merged.profdata"
llvm-cov report $B/tests/$target -instr-profile="$prof/merged.profdata" "${files[@]}"
