#!/usr/bin/env bash
# Maven `.asc` signatures checked against configured OpenPGP keys, with the
# real mvn and maven-gpg-plugin driving GnuPG (Debian's gnupg): a deploy
# signed by the trusted key is accepted and its signatures served; one
# signed by another key fails the build at its first `.asc`; a garbage
# `.asc`, and a trusted key's signature of other bytes, are refused naming
# the reason; a staging repository requiring signatures closes when every
# `.asc` verifies.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/lib.sh

NAME=${1:-maven-signatures}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-maven-sig.XXXXXX")
LOG="$OUT_DIR/$NAME-tools.log"; : > "$LOG"
export GNUPGHOME="$WORK/gnupg"
mkdir -m 700 "$GNUPGHOME"
for who in release rogue; do
  gpg --batch --passphrase '' --pinentry-mode loopback \
    --quick-gen-key "$who <$who@cairn.invalid>" default sign never >>"$LOG" 2>&1 || fail "gpg key $who"
done
gpg --armor --export release@cairn.invalid > "$WORK/release.asc"
pass "GnuPG made a trusted key and a rogue one"

cat > "$WORK/cairn.toml" <<TOML
[[packages.openpgp_keys]]
id = "release"
file = "$WORK/release.asc"

[[packages.repositories]]
pattern = "maven/central"
maven_versions = "release"
maven_staging = true
maven_require = ["signatures"]
TOML
start_cairn "$NAME" --config "$WORK/cairn.toml"
trap 'kill $CAIRN_PID 2>/dev/null || true; gpgconf --kill all 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
URL="http://$CAIRN_ADDR/maven"
M2_REPO=${M2_REPO:-$HOME/.m2/repository}
rm -rf "$M2_REPO/dev/cairn/sig"

TOKEN=$(curl -fsS -u "admin:$CAIRN_PASSWORD" -H 'Content-Type: application/json' \
  -d '{"description":"maven","scopes":["maven/**:read,publish,yank"]}' "http://$CAIRN_ADDR/api/v1/tokens" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
cat > "$WORK/settings.xml" <<XML
<settings><servers><server><id>cairn</id><username>deployer</username><password>$TOKEN</password></server></servers></settings>
XML

# project DIR VERSION KEY URL
project() {
  mkdir -p "$1/src/main/java/sig"
  printf 'package sig;\npublic class Lib {}\n' > "$1/src/main/java/sig/Lib.java"
  cat > "$1/pom.xml" <<XML
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>dev.cairn.sig</groupId><artifactId>lib</artifactId><version>$2</version>
  <properties><maven.compiler.release>17</maven.compiler.release><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  <distributionManagement><repository><id>cairn</id><url>$4</url></repository></distributionManagement>
  <build><plugins>
    $MAVEN_BUILD_PLUGINS
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-gpg-plugin</artifactId><version>3.2.7</version>
      <executions><execution><id>sign</id><phase>verify</phase><goals><goal>sign</goal></goals></execution></executions>
      <configuration><keyname>$3@cairn.invalid</keyname>
        <gpgArguments><arg>--pinentry-mode</arg><arg>loopback</arg></gpgArguments></configuration></plugin>
  </plugins></build>
</project>
XML
}
deploy() { (cd "$1" && mvn -B -s "$WORK/settings.xml" -Dmaven.repo.local="$M2_REPO" -DskipTests deploy) >>"$LOG" 2>&1; }

project "$WORK/good" 1.0.0 release "$URL/releases"
deploy "$WORK/good" || { tail -40 "$LOG"; fail "mvn deploy signed by the trusted key"; }
curl -fsS "$URL/releases/dev/cairn/sig/lib/1.0.0/lib-1.0.0.jar" > "$WORK/lib.jar"
curl -fsS "$URL/releases/dev/cairn/sig/lib/1.0.0/lib-1.0.0.jar.asc" > "$WORK/lib.jar.asc"
gpg --verify "$WORK/lib.jar.asc" "$WORK/lib.jar" >>"$LOG" 2>&1 || fail "the served signature does not verify with gpg"
pass "mvn deploy with maven-gpg-plugin (trusted key): the .asc files are checked on arrival and served; gpg --verify agrees"

project "$WORK/rogue" 1.0.1 rogue "$URL/releases"
if deploy "$WORK/rogue"; then fail "a deploy signed by an untrusted key succeeded"; fi
grep -q "does not verify" "$LOG" || { tail -20 "$LOG"; fail "mvn did not show cairn's reason"; }
code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/releases/dev/cairn/sig/lib/1.0.1/lib-1.0.1.jar.asc")
[ "$code" = 404 ] || fail "the rogue signature was stored ($code)"
pass "mvn deploy signed by another key fails at its first .asc, which is not stored: $(grep -m1 -o 'lib-1.0.1[^ ]*asc does not verify[^\"]*' "$LOG" | head -c 160)"

code=$(curl -sS -o "$WORK/garbage.out" -w '%{http_code}' -u "deployer:$TOKEN" -X PUT --data-binary 'not a signature' \
  "$URL/releases/dev/cairn/sig/lib/1.0.0/lib-1.0.0.pom.asc")
[ "$code" = 400 ] && grep -q "not an OpenPGP signature" "$WORK/garbage.out" || fail "a garbage .asc answered $code: $(cat "$WORK/garbage.out")"
pass "a garbage .asc is refused (400: $(head -c 100 "$WORK/garbage.out"))"

# Staging that requires signatures: a signature that does not verify keeps
# it open, whatever route the file took.
ID=rc-sig
project "$WORK/staged" 2.0.0 release "$URL/central/-/staging/$ID"
deploy "$WORK/staged" || { tail -40 "$LOG"; fail "mvn deploy into staging $ID"; }
# A signature by the trusted key of other bytes, sent for the POM by hand,
# is refused on arrival too; the close checks every .asc again (the keys
# may have changed since the deploy) and closes.
printf 'other bytes\n' > "$WORK/other"
gpg --batch --pinentry-mode loopback --passphrase '' -u release@cairn.invalid --armor --detach-sign -o "$WORK/other.asc" "$WORK/other" >>"$LOG" 2>&1
code=$(curl -sS -o "$WORK/put.out" -w '%{http_code}' -u "deployer:$TOKEN" -X PUT --data-binary @"$WORK/other.asc" \
  "$URL/central/-/staging/$ID/dev/cairn/sig/lib/2.0.0/lib-2.0.0.pom.asc")
[ "$code" = 400 ] || fail "a valid signature of other bytes was accepted for the POM ($code)"
code=$(curl -sS -o "$WORK/close.out" -w '%{http_code}' -u "deployer:$TOKEN" -X POST "http://$CAIRN_ADDR/api/v1/maven/central/staging/$ID/close")
[ "$code" = 200 ] || fail "closing a staging repository with valid signatures answered $code: $(cat "$WORK/close.out")"
pass "staging: a signature of other bytes is refused on arrival; a staging repository requiring signatures closes when every .asc verifies"
stop_cairn
pass "cairn stopped cleanly"
