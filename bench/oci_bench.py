#!/usr/bin/env python3
"""cairn vs CNCF Distribution, side by side in one run (see bench/oci.sh).

Measures: blob push MiB/s (monolithic, and chunked in 8 MiB chunks) of a
256 MiB blob (curl and Python clients, best of 3); sustained pull MiB/s of the
256 MiB blob on one connection and of one 10 MiB blob on 64 connections (wrk);
manifest GET req/s and p99 under wrk; image pushes per second (8 clients,
each image a small layer of its own plus a shared base layer, then its
manifest: what every push costs in metadata, with cairn's storage numbers
and, in a second cairn row, a quota on the namespace); peak RSS of each
server during a 1 GiB push. Both servers keep their data in one directory on
the same disk.
"""

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import DURATION, free_port, scaled, wait_ready  # noqa: E402

CAIRN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="cairn-bench.", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
MiB = 1024 * 1024
CHUNK = 8 * MiB






class Server:
    def __init__(self, name):
        self.name = name
        self.port = free_port()
        self.auth = {}
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir)

    @property
    def base(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


class Cairn(Server):
    def start(self):
        self.proc = subprocess.Popen(
            [CAIRN, "serve", "--listen", self.base, "--data-dir", os.path.join(self.dir, "data")],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.dir, "log"), "w"), text=True,
            env={**os.environ, "CAIRN_LOG": "warn"})
        wait_ready(self.port, "/healthz")
        for line in self.proc.stdout:
            if "password:" in line:
                secret = line.split()[-1]
                break
        token = base64.b64encode(f"admin:{secret}".encode()).decode()
        self.auth = {"Authorization": f"Basic {token}"}


class Distribution(Server):
    def start(self):
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write(f"""version: 0.1
log: {{level: error}}
storage:
  cache: {{blobdescriptor: inmemory}}
  filesystem: {{rootdirectory: {self.dir}/data}}
  delete: {{enabled: true}}
http:
  addr: {self.base}
""")
        self.proc = subprocess.Popen(["docker-registry", "serve", cfg],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "w"))
        wait_ready(self.port, "/v2/")


def conn(s):
    return http.client.HTTPConnection("127.0.0.1", s.port, timeout=600, blocksize=1 * MiB)


def req(s, method, path, body=None, headers=None):
    c = conn(s)
    c.request(method, path, body=body, headers={**s.auth, **(headers or {})})
    r = c.getresponse()
    data = r.read()
    if r.status >= 400:
        raise RuntimeError(f"{s.name} {method} {path}: {r.status} {data[:300]!r}")
    return r, data


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(4 * MiB):
            h.update(b)
    return "sha256:" + h.hexdigest()


def make_file(name, size):
    path = os.path.join(WORK, name)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MiB)
            f.write(os.urandom(n))
            left -= n
    return path, file_digest(path)


def curl_auth(s):
    return ["-H", f"Authorization: {s.auth['Authorization']}"] if s.auth else []


def push_monolithic(s, repo, path, digest):
    """POST then one PUT with the whole body (both servers support this)."""
    r, _ = req(s, "POST", f"/v2/{repo}/blobs/uploads/")
    loc = r.getheader("Location")
    if loc.startswith("http"):
        loc = "/" + loc.split("/", 3)[3]
    sep = "&" if "?" in loc else "?"
    t = time.perf_counter()
    out = subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", "-X", "PUT", "-T", path,
                          "-H", "Content-Type: application/octet-stream", *curl_auth(s),
                          f"http://{s.base}{loc}{sep}digest={digest}"], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{s.name} push failed: {out.stderr}")
    return time.perf_counter() - t


def push_chunked(s, repo, path, digest):
    size = os.path.getsize(path)
    t = time.perf_counter()
    r, _ = req(s, "POST", f"/v2/{repo}/blobs/uploads/")
    loc = r.getheader("Location")
    with open(path, "rb") as f:
        off = 0
        while off < size:
            chunk = f.read(CHUNK)
            if loc.startswith("http"):
                loc = "/" + loc.split("/", 3)[3]
            r, _ = req(s, "PATCH", loc, chunk, {"Content-Type": "application/octet-stream",
                                                "Content-Range": f"{off}-{off + len(chunk) - 1}",
                                                "Content-Length": str(len(chunk))})
            loc = r.getheader("Location")
            off += len(chunk)
    if loc.startswith("http"):
        loc = "/" + loc.split("/", 3)[3]
    sep = "&" if "?" in loc else "?"
    req(s, "PUT", f"{loc}{sep}digest={digest}", b"", {"Content-Length": "0"})
    return time.perf_counter() - t


def wrk_transfer_mbps(s, path, threads, connections, seconds=DURATION):
    """Sustained download rate under wrk, a lean client (no per-pull process)."""
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s",
                          f"http://{s.base}{path}"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB)", out)
    if re.search(r"Non-2xx or 3xx responses", out):
        raise RuntimeError(f"{s.name}: wrk saw error responses")
    return float(m.group(1)) * {"B": 1 / MiB, "KB": 1 / 1024, "MB": 1, "GB": 1024}[m.group(2)]


def push_manifest(s, repo):
    config = b'{"architecture":"amd64","os":"linux"}'
    cd = "sha256:" + hashlib.sha256(config).hexdigest()
    r, _ = req(s, "POST", f"/v2/{repo}/blobs/uploads/")
    loc = r.getheader("Location")
    if loc.startswith("http"):
        loc = "/" + loc.split("/", 3)[3]
    sep = "&" if "?" in loc else "?"
    req(s, "PUT", f"{loc}{sep}digest={cd}", config, {"Content-Type": "application/octet-stream"})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd,
                                      "size": len(config)}, "layers": []}).encode()
    req(s, "PUT", f"/v2/{repo}/manifests/v1", manifest,
        {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})


def put_blob(s, repo, data, digest):
    """An upload in two requests (POST, then PUT with the digest), which
    every registry takes."""
    r, _ = req(s, "POST", f"/v2/{repo}/blobs/uploads/")
    loc = r.getheader("Location")
    if loc.startswith("http"):
        loc = "/" + loc.split("/", 3)[3]
    sep = "&" if "?" in loc else "?"
    req(s, "PUT", f"{loc}{sep}digest={digest}", data, {"Content-Type": "application/octet-stream"})


def push_images(s, count, workers=8, prefix="bench/img"):
    """Images pushed per second by `workers` clients: each image uploads one
    small layer of its own (the shared base layer is already there) and
    puts its manifest, into one of 16 repositories."""
    from concurrent.futures import ThreadPoolExecutor
    config = b'{"architecture":"amd64","os":"linux"}'
    cd = "sha256:" + hashlib.sha256(config).hexdigest()
    base = os.urandom(64 * 1024)
    bd = "sha256:" + hashlib.sha256(base).hexdigest()
    for r in range(16):
        for data, d in ((config, cd), (base, bd)):
            put_blob(s, f"{prefix}{r}", data, d)
    tag = os.urandom(4).hex()

    def one(i):
        repo = f"{prefix}{i % 16}"
        layer = os.urandom(4096)
        ld = "sha256:" + hashlib.sha256(layer).hexdigest()
        put_blob(s, repo, layer, ld)
        layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n}
                  for d, n in ((bd, len(base)), (ld, len(layer)))]
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd,
                                          "size": len(config)}, "layers": layers}).encode()
        req(s, "PUT", f"/v2/{repo}/manifests/{tag}-{i}", manifest,
            {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})

    started = time.time()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(count)))
    return count / (time.time() - started)


def wrk(s, path, seconds=DURATION):
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency",
                          "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
                          f"http://{s.base}{path}"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{s.name}: wrk saw {non2xx.group(1)} error responses")
    return rps, p99_ms


def reset_peak_rss(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def best(fn, runs=3):
    return min(fn() for _ in range(runs))


def main():
    print(f"workdir {WORK}")
    big_mib, mid_mib, huge_mib = scaled(256, 1), scaled(10, 1), scaled(1024, 2)
    images = scaled(2000, 16)
    big, big_d = make_file("blob-big", big_mib * MiB)
    mid, mid_d = make_file("blob-mid", mid_mib * MiB)
    huge, huge_d = make_file("blob-huge", huge_mib * MiB)
    servers = [Cairn("cairn"), Distribution("distribution")]
    results = {}
    for s in servers:
        s.start()
        r = results[s.name] = {}
        reset_peak_rss(s.proc.pid)
        push_monolithic(s, "bench/huge", huge, huge_d)
        r["rss"] = peak_rss_mib(s.proc.pid)
        r["push"] = big_mib / best(lambda: push_monolithic(s, "bench/mono", big, big_d))
        r["chunked"] = big_mib / best(lambda: push_chunked(s, "bench/chunked", big, big_d))
        r["pull"] = wrk_transfer_mbps(s, f"/v2/bench/mono/blobs/{big_d}", 1, 1)
        push_monolithic(s, "bench/mid", mid, mid_d)
        r["pull64"] = wrk_transfer_mbps(s, f"/v2/bench/mid/blobs/{mid_d}", 2, 64)
        push_manifest(s, "bench/manifest")
        wrk(s, "/v2/bench/manifest/manifests/v1", 1)  # warm up
        r["rps"], r["p99"] = wrk(s, "/v2/bench/manifest/manifests/v1")
        r["images"] = push_images(s, images)
        if isinstance(s, Cairn):
            # The same pushes into a namespace under a quota (never reached).
            req(s, "PUT", "/api/v1/quotas?scope=quota/", json.dumps({"max_unique_bytes": "1 TiB"}).encode(),
                {"Content-Type": "application/json"})
            r["images_quota"] = push_images(s, images, prefix="quota/img")
        s.stop()

    c, d = results["cairn"], results["distribution"]
    rows = [
        (f"blob push, monolithic {big_mib} MiB (MiB/s)", "push", True),
        (f"blob push, chunked 8 MiB chunks of {big_mib} MiB (MiB/s)", "chunked", True),
        (f"blob pull {big_mib} MiB, one stream (MiB/s, wrk -c1)", "pull", True),
        (f"64 concurrent pulls of {mid_mib} MiB (aggregate MiB/s, wrk -c64)", "pull64", True),
        ("manifest GET (req/s, wrk -t2 -c32)", "rps", True),
        ("manifest GET p99 (ms)", "p99", False),
        (f"image pushes/s, 8 clients, {images} images", "images", True),
        (f"peak RSS during {huge_mib} MiB push (MiB)", "rss", False),
    ]
    print("\n| measure | cairn | distribution 2.8 | cairn advantage |")
    print("|---|---:|---:|---:|")
    for label, key, higher in rows:
        ratio = c[key] / d[key] if higher else d[key] / c[key]
        print(f"| {label} | {c[key]:.1f} | {d[key]:.1f} | {ratio:.2f}x |")
    q = c["images_quota"]
    print(f"| image pushes/s into a namespace under a quota (cairn) | {q:.1f} | {d['images']:.1f} | "
          f"{q / d['images']:.2f}x |")
    print("\n(cairn advantage: cairn/distribution for throughput, distribution/cairn for latency and memory)")
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
