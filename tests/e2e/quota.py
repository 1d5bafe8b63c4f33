#!/usr/bin/env python3
"""Quotas with every format's real client, against a real `cairn serve`:

  * OCI: a quota on the namespace `small/` from the configuration
    (CAIRN_QUOTA). crane pushes an image; the same image pushed to another
    repository of the namespace costs nothing; skopeo copying a bigger image
    in is refused with DENIED naming the quota, and neither the tag nor the
    manifest is stored;
  * npm publish, twine upload, cargo publish, mvn deploy and the Go publish
    endpoint, each into a scope whose quota (set with `cairn quota set` or
    through the admin API) is too small: each client fails showing the
    quota's message, nothing of the version is served, and the numbers do
    not move; raised, the same publish goes through;
  * the cost report by namespace and `cairn quota list` agree with the
    storage API, and `cairn storage --recount` changes nothing.

With CAIRN_DATABASE_URL (PostgreSQL) and S3 settings in the environment it
runs on them, otherwise on the embedded default.

Usage: quota.py CAIRN_BINARY OUTPUT_DIR [LOG_PREFIX]
"""

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

from cairnproc import Cairn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CRANE = os.path.join(ROOT, ".tools", "bin", "crane")
PY_TOOLS = os.path.join(ROOT, ".tools", "py", "bin")
BIN, OUT = sys.argv[1], sys.argv[2]
PREFIX = sys.argv[3] if len(sys.argv) > 3 else "quota"
DATA = os.path.join(OUT, f"{PREFIX}-data")
WORK = os.path.join(OUT, f"{PREFIX}-work")
QUOTA_ENV = {"CAIRN_QUOTA": '[{scope = "small/", max_unique_bytes = "2 MiB"}]'}


def fail(msg):
    raise SystemExit(f"FAIL: {msg}")


def ok(msg):
    print(f"ok - {PREFIX}: {msg}", flush=True)


def run(cmd, cwd=None, env=None, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})})
    if check and r.returncode != 0:
        fail(f"{' '.join(map(str, cmd))}: {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r


def refused(r, what):
    """A client's failed run whose output carries the quota's message."""
    out = r.stdout + r.stderr
    if r.returncode == 0:
        fail(f"{what} succeeded past the quota:\n{out[-1500:]}")
    if "quota exceeded" not in out:
        fail(f"{what} failed without the quota's message:\n{out[-2500:]}")
    line = next(x for x in out.splitlines() if "quota exceeded" in x)
    at = line.index("quota exceeded")
    return line[max(0, at - 60):at + 100].strip()


def cairn(*args, check=True):
    return run([BIN, *args, "--data-dir", DATA], check=check)


def usage(server, prefix):
    st, _, body = server.request("GET", f"/api/v1/storage?prefix={prefix}", auth=server.basic)
    if st != 200:
        fail(f"storage of {prefix}: {st} {body[:200]!r}")
    return json.loads(body)["usage"]


def set_quota(server, scope, size):
    st, _, body = server.request("PUT", f"/api/v1/quotas?scope={scope}",
                                 json.dumps({"max_unique_bytes": size}).encode(),
                                 {"Content-Type": "application/json"}, auth=server.basic)
    if st != 200:
        fail(f"set the quota of {scope}: {st} {body[:200]!r}")


def image_dir(name, size):
    """A one-file layer of `size` random bytes, as a tarball crane appends."""
    d = os.path.join(WORK, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "blob.bin"), "wb") as f:
        f.write(os.urandom(size))
    return shutil.make_archive(os.path.join(WORK, f"{name}-layer"), "gztar", d)


def oci(server):
    host = f"127.0.0.1:{server.port}"
    os.environ["DOCKER_CONFIG"] = os.path.join(WORK, "docker")
    run([CRANE, "auth", "login", host, "-u", "admin", f"--password={server.password}"])
    run([CRANE, "append", "--insecure", "--new_layer", image_dir("small", 1 << 20),
         "--new_tag", f"{host}/small/app:v1"])
    first = usage(server, "small/")
    run([CRANE, "copy", "--insecure", f"{host}/small/app:v1", f"{host}/small/other:v1"])
    second = usage(server, "small/")
    if second["unique"] != first["unique"] or second["logical"] <= first["logical"]:
        fail(f"the same image in a second repository: {first} then {second}")
    ok(f"crane pushed a 1 MiB image into small/ (quota 2 MiB from CAIRN_QUOTA, {first['unique']} unique bytes);"
       f" the same image in small/other cost nothing (logical {second['logical']}, unique {second['unique']})")

    # A bigger image, outside the namespace, then copied in with skopeo.
    run([CRANE, "append", "--insecure", "--new_layer", image_dir("big", 3 << 20),
         "--new_tag", f"{host}/big/app:v1"])
    auth = f"admin:{server.password}"
    r = run(["skopeo", "--command-timeout", "120s", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
             "--src-creds", auth, "--dest-creds", auth,
             f"docker://{host}/big/app:v1", f"docker://{host}/small/app:v2"], check=False)
    line = refused(r, "skopeo copy into small/")
    st, _, _ = server.request("GET", "/v2/small/app/manifests/v2", auth=server.basic)
    if st != 404:
        fail(f"the refused tag is there: {st}")
    after = usage(server, "small/")
    if after["unique"] != second["unique"]:
        fail(f"a refused push changed the namespace's unique bytes: {second} then {after}")
    ok(f"skopeo copying a 3 MiB image into small/ is refused ({line!r}); no tag, no manifest, numbers unchanged")


def npm(server):
    host = f"127.0.0.1:{server.port}"
    cairn("quota", "set", "npm/quota", "100")
    pkg = os.path.join(WORK, "npm-pkg")
    os.makedirs(pkg, exist_ok=True)
    with open(os.path.join(pkg, "package.json"), "w") as f:
        json.dump({"name": "quota-pkg", "version": "1.0.0", "main": "index.js"}, f)
    with open(os.path.join(pkg, "index.js"), "w") as f:
        f.write("module.exports = %r;\n" % os.urandom(256).hex())
    npmrc = os.path.join(WORK, "npmrc")
    token = base64.b64encode(f"admin:{server.password}".encode()).decode()
    with open(npmrc, "w") as f:
        f.write(f"registry=http://{host}/npm/quota/\n//{host}/npm/quota/:_auth={token}\n")
    line = refused(run(["npm", "publish", "--userconfig", npmrc], cwd=pkg, check=False), "npm publish")
    st, _, _ = server.request("GET", "/npm/quota/quota-pkg", auth=server.basic)
    if st != 404:
        fail(f"a refused npm publish left the package: {st}")
    cairn("quota", "set", "npm/quota", "1 MiB")
    run(["npm", "publish", "--userconfig", npmrc], cwd=pkg)
    ok(f"npm publish past `cairn quota set npm/quota 100` fails with {line!r}, nothing stored;"
       " with the quota raised it publishes")


def twine(server):
    set_quota(server, "pypi/", "100 B")
    dist = os.path.join(WORK, "dist")
    os.makedirs(dist, exist_ok=True)
    run([sys.executable, os.path.join(os.path.dirname(__file__), "mkdist.py"), dist, "quota-py", "1.0"])
    files = [os.path.join(dist, f) for f in os.listdir(dist)]
    r = run([os.path.join(PY_TOOLS, "twine"), "upload", "--disable-progress-bar", "--non-interactive",
             "--repository-url", f"http://127.0.0.1:{server.port}/pypi/main/", "-u", "admin",
             f"--password={server.password}", *files], check=False)
    line = refused(r, "twine upload")
    st, _, _ = server.request("GET", "/pypi/main/simple/quota-py/", auth=server.basic)
    if st != 404:
        fail(f"a refused upload left the project: {st}")
    if usage(server, "pypi/")["unique"] != 0:
        fail("a refused upload counted")
    ok(f"twine upload past a 100-byte quota on pypi/ (set through the admin API) fails with {line!r}, nothing stored")


def cargo_(server):
    set_quota(server, "cargo/", 100)
    st, _, body = server.request("POST", "/api/v1/tokens",
                                 json.dumps({"description": "cargo", "scopes": ["cargo/**:read,publish"]}).encode(),
                                 {"Content-Type": "application/json"}, auth=server.basic)
    if st not in (200, 201):
        fail(f"token: {st} {body[:200]!r}")
    d = os.path.join(WORK, "crate")
    os.makedirs(os.path.join(d, "src"), exist_ok=True)
    with open(os.path.join(d, "Cargo.toml"), "w") as f:
        f.write('[package]\nname = "quota-crate"\nversion = "1.0.0"\nedition = "2021"\n'
                'description = "x"\nlicense = "MIT"\n\n'
                '[workspace]\n')  # its own workspace, wherever the output directory is
    with open(os.path.join(d, "src", "lib.rs"), "w") as f:
        f.write("pub fn v() {}\n")
    env = {"CARGO_HOME": tempfile.mkdtemp(dir=WORK), "CARGO_TARGET_DIR": os.path.join(WORK, "cargo-target"),
           "CARGO_TERM_COLOR": "never", "CARGO_NET_RETRY": "0",
           "CARGO_REGISTRIES_Q_INDEX": f"sparse+http://127.0.0.1:{server.port}/cargo/main/index/",
           "CARGO_REGISTRIES_Q_TOKEN": json.loads(body)["token"]}
    r = run(["cargo", "publish", "--registry", "q", "--allow-dirty", "--no-verify"], cwd=d, env=env, check=False)
    line = refused(r, "cargo publish")
    st, _, _ = server.request("GET", "/cargo/main/index/qu/ot/quota-crate", auth=server.basic)
    if st != 404:
        fail(f"a refused cargo publish is in the index: {st}")
    ok(f"cargo publish past a quota on cargo/ fails with {line!r}; not in the index")


def maven(server):
    set_quota(server, "maven/", 100)
    settings = os.path.join(WORK, "settings.xml")
    with open(settings, "w") as f:
        f.write(f"<settings><servers><server><id>cairn</id><username>admin</username>"
                f"<password>{server.password}</password></server></servers></settings>")
    jar = os.path.join(WORK, "lib.jar")
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("data.bin", os.urandom(2048))
    group = f"org.quota{os.getpid()}"
    r = run(["mvn", "-B", "-s", settings, "org.apache.maven.plugins:maven-deploy-plugin:3.1.2:deploy-file",
             f"-Durl=http://127.0.0.1:{server.port}/maven/releases/", "-DrepositoryId=cairn", f"-Dfile={jar}",
             f"-DgroupId={group}", "-DartifactId=lib", "-Dversion=1.0", "-Dpackaging=jar"],
            cwd=WORK, check=False)
    line = refused(r, "mvn deploy")
    path = f"/maven/releases/{group.replace('.', '/')}/lib/1.0/lib-1.0.jar"
    st, _, _ = server.request("GET", path, auth=server.basic)
    if st != 404:
        fail(f"a refused deploy is served: {st}")
    shutil.rmtree(os.path.join(os.path.expanduser("~"), ".m2", "repository", *group.split(".")),
                  ignore_errors=True)
    ok(f"mvn deploy past a quota on maven/ fails with {line!r}; the jar is not served")


def go_(server):
    set_quota(server, "go/", 100)
    module, version = "example.com/quota-mod", "v1.0.0"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{module}@{version}/go.mod", f"module {module}\n\ngo 1.21\n")
        z.writestr(f"{module}@{version}/data.go", f"package m\n\nconst D = {os.urandom(512).hex()!r}\n"
                   .replace("'", '"'))
    st, _, body = server.request("PUT", f"/go/main/{module}/@v/{version}.zip", buf.getvalue(), auth=server.basic)
    text = body.decode(errors="replace")
    if st != 403 or "quota exceeded" not in text:
        fail(f"the Go publish endpoint past a quota: {st} {text[:300]}")
    st, _, _ = server.request("GET", f"/go/main/{module}/@v/list", auth=server.basic)
    st2, _, listing = server.request("GET", f"/go/main/{module}/@v/{version}.info", auth=server.basic)
    if st2 == 200:
        fail(f"a refused module version is served: {listing[:200]!r}")
    ok(f"the Go publish endpoint past a quota on go/ answers 403 {text.strip()[:120]!r}; the version is not served")


def reports(server):
    r = json.loads(cairn("storage", "--by-namespace", "--json").stdout)
    small = next(u for u in r if u["scope"] == "small/")
    if small != {**usage(server, "small/"), "scope": "small/"}:
        fail(f"cost report {small} against the API {usage(server, 'small/')}")
    quotas = json.loads(cairn("quota", "list", "--json").stdout)
    if not any(q["scope"] == "small/" and q["max_unique_bytes"] == 2 << 20 and q["unique"] == small["unique"]
               for q in quotas):
        fail(f"quota list: {quotas}")
    before = cairn("storage", "--by-repository", "--json").stdout
    r = cairn("storage", "--recount", "--by-repository", "--json")
    if r.stderr.strip() or r.stdout != before:
        fail(f"a recount changed the kept numbers:\n{before}\n{r.stdout}\n{r.stderr}")
    ok(f"the cost report by namespace ({len(r.stdout)} bytes of JSON), `cairn quota list` and the storage API"
       " agree; a recount from the references changes nothing")


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    shutil.rmtree(DATA, ignore_errors=True)
    os.makedirs(WORK)
    server = Cairn(BIN, DATA, env=QUOTA_ENV).start(os.path.join(OUT, f"{PREFIX}.log"))
    try:
        oci(server)
        npm(server)
        twine(server)
        cargo_(server)
        maven(server)
        go_(server)
        reports(server)
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
