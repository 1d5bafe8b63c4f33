# Shared by the benchmark scripts: installs the peer registry and the load
# generator from Debian if missing, and builds cairn's release binary --
# unless BENCH_CAIRN names a binary to measure already (the test suite's smoke
# runs pass its debug build, with BENCH_SMOKE=1 for tiny sizes).
ensure_bench_tools() {
  if ! command -v docker-registry >/dev/null || ! command -v wrk >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-registry wrk >/dev/null
  fi
  if [ -z "${BENCH_CAIRN:-}" ]; then
    cargo build --release -p cairn --locked
    BENCH_CAIRN="$PWD/target/release/cairn"
  fi
  export BENCH_CAIRN
}
