#!/usr/bin/env python3
"""The admin API's OpenAPI document, served and exercised.

A real `cairn serve` answers GET /api/openapi.json with the document the
code generates, byte for byte what docs/openapi.json holds (the unit tests
keep that file in step with the route table). Then schemathesis (from PyPI)
generates requests for every operation from the document, as the admin
(and, for its authentication check, without a credential), and checks:
no 5xx; every status, content type, header and body as documented; invalid
input refused with a 4xx; methods not documented answered 405 with `Allow`;
a schema-valid request is not refused with 400 — except on the four
operations schemathesis.toml names, whose input is a document or a query
language a schema cannot describe (a lockfile, an SBOM, purl and vers).

The server runs in a scratch directory: a fuzzed backup job writes there.

Usage: openapi.py CAIRN_BINARY OUTPUT_DIR
"""

import json
import os
import shutil
import subprocess
import sys

from cairnproc import Cairn

BIN, OUT = sys.argv[1], sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ST = os.path.join(ROOT, ".tools", "schemathesis", "bin", "schemathesis")
WORK = os.path.join(OUT, "openapi-work")
DATA = os.path.join(OUT, "openapi-data")


def expect(cond, message):
    if not cond:
        raise SystemExit(f"FAIL: {message}")
    print(f"ok - {message}")


def main():
    if not os.path.exists(ST):
        raise SystemExit(f"FAIL: {ST} is missing (scripts/install-test-tools.sh installs it)")
    for d in (WORK, DATA):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(WORK)
    cwd = os.getcwd()
    os.chdir(WORK)
    server = Cairn(BIN, DATA).start(os.path.join(OUT, "openapi-cairn.log"))
    try:
        st, headers, body = server.request("GET", "/api/openapi.json")
        doc = json.loads(body)
        expect(st == 200 and headers.get("content-type") == "application/json" and doc["openapi"] == "3.1.0",
               f"GET /api/openapi.json: an OpenAPI 3.1 document ({st})")
        with open(os.path.join(ROOT, "docs", "openapi.json")) as f:
            committed = json.load(f)
        expect(doc == committed, "the served document is docs/openapi.json")
        operations = sum(len(ops) for ops in doc["paths"].values())
        report = os.path.join(OUT, "schemathesis")
        r = subprocess.run(
            [ST, "--config-file", os.path.join(ROOT, "schemathesis.toml"),
             "run", f"http://127.0.0.1:{server.port}/api/openapi.json",
             "--auth", f"admin:{server.password}",
             # Every check (the default), as schemathesis.toml leaves them.
             "--phases", "examples,coverage,fuzzing", "--max-examples", "10",
             "--workers", "2", "--seed", "1", "--no-color",
             "--report", "junit", "--report-dir", report],
            capture_output=True, text=True, cwd=WORK)
        with open(os.path.join(OUT, "schemathesis.txt"), "w") as f:
            f.write(r.stdout + r.stderr)
        summary = [line.strip() for line in r.stdout.splitlines() if "generated" in line or "Tested:" in line]
        print("\n".join(summary))
        expect(f"Tested: {operations}" in r.stdout,
               f"schemathesis exercised all {operations} operations")
        expect(r.returncode == 0, f"schemathesis: no failures (exit {r.returncode}; the report is in {OUT}/schemathesis.txt)"
               + ("" if r.returncode == 0 else "\n" + r.stdout[-4000:]))
    finally:
        server.kill()
        os.chdir(cwd)
    print("openapi: all passed")


if __name__ == "__main__":
    main()
