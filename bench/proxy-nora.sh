#!/usr/bin/env bash
# cairn's proxy repositories against nora's (https://github.com/getnora-io/nora,
# `cargo install nora-registry`), both in front of the same upstreams —
# Verdaccio 6 (npm), pypiserver (PyPI), CNCF Distribution (OCI) — started by
# this script on the same machine: warm and cold, with the upstream itself
# for reference. Prints each figure for both and the ratio cairn/nora.
# Not a test, and not in the test suite's smoke runs (building nora takes
# about ten minutes here): run it by hand; compare within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_bench_tools
PEERS=${PEERS_DIR:-/var/tmp/cairn-peers}
scripts/install-peers.sh
NORA_VERSION=${NORA_VERSION:-1.4.3}
NORA=${BENCH_NORA:-$PEERS/nora-$NORA_VERSION/bin/nora}
if [ ! -x "$NORA" ]; then
  echo "building nora-registry $NORA_VERSION (cargo install; about ten minutes)" >&2
  cargo install nora-registry --version "$NORA_VERSION" --root "$PEERS/nora-$NORA_VERSION" --locked
fi
exec python3 bench/proxy_nora_bench.py "$BENCH_CAIRN" "$PEERS/verdaccio/node_modules/.bin/verdaccio" \
  "$PEERS/pypiserver/bin/pypi-server" "$(command -v docker-registry)" "$NORA" "$@"
