#!/usr/bin/env bash
# Side-by-side language-package benchmark: cairn (release build) against
# Verdaccio 6 (npm, from the npm registry) and pypiserver (PyPI, from PyPI),
# started by this script on the same machine. Prints each figure for both
# servers and the ratio. Not a test: compare ratios within one run.
# Peers are installed under ${PEERS_DIR:-/var/tmp/cairn-peers}.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_bench_tools
PEERS=${PEERS_DIR:-/var/tmp/cairn-peers}
scripts/install-peers.sh
exec python3 bench/packages_bench.py "$BENCH_CAIRN" \
  "$PEERS/verdaccio/node_modules/.bin/verdaccio" "$PEERS/pypiserver/bin/pypi-server" "$@"
