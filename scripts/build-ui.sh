#!/usr/bin/env bash
# Builds the web UI (ui/, Vite + Preact, dependencies pinned in
# ui/package-lock.json) into ui/dist, which the next cargo build embeds in
# the cairn binary (crates/cairn-ui). Needs Node.js and npm; without this
# step cairn still builds, and its page at / says how to build the UI.
set -euo pipefail
cd "$(dirname "$0")/../ui"
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
echo "built the web UI into ui/dist; rebuild cairn to embed it"
