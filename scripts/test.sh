#!/usr/bin/env bash
# The test command (the README's second command; CI runs exactly this after fmt and clippy):
#   1. every test of the workspace (unit, property, golden vectors, real node processes on
#      loopback, the fuzz targets' seeded smoke runs);
#   2. the API fuzzer: Schemathesis against a live `gridmint node --dev` and its generated
#      OpenAPI document (scripts/api-fuzz.sh installs it into a virtualenv under target/).
# Needs the Rust toolchain of rust-toolchain.toml and python3 with venv; everything else it
# installs itself. GRIDMINT_SEEDS=5 shortens the random sequences for a quick local run.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo test --locked --workspace"
cargo test --locked --workspace
echo "== API fuzzing (Schemathesis against a live node)"
# CI replays one seed (a red run must mean a regression, not a new random find); run
# `bash scripts/api-fuzz.sh` alone for a fresh random seed, or set API_FUZZ_SEED
API_FUZZ_SEED=${API_FUZZ_SEED:-1864682425} bash scripts/api-fuzz.sh
