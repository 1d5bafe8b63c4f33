#!/usr/bin/env python3
"""cairn vs CNCF Distribution on the same S3 bucket (moto) — see bench/oci-s3.sh.

cairn runs on PostgreSQL + S3, first as one replica, then as two replicas
on the same database and bucket; Distribution uses its `s3` storage driver
on the same bucket (its own prefix). Measures blob push and pull MiB/s of a
64 MiB blob and manifest GET req/s. moto keeps objects in memory and is
itself the bottleneck for bytes; the ratios say what each server adds.
"""

import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
import oci_bench as b  # noqa: E402  (shares the helpers; CAIRN is argv[1])

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MiB = b.MiB


def script(name, *args):
    return subprocess.run([os.path.join(ROOT, "scripts", name), *args], check=True,
                          capture_output=True, text=True).stdout.strip()


class CairnS3(b.Cairn):
    def __init__(self, name, env, password=None):
        super().__init__(name)
        self.env = env
        self.password = password

    def start(self):
        env = {**os.environ, **self.env, "CAIRN_LOG": "warn"}
        self.proc = subprocess.Popen(
            [b.CAIRN, "serve", "--listen", self.base, "--data-dir", os.path.join(self.dir, "data")],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.dir, "log"), "w"), text=True, env=env)
        b.wait_ready(self.port, "/healthz")
        if self.password is None:
            for line in self.proc.stdout:
                if "password:" in line:
                    self.password = line.split()[-1]
                    break
        import base64
        token = base64.b64encode(f"admin:{self.password}".encode()).decode()
        self.auth = {"Authorization": f"Basic {token}"}


class DistributionS3(b.Server):
    def __init__(self, name, endpoint):
        super().__init__(name)
        self.endpoint = endpoint

    def start(self):
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write(f"""version: 0.1
log: {{level: error}}
storage:
  s3: {{accesskey: test, secretkey: test, region: us-east-1, regionendpoint: "{self.endpoint}",
        bucket: cairn-test, rootdirectory: /bench-distribution, secure: false, v4auth: true}}
  cache: {{blobdescriptor: inmemory}}
  delete: {{enabled: true}}
  redirect: {{disable: true}}
http:
  addr: {self.base}
""")
        # Its AWS SDK cannot use a custom CA bundle with its own transport.
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        self.proc = subprocess.Popen(["docker-registry", "serve", cfg], env=env,
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "w"))
        b.wait_ready(self.port, "/v2/")


def wrk_parallel(servers, path, seconds=b.DURATION):
    """Runs one wrk per server at once and sums req/s (the load balancer's view)."""
    out = []

    def run(s):
        out.append(b.wrk(s, path, seconds)[0])

    threads = [threading.Thread(target=run, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(out)


def main():
    pg_dir, moto_dir = os.path.join(b.WORK, "pg"), os.path.join(b.WORK, "moto")
    os.chmod(b.WORK, 0o755)  # the database runs as the postgres user and must reach pg_dir
    pg_url = script("start-postgres.sh", pg_dir)
    endpoint = script("start-moto.sh", moto_dir)
    try:
        subprocess.run(["psql", "-q", pg_url, "-c", "CREATE DATABASE bench"], check=True)
        env = {
            "CAIRN_DATABASE_URL": pg_url.rsplit("/", 1)[0] + "/bench",
            "CAIRN_STORAGE__BACKEND": "s3", "CAIRN_STORAGE__S3__BUCKET": "cairn-test",
            "CAIRN_STORAGE__S3__PREFIX": "bench-cairn", "CAIRN_STORAGE__S3__ENDPOINT": endpoint,
            "CAIRN_STORAGE__S3__PATH_STYLE": "true", "CAIRN_STORAGE__S3__REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        }
        blob_mib = b.scaled(64, 1)
        blob, digest = b.make_file("blob-s3", blob_mib * MiB)
        results = {}
        cairn = CairnS3("cairn", env)
        dist = DistributionS3("distribution", endpoint)
        for s in (cairn, dist):
            s.start()
            r = results[s.name] = {}
            r["push"] = blob_mib / b.best(lambda: b.push_monolithic(s, "bench/s3", blob, digest), runs=2)
            r["pull"] = b.wrk_transfer_mbps(s, f"/v2/bench/s3/blobs/{digest}", 1, 1)
            b.push_manifest(s, "bench/manifest")
            b.wrk(s, "/v2/bench/manifest/manifests/v1", 1)  # warm up
            r["rps"], r["p99"] = b.wrk(s, "/v2/bench/manifest/manifests/v1")
            if s is dist:
                s.stop()
        # A second cairn replica on the same database and bucket.
        second = CairnS3("cairn-2", env, password=cairn.password)
        second.start()
        results["cairn"]["rps2"] = wrk_parallel([cairn, second], "/v2/bench/manifest/manifests/v1")
        cairn.stop()
        second.stop()
    finally:
        script("stop-postgres.sh", pg_dir)
        with open(os.path.join(moto_dir, "pid")) as f:
            subprocess.run(["kill", f.read().strip()])

    c, d = results["cairn"], results["distribution"]
    print("\n| measure (PostgreSQL + S3 on moto) | cairn | distribution 2.8 (s3 driver) | cairn advantage |")
    print("|---|---:|---:|---:|")
    for label, key, higher in [
        (f"blob push, monolithic {blob_mib} MiB (MiB/s)", "push", True),
        (f"blob pull {blob_mib} MiB, one stream (MiB/s, wrk -c1)", "pull", True),
        ("manifest GET, 1 replica (req/s, wrk -t2 -c32)", "rps", True),
        ("manifest GET p99, 1 replica (ms)", "p99", False),
    ]:
        ratio = c[key] / d[key] if higher else d[key] / c[key]
        print(f"| {label} | {c[key]:.1f} | {d[key]:.1f} | {ratio:.2f}x |")
    print(f"| manifest GET, 2 cairn replicas (req/s, one wrk each) | {c['rps2']:.1f} | | "
          f"{c['rps2'] / c['rps']:.2f}x of 1 replica |")


if __name__ == "__main__":
    main()
