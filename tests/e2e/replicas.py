#!/usr/bin/env python3
"""Two cairn replicas on one PostgreSQL database and one S3 bucket prefix
(configured through CAIRN_* in the environment, as in production):

  * an image pushed through A is pulled through B;
  * a chunked upload started on A is continued and finished on B;
  * the same blob pushed concurrently through both is stored once, intact;
  * a tag moved on A is seen on B at once;
  * a token issued by A is accepted by B;
  * an API token revoked on A is refused by A at once and by B within the
    credential cache's bound (auth.credential_cache_secs, 3 s by default);
  * an npm version unpublished on A stops its tarball downloads on A at once
    and on B within the download cache's bound (packages.download_cache_secs);
  * A is SIGKILLed in the middle of an upload and B finishes it.

Usage: replicas.py CAIRN_BINARY OUTPUT_DIR
"""

import base64
import hashlib
import http.client
import io
import json
import os
import sys
import tarfile
import threading
import time

from cairnproc import Cairn

BIN, OUT = sys.argv[1], sys.argv[2]
REPO = "replicas/app"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")


def npm_tarball(name, version):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        data = json.dumps({"name": name, "version": version}).encode()
        info = tarfile.TarInfo("package/package.json")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def within_bound(replica, method, path, status, since, bound, what, auth=None):
    """Polls `path` on `replica` until it answers `status`; fails past the bound."""
    while True:
        st, _, _ = replica.request(method, path, auth=auth)
        if st == status:
            return time.time() - since
        expect(time.time() - since < bound + 2,
               f"{what}: {replica.name} still answers {st} {time.time() - since:.1f} s later (bound {bound} s)")
        time.sleep(0.1)


def main():
    os.makedirs(OUT, exist_ok=True)
    a = Cairn(BIN, os.path.join(OUT, "replica-a-data")).start(os.path.join(OUT, "replica-a.log"))
    b = Cairn(BIN, os.path.join(OUT, "replica-b-data"), password=a.password).start(os.path.join(OUT, "replica-b.log"))
    a.name, b.name = "a", "b"
    basic = a.basic

    # An image through A, pulled through B.
    config = json.dumps({"replica": "a", "t": time.time()}).encode()
    layer = os.urandom(3 * 1024 * 1024)
    for blob in (config, layer):
        st, _, body = a.request("POST", f"/v2/{REPO}/blobs/uploads/?digest={sha(blob)}", blob, auth=basic)
        expect(st == 201, f"blob push through A: {st} {body[:200]!r}")
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(layer), "size": len(layer)}],
    }).encode()
    st, _, _ = a.request("PUT", f"/v2/{REPO}/manifests/v1", manifest,
                         {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, basic)
    expect(st == 201, f"manifest push through A: {st}")
    st, h, body = b.request("GET", f"/v2/{REPO}/manifests/v1")
    expect(st == 200 and body == manifest, f"manifest pull through B: {st}")
    st, _, body = b.request("GET", f"/v2/{REPO}/blobs/{sha(layer)}")
    expect(st == 200 and body == layer, f"layer pull through B: {st}")
    print("ok - an image pushed through A is pulled through B")

    # A chunked upload begun on A, continued and finished on B.
    data = os.urandom(5 * 1024 * 1024 + 123)
    st, h, _ = a.request("POST", f"/v2/{REPO}/blobs/uploads/", auth=basic)
    loc = h["location"]
    half = len(data) // 2
    st, h, _ = a.request("PATCH", loc, data[:half], {"Content-Range": f"0-{half - 1}"}, basic)
    expect(st == 202, f"first chunk on A: {st}")
    st, h, _ = b.request("GET", loc, auth=basic)
    expect(st == 204 and h.get("range") == f"0-{half - 1}", f"B sees A's upload progress: {st} {h.get('range')}")
    st, h, _ = b.request("PATCH", loc, data[half:], {"Content-Range": f"{half}-{len(data) - 1}"}, basic)
    expect(st == 202, f"second chunk on B: {st}")
    st, _, body = b.request("PUT", f"{loc}?digest={sha(data)}", auth=basic)
    expect(st == 201, f"finish on B: {st} {body[:200]!r}")
    st, _, body = a.request("GET", f"/v2/{REPO}/blobs/{sha(data)}")
    expect(st == 200 and body == data, "blob finished on B reads back through A")
    print("ok - a chunked upload started on A is finished on B")

    # The same blob pushed concurrently through both.
    same = os.urandom(4 * 1024 * 1024)
    results = []

    def push(replica):
        results.append(replica.request("POST", f"/v2/{REPO}/blobs/uploads/?digest={sha(same)}", same, auth=basic)[0])

    threads = [threading.Thread(target=push, args=(r,)) for r in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expect(results == [201] * 4, f"concurrent pushes of one blob: {results}")
    for r in (a, b):
        st, _, body = r.request("GET", f"/v2/{REPO}/blobs/{sha(same)}")
        expect(st == 200 and body == same, f"concurrently pushed blob through {r.name}")
    print("ok - concurrent pushes of the same blob through both replicas")

    # A tag moved on A is seen on B at once (B serves the cached bytes of v1 too).
    other = manifest.replace(b'"layers"', b'"annotations":{"moved":"yes"},"layers"')
    st, _, _ = a.request("PUT", f"/v2/{REPO}/manifests/v1", other,
                         {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, basic)
    expect(st == 201, "tag move on A")
    st, h, body = b.request("GET", f"/v2/{REPO}/manifests/v1")
    expect(body == other and h.get("docker-content-digest") == sha(other), "B sees the moved tag immediately")
    print("ok - a tag moved on A is seen on B immediately")

    # A token from A works on B (the signing key is shared through the database).
    st, _, body = a.request("GET", f"/auth/token?service=cairn&scope=repository:{REPO}:pull,push", auth=basic)
    token = json.loads(body)["token"]
    st, _, _ = b.request("POST", f"/v2/{REPO}/blobs/uploads/", auth=f"Bearer {token}")
    expect(st == 202, f"a token issued by A is accepted by B: {st}")
    print("ok - a token issued by A is accepted by B")

    # An API token used on both (so both replicas have it cached), revoked on A.
    st, _, body = a.request("POST", "/api/v1/tokens", json.dumps({"scopes": ["replicas/**:read,publish"]}).encode(),
                            {"Content-Type": "application/json"}, basic)
    expect(st == 201, f"token created on A: {st} {body[:200]!r}")
    created = json.loads(body)
    api_token = f"Bearer {created['token']}"
    for r in (a, b, a, b):
        st, _, _ = r.request("POST", f"/v2/{REPO}/blobs/uploads/", auth=api_token)
        expect(st == 202, f"the API token works on {r.name} before revocation: {st}")
    st, _, _ = a.request("DELETE", f"/api/v1/tokens/{created['id']}", auth=basic)
    expect(st == 204, f"revoked on A: {st}")
    revoked_at = time.time()
    st, _, _ = a.request("POST", f"/v2/{REPO}/blobs/uploads/", auth=api_token)
    expect(st == 401, f"A refuses the revoked token at once: {st}")
    bound = 3  # auth.credential_cache_secs, the documented default
    took = within_bound(b, "POST", f"/v2/{REPO}/blobs/uploads/", 401, revoked_at, bound, "the revoked token",
                        auth=api_token)
    print(f"ok - a token revoked on A is refused by A at once and by B after {took:.1f} s (bound {bound} s)")

    # An npm version downloaded through both (so both replicas keep what the
    # path resolves to), unpublished through A.
    tgz = npm_tarball("replicated", "1.0.0")
    doc = json.dumps({"name": "replicated", "versions": {"1.0.0": {
        "name": "replicated", "version": "1.0.0",
        "dist": {"shasum": hashlib.sha1(tgz).hexdigest(), "tarball": "http://x/replicated-1.0.0.tgz"}}},
        "dist-tags": {"latest": "1.0.0"},
        "_attachments": {"replicated-1.0.0.tgz": {"data": base64.b64encode(tgz).decode(), "length": len(tgz)}}})
    st, _, body = a.request("PUT", "/npm/main/replicated", doc.encode(), {"Content-Type": "application/json"}, basic)
    expect(st in (200, 201), f"npm publish through A: {st} {body[:200]!r}")
    tarball = "/npm/main/replicated/-/replicated-1.0.0.tgz"
    for r in (a, b, a, b):
        st, _, body = r.request("GET", tarball)
        expect(st == 200 and body == tgz, f"tarball through {r.name} before the unpublish: {st}")
    st, _, body = a.request("POST", "/api/v1/packages/npm/main/replicated/versions/1.0.0",
                            json.dumps({"action": "unpublish"}).encode(), {"Content-Type": "application/json"}, basic)
    expect(st == 200, f"unpublish through A: {st} {body[:200]!r}")
    unpublished_at = time.time()
    st, _, _ = a.request("GET", tarball)
    expect(st == 410, f"A serves the unpublished tarball: {st}")
    took = within_bound(b, "GET", tarball, 410, unpublished_at, 3, "the unpublished tarball")
    print(f"ok - an npm version unpublished on A is gone on A at once and on B after {took:.1f} s (bound 3 s)")

    # Kill A in the middle of an upload; finish it through B.
    data = os.urandom(6 * 1024 * 1024)
    st, h, _ = a.request("POST", f"/v2/{REPO}/blobs/uploads/", auth=basic)
    loc = h["location"]
    st, _, _ = a.request("PATCH", loc, data[:2 * 1024 * 1024], {"Content-Range": f"0-{2 * 1024 * 1024 - 1}"}, basic)
    expect(st == 202, "chunk on A before the kill")
    c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
    c.putrequest("PATCH", loc)
    c.putheader("Authorization", basic)
    c.putheader("Content-Range", f"{2 * 1024 * 1024}-{len(data) - 1}")
    c.putheader("Content-Length", str(len(data) - 2 * 1024 * 1024))
    c.endheaders()
    c.send(data[2 * 1024 * 1024:3 * 1024 * 1024])  # part of the second chunk, then A dies
    time.sleep(0.3)
    a.kill()
    st, h, _ = b.request("GET", loc, auth=basic)
    expect(st == 204, f"B sees the upload after A died: {st}")
    offset = int(h["range"].split("-")[1]) + 1
    expect(offset == 2 * 1024 * 1024, f"the interrupted chunk left nothing behind (upload at {offset})")
    st, _, _ = b.request("PATCH", loc, data[offset:], {"Content-Range": f"{offset}-{len(data) - 1}"}, basic)
    expect(st == 202, f"resume on B: {st}")
    st, _, _ = b.request("PUT", f"{loc}?digest={sha(data)}", auth=basic)
    expect(st == 201, f"finish on B after A died: {st}")
    st, _, body = b.request("GET", f"/v2/{REPO}/blobs/{sha(data)}")
    expect(st == 200 and body == data, "the resumed blob reads back whole")
    print("ok - A killed mid-upload; B resumed from the last acknowledged chunk and finished it")

    expect(b.terminate() == 0, "B exits cleanly on SIGTERM")


if __name__ == "__main__":
    main()
