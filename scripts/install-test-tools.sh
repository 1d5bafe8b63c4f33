#!/usr/bin/env bash
# Installs the real clients the end-to-end tests drive, at pinned versions:
# skopeo, nginx, wrk, CNCF Distribution and GnuPG (Debian), git and Maven (Debian, when missing), crane, oras and cosign (Go module proxy), and the OCI
# distribution-spec conformance suite (Go module proxy); pnpm 9 and yarn, and pnpm 10 for the
# proxy tests (npm registry); twine and
# uv (PyPI).
# Go tools land in .tools/bin. A tool that cannot be installed is an error.
set -euo pipefail
cd "$(dirname "$0")/.."

CRANE_VERSION=v0.22.1
ORAS_VERSION=v1.3.6
COSIGN_VERSION=v3.1.3
CONFORMANCE_VERSION=v0.0.0-20260831232431-97274622c111

TOOLS="$PWD/.tools/bin"
mkdir -p "$TOOLS"

if ! command -v skopeo >/dev/null; then
  echo "installing skopeo from Debian"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq skopeo >/dev/null
fi
command -v skopeo >/dev/null || { echo "FATAL: skopeo could not be installed" >&2; exit 1; }

# nginx (Debian's nginx-light) stands in front of two replicas in tests/e2e/nginx.py;
# wrk drives the benchmarks' smoke runs; CNCF Distribution (docker-registry) is the
# OCI proxy tests' upstream; GnuPG signs the Maven signature tests' artifacts.
# chromium runs the web UI tests (tests/e2e/ui, driven by playwright-core).
for tool in nginx wrk docker-registry gpg chromium; do
  if ! command -v "$tool" >/dev/null; then
    echo "installing $tool from Debian"
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    pkg=$tool; [ "$tool" = nginx ] && pkg=nginx-light; [ "$tool" = gpg ] && pkg=gnupg
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$pkg" >/dev/null
  fi
  command -v "$tool" >/dev/null || { echo "FATAL: $tool could not be installed" >&2; exit 1; }
done

# slapd (and ldap-utils' ldapmodify) is the directory of tests/e2e/ldap.py.
# Debian's package would start a system directory; policy-rc.d (or no init)
# stops that, and the test runs its own on loopback.
if ! { [ -x /usr/sbin/slapd ] && command -v ldapmodify >/dev/null; }; then
  echo "installing slapd and ldap-utils from Debian"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq slapd ldap-utils >/dev/null
fi
{ [ -x /usr/sbin/slapd ] && command -v ldapmodify >/dev/null; } || { echo "FATAL: slapd or ldapmodify could not be installed" >&2; exit 1; }

# The go command, git, Maven and a JDK (with `jar`) drive the Go and Maven
# tests; Maven and git come from Debian when missing.
for tool in git mvn; do
  if ! command -v "$tool" >/dev/null; then
    echo "installing $tool from Debian"
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    pkg=$tool; [ "$tool" = mvn ] && pkg=maven
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$pkg" >/dev/null
  fi
done
for tool in go git mvn java jar; do
  command -v "$tool" >/dev/null || { echo "FATAL: $tool is missing (the Go and Maven tests need it)" >&2; exit 1; }
done

go_tool() { # name module@version
  local name=$1 pkg=$2
  if [ ! -x "$TOOLS/$name" ] || [ "$(cat "$TOOLS/.$name.version" 2>/dev/null)" != "$pkg" ]; then
    echo "installing $name ($pkg)"
    GOBIN="$TOOLS" GOFLAGS=-mod=mod go install "$pkg"
    echo "$pkg" > "$TOOLS/.$name.version"
  fi
}
go_tool crane "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
go_tool oras "oras.land/oras/cmd/oras@$ORAS_VERSION"
go_tool cosign "github.com/sigstore/cosign/v3/cmd/cosign@$COSIGN_VERSION"
go_tool conformance "github.com/opencontainers/distribution-spec/conformance@$CONFORMANCE_VERSION"

# pnpm and yarn (from the npm registry, into .tools/node) for the npm tests;
# npm itself comes with Node.js.
PNPM_VERSION=9.15.9
YARN_VERSION=1.22.22
NODE_TOOLS="$PWD/.tools/node"
mkdir -p "$NODE_TOOLS"
if [ "$(cat "$NODE_TOOLS/.versions" 2>/dev/null)" != "pnpm@$PNPM_VERSION yarn@$YARN_VERSION" ]; then
  echo "installing pnpm $PNPM_VERSION and yarn $YARN_VERSION"
  [ -f "$NODE_TOOLS/package.json" ] || echo '{"private":true}' > "$NODE_TOOLS/package.json"
  (cd "$NODE_TOOLS" && npm install --no-audit --no-fund --silent "pnpm@$PNPM_VERSION" "yarn@$YARN_VERSION")
  echo "pnpm@$PNPM_VERSION yarn@$YARN_VERSION" > "$NODE_TOOLS/.versions"
fi
for t in npm pnpm yarn; do
  PATH="$NODE_TOOLS/node_modules/.bin:$PATH" command -v $t >/dev/null || { echo "FATAL: $t is not installed" >&2; exit 1; }
done
# pnpm 10 (its own directory, .tools/pnpm10) for the proxy tests: minimumReleaseAge
# arrived in pnpm 10.16.
PNPM10_VERSION=10.34.9
PNPM10="$PWD/.tools/pnpm10"
if [ "$(cat "$PNPM10/.version" 2>/dev/null)" != "$PNPM10_VERSION" ]; then
  echo "installing pnpm $PNPM10_VERSION"
  mkdir -p "$PNPM10"
  [ -f "$PNPM10/package.json" ] || echo '{"private":true}' > "$PNPM10/package.json"
  (cd "$PNPM10" && npm install --no-audit --no-fund --silent "pnpm@$PNPM10_VERSION")
  echo "$PNPM10_VERSION" > "$PNPM10/.version"
fi
[ -x "$PNPM10/node_modules/.bin/pnpm" ] || { echo "FATAL: pnpm $PNPM10_VERSION is not installed" >&2; exit 1; }

# twine and uv (from PyPI, into the virtualenv .tools/py; pip comes with it)
# for the PyPI tests; PyJWT (with cryptography) for the test OIDC issuer.
TWINE_VERSION=7.0.0
UV_VERSION=0.13.9
PYJWT_VERSION=2.10.1
PY_WANT="twine==$TWINE_VERSION uv==$UV_VERSION pyjwt[crypto]==$PYJWT_VERSION"
PY_TOOLS="$PWD/.tools/py"
if [ "$(cat "$PY_TOOLS/.versions" 2>/dev/null)" != "$PY_WANT" ]; then
  echo "installing $PY_WANT"
  python3 -m venv "$PY_TOOLS"
  # shellcheck disable=SC2086
  "$PY_TOOLS/bin/pip" install -q --disable-pip-version-check $PY_WANT
  echo "$PY_WANT" > "$PY_TOOLS/.versions"
fi
"$PY_TOOLS/bin/python" -c 'import jwt, cryptography' || { echo "FATAL: PyJWT could not be installed" >&2; exit 1; }
for t in pip twine uv; do
  [ -x "$PY_TOOLS/bin/$t" ] || { echo "FATAL: $t is not installed" >&2; exit 1; }
done

# schemathesis (from PyPI, its own virtualenv .tools/schemathesis: it pins
# many libraries) exercises the admin API from its OpenAPI document.
SCHEMATHESIS_VERSION=4.32.5
ST_TOOLS="$PWD/.tools/schemathesis"
if [ "$(cat "$ST_TOOLS/.versions" 2>/dev/null)" != "$SCHEMATHESIS_VERSION" ]; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION"
  python3 -m venv "$ST_TOOLS"
  "$ST_TOOLS/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  echo "$SCHEMATHESIS_VERSION" > "$ST_TOOLS/.versions"
fi
[ -x "$ST_TOOLS/bin/schemathesis" ] || { echo "FATAL: schemathesis is not installed" >&2; exit 1; }

for t in crane oras cosign conformance; do
  [ -x "$TOOLS/$t" ] || { echo "FATAL: $t was not installed" >&2; exit 1; }
done
echo "test tools ready: skopeo $(skopeo --version | awk '{print $3}'), crane $CRANE_VERSION, oras $ORAS_VERSION, cosign $COSIGN_VERSION, conformance $CONFORMANCE_VERSION"
