#!/usr/bin/env python3
"""Signatures verified on arrival and required at pull, with real clients.

cosign v3 signs images with a key in both of its layouts (the default
Sigstore bundle referrer, and the legacy `sha256-<hex>.sig` tag), attests
SLSA provenance, and verifies through cairn; notation-go signs with a
certificate chain (a JWS referrer, and a COSE one) checked against a trusted certificate;
skopeo and crane pull as anonymous readers. A `[[signature_policy]]` refuses unsigned images and
images signed by an untrusted key, serves the right key's, covers an
index's children, ignores a spoofed `User-Agent: cosign`, honours tag
patterns by tag and by digest, requires an attestation where it says
so, and through a proxy repository verifies the upstream's own signatures
(bundle, legacy tag, an index's children). `cairn policy explain` says why; the audit log has each decision; a
changed trust configuration re-evaluates the stored signatures.

Usage: signatures.py CAIRN_BINARY OUTPUT_DIR
"""

import hashlib
import json
import os
import socket
import subprocess
import sys
import time

from cairnproc import Cairn, free_port

BIN_TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".tools", "bin")
COSIGN = os.path.join(BIN_TOOLS, "cosign")
CRANE = os.path.join(BIN_TOOLS, "crane")
BIN, OUT = sys.argv[1], sys.argv[2]
DATA = os.path.join(OUT, "signatures-data")
WORK = os.path.join(OUT, "signatures-work")
IMAGE = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
SLSA = "https://slsa.dev/provenance/v1"


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


def policies():
    return ('[{name = "prod", repositories = ["prod/**"], signed_by = ["ci"]}, '
            '{name = "releases", repositories = ["rel/**"], tags = ["v*"], signed_by = ["ci"]}, '
            '{name = "provenance", repositories = ["att/**"], signed_by = ["ci"], '
            f'attestations = [{{predicate_type = "{SLSA}", signed_by = ["ci"]}}]}}, '
            '{name = "notary", repositories = ["notary/**"], signed_by = ["corp"]}]')


def start(key_file, log):
    env = {"CAIRN_SIGNING_KEY": f'[{{id = "ci", file = "{key_file}"}}]',
           "CAIRN_TRUSTED_CERTIFICATE": f'[{{id = "corp", file = "{os.path.join(WORK, "corp-ca.pem")}"}}]',
           "CAIRN_SIGNATURE_POLICY": policies()}
    return Cairn(BIN, DATA, password=getattr(start, "password", None), env=env).start(
        os.path.join(OUT, log))


class Registry:
    def __init__(self, server):
        self.s = server
        self.host = f"127.0.0.1:{server.port}"

    def blob(self, repo, data):
        st, _, body = self.s.request("POST", f"/v2/{repo}/blobs/uploads/?digest={sha(data)}", data,
                                     auth=self.s.basic)
        if st != 201:
            raise SystemExit(f"FAIL: blob {st} {body!r}")
        return {"digest": sha(data), "size": len(data)}

    def manifest(self, repo, ref, doc):
        body = json.dumps(doc).encode()
        st, _, resp = self.s.request("PUT", f"/v2/{repo}/manifests/{ref}", body,
                                     {"Content-Type": doc["mediaType"]}, auth=self.s.basic)
        if st != 201:
            raise SystemExit(f"FAIL: manifest {st} {resp!r}")
        return sha(body), len(body)

    def image(self, repo, tag, seed, arch="amd64"):
        layer = self.blob(repo, f"layer {seed}".encode())
        config = self.blob(repo, json.dumps({"architecture": arch, "os": "linux", "seed": seed,
                                             "rootfs": {"type": "layers", "diff_ids": []}}).encode())
        doc = {"schemaVersion": 2, "mediaType": IMAGE,
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}]}
        return self.manifest(repo, tag, doc)[0]

    def index(self, repo, tag, seed):
        children = []
        for arch in ("amd64", "arm64"):
            d = self.image(repo, f"{seed}-{arch}", f"{seed}-{arch}", arch)
            st, _, body = self.s.request("GET", f"/v2/{repo}/manifests/{d}", headers={"Accept": IMAGE},
                                         auth=self.s.basic)
            children.append({"mediaType": IMAGE, "digest": d, "size": len(body),
                             "platform": {"architecture": arch, "os": "linux"}})
            # The per-platform tags are scaffolding: only the index is tagged.
            self.s.request("DELETE", f"/v2/{repo}/manifests/{seed}-{arch}", auth=self.s.basic)
        digest, _ = self.manifest(repo, tag, {"schemaVersion": 2, "mediaType": INDEX, "manifests": children})
        return digest, [c["digest"] for c in children]


def cosign(server, *args, key="ci", ok=True):
    env = {**os.environ, "COSIGN_YES": "true", "COSIGN_PASSWORD": "test"}
    auth = ["--allow-http-registry", "--registry-username", "admin", "--registry-password=" + server.password]
    sub, rest = args[0], list(args[1:])
    keyflag = ["--key", os.path.join(WORK, key, "cosign.key" if sub in ("sign", "attest") else "cosign.pub")]
    offline = ["--signing-config", os.path.join(WORK, "signing-config.json")] if sub in ("sign", "attest") else []
    if sub == "sign" and "--new-bundle-format=false" in rest:
        offline = ["--use-signing-config=false", "--tlog-upload=false"]
    if sub.startswith("verify"):
        offline = ["--insecure-ignore-tlog"]
    return run([COSIGN, sub, *keyflag, *offline, *auth, *rest], ok=ok, env=env)


def anonymous_get(server, repo, ref, user_agent=None):
    headers = {"Accept": f"{IMAGE}, {INDEX}"}
    if user_agent:
        headers["User-Agent"] = user_agent
    st, h, body = server.request("GET", f"/v2/{repo}/manifests/{ref}", headers=headers)
    return st, body


def skopeo_inspect(server, ref):
    return run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://127.0.0.1:{server.port}/{ref}"],
               ok=False)


def refused(server, repo, ref, why):
    # Anonymous: 401 with the token challenge (credentials might belong to a
    # signer) and DENIED naming the policy; a reader's token: 403 DENIED.
    st, body = anonymous_get(server, repo, ref)
    expect(st == 401 and b"DENIED" in body, f"{why}: an anonymous GET {repo}:{ref[:19]} is 401 with DENIED")
    st, _, _ = server.request("HEAD", f"/v2/{repo}/manifests/{ref}", headers={"Accept": IMAGE})
    expect(st == 401, f"{why}: HEAD is refused too")
    st, _, rbody = server.request("GET", f"/v2/{repo}/manifests/{ref}", headers={"Accept": f"{IMAGE}, {INDEX}"},
                                  auth=f"Bearer {reader_token(server)}")
    expect(st == 403 and b"DENIED" in rbody, f"{why}: a read-only token gets 403 DENIED")
    return json.loads(body)["errors"][0]["message"]


def reader_token(server):
    """An API token that may only read (no sign, no publish)."""
    cache = getattr(server, "reader", None)
    if cache:
        return cache
    st, _, body = server.request("POST", "/api/v1/tokens", json.dumps(
        {"description": "reader", "scopes": ["**:read"]}).encode(), {"Content-Type": "application/json"},
        auth=server.basic)
    if st not in (200, 201):
        raise SystemExit(f"FAIL: creating a read-only token: {st} {body[:200]!r}")
    server.reader = json.loads(body)["token"]
    return server.reader


def served(server, repo, ref, why):
    st, body = anonymous_get(server, repo, ref)
    expect(st == 200, f"{why}: GET {repo}:{ref[:19]} is served ({st} {body[:120]!r})")


def explain(server, image):
    env = {**os.environ, "CAIRN_PW": server.password}
    return run([BIN, "policy", "explain", image, "--url", f"http://127.0.0.1:{server.port}", "--user", "admin",
                "--password-env", "CAIRN_PW"], env=env).stdout


def start_distribution():
    """CNCF Distribution (Debian's docker-registry) on loopback."""
    port = free_port()
    d = os.path.join(WORK, "distribution")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.yml"), "w") as f:
        f.write(f"version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {d}/data}}}}\n"
                f"http: {{addr: \"127.0.0.1:{port}\"}}\n")
    proc = subprocess.Popen(["docker-registry", "serve", os.path.join(d, "config.yml")],
                            stdout=open(os.path.join(OUT, "signatures-distribution.log"), "w"),
                            stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return f"127.0.0.1:{port}", proc
        except OSError:
            time.sleep(0.1)
    raise SystemExit("FAIL: CNCF Distribution did not start")


def main():
    for d in ("ci", "rogue"):
        os.makedirs(os.path.join(WORK, d), exist_ok=True)
        run([COSIGN, "generate-key-pair"], cwd=os.path.join(WORK, d),
            env={**os.environ, "COSIGN_PASSWORD": "test"})
    run([COSIGN, "signing-config", "create", "--out", os.path.join(WORK, "signing-config.json")])
    # notation's signer, built from notation-go (tests/e2e/notation), and two
    # certificate authorities: the trusted "corp" and a rogue one.
    notation = os.path.join(WORK, "notation-sign")
    run(["go", "build", "-o", notation, "."], cwd=os.path.join(os.path.dirname(os.path.abspath(__file__)), "notation"),
        env={**os.environ, "GOFLAGS": "-mod=mod"})
    for ca in ("corp", "rogue-corp"):
        run([notation, "ca", WORK, ca])
    ci_pub = os.path.join(WORK, "ci", "cosign.pub")
    server = start(ci_pub, "signatures-cairn.log")
    start.password = server.password
    reg = Registry(server)

    # Unsigned: refused to readers, with the policy and what is missing.
    unsigned = reg.image("prod/app", "unsigned", "u")
    said = refused(server, "prod/app", "unsigned", "an unsigned image")
    expect("prod" in said and "signature by ci" in said, f"the error names the policy and the missing signer: {said}")
    r = skopeo_inspect(server, "prod/app:unsigned")
    expect(r.returncode != 0 and "signature policy prod" in r.stderr,
           f"skopeo inspect of the unsigned image is refused: {r.stderr.strip().splitlines()[-1][:160]}")
    st, _ = anonymous_get(server, "prod/app", "unsigned", user_agent="cosign/v3.1.3 (linux; amd64)")
    expect(st == 401, "a spoofed User-Agent: cosign gains nothing")
    st, _ = anonymous_get(server, "prod/app", unsigned)
    expect(st == 401, "by digest, the same refusal")
    # A publisher may read it (to sign it), with a warning.
    st, h, _ = server.request("GET", "/v2/prod/app/manifests/unsigned", headers={"Accept": IMAGE}, auth=server.basic)
    expect(st == 200 and "x-cairn-signature-warning" in h, "a publisher reads the unsigned image, with a warning")

    # Signed with an untrusted key: still refused.
    rogue = reg.image("prod/app", "rogue", "r")
    cosign(server, "sign", f"{reg.host}/prod/app@{rogue}", key="rogue")
    refused(server, "prod/app", "rogue", "an image signed by an untrusted key")

    # Signed with the trusted key, default layout (a Sigstore bundle referrer).
    good = reg.image("prod/app", "good", "g")
    cosign(server, "sign", f"{reg.host}/prod/app@{good}")
    served(server, "prod/app", "good", "signed by ci (Sigstore bundle)")
    served(server, "prod/app", good, "signed by ci, by digest")
    r = skopeo_inspect(server, "prod/app:good")
    expect(r.returncode == 0, "skopeo inspect of the signed image works")
    r = run([CRANE, "manifest", "--insecure", f"{reg.host}/prod/app:good"], ok=False)
    expect(r.returncode == 0 and good[7:19] in sha(r.stdout.encode()), "crane manifest of the signed image works")
    r = cosign(server, "verify", f"{reg.host}/prod/app:good")
    expect(r.returncode == 0, "cosign verify through cairn (bundle layout)")
    r = run([CRANE, "manifest", "--insecure", f"{reg.host}/prod/app:unsigned"], ok=False)
    expect(r.returncode != 0 and "signature policy prod" in r.stderr,
           f"crane manifest of the unsigned image is refused: {r.stderr.strip().splitlines()[-1][:160]}")

    # The legacy layout: a sha256-<hex>.sig tag with a simple-signing payload.
    legacy = reg.image("prod/app", "legacy", "l")
    cosign(server, "sign", "--new-bundle-format=false", f"{reg.host}/prod/app@{legacy}")
    st, _, body = server.request("GET", "/v2/prod/app/tags/list")
    expect(f"sha256-{legacy[7:]}.sig" in json.loads(body)["tags"], "cosign pushed the legacy .sig tag")
    served(server, "prod/app", "legacy", "signed by ci (legacy .sig layout)")
    served(server, "prod/app", f"sha256-{legacy[7:]}.sig", "the signature artifact itself is readable")
    r = cosign(server, "verify", f"{reg.host}/prod/app:legacy")
    expect(r.returncode == 0, "cosign verify through cairn (legacy layout)")

    # A signature copied onto another image verifies nothing for it: the
    # subject is read from the signed bytes, not from the manifest.
    other = reg.image("prod/app", "other", "o")
    st, _, body = server.request("GET", f"/v2/prod/app/referrers/{good}")
    bundle = json.loads(body)["manifests"][0]
    st, _, raw = server.request("GET", f"/v2/prod/app/manifests/{bundle['digest']}", headers={"Accept": IMAGE},
                                auth=server.basic)
    moved = json.loads(raw)
    st, _, oraw = server.request("GET", f"/v2/prod/app/manifests/{other}", headers={"Accept": IMAGE},
                                 auth=server.basic)
    moved["subject"] = {"mediaType": IMAGE, "digest": other, "size": len(oraw)}
    reg.manifest("prod/app", sha(json.dumps(moved).encode()), moved)
    refused(server, "prod/app", "other", "a signature re-pointed at another image")

    # An index: its signature covers its children, pulled by digest.
    idx, children = reg.index("prod/multi", "1", "m")
    for c in children:
        refused(server, "prod/multi", c, "an unsigned index's child")
    cosign(server, "sign", f"{reg.host}/prod/multi@{idx}")
    served(server, "prod/multi", "1", "a signed index")
    for c in children:
        served(server, "prod/multi", c, "the signed index's child, by digest")
    out = os.path.join(WORK, "arm64")
    r = run(["skopeo", "--override-arch", "arm64", "--override-os", "linux", "copy", "--src-tls-verify=false",
             f"docker://{reg.host}/prod/multi:1", f"dir:{out}"], ok=False)
    expect(r.returncode == 0, f"skopeo copies the arm64 image of the signed index {r.stderr[-200:]}")

    # notation (notation-go, a JWS envelope referrer with an x5c chain):
    # verified against the trusted certificate "corp".
    notary = reg.image("notary/app", "1", "n")
    refused(server, "notary/app", "1", "an image notation has not signed")
    notation_sign = lambda ca, image, fmt: run([notation, "sign", WORK, ca, f"{reg.host}/notary/app@{image}",
                                               "admin", server.password, fmt])
    notation_sign("rogue-corp", notary, "jws")
    refused(server, "notary/app", "1", "an image signed by notation with an untrusted certificate authority")
    notation_sign("corp", notary, "jws")
    served(server, "notary/app", "1", "an image signed by notation under the trusted certificate")
    # The COSE envelope (notation sign --signature-format cose).
    cose = reg.image("notary/app", "cose", "nc")
    notation_sign("rogue-corp", cose, "cose")
    refused(server, "notary/app", "cose", "a COSE notation signature under an untrusted certificate authority")
    notation_sign("corp", cose, "cose")
    served(server, "notary/app", "cose", "a COSE notation signature under the trusted certificate")
    r = run([CRANE, "manifest", "--insecure", f"{reg.host}/notary/app:1"], ok=False)
    expect(r.returncode == 0, "crane reads the notation-signed image")

    # Tag patterns: rel/** needs a signature for v* tags only.
    dev = reg.image("rel/app", "dev-1", "d")
    release = reg.image("rel/app", "v1.0", "v")
    served(server, "rel/app", "dev-1", "an unsigned dev tag outside the policy's tags")
    served(server, "rel/app", dev, "its digest, which no v* tag names")
    refused(server, "rel/app", "v1.0", "an unsigned v* tag")
    refused(server, "rel/app", release, "the digest a v* tag names")

    # An attestation requirement: signature alone is not enough.
    att = reg.image("att/app", "1", "a")
    cosign(server, "sign", f"{reg.host}/att/app@{att}")
    said = refused(server, "att/app", "1", "signed but without provenance")
    expect(SLSA in said, f"the error names the missing attestation: {said}")
    predicate = os.path.join(WORK, "provenance.json")
    with open(predicate, "w") as f:
        json.dump({"buildDefinition": {"buildType": "https://example.com/ci"}, "runDetails": {}}, f)
    cosign(server, "attest", "--type", SLSA, "--predicate", predicate, f"{reg.host}/att/app@{att}", key="rogue")
    refused(server, "att/app", "1", "provenance attested by an untrusted key")
    cosign(server, "attest", "--type", SLSA, "--predicate", predicate, f"{reg.host}/att/app@{att}")
    served(server, "att/app", "1", "signed and attested by ci")

    # Explanations and the audit log.
    text = explain(server, "prod/app:good")
    expect("served" in text and "signed by ci" in text, f"cairn policy explain prod/app:good: {text.strip()}")
    text = explain(server, "prod/app:unsigned")
    expect("refused to readers" in text and "signature by ci" in text,
           f"cairn policy explain prod/app:unsigned: {text.strip()}")
    time.sleep(0.5)  # the audit entries are appended beside the answers
    st, _, body = server.request("GET", "/api/v1/audit?action=signature.deny&limit=200", auth=server.basic)
    entries = json.loads(body)["entries"] if body.startswith(b"{") else json.loads(body)
    expect(any(unsigned in (e.get("artifact") or "") and "policy prod" in (e.get("detail") or "") for e in entries),
           "the audit log has the refusal with the policy and the digest")
    st, _, body = server.request("GET", "/api/v1/audit?action=signature.allow&limit=200", auth=server.basic)
    entries = json.loads(body)["entries"] if body.startswith(b"{") else json.loads(body)
    expect(any(good in (e.get("artifact") or "") and "signed by ci" in (e.get("detail") or "") for e in entries),
           "the audit log has the allow with the signer")
    server.terminate()

    # A proxy repository under a policy: the upstream's own signatures are
    # fetched, verified and recorded on the first pull, then decided like
    # a hosted image's.
    upstream = Cairn(BIN, os.path.join(OUT, "signatures-upstream")).start(
        os.path.join(OUT, "signatures-upstream.log"))
    up = Registry(upstream)
    up.image("team/app", "1", "up")
    signed_up = up.image("team/app", "signed", "up-signed")
    cosign(upstream, "sign", f"{up.host}/team/app@{signed_up}")
    legacy_up = up.image("team/app", "legacy", "up-legacy")
    cosign(upstream, "sign", "--new-bundle-format=false", f"{up.host}/team/app@{legacy_up}")
    rogue_up = up.image("team/app", "rogue", "up-rogue")
    cosign(upstream, "sign", f"{up.host}/team/app@{rogue_up}", key="rogue")
    up_idx, up_children = up.index("team/multi", "1", "up-m")
    cosign(upstream, "sign", f"{up.host}/team/multi@{up_idx}")
    # CNCF Distribution has no referrers API: cosign 3 falls back to the
    # referrers tag schema (an index tagged sha256-<hex>) there.
    dist, dist_proc = start_distribution()
    run([CRANE, "copy", "--insecure", f"{up.host}/team/app:1", f"{dist}/team/dapp:1"])
    dist_digest = run([CRANE, "digest", "--insecure", f"{dist}/team/dapp:1"]).stdout.strip()
    run([COSIGN, "sign", "--key", os.path.join(WORK, "ci", "cosign.key"), "--signing-config",
         os.path.join(WORK, "signing-config.json"), "--allow-http-registry", f"{dist}/team/dapp@{dist_digest}"],
        env={**os.environ, "COSIGN_YES": "true", "COSIGN_PASSWORD": "test"})
    env = {"CAIRN_SIGNING_KEY": f'[{{id = "ci", file = "{ci_pub}"}}]',
           "CAIRN_SIGNATURE_POLICY": '[{name = "proxied", repositories = ["hub/**", "dhub/**"], signed_by = ["ci"]}]',
           "CAIRN_PROXY": f'[{{format = "oci", name = "hub", upstream = "http://127.0.0.1:{upstream.port}/", '
                          f'username = "admin", password = "{upstream.password}"}}, '
                          f'{{format = "oci", name = "dhub", upstream = "http://{dist}/"}}]'}
    down = Cairn(BIN, os.path.join(OUT, "signatures-proxy"), env=env).start(
        os.path.join(OUT, "signatures-proxy.log"))
    said = refused(down, "hub/team/app", "1", "an image unsigned upstream, through a proxy repository")
    expect("proxied" in said, f"the proxy's refusal names the policy: {said}")
    st, h, _ = down.request("GET", "/v2/hub/team/app/manifests/1", headers={"Accept": IMAGE}, auth=down.basic)
    expect(st == 200 and "x-cairn-signature-warning" in h, "a signer reads it through the proxy, with a warning")
    served(down, "hub/team/app", "signed", "an image signed upstream by ci (bundle), through the proxy")
    served(down, "hub/team/app", signed_up, "the same, by digest")
    served(down, "hub/team/app", "legacy", "an image signed upstream by ci (legacy .sig), through the proxy")
    refused(down, "hub/team/app", "rogue", "an image signed upstream by an untrusted key, through the proxy")
    r = skopeo_inspect(down, "hub/team/app:signed")
    expect(r.returncode == 0, "skopeo inspect through the proxy of the upstream-signed image")
    out = os.path.join(WORK, "arm64-proxied")
    r = run(["skopeo", "--override-arch", "arm64", "--override-os", "linux", "copy", "--src-tls-verify=false",
             f"docker://127.0.0.1:{down.port}/hub/team/multi:1", f"dir:{out}"], ok=False)
    expect(r.returncode == 0, f"skopeo copies the arm64 image of an index signed upstream, through the proxy "
                              f"(its children covered) {r.stderr[-200:]}")
    served(down, "dhub/team/dapp", "1", "an image signed in CNCF Distribution (referrers tag schema), through a proxy")
    text = explain(down, "hub/team/app:signed")
    expect("served" in text and "signed by ci" in text, f"cairn policy explain through the proxy: {text.strip()}")
    text = explain(down, "hub/team/app:rogue")
    expect("refused to readers" in text, f"cairn policy explain of the rogue-signed proxied image: {text.strip()}")
    down.terminate()
    upstream.terminate()
    dist_proc.terminate()

    # A changed trust configuration: "ci" is now the other key. The stored
    # signatures are re-evaluated (not the pulls): the rogue-signed image is
    # served, the formerly good one refused.
    server = start(os.path.join(WORK, "rogue", "cosign.pub"), "signatures-cairn-2.log")
    deadline = time.time() + 60
    while anonymous_get(server, "prod/app", "rogue")[0] != 200 and time.time() < deadline:
        time.sleep(0.2)
    served(server, "prod/app", "rogue", "after the key change, the image the new key signed")
    refused(server, "prod/app", "good", "after the key change, the image only the old key signed")
    server.terminate()
    print("signatures: all checks passed")


if __name__ == "__main__":
    main()
