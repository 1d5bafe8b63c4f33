#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on a free loopback port, for tests and
# benchmarks, and prints its admin URL (postgres://postgres@127.0.0.1:PORT/postgres).
# Usage: scripts/start-postgres.sh DIR   (stop it with: scripts/stop-postgres.sh DIR)
# Installs Debian's postgresql if initdb is missing. As root, the cluster runs
# as the `postgres` system user, since PostgreSQL refuses to run as root.
set -euo pipefail
DIR=${1:?usage: start-postgres.sh DIR}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
fi
[ -x "$BIN/initdb" ] || { echo "FATAL: PostgreSQL could not be installed" >&2; exit 1; }

as_db_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$DIR"
[ "$(id -u)" -eq 0 ] && chown postgres "$DIR"
as_db_user "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --locale=C.UTF-8 -E UTF8 >"$DIR/initdb.log" 2>&1
as_db_user "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >/dev/null
echo "$PORT" > "$DIR/port"
echo "postgres://postgres@127.0.0.1:$PORT/postgres"
