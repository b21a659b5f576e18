#!/usr/bin/env bash
# The EVM tools of the bridge tests (issue 14), pinned in package.json + package-lock.json:
#   - solc-js (the Solidity compiler, no download at run time) and
#   - anvil (the Foundry dev chain; the linux-x64 binary inside its npm platform package).
# Installs them into node_modules/ (gitignored) with `npm ci` from the committed lockfile,
# recompiles contracts/*.sol and FAILS if the committed artifacts contracts/out/*.json differ
# (edit a contract, run this script, commit contracts/out with it), then checks that anvil runs.
# Needs node and npm (the project's machine kind ships node 20 and npm 11). When they are
# missing it installs Debian's nodejs and npm (node 18 on bookworm: npm then warns that the anvil
# package asks for node >= 20, which does not matter, anvil being a native binary; this fallback
# has not been exercised on a machine without node).
# scripts/test.sh runs it before `cargo test`; the bridge tests find anvil in node_modules/ or at
# $GRIDMINT_ANVIL.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "== node/npm missing: installing Debian's nodejs and npm"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "error: node and npm are needed (node >= 20): install them, then rerun $0" >&2
    exit 1
  fi
fi
echo "== evm tools: node $(node --version), npm $(npm --version)"
npm ci --no-audit --no-fund --loglevel=error

echo "== contracts: recompile, compare with the committed contracts/out"
node contracts/compile.js
if ! git diff --exit-code --stat -- contracts/out || [ -n "$(git status --porcelain -- contracts/out)" ]; then
  git status --short -- contracts/out >&2
  echo "error: contracts/out differs from contracts/*.sol compiled with the pinned solc:" >&2
  echo "       commit the regenerated contracts/out/*.json together with the sources" >&2
  exit 1
fi

anvil="node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
"$anvil" --version | head -n 1
