#!/usr/bin/env bash
# The real cargo against a real `cairn serve` through the sparse index:
# `cargo login`, publish two crates where one depends on the other, build a
# third project that resolves both from cairn, republishing refused
# ("crate version already exists"), yank: a fresh resolve avoids the yanked
# version while an existing Cargo.lock still builds (with an empty cargo
# home, so the yanked .crate is downloaded again), yank --undo, owners,
# search.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/lib.sh

NAME=${1:-cargo}
start_cairn "$NAME"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-cargo.XXXXXX")
trap 'kill $CAIRN_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
LOG="$OUT_DIR/$NAME-tools.log"; : > "$LOG"
INDEX="sparse+http://$CAIRN_ADDR/cargo/main/index/"
# A private cargo home: this registry and nothing else.
new_home() {
  mkdir -p "$1"
  printf '[registries.cairn]\nindex = "%s"\n[net]\nretry = 0\n' "$INDEX" > "$1/config.toml"
}
export CARGO_HOME="$WORK/home" CARGO_TARGET_DIR="$WORK/target" CARGO_TERM_COLOR=never
new_home "$CARGO_HOME"

curl -fsS "http://$CAIRN_ADDR/cargo/main/index/config.json" | grep -q '"dl":"http://' || fail "config.json"
TOKEN=$(curl -fsS -u "admin:$CAIRN_PASSWORD" -H 'Content-Type: application/json' \
  -d '{"description":"cargo","scopes":["cargo/**:read,publish,yank"]}' "http://$CAIRN_ADDR/api/v1/tokens" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
echo "$TOKEN" | cargo login --registry cairn >>"$LOG" 2>&1 || fail "cargo login"
pass "cargo login stores an API token for the registry"

# make_crate DIR NAME VERSION [DEPENDENCY-LINES]
make_crate() {
  mkdir -p "$1/src"
  printf '[package]\nname = "%s"\nversion = "%s"\nedition = "2021"\ndescription = "cairn test crate %s"\nlicense = "MIT"\n\n[dependencies]\n%s\n' \
    "$2" "$3" "$2" "${4:-}" > "$1/Cargo.toml"
  echo "pub fn version() -> &'static str { \"$2 $3\" }" > "$1/src/lib.rs"
}
publish() { (cd "$1" && cargo publish --registry cairn --allow-dirty "${@:2}" >>"$LOG" 2>&1); }

make_crate "$WORK/base1" base-lib 0.1.0
publish "$WORK/base1" || { tail -20 "$LOG"; fail "cargo publish base-lib 0.1.0"; }
make_crate "$WORK/base2" base-lib 0.1.1
publish "$WORK/base2" || fail "cargo publish base-lib 0.1.1"
make_crate "$WORK/mid" mid-lib 1.0.0 'base-lib = { version = "0.1", registry = "cairn" }'
echo 'pub fn both() -> String { format!("{} + {}", env!("CARGO_PKG_NAME"), base_lib::version()) }' >> "$WORK/mid/src/lib.rs"
publish "$WORK/mid" || { tail -20 "$LOG"; fail "cargo publish mid-lib (verified against cairn)"; }
pass "cargo publish of base-lib 0.1.0, 0.1.1 and mid-lib depending on it (verify build resolves from cairn)"

mkdir -p "$WORK/app/src"
printf '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nmid-lib = { version = "1", registry = "cairn" }\n' > "$WORK/app/Cargo.toml"
echo 'fn main() { println!("{}", mid_lib::both()); }' > "$WORK/app/src/main.rs"
out=$(cd "$WORK/app" && cargo run -q 2>>"$LOG") || { tail -20 "$LOG"; fail "cargo run of a project depending on mid-lib"; }
[ "$out" = "mid-lib + base-lib 0.1.1" ] || fail "app printed $out"
grep -A1 'name = "base-lib"' "$WORK/app/Cargo.lock" | grep -q '0.1.1' || fail "Cargo.lock lacks base-lib 0.1.1"
pass "a third project resolves mid-lib and base-lib 0.1.1 from cairn and runs"

# The same version again is refused: cargo itself checks the index first,
# and the server refuses the upload cargo would send (rebuilt here from the
# packaged .crate, since cargo will not send it).
if publish "$WORK/base2" --no-verify 2>/dev/null; then fail "republished base-lib 0.1.1"; fi
tail -3 "$LOG" | grep -q "already exists" || { tail -5 "$LOG"; fail "cargo did not refuse"; }
(cd "$WORK/base2" && cargo package --allow-dirty --no-verify >>"$LOG" 2>&1) || fail "cargo package"
python3 - "$WORK/target/package/base-lib-0.1.1.crate" "http://$CAIRN_ADDR/cargo/main/api/v1/crates/new" "$TOKEN" <<'PY' || fail "the server accepted a republish"
import json, struct, sys, urllib.request, urllib.error
crate = open(sys.argv[1], "rb").read()
meta = json.dumps({"name": "base-lib", "vers": "0.1.1", "deps": [], "features": {}}).encode()
body = struct.pack("<I", len(meta)) + meta + struct.pack("<I", len(crate)) + crate
req = urllib.request.Request(sys.argv[2], data=body, method="PUT", headers={"Authorization": sys.argv[3]})
try:
    urllib.request.urlopen(req)
    sys.exit(1)
except urllib.error.HTTPError as e:
    detail = json.load(e)["errors"][0]["detail"]
    assert e.code == 400 and "crate version already exists" in detail, (e.code, detail)
PY
pass "republishing base-lib 0.1.1 is refused by cargo and by the server: crate version already exists"

# Yank 0.1.1: a fresh resolve avoids it; the existing lock still builds.
cargo yank --registry cairn base-lib@0.1.1 >>"$LOG" 2>&1 || fail "cargo yank"
curl -fsS "http://$CAIRN_ADDR/cargo/main/index/ba/se/base-lib" | grep '"vers":"0.1.1"' | grep -q '"yanked":true' || fail "index does not show the yank"
cp -r "$WORK/app" "$WORK/app-fresh"; rm "$WORK/app-fresh/Cargo.lock"
(cd "$WORK/app-fresh" && cargo generate-lockfile >>"$LOG" 2>&1) || fail "fresh resolve"
grep -A1 'name = "base-lib"' "$WORK/app-fresh/Cargo.lock" | grep -q '0.1.0' || fail "a fresh resolve chose the yanked 0.1.1"
export CARGO_HOME="$WORK/home2"; new_home "$CARGO_HOME"
out=$(cd "$WORK/app" && CARGO_TARGET_DIR="$WORK/target2" cargo run -q --locked 2>>"$LOG") || { tail -20 "$LOG"; fail "the existing Cargo.lock no longer builds"; }
[ "$out" = "mid-lib + base-lib 0.1.1" ] || fail "locked build printed $out"
export CARGO_HOME="$WORK/home"
pass "after cargo yank: a fresh resolve picks 0.1.0; the existing Cargo.lock still builds 0.1.1 (downloaded afresh)"
cargo yank --registry cairn --undo base-lib@0.1.1 >>"$LOG" 2>&1 || fail "cargo yank --undo"
curl -fsS "http://$CAIRN_ADDR/cargo/main/index/ba/se/base-lib" | grep '"vers":"0.1.1"' | grep -q '"yanked":false' || fail "still yanked after --undo"
pass "cargo yank --undo"

# Owners and search.
curl -fsS -u "admin:$CAIRN_PASSWORD" -H 'Content-Type: application/json' -d '{"name":"alice"}' \
  "http://$CAIRN_ADDR/api/v1/users" >>"$LOG" || fail "create user alice"
cargo owner --registry cairn --add alice base-lib >>"$LOG" 2>&1 || fail "cargo owner --add"
cargo owner --registry cairn --list base-lib 2>>"$LOG" | grep -q alice || fail "cargo owner --list"
cargo owner --registry cairn --remove alice base-lib >>"$LOG" 2>&1 || fail "cargo owner --remove"
if cargo owner --registry cairn --list base-lib 2>>"$LOG" | grep -q alice; then fail "alice still an owner"; fi
cargo search --registry cairn lib > "$WORK/out" 2>>"$LOG" || fail "cargo search"
grep -q '^mid-lib = "1.0.0"' "$WORK/out" || { cat "$WORK/out"; fail "cargo search did not find mid-lib"; }
pass "cargo owner --add/--list/--remove and cargo search"

stop_cairn
pass "Cargo suite done"
