#!/usr/bin/env bash
# The whole test suite: formatting and lints; unit, property, storage-suite and
# in-process HTTP tests; then real clients against a real `cairn serve`: the
# OCI conformance suite, skopeo/crane/oras, a SIGTERM drain test and the
# SIGKILL crash test.
# Installs the clients it needs (scripts/install-test-tools.sh). Results and
# server logs land in test-output/ (conformance junit.xml included).
set -euo pipefail
cd "$(dirname "$0")/.."
export OUT_DIR="$PWD/test-output"
rm -rf "$OUT_DIR"
mkdir -p "$OUT_DIR"

step() { printf '\n== %s\n' "$*"; }

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "unit, property, storage-suite and in-process HTTP tests"
cargo test --workspace --locked

step "build the cairn binary"
cargo build -p cairn --locked
export CAIRN="$PWD/target/debug/cairn"

step "install the real clients"
scripts/install-test-tools.sh

step "OCI distribution-spec conformance"
tests/e2e/conformance.sh

step "skopeo, crane and oras"
tests/e2e/clients.sh

step "graceful shutdown under SIGTERM"
python3 tests/e2e/shutdown.py "$CAIRN" "$OUT_DIR"

step "crash safety under SIGKILL"
python3 tests/e2e/crash.py "$CAIRN" "$OUT_DIR" 6

printf '\nall tests passed\n'
