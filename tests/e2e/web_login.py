#!/usr/bin/env python3
"""Web sign-in for command-line clients, against a real `cairn serve` with
`auth.web_login` on:

  * `cairn login --web` prints the address to approve at; a person signed in
    to the web UI (a browser session: cookie and CSRF token) sees what asks
    and approves; the command keeps the session and `cairn whoami` is them;
  * `npm login` (npm's default auth-type=web, the real npm) prints its
    address; approved, npm stores the token and `npm whoami` and `npm publish`
    work with it;
  * an approval with an API token, or a browser session's change without
    its CSRF token, is refused; approved twice is refused; a login is taken
    once (a second poll, or a wrong secret, finds nothing); audited;
  * with `auth.web_login` off, `POST /npm/<repo>/-/v1/login` answers 404, on
    which npm asks for a user name and password (its legacy login).

Usage: web_login.py CAIRN_BINARY OUTPUT_DIR
"""

import json
import os
import re
import queue
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse

from cairnproc import Cairn

BIN, OUT = sys.argv[1], sys.argv[2]
PREFIX = "web-login"
DATA = os.path.join(OUT, f"{PREFIX}-data")
WORK = os.path.join(OUT, f"{PREFIX}-work")


def fail(msg):
    raise SystemExit(f"FAIL: {msg}")


def expect(cond, msg, detail=""):
    if not cond:
        fail(f"{msg}\n{detail}"[:3000])
    print(f"ok - {PREFIX}: {msg}", flush=True)


def read_url(proc, pattern, what, timeout=60):
    """Reads the process's output (merged) until a URL matching `pattern`;
    the rest of the output is kept for `rest(proc)`."""
    lines = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    proc.lines = lines
    seen = ""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen += line
        m = re.search(pattern, line)
        if m:
            return m.group(0), seen
    fail(f"{what} printed no address to approve at:\n{seen}")


def rest(proc, timeout=90):
    """Waits for the process; returns what it printed after the address."""
    proc.wait(timeout=timeout)
    out = ""
    while True:
        line = proc.lines.get(timeout=10)
        if line is None:
            return out
        out += line


class Browser:
    """A person's browser session: the session cookie and its CSRF token."""

    def __init__(self, server, user, password):
        self.server = server
        st, h, body = server.request("POST", "/api/v1/session",
                                     json.dumps({"user": user, "password": password}).encode(),
                                     {"Content-Type": "application/json"})
        if st != 200:
            fail(f"sign-in of {user}: {st} {body[:200]!r}")
        self.cookie = h["set-cookie"].split(";")[0]
        self.csrf = json.loads(body)["csrf_token"]

    def call(self, method, path, csrf=True):
        headers = {"Cookie": self.cookie, "Sec-Fetch-Mode": "cors"}
        if csrf:
            headers["X-Cairn-CSRF"] = self.csrf
        st, _, body = self.server.request(method, path, b"" if method == "POST" else None, headers)
        return st, json.loads(body) if body else None


def main():
    for d in (DATA, WORK):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(WORK)
    server = Cairn(BIN, DATA, env={"CAIRN_AUTH__WEB_LOGIN": "true"}).start(
        os.path.join(OUT, f"{PREFIX}-server.log"))
    try:
        checks(server)
    finally:
        server.terminate()
    off = Cairn(BIN, DATA + "-off").start(os.path.join(OUT, f"{PREFIX}-off.log"))
    try:
        st, _, body = off.request("POST", "/npm/main/-/v1/login", b"{}", {"Content-Type": "application/json"})
        expect(st == 404, "with auth.web_login off, npm's web login answers 404 (npm then asks for a password)",
               f"{st} {body[:200]!r}")
    finally:
        off.terminate()


def checks(server):
    origin = f"http://127.0.0.1:{server.port}"
    made = subprocess.run([BIN, "user", "create", "alice", "--grant", "npm/**:read,publish", "--data-dir", DATA],
                          capture_output=True, text=True)
    password = next((w for w in made.stdout.split() if len(w) >= 16), None)
    if made.returncode != 0 or not password:
        fail(f"user create: {made.stdout} {made.stderr}")
    alice = Browser(server, "alice", password)
    env = {**os.environ, "CAIRN_LOG": "warn", "CAIRN_CREDENTIALS": os.path.join(WORK, "credentials.json")}

    # cairn login --web
    proc = subprocess.Popen([BIN, "login", "--web", "--url", origin], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    url, _ = read_url(proc, r"http://\S+/ui/#/approve/\w+", "cairn login --web")
    login_id = url.rsplit("/", 1)[1]
    st, info = alice.call("GET", f"/api/v1/session/web/{login_id}")
    expect(st == 200 and info["client"] == "cairn" and info["status"] == "pending" and info["source"] == "127.0.0.1",
           "the approval page's view: the cairn command line asks, from 127.0.0.1, pending", info)
    st, _ = alice.call("POST", f"/api/v1/session/web/{login_id}/approve", csrf=False)
    expect(st == 403, "an approval from a browser session without its CSRF token is refused", st)
    token = subprocess.run([BIN, "token", "create", "--user", "alice", "--scope", "npm/**:read", "--data-dir", DATA],
                           capture_output=True, text=True).stdout.split()[-1]
    st, _, body = server.request("POST", f"/api/v1/session/web/{login_id}/approve", b"",
                                 {"Authorization": f"Bearer {token}"})
    expect(st == 403 and b"web UI" in body, "an API token cannot approve a sign-in (it would make itself a session)",
           f"{st} {body[:200]!r}")
    st, answer = alice.call("POST", f"/api/v1/session/web/{login_id}/approve")
    expect(st == 200 and answer["user"] == "alice", "alice approves it in her browser session", answer)
    out = rest(proc)
    expect(proc.returncode == 0 and "signed in to" in out and "as alice" in out,
           "cairn login --web keeps the session once approved", out)
    who = subprocess.run([BIN, "whoami", "--url", origin], capture_output=True, text=True, env=env)
    expect(who.returncode == 0 and who.stdout.startswith("alice"), "cairn whoami with the kept session: alice",
           who.stdout + who.stderr)
    st, _ = alice.call("POST", f"/api/v1/session/web/{login_id}/approve")
    expect(st == 409, "approved twice: refused (409)", st)

    # The client's side: taken once; a wrong secret finds nothing.
    st, _, body = server.request("POST", "/api/v1/session/web", b"")
    started = json.loads(body)
    done = urllib.parse.urlsplit(started["done_url"])
    poll = f"{done.path}?{done.query}"
    st, h, _ = server.request("GET", poll)
    expect(st == 202 and h.get("retry-after") == "1", "a poll before the approval: 202 with Retry-After", (st, h))
    alice.call("POST", f"/api/v1/session/web/{started['id']}/approve")
    st, _, body = server.request("GET", f"{done.path}?secret=wrong")
    expect(st == 404, "a poll with a wrong secret finds nothing", st)
    st, _, body = server.request("GET", poll)
    first = json.loads(body)
    st2, _, _ = server.request("GET", poll)
    expect(st == 200 and first["user"] == "alice" and first["token"] and st2 == 404,
           "the approved login is taken once: the token, then nothing", (st, st2))
    st, _, body = server.request("GET", "/api/v1/session", headers={"Authorization": f"Bearer {first['token']}"})
    expect(st == 200 and json.loads(body)["user"] == "alice", "the token taken is alice's session", body[:200])

    # npm login: npm's default auth-type=web.
    npmrc = os.path.join(WORK, "npmrc")
    open(npmrc, "w").close()
    npm_env = {**os.environ, "NPM_CONFIG_USERCONFIG": npmrc, "NPM_CONFIG_CACHE": os.path.join(WORK, "npm-cache")}
    registry = f"{origin}/npm/main/"
    proc = subprocess.Popen(["npm", "login", f"--registry={registry}"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=npm_env)
    url, _ = read_url(proc, r"http://\S+/ui/#/approve/\w+", "npm login")
    npm_id = url.rsplit("/", 1)[1]
    st, info = alice.call("GET", f"/api/v1/session/web/{npm_id}")
    expect(st == 200 and info["client"] == "npm", "npm login prints the approval address (client npm)", info)
    st, _ = alice.call("POST", f"/api/v1/session/web/{npm_id}/approve")
    out = rest(proc)
    expect(proc.returncode == 0 and "Logged in" in out, "npm login completes once approved", out)
    who = subprocess.run(["npm", "whoami", f"--registry={registry}"], capture_output=True, text=True, env=npm_env)
    expect(who.returncode == 0 and who.stdout.strip() == "alice", "npm whoami with the token: alice",
           who.stdout + who.stderr)
    pkg = os.path.join(WORK, "pkg")
    os.makedirs(pkg)
    with open(os.path.join(pkg, "package.json"), "w") as f:
        json.dump({"name": "web-login-demo", "version": "1.0.0"}, f)
    pub = subprocess.run(["npm", "publish", pkg, f"--registry={registry}"], capture_output=True, text=True,
                         env=npm_env)
    expect(pub.returncode == 0, "npm publish with the web login's token", pub.stdout + pub.stderr)

    audit = subprocess.run([BIN, "audit", "--action", "session.web_approve", "--json", "--data-dir", DATA],
                           capture_output=True, text=True)
    entries = [json.loads(x) for x in audit.stdout.splitlines() if x.strip()]
    expect(len(entries) == 3 and all(e["actor"] == "alice" for e in entries),
           "each approval is audited (session.web_approve, by alice)", audit.stdout)


if __name__ == "__main__":
    main()
