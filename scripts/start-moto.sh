#!/usr/bin/env bash
# Starts moto's S3-compatible server on a free loopback port (installing it from
# PyPI if missing), creates the bucket "cairn-test", and prints the endpoint URL.
# Usage: scripts/start-moto.sh DIR   (its pid goes to DIR/pid, its log to DIR/moto.log)
set -euo pipefail
DIR=${1:?usage: start-moto.sh DIR}
if ! command -v moto_server >/dev/null; then
  python3 -m pip install -q 'moto[server]' >&2
fi
command -v moto_server >/dev/null || { echo "FATAL: moto_server could not be installed" >&2; exit 1; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$DIR"
moto_server -H 127.0.0.1 -p "$PORT" >"$DIR/moto.log" 2>&1 &
echo $! > "$DIR/pid"
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS -X PUT "http://127.0.0.1:$PORT/cairn-test" >/dev/null || { echo "FATAL: moto did not start" >&2; cat "$DIR/moto.log" >&2; exit 1; }
echo "http://127.0.0.1:$PORT"
