#!/usr/bin/env bash
# The signature policy's cost on a pull: the same manifest GETs (by tag and
# by digest, as an anonymous reader) from a cairn whose [[signature_policy]]
# covers the repository (the image signed, the verdict looked up on every
# read) and from one without a policy, side by side, interleaved; prints
# p50/p99 latency of sequential reads and the throughput of 32 connections,
# and the policy's p99 overhead. Not a test: numbers on a shared machine are
# noisy; compare within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_bench_tools
command -v openssl >/dev/null || { echo "FATAL: openssl is needed to sign the benchmark image" >&2; exit 1; }
exec python3 bench/signatures_bench.py "$BENCH_CAIRN" "$@"
