#!/usr/bin/env bash
# The real npm client (and pnpm and yarn installing) against a real `cairn
# serve`: login, publish (plain, scoped with --access, with --tag), install a
# package that depends on another, publishing over a version refused,
# dist-tag add/ls/rm, deprecate and undeprecate, unpublish refused while
# another package depends on it, unpublish of a version and of a whole
# package (and the version never coming back), view, search, whoami, ping,
# npm token create (read-only, per package) / list / revoke.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/lib.sh
export PATH="$PWD/.tools/node/node_modules/.bin:$PATH"

NAME=${1:-npm}
start_cairn "$NAME"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-npm.XXXXXX")
trap 'kill $CAIRN_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
LOG="$OUT_DIR/$NAME-tools.log"; : > "$LOG"
REG="http://$CAIRN_ADDR/npm/main/"
export npm_config_cache="$WORK/cache" npm_config_userconfig="$WORK/npmrc" npm_config_audit=false \
  npm_config_fund=false npm_config_update_notifier=false

# --- npm login's request (the legacy CouchDB flow npm sends) gives a token.
TOKEN=$(curl -fsS -X PUT -H 'Content-Type: application/json' \
  -d "{\"name\":\"admin\",\"password\":\"$CAIRN_PASSWORD\"}" \
  "${REG}-/user/org.couchdb.user:admin" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
[ -n "$TOKEN" ] || fail "npm login gave no token"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
  -d '{"name":"admin","password":"wrong"}' "${REG}-/user/org.couchdb.user:admin")
[ "$code" = 401 ] || fail "a wrong password logged in ($code)"
printf 'registry=%s\n//%s/npm/main/:_authToken=%s\n' "$REG" "$CAIRN_ADDR" "$TOKEN" > "$WORK/npmrc"
pass "npm login (CouchDB flow) issues a token; a wrong password is refused"

[ "$(npm whoami 2>>"$LOG")" = admin ] || fail "npm whoami"
npm ping >>"$LOG" 2>&1 || fail "npm ping"
pass "npm whoami and npm ping"

# make_pkg DIR NAME VERSION [DEPS-JSON]
make_pkg() {
  mkdir -p "$1"
  cat > "$1/package.json" <<EOF
{"name": "$2", "version": "$3", "description": "cairn test package $2", "main": "index.js",
 "license": "MIT", "dependencies": ${4:-{\}}}
EOF
  echo "module.exports = '$2@$3';" > "$1/index.js"
}

# --- npm token create (read-only, and for named packages) / list / revoke.
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
RO=$(npm token create --password="$CAIRN_PASSWORD" --name ci-read --packages-and-scopes-permission read-only --json 2>>"$LOG" | json '["token"]') \
  || fail "npm token create (read-only)"
ONE=$(npm token create --password="$CAIRN_PASSWORD" --name only-one --packages one-pkg --json 2>>"$LOG" | json '["token"]') \
  || fail "npm token create --packages"
if npm token create --password wrong --json >>"$LOG" 2>&1; then fail "npm token create with a wrong password"; fi
npm token list --json 2>>"$LOG" > "$WORK/tokens.json" || fail "npm token list"
for n in ci-read only-one "npm login"; do
  grep -q "\"name\": \"$n\"" "$WORK/tokens.json" || fail "npm token list lacks $n: $(cat "$WORK/tokens.json")"
done
RO_KEY=$(python3 -c 'import json,sys; print([t for t in json.load(open(sys.argv[1])) if t["name"]=="ci-read"][0]["key"])' "$WORK/tokens.json")
put_status() { # TOKEN NAME
  curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d "{\"name\":\"$2\",\"versions\":{},\"_attachments\":{\"x.tgz\":{\"data\":\"\"}}}" "${REG}$2"
}
[ "$(put_status "$RO" lib-z)" = 403 ] || fail "a read-only npm token could publish"
[ "$(put_status "$ONE" lib-z)" = 403 ] || fail "a token for one-pkg could publish lib-z"
make_pkg "$WORK/one" one-pkg 1.0.0
(cd "$WORK/one" && npm publish "--//$CAIRN_ADDR/npm/main/:_authToken=$ONE" >>"$LOG" 2>&1) \
  || fail "npm publish with a token for exactly that package"
npm token revoke "$RO_KEY" >>"$LOG" 2>&1 || fail "npm token revoke"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $RO" "${REG}-/whoami")" = 401 ] \
  || fail "a revoked npm token still authenticates"
pass "npm token create (read-only, per package), list and revoke"


make_pkg "$WORK/lib1" lib-a 1.0.0
(cd "$WORK/lib1" && npm publish >>"$LOG" 2>&1) || fail "npm publish lib-a@1.0.0"
make_pkg "$WORK/lib2" lib-a 1.1.0
(cd "$WORK/lib2" && npm publish --tag next >>"$LOG" 2>&1) || fail "npm publish --tag next"
make_pkg "$WORK/app" app-b 2.0.0 '{"lib-a": "^1.0.0"}'
(cd "$WORK/app" && npm publish >>"$LOG" 2>&1) || fail "npm publish app-b"
make_pkg "$WORK/scoped" @team/util 0.1.0
(cd "$WORK/scoped" && npm publish --access public >>"$LOG" 2>&1) || fail "npm publish scoped --access public"
pass "npm publish: plain, --tag next, with a dependency, scoped with --access public"

tags=$(npm dist-tag ls lib-a 2>>"$LOG")
echo "$tags" | grep -qx 'latest: 1.0.0' || fail "latest should stay 1.0.0 after --tag next: $tags"
echo "$tags" | grep -qx 'next: 1.1.0' || fail "next tag: $tags"

# --- install: app-b pulls lib-a from cairn, integrity checked by npm.
mkdir -p "$WORK/consumer" && cd "$WORK/consumer"
echo '{"name":"consumer","version":"1.0.0","private":true}' > package.json
npm install app-b @team/util >>"$LOG" 2>&1 || fail "npm install app-b @team/util"
[ "$(node -p "require('app-b/package.json').version")" = 2.0.0 ] || fail "app-b version"
[ "$(node -p "require('lib-a')")" = "lib-a@1.0.0" ] || fail "lib-a resolved through the latest tag"
[ "$(node -p "require('@team/util')")" = "@team/util@0.1.0" ] || fail "scoped install"
grep -q '"integrity": "sha512-' package-lock.json || fail "package-lock.json has no sha512 integrity"
pass "npm install resolves a dependency from cairn and verifies sha512 integrity"
cd - >/dev/null

# --- immutability: the same version again is refused, in npm's words.
make_pkg "$WORK/lib1b" lib-a 1.0.0
echo "// changed" >> "$WORK/lib1b/index.js"
if (cd "$WORK/lib1b" && npm publish >"$WORK/out" 2>&1); then fail "republishing lib-a@1.0.0 succeeded"; fi
grep -q "cannot publish over the previously published versions" "$WORK/out" || { cat "$WORK/out"; fail "no npm-style refusal"; }
pass "publishing over lib-a@1.0.0 is refused (403, npm's message)"

# --- dist-tags.
npm dist-tag add lib-a@1.1.0 beta >>"$LOG" 2>&1 || fail "dist-tag add"
npm dist-tag ls lib-a 2>>"$LOG" | grep -qx 'beta: 1.1.0' || fail "dist-tag ls after add"
npm dist-tag rm lib-a beta >>"$LOG" 2>&1 || fail "dist-tag rm"
if npm dist-tag ls lib-a 2>>"$LOG" | grep -q beta; then fail "beta still there after rm"; fi
pass "npm dist-tag add / ls / rm"

# --- deprecate, seen by view and by install; then undeprecate.
npm deprecate lib-a@1.0.0 "use lib-a 1.1 instead" >>"$LOG" 2>&1 || fail "npm deprecate"
[ "$(npm view lib-a@1.0.0 deprecated 2>>"$LOG")" = "use lib-a 1.1 instead" ] || fail "npm view shows no deprecation"
mkdir -p "$WORK/consumer2" && cd "$WORK/consumer2"
echo '{"name":"consumer2","version":"1.0.0","private":true}' > package.json
npm install lib-a@1.0.0 > "$WORK/out" 2>&1 || fail "installing a deprecated version"
grep -qi "deprecated.*use lib-a 1.1 instead" "$WORK/out" || { cat "$WORK/out"; fail "npm install did not warn about the deprecation"; }
cd - >/dev/null
npm deprecate lib-a@1.0.0 "" >>"$LOG" 2>&1 || fail "npm undeprecate"
[ -z "$(npm view lib-a@1.0.0 deprecated 2>>"$LOG")" ] || fail "still deprecated after undeprecate"
pass "npm deprecate (shown by view and install) and undeprecate"

# --- unpublish refused while app-b depends on lib-a; the error says why.
if npm unpublish lib-a@1.1.0 >"$WORK/out" 2>&1; then fail "unpublished a depended-on package"; fi
grep -q "depend on it (app-b@2.0.0)" "$WORK/out" || { cat "$WORK/out"; fail "refusal does not name the dependent"; }
grep -q "Deprecate or yank" "$WORK/out" || fail "refusal does not suggest deprecate"
pass "npm unpublish refused while another package depends on it, naming the dependent"

# --- unpublish one version, then the whole package; versions never return.
make_pkg "$WORK/c1" lib-c 1.0.0; (cd "$WORK/c1" && npm publish >>"$LOG" 2>&1) || fail "publish lib-c 1.0.0"
make_pkg "$WORK/c2" lib-c 1.0.1; (cd "$WORK/c2" && npm publish >>"$LOG" 2>&1) || fail "publish lib-c 1.0.1"
npm unpublish lib-c@1.0.1 >>"$LOG" 2>&1 || fail "npm unpublish lib-c@1.0.1"
[ "$(npm view lib-c versions --json 2>>"$LOG" | tr -d ' \n')" = '"1.0.0"' ] \
  || [ "$(npm view lib-c versions --json 2>>"$LOG" | tr -d ' \n')" = '["1.0.0"]' ] || fail "1.0.1 still listed"
[ "$(npm view lib-c dist-tags.latest 2>>"$LOG")" = 1.0.0 ] || fail "latest not moved back to 1.0.0"
code=$(curl -s -o /dev/null -w '%{http_code}' "${REG}lib-c/-/lib-c-1.0.1.tgz")
[ "$code" = 410 ] || fail "the unpublished tarball answered $code, not 410"
if (cd "$WORK/c2" && npm publish >"$WORK/out" 2>&1); then fail "re-published an unpublished version"; fi
grep -q "cannot publish over the previously published versions" "$WORK/out" || { cat "$WORK/out"; fail "no refusal"; }
npm unpublish lib-c --force >>"$LOG" 2>&1 || fail "npm unpublish lib-c --force"
if npm view lib-c >/dev/null 2>&1; then fail "lib-c still visible after unpublishing the package"; fi
pass "npm unpublish of a version and of a package; the version is never reusable"

# --- view and search.
[ "$(npm view app-b dependencies.lib-a 2>>"$LOG")" = "^1.0.0" ] || fail "npm view"
npm search --searchlimit 10 lib- > "$WORK/out" 2>>"$LOG" || fail "npm search"
grep -q "lib-a" "$WORK/out" || { cat "$WORK/out"; fail "npm search found no lib-a"; }
pass "npm view and npm search"

# --- anonymous reads work; anonymous and read-only writes are refused.
ANON="$WORK/anon-npmrc"; printf 'registry=%s\n' "$REG" > "$ANON"
npm_config_userconfig="$ANON" npm view lib-a version >>"$LOG" 2>&1 || fail "anonymous npm view"
make_pkg "$WORK/anon" lib-anon 1.0.0
if (cd "$WORK/anon" && npm_config_userconfig="$ANON" npm publish >"$WORK/out" 2>&1); then fail "anonymous publish"; fi
grep -q "ENEEDAUTH" "$WORK/out" || { cat "$WORK/out"; fail "npm published without a credential"; }
# ... and the server refuses it too when a client sends it anyway, in npm's error shape.
code=$(curl -s -o "$WORK/out" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' -d '{}' "${REG}lib-anon")
[ "$code" = 401 ] && grep -q '"error"' "$WORK/out" || fail "anonymous PUT answered $code: $(cat "$WORK/out")"
pass "anonymous reads work; an anonymous publish is refused (401)"

# --- pnpm and yarn install from cairn.
mkdir -p "$WORK/pnpm" && cd "$WORK/pnpm"
echo '{"name":"p","version":"1.0.0","private":true}' > package.json
printf 'registry=%s\n' "$REG" > .npmrc
pnpm install app-b --store-dir "$WORK/pnpm-store" >>"$LOG" 2>&1 || fail "pnpm install"
[ "$(node -p "require('app-b')")" = "app-b@2.0.0" ] || fail "pnpm installed the wrong app-b"
cd - >/dev/null
mkdir -p "$WORK/yarn" && cd "$WORK/yarn"
echo '{"name":"y","version":"1.0.0","private":true}' > package.json
printf 'registry "%s"\n' "$REG" > .yarnrc
yarn add app-b --cache-folder "$WORK/yarn-cache" --registry "$REG" >>"$LOG" 2>&1 || fail "yarn add"
[ "$(node -p "require('lib-a')")" = "lib-a@1.0.0" ] || fail "yarn resolved the wrong lib-a"
grep -q "$CAIRN_ADDR/npm/main/lib-a/-/lib-a-1.0.0.tgz" yarn.lock || fail "yarn.lock does not point at cairn"
cd - >/dev/null
pass "pnpm and yarn install from cairn"

stop_cairn
pass "npm suite done"
