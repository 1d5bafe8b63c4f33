#!/usr/bin/env bash
# The secret gate's cost: the same npm publishes of ~10 MB (compressed)
# tarballs into a cairn that scans them (packages.secret_scan) and into one
# that does not, side by side; prints each one's median publish time and the
# scan's cost per 10 MB compressed. Not a test: numbers on a shared machine
# are noisy; compare within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_bench_tools
exec python3 bench/secrets_bench.py "$BENCH_CAIRN" "$@"
