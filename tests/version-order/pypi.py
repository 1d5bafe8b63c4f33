#!/usr/bin/env python3
"""Sorts PyPI versions with `packaging` (what pip and uv follow): reads
candidates, prints `<TAB>version` or `=TAB>version` per line, in order."""
import functools
import sys

from packaging.version import InvalidVersion, Version

vs = []
for line in open(sys.argv[1]):
    v = line.rstrip("\n")
    try:
        vs.append((Version(v), v))
    except InvalidVersion:
        pass
vs.sort(key=lambda p: p[0])
prev = None
for parsed, text in vs:
    print(("=" if prev is not None and prev == parsed else "<") + "\t" + text)
    prev = parsed
