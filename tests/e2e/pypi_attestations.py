#!/usr/bin/env python3
"""PEP 740 attestations with the real twine (`twine upload --attestations`).

An attestation file beside each distribution (`<file>.publish.attestation`,
as pypa/gh-action-pypi-publish writes them) is uploaded with it; cairn
keeps the ones that bind the file (one subject: its name and SHA-256) and
serves them through the integrity API and the simple API's `provenance`
(API version 1.3, JSON and HTML); an upload whose attestation names other
bytes is refused with nothing stored. The attestations' Sigstore signatures
are made up here: cairn does not verify them (no Sigstore trust root is
reachable), only what they bind.

Usage: pypi_attestations.py CAIRN_BINARY OUTPUT_DIR
"""

import base64
import hashlib
import json
import os
import subprocess
import sys

from cairnproc import Cairn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TWINE = os.path.join(ROOT, ".tools", "py", "bin", "twine")
BIN, OUT = sys.argv[1], sys.argv[2]
WORK = os.path.join(OUT, "pypi-attestations-work")
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")
    print(f"ok - {message}")


def run(cmd, ok=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if ok and r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(cmd)}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def attest(path, digest_of=None):
    """Writes PATH.publish.attestation naming PATH (or another file's digest)."""
    with open(digest_of or path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    statement = {"_type": "https://in-toto.io/Statement/v1",
                 "subject": [{"name": os.path.basename(path), "digest": {"sha256": sha}}],
                 "predicateType": "https://docs.pypi.org/attestations/publish/v1", "predicate": None}
    attestation = {"version": 1,
                   "verification_material": {"certificate": base64.b64encode(b"test certificate").decode(),
                                             "transparency_entries": []},
                   "envelope": {"statement": base64.b64encode(json.dumps(statement).encode()).decode(),
                                "signature": base64.b64encode(b"test signature").decode()}}
    with open(path + ".publish.attestation", "w") as f:
        json.dump(attestation, f)
    return path + ".publish.attestation"


def main():
    os.makedirs(WORK, exist_ok=True)
    server = Cairn(BIN, os.path.join(OUT, "pypi-attestations-data")).start(
        os.path.join(OUT, "pypi-attestations-cairn.log"))
    url = f"http://127.0.0.1:{server.port}/pypi/main/"

    def twine(*files):
        return run([TWINE, "upload", "--disable-progress-bar", "--non-interactive", "--attestations",
                    "--repository-url", url, "-u", "admin", f"--password={server.password}", *files], ok=False)

    good = os.path.join(WORK, "good")
    run([sys.executable, os.path.join(ROOT, "tests", "e2e", "mkdist.py"), good, "attested-pkg", "1.0"])
    dists = sorted(os.path.join(good, f) for f in os.listdir(good))
    atts = [attest(d) for d in dists]
    r = twine(*dists, *atts)
    expect(r.returncode == 0, f"twine upload --attestations of {len(dists)} files {r.stderr[-300:]}")

    st, _, body = server.request("GET", "/pypi/main/simple/attested-pkg/", headers={"Accept": SIMPLE_JSON})
    page = json.loads(body)
    expect(page["meta"]["api-version"] == "1.3", "the simple API says version 1.3")
    urls = [f["provenance"] for f in page["files"]]
    expect(all(urls), f"every file links its provenance: {urls[0]}")
    path = urls[0].split(f"127.0.0.1:{server.port}", 1)[1]
    st, h, body = server.request("GET", path)
    prov = json.loads(body)
    expect(st == 200 and h["content-type"] == "application/vnd.pypi.integrity.v1+json"
           and prov["version"] == 1 and len(prov["attestation_bundles"][0]["attestations"]) == 1,
           "the integrity API serves the provenance with its attestation")
    st, _, html = server.request("GET", "/pypi/main/simple/attested-pkg/", headers={"Accept": "text/html"})
    expect(b'data-provenance="' in html, "the HTML page carries data-provenance")

    # An attestation about other bytes: refused, nothing stored.
    bad = os.path.join(WORK, "bad")
    run([sys.executable, os.path.join(ROOT, "tests", "e2e", "mkdist.py"), bad, "attested-pkg", "2.0"])
    sdist = os.path.join(bad, "attested_pkg-2.0.tar.gz")
    att = attest(sdist, digest_of=dists[0])
    r = twine(sdist, att)
    expect(r.returncode != 0 and "invalid attestations" in (r.stdout + r.stderr),
           f"an attestation naming other bytes is refused: {[l for l in (r.stdout + r.stderr).splitlines() if 'invalid attestations' in l][:1]}")
    st, _, body = server.request("GET", "/pypi/main/simple/attested-pkg/", headers={"Accept": SIMPLE_JSON})
    expect("2.0" not in json.loads(body)["versions"], "nothing of the refused upload is stored")
    through_a_proxy(server)
    server.terminate()
    print("pypi attestations: all checks passed")


def through_a_proxy(upstream):
    """A second cairn proxying the first: its pages link the provenance through itself, and it serves the
    upstream's provenance after checking that it binds the file."""
    up = f"http://127.0.0.1:{upstream.port}/pypi/main/simple/"
    down = Cairn(BIN, os.path.join(OUT, "pypi-attestations-proxy-data"),
                 env={"CAIRN_PROXY": f'[{{format = "pypi", name = "up", upstream = "{up}"}}]'}).start(
        os.path.join(OUT, "pypi-attestations-proxy-cairn.log"))
    st, _, body = down.request("GET", "/pypi/up/simple/attested-pkg/", headers={"Accept": SIMPLE_JSON})
    page = json.loads(body)
    urls = [f.get("provenance") for f in page["files"]]
    here = f"http://127.0.0.1:{down.port}/pypi/up/integrity/attested-pkg/1.0/"
    expect(st == 200 and urls and all(u and u.startswith(here) for u in urls),
           f"the proxied page links each file's provenance through the proxy: {urls[:1]}")
    path = urls[0].split(f"127.0.0.1:{down.port}", 1)[1]
    st, h, body = down.request("GET", path)
    _, _, direct = upstream.request("GET", path.replace("/pypi/up/", "/pypi/main/", 1))
    expect(st == 200 and h["content-type"] == "application/vnd.pypi.integrity.v1+json"
           and json.loads(body) == json.loads(direct),
           "the proxy serves the upstream's provenance of that file")
    st, _, html = down.request("GET", "/pypi/up/simple/attested-pkg/", headers={"Accept": "text/html"})
    expect(f'data-provenance="{here}'.encode() in html, "the proxied HTML page carries data-provenance through it")
    st, _, _ = down.request("GET", "/pypi/up/integrity/attested-pkg/1.0/no-such-1.0.tar.gz/provenance")
    expect(st == 404, "a file the page does not list has no provenance")
    down.terminate()


if __name__ == "__main__":
    main()
