#!/usr/bin/env bash
# Garbage collection side by side: cairn's online collector (the server
# serving) against CNCF Distribution 2.8's offline garbage-collect, after
# the same deletions in registries of N and 10·N images; and cairn's
# manifest PUT latency with collections running beside it. Prints both
# servers' figures and the ratios. Not a test: numbers on a shared machine
# are noisy; compare ratios within one run. BENCH_GC_SIZE, BENCH_GC_DELETE.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_bench_tools
exec python3 bench/gc_bench.py "$BENCH_CAIRN" "$@"
