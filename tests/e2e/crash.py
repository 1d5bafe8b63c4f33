#!/usr/bin/env python3
"""Crash test: push blobs and manifests concurrently, SIGKILL `cairn serve` at
random moments, restart it on the same data directory, and prove that

  * every acknowledged write (201) reads back with its digest, and
  * nothing partial is visible: any blob or manifest that can be read at all
    reads back whole and matching its digest.

Usage: crash.py CAIRN_BINARY OUTPUT_DIR [rounds]
"""

import base64
import hashlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN, OUT = sys.argv[1], sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 6
WORKERS = 6
REPO = "crash/test"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, data):
        self.data = data
        self.port = free_port()
        self.proc = None
        self.password = None

    def start(self, round_no):
        log = open(os.path.join(OUT, f"crash-server-{round_no}.log"), "w")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data],
            stdout=subprocess.PIPE, stderr=log, text=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise SystemExit("FAIL: cairn did not become ready")
        if self.password is None:
            for line in self.proc.stdout:
                if "password:" in line:
                    self.password = line.split()[-1]
                    break
        threading.Thread(target=lambda: self.proc.stdout.read(), daemon=True).start()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def request(server, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    h = dict(headers or {})
    auth = base64.b64encode(f"admin:{server.password}".encode()).decode()
    h["Authorization"] = f"Basic {auth}"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    return r.status, dict(r.getheaders()), data


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


acked_blobs = {}      # digest -> size
acked_manifests = {}  # tag -> digest
attempted = set()     # every digest a worker tried to write
lock = threading.Lock()


def push_blob(server, data, chunked):
    d = sha(data)
    with lock:
        attempted.add(d)
    if not chunked:
        st, _, _ = request(server, "POST", f"/v2/{REPO}/blobs/uploads/?digest={d}", data,
                           {"Content-Type": "application/octet-stream"})
    else:
        st, h, _ = request(server, "POST", f"/v2/{REPO}/blobs/uploads/")
        if st != 202:
            return None
        loc = h["location"]
        half = len(data) // 2
        st, h, _ = request(server, "PATCH", loc, data[:half],
                           {"Content-Range": f"0-{half - 1}", "Content-Type": "application/octet-stream"})
        if st != 202:
            return None
        st, _, _ = request(server, "PUT", f"{loc}?digest={d}", data[half:],
                           {"Content-Type": "application/octet-stream"})
    if st == 201:
        with lock:
            acked_blobs[d] = len(data)
        return d
    return None


def worker(server, stop, wid, round_no):
    rnd = random.Random(wid * 7919 + int(time.time()))
    n = 0
    while not stop.is_set():
        try:
            layer = os.urandom(rnd.randint(1, 3 * 1024 * 1024))
            config = json.dumps({"worker": wid, "n": n, "nonce": rnd.random()}).encode()
            ld = push_blob(server, layer, chunked=rnd.random() < 0.5)
            cd = push_blob(server, config, chunked=False)
            if not ld or not cd:
                continue
            manifest = json.dumps({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}],
            }).encode()
            md = sha(manifest)
            tag = f"r{round_no}-w{wid}-{n}"
            with lock:
                attempted.add(md)
            st, _, _ = request(server, "PUT", f"/v2/{REPO}/manifests/{tag}", manifest,
                               {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
            if st == 201:
                with lock:
                    acked_manifests[tag] = md
            n += 1
        except (OSError, http.client.HTTPException):
            time.sleep(0.01)  # the server is down; keep trying until told to stop


def verify(server):
    problems = []
    for d, size in list(acked_blobs.items()):
        st, h, body = request(server, "GET", f"/v2/{REPO}/blobs/{d}")
        if st != 200 or len(body) != size or sha(body) != d:
            problems.append(f"acknowledged blob {d} reads back as status {st}, {len(body)} bytes")
    for tag, d in list(acked_manifests.items()):
        st, h, body = request(server, "GET", f"/v2/{REPO}/manifests/{tag}")
        if st != 200 or sha(body) != d:
            problems.append(f"acknowledged tag {tag} reads back as status {st}, digest {sha(body)}")
        st, h, body = request(server, "GET", f"/v2/{REPO}/manifests/{d}")
        if st != 200 or sha(body) != d:
            problems.append(f"acknowledged manifest {d} reads back as status {st}")
    # Nothing partial: whatever is visible is whole.
    for d in list(attempted):
        for kind in ("blobs", "manifests"):
            st, h, body = request(server, "GET", f"/v2/{REPO}/{kind}/{d}")
            if st == 200 and sha(body) != d:
                problems.append(f"{kind} {d} is visible with wrong content ({len(body)} bytes)")
            elif st not in (200, 404):
                problems.append(f"{kind} {d} answered {st}")
    return problems


def main():
    os.makedirs(OUT, exist_ok=True)
    data = tempfile.mkdtemp(prefix="cairn-crash.")
    server = Server(os.path.join(data, "data"))
    kills = 0
    for round_no in range(ROUNDS):
        server.start(round_no)
        if round_no:
            problems = verify(server)
            if problems:
                print("\n".join(problems[:20]))
                raise SystemExit(f"FAIL: {len(problems)} problems after kill {round_no}")
        stop = threading.Event()
        threads = [threading.Thread(target=worker, args=(server, stop, w, round_no), daemon=True) for w in range(WORKERS)]
        for t in threads:
            t.start()
        time.sleep(random.uniform(0.5, 2.5))
        server.kill()
        kills += 1
        stop.set()
        for t in threads:
            t.join(timeout=60)
    server.start(ROUNDS)
    problems = verify(server)
    server.proc.send_signal(signal.SIGTERM)
    rc = server.proc.wait(timeout=30)
    if problems:
        print("\n".join(problems[:20]))
        raise SystemExit(f"FAIL: {len(problems)} problems after the last kill")
    if rc != 0:
        raise SystemExit(f"FAIL: cairn exited with {rc} after SIGTERM")
    if not acked_blobs or not acked_manifests:
        raise SystemExit("FAIL: no write was acknowledged; the test proved nothing")
    print(f"ok - crash test: {kills} SIGKILLs; {len(acked_blobs)} acknowledged blobs and "
          f"{len(acked_manifests)} acknowledged manifests all read back with their digests; "
          f"{len(attempted)} attempted writes, none visible partially")


if __name__ == "__main__":
    main()
