#!/usr/bin/env bash
# Side-by-side OCI benchmark on shared backends: cairn (PostgreSQL + S3, one and
# two replicas) against CNCF Distribution 2.8 with its s3 driver, on one moto
# S3 server. Starts PostgreSQL and moto itself. Prints figures and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v docker-registry >/dev/null || ! command -v wrk >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-registry wrk >/dev/null
fi
cargo build --release -p cairn --locked
exec python3 bench/oci_s3_bench.py "$PWD/target/release/cairn" "$@"
