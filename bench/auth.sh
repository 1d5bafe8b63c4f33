#!/usr/bin/env bash
# Authenticated reads against anonymous ones on one cairn (release build):
# manifest GET and npm packument GET with each credential kind, each rate
# with its ratio to the anonymous rate. Not a test: compare ratios within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_bench_tools
exec python3 bench/auth_bench.py "$BENCH_CAIRN" "$@"
