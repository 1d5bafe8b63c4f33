#!/usr/bin/env python3
"""Writes the candidate versions of each ecosystem to OUT/<scheme>.in: real-world
forms and their combinations, the same on every run. Each reference implementation
keeps the ones it accepts and sorts them (generate.sh)."""
import itertools
import sys

out = sys.argv[1]


def write(name, versions):
    seen = []
    for v in versions:
        if v not in seen:
            seen.append(v)
    with open(f"{out}/{name}.in", "w") as f:
        f.write("\n".join(seen) + "\n")


def every(n, items):
    """Every n-th item: a spread of a big product, the same each run."""
    return [x for i, x in enumerate(items) if i % n == 0]


cores = [f"{a}.{b}.{c}" for a, b, c in itertools.product([0, 1, 2, 10], [0, 1, 9, 10], [0, 1, 11])]
pres = ["", "-alpha", "-alpha.1", "-alpha.beta", "-beta", "-beta.2", "-beta.11", "-rc.1",
        "-0", "-1", "-0.3.7", "-x.7.z.92", "-x-y-z", "-1a", "-a1", "-alpha.01", "-01"]
builds = ["", "+build.5", "+001"]
semver = [c + p + b for c, p, b in itertools.product(cores, pres, builds)]
semver += ["1.2", "1", "v1.2.3", "=1.2.3", "1.2.3.4", "01.2.3", "1.2.3-", "1.2.3+",
           "18446744073709551615.0.0", "9007199254740991.0.0", "1.0.0-9007199254740991"]
write("npm", semver)
write("cargo", semver)

go = ["v" + s for s in semver]
go += ["v1", "v1.2", "v2", "v1.2-pre", "v0.0.0-20191109021931-daa7c04131f5",
       "v0.0.0-20200101000000-aaaaaaaaaaaa", "v1.2.4-0.20191109021931-daa7c04131f5",
       "v1.2.4-pre.0.20191109021931-daa7c04131f5", "v2.0.0+incompatible",
       "v2.3.4+incompatible", "v1.2.3-rc.1+meta", "1.2.3", "v01.2.3", "vx.y.z"]
write("go", go)

releases = ["1", "1.0", "1.0.0", "1.1", "1.0.1", "2", "0.9", "1.10", "1.01", "2013.10"]
pyp = ["", "a1", "a2", "b1", "rc1", "c1", "alpha1", "beta2", "pre1", "preview3", "a", "-rc.2", "_b1"]
post = ["", ".post1", "-1", "post2", ".rev1", ".r3", ".post", "-post_4"]
dev = ["", ".dev0", ".dev1", "dev", "-dev3"]
local = ["", "+abc", "+abc.1", "+1", "+1.abc", "+ubuntu-1", "+ABC", "+abc.01"]
epochs = ["", "1!"]
pypi = [e + r + p + q + d + l for e, r, p, q, d, l in itertools.product(epochs, releases, pyp, post, dev, local)]
pypi = every(13, pypi)
pypi += ["v1.0", " 1.0 ", "1.0.0.0.0", "0!1.0", "1.0.DEV1", "1.0A1", "not-a-version", "1.0+", "1.0.post1.dev2+x"]
write("pypi", pypi)

bases = ["1", "1.0", "1.0.0", "1.1", "1.0.1", "2.17.1", "2.0", "1.2.3.4", "0.9", "10", "1.10", "3.0.0.0"]
quals = ["", "-SNAPSHOT", "-alpha-1", "-alpha1", "-a1", "-beta-2", "-b2", "-M1", "-milestone-1",
         "-RC1", "-rc-2", "-CR1", "-cr2", "-GA", "-final", "-FINAL", "-release", "-sp", "-sp1",
         "-SP2", "-jre", "-android", "-20190101.120000-1", "-1", "-2", ".Final", ".RELEASE", ".GA",
         "-incubating", ".M1", ".RC1", "-beta.1", "-alpha-1-SNAPSHOT", "-RC1-SNAPSHOT", "-foo",
         "-foo-bar", "-1-SNAPSHOT", "-0"]
maven = [b + q for b, q in itertools.product(bases, quals)]
maven += ["1.0-alpha", "1.0-beta", "1.0-m1", "1.0-rc", "1.0.0-sp-1", "2.0.0.v20200101",
          "4.13.2", "5.9.3", "31.1-jre", "33.0.0-android", "1.7.36", "2.0.0-alpha7",
          "1.0.0-beta.1", "1.0.0-beta.2", "1.0.0-beta.10", "0.0.1", "1.0-20200101", "1.0-1-1"]
write("maven", maven)
