//! A synthetic history for the state-at-scale benchmarks (issue 12): a dev NetMind ledger with a
//! fleet that sends a heartbeat every slot, transfers in every block, 16 inference jobs posted,
//! used every 8 slots and settled each epoch, one owner in a hundred claiming after each close,
//! and an epoch close every
//! `SLOTS` blocks, committed block by block through the node's own path (`Ledger::commit`, a
//! snapshot at every close and every million transactions as the node writes them, and — unless MODE is `archive` —
//! pruned after each close as a default node prunes, keeping 2 epochs). Then it measures what
//! the targets name: storage per machine per epoch (the aggregates kept forever, and the
//! window of blocks), the restart from the newest snapshot (and, on an archive store, the full
//! replay from genesis), the root update per block, and `explain` of one account.
//!
//! Transactions carry a zero signature: `Ledger::commit` executes blocks as a replica does (the
//! node verifies signatures at admission, before a transaction reaches a block), so the
//! measured path is the same and the generator does not spend its time signing. The audit
//! (`gridmint replay`), which re-verifies every signature, refuses such a data dir.
//!
//! Usage: cargo run --release -p gridmint-node --example history -- [MACHINES EPOCHS SLOTS DIR MODE TAIL]
//! (defaults 10000 30 24, a temporary directory (`-`), `pruned`, 0): TAIL more blocks of the next
//! epoch after the last close, which a restart then replays. Each epoch lasts SLOTS seconds, one block a
//! second; owners hold 4 machines each; 90% of the fleet is online in each slot.

use gridmint_core::{Address, Tx, TxBody};
use gridmint_node::ledger::{Ledger, Proposal};
use gridmint_node::signing::SignedTx;
use std::time::Instant;

fn unsigned(signer: Address, nonce: u64, body: TxBody) -> SignedTx {
    SignedTx { tx: Tx { signer, nonce, body }, signature: [0; 64] }
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let meta = e.metadata().ok();
                    if meta.as_ref().is_some_and(std::fs::Metadata::is_dir) {
                        dir_size(&e.path())
                    } else {
                        meta.map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[allow(clippy::disallowed_methods)] // wall time is what a benchmark reports
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let machines = arg(0, 10_000);
    let epochs = arg(1, 30);
    let slots = arg(2, 24);
    let temporary = tempfile::tempdir().expect("a temporary directory");
    let data =
        args.get(3).filter(|d| *d != "-").map_or_else(|| temporary.path().join("data"), std::path::PathBuf::from);
    let archive = args.get(4).is_some_and(|m| m == "archive");
    let tail = arg(5, 0);
    let policy = gridmint_node::node::dev_epochs(&gridmint_core::Policy::preset("netmind").unwrap(), slots)
        .expect("a dev policy");
    let (mut ledger, key) = gridmint_node::node::create_dev(&data, policy).expect("a new data dir");
    let dev = gridmint_node::signing::address_of(&gridmint_node::signing::load_key(&key).unwrap());
    let chain = ledger.genesis.chain_id.clone();
    let owners = machines.div_ceil(4);
    let owner = |i: u64| Address::from_index("history-owner", i);
    let machine = |i: u64| Address::from_index("history-machine", i);
    let mut time = ledger.state.time;
    let mut dev_nonce = 0;
    let mut commit_times = Vec::new();
    let started = Instant::now();
    // as a default node: a snapshot at every close, and one between closes every million transactions
    let defaults = gridmint_node::node::Config::default();
    let mut schedule = gridmint_node::snapshots::Schedule::new(defaults.snapshot_every, defaults.snapshot_txs, 0);
    let mut failed = 0usize;
    let mut prune_target = 0u64;
    let mut prune_steps: Vec<f64> = Vec::new();
    let mut commit = |ledger: &mut Ledger, time: u64, txs: Vec<SignedTx>, timed: bool| {
        let at = Instant::now();
        let count = txs.len() as u64;
        let (block, records) = ledger.commit(Proposal { time, txs }).expect("the block commits");
        failed += block.receipts.iter().filter(|r| r.code != 0).count();
        if timed {
            commit_times.push(at.elapsed().as_secs_f64());
        }
        let closed = records.last().map(|r| r.summary.epoch);
        if let Some(due) = schedule.after_block(count, closed) {
            let bytes = gridmint_node::snapshots::encode(ledger, &block).unwrap();
            let dir = gridmint_node::snapshots::dir_of(&data);
            match due {
                gridmint_node::snapshots::Due::Close => {
                    gridmint_node::snapshots::write(&dir, block.height, &bytes, defaults.snapshots_kept).unwrap()
                }
                gridmint_node::snapshots::Due::Interim => {
                    gridmint_node::snapshots::write_interim(&dir, block.height, &bytes).unwrap()
                }
            };
            schedule.written();
        }
        // pruned as a node prunes: a step towards the target after each block
        if !archive {
            if let Some(epoch) = closed
                && let Some(new) = gridmint_node::snapshots::prune_target(&ledger.store, &chain, 2, epoch).unwrap()
            {
                prune_target = prune_target.max(new);
            }
            if prune_target > ledger.store.base_height() {
                let at = Instant::now();
                let step = gridmint_node::snapshots::prune_budget(count);
                ledger.store.prune_some(prune_target, &chain, step).unwrap();
                let took = at.elapsed().as_secs_f64();
                prune_steps.push(took);
            }
        }
    };
    // the fleet: owners funded, then each registers its machines
    let funding: Vec<SignedTx> = (0..owners)
        .map(|i| {
            dev_nonce += 1;
            unsigned(dev, dev_nonce - 1, TxBody::Transfer { to: owner(i), amount: 10 * gridmint_core::TOKEN })
        })
        .collect();
    commit(&mut ledger, time, funding, false);
    let registrations: Vec<SignedTx> = (0..machines)
        .map(|m| {
            let body = TxBody::RegisterMachine {
                machine: machine(m),
                gpu_class: (m % 5) as u8 + 1,
                bandwidth_mbps: [50, 70, 90, 150][(m % 4) as usize],
                bond: 0,
            };
            unsigned(owner(m / 4), m % 4, body)
        })
        .collect();
    commit(&mut ledger, time, registrations, false);
    let mut owner_nonce = vec![4u64; owners as usize];
    // customers posting a job each epoch
    const JOBS: u64 = 16;
    eprintln!(
        "{machines} machines registered ({:.1} s); {epochs} epochs of {slots} slots follow",
        started.elapsed().as_secs_f64()
    );
    // from the next epoch's start: one block per slot, 90% of the fleet beating, 100 transfers
    let epoch_seconds = ledger.state.policy.epoch.seconds;
    time = ledger.state.epoch_end_time(ledger.state.epoch);
    let first_epoch = ledger.state.epoch;
    for e in 0..epochs {
        for s in 0..slots {
            let slot = (time - ledger.genesis.genesis_time) / ledger.state.policy.epoch.slot_seconds;
            let mut txs: Vec<SignedTx> = (0..machines)
                .filter(|m| (m * 7 + s + e) % 10 != 0)
                .map(|m| unsigned(machine(m), 0, TxBody::Heartbeat { slot }))
                .collect();
            let mut owner_tx = |txs: &mut Vec<SignedTx>, from: u64, body: TxBody| {
                txs.push(unsigned(owner(from), owner_nonce[from as usize], body));
                owner_nonce[from as usize] += 1;
            };
            for t in 0..100u64.min(owners) {
                let from = (e * slots * 100 + s * 100 + t) % owners;
                let to = owner((from * 31 + 7) % owners);
                owner_tx(&mut txs, from, TxBody::Transfer { to, amount: 1_000 });
            }
            // jobs: customers (the first JOBS owners) post one an epoch, owners of machines
            // report usage on it every 8 slots, the customer settles it before the close
            for c in 0..JOBS.min(owners) {
                let job_id = e;
                if s == 1 {
                    let body = TxBody::SubmitJob {
                        job_id,
                        mode: gridmint_core::JobMode::Inference,
                        price_per_gpu_second: 10,
                        max_gpu_seconds: 10_000,
                    };
                    owner_tx(&mut txs, c, body);
                } else if s % 8 == 4 && s + 2 < slots {
                    let worker = (c * 97 + s) % machines;
                    let body = TxBody::ReportUsage {
                        customer: owner(c),
                        job_id,
                        machine: machine(worker),
                        gpu_seconds: 10,
                        ai_tokens: 100,
                    };
                    owner_tx(&mut txs, worker / 4, body);
                } else if s + 2 == slots {
                    owner_tx(&mut txs, c, TxBody::SettleJob { job_id });
                }
            }
            // claims: after each close, one owner in a hundred claims its rewards
            if s == 0 && e > 0 {
                for i in 0..owners.div_ceil(100) {
                    owner_tx(&mut txs, (e * 37 + i * 100) % owners, TxBody::Claim);
                }
            }
            commit(&mut ledger, time, txs, true);
            time += 1;
        }
        if (e + 1) % 10 == 0 {
            eprintln!("epoch {} of {epochs} ({:.1} s)", e + 1, started.elapsed().as_secs_f64());
        }
    }
    // the last block closes the last epoch
    let close = time.max(ledger.state.epoch_end_time(ledger.state.epoch));
    commit(&mut ledger, close, vec![], false);
    // and the tail: blocks of the next epoch, heartbeats only
    time = close + 1;
    for s in 0..tail.min(slots - 2) {
        let slot = (time - ledger.genesis.genesis_time) / ledger.state.policy.epoch.slot_seconds;
        let txs = (0..machines)
            .filter(|m| (m * 7 + s) % 10 != 0)
            .map(|m| unsigned(machine(m), 0, TxBody::Heartbeat { slot }))
            .collect();
        commit(&mut ledger, time, txs, false);
        time += 1;
    }
    let generate = started.elapsed().as_secs_f64();
    assert_eq!(failed, 0, "every transaction of the history applies");
    let height = ledger.state.height;
    let last_epoch = ledger.state.epoch - 1;
    // the registrations' epoch is closed too: every closed epoch has records
    let closed_epochs = epochs + 1;
    use gridmint_node::store::Table;
    let tables: Vec<(Table, u64)> =
        Table::ALL.iter().map(|t| (*t, ledger.store.table_bytes(*t).expect("table stats"))).collect();
    let window = [Table::Blocks, Table::Txs];
    let log_bytes = ledger.store.log_bytes().expect("the block log's size");
    let kept_blocks = height - ledger.store.base_height();
    drop(ledger);

    let mut sorted = commit_times.clone();
    sorted.sort_by(f64::total_cmp);
    let p = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q) as usize] * 1e3;
    let store_bytes = std::fs::metadata(data.join(gridmint_node::store::DB_FILE)).map_or(0, |m| m.len());
    let snapshot_bytes = dir_size(&gridmint_node::snapshots::dir_of(&data));
    let machine_epochs = (machines * closed_epochs).max(1) as f64;

    let at = Instant::now();
    let (ledger, opened) = Ledger::open_from_snapshot(&data, |_, _| {}).expect("restart");
    let restart = at.elapsed().as_secs_f64();
    let from = opened.snapshot.unwrap_or(0);
    drop(ledger);
    let at = Instant::now();
    let (ledger, replay) = if archive {
        let ledger = Ledger::open(&data, false, |_, _| {}).expect("full replay");
        (ledger, Some(at.elapsed().as_secs_f64()))
    } else {
        (Ledger::open_from_snapshot(&data, |_, _| {}).expect("restart").0, None)
    };

    // explain of one owner (4 machines), as the API reads it
    let target = owner(owners / 2);
    let at = Instant::now();
    let rounds = 1000;
    let mut found = 0;
    for _ in 0..rounds {
        let bytes = ledger.store.owner_explain(last_epoch, &target).unwrap().unwrap_or_default();
        found = gridmint_node::block::decode_owner_explain(target, &bytes, |id| ledger.state.machine_address(id))
            .unwrap()
            .len();
        let _ = ledger.store.leaf_total(last_epoch, &target).unwrap();
    }
    let explain = at.elapsed().as_secs_f64() / f64::from(rounds) * 1e3;
    let explain_values: usize =
        ledger.store.epoch_owner_explains(last_epoch).unwrap().iter().map(|(_, v)| v.len() + 40 + 16).sum();

    println!(
        "== history: {machines} machines ({owners} owners), {epochs} epochs of {slots} one-second slots (epoch = {epoch_seconds} s), {height} blocks, chain {chain}"
    );
    println!("generated in {generate:.1} s (epochs {first_epoch}..{last_epoch})");
    println!(
        "commit per block (execute incl. state root, seal, fsync): p50 {:.2} ms, p99 {:.2} ms, {:.0} heartbeats + 100 transfers each",
        p(0.5),
        p(0.99),
        machines as f64 * 0.9
    );
    let mode = if archive { "archive: every block kept" } else { "pruned: 2 epochs of blocks kept" };
    println!(
        "store file ({mode}; {kept_blocks} of {height} blocks stored): {:.1} MB = {:.0} bytes per machine per epoch; snapshots (3 kept): {:.1} MB",
        store_bytes as f64 / 1e6,
        store_bytes as f64 / machine_epochs,
        snapshot_bytes as f64 / 1e6
    );
    let aggregates: u64 = tables.iter().filter(|(t, _)| !window.contains(t)).map(|(_, b)| b).sum();
    let in_window: u64 = tables.iter().filter(|(t, _)| window.contains(t)).map(|(_, b)| b).sum::<u64>() + log_bytes;
    println!(
        "kept forever (aggregates): {:.1} bytes per machine per epoch; blocks and their index: {:.1} MB ({:.0} bytes per machine per stored epoch)",
        aggregates as f64 / machine_epochs,
        in_window as f64 / 1e6,
        in_window as f64 / (machines as f64 * (kept_blocks as f64 / slots as f64)).max(1.0)
    );
    for (table, bytes) in &tables {
        println!(
            "  {:<15} {:>14} bytes  {:>9.2} per machine per epoch",
            table.name(),
            bytes,
            *bytes as f64 / machine_epochs
        );
    }
    println!(
        "  {:<15} {:>14} bytes  {:>9.2} per machine per epoch (segment files beside the database)",
        "block log",
        log_bytes,
        log_bytes as f64 / machine_epochs
    );
    if !prune_steps.is_empty() {
        let total: f64 = prune_steps.iter().sum();
        let longest = prune_steps.iter().copied().fold(0.0, f64::max);
        println!(
            "pruning: {} steps after blocks (each at least {} transactions' blocks, or twice its block's), {total:.1} s in all, the longest {:.3} s",
            prune_steps.len(),
            gridmint_node::snapshots::PRUNE_TXS_PER_BLOCK,
            longest
        );
    }
    match replay {
        Some(replay) => println!(
            "restart from the snapshot of block {from}: {restart:.3} s ({} blocks replayed after it); full replay from genesis: {replay:.3} s",
            height - from
        ),
        None => println!(
            "restart from the snapshot of block {from}: {restart:.3} s ({} blocks replayed after it; no replay from genesis on a pruned store)",
            height - from
        ),
    }
    println!(
        "explain of one owner ({found} machines, epoch {last_epoch}): {explain:.3} ms (store read + leaves search)"
    );
    println!(
        "explain records of epoch {last_epoch}: {:.1} bytes per machine (keys, tags and values, before the B-tree's pages)",
        explain_values as f64 / machines as f64
    );
}
