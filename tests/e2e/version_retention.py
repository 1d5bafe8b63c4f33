#!/usr/bin/env python3
"""Retention of package versions with real clients:

  * npm: 1.0.0, 1.1.0-beta.1..3 and 1.1.0 published with npm, beta.2 tagged
    `next` with npm dist-tag; the policy (keep_last = 0) deletes the
    untagged betas: npm view lists the rest, the dist-tags stay, installing
    a deleted beta fails, and its tarball answers 410;
  * PyPI: 1.0, 1.1rc1, 1.1rc2, 1.1 uploaded with twine; the release
    candidates go, pip installs 1.1 and cannot find 1.1rc1;
  * Maven: three builds of 1.0-SNAPSHOT deployed with mvn deploy:deploy-file,
    and 0.9-SNAPSHOT released as 0.9; the policy keeps one snapshot build and
    removes released snapshots: maven-metadata.xml names only the newest
    build, mvn resolves 1.0-SNAPSHOT to it, 0.9-SNAPSHOT leaves the
    artifact's metadata, an old build's jar is not found;
  * `cairn retention preview --json` names exactly what the admin API then
    deletes; a second preview is empty; the collector frees the bytes and
    fsck is clean.

Usage: version_retention.py CAIRN_BINARY OUTPUT_DIR
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import zipfile

from cairnproc import Cairn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PY_TOOLS = os.path.join(ROOT, ".tools", "py", "bin")
BIN, OUT = sys.argv[1], sys.argv[2]
DATA = os.path.join(OUT, "version-retention-data")
WORK = os.path.join(OUT, "version-retention-work")
GROUP = f"org.ret{os.getpid()}"
ENV = {
    "CAIRN_RETENTION": '[{name = "npm-betas", format = "npm", repositories = ["main"], keep_last = 0}, '
                       '{name = "rcs", format = "pypi", repositories = ["main"], keep_last = 0}, '
                       '{name = "snapshots", format = "maven", repositories = ["snapshots"], '
                       'snapshots = {keep_last = 1, remove_released = true}}]',
    "CAIRN_GC__INTERVAL_SECS": "3600",
}


def fail(msg):
    raise SystemExit(f"FAIL: {msg}")


def ok(msg):
    print(f"ok - version retention: {msg}", flush=True)


def run(cmd, cwd=None, env=None, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env={**os.environ, **ENV, **(env or {})})
    if check and r.returncode != 0:
        fail(f"{' '.join(map(str, cmd))}: {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r


def npm_setup(server):
    host = f"127.0.0.1:{server.port}"
    npmrc = os.path.join(WORK, "npmrc")
    token = base64.b64encode(f"admin:{server.password}".encode()).decode()
    with open(npmrc, "w") as f:
        f.write(f"registry=http://{host}/npm/main/\n//{host}/npm/main/:_auth={token}\n")
    for v in ["1.0.0", "1.1.0-beta.1", "1.1.0-beta.2", "1.1.0-beta.3", "1.1.0"]:
        pkg = os.path.join(WORK, f"npm-{v}")
        os.makedirs(pkg, exist_ok=True)
        with open(os.path.join(pkg, "package.json"), "w") as f:
            json.dump({"name": "ret-pkg", "version": v, "main": "index.js"}, f)
        with open(os.path.join(pkg, "index.js"), "w") as f:
            f.write(f"module.exports = {v!r};\n")
        tag = ["--tag", "beta"] if "beta" in v else []
        run(["npm", "publish", "--userconfig", npmrc, *tag], cwd=pkg)
    run(["npm", "dist-tag", "add", "ret-pkg@1.1.0-beta.2", "next", "--userconfig", npmrc], cwd=WORK)
    run(["npm", "dist-tag", "rm", "ret-pkg", "beta", "--userconfig", npmrc], cwd=WORK)
    return npmrc


def pypi_setup(server):
    dist = os.path.join(WORK, "dist")
    os.makedirs(dist, exist_ok=True)
    for v in ["1.0", "1.1rc1", "1.1rc2", "1.1"]:
        run([sys.executable, os.path.join(os.path.dirname(__file__), "mkdist.py"), dist, "ret-py", v])
    run([os.path.join(PY_TOOLS, "twine"), "upload", "--disable-progress-bar", "--non-interactive",
         "--repository-url", f"http://127.0.0.1:{server.port}/pypi/main/", "-u", "admin",
         f"--password={server.password}", *[os.path.join(dist, f) for f in sorted(os.listdir(dist))]])


def mvn_setup(server):
    settings = os.path.join(WORK, "settings.xml")
    with open(settings, "w") as f:
        f.write(f"<settings><servers><server><id>cairn</id><username>admin</username>"
                f"<password>{server.password}</password></server></servers></settings>")

    def deploy(version, n):
        jar = os.path.join(WORK, f"lib-{version}-{n}.jar")
        with zipfile.ZipFile(jar, "w") as z:
            z.writestr("build.txt", f"{version} build {n}\n")
        run(["mvn", "-B", "-q", "-s", settings,
             "org.apache.maven.plugins:maven-deploy-plugin:3.1.2:deploy-file",
             f"-Durl=http://127.0.0.1:{server.port}/maven/snapshots/", "-DrepositoryId=cairn", f"-Dfile={jar}",
             f"-DgroupId={GROUP}", "-DartifactId=lib", f"-Dversion={version}", "-Dpackaging=jar"], cwd=WORK)
    for n in (1, 2, 3):
        deploy("1.0-SNAPSHOT", n)
    deploy("0.9-SNAPSHOT", 1)
    deploy("0.9", 1)
    return settings


def get(server, path):
    st, _, body = server.request("GET", path, auth=server.basic)
    return st, body


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    server = Cairn(BIN, DATA, env=ENV).start(os.path.join(OUT, "version-retention.log"))
    npmrc = npm_setup(server)
    pypi_setup(server)
    settings = mvn_setup(server)
    gpath = GROUP.replace(".", "/")
    st, meta = get(server, f"/maven/snapshots/{gpath}/lib/1.0-SNAPSHOT/maven-metadata.xml")
    if st != 200 or b"<buildNumber>3</buildNumber>" not in meta:
        fail(f"three snapshot builds deployed: {st} {meta[:400]!r}")

    lines = run([BIN, "retention", "preview", "--json", "--data-dir", DATA]).stdout.splitlines()
    plans = {p["repository"]: p for p in map(json.loads, lines)}
    got = {repo: sorted((a["action"], a.get("version")) for a in p["actions"]) for repo, p in plans.items()}
    want = {
        "npm/main": [("delete_version", "1.1.0-beta.1"), ("delete_version", "1.1.0-beta.3")],
        "pypi/main": [("delete_version", "1.1rc1"), ("delete_version", "1.1rc2")],
        "maven/snapshots": [("delete_files", "1.0-SNAPSHOT"), ("delete_files", "1.0-SNAPSHOT"),
                            ("delete_version", "0.9-SNAPSHOT")],
    }
    if got != want:
        fail(f"preview: {json.dumps(plans, indent=1)[:3000]}")
    if not all(a["why"] for p in plans.values() for a in p["actions"]):
        fail("an action without its reason")
    ok(f"preview: npm betas 1 and 3 (beta.2 is tagged next, releases protected), PyPI 1.1rc1 and 1.1rc2, "
       f"Maven builds 1 and 2 of 1.0-SNAPSHOT and the released 0.9-SNAPSHOT, each with its reason")

    st, _, body = server.request("POST", "/api/v1/retention", auth=server.basic)
    if st != 200:
        fail(f"apply: {st} {body[:300]!r}")
    report = json.loads(body)["report"]
    if report["versions_deleted"] != 5 or report["files_deleted"] < 4 or report["skipped"] != 0:
        fail(f"apply report: {report}")
    after = run([BIN, "retention", "preview", "--json", "--data-dir", DATA]).stdout.strip()
    if after:
        fail(f"a second preview is not empty: {after}")
    ok(f"applied through the admin API, exactly the preview ({report}); a second preview is empty")

    # npm
    versions = json.loads(run(["npm", "view", "ret-pkg", "versions", "--json", "--userconfig", npmrc],
                              cwd=WORK).stdout)
    if versions != ["1.0.0", "1.1.0-beta.2", "1.1.0"]:
        fail(f"npm view versions: {versions}")
    tags = json.loads(run(["npm", "view", "ret-pkg", "dist-tags", "--json", "--userconfig", npmrc],
                          cwd=WORK).stdout)
    if tags.get("latest") != "1.1.0" or tags.get("next") != "1.1.0-beta.2":
        fail(f"dist-tags: {tags}")
    app = os.path.join(WORK, "npm-app")
    os.makedirs(app)
    r = run(["npm", "install", "--no-audit", "--no-fund", "--userconfig", npmrc, "ret-pkg@1.1.0-beta.1"],
            cwd=app, check=False)
    if r.returncode == 0:
        fail("npm installed a deleted version")
    st, _ = get(server, "/npm/main/ret-pkg/-/ret-pkg-1.1.0-beta.1.tgz")
    if st != 410:
        fail(f"a deleted version's tarball: {st}")
    run(["npm", "install", "--no-audit", "--no-fund", "--userconfig", npmrc, "ret-pkg@next"], cwd=app)
    ok(f"npm view lists {versions}, dist-tags {tags} intact; npm install of the deleted beta.1 fails "
       f"and its tarball answers 410; ret-pkg@next installs")

    # PyPI
    target = os.path.join(WORK, "pip-target")
    pip = [os.path.join(PY_TOOLS, "pip"), "install", "--disable-pip-version-check", "--no-cache-dir", "--no-deps",
           "--target", target, "--index-url", f"http://127.0.0.1:{server.port}/pypi/main/simple/"]
    r = run([*pip, "ret-py==1.1rc1"], check=False)
    if r.returncode == 0:
        fail("pip installed a deleted release candidate")
    run([*pip, "--pre", "ret-py"])
    installed = [d for d in os.listdir(target) if d.startswith("ret_py-")]
    if installed != ["ret_py-1.1.dist-info"]:
        fail(f"pip --pre installed {installed}")
    ok("pip cannot find the deleted 1.1rc1; pip install --pre takes 1.1")

    # Maven
    st, meta = get(server, f"/maven/snapshots/{gpath}/lib/1.0-SNAPSHOT/maven-metadata.xml")
    text = meta.decode()
    if st != 200 or "<buildNumber>3</buildNumber>" not in text or "-1</value>" in text or "-2</value>" in text:
        fail(f"snapshot metadata after: {st} {text}")
    st, meta = get(server, f"/maven/snapshots/{gpath}/lib/maven-metadata.xml")
    if st != 200 or "0.9-SNAPSHOT" in meta.decode() or "1.0-SNAPSHOT" not in meta.decode():
        fail(f"artifact metadata after: {st} {meta.decode()}")
    old_build = next(line for line in planned_files(plans) if line.endswith(".jar"))
    st, _ = get(server, f"/maven/snapshots/{gpath}/lib/1.0-SNAPSHOT/{old_build}")
    if st != 404:
        fail(f"a pruned build's jar: {st}")
    m2 = os.path.join(WORK, "m2")
    run(["mvn", "-B", "-q", "-s", settings, f"-Dmaven.repo.local={m2}",
         "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get", f"-Dartifact={GROUP}:lib:1.0-SNAPSHOT",
         "-Dtransitive=false", f"-DremoteRepositories=cairn::default::http://127.0.0.1:{server.port}/maven/snapshots/"],
        cwd=WORK)
    jar = os.path.join(m2, *GROUP.split("."), "lib", "1.0-SNAPSHOT", "lib-1.0-SNAPSHOT.jar")
    with zipfile.ZipFile(jar) as z:
        build = z.read("build.txt").decode().strip()
    if build != "1.0-SNAPSHOT build 3":
        fail(f"mvn resolved 1.0-SNAPSHOT to {build}")
    ok(f"the snapshot's maven-metadata.xml names only build 3, 0.9-SNAPSHOT left the "
       f"artifact's metadata, {old_build} is not found, and mvn resolves 1.0-SNAPSHOT to {build!r}")

    st, _, body = server.request("POST", "/api/v1/gc?grace_secs=0", auth=server.basic)
    deleted = json.loads(body)["report"]["deleted"] if st == 200 else 0
    if deleted < 9:
        fail(f"the collector after retention: {st} {body[:300]!r}")
    fsck = run([BIN, "fsck", "--data-dir", DATA]).stdout.strip()
    ok(f"the collector freed {deleted} blobs; fsck: {fsck}")
    server.terminate()


def planned_files(plans):
    return [f for p in plans.values() for a in p["actions"] for f in a.get("files", [])]


if __name__ == "__main__":
    main()
