#!/usr/bin/env python3
"""cairn's own publish attestations, checked by cosign.

Every file a publish stores gets an in-toto statement — the file's digest
as subject; the publisher, the credential (here a scoped API token) and the
audit-log entry as predicate — signed with the registry's key, served at
`GET /api/v1/attestations` (read access on the package) beside the public
keys at `GET /api/v1/attestations/keys`. The test publishes with npm and
twine and deploys a Maven jar, each with a scoped token, then has
`cosign verify-blob-attestation --key` verify each file's attestation, and
refuse it for other bytes; a caller who may not read the package is
refused the attestations (anonymous reads are off), while the keys are
public. An image pushed with the token to a repository under
`oci.attest_pushes` gets its attestation as a referrer, which `cosign
verify-attestation --key` checks; one pushed elsewhere gets none.

Usage: attestations.py CAIRN_BINARY OUTPUT_DIR
"""

import base64
import hashlib
import json
import os
import subprocess
import sys

from cairnproc import Cairn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
COSIGN = os.path.join(ROOT, ".tools", "bin", "cosign")
TWINE = os.path.join(ROOT, ".tools", "py", "bin", "twine")
BIN, OUT = sys.argv[1], sys.argv[2]
WORK = os.path.join(OUT, "attestations-work")
PREDICATE = "https://cairn.dev/attestation/publish/v1"


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")
    print(f"ok - {message}")


def run(cmd, ok=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if ok and r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(map(str, cmd))}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def token(server, scopes, description):
    st, _, body = server.request("POST", "/api/v1/tokens", json.dumps(
        {"description": description, "scopes": scopes}).encode(), {"Content-Type": "application/json"},
        auth=server.basic)
    if st not in (200, 201):
        raise SystemExit(f"FAIL: creating a token: {st} {body[:200]!r}")
    doc = json.loads(body)
    return doc["token"], doc.get("id")


def attestations(server, auth, fmt, package, version):
    st, _, body = server.request(
        "GET", f"/api/v1/attestations?format={fmt}&repository=main&package={package}&version={version}", auth=auth)
    return st, (json.loads(body) if st == 200 else body)


def verify(bundle, path, key):
    bundle_file = path + ".cairn-attestation.json"
    with open(bundle_file, "w") as f:
        json.dump(bundle, f)
    return run([COSIGN, "verify-blob-attestation", "--key", key, "--bundle", bundle_file, "--type", PREDICATE,
                "--insecure-ignore-tlog", path], ok=False)


def check(server, key, fmt, package, version, filename, data, secret, token_id, what):
    path = os.path.join(WORK, filename)
    with open(path, "wb") as f:
        f.write(data)
    st, doc = attestations(server, f"Bearer {secret}", fmt, package, version)
    found = [a for a in doc["attestations"] if a["filename"] == filename] if st == 200 else []
    expect(len(found) == 1 and found[0]["digest"] == "sha256:" + hashlib.sha256(data).hexdigest(),
           f"{what}: the attestation names {filename} by its digest")
    statement = json.loads(base64.b64decode(found[0]["bundle"]["dsseEnvelope"]["payload"]))
    publisher = statement["predicate"]["publisher"]
    expect(statement["predicateType"] == PREDICATE and publisher["name"] == "admin"
           and publisher["credential"] == token_id
           and statement["predicate"]["audit"]["artifact"] == f"{package}@{version}",
           f"{what}: it names the publisher, the token {token_id} and the audit entry")
    r = verify(found[0]["bundle"], path, key)
    expect(r.returncode == 0, f"{what}: cosign verify-blob-attestation --key checks it {r.stderr.strip()[-200:]}")
    with open(path, "ab") as f:
        f.write(b"tampered")
    r = verify(found[0]["bundle"], path, key)
    expect(r.returncode != 0, f"{what}: cosign refuses it for other bytes")


def push_image(server, auth, repo, tag):
    def blob(data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        st, _, body = server.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", data, auth=auth)
        if st != 201:
            raise SystemExit(f"FAIL: blob {st} {body!r}")
        return {"digest": digest, "size": len(data)}
    config = blob(json.dumps({"architecture": "amd64", "os": "linux", "repo": repo,
                              "rootfs": {"type": "layers", "diff_ids": []}}).encode())
    layer = blob(f"layer of {repo}".encode())
    doc = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}]}).encode()
    st, _, body = server.request("PUT", f"/v2/{repo}/manifests/{tag}", doc,
                                 {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, auth=auth)
    if st != 201:
        raise SystemExit(f"FAIL: manifest {st} {body!r}")
    return "sha256:" + hashlib.sha256(doc).hexdigest()


def main():
    os.makedirs(WORK, exist_ok=True)
    # Anonymous reads off: who may read a package decides who sees its
    # attestations.
    env = {"CAIRN_AUTH__ANONYMOUS_READ": "false", "CAIRN_OCI__ATTEST_PUSHES": '["attested/**"]'}
    server = Cairn(BIN, os.path.join(OUT, "attestations-data"), env=env).start(
        os.path.join(OUT, "attestations-cairn.log"))
    secret, token_id = token(server, ["npm/main:read,publish", "pypi/main:read,publish", "maven/main:read,publish",
                                      "attested/**:read,publish", "plain/**:read,publish"], "ci")
    st, _, body = server.request("GET", "/api/v1/attestations/keys")
    keys = json.loads(body)["keys"]
    expect(st == 200 and len(keys) == 1 and "BEGIN PUBLIC KEY" in keys[0]["pem"],
           f"/api/v1/attestations/keys serves the registry key {keys[0]['keyid']}")
    key = os.path.join(WORK, "cairn.pub")
    with open(key, "w") as f:
        f.write(keys[0]["pem"])

    # npm publish with the token.
    pkg = os.path.join(WORK, "npm-lib")
    os.makedirs(pkg, exist_ok=True)
    with open(os.path.join(pkg, "package.json"), "w") as f:
        json.dump({"name": "attested-lib", "version": "1.0.0"}, f)
    with open(os.path.join(pkg, "index.js"), "w") as f:
        f.write("module.exports = 1;\n")
    npmrc = os.path.join(WORK, "npmrc")
    with open(npmrc, "w") as f:
        f.write(f"registry=http://127.0.0.1:{server.port}/npm/main/\n"
                f"//127.0.0.1:{server.port}/npm/main/:_authToken={secret}\n")
    run(["npm", "publish", "--userconfig", npmrc], cwd=pkg)
    st, _, tgz = server.request("GET", "/npm/main/attested-lib/-/attested-lib-1.0.0.tgz", auth=server.basic)
    check(server, key, "npm", "attested-lib", "1.0.0", "attested-lib-1.0.0.tgz", tgz, secret, token_id, "npm")

    # twine upload with the token.
    dist = os.path.join(WORK, "dist")
    run([sys.executable, os.path.join(ROOT, "tests", "e2e", "mkdist.py"), dist, "attested-pkg", "1.0"])
    sdist = os.path.join(dist, "attested_pkg-1.0.tar.gz")
    run([TWINE, "upload", "--disable-progress-bar", "--non-interactive", "--repository-url",
         f"http://127.0.0.1:{server.port}/pypi/main/", "-u", "__token__", f"--password={secret}", sdist])
    with open(sdist, "rb") as f:
        data = f.read()
    check(server, key, "pypi", "attested-pkg", "1.0", os.path.basename(sdist), data, secret, token_id, "pypi")

    # A Maven deploy (the PUTs mvn makes) with the token.
    jar = b"PK\x03\x04 an attested jar"
    st, _, _ = server.request("PUT", "/maven/main/com/acme/att/1.0/att-1.0.jar", jar,
                              auth=f"Bearer {secret}")
    expect(st == 201, f"maven: the jar is deployed with the token ({st})")
    check(server, key, "maven", "com.acme:att", "1.0", "att-1.0.jar", jar, secret, token_id, "maven")

    # Images: a referrer under oci.attest_pushes, nothing elsewhere.
    basic = "Basic " + base64.b64encode(f"admin:{secret}".encode()).decode()
    attested = push_image(server, basic, "attested/app", "v1")
    plain = push_image(server, basic, "plain/app", "v1")
    st, _, body = server.request("GET", f"/v2/attested/app/referrers/{attested}", auth=basic)
    refs = json.loads(body)["manifests"]
    expect(st == 200 and len(refs) == 1 and refs[0]["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json",
           "oci: the pushed image has cairn's attestation as a referrer")
    st, _, body = server.request("GET", f"/v2/plain/app/referrers/{plain}", auth=basic)
    expect(st == 200 and json.loads(body)["manifests"] == [], "oci: outside oci.attest_pushes, none")
    host = f"127.0.0.1:{server.port}"
    r = run([COSIGN, "verify-attestation", "--key", key, "--type", PREDICATE, "--insecure-ignore-tlog",
             "--allow-http-registry", "--registry-username", "admin", "--registry-password=" + secret,
             f"{host}/attested/app@{attested}"], ok=False)
    expect(r.returncode == 0, f"oci: cosign verify-attestation --key checks it {r.stderr.strip()[-300:]}")
    r = run([COSIGN, "verify-attestation", "--key", key, "--type", PREDICATE, "--insecure-ignore-tlog",
             "--allow-http-registry", "--registry-username", "admin", "--registry-password=" + secret,
             f"{host}/plain/app@{plain}"], ok=False)
    expect(r.returncode != 0, "oci: and finds none on the other image")

    # Someone who may not read the package is not told.
    other, _ = token(server, ["cargo/**:read"], "other")
    st, _ = attestations(server, f"Bearer {other}", "npm", "attested-lib", "1.0.0")
    expect(st == 403, f"a token without read on the package is refused the attestations ({st})")
    st, _ = attestations(server, None, "npm", "attested-lib", "1.0.0")
    expect(st in (401, 403), f"so is an anonymous caller when anonymous reads are off ({st})")
    server.terminate()
    print("attestations: all checks passed")


if __name__ == "__main__":
    main()
