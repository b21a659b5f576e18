#!/usr/bin/env bash
# Measures `gridmint node` end to end on this machine, client and node sharing its cores:
#   1. signed transfers committed through the batch API (target >= 20,000/s)
#   2. signed heartbeats ingested through /v1/heartbeats (target >= 50,000/s), first contact
#      and steady state
#   3. reads on loopback with wrk, p99 latency reported (target >= 20,000 requests/s)
# The node runs with its defaults (a block a second) and no rate limit.
# Usage: bash bench/node.sh [SENDERS PER_SENDER MACHINES]   (defaults 1000 100 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
senders=${1:-1000}
per_sender=${2:-100}
machines=${3:-100000}
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)" >&2
  (sudo -n apt-get install -y wrk || apt-get install -y wrk) >/dev/null 2>&1 || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
fi
# two builds: in one invocation the example's dev-dependencies unify features across the graph
# and cargo may leave a stale target/release/gridmint in place
cargo build --release --locked -p gridmint >&2
cargo build --release --locked -p gridmint-node --example loadgen >&2
# GRIDMINT_BIN=path measures another build of the node (e.g. the previous release, for a ratio
# measured in the same hour) with this build's load generator
bin=${GRIDMINT_BIN:-target/release/gridmint}
loadgen=target/release/examples/loadgen
data=$(mktemp -d)
port=18645
url=http://127.0.0.1:$port
# --epoch-seconds 3000 makes 12-second heartbeat slots, so that a second round of heartbeats
# (steady state: every machine's key already seen) can follow the first within the run
"$bin" node --dev --data "$data/d" --listen 127.0.0.1:$port --rate-limit 0 --quiet --epoch-seconds 3000 \
  >"$data/node.log" 2>&1 &
node_pid=$!
trap 'kill $node_pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf $url/v1/status >/dev/null && break; sleep 0.1; done
echo "== gridmint node bench ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
"$loadgen" $url "$data/d/dev-key.json" transfers "$senders" "$per_sender" 2>/dev/null
echo "-- heartbeats, first contact (registers the machines first):"
"$loadgen" $url "$data/d/dev-key.json" heartbeats "$machines" 2>/dev/null
sleep 13
echo "-- heartbeats, steady state (the next slot):"
"$loadgen" $url "$data/d/dev-key.json" beats "$machines" 2>/dev/null
dev=$("$bin" keys show "$data/d/dev-key.json")
for path in /v1/status /v1/accounts/$dev; do
  echo "-- reads: GET $path (wrk, 2 threads, 64 connections, 10 s)"
  wrk -t2 -c64 -d10s --latency "$url$path" | grep -E "Requests/sec|99%|Non-2xx" || true
done
echo "-- node: $(grep -c . "$data/node.log") log lines; final status: $(curl -s $url/v1/status)"
