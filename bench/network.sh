#!/usr/bin/env bash
# Measures a replicated network against a single node on this machine, in one run, as a ratio:
# signed transfers committed end to end through the batch API (`loadgen spread`: the senders split
# over every node, binary batches of 1,000), first on `gridmint node --dev`, then on a local
# network of 4 validators (`gridmint testnet`, one process each, Malachite over loopback TCP).
# For each: committed transfers a second, p50/p99 time from a transfer's request to its block
# committed on the node it was sent to, blocks a second, transaction bytes per block, and each
# node process's CPU seconds (utime + stime from /proc) over the load. The network runs twice,
# each time fresh: at full speed (the throughput) and at an offered RATE (the latency at a
# steady load). Every process shares the machine's cores with the client.
# Usage: bash bench/network.sh [SENDERS PER_SENDER RATE]   (defaults 400 100 10000)
# GRIDMINT_BLOCK_TIME_MS sets the network's least time per height (`testnet --block-time-ms`).
set -euo pipefail
cd "$(dirname "$0")/.."
senders=${1:-400}
per_sender=${2:-100}
rate=${3:-10000}
block_ms=${GRIDMINT_BLOCK_TIME_MS:-500}  # the testnet default
# two builds: in one invocation the example's dev-dependencies unify features across the graph
cargo build --release --locked -p gridmint >&2
cargo build --release --locked -p gridmint-node --example loadgen >&2
target=${CARGO_TARGET_DIR:-target}
bin=${GRIDMINT_BIN:-$target/release/gridmint}
loadgen=$target/release/examples/loadgen
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
wait_for() { for _ in $(seq 200); do curl -sf "$1/v1/status" >/dev/null && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
hz=$(getconf CLK_TCK)
# CPU ticks (user + system) of a process
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# runs loadgen spread against URLS (comma-separated) at RATE, printing each node's CPU seconds
measure() {
  local urls=$1 key=$2 r=$3 before=() i
  for i in "${!pids[@]}"; do before[i]=$(ticks "${pids[i]}"); done
  local t0=$(date +%s.%N)
  "$loadgen" "$urls" "$key" spread "$senders" "$per_sender" "$r" 2>/dev/null
  local t1=$(date +%s.%N)
  local cpu=""
  for i in "${!pids[@]}"; do
    cpu+=" node$i $(awk "BEGIN { printf \"%.1f\", ($(ticks "${pids[i]}") - ${before[i]}) / $hz }")"
  done
  echo "cpu seconds over the load (funding included; wall $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s, $(nproc) cores):$cpu"
}
echo "== gridmint network bench ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)): $senders senders x $per_sender transfers"

single=http://127.0.0.1:18745
"$bin" node --dev --data "$work/single" --listen 127.0.0.1:18745 --rate-limit 0 --quiet >"$work/single.log" 2>&1 &
pids+=($!)
wait_for $single
echo "-- single node (--dev, a block a second), full speed:"
measure $single "$work/single/dev-key.json" 0 >"$work/single.out"
cat "$work/single.out"
kill "${pids[@]}"; wait 2>/dev/null || true; pids=()

network() {
  local r=$1 net i urls=""
  rm -rf "$work/net"
  "$bin" testnet --validators 4 --out "$work/net" --base-port 18800 --block-time-ms "$block_ms" >/dev/null
  for i in 0 1 2 3; do
    "$bin" node --quiet --rate-limit 0 --config "$work/net/node$i/config.toml" >"$work/node$i.log" 2>&1 &
    pids+=($!)
  done
  for i in 0 1 2 3; do
    wait_for "http://127.0.0.1:$((18800 + 2 * i))"
    urls+="${urls:+,}http://127.0.0.1:$((18800 + 2 * i))"
  done
  measure "$urls" "$work/net/dev-key.json" "$r"
  echo "heights: $(for i in 0 1 2 3; do curl -s http://127.0.0.1:$((18800 + 2 * i))/v1/status | grep -oE '"height":[0-9]+' | head -1; done | tr '\n' ' ')"
  curl -s http://127.0.0.1:18800/metrics | grep -E "^gridmint_consensus_(rounds|heights)_total|time_to_finality_seconds_(sum|count)" | tr '\n' ' '
  echo
  kill "${pids[@]}"; wait 2>/dev/null || true; pids=()
}
echo "-- 4 validators (Malachite on loopback, a height at least $block_ms ms), full speed:"
network 0 >"$work/net.out"
cat "$work/net.out"
echo "-- 4 validators, $rate transfers/s offered:"
network "$rate"
rate_of() { grep -oE 'committed [0-9]+/s' <<<"$1" | grep -oE '[0-9]+' | tail -1; }
s=$(rate_of "$(cat "$work/single.out")"); n=$(rate_of "$(cat "$work/net.out")")
if [ -n "$s" ] && [ -n "$n" ]; then
  echo "ratio at full speed: 4 validators / single node = $(awk "BEGIN { printf \"%.2f\", $n / $s }")"
fi
