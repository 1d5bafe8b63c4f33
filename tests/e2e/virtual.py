#!/usr/bin/env python3
"""Virtual repositories with the real clients: one URL over a hosted member
and a proxy member whose upstream is another cairn (the "public" registry).

For npm (npm) and PyPI (pip and uv): the same name published privately at
1.0.0 and publicly at 99.0.0, the public one already in the proxy's cache →
the client installs 1.0.0 through the virtual repository, the merged listing
shows only 1.0.0, and a direct download of 99.0.0 through it is refused
naming the rule; a claimed namespace with nothing hosted resolves nothing
from outside; publishing to the virtual repository lands in its hosted
member. Cooldown: a version "published" upstream an hour ago (the
upstream's publish time set back in its database) is left out and refused,
an old one installs, an exempt one installs. Then the owner's override
(allow_external) → both versions listed, the hosted `latest` kept.

Usage: virtual.py CAIRN OUT_DIR [LOG_PREFIX]. DOWN_CAIRN_* variables configure
the cairn under test (as CAIRN_*: PostgreSQL, S3), not the upstream.
"""

import base64
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from cairnproc import Cairn  # noqa: E402

CAIRN, OUT = sys.argv[1], sys.argv[2]
PREFIX = sys.argv[3] if len(sys.argv) > 3 else "virtual"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PY_TOOLS = os.path.join(ROOT, ".tools", "py", "bin")
os.environ["PATH"] = os.path.join(ROOT, ".tools", "node", "node_modules", ".bin") + os.pathsep + os.environ["PATH"]
WORK = tempfile.mkdtemp(prefix="cairn-virtual-")
LOG = open(os.path.join(OUT, f"{PREFIX}-tools.log"), "w")
# DOWN_CAIRN_* variables configure the cairn under test only (as CAIRN_*),
# e.g. PostgreSQL and S3, while the upstream stays on its own SQLite.
DOWN_ENV = {k.removeprefix("DOWN_"): v for k, v in os.environ.items() if k.startswith("DOWN_CAIRN_")}
HOUR = 3600
DAY = 24 * HOUR


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def ok(msg):
    print(f"ok - {msg}")


def run(cmd, cwd=None, env=None, check=True):
    r = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    LOG.write(f"$ {' '.join(cmd)}\n{r.stdout}\n")
    LOG.flush()
    if check and r.returncode != 0:
        fail(f"{' '.join(cmd)} failed:\n{r.stdout[-3000:]}")
    return r


def get(port, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def backdate(server, fmt, repo, package, version, secs_ago):
    """Sets a version's publish time (and its files') back in the upstream's
    own database, as if it had been published `secs_ago` seconds ago, and
    moves the package's revision so the upstream renders it again."""
    at = int(time.time()) - secs_ago
    db = sqlite3.connect(os.path.join(server.data_dir, "cairn.db"), timeout=30)
    with db:
        n = db.execute("UPDATE package_versions SET published_at=?, changed_at=? WHERE format=? AND repository=?"
                       " AND package=? AND version=?", (at, at, fmt, repo, package, version)).rowcount
        db.execute("UPDATE package_files SET created_at=? WHERE format=? AND repository=? AND package=? AND version=?",
                   (at, fmt, repo, package, version))
        # A change like any other: what the upstream rendered before is stale.
        db.execute("UPDATE packages SET revision=revision+1 WHERE format=? AND repository=? AND package=?",
                   (fmt, repo, package))
    db.close()
    if n != 1:
        fail(f"backdating {fmt}/{repo}/{package}@{version}: {n} rows")


# --- npm
def npm_env(registry, auth_for=None, password=None):
    home = tempfile.mkdtemp(dir=WORK)
    rc = os.path.join(home, "npmrc")
    with open(rc, "w") as f:
        f.write(f"registry={registry}\n")
        if auth_for:
            b64 = base64.b64encode(f"admin:{password}".encode()).decode()
            f.write(f"//{auth_for.split('://', 1)[1]}:_auth={b64}\n")
    return {"npm_config_userconfig": rc, "npm_config_cache": os.path.join(home, "cache"),
            "npm_config_audit": "false", "npm_config_fund": "false", "npm_config_update_notifier": "false"}


def npm_publish(registry, password, name, version):
    d = os.path.join(WORK, "src", f"{name.replace('/', '_')}-{version}")
    os.makedirs(d)
    with open(os.path.join(d, "package.json"), "w") as f:
        json.dump({"name": name, "version": version, "main": "index.js", "license": "MIT"}, f)
    with open(os.path.join(d, "index.js"), "w") as f:
        f.write(f"module.exports = '{name}@{version}';\n")
    run(["npm", "publish", d], env=npm_env(registry, registry, password))


def npm_install(registry, spec, expect_version=None):
    proj = tempfile.mkdtemp(dir=WORK)
    with open(os.path.join(proj, "package.json"), "w") as f:
        json.dump({"name": "consumer", "version": "1.0.0", "private": True}, f)
    r = run(["npm", "install", "--no-package-lock", spec], cwd=proj, env=npm_env(registry),
            check=expect_version is not None)
    if expect_version is None:
        return r
    name = spec.rsplit("@", 1)[0] if spec.rfind("@") > 0 else spec
    with open(os.path.join(proj, "node_modules", name, "package.json")) as f:
        got = json.load(f)["version"]
    if got != expect_version:
        fail(f"npm install {spec} through {registry} gave {got}, not {expect_version}")
    return r


def start_downstream(up, extra="", password=None):
    proxies = (f'[{{format="npm", name="npmjs", upstream="http://127.0.0.1:{up.port}/npm/public/",'
               f' revalidate_after_secs=0, revalidate_wait_ms=30000, negative_ttl_secs=0}},'
               f' {{format="pypi", name="pypiorg", upstream="http://127.0.0.1:{up.port}/pypi/public/simple/",'
               f' revalidate_after_secs=0, revalidate_wait_ms=30000, negative_ttl_secs=0}},'
               f' {{format="cargo", name="cratesio", upstream="http://127.0.0.1:{up.port}/cargo/public/index/",'
               f' revalidate_after_secs=0, revalidate_wait_ms=30000, negative_ttl_secs=0}},'
               f' {{format="go", name="goproxy", upstream="http://127.0.0.1:{up.port}/go/public/",'
               f' revalidate_after_secs=0, revalidate_wait_ms=30000, negative_ttl_secs=0}},'
               f' {{format="maven", name="central", upstream="http://127.0.0.1:{up.port}/maven/public/",'
               f' revalidate_after_secs=0, revalidate_wait_ms=30000, negative_ttl_secs=0}},'
               f' {{format="oci", name="hub", upstream="http://127.0.0.1:{up.port}/",'
               f' revalidate_after_secs=0, revalidate_wait_ms=30000, negative_ttl_secs=0}}]')
    common = (f'members=["internal", "PROXY"], publish_to="internal", claims=["acme-claimed-*"],'
              f' cooldown_hours=2, cooldown_exempt=["hotfix-*"]{extra}')
    virtuals = (f'[{{format="npm", name="all", {common.replace("PROXY", "npmjs")}}},'
                f' {{format="pypi", name="all", {common.replace("PROXY", "pypiorg")}}},'
                f' {{format="cargo", name="all", {common.replace("PROXY", "cratesio")}}},'
                f' {{format="go", name="all", {common.replace("PROXY", "goproxy")}}},'
                f' {{format="maven", name="all", {common.replace("PROXY", "central")}}},'
                f' {{format="oci", name="all", members=["internal", "hub"], publish_to="internal", claims=["acme/*"]}}]')
    return Cairn(CAIRN, os.path.join(WORK, "down"), password=password,
                 env={"CAIRN_PROXY": proxies, "CAIRN_VIRTUAL": virtuals, **DOWN_ENV})


def npm_main(up, down):
    pub = f"http://127.0.0.1:{up.port}/npm/public/"
    allr = f"http://127.0.0.1:{down.port}/npm/all/"
    # The private name, published through the virtual repository (to its hosted member).
    npm_publish(allr, down.password, "acme-utils", "1.0.0")
    st, body = get(down.port, "/npm/internal/acme-utils")
    if st != 200 or "1.0.0" not in json.loads(body)["versions"]:
        fail(f"a publish to npm/all did not land in npm/internal: {st} {body[:200]}")
    # The attacker's version upstream, already in the proxy's cache.
    npm_publish(pub, up.password, "acme-utils", "99.0.0")
    backdate(up, "npm", "public", "acme-utils", "99.0.0", 30 * DAY)  # old enough for the cooldown
    npm_publish(pub, up.password, "acme-claimed-secret", "5.0.0")
    st, _ = get(down.port, "/npm/npmjs/acme-utils/-/acme-utils-99.0.0.tgz")
    if st != 200:
        fail(f"priming the proxy's cache with 99.0.0: {st}")
    npm_install(allr, "acme-utils", "1.0.0")
    st, body = get(down.port, "/npm/all/acme-utils")
    doc = json.loads(body)
    if st != 200 or sorted(doc["versions"]) != ["1.0.0"] or doc["dist-tags"].get("latest") != "1.0.0":
        fail(f"merged packument of an owned name: {st} {sorted(doc.get('versions', {}))} {doc.get('dist-tags')}")
    tarball = doc["versions"]["1.0.0"]["dist"]["tarball"]
    if not tarball.startswith(allr):
        fail(f"tarball not through the virtual repository: {tarball}")
    st, body = get(down.port, "/npm/all/acme-utils/-/acme-utils-99.0.0.tgz")
    if st != 403 or b"name ownership" not in body:
        fail(f"the cached public 99.0.0 through npm/all: {st} {body[:300]}")
    heads = [down.request("HEAD", f"/npm/all/acme-utils/-/acme-utils-{v}.tgz")[0] for v in ("99.0.0", "1.0.0")]
    if heads != [403, 200]:
        fail(f"HEAD through npm/all decided otherwise than GET: {heads}")
    ok("npm: a name published privately installs 1.0.0 through npm/all; the public 99.0.0 (cached in the proxy) is"
       " left out of the packument and its download is refused (403, name ownership); npm publish to npm/all lands in npm/internal")

    st, body = get(down.port, "/npm/all/acme-claimed-secret")
    st2, body2 = get(down.port, "/npm/all/acme-claimed-secret/-/acme-claimed-secret-5.0.0.tgz")
    if st != 404 or st2 != 403 or b"claimed" not in body2:
        fail(f"a claimed namespace resolved from outside: {st} {body[:200]} / {st2} {body2[:200]}")
    if npm_install(allr, "acme-claimed-secret").returncode == 0:
        fail("npm installed a claimed name from the public upstream")
    ok("npm: a claimed namespace with nothing hosted resolves nothing from the proxy (packument 404, tarball 403)")

    # npm search through npm/all: hosted results and the proxy's, owned names never from the proxy.
    r = run(["npm", "search", "--json", "acme"], env=npm_env(allr))
    found = [o["name"] for o in json.loads(r.stdout)]
    if found.count("acme-utils") != 1 or "acme-claimed-secret" in found:
        fail(f"npm search acme through npm/all: {found}")
    st, body = get(down.port, "/npm/npmjs/-/v1/search?text=acme")
    through_proxy = [o["package"]["name"] for o in json.loads(body)["objects"]]
    if st != 200 or "acme-claimed-secret" not in through_proxy:
        fail(f"search through the proxy itself: {st} {through_proxy}")
    ok("npm search through npm/all lists the hosted acme-utils once and leaves out the claimed name the proxy's"
       " upstream has; search through the proxy repository itself is the upstream's")

    # Cooldown: 1.0.0 a month old, 1.1.0 an hour old (the cooldown is 2 h), hotfix-lib published now but exempt.
    npm_publish(pub, up.password, "fresh-lib", "1.0.0")
    npm_publish(pub, up.password, "fresh-lib", "1.1.0")
    backdate(up, "npm", "public", "fresh-lib", "1.0.0", 30 * DAY)
    backdate(up, "npm", "public", "fresh-lib", "1.1.0", HOUR)
    npm_publish(pub, up.password, "hotfix-lib", "2.0.0")
    st, body = get(down.port, "/npm/all/fresh-lib")
    doc = json.loads(body)
    if st != 200 or sorted(doc["versions"]) != ["1.0.0"] or doc["dist-tags"]["latest"] != "1.0.0":
        fail(f"cooldown: the packument lists {sorted(doc.get('versions', {}))}, latest {doc.get('dist-tags')}")
    npm_install(allr, "fresh-lib", "1.0.0")
    st, body = get(down.port, "/npm/all/fresh-lib/-/fresh-lib-1.1.0.tgz")
    if st != 403 or b"cooldown" not in body:
        fail(f"cooldown: a direct download of the hour-old 1.1.0: {st} {body[:300]}")
    if npm_install(allr, "fresh-lib@1.1.0").returncode == 0:
        fail("npm installed fresh-lib@1.1.0, an hour old, through a 2 h cooldown")
    npm_install(allr, "hotfix-lib", "2.0.0")
    npm_install(f"http://127.0.0.1:{down.port}/npm/npmjs/", "fresh-lib", "1.1.0")
    # An owner's exemption at run time (an urgent fix): 1.1.0 at once, audited; taken back, held again
    # although its tarball is now cached.
    path = "/api/v1/virtuals/npm/all/cooldown-exempt/fresh-lib?version=1.1.0"
    st, _, body = down.request("PUT", path, json.dumps({"reason": "CVE fix"}).encode(),
                               {"Content-Type": "application/json"}, auth=down.basic)
    if st != 200:
        fail(f"exempting fresh-lib@1.1.0: {st} {body[:200]}")
    npm_install(allr, "fresh-lib", "1.1.0")
    st, _, body = down.request("GET", "/api/v1/audit?action=virtual.exempt", auth=down.basic)
    if b"fresh-lib@1.1.0" not in body:
        fail(f"the exemption is not in the audit log: {body[:300]}")
    st, _, _ = down.request("DELETE", path, auth=down.basic)
    st2, body = get(down.port, "/npm/all/fresh-lib/-/fresh-lib-1.1.0.tgz")
    st3, body3 = get(down.port, "/npm/all/fresh-lib")
    if st != 204 or st2 != 403 or "1.1.0" in json.loads(body3)["versions"]:
        fail(f"after the exemption ended: DELETE {st}, tarball {st2}, versions {sorted(json.loads(body3)['versions'])}")
    ok("npm: cooldown 2 h: the hour-old 1.1.0 is left out (latest moved to 1.0.0) and refused (403), the month-old"
       " 1.0.0 installs, an exempt version published now installs; the proxy itself still serves 1.1.0; an owner's"
       " exemption at run time (PUT .../cooldown-exempt/fresh-lib?version=1.1.0, audited) installs it at once,"
       " and once taken back the cached 1.1.0 is held again")


# --- PyPI
def mkdist(name, version):
    out = os.path.join(WORK, "dist", f"{name}-{version}")
    run([sys.executable, os.path.join(ROOT, "tests", "e2e", "mkdist.py"), out, name, version])
    return [os.path.join(out, f) for f in sorted(os.listdir(out))]


def twine(url, files, password):
    run([os.path.join(PY_TOOLS, "twine"), "upload", "--disable-progress-bar", "--repository-url", url,
         "-u", "admin", f"--password={password}", *files])


def pip_install(index, spec, expect_version=None, tool="pip"):
    target = tempfile.mkdtemp(dir=WORK)
    if tool == "pip":
        cmd = [os.path.join(PY_TOOLS, "pip"), "install", "--disable-pip-version-check", "--no-cache-dir",
               "--target", target, "--index-url", index, spec]
    else:
        cmd = [os.path.join(PY_TOOLS, "uv"), "pip", "install", "--no-cache", "--target", target,
               "--python", sys.executable, "--index-url", index, spec]
    r = run(cmd, check=expect_version is not None)
    if expect_version is None:
        return r
    module = spec.split("=")[0].lower().replace("-", "_").replace(".", "_")
    got = run([sys.executable, "-c", f"import sys; sys.path.insert(0, {target!r}); import {module}; print({module}.VERSION)"]).stdout.strip()
    if got != expect_version:
        fail(f"{tool} install {spec} from {index} gave {got}, not {expect_version}")
    return r


def page(port, repo, project):
    st, body = get(port, f"/pypi/{repo}/simple/{project}/", {"Accept": "application/vnd.pypi.simple.v1+json"})
    return st, (json.loads(body) if st == 200 else body)


def pypi_main(up, down):
    pub = f"http://127.0.0.1:{up.port}/pypi/public/"
    index = f"http://127.0.0.1:{down.port}/pypi/all/simple/"
    twine(f"http://127.0.0.1:{down.port}/pypi/all/", mkdist("acme-utils", "1.0.0"), down.password)
    st, doc = page(down.port, "internal", "acme-utils")
    if st != 200 or doc["versions"] != ["1.0.0"]:
        fail(f"an upload to pypi/all did not land in pypi/internal: {st} {doc}")
    twine(pub, mkdist("acme-utils", "99.0.0"), up.password)
    backdate(up, "pypi", "public", "acme-utils", "99.0.0", 30 * DAY)
    st, doc = page(down.port, "pypiorg", "acme-utils")
    wheel = next(f["filename"] for f in doc["files"] if f["filename"].endswith(".whl"))
    st, _ = get(down.port, f"/pypi/pypiorg/files/acme-utils/{wheel}")
    if st != 200:
        fail(f"priming the proxy's cache with {wheel}: {st}")
    pip_install(index, "acme-utils", "1.0.0")
    pip_install(index, "acme-utils", "1.0.0", tool="uv")
    st, doc = page(down.port, "all", "acme-utils")
    if st != 200 or doc["versions"] != ["1.0.0"] or any("99.0.0" in f["filename"] for f in doc["files"]):
        fail(f"merged page of an owned name: {st} {doc}")
    if not all(f["url"].startswith(f"http://127.0.0.1:{down.port}/pypi/all/files/") for f in doc["files"]):
        fail(f"file URLs not through the virtual repository: {doc['files']}")
    st, body = get(down.port, f"/pypi/all/files/acme-utils/{wheel}")
    if st != 403 or b"name ownership" not in body:
        fail(f"the cached public {wheel} through pypi/all: {st} {body[:300]}")
    if down.request("HEAD", f"/pypi/all/files/acme-utils/{wheel}")[0] != 403:
        fail("HEAD of the public wheel through pypi/all was not refused")
    if pip_install(index, "acme-utils==99.0.0").returncode == 0:
        fail("pip installed the public acme-utils 99.0.0 through pypi/all")
    ok("pip and uv: a project uploaded privately (twine to pypi/all lands in pypi/internal) installs 1.0.0 through"
       " pypi/all; the public 99.0.0, cached in the proxy, is not on the page and its download is refused (403, name ownership)")

    twine(pub, mkdist("acme-claimed-secret", "5.0.0"), up.password)
    st, _ = page(down.port, "all", "acme-claimed-secret")
    if st != 404 or pip_install(index, "acme-claimed-secret").returncode == 0:
        fail(f"a claimed namespace resolved from outside: {st}")
    ok("pip: a claimed namespace with nothing hosted resolves nothing from the proxy")

    twine(pub, mkdist("fresh-lib", "1.0.0"), up.password)
    twine(pub, mkdist("fresh-lib", "1.1.0"), up.password)
    backdate(up, "pypi", "public", "fresh-lib", "1.0.0", 30 * DAY)
    backdate(up, "pypi", "public", "fresh-lib", "1.1.0", HOUR)
    twine(pub, mkdist("hotfix-lib", "2.0.0"), up.password)
    st, doc = page(down.port, "all", "fresh-lib")
    if st != 200 or doc["versions"] != ["1.0.0"]:
        fail(f"cooldown: the page lists {doc}")
    pip_install(index, "fresh-lib", "1.0.0")
    pip_install(index, "fresh-lib", "1.0.0", tool="uv")
    st, doc = page(down.port, "pypiorg", "fresh-lib")
    young = next(f["filename"] for f in doc["files"] if "1.1.0" in f["filename"])
    st, body = get(down.port, f"/pypi/all/files/fresh-lib/{young}")
    if st != 403 or b"cooldown" not in body:
        fail(f"cooldown: a direct download of the hour-old {young}: {st} {body[:300]}")
    pip_install(index, "hotfix-lib", "2.0.0")
    ok("pip and uv: cooldown 2 h: the hour-old 1.1.0 is left off the page and refused (403), the month-old 1.0.0"
       " installs, an exempt version uploaded now installs")


# --- Cargo
def cargo_token(server):
    st, _, body = server.request("POST", "/api/v1/tokens",
                                 json.dumps({"description": "cargo", "scopes": ["cargo/**:read,publish,yank"]}).encode(),
                                 {"Content-Type": "application/json"}, auth=server.basic)
    if st != 201 and st != 200:
        fail(f"token: {st} {body[:200]}")
    return json.loads(body)["token"]


class CargoClient:
    def __init__(self, up, down):
        self.env = {"CARGO_TARGET_DIR": os.path.join(WORK, "cargo-target"), "CARGO_TERM_COLOR": "never",
                    "CARGO_NET_RETRY": "0",
                    "CARGO_REGISTRIES_PUBLIC_INDEX": f"sparse+http://127.0.0.1:{up.port}/cargo/public/index/",
                    "CARGO_REGISTRIES_PUBLIC_TOKEN": cargo_token(up),
                    "CARGO_REGISTRIES_ALL_INDEX": f"sparse+http://127.0.0.1:{down.port}/cargo/all/index/",
                    "CARGO_REGISTRIES_ALL_TOKEN": cargo_token(down)}

    def cargo(self, args, cwd, check=True):
        home = tempfile.mkdtemp(dir=WORK)
        return run(["cargo", *args], cwd=cwd, env={**self.env, "CARGO_HOME": home}, check=check)

    def publish(self, registry, name, version):
        d = os.path.join(WORK, f"crate-{registry}-{name}-{version}")
        os.makedirs(os.path.join(d, "src"))
        with open(os.path.join(d, "Cargo.toml"), "w") as f:
            f.write(f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n'
                    f'description = "x"\nlicense = "MIT"\n')
        with open(os.path.join(d, "src", "lib.rs"), "w") as f:
            f.write(f'pub fn v() -> &\'static str {{ "{version}" }}\n')
        self.cargo(["publish", "--registry", registry, "--allow-dirty", "--no-verify"], d)

    def build(self, name, req, check=True):
        """Builds a project depending on `name` through cargo/all; its output is the version used."""
        d = tempfile.mkdtemp(dir=WORK)
        os.makedirs(os.path.join(d, "src"))
        with open(os.path.join(d, "Cargo.toml"), "w") as f:
            f.write(f'[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
                    f'[dependencies]\n{name} = {{ version = "{req}", registry = "all" }}\n')
        with open(os.path.join(d, "src", "main.rs"), "w") as f:
            f.write(f'fn main() {{ println!("{{}}", {name.replace("-", "_")}::v()); }}\n')
        r = self.cargo(["run", "-q"], d, check=check)
        return r.stdout.strip() if check else r


def cargo_main(up, down):
    c = CargoClient(up, down)
    c.publish("all", "acme-utils", "1.0.0")
    st, body = get(down.port, "/cargo/internal/index/ac/me/acme-utils")
    if st != 200 or b'"1.0.0"' not in body:
        fail(f"cargo publish to cargo/all did not land in cargo/internal: {st} {body[:200]}")
    c.publish("public", "acme-utils", "99.0.0")
    backdate(up, "cargo", "public", "acme-utils", "99.0.0", 30 * DAY)
    st, _ = get(down.port, "/cargo/cratesio/api/v1/crates/acme-utils/99.0.0/download")
    if st != 200:
        fail(f"priming the proxy's cache with acme-utils 99.0.0: {st}")
    if c.build("acme-utils", "*") != "1.0.0":
        fail("cargo through cargo/all did not build with the hosted acme-utils 1.0.0")
    st, body = get(down.port, "/cargo/all/index/ac/me/acme-utils")
    versions = [json.loads(line)["vers"] for line in body.splitlines()]
    if versions != ["1.0.0"]:
        fail(f"merged index of an owned crate: {versions}")
    st, body = get(down.port, "/cargo/all/api/v1/crates/acme-utils/99.0.0/download")
    if st != 403 or b"name ownership" not in body:
        fail(f"the cached public acme-utils 99.0.0 through cargo/all: {st} {body[:300]}")
    ok("cargo: a crate published privately (cargo publish to cargo/all lands in cargo/internal) builds at 1.0.0"
       " through cargo/all; the public 99.0.0, cached in the proxy, is not in the index and its download is refused")

    c.publish("public", "fresh-lib", "1.0.0")
    c.publish("public", "fresh-lib", "1.1.0")
    backdate(up, "cargo", "public", "fresh-lib", "1.0.0", 30 * DAY)
    backdate(up, "cargo", "public", "fresh-lib", "1.1.0", HOUR)
    st, body = get(down.port, "/cargo/all/index/fr/es/fresh-lib")
    versions = [json.loads(line)["vers"] for line in body.splitlines()]
    if versions != ["1.0.0"]:
        fail(f"cooldown: the index lists {versions}")
    if c.build("fresh-lib", "1") != "1.0.0":
        fail("cargo did not build with the month-old fresh-lib 1.0.0")
    st, body = get(down.port, "/cargo/all/api/v1/crates/fresh-lib/1.1.0/download")
    if st != 403 or b"cooldown" not in body:
        fail(f"cooldown: a direct download of the hour-old 1.1.0: {st} {body[:300]}")
    c.publish("public", "hotfix-lib", "2.0.0")
    if c.build("hotfix-lib", "2") != "2.0.0":
        fail("cargo did not build with the exempt hotfix-lib")
    ok("cargo: cooldown 2 h: the hour-old 1.1.0 is left out of the index and refused, the month-old 1.0.0 builds,"
       " an exempt crate published now builds")


# --- Go
def module_zip(module, version):
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{module}@{version}/go.mod", f"module {module}\n\ngo 1.21\n")
        z.writestr(f"{module}@{version}/lib.go", f'package lib\n\nconst Version = "{version}"\n')
    return buf.getvalue()


def go_publish(server, repo, module, version):
    st, _, body = server.request("PUT", f"/go/{repo}/{module}/@v/{version}.zip", module_zip(module, version),
                                 auth=server.basic)
    if st not in (200, 201):
        fail(f"publishing {module} {version} to go/{repo}: {st} {body[:200]}")


def go(args, goproxy, check=True):
    cache = tempfile.mkdtemp(dir=WORK)
    env = {"GOPROXY": goproxy, "GONOSUMDB": "*", "GONOSUMCHECK": "1", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local",
           "GOMODCACHE": cache, "GOPATH": os.path.join(WORK, "gopath")}
    return run(["go", *args], env=env, cwd=WORK, check=check)


def go_main(up, down):
    goproxy = f"http://127.0.0.1:{down.port}/go/all"
    go_publish(down, "all", "example.com/acme-utils", "v1.0.0")
    st, body = get(down.port, "/go/internal/example.com/acme-utils/@v/list")
    if st != 200 or body.split() != [b"v1.0.0"]:
        fail(f"a publish to go/all did not land in go/internal: {st} {body[:200]}")
    go_publish(up, "public", "example.com/acme-utils", "v1.99.0")
    st, _ = get(down.port, "/go/goproxy/example.com/acme-utils/@v/v1.99.0.zip")
    if st != 200:
        fail(f"priming the proxy's cache with example.com/acme-utils v1.99.0: {st}")
    got = json.loads(go(["mod", "download", "-json", "example.com/acme-utils@latest"], goproxy).stdout)
    versions = go(["list", "-m", "-versions", "example.com/acme-utils"], goproxy).stdout.split()
    if got["Version"] != "v1.0.0" or versions != ["example.com/acme-utils", "v1.0.0"]:
        fail(f"go through go/all: @latest {got['Version']}, versions {versions}")
    st, body = get(down.port, "/go/all/example.com/acme-utils/@v/v1.99.0.zip")
    if st != 403 or b"name ownership" not in body:
        fail(f"the cached public v1.99.0 through go/all: {st} {body[:300]}")
    if go(["mod", "download", "example.com/acme-utils@v1.99.0"], goproxy, check=False).returncode == 0:
        fail("go downloaded the public v1.99.0 through go/all")
    ok("go: a module published privately (to go/all, landing in go/internal) is @latest at v1.0.0 through go/all;"
       " the public v1.99.0, cached in the proxy, is not listed and refused (403, which go does not fall through)")

    go_publish(up, "public", "acme-claimed-secret.example.com/m", "v1.5.0")
    if go(["mod", "download", "acme-claimed-secret.example.com/m@latest"], goproxy, check=False).returncode == 0:
        fail("go resolved a claimed module path from outside")
    ok("go: a claimed namespace with nothing hosted resolves nothing from the proxy")

    # Cooldown from first sight: the first listing is the baseline; a version that appears later is young.
    go_publish(up, "public", "example.com/fresh-lib", "v1.0.0")
    go_publish(up, "public", "hotfix-lib.example.com/m", "v1.0.0")
    for m in ("example.com/fresh-lib", "hotfix-lib.example.com/m"):
        go(["list", "-m", "-versions", m], goproxy)
    go_publish(up, "public", "example.com/fresh-lib", "v1.1.0")
    go_publish(up, "public", "hotfix-lib.example.com/m", "v1.2.0")
    versions = go(["list", "-m", "-versions", "example.com/fresh-lib"], goproxy).stdout.split()
    got = json.loads(go(["mod", "download", "-json", "example.com/fresh-lib@latest"], goproxy).stdout)
    if versions != ["example.com/fresh-lib", "v1.0.0"] or got["Version"] != "v1.0.0":
        fail(f"cooldown: versions {versions}, @latest {got['Version']}")
    st, body = get(down.port, "/go/all/example.com/fresh-lib/@v/v1.1.0.zip")
    if st != 403 or b"cooldown" not in body:
        fail(f"cooldown: v1.1.0, first seen now: {st} {body[:300]}")
    got = json.loads(go(["mod", "download", "-json", "hotfix-lib.example.com/m@latest"], goproxy).stdout)
    if got["Version"] != "v1.2.0":
        fail(f"an exempt module's new version: {got['Version']}")
    ok("go: cooldown measured from first sight: a version that appears after the first listing is not listed,"
       " not @latest and refused; an exempt module's new version downloads")


# --- Maven
M2 = os.path.join(os.path.expanduser("~"), ".m2", "repository")
# Group ids of this run only: tests running at once share ~/.m2.
G = f"org.example{os.getpid()}"
HOTFIX = f"hotfix-lib{os.getpid()}"
CLAIMED = f"acme-claimed-secret{os.getpid()}"
MAVEN_GROUPS = [G.replace(".", "/"), HOTFIX, CLAIMED]


def mvn_deploy(server, repo, group, artifact, version):
    path = f"/maven/{repo}/{group.replace('.', '/')}/{artifact}/{version}"
    pom = (f"<project><modelVersion>4.0.0</modelVersion><groupId>{group}</groupId>"
           f"<artifactId>{artifact}</artifactId><version>{version}</version></project>").encode()
    for name, data in [(f"{artifact}-{version}.pom", pom), (f"{artifact}-{version}.jar", os.urandom(4096))]:
        st, _, body = server.request("PUT", f"{path}/{name}", data, auth=server.basic)
        if st not in (200, 201):
            fail(f"deploying {name} to maven/{repo}: {st} {body[:200]}")


def mvn_get(port, coords, check=True):
    for g in MAVEN_GROUPS:
        shutil.rmtree(os.path.join(M2, g), ignore_errors=True)
    return run(["mvn", "-B", "-q", "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get",
                f"-Dartifact={coords}", "-Dtransitive=false",
                f"-DremoteRepositories=cairnall::default::http://127.0.0.1:{port}/maven/all/"], cwd=WORK, check=check)


def mvn_resolve(port, group, artifact, spec):
    """Resolves `spec` (a version range) in a project whose only repository is maven/all; the versions
    of the artifact mvn then holds locally."""
    for g in MAVEN_GROUPS:
        shutil.rmtree(os.path.join(M2, g), ignore_errors=True)
    d = tempfile.mkdtemp(dir=WORK)
    with open(os.path.join(d, "pom.xml"), "w") as f:
        f.write(f"""<project><modelVersion>4.0.0</modelVersion><groupId>t</groupId><artifactId>app</artifactId>
<version>1</version><repositories><repository><id>cairnall</id><url>http://127.0.0.1:{port}/maven/all/</url>
</repository></repositories><dependencies><dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>
<version>{spec}</version></dependency></dependencies></project>""")
    run(["mvn", "-B", "-q", "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:resolve"], cwd=d)
    base = os.path.join(M2, group.replace(".", "/"), artifact)
    return sorted(v for v in os.listdir(base) if os.path.exists(os.path.join(base, v, f"{artifact}-{v}.jar")))


def metadata_versions(port, repo, group, artifact):
    st, body = get(port, f"/maven/{repo}/{group.replace('.', '/')}/{artifact}/maven-metadata.xml")
    if st != 200:
        return st, [], body
    import re
    return st, re.findall(r"<version>([^<]+)</version>", body.decode()), body


def maven_main(up, down):
    mvn_deploy(down, "all", G, "acme-utils", "1.0")
    st, versions, _ = metadata_versions(down.port, "internal", G, "acme-utils")
    if versions != ["1.0"]:
        fail(f"a deploy to maven/all did not land in maven/internal: {st} {versions}")
    mvn_deploy(up, "public", G, "acme-utils", "99.0")
    st, _ = get(down.port, f"/maven/central/{G.replace('.', '/')}/acme-utils/99.0/acme-utils-99.0.jar")
    if st != 200:
        fail(f"priming the proxy's cache with acme-utils 99.0: {st}")
    st, versions, body = metadata_versions(down.port, "all", G, "acme-utils")
    if versions != ["1.0"] or b"<release>1.0</release>" not in body:
        fail(f"merged maven-metadata.xml of an owned artifact: {st} {body[:400]}")
    got = mvn_resolve(down.port, G, "acme-utils", "[1.0,)")
    if got != ["1.0"]:
        fail(f"mvn resolved [1.0,) through maven/all to {got}, not the hosted 1.0")
    st, body = get(down.port, f"/maven/all/{G.replace('.', '/')}/acme-utils/99.0/acme-utils-99.0.jar")
    if st != 403 or b"name ownership" not in body:
        fail(f"the cached public 99.0 through maven/all: {st} {body[:300]}")
    if mvn_get(down.port, f"{G}:acme-utils:99.0", check=False).returncode == 0:
        fail("mvn got the public acme-utils 99.0 through maven/all")
    ok("mvn: an artifact deployed privately (to maven/all, landing in maven/internal) resolves [1.0,) to 1.0"
       " through maven/all; the public 99.0, cached in the proxy, is not in the merged metadata and is refused (403)")

    mvn_deploy(up, "public", CLAIMED, "lib", "5.0")
    st, _, _ = metadata_versions(down.port, "all", CLAIMED, "lib")
    st2, _ = get(down.port, f"/maven/all/{CLAIMED}/lib/5.0/lib-5.0.jar")
    if st != 404 or st2 != 403:
        fail(f"a claimed namespace resolved from outside: metadata {st}, jar {st2}")
    ok("mvn: a claimed namespace with nothing hosted resolves nothing from the proxy (metadata 404, jar 403)")

    mvn_deploy(up, "public", G, "fresh-lib", "1.0")
    mvn_deploy(up, "public", HOTFIX, "lib", "1.0")
    metadata_versions(down.port, "all", G, "fresh-lib")  # the baseline
    metadata_versions(down.port, "all", HOTFIX, "lib")
    mvn_deploy(up, "public", G, "fresh-lib", "1.1")
    mvn_deploy(up, "public", HOTFIX, "lib", "1.2")
    st, versions, body = metadata_versions(down.port, "all", G, "fresh-lib")
    if versions != ["1.0"] or b"<latest>1.0</latest>" not in body:
        fail(f"cooldown: merged metadata {body[:400]}")
    st, body = get(down.port, f"/maven/all/{G.replace('.', '/')}/fresh-lib/1.1/fresh-lib-1.1.jar")
    if st != 403 or b"cooldown" not in body:
        fail(f"cooldown: fresh-lib 1.1, first seen now: {st} {body[:300]}")
    got = mvn_resolve(down.port, G, "fresh-lib", "[1.0,)")
    if got != ["1.0"]:
        fail(f"mvn resolved fresh-lib [1.0,) to {got}, not the old 1.0")
    st, versions, _ = metadata_versions(down.port, "all", HOTFIX, "lib")
    if versions != ["1.0", "1.2"]:
        fail(f"an exempt artifact's new version: {versions}")
    mvn_get(down.port, f"{HOTFIX}:lib:1.2")
    ok("mvn: cooldown measured from first sight: a version deployed after the first listing is left out of the"
       " metadata and refused, [1.0,) resolves the old one; an exempt artifact's new version resolves")


def explain(down):
    """GET /api/v1/virtuals/{format}/{name}/resolve says what the listings and downloads did, and why."""
    def resolve(fmt, package, version):
        from urllib.parse import urlencode
        q = urlencode({"package": package, "version": version})
        st, _, body = down.request("GET", f"/api/v1/virtuals/{fmt}/all/resolve?{q}", auth=down.basic)
        if st != 200:
            fail(f"resolve {fmt} {package}@{version}: {st} {body[:300]}")
        return json.loads(body)

    r = resolve("npm", "acme-utils", "99.0.0")
    proxy = next(m for m in r["members"] if m["member"] == "npm/npmjs")
    if r["from"] or "name ownership" not in (r["refused"] or "") or proxy["asked"] or not r["owned"]:
        fail(f"explain an owned name's public version: {r}")
    r = resolve("npm", "acme-utils", "1.0.0")
    if r["from"] != "npm/internal" or r["refused"]:
        fail(f"explain the hosted version: {r}")
    r = resolve("npm", "fresh-lib", "1.1.0")
    if r["from"] or "cooldown" not in (r["refused"] or ""):
        fail(f"explain a version the cooldown holds: {r}")
    r = resolve("npm", "fresh-lib", "1.0.0")
    if r["from"] != "npm/npmjs" or r["refused"] or r["owned"]:
        fail(f"explain an old public version: {r}")
    r = resolve("go", "example.com/fresh-lib", "v1.1.0")
    if r["from"] or "cooldown" not in (r["refused"] or ""):
        fail(f"explain a Go version first seen now: {r}")
    r = resolve("pypi", "Acme.Utils", "1.0.0")
    if r["package"] != "acme-utils" or r["from"] != "pypi/internal":
        fail(f"explain a PyPI name spelled otherwise: {r}")
    r = run([CAIRN, "explain", "--url", f"http://127.0.0.1:{down.port}", "--password-env", "EXPLAIN_PASSWORD",
             "npm/all", "acme-utils", "99.0.0"], env={"EXPLAIN_PASSWORD": down.password})
    if "99.0.0: refused" not in r.stdout or "name ownership" not in r.stdout or "npm/npmjs [proxy]: not asked" not in r.stdout:
        fail(f"cairn explain: {r.stdout}")
    ok("GET /api/v1/virtuals/{format}/all/resolve (and cairn explain) explains each decision: an owned name's public version refused"
       " (name ownership, the proxy not asked), the hosted version from the hosted member, a young version held by"
       " the cooldown (npm, Go), an old public one from the proxy, a PyPI name spelled otherwise normalised")


def override_at_run_time(down):
    """The owner's exception through the admin API: external versions of an owned name appear at once, the
    change is audited, and taking it back hides them again."""
    path = "/api/v1/virtuals/npm/all/external/acme-utils"
    st, _, body = down.request("PUT", path, json.dumps({"reason": "we vet the public one"}).encode(),
                               {"Content-Type": "application/json"}, auth=down.basic)
    if st != 200:
        fail(f"allowing external versions: {st} {body[:200]}")
    st, body = get(down.port, "/npm/all/acme-utils")
    doc = json.loads(body)
    if sorted(doc["versions"]) != ["1.0.0", "99.0.0"] or doc["dist-tags"]["latest"] != "1.0.0":
        fail(f"after the exception: {sorted(doc['versions'])} {doc['dist-tags']}")
    st, _ = get(down.port, "/npm/all/acme-utils/-/acme-utils-99.0.0.tgz")
    if st != 200:
        fail(f"after the exception, the external 99.0.0: {st}")
    st, _, body = down.request("GET", "/api/v1/audit?action=virtual.allow_external", auth=down.basic)
    if st != 200 or b"acme-utils" not in body:
        fail(f"the exception is not in the audit log: {st} {body[:300]}")
    st, _, _ = down.request("PUT", path, b"", auth=None)
    if st != 401:
        fail(f"an anonymous exception: {st}")
    st, _, body = down.request("DELETE", path, auth=down.basic)
    if st != 204:
        fail(f"taking the exception back: {st} {body[:200]}")
    st, body = get(down.port, "/npm/all/acme-utils")
    st2, _ = get(down.port, "/npm/all/acme-utils/-/acme-utils-99.0.0.tgz")
    if sorted(json.loads(body)["versions"]) != ["1.0.0"] or st2 != 403:
        fail(f"after taking the exception back: {body[:200]} / {st2}")
    ok("npm: an owner's exception through the admin API (PUT /api/v1/virtuals/npm/all/external/acme-utils) shows and"
       " serves the external 99.0.0 at once (latest stays 1.0.0), is audited, is refused without a credential,"
       " and DELETE hides it again")


# --- OCI
CRANE = os.path.join(ROOT, ".tools", "bin", "crane")
DOCKER_CONFIG = tempfile.mkdtemp(dir=WORK)


def crane(*args, check=True):
    return run([CRANE, *args], env={"DOCKER_CONFIG": DOCKER_CONFIG}, check=check)


def push_image(ref, payload):
    import io
    import tarfile
    layer = os.path.join(WORK, f"layer-{abs(hash(ref))}.tar")
    with tarfile.open(layer, "w") as t:
        data = payload + os.urandom(1024)
        info = tarfile.TarInfo("data.bin")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    crane("append", "--oci-empty-base", "--insecure", "-f", layer, "-t", ref)
    return crane("digest", "--insecure", ref).stdout.strip()


def oci_main(up, down):
    for server in (up, down):
        crane("auth", "login", f"127.0.0.1:{server.port}", "-u", "admin", f"--password={server.password}")
    d, u = f"127.0.0.1:{down.port}", f"127.0.0.1:{up.port}"
    mine = push_image(f"{d}/all/app:1.0", b"private")
    if crane("digest", "--insecure", f"{d}/internal/app:1.0").stdout.strip() != mine:
        fail("a push to all/app did not land in internal/app")
    push_image(f"{u}/app:1.0", b"public one")
    theirs = push_image(f"{u}/app:2.0", b"public two")
    public = push_image(f"{u}/pubimg:1.0", b"public image")
    push_image(f"{u}/acme/secret:1.0", b"claimed")
    if crane("digest", "--insecure", f"{d}/hub/app:2.0").stdout.strip() != theirs:
        fail("priming the OCI proxy's cache with app:2.0")
    got = crane("digest", "--insecure", f"{d}/all/app:1.0").stdout.strip()
    if got != mine:
        fail(f"all/app:1.0 is {got}, not the hosted {mine}")
    r = crane("manifest", "--insecure", f"{d}/all/app:2.0", check=False)
    st, body = get(down.port, "/v2/all/app/manifests/2.0",
                   {"Authorization": down.basic, "Accept": "application/vnd.oci.image.manifest.v1+json"})
    if r.returncode == 0 or st != 403 or b"name ownership" not in body:
        fail(f"the public app:2.0 (cached in the proxy) through all/: crane rc {r.returncode}, {st} {body[:300]}")
    tags = crane("ls", "--insecure", f"{d}/all/app").stdout.split()
    if tags != ["1.0"]:
        fail(f"tags of all/app: {tags}")
    dest = os.path.join(WORK, "oci-pubimg")
    run(["skopeo", "--command-timeout", "60s", "copy", "--src-tls-verify=false",
         "--src-creds", f"admin:{down.password}", f"docker://{d}/all/pubimg:1.0", f"oci:{dest}:x"])
    with open(os.path.join(dest, "index.json")) as f:
        pulled = json.load(f)["manifests"][0]["digest"]
    if pulled != public:
        fail(f"skopeo pulled {pulled} for all/pubimg:1.0, not the upstream's {public}")
    st, body = get(down.port, "/v2/all/acme/secret/manifests/1.0",
                   {"Authorization": down.basic, "Accept": "application/vnd.oci.image.manifest.v1+json"})
    if st != 403 or b"claimed" not in body:
        fail(f"a claimed repository through all/: {st} {body[:300]}")
    ok("crane and skopeo: an image pushed to all/app lands in internal/app and is what all/app:1.0 pulls; the public"
       " app:2.0, cached in the proxy, is refused (403 DENIED, name ownership) and all/app lists only 1.0; a public"
       " image pulls through all/ from the proxy; a claimed namespace (acme/*) is refused")


def main():
    up = Cairn(CAIRN, os.path.join(WORK, "up")).start(os.path.join(OUT, f"{PREFIX}-upstream.log"))
    down = start_downstream(up).start(os.path.join(OUT, f"{PREFIX}-cairn.log"))
    try:
        npm_main(up, down)
        pypi_main(up, down)
        cargo_main(up, down)
        go_main(up, down)
        maven_main(up, down)
        oci_main(up, down)
        explain(down)
        override_at_run_time(down)
        down.terminate()
        # The owner's override: external versions of acme-utils allowed.
        down = start_downstream(up, ', allow_external=["acme-utils"]', down.password)
        down.start(os.path.join(OUT, f"{PREFIX}-cairn-override.log"))
        st, body = get(down.port, "/npm/all/acme-utils")
        doc = json.loads(body)
        if sorted(doc["versions"]) != ["1.0.0", "99.0.0"] or doc["dist-tags"]["latest"] != "1.0.0":
            fail(f"override: {sorted(doc['versions'])} {doc['dist-tags']}")
        st, _ = get(down.port, "/npm/all/acme-utils/-/acme-utils-99.0.0.tgz")
        if st != 200:
            fail(f"override: the external 99.0.0 through npm/all: {st}")
        ok("npm: with allow_external for the name, both versions are listed and downloadable; latest stays the hosted 1.0.0")
        st, doc = page(down.port, "all", "acme-utils")
        if doc["versions"] != ["1.0.0", "99.0.0"]:
            fail(f"override: the page lists {doc['versions']}")
        pip_install(index := f"http://127.0.0.1:{down.port}/pypi/all/simple/", "acme-utils==99.0.0", "99.0.0")
        pip_install(index, "acme-utils", "99.0.0", tool="uv")
        ok("pip and uv: with allow_external for the name, the page lists both and 99.0.0 installs through pypi/all")
    finally:
        for g in MAVEN_GROUPS:
            shutil.rmtree(os.path.join(M2, g), ignore_errors=True)
        for c in (up, down):
            if c.proc and c.proc.poll() is None:
                c.proc.kill()


if __name__ == "__main__":
    main()
