# Shared by the benchmark scripts: installs the peer registry and the load
# generator from Debian if missing, and builds cairn's release binary.
ensure_bench_tools() {
  if ! command -v docker-registry >/dev/null || ! command -v wrk >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-registry wrk >/dev/null
  fi
  cargo build --release -p cairn --locked
}
