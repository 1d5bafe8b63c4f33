#!/usr/bin/env python3
"""A vulnerability policy refusing downloads and pulls, with real clients.

The policy `no-high` covers every npm and PyPI repository and prod/**:
findings of high severity or worse are refused. Imported OSV data says
lodash < 4.17.21 is high, insecure-pkg 1.0 (PyPI) critical, log4j-core
2.14.1 critical (found through an image's SBOM). Then:

  * npm install, pip download, cargo fetch, go mod download, mvn
    dependency:get and skopeo inspect, as a reader, are refused, and each
    client's own output names the advisory;
  * the publisher (admin) is served, with a warning header: CI reads back
    what it pushed;
  * an exception for the lodash advisory lets npm install it, until it is
    removed;
  * a repository whose policy fails closed on stale data refuses even a
    clean package once the data is older than it allows;
  * clean packages and images are served.

Usage: vuln_policy.py CAIRN_BINARY OUTPUT_DIR
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.parse

from cairnproc import Cairn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PY_TOOLS = os.path.join(ROOT, ".tools", "py", "bin")
BIN, OUT = sys.argv[1], sys.argv[2]
DATA = os.path.join(OUT, "vuln-policy-data")
WORK = os.path.join(OUT, "vuln-policy-work")
IMAGE = "application/vnd.oci.image.manifest.v1+json"
POLICIES = ('[{name = "strict", repositories = ["npm/strict"], block = "critical", max_data_age_days = 0, '
            'on_stale = "block"}, '
            '{name = "no-high", repositories = ["npm/*", "pypi/*", "cargo/*", "go/*", "maven/*", "prod/**"], '
            'block = "high", '
            'max_data_age_days = 30, on_stale = "allow"}]')


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")
    print(f"ok - {message}")


def run(cmd, ok=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if ok and r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(map(str, cmd))}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def write(name, text):
    path = os.path.join(WORK, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text if isinstance(text, str) else json.dumps(text))
    return path


def npm_publish(server, repo, name, version):
    host = f"127.0.0.1:{server.port}"
    npmrc = write(f"npmrc-{repo}", f"registry=http://{host}/npm/{repo}/\n//{host}/npm/{repo}/:_auth="
                  + base64.b64encode(f"admin:{server.password}".encode()).decode() + "\n")
    pkg = os.path.join(WORK, f"{repo}-{name}-{version}")
    os.makedirs(pkg, exist_ok=True)
    with open(os.path.join(pkg, "package.json"), "w") as f:
        json.dump({"name": name, "version": version}, f)
    run(["npm", "publish", "--userconfig", npmrc], cwd=pkg)


def npm_install(server, repo, spec, auth=False):
    """`npm install` in a fresh project, anonymous unless `auth`."""
    host = f"127.0.0.1:{server.port}"
    project = os.path.join(WORK, f"install-{time.time_ns()}")
    os.makedirs(project)
    with open(os.path.join(project, "package.json"), "w") as f:
        json.dump({"name": "consumer", "version": "1.0.0"}, f)
    rc = f"registry=http://{host}/npm/{repo}/\n"
    if auth:
        rc += f"//{host}/npm/{repo}/:_auth=" + base64.b64encode(f"admin:{server.password}".encode()).decode() + "\n"
    npmrc = write(f"npmrc-install-{time.time_ns()}", rc)
    return run(["npm", "install", "--no-audit", "--no-fund", "--userconfig", npmrc,
                "--cache", os.path.join(project, ".npm-cache"), spec], ok=False, cwd=project)


def push_image(server, repo, tag, seed, purls):
    def blob(data):
        st, _, body = server.request("POST", f"/v2/{repo}/blobs/uploads/?digest={sha(data)}", data, auth=server.basic)
        if st != 201:
            raise SystemExit(f"FAIL: blob {st} {body!r}")
        return {"digest": sha(data), "size": len(data)}
    config = blob(json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode())
    layer = blob(f"layer {seed}".encode())
    doc = json.dumps({"schemaVersion": 2, "mediaType": IMAGE,
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}]}).encode()
    st, _, _ = server.request("PUT", f"/v2/{repo}/manifests/{tag}", doc, {"Content-Type": IMAGE}, auth=server.basic)
    expect(st == 201, f"{repo}:{tag} pushed")
    bom = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6",
                      "components": [{"type": "library", "name": "c", "purl": p} for p in purls]}).encode()
    empty = blob(b"{}")
    sbom = blob(bom)
    ref = json.dumps({"schemaVersion": 2, "mediaType": IMAGE, "artifactType": "application/vnd.cyclonedx+json",
                      "config": {"mediaType": "application/vnd.oci.empty.v1+json", **empty},
                      "layers": [{"mediaType": "application/vnd.cyclonedx+json", **sbom}],
                      "subject": {"mediaType": IMAGE, "digest": sha(doc), "size": len(doc)}}).encode()
    st, _, _ = server.request("PUT", f"/v2/{repo}/manifests/{sha(ref)}", ref, {"Content-Type": IMAGE},
                              auth=server.basic)
    expect(st == 201, f"its SBOM attached")
    return sha(doc)


def osv(id, eco, name, events, severity):
    return {"id": id, "modified": "2024-01-01T00:00:00Z", "summary": f"{id}",
            "database_specific": {"severity": severity},
            "affected": [{"package": {"ecosystem": eco, "name": name},
                          "ranges": [{"type": "ECOSYSTEM", "events": events}]}]}


def refused(r, what, advisory):
    said = r.stdout + r.stderr
    flat = " ".join(said.split())
    at = flat.find("refused by vulnerability policy")
    expect(r.returncode != 0 and at >= 0 and advisory in flat[at:at + 200],
           f"{what} is refused, naming the advisory: {flat[at:at + 160] if at >= 0 else flat[-300:]!r}")


def cargo_case(server):
    """A hosted crate with a finding: cargo fetch refused; the fixed version fetched."""
    import tempfile
    st, _, body = server.request("POST", "/api/v1/tokens",
                                 json.dumps({"description": "cargo", "scopes": ["cargo/**:read,publish"]}).encode(),
                                 {"Content-Type": "application/json"}, auth=server.basic)
    env = {"CARGO_HOME": tempfile.mkdtemp(dir=WORK), "CARGO_TARGET_DIR": os.path.join(WORK, "cargo-target"),
           "CARGO_TERM_COLOR": "never", "CARGO_NET_RETRY": "0",
           "CARGO_REGISTRIES_Q_INDEX": f"sparse+http://127.0.0.1:{server.port}/cargo/main/index/"}
    for version in ["1.0.0", "1.0.1"]:
        d = os.path.join(WORK, f"crate-{version}")
        os.makedirs(os.path.join(d, "src"), exist_ok=True)
        with open(os.path.join(d, "Cargo.toml"), "w") as f:
            f.write(f'[package]\nname = "vuln-crate"\nversion = "{version}"\nedition = "2021"\n'
                    'description = "x"\nlicense = "MIT"\n\n[workspace]\n')
        with open(os.path.join(d, "src", "lib.rs"), "w") as f:
            f.write("pub fn v() {}\n")
        run(["cargo", "publish", "--registry", "q", "--allow-dirty", "--no-verify"], cwd=d,
            env={**os.environ, **env, "CARGO_REGISTRIES_Q_TOKEN": json.loads(body)["token"]})

    def fetch(version):
        d = os.path.join(WORK, f"consumer-{version}")
        os.makedirs(os.path.join(d, "src"), exist_ok=True)
        with open(os.path.join(d, "Cargo.toml"), "w") as f:
            f.write(f'[package]\nname = "consumer"\nversion = "0.1.0"\nedition = "2021"\n\n'
                    f'[dependencies]\nvuln-crate = {{ version = "={version}", registry = "q" }}\n\n[workspace]\n')
        with open(os.path.join(d, "src", "lib.rs"), "w") as f:
            f.write("")
        return run(["cargo", "fetch"], ok=False, cwd=d, env={**os.environ, **env, "CARGO_HOME": tempfile.mkdtemp(dir=WORK)})
    refused(fetch("1.0.0"), "cargo fetch of vuln-crate 1.0.0", "RUSTSEC-2024-vuln")
    expect(fetch("1.0.1").returncode == 0, "cargo fetch of vuln-crate 1.0.1 (fixed) works")


def go_case(server):
    """A hosted module with a finding: go mod download refused; the fixed version downloaded."""
    import io
    import tempfile
    import zipfile
    module = "example.com/vuln-mod"
    for version in ["v1.0.0", "v1.0.1"]:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(f"{module}@{version}/go.mod", f"module {module}\n\ngo 1.21\n")
            z.writestr(f"{module}@{version}/m.go", "package m\n")
        st, _, body = server.request("PUT", f"/go/main/{module}/@v/{version}.zip", buf.getvalue(), auth=server.basic)
        expect(st in (200, 201), f"{module} {version} published")
    env = {**os.environ, "GOPROXY": f"http://127.0.0.1:{server.port}/go/main", "GONOSUMDB": "*", "GONOSUMCHECK": "1",
           "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "GOMODCACHE": tempfile.mkdtemp(dir=WORK),
           "GOPATH": os.path.join(WORK, "gopath")}
    r = run(["go", "mod", "download", "-x", f"{module}@v1.0.0"], ok=False, cwd=WORK, env=env)
    refused(r, "go mod download of example.com/vuln-mod v1.0.0", "GO-2024-vuln")
    r = run(["go", "mod", "download", f"{module}@v1.0.1"], ok=False, cwd=WORK, env=env)
    expect(r.returncode == 0, "go mod download of v1.0.1 (fixed) works")


def maven_case(server):
    """A hosted artifact with a finding: mvn dependency:get refused; the fixed version resolved."""
    import shutil
    import zipfile
    group = f"org.vuln{os.getpid()}"
    for version in ["1.0", "1.1"]:
        jar = os.path.join(WORK, f"lib-{version}.jar")
        with zipfile.ZipFile(jar, "w") as z:
            z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        for name, data in [(f"lib-{version}.jar", open(jar, "rb").read()),
                           (f"lib-{version}.pom", (f"<project><modelVersion>4.0.0</modelVersion><groupId>{group}</groupId>"
                                                   f"<artifactId>lib</artifactId><version>{version}</version></project>").encode())]:
            st, _, body = server.request("PUT", f"/maven/releases/{group.replace('.', '/')}/lib/{version}/{name}",
                                         data, auth=server.basic)
            expect(st in (200, 201), f"{name} deployed")
    m2 = os.path.join(os.path.expanduser("~"), ".m2", "repository", *group.split("."))

    def get(version):
        shutil.rmtree(m2, ignore_errors=True)
        return run(["mvn", "-B", "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get",
                    f"-Dartifact={group}:lib:{version}", "-Dtransitive=false",
                    f"-DremoteRepositories=cairn::default::http://127.0.0.1:{server.port}/maven/releases/"],
                   ok=False, cwd=WORK)
    refused(get("1.0"), f"mvn dependency:get {group}:lib:1.0", "GHSA-maven-vuln")
    expect(get("1.1").returncode == 0, "mvn dependency:get of 1.1 (fixed) works")
    shutil.rmtree(m2, ignore_errors=True)
    return group


def through_a_proxy(upstream, corpus, vulnerable):
    """A second cairn proxying the first's npm/main, pypi/main and images, under its own policy and its own
    copy of the advisory data: what it proxies is refused the same way; an image by the upstream's SBOM
    referrer, which the proxy indexes on first pull."""
    data = os.path.join(OUT, "vuln-policy-proxy-data")
    up = f"http://127.0.0.1:{upstream.port}"
    env = {"CAIRN_VULNERABILITY_POLICY": '[{name = "proxied", repositories = ["npm/up", "pypi/up", "mirror/**"], '
                                         'block = "high"}]',
           "CAIRN_PROXY": f'[{{format = "npm", name = "up", upstream = "{up}/npm/main/", username = "admin", '
                          f'password = "{upstream.password}"}}, '
                          f'{{format = "pypi", name = "up", upstream = "{up}/pypi/main/simple/"}}, '
                          f'{{format = "oci", name = "mirror", upstream = "{up}/", username = "admin", '
                          f'password = "{upstream.password}"}}]'}
    down = Cairn(BIN, data, env=env).start(os.path.join(OUT, "vuln-policy-proxy-cairn.log"))
    run([BIN, "vuln", "import", corpus, "--data-dir", data])
    refused(npm_install(down, "up", "lodash@4.17.15"), "npm install lodash@4.17.15 through a proxy repository",
            "GHSA-lodash-proto")
    expect(npm_install(down, "up", "lodash@4.17.21").returncode == 0, "lodash@4.17.21 through the proxy works")
    st, headers, _ = down.request("GET", "/npm/up/lodash/-/lodash-4.17.15.tgz", auth=down.basic)
    expect(st == 200 and "GHSA-lodash-proto" in headers.get("x-cairn-vulnerability-warning", ""),
           "the proxy's publisher fetches lodash 4.17.15, with the warning")
    listed = None
    for _ in range(50):  # the cached version is noted in the background
        st, _, body = down.request("GET", "/api/v1/findings?format=npm&repository=up", auth=down.basic)
        listed = sorted((f["advisory"]["id"], f["artifact"]["subject"], f["artifact"]["version"])
                        for f in json.loads(body)["findings"]) if st == 200 else body
        if listed:
            break
        time.sleep(0.2)
    expect(listed == [("GHSA-lodash-proto", "lodash", "4.17.15")],
           f"the proxy repository's findings list the cached vulnerable version, not the fixed one: {listed}")
    pip = lambda spec: run([os.path.join(PY_TOOLS, "pip"), "download", "--no-deps", "--no-cache-dir", "-d",
                            os.path.join(WORK, "pipdl-proxy"), "--index-url",
                            f"http://127.0.0.1:{down.port}/pypi/up/simple/", spec], ok=False)
    refused(pip("insecure-pkg==1.0"), "pip download insecure-pkg==1.0 through a proxy repository",
            "PYSEC-2024-insecure")
    expect(pip("insecure-pkg==2.0").returncode == 0, "insecure-pkg 2.0 through the proxy works")

    # Images: the upstream's SBOM referrer is indexed under the proxy's name on the first pull.
    for ref in ["mirror/prod/app:1", f"mirror/prod/app@{vulnerable}"]:
        r = run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://127.0.0.1:{down.port}/{ref}"],
                ok=False)
        said = r.stdout + r.stderr
        expect(r.returncode != 0 and "policy proxied" in said and "GHSA-jfh8-c2jp-5v3q" in said,
               f"skopeo inspect {ref} through a proxy is refused by the proxy's policy: {said.strip().splitlines()[-1][:160]}")
    r = run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://127.0.0.1:{down.port}/mirror/prod/app:2"])
    expect(r.returncode == 0, "mirror/prod/app:2 (log4j-core 2.17.1) through the proxy works")
    st, headers, _ = down.request("HEAD", f"/v2/mirror/prod/app/manifests/{vulnerable}", auth=down.basic,
                                  headers={"Accept": IMAGE})
    expect(st == 200 and "GHSA-jfh8-c2jp-5v3q" in headers.get("x-cairn-vulnerability-warning", ""),
           "the proxy's publisher is served, with the warning")
    query = urllib.parse.urlencode({"purl": "pkg:maven/org.apache.logging.log4j/log4j-core",
                                    "range": "vers:maven/>=2.0.0|<2.17.1"})
    st, _, body = down.request("GET", f"/api/v1/components?{query}", auth=down.basic)
    hits = ([(o["artifact"]["repository"], o["artifact"]["digest"]) for o in json.loads(body)["results"]]
            if st == 200 else body)
    expect(hits == [("mirror/prod/app", vulnerable)],
           f"the component query names the proxied image: {hits}")
    st, _, body = down.request("GET", "/api/v1/advisories/GHSA-jfh8-c2jp-5v3q", auth=down.basic)
    subjects = [f["artifact"]["subject"] for f in json.loads(body)["findings"]] if st == 200 else body
    expect(subjects == [vulnerable], f"the advisory's findings name the proxied image: {subjects}")
    down.terminate()


def main():
    os.makedirs(WORK, exist_ok=True)
    server = Cairn(BIN, DATA, env={"CAIRN_VULNERABILITY_POLICY": POLICIES}).start(
        os.path.join(OUT, "vuln-policy-cairn.log"))
    npm_publish(server, "main", "lodash", "4.17.15")
    npm_publish(server, "main", "lodash", "4.17.21")
    npm_publish(server, "strict", "clean-pkg", "1.0.0")
    dist = os.path.join(WORK, "dist")
    for name, version in [("insecure-pkg", "1.0"), ("insecure-pkg", "2.0")]:
        run([sys.executable, os.path.join(os.path.dirname(__file__), "mkdist.py"), dist, name, version])
    run([os.path.join(PY_TOOLS, "twine"), "upload", "--disable-progress-bar", "--non-interactive",
         "--repository-url", f"http://127.0.0.1:{server.port}/pypi/main/", "-u", "admin",
         f"--password={server.password}", *[os.path.join(dist, f) for f in sorted(os.listdir(dist))]])
    vulnerable = push_image(server, "prod/app", "1", "one", ["pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"])
    push_image(server, "prod/app", "2", "two", ["pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1"])

    corpus = os.path.join(WORK, "osv")
    write("osv/lodash.json", osv("GHSA-lodash-proto", "npm", "lodash", [{"introduced": "0"}, {"fixed": "4.17.21"}],
                                 "HIGH"))
    write("osv/insecure.json", osv("PYSEC-2024-insecure", "PyPI", "insecure-pkg",
                                   [{"introduced": "0"}, {"fixed": "2.0"}], "CRITICAL"))
    write("osv/log4j.json", osv("GHSA-jfh8-c2jp-5v3q", "Maven", "org.apache.logging.log4j:log4j-core",
                                [{"introduced": "2.13.0"}, {"fixed": "2.15.0"}], "CRITICAL"))
    write("osv/crate.json", osv("RUSTSEC-2024-vuln", "crates.io", "vuln-crate",
                                [{"introduced": "0"}, {"fixed": "1.0.1"}], "HIGH"))
    write("osv/go.json", osv("GO-2024-vuln", "Go", "example.com/vuln-mod",
                             [{"introduced": "0"}, {"fixed": "1.0.1"}], "HIGH"))
    maven_group = f"org.vuln{os.getpid()}"
    write("osv/maven.json", osv("GHSA-maven-vuln", "Maven", f"{maven_group}:lib",
                                [{"introduced": "0"}, {"fixed": "1.1"}], "CRITICAL"))
    run([BIN, "vuln", "import", corpus, "--data-dir", DATA])

    # npm: refused to a reader, with the advisory in npm's own error.
    r = npm_install(server, "main", "lodash@4.17.15")
    said = r.stdout + r.stderr
    expect(r.returncode != 0 and "403" in said and "GHSA-lodash-proto" in said,
           f"npm install lodash@4.17.15 is refused, naming the advisory: {said.strip().splitlines()[-3:]}")
    r = npm_install(server, "main", "lodash@4.17.21")
    expect(r.returncode == 0, "npm install lodash@4.17.21 (fixed) works")
    r = npm_install(server, "main", "lodash@4.17.15", auth=True)
    expect(r.returncode == 0, "the publisher installs what it published")
    st, headers, _ = server.request("GET", "/npm/main/lodash/-/lodash-4.17.15.tgz", auth=server.basic)
    expect(st == 200 and "GHSA-lodash-proto" in headers.get("x-cairn-vulnerability-warning", ""),
           "... with a warning header naming the advisory")

    # pip: the reason phrase carries the advisory.
    r = run([os.path.join(PY_TOOLS, "pip"), "download", "--no-deps", "--no-cache-dir", "-d",
             os.path.join(WORK, "pipdl"), "--index-url", f"http://127.0.0.1:{server.port}/pypi/main/simple/",
             "insecure-pkg==1.0"], ok=False)
    said = r.stdout + r.stderr
    expect(r.returncode != 0 and "403" in said and "PYSEC-2024-insecure" in said,
           f"pip download insecure-pkg==1.0 is refused, naming the advisory: {said.strip().splitlines()[-2:]}")
    r = run([os.path.join(PY_TOOLS, "pip"), "download", "--no-deps", "--no-cache-dir", "-d",
             os.path.join(WORK, "pipdl"), "--index-url", f"http://127.0.0.1:{server.port}/pypi/main/simple/",
             "insecure-pkg==2.0"], ok=False)
    expect(r.returncode == 0, "pip download insecure-pkg==2.0 (fixed) works")

    # skopeo: DENIED with the advisory, by tag and by digest; the fixed image is served.
    for ref in ["prod/app:1", f"prod/app@{vulnerable}"]:
        r = run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://127.0.0.1:{server.port}/{ref}"],
                ok=False)
        said = r.stdout + r.stderr
        expect(r.returncode != 0 and "denied" in said.lower() and "GHSA-jfh8-c2jp-5v3q" in said,
               f"skopeo inspect {ref} is refused: {said.strip().splitlines()[-1][:160]}")
    r = run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://127.0.0.1:{server.port}/prod/app:2"])
    expect(r.returncode == 0, "skopeo inspect prod/app:2 (log4j-core 2.17.1) works")
    st, _, body = server.request("HEAD", "/v2/prod/app/manifests/1")
    expect(st == 403, "a HEAD by tag is refused the same way")

    cargo_case(server)
    go_case(server)
    maven_case(server)
    through_a_proxy(server, corpus, vulnerable)

    # An exception lets it through until removed.
    st, _, body = server.request("PUT", "/api/v1/vuln-exceptions?advisory=GHSA-lodash-proto&repositories=npm/*",
                                 json.dumps({"reason": "prototype pollution not reachable in our use",
                                             "expires": "2099-01-01T00:00:00Z"}).encode(),
                                 {"Content-Type": "application/json"}, auth=server.basic)
    expect(st == 201, "an exception for GHSA-lodash-proto on npm/*")
    expect(npm_install(server, "main", "lodash@4.17.15").returncode == 0, "npm install works under the exception")
    st, _, _ = server.request("DELETE", "/api/v1/vuln-exceptions?advisory=GHSA-lodash-proto&repositories=npm/*",
                              auth=server.basic)
    expect(st == 204, "the exception removed")
    expect(npm_install(server, "main", "lodash@4.17.15").returncode != 0, "and npm install is refused again")
    st, _, body = server.request("GET", "/api/v1/audit?action=vuln.exception.set", auth=server.basic)
    expect(st == 200 and b"GHSA-lodash-proto" in body, "setting the exception is audited")

    # Fail closed on stale data: npm/strict allows data no older than 0 days.
    time.sleep(1.1)
    r = npm_install(server, "strict", "clean-pkg@1.0.0")
    said = r.stdout + r.stderr
    expect(r.returncode != 0 and "older than the policy allows" in said,
           "a policy failing closed refuses even a clean package when the data is stale")
    server.terminate()
    print("vuln policy: all checks passed")


main()
