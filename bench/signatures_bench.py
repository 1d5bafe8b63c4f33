#!/usr/bin/env python3
"""bench/signatures.sh: the signature policy's cost on a pull (see the script)."""

import base64
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from benchlib import DURATION, free_port, scaled, sha256_digest, wait_ready

CAIRN = sys.argv[1]
READS = scaled(5000, 200)
WORK = tempfile.mkdtemp(prefix="cairn-bench.")
IMAGE = "application/vnd.oci.image.manifest.v1+json"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"


def start(name, env):
    port = free_port()
    proc = subprocess.Popen([CAIRN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir",
                             os.path.join(WORK, name)],
                            stdout=subprocess.PIPE, stderr=open(os.path.join(WORK, f"{name}.log"), "w"), text=True,
                            env={**os.environ, "CAIRN_LOG": "warn", **env})
    wait_ready(port, "/healthz")
    secret = next(line.split()[-1] for line in proc.stdout if "password:" in line)
    return proc, port, "Basic " + base64.b64encode(f"admin:{secret}".encode()).decode()


def put(port, auth, method, path, body, ctype=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": auth}
    if ctype:
        headers["Content-Type"] = ctype
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {data[:200]!r}")


def blob(port, auth, repo, data):
    put(port, auth, "POST", f"/v2/{repo}/blobs/uploads/?digest={sha256_digest(data)}", data)
    return {"digest": sha256_digest(data), "size": len(data)}


def manifest(port, auth, repo, ref, doc):
    body = json.dumps(doc).encode()
    put(port, auth, "PUT", f"/v2/{repo}/manifests/{ref}", body, doc["mediaType"])
    return sha256_digest(body)


def image(port, auth, repo):
    config = blob(port, auth, repo, b'{"architecture":"amd64","os":"linux"}')
    layer = blob(port, auth, repo, b"a layer")
    return manifest(port, auth, repo, "v1", {
        "schemaVersion": 2, "mediaType": IMAGE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}]})


def sign(port, auth, repo, digest, key):
    """A cosign legacy signature (a simple-signing payload signed with openssl)."""
    payload = json.dumps({"critical": {"identity": {"docker-reference": repo}, "image": {
        "docker-manifest-digest": digest}, "type": "cosign container image signature"}, "optional": None}).encode()
    path = os.path.join(WORK, "payload")
    with open(path, "wb") as f:
        f.write(payload)
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, path], check=True, capture_output=True).stdout
    layer = blob(port, auth, repo, payload)
    config = blob(port, auth, repo, b"{}")
    manifest(port, auth, repo, f"sha256-{digest[7:]}.sig", {
        "schemaVersion": 2, "mediaType": IMAGE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": SIMPLE_SIGNING, **layer,
                    "annotations": {"dev.cosignproject.cosign/signature": base64.b64encode(sig).decode()}}]})


def latencies(ports, path):
    """Sequential anonymous GETs of `path`, alternating between the servers;
    per-server lists of milliseconds."""
    conns = {p: http.client.HTTPConnection("127.0.0.1", p, timeout=60) for p in ports}
    out = {p: [] for p in ports}
    for _ in range(READS):
        for p in ports:
            t = time.perf_counter()
            conns[p].request("GET", path, headers={"Accept": IMAGE})
            r = conns[p].getresponse()
            r.read()
            out[p].append((time.perf_counter() - t) * 1000)
            if r.status != 200:
                raise SystemExit(f"GET {path} on {p}: {r.status}")
    return out


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))]


def throughput(port, path):
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{DURATION}s", "-H", f"Accept: {IMAGE}",
                          f"http://127.0.0.1:{port}{path}"], check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors from {path}: {out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main():
    key = os.path.join(WORK, "key.pem")
    pub = os.path.join(WORK, "key.pub")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], check=True)
    subprocess.run(["openssl", "ec", "-in", key, "-pubout", "-out", pub], check=True, capture_output=True)
    guarded = start("guarded", {"CAIRN_SIGNING_KEY": f'[{{id = "ci", file = "{pub}"}}]',
                                "CAIRN_SIGNATURE_POLICY": '[{name = "prod", repositories = ["prod/**"], '
                                                          'signed_by = ["ci"]}]'})
    plain = start("plain", {})
    try:
        digests = []
        for _, port, auth in (guarded, plain):
            d = image(port, auth, "prod/app")
            sign(port, auth, "prod/app", d, key)
            digests.append(d)
        assert digests[0] == digests[1]
        g, p = guarded[1], plain[1]
        print(f"signature policy on a pull: {READS} sequential reads per server and path, interleaved; "
              f"wrk -c32 for {DURATION} s", flush=True)
        print("| read | with policy p50 / p99 | without p50 / p99 | p99 overhead |")
        print("|---|---|---|---|")
        for what, path in (("manifest by tag", "/v2/prod/app/manifests/v1"),
                           ("manifest by digest", f"/v2/prod/app/manifests/{digests[0]}")):
            lat = latencies([g, p], path)
            gp50, gp99, pp50, pp99 = pct(lat[g], .5), pct(lat[g], .99), pct(lat[p], .5), pct(lat[p], .99)
            print(f"| {what} | {gp50:.2f} / {gp99:.2f} ms | {pp50:.2f} / {pp99:.2f} ms | "
                  f"{gp99 - pp99:+.2f} ms |", flush=True)
        print("| throughput | with policy | without | ratio |")
        print("|---|---|---|---|")
        path = "/v2/prod/app/manifests/v1"
        tg, tp = throughput(g, path), throughput(p, path)
        print(f"| manifest by tag, 32 connections | {tg:,.0f} req/s | {tp:,.0f} req/s | {tg / tp:.2f}x |", flush=True)
    finally:
        for proc, _, _ in (guarded, plain):
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
