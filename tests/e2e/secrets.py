#!/usr/bin/env python3
"""The secret gate on publish, with real clients.

With `packages.secret_scan` covering every package format, a publish that
carries a recognisable secret is refused before anything is stored, and
each client's own output names the file and the rule, never the secret:
npm publish (an AWS key in a file of the tarball), twine upload (a GitHub
token in a wheel), cargo publish (a private key in a crate), mvn deploy (a
Slack token in a jar), the Go publish endpoint (a Stripe key in a module)
and crane pushing an image whose layer holds an AWS key.
A live cairn API token planted in an npm package is revoked on the spot:
it stops working, and the audit log says so. Clean publishes go through.

Usage: secrets.py CAIRN_BINARY OUTPUT_DIR
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
PY_TOOLS = os.path.join(ROOT, ".tools", "py", "bin")
BIN, OUT = sys.argv[1], sys.argv[2]
DATA = os.path.join(OUT, "secrets-data")
WORK = os.path.join(OUT, "secrets-work")
ENV = {"CAIRN_PACKAGES__SECRET_SCAN": '["npm/*", "pypi/*", "cargo/*", "maven/*", "go/*"]',
       "CAIRN_OCI__SECRET_SCAN": '["secure/**"]',
       "CAIRN_OCI__SECRET_QUARANTINE": '["held/**"]',
       "CAIRN_PACKAGES__SECRET_QUARANTINE": '["npm/held", "go/held"]'}
CRANE = os.path.join(ROOT, ".tools", "bin", "crane")

AWS = "AKIA" + "Z7QX2MHV4LNP6RTE"
GITHUB = "ghp_" + "k3J9xQ2mZ7vB4nW8pL1sT6yR0cF5hD2gA9eU"
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
SLACK = "xoxb-" + "2938475610-1029384756-Zq8XwV3nB7mK"
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")
    print(f"ok - {message}", flush=True)


def run(cmd, ok=True, cwd=None, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})})
    if ok and r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(map(str, cmd))}: {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r


def refused(r, what, rule, file_part, secret):
    said = r.stdout + r.stderr
    expect(r.returncode != 0, f"{what} is refused")
    # Clients wrap long messages (twine at the terminal's width): read them as one.
    flat = " ".join(said.split())
    at = flat.find("refused by secret scanning")
    message = flat[at:at + 240] if at >= 0 else flat[-300:]
    expect(rule in message and file_part in message, f"{what} names the file and the rule: {message!r}")
    expect(secret not in said, f"{what}: the secret itself is in no output")


def npm_publish(server, name, files, repo="main"):
    host = f"127.0.0.1:{server.port}"
    pkg = os.path.join(WORK, f"npm-{name}")
    os.makedirs(pkg, exist_ok=True)
    with open(os.path.join(pkg, "package.json"), "w") as f:
        json.dump({"name": name, "version": "1.0.0", "main": "index.js"}, f)
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(pkg, path)) or pkg, exist_ok=True)
        with open(os.path.join(pkg, path), "w") as f:
            f.write(text)
    npmrc = os.path.join(WORK, "npmrc")
    token = base64.b64encode(f"admin:{server.password}".encode()).decode()
    with open(npmrc, "w") as f:
        f.write(f"registry=http://{host}/npm/{repo}/\n//{host}/npm/{repo}/:_auth={token}\n")
    return run(["npm", "publish", "--userconfig", npmrc], ok=False, cwd=pkg)


def npm_install(server, repo, spec):
    project = tempfile.mkdtemp(dir=WORK)
    with open(os.path.join(project, "package.json"), "w") as f:
        json.dump({"name": "consumer", "version": "1.0.0"}, f)
    npmrc = os.path.join(project, ".npmrc-consumer")
    with open(npmrc, "w") as f:
        f.write(f"registry=http://127.0.0.1:{server.port}/npm/{repo}/\n")
    return run(["npm", "install", "--no-audit", "--no-fund", "--userconfig", npmrc,
                "--cache", os.path.join(project, ".npm-cache"), spec], ok=False, cwd=project)


def held(server):
    st, _, body = server.request("GET", "/api/v1/quarantine", auth=server.basic)
    return json.loads(body)["quarantined"]


def release(server, digest):
    st, _, _ = server.request("POST", f"/api/v1/quarantine/{digest}/release", auth=server.basic)
    return st


def go_quarantine(server, module, version, zipped):
    """go/held stores a module carrying a secret; go mod download is refused until it is released."""
    before = {h["digest"] for h in held(server)}
    st, _, body = server.request("PUT", f"/go/held/{module}/@v/{version}.zip", zipped, auth=server.basic)
    expect(st in (200, 201), f"the Go module is accepted into a quarantining repository: {st} {body[:120]!r}")
    env = {**os.environ, "GOPROXY": f"http://127.0.0.1:{server.port}/go/held", "GONOSUMDB": "*",
           "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "GOMODCACHE": tempfile.mkdtemp(dir=WORK),
           "GOPATH": os.path.join(WORK, "gopath")}
    r = run(["go", "mod", "download", f"{module}@{version}"], ok=False, cwd=WORK, env=env)
    said = " ".join((r.stdout + r.stderr).split())
    expect(r.returncode != 0 and "quarantined" in said and STRIPE not in said,
           f"go mod download of the held version is refused: {said[-160:]!r}")
    st, _, _ = server.request("GET", f"/go/held/{module}/@v/{version}.mod", auth=server.basic)
    expect(st == 200, "its go.mod, which holds no secret, is served")
    new = [h for h in held(server) if h["digest"] not in before]
    expect(len(new) == 1 and new[0]["what"].endswith(".zip") and "stripe-access-token" in new[0]["findings"],
           f"the quarantine holds the module's zip: {[h['what'] for h in new]}")
    expect(release(server, new[0]["digest"]) == 204, "an administrator releases it")
    r = run(["go", "mod", "download", f"{module}@{version}"], ok=False, cwd=WORK,
            env={**env, "GOMODCACHE": tempfile.mkdtemp(dir=WORK)})
    expect(r.returncode == 0, f"and go mod download fetches it: {(r.stdout + r.stderr).strip()[-200:]}")


def oci_quarantine(server, layer, docker):
    """held/** stores an image whose layer carries a secret; its manifest and that layer are held back."""
    host = f"127.0.0.1:{server.port}"
    before = {h["digest"] for h in held(server)}
    r = run([CRANE, "append", "--insecure", "--oci-empty-base", "-f", layer, "-t", f"{host}/held/app:1"],
            ok=False, env=docker)
    expect(r.returncode == 0, f"crane append into a quarantining repository is accepted: {r.stderr.strip()[-160:]}")
    new = [h for h in held(server) if h["digest"] not in before]
    kinds = sorted(h["what"].split(" ")[0] for h in new)
    expect(kinds == ["layer", "manifest"] and all(AWS not in h["findings"] for h in new),
           f"the manifest and the leaky layer are held, with the rule and not the secret: {kinds}")
    layer_digest = next(h["digest"] for h in new if h["what"].startswith("layer"))
    r = run([CRANE, "manifest", "--insecure", f"{host}/held/app:1"], ok=False, env=docker)
    said = r.stdout + r.stderr
    expect(r.returncode != 0 and "quarantined" in said, f"crane manifest of the held image is refused: {said.strip()[-160:]}")
    st, _, body = server.request("GET", f"/v2/held/app/blobs/{layer_digest}", auth=server.basic)
    expect(st == 403 and b"DENIED" in body and b"quarantined" in body, "the held layer is refused by digest too")
    for h in new:
        expect(release(server, h["digest"]) == 204, f"an administrator releases the {h['what'].split(' ')[0]}")
    pulled = os.path.join(WORK, "held.tar")
    r = run([CRANE, "pull", "--insecure", f"{host}/held/app:1", pulled], ok=False, env=docker)
    expect(r.returncode == 0, f"and crane pull fetches the image: {r.stderr.strip()[-160:]}")


def main():
    os.makedirs(WORK, exist_ok=True)
    server = Cairn(BIN, DATA, env=ENV).start(os.path.join(OUT, "secrets-cairn.log"))

    # npm: an AWS key in a file inside the tarball.
    r = npm_publish(server, "leaky-pkg", {"index.js": "module.exports = 1;\n",
                                          "lib/config.js": f"// settings\nexports.key = '{AWS}';\n"})
    refused(r, "npm publish", "aws-access-key-id", "package/lib/config.js line 2", AWS)
    st, _, _ = server.request("GET", "/npm/main/leaky-pkg", auth=server.basic)
    expect(st == 404, "nothing of the refused npm package is stored")
    r = npm_publish(server, "clean-pkg", {"index.js": "module.exports = process.env.AWS_ACCESS_KEY_ID;\n"})
    expect(r.returncode == 0, "a clean npm package publishes")

    # Quarantine: npm/held stores such a publish but serves it only once released.
    r = npm_publish(server, "held-pkg", {"index.js": f"exports.key = '{AWS}';\n"}, repo="held")
    expect(r.returncode == 0, "npm publish into a quarantining repository is accepted")
    r = npm_install(server, "held", "held-pkg@1.0.0")
    said = " ".join((r.stdout + r.stderr).split())
    expect(r.returncode != 0 and "quarantined" in said, "npm install of the quarantined version is refused")
    st, _, body = server.request("GET", "/api/v1/quarantine", auth=server.basic)
    held = json.loads(body)["quarantined"]
    expect(st == 200 and len(held) == 1 and "aws-access-key-id" in held[0]["findings"] and AWS not in body.decode(),
           "the quarantine lists it with the rule, not the secret")
    st, _, _ = server.request("POST", f"/api/v1/quarantine/{held[0]['digest']}/release", auth=server.basic)
    expect(st == 204, "an administrator releases it")
    expect(npm_install(server, "held", "held-pkg@1.0.0").returncode == 0, "and it installs")

    # A live cairn token planted in a package is revoked.
    st, _, body = server.request("POST", "/api/v1/tokens",
                                 json.dumps({"description": "ci", "scopes": ["npm/**:read"]}).encode(),
                                 {"Content-Type": "application/json"}, auth=server.basic)
    token = json.loads(body)["token"]
    st, _, _ = server.request("GET", "/npm/main/clean-pkg", auth=f"Bearer {token}")
    expect(st == 200, "the token works before")
    r = npm_publish(server, "token-pkg", {"index.js": f"const t = '{token}';\n"})
    refused(r, "npm publish with a cairn token", "cairn-api-token", "package/index.js line 1", token)
    expect("revoked" in r.stdout + r.stderr, "the refusal says the token was revoked")
    st, _, _ = server.request("GET", "/npm/main/clean-pkg", auth=f"Bearer {token}")
    expect(st == 401, "the planted token no longer works")
    st, _, body = server.request("GET", "/api/v1/audit?limit=50", auth=server.basic)
    actions = [e["action"] for e in json.loads(body)["entries"]]
    expect("npm.secret" in actions and "token.revoke" in actions, "the refusal and the revocation are audited")

    # twine: a GitHub token in a wheel.
    dist = os.path.join(WORK, "dist")
    run([sys.executable, os.path.join(os.path.dirname(__file__), "mkdist.py"), dist, "leaky-py", "1.0"])
    wheel = os.path.join(dist, "leaky_py-1.0-py3-none-any.whl")
    with zipfile.ZipFile(wheel, "a") as z:
        z.writestr("leaky_py/settings.py", f"TOKEN = \"{GITHUB}\"\n")
    r = run([os.path.join(PY_TOOLS, "twine"), "upload", "--disable-progress-bar", "--non-interactive",
             "--repository-url", f"http://127.0.0.1:{server.port}/pypi/main/", "-u", "admin",
             f"--password={server.password}", wheel], ok=False)
    refused(r, "twine upload", "github-pat", "leaky_py/settings.py line 1", GITHUB)
    st, _, _ = server.request("GET", "/pypi/main/simple/leaky-py/", auth=server.basic)
    expect(st == 404, "nothing of the refused wheel is stored")

    # cargo: a private key in a crate.
    st, _, body = server.request("POST", "/api/v1/tokens",
                                 json.dumps({"description": "cargo", "scopes": ["cargo/**:read,publish"]}).encode(),
                                 {"Content-Type": "application/json"}, auth=server.basic)
    d = os.path.join(WORK, "crate")
    os.makedirs(os.path.join(d, "src"), exist_ok=True)
    with open(os.path.join(d, "Cargo.toml"), "w") as f:
        f.write('[package]\nname = "leaky-crate"\nversion = "1.0.0"\nedition = "2021"\n'
                'description = "x"\nlicense = "MIT"\n\n[workspace]\n')
    with open(os.path.join(d, "src", "lib.rs"), "w") as f:
        f.write(f"pub const KEY: &str = r\"{PRIVATE_KEY}\";\n")
    env = {"CARGO_HOME": tempfile.mkdtemp(dir=WORK), "CARGO_TARGET_DIR": os.path.join(WORK, "cargo-target"),
           "CARGO_TERM_COLOR": "never", "CARGO_NET_RETRY": "0",
           "CARGO_REGISTRIES_Q_INDEX": f"sparse+http://127.0.0.1:{server.port}/cargo/main/index/",
           "CARGO_REGISTRIES_Q_TOKEN": json.loads(body)["token"]}
    r = run(["cargo", "publish", "--registry", "q", "--allow-dirty", "--no-verify"], ok=False, cwd=d, env=env)
    refused(r, "cargo publish", "private-key", "leaky-crate-1.0.0/src/lib.rs line 1", "b3BlbnNzaC1rZXktdjEAAAAA")
    st, _, _ = server.request("GET", "/cargo/main/index/le/ak/leaky-crate", auth=server.basic)
    expect(st == 404, "the refused crate is not in the index")

    # mvn: a Slack token in a jar.
    settings = os.path.join(WORK, "settings.xml")
    with open(settings, "w") as f:
        f.write(f"<settings><servers><server><id>cairn</id><username>admin</username>"
                f"<password>{server.password}</password></server></servers></settings>")
    jar = os.path.join(WORK, "lib.jar")
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        z.writestr("app.properties", f"name=app\nslack.token={SLACK}\n")
    group = f"org.leaky{os.getpid()}"
    r = run(["mvn", "-B", "-s", settings, "org.apache.maven.plugins:maven-deploy-plugin:3.1.2:deploy-file",
             f"-Durl=http://127.0.0.1:{server.port}/maven/releases/", "-DrepositoryId=cairn", f"-Dfile={jar}",
             f"-DgroupId={group}", "-DartifactId=lib", "-Dversion=1.0", "-Dpackaging=jar"], ok=False, cwd=WORK)
    refused(r, "mvn deploy", "slack-token", "app.properties line 2", SLACK)
    st, _, _ = server.request("GET", f"/maven/releases/{group.replace('.', '/')}/lib/1.0/lib-1.0.jar",
                              auth=server.basic)
    expect(st == 404, "the refused jar is not served")
    shutil.rmtree(os.path.join(os.path.expanduser("~"), ".m2", "repository", *group.split(".")), ignore_errors=True)

    # Go: a Stripe key in a module published through the publish endpoint.
    module, version = "example.com/leaky-mod", "v1.0.0"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{module}@{version}/go.mod", f"module {module}\n\ngo 1.21\n")
        z.writestr(f"{module}@{version}/pay.go", f"package m\n\nconst Key = \"{STRIPE}\"\n")
    st, _, body = server.request("PUT", f"/go/main/{module}/@v/{version}.zip", buf.getvalue(), auth=server.basic)
    text = body.decode(errors="replace")
    expect(st == 403 and "stripe-access-token" in text and "pay.go line 3" in text and STRIPE not in text,
           f"the Go publish endpoint refuses it: {st} {text.strip()[:200]!r}")
    st, _, _ = server.request("GET", f"/go/main/{module}/@v/{version}.info", auth=server.basic)
    expect(st != 200, "the refused module version is not served")
    go_quarantine(server, module, version, buf.getvalue())
    # crane: an image layer with an AWS key, into a repository whose layers are scanned.
    import tarfile
    layer = os.path.join(WORK, "layer.tar.gz")
    with tarfile.open(layer, "w:gz") as t:
        for path, text in [("app/main.sh", "#!/bin/sh\necho hi\n"), ("app/.env", f"REGION=eu\nAWS_KEY={AWS}\n")]:
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    docker = {"DOCKER_CONFIG": tempfile.mkdtemp(dir=WORK)}
    host = f"127.0.0.1:{server.port}"
    run([CRANE, "auth", "login", host, "-u", "admin", "--password=" + server.password], env=docker)
    r = run([CRANE, "append", "--insecure", "--oci-empty-base", "-f", layer, "-t", f"{host}/secure/app:1"],
            ok=False, env=docker)
    refused(r, "crane append of a layer with a secret", "aws-access-key-id", "app/.env line 2", AWS)
    st, _, _ = server.request("GET", "/v2/secure/app/manifests/1", auth=server.basic)
    expect(st == 404, "the refused image is not stored")
    r = run([CRANE, "append", "--insecure", "--oci-empty-base", "-f", layer, "-t", f"{host}/open/app:1"],
            ok=False, env=docker)
    expect(r.returncode == 0, "the same image into a repository that is not scanned is stored")
    oci_quarantine(server, layer, docker)
    server.terminate()
    print("secrets: all checks passed")


main()
