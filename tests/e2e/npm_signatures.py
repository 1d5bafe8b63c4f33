#!/usr/bin/env python3
"""npm registry signatures with the real npm: `npm audit signatures`.

cairn signs every hosted version (`dist.signatures`, ECDSA P-256 over
`name@version:integrity`) and serves its keys at `/-/npm/v1/keys`. The test
publishes with npm, installs, and runs `npm audit signatures`, which passes;
through a mirror that swaps a tarball (and its integrity) it fails naming
the invalid signature; after `cairn npm rotate-key` the old key is still
listed with its expiry and the audit passes again.

npm first asks Sigstore's TUF repository (tuf-repo-cdn.sigstore.dev) for a
registry's keys, and falls back to the registry's own endpoint only when
that repository has none. Nothing here reaches the internet, so npm is given
a TUF repository of our own making with no targets, served through an HTTPS
proxy on loopback under a test certificate authority (`NODE_EXTRA_CA_CERTS`,
its root placed in npm's TUF cache): npm then fetches cairn's keys exactly
as it does for any registry Sigstore does not know.

Usage: npm_signatures.py CAIRN_BINARY OUTPUT_DIR
"""

import base64
import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import urllib.error
import urllib.request

from cairnproc import Cairn, free_port
from tuf import TufProxy, client_env, make_certificates, make_repository, seed_cache

BIN, OUT = sys.argv[1], sys.argv[2]
DATA = os.path.join(OUT, "npm-signatures-data")
WORK = os.path.join(OUT, "npm-signatures-work")


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")
    print(f"ok - {message}")


def run(cmd, ok=True, **kw):
    r = subprocess.run(cmd, capture_output=True, **{"text": True, **kw})
    if ok and r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(map(str, cmd))}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def path(*parts):
    return os.path.join(WORK, *parts)


# --- A mirror in front of cairn that swaps one tarball (and its integrity).

def tarball(name, version, extra=b""):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for p, data in [("package/package.json", json.dumps({"name": name, "version": version}).encode()),
                        ("package/index.js", b"module.exports = 1;\n" + extra)]:
            info = tarfile.TarInfo(p)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def start_mirror(upstream, name, version, swapped):
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(swapped).digest()).decode()
    shasum = hashlib.sha1(swapped).hexdigest()

    class Mirror(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.endswith(f"/{name}/-/{name}-{version}.tgz"):
                body, status = swapped, 200
            else:
                try:
                    with urllib.request.urlopen(urllib.request.Request(
                            upstream + self.path, headers={"Accept": "application/json"})) as r:
                        body, status = r.read(), r.status
                except urllib.error.HTTPError as e:
                    body, status = e.read(), e.code
                if status == 200 and self.path.rstrip("/").endswith(f"/{name}"):
                    doc = json.loads(body)
                    dist = doc["versions"][version]["dist"]
                    dist["integrity"], dist["shasum"] = integrity, shasum
                    dist["tarball"] = dist["tarball"].replace(upstream, f"http://127.0.0.1:{port}")
                    body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Mirror)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


def main():
    os.makedirs(WORK, exist_ok=True)
    server = Cairn(BIN, DATA).start(os.path.join(OUT, "npm-signatures-cairn.log"))
    registry = f"http://127.0.0.1:{server.port}/npm/main/"
    auth = base64.b64encode(f"admin:{server.password}".encode()).decode()
    npmrc = path("npmrc")
    with open(npmrc, "w") as f:
        f.write(f"registry={registry}\n//127.0.0.1:{server.port}/npm/main/:_auth={auth}\n")

    # Publish with npm; cairn signs what it serves.
    for name in ("sig-a", "sig-b"):
        pkg = path(name)
        os.makedirs(pkg, exist_ok=True)
        with open(os.path.join(pkg, "package.json"), "w") as f:
            json.dump({"name": name, "version": "1.0.0"}, f)
        with open(os.path.join(pkg, "index.js"), "w") as f:
            f.write("module.exports = 1;\n")
        run(["npm", "publish", "--userconfig", npmrc], cwd=pkg)
    st, _, body = server.request("GET", "/npm/main/-/npm/v1/keys")
    keys = json.loads(body)["keys"]
    expect(st == 200 and len(keys) == 1 and keys[0]["keyid"].startswith("SHA256:")
           and keys[0]["keytype"] == "ecdsa-sha2-nistp256", f"/-/npm/v1/keys lists cairn's key {keys[0]['keyid']}")
    st, _, body = server.request("GET", "/npm/main/sig-a")
    dist = json.loads(body)["versions"]["1.0.0"]["dist"]
    expect(dist["signatures"][0]["keyid"] == keys[0]["keyid"], "dist.signatures carries the key's signature")
    st, _, body = server.request("GET", "/npm/main/-/package/sig-a/visibility")
    expect(st == 200 and json.loads(body) == {"public": True},
           "/-/package/<name>/visibility: public (anonymous reads are on)")

    # npm's environment: our TUF repository behind the HTTPS proxy.
    tuf_dir = path("tuf")
    root = make_repository(WORK, tuf_dir)
    ca, cert, key = make_certificates(WORK)
    proxy = TufProxy(free_port(), tuf_dir, cert, key)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    cache = path("npm-cache")
    seed_cache(os.path.join(cache, "_tuf"), root)
    env = client_env(proxy, ca)

    def audit(app, registry_url):
        return run(["npm", "audit", "signatures", "--registry", registry_url, "--userconfig", npmrc,
                    "--cache", cache], ok=False, cwd=app, env=env)

    def install(app, registry_url, names):
        os.makedirs(app, exist_ok=True)
        with open(os.path.join(app, "package.json"), "w") as f:
            json.dump({"name": os.path.basename(app), "version": "0.0.0", "private": True}, f)
        run(["npm", "install", "--no-audit", "--no-fund", "--registry", registry_url, "--userconfig", npmrc,
             "--cache", cache, *names], cwd=app, env=env)

    app = path("app")
    install(app, registry, ["sig-a@1.0.0", "sig-b@1.0.0"])
    r = audit(app, registry)
    said = (r.stdout + r.stderr).strip()
    expect(r.returncode == 0 and "2 packages have verified registry signatures" in said,
           f"npm audit signatures passes: {[l for l in said.splitlines() if 'verified' in l][:1]}")
    expect("timestamp.json" in proxy.requests, "npm asked our TUF repository first, then cairn's keys endpoint")

    # A mirror serving another tarball with a matching integrity: the
    # signature (over cairn's integrity) does not verify.
    mirror, port = start_mirror(f"http://127.0.0.1:{server.port}", "sig-a", "1.0.0",
                                tarball("sig-a", "1.0.0", b"require('child_process');\n"))
    bad = path("app-mirror")
    mirror_registry = f"http://127.0.0.1:{port}/npm/main/"
    install(bad, mirror_registry, ["sig-a@1.0.0"])
    r = audit(bad, mirror_registry)
    said = r.stdout + r.stderr
    expect(r.returncode != 0 and "invalid" in said.lower() and "sig-a" in said,
           f"npm audit signatures fails on the swapped tarball: {[l for l in said.splitlines() if 'invalid' in l.lower()][:1]}")
    mirror.shutdown()

    # Rotation: the old key stays listed with its expiry; audits keep passing.
    server.terminate()
    r = run([BIN, "npm", "rotate-key", "--data-dir", DATA])
    expect("signs from now on" in r.stdout, f"cairn npm rotate-key: {r.stdout.strip()}")
    server = Cairn(BIN, DATA, password=server.password, port=server.port).start(
        os.path.join(OUT, "npm-signatures-cairn-2.log"))
    st, _, body = server.request("GET", "/npm/main/-/npm/v1/keys")
    rotated = json.loads(body)["keys"]
    expect(len(rotated) == 2 and rotated[0]["keyid"] == keys[0]["keyid"] and rotated[0]["expires"]
           and rotated[1]["expires"] is None, f"after rotation both keys are listed, the old one expiring {rotated[0]['expires']}")
    r = audit(app, registry)
    said = r.stdout + r.stderr
    expect(r.returncode == 0 and "2 packages have verified registry signatures" in said,
           "npm audit signatures passes after rotation (the packuments signed by the new key)")
    server.terminate()
    proxy.shutdown()
    print("npm signatures: all checks passed")


if __name__ == "__main__":
    main()
