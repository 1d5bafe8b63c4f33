#!/usr/bin/env bash
# The whole test suite: formatting and lints; unit, property, storage-suite and
# in-process HTTP tests (the metadata suite on SQLite and on PostgreSQL); then
# real clients against a real `cairn serve`: the OCI conformance suite and
# skopeo/crane/oras (on SQLite, then again on PostgreSQL), readiness following
# PostgreSQL, a SIGTERM drain test and the SIGKILL crash test.
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

step "start a throwaway PostgreSQL"
PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/cairn-pg.XXXXXX")
export POSTGRES_TEST_URL
POSTGRES_TEST_URL=$(scripts/start-postgres.sh "$PGDIR")
trap 'scripts/stop-postgres.sh "$PGDIR" 2>/dev/null || true' EXIT
echo "PostgreSQL at $POSTGRES_TEST_URL"
# A fresh database in that cluster; prints its URL.
pg_database() {
  psql -q "$POSTGRES_TEST_URL" -c "CREATE DATABASE $1" >/dev/null
  echo "${POSTGRES_TEST_URL%/*}/$1"
}

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

step "conformance and clients again, on PostgreSQL metadata"
CAIRN_DATABASE_URL=$(pg_database e2e_conformance) tests/e2e/conformance.sh conformance-postgres
CAIRN_DATABASE_URL=$(pg_database e2e_clients) tests/e2e/clients.sh clients-postgres

step "readiness follows PostgreSQL"
CAIRN_DATABASE_URL=$(pg_database e2e_readiness) tests/e2e/readiness.sh "$PGDIR"

step "graceful shutdown under SIGTERM"
python3 tests/e2e/shutdown.py "$CAIRN" "$OUT_DIR"

step "crash safety under SIGKILL"
python3 tests/e2e/crash.py "$CAIRN" "$OUT_DIR" 6

printf '\nall tests passed\n'
