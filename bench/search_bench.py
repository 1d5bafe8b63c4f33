#!/usr/bin/env python3
"""GET /api/v1/search over a large corpus (see bench/search.sh)."""

import hashlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import SMOKE, request, start_cairn, stop, wait_ready  # noqa: E402

CAIRN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="cairn-search-bench.", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
ARTIFACTS = int(os.environ.get("BENCH_ARTIFACTS", "1000" if SMOKE else "100000"))
QUERIES = 20 if SMOKE else 200
FORMATS = ["npm", "pypi", "cargo", "go", "maven"]


def digest(i):
    return "sha256:" + hashlib.sha256(f"manifest {i}".encode()).hexdigest()


def seed(db_path):
    """60 % packages (one version each, a few with several), 40 % manifests."""
    packages = ARTIFACTS * 6 // 10
    manifests = ARTIFACTS - packages
    now = int(time.time())
    db = sqlite3.connect(db_path)
    with db:
        for i in range(packages):
            fmt = FORMATS[i % len(FORMATS)]
            name = f"lib-{i:06d}-{['core', 'util', 'http', 'json', 'cli'][i % 5]}"
            if fmt == "maven":
                name = f"org.example:{name}"
            elif fmt == "go":
                name = f"example.com/mod/{name}"
            key = name.lower()
            db.execute("INSERT INTO packages (format, repository, package, name, created_at, version_list, updated_at)"
                       " VALUES (?, 'main', ?, ?, ?, ?, ?)", (fmt, key, name, now, "1.0.0\n", now))
            db.execute("INSERT INTO package_versions (format, repository, package, version, state, metadata,"
                       " published_at, changed_at) VALUES (?, 'main', ?, '1.0.0', 'active', '{}', ?, ?)",
                       (fmt, key, now, now))
        repos = max(1, manifests // 100)
        for r in range(repos):
            db.execute("INSERT INTO repositories (name, created_at) VALUES (?, ?)", (f"team{r % 40}/app-{r:04d}", now))
        for i in range(manifests):
            repo = f"team{(i % repos) % 40}/app-{i % repos:04d}"
            annotations = json.dumps({"org.opencontainers.image.source": f"https://git.example.com/app-{i % repos:04d}",
                                      "org.opencontainers.image.revision": f"{i:08x}"}, separators=(",", ":"))
            db.execute("INSERT INTO manifests (repository, digest, media_type, size, annotations, created_at)"
                       " VALUES (?, ?, 'application/vnd.oci.image.manifest.v1+json', 1000, ?, ?)",
                       (repo, digest(i), annotations, now))
            db.execute("INSERT INTO tags (repository, tag, digest, updated_at) VALUES (?, ?, ?, ?)",
                       (repo, f"v{i}", digest(i), now))
    db.close()
    return packages, manifests


def timed(port, auth, q):
    t = time.perf_counter()
    r, body = request(port, "GET", "/api/v1/search?" + urllib.parse.urlencode({"q": q, "limit": "50"}),
                      headers={"Authorization": auth})
    elapsed = (time.perf_counter() - t) * 1000
    if r.status != 200:
        raise SystemExit(f"search {q!r}: {r.status} {body[:200]!r}")
    return elapsed, len(json.loads(body)["hits"])


def main():
    # A first start makes the schema; the corpus goes in while cairn is stopped.
    proc, port, auth = start_cairn(CAIRN, WORK)
    stop([proc])
    packages, manifests = seed(os.path.join(WORK, "cairn", "cairn.db"))
    # The admin password is printed on the first start only: the same one serves.
    proc = subprocess.Popen([CAIRN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir",
                             os.path.join(WORK, "cairn")], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(WORK, "cairn.log"), "a"), env={**os.environ, "CAIRN_LOG": "warn"})
    wait_ready(port, "/healthz")
    try:
        kinds = {
            "a name fragment (substring, every format)": lambda i: f"{(i * 7919) % (packages or 1):06d}-",
            "a common word (50 hits of thousands)": lambda i: ["json", "http", "util"][i % 3],
            "a digest prefix (12 hex digits)": lambda i: digest((i * 104729) % manifests)[:19],
            "a purl with a version": lambda i: f"pkg:npm/lib-{(i * 5 % (packages or 1)) // 5 * 5:06d}-core@1.0.0",
            "an annotation (KEY=VALUE)": lambda i: f"org.opencontainers.image.revision={(i * 31) % manifests:08x}",
        }
        print(f"Search over {packages + manifests:,} artifacts ({packages:,} packages of 5 formats, "
              f"{manifests:,} image manifests with a tag each), {QUERIES} queries per row, one at a time, "
              "as the admin (every hit access-checked)\n")
        print("| question | p50 | p99 | hits (median) |\n|---|---:|---:|---:|")
        for what, make in kinds.items():
            timed(port, auth, make(0))
            runs = [timed(port, auth, make(i)) for i in range(QUERIES)]
            times = sorted(t for t, _ in runs)
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            hits = statistics.median(h for _, h in runs)
            print(f"| {what} | {statistics.median(times):.1f} ms | {p99:.1f} ms | {hits:g} |", flush=True)
    finally:
        stop([proc])


if __name__ == "__main__":
    main()
