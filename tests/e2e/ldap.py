#!/usr/bin/env python3
"""People's passwords checked by a real LDAP directory (Debian's slapd).

slapd runs on loopback with people under ou=people and groups under
ou=groups; cairn searches for a person with a service account, binds as
them, and maps their directory groups (registry-admins -> admins, eng ->
devs) to cairn groups. Then: lara signs in with her directory password
(POST /api/v1/session) and is an administrator; lee pushes an image with
crane and his directory password to team/** (devs) and is refused prod/**;
a wrong password, an empty one, an unknown person, and filter injection
(`*`, `lar*`, `lara)(uid=*`) sign nobody in; the directory's `admin` entry
does not take over cairn's local admin (whose own password still works);
lara moved out of registry-admins in the directory is no administrator at
her next sign-in; the sign-ins are in the audit log; with the directory
down a sign-in is refused saying so.

Usage: ldap.py CAIRN_BINARY OUTPUT_DIR
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time

from cairnproc import Cairn, free_port

BIN, OUT = sys.argv[1], sys.argv[2]
WORK = os.path.join(OUT, "ldap-work")
DATA = os.path.join(OUT, "ldap-data")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRANE = os.path.join(ROOT, ".tools", "bin", "crane")
SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
LDAPMODIFY = shutil.which("ldapmodify")
BASE = "dc=example,dc=org"


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")
    print(f"ok - {message}")


def run(cmd, ok=True, env=None, stdin=None):
    r = subprocess.run(cmd, capture_output=True, text=True, input=stdin, env={**os.environ, **(env or {})})
    if ok and r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(map(str, cmd))}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def person(uid, password):
    return f"""dn: uid={uid},ou=people,{BASE}
objectClass: inetOrgPerson
uid: {uid}
cn: {uid}
sn: {uid}
userPassword: {password}
"""


def group(cn, *members):
    lines = "".join(f"member: uid={m},ou=people,{BASE}\n" for m in members)
    return f"dn: cn={cn},ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: {cn}\n{lines}"


def start_slapd(port):
    d = os.path.join(WORK, "slapd")
    os.makedirs(os.path.join(d, "db"), exist_ok=True)
    conf = os.path.join(d, "slapd.conf")
    with open(conf, "w") as f:
        f.write(f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {d}/slapd.pid
database mdb
maxsize 10485760
suffix "{BASE}"
rootdn "cn=root,{BASE}"
rootpw root-pw
directory {d}/db
access to attrs=userPassword by self write by anonymous auth by * none
access to * by dn.exact="cn=cairn-reader,ou=services,{BASE}" read by self read by * none
""")
    entries = [
        f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n",
        f"dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n",
        f"dn: ou=services,{BASE}\nobjectClass: organizationalUnit\nou: services\n",
        f"dn: cn=cairn-reader,ou=services,{BASE}\nobjectClass: simpleSecurityObject\nobjectClass: organizationalRole\n"
        "cn: cairn-reader\nuserPassword: reader-pw\n",
        person("lara", "lara-pw"),
        person("lee", "lee-pw"),
        person("admin", "directory-admin-pw"),
        group("registry-admins", "lara", "admin"),
        group("eng", "lara", "lee"),
    ]
    ldif = os.path.join(d, "data.ldif")
    with open(ldif, "w") as f:
        f.write("\n".join(entries))
    run([SLAPADD, "-f", conf, "-l", ldif])
    proc = subprocess.Popen([SLAPD, "-f", conf, "-h", f"ldap://127.0.0.1:{port}/", "-d", "0"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "slapd.log"), "w"))
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit("FAIL: slapd did not start")
            time.sleep(0.05)


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def main():
    for tool in (SLAPD, SLAPADD, LDAPMODIFY, CRANE):
        if not tool or not os.path.exists(tool):
            raise SystemExit(f"FAIL: {tool} is missing (scripts/install-test-tools.sh installs it)")
    for d in (WORK, DATA):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(WORK)
    ldap_port = free_port()
    slapd = start_slapd(ldap_port)
    config = os.path.join(WORK, "cairn.toml")
    with open(config, "w") as f:
        f.write(f"""[auth]
anonymous_read = false
credential_cache_secs = 0

[auth.ldap]
url = "ldap://127.0.0.1:{ldap_port}"
bind_dn = "cn=cairn-reader,ou=services,{BASE}"
user_base = "ou=people,{BASE}"
user_filter = "(&(objectClass=inetOrgPerson)(uid={{user}}))"
group_base = "ou=groups,{BASE}"
group_filter = "(member={{dn}})"

[auth.ldap.groups]
registry-admins = ["admins"]
eng = ["devs"]
""")
    # The service account's password from the environment, not the file.
    server = Cairn(BIN, DATA, env={"CAIRN_CONFIG": config, "CAIRN_AUTH__LDAP__BIND_PASSWORD": "reader-pw"})
    server.start(os.path.join(OUT, "ldap-cairn.log"))
    run([BIN, "group", "create", "admins", "--grant", "**:read,publish,yank,delete,admin", "--data-dir", DATA])
    run([BIN, "group", "create", "devs", "--grant", "team/**:read,publish", "--data-dir", DATA])
    try:
        check(server, ldap_port, slapd)
    finally:
        slapd.kill()
        server.kill()
    print("ldap: all passed")


def sign_in(server, user, password):
    st, _, body = server.request("POST", "/api/v1/session", json.dumps({"user": user, "password": password}),
                                 {"Content-Type": "application/json"})
    return st, json.loads(body or b"null")


def check(server, ldap_port, slapd):
    st, out = sign_in(server, "lara", "lara-pw")
    expect(st == 200 and out["user"] == "lara", f"lara signs in with her directory password ({st} {out})")
    st, _, body = server.request("GET", "/api/v1/session", auth=basic("lara", "lara-pw"))
    me = json.loads(body)
    expect(st == 200 and me["admin"] is True, f"registry-admins -> admins: lara is an administrator ({me})")
    st, _, _ = server.request("GET", "/api/v1/audit?limit=1", auth=basic("lara", "lara-pw"))
    expect(st == 200, f"and may read the audit log ({st})")
    st, _, body = server.request("GET", "/api/v1/session", auth=basic("LARA", "lara-pw"))
    expect(st == 200 and json.loads(body)["user"] == "lara",
           f"the directory matches LARA to lara, and so does cairn: one user ({body[:80]!r})")

    for user, password, what in [
        ("lara", "wrong", "a wrong password"),
        ("lara", "", "an empty password (an LDAP unauthenticated bind)"),
        ("nobody", "lara-pw", "an unknown person"),
        ("*", "lara-pw", "the name *"),
        ("lar*", "lara-pw", "the name lar*"),
        ("lara)(uid=*", "lara-pw", "a filter injection"),
    ]:
        st, out = sign_in(server, user, password)
        expect(st == 401, f"{what} signs nobody in ({st})")
    st, _, _ = server.request("GET", "/api/v1/session", auth=basic("lara", ""))
    expect(st == 401, f"Basic with an empty password is refused too ({st})")

    # The directory's admin entry is not cairn's local admin.
    st, _ = sign_in(server, "admin", "directory-admin-pw")
    expect(st == 401, f"the directory's admin does not take over the local admin ({st})")
    st, _ = sign_in(server, "admin", server.password)
    expect(st == 200, f"the local admin's own password still works ({st})")

    # A real client with a directory password: crane, as lee (eng -> devs).
    host = f"127.0.0.1:{server.port}"
    docker = {"DOCKER_CONFIG": os.path.join(WORK, "docker")}
    layer_dir = os.path.join(WORK, "layer")
    os.makedirs(layer_dir, exist_ok=True)
    with open(os.path.join(layer_dir, "hello.txt"), "w") as f:
        f.write("hello from the directory\n")
    image = os.path.join(WORK, "image.tar")
    run([CRANE, "append", "--new_layer", os.path.join(layer_dir, "hello.txt"), "--new_tag", "local/img:1", "-o", image])
    run([CRANE, "auth", "login", host, "-u", "lee", "--password=lee-pw"], env=docker)
    run([CRANE, "push", "--insecure", image, f"{host}/team/app:1"], env=docker)
    expect(True, "crane push to team/app with lee's directory password (devs): accepted")
    r = run([CRANE, "push", "--insecure", image, f"{host}/prod/app:1"], ok=False, env=docker)
    expect(r.returncode != 0 and any(w in r.stderr for w in ("DENIED", "UNAUTHORIZED", "401 Unauthorized")),
           "crane push to prod/app as lee: refused")
    st, _, body = server.request("GET", "/api/v1/session", auth=basic("lee", "lee-pw"))
    expect(st == 200 and json.loads(body)["admin"] is False, "lee is no administrator")

    # Moved out of registry-admins in the directory: not an administrator next time.
    change = (f"dn: cn=registry-admins,ou=groups,{BASE}\nchangetype: modify\n"
              f"delete: member\nmember: uid=lara,ou=people,{BASE}\n")
    run([LDAPMODIFY, "-x", "-H", f"ldap://127.0.0.1:{ldap_port}", "-D", f"cn=root,{BASE}", "-w", "root-pw"], stdin=change)
    st, _, body = server.request("GET", "/api/v1/session", auth=basic("lara", "lara-pw"))
    expect(st == 200 and json.loads(body)["admin"] is False,
           "lara, out of registry-admins in the directory, is no administrator at her next sign-in")
    st, _, _ = server.request("GET", "/api/v1/audit?limit=1", auth=basic("lara", "lara-pw"))
    expect(st == 403, f"and may not read the audit log any more ({st})")

    st, _, body = server.request("GET", "/api/v1/audit?action=user.sign_in&limit=50", auth=server.basic)
    entries = json.loads(body)["entries"]
    made = [e for e in entries if e.get("artifact") in ("lara", "lee") and "through ldap" in (e.get("detail") or "")]
    expect(len(made) >= 3, f"the sign-ins that made users or changed their groups are audited ({len(made)})")

    # The directory down: refused, saying so.
    slapd.kill()
    slapd.wait()
    st, out = sign_in(server, "lara", "lara-pw")
    expect(st == 401 and "could not be reached" in json.dumps(out), f"with the directory down a sign-in is refused saying so ({st} {out})")


if __name__ == "__main__":
    main()
