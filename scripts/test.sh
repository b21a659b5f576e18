#!/usr/bin/env bash
# The test command (the README's second command; CI runs exactly this after fmt and clippy):
#   1. the EVM tools of the bridge tests (scripts/evm-tools.sh: `npm ci` of the pinned solc and
#      anvil, then a recompile of contracts/ that fails if the committed contracts/out differs);
#   2. every test of the workspace (unit, property, golden vectors, real node processes on
#      loopback, the bridge contracts on a real anvil, the explorer in headless Chromium, the
#      fuzz targets' seeded smoke runs);
#   3. the API fuzzer: Schemathesis against a live `gridmint node --dev` and its generated
#      OpenAPI document (scripts/api-fuzz.sh installs it into a virtualenv under target/).
# Needs the Rust toolchain of rust-toolchain.toml, python3 with venv, and node >= 20 with npm
# (evm-tools.sh installs Debian's when missing); everything else it installs itself (Chromium
# from Debian's packages too, as root or through sudo).
# GRIDMINT_SEEDS=5 shortens the random sequences for a quick local run.
set -euo pipefail
cd "$(dirname "$0")/.."
# the browser tests (crates/cli/tests/browser*.rs, report_browser.rs) drive Debian's Chromium
# through its WebDriver (chromium-driver): installed here when missing; a machine where they cannot
# be installed fails those tests, never skips them
if { [ -z "${GRIDMINT_CHROMIUM:-}" ] && ! [ -x /usr/bin/chromium ]; } \
   || { [ -z "${GRIDMINT_CHROMEDRIVER:-}" ] && ! [ -x /usr/bin/chromedriver ]; }; then
  echo "== installing chromium and chromium-driver (Debian) for the browser tests"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver \
    || { $sudo apt-get update && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; } \
    || echo "warning: could not install chromium/chromium-driver: the browser tests will fail (set GRIDMINT_CHROMIUM and GRIDMINT_CHROMEDRIVER)" >&2
fi
bash scripts/evm-tools.sh
export GRIDMINT_ANVIL="$PWD/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
# the bridge tests write each anvil's pid here; an anvil whose test process died before its
# Drop ran is killed on exit (by the pids recorded, never by name)
GRIDMINT_ANVIL_PIDDIR=$(mktemp -d)
export GRIDMINT_ANVIL_PIDDIR
kill_leftover_anvils() {
  for pid_file in "$GRIDMINT_ANVIL_PIDDIR"/*; do
    [ -e "$pid_file" ] && kill "$(basename "$pid_file")" 2>/dev/null || true
  done
  rm -rf "$GRIDMINT_ANVIL_PIDDIR"
}
trap kill_leftover_anvils EXIT
echo "== cargo test --locked --workspace"
cargo test --locked --workspace
echo "== API fuzzing (Schemathesis against a live node)"
# CI replays one seed (a red run must mean a regression, not a new random find); run
# `bash scripts/api-fuzz.sh` alone for a fresh random seed, or set API_FUZZ_SEED
API_FUZZ_SEED=${API_FUZZ_SEED:-1864682425} bash scripts/api-fuzz.sh
