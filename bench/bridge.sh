#!/usr/bin/env bash
# Measures the bridge end to end on this machine: N transfers out of gridmint (records committed,
# signed by a 2-of-3 committee on gridmint, minted on the EVM chain) and N back (deposits on the
# EVM chain, attested 2 blocks deep, paid on gridmint), with real processes on loopback: anvil,
# `gridmint node --dev`, three `gridmint bridge relay`. Prints transfers a minute each way and
# the time to each stage. Gas per mint and per burn: docs/PERFORMANCE.md (crates/bridge tests).
# The test profile (dependencies optimised, as the test run builds them): the time goes to passes,
# blocks and JSON-RPC round trips, not to CPU.
# Usage: bash bench/bridge.sh [N]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/evm-tools.sh >&2
GRIDMINT_BRIDGE_N=${1:-200} cargo test --locked -p gridmint --test bridge -- --ignored --nocapture bench_bridged_transfers_per_minute 2>&1 \
  | grep -E '^(bridge bench|  out|  back)'
