#!/usr/bin/env python3
"""cairn vs nginx serving the same files, for Go modules and Maven
(see bench/go-maven.sh). nginx is the static file server the issue names:
it holds exactly the GOPROXY files and the Maven layout cairn serves
(copied from cairn over HTTP), so the clients see the same bytes.

Go: 20 modules (each ~256 KiB of source, each requiring the one before)
are uploaded to cairn; `go mod download all` of a module requiring all 20 runs
with an empty module cache against each server, alternating, and wrk
measures `.zip` and `@v/list` GETs.
Maven: 50 artifacts (jar + pom) are deployed to cairn; `mvn
dependency:resolve` of a project depending on all 50 runs against each
(plugins from the shared local repository, the 50 removed before each run),
and wrk measures jar and maven-metadata.xml GETs.
Deploy cost: 1,000 versions of one artifact are deployed the way mvn does
(GET metadata, PUT jar, .sha1, pom, .sha1, metadata, .sha1), timing the
10th and the 1,000th (mean of the 5 around each).
"""

import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, request, row, row_time, scaled, start_cairn, wait_ready, wrk  # noqa: E402

CAIRN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="cairn-gomvn-bench.", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
RUNS = int(os.environ.get("BENCH_RUNS", scaled(5, 1)))
M2 = os.environ.get("M2_REPO", os.path.expanduser("~/.m2/repository"))
MODULES = scaled(20, 4)
ARTIFACTS = scaled(50, 3)
DEPLOYS = scaled(1000, 20)


def start_nginx(root):
    port = free_port()
    conf = os.path.join(WORK, "nginx.conf")
    user = "user root;" if os.geteuid() == 0 else ""
    with open(conf, "w") as f:
        f.write(f"""{user}
worker_processes 2; daemon off; pid {WORK}/nginx.pid; error_log {WORK}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path {WORK}/nginx-body; proxy_temp_path {WORK}/nginx-proxy;
  fastcgi_temp_path {WORK}/nginx-fcgi; uwsgi_temp_path {WORK}/nginx-uwsgi; scgi_temp_path {WORK}/nginx-scgi;
  types {{ application/zip zip; application/json info; text/plain mod list; application/xml xml pom; application/java-archive jar; }}
  default_type application/octet-stream;
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
""")
    proc = subprocess.Popen(["nginx", "-c", conf], stderr=subprocess.DEVNULL)
    wait_ready(port, "/")
    return proc, port


def mirror(port, prefix, paths, root):
    """Copies cairn's answers for PATHS (below PREFIX) into ROOT."""
    for p in paths:
        _, data = request(port, "GET", prefix + p)
        dest = os.path.join(root, p.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as f:
            f.write(data)


def go_modules(port, auth):
    """Uploads the module graph; returns the GOPROXY paths of every file."""
    rng = random.Random(7)
    paths = []
    for i in range(MODULES):
        mod, ver = f"example.com/bench/m{i:02d}", "v1.0.0"
        req = f"\nrequire example.com/bench/m{i - 1:02d} v1.0.0\n" if i else ""
        source = "package m\n\nvar Data = []string{\n" + "".join(
            f'\t"{rng.getrandbits(256):064x}",\n' for _ in range(3500)) + "}\n"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(f"{mod}@{ver}/go.mod", f"module {mod}\n\ngo 1.21\n{req}")
            z.writestr(f"{mod}@{ver}/m.go", source)
        request(port, "PUT", f"/go/bench/{mod}/@v/{ver}.zip", buf.getvalue(), {"Authorization": auth})
        paths += [f"/{mod}/@v/list", f"/{mod}/@v/{ver}.info", f"/{mod}/@v/{ver}.mod", f"/{mod}/@v/{ver}.zip"]
    return paths


def go_download(goproxy):
    app = os.path.join(WORK, "goapp")
    shutil.rmtree(app, ignore_errors=True)
    os.makedirs(app)
    with open(os.path.join(app, "go.mod"), "w") as f:
        f.write("module example.com/app\n\ngo 1.21\n\nrequire (\n" + "".join(
            f"\texample.com/bench/m{i:02d} v1.0.0\n" for i in range(MODULES)) + ")\n")
    cache = os.path.join(WORK, "gomodcache")
    if os.path.exists(cache):
        subprocess.run(["chmod", "-R", "u+w", cache], check=True)
        shutil.rmtree(cache)
    env = {**os.environ, "GOPROXY": goproxy, "GONOSUMDB": "example.com", "GOFLAGS": "-mod=mod",
           "GOMODCACHE": cache, "GOTOOLCHAIN": "local", "GOSUMDB": "off"}
    start = time.perf_counter()
    subprocess.run(["go", "mod", "download", "all"], cwd=app, env=env, check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    have = [d for d in os.listdir(os.path.join(cache, "example.com", "bench")) if "@" in d]
    if len(have) != MODULES:
        raise SystemExit(f"go mod download fetched {len(have)} modules, not {MODULES}")
    return elapsed


def jar_bytes(seed, size=64 * 1024):
    rng = random.Random(seed)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        z.writestr("data.bin", rng.randbytes(size))
    return buf.getvalue()


def pom(artifact, version):
    return (f'<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
            f"<groupId>dev.cairn.bench</groupId><artifactId>{artifact}</artifactId><version>{version}</version>"
            f"</project>").encode()


def mvn_deploy_like(port, auth, conn, artifact, version, jar):
    """What mvn deploy sends for one version (maven-deploy-plugin 3)."""
    import hashlib
    base = f"/maven/bench/dev/cairn/bench/{artifact}"
    h = {"Authorization": auth}
    try:
        request(port, "GET", f"{base}/maven-metadata.xml", headers=h, conn=conn)
    except SystemExit:
        pass  # the first version: no metadata yet
    for name, body in ((f"{artifact}-{version}.jar", jar), (f"{artifact}-{version}.pom", pom(artifact, version))):
        request(port, "PUT", f"{base}/{version}/{name}", body, h, conn=conn)
        request(port, "PUT", f"{base}/{version}/{name}.sha1", hashlib.sha1(body).hexdigest().encode(), h, conn=conn)
    meta = f"<metadata><groupId>dev.cairn.bench</groupId><artifactId>{artifact}</artifactId></metadata>".encode()
    request(port, "PUT", f"{base}/maven-metadata.xml", meta, h, conn=conn)
    request(port, "PUT", f"{base}/maven-metadata.xml.sha1", hashlib.sha1(meta).hexdigest().encode(), h, conn=conn)


def mvn_resolve(url):
    proj = os.path.join(WORK, "mvnapp")
    shutil.rmtree(proj, ignore_errors=True)
    os.makedirs(proj)
    deps = "".join(f"<dependency><groupId>dev.cairn.bench</groupId><artifactId>a{i:02d}</artifactId>"
                   f"<version>1.0</version></dependency>" for i in range(ARTIFACTS))
    with open(os.path.join(proj, "pom.xml"), "w") as f:
        f.write(f"""<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>dev.cairn.bench</groupId><artifactId>app</artifactId><version>1</version>
<repositories><repository><id>under-test</id><url>{url}</url></repository></repositories>
<dependencies>{deps}</dependencies>
<build><plugins><plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version></plugin></plugins></build>
</project>""")
    shutil.rmtree(os.path.join(M2, "dev", "cairn", "bench"), ignore_errors=True)
    start = time.perf_counter()
    out = subprocess.run(["mvn", "-B", "-q", f"-Dmaven.repo.local={M2}", "dependency:resolve"], cwd=proj,
                         capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"mvn dependency:resolve against {url} failed:\n{out.stdout[-2000:]}")
    got = len(os.listdir(os.path.join(M2, "dev", "cairn", "bench")))
    if got < ARTIFACTS:
        raise SystemExit(f"mvn resolved {got} artifacts, not {ARTIFACTS}")
    return elapsed


def alternate(fn_cairn, fn_peer):
    """RUNS timings of each, alternating (after one warm-up of each); medians."""
    fn_cairn(), fn_peer()
    a, b = [], []
    for _ in range(RUNS):
        a.append(fn_cairn())
        b.append(fn_peer())
    return statistics.median(a), statistics.median(b)


def main():
    procs = []
    try:
        cairn, port, auth = start_cairn(CAIRN, WORK)
        procs.append(cairn)
        static = os.path.join(WORK, "static")
        go_paths = go_modules(port, auth)
        mirror(port, "/go/bench", go_paths, os.path.join(static, "go"))
        conn = __import__("http.client").client.HTTPConnection("127.0.0.1", port, timeout=60)
        mvn_paths = []
        for i in range(ARTIFACTS):
            a = f"a{i:02d}"
            mvn_deploy_like(port, auth, conn, a, "1.0", jar_bytes(i))
            base = f"/dev/cairn/bench/{a}"
            mvn_paths += [f"{base}/maven-metadata.xml", f"{base}/maven-metadata.xml.sha1"]
            for name in (f"{a}-1.0.jar", f"{a}-1.0.pom"):
                mvn_paths += [f"{base}/1.0/{name}", f"{base}/1.0/{name}.sha1"]
        mirror(port, "/maven/bench", mvn_paths, os.path.join(static, "maven"))
        nginx, nport = start_nginx(static)
        procs.append(nginx)

        print(f"Go: {MODULES} modules, Maven: {ARTIFACTS} artifacts; medians of {RUNS} alternating runs, "
              f"wrk -t2 -c32 for {os.environ.get('BENCH_SECONDS', '10')} s\n")
        print("| measure | cairn | nginx (static files) | ratio (>1: cairn better) |\n|---|---|---|---|")
        c, n = alternate(lambda: go_download(f"http://127.0.0.1:{port}/go/bench"),
                         lambda: go_download(f"http://127.0.0.1:{nport}/go"))
        row_time(f"go mod download, {MODULES}-module graph, empty cache", c, n)
        zip_path = go_paths[3]
        row("GOPROXY .zip GET (~256 KiB)", wrk(f"http://127.0.0.1:{port}/go/bench{zip_path}")[0],
            wrk(f"http://127.0.0.1:{nport}/go{zip_path}")[0], "req/s")
        row("GOPROXY @v/list GET", wrk(f"http://127.0.0.1:{port}/go/bench{go_paths[0]}")[0],
            wrk(f"http://127.0.0.1:{nport}/go{go_paths[0]}")[0], "req/s")
        c, n = alternate(lambda: mvn_resolve(f"http://127.0.0.1:{port}/maven/bench"),
                         lambda: mvn_resolve(f"http://127.0.0.1:{nport}/maven"))
        row_time(f"mvn dependency:resolve, {ARTIFACTS} artifacts", c, n)
        jar = "/dev/cairn/bench/a00/1.0/a00-1.0.jar"
        row("Maven jar GET (64 KiB)", wrk(f"http://127.0.0.1:{port}/maven/bench{jar}")[0],
            wrk(f"http://127.0.0.1:{nport}/maven{jar}")[0], "req/s")
        meta = "/dev/cairn/bench/a00/maven-metadata.xml"
        row("maven-metadata.xml GET", wrk(f"http://127.0.0.1:{port}/maven/bench{meta}")[0],
            wrk(f"http://127.0.0.1:{nport}/maven{meta}")[0], "req/s")

        jar = jar_bytes(1000, 16 * 1024)
        times = []
        for v in range(1, DEPLOYS + 1):
            start = time.perf_counter()
            mvn_deploy_like(port, auth, conn, "many", f"1.0.{v}", jar)
            times.append(time.perf_counter() - start)
        tenth = statistics.mean(times[7:12]) * 1000
        last = statistics.mean(times[-5:]) * 1000
        print(f"\nDeploying one version the way mvn does (7 requests): the 10th took {tenth:.1f} ms, "
              f"the {DEPLOYS:,}th {last:.1f} ms (ratio {last / tenth:.2f}).")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
