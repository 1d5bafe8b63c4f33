#!/usr/bin/env python3
"""An npm virtual repository's merged packuments against the hosted member
alone and against Verdaccio with an uplink, side by side in one run (see
bench/virtual.sh).

Verdaccio "public" holds pub-pkg (9 versions); a second Verdaccio proxies it
(uplink). cairn has the hosted repository `internal` with int-pkg (9
versions) and both-pkg (9 versions, whose 9 other versions are public too),
the proxy `npmjs` of Verdaccio "public", and the virtual repository `all` =
[internal, npmjs], with both-pkg allowed from outside (an owner's
exception), so its packument really merges two members. wrk measures
full-packument GET req/s, everything warm (the proxy revalidates every 10 s,
its default).
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (DURATION, npm_doc, npm_tarball, request, row, start_cairn, stop,  # noqa: E402
                      start_verdaccio, wrk)

CAIRN, VERDACCIO = sys.argv[1:3]
WORK = tempfile.mkdtemp(prefix="cairn-virtual-bench.", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
VERSIONS = [f"1.0.{i}" for i in range(9)]
PUBLIC = [f"2.0.{i}" for i in range(9)]


def publish(port, path, name, version, auth):
    request(port, "PUT", f"{path}/{name}", npm_doc(name, version, npm_tarball(name, version)),
            {"Content-Type": "application/json", "Authorization": auth})


def main():
    procs = []
    try:
        public, pport, pauth = start_verdaccio(VERDACCIO, WORK, name="public")
        procs.append(public)
        for v in VERSIONS:
            publish(pport, "", "pub-pkg", v, pauth)
        for v in PUBLIC:
            publish(pport, "", "both-pkg", v, pauth)
        mirror, mport, _ = start_verdaccio(VERDACCIO, WORK, uplink=f"http://127.0.0.1:{pport}/", name="mirror")
        procs.append(mirror)
        os.environ["CAIRN_PROXY"] = f'[{{format="npm", name="npmjs", upstream="http://127.0.0.1:{pport}/"}}]'
        os.environ["CAIRN_VIRTUAL"] = ('[{format="npm", name="all", members=["internal", "npmjs"],'
                                       ' publish_to="internal", allow_external=["both-pkg"]}]')
        cairn, cport, cauth = start_cairn(CAIRN, WORK)
        procs.append(cairn)
        for v in VERSIONS:
            publish(cport, "/npm/internal", "int-pkg", v, cauth)
            publish(cport, "/npm/internal", "both-pkg", v, cauth)
        for port, path in [(cport, "/npm/all/int-pkg"), (cport, "/npm/all/both-pkg"), (cport, "/npm/all/pub-pkg"),
                           (mport, "/pub-pkg")]:
            request(port, "GET", path)
        print(f"npm virtual repository (hosted + warm proxy of Verdaccio) vs the hosted member alone and vs "
              f"Verdaccio with an uplink, {len(VERSIONS)} versions per member, wrk -t2 -c32 -d{DURATION}s\n")
        print("| measure | cairn virtual | the other | ratio |\n|---|---|---|---|")
        hosted = wrk(f"http://127.0.0.1:{cport}/npm/internal/int-pkg")[0]
        owned = wrk(f"http://127.0.0.1:{cport}/npm/all/int-pkg")[0]
        row("packument GET, a hosted (owned) name: npm/all vs npm/internal", owned, hosted, "req/s")
        hosted_both = wrk(f"http://127.0.0.1:{cport}/npm/internal/both-pkg")[0]
        merged = wrk(f"http://127.0.0.1:{cport}/npm/all/both-pkg")[0]
        row("packument GET, merged from both members: npm/all vs npm/internal", merged, hosted_both, "req/s")
        through = wrk(f"http://127.0.0.1:{cport}/npm/all/pub-pkg")[0]
        verdaccio = wrk(f"http://127.0.0.1:{mport}/pub-pkg")[0]
        row("packument GET, a public name: npm/all vs Verdaccio with an uplink", through, verdaccio, "req/s")
    finally:
        stop(procs)


if __name__ == "__main__":
    main()
