#!/usr/bin/env python3
"""Keyless (Sigstore) signatures, verified offline against a pinned
trusted root, and required at pull by identity.

A Sigstore of our own (tests/e2e/sigstore_fixture.py: a certificate
authority and a transparency log key, no server) signs images the way
`cosign sign` does in CI — a ten-minute certificate for an OpenID identity
and a logged entry — in both of cosign's layouts (a v0.3 bundle referrer,
the legacy `.sig` tag with its certificate, chain and SET annotations).
cosign itself verifies those signatures through cairn
(`cosign verify --trusted-root`), so they are the real format. A
`[[signature_policy]]` naming a `[[signing_identity]]` serves the image
the right workflow signed, and refuses: an unsigned image, another
workflow's signature, the right identity under another (unpinned)
certificate authority, a signature the log integrated after the
certificate expired, a signature whose log entry was tampered with; an
attestation requirement is met by a keyless SLSA attestation.

The same trusted root verifies package provenance: `npm publish
--provenance-file` with a bundle our Sigstore signed is accepted and served
at `/-/npm/v1/attestations/`, one from another Sigstore refused; `twine
upload --attestations` likewise (PEP 740), the signer's identity kept as the
publisher's claims.

Usage: keyless.py CAIRN_BINARY OUTPUT_DIR   (run with .tools/py's python)
"""

import base64
import hashlib
import json
import os
import subprocess
import sys

import threading

from cairnproc import Cairn, free_port
from sigstore_fixture import BUNDLE_V03, COSIGN_SIGN, Sigstore
from signatures import COSIGN, IMAGE, Registry, expect, explain, refused, run, served, sha
from tuf import TufProxy, client_env, make_certificates, make_repository, seed_cache

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TWINE = os.path.join(ROOT, ".tools", "py", "bin", "twine")

BIN, OUT = sys.argv[1], sys.argv[2]
WORK = os.path.join(OUT, "keyless-work")
GHA = "https://token.actions.githubusercontent.com"
RELEASE = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0"
SLSA = "https://slsa.dev/provenance/v1"


def push_bundle(reg, repo, subject, bundle):
    """What cosign 3 pushes: a referrer whose one layer is the bundle."""
    layer = reg.blob(repo, json.dumps(bundle).encode())
    empty = reg.blob(repo, b"{}")
    st, _, raw = reg.s.request("GET", f"/v2/{repo}/manifests/{subject}", headers={"Accept": IMAGE},
                               auth=reg.s.basic)
    statement = json.loads(__import__("base64").b64decode(bundle["dsseEnvelope"]["payload"]))
    doc = {"schemaVersion": 2, "mediaType": IMAGE, "artifactType": BUNDLE_V03,
           "config": {"mediaType": "application/vnd.oci.empty.v1+json", **empty},
           "layers": [{"mediaType": BUNDLE_V03, **layer}],
           "subject": {"mediaType": IMAGE, "digest": subject, "size": len(raw)},
           "annotations": {"dev.sigstore.bundle.content": "dsse-envelope",
                           "dev.sigstore.bundle.predicateType": statement["predicateType"]}}
    return reg.manifest(repo, sha(json.dumps(doc).encode()), doc)[0]


def push_legacy(reg, repo, subject, payload, annotations):
    layer = reg.blob(repo, payload)
    config = reg.blob(repo, json.dumps({"architecture": "", "os": "", "rootfs": {"type": "layers",
                                        "diff_ids": [subject]}}).encode())
    doc = {"schemaVersion": 2, "mediaType": IMAGE,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
           "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", **layer,
                       "annotations": annotations}]}
    reg.manifest(repo, f"sha256-{subject[7:]}.sig", doc)


def cosign_verify(server, image, root_file, identity=RELEASE):
    return run([COSIGN, "verify", "--trusted-root", root_file, "--certificate-identity", identity,
                "--certificate-oidc-issuer", GHA, "--allow-http-registry",
                "--registry-username", "admin", "--registry-password=" + server.password, image], ok=False)


def slsa_statement(name, algorithm, digest):
    return {"_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": name, "digest": {algorithm: digest}}],
            "predicateType": SLSA, "predicate": {"buildDefinition": {}, "runDetails": {}}}


def npm_provenance(server, ours, rogue):
    # npm verifies a provenance file itself (sigstore-js, against the
    # trusted root of Sigstore's TUF repository): give it one trusting both
    # Sigstores, while cairn pins only ours — so the rogue bundle reaches
    # cairn, and it is cairn that refuses it.
    both = ours.trusted_root()
    for part in ("certificateAuthorities", "tlogs", "ctlogs"):
        both[part] += rogue.trusted_root()[part]
    tuf_dir = os.path.join(WORK, "tuf")
    root = make_repository(WORK, tuf_dir, {"trusted_root.json": json.dumps(both).encode()})
    ca, cert, key = make_certificates(WORK)
    proxy = TufProxy(free_port(), tuf_dir, cert, key)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    data_home = os.path.join(WORK, "xdg-data")
    seed_cache(os.path.join(data_home, "sigstore-js"), root)
    env = {**client_env(proxy, ca), "XDG_DATA_HOME": data_home}
    npmrc = os.path.join(WORK, "npmrc")
    auth = base64.b64encode(f"admin:{server.password}".encode()).decode()
    with open(npmrc, "w") as f:
        f.write(f"registry=http://127.0.0.1:{server.port}/npm/main/\n"
                f"//127.0.0.1:{server.port}/npm/main/:_auth={auth}\n")
    for version, sigstore, accepted in (("1.0.0", ours, True), ("1.0.1", rogue, False)):
        pkg = os.path.join(WORK, f"npm-{version}")
        os.makedirs(pkg, exist_ok=True)
        with open(os.path.join(pkg, "package.json"), "w") as f:
            json.dump({"name": "keyless-lib", "version": version}, f)
        with open(os.path.join(pkg, "index.js"), "w") as f:
            f.write("module.exports = 1;\n")
        tgz = os.path.join(pkg, run(["npm", "pack", "--silent"], cwd=pkg).stdout.strip().splitlines()[-1])
        with open(tgz, "rb") as f:
            sha512 = hashlib.sha512(f.read()).hexdigest()
        bundle = sigstore.sign_statement(slsa_statement(f"pkg:npm/keyless-lib@{version}", "sha512", sha512),
                                         GHA, RELEASE)
        bundle_file = os.path.join(pkg, "provenance.sigstore.json")
        with open(bundle_file, "w") as f:
            json.dump(bundle, f)
        r = run(["npm", "publish", tgz, "--provenance-file", bundle_file, "--userconfig", npmrc], ok=False, cwd=pkg,
                env=env)
        said = (r.stdout + r.stderr).strip()
        if accepted:
            expect(r.returncode == 0, f"npm publish --provenance-file with our Sigstore's bundle {said[-300:]}")
            st, _, body = server.request("GET", f"/npm/main/-/npm/v1/attestations/keyless-lib@{version}")
            expect(st == 200 and json.loads(body)["attestations"][0]["bundle"] == bundle,
                   "the provenance is served at /-/npm/v1/attestations/")
        else:
            expect(r.returncode != 0 and "does not verify" in said,
                   f"npm publish with another Sigstore's bundle is refused: "
                   f"{[l for l in said.splitlines() if 'verify' in l][:1]}")
            st, _, body = server.request("GET", "/npm/main/keyless-lib")
            expect(version not in json.loads(body)["versions"], "nothing of the refused publish is stored")
    # npm audit signatures verifies the served provenance (and cairn's
    # registry signature) on install.
    app = os.path.join(WORK, "npm-app")
    os.makedirs(app, exist_ok=True)
    with open(os.path.join(app, "package.json"), "w") as f:
        json.dump({"name": "app", "version": "0.0.0", "private": True}, f)
    cache = os.path.join(WORK, "npm-cache")
    seed_cache(os.path.join(cache, "_tuf"), root)
    registry = f"http://127.0.0.1:{server.port}/npm/main/"
    run(["npm", "install", "--no-audit", "--no-fund", "--registry", registry, "--userconfig", npmrc, "--cache", cache,
         "keyless-lib@1.0.0"], cwd=app, env=env)
    r = run(["npm", "audit", "signatures", "--registry", registry, "--userconfig", npmrc, "--cache", cache],
            ok=False, cwd=app, env=env)
    said = (r.stdout + r.stderr).strip()
    expect(r.returncode == 0 and "1 package has a verified attestation" in said
           and "1 package has a verified registry signature" in said,
           f"npm audit signatures verifies the provenance and the registry signature: {said[-200:]}")
    # Through an npm proxy repository of another cairn: the upstream's keys
    # and attestations are proxied, so the same audit passes there.
    env_proxy = {"CAIRN_PROXY": f'[{{format = "npm", name = "npmup", '
                                f'upstream = "http://127.0.0.1:{server.port}/npm/main/"}}]'}
    down = Cairn(BIN, os.path.join(OUT, "keyless-proxy-data"), env=env_proxy).start(
        os.path.join(OUT, "keyless-proxy.log"))
    try:
        proxied = f"http://127.0.0.1:{down.port}/npm/npmup/"
        app2 = os.path.join(WORK, "npm-app-proxied")
        os.makedirs(app2, exist_ok=True)
        with open(os.path.join(app2, "package.json"), "w") as f:
            json.dump({"name": "app2", "version": "0.0.0", "private": True}, f)
        run(["npm", "install", "--no-audit", "--no-fund", "--registry", proxied, "--userconfig", npmrc,
             "--cache", cache, "keyless-lib@1.0.0"], cwd=app2, env=env)
        r = run(["npm", "audit", "signatures", "--registry", proxied, "--userconfig", npmrc, "--cache", cache],
                ok=False, cwd=app2, env=env)
        said = (r.stdout + r.stderr).strip()
        expect(r.returncode == 0 and "1 package has a verified attestation" in said
               and "1 package has a verified registry signature" in said,
               f"npm audit signatures passes through a proxy repository (the upstream's keys and provenance): "
               f"{said[-160:]}")
    finally:
        down.terminate()


def maven_sigstore(server, ours, rogue):
    def put(path, data):
        st, _, body = server.request("PUT", path, data, auth=server.basic)
        return st, body.decode(errors="replace")

    jar, pom = b"PK\x03\x04 a jar", b"<project><modelVersion>4.0.0</modelVersion><groupId>com.acme</groupId>" \
                                      b"<artifactId>lib</artifactId><version>1.0</version></project>"
    base = "/maven/main/com/acme/lib/1.0/lib-1.0"
    expect(put(f"{base}.jar", jar)[0] == 201 and put(f"{base}.pom", pom)[0] == 201, "maven: jar and pom deployed")
    st, body = put(f"{base}.jar.sigstore.json", json.dumps(ours.sign_file(jar, GHA, RELEASE)).encode())
    expect(st == 201, f"maven: a .sigstore.json by the release identity is accepted ({st} {body[:200]})")
    st, body = put(f"{base}.pom.sigstore.json", json.dumps(rogue.sign_file(pom, GHA, RELEASE)).encode())
    expect(st == 400 and "does not verify" in body, f"maven: one from another Sigstore is refused: {body[:200]}")
    st, body = put(f"{base}.pom.sigstore.json", json.dumps(ours.sign_file(jar, GHA, RELEASE)).encode())
    expect(st == 400 and "does not verify" in body, f"maven: one signing other bytes is refused: {body[:200]}")
    st, _, _ = server.request("GET", f"{base}.pom.sigstore.json")
    expect(st == 404, "maven: nothing of the refused signatures is stored")

    # Staging, where the repository requires a .sigstore.json for every file.
    stage = "/maven/msign/-/staging/s1/com/acme/lib/2.0/lib-2.0"
    jar2, pom2 = jar + b"2", pom.replace(b"1.0", b"2.0")
    put(f"{stage}.jar", jar2)
    put(f"{stage}.pom", pom2)
    put(f"{stage}.jar.sigstore.json", json.dumps(ours.sign_file(jar2, GHA, RELEASE)).encode())
    st, _, body = server.request("POST", "/api/v1/maven/msign/staging/s1/close", auth=server.basic)
    said = body.decode(errors="replace")
    expect(st != 200 and "lib-2.0.pom has no .sigstore.json signature" in said,
           f"maven: a staging repository lacking a .sigstore.json does not close: {said[:200]}")
    put(f"{stage}.pom.sigstore.json", json.dumps(ours.sign_file(pom2, GHA, RELEASE)).encode())
    st, _, body = server.request("POST", "/api/v1/maven/msign/staging/s1/close", auth=server.basic)
    expect(st == 200, f"maven: it closes once every file has a verified .sigstore.json ({st} {body[:200]!r})")


def pep740(bundle):
    """A PEP 740 attestation object made from a bundle's parts."""
    material = bundle["verificationMaterial"]
    return {"version": 1,
            "verification_material": {"certificate": material["certificate"]["rawBytes"],
                                      "transparency_entries": material["tlogEntries"]},
            "envelope": {"statement": bundle["dsseEnvelope"]["payload"],
                         "signature": bundle["dsseEnvelope"]["signatures"][0]["sig"]}}


def pypi_attestations(server, ours, rogue):
    url = f"http://127.0.0.1:{server.port}/pypi/main/"
    for version, sigstore, accepted in (("1.0", ours, True), ("2.0", rogue, False)):
        out = os.path.join(WORK, f"pypi-{version}")
        run([sys.executable, os.path.join(ROOT, "tests", "e2e", "mkdist.py"), out, "keyless-pkg", version])
        sdist = os.path.join(out, f"keyless_pkg-{version}.tar.gz")
        with open(sdist, "rb") as f:
            sha256 = hashlib.sha256(f.read()).hexdigest()
        statement = slsa_statement(os.path.basename(sdist), "sha256", sha256)
        statement["predicateType"] = "https://docs.pypi.org/attestations/publish/v1"
        statement["predicate"] = None
        with open(sdist + ".publish.attestation", "w") as f:
            json.dump(pep740(sigstore.sign_statement(statement, GHA, RELEASE)), f)
        r = run([TWINE, "upload", "--disable-progress-bar", "--non-interactive", "--attestations",
                 "--repository-url", url, "-u", "admin", f"--password={server.password}", sdist,
                 sdist + ".publish.attestation"], ok=False)
        said = " ".join((r.stdout + r.stderr).split())  # twine wraps its lines
        if accepted:
            expect(r.returncode == 0, f"twine upload --attestations signed by our Sigstore {said[-300:]}")
            st, _, body = server.request(
                "GET", f"/pypi/main/integrity/keyless-pkg/{version}/{os.path.basename(sdist)}/provenance")
            claims = json.loads(body)["attestation_bundles"][0]["publisher"].get("claims", {})
            expect(st == 200 and claims.get("subject") == RELEASE and claims.get("issuer") == GHA,
                   f"the provenance names the verified signer: {claims}")
        else:
            expect(r.returncode != 0 and "does not verify against the trusted root" in said,
                   f"an attestation from another Sigstore is refused: {said[said.find('attestation 0'):][:160]}")
            st, _, body = server.request("GET", "/pypi/main/simple/keyless-pkg/",
                                         headers={"Accept": "application/vnd.pypi.simple.v1+json"})
            expect(version not in json.loads(body)["versions"], "nothing of the refused upload is stored")


def main():
    os.makedirs(WORK, exist_ok=True)
    ours, rogue = Sigstore("sigstore"), Sigstore("rogue-sigstore")
    root_file = os.path.join(WORK, "trusted_root.json")
    with open(root_file, "w") as f:
        json.dump(ours.trusted_root(), f)
    identity = f'[{{id = "release", issuer = "{GHA}", ' \
               f'subject = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/*"}}]'
    policy = ('[{name = "keyless", repositories = ["keyless/**"], signed_by = ["release"]}, '
              '{name = "attested", repositories = ["kattest/**"], signed_by = ["release"], '
              f'attestations = [{{predicate_type = "{SLSA}", signed_by = ["release"]}}]}}]')
    env = {"CAIRN_SIGSTORE__TRUSTED_ROOT": root_file, "CAIRN_SIGNING_IDENTITY": identity,
           "CAIRN_SIGNATURE_POLICY": policy,
           "CAIRN_PACKAGES__REPOSITORIES": '[{pattern = "maven/msign", maven_staging = true, maven_require = ["sigstore"]}]'}
    server = Cairn(BIN, os.path.join(OUT, "keyless-data"), env=env).start(os.path.join(OUT, "keyless-cairn.log"))
    reg = Registry(server)

    unsigned = reg.image("keyless/app", "unsigned", "ku")
    said = refused(server, "keyless/app", "unsigned", "keyless: an unsigned image")
    expect("signature by release" in said, f"the refusal names the identity's signer id: {said}")

    good = reg.image("keyless/app", "good", "kg")
    push_bundle(reg, "keyless/app", good, ours.sign_image(good, GHA, RELEASE))
    served(server, "keyless/app", "good", "keyless: signed by the release workflow (bundle referrer)")
    image = f"{reg.host}/keyless/app@{good}"
    r = cosign_verify(server, image, root_file)
    expect(r.returncode == 0, f"cosign verify --trusted-root accepts the keyless bundle through cairn "
                              f"{r.stderr.strip()[-300:]}")
    r = cosign_verify(server, image, root_file, identity=RELEASE.replace("release", "nightly"))
    expect(r.returncode != 0, "cosign verify refuses it for another identity (the fixture is checked)")

    other = reg.image("keyless/app", "other-workflow", "ko")
    push_bundle(reg, "keyless/app", other,
                ours.sign_image(other, GHA, "https://github.com/acme/app/.github/workflows/nightly.yml@refs/heads/main"))
    refused(server, "keyless/app", "other-workflow", "keyless: signed by another workflow")

    issuer = reg.image("keyless/app", "other-issuer", "ki")
    push_bundle(reg, "keyless/app", issuer, ours.sign_image(issuer, "https://accounts.google.com", RELEASE))
    refused(server, "keyless/app", "other-issuer", "keyless: the right subject from another OpenID issuer")

    forged = reg.image("keyless/app", "rogue-ca", "kr")
    push_bundle(reg, "keyless/app", forged, rogue.sign_image(forged, GHA, RELEASE))
    refused(server, "keyless/app", "rogue-ca", "keyless: the right identity under an unpinned authority")

    late = reg.image("keyless/app", "late", "kl")
    push_bundle(reg, "keyless/app", late, ours.sign_image(late, GHA, RELEASE, late=True))
    refused(server, "keyless/app", "late", "keyless: logged after the certificate expired")

    tampered = reg.image("keyless/app", "tampered", "kt")
    bundle = ours.sign_image(tampered, GHA, RELEASE)
    bundle["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = str(
        int(bundle["verificationMaterial"]["tlogEntries"][0]["integratedTime"]) - 1)
    push_bundle(reg, "keyless/app", tampered, bundle)
    refused(server, "keyless/app", "tampered", "keyless: a log entry whose time was altered")
    log = open(os.path.join(OUT, "keyless-cairn.log")).read()
    expect("signed entry timestamp" in log, "the log says why the altered entry verified nothing")

    legacy = reg.image("keyless/app", "legacy", "kg2")
    payload, annotations = ours.sign_legacy(legacy, f"{reg.host}/keyless/app", GHA, RELEASE)
    push_legacy(reg, "keyless/app", legacy, payload, annotations)
    served(server, "keyless/app", "legacy", "keyless: the legacy .sig layout (certificate, chain, SET annotations)")
    r = cosign_verify(server, f"{reg.host}/keyless/app@{legacy}", root_file)
    expect(r.returncode == 0, f"cosign verify accepts the legacy keyless signature {r.stderr.strip()[-300:]}")

    # An attestation requirement, met by keyless signatures.
    att = reg.image("kattest/app", "1", "ka")
    push_bundle(reg, "kattest/app", att, ours.sign_image(att, GHA, RELEASE))
    said = refused(server, "kattest/app", "1", "keyless: signed but not attested")
    expect(SLSA in said, f"the refusal names the missing attestation: {said}")
    push_bundle(reg, "kattest/app", att, ours.sign_image(att, GHA, RELEASE, predicate_type=SLSA,
                                                         predicate={"buildDefinition": {}, "runDetails": {}}))
    served(server, "kattest/app", "1", "keyless: signed and attested by the release workflow")

    text = explain(server, "keyless/app:good")
    expect("served" in text and "signed by release" in text, f"cairn policy explain: {text.strip()}")

    maven_sigstore(server, ours, rogue)
    npm_provenance(server, ours, rogue)
    pypi_attestations(server, ours, rogue)
    server.terminate()
    print("keyless: all checks passed")


if __name__ == "__main__":
    main()
