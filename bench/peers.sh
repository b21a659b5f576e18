#!/usr/bin/env bash
# gridmint against the Python peers (../shared/peers: a numpy loop, radCAD, cadCAD), measured in
# the same run on the same machine, reported as ratios. Results go to docs/PERFORMANCE.md by hand.
#
#   bash bench/peers.sh            # schedule 100 y, NetMind agents 100k x 10 y   (~3 min + setup)
#   bash bench/peers.sh big        # also 1,000,000 machines x 100 y (gridmint only: no peer fits)
#
# The peers are copied into target/peers and installed there once (bash setup.sh: PyPI, ~2 min).
# Every process runs under /usr/bin/time -v: wall clock and peak RSS of the whole process.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PEERS=$ROOT/target/peers
OUT=$ROOT/target/bench
mkdir -p "$OUT"
if [ ! -x "$PEERS/venv/bin/python" ]; then
  mkdir -p "$PEERS" && cp -r ../shared/peers/. "$PEERS"/ && chmod -R u+w "$PEERS"
  (cd "$PEERS" && bash setup.sh)
fi
cargo build --release --locked -p gridmint >/dev/null
GM=$ROOT/target/release/gridmint
printf 'description = "schedule only"\n' > "$OUT/empty.toml"

measure() {  # measure NAME CMD... -> $OUT/NAME.out (stdout) and $OUT/NAME.time
  local name=$1; shift
  echo "== $name" >&2
  /usr/bin/time -v -o "$OUT/$name.time" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"
}

measure gm_schedule "$GM" simulate --policy netmind --scenario "$OUT/empty.toml" --years 100 --no-charts --out "$OUT/gm_schedule"
for fw in plain radcad cadcad; do
  engine=$([ "$fw" = plain ] || echo "--engine tuned")
  measure "peer_schedule_$fw" "$PEERS/venv/bin/python" "$PEERS/run_peer.py" --framework $fw $engine --model netmind --years 100
done
measure gm_agents "$GM" simulate --policy netmind --scenario scenarios/peers-netmind.toml --machines 100000 --years 10 --no-charts --out "$OUT/gm_agents"
for fw in plain radcad; do
  engine=$([ "$fw" = plain ] || echo "--engine tuned")
  measure "peer_agents_$fw" "$PEERS/venv/bin/python" "$PEERS/run_peer.py" --framework $fw $engine --model netmind --mode agents --n 100000 --years 10
done
if [ "${1:-}" = big ]; then
  measure gm_big "$GM" simulate --policy netmind --scenario scenarios/peers-netmind.toml --machines 1000000 --years 100 --no-charts --out "$OUT/gm_big"
fi

python3 - "$OUT" <<'PY'
import json, pathlib, re, sys
out = pathlib.Path(sys.argv[1])
def wall(name):
    text = (out / f"{name}.time").read_text()
    m = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", text)
    h, mi, s = m.groups()
    return (int(h or 0) * 3600 + int(mi) * 60 + float(s))
def rss_mb(name):
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", (out / f"{name}.time").read_text()).group(1)) / 1024
def peer(name):
    return json.loads((out / f"{name}.out").read_text().strip().splitlines()[-1])
def gm(name):
    return json.loads((out / name / "summary.json").read_text())
rows = []
def row(case, name, sim_s=None):
    rows.append((case, name, wall(name), sim_s, rss_mb(name)))
row("schedule 100 y", "gm_schedule")
for fw in ["plain", "radcad", "cadcad"]:
    row("schedule 100 y", f"peer_schedule_{fw}", peer(f"peer_schedule_{fw}")["t_sim_s"])
row("NetMind agents 100k x 10 y", "gm_agents")
for fw in ["plain", "radcad"]:
    row("NetMind agents 100k x 10 y", f"peer_agents_{fw}", peer(f"peer_agents_{fw}")["t_sim_s"])
if (out / "gm_big.time").exists():
    row("NetMind agents 1M x 100 y", "gm_big")
print("| case | run | wall s | simulate s | peak MB | peer wall / gridmint wall |")
print("|---|---|---|---|---|---|")
base = {}
for case, name, w, sim, mb in rows:
    if name.startswith("gm_"):
        base[case] = w
    ratio = "" if name.startswith("gm_") else f"{w / base[case]:.1f}x"
    print(f"| {case} | {name} | {w:.2f} | {'' if sim is None else f'{sim:.2f}'} | {mb:.0f} | {ratio} |")
# totals agree with the peer within 1e-6 relative
g, p = gm("gm_agents"), peer("peer_agents_plain")
paid = int(g["paid"]["connection_reward"]) / 1e18
released = sum(int(v) for v in g["released"].values()) / 1e18
for label, ours, theirs in [("connection reward paid", paid, p["connection_paid"]), ("total released", released, p["final_total_unlocked"])]:
    rel = abs(ours - theirs) / theirs
    print(f"{label}: gridmint {ours:.6f}, numpy {theirs:.6f}, relative difference {rel:.2e} {'OK' if rel <= 1e-6 else 'OVER 1e-6'}")
PY
