#!/usr/bin/env bash
# Real container clients against a real `cairn serve` over plain HTTP:
# crane builds and pushes images and a multi-platform index; skopeo pulls by
# tag and digest, pushes with --preserve-digests, copies --all, inspects,
# lists tags and deletes; crane and oras push artifacts with a subject and
# `oras discover` lists them. Optional first argument: a name for this run's
# logs (default "clients"); the server takes its configuration from CAIRN_*.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/lib.sh
export PATH="$PWD/.tools/bin:$PATH"

NAME=${1:-clients}
start_cairn "$NAME"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-clients.XXXXXX")
trap 'kill $CAIRN_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
export DOCKER_CONFIG="$WORK/docker" REGISTRY_AUTH_FILE="$WORK/auth.json"
R=$CAIRN_ADDR
CREDS="admin:$CAIRN_PASSWORD"
SK="skopeo --command-timeout 60s"
LOG="$OUT_DIR/$NAME-tools.log"; : > "$LOG"

# --- crane: log in, build two single-layer images for two platforms, index them.
crane auth login "$R" -u admin --password="$CAIRN_PASSWORD" >/dev/null
for arch in amd64 arm64; do
  mkdir -p "$WORK/rootfs-$arch"
  echo "hello from $arch" > "$WORK/rootfs-$arch/hello.txt"
  tar -C "$WORK/rootfs-$arch" -cf "$WORK/layer-$arch.tar" hello.txt
  crane append --oci-empty-base --insecure -f "$WORK/layer-$arch.tar" -t "$R/demo/app:$arch" >/dev/null 2>>"$LOG"
  crane mutate --insecure --set-platform "linux/$arch" "$R/demo/app:$arch" -t "$R/demo/app:$arch" >/dev/null 2>>"$LOG"
done
# The index is written by hand and PUT with curl: `crane index append` adds an
# `artifactType` to each descriptor, which skopeo 1.9 cannot re-serialise
# byte-for-byte, so it would refuse `copy --all --preserve-digests`.
python3 - "$R" > "$WORK/index.json" <<'PY'
import json, subprocess, sys
r = sys.argv[1]
manifests = []
for arch in ["amd64", "arm64"]:
    raw = subprocess.run(["crane", "manifest", "--insecure", f"{r}/demo/app:{arch}"], check=True, capture_output=True).stdout
    digest = subprocess.run(["crane", "digest", "--insecure", f"{r}/demo/app:{arch}"], check=True, capture_output=True, text=True).stdout.strip()
    manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
                      "size": len(raw), "platform": {"architecture": arch, "os": "linux"}})
print(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}), end="")
PY
curl -fsS -u "$CREDS" -X PUT -H "Content-Type: application/vnd.oci.image.index.v1+json" \
  --data-binary @"$WORK/index.json" "http://$R/v2/demo/app/manifests/multi" >/dev/null || fail "index PUT"
INDEX_DIGEST=$(crane digest --insecure "$R/demo/app:multi")
[ "$(crane manifest --insecure "$R/demo/app:multi" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["manifests"]))')" = 2 ] \
  || fail "index does not list two platforms"
pass "crane pushed two images; a multi-platform index over them ($INDEX_DIGEST)"

# --- skopeo: inspect, list-tags, pull by tag and by digest.
AMD_DIGEST=$(crane digest --insecure "$R/demo/app:amd64")
[ "$($SK inspect --tls-verify=false --creds "$CREDS" --format '{{.Digest}}' "docker://$R/demo/app:amd64")" = "$AMD_DIGEST" ] \
  || fail "skopeo inspect digest differs"
$SK list-tags --tls-verify=false "docker://$R/demo/app" > "$WORK/tags.json"
python3 - "$WORK/tags.json" <<'PY' || fail "skopeo list-tags is missing tags"
import json, sys
tags = set(json.load(open(sys.argv[1]))["Tags"])
assert {"amd64", "arm64", "multi"} <= tags, tags
PY
pass "skopeo inspect and list-tags"

$SK copy --src-tls-verify=false "docker://$R/demo/app:amd64" "oci:$WORK/layout:amd64" >/dev/null
$SK copy --src-tls-verify=false "docker://$R/demo/app@$AMD_DIGEST" "oci:$WORK/bydigest:pinned" >/dev/null
tar -xOf "$WORK/layer-amd64.tar" hello.txt | grep -q "hello from amd64" || fail "layer content"
pass "skopeo pulled by tag and by digest"

# --- skopeo: push with --preserve-digests (anonymous first must be refused).
if $SK copy --dest-no-creds --dest-tls-verify=false "oci:$WORK/layout:amd64" "docker://$R/copied/app:v1" >/dev/null 2>&1; then
  fail "an anonymous push was accepted"
fi
$SK copy --preserve-digests --dest-tls-verify=false --dest-creds "$CREDS" \
  "oci:$WORK/layout:amd64" "docker://$R/copied/app:v1" >/dev/null
[ "$(crane digest --insecure "$R/copied/app:v1")" = "$AMD_DIGEST" ] || fail "--preserve-digests changed the digest"
pass "skopeo pushed with --preserve-digests (anonymous push refused)"

# --- skopeo: copy --all of the multi-platform index keeps every digest.
$SK copy --all --preserve-digests --src-tls-verify=false --dest-tls-verify=false --dest-creds "$CREDS" \
  "docker://$R/demo/app:multi" "docker://$R/mirror/app:multi" >/dev/null
[ "$(crane digest --insecure "$R/mirror/app:multi")" = "$INDEX_DIGEST" ] || fail "copy --all changed the index digest"
for p in linux/amd64 linux/arm64; do
  crane manifest --insecure --platform "$p" "$R/mirror/app:multi" >/dev/null || fail "platform $p missing after copy --all"
done
pass "skopeo copy --all of a multi-platform index"

# --- with S3 redirects on, blob downloads are 307s to presigned URLs that the
# clients above followed; check one by hand.
if [ "${CAIRN_STORAGE__S3__REDIRECT_DOWNLOADS:-}" = true ]; then
  LAYER=$(crane manifest --insecure "$R/demo/app:amd64" | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$R/v2/demo/app/blobs/$LAYER")" = 307 ] || fail "blob GET is not redirected"
  [ "sha256:$(curl -fsSL "http://$R/v2/demo/app/blobs/$LAYER" | sha256sum | cut -d' ' -f1)" = "$LAYER" ] \
    || fail "the presigned URL does not serve the blob's bytes"
  pass "blob downloads redirect (307) to presigned S3 URLs that serve the right bytes"
fi

# --- skopeo delete.
$SK delete --tls-verify=false --creds "$CREDS" "docker://$R/copied/app:v1"
if crane manifest --insecure "$R/copied/app@$AMD_DIGEST" >/dev/null 2>&1; then fail "manifest still there after skopeo delete"; fi
pass "skopeo delete"

# --- oras: push an artifact, attach an SBOM to it; crane pushes a signature-like
# manifest with a subject; oras discover lists both.
cd "$WORK"
echo '{"name":"demo"}' > artifact.json
echo '{"spdxVersion":"SPDX-2.3"}' > sbom.spdx.json
oras login --plain-http -u admin --password="$CAIRN_PASSWORD" "$R" >/dev/null 2>&1
oras push --plain-http --artifact-type application/vnd.example.config "$R/demo/artifact:v1" artifact.json:application/json >/dev/null
SUBJECT=$(crane digest --insecure "$R/demo/artifact:v1")
oras attach --plain-http --artifact-type application/spdx+json "$R/demo/artifact:v1" sbom.spdx.json:application/spdx+json >/dev/null

# crane: take a pushed image manifest, give it a subject, push it by digest.
crane manifest --insecure "$R/demo/app:amd64" | python3 -c '
import json, sys
m = json.load(sys.stdin)
m["artifactType"] = "application/vnd.example.signature"
m["subject"] = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sys.argv[1], "size": int(sys.argv[2])}
sys.stdout.write(json.dumps(m))
' "$SUBJECT" "$(crane manifest --insecure "$R/demo/artifact:v1" | wc -c)" > sig.json
crane copy --insecure "$R/demo/app:amd64" "$R/demo/artifact:base" 2>>"$LOG"  # its blobs must be in this repository
crane edit manifest --insecure "$R/demo/artifact:base" -t "$R/demo/artifact:sig" < sig.json >/dev/null 2>>"$LOG"
oras discover --plain-http --format json "$R/demo/artifact:v1" > discover.json
python3 - discover.json <<'PY' || fail "oras discover does not list both referrers"
import json, sys
d = json.load(open(sys.argv[1]))
refs = d.get("referrers") or d.get("manifests") or []
types = sorted(r.get("artifactType") for r in refs)
assert "application/spdx+json" in types and "application/vnd.example.signature" in types, types
PY
oras discover --plain-http --artifact-type application/spdx+json --format json "$R/demo/artifact:v1" > filtered.json
python3 - filtered.json <<'PY' || fail "oras discover --artifact-type filter"
import json, sys
d = json.load(open(sys.argv[1]))
refs = d.get("referrers") or d.get("manifests") or []
assert [r.get("artifactType") for r in refs] == ["application/spdx+json"], refs
PY
oras pull --plain-http -o pulled "$R/demo/artifact:v1" >/dev/null
cmp pulled/artifact.json artifact.json || fail "oras pull content"
pass "oras push/attach/pull and crane push with subject; oras discover lists both"
cd - >/dev/null

# --- the admin credential can be reset while the server runs.
NEW_SECRET="reset-by-test-$(date +%s%N)"
echo "$NEW_SECRET" | "$CAIRN" admin reset-password --data-dir "$CAIRN_DATA/data" --password-stdin >/dev/null
[ "$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$NEW_SECRET" "http://$R/v2/")" = 200 ] || fail "new secret refused"
# The CLI is another process: the server stops accepting the old secret when
# its verified-credential cache entry ages out (auth.credential_cache_secs, 3 s).
for _ in $(seq 50); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -u "$CREDS" "http://$R/v2/")" = 401 ] && break
  sleep 0.1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' -u "$CREDS" "http://$R/v2/")" = 401 ] || fail "old secret still accepted after the cache bound"
pass "cairn admin reset-password replaces the admin credential"

stop_cairn
pass "cairn stopped cleanly on SIGTERM"
