#!/usr/bin/env python3
"""Backup, restore and the restore horizon, with real clients:

  * populate: an image (crane push), an npm package (npm publish), a PyPI
    package (twine upload);
  * `cairn backup create` while the server serves; `cairn backup verify`;
  * keep writing and collecting: the backed-up image is deleted and the
    collector runs every second, yet the backup's blobs stay (held);
  * destroy the metadata (the SQLite file, or every table on PostgreSQL),
    `cairn restore`, start again: crane pulls the image, npm installs the
    package and pip installs the PyPI one — everything the backup had;
  * `cairn backup release` lets the collector have what only the backup held;
  * `cairn dr-drill` restores the backup into a scratch database while the
    registry serves, and fetches every format (OCI, npm, PyPI, Cargo, Go,
    Maven) through a second cairn on it, checking every digest: once right
    after the backup, once after the backed-up image was deleted and
    collected; with one of the backup's blobs taken away, it reports the gap
    and fails.

With CAIRN_DATABASE_URL (PostgreSQL) and S3 settings in the environment it
runs on them (pg_dump / pg_restore), otherwise on the embedded default.

Usage: backup.py CAIRN_BINARY OUTPUT_DIR [LOG_PREFIX]
"""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile

from cairnproc import Cairn

BIN_TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".tools", "bin")
CRANE = os.path.join(BIN_TOOLS, "crane")

BIN, OUT = sys.argv[1], sys.argv[2]
PREFIX = sys.argv[3] if len(sys.argv) > 3 else "backup"
DB = os.environ.get("CAIRN_DATABASE_URL", "")
GC_ENV = {"CAIRN_GC__INTERVAL_SECS": "1", "CAIRN_GC__GRACE_SECS": "1"}
DATA = os.path.join(OUT, f"{PREFIX}-data")
WORK = os.path.join(OUT, f"{PREFIX}-work")
PY_TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".tools", "py", "bin")


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")


def run(cmd, env=None, cwd=None, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **GC_ENV, **(env or {})},
                       cwd=cwd)
    if check and r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(map(str, cmd))}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def cairn(*args, check=True):
    return run([BIN, *args, "--data-dir", DATA], check=check)


def populate(server):
    host = f"127.0.0.1:{server.port}"
    # An image, with crane.
    os.environ["DOCKER_CONFIG"] = os.path.join(WORK, "docker")
    run([CRANE, "auth", "login", host, "-u", "admin", f"--password={server.password}"])
    layer_dir = os.path.join(WORK, "image")
    os.makedirs(layer_dir, exist_ok=True)
    with open(os.path.join(layer_dir, "hello.txt"), "w") as f:
        f.write(f"hello from the backup test {time.time()}\n")
    run([CRANE, "append", "--insecure", "--new_layer", shutil.make_archive(
        os.path.join(WORK, "layer"), "gztar", layer_dir), "--new_tag", f"{host}/drill/app:v1"])
    digest = run([CRANE, "digest", "--insecure", f"{host}/drill/app:v1"]).stdout.strip()
    # An npm package, with npm publish.
    pkg = os.path.join(WORK, "npm-pkg")
    os.makedirs(pkg, exist_ok=True)
    with open(os.path.join(pkg, "package.json"), "w") as f:
        json.dump({"name": "drill-pkg", "version": "1.0.0", "main": "index.js"}, f)
    with open(os.path.join(pkg, "index.js"), "w") as f:
        f.write("module.exports = 'restored';\n")
    npmrc = os.path.join(WORK, "npmrc")
    token = base64_basic(server)
    with open(npmrc, "w") as f:
        f.write(f"registry=http://{host}/npm/main/\n//{host}/npm/main/:_auth={token}\n")
    run(["npm", "publish", "--userconfig", npmrc], cwd=pkg)
    # A PyPI package, with twine.
    dist = os.path.join(WORK, "dist")
    os.makedirs(dist, exist_ok=True)
    run([sys.executable, os.path.join(os.path.dirname(__file__), "mkdist.py"), dist, "drill-py", "1.0"])
    run([os.path.join(PY_TOOLS, "twine"), "upload", "--disable-progress-bar", "--non-interactive", "--repository-url", f"http://{host}/pypi/main/",
         "-u", "admin", f"--password={server.password}", *[os.path.join(dist, f) for f in os.listdir(dist)]])
    # A crate, with cargo publish.
    st, _, body = server.request("POST", "/api/v1/tokens",
                                 json.dumps({"description": "cargo", "scopes": ["cargo/**:read,publish"]}).encode(),
                                 {"Content-Type": "application/json"}, auth=server.basic)
    expect(st in (200, 201), f"token: {st} {body[:200]!r}")
    crate = os.path.join(WORK, "crate")
    os.makedirs(os.path.join(crate, "src"), exist_ok=True)
    with open(os.path.join(crate, "Cargo.toml"), "w") as f:
        f.write('[package]\nname = "drill-crate"\nversion = "1.0.0"\nedition = "2021"\n'
                'description = "x"\nlicense = "MIT"\n\n'
                '[workspace]\n')  # its own workspace, wherever the output directory is
    with open(os.path.join(crate, "src", "lib.rs"), "w") as f:
        f.write("pub fn restored() {}\n")
    run(["cargo", "publish", "--registry", "drill", "--allow-dirty", "--no-verify"], cwd=crate,
        env={"CARGO_HOME": os.path.join(WORK, "cargo-home"), "CARGO_TARGET_DIR": os.path.join(WORK, "cargo-target"),
             "CARGO_TERM_COLOR": "never", "CARGO_NET_RETRY": "0",
             "CARGO_REGISTRIES_DRILL_INDEX": f"sparse+http://{host}/cargo/main/index/",
             "CARGO_REGISTRIES_DRILL_TOKEN": json.loads(body)["token"]})
    # A Go module version and a Maven artifact, through their publish endpoints.
    module = io.BytesIO()
    with zipfile.ZipFile(module, "w") as z:
        z.writestr("example.com/drill@v1.0.0/go.mod", "module example.com/drill\n\ngo 1.21\n")
        z.writestr("example.com/drill@v1.0.0/drill.go", "package drill\n")
    st, _, body = server.request("PUT", "/go/main/example.com/drill/@v/v1.0.0.zip", module.getvalue(),
                                 auth=server.basic)
    expect(st in (200, 201), f"go publish: {st} {body[:200]!r}")
    pom = (b"<project><modelVersion>4.0.0</modelVersion><groupId>org.drill</groupId>"
           b"<artifactId>lib</artifactId><version>1.0</version></project>")
    for name, data in [("lib-1.0.pom", pom), ("lib-1.0.jar", os.urandom(2048))]:
        st, _, body = server.request("PUT", f"/maven/releases/org/drill/lib/1.0/{name}", data, auth=server.basic)
        expect(st in (200, 201), f"maven deploy {name}: {st} {body[:200]!r}")
    return digest


def drill(backup_dir, label, expect_gap=False):
    """Runs `cairn dr-drill` on a backup; its summary line."""
    scratch = os.path.join(WORK, f"drill-{label}")
    extra = ["--scratch", scratch]
    if DB.startswith("postgres"):
        name = f"drill_{label}_{os.getpid()}"
        run(["psql", "-q", DB, "-c", f"CREATE DATABASE {name}"])
        extra = ["--scratch-database-url", DB.rsplit("/", 1)[0] + "/" + name]
    r = cairn("dr-drill", backup_dir, *extra, check=not expect_gap)
    summary = r.stdout.strip().splitlines()[0] if r.stdout.strip() else ""
    if expect_gap:
        expect(r.returncode != 0 and "gap:" in r.stdout, f"a drill with a blob gone passed:\n{r.stdout}\n{r.stderr}")
        return summary
    for kind in ("cargo 1/1", "go 1/1", "maven 1/1", "npm 1/1", "oci 1/1", "pypi 1/1"):
        expect(kind in summary, f"the drill did not fetch {kind}: {summary}")
    expect(" 0 gaps" in summary, summary)
    return summary


def base64_basic(server):
    import base64
    return base64.b64encode(f"admin:{server.password}".encode()).decode()


def install_everything(server, digest):
    host = f"127.0.0.1:{server.port}"
    got = run([CRANE, "digest", "--insecure", f"{host}/drill/app:v1"]).stdout.strip()
    expect(got == digest, f"the restored tag points at {got}, not {digest}")
    run([CRANE, "pull", "--insecure", f"{host}/drill/app@{digest}", os.path.join(WORK, "pulled.tar")])
    app = os.path.join(WORK, "npm-app")
    shutil.rmtree(app, ignore_errors=True)
    os.makedirs(app)
    run(["npm", "install", "--no-audit", "--no-fund", "--registry", f"http://{host}/npm/main/",
         "drill-pkg@1.0.0"], cwd=app)
    expect(os.path.exists(os.path.join(app, "node_modules", "drill-pkg", "index.js")), "npm install")
    target = os.path.join(WORK, "pip-target")
    shutil.rmtree(target, ignore_errors=True)
    run([os.path.join(PY_TOOLS, "pip"), "install", "--disable-pip-version-check", "--no-cache-dir",
         "--no-deps", "--target", target,
         "--index-url", f"http://{host}/pypi/main/simple/", "drill-py==1.0"])


def destroy_metadata():
    if DB.startswith("postgres"):
        run(["psql", "-q", DB, "-c", "DROP SCHEMA public CASCADE", "-c", "CREATE SCHEMA public"])
    else:
        for suffix in ("", "-wal", "-shm"):
            path = os.path.join(DATA, "cairn.db" + suffix)
            if os.path.exists(path):
                os.remove(path)


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    server = Cairn(BIN, DATA, env=GC_ENV).start(os.path.join(OUT, f"{PREFIX}.log"))
    digest = populate(server)

    r = cairn("backup", "create", "--to", os.path.join(OUT, f"{PREFIX}-backups"))
    backup_id = r.stdout.split()[1]
    backup_dir = os.path.join(OUT, f"{PREFIX}-backups", backup_id)
    cairn("backup", "verify", "--rehash", backup_dir)
    print(f"ok - {PREFIX}: a backup taken while serving ({r.stdout.strip()}), verified")
    print(f"ok - {PREFIX}: dr-drill while serving: {drill(backup_dir, 'first')}")

    # Keep writing and collecting: the image goes from the registry, its
    # blobs stay, held by the backup.
    st, _, body = server.request("DELETE", f"/v2/drill/app/manifests/{digest}", auth=server.basic)
    expect(st == 202, f"delete the image: {st} {body[:200]!r}")
    st, _, body = server.request("POST", "/api/v1/gc?grace_secs=0", auth=server.basic)
    expect(st == 200, f"gc: {st} {body[:200]!r}")
    held = [line.split()[0] for line in open(os.path.join(backup_dir, "blobs.txt"))]
    cairn("backup", "verify", backup_dir)  # every held blob is still stored
    r = cairn("fsck")
    print(f"ok - {PREFIX}: the backed-up image deleted and collected after, its {len(held)} held blobs kept "
          f"({r.stdout.strip()})")
    print(f"ok - {PREFIX}: dr-drill after the image was deleted and collected: {drill(backup_dir, 'after')}")
    if not DB.startswith("postgres"):
        # One of the backup's blobs taken away: the drill names the gap.
        victim = next(os.path.join(d, f) for d, _, fs in os.walk(DATA) for f in fs if f == held[-1].split(":")[1])
        os.rename(victim, victim + ".away")
        summary = drill(backup_dir, "gap", expect_gap=True)
        os.rename(victim + ".away", victim)
        print(f"ok - {PREFIX}: dr-drill with one of the backup's blobs gone fails and names it ({summary})")
    server.terminate()

    destroy_metadata()
    started = time.time()
    r = cairn("restore", backup_dir)
    server = Cairn(BIN, DATA, password=server.password, env=GC_ENV).start(
        os.path.join(OUT, f"{PREFIX}-restored.log"))
    install_everything(server, digest)
    print(f"ok - {PREFIX}: metadata destroyed, restored ({r.stdout.strip()}); crane pulls the image, npm and "
          f"pip install the packages, {time.time() - started:.1f} s from restore to installed")

    # Released: the collector may now take what only the backup held. The
    # restored registry references the image again, so nothing it uses goes.
    cairn("backup", "release", backup_id)
    server.request("POST", "/api/v1/gc?grace_secs=0", auth=server.basic)
    install_everything(server, digest)
    r = cairn("fsck", "--rehash")
    print(f"ok - {PREFIX}: backup released, the collector ran, everything still installs; fsck: {r.stdout.strip()}")
    server.terminate()


if __name__ == "__main__":
    main()
