#!/usr/bin/env python3
"""Refusals that a load balancer survives: two cairn replicas (PostgreSQL +
S3 from CAIRN_* in the environment) behind a real nginx configured as
registries run it (proxy_request_buffering off, so bodies stream, and the
default max_fails=1, so one failed request takes a replica out for 10 s).

Requests that cairn refuses before reading their whole body -- an oversized
manifest, a large anonymous blob upload, an oversized npm publish and PyPI
upload, a bad digest, a malformed manifest -- must reach the client as
cairn's own 4xx in the protocol's error format; nginx must log no broken
pipe or reset, and no request in between may get a 5xx.

Usage: nginx.py CAIRN_BINARY OUTPUT_DIR
"""

import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

from cairnproc import Cairn, free_port

BIN, OUT = sys.argv[1], sys.argv[2]
MiB = 1024 * 1024
ROUNDS = 6


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")


def start_nginx(upstreams):
    root = os.path.join(OUT, "nginx")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "tmp"))
    port = free_port()
    servers = "\n".join(f"    server 127.0.0.1:{p};" for p in upstreams)
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = f"""{user}daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 256; }}
http {{
  access_log {root}/access.log;
  client_body_temp_path {root}/tmp/body;
  proxy_temp_path {root}/tmp/proxy;
  fastcgi_temp_path {root}/tmp/fastcgi;
  uwsgi_temp_path {root}/tmp/uwsgi;
  scgi_temp_path {root}/tmp/scgi;
  upstream cairn {{
{servers}
  }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    location / {{ proxy_pass http://cairn; }}
  }}
}}
"""
    with open(os.path.join(root, "nginx.conf"), "w") as f:
        f.write(conf)
    proc = subprocess.Popen(["nginx", "-c", os.path.join(root, "nginx.conf"), "-p", root],
                            stderr=open(os.path.join(root, "stderr.log"), "w"))
    deadline = time.time() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            expect(time.time() < deadline and proc.poll() is None, "nginx did not start (see nginx/)")
            time.sleep(0.05)
    return proc, port, os.path.join(root, "error.log")


def send(port, method, path, body=b"", headers=None):
    """Sends a request whose body goes out from another thread while the
    answer is read (as a client streaming an upload does); returns (status,
    body). A send cut off by an early answer is not an error here: the
    answer is what is checked."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}",
            "Connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())

    def write():
        try:
            view = memoryview(body)
            while view:
                n = sock.send(view[:256 * 1024])
                view = view[n:]
        except OSError:
            pass

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    resp = http.client.HTTPResponse(sock, method=method)
    resp.begin()
    data = resp.read()
    sock.close()
    writer.join(timeout=30)
    return resp.status, data


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def main():
    os.makedirs(OUT, exist_ok=True)
    env = {"CAIRN_OCI__MAX_MANIFEST_BYTES": str(1 * MiB), "CAIRN_PACKAGES__MAX_UPLOAD_BYTES": str(2 * MiB),
           "CAIRN_AUTH__ANONYMOUS_READ": "true"}
    a = Cairn(BIN, os.path.join(OUT, "nginx-a-data"), env=env).start(os.path.join(OUT, "nginx-a.log"))
    b = Cairn(BIN, os.path.join(OUT, "nginx-b-data"), password=a.password, env=env).start(
        os.path.join(OUT, "nginx-b.log"))
    nginx, port, error_log = start_nginx([a.port, b.port])
    basic = {"Authorization": a.basic}
    try:
        layer = os.urandom(MiB)
        st, body = send(port, "POST", f"/v2/lb/app/blobs/uploads/?digest={sha(layer)}", layer, basic)
        expect(st == 201, f"a blob pushed through nginx: {st} {body[:200]!r}")

        big_manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                   "config": {"mediaType": "x", "digest": sha(b""), "size": 0},
                                   "layers": [], "annotations": {"pad": "x" * (5 * MiB)}}).encode()
        oci_manifest = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        anon_blob = os.urandom(24 * MiB)
        npm_doc = json.dumps({"name": "lb-pkg", "versions": {}, "_attachments": {
            "lb-pkg-1.0.0.tgz": {"data": base64.b64encode(os.urandom(4 * MiB)).decode()}}}).encode()
        boundary = "cairnboundary"
        wheel = os.urandom(4 * MiB)
        pypi_form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\":action\"\r\n\r\nfile_upload\r\n"
                     f"--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; "
                     f"filename=\"lb_pkg-1.0.0-py3-none-any.whl\"\r\n\r\n").encode() + wheel + \
            f"\r\n--{boundary}--\r\n".encode()
        cases = [
            ("an oversized manifest", "PUT", "/v2/lb/app/manifests/big", big_manifest, {**basic, **oci_manifest},
             413, lambda d: json.loads(d)["errors"][0]["code"] == "SIZE_INVALID"),
            ("a large anonymous blob upload", "POST", f"/v2/lb/app/blobs/uploads/?digest={sha(anon_blob)}",
             anon_blob, {}, 401, lambda d: json.loads(d)["errors"][0]["code"] == "UNAUTHORIZED"),
            ("a blob whose digest does not match", "POST", f"/v2/lb/app/blobs/uploads/?digest={sha(b'other')}",
             os.urandom(3 * MiB), basic, 400, lambda d: json.loads(d)["errors"][0]["code"] == "DIGEST_INVALID"),
            ("a malformed manifest", "PUT", "/v2/lb/app/manifests/bad", b"{not json" + b" " * (MiB // 2),
             {**basic, **oci_manifest}, 400, lambda d: json.loads(d)["errors"][0]["code"] == "MANIFEST_INVALID"),
            ("an oversized npm publish", "PUT", "/npm/main/lb-pkg", npm_doc,
             {**basic, "Content-Type": "application/json"}, 413, lambda d: "error" in json.loads(d)),
            ("an oversized PyPI upload", "POST", "/pypi/main/", pypi_form,
             {**basic, "Content-Type": f"multipart/form-data; boundary={boundary}"}, 413,
             lambda d: b"larger than the limit" in d),
        ]
        statuses = []
        for round_ in range(ROUNDS):
            for name, method, path, body, headers, want, shape in cases:
                st, data = send(port, method, path, body, headers)
                expect(st == want, f"{name} (round {round_ + 1}): {st}, wanted cairn's {want}: {data[:300]!r}")
                expect(shape(data), f"{name}: not cairn's error format: {data[:300]!r}")
                # Ordinary requests in between, through whichever replica nginx picks.
                for _ in range(2):
                    st2, data2 = send(port, "GET", f"/v2/lb/app/blobs/{sha(layer)}")
                    statuses.append(st2)
                    expect(st2 == 200 and data2 == layer, f"a blob GET after {name}: {st2}")
        print(f"ok - {len(cases)} kinds of refused request x {ROUNDS} rounds got cairn's own 4xx through nginx; "
              f"{len(statuses)} requests in between all answered 200")
        with open(error_log) as f:
            errors = [line for line in f if any(s in line for s in (
                "Broken pipe", "reset by peer", "prematurely closed", "no live upstreams", "upstream server temporarily"))]
        expect(not errors, "nginx logged upstream failures:\n" + "".join(errors[:10]))
        print("ok - nginx logged no broken pipe, reset or failed upstream")
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        for r in (a, b):
            r.terminate()


if __name__ == "__main__":
    main()
