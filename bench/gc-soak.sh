#!/usr/bin/env bash
# The garbage-collection soak (tests/e2e/gc.py) as a benchmark: the same
# clients (pushes sharing layers, tag moves, deletes, mounts, npm
# publishes, pulls) for BENCH_SECONDS (default 3600) with the collector
# every second, then with the collector off; prints the push and pull rates
# of both and their ratios. Not a test: compare ratios within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_bench_tools
SECONDS_EACH=${BENCH_SECONDS:-3600}
if [ "${BENCH_SMOKE:-0}" = 1 ]; then SECONDS_EACH=5; fi
OUT=$(mktemp -d "${BENCH_DIR:-/var/tmp}/cairn-bench-gc-soak.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
run() { # label, extra env
  SOAK_SECONDS=$SECONDS_EACH env "${@:2}" python3 tests/e2e/gc.py "$BENCH_CAIRN" "$OUT/$1" "$1" \
    | sed -n "s/^$1: soak of [0-9]* s: //p"
}
with=$(run with-gc SOAK_NO_GC=0)
without=$(run without-gc SOAK_NO_GC=1)
python3 - "$SECONDS_EACH" "$with" "$without" <<'PY'
import json, sys
secs, a, b = float(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"# gc soak: {secs:.0f} s each")
print("| rate | collector every second | collector off | with / without |")
print("|---|---:|---:|---:|")
for key, name in (("pushed", "images pushed"), ("pulled", "images pulled back"), ("published", "npm versions published")):
    x, y = a[key] / secs, b[key] / secs
    print(f"| {name} per second | {x:.1f} | {y:.1f} | {x / y if y else float('nan'):.2f}x |")
print(f"| manifests refused with MANIFEST_BLOB_UNKNOWN and pushed again | {a['refused_then_reuploaded'] + a['retried']} | {b['refused_then_reuploaded'] + b['retried']} | |")
PY
