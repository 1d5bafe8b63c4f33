#!/usr/bin/env python3
"""cairn's proxy repositories against nora's, in front of the same upstreams
(see bench/proxy-nora.sh): Verdaccio (npm), pypiserver (PyPI) and CNCF
Distribution (OCI), each filled with the same packages and images as
bench/proxy.sh.

Warm: wrk measures packument / simple page / manifest GET req/s and tarball /
wheel / blob GET MiB/s through each proxy with everything cached. Cold: the
median time to fetch each of 9 files once through each proxy (never fetched
before) and straight from the upstream.
"""

import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# proxy_bench reads the same first four arguments (cairn, Verdaccio,
# pypiserver, Distribution) and starts the upstreams the same way.
import proxy_bench as pb  # noqa: E402
from benchlib import (DURATION, free_port, npm_doc, npm_tarball, request, start_cairn, stop,  # noqa: E402
                      wait_ready, wheel, wrk)

NORA = sys.argv[5]


def start_nora(vport, pport, dport):
    port = free_port()
    data = os.path.join(pb.WORK, "nora")
    os.makedirs(data)
    env = {**os.environ, "NORA_HOST": "127.0.0.1", "NORA_PORT": str(port), "NORA_STORAGE_PATH": data,
           "NORA_AUTH_ENABLED": "false", "NORA_NPM_PROXY": f"http://127.0.0.1:{vport}/",
           "NORA_PYPI_PROXY": f"http://127.0.0.1:{pport}/simple/",
           "NORA_DOCKER_PROXIES": f"http://127.0.0.1:{dport}", "RUST_LOG": "warn",
           # Rate limits off, as they are by default in cairn.
           "NORA_RATE_LIMIT_ENABLED": "false"}
    proc = subprocess.Popen([NORA], env=env, cwd=data, stdout=open(os.path.join(pb.WORK, "nora.log"), "w"),
                            stderr=subprocess.STDOUT)
    wait_ready(port, "/health")
    return proc, port


def warm(what, unit, cairn_url, nora_url, headers=None):
    c = wrk(cairn_url, headers or ())
    n = wrk(nora_url, headers or ())
    i = 0 if unit == "req/s" else 1
    print(f"| {what} | {c[i]:,.0f} {unit} | {n[i]:,.0f} {unit} | {c[i] / n[i]:.2f}x |", flush=True)


def cold(what, cport, cairn_paths, nport, nora_paths, uport, direct_paths):
    c = statistics.median(pb.timed_get(cport, p) for p in cairn_paths) * 1000
    n = statistics.median(pb.timed_get(nport, p) for p in nora_paths) * 1000
    d = statistics.median(pb.timed_get(uport, p) for p in direct_paths) * 1000
    print(f"| {what}, median of {len(cairn_paths)} (upstream itself: {d:.1f} ms) | {c:.1f} ms "
          f"(+{c - d:.1f}) | {n:.1f} ms (+{n - d:.1f}) | {n / c:.2f}x |", flush=True)


def main():
    procs = []
    try:
        verd, vport, vauth = pb.start_verdaccio()
        procs.append(verd)
        versions = pb.VERSIONS
        for v in versions:
            tgz = npm_tarball("bench-pkg", v)
            request(vport, "PUT", "/bench-pkg", npm_doc("bench-pkg", v, tgz),
                    {"Content-Type": "application/json", "Authorization": vauth})
        pypi, pport = pb.start_pypiserver()
        procs.append(pypi)
        dist, dport, layer, cold_blobs = pb.start_distribution()
        procs.append(dist)
        up = f"http://127.0.0.1:{vport}/"
        os.environ["CAIRN_PROXY"] = (f'[{{format="npm", name="npmjs", upstream="{up}"}},'
                                     f' {{format="pypi", name="pypi", upstream="http://127.0.0.1:{pport}/simple/"}},'
                                     f' {{format="oci", name="hub", upstream="http://127.0.0.1:{dport}/"}}]')
        cairn, cport, _ = start_cairn(pb.CAIRN, pb.WORK)
        procs.append(cairn)
        nora, nport = start_nora(vport, pport, dport)
        procs.append(nora)

        # Cold first (nothing fetched yet): 9 tarballs, wheels and blobs each.
        pb.timed_get(cport, "/npm/npmjs/bench-pkg")
        pb.timed_get(nport, "/npm/bench-pkg")
        version = subprocess.run([NORA, "--version"], capture_output=True, text=True).stdout.strip()
        print(f"cairn vs {version} as proxies of the same upstreams\n")
        print("| measure | cairn proxy | nora proxy | ratio (>1: cairn faster) |\n|---|---|---|---|")
        cold("cold tarball fetch (Verdaccio)", cport, [f"/npm/npmjs/bench-pkg/-/bench-pkg-{v}.tgz" for v in pb.VERSIONS],
             nport, [f"/npm/bench-pkg/-/bench-pkg-{v}.tgz" for v in pb.VERSIONS],
             vport, [f"/bench-pkg/-/bench-pkg-{v}.tgz" for v in pb.VERSIONS])
        wheels = [wheel("bench-pkg", v)[0] for v in pb.VERSIONS]
        pb.timed_get(cport, "/pypi/pypi/simple/bench-pkg/")
        pb.timed_get(nport, "/simple/bench-pkg/")
        cold("cold wheel fetch (pypiserver)", cport, [f"/pypi/pypi/files/bench-pkg/{w}" for w in wheels],
             nport, [f"/simple/bench-pkg/{w}" for w in wheels], pport, [f"/packages/{w}" for w in wheels])
        cold("cold blob fetch (Distribution)", cport, [f"/v2/hub/bench/cold/blobs/{d}" for d in cold_blobs],
             nport, [f"/v2/bench/cold/blobs/{d}" for d in cold_blobs],
             dport, [f"/v2/bench/cold/blobs/{d}" for d in cold_blobs])

        # Warm: everything the requests need is cached in both.
        accept = ["Accept: application/vnd.oci.image.manifest.v1+json"]
        for port, prefix in ((cport, "/v2/hub"), (nport, "/v2")):
            r, _ = request(port, "GET", f"{prefix}/bench/app/manifests/v1",
                           headers={"Accept": accept[0].split(": ", 1)[1]})
            if r.status != 200:
                raise SystemExit(f"manifest through the proxy on {port}: {r.status}")
            pb.timed_get(port, f"{prefix}/bench/app/blobs/{layer}")
        warm(f"npm packument GET, full, {len(versions)} versions, warm", "req/s",
             f"http://127.0.0.1:{cport}/npm/npmjs/bench-pkg", f"http://127.0.0.1:{nport}/npm/bench-pkg")
        warm("npm tarball GET, warm", "MiB/s", f"http://127.0.0.1:{cport}/npm/npmjs/bench-pkg/-/bench-pkg-1.0.0.tgz",
             f"http://127.0.0.1:{nport}/npm/bench-pkg/-/bench-pkg-1.0.0.tgz")
        warm("PyPI simple page GET, warm", "req/s", f"http://127.0.0.1:{cport}/pypi/pypi/simple/bench-pkg/",
             f"http://127.0.0.1:{nport}/simple/bench-pkg/")
        warm("PyPI wheel GET, warm", "MiB/s", f"http://127.0.0.1:{cport}/pypi/pypi/files/bench-pkg/{wheels[0]}",
             f"http://127.0.0.1:{nport}/simple/bench-pkg/{wheels[0]}")
        warm("OCI manifest GET by tag, warm", "req/s", f"http://127.0.0.1:{cport}/v2/hub/bench/app/manifests/v1",
             f"http://127.0.0.1:{nport}/v2/bench/app/manifests/v1", accept)
        warm("OCI blob GET, warm", "MiB/s", f"http://127.0.0.1:{cport}/v2/hub/bench/app/blobs/{layer}",
             f"http://127.0.0.1:{nport}/v2/bench/app/blobs/{layer}")
        print(f"\nwrk -t2 -c32 -d{DURATION}s; files 1 MiB of incompressible data; cold: each file once, "
              "never fetched before, through a proxy whose metadata is cached. Warm metadata: cairn revalidates "
              "every 10 s (its default), nora every 300 s (its default).", flush=True)
    finally:
        stop(procs)


if __name__ == "__main__":
    main()
