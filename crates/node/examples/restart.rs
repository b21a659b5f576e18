//! Times a restart of an existing data dir as a node restarts (`Ledger::open_from_snapshot`:
//! the store's open-time check, the newest usable snapshot, the blocks after it), for the
//! state-at-scale figures (issue 12) on a dir that `examples/history` left.
//!
//! Usage: cargo run --release -p gridmint-node --example restart -- DIR [RUNS] [PRUNE_TO]
//! (RUNS 3): with PRUNE_TO, the dir is first pruned up to that height (a snapshot at or after
//! it must be there), to time the restart of a shorter window on the same history.

use gridmint_node::ledger::Ledger;
use std::path::PathBuf;
use std::time::Instant;

#[allow(clippy::disallowed_methods)] // wall time is what a benchmark reports
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: restart DIR [RUNS] [PRUNE_TO]");
        std::process::exit(2);
    };
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(3);
    if let Some(target) = args.get(2).and_then(|t| t.parse::<u64>().ok()) {
        let (ledger, _) = Ledger::open_from_snapshot(&dir, |_, _| {}).expect("the data dir opens");
        let at = Instant::now();
        let removed = ledger.store.prune_to(target, &ledger.genesis.chain_id).expect("pruned");
        println!("pruned {removed} blocks up to {target} in {:.1} s", at.elapsed().as_secs_f64());
    }
    for run in 1..=runs {
        let at = Instant::now();
        let (ledger, opened) = Ledger::open_from_snapshot(&dir, |_, _| {}).expect("the data dir opens");
        let took = at.elapsed().as_secs_f64();
        let from = opened.snapshot.unwrap_or(0);
        println!(
            "restart {run}: {took:.3} s (snapshot of block {from}, {} blocks replayed; blocks {}..={} stored; \
             txs index {:.2} GB, block log {:.2} GB)",
            ledger.state.height - from,
            ledger.store.base_height() + 1,
            ledger.state.height,
            ledger.store.table_bytes(gridmint_node::store::Table::Txs).unwrap_or(0) as f64 / 1e9,
            ledger.store.log_bytes().unwrap_or(0) as f64 / 1e9
        );
    }
}
