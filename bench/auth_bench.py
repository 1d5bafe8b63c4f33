#!/usr/bin/env python3
"""Authenticated reads against anonymous ones, on one cairn, side by side in
one run (see bench/auth.sh).

A private registry (anonymous reads off) makes every client send its
credential on every request; this measures what that costs. The same
server answers manifest GET and npm packument GET anonymously and with each
credential kind -- Basic with a password, Basic with an API token, Bearer
with an API token, and the Docker bearer JWT from /auth/token -- and each
rate is printed with its ratio to the anonymous rate.
"""

import base64
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (DURATION, npm_doc, npm_tarball, request, sha256_digest,  # noqa: E402
                      start_cairn, wrk)

CAIRN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="cairn-auth-bench.", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
REPO = "bench/app"


def push_image(port, auth):
    config = json.dumps({"bench": True}).encode()
    layer = os.urandom(1024)
    for blob in (config, layer):
        request(port, "POST", f"/v2/{REPO}/blobs/uploads/?digest={sha256_digest(blob)}", blob,
                {"Authorization": auth, "Content-Type": "application/octet-stream"})
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256_digest(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256_digest(layer),
                    "size": len(layer)}],
    }).encode()
    request(port, "PUT", f"/v2/{REPO}/manifests/v1", manifest,
            {"Authorization": auth, "Content-Type": "application/vnd.oci.image.manifest.v1+json"})


def main():
    proc, port, admin = start_cairn(CAIRN, WORK)
    try:
        push_image(port, admin)
        tgz = npm_tarball("bench-pkg", "1.0.0")
        request(port, "PUT", "/npm/main/bench-pkg", npm_doc("bench-pkg", "1.0.0", tgz),
                {"Content-Type": "application/json", "Authorization": admin})
        _, body = request(port, "POST", "/api/v1/tokens", json.dumps({"scopes": ["**:read"]}).encode(),
                          {"Content-Type": "application/json", "Authorization": admin})
        token = json.loads(body)["token"]
        _, body = request(port, "GET", f"/auth/token?service=cairn&scope=repository:{REPO}:pull"
                                       "&scope=repository:npm/main:pull", headers={"Authorization": admin})
        jwt = json.loads(body)["token"]
        kinds = [
            ("anonymous", None),
            ("Basic, password", admin),
            ("Basic, API token", "Basic " + base64.b64encode(f"admin:{token}".encode()).decode()),
            ("Bearer, API token", f"Bearer {token}"),
            ("Bearer, Docker JWT", f"Bearer {jwt}"),
        ]
        urls = [
            ("manifest GET", f"http://127.0.0.1:{port}/v2/{REPO}/manifests/v1",
             ["Accept: application/vnd.oci.image.manifest.v1+json"]),
            ("npm packument GET", f"http://127.0.0.1:{port}/npm/main/bench-pkg",
             ["Accept: application/vnd.npm.install-v1+json"]),
        ]
        results = {}
        for _, url, headers in urls:  # warm up the server and its caches
            wrk(url, list(headers), seconds=1)
        for kind, auth in kinds:
            for what, url, headers in urls:
                h = list(headers) + ([f"Authorization: {auth}"] if auth else [])
                results[(kind, what)] = wrk(url, h)[0]
        print(f"cairn, one server, anonymous reads on; wrk -t2 -c32 -d{DURATION}s each\n")
        print("| credential | manifest GET | vs anonymous | npm packument GET | vs anonymous |")
        print("|---|---:|---:|---:|---:|")
        for kind, _ in kinds:
            m = results[(kind, "manifest GET")]
            n = results[(kind, "npm packument GET")]
            m0 = results[("anonymous", "manifest GET")]
            n0 = results[("anonymous", "npm packument GET")]
            print(f"| {kind} | {m:,.0f} req/s | {m / m0:.2f}x | {n:,.0f} req/s | {n / n0:.2f}x |", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
