#!/usr/bin/env python3
"""Crash test: push blobs and manifests concurrently, SIGKILL `cairn serve` at
random moments, restart it on the same data directory, and prove that

  * every acknowledged write (201) reads back with its digest, and
  * nothing partial is visible: any blob or manifest that can be read at all
    reads back whole and matching its digest.

Usage: crash.py CAIRN_BINARY OUTPUT_DIR [rounds]
"""

import hashlib
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time

from cairnproc import Cairn

BIN, OUT = sys.argv[1], sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 6
WORKERS = 6
REPO = "crash/test"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


acked_blobs = {}      # digest -> size
acked_manifests = {}  # tag -> digest
attempted = set()     # every digest a worker tried to write
lock = threading.Lock()


def request(server, method, path, body=None, headers=None):
    return server.request(method, path, body, headers, auth=server.basic, timeout=30)


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
    server = Cairn(BIN, os.path.join(data, "data"))
    kills = 0
    for round_no in range(ROUNDS):
        server.start(os.path.join(OUT, f"crash-server-{round_no}.log"))
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
    server.start(os.path.join(OUT, f"crash-server-{ROUNDS}.log"))
    problems = verify(server)
    rc = server.terminate()
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
