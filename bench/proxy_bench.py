#!/usr/bin/env python3
"""cairn's proxy repositories in front of Verdaccio (npm), pypiserver (PyPI)
and CNCF Distribution (OCI) vs those upstreams themselves, side by side in
one run (see bench/proxy.sh).

PyPI and OCI: warm simple-page / manifest GET req/s and wheel / blob GET
MiB/s through cairn against straight from the upstream.

One package with 9 versions (1 MiB of incompressible data per tarball) is
published to Verdaccio; cairn proxies it. Warm: wrk measures full-packument
GET req/s and tarball GET MiB/s through cairn (everything cached; packuments
revalidated every 10 s, the default) and straight from Verdaccio. Cold: the
time to fetch each of the 9 tarballs once through a fresh proxy repository
against straight from Verdaccio (the overhead of one fill). Coalescing: 50
concurrent cold requests for one tarball; the spread of their first bytes.

Cold over a link: the same cold measurement for each format with every
upstream behind a relay that answers after LINK_DELAY_MS and sends at most
LINK_MBPS (tests/e2e/faultproxy.py), as an upstream on the internet does; the
straight fetches go through the same relay, so both sides cross the same
link and the difference is cairn's.
"""

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (DURATION, MiB, free_port, npm_doc, npm_tarball, request, row, stop,  # noqa: E402
                      scaled, sha256_digest, start_cairn, start_verdaccio as start_verdaccio_in, wait_ready, wheel, wrk)

CAIRN, VERDACCIO, PYPI_SERVER, DISTRIBUTION = sys.argv[1:5]
WORK = tempfile.mkdtemp(prefix="cairn-proxy-bench.", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
VERSIONS = [f"1.0.{i}" for i in range(9)]
LINK_VERSIONS = [f"2.0.{i}" for i in range(9)]
LINK_DELAY_MS = int(os.environ.get("LINK_DELAY_MS", "20"))
LINK_MBPS = int(os.environ.get("LINK_MBPS", "40"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from faultproxy import FaultProxy  # noqa: E402


def start_verdaccio():
    return start_verdaccio_in(VERDACCIO, WORK)


def start_pypiserver():
    pkgdir = os.path.join(WORK, "pypiserver")
    os.makedirs(pkgdir)
    for v in VERSIONS + LINK_VERSIONS:
        name, data = wheel("bench-pkg", v)
        with open(os.path.join(pkgdir, name), "wb") as f:
            f.write(data)
    port = free_port()
    proc = subprocess.Popen([PYPI_SERVER, "run", "-i", "127.0.0.1", "-p", str(port), "-a", ".", "-P", ".",
                             "--hash-algo", "sha256", pkgdir],
                            stdout=open(os.path.join(WORK, "pypiserver.log"), "w"), stderr=subprocess.STDOUT)
    wait_ready(port, "/simple/")
    return proc, port


def push_blob(port, repo, blob):
    r, _ = request(port, "POST", f"/v2/{repo}/blobs/uploads/")
    location = r.getheader("Location")
    sep = "&" if "?" in location else "?"
    path = location.split(f"127.0.0.1:{port}", 1)[-1]
    r, _ = request(port, "PUT", f"{path}{sep}digest={sha256_digest(blob)}", blob,
                   {"Content-Type": "application/octet-stream"})
    if r.status != 201:
        raise SystemExit(f"blob upload to Distribution: {r.status}")


def cold_row(what, cport, cairn_paths, pport, peer_paths):
    """Each path fetched once through a fresh proxy repository, and straight."""
    c = statistics.median(timed_get(cport, p) for p in cairn_paths) * 1000
    d = statistics.median(timed_get(pport, p) for p in peer_paths) * 1000
    print(f"| {what}, median of {len(cairn_paths)} | {c:.1f} ms | {d:.1f} ms "
          f"| overhead {c - d:+.1f} ms ({c / d:.2f}x) |", flush=True)


def start_distribution():
    port = free_port()
    d = os.path.join(WORK, "distribution")
    os.makedirs(d)
    with open(os.path.join(d, "config.yml"), "w") as f:
        f.write(f"""version: 0.1
log: {{level: error}}
storage: {{filesystem: {{rootdirectory: {d}/data}}}}
http: {{addr: "127.0.0.1:{port}"}}
""")
    proc = subprocess.Popen([DISTRIBUTION, "serve", os.path.join(d, "config.yml")],
                            stdout=open(os.path.join(d, "log"), "w"), stderr=subprocess.STDOUT)
    wait_ready(port, "/v2/")
    layer = os.urandom(scaled(MiB))
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    for blob in (layer, config):
        push_blob(port, "bench/app", blob)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha256_digest(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": sha256_digest(layer), "size": len(layer)}]}).encode()
    r, _ = request(port, "PUT", "/v2/bench/app/manifests/v1", manifest,
                   {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    if r.status != 201:
        raise SystemExit(f"pushing to Distribution: {r.status}")
    # Blobs for the cold measurement: pushed, never pulled through cairn before.
    cold = []
    for _ in VERSIONS + LINK_VERSIONS:
        blob = os.urandom(scaled(MiB))
        push_blob(port, "bench/cold", blob)
        cold.append(sha256_digest(blob))
    return proc, port, sha256_digest(layer), cold


def timed_get(port, path):
    t = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        raise SystemExit(f"GET {path}: {r.status}")
    return time.perf_counter() - t


def main():
    procs = []
    try:
        verd, vport, vauth = start_verdaccio()
        procs.append(verd)
        for v in VERSIONS + LINK_VERSIONS:
            tgz = npm_tarball("bench-pkg", v)
            request(vport, "PUT", "/bench-pkg", npm_doc("bench-pkg", v, tgz),
                    {"Content-Type": "application/json", "Authorization": vauth})
        up = f"http://127.0.0.1:{vport}/"
        pypi, pport = start_pypiserver()
        procs.append(pypi)
        dist, dport, layer, cold_blobs = start_distribution()
        procs.append(dist)
        links = {}
        for name, port in (("npm", vport), ("pypi", pport), ("oci", dport)):
            links[name] = FaultProxy(port)
            links[name].delay_ms = LINK_DELAY_MS
            links[name].throttle_bps = LINK_MBPS * 1000 * 1000
        os.environ["CAIRN_PROXY"] = (f'[{{format="npm", name="warm", upstream="{up}"}},'
                                     f' {{format="npm", name="cold", upstream="{up}"}},'
                                     f' {{format="npm", name="herd", upstream="{up}"}},'
                                     f' {{format="pypi", name="pypi", upstream="http://127.0.0.1:{pport}/simple/"}},'
                                     f' {{format="oci", name="hub", upstream="http://127.0.0.1:{dport}/"}},'
                                     f' {{format="pypi", name="pypicold", upstream="http://127.0.0.1:{pport}/simple/"}},'
                                     f' {{format="oci", name="hubcold", upstream="http://127.0.0.1:{dport}/"}},'
                                     f' {{format="npm", name="npmlink", upstream="http://127.0.0.1:{links["npm"].port}/"}},'
                                     f' {{format="pypi", name="pypilink", upstream="http://127.0.0.1:{links["pypi"].port}/simple/"}},'
                                     f' {{format="oci", name="ocilink", upstream="http://127.0.0.1:{links["oci"].port}/"}}]')
        cairn, cport, _ = start_cairn(CAIRN, WORK)
        procs.append(cairn)
        for v in VERSIONS:
            timed_get(cport, f"/npm/warm/bench-pkg/-/bench-pkg-{v}.tgz")
        print(f"npm proxy: cairn (proxy of Verdaccio, warm) vs Verdaccio, {len(VERSIONS)} versions, "
              f"wrk -t2 -c32 -d{DURATION}s\n")
        print("| measure | cairn proxy | Verdaccio | ratio |\n|---|---|---|---|")
        c = wrk(f"http://127.0.0.1:{cport}/npm/warm/bench-pkg")
        p = wrk(f"http://127.0.0.1:{vport}/bench-pkg")
        row("packument GET, full, warm", c[0], p[0], "req/s")
        c = wrk(f"http://127.0.0.1:{cport}/npm/warm/bench-pkg/-/bench-pkg-1.0.0.tgz")
        p = wrk(f"http://127.0.0.1:{vport}/bench-pkg/-/bench-pkg-1.0.0.tgz")
        row("tarball GET, warm", c[1], p[1], "MiB/s")
        # Cold: each tarball once through a fresh repository (packument
        # fetched first, as npm does) vs straight from Verdaccio.
        timed_get(cport, "/npm/cold/bench-pkg")
        cold_row("cold tarball fetch through a fresh proxy vs straight", cport,
                 [f"/npm/cold/bench-pkg/-/bench-pkg-{v}.tgz" for v in VERSIONS], vport,
                 [f"/bench-pkg/-/bench-pkg-{v}.tgz" for v in VERSIONS])
        # 50 concurrent cold requests for one tarball: when each got its first
        # byte. The connections are opened first and the 50 requests sent back
        # to back from one thread, so that the spread is cairn's, not the
        # load generator's thread start-up.
        timed_get(cport, "/npm/herd/bench-pkg")
        firsts, lock = [], threading.Lock()
        conns = [http.client.HTTPConnection("127.0.0.1", cport, timeout=120) for _ in range(50)]
        for c in conns:
            c.connect()
        start = time.perf_counter()
        for c in conns:
            c.request("GET", "/npm/herd/bench-pkg/-/bench-pkg-1.0.0.tgz")

        def fetch(c):
            r = c.getresponse()
            r.read(1)
            with lock:
                firsts.append(time.perf_counter() - start)
            r.read()

        threads = [threading.Thread(target=fetch, args=(c,)) for c in conns]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        firsts.sort()
        print(f"| 50 concurrent cold requests: first byte, first vs last | {firsts[0] * 1000:.1f} ms | "
              f"{firsts[-1] * 1000:.1f} ms | spread {(firsts[-1] - firsts[0]) * 1000:.1f} ms |", flush=True)
        pypi_and_oci(cport, pport, dport, layer, cold_blobs[:len(VERSIONS)])
        over_a_link(cport, links, cold_blobs[len(VERSIONS):])
    finally:
        stop(procs)


def pypi_and_oci(cport, pport, dport, layer, cold_blobs):
    wheel_name = wheel("bench-pkg", VERSIONS[0])[0]
    timed_get(cport, "/pypi/pypi/simple/bench-pkg/")
    timed_get(cport, f"/pypi/pypi/files/bench-pkg/{wheel_name}")
    print(f"\nPyPI proxy: cairn (proxy of pypiserver, warm) vs pypiserver, wrk -t2 -c32 -d{DURATION}s\n")
    print("| measure | cairn proxy | pypiserver | ratio |\n|---|---|---|---|")
    c = wrk(f"http://127.0.0.1:{cport}/pypi/pypi/simple/bench-pkg/")
    p = wrk(f"http://127.0.0.1:{pport}/simple/bench-pkg/")
    row("simple page GET, HTML, warm", c[0], p[0], "req/s")
    c = wrk(f"http://127.0.0.1:{cport}/pypi/pypi/files/bench-pkg/{wheel_name}")
    p = wrk(f"http://127.0.0.1:{pport}/packages/{wheel_name}")
    row("wheel GET, warm", c[1], p[1], "MiB/s")
    timed_get(cport, "/pypi/pypicold/simple/bench-pkg/")
    wheels = [wheel("bench-pkg", v)[0] for v in VERSIONS]
    cold_row("cold wheel fetch through a fresh proxy vs straight", cport,
             [f"/pypi/pypicold/files/bench-pkg/{w}" for w in wheels], pport, [f"/packages/{w}" for w in wheels])

    accept = ["Accept: application/vnd.oci.image.manifest.v1+json"]
    crane_like = {"Accept": accept[0].split(": ", 1)[1]}
    r, _ = request(cport, "GET", "/v2/hub/bench/app/manifests/v1", headers=crane_like)
    if r.status != 200:
        raise SystemExit(f"manifest through the OCI proxy: {r.status}")
    timed_get(cport, f"/v2/hub/bench/app/blobs/{layer}")
    print(f"\nOCI proxy: cairn (proxy of Distribution, warm) vs Distribution, wrk -t2 -c32 -d{DURATION}s\n")
    print("| measure | cairn proxy | Distribution | ratio |\n|---|---|---|---|")
    c = wrk(f"http://127.0.0.1:{cport}/v2/hub/bench/app/manifests/v1", accept)
    p = wrk(f"http://127.0.0.1:{dport}/v2/bench/app/manifests/v1", accept)
    row("manifest GET by tag, warm", c[0], p[0], "req/s")
    c = wrk(f"http://127.0.0.1:{cport}/v2/hub/bench/app/blobs/{layer}")
    p = wrk(f"http://127.0.0.1:{dport}/v2/bench/app/blobs/{layer}")
    row("blob GET, warm", c[1], p[1], "MiB/s")
    cold_row("cold blob fetch through a fresh proxy vs straight", cport,
             [f"/v2/hubcold/bench/cold/blobs/{d}" for d in cold_blobs], dport,
             [f"/v2/bench/cold/blobs/{d}" for d in cold_blobs])


def over_a_link(cport, links, cold_blobs):
    print(f"\nCold fetches with each upstream behind a {LINK_DELAY_MS} ms, {LINK_MBPS} MB/s relay "
          "(the straight fetches through the same relay)\n")
    print("| measure | cairn proxy | upstream itself | overhead |\n|---|---|---|---|")
    timed_get(cport, "/npm/npmlink/bench-pkg")
    cold_row("cold tarball fetch (Verdaccio)", cport,
             [f"/npm/npmlink/bench-pkg/-/bench-pkg-{v}.tgz" for v in LINK_VERSIONS], links["npm"].port,
             [f"/bench-pkg/-/bench-pkg-{v}.tgz" for v in LINK_VERSIONS])
    timed_get(cport, "/pypi/pypilink/simple/bench-pkg/")
    wheels = [wheel("bench-pkg", v)[0] for v in LINK_VERSIONS]
    cold_row("cold wheel fetch (pypiserver)", cport, [f"/pypi/pypilink/files/bench-pkg/{w}" for w in wheels],
             links["pypi"].port, [f"/packages/{w}" for w in wheels])
    cold_row("cold blob fetch (Distribution)", cport,
             [f"/v2/ocilink/bench/cold/blobs/{d}" for d in cold_blobs], links["oci"].port,
             [f"/v2/bench/cold/blobs/{d}" for d in cold_blobs])
    for link in links.values():
        link.stop()


if __name__ == "__main__":
    main()
