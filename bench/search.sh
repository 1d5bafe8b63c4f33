#!/usr/bin/env bash
# Search at scale: GET /api/v1/search over BENCH_ARTIFACTS artifacts (default
# 100,000: packages of the five formats, and image manifests with tags in
# many repositories) — names, digest prefixes, purls, annotations — p50 and
# p99 per kind of question. The corpus is written straight into cairn's
# SQLite database (a cairn started once has made the schema) so that a run
# takes seconds, not the hours 100,000 publishes would; search only reads
# those rows. No other registry answers these questions over these formats,
# so the figures stand against the target the issue set (a few tens of
# milliseconds), not against a peer.
# Not a test: numbers on a shared machine are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_bench_tools
exec python3 bench/search_bench.py "$BENCH_CAIRN" "$@"
