#!/usr/bin/env bash
# Virtual repository benchmark: merged-metadata GETs through an npm virtual
# repository (one hosted and one warm proxy member) against the same GET on
# the hosted member alone, and against Verdaccio serving a package through
# an uplink (its own way of putting a proxy behind one URL). Release build;
# prints each figure for both and the ratio. Not a test: compare ratios
# within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_bench_tools
PEERS=${PEERS_DIR:-/var/tmp/cairn-peers}
scripts/install-peers.sh
exec python3 bench/virtual_bench.py "$BENCH_CAIRN" "$PEERS/verdaccio/node_modules/.bin/verdaccio" "$@"
