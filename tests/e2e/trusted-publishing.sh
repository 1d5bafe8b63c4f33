#!/usr/bin/env bash
# Trusted publishing end to end with the real clients. A stand-in CI issuer
# on loopback (tests/e2e/oidc_issuer.py: its own key, discovery, JWKS and
# GitHub Actions' ID-token endpoint) signs the job's OIDC tokens; cairn
# exchanges them for short-lived tokens limited to one package:
# - npm obtains its token itself, through its own GitHub Actions flow
#   (ACTIONS_ID_TOKEN_REQUEST_URL, then /-/npm/v1/oidc/token/exchange/...);
# - twine and cargo publish with the tokens minted at the endpoints their CI
#   actions call (PyPI's /_/oidc/audience and /_/oidc/mint-token, crates.io's
#   /api/v1/trusted_publishing/tokens);
# - the Go publish endpoint and mvn deploy with tokens from cairn's own
#   exchange (/api/v1/oidc/exchange), as a Bearer and as a settings.xml password.
# A token from another repository's workflow, a replayed token, and a minted
# token used for another package are refused, and nothing is published.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/lib.sh
PY="$PWD/.tools/py/bin"

NAME=${1:-trusted-publishing}
# The Go publisher's git repository is a file:// URL on this machine.
export CAIRN_PACKAGES__GO_ALLOW_FILE_GIT=true
start_cairn "$NAME"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-tp.XXXXXX")
"$PY/python" tests/e2e/oidc_issuer.py "$WORK/issuer" &
ISSUER_PID=$!
trap 'kill $CAIRN_PID $ISSUER_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do [ -s "$WORK/issuer" ] && break; sleep 0.1; done
ISSUER=$(cat "$WORK/issuer")
[ -n "$ISSUER" ] || fail "the test OIDC issuer did not start"
LOG="$OUT_DIR/$NAME-tools.log"; : > "$LOG"
API="http://$CAIRN_ADDR"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
id_token() { curl -fsS "$ISSUER/token?audience=$1${2:+&$2}" | json '["value"]'; }
WORKFLOW="org/app/.github/workflows/release.yml@refs/heads/main"

register() { # REPOSITORY PACKAGE AUDIENCE
  curl -fsS -u "admin:$CAIRN_PASSWORD" -H 'Content-Type: application/json' -d "{
    \"repository\": \"$1\", \"package\": \"$2\", \"issuer\": \"$ISSUER\", \"audience\": \"$3\",
    \"claims\": {\"repository\": \"org/app\", \"job_workflow_ref\": \"$WORKFLOW\"}}" \
    "$API/api/v1/publishers" >/dev/null || fail "registering the publisher of $2"
}
register npm/main @org/app "npm:127.0.0.1"
register pypi/main org-app pypi
register cargo/main org-app-crate cargo
register go/main example.com/org/app cairn
register maven/main dev.cairn.tp:app cairn
pass "trusted publishers registered for one package each in npm, PyPI, Cargo, Go and Maven repositories"

# --- npm: its own OIDC flow, as in a GitHub Actions job.
make_npm_pkg() {
  mkdir -p "$1"
  printf '{"name": "%s", "version": "%s", "license": "MIT", "main": "index.js"}\n' "$2" "$3" > "$1/package.json"
  echo "module.exports = '$2';" > "$1/index.js"
  printf 'registry=%s/npm/main/\n' "$API" > "$1/.npmrc"
}
npm_ci_publish() { # DIR TOKEN-QUERY
  (cd "$1" && env -u NPM_TOKEN GITHUB_ACTIONS=true \
    ACTIONS_ID_TOKEN_REQUEST_URL="$ISSUER/token?x=1${2:+&$2}" ACTIONS_ID_TOKEN_REQUEST_TOKEN=runner \
    npm_config_cache="$WORK/npm-cache" npm_config_userconfig="$WORK/npmrc" \
    npm publish --access public --loglevel verbose >>"$LOG" 2>&1)
}
: > "$WORK/npmrc"
make_npm_pkg "$WORK/npm-app" @org/app 1.0.0
npm_ci_publish "$WORK/npm-app" || { tail -30 "$LOG"; fail "npm publish with trusted publishing"; }
curl -fsS "$API/npm/main/@org%2fapp" | json '["versions"]["1.0.0"]["name"]' | grep -qx '@org/app' \
  || fail "@org/app@1.0.0 is not served after the trusted publish"
grep -q "Successfully retrieved and set token" "$LOG" || fail "npm did not use the exchanged token"
pass "npm publish in a CI job exchanges its OIDC token at cairn and publishes"

make_npm_pkg "$WORK/npm-app2" @org/app 1.0.1
if npm_ci_publish "$WORK/npm-app2" "repository=org/evil"; then fail "a job of org/evil published @org/app"; fi
make_npm_pkg "$WORK/npm-other" @org/other 1.0.0
if npm_ci_publish "$WORK/npm-other"; then fail "a publisher of @org/app published @org/other"; fi
[ "$(curl -s -o /dev/null -w '%{http_code}' "$API/npm/main/@org%2fother")" = 404 ] || fail "@org/other exists"
curl -fsS "$API/npm/main/@org%2fapp" | json '["versions"].keys()' | grep -q "1.0.1" && fail "1.0.1 was published"
pass "npm: a job of another repository, and another package, get no token and publish nothing"

# --- PyPI: the exchange gh-action-pypi-publish makes, then twine.
AUD=$(curl -fsS "$API/_/oidc/audience" | json '["audience"]')
[ "$AUD" = pypi ] || fail "the PyPI audience endpoint said $AUD"
ID=$(id_token "$AUD")
MINTED=$(curl -fsS -H 'Content-Type: application/json' -d "{\"token\": \"$ID\"}" "$API/_/oidc/mint-token" | json '["token"]')
code=$(curl -s -o "$WORK/replay.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "{\"token\": \"$ID\"}" "$API/_/oidc/mint-token")
[ "$code" = 401 ] && grep -q "already exchanged" "$WORK/replay.json" || fail "a replayed OIDC token was exchanged ($code)"
python3 tests/e2e/mkdist.py "$WORK/dist" org-app 1.0 >/dev/null
python3 tests/e2e/mkdist.py "$WORK/other" other-app 1.0 >/dev/null
twine() { "$PY/twine" upload --disable-progress-bar --repository-url "$API/pypi/main/legacy/" -u __token__ --password="$MINTED" "$@"; }
twine "$WORK"/dist/* >>"$LOG" 2>&1 || { tail -20 "$LOG"; fail "twine upload with a minted token"; }
if twine "$WORK"/other/* >>"$LOG" 2>&1; then fail "the minted token for org-app uploaded other-app"; fi
"$PY/pip" download -q --no-deps -d "$WORK/pip" --index-url "$API/pypi/main/simple/" org-app==1.0 >>"$LOG" 2>&1 \
  || fail "pip cannot install what the trusted publisher uploaded"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$API/pypi/main/simple/other-app/")" = 404 ] || fail "other-app exists"
pass "twine uploads with a token minted at /_/oidc/mint-token; a replay and another project are refused"

# --- Cargo: the exchange crates-io-auth-action makes, then cargo publish.
export CARGO_HOME="$WORK/cargo-home" CARGO_TARGET_DIR="$WORK/target" CARGO_TERM_COLOR=never
mkdir -p "$CARGO_HOME"
printf '[registries.cairn]\nindex = "sparse+%s/cargo/main/index/"\n[net]\nretry = 0\n' "$API" > "$CARGO_HOME/config.toml"
exchange_cargo() {
  curl -fsS -H 'Content-Type: application/json' -d "{\"jwt\": \"$1\"}" \
    "$API/cargo/main/api/v1/trusted_publishing/tokens" | json '["token"]'
}
CARGO_TOKEN=$(exchange_cargo "$(id_token cargo)")
make_crate() {
  mkdir -p "$1/src"
  printf '[package]\nname = "%s"\nversion = "0.1.0"\nedition = "2021"\ndescription = "test"\nlicense = "MIT"\n' "$2" > "$1/Cargo.toml"
  echo 'pub fn f() {}' > "$1/src/lib.rs"
}
make_crate "$WORK/crate" org-app-crate
make_crate "$WORK/other-crate" other-crate
cargo_publish() { (cd "$1" && CARGO_REGISTRIES_CAIRN_TOKEN="$CARGO_TOKEN" cargo publish --registry cairn --allow-dirty >>"$LOG" 2>&1); }
cargo_publish "$WORK/crate" || { tail -20 "$LOG"; fail "cargo publish with a minted token"; }
if cargo_publish "$WORK/other-crate"; then fail "the minted token for org-app-crate published other-crate"; fi
curl -fsS "$API/cargo/main/index/or/g-/org-app-crate" | grep -q '"vers":"0.1.0"' || fail "org-app-crate is not in the index"
if exchange_cargo "$(id_token cargo "job_workflow_ref=org/app/.github/workflows/pr.yml@refs/heads/x")" >/dev/null 2>&1; then
  fail "a token from another workflow was exchanged"
fi
pass "cargo publishes with a token from /api/v1/trusted_publishing/tokens; another crate and another workflow are refused"

# --- Go and Maven: the generic exchange (/api/v1/oidc/exchange), then the
# Go publish endpoint with the minted token as a Bearer, and mvn deploy with
# it as the password in settings.xml (any user name).
exchange() { # OIDC-TOKEN REPOSITORY
  curl -fsS -H 'Content-Type: application/json' -d "{\"token\": \"$1\", \"repository\": \"$2\"}" \
    "$API/api/v1/oidc/exchange" | json '["token"]'
}
GO_TOKEN=$(exchange "$(id_token cairn)" go/main)
export GIT_CONFIG_GLOBAL="$WORK/gitconfig" GIT_CONFIG_NOSYSTEM=1
git config --global user.email test@example.com; git config --global user.name test
go_repo() { # DIR MODULE
  mkdir -p "$1" && (cd "$1" && git init -q && printf 'module %s\n\ngo 1.21\n' "$2" > go.mod \
    && printf 'package app\n' > app.go && git add -A && git commit -qm v1 && git tag v1.0.0)
}
go_publish() { # DIR MODULE
  curl -sS -o "$WORK/go-publish.json" -w '%{http_code}' -H "Authorization: Bearer $GO_TOKEN" -H 'Content-Type: application/json' \
    -d "{\"module\":\"$2\",\"version\":\"v1.0.0\",\"git\":\"file://$1\"}" "$API/go/main/-/publish"
}
go_repo "$WORK/go-app" example.com/org/app
go_repo "$WORK/go-other" example.com/org/other
[ "$(go_publish "$WORK/go-app" example.com/org/app)" = 201 ] || fail "Go publish with a minted token: $(cat "$WORK/go-publish.json")"
code=$(go_publish "$WORK/go-other" example.com/org/other)
[ "$code" = 403 ] || fail "the minted token for example.com/org/app published example.com/org/other ($code)"
curl -fsS "$API/go/main/example.com/org/app/@v/list" | grep -qx v1.0.0 || fail "example.com/org/app v1.0.0 is not listed"
pass "Go: a token from /api/v1/oidc/exchange publishes its module from a git tag; another module is refused (403)"

MVN_TOKEN=$(exchange "$(id_token cairn)" maven/main)
M2="$WORK/m2"
printf '<settings><servers><server><id>cairn</id><username>ci</username><password>%s</password></server></servers></settings>\n' \
  "$MVN_TOKEN" > "$WORK/settings.xml"
mvn_project() { # DIR ARTIFACT
  mkdir -p "$1/src/main/java/tp"
  cat > "$1/pom.xml" <<XML
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>dev.cairn.tp</groupId><artifactId>$2</artifactId><version>1.0.0</version>
  <properties><maven.compiler.release>17</maven.compiler.release><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  <distributionManagement><repository><id>cairn</id><url>$API/maven/main</url></repository></distributionManagement>
  <build><plugins>
    $MAVEN_BUILD_PLUGINS
  </plugins></build>
</project>
XML
  printf 'package tp;\npublic class App {}\n' > "$1/src/main/java/tp/App.java"
}
mvn_deploy() { (cd "$1" && mvn -B -s "$WORK/settings.xml" -Dmaven.repo.local="$M2" -DskipTests deploy >>"$LOG" 2>&1); }
mvn_project "$WORK/mvn-app" app
mvn_project "$WORK/mvn-other" other
mvn_deploy "$WORK/mvn-app" || { tail -30 "$LOG"; fail "mvn deploy with a minted token"; }
if mvn_deploy "$WORK/mvn-other"; then fail "the minted token for dev.cairn.tp:app deployed dev.cairn.tp:other"; fi
curl -fsS "$API/maven/main/dev/cairn/tp/app/maven-metadata.xml" | grep -q "<version>1.0.0</version>" \
  || fail "dev.cairn.tp:app 1.0.0 is not in the metadata"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$API/maven/main/dev/cairn/tp/other/1.0.0/other-1.0.0.pom")" = 404 ] \
  || fail "dev.cairn.tp:other was stored"
pass "Maven: mvn deploy with a token from /api/v1/oidc/exchange as the settings.xml password; another artifact is refused"

# Every exchange is in the audit log: 3 npm attempts, 2 PyPI, 2 Cargo, 1 Go, 1 Maven.
entries=$(curl -fsS -u "admin:$CAIRN_PASSWORD" "$API/api/v1/audit?action=oidc.exchange&limit=100")
ok=$(echo "$entries" | python3 -c 'import json,sys; print(sum(e["outcome"]=="ok" for e in json.load(sys.stdin)["entries"]))')
all=$(echo "$entries" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
[ "$ok" = 5 ] && [ "$all" = 9 ] || fail "audit: $ok granted of $all exchanges (expected 5 of 9): $entries"
pass "every exchange, granted or refused, is audited"
stop_cairn
