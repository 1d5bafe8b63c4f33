#!/usr/bin/env python3
"""Garbage collection, cairn vs CNCF Distribution, side by side in one run
(see bench/gc.sh).

1. The cost of a collection after D manifest deletions, in a registry of N
   and of 10·N images (each image: its own config blob, a shared layer, a
   manifest): cairn's online run (`POST /api/v1/gc?grace_secs=0`, the server
   serving) against Distribution's offline `garbage-collect` (the server
   stopped), which walks everything stored. Ratio: Distribution's time over
   cairn's, and each one's time at 10·N over its time at N (1.0 means the
   cost does not grow with what is stored).
2. Manifest PUT latency (p50, p99) in cairn with and without collections
   running back to back beside it (each collecting the images deleted just
   before it). Distribution has no online collection to compare with.

BENCH_GC_SIZE sets N (default 10000; smoke mode 50), BENCH_GC_DELETE sets
D (default 1000; smoke mode 10).
"""

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import SMOKE, free_port, sha256_digest, start_cairn, wait_ready  # noqa: E402

CAIRN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="cairn-bench-gc.", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
N = int(os.environ.get("BENCH_GC_SIZE", "50" if SMOKE else "10000"))
D = int(os.environ.get("BENCH_GC_DELETE", "10" if SMOKE else "1000"))
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER = b"the layer every image shares" * 64


class Client:
    """One keep-alive connection per thread."""

    def __init__(self, port, auth):
        self.port, self.auth = port, auth
        self.local = threading.local()

    def call(self, method, path, body=None, headers=None):
        c = getattr(self.local, "c", None)
        if c is None:
            c = self.local.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        h = dict(headers or {})
        if self.auth:
            h["Authorization"] = self.auth
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        if r.status >= 300:
            raise SystemExit(f"{method} {path}: {r.status} {data[:300]!r}")
        return r


def put_blob(client, repo, data):
    """A monolithic upload (POST with the digest); a registry that answers
    202 instead (Distribution 2.8) gets the bytes in a PUT to its session."""
    d = sha256_digest(data)
    r = client.call("POST", f"/v2/{repo}/blobs/uploads/?digest={d}", data,
                    {"Content-Type": "application/octet-stream"})
    if r.status == 202:
        loc = urllib.parse.urlsplit(r.getheader("Location"))
        query = f"{loc.query}&digest={d}" if loc.query else f"digest={d}"
        client.call("PUT", f"{loc.path}?{query}", data, {"Content-Type": "application/octet-stream"})


def image(i):
    config = json.dumps({"image": i}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256_digest(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256_digest(LAYER),
                    "size": len(LAYER)}],
    }).encode()
    return config, manifest


def push(client, repo, i):
    config, manifest = image(i)
    put_blob(client, repo, config)
    client.call("PUT", f"/v2/{repo}/manifests/t{i}", manifest, {"Content-Type": MANIFEST})
    return sha256_digest(manifest)


def populate(client, repo, start, count):
    put_blob(client, repo, LAYER)
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: push(client, repo, i), range(start, start + count)))


def delete(client, repo, digests):
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda d: client.call("DELETE", f"/v2/{repo}/manifests/{d}"), digests))


def cairn_gc_cost(size):
    work = os.path.join(WORK, f"cairn-{size}")
    os.makedirs(work)
    proc, port, auth = start_cairn(CAIRN, work)
    try:
        client = Client(port, auth)
        digests = populate(client, "bench/app", 0, size)
        client.call("POST", "/api/v1/gc?grace_secs=0")  # the uploads' own candidates go first
        delete(client, "bench/app", digests[:D])
        started = time.perf_counter()
        client.call("POST", "/api/v1/gc?grace_secs=0")
        return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def distribution_gc_cost(size):
    d = os.path.join(WORK, f"distribution-{size}")
    os.makedirs(d)
    port = free_port()
    config = os.path.join(d, "config.yml")
    with open(config, "w") as f:
        f.write(f"""version: 0.1
log: {{level: error}}
storage:
  filesystem: {{rootdirectory: {d}/data}}
  delete: {{enabled: true}}
http: {{addr: 127.0.0.1:{port}}}
""")
    proc = subprocess.Popen(["docker-registry", "serve", config], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(d, "log"), "w"))
    wait_ready(port, "/v2/")
    try:
        client = Client(port, None)
        digests = populate(client, "bench/app", 0, size)
        delete(client, "bench/app", digests[:D])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    started = time.perf_counter()
    subprocess.run(["docker-registry", "garbage-collect", config], check=True, capture_output=True)
    return time.perf_counter() - started


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def put_latency_beside_gc():
    work = os.path.join(WORK, "cairn-latency")
    os.makedirs(work)
    proc, port, auth = start_cairn(CAIRN, work)
    try:
        client = Client(port, auth)
        populate(client, "bench/lat", 0, N)
        rounds = 20 if SMOKE else 200

        def measure(start):
            times = []
            for i in range(start, start + rounds):
                config, manifest = image(i)
                put_blob(client, "bench/lat", config)
                t = time.perf_counter()
                client.call("PUT", f"/v2/bench/lat/manifests/t{i}", manifest, {"Content-Type": MANIFEST})
                times.append(time.perf_counter() - t)
            return times

        quiet = measure(N)
        stop = threading.Event()
        runs = [0]

        def collect():
            gc = Client(port, auth)
            victim = 0
            while not stop.is_set():
                # Delete a batch, then collect it: every run has work to do.
                digests = [sha256_digest(image(v)[1]) for v in range(victim, victim + 50)]
                for d in digests:
                    try:
                        gc.call("DELETE", f"/v2/bench/lat/manifests/{d}")
                    except SystemExit:
                        pass
                victim += 50
                gc.call("POST", "/api/v1/gc?grace_secs=0")
                runs[0] += 1

        t = threading.Thread(target=collect)
        t.start()
        busy = measure(N + rounds)
        stop.set()
        t.join()
        return quiet, busy, runs[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    print(f"# gc bench: N={N} images, D={D} deletions", flush=True)
    print("| figure | cairn (online) | Distribution (offline) | Distribution / cairn |")
    print("|---|---:|---:|---:|")
    costs = {}
    for size in (N, 10 * N):
        c = cairn_gc_cost(size)
        p = distribution_gc_cost(size)
        costs[size] = (c, p)
        print(f"| collection after {D} deletions among {size:,} images | {c:.2f} s | {p:.2f} s | {p / c:.2f}x |",
              flush=True)
    (c1, p1), (c10, p10) = costs[N], costs[10 * N]
    print(f"| time at {10 * N:,} images over time at {N:,} | {c10 / c1:.2f}x | {p10 / p1:.2f}x | |", flush=True)
    quiet, busy, runs = put_latency_beside_gc()
    print()
    print("| manifest PUT in cairn | without collections | with collections running | with / without |")
    print("|---|---:|---:|---:|")
    for name, p in (("p50", 0.5), ("p99", 0.99)):
        q, b = percentile(quiet, p) * 1000, percentile(busy, p) * 1000
        print(f"| {name} ({len(busy)} PUTs, {runs} collections beside them) | {q:.1f} ms | {b:.1f} ms | "
              f"{b / q:.2f}x |", flush=True)
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
