#!/usr/bin/env bash
# Stops a cluster started by scripts/start-postgres.sh DIR.
set -euo pipefail
DIR=${1:?usage: stop-postgres.sh DIR}
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null
else "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null; fi
