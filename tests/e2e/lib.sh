# Shared helpers for the end-to-end tests: start a real `cairn serve` on a
# free loopback port with its own data directory, and stop it.
# Source this file; set CAIRN to the binary under test.

: "${CAIRN:?CAIRN must point at the cairn binary}"
OUT_DIR=${OUT_DIR:-$PWD/test-output}
mkdir -p "$OUT_DIR"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_cairn NAME [extra serve args...]: sets CAIRN_ADDR, CAIRN_PID, CAIRN_PASSWORD, CAIRN_DATA.
start_cairn() {
  local name=$1; shift
  CAIRN_DATA=$(mktemp -d "${TMPDIR:-/tmp}/cairn-$name.XXXXXX")
  local port; port=$(free_port)
  CAIRN_ADDR="127.0.0.1:$port"
  "$CAIRN" serve --listen "$CAIRN_ADDR" --data-dir "$CAIRN_DATA/data" "$@" \
    >"$OUT_DIR/$name.stdout" 2>"$OUT_DIR/$name.log" &
  CAIRN_PID=$!
  for _ in $(seq 1 100); do
    if curl -fsS "http://$CAIRN_ADDR/readyz" >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  curl -fsS "http://$CAIRN_ADDR/readyz" >/dev/null || { echo "FAIL: cairn did not become ready" >&2; cat "$OUT_DIR/$name.log" >&2; return 1; }
  CAIRN_PASSWORD=$(awk '/password:/ {print $2}' "$OUT_DIR/$name.stdout")
  [ -n "$CAIRN_PASSWORD" ] || { echo "FAIL: no admin credential printed on first start" >&2; return 1; }
}

# stop_cairn: SIGTERM, and check it exits cleanly.
stop_cairn() {
  kill -TERM "$CAIRN_PID"
  local rc=0
  wait "$CAIRN_PID" || rc=$?
  [ "$rc" -eq 0 ] || { echo "FAIL: cairn exited with $rc after SIGTERM" >&2; return 1; }
}

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

# Pinned versions of the plugins every Maven project of the tests builds with
# (inside <build><plugins>).
MAVEN_BUILD_PLUGINS='
 <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.13.0</version></plugin>
 <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-resources-plugin</artifactId><version>3.3.1</version></plugin>
 <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-surefire-plugin</artifactId><version>3.5.2</version></plugin>
 <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-jar-plugin</artifactId><version>3.4.2</version></plugin>
 <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-install-plugin</artifactId><version>3.1.2</version></plugin>
 <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-deploy-plugin</artifactId><version>3.1.2</version></plugin>'
