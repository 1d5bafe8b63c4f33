#!/usr/bin/env bash
# The component query at scale: a synthetic index of BENCH_ARTIFACTS images
# (default 100,000) with BENCH_COMPONENTS components each (default 100: ten
# million occurrences), on the embedded SQLite and on PostgreSQL; cairn's
# GET /api/v1/components latency (p50, p99) beside the same questions asked
# as a substring scan over the purls (how indexes-less component searches
# work), and one 50,000-component SBOM pushed and indexed over HTTP.
# Not a test: numbers on a shared machine are noisy; compare within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_bench_tools
if [ "${BENCH_SMOKE:-}" = 1 ]; then profile=(); target=debug; else profile=(--release); target=release; fi
cargo build "${profile[@]}" -p cairn-store --example component_corpus --locked
exec python3 bench/components_bench.py "$BENCH_CAIRN" "$PWD/target/$target/examples/component_corpus" "$@"
