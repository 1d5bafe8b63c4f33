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

Usage: keyless.py CAIRN_BINARY OUTPUT_DIR   (run with .tools/py's python)
"""

import json
import os
import sys

from cairnproc import Cairn
from sigstore_fixture import BUNDLE_V03, COSIGN_SIGN, Sigstore
from signatures import COSIGN, IMAGE, Registry, expect, explain, refused, run, served, sha

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
                "--certificate-oidc-issuer", GHA, "--insecure-ignore-sct", "--allow-http-registry",
                "--registry-username", "admin", "--registry-password", server.password, image], ok=False)


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
           "CAIRN_SIGNATURE_POLICY": policy}
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
    server.terminate()
    print("keyless: all checks passed")


if __name__ == "__main__":
    main()
