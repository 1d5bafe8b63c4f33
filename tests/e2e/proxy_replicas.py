#!/usr/bin/env python3
"""A proxy repository on two replicas sharing PostgreSQL and S3 (configured
through CAIRN_* in the environment, as in tests/e2e/replicas.py), which reach
each other (`[cluster] advertise_url` and a shared secret):

  * while replica A fills an uncached tarball whose upstream has sent only
    half of it (held there until the test releases it), a client of replica
    B already receives bytes: B streams A's fill in progress instead of
    asking the upstream or waiting for the fill to be stored; one upstream
    request, both bodies whole and verified;
  * the replica filling an uncached tarball from a slow upstream is
    SIGKILLed in the middle of the stream; the other replica, which was
    streaming that fill and holding its lease in view rather than asking the
    upstream too, takes the fill over once the lease lapses and serves the
    whole, verified tarball.

Usage: proxy_replicas.py CAIRN_BINARY OUTPUT_DIR
"""

import base64
import hashlib
import http.client
import io
import json
import os
import sys
import tarfile
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from cairnproc import Cairn  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402

BIN, OUT = sys.argv[1], sys.argv[2]


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")


def tarball(size, name="slow"):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as t:
        for name, data in {"package/package.json": json.dumps({"name": name, "version": "1.0.0"}).encode(),
                           "package/blob.bin": os.urandom(size)}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def publish(up, name, tgz):
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode()
    doc = json.dumps({
        "name": name, "dist-tags": {"latest": "1.0.0"},
        "versions": {"1.0.0": {"name": name, "version": "1.0.0",
                               "dist": {"tarball": f"http://x/{name}/-/{name}-1.0.0.tgz", "integrity": integrity}}},
        "_attachments": {f"{name}-1.0.0.tgz": {"data": base64.b64encode(tgz).decode(), "length": len(tgz)}}})
    st, _, body = up.request("PUT", f"/npm/main/{name}", doc.encode(), {"Content-Type": "application/json"}, up.basic)
    expect(st in (200, 201), f"publishing {name} upstream: {st} {body[:200]!r}")


def streamed_across(a, b, up, fault):
    """B's client gets A's fill as it arrives, while the upstream holds the rest back."""
    tgz = tarball(2 << 20, "gated")
    publish(up, "gated", tgz)
    path = "/npm/npmjs/gated/-/gated-1.0.0.tgz"
    st, _, _ = a.request("GET", "/npm/npmjs/gated")
    expect(st == 200, f"packument through A: {st}")
    fault.hold_at = 1 << 20
    fault.release.clear()
    try:
        ca = http.client.HTTPConnection("127.0.0.1", a.port, timeout=60)
        ca.request("GET", path)
        ra = ca.getresponse()
        got_a = ra.read(256 * 1024)
        expect(ra.status == 200 and len(got_a) == 256 * 1024, f"A streams its fill: {ra.status}")
        # The upstream has sent half and holds the rest: the fill cannot
        # finish, so bytes reaching B's client come from A's fill in progress.
        cb = http.client.HTTPConnection("127.0.0.1", b.port, timeout=30)
        cb.request("GET", path)
        try:
            rb = cb.getresponse()
            got_b = rb.read(256 * 1024)
        except TimeoutError:
            raise SystemExit("FAIL: B's client got nothing while A's fill was held mid-body "
                             "(B waited for the fill to finish instead of streaming it from A)")
        expect(rb.status == 200 and got_b == tgz[:256 * 1024],
               f"B's client receives the first bytes while A's fill is held mid-body ({len(got_b)} bytes)")
        expect(fault.count("GET", "/gated/-/") == 1,
               f"one upstream request for both replicas ({fault.count('GET', '/gated/-/')})")
    finally:
        fault.release.set()
        fault.hold_at = None
    body_a = got_a + ra.read()
    body_b = got_b + rb.read()
    expect(body_a == tgz and body_b == tgz, f"both bodies whole and verified ({len(body_a)}, {len(body_b)} bytes)")
    expect(fault.count("GET", "/gated/-/") == 1, "still one upstream request")
    print("ok - a client of replica B received replica A's proxy fill as it arrived (the upstream holding the "
          "rest back), with one upstream request for both")


def main():
    work = tempfile.mkdtemp(prefix="cairn-proxy-replicas-")
    # The upstream: a hosted cairn of its own (SQLite, local disk).
    up = Cairn(BIN, os.path.join(work, "upstream"), env={
        "CAIRN_DATABASE_URL": f"sqlite://{work}/upstream.db", "CAIRN_STORAGE__BACKEND": "filesystem"}).start(
        os.path.join(OUT, "proxy-replicas-upstream.log"))
    tgz = tarball(2 << 20)
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode()
    doc = json.dumps({
        "name": "slow", "dist-tags": {"latest": "1.0.0"},
        "versions": {"1.0.0": {"name": "slow", "version": "1.0.0",
                               "dist": {"tarball": "http://x/slow/-/slow-1.0.0.tgz", "integrity": integrity}}},
        "_attachments": {"slow-1.0.0.tgz": {"data": base64.b64encode(tgz).decode(), "length": len(tgz)}}})
    st, _, body = up.request("PUT", "/npm/main/slow", doc.encode(), {"Content-Type": "application/json"}, up.basic)
    expect(st in (200, 201), f"publishing upstream: {st} {body[:200]!r}")
    fault = FaultProxy(up.port)

    proxies = (f'[{{format="npm", name="npmjs", upstream="http://127.0.0.1:{fault.port}/npm/main/",'
               f' fill_lease_secs=3}}]')
    secret = base64.b64encode(os.urandom(24)).decode()

    def replica(name, password=None):
        c = Cairn(BIN, os.path.join(work, name), password=password)
        c.env = {"CAIRN_PROXY": proxies, "CAIRN_CLUSTER__ADVERTISE_URL": f"http://127.0.0.1:{c.port}",
                 "CAIRN_CLUSTER__SECRET": secret}
        return c.start(os.path.join(OUT, f"proxy-replica-{name}.log"))
    a = replica("a")
    b = replica("b", a.password)
    try:
        st, _, _ = b.request("GET", "/_cairn/fill?repository=npm/npmjs&key=x")
        expect(st == 401, f"a replica's fills are not served without the cluster secret: {st}")
        streamed_across(a, b, up, fault)
        fault.throttle_bps = 256 * 1024  # about 8 s for the tarball
        path = "/npm/npmjs/slow/-/slow-1.0.0.tgz"
        st, _, _ = a.request("GET", "/npm/npmjs/slow")
        expect(st == 200, f"packument through A: {st}")
        # A starts the fill and streams part of it to its client.
        ca = http.client.HTTPConnection("127.0.0.1", a.port, timeout=60)
        ca.request("GET", path)
        ra = ca.getresponse()
        expect(ra.status == 200, f"A's first answer: {ra.status}")
        got = ra.read(256 * 1024)
        expect(len(got) > 0, "A streamed nothing")
        # B's client asks meanwhile: B waits on A's lease, not the upstream.
        result = {}

        def fetch_b():
            st, _, body = b.request("GET", path, timeout=120)
            result["b"] = (st, body)

        tb = threading.Thread(target=fetch_b)
        tb.start()
        time.sleep(1.0)
        expect(fault.count("GET", "/slow/-/") == 1,
               f"B asked the upstream while A was filling ({fault.count('GET', '/slow/-/')} requests)")
        a.kill()
        tb.join(120)
        st, body = result.get("b", (None, b""))
        expect(st == 200 and hashlib.sha512(body).digest() == hashlib.sha512(tgz).digest(),
               f"B after A died mid-stream: {st}, {len(body)} bytes")
        expect(fault.count("GET", "/slow/-/") == 2,
               f"upstream tarball requests: {fault.count('GET', '/slow/-/')} (A's, then B's takeover)")
        st, _, body = b.request("GET", path)
        expect(st == 200 and body == tgz, "the tarball is cached after the takeover")
        expect(fault.count("GET", "/slow/-/") == 2, "the cached tarball was fetched again")
        print("ok - the replica filling a proxied tarball was killed mid-stream; the other, waiting on the fill's "
              "lease instead of the upstream, took over and served it whole")
    finally:
        for c in (a, b, up):
            try:
                c.kill()
            except Exception:  # noqa: BLE001
                pass


if __name__ == "__main__":
    main()
