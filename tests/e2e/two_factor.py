#!/usr/bin/env python3
"""Two-factor authentication with the real npm and crane.

cairn runs with `auth.require_two_factor = ["npm/main", "prod/**"]`. A user
(alice) who has not enrolled is refused a publish with her password, told to
enrol. She enrols through `cairn user totp enable/confirm` (the codes here
come from this file's own RFC 6238 implementation, not cairn's). Then:
`npm login` (the legacy flow, driven through a terminal) is challenged for a
one-time password and signs in with one; `npm publish` with that session is
refused with EOTP without `--otp`, refused with a wrong code, accepted with
a good one; `npm dist-tag add` the same; a sign-in code works once; a
recovery code stands in for the app (for one command, then never again;
at sign-in once); making an API token needs a code (and, under the rule, a
person not enrolled may not make one that can publish); an API token (automation) publishes without a
code; crane pushing to a covered repository with her password is refused
naming the API token way, and accepted with a token; the refusals and the
enrolment are in the audit log; the operator turns her second factor off
(`cairn user totp reset`) and the status says so.

Usage: two_factor.py CAIRN_BINARY OUTPUT_DIR
"""

import base64
import hashlib
import hmac
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import time

from cairnproc import Cairn

BIN, OUT = sys.argv[1], sys.argv[2]
DATA = os.path.join(OUT, "two-factor-data")
WORK = os.path.join(OUT, "two-factor-work")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRANE = os.path.join(ROOT, ".tools", "bin", "crane")
ENV = {"CAIRN_AUTH__REQUIRE_TWO_FACTOR": '["npm/main", "prod/**"]', "CAIRN_AUTH__CREDENTIAL_CACHE_SECS": "0"}


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")
    print(f"ok - {message}")


def run(cmd, ok=True, env=None, cwd=None):
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})})
    if ok and r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(map(str, cmd))}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def totp(secret, at=None):
    """RFC 6238: HMAC-SHA-1 over the 30-second step, dynamic truncation, 6 digits."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    step = int((time.time() if at is None else at) // 30)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def package(name, version):
    d = os.path.join(WORK, f"{name}-{version}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "package.json"), "w") as f:
        json.dump({"name": name, "version": version, "description": "2fa test"}, f)
    with open(os.path.join(d, "index.js"), "w") as f:
        f.write("module.exports = 1;\n")
    return d


def npm(args, npmrc, cwd=None, ok=True):
    env = {"npm_config_userconfig": npmrc, "npm_config_cache": os.path.join(WORK, "npm-cache"),
           "npm_config_update_notifier": "false", "npm_config_audit": "false", "npm_config_fund": "false"}
    return run(["npm", *args], ok=ok, env=env, cwd=cwd or WORK)


def npm_login_in_a_terminal(registry, npmrc, user, password, otp):
    """`npm login --auth-type=legacy`, answering its prompts as a person would."""
    return npm_in_a_terminal(["login", "--auth-type=legacy", f"--registry={registry}"], npmrc,
                             [("Username:", user), ("Password:", password), ("Enter OTP:", otp)])


def npm_in_a_terminal(args, npmrc, answers):
    """npm with a terminal, answering each prompt once (an answer may be a
    function of what npm printed so far)."""
    env = {**os.environ, "npm_config_userconfig": npmrc, "npm_config_cache": os.path.join(WORK, "npm-cache"),
           "npm_config_update_notifier": "false"}
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(WORK)
        os.execvpe("npm", ["npm", *args], env)
    seen = ""
    asked = []
    deadline = time.time() + 60
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            if os.waitpid(pid, os.WNOHANG)[0]:
                break
            continue
        try:
            chunk = os.read(fd, 4096).decode(errors="replace")
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        for prompt, answer in answers:
            if prompt not in asked and prompt in seen:
                asked.append(prompt)
                os.write(fd, ((answer(seen) if callable(answer) else answer) + "\r").encode())
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen, asked


def main():
    os.makedirs(WORK, exist_ok=True)
    server = Cairn(BIN, DATA, env=ENV).start(os.path.join(OUT, "two-factor-cairn.log"))
    try:
        scenario(server)
    finally:
        server.terminate()


def scenario(server):
    base = f"http://127.0.0.1:{server.port}"
    registry = f"{base}/npm/main/"
    host = f"127.0.0.1:{server.port}"
    st, _, body = server.request("POST", "/api/v1/users", json.dumps(
        {"name": "alice", "grants": ["**:read,publish,yank,delete"]}), {"Content-Type": "application/json"},
        auth=server.basic)
    expect(st == 201, f"alice created ({st})")
    password = json.loads(body)["password"]
    alice = basic("alice", password)
    cli_env = {"ALICE_PW": password}
    cli = ["--url", base, "--user", "alice", "--password-env", "ALICE_PW"]

    # --- Not enrolled: a publish with the password is refused, saying why.
    pw_rc = os.path.join(WORK, "npmrc-password")
    with open(pw_rc, "w") as f:
        f.write(f"registry={registry}\n//{host}/npm/main/:_auth={base64.b64encode(f'alice:{password}'.encode()).decode()}\n")
    r = npm(["publish", package("tfa-pkg", "0.0.1")], pw_rc, ok=False)
    expect(r.returncode != 0 and "must enable two-factor authentication" in r.stderr,
           "npm publish with a password, not enrolled: refused, told to enable two-factor authentication")
    # A repository the rule does not cover takes it.
    other_rc = os.path.join(WORK, "npmrc-other")
    with open(other_rc, "w") as f:
        f.write(f"registry={base}/npm/other/\n//{host}/npm/other/:_auth={base64.b64encode(f'alice:{password}'.encode()).decode()}\n")
    npm(["publish", package("tfa-free", "1.0.0")], other_rc)
    expect(True, "npm publish to a repository the rule does not cover needs no second factor")

    # --- Enrolment through the CLI; codes from this file's own TOTP.
    r = run([BIN, "user", "totp", "enable", *cli], env=cli_env)
    secret = re.search(r"secret: (\S+)", r.stdout).group(1)
    expect("otpauth://totp/" in r.stdout, "cairn user totp enable prints the secret and an otpauth:// URL")
    st, _, body = server.request("GET", "/api/v1/users/alice/totp", auth=alice)
    expect(json.loads(body)["pending"] is True and json.loads(body)["enabled"] is False,
           "the enrolment is pending until a first code")
    r = run([BIN, "user", "totp", "confirm", *cli, "000000" if totp(secret) != "000000" else "111111"],
            ok=False, env=cli_env)
    expect(r.returncode != 0 and "not the app's current one" in r.stderr, "a wrong first code is refused")
    now = time.time()
    r = run([BIN, "user", "totp", "confirm", *cli, totp(secret, now)], env=cli_env)
    recovery = re.findall(r"^\s+([0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4})$", r.stdout, re.M)
    expect(len(recovery) == 10, "confirming with the app's code turns it on and prints 10 recovery codes")
    st, _, body = server.request("GET", "/api/v1/users/bob/totp", auth=alice)
    expect(st == 403, f"another user's second factor is not alice's to read ({st})")
    st, _, body = server.request("POST", "/api/v1/users/alice/totp", auth=server.basic)
    expect(st == 403, f"an administrator cannot enrol alice (would learn her secret) ({st})")

    # --- Sign-in: the legacy npm login is challenged and signs in with a code.
    st, hdrs, body = server.request("PUT", "/npm/main/-/user/org.couchdb.user:alice",
                                    json.dumps({"name": "alice", "password": password}),
                                    {"Content-Type": "application/json"})
    expect(st == 401 and hdrs.get("www-authenticate") == "OTP" and b"one-time password" in body,
           "npm's login request without a code: 401 with WWW-Authenticate: OTP")
    login_code = totp(secret, now + 30)  # the confirming step is used up
    session_rc = os.path.join(WORK, "npmrc-session")
    with open(session_rc, "w") as f:
        f.write(f"registry={registry}\n")
    rc, seen, asked = npm_login_in_a_terminal(registry, session_rc, "alice", password, login_code)
    expect(rc == 0 and "Enter OTP:" in asked, f"npm login asked for the one-time password and signed in (rc {rc})")
    expect("_authToken=cairn_" in open(session_rc).read(), "npm login stored the session token")
    st, _, _ = server.request("PUT", "/npm/main/-/user/org.couchdb.user:alice",
                              json.dumps({"name": "alice", "password": password}),
                              {"Content-Type": "application/json", "npm-otp": login_code})
    expect(st == 401, f"the same code does not sign in twice ({st})")

    # --- Publishing with the session: EOTP without a code, a wrong code refused, a good one taken.
    pkg = package("tfa-pkg", "1.0.0")
    r = npm(["publish", pkg], session_rc, ok=False)
    expect(r.returncode != 0 and "EOTP" in r.stderr, "npm publish without --otp: EOTP")
    st, _, _ = server.request("GET", "/npm/main/tfa-pkg", auth=alice)
    expect(st == 404, f"nothing was published ({st})")
    wrong = "123456" if totp(secret) != "123456" else "654321"
    r = npm(["publish", pkg, f"--otp={wrong}"], session_rc, ok=False)
    expect(r.returncode != 0 and "EOTP" in r.stderr, "npm publish with a wrong --otp: refused")
    npm(["publish", pkg, f"--otp={totp(secret)}"], session_rc)
    st, _, body = server.request("GET", "/npm/main/tfa-pkg", auth=alice)
    expect(st == 200 and "1.0.0" in json.loads(body)["versions"], "npm publish --otp=CODE: published")
    r = npm(["dist-tag", "add", "tfa-pkg@1.0.0", "beta"], session_rc, ok=False)
    expect(r.returncode != 0 and "EOTP" in r.stderr, "npm dist-tag add without --otp: EOTP")
    npm(["dist-tag", "add", "tfa-pkg@1.0.0", "beta", f"--otp={totp(secret)}"], session_rc)
    st, _, body = server.request("GET", "/npm/main/tfa-pkg", auth=alice)
    expect(json.loads(body)["dist-tags"].get("beta") == "1.0.0", "npm dist-tag add --otp=CODE: tagged")

    # --- A recovery code stands in for the app: for one command's requests
    # (npm sends --otp with each), then never again; at sign-in, once.
    npm(["publish", package("tfa-pkg", "1.0.1"), f"--otp={recovery[0]}"], session_rc)
    st, _, body = server.request("GET", "/api/v1/users/alice/totp", auth=alice)
    expect(json.loads(body)["recovery_codes_left"] == 9,
           "npm publish --otp=RECOVERY-CODE: published, and 9 recovery codes are left")

    def sign_in(code):
        return server.request("PUT", "/npm/main/-/user/org.couchdb.user:alice",
                              json.dumps({"name": "alice", "password": password}),
                              {"Content-Type": "application/json", "npm-otp": code})[0]
    expect(sign_in(recovery[0]) == 401, "a used recovery code does not sign in")
    expect(sign_in(recovery[1]) == 201 and sign_in(recovery[1]) == 401,
           "an unused recovery code signs in once, and only once")

    # --- A person not enrolled cannot mint automation that could publish
    # (the rule would be a password away from nothing); a read token is fine.
    ci_token = json.dumps({"description": "ci", "scopes": ["**:read,publish"]})
    st, _, body = server.request("POST", "/api/v1/tokens", ci_token, {"Content-Type": "application/json"},
                                 auth=server.basic)
    expect(st == 403 and b"two-factor authentication" in body,
           f"under the rule, a person not enrolled may not make a token that can publish ({st})")
    st, _, _ = server.request("POST", "/api/v1/tokens", json.dumps({"description": "ro", "scopes": ["**:read"]}),
                              {"Content-Type": "application/json"}, auth=server.basic)
    expect(st == 201, f"... and may make a read-only one ({st})")

    # --- Automation: an API token publishes without a code.
    st, _, body = server.request("POST", "/api/v1/tokens", ci_token, {"Content-Type": "application/json"}, auth=alice)
    expect(st == 401 and b"one-time password" in body,
           f"an enrolled person making an API token without a code: 401 ({st})")
    st, _, body = server.request("POST", "/api/v1/tokens", ci_token,
                                 {"Content-Type": "application/json", "X-Cairn-OTP": totp(secret)}, auth=alice)
    expect(st == 201, f"alice makes an API token with a code ({st})")
    token = json.loads(body)["token"]
    ci_rc = os.path.join(WORK, "npmrc-ci")
    with open(ci_rc, "w") as f:
        f.write(f"registry={registry}\n//{host}/npm/main/:_authToken={token}\n")
    npm(["publish", package("tfa-pkg", "1.0.3")], ci_rc)
    expect(True, "npm publish with an API token (automation) needs no one-time password")

    # --- Images: registry clients cannot send a code; the refusal names the way.
    docker = {"DOCKER_CONFIG": os.path.join(WORK, "docker")}
    image = os.path.join(WORK, "image.tar")
    run([CRANE, "append", "--new_layer", pkg + "/package.json", "--new_tag", "local/img:1", "-o", image])
    run([CRANE, "auth", "login", host, "-u", "alice", f"--password={password}"], env=docker)
    r = run([CRANE, "push", "--insecure", image, f"{host}/prod/app:1"], ok=False, env=docker)
    expect(r.returncode != 0 and "API token" in r.stderr,
           "crane push to prod/** with a password: DENIED, naming the API token way")
    run([CRANE, "auth", "login", host, "-u", "alice", f"--password={token}"], env=docker)
    run([CRANE, "push", "--insecure", image, f"{host}/prod/app:1"], env=docker)
    expect(True, "crane push with an API token: accepted")

    # --- npm's own enrolment: npm profile enable-2fa / get / disable-2fa.
    st, _, body = server.request("POST", "/api/v1/users", json.dumps(
        {"name": "erin", "grants": ["npm/**:read,publish"]}), {"Content-Type": "application/json"},
        auth=server.basic)
    erin_pw = json.loads(body)["password"]
    erin_rc = os.path.join(WORK, "npmrc-erin")
    rc, seen, _ = npm_login_in_a_terminal(registry, erin_rc, "erin", erin_pw, "000000")
    expect(rc == 0, f"erin (not enrolled) signs in with npm login ({rc})")
    rc, seen, asked = npm_in_a_terminal(
        ["profile", "enable-2fa", "auth-and-writes", f"--registry={registry}"], erin_rc,
        [("assword", erin_pw),
         ("OTP code from your authenticator", lambda out: totp(re.search(r"enter code:\s*([A-Z2-7]+)", out).group(1)))])
    codes = re.findall(r"\t([0-9a-f]{4}(?:-[0-9a-f]{4}){3})", seen)
    expect(rc == 0 and "successfully enabled" in seen and len(codes) == 10,
           f"npm profile enable-2fa: the secret shown, a code confirms it, ten recovery codes ({rc}, {len(codes)} codes)"
           + ("" if rc == 0 and codes else "\n" + seen[-2500:]))
    st, _, body = server.request("GET", "/api/v1/users/erin/totp", auth=basic("erin", erin_pw))
    expect(json.loads(body).get("enabled") is True, "cairn has erin's second factor on")
    got = npm(["profile", "get", f"--registry={registry}"], erin_rc)
    expect("auth-and-writes" in got.stdout, f"npm profile get shows it ({got.stdout.strip()[:200]})")
    secret_seen = re.search(r"enter code:\s*([A-Z2-7]+)", seen).group(1)
    rc, seen, asked = npm_in_a_terminal(
        ["profile", "disable-2fa", f"--registry={registry}"], erin_rc,
        [("assword", erin_pw), ("Enter OTP:", lambda _: totp(secret_seen))])
    expect(rc == 0 and "Enter OTP:" in asked and "disabled" in seen,
           f"npm profile disable-2fa asks for a one-time password and turns it off ({rc}, asked {asked})"
           + ("" if rc == 0 else "\n" + seen[-1500:]))
    st, _, body = server.request("GET", "/api/v1/users/erin/totp", auth=basic("erin", erin_pw))
    expect(json.loads(body).get("enabled") is False, "cairn has erin's second factor off")

    # --- The audit log has the enrolment and the refusals.
    st, _, body = server.request("GET", "/api/v1/audit?limit=500", auth=server.basic)
    entries = json.loads(body)["entries"]
    expect(any(e["action"] == "user.2fa.enable" and e.get("artifact") == "alice" for e in entries),
           "the audit log has alice's enrolment")
    expect(any("SecondFactor" in (e.get("outcome") or "") for e in entries),
           "the audit log has the refusals for want of a second factor")

    # --- Browser sessions: a password and a code; an HttpOnly, SameSite
    # cookie; changes need the CSRF token; signing out ends it.
    st, _, body = server.request("POST", "/api/v1/users", json.dumps({"name": "bob", "grants": ["**:read"]}),
                                 {"Content-Type": "application/json"}, auth=server.basic)
    bob_pw = json.loads(body)["password"]
    bob = basic("bob", bob_pw)
    st, _, body = server.request("POST", "/api/v1/users/bob/totp", auth=bob)
    bob_secret = json.loads(body)["secret"]
    t0 = time.time()
    st, _, _ = server.request("POST", "/api/v1/users/bob/totp/confirm", json.dumps({"code": totp(bob_secret, t0)}),
                              {"Content-Type": "application/json"}, auth=bob)
    expect(st == 200, f"bob enrols through the API ({st})")

    def session_post(doc):
        return server.request("POST", "/api/v1/session", json.dumps(doc), {"Content-Type": "application/json"})
    st, _, body = session_post({"user": "bob", "password": "wrong"})
    expect(st == 401, f"a web sign-in with a wrong password: 401 ({st})")
    st, _, body = session_post({"user": "bob", "password": bob_pw})
    expect(st == 401 and json.loads(body)["otp_required"] is True, "a web sign-in without the code: 401, otp_required")
    st, _, body = session_post({"user": "bob", "password": bob_pw, "otp": wrong})
    expect(st == 401, "a web sign-in with a wrong code: 401")
    st, hdrs, body = session_post({"user": "bob", "password": bob_pw, "otp": totp(bob_secret, t0 + 30)})
    cookie = hdrs.get("set-cookie", "")
    expect(st == 200 and "HttpOnly" in cookie and "SameSite=Strict" in cookie and cookie.startswith("cairn_session="),
           "a web sign-in with the code: an HttpOnly, SameSite=Strict session cookie")
    csrf = json.loads(body)["csrf_token"]
    jar = {"Cookie": cookie.split(";")[0]}
    st, _, body = server.request("GET", "/api/v1/session", headers=jar)
    me = json.loads(body)
    expect(st == 200 and me["user"] == "bob" and me["two_factor"] == "verified" and me["csrf_token"] == csrf,
           "GET /api/v1/session with the cookie: bob, second factor verified, the same CSRF token")
    new_token = json.dumps({"description": "from the browser", "scopes": ["**:read"]})
    st, _, _ = server.request("POST", "/api/v1/tokens", new_token, {**jar, "Content-Type": "application/json"})
    expect(st == 403, f"a change with the cookie and no CSRF token is refused (a forged request) ({st})")
    st, _, _ = server.request("POST", "/api/v1/tokens", new_token,
                              {**jar, "Content-Type": "application/json", "X-Cairn-CSRF": "0" * 64})
    expect(st == 403, f"a change with a wrong CSRF token is refused ({st})")
    st, _, _ = server.request("POST", "/api/v1/tokens", new_token,
                              {**jar, "Content-Type": "application/json", "X-Cairn-CSRF": csrf})
    expect(st == 201, f"a change with the cookie and its CSRF token is made ({st})")
    st, hdrs, _ = server.request("DELETE", "/api/v1/session", headers={**jar, "X-Cairn-CSRF": csrf})
    expect(st == 204 and "Max-Age=0" in hdrs.get("set-cookie", ""), "signing out: 204, the cookie cleared")
    st, _, _ = server.request("GET", "/api/v1/session", headers=jar)
    expect(st == 401, f"the signed-out session no longer works ({st})")
    st, _, _ = server.request("DELETE", "/api/v1/session", auth=f"Bearer {token}")
    st2, _, _ = server.request("GET", "/api/v1/session", auth=f"Bearer {token}")
    expect(st == 409 and st2 == 200, "DELETE /api/v1/session with an API token does not revoke it (409)")
    st, _, body = session_post({"user": "admin", "password": server.password})
    expect(st == 200 and json.loads(body)["two_factor"] is False, "a person not enrolled signs in with the password")

    # --- cairn login keeps a session for later commands; cairn logout ends it.
    creds = {**cli_env, "CAIRN_CREDENTIALS": os.path.join(WORK, "credentials.json")}
    r = run([BIN, "login", "--url", base, "--user", "alice", "--password-env", "ALICE_PW"], ok=False, env=creds)
    expect(r.returncode != 0 and "--otp" in r.stderr, "cairn login without a terminal and without --otp says to pass it")
    run([BIN, "login", "--url", base, "--user", "alice", "--password-env", "ALICE_PW", "--otp", recovery[2]], env=creds)
    expect(oct(os.stat(creds["CAIRN_CREDENTIALS"]).st_mode & 0o777) == "0o600", "cairn login keeps the session, owner-only")
    r = run([BIN, "user", "totp", "status", "--url", base], env=creds)
    expect("for alice: on;" in r.stdout, "a later command uses the kept session (no credential flags)")
    run([BIN, "logout", "--url", base], env=creds)
    r = run([BIN, "user", "totp", "status", "--url", base], ok=False, env=creds)
    expect(r.returncode != 0, "after cairn logout the command has no credential")

    # --- The operator turns it off (a lost device).
    run([BIN, "user", "totp", "reset", "--data-dir", DATA, "alice"])
    r = run([BIN, "user", "totp", "status", *cli], env=cli_env)
    expect(": off;" in r.stdout, "after cairn user totp reset, two-factor authentication for alice is off")


if __name__ == "__main__":
    main()
