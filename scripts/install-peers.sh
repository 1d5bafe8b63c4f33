#!/usr/bin/env bash
# Installs the peer registries that the proxy tests use as upstreams and the
# benchmarks run side by side: Verdaccio 6 (npm, from the npm registry) and
# pypiserver (PyPI, from PyPI), under ${PEERS_DIR:-/var/tmp/cairn-peers}.
# Prints nothing on success when they are already there; fails loudly.
set -euo pipefail
PEERS=${PEERS_DIR:-/var/tmp/cairn-peers}
mkdir -p "$PEERS/verdaccio"
if [ ! -x "$PEERS/verdaccio/node_modules/.bin/verdaccio" ]; then
  echo "installing Verdaccio 6 into $PEERS/verdaccio"
  # node-fetch's `cjs` dist-tag, which Verdaccio asks for, is not served everywhere: pin it.
  echo '{"private":true,"overrides":{"node-fetch":"2.7.0"}}' > "$PEERS/verdaccio/package.json"
  (cd "$PEERS/verdaccio" && npm install --no-audit --no-fund --silent verdaccio@6)
fi
if [ ! -x "$PEERS/pypiserver/bin/pypi-server" ]; then
  echo "installing pypiserver into $PEERS/pypiserver"
  python3 -m venv "$PEERS/pypiserver"
  "$PEERS/pypiserver/bin/pip" install -q pypiserver passlib
fi
[ -x "$PEERS/verdaccio/node_modules/.bin/verdaccio" ] || { echo "FATAL: Verdaccio is not installed" >&2; exit 1; }
[ -x "$PEERS/pypiserver/bin/pypi-server" ] || { echo "FATAL: pypiserver is not installed" >&2; exit 1; }
