#!/usr/bin/env python3
"""bench/components.sh: the component query at scale (see the script)."""

import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import http.client

from benchlib import SMOKE, free_port, request, scaled, sha256_digest, wait_ready

CAIRN, CORPUS = sys.argv[1], sys.argv[2]
ARTIFACTS = int(os.environ.get("BENCH_ARTIFACTS", scaled(100_000, 300)))
PER = int(os.environ.get("BENCH_COMPONENTS", scaled(100, 20)))
NAMES = int(os.environ.get("BENCH_NAMES", scaled(20_000, 200)))
QUERIES = scaled(1000, 40)
BIG_SBOM = scaled(50_000, 500)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = tempfile.mkdtemp(prefix="cairn-bench.")
os.chmod(WORK, 0o755)  # the PostgreSQL cluster runs as the postgres user when we are root


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def make_corpus(url):
    t = time.time()
    out = subprocess.run([CORPUS, url, str(ARTIFACTS), str(PER), str(NAMES)], check=True,
                         capture_output=True, text=True)
    print(f"  corpus: {out.stderr.strip().splitlines()[-1]} (wall {time.time() - t:.0f} s)", flush=True)
    return out.stdout.split()


def start(data_dir, env):
    port = free_port()
    proc = subprocess.Popen([CAIRN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir],
                            stdout=subprocess.PIPE, stderr=open(os.path.join(WORK, f"cairn-{port}.log"), "w"),
                            text=True, env={**os.environ, "CAIRN_LOG": "warn", **env})
    wait_ready(port, "/healthz")
    secret = next(line.split()[-1] for line in proc.stdout if "password:" in line)
    import base64
    return proc, port, "Basic " + base64.b64encode(f"admin:{secret}".encode()).decode()


def questions(purls, rnd):
    """A mix: name + range (most), name + exact version, any version, a name prefix."""
    qs = []
    for _ in range(QUERIES):
        purl = rnd.choice(purls)
        eco = purl.split(":")[1].split("/")[0]
        kind = rnd.random()
        if purl.endswith("log4j-core") or kind < 0.6:
            lo, hi = sorted(rnd.sample(range(0, 3), 2))
            v = (lambda a: f"v{a}.0.0") if eco == "golang" else (lambda a: f"{a}.0.0")
            if purl.endswith("log4j-core"):
                rng = "vers:maven/>=2.0.0|<2.17.1"
            else:
                rng = f"vers:{eco}/>={v(lo)}|<{v(hi)}"
            qs.append({"purl": purl, "range": rng})
        elif kind < 0.8:
            version = {"golang": "v1.5.0", "npm": "1.5.1", "cargo": "1.5.2", "pypi": "1.5", "maven": "1.5.0"}[eco]
            qs.append({"purl": f"{purl}@{version}"})
        elif kind < 0.9:
            qs.append({"purl": purl})
        else:
            name = purl.split("/", 1)[1]
            qs.append({"type": eco, "prefix": name[: max(4, len(name) - 2)]})
    return qs


def measure(port, auth, qs):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times, answers = [], 0
    for q in qs:
        path = "/api/v1/components?" + urllib.parse.urlencode({**q, "limit": "100"})
        t = time.perf_counter()
        _, body = request(port, "GET", path, headers={"Authorization": auth}, conn=conn)
        times.append(time.perf_counter() - t)
        answers += len(json.loads(body)["results"])
    return times, answers


def scan_sqlite(db, qs):
    """The same questions as a substring scan over the purls (no index can serve it)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    times = []
    for q in qs[:scaled(20, 5)]:
        needle = q.get("purl", q.get("prefix", "")).split("/")[-1].split("@")[0]
        t = time.perf_counter()
        con.execute("SELECT sbom_id, purl FROM sbom_components WHERE purl LIKE ? LIMIT 100",
                    (f"%{needle}@%",)).fetchall()
        times.append(time.perf_counter() - t)
    return times


def scan_postgres(url, qs):
    times = []
    for q in qs[:scaled(20, 5)]:
        needle = q.get("purl", q.get("prefix", "")).split("/")[-1].split("@")[0]
        out = subprocess.run(["psql", "-qAt", url, "-c",
                              "EXPLAIN (ANALYZE, FORMAT JSON) SELECT sbom_id, purl FROM sbom_components "
                              f"WHERE purl LIKE '%{needle}@%' LIMIT 100"], check=True, capture_output=True,
                             text=True).stdout
        times.append(json.loads(out)[0]["Execution Time"] / 1000)
    return times


def ingest(port, auth):
    """One image with a BIG_SBOM-component CycloneDX SBOM pushed as a referrer: the seconds of its manifest PUT."""
    repo = "bench/big"
    def blob(data):
        request(port, "POST", f"/v2/{repo}/blobs/uploads/?digest={sha256_digest(data)}", data,
                {"Authorization": auth})
        return {"digest": sha256_digest(data), "size": len(data)}
    config = blob(b"{}")
    layer = blob(b"layer")
    image = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}]}).encode()
    request(port, "PUT", f"/v2/{repo}/manifests/v1", image,
            {"Authorization": auth, "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    comps = [{"type": "library", "name": f"c{i}", "purl": f"pkg:npm/big-{i}@1.{i % 50}.{i % 7}"}
             for i in range(BIG_SBOM)]
    doc = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": comps}).encode()
    sbom = blob(doc)
    referrer = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "artifactType": "application/vnd.cyclonedx+json",
                           "config": {"mediaType": "application/vnd.oci.empty.v1+json", **config},
                           "layers": [{"mediaType": "application/vnd.cyclonedx+json", **sbom}],
                           "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                       "digest": sha256_digest(image), "size": len(image)}}).encode()
    t = time.perf_counter()
    request(port, "PUT", f"/v2/{repo}/manifests/{sha256_digest(referrer)}", referrer,
            {"Authorization": auth, "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    return time.perf_counter() - t, len(doc)


def run(label, url, data_dir, env, scan):
    print(f"-- {label}", flush=True)
    purls = make_corpus(url)
    proc, port, auth = start(data_dir, env)
    try:
        qs = questions(purls, random.Random(7))
        measure(port, auth, qs[:20])  # warm the page cache
        times, answers = measure(port, auth, qs)
        scans = scan(qs)
        p50, p99 = pct(times, 0.5) * 1000, pct(times, 0.99) * 1000
        scan50 = pct(scans, 0.5) * 1000
        occurrences = ARTIFACTS * PER + ARTIFACTS // 100
        print(f"| component query, {label}, {occurrences:,} occurrences: p50 / p99 | {p50:.2f} / {p99:.2f} ms "
              f"| substring scan p50 {scan50:.1f} ms | {scan50 / p50:.2f}x |", flush=True)
        print(f"  {len(qs)} queries, {answers} answers (first pages of at most 100)", flush=True)
        secs, size = ingest(port, auth)
        print(f"| one {BIG_SBOM:,}-component SBOM ({size / 1e6:.1f} MB) pushed and indexed, {label} | {secs:.2f} s "
              f"| - | - |", flush=True)
    finally:
        proc.terminate()
        proc.wait()


def main():
    print(f"| what | cairn | baseline | ratio |\n|---|---|---|---|", flush=True)
    data = os.path.join(WORK, "sqlite")
    os.makedirs(data)
    db = os.path.join(data, "cairn.db")
    run("SQLite", f"sqlite://{db}", data, {}, lambda qs: scan_sqlite(db, qs))
    pgdir = os.path.join(WORK, "pg")
    os.makedirs(pgdir)
    url = subprocess.run([os.path.join(ROOT, "scripts/start-postgres.sh"), pgdir], check=True,
                         capture_output=True, text=True).stdout.strip()
    try:
        subprocess.run(["psql", "-q", url, "-c", "CREATE DATABASE bench"], check=True)
        bench_url = url.rsplit("/", 1)[0] + "/bench"
        pg_data = os.path.join(WORK, "pg-cairn")
        os.makedirs(pg_data)
        run("PostgreSQL", bench_url, pg_data, {"CAIRN_DATABASE_URL": bench_url},
            lambda qs: scan_postgres(bench_url, qs))
    finally:
        subprocess.run([os.path.join(ROOT, "scripts/stop-postgres.sh"), pgdir], capture_output=True)
    subprocess.run(["rm", "-rf", WORK])


main()
