#!/usr/bin/env bash
# Side-by-side OCI benchmark: cairn (release build) against CNCF Distribution
# 2.8 (Debian's docker-registry) on the same machine and disk. Prints each
# figure for both servers and the ratio. Not a test: numbers on a shared
# machine are noisy; compare ratios within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_bench_tools
exec python3 bench/oci_bench.py "$BENCH_CAIRN" "$@"
