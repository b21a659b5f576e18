//! Compact history and pruning (issue 12), through the node's own commit path: heartbeats become
//! bits in per-slot bitmaps, a pruned store drops the blocks (and their index entries) outside
//! its window and keeps the aggregates, restarts from a snapshot at or after its base, and
//! refuses, by name, what it can no longer do.

use gridmint_core::{Address, Policy, Tx, TxBody};
use gridmint_node::ledger::{Ledger, LedgerError, Proposal};
use gridmint_node::node::{create_dev, dev_epochs};
use gridmint_node::signing::{SignedTx, address_of, generate_key, load_key};
use gridmint_node::snapshots;
use gridmint_node::store::bit_is_set;
use std::collections::BTreeMap;
use std::path::Path;

const EPOCHS: u64 = 6;
const KEEP: u64 = 2;

/// What the history committed, to check the store against.
struct History {
    /// Each slot's machines (by id) whose heartbeat was committed.
    beats: BTreeMap<u64, Vec<u32>>,
    /// Transfer ids by the epoch they were committed in.
    transfers: BTreeMap<u64, Vec<[u8; 32]>>,
    /// Close height of each epoch.
    closes: BTreeMap<u64, u64>,
    /// The state root and tip after the last block.
    root: [u8; 32],
    tip: [u8; 32],
    owner: Address,
}

/// A dev NetMind ledger with 60-second epochs, three machines beating every fourth slot (the
/// third skips every other beat) and a transfer per block, committed block by block for
/// `EPOCHS` epochs, then `tail` blocks of a transfer each; a snapshot at every close (three
/// kept) and, with `interim` > 0, one between closes every `interim` transactions, as the node
/// writes them ([`snapshots::Schedule`]); unless `archive`, pruned after each close as the node
/// prunes (`KEEP` epochs kept).
fn history(data: &Path, archive: bool, interim: u64, tail: u64) -> History {
    let policy = dev_epochs(&Policy::preset("netmind").unwrap(), 60).unwrap();
    let (mut ledger, key_path) = create_dev(data, policy).unwrap();
    // small segments: the block log rolls over every few blocks, and pruning removes segments
    ledger.store.set_segment_bytes(8 << 10);
    let owner = load_key(&key_path).unwrap();
    let chain = ledger.genesis.chain_id.clone();
    let machines: Vec<_> = (0..3).map(|_| generate_key()).collect();
    let mut nonce = 0;
    let mut sign = |body: TxBody| {
        nonce += 1;
        SignedTx::sign(Tx { signer: address_of(&owner), nonce: nonce - 1, body }, &owner, &chain)
    };
    let registrations: Vec<SignedTx> = machines
        .iter()
        .map(|m| sign(TxBody::RegisterMachine { machine: address_of(m), gpu_class: 1, bandwidth_mbps: 1000, bond: 0 }))
        .collect();
    let mut time = ledger.state.time;
    ledger.commit(Proposal { time, txs: registrations }).unwrap();
    let mut out = History {
        beats: BTreeMap::new(),
        transfers: BTreeMap::new(),
        closes: BTreeMap::new(),
        root: [0; 32],
        tip: [0; 32],
        owner: address_of(&owner),
    };
    let slot_seconds = ledger.state.policy.epoch.slot_seconds;
    let mut beat = 0u64;
    let mut schedule = snapshots::Schedule::new(1, interim, 0);
    let mut tail_left = tail;
    while ledger.state.epoch <= EPOCHS || tail_left > 0 {
        if ledger.state.epoch > EPOCHS {
            tail_left -= 1;
        }
        time += 4;
        let epoch = ledger.state.epoch;
        let mut txs = vec![];
        // a heartbeat is for the slot that holds the block's time, in the open epoch
        if time < ledger.state.epoch_end_time(epoch) && epoch <= EPOCHS {
            let slot = (time - ledger.genesis.genesis_time) / slot_seconds;
            for (i, m) in machines.iter().enumerate() {
                if i == 2 && beat % 2 == 1 {
                    continue;
                }
                let id = ledger.state.machine_id(&address_of(m)).unwrap();
                out.beats.entry(slot).or_default().push(id);
                let tx = Tx { signer: address_of(m), nonce: 0, body: TxBody::Heartbeat { slot } };
                txs.push(SignedTx::sign(tx, m, &chain));
            }
            beat += 1;
        }
        let transfer = sign(TxBody::Transfer { to: Address([7; 32]), amount: 1 });
        out.transfers.entry(epoch).or_default().push(transfer.id());
        txs.push(transfer);
        let count = txs.len() as u64;
        let (block, records) = ledger.commit(Proposal { time, txs }).unwrap();
        assert!(block.receipts.iter().all(|r| r.code == 0), "every transaction applies");
        for record in &records {
            out.closes.insert(record.summary.epoch, block.height);
        }
        let closed = records.last().map(|r| r.summary.epoch);
        if let Some(due) = schedule.after_block(count, closed) {
            let bytes = snapshots::encode(&ledger, &block).unwrap();
            let dir = snapshots::dir_of(data);
            match due {
                snapshots::Due::Close => snapshots::write(&dir, block.height, &bytes, 3).unwrap(),
                snapshots::Due::Interim => snapshots::write_interim(&dir, block.height, &bytes).unwrap(),
            };
            schedule.written();
        }
        if let Some(closed) = closed
            && !archive
        {
            snapshots::prune_after_close(&ledger.store, &chain, KEEP, closed).unwrap();
        }
    }
    out.root = ledger.state.full_state_root();
    out.tip = ledger.tip_hash;
    out
}

fn snapshot_files(data: &Path) -> Vec<(u64, std::path::PathBuf)> {
    snapshots::list(&snapshots::dir_of(data))
}

fn flip_middle(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(path, bytes).unwrap();
}

/// Goal: a pruned store keeps exactly the blocks after its base (the newest snapshot at or
/// before the close of the oldest kept epoch), drops the index entries of the others, keeps
/// every epoch's aggregates (summaries, leaves, explain records, close heights) and every
/// heartbeat as a bit; it restarts from its snapshots to the same root — from the one at its
/// base when the newer are damaged — and refuses, by name, to start without one or to replay
/// from genesis. Method: the same kind of history pruned and archived, compared.
#[test]
fn a_pruned_store_keeps_its_window_and_every_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("pruned");
    let h = history(&data, false, 0, 0);
    let (ledger, opened) = Ledger::open_from_snapshot(&data, |_, _| {}).unwrap();
    assert!(opened.skipped.is_empty(), "{:?}", opened.skipped);
    assert_eq!(opened.snapshot, Some(h.closes[&EPOCHS]), "the newest snapshot starts it");
    assert_eq!((ledger.state.full_state_root(), ledger.tip_hash), (h.root, h.tip));
    let store = ledger.store.clone();
    let base = store.base_height();
    assert_eq!(base, h.closes[&(EPOCHS - KEEP)], "pruned to the close of epoch {}", EPOCHS - KEEP);
    let last = store.last_height().unwrap();
    for height in 1..=last {
        assert_eq!(store.block(height).unwrap().is_some(), height > base, "block {height} (base {base})");
    }
    let header = store.base().unwrap().expect("the base header");
    assert_eq!(header.height, base);
    // the block log kept the segment holding block base + 1 and those after it, no earlier one
    let segments: Vec<u64> = gridmint_node::blocklog::segments(&data.join(gridmint_node::blocklog::LOG_DIR))
        .unwrap()
        .into_iter()
        .map(|(first, _)| first)
        .collect();
    assert!(segments.len() >= 2 && segments[0] > 1, "rolled over, the first segments removed: {segments:?}");
    assert!(segments[0] <= base + 1 && segments[1] > base + 1, "base {base}, segments {segments:?}");
    // index entries go with their blocks; the kept epochs' stay
    for (epoch, ids) in &h.transfers {
        for id in ids {
            let location = store.tx(id).unwrap();
            match location {
                Some(l) => assert!(l.height > base, "epoch {epoch}: an entry of a pruned block"),
                None => assert!(*epoch <= EPOCHS - KEEP, "epoch {epoch}: a kept block's entry is missing"),
            }
        }
    }
    assert!(h.transfers[&EPOCHS].iter().all(|id| store.tx(id).unwrap().is_some()));
    // aggregates of every epoch, pruned or not
    for epoch in 1..=EPOCHS {
        assert!(store.epoch_summary(epoch).unwrap().is_some(), "summary of epoch {epoch}");
        assert!(store.epoch_leaves(epoch).unwrap().is_some(), "leaves of epoch {epoch}");
        assert!(store.epoch_explain(epoch).unwrap().is_some(), "explain of epoch {epoch}");
        assert!(store.owner_explain(epoch, &h.owner).unwrap().is_some(), "the owner's explain of epoch {epoch}");
        assert_eq!(store.epoch_close(epoch).unwrap(), Some(h.closes[&epoch]));
    }
    // every heartbeat is its bit, and no other bit is set
    assert!(h.beats.len() > 40, "{} slots beaten", h.beats.len());
    for (slot, ids) in &h.beats {
        let bitmap = store.heartbeat_bitmap(*slot).unwrap().expect("a bitmap for a beaten slot");
        for id in 0..8u32 {
            assert_eq!(bit_is_set(&bitmap, id), ids.contains(&id), "slot {slot}, machine {id}");
        }
    }
    let first_slot = h.beats.keys().next().unwrap();
    assert_eq!(store.heartbeat_bitmap(first_slot + 1).unwrap(), None, "a slot nobody beat has no bitmap");
    drop(ledger);
    drop(store);

    // the full replay from genesis is an archive node's
    match Ledger::open(&data, true, |_, _| {}) {
        Err(e @ LedgerError::Pruned { .. }) => {
            let text = e.to_string();
            assert!(text.contains("pruned") && text.contains("--archive"), "{text}");
        }
        other => panic!("a full replay of a pruned store: {:?}", other.map(|l| l.state.height)),
    }
    // the auditor's replay starts at the oldest snapshot at or after the base, and every table
    // checks out: the blocks after it re-executed, the earlier epochs' leaves against their roots
    let (ledger, start) = Ledger::open_for_audit(&data, |_, _| {}).unwrap();
    let from = start.as_ref().map(|(s, _)| s.height);
    assert_eq!(from, Some(base), "the oldest snapshot at or after the base");
    assert_eq!((ledger.state.full_state_root(), ledger.tip_hash), (h.root, h.tip));
    let audit = gridmint_node::audit::audit_from(&ledger.store, start, |_, _| {}).unwrap();
    assert!(audit.mismatches.is_empty(), "{:#?}", audit.mismatches);
    assert_eq!(audit.blocks, ledger.state.height - base);
    drop(ledger);

    // the two newest snapshots damaged: the one at the base starts it (its block is not
    // stored: it is checked against the base header), to the same root
    let files = snapshot_files(&data);
    assert_eq!(files.iter().map(|f| f.0).collect::<Vec<_>>(), vec![h.closes[&6], h.closes[&5], h.closes[&4]]);
    flip_middle(&files[0].1);
    flip_middle(&files[1].1);
    let (ledger, opened) = Ledger::open_from_snapshot(&data, |_, _| {}).unwrap();
    assert_eq!(opened.snapshot, Some(base));
    assert_eq!(opened.skipped.len(), 2);
    assert_eq!((ledger.state.full_state_root(), ledger.tip_hash), (h.root, h.tip));
    drop(ledger);

    // none left that can start it: refused, naming what to do
    flip_middle(&files[2].1);
    match Ledger::open_from_snapshot(&data, |_, _| {}) {
        Err(e @ LedgerError::Pruned { .. }) => {
            let text = e.to_string();
            assert!(text.contains("gridmint snapshot import") && text.contains(&format!("1..={base}")), "{text}");
        }
        other => panic!("a pruned store without snapshots: {:?}", other.map(|l| l.0.state.height)),
    }
}

/// Goal: an archive store keeps every block, and the audit from genesis checks the heartbeat
/// bitmaps and close heights against the blocks. Method: the same history, not pruned.
#[test]
fn an_archive_store_keeps_every_block_and_audits_its_bitmaps() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("archive");
    let h = history(&data, true, 0, 0);
    let ledger = Ledger::open(&data, false, |_, _| {}).unwrap();
    assert_eq!((ledger.state.full_state_root(), ledger.tip_hash), (h.root, h.tip));
    assert_eq!(ledger.store.base_height(), 0);
    assert!(ledger.store.block(1).unwrap().is_some());
    assert!(h.transfers[&1].iter().all(|id| ledger.store.tx(id).unwrap().is_some()));
    let audit = gridmint_node::audit::audit(&ledger.store, |_, _| {}).unwrap();
    assert!(audit.mismatches.is_empty(), "{:#?}", audit.mismatches);
    assert_eq!(audit.epochs, EPOCHS);
}

/// Goal: blocks are never pruned up to a snapshot that could not start the node: a damaged
/// candidate is passed over for an older one, and with none usable nothing is pruned. Method:
/// an archive history pruned by hand after its snapshots are damaged in turn.
#[test]
fn pruning_passes_over_a_damaged_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let h = history(&data, true, 0, 0);
    let ledger = Ledger::open_from_snapshot(&data, |_, _| {}).unwrap().0;
    let chain = ledger.genesis.chain_id.clone();
    let store = ledger.store.clone();
    let file = |epoch: u64| snapshot_files(&data).into_iter().find(|f| f.0 == h.closes[&epoch]).unwrap().1;
    // keep 1 after epoch 6: the candidates are the closes of epochs 5 and 4, newest first
    flip_middle(&file(5));
    let pruned = snapshots::prune_after_close(&store, &chain, 1, EPOCHS).unwrap();
    assert_eq!(pruned.map(|p| p.1), Some(h.closes[&4]), "the damaged close-5 snapshot is passed over");
    assert_eq!(store.base_height(), h.closes[&4]);
    // nothing usable below the bound and above the base: nothing more is pruned
    flip_middle(&file(4));
    assert_eq!(snapshots::prune_after_close(&store, &chain, 1, EPOCHS).unwrap(), None);
    assert_eq!(store.base_height(), h.closes[&4]);
}

/// Goal: the auditor's replay of a pruned store whose snapshot at the base is damaged starts
/// from the next one, and still accounts for the blocks between the base and it (linked from
/// the base's header, their index entries checked). Method: a pruned history, its oldest
/// snapshot damaged.
#[test]
fn the_audit_of_a_pruned_store_covers_the_blocks_before_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("pruned");
    let h = history(&data, false, 0, 0);
    let files = snapshot_files(&data);
    let base_file = files.iter().find(|f| f.0 == h.closes[&(EPOCHS - KEEP)]).unwrap();
    flip_middle(&base_file.1);
    let (ledger, start) = Ledger::open_for_audit(&data, |_, _| {}).unwrap();
    assert_eq!(start.as_ref().map(|(s, _)| s.height), Some(h.closes[&(EPOCHS - KEEP + 1)]));
    assert_eq!((ledger.state.full_state_root(), ledger.tip_hash), (h.root, h.tip));
    let base = ledger.store.base_height();
    let audit = gridmint_node::audit::audit_from(&ledger.store, start, |_, _| {}).unwrap();
    assert!(audit.mismatches.is_empty(), "{:#?}", audit.mismatches);
    assert_eq!(audit.blocks, ledger.state.height - base, "every stored block is accounted for");
}

/// Goal: between closes the node's snapshots follow the transactions committed, a restart
/// starts from the newest of them (replaying only the blocks after it) to the same root, falls
/// back through the older ones to the close's when they are damaged, and pruning never counts
/// on them. Method: the pruned history with an interim snapshot every 3 transactions and 10
/// blocks after the last close.
#[test]
fn interim_snapshots_shorten_the_replay_and_never_carry_pruning() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("interim");
    let h = history(&data, false, 3, 10);
    let last_close = h.closes[&EPOCHS];
    let files = snapshot_files(&data);
    let closes = snapshots::list_closes(&snapshots::dir_of(&data));
    assert_eq!(closes.iter().map(|f| f.0).collect::<Vec<_>>(), vec![h.closes[&6], h.closes[&5], h.closes[&4]]);
    // the close's snapshot removed the interim ones before it; two of the tail's are kept
    let interim: Vec<u64> = files.iter().map(|f| f.0).filter(|h| !closes.iter().any(|c| c.0 == *h)).collect();
    assert_eq!(interim.len(), snapshots::INTERIM_KEPT, "{files:?}");
    assert!(interim.iter().all(|h| *h > last_close), "{interim:?} after the close at {last_close}");
    let (ledger, opened) = Ledger::open_from_snapshot(&data, |_, _| {}).unwrap();
    assert_eq!(opened.snapshot, Some(interim[0]), "the newest snapshot starts it");
    assert_eq!((ledger.state.full_state_root(), ledger.tip_hash), (h.root, h.tip));
    assert!(ledger.state.height - interim[0] <= 3, "at most the blocks of 3 transactions replay");
    // pruning counted on the close snapshots only
    assert_eq!(ledger.store.base_height(), h.closes[&(EPOCHS - KEEP)]);
    drop(ledger);
    flip_middle(&files[0].1);
    let (ledger, opened) = Ledger::open_from_snapshot(&data, |_, _| {}).unwrap();
    assert_eq!((opened.snapshot, opened.skipped.len()), (Some(interim[1]), 1));
    assert_eq!((ledger.state.full_state_root(), ledger.tip_hash), (h.root, h.tip));
    drop(ledger);
    flip_middle(&files[1].1);
    let (ledger, opened) = Ledger::open_from_snapshot(&data, |_, _| {}).unwrap();
    assert_eq!((opened.snapshot, opened.skipped.len()), (Some(last_close), 2));
    assert_eq!((ledger.state.full_state_root(), ledger.tip_hash), (h.root, h.tip));
}

/// Goal: a node's pruning step stops once the blocks it removed hold the budget's transactions
/// (the block that reaches it included, at least one block), and steps reach the target.
/// Method: an archive history pruned by hand in steps of 1, 9 and unbounded transactions.
#[test]
fn a_pruning_step_stops_at_its_budget_of_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("steps");
    let h = history(&data, true, 0, 0);
    let (ledger, _) = Ledger::open_from_snapshot(&data, |_, _| {}).unwrap();
    let store = ledger.store.clone();
    let chain = ledger.genesis.chain_id.clone();
    let target = h.closes[&(EPOCHS - KEEP)];
    let txs_of = |height: u64| store.block(height).unwrap().unwrap().receipts.len() as u64;
    // the blocks a budget removes: up to and including the one that reaches it
    let expected = |budget: u64| {
        let (mut height, mut txs) = (store.base_height(), 0);
        while txs < budget && height < target {
            height += 1;
            txs += txs_of(height);
        }
        height - store.base_height()
    };
    assert_eq!(txs_of(1), 3, "the registrations' block");
    let want = expected(1);
    assert_eq!((want, store.prune_some(target, &chain, 1).unwrap()), (1, 1), "at least, and here exactly, one block");
    let want = expected(9);
    assert!(want >= 2, "a budget that spans blocks");
    assert_eq!(store.prune_some(target, &chain, 9).unwrap(), want);
    assert!(store.base_height() < target);
    let rest = target - store.base_height();
    assert_eq!(store.prune_some(target, &chain, u64::MAX).unwrap(), rest);
    assert_eq!(store.base_height(), target);
    assert_eq!(store.prune_some(target, &chain, u64::MAX).unwrap(), 0, "nothing past the target");
    assert!(store.block(target + 1).unwrap().is_some());
}
