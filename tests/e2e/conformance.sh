#!/usr/bin/env bash
# Runs the OCI distribution-spec conformance suite (v1.1, every API group on,
# with credentials) against a real `cairn serve`. Keeps junit.xml and the
# HTML report in test-output/NAME/ (NAME is the first argument, default
# "conformance"). The server takes its configuration from the environment,
# so `CAIRN_DATABASE_URL=postgres://... conformance.sh conformance-postgres`
# runs the suite on PostgreSQL metadata. With CONFORMANCE_SPARSE=1 the
# "sparse" data set (images missing a layer, an index missing a platform)
# runs too, with every other set, against repositories configured to take
# sparse manifests (oci.sparse_repositories).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/lib.sh
CONFORMANCE=${CONFORMANCE:-$PWD/.tools/bin/conformance}

NAME=${1:-conformance}
if [ "${CONFORMANCE_SPARSE:-0}" = 1 ]; then
  export CAIRN_OCI__SPARSE_REPOSITORIES='["conformance/**"]'
  DATA='{sparse: true}'  # the suite's defaults keep every other data set on
else
  # Every data set except "sparse": it pushes image manifests whose layers
  # were never uploaded, which cairn refuses outside oci.sparse_repositories
  # (MANIFEST_BLOB_UNKNOWN); CONFORMANCE_SPARSE=1 runs it there.
  DATA='{image: true, index: true, indexList: true, sparse: false, artifact: true, subject: true,
       subjectMissing: true, artifactList: true, subjectList: true, dataField: true,
       nondistributable: true, customFields: true, noLayers: true, emptyBlob: true, sha512: true}'
fi
start_cairn "$NAME"
trap 'kill $CAIRN_PID 2>/dev/null || true' EXIT
RESULTS="$OUT_DIR/$NAME"
rm -rf "$RESULTS"; mkdir -p "$RESULTS"
cat > "$RESULTS/oci-conformance.yaml" <<YAML
resultsDir: $RESULTS
version: "1.1"
registry: $CAIRN_ADDR
tls: disabled
repo1: conformance/repo1
repo2: conformance/repo2
username: admin
password: "$CAIRN_PASSWORD"
cacheAuth: true
logging: warn
apis:
  pull: true
  push: true
  blobs: {atomic: true, delete: true, digestHeader: true, mountAnonymous: true, uploadCancel: true}
  manifests: {atomic: true, delete: true, digestHeader: true, tagParam: true}
  tags: {atomic: true, delete: true, list: true}
  referrer: true
data: $DATA
YAML
rc=0
(cd "$RESULTS" && OCI_CONFIGURATION="$RESULTS/oci-conformance.yaml" "$CONFORMANCE") >"$RESULTS/output.txt" 2>&1 || rc=$?
sed -n '/^Summary/,$p' "$RESULTS/output.txt" | head -20 || true
summary=$(grep -E '^\s+(Pass|FAIL|Skip|Error|Disabled)\.+:' "$RESULTS/output.txt" || true)
echo "$summary"
failed=$(echo "$summary" | awk -F: '/FAIL|Error|Skip/ {s+=$2} END {print s+0}')
passed=$(echo "$summary" | awk -F: '/Pass/ {s+=$2} END {print s+0}')
[ "$rc" -eq 0 ] || fail "conformance exited with $rc (see $RESULTS/output.txt)"
[ "$failed" -eq 0 ] || fail "conformance: $failed failed, skipped or errored"
[ "$passed" -gt 0 ] || fail "conformance ran no tests"
[ -s "$RESULTS/junit.xml" ] || fail "conformance wrote no junit.xml"
stop_cairn
pass "OCI conformance ($NAME): $passed passed, 0 failed, 0 skipped (junit: $RESULTS/junit.xml)"
