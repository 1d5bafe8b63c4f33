#!/usr/bin/env python3
"""Proxy repositories against real upstreams, with the real clients: cairn
proxies Verdaccio (npm), pypiserver and another cairn (PyPI) through a
fault-injecting proxy that counts and breaks requests
(tests/e2e/faultproxy.py).

Usage: proxy.py CAIRN OUT_DIR. Verdaccio and pypiserver come from
scripts/install-peers.sh; pip, uv and twine from scripts/install-test-tools.sh.

npm: cold install; warm install with the upstream dead; a version published
upstream installs at once; a deprecation upstream shows; 429 + Retry-After
honoured (upstream requests counted); 50 concurrent requests for one
uncached tarball make one upstream request and 50 correct bodies (some
clients leaving early); a tampered tarball is refused and not cached;
publish times served as the upstream's (npm --before, and pnpm 10's
minimumReleaseAge at the end, pick what they pick against Verdaccio);
publishing to a proxy refused; a version unpublished upstream kept or purged.

PyPI: pip cold install from pypiserver's HTML pages; served from the cache
with the upstream dead; a file uploaded upstream installs at once; a
tampered file refused and not cached; uploads refused. Through a proxy of a
hosted cairn (PEP 691 JSON with upload-time and yanks): a yank upstream shows
(pip skips the yanked version), and `uv pip install --exclude-newer` picks
the same version through the proxy as straight from the upstream.
"""

import base64
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from cairnproc import Cairn, free_port  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import benchlib  # noqa: E402

CAIRN, OUT = sys.argv[1], sys.argv[2]
# Test proxies revalidate on every request (revalidate_after_secs=0) and wait
# for the upstream's answer however long a loaded machine takes
# (revalidate_wait_ms=30000), so that "seen at once" never depends on speed.
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PEERS = os.environ.get("PEERS_DIR", "/var/tmp/cairn-peers")
VERDACCIO = os.path.join(PEERS, "verdaccio", "node_modules", ".bin", "verdaccio")
PYPI_SERVER = os.path.join(PEERS, "pypiserver", "bin", "pypi-server")
PY_TOOLS = os.path.join(ROOT, ".tools", "py", "bin")
os.environ["PATH"] = os.path.join(ROOT, ".tools", "node", "node_modules", ".bin") + os.pathsep + os.environ["PATH"]
WORK = tempfile.mkdtemp(prefix="cairn-proxy-")
LOG = open(os.path.join(OUT, "proxy-tools.log"), "w")
procs = []


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def ok(msg):
    print(f"ok - {msg}")


def http_get(port, path, headers=None, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def tampered_get(fault, port, path):
    """GET `path` while the fault proxy flips a byte of the upstream's body:
    the status, or how the stream broke (what a client sees of a refusal
    that comes after the headers)."""
    fault.mode = "tamper"
    try:
        st, _, _ = http_get(port, path)
    except (http.client.IncompleteRead, ConnectionError) as e:
        st = f"broken stream ({type(e).__name__})"
    finally:
        fault.mode = "pass"
    return st


def wait_port(port, path):
    for _ in range(300):
        try:
            if http_get(port, path, timeout=2)[0] < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    fail(f"nothing answered on {port}{path}")


def run(cmd, cwd=None, env=None, check=True):
    r = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    LOG.write(f"$ {' '.join(cmd)}\n{r.stdout}\n")
    LOG.flush()
    if check and r.returncode != 0:
        fail(f"{' '.join(cmd)} failed:\n{r.stdout[-3000:]}")
    return r


# --- the upstream: Verdaccio (bench/benchlib.py starts it), with a user to publish as.
def start_verdaccio():
    proc, port, auth = benchlib.start_verdaccio(VERDACCIO, WORK, log=os.path.join(OUT, "proxy-verdaccio.log"))
    procs.append(proc)
    return port, auth.removeprefix("Bearer ")


def make_pkg(name, version, deps=None, extra_bytes=0):
    d = os.path.join(WORK, "src", f"{name}-{version}")
    os.makedirs(d)
    with open(os.path.join(d, "package.json"), "w") as f:
        json.dump({"name": name, "version": version, "main": "index.js", "license": "MIT",
                   "dependencies": deps or {}}, f)
    with open(os.path.join(d, "index.js"), "w") as f:
        f.write(f"module.exports = '{name}@{version}';\n")
    if extra_bytes:
        with open(os.path.join(d, "blob.bin"), "wb") as f:
            f.write(os.urandom(extra_bytes))
    return d


def npm_env(registry, npmrc_lines=()):
    home = tempfile.mkdtemp(dir=WORK)
    rc = os.path.join(home, "npmrc")
    with open(rc, "w") as f:
        f.write(f"registry={registry}\n" + "".join(line + "\n" for line in npmrc_lines))
    return {"npm_config_userconfig": rc, "npm_config_cache": os.path.join(home, "cache"),
            "npm_config_audit": "false", "npm_config_fund": "false", "npm_config_update_notifier": "false"}


def publish_upstream(vport, vtoken, name, version, deps=None, extra_bytes=0):
    env = npm_env(f"http://127.0.0.1:{vport}/", [f"//127.0.0.1:{vport}/:_authToken={vtoken}"])
    run(["npm", "publish", make_pkg(name, version, deps, extra_bytes)], env=env)


def install(registry, spec, expect_version, *flags):
    proj = tempfile.mkdtemp(dir=WORK)
    with open(os.path.join(proj, "package.json"), "w") as f:
        json.dump({"name": "consumer", "version": "1.0.0", "private": True}, f)
    run(["npm", "install", "--no-package-lock", *flags, spec], cwd=proj, env=npm_env(registry))
    name = spec.rsplit("@", 1)[0] if spec.rfind("@") > 0 else spec
    with open(os.path.join(proj, "node_modules", name, "package.json")) as f:
        got = json.load(f)["version"]
    if got != expect_version:
        fail(f"npm install {spec} through {registry} gave {got}, not {expect_version}")
    return proj


LATER = {}


def main():
    vport, vtoken = start_verdaccio()
    fault = FaultProxy(vport)
    up = f"http://127.0.0.1:{fault.port}/"
    publish_upstream(vport, vtoken, "lib-b", "1.0.0")
    publish_upstream(vport, vtoken, "lib-a", "1.0.0", {"lib-b": "^1.0.0"})
    publish_upstream(vport, vtoken, "big-pkg", "1.0.0", extra_bytes=6 << 20)
    publish_upstream(vport, vtoken, "tamper-pkg", "1.0.0", extra_bytes=64 << 10)
    # For pnpm's minimumReleaseAge (whole minutes), checked at the very end.
    publish_upstream(vport, vtoken, "aged-npm", "1.0.0")
    LATER.update(vport=vport, vtoken=vtoken, published=time.time())

    proxies = (f'[{{format="npm", name="npmjs", upstream="{up}", ttl_secs=300, revalidate_after_secs=0, revalidate_wait_ms=30000}},'
               f' {{format="npm", name="npmfast", upstream="{up}", ttl_secs=1, revalidate_after_secs=0, revalidate_wait_ms=30000, failures_to_open=100}},'
               f' {{format="npm", name="npmpurge", upstream="{up}", revalidate_after_secs=0, revalidate_wait_ms=30000, removed_upstream="purge"}}]')
    cairn = Cairn(CAIRN, os.path.join(WORK, "cairn"), env={"CAIRN_PROXY": proxies}).start(os.path.join(OUT, "proxy-cairn.log"))
    procs.append(cairn.proc)
    reg = f"http://127.0.0.1:{cairn.port}/npm/npmjs/"
    fast = f"http://127.0.0.1:{cairn.port}/npm/npmfast/"

    # --- cold install: the packuments and tarballs come through cairn, once.
    install(reg, "lib-a", "1.0.0")
    install(fast, "lib-a", "1.0.0")
    if fault.count("GET", "/lib-a/-/lib-a-1.0.0.tgz") != 2:
        fail(f"tarball fetched {fault.count('GET', '/lib-a/-/lib-a-1.0.0.tgz')} times for two repositories")
    install(reg, "lib-a", "1.0.0")
    if fault.count("GET", "/lib-a/-/lib-a-1.0.0.tgz") != 2:
        fail("a warm install fetched the tarball again")
    status, headers, body = http_get(cairn.port, "/npm/npmjs/lib-a")
    doc = json.loads(body)
    tarball = doc["versions"]["1.0.0"]["dist"]["tarball"]
    if not tarball.startswith(f"http://127.0.0.1:{cairn.port}/npm/npmjs/lib-a/-/"):
        fail(f"dist.tarball not rewritten through cairn: {tarball}")
    _, _, vbody = http_get(vport, "/lib-a")
    if doc["time"] != json.loads(vbody)["time"]:
        fail(f"publish times differ from the upstream's: {doc['time']} vs {json.loads(vbody)['time']}")
    ok("npm cold install through the proxy; warm install fetches nothing; tarball URLs rewritten; `time` is the upstream's")

    # --- the upstream dies: cached packuments (fresh, or stale past their TTL) and tarballs still install.
    fault.mode = "reset"
    time.sleep(1.2)
    install(reg, "lib-a", "1.0.0")
    install(fast, "lib-a", "1.0.0")
    status, headers, _ = http_get(cairn.port, "/npm/npmfast/lib-a")
    if status != 200 or not headers.get("x-cairn-cache", "").startswith("stale"):
        fail(f"stale packument: {status} {headers.get('x-cairn-cache')}")
    status, _, body = http_get(cairn.port, "/npm/npmjs/never-cached")
    if status != 502:
        fail(f"an uncached package with the upstream down: {status} {body[:200]}")
    fault.mode = "pass"
    ok("npm install with the upstream dead: served from the cache, stale packuments say so (x-cairn-cache); uncached is a 502")

    # --- a version published upstream a moment ago installs at once, inside the TTL.
    time.sleep(1.1)
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    time.sleep(1.1)
    publish_upstream(vport, vtoken, "lib-a", "1.1.0", {"lib-b": "^1.0.0"})
    install(reg, "lib-a@1.1.0", "1.1.0")
    ok("a version published upstream inside the 300 s TTL installs at once (the packument is revalidated, 304 or new)")
    # npm's release-age cutoff works through the proxy as against the upstream.
    install(reg, "lib-a", "1.0.0", f"--before={before}")
    install(f"http://127.0.0.1:{vport}/", "lib-a", "1.0.0", f"--before={before}")
    install(reg, "lib-a", "1.1.0")
    ok("npm install --before picks the same version through the proxy as from the upstream (publish times kept)")

    # --- a deprecation upstream shows through cairn.
    env = npm_env(f"http://127.0.0.1:{vport}/", [f"//127.0.0.1:{vport}/:_authToken={vtoken}"])
    run(["npm", "deprecate", "lib-b@1.0.0", "use lib-c"], env=env)
    time.sleep(1.2)
    out = run(["npm", "view", "lib-b@1.0.0", "deprecated"], env=npm_env(fast)).stdout.strip()
    if "use lib-c" not in out:
        fail(f"deprecation not shown through the proxy: {out!r}")
    ok("a deprecation upstream shows through the proxy after its TTL")

    # --- 429 with Retry-After: no request until it passes; the cache answers meanwhile.
    fault.mode = "429:30"
    fault.reset_counts()
    time.sleep(1.2)
    for _ in range(5):
        status, headers, _ = http_get(cairn.port, "/npm/npmfast/lib-a")
        if status != 200 or not headers.get("x-cairn-cache", "").startswith("stale"):
            fail(f"during a 429: {status} {headers.get('x-cairn-cache')}")
        time.sleep(0.3)
    if fault.count("GET", "/lib-a") != 1:
        fail(f"the upstream was asked {fault.count('GET', '/lib-a')} times during Retry-After")
    fault.mode = "pass"
    ok("429 with Retry-After: one upstream request, then none while it runs; stale answers meanwhile")

    # --- 50 concurrent requests for one uncached tarball: one upstream request, 50 bodies.
    status, _, body = http_get(cairn.port, "/npm/npmjs/big-pkg")
    integrity = json.loads(body)["versions"]["1.0.0"]["dist"]["integrity"]
    want = base64.b64decode(integrity.split("-", 1)[1])
    fault.reset_counts()
    fault.delay_ms = 300
    results, errors = [], []

    def fetch(i):
        try:
            c = http.client.HTTPConnection("127.0.0.1", cairn.port, timeout=120)
            c.request("GET", "/npm/npmjs/big-pkg/-/big-pkg-1.0.0.tgz")
            r = c.getresponse()
            if i % 10 == 9:
                r.read(1024)
                c.close()  # a client that leaves early
                return
            data = r.read()
            results.append((r.status, hashlib.sha512(data).digest() == want))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fault.delay_ms = 0
    if errors or len(results) != 45 or not all(s == 200 and good for s, good in results):
        fail(f"concurrent fetches: {len(results)} results, errors {errors[:3]}, bad {[r for r in results if r != (200, True)][:3]}")
    n = fault.count("GET", "/big-pkg/-/")
    if n != 1:
        fail(f"50 concurrent cold requests made {n} upstream requests")
    ok("50 concurrent cold requests for one tarball: 1 upstream request, 45 complete verified bodies, 5 clients left early")

    # --- a tampered tarball is refused and not cached.
    http_get(cairn.port, "/npm/npmjs/tamper-pkg")
    if tampered_get(fault, cairn.port, "/npm/npmjs/tamper-pkg/-/tamper-pkg-1.0.0.tgz") == 200:
        fail("a tampered tarball was served whole")
    status, _, body = http_get(cairn.port, "/npm/npmjs/tamper-pkg/-/tamper-pkg-1.0.0.tgz")
    _, _, meta = http_get(cairn.port, "/npm/npmjs/tamper-pkg")
    sri = json.loads(meta)["versions"]["1.0.0"]["dist"]["integrity"]
    if status != 200 or hashlib.sha512(body).digest() != base64.b64decode(sri.split("-", 1)[1]):
        fail(f"after a tampered fetch, the honest tarball: {status}")
    if fault.count("GET", "/tamper-pkg/-/") != 2:
        fail("the tampered bytes were cached")
    ok("a tampered tarball is refused (the stream fails before its last byte) and not cached")

    # --- a proxy takes no publishes.
    r = run(["npm", "publish", make_pkg("mine", "1.0.0")],
            env=npm_env(reg, [f"//127.0.0.1:{cairn.port}/npm/npmjs/:_auth=" +
                              base64.b64encode(f"admin:{cairn.password}".encode()).decode()]), check=False)
    if r.returncode == 0 or "proxy" not in r.stdout:
        fail(f"publishing to a proxy: {r.stdout[-500:]}")
    ok("npm publish to a proxy repository is refused, saying why")

    # --- the admin view of the cache, and dropping one entry (then fetched again).
    status, _, body = cairn.request("GET", "/api/v1/proxies/npm/npmjs/cache?prefix=tarball/", auth=cairn.basic)
    listing = json.loads(body) if status == 200 else {}
    keys = [e["key"] for e in listing.get("entries", [])]
    if ("tarball/big-pkg/big-pkg-1.0.0.tgz" not in keys or listing.get("upstream") != up
            or listing.get("cached_bytes", 0) < (6 << 20) or listing.get("cached_objects", 0) < 5):
        fail(f"cache listing: {status} {body[:300]}")
    status, _, _ = cairn.request("DELETE", "/api/v1/proxies/npm/npmjs/cache/tarball/lib-b/lib-b-1.0.0.tgz",
                                 auth=cairn.basic)
    if status != 204:
        fail(f"dropping a cache entry: {status}")
    fault.reset_counts()
    install(reg, "lib-a@1.0.0", "1.0.0")
    if fault.count("GET", "/lib-b/-/lib-b-1.0.0.tgz") != 1:
        fail("a dropped entry was not fetched again")
    status, _, _ = cairn.request("GET", "/api/v1/proxies/npm/npmjs/cache")
    if status != 401:
        fail(f"anonymous read of the cache listing: {status}, not 401")
    ok("the admin API lists a proxy's cache and drops one entry, which the next install fetches again")

    # --- a version taken down upstream: kept by default, purged where configured.
    publish_upstream(vport, vtoken, "evil-pkg", "1.0.0")
    publish_upstream(vport, vtoken, "evil-pkg", "1.0.1")
    tgz = "/evil-pkg/-/evil-pkg-1.0.0.tgz"
    for repo in ("npmjs", "npmpurge"):
        st, _, _ = http_get(cairn.port, f"/npm/{repo}{tgz}")
        if st != 200:
            fail(f"caching evil-pkg 1.0.0 through {repo}: {st}")
    env = npm_env(f"http://127.0.0.1:{vport}/", [f"//127.0.0.1:{vport}/:_authToken={vtoken}"])
    run(["npm", "unpublish", "evil-pkg@1.0.0", "--force"], env=env)
    st_purge, _, _ = http_get(cairn.port, f"/npm/npmpurge{tgz}")
    st_keep, _, _ = http_get(cairn.port, f"/npm/npmjs{tgz}")
    _, _, body = cairn.request("GET", "/api/v1/proxies/npm/npmpurge/cache?prefix=tarball/evil-pkg/", auth=cairn.basic)
    if st_purge != 404 or st_keep != 200 or json.loads(body)["entries"]:
        fail(f"a version removed upstream: purge {st_purge}, keep {st_keep}, purge cache {body[:200]}")
    ok("a version unpublished upstream: removed_upstream=purge refuses and drops its cached tarball; keep (the default) still serves it")
    st, _, metrics = http_get(cairn.port, "/metrics")
    text = metrics.decode()
    for want in ['cairn_proxy_requests_total{repository="npm/npmjs",result="hit"}',
                 'cairn_proxy_requests_total{repository="npm/npmfast",result="stale"}',
                 'cairn_proxy_requests_total{repository="npm/npmjs",result="coalesced"}',
                 'cairn_proxy_upstream_responses_total{repository="npm/npmfast",status="429"}',
                 'cairn_proxy_circuit_open{repository="npm/npmfast"}']:
        if want not in text:
            fail(f"/metrics lacks {want}")
    ok("/metrics counts proxy hits, stale answers, coalesced waiters, the upstream's 429s and circuit state per repository")
    LATER["registry"] = reg


def pnpm_release_age():
    """pnpm 10's minimumReleaseAge through the proxy, as against Verdaccio."""
    vport, vtoken = LATER["vport"], LATER["vtoken"]
    wait = LATER["published"] + 65 - time.time()
    if wait > 0:
        time.sleep(wait)  # aged-npm 1.0.0 is then over a minute old
    publish_upstream(vport, vtoken, "aged-npm", "1.1.0")
    pnpm = os.path.join(ROOT, ".tools", "pnpm10", "node_modules", ".bin", "pnpm")

    def pnpm_add(registry, min_age):
        proj = tempfile.mkdtemp(dir=WORK)
        with open(os.path.join(proj, "package.json"), "w") as f:
            json.dump({"name": "consumer", "version": "1.0.0", "private": True}, f)
        with open(os.path.join(proj, "pnpm-workspace.yaml"), "w") as f:
            f.write(f"minimumReleaseAge: {min_age}\n" if min_age else "")
        env = {**npm_env(registry), "npm_config_store_dir": os.path.join(proj, ".store")}
        run([pnpm, "add", "aged-npm", f"--registry={registry}"], cwd=proj, env=env)
        with open(os.path.join(proj, "node_modules", "aged-npm", "package.json")) as f:
            return json.load(f)["version"]

    through, direct = pnpm_add(LATER["registry"], 1), pnpm_add(f"http://127.0.0.1:{vport}/", 1)
    newest = pnpm_add(LATER["registry"], 0)
    if (through, direct, newest) != ("1.0.0", "1.0.0", "1.1.0"):
        fail(f"pnpm minimumReleaseAge: through cairn {through}, straight {direct}, without the setting {newest}")
    ok("pnpm minimumReleaseAge=1 picks the same version through the proxy as from Verdaccio (1.0.0, not the minute-old 1.1.0)")


def mkdist(name, version):
    out = os.path.join(WORK, "dist", f"{name}-{version}")
    run([sys.executable, os.path.join(ROOT, "tests", "e2e", "mkdist.py"), out, name, version])
    return [os.path.join(out, f) for f in sorted(os.listdir(out))]


def twine(url, files, user="x", password="x"):
    run([os.path.join(PY_TOOLS, "twine"), "upload", "--disable-progress-bar", "--repository-url", url,
         "-u", user, f"--password={password}", *files])


def pip_install(index, spec, expect_version, *flags, tool="pip"):
    target = tempfile.mkdtemp(dir=WORK)
    if tool == "pip":
        cmd = [os.path.join(PY_TOOLS, "pip"), "install", "--disable-pip-version-check", "--no-cache-dir",
               "--target", target, "--index-url", index, *flags, spec]
    else:
        cmd = [os.path.join(PY_TOOLS, "uv"), "pip", "install", "--no-cache", "--target", target,
               "--python", sys.executable, "--index-url", index, *flags, spec]
    run(cmd)
    module = spec.split("=")[0].split("<")[0].split(">")[0].lower().replace("-", "_").replace(".", "_")
    got = run([sys.executable, "-c", f"import sys; sys.path.insert(0, {target!r}); import {module}; print({module}.VERSION)"]).stdout.strip()
    if got != expect_version:
        fail(f"{tool} install {spec} from {index} gave {got}, not {expect_version}")


def pypi_main():
    # --- pypiserver (PEP 503 HTML pages with #sha256= links) behind the fault proxy.
    pkgdir = os.path.join(WORK, "pypiserver")
    os.makedirs(pkgdir)
    port = free_port()
    procs.append(subprocess.Popen([PYPI_SERVER, "run", "-i", "127.0.0.1", "-p", str(port), "-a", ".", "-P", ".",
                                   "--hash-algo", "sha256", pkgdir],
                                  stdout=open(os.path.join(OUT, "proxy-pypiserver.log"), "w"), stderr=subprocess.STDOUT))
    wait_port(port, "/simple/")
    twine(f"http://127.0.0.1:{port}/", mkdist("demo-pkg", "1.0.0"))
    fault = FaultProxy(port)
    up = f"http://127.0.0.1:{fault.port}/simple/"

    # --- a hosted cairn as the second upstream: JSON pages with upload-time and yanks.
    upstream_cairn = Cairn(CAIRN, os.path.join(WORK, "cairn-upstream")).start(os.path.join(OUT, "proxy-cairn-upstream.log"))
    procs.append(upstream_cairn.proc)
    hosted = f"http://127.0.0.1:{upstream_cairn.port}/pypi/main/"
    twine(hosted, mkdist("aged-pkg", "1.0.0"), "admin", upstream_cairn.password)
    time.sleep(2.1)
    cutoff = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    time.sleep(1.1)
    twine(hosted, mkdist("aged-pkg", "1.1.0"), "admin", upstream_cairn.password)
    cairn_fault = FaultProxy(upstream_cairn.port)

    proxies = (f'[{{format="pypi", name="pypiup", upstream="{up}", revalidate_after_secs=0, revalidate_wait_ms=30000}},'
               f' {{format="pypi", name="cairnup", upstream="http://127.0.0.1:{cairn_fault.port}/pypi/main/simple/",'
               f' ttl_secs=1, revalidate_after_secs=0, revalidate_wait_ms=30000}}]')
    cairn = Cairn(CAIRN, os.path.join(WORK, "cairn-pypi"), env={"CAIRN_PROXY": proxies}).start(
        os.path.join(OUT, "proxy-cairn-pypi.log"))
    procs.append(cairn.proc)
    index = f"http://127.0.0.1:{cairn.port}/pypi/pypiup/simple/"

    pip_install(index, "demo-pkg", "1.0.0")
    pip_install(index, "demo-pkg", "1.0.0")
    n = fault.count("GET", "/packages/")
    if n != 1:
        fail(f"two pip installs fetched the file {n} times from the upstream")
    status, headers, body = http_get(cairn.port, "/pypi/pypiup/simple/demo-pkg/",
                                     {"Accept": "application/vnd.pypi.simple.v1+json"})
    page = json.loads(body)
    if status != 200 or not page["files"][0]["url"].startswith(f"http://127.0.0.1:{cairn.port}/pypi/pypiup/files/demo-pkg/"):
        fail(f"proxied page: {status} {body[:300]}")
    ok("pip installs through a proxy of pypiserver (HTML pages); the second install fetches nothing; file URLs through cairn")
    # The project list, read from pypiserver's HTML and from cairn's JSON,
    # served in either representation with links through cairn.
    status, _, body = http_get(cairn.port, "/pypi/pypiup/simple/", {"Accept": "application/vnd.pypi.simple.v1+json"})
    listed = [p["name"] for p in json.loads(body).get("projects", [])] if status == 200 else []
    status2, _, html = http_get(cairn.port, "/pypi/cairnup/simple/", {"Accept": "text/html"})
    if "demo-pkg" not in listed or status2 != 200 or b'href="aged-pkg/"' not in html:
        fail(f"the proxied project lists: {status} {listed} / {status2} {html[:200]!r}")
    ok("the project list (/simple/) through a proxy of pypiserver (HTML) and of a cairn (JSON), in both representations")

    fault.mode = "reset"
    pip_install(index, "demo-pkg", "1.0.0")
    fault.mode = "pass"
    ok("pip install with the upstream dead: served from the cache")

    twine(f"http://127.0.0.1:{port}/", mkdist("demo-pkg", "1.1.0"))
    pip_install(index, "demo-pkg==1.1.0", "1.1.0")
    ok("a version uploaded upstream installs through the proxy at once")

    status = tampered_get(fault, cairn.port, "/pypi/pypiup/files/demo-pkg/demo_pkg-1.1.0.tar.gz")
    if status == 200:
        fail("a tampered sdist was served whole")
    status, _, body = http_get(cairn.port, "/pypi/pypiup/files/demo-pkg/demo_pkg-1.1.0.tar.gz")
    if status != 200 or fault.count("GET", "/packages/demo_pkg-1.1.0.tar.gz") != 2:
        fail(f"after a tampered fetch: {status}, {fault.count('GET', '/packages/demo_pkg-1.1.0.tar.gz')} fetches")
    ok("a tampered file is refused (the stream fails before its last byte) and not cached")

    r = run([os.path.join(PY_TOOLS, "twine"), "upload", "--disable-progress-bar", "--repository-url",
             f"http://127.0.0.1:{cairn.port}/pypi/pypiup/", "-u", "admin", f"--password={cairn.password}",
             *mkdist("mine", "1.0.0")], check=False)
    if r.returncode == 0 or "proxy" not in r.stdout:
        fail(f"twine upload to a proxy: {r.stdout[-500:]}")
    ok("twine upload to a proxy repository is refused, saying why")

    # --- through a proxy of a hosted cairn: release-age cutoffs and yanks travel.
    index2 = f"http://127.0.0.1:{cairn.port}/pypi/cairnup/simple/"
    pip_install(index2, "aged-pkg", "1.1.0")
    pip_install(index2, "aged-pkg", "1.0.0", "--exclude-newer", cutoff, tool="uv")
    pip_install(hosted + "simple/", "aged-pkg", "1.0.0", "--exclude-newer", cutoff, tool="uv")
    _, _, body = http_get(cairn.port, "/pypi/cairnup/simple/aged-pkg/", {"Accept": "application/vnd.pypi.simple.v1+json"})
    _, _, direct = http_get(upstream_cairn.port, "/pypi/main/simple/aged-pkg/", {"Accept": "application/vnd.pypi.simple.v1+json"})
    times = lambda b: sorted((f["filename"], f["upload-time"]) for f in json.loads(b)["files"])  # noqa: E731
    if times(body) != times(direct):
        fail(f"upload times differ through the proxy: {times(body)} vs {times(direct)}")
    ok("uv --exclude-newer picks the same version through the proxy as from the upstream (PEP 700 upload-time kept)")

    status, _, _ = upstream_cairn.request(
        "POST", "/api/v1/packages/pypi/main/aged-pkg/versions/1.1.0",
        json.dumps({"action": "yank", "reason": "broken build"}).encode(),
        {"Content-Type": "application/json"}, auth=upstream_cairn.basic)
    if status != 200:
        fail(f"yanking upstream: {status}")
    time.sleep(1.2)
    _, _, body = http_get(cairn.port, "/pypi/cairnup/simple/aged-pkg/", {"Accept": "application/vnd.pypi.simple.v1+json"})
    yanked = {f["filename"]: f["yanked"] for f in json.loads(body)["files"]}
    if yanked.get("aged_pkg-1.1.0.tar.gz") != "broken build" or yanked.get("aged_pkg-1.0.0.tar.gz") is not False:
        fail(f"the yank did not travel: {yanked}")
    _, _, html = http_get(cairn.port, "/pypi/cairnup/simple/aged-pkg/")
    if b'data-yanked="broken build"' not in html:
        fail(f"the HTML page lost the yank marker: {html[:500]}")
    pip_install(index2, "aged-pkg", "1.0.0")
    ok("a yank upstream shows through the proxy (JSON and HTML markers); pip skips the yanked version")


def start_distribution():
    port = free_port()
    d = os.path.join(WORK, "distribution")
    os.makedirs(d)
    with open(os.path.join(d, "config.yml"), "w") as f:
        f.write(f"""version: 0.1
log: {{level: warn}}
storage: {{filesystem: {{rootdirectory: {d}/data}}, delete: {{enabled: true}}}}
http: {{addr: "127.0.0.1:{port}"}}
""")
    procs.append(subprocess.Popen(["docker-registry", "serve", os.path.join(d, "config.yml")],
                                  stdout=open(os.path.join(OUT, "proxy-distribution.log"), "w"), stderr=subprocess.STDOUT))
    wait_port(port, "/v2/")
    return port


CRANE = os.path.join(ROOT, ".tools", "bin", "crane")


def crane(*args, check=True):
    return run([CRANE, *args], check=check)


def push_image(registry, repo, tag, arch, layer_bytes):
    layer = os.path.join(WORK, f"layer-{repo.replace('/', '_')}-{tag}-{arch}.tar")
    import tarfile
    import io
    with tarfile.open(layer, "w") as t:
        data = os.urandom(layer_bytes)
        info = tarfile.TarInfo(f"data-{arch}.bin")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    ref = f"{registry}/{repo}:{tag}"
    crane("append", "--oci-empty-base", "--insecure", "-f", layer, "-t", ref)
    crane("mutate", "--insecure", "--set-platform", f"linux/{arch}", ref, "-t", ref)
    return crane("digest", "--insecure", ref).stdout.strip()


def put_index(port, repo, tag, children):
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
    for arch, ref in children:
        raw = crane("manifest", "--insecure", ref).stdout.encode()
        index["manifests"].append({"mediaType": json.loads(raw)["mediaType"],
                                   "digest": "sha256:" + hashlib.sha256(raw).hexdigest(), "size": len(raw),
                                   "platform": {"architecture": arch, "os": "linux"}})
    body = json.dumps(index).encode()
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("PUT", f"/v2/{repo}/manifests/{tag}", body, {"Content-Type": index["mediaType"]})
    r = c.getresponse()
    r.read()
    if r.status != 201:
        fail(f"PUT index: {r.status}")
    return "sha256:" + hashlib.sha256(body).hexdigest()


def skopeo_pull(ref, arch, dest_name):
    dest = os.path.join(WORK, "oci-" + dest_name)
    run(["skopeo", "--command-timeout", "60s", "--override-arch", arch, "--override-os", "linux", "copy",
         "--src-tls-verify=false", f"docker://{ref}", f"oci:{dest}:x"])
    return dest


def oci_main():
    dport = start_distribution()
    up = f"127.0.0.1:{dport}"
    amd = push_image(up, "team/app", "amd64", "amd64", 6 << 20)
    arm = push_image(up, "team/app", "arm64", "arm64", 64 << 10)
    index = put_index(dport, "team/app", "multi", [("amd64", f"{up}/team/app:amd64"), ("arm64", f"{up}/team/app:arm64")])
    fault = FaultProxy(dport)

    # A cairn that needs credentials, as the second upstream: its token flow.
    private = Cairn(CAIRN, os.path.join(WORK, "cairn-oci-upstream"), env={"CAIRN_AUTH__ANONYMOUS_READ": "false"}).start(
        os.path.join(OUT, "proxy-cairn-oci-upstream.log"))
    procs.append(private.proc)
    priv = f"127.0.0.1:{private.port}"
    crane("auth", "login", priv, "-u", "admin", f"--password={private.password}")
    secret = push_image(priv, "vault/img", "v1", "amd64", 32 << 10)

    proxies = (f'[{{format="oci", name="hub", upstream="http://127.0.0.1:{fault.port}/", namespace="upstream.test",'
               f' revalidate_after_secs=0, revalidate_wait_ms=30000}},'
               f' {{format="oci", name="private", upstream="http://{priv}/", username="admin", password="{private.password}"}}]')
    cairn = Cairn(CAIRN, os.path.join(WORK, "cairn-oci"), env={"CAIRN_PROXY": proxies}).start(
        os.path.join(OUT, "proxy-cairn-oci.log"))
    procs.append(cairn.proc)
    reg = f"127.0.0.1:{cairn.port}"

    # --- cold pull of one platform of a multi-platform index: a sparse cache.
    skopeo_pull(f"{reg}/hub/team/app:multi", "arm64", "arm")
    if crane("digest", "--insecure", f"{reg}/hub/team/app:multi").stdout.strip() != index:
        fail("the proxied index has another digest")
    if fault.count("GET", f"/manifests/{amd}"):
        fail("pulling arm64 fetched the amd64 manifest (the index should be cached sparse)")
    blobs_before = fault.count("GET", "/blobs/")
    skopeo_pull(f"{reg}/hub/team/app:multi", "arm64", "arm2")
    if fault.count("GET", "/blobs/") != blobs_before:
        fail("a warm pull fetched blobs again")
    ok("skopeo pulls one platform of a multi-platform index through an OCI proxy of Distribution; the other platform is never fetched (sparse index); a warm pull fetches no blob")

    # --- 50 concurrent cold requests for the 6 MiB amd64 layer: one upstream GET.
    manifest = json.loads(crane("manifest", "--insecure", f"{reg}/hub/team/app@{amd}").stdout)
    layer = manifest["layers"][0]["digest"]
    fault.reset_counts()
    fault.delay_ms = 300
    results, errors = [], []

    def fetch():
        try:
            st, _, body = http_get(cairn.port, f"/v2/hub/team/app/blobs/{layer}", timeout=120)
            results.append(st == 200 and "sha256:" + hashlib.sha256(body).hexdigest() == layer)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=fetch) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fault.delay_ms = 0
    if errors or len(results) != 50 or not all(results):
        fail(f"concurrent blob pulls: {sum(results)} good of {len(results)}, errors {errors[:3]}")
    if fault.count("GET", f"/blobs/{layer}") != 1:
        fail(f"50 concurrent cold blob requests made {fault.count('GET', f'/blobs/{layer}')} upstream requests")
    ok("50 concurrent cold requests for one layer: 1 upstream request, 50 verified bodies")

    # --- the upstream dies: tags and blobs still pull.
    skopeo_pull(f"{reg}/hub/team/app:multi", "amd64", "amd")
    fault.mode = "reset"
    skopeo_pull(f"{reg}/hub/team/app:multi", "arm64", "arm3")
    skopeo_pull(f"{reg}/hub/team/app:multi", "amd64", "amd2")
    fault.mode = "pass"
    ok("skopeo pulls by tag with the upstream dead (cached tag, manifests and blobs)")

    # --- a tag moved upstream is seen at once; tag checks are HEADs.
    moved = push_image(up, "team/app", "multi", "amd64", 16 << 10)
    fault.reset_counts()
    got = crane("digest", "--insecure", f"{reg}/hub/team/app:multi").stdout.strip()
    if got != moved:
        fail(f"the moved tag reads {got}, not {moved}")
    if fault.count("HEAD", "/manifests/multi") != 1:
        fail(f"tag revalidation: {fault.counts}")
    ok("a tag moved upstream is seen through the proxy at once (a HEAD compares digests, then one GET)")

    # --- a tampered blob is refused and not cached.
    small = json.loads(crane("manifest", "--insecure", f"{reg}/hub/team/app@{moved}").stdout)["layers"][0]["digest"]
    st = tampered_get(fault, cairn.port, f"/v2/hub/team/app/blobs/{small}")
    if st == 200:
        fail("a tampered blob was served whole")
    st, _, body = http_get(cairn.port, f"/v2/hub/team/app/blobs/{small}")
    if st != 200 or "sha256:" + hashlib.sha256(body).hexdigest() != small or fault.count("GET", f"/blobs/{small}") != 2:
        fail(f"after a tampered fetch: {st}")
    ok("a tampered blob is refused (the stream fails before its last byte) and not cached")

    # --- a private upstream: cairn answers its Bearer challenge with its credentials.
    got = crane("digest", "--insecure", f"{reg}/private/vault/img:v1").stdout.strip()
    if got != secret:
        fail(f"through the private upstream: {got}")
    skopeo_pull(f"{reg}/private/vault/img:v1", "amd64", "private")
    ok("an upstream that needs a token: cairn follows its Bearer challenge with the configured credentials")

    # --- containerd's mirror parameter names the proxy's namespace.
    st, headers, _ = http_get(cairn.port, "/v2/team/app/manifests/arm64?ns=upstream.test",
                              {"Accept": "application/vnd.oci.image.manifest.v1+json"})
    if st != 200 or headers.get("docker-content-digest") != arm:
        fail(f"?ns= mirror request: {st} {headers.get('docker-content-digest')}")
    ok("containerd's ?ns= mirror requests are served by the proxy with that namespace")

    # --- no pushes to a proxy.
    crane("auth", "login", reg, "-u", "admin", f"--password={cairn.password}")
    r = crane("copy", "--insecure", f"{reg}/hub/team/app:arm64", f"{reg}/hub/team/other:x", check=False)
    if r.returncode == 0 or "UNSUPPORTED" not in r.stdout:
        fail(f"a push to a proxy: {r.stdout[-400:]}")
    ok("a push into a proxy repository is refused (UNSUPPORTED)")

    st, _, body = cairn.request("GET", "/api/v1/proxies/oci/hub/cache?prefix=blob/", auth=cairn.basic)
    keys = [e["key"] for e in json.loads(body)["entries"]] if st == 200 else []
    if f"blob/team/app@{layer}" not in keys:
        fail(f"the OCI proxy's cache listing: {st} {body[:300]}")
    ok("the admin API lists an OCI proxy's cache")


def module_zip(module, version):
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{module}@{version}/go.mod", f"module {module}\n\ngo 1.21\n")
        z.writestr(f"{module}@{version}/lib.go", f'package lib\n\nconst Version = "{version}"\n')
    return buf.getvalue()


def go_download(proxy_url, spec, cache):
    env = {"GOPROXY": proxy_url, "GONOSUMDB": "example.com", "GONOSUMCHECK": "1", "GOFLAGS": "-mod=mod",
           "GOTOOLCHAIN": "local", "GOMODCACHE": cache, "GOPATH": os.path.join(WORK, "gopath")}
    out = run(["go", "mod", "download", "-json", spec], env=env, cwd=WORK).stdout
    return json.loads(out)


def go_main():
    upstream = Cairn(CAIRN, os.path.join(WORK, "cairn-go-upstream")).start(os.path.join(OUT, "proxy-cairn-go-upstream.log"))
    procs.append(upstream.proc)

    def publish(version):
        st, _, body = upstream.request("PUT", f"/go/main/example.com/lib/@v/{version}.zip",
                                       module_zip("example.com/lib", version), auth=upstream.basic)
        if st not in (200, 201):
            fail(f"publishing example.com/lib {version} upstream: {st} {body[:200]}")

    publish("v1.0.0")
    fault = FaultProxy(upstream.port)
    proxies = (f'[{{format="go", name="gomirror", upstream="http://127.0.0.1:{fault.port}/go/main/",'
               f' revalidate_after_secs=0, revalidate_wait_ms=30000}}]')
    cairn = Cairn(CAIRN, os.path.join(WORK, "cairn-go"), env={"CAIRN_PROXY": proxies}).start(
        os.path.join(OUT, "proxy-cairn-go.log"))
    procs.append(cairn.proc)
    mirror = f"http://127.0.0.1:{cairn.port}/go/gomirror"
    direct = f"http://127.0.0.1:{upstream.port}/go/main"

    got = go_download(mirror, "example.com/lib@v1.0.0", os.path.join(WORK, "gocache1"))
    want = go_download(direct, "example.com/lib@v1.0.0", os.path.join(WORK, "gocache-direct"))
    if got["Sum"] != want["Sum"] or not got["Sum"].startswith("h1:"):
        fail(f"go mod download through the proxy: {got.get('Sum')} vs {want.get('Sum')}")
    ok("go mod download through a Go proxy repository (another cairn upstream): the same h1: sum as straight from the upstream")

    fault.mode = "reset"
    got = go_download(mirror, "example.com/lib@v1.0.0", os.path.join(WORK, "gocache2"))
    fault.mode = "pass"
    if got["Sum"] != want["Sum"]:
        fail("go mod download with the upstream dead")
    ok("go mod download with the upstream dead: served from the cache")

    publish("v1.1.0")
    env = {"GOPROXY": mirror, "GONOSUMDB": "example.com", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local",
           "GOMODCACHE": os.path.join(WORK, "gocache3"), "GOPATH": os.path.join(WORK, "gopath")}
    versions = run(["go", "list", "-m", "-versions", "example.com/lib"], env=env, cwd=WORK).stdout.split()
    latest = go_download(mirror, "example.com/lib@latest", os.path.join(WORK, "gocache3"))
    if "v1.1.0" not in versions or latest["Version"] != "v1.1.0":
        fail(f"a version published upstream: versions {versions}, latest {latest.get('Version')}")
    ok("a version published upstream is listed and is @latest through the proxy at once")

    # --- the checksum database through cairn: a real sumdb (x/mod's server,
    # tests/e2e/sumdb) behind a fault proxy; the go command verifies against it.
    sumdb_bin = os.path.join(WORK, "sumdb")
    run(["go", "build", "-o", sumdb_bin, "."], cwd=os.path.join(ROOT, "tests", "e2e", "sumdb"),
        env={"GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"})
    sport = free_port()
    sumdb = subprocess.Popen([sumdb_bin, "sum.cairn.test", f"127.0.0.1:{sport}", direct], stdout=subprocess.PIPE,
                             stderr=open(os.path.join(OUT, "proxy-sumdb.log"), "w"), text=True)
    procs.append(sumdb)
    vkey = sumdb.stdout.readline().strip()
    wait_port(sport, "/latest")
    sum_fault = FaultProxy(sport)
    proxies2 = (f'[{{format="go", name="gosum", upstream="http://127.0.0.1:{fault.port}/go/main/",'
                f' sumdb_url="http://127.0.0.1:{sum_fault.port}/", sumdb_name="sum.cairn.test"}}]')
    cairn2 = Cairn(CAIRN, os.path.join(WORK, "cairn-go-sumdb"), env={"CAIRN_PROXY": proxies2}).start(
        os.path.join(OUT, "proxy-cairn-go-sumdb.log"))
    procs.append(cairn2.proc)

    def verified_download(tag):
        env = {"GOPROXY": f"http://127.0.0.1:{cairn2.port}/go/gosum", "GOSUMDB": vkey, "GONOSUMDB": "",
               "GOPRIVATE": "", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local",
               "GOMODCACHE": os.path.join(WORK, f"sumcache-{tag}"), "GOPATH": os.path.join(WORK, f"sumpath-{tag}")}
        return json.loads(run(["go", "mod", "download", "-json", "example.com/lib@v1.0.0"], env=env, cwd=WORK).stdout)

    got = verified_download("1")
    if got["Sum"] != want["Sum"] or sum_fault.count("GET", "/lookup/") != 1:
        fail(f"sumdb through cairn: {got.get('Sum')}, lookups {sum_fault.count('GET', '/lookup/')}")
    sum_fault.mode = "reset"
    got = verified_download("2")
    sum_fault.mode = "pass"
    if got["Sum"] != want["Sum"]:
        fail("verified download with the checksum database dead")
    ok("GOSUMDB through cairn: the go command verifies against a real checksum database proxied by cairn, also with it dead")

    st, _, _ = cairn.request("PUT", "/go/gomirror/example.com/lib/@v/v9.0.0.zip",
                             module_zip("example.com/lib", "v9.0.0"), auth=cairn.basic)
    if st != 405:
        fail(f"an upload to a Go proxy: {st}")
    ok("an upload to a Go proxy repository is refused (405)")


def maven_main():
    upstream = Cairn(CAIRN, os.path.join(WORK, "cairn-maven-upstream")).start(
        os.path.join(OUT, "proxy-cairn-maven-upstream.log"))
    procs.append(upstream.proc)
    group = "org/cairnproxytest/lib"

    def deploy(version):
        jar = os.urandom(48 << 10)
        pom = (f"<project><modelVersion>4.0.0</modelVersion><groupId>org.cairnproxytest</groupId>"
               f"<artifactId>lib</artifactId><version>{version}</version></project>").encode()
        for name, data in [(f"lib-{version}.pom", pom), (f"lib-{version}.jar", jar)]:
            st, _, body = upstream.request("PUT", f"/maven/releases/{group}/{version}/{name}", data, auth=upstream.basic)
            if st not in (200, 201):
                fail(f"deploying {name} upstream: {st} {body[:200]}")
        return jar

    jar = deploy("1.0")
    fault = FaultProxy(upstream.port)
    proxies = (f'[{{format="maven", name="central", upstream="http://127.0.0.1:{fault.port}/maven/releases/",'
               f' revalidate_after_secs=0, revalidate_wait_ms=30000}}]')
    cairn = Cairn(CAIRN, os.path.join(WORK, "cairn-maven"), env={"CAIRN_PROXY": proxies}).start(
        os.path.join(OUT, "proxy-cairn-maven.log"))
    procs.append(cairn.proc)
    m2 = os.path.join(os.path.expanduser("~"), ".m2", "repository")
    local = os.path.join(m2, "org", "cairnproxytest")

    def mvn_get(version):
        shutil.rmtree(local, ignore_errors=True)
        run(["mvn", "-B", "-q", "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get",
             f"-Dartifact=org.cairnproxytest:lib:{version}", "-Dtransitive=false",
             f"-DremoteRepositories=cairnproxy::default::http://127.0.0.1:{cairn.port}/maven/central/"], cwd=WORK)
        with open(os.path.join(local, "lib", version, f"lib-{version}.jar"), "rb") as f:
            return f.read()

    try:
        if mvn_get("1.0") != jar:
            fail("mvn got other bytes through the proxy")
        if not fault.count("GET", f"/{group}/1.0/lib-1.0.jar.sha1"):
            fail("the jar was not checked against the upstream's .sha1")
        _, up_headers, _ = http_get(upstream.port, f"/maven/releases/{group}/1.0/lib-1.0.jar")
        _, headers, _ = http_get(cairn.port, f"/maven/central/{group}/1.0/lib-1.0.jar")
        if not up_headers.get("last-modified") or headers.get("last-modified") != up_headers.get("last-modified"):
            fail(f"Last-Modified through the proxy: {headers.get('last-modified')} vs {up_headers.get('last-modified')}")
        ok("mvn dependency:get through a Maven proxy repository (another cairn upstream); the jar checked against the upstream's .sha1; its Last-Modified (publish time) kept")

        fault.mode = "reset"
        if mvn_get("1.0") != jar:
            fail("mvn with the upstream dead")
        fault.mode = "pass"
        ok("mvn dependency:get with the upstream dead: served from the cache")

        deploy("1.1")
        st, _, body = http_get(cairn.port, f"/maven/central/{group}/maven-metadata.xml")
        if st != 200 or b"<version>1.1</version>" not in body:
            fail(f"maven-metadata.xml through the proxy after a new version: {st} {body[:300]}")
        http_get(cairn.port, f"/maven/central/{group}/1.1/lib-1.1.jar.sha1")
        fault.tamper_paths = ["/lib-1.1.jar"]
        st = tampered_get(fault, cairn.port, f"/maven/central/{group}/1.1/lib-1.1.jar")
        if st == 200:
            fail("a jar that does not match the upstream's .sha1 was served whole")
        st, _, body = http_get(cairn.port, f"/maven/central/{group}/1.1/lib-1.1.jar")
        if st != 200 or fault.count("GET", f"/{group}/1.1/lib-1.1.jar") < 2:
            fail(f"after a tampered fetch: {st}")
        ok("a new version shows in the proxied maven-metadata.xml at once; a jar that fails its .sha1 is refused and not cached")

        st, _, _ = cairn.request("PUT", f"/maven/central/{group}/9.0/lib-9.0.jar", b"x", auth=cairn.basic)
        if st != 405:
            fail(f"a deploy to a Maven proxy: {st}")
        ok("mvn deploy to a proxy repository is refused (405)")
    finally:
        shutil.rmtree(local, ignore_errors=True)


def cargo_main():
    upstream = Cairn(CAIRN, os.path.join(WORK, "cairn-cargo-upstream")).start(
        os.path.join(OUT, "proxy-cairn-cargo-upstream.log"))
    procs.append(upstream.proc)
    st, _, body = upstream.request("POST", "/api/v1/tokens",
                                   json.dumps({"description": "cargo", "scopes": ["cargo/**:read,publish,yank"]}).encode(),
                                   {"Content-Type": "application/json"}, auth=upstream.basic)
    token = json.loads(body)["token"]
    fault = FaultProxy(upstream.port)
    proxies = (f'[{{format="cargo", name="cratesio", upstream="http://127.0.0.1:{fault.port}/cargo/main/index/",'
               f' revalidate_after_secs=0, revalidate_wait_ms=30000}}]')
    cairn = Cairn(CAIRN, os.path.join(WORK, "cairn-cargo"), env={"CAIRN_PROXY": proxies}).start(
        os.path.join(OUT, "proxy-cairn-cargo.log"))
    procs.append(cairn.proc)

    def cargo_env(home):
        os.makedirs(home, exist_ok=True)
        return {"CARGO_HOME": home, "CARGO_TARGET_DIR": os.path.join(WORK, "cargo-target"), "CARGO_TERM_COLOR": "never",
                "CARGO_REGISTRIES_UP_INDEX": f"sparse+http://127.0.0.1:{upstream.port}/cargo/main/index/",
                "CARGO_REGISTRIES_UP_TOKEN": token,
                "CARGO_REGISTRIES_MIRROR_INDEX": f"sparse+http://127.0.0.1:{cairn.port}/cargo/cratesio/index/",
                "CARGO_NET_RETRY": "0"}

    def publish(version):
        d = os.path.join(WORK, f"crate-{version}")
        os.makedirs(os.path.join(d, "src"))
        with open(os.path.join(d, "Cargo.toml"), "w") as f:
            f.write(f'[package]\nname = "proxied-crate"\nversion = "{version}"\nedition = "2021"\n'
                    f'description = "x"\nlicense = "MIT"\n')
        with open(os.path.join(d, "src", "lib.rs"), "w") as f:
            f.write(f'pub fn v() -> &\'static str {{ "{version}" }}\n')
        run(["cargo", "publish", "--registry", "up", "--allow-dirty", "--no-verify"], cwd=d,
            env=cargo_env(os.path.join(WORK, "cargo-home-pub")))

    def consumer(req, home, check=True):
        d = tempfile.mkdtemp(dir=WORK)
        os.makedirs(os.path.join(d, "src"))
        with open(os.path.join(d, "Cargo.toml"), "w") as f:
            f.write(f'[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
                    f'[dependencies]\nproxied-crate = {{ version = "{req}", registry = "mirror" }}\n')
        with open(os.path.join(d, "src", "main.rs"), "w") as f:
            f.write('fn main() { println!("{}", proxied_crate::v()); }\n')
        r = run(["cargo", "run", "-q"], cwd=d, env=cargo_env(home), check=check)
        return r.stdout.strip() if check else r

    publish("0.1.0")
    if consumer("0.1", os.path.join(WORK, "cargo-home-1")) != "0.1.0":
        fail("cargo through the proxy")
    if fault.count("GET", "/download") != 1:
        fail(f"crate downloads: {fault.count('GET', '/download')}")
    ok("cargo builds a project whose dependency comes through a Cargo proxy repository (sparse index, another cairn upstream)")

    fault.mode = "reset"
    if consumer("0.1", os.path.join(WORK, "cargo-home-2")) != "0.1.0":
        fail("cargo with the upstream dead")
    fault.mode = "pass"
    ok("cargo builds with the upstream dead: index and crate from the cache")

    publish("0.2.0")
    if consumer("0.2", os.path.join(WORK, "cargo-home-3")) != "0.2.0":
        fail("a version published upstream through the proxy")
    _, _, mine = http_get(cairn.port, "/cargo/cratesio/index/pr/ox/proxied-crate")
    _, _, theirs = http_get(upstream.port, "/cargo/main/index/pr/ox/proxied-crate")
    if mine != theirs or b'"pubtime"' not in mine:
        fail(f"index lines differ through the proxy, or lack pubtime: {mine[:300]}")
    ok("a version published upstream builds through the proxy at once; index lines (pubtime included) are the upstream's")

    run(["cargo", "yank", "--registry", "up", "proxied-crate@0.2.0"], cwd=WORK, env=cargo_env(os.path.join(WORK, "cargo-home-pub")))
    _, _, mine = http_get(cairn.port, "/cargo/cratesio/index/pr/ox/proxied-crate")
    yanked = [json.loads(line)["yanked"] for line in mine.splitlines() if b'"0.2.0"' in line]
    if yanked != [True]:
        fail(f"a yank upstream did not show: {mine[:300]}")
    r = consumer("0.2", os.path.join(WORK, "cargo-home-4"), check=False)
    if r.returncode == 0 or "yanked" not in r.stdout:
        fail(f"cargo resolved a yanked version through the proxy for a new lockfile: {r.stdout[-300:]}")
    ok("cargo yank upstream shows through the proxy; a new resolution skips the yanked version")

    # cargo search and the owners list: the upstream's web API, through cairn.
    r = run(["cargo", "search", "--registry", "mirror", "proxied"], cwd=WORK,
            env=cargo_env(os.path.join(WORK, "cargo-home-search")))
    status, _, owners = http_get(cairn.port, "/cargo/cratesio/api/v1/crates/proxied-crate/owners")
    if "proxied-crate" not in r.stdout or status != 200 or "users" not in json.loads(owners):
        fail(f"cargo search / owners through the proxy: {r.stdout[-300:]} {status} {owners[:200]!r}")
    ok("cargo search and the owners list through a Cargo proxy repository (the upstream's web API)")

    publish("0.3.0")
    http_get(cairn.port, "/cargo/cratesio/index/pr/ox/proxied-crate")
    fault.tamper_paths = ["/download"]
    st = tampered_get(fault, cairn.port, "/cargo/cratesio/api/v1/crates/proxied-crate/0.3.0/download")
    if st == 200:
        fail("a .crate that does not match its cksum was served whole")
    if consumer("0.3", os.path.join(WORK, "cargo-home-5")) != "0.3.0":
        fail("the honest .crate after a tampered one")
    if fault.count("GET", "/proxied-crate/0.3.0/download") != 2:
        fail(f"the tampered .crate was cached: {fault.count('GET', '/proxied-crate/0.3.0/download')} fetches")
    ok("a .crate that does not match the index's cksum is refused and not cached")


try:
    main()
    pypi_main()
    oci_main()
    go_main()
    maven_main()
    cargo_main()
    pnpm_release_age()
finally:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(WORK, ignore_errors=True)
