#!/usr/bin/env python3
"""Graceful shutdown: a SIGTERM that arrives while an upload is streaming lets
that upload finish (201), then cairn exits with status 0, and the blob is
there after a restart.

Usage: shutdown.py CAIRN_BINARY OUTPUT_DIR
"""

import base64
import hashlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN, OUT = sys.argv[1], sys.argv[2]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(data, port, name):
    proc = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data],
                            stdout=subprocess.PIPE, stderr=open(os.path.join(OUT, name), "w"), text=True)
    for _ in range(200):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.05)
    raise SystemExit("FAIL: cairn did not start")


def main():
    data = os.path.join(tempfile.mkdtemp(prefix="cairn-shutdown."), "data")
    port = free_port()
    proc = start(data, port, "shutdown-1.log")
    password = next(line.split()[-1] for line in proc.stdout if "password:" in line)
    auth = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()

    parts = [os.urandom(256 * 1024) for _ in range(8)]
    body = b"".join(parts)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.putrequest("POST", f"/v2/drain/test/blobs/uploads/?digest={digest}")
    c.putheader("Authorization", auth)
    c.putheader("Content-Type", "application/octet-stream")
    c.putheader("Content-Length", str(len(body)))
    c.endheaders()
    for i, part in enumerate(parts):
        c.send(part)
        if i == 1:
            proc.send_signal(signal.SIGTERM)  # mid-upload
        time.sleep(0.15)
    status = c.getresponse().status
    if status != 201:
        raise SystemExit(f"FAIL: the in-flight upload got {status} after SIGTERM, not 201")
    rc = proc.wait(timeout=30)
    if rc != 0:
        raise SystemExit(f"FAIL: cairn exited with {rc} after SIGTERM")

    proc = start(data, port, "shutdown-2.log")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", f"/v2/drain/test/blobs/{digest}")
    r = c.getresponse()
    got = r.read()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    if r.status != 200 or got != body:
        raise SystemExit(f"FAIL: the drained upload is not readable after restart ({r.status})")
    print("ok - SIGTERM during an upload: the upload completed (201), cairn exited 0, the blob survived a restart")


if __name__ == "__main__":
    main()
