#!/usr/bin/env bash
# /readyz follows the metadata database: cairn on PostgreSQL answers 200, then
# 503 naming the database while PostgreSQL is stopped, then 200 again after it
# restarts, without restarting cairn.
# Usage: readiness.sh PGDIR  (a cluster started by scripts/start-postgres.sh PGDIR,
# with CAIRN_DATABASE_URL pointing at a database in it)
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/lib.sh
PGDIR=${1:?usage: readiness.sh PGDIR}
: "${CAIRN_DATABASE_URL:?CAIRN_DATABASE_URL must name a PostgreSQL database}"
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
PORT=$(cat "$PGDIR/port")
pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start_cairn readiness
trap 'kill $CAIRN_PID 2>/dev/null || true' EXIT
ready() { curl -s -o "$OUT_DIR/readyz.body" -w '%{http_code}' "http://$CAIRN_ADDR/readyz"; }
[ "$(ready)" = 200 ] || fail "not ready with PostgreSQL up"
pg "$BIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null
[ "$(ready)" = 503 ] || fail "/readyz did not fail with PostgreSQL down"
grep -q "metadata store" "$OUT_DIR/readyz.body" || fail "/readyz does not say what failed: $(cat "$OUT_DIR/readyz.body")"
pg "$BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w \
  -o "-p $PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
for _ in $(seq 1 50); do [ "$(ready)" = 200 ] && break; sleep 0.2; done
[ "$(ready)" = 200 ] || fail "/readyz did not recover after PostgreSQL restarted"
stop_cairn
pass "/readyz: 200 with PostgreSQL up, 503 naming the metadata store while it is down, 200 after it returns"
