#!/usr/bin/env bash
# Proxy benchmark: clients' requests through cairn's proxy repositories
# (release build) against the same requests straight to their upstreams —
# Verdaccio 6 (npm), pypiserver (PyPI), CNCF Distribution (OCI) — started by
# this script on the same machine. Prints each figure for both and the ratio.
# Not a test: compare ratios within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_bench_tools
PEERS=${PEERS_DIR:-/var/tmp/cairn-peers}
scripts/install-peers.sh
exec python3 bench/proxy_bench.py "$BENCH_CAIRN" "$PEERS/verdaccio/node_modules/.bin/verdaccio" \
  "$PEERS/pypiserver/bin/pypi-server" "$(command -v docker-registry)" "$@"
