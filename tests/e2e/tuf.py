"""A Sigstore TUF repository of our own, for npm on a machine without the
internet.

npm (through sigstore-js) asks Sigstore's TUF repository,
tuf-repo-cdn.sigstore.dev, for the registry keys of `npm audit signatures`
and for the trusted root that verifies provenance bundles. The tests give it
a repository signed with our own Ed25519 key — with no targets, or with a
`trusted_root.json` naming a test Sigstore — served by an HTTPS proxy on
loopback that answers CONNECTs to the TUF host itself, under a test
certificate authority (`NODE_EXTRA_CA_CERTS`); the repository's root is
placed in the client's TUF cache, so it is trusted from the first fetch.
"""

import hashlib
import json
import os
import socketserver
import ssl
import subprocess

TUF_HOST = "tuf-repo-cdn.sigstore.dev"


def _run(cmd):
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(cmd)}: {r.returncode}\n{r.stderr.decode()}")
    return r.stdout


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def make_repository(work, directory, targets=None):
    """Writes root, timestamp, snapshot and targets metadata (and the
    `targets` files, by name) into `directory`, signed with a fresh Ed25519
    key kept in `work`; returns the path of root.json."""
    os.makedirs(directory, exist_ok=True)
    key_pem = os.path.join(work, "tuf-key.pem")
    _run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key_pem])
    der = _run(["openssl", "pkey", "-in", key_pem, "-pubout", "-outform", "DER"])
    key = {"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": der[-32:].hex()}}
    keyid = hashlib.sha256(canonical(key)).hexdigest()
    expires = "2099-01-01T00:00:00Z"
    role = {"keyids": [keyid], "threshold": 1}
    listed = {}
    for name, data in (targets or {}).items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
        listed[name] = {"length": len(data), "hashes": {"sha256": hashlib.sha256(data).hexdigest(),
                                                        "sha512": hashlib.sha512(data).hexdigest()}}
    documents = {
        "root.json": {"_type": "root", "spec_version": "1.0.31", "version": 1, "expires": expires,
                      "consistent_snapshot": False, "keys": {keyid: key},
                      "roles": {r: role for r in ("root", "timestamp", "snapshot", "targets")}},
        "timestamp.json": {"_type": "timestamp", "spec_version": "1.0.31", "version": 1, "expires": expires,
                           "meta": {"snapshot.json": {"version": 1}}},
        "snapshot.json": {"_type": "snapshot", "spec_version": "1.0.31", "version": 1, "expires": expires,
                          "meta": {"targets.json": {"version": 1}}},
        "targets.json": {"_type": "targets", "spec_version": "1.0.31", "version": 1, "expires": expires,
                         "targets": listed},
    }
    message = os.path.join(work, "tuf-msg")
    for name, signed in documents.items():
        with open(message, "wb") as f:
            f.write(canonical(signed))
        sig = _run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", key_pem, "-in", message]).hex()
        with open(os.path.join(directory, name), "w") as f:
            json.dump({"signed": signed, "signatures": [{"keyid": keyid, "sig": sig}]}, f)
    return os.path.join(directory, "root.json")


def make_certificates(work):
    """A test CA, and a certificate it signs for the TUF host."""
    ca_key, ca = os.path.join(work, "ca.key"), os.path.join(work, "ca.pem")
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
          "-days", "2", "-subj", "/CN=cairn test CA"])
    key, csr, cert = (os.path.join(work, f) for f in ("tuf.key", "tuf.csr", "tuf.pem"))
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={TUF_HOST}"])
    ext = os.path.join(work, "san.ext")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=DNS:{TUF_HOST}\n")
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
          "-days", "2", "-extfile", ext])
    return ca, cert, key


def seed_cache(cache_dir, root):
    """Places the repository's root in a sigstore-js TUF cache directory
    (npm's `<cache>/_tuf`, or `$XDG_DATA_HOME/sigstore-js`)."""
    target = os.path.join(cache_dir, TUF_HOST)
    os.makedirs(os.path.join(target, "targets"), exist_ok=True)
    with open(root, "rb") as src, open(os.path.join(target, "root.json"), "wb") as dst:
        dst.write(src.read())


def client_env(proxy, ca):
    """The environment a Node client needs to reach the repository."""
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": ca, "https_proxy": f"http://127.0.0.1:{proxy.server_address[1]}",
           "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
    for k in ("HTTPS_PROXY", "HTTP_PROXY", "http_proxy"):
        env.pop(k, None)
    return env


class TufProxy(socketserver.ThreadingTCPServer):
    """An HTTPS proxy that answers CONNECTs to the TUF host itself, serving
    the files of `directory` under the test certificate."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port, directory, cert, key):
        self.directory = directory
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert, key)
        self.requests = []
        super().__init__(("127.0.0.1", port), TufProxyHandler)


class TufProxyHandler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline().decode()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        if not line.startswith(f"CONNECT {TUF_HOST}:443"):
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        conn = self.server.tls.wrap_socket(self.connection, server_side=True)
        reader = conn.makefile("rb")
        while True:
            request = reader.readline().decode()
            if not request:
                return
            while reader.readline() not in (b"\r\n", b"\n", b""):
                pass
            name = request.split()[1].lstrip("/")
            self.server.requests.append(name)
            file = os.path.join(self.server.directory, os.path.basename(name))
            if os.path.isfile(file):
                with open(file, "rb") as f:
                    body, status = f.read(), "200 OK"
            else:
                body, status = b"not found", "404 Not Found"
            conn.sendall(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
