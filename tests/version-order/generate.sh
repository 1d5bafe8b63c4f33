#!/usr/bin/env bash
# Writes the version-order corpus into OUT (default: the committed copy in
# crates/cairn-core/tests/version_order): candidate versions of each ecosystem
# (candidates.py), kept and sorted by that ecosystem's reference implementation
# — node-semver for npm, packaging for PyPI, golang.org/x/mod/semver for Go,
# maven-artifact's ComparableVersion for Maven. Cargo's reference, the semver
# crate, sorts its candidates inside the test itself.
# Needs node, python3, go, java/javac; installs semver, packaging and the
# maven-artifact jar (checked by its SHA-256) under .tools/version-order.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/crates/cairn-core/tests/version_order}"
mkdir -p "$out"
tools="$root/.tools/version-order"
mkdir -p "$tools"

SEMVER_VERSION=7.8.6
PACKAGING_VERSION=26.0
MAVEN_ARTIFACT_VERSION=3.9.9
MAVEN_ARTIFACT_SHA256=30f015d1c1a393e19c18cd4f43532089c36d4ca328608ce3dda78b74d3d31515

if [ "$(cat "$tools/.semver" 2>/dev/null)" != "$SEMVER_VERSION" ]; then
  [ -f "$tools/package.json" ] || echo '{"private":true}' > "$tools/package.json"
  (cd "$tools" && npm install --no-audit --no-fund --silent "semver@$SEMVER_VERSION")
  echo "$SEMVER_VERSION" > "$tools/.semver"
fi
if [ "$(cat "$tools/.packaging" 2>/dev/null)" != "$PACKAGING_VERSION" ]; then
  python3 -m venv "$tools/py"
  "$tools/py/bin/pip" install -q --disable-pip-version-check "packaging==$PACKAGING_VERSION"
  echo "$PACKAGING_VERSION" > "$tools/.packaging"
fi
jar="$tools/maven-artifact-$MAVEN_ARTIFACT_VERSION.jar"
if [ ! -f "$jar" ]; then
  curl -fsSL -o "$jar.part" "https://repo1.maven.org/maven2/org/apache/maven/maven-artifact/$MAVEN_ARTIFACT_VERSION/maven-artifact-$MAVEN_ARTIFACT_VERSION.jar"
  echo "$MAVEN_ARTIFACT_SHA256  $jar.part" | sha256sum -c --quiet
  mv "$jar.part" "$jar"
fi

python3 "$here/candidates.py" "$out"
NODE_PATH="$tools/node_modules" node "$here/npm.js" "$out/npm.in" > "$out/npm.txt"
"$tools/py/bin/python" "$here/pypi.py" "$out/pypi.in" > "$out/pypi.txt"
(cd "$here/go" && GOFLAGS=-mod=mod go run . "$out/go.in") > "$out/go.txt"
javac -d "$tools/classes" -cp "$jar" "$here/Maven.java"
java -cp "$tools/classes:$jar" Maven "$out/maven.in" > "$out/maven.txt"
rm -f "$out/cargo.txt"
for f in npm pypi go maven; do
  echo "version order corpus: $f $(wc -l < "$out/$f.txt") versions sorted by the reference implementation"
done
