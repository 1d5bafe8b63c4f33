#!/usr/bin/env python3
"""`cairn warm` end to end: lockfiles of six ecosystems (package-lock.json,
requirements.txt with hashes, Cargo.lock, go.sum, a Maven coordinates list,
an image list) warmed through virtual repositories of a fresh cairn whose
proxies point at another cairn (the "public" upstream); then the upstream
is stopped, and clean installs from those lockfiles with the real clients
(npm ci, pip --require-hashes, cargo --locked, go mod download, mvn,
skopeo) succeed from the cache. A lockfile with a tampered hash is
reported as mismatched, and nothing is reported as warmed that was not.

Usage: warm.py CAIRN OUT_DIR.
"""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

sys.path.insert(0, os.path.dirname(__file__))
from cairnproc import Cairn  # noqa: E402

CAIRN, OUT = sys.argv[1], sys.argv[2]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PY_TOOLS = os.path.join(ROOT, ".tools", "py", "bin")
CRANE = os.path.join(ROOT, ".tools", "bin", "crane")
os.environ["PATH"] = os.path.join(ROOT, ".tools", "node", "node_modules", ".bin") + os.pathsep + os.environ["PATH"]
WORK = tempfile.mkdtemp(prefix="cairn-warm-")
LOG = open(os.path.join(OUT, "warm-tools.log"), "w")
M2 = os.path.join(os.path.expanduser("~"), ".m2", "repository")
DOCKER_CONFIG = tempfile.mkdtemp(dir=WORK)
# A group id of this run only: tests running at once share ~/.m2.
GROUP = f"org.warm{os.getpid()}"
GROUP_PATH = GROUP.replace(".", "/")


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def ok(msg):
    print(f"ok - {msg}")


def run(cmd, cwd=None, env=None, check=True):
    r = subprocess.run(cmd, cwd=cwd or WORK, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600)
    LOG.write(f"$ {' '.join(cmd)}\n{r.stdout}\n")
    LOG.flush()
    if check and r.returncode != 0:
        fail(f"{' '.join(cmd)} failed:\n{r.stdout[-3000:]}")
    return r


def write(name, text):
    path = os.path.join(WORK, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def publish_all(up):
    """One version of each format on the upstream; returns what lockfiles record of them."""
    auth = {"Authorization": up.basic}
    # npm
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        data = json.dumps({"name": "lib-w", "version": "1.0.0", "main": "index.js"}).encode()
        for path, body in [("package/package.json", data), ("package/index.js", b"module.exports = 'w';\n")]:
            info = tarfile.TarInfo(path)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    tgz = buf.getvalue()
    import base64
    doc = {"_id": "lib-w", "name": "lib-w", "dist-tags": {"latest": "1.0.0"},
           "versions": {"1.0.0": {"name": "lib-w", "version": "1.0.0", "main": "index.js",
                                  "dist": {"shasum": hashlib.sha1(tgz).hexdigest(),
                                           "integrity": "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode(),
                                           "tarball": "http://x/lib-w/-/lib-w-1.0.0.tgz"}}},
           "_attachments": {"lib-w-1.0.0.tgz": {"content_type": "application/octet-stream",
                                                "data": base64.b64encode(tgz).decode(), "length": len(tgz)}}}
    st, _, body = up.request("PUT", "/npm/public/lib-w", json.dumps(doc).encode(),
                             {"Content-Type": "application/json", **auth})
    if st not in (200, 201):
        fail(f"npm publish upstream: {st} {body[:200]}")
    integrity = doc["versions"]["1.0.0"]["dist"]["integrity"]
    # PyPI
    out = os.path.join(WORK, "dist")
    run([sys.executable, os.path.join(ROOT, "tests", "e2e", "mkdist.py"), out, "demo-w", "1.0"])
    files = [os.path.join(out, f) for f in sorted(os.listdir(out))]
    run([os.path.join(PY_TOOLS, "twine"), "upload", "--disable-progress-bar", "--repository-url",
         f"http://127.0.0.1:{up.port}/pypi/public/", "-u", "admin", f"--password={up.password}", *files])
    pypi_hashes = [hashlib.sha256(open(f, "rb").read()).hexdigest() for f in files]
    # Go
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("example.com/warm@v1.0.0/go.mod", "module example.com/warm\n\ngo 1.21\n")
        z.writestr("example.com/warm@v1.0.0/lib.go", 'package warm\n\nconst V = "v1.0.0"\n')
    st, _, body = up.request("PUT", "/go/public/example.com/warm/@v/v1.0.0.zip", zbuf.getvalue(), auth)
    if st not in (200, 201):
        fail(f"go publish upstream: {st} {body[:200]}")
    go_sums = json.loads(body)["go.sum"]
    # Maven
    pom = (f"<project><modelVersion>4.0.0</modelVersion><groupId>{GROUP}</groupId>"
           "<artifactId>lib</artifactId><version>1.0</version></project>").encode()
    for name, data in [("lib-1.0.pom", pom), ("lib-1.0.jar", os.urandom(2048))]:
        st, _, body = up.request("PUT", f"/maven/public/{GROUP_PATH}/lib/1.0/{name}", data, auth)
        if st not in (200, 201):
            fail(f"maven deploy upstream: {st} {body[:200]}")
    # OCI
    run([CRANE, "auth", "login", f"127.0.0.1:{up.port}", "-u", "admin", f"--password={up.password}"],
        env={"DOCKER_CONFIG": DOCKER_CONFIG})
    layer = write("layer.tar", "")
    with tarfile.open(layer, "w") as t:
        data = os.urandom(4096)
        info = tarfile.TarInfo("data.bin")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    run([CRANE, "append", "--oci-empty-base", "--insecure", "-f", layer, "-t", f"127.0.0.1:{up.port}/app:1.0"],
        env={"DOCKER_CONFIG": DOCKER_CONFIG})
    return integrity, pypi_hashes, go_sums


def cargo_env(home, down):
    return {"CARGO_HOME": home, "CARGO_TARGET_DIR": os.path.join(WORK, "cargo-target"), "CARGO_TERM_COLOR": "never",
            "CARGO_NET_RETRY": "0",
            "CARGO_REGISTRIES_ALL_INDEX": f"sparse+http://127.0.0.1:{down.port}/cargo/all/index/"}


def main():
    up = Cairn(CAIRN, os.path.join(WORK, "up")).start(os.path.join(OUT, "warm-upstream.log"))
    procs = [up]
    try:
        integrity, pypi_hashes, go_sums = publish_all(up)
        proxies = ",".join(
            f'{{format="{f}", name="{n}", upstream="http://127.0.0.1:{up.port}/{p}"}}'
            for f, n, p in [("npm", "npmjs", "npm/public/"), ("pypi", "pypiorg", "pypi/public/simple/"),
                            ("cargo", "cratesio", "cargo/public/index/"), ("go", "goproxy", "go/public/"),
                            ("maven", "central", "maven/public/"), ("oci", "hub", "")])
        virtuals = ",".join(
            f'{{format="{f}", name="all", members=["internal", "{n}"]}}'
            for f, n in [("npm", "npmjs"), ("pypi", "pypiorg"), ("cargo", "cratesio"), ("go", "goproxy"),
                         ("maven", "central"), ("oci", "hub")])
        down = Cairn(CAIRN, os.path.join(WORK, "down"),
                     env={"CAIRN_PROXY": f"[{proxies}]", "CAIRN_VIRTUAL": f"[{virtuals}]"}).start(
            os.path.join(OUT, "warm-cairn.log"))
        procs.append(down)
        d = f"127.0.0.1:{down.port}"

        # A crate, published upstream with cargo itself, and a consumer locked to it through cargo/all.
        st, _, body = up.request("POST", "/api/v1/tokens",
                                 json.dumps({"description": "c", "scopes": ["cargo/**:read,publish"]}).encode(),
                                 {"Content-Type": "application/json"}, auth=up.basic)
        token = json.loads(body)["token"]
        crate = os.path.join(WORK, "crate-w")
        os.makedirs(os.path.join(crate, "src"))
        write("crate-w/Cargo.toml", '[package]\nname = "crate-w"\nversion = "0.1.0"\nedition = "2021"\n'
                                    'description = "x"\nlicense = "MIT"\n')
        write("crate-w/src/lib.rs", 'pub fn v() -> &\'static str { "0.1.0" }\n')
        run(["cargo", "publish", "--registry", "public", "--allow-dirty", "--no-verify"], cwd=crate,
            env={"CARGO_HOME": tempfile.mkdtemp(dir=WORK), "CARGO_REGISTRIES_PUBLIC_TOKEN": token,
                 "CARGO_REGISTRIES_PUBLIC_INDEX": f"sparse+http://127.0.0.1:{up.port}/cargo/public/index/"})
        _, _, line = up.request("GET", "/cargo/public/index/cr/at/crate-w")
        cksum = json.loads(line.splitlines()[0])["cksum"]
        app = os.path.join(WORK, "app")
        os.makedirs(os.path.join(app, "src"))
        write("app/Cargo.toml", '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
                                '[dependencies]\ncrate-w = { version = "0.1", registry = "all" }\n')
        write("app/src/main.rs", 'fn main() { println!("{}", crate_w::v()); }\n')
        write("app/Cargo.lock", f'''version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = [
 "crate-w",
]

[[package]]
name = "crate-w"
version = "0.1.0"
source = "sparse+http://{d}/cargo/all/index/"
checksum = "{cksum}"
''')

        npm_lock = {"name": "consumer", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
                    "packages": {"": {"name": "consumer", "version": "1.0.0", "dependencies": {"lib-w": "^1.0.0"}},
                                 "node_modules/lib-w": {"version": "1.0.0",
                                                        "resolved": f"http://{d}/npm/all/lib-w/-/lib-w-1.0.0.tgz",
                                                        "integrity": integrity}}}
        write("npm/package.json", json.dumps({"name": "consumer", "version": "1.0.0", "dependencies": {"lib-w": "^1.0.0"}}))
        write("npm/package-lock.json", json.dumps(npm_lock))
        bad = json.loads(json.dumps(npm_lock))
        bad["packages"]["node_modules/lib-w"]["integrity"] = "sha512-" + "A" * 86 + "=="
        write("bad/package-lock.json", json.dumps(bad))
        write("py/requirements.txt", "demo-w==1.0 " + " ".join(f"--hash=sha256:{h}" for h in pypi_hashes) + "\n")
        write("go/go.mod", "module example.com/consumer\n\ngo 1.21\n\nrequire example.com/warm v1.0.0\n")
        write("go/go.sum", "\n".join(go_sums) + "\n")
        write("go/main.go", 'package main\n\nimport "example.com/warm"\n\nfunc main() { println(warm.V) }\n')
        write("maven.txt", f"{GROUP}:lib:1.0\n")
        write("images.txt", "app:1.0\n")

        # pnpm-lock.yaml and yarn.lock as pnpm and yarn write them (resolved against the upstream).
        for tool in ("pnpm", "yarn"):
            proj = os.path.join(WORK, tool)
            write(f"{tool}/package.json", json.dumps({"name": "consumer", "version": "1.0.0",
                                                       "dependencies": {"lib-w": "^1.0.0"}}))
            reg = f"http://127.0.0.1:{up.port}/npm/public/"
            if tool == "pnpm":
                run(["pnpm", "install", "--lockfile-only", f"--registry={reg}"], cwd=proj,
                    env={"npm_config_store_dir": tempfile.mkdtemp(dir=WORK)})
            else:
                run(["yarn", "install", "--mode=update-lockfile", f"--registry={reg}"], cwd=proj, check=False)
                if not os.path.exists(os.path.join(proj, "yarn.lock")):
                    run(["yarn", "install", f"--registry={reg}", "--cache-folder", tempfile.mkdtemp(dir=WORK)],
                        cwd=proj)

        env = {"WARM_PASSWORD": down.password}
        warm = [CAIRN, "warm", "--url", f"http://{d}", "--repository", "all", "--password-env", "WARM_PASSWORD"]
        outputs = []
        for args in (["npm/package-lock.json"], ["pnpm/pnpm-lock.yaml"], ["yarn/yarn.lock"],
                     ["py/requirements.txt"], ["app/Cargo.lock"], ["go/go.sum"],
                     ["--format", "maven", "maven.txt"], ["--format", "oci", "images.txt"]):
            r = run(warm + args, env=env)
            if "warmed 1 of 1" not in r.stdout:
                fail(f"cairn warm {args}: {r.stdout}")
            outputs.append(r.stdout.strip().splitlines()[0])
        r = run(warm + ["bad/package-lock.json"], env=env, check=False)
        if r.returncode == 0 or "1 mismatched" not in r.stdout or "mismatch npm lib-w@1.0.0" not in r.stdout:
            fail(f"a tampered integrity was not reported: rc {r.returncode} {r.stdout}")
        ok("cairn warm from package-lock.json, pnpm-lock.yaml and yarn.lock (as pnpm and yarn wrote them),"
           " requirements.txt (hashes), Cargo.lock, go.sum, a Maven list and an"
           " image list through the virtual repositories: each item fetched and its hash checked; a tampered"
           " integrity is reported as mismatched (exit 1)")

        # The same through the admin API: a job started on the server, its progress read back.
        def job(path, fmt=None):
            with open(os.path.join(WORK, path)) as f:
                body = {"repository": "all", "file": os.path.basename(path), "content": f.read()}
            if fmt:
                body["format"] = fmt
            st, _, resp = down.request("POST", "/api/v1/warm", json.dumps(body).encode(),
                                       {"Content-Type": "application/json"}, auth=down.basic)
            if st != 202:
                fail(f"POST /api/v1/warm {path}: {st} {resp[:300]}")
            location = json.loads(resp)["location"]
            for _ in range(600):
                st, _, resp = down.request("GET", location, auth=down.basic)
                doc = json.loads(resp)
                if st != 200 or doc["state"] != "running":
                    return doc
                import time
                time.sleep(0.1)
            fail(f"warm job {location} did not finish: {doc}")

        good = job("maven.txt", "maven")
        bad = job("bad/package-lock.json")
        if (good["state"], good["done"], good["report"]["ok"]) != ("done", 1, 1):
            fail(f"a warm job through the admin API: {good}")
        if bad["report"]["mismatch"] != 1 or bad["report"]["problems"][0]["outcome"] != "mismatch":
            fail(f"a warm job with a tampered integrity: {bad}")
        st, _, _ = down.request("POST", "/api/v1/warm", b"{}", {"Content-Type": "application/json"})
        if st != 401:
            fail(f"an anonymous warm job: {st}")
        ok("POST /api/v1/warm starts a job on the server (fetching as its caller); GET /api/v1/warm/{id} reports its"
           " progress and outcome (a tampered integrity reported as mismatch); anonymous callers are refused")

        up.terminate()
        procs.remove(up)

        run(["npm", "ci", "--no-audit", "--no-fund"], cwd=os.path.join(WORK, "npm"),
            env={"npm_config_registry": f"http://{d}/npm/all/", "npm_config_cache": tempfile.mkdtemp(dir=WORK),
                 "npm_config_userconfig": write("npmrc", "")})
        with open(os.path.join(WORK, "npm", "node_modules", "lib-w", "package.json")) as f:
            if json.load(f)["version"] != "1.0.0":
                fail("npm ci installed another lib-w")
        run(["pnpm", "install", "--frozen-lockfile", f"--registry=http://{d}/npm/all/"], cwd=os.path.join(WORK, "pnpm"),
            env={"npm_config_store_dir": tempfile.mkdtemp(dir=WORK)})
        if not os.path.exists(os.path.join(WORK, "pnpm", "node_modules", "lib-w", "package.json")):
            fail("pnpm install --frozen-lockfile did not install lib-w")
        target = tempfile.mkdtemp(dir=WORK)
        run([os.path.join(PY_TOOLS, "pip"), "install", "--disable-pip-version-check", "--no-cache-dir",
             "--require-hashes", "--target", target, "--index-url", f"http://{d}/pypi/all/simple/",
             "-r", os.path.join(WORK, "py", "requirements.txt")])
        r = run(["cargo", "run", "-q", "--locked"], cwd=app, env=cargo_env(tempfile.mkdtemp(dir=WORK), down))
        if r.stdout.strip() != "0.1.0":
            fail(f"cargo run --locked: {r.stdout}")
        run(["go", "mod", "download", "example.com/warm"], cwd=os.path.join(WORK, "go"),
            env={"GOPROXY": f"http://{d}/go/all", "GONOSUMDB": "*", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local",
                 "GOMODCACHE": tempfile.mkdtemp(dir=WORK), "GOPATH": os.path.join(WORK, "gopath")})
        shutil.rmtree(os.path.join(M2, GROUP_PATH), ignore_errors=True)
        run(["mvn", "-B", "-q", "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get",
             f"-Dartifact={GROUP}:lib:1.0", "-Dtransitive=false",
             f"-DremoteRepositories=cairnall::default::http://{d}/maven/all/"])
        run(["skopeo", "--command-timeout", "60s", "copy", "--src-tls-verify=false",
             "--src-creds", f"admin:{down.password}", f"docker://{d}/all/app:1.0",
             f"oci:{os.path.join(WORK, 'oci-app')}:x"])
        ok("with the upstream stopped, clean installs from the warmed lockfiles succeed: npm ci, pip --require-hashes,"
           " pnpm install --frozen-lockfile, cargo run --locked, go mod download, mvn dependency:get, skopeo copy")
    finally:
        shutil.rmtree(os.path.join(M2, GROUP_PATH), ignore_errors=True)
        for c in procs:
            if c.proc and c.proc.poll() is None:
                c.proc.kill()


if __name__ == "__main__":
    main()
