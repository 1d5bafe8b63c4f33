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
mkdir -p "$PEERS/verdaccio"
if [ ! -x "$PEERS/verdaccio/node_modules/.bin/verdaccio" ]; then
  # node-fetch's `cjs` dist-tag, which Verdaccio asks for, is not served everywhere: pin it.
  echo '{"private":true,"overrides":{"node-fetch":"2.7.0"}}' > "$PEERS/verdaccio/package.json"
  (cd "$PEERS/verdaccio" && npm install --no-audit --no-fund --silent verdaccio@6)
fi
if [ ! -x "$PEERS/pypiserver/bin/pypi-server" ]; then
  python3 -m venv "$PEERS/pypiserver"
  "$PEERS/pypiserver/bin/pip" install -q pypiserver passlib
fi
exec python3 bench/packages_bench.py "$BENCH_CAIRN" \
  "$PEERS/verdaccio/node_modules/.bin/verdaccio" "$PEERS/pypiserver/bin/pypi-server" "$@"
