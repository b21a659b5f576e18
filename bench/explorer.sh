#!/usr/bin/env bash
# Measures the explorer (issue 15's goal: a page renders in under 100 ms at the node with 100k
# accounts and 100k machines, and page loads never slow block production):
#   1. builds a dev NetMind node with 100,000 accounts owning 100,000 machines, half of them
#      online for 20 slots, one owner of 10,000 more machines (online alike), one full block
#      (100,000 transfers) and 62 closed epochs (their summaries, leaves and explain records
#      stored);
#   2. requests each page 100 times, one at a time over loopback: p50 / p99 / max of the whole
#      request (among them the big owner's explain page, first and last page, one of its
#      machines, the full block's first and last page, and /tx of its last transaction);
#   3. counts the blocks a second the node produces (a block every 100 ms at most) for 10 s
#      without page loads, then for 10 s with 50 page loads a second.
# The measurement is an ignored test (crates/node/tests/explorer_bench.rs); it never fails on a
# timing. Usage: bash bench/explorer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== gridmint explorer bench ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
cargo test --locked -p gridmint-node --test explorer_bench -- --ignored --nocapture 2>&1 |
  grep -E "^(state|page|  /|blocks)"
