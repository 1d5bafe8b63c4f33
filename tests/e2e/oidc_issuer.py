"""A stand-in for a CI platform's OIDC issuer, on loopback, for the
trusted-publishing tests: a fresh RSA key, the discovery document, the JWKS,
and GitHub Actions' ID-token request endpoint.

    python oidc_issuer.py PORT_FILE

Writes its URL to PORT_FILE once listening. Endpoints:
  /.well-known/openid-configuration, /jwks
  /token?audience=AUD[&CLAIM=VALUE...]  -> {"value": "<JWT>"}  (GitHub's
      ACTIONS_ID_TOKEN_REQUEST_URL shape); the claims default to a GitHub
      Actions release workflow of org/app, and each query parameter other
      than audience overrides one (e.g. repository=org/evil).
"""

import http.server
import json
import sys
import time
import uuid
from urllib.parse import parse_qsl, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = uuid.uuid4().hex[:12]


def jwk():
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    public.update({"kid": KID, "use": "sig", "alg": "RS256"})
    return public


class Issuer(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        base = f"http://{self.server.server_address[0]}:{self.server.server_address[1]}"
        if url.path == "/.well-known/openid-configuration":
            return self.reply({"issuer": base, "jwks_uri": f"{base}/jwks"})
        if url.path == "/jwks":
            return self.reply({"keys": [jwk()]})
        if url.path == "/token":
            query = dict(parse_qsl(url.query))
            now = int(time.time())
            claims = {
                "iss": base,
                "aud": query.pop("audience", "cairn"),
                "iat": now,
                "nbf": now - 5,
                "exp": now + 300,
                "jti": uuid.uuid4().hex,
                "sub": "repo:org/app:ref:refs/heads/main",
                "repository": "org/app",
                "repository_owner_id": "1234",
                "workflow_ref": "org/app/.github/workflows/release.yml@refs/heads/main",
                "job_workflow_ref": "org/app/.github/workflows/release.yml@refs/heads/main",
                "environment": "release",
            }
            claims.update(query)
            token = jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": KID})
            return self.reply({"value": token})
        self.send_error(404)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Issuer)
    host, port = server.server_address
    with open(sys.argv[1], "w") as f:
        f.write(f"http://{host}:{port}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
