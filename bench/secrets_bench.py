#!/usr/bin/env python3
"""bench/secrets.sh: the secret gate's cost on npm publishes (see the script)."""

import base64
import gzip
import io
import json
import os
import random
import statistics
import subprocess
import tarfile
import tempfile
import time

from benchlib import SMOKE, free_port, request, scaled, wait_ready

CAIRN = __import__("sys").argv[1]
SIZE = scaled(10 * 1024 * 1024, 256 * 1024)  # compressed bytes per tarball, about
PUBLISHES = scaled(5, 2)
WORK = tempfile.mkdtemp(prefix="cairn-bench.")


def source_text(rnd, target_compressed):
    """JavaScript-like text that compresses about as code does (3-4x)."""
    words = [f"{rnd.choice('abcdefghijklmnopqrstuvwxyz')}{rnd.randrange(10**6)}" for _ in range(5000)]
    lines, out_len = [], 0
    while out_len < target_compressed * 3.5:
        line = f"const {rnd.choice(words)} = require('{rnd.choice(words)}').{rnd.choice(words)}({rnd.randrange(1000)});\n"
        lines.append(line)
        out_len += len(line)
    return "".join(lines).encode()


def tarball(name, version, body):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as t:
        for path, data in [("package/package.json", json.dumps({"name": name, "version": version}).encode()),
                           ("package/index.js", body)]:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def start(scan):
    port = free_port()
    env = {**os.environ, "CAIRN_LOG": "warn", "CAIRN_PACKAGES__MAX_UPLOAD_BYTES": str(512 * 1024 * 1024)}
    if scan:
        env["CAIRN_PACKAGES__SECRET_SCAN"] = '["npm/*"]'
    data = os.path.join(WORK, f"cairn-{'scan' if scan else 'plain'}")
    proc = subprocess.Popen([CAIRN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data],
                            stdout=subprocess.PIPE, stderr=open(data + ".log", "w"), text=True, env=env)
    wait_ready(port, "/healthz")
    secret = next(line.split()[-1] for line in proc.stdout if "password:" in line)
    return proc, port, "Basic " + base64.b64encode(f"admin:{secret}".encode()).decode()


def publish(port, auth, name, version, tgz):
    doc = {"name": name, "versions": {version: {"name": name, "version": version,
                                                "dist": {"tarball": f"http://x/{name}-{version}.tgz"}}},
           "dist-tags": {"latest": version},
           "_attachments": {f"{name}-{version}.tgz": {"content_type": "application/octet-stream",
                                                       "data": base64.b64encode(tgz).decode(), "length": len(tgz)}}}
    body = json.dumps(doc).encode()
    t = time.perf_counter()
    request(port, "PUT", f"/npm/main/{name}", body, {"Authorization": auth, "Content-Type": "application/json"})
    return time.perf_counter() - t


def main():
    rnd = random.Random(11)
    text = source_text(rnd, SIZE)
    tarballs = [tarball("big-pkg", f"1.0.{i}", text) for i in range(PUBLISHES)]
    compressed = statistics.mean(len(t) for t in tarballs)
    print(f"  {PUBLISHES} tarballs of {compressed / 1e6:.1f} MB compressed, {len(text) / 1e6:.1f} MB of source each",
          flush=True)
    times = {}
    for scan in (False, True):
        proc, port, auth = start(scan)
        try:
            times[scan] = [publish(port, auth, "big-pkg", f"1.0.{i}", tgz) for i, tgz in enumerate(tarballs)]
        finally:
            proc.terminate()
            proc.wait()
    plain, scanned = statistics.median(times[False]), statistics.median(times[True])
    per_10mb = (scanned - plain) * 1000 * (10e6 / compressed)
    print("| what | scanning | not scanning | ratio |\n|---|---|---|---|")
    print(f"| npm publish of a {compressed / 1e6:.1f} MB tarball, median | {scanned * 1000:.0f} ms | {plain * 1000:.0f} ms "
          f"| {plain / scanned:.2f}x |")
    print(f"| the scan's cost per 10 MB compressed | {per_10mb:.0f} ms | - | - |", flush=True)
    subprocess.run(["rm", "-rf", WORK])


main()
