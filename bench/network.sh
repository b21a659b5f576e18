#!/usr/bin/env bash
# Measures a replicated network against a single node on this machine, in one run, as a ratio:
# signed transfers committed end to end through the batch API (loadgen), first on
# `gridmint node --dev`, then on a local network of 4 validators (`gridmint testnet`, one process
# each, Malachite over loopback TCP) with the load sent to one of them and forwarded to the rest.
# Every process shares this machine's cores, client included.
# Usage: bash bench/network.sh [SENDERS PER_SENDER]   (defaults 200 100)
set -euo pipefail
cd "$(dirname "$0")/.."
senders=${1:-200}
per_sender=${2:-100}
cargo build --release --locked -p gridmint >&2
cargo build --release --locked -p gridmint-node --example loadgen >&2
bin=target/release/gridmint
loadgen=target/release/examples/loadgen
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
wait_for() { for _ in $(seq 200); do curl -sf "$1/v1/status" >/dev/null && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
echo "== gridmint network bench ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)): $senders senders x $per_sender transfers"

single=http://127.0.0.1:18745
"$bin" node --dev --data "$work/single" --listen 127.0.0.1:18745 --rate-limit 0 --quiet >"$work/single.log" 2>&1 &
pids+=($!)
wait_for $single
echo "-- single node (--dev, a block a second):"
single_out=$("$loadgen" $single "$work/single/dev-key.json" transfers "$senders" "$per_sender" 2>/dev/null)
echo "$single_out"
kill "${pids[@]}"; wait 2>/dev/null || true; pids=()

"$bin" testnet --validators 4 --out "$work/net" --base-port 18800 >/dev/null
for i in 0 1 2 3; do
  "$bin" node --quiet --rate-limit 0 --config "$work/net/node$i/config.toml" >"$work/node$i.log" 2>&1 &
  pids+=($!)
done
net=http://127.0.0.1:18800
for i in 0 1 2 3; do wait_for "http://127.0.0.1:$((18800 + 2 * i))"; done
echo "-- 4 validators (Malachite on loopback, a height at least a second):"
net_out=$("$loadgen" $net "$work/net/dev-key.json" transfers "$senders" "$per_sender" 2>/dev/null)
echo "$net_out"
rate() { grep -oE 'committed end to end [0-9]+/s' <<<"$1" | grep -oE '[0-9]+' | tail -1; }
s=$(rate "$single_out"); n=$(rate "$net_out")
if [ -n "$s" ] && [ -n "$n" ]; then
  echo "ratio: 4 validators / single node = $(awk "BEGIN { printf \"%.2f\", $n / $s }")"
fi
echo "-- heights: $(for i in 0 1 2 3; do curl -s http://127.0.0.1:$((18800 + 2 * i))/v1/status | grep -oE '"height":[0-9]+'; done | tr '\n' ' ')"
curl -s $net/metrics | grep -E "^gridmint_consensus_(rounds|heights)_total|time_to_finality_seconds_(sum|count)"
