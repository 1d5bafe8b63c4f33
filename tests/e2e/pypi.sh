#!/usr/bin/env bash
# Real Python clients against a real `cairn serve`: twine uploads wheels and
# sdists (with `__token__` and an API token), the simple API in HTML and JSON
# (PEP 503/691/658/700), pip and uv install a package and its dependency,
# a re-upload is refused with "File already exists", a yanked version is
# skipped by a range but installed when pinned exactly, and names resolve
# under any spelling that normalises the same.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/lib.sh
PY="$PWD/.tools/py/bin"

NAME=${1:-pypi}
start_cairn "$NAME"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-pypi.XXXXXX")
trap 'kill $CAIRN_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
LOG="$OUT_DIR/$NAME-tools.log"; : > "$LOG"
BASE="http://$CAIRN_ADDR/pypi/main"
INDEX="$BASE/simple/"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 UV_CACHE_DIR="$WORK/uv-cache" UV_NO_PROGRESS=1

# An API token for twine, as `__token__`.
TOKEN=$(curl -fsS -u "admin:$CAIRN_PASSWORD" -H 'Content-Type: application/json' \
  -d '{"description":"twine","scopes":["pypi/**:read,publish"]}' "http://$CAIRN_ADDR/api/v1/tokens" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
export TWINE_USERNAME=__token__ TWINE_PASSWORD="$TOKEN" TWINE_NON_INTERACTIVE=1
twine() { "$PY/twine" upload --disable-progress-bar --repository-url "$BASE/" "$@"; }

python3 tests/e2e/mkdist.py "$WORK/dist" Helper-Lib 1.0
python3 tests/e2e/mkdist.py "$WORK/dist" Demo.Pkg 1.0.0 "helper-lib>=1.0"
python3 tests/e2e/mkdist.py "$WORK/dist" Demo.Pkg 1.0.1 "helper-lib>=1.0"
python3 tests/e2e/mkdist.py "$WORK/dist" Demo.Pkg 1.1.0 "helper-lib>=1.0"
twine "$WORK"/dist/*.whl "$WORK"/dist/*.tar.gz >>"$LOG" 2>&1 || { tail -20 "$LOG"; fail "twine upload"; }
pass "twine uploads wheels and sdists with a __token__ API token"

# Re-uploading a file is refused in PyPI's words.
if twine "$WORK/dist/demo_pkg-1.0.0-py3-none-any.whl" >"$WORK/out" 2>&1; then fail "re-upload accepted"; fi
grep -q "File already exists" "$WORK/out" || { cat "$WORK/out"; fail "twine did not show 'File already exists'"; }
# ... and a wrong password is a 401 for twine.
if TWINE_PASSWORD=wrong twine "$WORK/dist/demo_pkg-1.1.0.tar.gz" >"$WORK/out" 2>&1; then fail "a wrong credential uploaded"; fi
grep -q "401\|403" "$WORK/out" || { cat "$WORK/out"; fail "no 401 for a wrong credential"; }
pass "a re-upload is refused (400 File already exists); a bad credential is refused"

# The simple API, both ways, under any spelling.
curl -fsS -H 'Accept: application/vnd.pypi.simple.v1+json' "${INDEX}DEMO_pkg/" > "$WORK/project.json"
python3 - "$WORK/project.json" <<'PY' || fail "PEP 691 JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["meta"]["api-version"] == "1.3", d["meta"]
assert d["name"] == "demo-pkg", d["name"]
assert d["versions"] == ["1.0.0", "1.0.1", "1.1.0"], d["versions"]
wheels = [f for f in d["files"] if f["filename"].endswith(".whl")]
assert len(wheels) == 3 and len(d["files"]) == 6, d["files"]
for f in d["files"]:
    assert len(f["hashes"]["sha256"]) == 64 and f["size"] > 0 and f["upload-time"].endswith("Z"), f
    assert f["requires-python"] == ">=3.8", f
    assert f["yanked"] is False, f
for w in wheels:
    assert w["core-metadata"]["sha256"], w
PY
hdrs=$(curl -fsS -D - -o "$WORK/project.html" "${INDEX}demo-pkg/")
echo "$hdrs" | grep -qi '^vary: Accept' || fail "no Vary: Accept"
grep -q 'data-requires-python="&gt;=3.8"' "$WORK/project.html" || fail "PEP 503 HTML lacks data-requires-python"
grep -q 'data-core-metadata="sha256=' "$WORK/project.html" || fail "PEP 503 HTML lacks data-core-metadata"
# PEP 658: the metadata file is the wheel's METADATA, with the advertised hash.
url=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); w=[f for f in d["files"] if f["filename"].endswith(".whl")][0]; print(w["url"]+".metadata", w["core-metadata"]["sha256"])' "$WORK/project.json")
curl -fsS "${url% *}" -o "$WORK/METADATA"
[ "$(sha256sum "$WORK/METADATA" | cut -d' ' -f1)" = "${url#* }" ] || fail "PEP 658 metadata hash mismatch"
grep -q '^Requires-Dist: helper-lib>=1.0' "$WORK/METADATA" || fail "PEP 658 metadata content"
pass "simple API: PEP 691 JSON and PEP 503 HTML (Vary: Accept), PEP 658 metadata, PEP 700 fields, any name spelling"

# pip and uv install the newest version and its dependency.
"$PY/python" -m venv "$WORK/venv-pip"
"$WORK/venv-pip/bin/pip" install -q --index-url "$INDEX" demo.pkg >>"$LOG" 2>&1 || fail "pip install"
[ "$("$WORK/venv-pip/bin/python" -c 'import demo_pkg, helper_lib; print(demo_pkg.VERSION)')" = 1.1.0 ] || fail "pip installed the wrong version"
"$PY/uv" venv -q "$WORK/venv-uv" >>"$LOG" 2>&1
"$PY/uv" pip install -q --python "$WORK/venv-uv/bin/python" --index-url "$INDEX" Demo_Pkg >>"$LOG" 2>&1 || fail "uv pip install"
[ "$("$WORK/venv-uv/bin/python" -c 'import demo_pkg, helper_lib; print(demo_pkg.VERSION)')" = 1.1.0 ] || fail "uv installed the wrong version"
pass "pip and uv install demo-pkg 1.1.0 with its dependency from cairn"

# Yank 1.1.0 (the admin API; pip has no yank verb), with a reason.
curl -fsS -u "admin:$CAIRN_PASSWORD" -H 'Content-Type: application/json' \
  -d '{"action":"yank","reason":"broken build"}' "http://$CAIRN_ADDR/api/v1/packages/pypi/main/demo-pkg/versions/1.1.0" >>"$LOG"
curl -fsS -H 'Accept: application/vnd.pypi.simple.v1+json' "${INDEX}demo-pkg/" | grep -q '"yanked":"broken build"' || fail "no yank reason in JSON"
curl -fsS "${INDEX}demo-pkg/" | grep -q 'data-yanked="broken build"' || fail "no data-yanked in HTML"
for tool in pip uv; do
  rm -rf "$WORK/v"; "$PY/python" -m venv "$WORK/v"
  inst() {
    if [ $tool = pip ]; then "$WORK/v/bin/pip" install -q --index-url "$INDEX" "$@"
    else "$PY/uv" pip install -q --python "$WORK/v/bin/python" --index-url "$INDEX" "$@"; fi
  }
  inst 'demo-pkg>=1.0' >>"$LOG" 2>&1 || fail "$tool install of a range"
  [ "$("$WORK/v/bin/python" -c 'import demo_pkg; print(demo_pkg.VERSION)')" = 1.0.1 ] || fail "$tool chose a yanked version for a range"
  inst 'demo-pkg==1.1.0' >>"$LOG" 2>&1 || fail "$tool install of a yanked exact pin"
  [ "$("$WORK/v/bin/python" -c 'import demo_pkg; print(demo_pkg.VERSION)')" = 1.1.0 ] || fail "$tool did not install the pinned yanked version"
done
pass "a yanked version is skipped by a range (>=1.0 gives 1.0.1) and installed when pinned (==1.1.0), by pip and by uv"

# Unyank from the CLI brings it back for ranges.
"$CAIRN" package unyank --data-dir "$CAIRN_DATA/data" --format pypi --repository main demo-pkg 1.1.0 >>"$LOG" 2>&1 || fail "cairn package unyank"
curl -fsS -H 'Accept: application/vnd.pypi.simple.v1+json' "${INDEX}demo-pkg/" | grep -q '"yanked":"broken build"' && fail "still yanked"
pass "cairn package unyank"

stop_cairn
pass "PyPI suite done"
