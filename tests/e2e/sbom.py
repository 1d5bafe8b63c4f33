#!/usr/bin/env python3
"""SBOMs indexed on arrival and the component query, with real clients.

Three images get SBOMs three ways: oras attach (an SPDX referrer), cosign
attach sbom in its legacy layout (a `sha256-<hex>.sbom` tag) and in its
referrers mode (CycloneDX); an npm package published with npm gets a
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


def main():
    os.makedirs(WORK, exist_ok=True)
    server = Cairn(BIN, DATA).start(os.path.join(OUT, "sbom-cairn.log"))
    reg = Registry(server)
    login = ["-u", "admin", "-p", server.password]

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
         "--registry-password", server.password, "--sbom", cdx2, "--type", "cyclonedx",
         "--input-format", "json", f"{reg.host}/team/app@{app2}"], env=cosign_env)
    legacy = "sha256-" + app2.split(":")[1] + ".sbom"
    expect(legacy in reg.tags("team/app"), f"cosign attach sbom pushed the {legacy[:20]}….sbom tag")

    # 3. cosign attach sbom in its referrers mode.
    app3 = reg.push_image("team/other", "3", "three")
    cdx3 = write("app3.cdx.json", cyclonedx(["pkg:maven/org.apache.logging.log4j/log4j-core@2.0-beta9",
                                              "pkg:golang/github.com/sirupsen/logrus@v1.8.1"]))
    r = run([COSIGN, "attach", "sbom", "--allow-http-registry", "--registry-username", "admin",
             "--registry-password", server.password, "--sbom", cdx3, "--type", "cyclonedx",
             "--input-format", "json", "--registry-referrers-mode", "oci-1-1", f"{reg.host}/team/other@{app3}"],
            env={**cosign_env, "COSIGN_EXPERIMENTAL": "1"})
    expect(len(reg.referrers("team/other", app3)) == 1, "cosign attached the CycloneDX document as a referrer")

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

    # A deleted image is no answer any more.
    st, _, _ = server.request("DELETE", f"/v2/team/app/manifests/{app1}", auth=server.basic)
    expect(st == 202, "app:1 deleted")
    out = cli_query(server, "pkg:maven/org.apache.logging.log4j/log4j-core", "--range", "vers:maven/<2.17.1")
    expect(app1 not in out and app3 in out, "a deleted image's SBOM answers nothing")
    server.terminate()
    print("sbom: all checks passed")


main()
