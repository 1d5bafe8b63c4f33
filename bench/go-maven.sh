#!/usr/bin/env bash
# Side-by-side Go module and Maven benchmark: cairn (release build) against
# nginx from Debian serving the same files statically (Athens is not a
# peer here: the Go module proxy this machine reaches answers 403 for
# github.com/gomods/athens, @latest and @v0.15.4 alike). Needs go
# and mvn; plugins for mvn come from Maven Central. Prints each figure for
# both and the ratio. Not a test: compare ratios within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_bench_tools
if ! command -v nginx >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light >/dev/null
fi
exec python3 bench/go_maven_bench.py "$BENCH_CAIRN" "$@"
