"""Shared by the Python benchmark drivers: ports, readiness, plain HTTP
requests, wrk runs, starting cairn, and the result rows."""

import base64
import hashlib
import http.client
import io
import json
import os
import re
import socket
import subprocess
import tarfile
import time
import zipfile

DURATION = os.environ.get("BENCH_SECONDS", "10")
# BENCH_SMOKE=1: tiny sizes and counts, so that every benchmark runs (both
# servers started, every figure and ratio printed) inside the test suite in
# seconds. Its figures mean nothing; only that the benchmark still works.
SMOKE = os.environ.get("BENCH_SMOKE") == "1"
MiB = 1024 * 1024


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def scaled(n, smoke=None):
    """`n` (a size or a count), or in smoke mode `smoke` (default: n // 64, at least 1)."""
    if not SMOKE:
        return n
    return smoke if smoke is not None else max(1, n // 64)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_ready(port, path, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            if c.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"server on {port} did not start")


def request(port, method, path, body=None, headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path} on {port}: {r.status} {data[:300]!r}")
    return r, data


def wrk(url, headers=(), seconds=DURATION):
    """Requests/s and MiB/s of 32 connections for BENCH_SECONDS."""
    args = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency"]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run(args + [url], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]B)", out)
    per = {"KB": 1 / 1024, "MB": 1, "GB": 1024}[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} error responses from {url}")
    return rps, float(m.group(1)) * per


def start_cairn(cairn, work, *args):
    """A cairn on a free port with its data under WORK; returns (process,
    port, admin Basic authorization)."""
    port = free_port()
    proc = subprocess.Popen([cairn, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir",
                             os.path.join(work, "cairn"), *args],
                            stdout=subprocess.PIPE, stderr=open(os.path.join(work, "cairn.log"), "w"), text=True,
                            env={**os.environ, "CAIRN_LOG": "warn"})
    wait_ready(port, "/healthz")
    secret = next(line.split()[-1] for line in proc.stdout if "password:" in line)
    return proc, port, "Basic " + base64.b64encode(f"admin:{secret}".encode()).decode()


def row(what, cairn, peer, unit):
    print(f"| {what} | {cairn:,.0f} {unit} | {peer:,.0f} {unit} | {cairn / peer:.2f}x |", flush=True)


def row_time(what, cairn_s, peer_s):
    """A time row: the ratio is peer/cairn, so above 1 means cairn is faster."""
    print(f"| {what} | {cairn_s:.2f} s | {peer_s:.2f} s | {peer_s / cairn_s:.2f}x |", flush=True)


def npm_tarball(name, version):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as t:
        for path, data in {"package/package.json": json.dumps({"name": name, "version": version}).encode(),
                           "package/blob.bin": os.urandom(scaled(MiB))}.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def npm_doc(name, version, tgz):
    return json.dumps({
        "_id": name, "name": name, "dist-tags": {"latest": version},
        "versions": {version: {"name": name, "version": version, "description": "bench",
                               "dependencies": {"left-pad": "^1.0.0"},
                               "dist": {"shasum": hashlib.sha1(tgz).hexdigest(),
                                        "tarball": f"http://x/{name}/-/{name}-{version}.tgz"}}},
        "_attachments": {f"{name}-{version}.tgz": {"content_type": "application/octet-stream",
                                                    "data": base64.b64encode(tgz).decode(), "length": len(tgz)}},
    }).encode()


def wheel(name, version):
    mod = name.replace("-", "_")
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Python: >=3.8\n\n".encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{mod}/__init__.py", b"")
        z.writestr(f"{mod}/blob.bin", os.urandom(scaled(MiB)))
        z.writestr(f"{mod}-{version}.dist-info/METADATA", meta)
        z.writestr(f"{mod}-{version}.dist-info/WHEEL", b"Wheel-Version: 1.0\nTag: py3-none-any\n")
        z.writestr(f"{mod}-{version}.dist-info/RECORD", b"")
    return f"{mod}-{version}-py3-none-any.whl", buf.getvalue()


def start_verdaccio(verdaccio, work, log=None, uplink=None, name="verdaccio"):
    """Verdaccio 6 on a free port with its storage under `work` (its log
    there too, unless `log` names a file), and a user to publish as; returns
    (process, port, Bearer authorization). With `uplink` (a registry URL),
    packages it lacks come from there (Verdaccio's proxying)."""
    port = free_port()
    d = os.path.join(work, name)
    os.makedirs(d)
    uplinks = f"{{up: {{url: '{uplink}'}}}}" if uplink else "{}"
    proxy = ", proxy: up" if uplink else ""
    with open(os.path.join(d, "config.yaml"), "w") as f:
        f.write(f"""storage: {d}/storage
auth: {{htpasswd: {{file: {d}/htpasswd, max_users: 10}}}}
uplinks: {uplinks}
packages:
  '**': {{access: $all, publish: $authenticated, unpublish: $authenticated{proxy}}}
listen: 127.0.0.1:{port}
max_body_size: 100mb
log: {{type: stdout, format: pretty, level: error}}
""")
    proc = subprocess.Popen([verdaccio, "-c", os.path.join(d, "config.yaml")],
                            stdout=open(log or os.path.join(d, "log"), "w"), stderr=subprocess.STDOUT)
    wait_ready(port, "/-/ping")
    _, body = request(port, "PUT", "/-/user/org.couchdb.user:bench",
                      json.dumps({"name": "bench", "password": "bench-password-1"}).encode(),
                      {"Content-Type": "application/json"})
    return proc, port, "Bearer " + json.loads(body)["token"]


def stop(procs):
    """Stops the servers a benchmark started (SIGTERM, then SIGKILL after 20 s)."""
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
