#!/usr/bin/env python3
"""SBOMs indexed on arrival and the component query, with real clients.

Four images get SBOMs four ways: oras attach (an SPDX referrer), cosign
attach sbom in its legacy layout (a `sha256-<hex>.sbom` tag) and in its
referrers mode (CycloneDX), and cosign attest (a signed CycloneDX
attestation in a Sigstore bundle); an npm package published with npm gets a
CycloneDX SBOM through `cairn sbom attach`. Then `cairn sbom query` and the
API answer range, exact, any-version and prefix queries for Maven, npm,
PyPI, Go and Cargo components; hostile and malformed documents are refused
with nothing stored; a deleted image stops being an answer.

Usage: sbom.py CAIRN_BINARY OUTPUT_DIR
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import urllib.parse

from cairnproc import Cairn

BIN_TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".tools", "bin")
ORAS = os.path.join(BIN_TOOLS, "oras")
COSIGN = os.path.join(BIN_TOOLS, "cosign")
BIN, OUT = sys.argv[1], sys.argv[2]
DATA = os.path.join(OUT, "sbom-data")
WORK = os.path.join(OUT, "sbom-work")
IMAGE = "application/vnd.oci.image.manifest.v1+json"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")
    print(f"ok - {message}")


def run(cmd, ok=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if ok and r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(map(str, cmd))}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def spdx(purls):
    return {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": "app",
            "documentNamespace": "https://example.com/app", "creationInfo": {"created": "2026-12-01T00:00:00Z",
                                                                              "creators": ["Tool: test"]},
            "packages": [{"SPDXID": f"SPDXRef-{i}", "name": p.split("/")[-1].split("@")[0],
                          "downloadLocation": "NOASSERTION",
                          "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER" if i % 2 else "PACKAGE_MANAGER",
                                            "referenceType": "purl", "referenceLocator": p}]}
                         for i, p in enumerate(purls)]}


def cyclonedx(purls, nested=()):
    comps = [{"type": "library", "name": p.split("/")[-1].split("@")[0], "purl": p} for p in purls]
    if nested:
        comps[0]["components"] = [{"type": "library", "name": "n", "purl": p} for p in nested]
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": comps}


def write(name, doc):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc))
    return path


class Registry:
    def __init__(self, server):
        self.s = server
        self.host = f"127.0.0.1:{server.port}"

    def push_image(self, repo, tag, seed):
        layer = f"layer {seed}".encode()
        config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
        for data in (layer, config):
            st, _, body = self.s.request("POST", f"/v2/{repo}/blobs/uploads/?digest={sha(data)}", data,
                                         auth=self.s.basic)
            expect(st == 201, f"blob pushed to {repo}") if False else None
            if st != 201:
                raise SystemExit(f"FAIL: blob {st} {body!r}")
        doc = {"schemaVersion": 2, "mediaType": IMAGE,
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config),
                          "size": len(config)},
               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(layer),
                           "size": len(layer)}]}
        body = json.dumps(doc).encode()
        st, _, resp = self.s.request("PUT", f"/v2/{repo}/manifests/{tag}", body, {"Content-Type": IMAGE},
                                     auth=self.s.basic)
        if st != 201:
            raise SystemExit(f"FAIL: manifest {st} {resp!r}")
        return sha(body)

    def referrers(self, repo, digest):
        st, _, body = self.s.request("GET", f"/v2/{repo}/referrers/{digest}", auth=self.s.basic)
        expect(st == 200, f"referrers of {repo}@{digest[:19]} answer")
        return json.loads(body)["manifests"]

    def tags(self, repo):
        st, _, body = self.s.request("GET", f"/v2/{repo}/tags/list", auth=self.s.basic)
        return json.loads(body).get("tags") or []


def api(server, path, method="GET", body=None):
    st, _, resp = server.request(method, path, body, {"Content-Type": "application/json"}, auth=server.basic)
    return st, (json.loads(resp) if resp.startswith(b"{") else resp)


def components(server, **params):
    st, body = api(server, "/api/v1/components?" + urllib.parse.urlencode(params))
    expect(st == 200, f"component query {params} answers 200") if st != 200 else None
    if st != 200:
        raise SystemExit(f"FAIL: {st} {body}")
    return body["results"]


def cli_query(server, *args):
    env = {**os.environ, "CAIRN_PW": server.password}
    r = run([BIN, "sbom", "query", *args, "--url", f"http://127.0.0.1:{server.port}", "--user", "admin",
             "--password-env", "CAIRN_PW"], env=env)
    return r.stdout


def osv(id, eco, name, events, modified="2024-01-01T00:00:00Z", **extra):
    return {"schema_version": "1.6.0", "id": id, "modified": modified, "summary": f"{id} summary",
            "affected": [{"package": {"ecosystem": eco, "name": name},
                          "ranges": [{"type": "SEMVER" if eco == "Go" else "ECOSYSTEM", "events": events}]}],
            **extra}


def vulnerabilities(server, reg, app1, app2, app3, npmrc):
    """OSV data imported offline (a directory and an all.zip), matched against the images' SBOMs,
    the package SBOM and a hosted package version."""
    import zipfile
    # A hosted lodash, matched as a package of its own.
    pkg = os.path.join(WORK, "lodash")
    os.makedirs(pkg, exist_ok=True)
    with open(os.path.join(pkg, "package.json"), "w") as f:
        json.dump({"name": "lodash", "version": "4.17.15"}, f)
    run(["npm", "publish", "--userconfig", npmrc], cwd=pkg)

    corpus = os.path.join(WORK, "osv")
    os.makedirs(corpus, exist_ok=True)
    cvss = [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"}]
    docs = {
        "GHSA-jfh8-c2jp-5v3q": osv("GHSA-jfh8-c2jp-5v3q", "Maven", "org.apache.logging.log4j:log4j-core",
                                   [{"introduced": "2.13.0"}, {"fixed": "2.15.0"}, {"introduced": "2.0-beta9"},
                                    {"fixed": "2.3.1"}], severity=cvss, aliases=["CVE-2021-44228"]),
        "GHSA-lodash": osv("GHSA-lodash", "npm", "lodash", [{"introduced": "0"}, {"fixed": "4.17.21"}],
                           database_specific={"severity": "HIGH"}),
        "PYSEC-2023-django": osv("PYSEC-2023-django", "PyPI", "django",
                                 [{"introduced": "4.2"}, {"fixed": "4.2.1"}],
                                 database_specific={"severity": "MODERATE"}),
        "GO-2024-logrus": osv("GO-2024-logrus", "Go", "github.com/sirupsen/logrus",
                              [{"introduced": "0"}, {"fixed": "1.8.3"}]),
        "GHSA-withdrawn": osv("GHSA-withdrawn", "npm", "left-pad", [{"introduced": "0"}],
                              withdrawn="2024-02-01T00:00:00Z"),
    }
    for name in ["GHSA-jfh8-c2jp-5v3q", "GHSA-lodash", "GHSA-withdrawn"]:
        write(f"osv/{name}.json", docs[name])
    write("osv/broken.json", "{not osv")
    with zipfile.ZipFile(os.path.join(WORK, "all.zip"), "w") as z:
        for name in ["PYSEC-2023-django", "GO-2024-logrus"]:
            z.writestr(f"{name}.json", json.dumps(docs[name]))
        z.writestr("RUSTSEC-2024-serde.json", json.dumps(osv("RUSTSEC-2024-serde", "crates.io", "serde_json",
                                                              [{"introduced": "1.0.0"}, {"fixed": "1.0.101"}])))
    data = ["--data-dir", DATA]
    r = run([BIN, "vuln", "import", corpus, os.path.join(WORK, "all.zip"), *data])
    expect("6 added, 0 updated, 0 unchanged, 1 not readable" in r.stdout, f"vuln import: {r.stdout.strip()}")
    r = run([BIN, "vuln", "import", corpus, os.path.join(WORK, "all.zip"), *data])
    expect("0 added, 0 updated, 6 unchanged" in r.stdout, f"the same data again: {r.stdout.strip()}")

    client = ["--url", f"http://127.0.0.1:{server.port}", "--user", "admin", "--password-env", "CAIRN_PW"]
    env = {**os.environ, "CAIRN_PW": server.password}
    out = run([BIN, "vuln", "affected", "GHSA-jfh8-c2jp-5v3q", *client], env=env).stdout
    expect("critical" in out and app1 in out and app3 in out and app2 not in out,
           "log4shell affects app:1 (2.14.1) and other:3 (2.0-beta9), not app:2 (2.17.1)")
    expect("CC-BY-4.0 (GitHub Advisory Database)" in out, "each finding names its data's licence")
    st, body = api(server, "/api/v1/advisories/GHSA-lodash")
    found = sorted((f["artifact"]["format"], f["version"], bool(f["sbom"])) for f in body["findings"])
    expect(found == [("npm", "4.17.15", False), ("npm", "4.17.15", True), ("oci", "4.17.20", True)],
           f"lodash <4.17.21: the hosted version, the package SBOM's and the image's components: {found}")
    for advisory, digest in [("PYSEC-2023-django", app1), ("GO-2024-logrus", app3), ("RUSTSEC-2024-serde", app1)]:
        st, body = api(server, f"/api/v1/advisories/{advisory}")
        expect(st == 200 and [f["artifact"]["subject"] for f in body["findings"]] == [digest],
               f"{advisory} (from the zip) affects exactly {digest[:19]}")
    st, body = api(server, "/api/v1/advisories/GHSA-withdrawn")
    expect(st == 200 and body["findings"] == [], "a withdrawn advisory affects nothing")
    out = run([BIN, "vuln", "findings", "oci", "team/app", app1, *client], env=env).stdout
    ids = [line.split("\t")[0] for line in out.splitlines()]
    expect(ids[0] == "GHSA-jfh8-c2jp-5v3q" and set(ids) == {"GHSA-jfh8-c2jp-5v3q", "GHSA-lodash", "PYSEC-2023-django",
                                                            "RUSTSEC-2024-serde"},
           f"what affects app:1, most severe first: {ids}")
    st, body = api(server, "/api/v1/findings?format=npm&repository=main")
    expect(st == 200 and {(f["artifact"]["subject"], f["advisory"]["id"]) for f in body["findings"]}
           == {("acme-app", "GHSA-lodash"), ("lodash", "GHSA-lodash")}, "a package repository's findings")
    # A newer revision of an advisory replaces the old one.
    docs["GHSA-lodash"] = osv("GHSA-lodash", "npm", "lodash", [{"introduced": "4.17.16"}, {"fixed": "4.17.21"}],
                              modified="2024-06-01T00:00:00Z", database_specific={"severity": "HIGH"})
    write("osv/GHSA-lodash.json", docs["GHSA-lodash"])
    r = run([BIN, "vuln", "import", corpus, *data])
    expect("0 added, 1 updated, 2 unchanged" in r.stdout, f"a revised advisory: {r.stdout.strip()}")
    st, body = api(server, "/api/v1/advisories/GHSA-lodash")
    expect([f["version"] for f in body["findings"]] == ["4.17.20"], "the revision's range is what matches now")


def main():
    os.makedirs(WORK, exist_ok=True)
    server = Cairn(BIN, DATA).start(os.path.join(OUT, "sbom-cairn.log"))
    reg = Registry(server)
    login = ["-u", "admin", "--password=" + server.password]

    # 1. oras attach: an SPDX document as a referrer of app:1.
    app1 = reg.push_image("team/app", "1", "one")
    spdx_doc = write("app1.spdx.json", spdx([
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
        "pkg:maven/org.apache.logging.log4j/log4j-api@2.14.1",
        "pkg:npm/lodash@4.17.20",
        "pkg:npm/%40babel/core@7.24.0",
        "pkg:pypi/Django@4.2",
        "pkg:golang/github.com/sirupsen/logrus@v1.9.0",
        "pkg:cargo/serde_json@1.0.100",
    ]))
    run([ORAS, "attach", "--plain-http", *login, "--artifact-type", "application/spdx+json",
         f"{reg.host}/team/app@{app1}", "app1.spdx.json:application/spdx+json"], cwd=WORK)
    expect(len(reg.referrers("team/app", app1)) == 1, "oras attached the SPDX document as a referrer")

    # 2. cosign attach sbom, legacy layout (a sha256-<hex>.sbom tag).
    app2 = reg.push_image("team/app", "2", "two")
    cdx2 = write("app2.cdx.json", cyclonedx(["pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1",
                                              "pkg:npm/lodash@4.17.21"],
                                             nested=["pkg:pypi/requests@2.31.0"]))
    cosign_env = {**os.environ, "COSIGN_YES": "true"}
    run([COSIGN, "attach", "sbom", "--allow-http-registry", "--registry-username", "admin",
         "--registry-password=" + server.password, "--sbom", cdx2, "--type", "cyclonedx",
         "--input-format", "json", f"{reg.host}/team/app@{app2}"], env=cosign_env)
    legacy = "sha256-" + app2.split(":")[1] + ".sbom"
    expect(legacy in reg.tags("team/app"), f"cosign attach sbom pushed the {legacy[:20]}….sbom tag")

    # 3. cosign attach sbom in its referrers mode.
    app3 = reg.push_image("team/other", "3", "three")
    cdx3 = write("app3.cdx.json", cyclonedx(["pkg:maven/org.apache.logging.log4j/log4j-core@2.0-beta9",
                                              "pkg:golang/github.com/sirupsen/logrus@v1.8.1"]))
    r = run([COSIGN, "attach", "sbom", "--allow-http-registry", "--registry-username", "admin",
             "--registry-password=" + server.password, "--sbom", cdx3, "--type", "cyclonedx",
             "--input-format", "json", "--registry-referrers-mode", "oci-1-1", f"{reg.host}/team/other@{app3}"],
            env={**cosign_env, "COSIGN_EXPERIMENTAL": "1"})
    expect(len(reg.referrers("team/other", app3)) == 1, "cosign attached the CycloneDX document as a referrer")

    # 3b. cosign attest: a signed SBOM attestation (a Sigstore bundle referrer), with a key and
    # no transparency log (an empty signing config: nothing leaves the machine).
    app4 = reg.push_image("team/attested", "4", "four")
    bom4 = write("app4.cdx.json", cyclonedx(["pkg:npm/minimist@1.2.5", "pkg:maven/com.example/attested-lib@3.1"]))
    keys = {**cosign_env, "COSIGN_PASSWORD": "test"}
    run([COSIGN, "generate-key-pair"], cwd=WORK, env=keys)
    run([COSIGN, "signing-config", "create", "--out", os.path.join(WORK, "signing-config.json")], env=keys)
    run([COSIGN, "attest", "--key", os.path.join(WORK, "cosign.key"), "--type", "cyclonedx", "--predicate", bom4,
         "--signing-config", os.path.join(WORK, "signing-config.json"), "--allow-http-registry",
         "--registry-username", "admin", "--registry-password=" + server.password,
         f"{reg.host}/team/attested@{app4}"], env=keys)
    refs = reg.referrers("team/attested", app4)
    expect(len(refs) == 1 and refs[0]["artifactType"].startswith("application/vnd.dev.sigstore.bundle"),
           "cosign attest pushed a Sigstore bundle referrer")

    # 4. An npm package published with npm, its SBOM attached with the CLI.
    npmrc = write("npmrc", f"registry=http://{reg.host}/npm/main/\n//{reg.host}/npm/main/:_auth="
                           + base64.b64encode(f"admin:{server.password}".encode()).decode() + "\n")
    pkg = os.path.join(WORK, "pkg")
    os.makedirs(pkg, exist_ok=True)
    with open(os.path.join(pkg, "package.json"), "w") as f:
        json.dump({"name": "acme-app", "version": "1.0.0"}, f)
    run(["npm", "publish", "--userconfig", npmrc], cwd=pkg)
    npm_sbom = write("acme.cdx.json", cyclonedx(["pkg:npm/lodash@4.17.15", "pkg:npm/left-pad@1.3.0"]))
    env = {**os.environ, "CAIRN_PW": server.password}
    r = run([BIN, "sbom", "attach", npm_sbom, "--format", "npm", "--repository", "main", "--package", "acme-app",
             "--version", "1.0.0", "--url", f"http://127.0.0.1:{server.port}", "--user", "admin",
             "--password-env", "CAIRN_PW"], env=env)
    expect("2 components" in r.stdout, f"cairn sbom attach: {r.stdout.strip()}")
    fetched = os.path.join(WORK, "acme.fetched.json")
    r = run([BIN, "sbom", "get", "npm", "main", "acme-app", "1.0.0", "-o", fetched,
             "--url", f"http://127.0.0.1:{server.port}", "--user", "admin", "--password-env", "CAIRN_PW"], env=env)
    expect(open(fetched, "rb").read() == open(npm_sbom, "rb").read(),
           "cairn sbom get fetches the package SBOM back, byte for byte")
    st, body = api(server, f"/api/v1/sboms?format=oci&repository=team/app&subject={app1}")
    first = body["sboms"][0]
    r = subprocess.run([BIN, "sbom", "get", "oci", "team/app", app1, "--url", f"http://127.0.0.1:{server.port}",
                        "--user", "admin", "--password-env", "CAIRN_PW"], capture_output=True, env=env)
    expect(r.returncode == 0 and len(body["sboms"]) == 1 and sha(r.stdout) == first["digest"],
           "cairn sbom get prints an image's one SBOM document")
    st, headers, doc = server.request(
        "GET", f"/api/v1/sboms/document?format=oci&repository=team/app&subject={app1}&digest={first['digest']}",
        auth=server.basic)
    expect(st == 200 and sha(doc) == first["digest"] and headers.get("content-type") == first["media_type"],
           f"an image's SBOM document over the API, with its media type ({first['media_type']})")
    st, _, _ = server.request(
        "GET", f"/api/v1/sboms/document?format=oci&repository=team/app&subject={app1}&digest=sha256:{'0' * 64}",
        auth=server.basic)
    expect(st == 404, "a digest that is not one of its SBOMs is a 404")

    # Queries.
    out = cli_query(server, "pkg:maven/org.apache.logging.log4j/log4j-core", "--range", "vers:maven/>=2.0.0|<2.17.1")
    expect(app1 in out and app2 not in out and app3 not in out,
           "log4j-core >=2.0.0 <2.17.1: app:1 only (2.17.1 is fixed, 2.0-beta9 is below 2.0.0)")
    expect("[1]" in out, "the answer names the image's tag")
    out = cli_query(server, "pkg:maven/org.apache.logging.log4j/log4j-core", "--range", "vers:maven/<2.17.1")
    expect(app1 in out and app3 in out and app2 not in out, "log4j-core <2.17.1: app:1 and other:3")
    out = cli_query(server, "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1.0")
    expect(app2 in out and app1 not in out, "an exact version, equal in Maven's order (2.17.1.0 == 2.17.1)")
    hits = components(server, purl="pkg:npm/lodash", range="vers:npm/<4.17.21")
    found = sorted((h["artifact"].get("digest") or h["artifact"]["package"], h["component"]["version"]) for h in hits)
    expect(found == sorted([(app1, "4.17.20"), ("acme-app", "4.17.15")]),
           f"lodash <4.17.21 in an image and in an npm package: {found}")
    expect(len(components(server, purl="pkg:npm/@babel/core@7.24.0")) == 1, "an npm scope, percent-encoded in the SBOM")
    expect(len(components(server, purl="pkg:pypi/django", range="vers:pypi/>=4.2.0|<4.2.1")) == 1,
           "PyPI: Django 4.2 == 4.2.0, found by a normalised name")
    expect(len(components(server, purl="pkg:pypi/requests", range="vers:pypi/*")) == 1,
           "a nested CycloneDX component")
    expect([h["artifact"]["digest"] for h in components(server, purl="pkg:golang/github.com/sirupsen/logrus",
                                                         range="vers:golang/<v1.9.0")] == [app3],
           "Go: logrus <v1.9.0")
    expect(len(components(server, purl="pkg:cargo/serde-json", range="vers:cargo/>=1.0.0")) == 1,
           "Cargo: serde_json and serde-json are one crate")
    hits = components(server, purl="pkg:npm/minimist", range="vers:npm/<1.2.6")
    expect([h["artifact"]["digest"] for h in hits] == [app4],
           "the attestation's SBOM (the in-toto statement's predicate) is indexed for the attested image")
    prefix = components(server, type="maven", prefix="org.apache.logging.log4j/")
    expect(len(prefix) == 4, f"a name prefix finds every log4j artifact occurrence ({len(prefix)})")
    page = components(server, purl="pkg:maven/org.apache.logging.log4j/log4j-core", limit="1")
    expect(len(page) == 1, "a page of one")
    out = cli_query(server, "pkg:maven/org.apache.logging.log4j/log4j-core", "--page-size", "1")
    expect(all(d in out for d in (app1, app2, app3)), "the CLI follows every page")

    # Refusals: nothing stored.
    st, body = api(server, "/api/v1/components?purl=pkg:npm/lodash&range=" + urllib.parse.quote("vers:pypi/>=1"))
    expect(st == 400 and "scheme" in body["error"], f"a range of another ecosystem is refused: {body}")
    st, body = api(server, "/api/v1/components?purl=" + urllib.parse.quote("lodash"))
    expect(st == 400, "a name that is no purl is refused")
    before = len(reg.referrers("team/app", app1))
    write("bad.spdx.json", '{"spdxVersion": "SPDX-2.3", "packages": [')
    r = run([ORAS, "attach", "--plain-http", *login, "--artifact-type", "application/spdx+json",
             f"{reg.host}/team/app@{app1}", "bad.spdx.json:application/spdx+json"], ok=False, cwd=WORK)
    said = r.stdout + r.stderr
    expect(r.returncode != 0 and "malformed SBOM" in said and ("MANIFEST_INVALID" in said or "manifest invalid" in said),
           f"a malformed SBOM refuses the push with MANIFEST_INVALID: {said.strip()[-200:]}")
    deep = '{"bomFormat":"CycloneDX","specVersion":"1.5","components":' + '[{"components":' * 200 + "[]" + "}]" * 200 + "}"
    write("deep.cdx.json", deep)
    r = run([ORAS, "attach", "--plain-http", *login, "--artifact-type", "application/vnd.cyclonedx+json",
             f"{reg.host}/team/app@{app1}", "deep.cdx.json:application/vnd.cyclonedx+json"], ok=False, cwd=WORK)
    expect(r.returncode != 0 and "nesting deeper" in (r.stdout + r.stderr), "a deeply nested SBOM is refused")
    expect(len(reg.referrers("team/app", app1)) == before, "nothing of the refused pushes is stored")
    st, body = api(server, "/api/v1/sboms?format=npm&repository=main&package=acme-app&version=1.0.0", "PUT",
                   b'{"bomFormat": "CycloneDX"')
    expect(st == 422, f"a malformed package SBOM is refused: {st} {body}")
    st, body = api(server, "/api/v1/sboms?format=npm&repository=main&package=acme-app&version=9.9.9", "PUT",
                   json.dumps(cyclonedx(["pkg:npm/x@1.0.0"])).encode())
    expect(st == 404, f"an SBOM for a version that does not exist is refused: {st}")
    st, body = api(server, "/api/v1/sboms?format=npm&repository=main&package=acme-app&version=1.0.0")
    expect(st == 200 and len(body["sboms"]) == 1, "the package version lists its one SBOM")

    vulnerabilities(server, reg, app1, app2, app3, npmrc)

    # A package SBOM removed by its digest answers nothing any more.
    st, body = api(server, "/api/v1/sboms?format=npm&repository=main&package=acme-app&version=1.0.0")
    digest = body["sboms"][0]["digest"]
    st, _ = api(server, f"/api/v1/sboms?format=npm&repository=main&package=acme-app&version=1.0.0&digest={digest}",
                "DELETE")
    expect(st == 204, "the package SBOM is removed")
    expect(components(server, purl="pkg:npm/left-pad") == [], "its components answer nothing")

    # A deleted image is no answer any more.
    st, _, _ = server.request("DELETE", f"/v2/team/app/manifests/{app1}", auth=server.basic)
    expect(st == 202, "app:1 deleted")
    out = cli_query(server, "pkg:maven/org.apache.logging.log4j/log4j-core", "--range", "vers:maven/<2.17.1")
    expect(app1 not in out and app3 in out, "a deleted image's SBOM answers nothing")
    server.terminate()
    print("sbom: all checks passed")


main()
