#!/usr/bin/env bash
# The real go command against a real `cairn serve` as its GOPROXY, with
# versions published from git tags (file:// repositories made here):
# `go get` of a hosted module that depends on another hosted module, go.sum
# hashes equal to the ones cairn computed (and to what the go command
# computes itself fetching the same tag straight from git), `go list -m
# -versions`, a retraction taking effect, a moved tag refused, a module zip
# uploaded, a hostile zip refused, a GOPROXY list falling through on 404,
# and `cairn go publish` from the command line.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/lib.sh

NAME=${1:-go}
# The test's git repositories are file:// URLs on this machine.
export CAIRN_PACKAGES__GO_ALLOW_FILE_GIT=true
start_cairn "$NAME"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-go.XXXXXX")
trap 'kill $CAIRN_PID 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || { chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"; }' EXIT
LOG="$OUT_DIR/$NAME-tools.log"; : > "$LOG"
BASE="http://$CAIRN_ADDR/go/main"
# A go with no other source of modules: cairn, no checksum database for
# example.com (GONOSUMDB), a private module cache and git config.
export GOPROXY="$BASE" GONOSUMDB=example.com GOFLAGS=-mod=mod GOTOOLCHAIN=local \
  GOPATH="$WORK/gopath" GOMODCACHE="$WORK/modcache" GOCACHE="$WORK/gocache" \
  GIT_CONFIG_GLOBAL="$WORK/gitconfig" GIT_CONFIG_NOSYSTEM=1
git config --global user.email test@example.com
git config --global user.name test
git config --global init.defaultBranch main

TOKEN=$(curl -fsS -u "admin:$CAIRN_PASSWORD" -H 'Content-Type: application/json' \
  -d '{"description":"go","scopes":["go/**:read,publish,yank"]}' "http://$CAIRN_ADDR/api/v1/tokens" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# module_repo DIR MODULE GO-MOD-EXTRA: a git repository holding a module.
module_repo() {
  mkdir -p "$1"
  (cd "$1" && git init -q && printf 'module %s\n\ngo 1.21\n%s' "$2" "${3:-}" > go.mod)
}
tag() { (cd "$1" && git add -A && git commit -qm "$2" && git tag "$2"); }
# publish REPO-DIR MODULE VERSION [cairn repository]: prints the HTTP status, the body to $WORK/published.json
publish() {
  curl -sS -o "$WORK/published.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' \
    -d "{\"module\":\"$2\",\"version\":\"$3\",\"git\":\"file://$1\"}" "http://$CAIRN_ADDR/go/${4:-main}/-/publish"
}
field() { python3 -c "import json,sys; print(json.load(open('$WORK/published.json'))['$1'])"; }
# go_sum MODULE@VERSION: the h1: the go command computes for the module's zip
# as it downloads it (with the caller's GOPROXY, GOMODCACHE, ...).
go_sum() {
  go mod download -json "$1" 2>>"$LOG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Sum"])'
}

module_repo "$WORK/base" example.com/base
printf 'package base\n\nfunc Version() string { return "base v1.0.0" }\n' > "$WORK/base/base.go"
tag "$WORK/base" v1.0.0
printf 'package base\n\nfunc Version() string { return "base v1.1.0" }\n' > "$WORK/base/base.go"
tag "$WORK/base" v1.1.0
module_repo "$WORK/lib" example.com/lib 'require example.com/base v1.1.0
'
printf 'package lib\n\nimport "example.com/base"\n\nfunc Both() string { return "lib v0.1.0 + " + base.Version() }\n' > "$WORK/lib/lib.go"
tag "$WORK/lib" v0.1.0

[ "$(publish "$WORK/base" example.com/base v1.0.0)" = 201 ] || { cat "$WORK/published.json"; fail "publish base v1.0.0"; }
BASE_100_H1=$(field h1)
[ "$(publish "$WORK/base" example.com/base v1.1.0)" = 201 ] || fail "publish base v1.1.0"
BASE_110_H1=$(field h1)
[ "$(publish "$WORK/lib" example.com/lib v0.1.0)" = 201 ] || fail "publish lib v0.1.0"
LIB_H1=$(field h1); LIB_MOD_H1=$(field go_mod_h1)
pass "three versions published from git tags (file:// repositories)"

anon=$(curl -sS -o /dev/null -w '%{http_code}' -d '{"module":"example.com/x","version":"v1.0.0","git":"file:///nonexistent"}' "$BASE/-/publish")
[ "$anon" = 401 ] || fail "anonymous publish answered $anon"
[ "$(publish "$WORK/base" example.com/base v1.9.9)" = 400 ] || fail "publishing a missing tag"
grep -q "fetching tag v1.9.9" "$WORK/published.json" || fail "the refusal: $(cat "$WORK/published.json")"
pass "publishing without a credential is refused (401); a tag git cannot find is a 400 carrying git's message"

mkdir -p "$WORK/app"
(cd "$WORK/app" && printf 'module example.com/app\n\ngo 1.21\n' > go.mod \
  && printf 'package main\n\nimport (\n\t"fmt"\n\t"example.com/lib"\n)\n\nfunc main() { fmt.Println(lib.Both()) }\n' > main.go)
(cd "$WORK/app" && go get example.com/lib@v0.1.0 >>"$LOG" 2>&1) || { tail -20 "$LOG"; fail "go get example.com/lib"; }
out=$(cd "$WORK/app" && go run . 2>>"$LOG") || { tail -20 "$LOG"; fail "go run"; }
[ "$out" = "lib v0.1.0 + base v1.1.0" ] || fail "app printed $out"
grep -qxF "example.com/lib v0.1.0 $LIB_H1" "$WORK/app/go.sum" || { cat "$WORK/app/go.sum"; fail "go.sum lacks lib's zip hash as cairn computed it"; }
grep -qxF "example.com/lib v0.1.0/go.mod $LIB_MOD_H1" "$WORK/app/go.sum" || fail "go.sum lacks lib's go.mod hash"
grep -qxF "example.com/base v1.1.0 $BASE_110_H1" "$WORK/app/go.sum" || fail "go.sum lacks base's hash"
pass "go get of a hosted module depending on another; go run works; go.sum holds cairn's h1: hashes"

sum=$(go_sum example.com/base@v1.0.0)
[ "$sum" = "$BASE_100_H1" ] || fail "go mod download computed $sum, cairn $BASE_100_H1"
pass "go mod download -json: the go command's hash of the zip equals cairn's"

# The same tag fetched by the go command straight from git (GOPROXY=direct,
# git rewriting the https URL to the file:// repository) must hash the
# same as cairn's zip: cairn builds zips the way the go command does,
# including the files it leaves out.
module_repo "$WORK/direct.git" example.com/direct.git
(cd "$WORK/direct.git" && mkdir -p sub vendor/example.com/dep pkg/vendor docs \
  && printf 'package direct\n' > direct.go && printf 'module example.com/direct.git/sub\n' > sub/go.mod \
  && printf 'package sub\n' > sub/sub.go && printf '# example.com/dep\n' > vendor/modules.txt \
  && printf 'package dep\n' > vendor/example.com/dep/dep.go && printf 'package vendor\n' > pkg/vendor/vendor.go \
  && printf 'secret\n' > docs/internal.txt && printf 'docs/internal.txt export-ignore\n' > .gitattributes \
  && ln -s direct.go link.go && printf 'crlf\r\n' > crlf.txt && printf 'MIT\n' > LICENSE)
tag "$WORK/direct.git" v1.0.0
(cd "$WORK/direct.git" && git tag sub/v1.0.0)
[ "$(publish "$WORK/direct.git" example.com/direct.git v1.0.0)" = 201 ] || { cat "$WORK/published.json"; fail "publish direct.git"; }
DIRECT_H1=$(field h1)
# The nested module, from its subdirectory and its prefixed tag (sub/v1.0.0).
code=$(curl -sS -o "$WORK/published.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d "{\"module\":\"example.com/direct.git/sub\",\"version\":\"v1.0.0\",\"git\":\"file://$WORK/direct.git\",\"dir\":\"sub\"}" "$BASE/-/publish")
[ "$code" = 201 ] || { cat "$WORK/published.json"; fail "publish the nested module"; }
SUB_H1=$(field h1)
git config --global url."file://$WORK/".insteadOf "https://example.com/"
direct=$(GOPROXY=direct GOPRIVATE=example.com GOMODCACHE="$WORK/modcache-direct" go_sum example.com/direct.git@v1.0.0) \
  || { tail -20 "$LOG"; fail "go mod download straight from git"; }
direct_sub=$(GOPROXY=direct GOPRIVATE=example.com GOMODCACHE="$WORK/modcache-direct" go_sum example.com/direct.git/sub@v1.0.0) \
  || { tail -20 "$LOG"; fail "go mod download of the nested module straight from git"; }
git config --global --unset url."file://$WORK/".insteadOf
[ "$direct" = "$DIRECT_H1" ] || fail "the go command hashed the tag as $direct, cairn as $DIRECT_H1"
[ "$direct_sub" = "$SUB_H1" ] || fail "the go command hashed the nested module as $direct_sub, cairn as $SUB_H1"
python3 -c "import zipfile,io,urllib.request; n=zipfile.ZipFile(io.BytesIO(urllib.request.urlopen('$BASE/example.com/direct.git/sub/@v/v1.0.0.zip').read())).namelist(); assert 'example.com/direct.git/sub@v1.0.0/LICENSE' in n, n" \
  || fail "the nested module lacks the root LICENSE"
python3 -c "import zipfile,io,sys,urllib.request; [print(n) for n in zipfile.ZipFile(io.BytesIO(urllib.request.urlopen('$BASE/example.com/direct.git/@v/v1.0.0.zip').read())).namelist()]" > "$WORK/direct.list"
grep -q "docs/internal.txt" "$WORK/direct.list" || fail "export-ignore applied (the go command ignores it)"
for gone in sub/ vendor/example.com link.go; do
  if grep -q "$gone" "$WORK/direct.list"; then fail "the zip holds $gone"; fi
done
grep -q "pkg/vendor/vendor.go" "$WORK/direct.list" && fail "pre-1.24 rule: pkg/vendor/vendor.go is left out"
pass "a tag with a nested module, vendor/, .gitattributes export-ignore, a symlink and CRLF hashes as the go command's own direct fetch ($DIRECT_H1); so does the nested module from its sub/v1.0.0 tag, with the root LICENSE"

versions=$(go list -m -versions example.com/base)
[ "$versions" = "example.com/base v1.0.0 v1.1.0" ] || fail "go list -m -versions: $versions"
pass "go list -m -versions lists the published versions"

# Retraction: v1.2.0's go.mod retracts v1.1.0 and itself.
(cd "$WORK/base" && printf 'module example.com/base\n\ngo 1.21\n\nretract (\n\tv1.1.0 // broken Version()\n\tv1.2.0 // only carries the retraction\n)\n' > go.mod)
tag "$WORK/base" v1.2.0
[ "$(publish "$WORK/base" example.com/base v1.2.0)" = 201 ] || fail "publish base v1.2.0"
latest=$(curl -fsS "$BASE/example.com/base/@latest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Version"])')
[ "$latest" = v1.0.0 ] || fail "@latest is $latest"
versions=$(go list -m -versions example.com/base)
[ "$versions" = "example.com/base v1.0.0" ] || fail "go list -m -versions after the retraction: $versions"
retracted=$(go list -m -retracted -versions example.com/base)
[ "$retracted" = "example.com/base v1.0.0 v1.1.0 v1.2.0" ] || fail "go list -m -retracted -versions: $retracted"
mkdir -p "$WORK/app2" && (cd "$WORK/app2" && printf 'module example.com/app2\n\ngo 1.21\n' > go.mod \
  && go get example.com/base@latest >>"$LOG" 2>&1 && grep -q "example.com/base v1.0.0" go.mod) || fail "go get @latest did not choose v1.0.0"
(cd "$WORK/app2" && go get example.com/base@v1.1.0 >"$WORK/retracted.log" 2>&1) || fail "a retracted version is no longer downloadable"
grep -q "retracted by module author: broken Version()" "$WORK/retracted.log" || { cat "$WORK/retracted.log"; fail "go did not warn about the retraction"; }
pass "a retraction takes effect: @latest and go get skip v1.1.0 and v1.2.0, -retracted lists them, v1.1.0 still downloads with go's warning"

# A moved tag: the stored version is kept and the mismatch reported.
(cd "$WORK/base" && git tag -d v1.0.0 >/dev/null && printf 'package base\n\nfunc Version() string { return "moved" }\n' > base.go \
  && git commit -qam moved && git tag v1.0.0)
code=$(publish "$WORK/base" example.com/base v1.0.0)
[ "$code" = 409 ] || fail "republishing a moved tag answered $code"
grep -q "already stored with $BASE_100_H1" "$WORK/published.json" || { cat "$WORK/published.json"; fail "the refusal does not name the stored hash"; }
sum=$(GOMODCACHE="$WORK/modcache3" go_sum example.com/base@v1.0.0)
[ "$sum" = "$BASE_100_H1" ] || fail "v1.0.0 changed after the tag moved"
[ "$(publish "$WORK/lib" example.com/lib v0.1.0)" = 200 ] || fail "publishing an unchanged tag again is not a no-op"
pass "a moved tag is refused (409, naming the stored h1:) and v1.0.0 keeps its bytes; an unchanged tag again is a no-op (200)"

# A module zip uploaded, then fetched by go.
python3 - "$WORK/zipped.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("example.com/zipped@v0.3.0/go.mod", "module example.com/zipped\n\ngo 1.21\n")
    z.writestr("example.com/zipped@v0.3.0/z.go", "package zipped\n")
PY
code=$(curl -sS -o "$WORK/published.json" -w '%{http_code}' -X PUT -H "Authorization: Bearer $TOKEN" \
  --data-binary @"$WORK/zipped.zip" "$BASE/example.com/zipped/@v/v0.3.0.zip")
[ "$code" = 201 ] || { cat "$WORK/published.json"; fail "uploading a module zip answered $code"; }
sum=$(go_sum example.com/zipped@v0.3.0)
[ "$sum" = "$(field h1)" ] || fail "the uploaded module hashes differently"
pass "a module zip uploaded with PUT is served and verified by go mod download"

python3 - "$WORK/evil.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("example.com/evil@v0.1.0/go.mod", "module example.com/evil\n")
    z.writestr("example.com/evil@v0.1.0/../../escape.go", "package evil\n")
PY
code=$(curl -sS -o "$WORK/evil.out" -w '%{http_code}' -X PUT -H "Authorization: Bearer $TOKEN" \
  --data-binary @"$WORK/evil.zip" "$BASE/example.com/evil/@v/v0.1.0.zip")
[ "$code" = 400 ] || fail "a zip with ../ answered $code"
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/example.com/evil/@v/list")" = 404 ] || fail "the refused module was stored"
pass "a zip with a path escaping the module is refused (400: $(head -c 90 "$WORK/evil.out")) and nothing is stored"

# A GOPROXY list: a 404 from the first proxy falls through to the next.
module_repo "$WORK/other" example.com/other
printf 'package other\n' > "$WORK/other/other.go"; tag "$WORK/other" v0.0.1
[ "$(publish "$WORK/other" example.com/other v0.0.1 second)" = 201 ] || fail "publish to the second repository"
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/example.com/other/@v/list")" = 404 ] || fail "not a 404"
GOPROXY="$BASE,http://$CAIRN_ADDR/go/second" GOMODCACHE="$WORK/modcache4" \
  go mod download example.com/other@v0.0.1 >>"$LOG" 2>&1 || { tail -5 "$LOG"; fail "the GOPROXY list did not fall through"; }
pass "GOPROXY=first,second: the first repository's 404 falls through to the second"

# The command line publishes from a tag too (straight to the stores).
(cd "$WORK/other" && printf 'package other\n\nconst V = 2\n' > other.go); tag "$WORK/other" v0.0.2
"$CAIRN" go publish --data-dir "$CAIRN_DATA/data" --repository second --module example.com/other \
  --version v0.0.2 --git "file://$WORK/other" > "$WORK/cli.out" 2>>"$LOG" || { tail -5 "$LOG"; fail "cairn go publish"; }
grep -q "example.com/other v0.0.2 h1:" "$WORK/cli.out" || fail "cairn go publish printed $(cat "$WORK/cli.out")"
[ "$(curl -fsS "http://$CAIRN_ADDR/go/second/example.com/other/@v/list" | tr '\n' ' ')" = "v0.0.1 v0.0.2 " ] || fail "the CLI-published version is not listed"
pass "cairn go publish stores a tag from the command line, served at once by the running server"

# The repository's own checksum database: GOSUMDB set to its key (from
# `cairn go sumdb-key`), nothing exempt (GONOSUMDB empty), cairn the only
# source. The go command looks every module up in it and checks the tiles.
KEY=$("$CAIRN" go sumdb-key --data-dir "$CAIRN_DATA/data" --repository main 2>>"$LOG") || fail "cairn go sumdb-key"
case "$KEY" in main.sum.cairn+*+*) ;; *) fail "cairn go sumdb-key printed $KEY" ;; esac
mkdir -p "$WORK/app2"
(cd "$WORK/app2" && printf 'module example.com/app2\n\ngo 1.21\n' > go.mod \
  && printf 'package main\n\nimport (\n\t"fmt"\n\t"example.com/lib"\n)\n\nfunc main() { fmt.Println(lib.Both()) }\n' > main.go)
sumdb_go() { env GONOSUMDB= GOSUMDB="$KEY" GOPATH="$WORK/gopath-sumdb" GOMODCACHE="$WORK/modcache-sumdb" "$@"; }
(cd "$WORK/app2" && sumdb_go go get example.com/lib@v0.1.0 >>"$LOG" 2>&1) || { tail -20 "$LOG"; fail "go get with cairn's GOSUMDB"; }
[ -s "$WORK/gopath-sumdb/pkg/sumdb/main.sum.cairn/latest" ] || fail "the go command kept no tree of main.sum.cairn"
grep -qxF "example.com/lib v0.1.0 $LIB_H1" "$WORK/app2/go.sum" || fail "go.sum lacks lib's hash"
curl -fsS "$BASE/sumdb/main.sum.cairn/lookup/example.com/base@v1.1.0" | grep -qF "example.com/base v1.1.0 $BASE_110_H1" \
  || fail "the lookup does not answer base's record"
(cd "$WORK/app2" && sumdb_go go mod download example.com/base@v1.0.0 >>"$LOG" 2>&1) || { tail -20 "$LOG"; fail "a later lookup (the tree grew; the go command checks it extends the one it saw)"; }
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/sumdb/other.sum.cairn/latest")" = 404 ] || fail "another database name answered"
pass "GOSUMDB=\$(cairn go sumdb-key): go get checks lib and base against the repository's own signed log, and a later lookup extends the tree the go command saw"

# A zip changed on its way (a mirror between the go command and cairn
# serving other bytes for a logged version), with the checksum database
# reached at cairn directly: the go command refuses it.
module_repo "$WORK/tampered" example.com/tampered
printf 'package tampered\n' > "$WORK/tampered/t.go"; tag "$WORK/tampered" v1.0.0
[ "$(publish "$WORK/tampered" example.com/tampered v1.0.0)" = 201 ] || fail "publish example.com/tampered"
# The same module's files, one of them changed.
curl -fsS "$BASE/example.com/tampered/@v/v1.0.0.zip" > "$WORK/orig.zip"
python3 - "$WORK/orig.zip" "$WORK/other.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as src, zipfile.ZipFile(sys.argv[2], "w") as dst:
    for info in src.infolist():
        data = src.read(info)
        if info.filename.endswith("t.go"):
            data += b"\nfunc Backdoor() {}\n"
        dst.writestr(info.filename, data)
PY
MIRROR_PORT=$(free_port)
python3 - "$MIRROR_PORT" "$BASE" "$WORK/other.zip" >>"$LOG" 2>&1 <<'PY' &
import http.server, sys, urllib.request
port, base, other = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "rb").read()
class Mirror(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/example.com/tampered/@v/v1.0.0.zip"):
            body, status = other, 200
        else:
            try:
                with urllib.request.urlopen(base + self.path) as r:
                    body, status = r.read(), r.status
            except urllib.error.HTTPError as e:
                body, status = e.read(), e.code
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", port), Mirror).serve_forever()
PY
MIRROR_PID=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$MIRROR_PORT/example.com/tampered/@v/list" >/dev/null 2>&1 && break; sleep 0.1; done
mkdir -p "$WORK/app3" && (cd "$WORK/app3" && printf 'module example.com/app3\n\ngo 1.21\n' > go.mod)
if (cd "$WORK/app3" && GOPROXY="http://127.0.0.1:$MIRROR_PORT" GOPATH="$WORK/gopath-tamper" GOMODCACHE="$WORK/modcache-tamper" \
    env GONOSUMDB= GOSUMDB="$KEY $BASE/sumdb/main.sum.cairn" go mod download example.com/tampered@v1.0.0 > "$WORK/tamper.out" 2>&1); then
  kill "$MIRROR_PID"; fail "a changed zip was accepted"
fi
kill "$MIRROR_PID"
grep -q "SECURITY ERROR" "$WORK/tamper.out" || { cat "$WORK/tamper.out"; fail "no SECURITY ERROR for the changed zip"; }
pass "a module zip changed between cairn and the go command fails the go command's check: $(grep -m1 -o 'SECURITY ERROR.*' "$WORK/tamper.out")"

stop_cairn
pass "cairn stopped cleanly"
