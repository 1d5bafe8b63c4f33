#!/usr/bin/env python3
"""The `cairn` commands that ask a running server, against a real
`cairn serve` (every admin API operation has one; commands/coverage.rs
checks the list, this test checks what they do):

  * whoami, search, image show (pushed by, last pulled) and untag, package
    show, repository list, proxy cache and drop, virtual external/exempt,
    job start --wait (fsck), job list/show, gc status and run, quarantine
    list/release, attestation keys, vuln exception set/list/remove, sbom
    attach/list/remove, audit --artifact: each answer checked, as a table
    and as `--output json`;
  * a read-only user is refused a tag deletion with the hint to check
    `cairn whoami`; no credential gets the hint to `cairn login`; a server
    that is not there is named with the --url to check.

Usage: cli_remote.py CAIRN_BINARY OUTPUT_DIR
"""

import hashlib
import io
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile

from cairnproc import Cairn

BIN, OUT = sys.argv[1], sys.argv[2]
PREFIX = "cli-remote"
DATA = os.path.join(OUT, f"{PREFIX}-data")
WORK = os.path.join(OUT, f"{PREFIX}-work")
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def fail(msg):
    raise SystemExit(f"FAIL: {msg}")


def ok(msg):
    print(f"ok - {PREFIX}: {msg}", flush=True)


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


class Cli:
    def __init__(self, server, user="admin", password=None):
        self.server, self.user, self.password = server, user, password or server.password

    def run(self, *args, check=True, auth=True):
        env = {**os.environ, "CAIRN_PW": self.password, "CAIRN_LOG": "warn",
               "CAIRN_CREDENTIALS": os.path.join(WORK, "credentials.json")}
        cmd = [BIN, *args, "--url", f"http://127.0.0.1:{self.server.port}"]
        if auth:
            cmd += ["--user", self.user, "--password-env", "CAIRN_PW"]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if check and r.returncode != 0:
            fail(f"cairn {' '.join(args)}: {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        return r

    def json(self, *args):
        r = self.run("--output", "json", *args)
        try:
            return json.loads(r.stdout)
        except ValueError:
            fail(f"cairn --output json {' '.join(args)}: not JSON: {r.stdout[:500]!r}")


def expect(cond, msg, detail=""):
    if not cond:
        fail(f"{msg}\n{detail}"[:3000])
    ok(msg)


def push_image(server, repo, tags):
    layer = os.urandom(4096)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "created": "2026-12-01T00:00:00Z"}).encode()
    for blob in (layer, config):
        st, _, body = server.request("POST", f"/v2/{repo}/blobs/uploads/?digest={sha(blob)}", blob,
                                     {"Content-Type": "application/octet-stream"}, auth=server.basic)
        if st != 201:
            fail(f"blob push: {st} {body[:200]!r}")
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": sha(layer), "size": len(layer)}],
    }).encode()
    for tag in tags:
        st, _, body = server.request("PUT", f"/v2/{repo}/manifests/{tag}", manifest,
                                     {"Content-Type": MANIFEST}, auth=server.basic)
        if st != 201:
            fail(f"manifest push: {st} {body[:200]!r}")
    return sha(manifest)


def npm_publish(server, repo, name, version):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        data = json.dumps({"name": name, "version": version}).encode()
        info = tarfile.TarInfo("package/package.json")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    tgz = buf.getvalue()
    fname = f"{name}-{version}.tgz"
    import base64
    doc = {
        "name": name, "versions": {version: {
            "name": name, "version": version,
            "dist": {"tarball": f"http://x/npm/{repo}/{name}/-/{fname}",
                     "shasum": hashlib.sha1(tgz).hexdigest()}}},
        "dist-tags": {"latest": version},
        "_attachments": {fname: {"content_type": "application/octet-stream",
                                 "data": base64.b64encode(tgz).decode(), "length": len(tgz)}},
    }
    st, _, body = server.request("PUT", f"/npm/{repo}/{name}", json.dumps(doc).encode(),
                                 {"Content-Type": "application/json"}, auth=server.basic)
    if st not in (200, 201):
        fail(f"npm publish: {st} {body[:300]!r}")


def in_a_terminal(argv):
    """Runs a command with a terminal; returns its exit code and what it printed."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, {**os.environ, "CAIRN_LOG": "warn"})
    seen = b""
    deadline = time.time() + 120
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            if os.waitpid(pid, os.WNOHANG)[0]:
                break
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def main():
    for d in (DATA, WORK):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(WORK)
    server = Cairn(BIN, DATA, env={
        "CAIRN_PROXY": '[{format = "npm", name = "npmjs", upstream = "http://127.0.0.1:9/"}]',
        "CAIRN_VIRTUAL": '[{format = "npm", name = "all", members = ["main", "npmjs"]}]',
        "CAIRN_GC__ENABLED": "false",
        # Reads need a credential, so that what each user may read differs.
        "CAIRN_AUTH__ANONYMOUS_READ": "false",
    }).start(os.path.join(OUT, f"{PREFIX}-server.log"))
    try:
        checks(server)
    finally:
        server.terminate()


def checks(server):
    admin = Cli(server)
    digest = push_image(server, "team/app", ["1.0", "old"])
    npm_publish(server, "main", "cli-demo", "1.0.0")

    r = admin.run("whoami")
    expect("admin, administrator" in r.stdout, "whoami names the administrator", r.stdout)

    hits = admin.json("search", digest[:19])["hits"]
    expect(any(h.get("digest") == digest for h in hits), "search by a digest prefix finds the image", hits)
    r = admin.run("search", "pkg:npm/cli-demo")
    expect("cli-demo" in r.stdout and "REPOSITORY" in r.stdout, "search by purl prints a table", r.stdout)

    view = admin.json("image", "show", "team/app:1.0")
    expect(view["digest"] == digest and sorted(view["tags"]) == ["1.0", "old"]
           and view["pushed_by"]["user"] == "admin" and view["pushed_at"] and view["pulled_at"] is None,
           "image show: digest, tags, who pushed it, never pulled", view)
    st, _, _ = server.request("GET", "/v2/team/app/manifests/1.0", headers={"Accept": MANIFEST},
                              auth=server.basic)
    r = admin.run("image", "show", "team/app@" + digest)
    expect(st == 200 and "last pulled: never" not in r.stdout and "pushed:" in r.stdout
           and "sha256:" in r.stdout and "layers:" in r.stdout,
           "after a pull, image show gives when it was last pulled", r.stdout)

    # A read-only user: refused a tag deletion, with what to check.
    users = subprocess.run([BIN, "user", "create", "reader2", "--grant", "team/**:read",
                            "--data-dir", DATA], capture_output=True, text=True)
    password = next((w for w in users.stdout.split() if len(w) >= 16), None)
    if users.returncode != 0 or not password:
        fail(f"user create: {users.stdout} {users.stderr}")
    reader = Cli(server, "reader2", password)
    r = reader.run("image", "untag", "team/app:old", check=False)
    expect(r.returncode != 0 and "403" in r.stderr and "cairn whoami" in r.stderr,
           "a reader's untag is refused with the hint to check whoami", r.stderr)
    r = admin.run("image", "untag", "team/app:old")
    st, _, _ = server.request("HEAD", "/v2/team/app/manifests/old", auth=server.basic)
    st1, _, _ = server.request("HEAD", "/v2/team/app/manifests/1.0", auth=server.basic)
    expect(st == 404 and st1 == 200, "image untag deletes the tag, the image stays", r.stdout)

    pkg = admin.json("package", "show", "--format", "npm", "--repository", "main", "cli-demo")
    v = pkg["versions"][0]
    expect(v["version"] == "1.0.0" and v["state"] == "active" and v["publisher"]["user"] == "admin",
           "package show: the version, its state and publisher", pkg)
    r = admin.run("package", "show", "--format", "npm", "--repository", "main", "cli-demo")
    expect("1.0.0" in r.stdout and "active" in r.stdout and "cli-demo-1.0.0.tgz" in r.stdout,
           "package show prints the versions table", r.stdout)

    repos = admin.json("repository", "list")["repositories"]
    kinds = {(x["format"], x["name"]): x["kind"] for x in repos}
    expect(kinds.get(("npm", "main")) == "hosted" and kinds.get(("npm", "npmjs")) == "proxy"
           and kinds.get(("npm", "all")) == "virtual" and kinds.get(("oci", "team/app")) == "hosted",
           "repository list: hosted, proxy and virtual", kinds)

    held = admin.json("repository", "show", "oci/team/app")
    expect([t["tag"] for t in held["tags"]] == ["1.0"] and held["tags"][0]["digest"] == digest
           and held["manifests"] == 1, "repository show: an image repository's tags and digests", held)
    r = admin.run("repository", "show", "npm/main")
    expect(r.stdout.split() == ["cli-demo"], "repository show: a package repository's packages", r.stdout)
    r = reader.run("repository", "show", "npm/main", check=False)
    expect(r.returncode != 0 and "404" in r.stderr, "and nothing to whom may not read it", r.stderr)

    cache = admin.json("proxy", "cache", "npm/npmjs")
    expect(cache["cached_objects"] == 0 and cache["entries"] == [], "proxy cache of an empty proxy", cache)
    r = admin.run("proxy", "drop", "npm/npmjs", "left-pad", check=False)
    expect(r.returncode != 0 and "404" in r.stderr and "no cached" in r.stderr,
           "proxy drop of what is not cached says so", r.stderr)

    admin.run("virtual", "external", "add", "npm/all", "cli-demo", "--reason", "ours too")
    listed = admin.json("virtual", "external", "list", "npm/all")["external"]
    expect([x["package"] for x in listed] == ["cli-demo"] and listed[0]["reason"] == "ours too",
           "virtual external add/list", listed)
    admin.run("virtual", "external", "remove", "npm/all", "cli-demo")
    expect(admin.json("virtual", "external", "list", "npm/all")["external"] == [],
           "virtual external remove", "")
    admin.run("virtual", "exempt", "add", "npm/all", "cli-demo", "--version", "1.0.0", "--reason", "fix")
    listed = admin.json("virtual", "exempt", "list", "npm/all")["exempt"]
    expect([(x["package"], x["version"]) for x in listed] == [("cli-demo", "1.0.0")],
           "virtual exempt add/list", listed)
    admin.run("virtual", "exempt", "remove", "npm/all", "cli-demo", "--version", "1.0.0")
    expect(admin.json("virtual", "exempt", "list", "npm/all")["exempt"] == [], "virtual exempt remove", "")

    r = admin.run("job", "start", "fsck", "--rehash", "--wait")
    expect("(fsck): done" in r.stdout and '"clean": true' in r.stdout,
           "job start fsck --wait follows the job to its clean end", r.stdout)
    jobs = admin.json("job", "list")["jobs"]
    job = admin.json("job", "show", jobs[0]["id"])
    expect(job["kind"] == "fsck" and job["state"] == "done" and job["result"]["clean"] is True,
           "job list and job show read the job back", job)
    r = admin.run("job", "cancel", jobs[0]["id"], check=False)
    expect(r.returncode != 0 and "409" in r.stderr, "cancelling a finished job is refused", r.stderr)

    status = admin.json("gc", "status")
    expect(status["live"]["blobs"] >= 3 and status["settings"]["enabled"] is False,
           "gc status: the blob rows and the collector's settings", status)
    report = admin.json("gc", "run", "--grace-secs", "3600")
    expect("deleted" in json.dumps(report), "gc run answers the collector's report", report)

    expect(admin.json("quarantine", "list")["quarantined"] == [], "quarantine list (empty)", "")
    r = admin.run("quarantine", "release", "sha256:" + "0" * 64, check=False)
    expect(r.returncode != 0 and "not quarantined" in r.stderr, "quarantine release of nothing says so", r.stderr)

    keys = admin.json("attestation", "keys")
    expect(isinstance(keys["keys"], list), "attestation keys answers", keys)

    admin.run("vuln", "exception", "set", "GHSA-aaaa-bbbb-cccc", "npm/*", "--reason", "not reachable",
              "--expires", "2099-01-01T00:00:00Z")
    r = admin.run("vuln", "exception", "list")
    expect("GHSA-aaaa-bbbb-cccc" in r.stdout and "2099-01-01" in r.stdout, "vuln exception set/list", r.stdout)
    admin.run("vuln", "exception", "remove", "GHSA-aaaa-bbbb-cccc", "npm/*")
    expect(admin.json("vuln", "exception", "list")["exceptions"] == [], "vuln exception remove", "")

    bom = os.path.join(WORK, "bom.json")
    with open(bom, "w") as f:
        json.dump({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
                   "components": [{"type": "library", "name": "left-pad", "version": "1.3.0",
                                   "purl": "pkg:npm/left-pad@1.3.0"}]}, f)
    admin.run("sbom", "attach", bom, "--format", "npm", "--repository", "main", "--package", "cli-demo",
              "--version", "1.0.0")
    listed = admin.json("sbom", "list", "npm", "main", "cli-demo", "1.0.0")["sboms"]
    admin.run("sbom", "remove", "npm", "main", "cli-demo", "1.0.0", "--digest", listed[0]["digest"])
    expect(len(listed) == 1 and admin.json("sbom", "list", "npm", "main", "cli-demo", "1.0.0")["sboms"] == [],
           "sbom attach, list and remove", listed)

    r = subprocess.run([BIN, "audit", "--artifact", digest, "--action", "manifest.put", "--data-dir", DATA],
                       capture_output=True, text=True)
    lines = [x for x in r.stdout.splitlines() if x.strip()]
    expect(r.returncode == 0 and len(lines) == 2 and all(digest in x for x in lines),
           "audit --artifact: the image's two pushes (tags 1.0 and old) and nothing else", r.stdout + r.stderr)

    # A long local job on a terminal shows a progress bar (and none without one).
    osv = os.path.join(WORK, "osv.zip")
    with zipfile.ZipFile(osv, "w") as z:
        for i in range(3000):
            z.writestr(f"GHSA-cli{i:04d}-0000-0000.json", json.dumps({
                "id": f"GHSA-cli{i:04d}-0000-0000", "modified": "2026-11-01T00:00:00Z",
                "affected": [{"package": {"ecosystem": "npm", "name": f"cli-pkg-{i}"},
                              "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}))
    code, seen = in_a_terminal([BIN, "vuln", "import", osv, "--data-dir", DATA])
    expect(code == 0 and "vuln import" in seen and "/3000" in seen and "3000 added" in seen,
           "vuln import on a terminal draws a progress bar", seen[-600:])
    r = subprocess.run([BIN, "vuln", "import", osv, "--data-dir", DATA], capture_output=True, text=True)
    expect(r.returncode == 0 and "/3000" not in r.stderr and "3000 unchanged" in r.stdout,
           "and prints lines instead when it has none", r.stderr[-300:] + r.stdout)

    r = admin.run("whoami", auth=False, check=False)
    expect(r.returncode != 0 and "401" in r.stderr and "cairn login" in r.stderr,
           "no credential: refused with the hint to sign in", r.stdout + r.stderr)
    r = admin.run("repository", "list", auth=False, check=False)
    r2 = subprocess.run([BIN, "job", "list", "--url", "http://127.0.0.1:9"], capture_output=True, text=True)
    expect(r2.returncode != 0 and "cannot reach cairn at http://127.0.0.1:9" in r2.stderr,
           "a server that is not there is named, with --url to check", r2.stderr)


if __name__ == "__main__":
    main()
