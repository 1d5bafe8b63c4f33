#!/usr/bin/env bash
# Side-by-side OCI benchmark: cairn (release build) against CNCF Distribution
# 2.8 (Debian's docker-registry) on the same machine and disk. Prints each
# figure for both servers and the ratio. Not a test: numbers on a shared
# machine are noisy; compare ratios within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v docker-registry >/dev/null || ! command -v wrk >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-registry wrk >/dev/null
fi
cargo build --release -p cairn --locked
exec python3 bench/oci_bench.py "$PWD/target/release/cairn" "$@"
