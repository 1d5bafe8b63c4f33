#!/usr/bin/env bash
# Trusted publishing end to end with the real clients. A stand-in CI issuer
# on loopback (tests/e2e/oidc_issuer.py: its own key, discovery, JWKS and
# GitHub Actions' ID-token endpoint) signs the job's OIDC tokens; cairn
# exchanges them for short-lived tokens limited to one package:
# - npm obtains its token itself, through its own GitHub Actions flow
#   (ACTIONS_ID_TOKEN_REQUEST_URL, then /-/npm/v1/oidc/token/exchange/...);
# - twine and cargo publish with the tokens minted at the endpoints their CI
#   actions call (PyPI's /_/oidc/audience and /_/oidc/mint-token, crates.io's
#   /api/v1/trusted_publishing/tokens).
# A token from another repository's workflow, a replayed token, and a minted
# token used for another package are refused, and nothing is published.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/lib.sh
PY="$PWD/.tools/py/bin"

NAME=${1:-trusted-publishing}
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
pass "trusted publishers registered for one package each in npm, PyPI and Cargo repositories"

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

# Every exchange is in the audit log: 3 npm attempts, 2 PyPI, 2 Cargo.
entries=$(curl -fsS -u "admin:$CAIRN_PASSWORD" "$API/api/v1/audit?action=oidc.exchange&limit=100")
ok=$(echo "$entries" | python3 -c 'import json,sys; print(sum(e["outcome"]=="ok" for e in json.load(sys.stdin)["entries"]))')
all=$(echo "$entries" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
[ "$ok" = 3 ] && [ "$all" = 7 ] || fail "audit: $ok granted of $all exchanges (expected 3 of 7): $entries"
pass "every exchange, granted or refused, is audited"
stop_cairn
