#!/usr/bin/env bash
# The whole test suite: formatting and lints; unit, property, storage-suite and
# in-process HTTP tests (the metadata suite on SQLite and PostgreSQL, the blob
# suite on the filesystem and S3); then real clients against a real `cairn
# serve`: the OCI conformance suite and skopeo/crane/oras (embedded default,
# then PostgreSQL + S3), npm/pnpm/yarn, twine/pip/uv and cargo, two replicas sharing PostgreSQL + S3
# (also behind nginx, refusing uploads without a 502), a proxy repository
# in front of Verdaccio with a fault-injecting proxy between them (and on two
# replicas, the filling one killed mid-stream), virtual repositories of all
# six formats over hosted and proxy members (embedded, then PostgreSQL + S3),
# cairn warm from lockfiles and clean installs with the upstream stopped, readiness
# following PostgreSQL, a SIGTERM drain test
# and the SIGKILL crash test; then every benchmark in smoke mode. Starts its own
# PostgreSQL and moto S3 server.
# Installs the clients it needs (scripts/install-test-tools.sh). Results and
# server logs land in test-output/ (conformance junit.xml included).
set -euo pipefail
cd "$(dirname "$0")/.."
export OUT_DIR="$PWD/test-output"
rm -rf "$OUT_DIR"
mkdir -p "$OUT_DIR"

step() { printf '\n== %s\n' "$*"; }

step "build the web UI (embedded by the cargo build below)"
scripts/build-ui.sh

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "start a throwaway PostgreSQL and an S3-compatible server (moto)"
# Every temporary directory of this run (servers' data, client work trees,
# the crash test's gigabyte) lives under one TMPDIR, removed at the end
# (KEEP_TMP=1 keeps it); test-output/ keeps the logs.
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/cairn-test.XXXXXX")
chmod 755 "$TMPDIR" # the PostgreSQL cluster runs as the postgres user when we are root
export TMPDIR
PGDIR=$(mktemp -d "$TMPDIR/cairn-pg.XXXXXX")
MOTODIR=$(mktemp -d "$TMPDIR/cairn-moto.XXXXXX")
cleanup() {
  scripts/stop-postgres.sh "$PGDIR" 2>/dev/null || true
  kill "$(cat "$MOTODIR/pid" 2>/dev/null)" 2>/dev/null || true
  if [ -z "${KEEP_TMP:-}" ]; then
    chmod -R u+w "$TMPDIR" 2>/dev/null || true
    rm -rf "$TMPDIR"
  fi
}
trap cleanup EXIT
export POSTGRES_TEST_URL S3_TEST_ENDPOINT
POSTGRES_TEST_URL=$(scripts/start-postgres.sh "$PGDIR")
S3_TEST_ENDPOINT=$(scripts/start-moto.sh "$MOTODIR")
echo "PostgreSQL at $POSTGRES_TEST_URL, S3 at $S3_TEST_ENDPOINT"
# A fresh database in that cluster; prints its URL.
pg_database() {
  psql -q "$POSTGRES_TEST_URL" -c "CREATE DATABASE $1" >/dev/null
  echo "${POSTGRES_TEST_URL%/*}/$1"
}

step "unit, property, storage-suite and in-process HTTP tests"
cargo test --workspace --locked

step "version order: the keys against a corpus the reference implementations sort now (node-semver, packaging, golang.org/x/mod/semver, maven-artifact's ComparableVersion)"
tests/version-order/generate.sh "$TMPDIR/version-order"
CAIRN_VERSION_ORDER="$TMPDIR/version-order" cargo test -p cairn-core --test version_order --locked

step "build the cairn binary"
cargo build -p cairn --locked
export CAIRN="$PWD/target/debug/cairn"

step "install the real clients, and the peer registries that proxy tests use as upstreams"
scripts/install-test-tools.sh
scripts/install-peers.sh

step "OCI distribution-spec conformance"
tests/e2e/conformance.sh
# ... and its sparse data set, against repositories that take sparse manifests.
CONFORMANCE_SPARSE=1 tests/e2e/conformance.sh conformance-sparse

step "skopeo, crane and oras"
tests/e2e/clients.sh

step "npm, pnpm and yarn"
tests/e2e/npm.sh

step "twine, pip and uv"
tests/e2e/pypi.sh

step "cargo"
tests/e2e/cargo.sh

step "go (GOPROXY, publishing from git tags, retractions, the repository's own checksum database as GOSUMDB and a changed zip refused with SECURITY ERROR)"
tests/e2e/go.sh

step "maven (mvn deploy, resolve, snapshots, staging)"
tests/e2e/maven.sh

step "Maven .asc signatures checked against configured OpenPGP keys: mvn deploy with maven-gpg-plugin (GnuPG) accepted, another key's and garbage signatures refused, staging close"
tests/e2e/maven_signatures.sh

step "trusted publishing with npm, twine, cargo, the Go publish endpoint and mvn deploy"
tests/e2e/trusted-publishing.sh

step "proxy repositories: OCI to Distribution and to a cairn needing tokens, npm to Verdaccio, PyPI to pypiserver and to a cairn, Cargo, Go and Maven to cairns, behind a fault-injecting proxy"
python3 tests/e2e/proxy.py "$CAIRN" "$OUT_DIR"

step "removed_upstream for Go and Maven proxies: a module version and a Maven release taken down on a static upstream are refused under purge and hide (and purged from the cache), still served under keep, and served under every rule while the upstream cannot be asked"
python3 tests/e2e/proxy_removed.py "$CAIRN" "$OUT_DIR"

step "virtual repositories of all six formats: name ownership, claimed namespaces, the cooldown, exceptions and the resolve API, with npm, pip, uv, cargo, go, mvn, crane and skopeo"
python3 tests/e2e/virtual.py "$CAIRN" "$OUT_DIR"

step "cairn warm from six ecosystems' lockfiles, then clean installs with the upstream stopped"
python3 tests/e2e/warm.py "$CAIRN" "$OUT_DIR"

step "conformance and clients again, on PostgreSQL metadata and S3 blobs"
# The scale-out configuration: every setting from the environment.
s3_env() { # prefix
  echo CAIRN_STORAGE__BACKEND=s3 CAIRN_STORAGE__S3__BUCKET=cairn-test CAIRN_STORAGE__S3__PREFIX="$1" \
    CAIRN_STORAGE__S3__ENDPOINT="$S3_TEST_ENDPOINT" CAIRN_STORAGE__S3__PATH_STYLE=true \
    CAIRN_STORAGE__S3__REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
}
env $(s3_env e2e-conformance) CAIRN_DATABASE_URL="$(pg_database e2e_conformance)" \
  tests/e2e/conformance.sh conformance-postgres-s3
# ... with blob downloads redirected to presigned S3 URLs, which the clients follow.
env $(s3_env e2e-clients) CAIRN_STORAGE__S3__REDIRECT_DOWNLOADS=true CAIRN_DATABASE_URL="$(pg_database e2e_clients)" \
  tests/e2e/clients.sh clients-postgres-s3

step "virtual repositories again, the cairn under test on PostgreSQL metadata and S3 blobs"
env $(s3_env e2e-virtual | sed 's/CAIRN_/DOWN_CAIRN_/g') DOWN_CAIRN_DATABASE_URL="$(pg_database e2e_virtual)" \
  python3 tests/e2e/virtual.py "$CAIRN" "$OUT_DIR" virtual-postgres-s3

step "two replicas on one PostgreSQL and one S3 bucket"
env $(s3_env e2e-replicas) CAIRN_DATABASE_URL="$(pg_database e2e_replicas)" \
  python3 tests/e2e/replicas.py "$CAIRN" "$OUT_DIR"

step "a proxy repository on two replicas: the replica filling a tarball killed mid-stream, the other takes over"
env $(s3_env e2e-proxy-replicas) CAIRN_DATABASE_URL="$(pg_database e2e_proxy_replicas)" \
  python3 tests/e2e/proxy_replicas.py "$CAIRN" "$OUT_DIR"

step "refused uploads through nginx in front of two replicas (no 502, no broken pipe)"
env $(s3_env e2e-nginx) CAIRN_DATABASE_URL="$(pg_database e2e_nginx)" \
  python3 tests/e2e/nginx.py "$CAIRN" "$OUT_DIR"

step "garbage collection soak: pushes sharing layers, tag moves, deletes, mounts, npm publishes and abandoned uploads with the collector every second; one replica embedded, then two on PostgreSQL and S3 (one SIGKILLed mid-run); fsck clean after"
python3 tests/e2e/gc.py "$CAIRN" "$OUT_DIR"
env $(s3_env e2e-gc) CAIRN_DATABASE_URL="$(pg_database e2e_gc)" \
  python3 tests/e2e/gc.py "$CAIRN" "$OUT_DIR" gc-postgres-s3

step "retention golden case: a multi-platform index with signatures and an SBOM (oras), tags pushed and pulled, an immutable release, untagged images; preview equals execution; crane pulls what stayed"
python3 tests/e2e/retention.py "$CAIRN" "$OUT_DIR"

step "retention of package versions: npm betas past keep_last (dist-tagged ones and releases kept), PyPI release candidates, Maven snapshot builds and released snapshots; npm, pip and mvn see the result"
python3 tests/e2e/version_retention.py "$CAIRN" "$OUT_DIR"

step "backup while serving, the restore horizon, cairn dr-drill over all six formats (and a gap it must name), and a restore after the metadata is destroyed (crane, npm, twine, pip); embedded, then PostgreSQL (pg_dump) and S3"
python3 tests/e2e/backup.py "$CAIRN" "$OUT_DIR"
env $(s3_env e2e-backup) CAIRN_DATABASE_URL="$(pg_database e2e_backup)" \
  python3 tests/e2e/backup.py "$CAIRN" "$OUT_DIR" backup-postgres-s3

step "quotas refused with each client's own message (skopeo, npm, twine, cargo, mvn, the Go publish endpoint), nothing stored; the cost report; embedded, then PostgreSQL and S3"
python3 tests/e2e/quota.py "$CAIRN" "$OUT_DIR"
env $(s3_env e2e-quota) CAIRN_DATABASE_URL="$(pg_database e2e_quota)" \
  python3 tests/e2e/quota.py "$CAIRN" "$OUT_DIR" quota-postgres-s3

step "SBOMs indexed on arrival (oras attach, cosign attach sbom in both layouts, cairn sbom attach after npm publish) and the component query for Maven, npm, PyPI, Go and Cargo; malformed and hostile documents refused with nothing stored; an OSV corpus (a directory and an all.zip) imported and matched against SBOM components and a hosted package, re-imported, revised"
python3 tests/e2e/sbom.py "$CAIRN" "$OUT_DIR"

step "a vulnerability policy: npm install, pip download, cargo fetch, go mod download, mvn dependency:get and skopeo inspect refused naming the advisory (npm and pip also through proxy repositories), the publisher served with a warning, an exception and its removal, failing closed on stale data"
python3 tests/e2e/vuln_policy.py "$CAIRN" "$OUT_DIR"

step "the secret gate on publish: npm publish, twine upload, cargo publish, mvn deploy, the Go publish endpoint and crane pushing a layer refused naming the file and the rule (never the secret), nothing stored; a quarantined publish held back until released; a planted cairn token revoked on the spot"
python3 tests/e2e/secrets.py "$CAIRN" "$OUT_DIR"

step "signatures verified on arrival and required at pull: cosign v3 signs (Sigstore bundle and legacy .sig layouts) and attests SLSA provenance, notation-go signs with a certificate chain (JWS and COSE envelopes); skopeo and crane refused an unsigned image, one signed by an untrusted key, a signature re-pointed at another image and a spoofed User-Agent, served the right key's, an index's children, tag patterns by tag and by digest; cosign verify through cairn; cairn policy explain; audited; a changed key re-evaluates the stored signatures; through a proxy repository (a cairn upstream, and CNCF Distribution with the referrers tag schema) the upstream's own signatures are verified: unsigned and untrusted refused, bundle and legacy signatures and a signed index's children served"
python3 tests/e2e/signatures.py "$CAIRN" "$OUT_DIR"

step "keyless (Sigstore) signatures verified offline against a pinned trusted root: a test certificate authority, transparency log and CT log sign like cosign in CI (bundle referrer and legacy .sig); cosign verify --trusted-root accepts them through cairn; a policy naming a signing identity serves the release workflow's image and refuses another workflow, another issuer, an unpinned authority, an entry logged after the certificate expired and an altered entry; a keyless attestation meets an attestation rule; npm publish --provenance-file (verified by npm itself) accepted and npm audit signatures verifying the served provenance, another Sigstore's bundle refused by cairn; twine upload --attestations likewise; Maven .sigstore.json verified on deploy and demanded by a staging close; npm audit signatures passing through an npm proxy repository of another cairn (the upstream's keys and attestations proxied)"
.tools/py/bin/python tests/e2e/keyless.py "$CAIRN" "$OUT_DIR"

step "cairn's own publish attestations: npm publish, twine upload and a Maven deploy with a scoped token each get an in-toto statement signed with the registry key (publisher, token, audit entry), served at /api/v1/attestations; cosign verify-blob-attestation --key accepts each for its file and refuses it for other bytes; an image pushed under oci.attest_pushes gets it as a referrer that cosign verify-attestation --key checks; a caller who may not read the package is refused"
python3 tests/e2e/attestations.py "$CAIRN" "$OUT_DIR"

step "PEP 740 attestations: twine upload --attestations kept and served (integrity API, simple API 1.3 provenance), one naming other bytes refused"
python3 tests/e2e/pypi_attestations.py "$CAIRN" "$OUT_DIR"

step "npm registry signatures: npm publish, npm install, npm audit signatures passing against cairn's keys (/-/npm/v1/keys, reached after a TUF repository of our own on loopback has none), failing on a tarball swapped by a mirror, passing again after cairn npm rotate-key; the visibility endpoint"
python3 tests/e2e/npm_signatures.py "$CAIRN" "$OUT_DIR"

step "two-factor authentication: a person not enrolled refused a publish under auth.require_two_factor; cairn user totp enable/confirm (recovery codes); npm profile enable-2fa, get and disable-2fa in a terminal; npm login challenged for a one-time password (WWW-Authenticate: OTP) in a terminal; npm publish and dist-tag refused with EOTP without --otp or with a wrong one, taken with a code or a recovery code; sign-in codes and recovery codes work once; an API token needs none; crane push with a password DENIED naming the API token way; audited; cairn user totp reset"
python3 tests/e2e/two_factor.py "$CAIRN" "$OUT_DIR"

step "the web UI in Debian's chromium (playwright-core): sign in with a password, and with a one-time password after turning two-factor authentication on in the UI; a token made and revoked (confirmed); the audit log filtered (by action, by a digest); storage, quotas and a retention preview; search; an image (an index of two platforms, signed, with an SBOM and its components) and a package version (yank, deprecate, provenance, vulnerabilities, dependents only where readable); repository pages; a command-line sign-in approved; a user who is no administrator offered neither, and a forged change without the CSRF token refused; a strict Content-Security-Policy never broken; axe-core: no serious violations; screenshots in test-output/ui-screens"
(cd tests/e2e/ui && npm ci --no-audit --no-fund --loglevel=error)
node tests/e2e/ui/ui.mjs "$CAIRN" "$OUT_DIR"

step "web sign-in for command-line clients: cairn login --web and the real npm login (npm's default auth-type=web, auth.web_login on) approved in a person's browser session; cairn whoami, npm whoami and npm publish with what they keep; approvals without the CSRF token or with an API token refused, approved once, taken once, a wrong secret finds nothing, audited; off, npm's web login answers 404"
python3 tests/e2e/web_login.py "$CAIRN" "$OUT_DIR"

step "the cairn commands that ask a running server (every admin API operation has one: commands/coverage.rs): whoami, search, image show (pushed by, last pulled) and untag, package show, repository list, proxy cache/drop, virtual external/exempt, job start --wait with progress, job list/show/cancel, gc status/run, quarantine, attestation keys, vuln exception, sbom attach/list/remove, audit --artifact; refusals that say what to do"
python3 tests/e2e/cli_remote.py "$CAIRN" "$OUT_DIR"

step "the admin API's OpenAPI 3.1 document: served at /api/openapi.json as committed in docs/openapi.json; schemathesis over every operation with every check (no 5xx, statuses, content types, headers and bodies as documented, invalid input refused, schema-valid input not refused with 400 but for the four operations schemathesis.toml names, 405 with Allow, credentials required where documented)"
python3 tests/e2e/openapi.py "$CAIRN" "$OUT_DIR"

step "LDAP sign-in against Debian's slapd: a person's directory password checked by binding as them (found by a service account), their directory groups mapped to cairn groups (an administrator; crane pushing with a directory password where the group allows, refused elsewhere); wrong, empty and unknown credentials and filter injection sign nobody in; the local admin not taken over; a group change seen at the next sign-in; audited; the directory down is said so"
python3 tests/e2e/ldap.py "$CAIRN" "$OUT_DIR"

step "single sign-on against a real OpenID Connect provider (oidc-provider from npm, on loopback) in chromium: authorization code with PKCE, the user made on the first sign-in, provider groups mapped to cairn groups (an administrator sees the admin pages, another person does not and is refused them); callbacks with another state, without the flow cookie or with an altered one refused; an off-site return_to not followed; a local user never taken over"
node tests/e2e/ui/sso.mjs "$CAIRN" "$OUT_DIR"

step "readiness follows PostgreSQL"
CAIRN_DATABASE_URL=$(pg_database e2e_readiness) tests/e2e/readiness.sh "$PGDIR"

step "graceful shutdown under SIGTERM"
python3 tests/e2e/shutdown.py "$CAIRN" "$OUT_DIR"

step "crash safety under SIGKILL"
python3 tests/e2e/crash.py "$CAIRN" "$OUT_DIR" 6

step "every benchmark in smoke mode (tiny sizes, one-second loads: both servers run and every ratio prints; nothing is asserted on timings)"
for bench in oci oci-s3 packages go-maven auth proxy virtual gc gc-soak components secrets signatures search; do
  echo "-- bench/$bench.sh"
  BENCH_SMOKE=1 BENCH_SECONDS=1 BENCH_CAIRN="$CAIRN" BENCH_DIR="$OUT_DIR" bench/$bench.sh > "$OUT_DIR/bench-$bench.txt" 2>&1 \
    || { tail -n 40 "$OUT_DIR/bench-$bench.txt"; echo "FAIL: bench/$bench.sh (smoke mode)"; exit 1; }
  grep '^|' "$OUT_DIR/bench-$bench.txt"
done

printf '\nall tests passed\n'
