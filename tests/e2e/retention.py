#!/usr/bin/env python3
"""Retention golden case with real clients. One repository holds:

  * ci-0 .. ci-4, pushed one after another; ci-0 (the oldest) is pulled by
    digest afterwards, which counts as use;
  * ci-idx: a multi-platform index (two platform images) with a signature
    and an SBOM attached by oras, tagged before ci-1;
  * release-1: another index with a signature and an SBOM, oldest of all,
    under an immutability rule;
  * an untagged image pushed by digest.

The policy: keep the 2 most recently pushed or pulled tags, delete untagged
manifests. Expected: ci-0 and ci-4 stay (release-1 is protected); ci-1..3
and ci-idx go with their manifests, the index's children, signature and
SBOM; release-1's children and referrers stay; the untagged image goes.
`cairn retention preview` lists exactly that; applying it (admin API)
deletes exactly that; the collector then frees the bytes; crane pulls
what stayed; fsck is clean.

Usage: retention.py CAIRN_BINARY OUTPUT_DIR
"""

import hashlib
import json
import os
import subprocess
import sys
import time

from cairnproc import Cairn

BIN_TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".tools", "bin")
CRANE = os.path.join(BIN_TOOLS, "crane")
ORAS = os.path.join(BIN_TOOLS, "oras")

BIN, OUT = sys.argv[1], sys.argv[2]
DATA = os.path.join(OUT, "retention-data")
WORK = os.path.join(OUT, "retention-work")
REPO = "team/app"
IMAGE = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
ENV = {
    "CAIRN_RETENTION": '[{name = "ci", repositories = ["team/**"], keep_last = 2, untagged = "delete", '
                       'untagged_min_age_hours = 0}]',
    "CAIRN_OCI__IMMUTABLE_TAGS": '[{name = "releases", repositories = "**", tags = "^release-"}]',
    "CAIRN_GC__INTERVAL_SECS": "3600",
}


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **ENV}, **kw)
    if r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(map(str, cmd))}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r.stdout


class Registry:
    def __init__(self, server):
        self.s = server

    def blob(self, data):
        st, _, body = self.s.request("POST", f"/v2/{REPO}/blobs/uploads/?digest={sha(data)}", data,
                                     auth=self.s.basic)
        expect(st == 201, f"blob: {st} {body[:200]!r}")
        return {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(data), "size": len(data)}

    def manifest(self, doc, media_type, reference=None):
        body = json.dumps(doc).encode()
        ref = reference or sha(body)
        st, _, resp = self.s.request("PUT", f"/v2/{REPO}/manifests/{ref}", body, {"Content-Type": media_type},
                                     auth=self.s.basic)
        expect(st == 201, f"manifest {ref}: {st} {resp[:200]!r}")
        return sha(body), len(body)

    def image(self, name, tag=None, platform=None):
        config = json.dumps({"name": name, "architecture": platform or "amd64", "os": "linux"}).encode()
        c = self.blob(config)
        c["mediaType"] = "application/vnd.oci.image.config.v1+json"
        layer = self.blob(f"layer of {name} {time.time()}".encode())
        return self.manifest({"schemaVersion": 2, "mediaType": IMAGE, "config": c, "layers": [layer]}, IMAGE, tag)

    def index(self, name, tag):
        children = []
        for arch in ("amd64", "arm64"):
            d, n = self.image(f"{name}-{arch}", platform=arch)
            children.append({"mediaType": IMAGE, "digest": d, "size": n,
                             "platform": {"architecture": arch, "os": "linux"}})
        d, _ = self.manifest({"schemaVersion": 2, "mediaType": INDEX, "manifests": children}, INDEX, tag)
        return d, [c["digest"] for c in children]

    def attach(self, subject, artifact_type, filename):
        path = os.path.join(WORK, filename)
        with open(path, "w") as f:
            json.dump({"for": subject, "type": artifact_type, "t": time.time()}, f)
        run([ORAS, "attach", "--plain-http", "-u", "admin", "--password=" + self.s.password,
             "--artifact-type", artifact_type, f"127.0.0.1:{self.s.port}/{REPO}@{subject}",
             f"{filename}:application/json"], cwd=WORK)

    def referrers(self, subject):
        st, _, body = self.s.request("GET", f"/v2/{REPO}/referrers/{subject}", auth=self.s.basic)
        expect(st == 200, f"referrers of {subject}: {st}")
        return [m["digest"] for m in json.loads(body)["manifests"]]

    def exists(self, digest):
        st, _, _ = self.s.request("HEAD", f"/v2/{REPO}/manifests/{digest}", auth=self.s.basic)
        return st == 200

    def tags(self):
        st, _, body = self.s.request("GET", f"/v2/{REPO}/tags/list", auth=self.s.basic)
        return sorted(json.loads(body)["tags"] or [])


def main():
    os.makedirs(WORK, exist_ok=True)
    server = Cairn(BIN, DATA, env=ENV).start(os.path.join(OUT, "retention.log"))
    r = Registry(server)

    release, release_children = r.index("release", "release-1")
    r.attach(release, "application/vnd.dev.sigstore.bundle.v0.3+json", "release-sig.json")
    r.attach(release, "application/spdx+json", "release-sbom.json")
    time.sleep(1.1)
    ci0, _ = r.image("ci-0", "ci-0")
    time.sleep(1.1)
    idx, idx_children = r.index("ci-idx", "ci-idx")
    r.attach(idx, "application/vnd.dev.sigstore.bundle.v0.3+json", "idx-sig.json")
    r.attach(idx, "application/spdx+json", "idx-sbom.json")
    ci = {}
    for n in (1, 2, 3, 4):
        time.sleep(1.1)
        ci[n], _ = r.image(f"ci-{n}", f"ci-{n}")
    untagged, _ = r.image("untagged")
    time.sleep(1.1)
    # A pull by digest is use: ci-0 becomes the most recently used tag.
    st, _, _ = server.request("GET", f"/v2/{REPO}/manifests/{ci0}", headers={"Accept": IMAGE}, auth=server.basic)
    expect(st == 200, "pull ci-0 by digest")
    time.sleep(0.5)  # the pull is recorded beside the answer
    release_refs = r.referrers(release)
    idx_refs = r.referrers(idx)
    expect(len(release_refs) == 2 and len(idx_refs) == 2, f"oras attached {release_refs} {idx_refs}")

    preview = [json.loads(line) for line in run([BIN, "retention", "preview", "--json", "--data-dir", DATA])
               .splitlines()]
    expect(len(preview) == 1 and preview[0]["repository"] == REPO, f"preview: {preview}")
    actions = preview[0]["actions"]
    tags_planned = sorted(a["tag"] for a in actions if a["action"] == "delete_tag")
    manifests_planned = sorted(a["digest"] for a in actions if a["action"] == "delete_manifest")
    want_manifests = sorted([ci[1], ci[2], ci[3], idx, *idx_children, *idx_refs, untagged])
    expect(tags_planned == ["ci-1", "ci-2", "ci-3", "ci-idx"], f"tags planned: {tags_planned}")
    expect(manifests_planned == want_manifests, f"manifests planned: {manifests_planned} want {want_manifests}")
    expect(all(a["why"] for a in actions), "every action says why")
    print(f"ok - retention preview: {len(tags_planned)} tags and {len(manifests_planned)} manifests, each with "
          f"its reason; index children, signatures and SBOMs follow their index; release-1 (immutable) and "
          f"ci-0 (pulled by digest) stay")

    st, _, body = server.request("POST", "/api/v1/retention", auth=server.basic)
    expect(st == 200, f"apply: {st} {body[:300]!r}")
    report = json.loads(body)["report"]
    expect(report["tags_deleted"] == 4 and report["manifests_deleted"] == len(want_manifests)
           and report["skipped"] == 0, f"apply report: {report}")
    expect(r.tags() == ["ci-0", "ci-4", "release-1"], f"tags after: {r.tags()}")
    for d in want_manifests:
        expect(not r.exists(d), f"{d} still there")
    for d in [ci0, ci[4], release, *release_children, *release_refs]:
        expect(r.exists(d), f"{d} is gone")
    expect(sorted(r.referrers(release)) == sorted(release_refs), "release-1's referrers")
    preview_after = run([BIN, "retention", "preview", "--json", "--data-dir", DATA]).strip()
    expect(preview_after == "", f"a second preview is empty: {preview_after}")
    print(f"ok - retention applied through the admin API: exactly the preview ({report}); a second preview is empty")

    st, _, body = server.request("POST", "/api/v1/gc?grace_secs=0", auth=server.basic)
    expect(st == 200 and json.loads(body)["report"]["deleted"] > 0, f"gc after retention: {body[:300]!r}")
    os.environ["DOCKER_CONFIG"] = os.path.join(WORK, "docker")
    run([CRANE, "auth", "login", f"127.0.0.1:{server.port}", "-u", "admin", f"--password={server.password}"])
    for ref in ("release-1", "ci-0", "ci-4"):
        run([CRANE, "pull", "--insecure", "--platform", "linux/arm64" if ref == "release-1" else "linux/amd64",
             f"127.0.0.1:{server.port}/{REPO}:{ref}", os.path.join(WORK, f"{ref}.tar")])
    fsck = run([BIN, "fsck", "--data-dir", DATA])
    print(f"ok - the collector freed {json.loads(body)['report']['deleted']} blobs; crane pulls what stayed; "
          f"fsck: {fsck.strip()}")
    server.terminate()


if __name__ == "__main__":
    main()
