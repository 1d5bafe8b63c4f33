#!/usr/bin/env bash
# Side-by-side OCI benchmark on shared backends: cairn (PostgreSQL + S3, one and
# two replicas) against CNCF Distribution 2.8 with its s3 driver, on one moto
# S3 server. Starts PostgreSQL and moto itself. Prints figures and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_bench_tools
exec python3 bench/oci_s3_bench.py "$BENCH_CAIRN" "$@"
