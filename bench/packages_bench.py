#!/usr/bin/env python3
"""cairn vs Verdaccio (npm) and vs pypiserver (PyPI), side by side in one run
(see bench/packages.sh).

npm: the same package with 9 versions (1 MiB of incompressible data in each
tarball) is published to both; wrk measures abbreviated-packument GET req/s
(what `npm install` asks for), full-packument GET req/s and tarball GET MiB/s.
PyPI: the same 9 wheels are uploaded to cairn and dropped into pypiserver's
directory; wrk measures simple-page GET req/s (HTML, and PEP 691 JSON where
the peer offers it) and wheel download MiB/s. Each figure is printed for both
servers with the ratio cairn/peer.
"""

import hashlib
import os
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (DURATION, free_port, npm_doc, npm_tarball, request, row, scaled, stop, wheel,  # noqa: E402
                      start_cairn as start_cairn_in, start_verdaccio as start_verdaccio_in, wait_ready, wrk)

CAIRN, VERDACCIO, PYPI_SERVER = sys.argv[1:4]
WORK = tempfile.mkdtemp(prefix="cairn-pkg-bench.", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
VERSIONS = [f"1.0.{i}" for i in range(9)]
MiB = 1024 * 1024
FILE = f"{scaled(MiB) // 1024:,} KiB"  # the incompressible payload of each tarball and wheel










def multipart(fields, filename, content):
    boundary = uuid.uuid4().hex
    out = b""
    for k, v in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    out += (f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", out




def start_cairn():
    return start_cairn_in(CAIRN, WORK)


def start_verdaccio():
    return start_verdaccio_in(VERDACCIO, WORK)


def start_pypiserver(pkgdir):
    port = free_port()
    proc = subprocess.Popen([PYPI_SERVER, "run", "-i", "127.0.0.1", "-p", str(port), "-a", ".", "-P", ".", pkgdir],
                            stdout=open(os.path.join(WORK, "pypiserver.log"), "w"), stderr=subprocess.STDOUT)
    wait_ready(port, "/simple/")
    return proc, port




def main():
    procs = []
    try:
        cairn, cport, cauth = start_cairn()
        procs.append(cairn)
        verd, vport, vauth = start_verdaccio()
        procs.append(verd)
        for v in VERSIONS:
            tgz = npm_tarball("bench-pkg", v)
            for port, path, auth in [(cport, "/npm/main/bench-pkg", cauth), (vport, "/bench-pkg", vauth)]:
                request(port, "PUT", path, npm_doc("bench-pkg", v, tgz),
                        {"Content-Type": "application/json", "Authorization": auth})
        print(f"npm: cairn vs Verdaccio, {len(VERSIONS)} versions, {FILE} tarballs, wrk -t2 -c32 -d{DURATION}s\n")
        print("| measure | cairn | Verdaccio | ratio |\n|---|---|---|---|")
        abbrev = ["Accept: application/vnd.npm.install-v1+json"]
        c = wrk(f"http://127.0.0.1:{cport}/npm/main/bench-pkg", abbrev)
        p = wrk(f"http://127.0.0.1:{vport}/bench-pkg", abbrev)
        row("packument GET, abbreviated", c[0], p[0], "req/s")
        c = wrk(f"http://127.0.0.1:{cport}/npm/main/bench-pkg")
        p = wrk(f"http://127.0.0.1:{vport}/bench-pkg")
        row("packument GET, full", c[0], p[0], "req/s")
        c = wrk(f"http://127.0.0.1:{cport}/npm/main/bench-pkg/-/bench-pkg-1.0.0.tgz")
        p = wrk(f"http://127.0.0.1:{vport}/bench-pkg/-/bench-pkg-1.0.0.tgz")
        row(f"tarball GET ({FILE})", c[1], p[1], "MiB/s")
        verd.terminate()

        pkgdir = os.path.join(WORK, "pypiserver-packages")
        os.makedirs(pkgdir)
        for v in VERSIONS:
            fname, data = wheel("bench-pkg", v)
            with open(os.path.join(pkgdir, fname), "wb") as f:
                f.write(data)
            ct, body = multipart({":action": "file_upload", "name": "bench-pkg", "version": v,
                                  "sha256_digest": hashlib.sha256(data).hexdigest()}, fname, data)
            request(cport, "POST", "/pypi/main/", body, {"Content-Type": ct, "Authorization": cauth})
        pypi, pport = start_pypiserver(pkgdir)
        procs.append(pypi)
        print(f"\nPyPI: cairn vs pypiserver, {len(VERSIONS)} wheels of {FILE}, wrk -t2 -c32 -d{DURATION}s\n")
        print("| measure | cairn | pypiserver | ratio |\n|---|---|---|---|")
        c = wrk(f"http://127.0.0.1:{cport}/pypi/main/simple/bench-pkg/")
        p = wrk(f"http://127.0.0.1:{pport}/simple/bench-pkg/")
        row("simple page GET, HTML", c[0], p[0], "req/s")
        json_accept = ["Accept: application/vnd.pypi.simple.v1+json"]
        r, _ = request(pport, "GET", "/simple/bench-pkg/", headers={"Accept": json_accept[0].split(": ")[1]})
        peer_json = "json" in (r.getheader("Content-Type") or "")
        c = wrk(f"http://127.0.0.1:{cport}/pypi/main/simple/bench-pkg/", json_accept)
        if peer_json:
            p = wrk(f"http://127.0.0.1:{pport}/simple/bench-pkg/", json_accept)
            row("simple page GET, PEP 691 JSON", c[0], p[0], "req/s")
        else:
            print(f"| simple page GET, PEP 691 JSON | {c[0]:,.0f} req/s | (not offered) | |")
        fname, _ = wheel("bench-pkg", VERSIONS[0])
        c = wrk(f"http://127.0.0.1:{cport}/pypi/main/files/bench-pkg/{fname}")
        p = wrk(f"http://127.0.0.1:{pport}/packages/{fname}")
        row(f"wheel GET ({FILE})", c[1], p[1], "MiB/s")
    finally:
        stop(procs)


if __name__ == "__main__":
    main()
