#!/usr/bin/env python3
"""The garbage-collection soak: clients push images that share layers, move
tags, delete manifests, mount blobs across repositories, publish npm
packages, abandon uploads and pull everything back, while every replica's
collector runs every second with a grace of two seconds. Then:

  * no acknowledged image or package ever failed to pull back intact (no
    "blob unknown" after a 201), during the soak or after it;
  * a manifest push refused with MANIFEST_BLOB_UNKNOWN (a layer collected
    before its manifest came) succeeds when the client uploads it again;
  * the collector did delete: deleted manifests' own layers are gone from
    the blob store, abandoned uploads expired;
  * `cairn fsck` finds nothing missing, dangling or orphaned.

With CAIRN_DATABASE_URL (PostgreSQL) and S3 settings in the environment it
runs two replicas on them, and SIGKILLs one in the middle (its collector
may be anywhere in a run); otherwise one replica on the embedded default.

Usage: gc.py CAIRN_BINARY OUTPUT_DIR [LOG_PREFIX]
SOAK_SECONDS sets the soak's length (default 40). SOAK_NO_GC=1 runs the
same clients with the collector off and checks only what they pulled back
(bench/gc-soak.sh compares the rates of both).
"""

import base64
import hashlib
import http.client
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import threading
import time

from cairnproc import Cairn

BIN, OUT = sys.argv[1], sys.argv[2]
PREFIX = sys.argv[3] if len(sys.argv) > 3 else "gc"
SECONDS = float(os.environ.get("SOAK_SECONDS", "40"))
SHARED = "postgres" in os.environ.get("CAIRN_DATABASE_URL", "")
NO_GC = os.environ.get("SOAK_NO_GC") == "1"
GC_ENV = {
    "CAIRN_GC__ENABLED": "false" if NO_GC else "true",
    "CAIRN_GC__INTERVAL_SECS": "1",
    "CAIRN_GC__GRACE_SECS": "2",
    "CAIRN_GC__UPLOAD_TTL_SECS": "4",
}
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


failures = []
lock = threading.Lock()
stats = {"refused_then_reuploaded": 0, "pushed": 0, "retried": 0, "deleted": 0, "mounted": 0, "pulled": 0,
         "published": 0, "abandoned": 0}


def fail(message):
    with lock:
        failures.append(message)
    print(f"FAIL: {message}", flush=True)


def count(key, n=1):
    with lock:
        stats[key] += n


class World:
    """What the clients were told is stored: image manifests (with their
    blobs) and npm tarballs, which must pull back intact."""

    def __init__(self):
        self.images = {}     # (repo, digest) -> (manifest bytes, {blob digest: bytes})
        self.deleted = []    # (repo, digest, own layer digest)
        self.tarballs = {}   # path -> bytes
        self.lock = threading.Lock()

    def some_image(self):
        with self.lock:
            if not self.images:
                return None
            key = random.choice(list(self.images))
            return key, self.images[key]


def call(servers, method, path, body=None, headers=None, auth=None):
    """A request to a random replica; one that cannot be reached (killed
    meanwhile) is retried on another. Returns (status, headers, body, retried)."""
    for attempt in range(20):
        s = random.choice(servers)
        try:
            st, h, b = s.request(method, path, body, headers, auth=auth)
            return st, h, b, attempt > 0
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
    raise SystemExit(f"FAIL: no replica answers {method} {path}")


def replicas_and_auth():
    servers = []
    env = dict(GC_ENV)
    first = Cairn(BIN, os.path.join(OUT, f"{PREFIX}-a-data"), env=env).start(
        os.path.join(OUT, f"{PREFIX}-a.log"))
    servers.append(first)
    if SHARED:
        servers.append(Cairn(BIN, os.path.join(OUT, f"{PREFIX}-b-data"), password=first.password,
                             env=env).start(os.path.join(OUT, f"{PREFIX}-b.log")))
    return servers, first.basic


def push_image(servers, auth, world, repo, shared_layers, n):
    """Pushes config + one shared layer + an own layer, tagged; on
    MANIFEST_BLOB_UNKNOWN uploads what is named again and retries."""
    own = os.urandom(2048) + f"{repo} {n}".encode()
    config = json.dumps({"repo": repo, "n": n, "r": random.random()}).encode()
    shared = random.choice(shared_layers)
    blobs = {sha(b): b for b in (config, shared, own)}
    for d, b in blobs.items():
        put_blob(servers, auth, repo, d, b)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(b),
                    "size": len(b)} for b in (shared, own)],
    }).encode()
    tag = f"t{n % 3}"
    for attempt in range(5):
        st, _, body, _ = call(servers, "PUT", f"/v2/{repo}/manifests/{tag}", manifest,
                              {"Content-Type": MANIFEST}, auth=auth)
        if st == 201:
            with world.lock:
                world.images[(repo, sha(manifest))] = (manifest, blobs)
            count("pushed")
            return sha(manifest), sha(own)
        if st == 400 and b"MANIFEST_BLOB_UNKNOWN" in body:
            count("retried")
            for d, b in blobs.items():
                put_blob(servers, auth, repo, d, b)
            continue
        fail(f"manifest push to {repo}: {st} {body[:200]!r}")
        return None
    fail(f"manifest push to {repo} refused 5 times")
    return None


def put_blob(servers, auth, repo, digest, data):
    # A HEAD first, as clients do: a blob the repository has is not sent again.
    st, _, _, _ = call(servers, "HEAD", f"/v2/{repo}/blobs/{digest}", auth=auth)
    if st == 200:
        return
    st, _, body, _ = call(servers, "POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", data,
                          {"Content-Type": "application/octet-stream"}, auth=auth)
    if st != 201:
        fail(f"blob push {digest} to {repo}: {st} {body[:200]!r}")


def pull_image(servers, auth, repo, digest, manifest, blobs, when):
    st, _, body, _ = call(servers, "GET", f"/v2/{repo}/manifests/{digest}",
                          headers={"Accept": MANIFEST}, auth=auth)
    if st != 200 or body != manifest:
        return f"{when}: manifest {repo}@{digest}: {st} {body[:200]!r}"
    for d, b in blobs.items():
        st, _, body, _ = call(servers, "GET", f"/v2/{repo}/blobs/{d}", auth=auth)
        if st != 200 or body != b:
            return f"{when}: blob {d} of {repo}@{digest}: {st} {body[:200]!r}"
    count("pulled")
    return None


def oci_client(servers, auth, world, worker, stop):
    repo = f"soak/app{worker}"
    shared_layers = [f"shared layer {i}".encode() * 512 for i in range(4)]
    mine = []
    n = 0
    while not stop.is_set():
        n += 1
        pushed = push_image(servers, auth, world, repo, shared_layers, n)
        if pushed:
            mine.append(pushed)
        # Delete an older image now and then (by digest; tags on it go too).
        if len(mine) > 3 and random.random() < 0.4:
            digest, own = mine.pop(random.randrange(len(mine) - 1))
            with world.lock:
                world.images.pop((repo, digest), None)
            st, _, body, retried = call(servers, "DELETE", f"/v2/{repo}/manifests/{digest}",
                                        auth=auth)
            if st != 202 and not (retried and st == 404):
                fail(f"delete {repo}@{digest}: {st} {body[:200]!r}")
            else:
                with world.lock:
                    world.deleted.append((repo, digest, own))
                count("deleted")
        # Mount a shared layer into another repository, then use it there.
        if random.random() < 0.3:
            other = f"soak/mounted{worker}"
            layer = random.choice(shared_layers)
            st, _, _, _ = call(servers, "POST",
                               f"/v2/{other}/blobs/uploads/?mount={sha(layer)}&from={repo}", auth=auth)
            if st == 201:
                count("mounted")
            push_image(servers, auth, world, other, [layer], n)


def npm_client(servers, auth, world, stop):
    n = 0
    while not stop.is_set():
        n += 1
        name, version = f"soak-pkg-{n % 5}", f"1.0.{n}"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as t:
            data = json.dumps({"name": name, "version": version}).encode()
            info = tarfile.TarInfo("package/package.json")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        tgz = buf.getvalue()
        fname = f"{name}-{version}.tgz"
        doc = {
            "name": name, "versions": {version: {
                "name": name, "version": version,
                "dist": {"tarball": f"http://x/npm/soak/{name}/-/{fname}",
                         "shasum": hashlib.sha1(tgz).hexdigest()}}},
            "dist-tags": {"latest": version},
            "_attachments": {fname: {"content_type": "application/octet-stream",
                                     "data": base64.b64encode(tgz).decode(), "length": len(tgz)}},
        }
        st, _, body, retried = call(servers, "PUT", f"/npm/soak/{name}", json.dumps(doc).encode(),
                                    {"Content-Type": "application/json"}, auth=auth)
        if retried and st == 409:
            st = 201  # the first attempt landed before its answer was lost
        if st not in (200, 201):
            fail(f"npm publish {name}@{version}: {st} {body[:200]!r}")
            continue
        with world.lock:
            world.tarballs[f"/npm/soak/{name}/-/{fname}"] = tgz
        count("published")
        time.sleep(0.05)


def abandoner(servers, auth, stop):
    """Starts chunked uploads and walks away from them."""
    while not stop.is_set():
        st, h, _, _ = call(servers, "POST", "/v2/soak/abandoned/blobs/uploads/", auth=auth)
        if st != 202:
            fail(f"start upload: {st}")
            return
        call(servers, "PATCH", h["location"], os.urandom(4096),
             {"Content-Type": "application/octet-stream"}, auth=auth)
        count("abandoned")
        stop.wait(2)


def latecomer(servers, auth, world, stop):
    """Uploads a layer, waits until the collector has taken it (nothing
    referenced it past the grace period), then pushes the manifest that
    names it: refused with MANIFEST_BLOB_UNKNOWN, accepted once the layer
    is uploaded again."""
    repo = "soak/late"
    n = 0
    while not stop.is_set():
        n += 1
        layer = os.urandom(1024)
        config = json.dumps({"late": n}).encode()
        for b in (config, layer):
            put_blob(servers, auth, repo, sha(b), b)
        deadline = time.time() + 60
        while call(servers, "HEAD", f"/v2/{repo}/blobs/{sha(layer)}", auth=auth)[0] != 404:
            if time.time() > deadline:
                fail("an unreferenced layer was not collected within 60 s")
                return
            time.sleep(0.2)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": sha(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": sha(layer), "size": len(layer)}],
        }).encode()
        st, _, body, _ = call(servers, "PUT", f"/v2/{repo}/manifests/late{n}", manifest,
                              {"Content-Type": MANIFEST}, auth=auth)
        if st != 400 or b"MANIFEST_BLOB_UNKNOWN" not in body:
            fail(f"a manifest naming a collected layer: {st} {body[:200]!r}")
            return
        count("refused_then_reuploaded")
        # As a client does: upload what is missing (HEAD first), push again;
        # with a grace of two seconds the config may go meanwhile too.
        for attempt in range(5):
            for b in (config, layer):
                put_blob(servers, auth, repo, sha(b), b)
            st, _, body, _ = call(servers, "PUT", f"/v2/{repo}/manifests/late{n}", manifest,
                                  {"Content-Type": MANIFEST}, auth=auth)
            if st == 201 or b"MANIFEST_BLOB_UNKNOWN" not in body:
                break
            count("retried")
        if st != 201:
            fail(f"the same manifest after uploading its layer again: {st} {body[:200]!r}")
            return
        with world.lock:
            world.images[(repo, sha(manifest))] = (manifest, {sha(config): config, sha(layer): layer})


def checker(servers, auth, world, stop):
    while not stop.is_set():
        picked = world.some_image()
        if picked:
            (repo, digest), (manifest, blobs) = picked
            problem = pull_image(servers, auth, repo, digest, manifest, blobs, "during the soak")
            if problem:
                # Deleted meanwhile by its client? Then it is not a failure.
                with world.lock:
                    still = (repo, digest) in world.images
                if still:
                    fail(problem)
        with world.lock:
            paths = list(world.tarballs.items())
        if paths:
            path, tgz = random.choice(paths)
            st, _, body, _ = call(servers, "GET", path, auth=auth)
            if st != 200 or body != tgz:
                fail(f"during the soak: tarball {path}: {st}")


def metric(server, name):
    _, _, body = server.request("GET", "/metrics")
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def main():
    os.makedirs(OUT, exist_ok=True)
    servers, auth = replicas_and_auth()
    world = World()
    stop = threading.Event()
    threads = [threading.Thread(target=oci_client, args=(servers, auth, world, w, stop)) for w in range(3)]
    threads.append(threading.Thread(target=npm_client, args=(servers, auth, world, stop)))
    threads.append(threading.Thread(target=abandoner, args=(servers, auth, stop)))
    if not NO_GC:
        threads.append(threading.Thread(target=latecomer, args=(servers, auth, world, stop)))
    threads += [threading.Thread(target=checker, args=(servers, auth, world, stop)) for _ in range(2)]
    for t in threads:
        t.start()
    started = time.time()
    killed = False
    while time.time() - started < SECONDS:
        time.sleep(0.5)
        if SHARED and not killed and time.time() - started > SECONDS / 2:
            # SIGKILL one replica wherever its collector is, and start it again.
            victim = servers[0]
            victim.kill()
            servers[0] = servers[1]  # clients use the survivor meanwhile
            victim.start(os.path.join(OUT, f"{PREFIX}-a-restarted.log"))
            servers[0] = victim
            killed = True
    stop.set()
    for t in threads:
        t.join()
    print(f"{PREFIX}: soak of {SECONDS:.0f} s: {json.dumps(stats)}", flush=True)

    # Every acknowledged image and package pulls back intact.
    for (repo, digest), (manifest, blobs) in list(world.images.items()):
        problem = pull_image(servers, auth, repo, digest, manifest, blobs, "after the soak")
        if problem:
            fail(problem)
    for path, tgz in world.tarballs.items():
        st, _, body = servers[-1].request("GET", path, auth=auth)
        if st != 200 or body != tgz:
            fail(f"after the soak: tarball {path}: {st}")
    if failures:
        raise SystemExit(f"FAIL: {len(failures)} failures; first: {failures[0]}")
    print(f"ok - {PREFIX}: {stats['pushed']} images and {stats['published']} npm versions pulled back intact "
          f"after a soak with the collector every second ({stats['retried']} manifest pushes retried "
          f"after MANIFEST_BLOB_UNKNOWN)")
    if NO_GC:
        for s in servers:
            s.terminate()
        return
    if stats["refused_then_reuploaded"] == 0:
        raise SystemExit("FAIL: the latecomer never got to push a manifest naming a collected layer")
    print(f"ok - {PREFIX}: {stats['refused_then_reuploaded']} manifests naming a collected layer were refused "
          f"with MANIFEST_BLOB_UNKNOWN and accepted after the layer was uploaded again")

    # The collector did delete: deleted images' own layers leave the blob
    # store (a few runs after the soak), and abandoned uploads expired.
    deadline = time.time() + 30
    own_layers = {own for (_, _, own) in world.deleted}
    with world.lock:
        alive = {d for (_, blobs) in world.images.values() for d in blobs}
    gone_from = own_layers - alive
    expect_store = lambda d: os.path.exists(os.path.join(
        OUT, f"{PREFIX}-a-data", "blobs", "blobs", "sha256", d[7:9], d[7:]))
    while True:
        deleted = sum(metric(s, "cairn_gc_deleted_blobs_total") for s in servers)
        expired = sum(metric(s, "cairn_uploads_expired_total") for s in servers)
        left = [d for d in gone_from if (expect_store(d) if not SHARED else False)]
        left += [(repo, own) for (repo, _, own) in world.deleted if own in gone_from and
                 call(servers, "HEAD", f"/v2/{repo}/blobs/{own}", auth=auth)[0] != 404]
        if deleted > 0 and expired > 0 and not left:
            break
        if time.time() > deadline:
            raise SystemExit(f"FAIL: after 30 s: {deleted} blobs deleted, {expired} uploads expired, "
                             f"{len(left)} deleted images' layers still stored")
        time.sleep(0.5)
    print(f"ok - {PREFIX}: the collectors deleted {deleted:.0f} blobs (every deleted image's own layer "
          f"among them) and expired {expired:.0f} idle uploads")

    # fsck: nothing missing, dangling or orphaned (run beside the servers).
    env = {**os.environ, **GC_ENV}
    r = subprocess.run([BIN, "fsck", "--rehash", "--data-dir", os.path.join(OUT, f"{PREFIX}-a-data")],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"FAIL: fsck: {r.stdout}\n{r.stderr}")
    print(f"ok - {PREFIX}: fsck --rehash is clean: {r.stdout.strip()}")
    for s in servers:
        s.terminate()


if __name__ == "__main__":
    main()
