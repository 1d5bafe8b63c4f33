#!/usr/bin/env python3
"""`removed_upstream` for Go and Maven proxy repositories.

The upstream is a static file tree on loopback, as a GOPROXY directory or a
Maven repository on a plain web server is: a Go module version and a Maven
release are fetched through cairn (the go command for the module), then
taken down upstream — the files deleted, the version dropped from the
listing. With `removed_upstream = "purge"` (Go) or `"hide"` (Maven) cairn
refuses the cached files (404); with `keep`, the default, it still serves
them. While the upstream cannot be asked at all, nothing counts as removed:
the cached files are served under every rule.

Usage: proxy_removed.py CAIRN_BINARY OUTPUT_DIR
"""

import functools
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile

from cairnproc import Cairn, free_port

BIN, OUT = sys.argv[1], sys.argv[2]
WORK = os.path.join(OUT, "proxy-removed-work")
STATIC = os.path.join(WORK, "static")
MODULE, VERSION = "example.com/gone", "v1.0.0"
GROUP_DIR, ARTIFACT = "org/acme", "gone"


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")
    print(f"ok - {message}")


def write(rel, data):
    path = os.path.join(STATIC, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def module_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{MODULE}@{VERSION}/go.mod", f"module {MODULE}\n\ngo 1.21\n")
        z.writestr(f"{MODULE}@{VERSION}/lib.go", "package gone\n\nconst V = 1\n")
    return buf.getvalue()


def publish():
    base = f"{MODULE}/@v"
    write(f"{base}/list", f"{VERSION}\n".encode())
    write(f"{base}/{VERSION}.info", json.dumps({"Version": VERSION, "Time": "2026-01-01T00:00:00Z"}).encode())
    write(f"{base}/{VERSION}.mod", f"module {MODULE}\n\ngo 1.21\n".encode())
    write(f"{base}/{VERSION}.zip", module_zip())
    jar = b"PK\x03\x04 a jar that will be taken down"
    write(f"{GROUP_DIR}/{ARTIFACT}/maven-metadata.xml",
          f"<metadata><groupId>org.acme</groupId><artifactId>{ARTIFACT}</artifactId><versioning>"
          f"<versions><version>1.0</version></versions></versioning></metadata>".encode())
    write(f"{GROUP_DIR}/{ARTIFACT}/1.0/{ARTIFACT}-1.0.jar", jar)
    write(f"{GROUP_DIR}/{ARTIFACT}/1.0/{ARTIFACT}-1.0.jar.sha1", hashlib.sha1(jar).hexdigest().encode())


def take_down():
    shutil.rmtree(os.path.join(STATIC, MODULE, "@v"))
    write(f"{MODULE}/@v/list", b"")
    shutil.rmtree(os.path.join(STATIC, GROUP_DIR, ARTIFACT, "1.0"))
    write(f"{GROUP_DIR}/{ARTIFACT}/maven-metadata.xml",
          f"<metadata><groupId>org.acme</groupId><artifactId>{ARTIFACT}</artifactId><versioning>"
          f"<versions></versions></versioning></metadata>".encode())


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(port):
    handler = functools.partial(Quiet, directory=STATIC)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    os.makedirs(STATIC, exist_ok=True)
    publish()
    port = free_port()
    upstream = serve(port)
    base = f"http://127.0.0.1:{port}/"
    fresh = "revalidate_after_secs = 0, revalidate_wait_ms = 30000"
    proxies = (f'[{{format = "go", name = "gokeep", upstream = "{base}", {fresh}}}, '
               f'{{format = "go", name = "gopurge", upstream = "{base}", {fresh}, removed_upstream = "purge"}}, '
               f'{{format = "maven", name = "mvnkeep", upstream = "{base}", {fresh}}}, '
               f'{{format = "maven", name = "mvnhide", upstream = "{base}", {fresh}, removed_upstream = "hide"}}]')
    cairn = Cairn(BIN, os.path.join(OUT, "proxy-removed-data"), env={"CAIRN_PROXY": proxies}).start(
        os.path.join(OUT, "proxy-removed-cairn.log"))
    go_files = [f"/go/{{}}/{MODULE}/@v/{VERSION}.{ext}" for ext in ("info", "mod", "zip")]
    jar = f"/maven/{{}}/{GROUP_DIR}/{ARTIFACT}/1.0/{ARTIFACT}-1.0.jar"

    def status(path):
        return cairn.request("GET", path)[0]

    for repo in ("gokeep", "gopurge"):
        env = {**os.environ, "GOPROXY": f"http://127.0.0.1:{cairn.port}/go/{repo}", "GONOSUMDB": "example.com",
               "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "GOMODCACHE": os.path.join(WORK, f"modcache-{repo}"),
               "GOPATH": os.path.join(WORK, f"gopath-{repo}")}
        r = subprocess.run(["go", "mod", "download", "-json", f"{MODULE}@{VERSION}"], capture_output=True,
                           text=True, env=env, cwd=WORK)
        expect(r.returncode == 0 and '"Sum": "h1:' in r.stdout,
               f"go mod download {MODULE}@{VERSION} through {repo} {r.stderr[-200:]}")
    for repo in ("mvnkeep", "mvnhide"):
        expect(status(jar.format(repo)) == 200, f"the Maven release is fetched through {repo}")

    # The upstream cannot be asked: nothing counts as removed.
    upstream.shutdown()
    upstream.server_close()
    expect(all(status(f.format("gopurge")) == 200 for f in go_files)
           and status(jar.format("mvnhide")) == 200,
           "with the upstream down, purge and hide still serve the cached files")

    # Taken down upstream.
    take_down()
    upstream = serve(port)
    expect([status(f.format("gopurge")) for f in go_files] == [404, 404, 404],
           "the module version taken down upstream: removed_upstream = purge refuses its .info, .mod and .zip")
    expect(all(status(f.format("gokeep")) == 200 for f in go_files),
           "removed_upstream = keep (the default) still serves them")
    expect(status(jar.format("mvnhide")) == 404,
           "the Maven release taken down upstream: removed_upstream = hide refuses it")
    expect(status(jar.format("mvnkeep")) == 200, "keep still serves it")
    st, _, body = cairn.request("GET", "/api/v1/proxies/go/gopurge/cache", auth=cairn.basic)
    expect(st == 200 and f"{VERSION}.zip" not in body.decode() and "zip/" not in body.decode(),
           "purge dropped the module's files from the cache")
    upstream.shutdown()
    cairn.terminate()
    print("proxy removed_upstream: all checks passed")


if __name__ == "__main__":
    main()
