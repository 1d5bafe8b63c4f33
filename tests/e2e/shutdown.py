#!/usr/bin/env python3
"""Graceful shutdown: a SIGTERM that arrives while an upload is streaming lets
that upload finish (201), then cairn exits with status 0, and the blob is
there after a restart.

Usage: shutdown.py CAIRN_BINARY OUTPUT_DIR
"""

import hashlib
import http.client
import os
import signal
import sys
import tempfile
import time

from cairnproc import Cairn

BIN, OUT = sys.argv[1], sys.argv[2]


def main():
    data = os.path.join(tempfile.mkdtemp(prefix="cairn-shutdown."), "data")
    server = Cairn(BIN, data).start(os.path.join(OUT, "shutdown-1.log"))
    port = server.port

    parts = [os.urandom(256 * 1024) for _ in range(8)]
    body = b"".join(parts)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.putrequest("POST", f"/v2/drain/test/blobs/uploads/?digest={digest}")
    c.putheader("Authorization", server.basic)
    c.putheader("Content-Type", "application/octet-stream")
    c.putheader("Content-Length", str(len(body)))
    c.endheaders()
    for i, part in enumerate(parts):
        c.send(part)
        if i == 1:
            server.proc.send_signal(signal.SIGTERM)  # mid-upload
        time.sleep(0.15)
    status = c.getresponse().status
    if status != 201:
        raise SystemExit(f"FAIL: the in-flight upload got {status} after SIGTERM, not 201")
    rc = server.proc.wait(timeout=30)
    if rc != 0:
        raise SystemExit(f"FAIL: cairn exited with {rc} after SIGTERM")

    server.start(os.path.join(OUT, "shutdown-2.log"))
    status, _, got = server.request("GET", f"/v2/drain/test/blobs/{digest}")
    server.terminate()
    if status != 200 or got != body:
        raise SystemExit(f"FAIL: the drained upload is not readable after restart ({status})")
    print("ok - SIGTERM during an upload: the upload completed (201), cairn exited 0, the blob survived a restart")


if __name__ == "__main__":
    main()
