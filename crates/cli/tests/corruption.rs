//! Single-byte corruption of a real data dir: every flip is either refused as a damaged store
//! (a typed error in the library, exit code 3 from the binary, never a panic) or harmless (every
//! acknowledged transaction found where it was committed, the audit of every table matches).
//!
//! The data dirs are written by the ledger API (blocks with transfers, a machine's heartbeats,
//! two epoch closes with reward leaves), once closed cleanly and once left as after `kill -9`
//! (the database is never closed: redb must repair it on open). For each, every byte of redb's
//! super-header, the fields redb sizes reads by (bit by bit), and a seeded sample of offsets over
//! the whole file and over the tip file are flipped, one per copy. Every offset is checked in-process through the library (a panic there
//! fails the test: nothing catches it but the production code); a subset also runs the real
//! binary, `gridmint replay --data COPY`, whose exit code must be 0 or 3 (never 101, a panic)
//! and agree with the library; a few damaged copies also go to `gridmint node`, which must exit 3.

mod common;

use common::{BIN, Rng, seed};
use gridmint_core::{Tx, TxBody};
use gridmint_node::block::TxLocation;
use gridmint_node::blocklog::LOG_DIR;
use gridmint_node::ledger::{Genesis, Ledger, LedgerError, Proposal};
use gridmint_node::signing::{SignedTx, address_of, key_from_label};
use gridmint_node::store::{DB_FILE, TIP_FILE};
use gridmint_policy::{GenesisAllocation, Tokens};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

const CHAIN: &str = "corruption-test";
const GENESIS_TIME: u64 = 1_000_000;

/// A data dir and everything acknowledged in it.
struct Fixture {
    dir: PathBuf,
    acknowledged: Vec<([u8; 32], TxLocation)>,
    height: u64,
    tip: [u8; 32],
    epochs: u64,
}

fn sign(key: &ed25519_dalek::SigningKey, nonce: u64, body: TxBody) -> SignedTx {
    SignedTx::sign(Tx { signer: address_of(key), nonce, body }, key, CHAIN)
}

/// Writes a ledger: transfers, a machine with heartbeats, two epoch closes. With `clean` the
/// ledger is dropped (redb closes its file); without, it is leaked as a `kill -9` would leave it.
fn fixture(dir: &Path, clean: bool) -> Fixture {
    let dev = key_from_label("corruption-dev");
    let owner = key_from_label("corruption-owner");
    let gpu = key_from_label("corruption-gpu");
    let users: Vec<_> = (0..8).map(|i| key_from_label(&format!("corruption-user-{i}"))).collect();
    let producer = key_from_label("corruption-producer");
    let mut policy = gridmint_sim::load_policy("netmind").unwrap();
    policy.epoch.seconds = 60;
    policy.epoch.slot_seconds = 10;
    if let Some(c) = policy.connection_reward.as_mut() {
        c.min_online_slots = 1;
    }
    let prefund = GenesisAllocation { account: address_of(&dev), amount: Tokens(10u128.pow(30)) };
    let policy = gridmint_node::node::with_allocations(policy, &[prefund], true).unwrap();
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        genesis_time: GENESIS_TIME,
        policy: policy.to_toml(),
        producer: address_of(&producer),
        validators: vec![],
    };
    let mut ledger = Ledger::create(dir, genesis).unwrap();
    let mut acknowledged = Vec::new();
    let mut epochs = 0;
    let mut leaves = 0;
    let mut nonces = std::collections::BTreeMap::new();
    let mut next = |key: &ed25519_dalek::SigningKey| {
        let n = nonces.entry(address_of(key)).or_insert(0u64);
        *n += 1;
        *n - 1
    };
    let mut commit = |ledger: &mut Ledger, time: u64, txs: Vec<SignedTx>, acknowledged: &mut Vec<_>| {
        let (block, records) = ledger.commit(Proposal { time, txs }).unwrap();
        for (index, receipt) in block.receipts.iter().enumerate() {
            let location =
                TxLocation { height: block.height, index: index as u32, code: receipt.code, fee: receipt.fee };
            acknowledged.push((receipt.tx_id, location));
        }
        epochs += records.len() as u64;
        leaves += records.iter().map(|r| r.leaves.len()).sum::<usize>();
    };
    let funding: Vec<_> = std::iter::once(&owner)
        .chain(&users)
        .map(|k| sign(&dev, next(&dev), TxBody::Transfer { to: address_of(k), amount: 10u128.pow(24) }))
        .collect();
    commit(&mut ledger, GENESIS_TIME + 1, funding, &mut acknowledged);
    let register = sign(
        &owner,
        next(&owner),
        TxBody::RegisterMachine { machine: address_of(&gpu), gpu_class: 1, bandwidth_mbps: 1000, bond: 0 },
    );
    commit(&mut ledger, GENESIS_TIME + 2, vec![register], &mut acknowledged);
    // two epochs of 60 s: a block every 5 s with a heartbeat and transfers between the users
    for step in 1..=26u64 {
        let time = GENESIS_TIME + 2 + 5 * step;
        let slot = (time - GENESIS_TIME) / 10;
        let mut txs = vec![sign(&gpu, 0, TxBody::Heartbeat { slot })];
        for i in 0..12 {
            let from = &users[(step as usize + i) % users.len()];
            let to = &users[(step as usize + i + 1) % users.len()];
            txs.push(sign(from, next(from), TxBody::Transfer { to: address_of(to), amount: 1_000 + step as u128 }));
        }
        commit(&mut ledger, time, txs, &mut acknowledged);
    }
    assert!(epochs >= 2, "the fixture closes two epochs ({epochs})");
    assert!(leaves > 0, "the closes have reward leaves");
    let (height, tip) = (ledger.state.height, ledger.tip_hash);
    if clean {
        drop(ledger);
    } else {
        // as after kill -9: redb's file is left as the last commit wrote it
        std::mem::forget(ledger);
    }
    Fixture { dir: dir.into(), acknowledged, height, tip, epochs }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Refused as a damaged store.
    Detected,
    /// Opened, and everything acknowledged is there and audits clean.
    Harmless,
}

fn copy_with_flip(fixture: &Fixture, to: &Path, file: &str, offset: u64, mask: u8) {
    std::fs::create_dir_all(to.join(LOG_DIR)).unwrap();
    for name in [DB_FILE, TIP_FILE] {
        std::fs::copy(fixture.dir.join(name), to.join(name)).unwrap();
    }
    for segment in std::fs::read_dir(fixture.dir.join(LOG_DIR)).unwrap() {
        let segment = segment.unwrap().path();
        std::fs::copy(&segment, to.join(LOG_DIR).join(segment.file_name().unwrap())).unwrap();
    }
    let path = to.join(file);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offset as usize] ^= mask;
    std::fs::write(&path, bytes).unwrap();
}

/// Opens a flipped copy through the library: a damage error, or everything intact.
fn check_in_process(fixture: &Fixture, copy: &Path, what: &str) -> Verdict {
    let ledger = match Ledger::open(copy, false, |_, _| {}) {
        Ok(ledger) => ledger,
        Err(LedgerError::Store(e)) if e.is_damage() => {
            let text = e.to_string();
            assert!(text.contains(&copy.display().to_string()), "{what}: the error names the data dir: {text}");
            return Verdict::Detected;
        }
        Err(e) => panic!("{what}: opened with an error that is not damage: {e:?}"),
    };
    assert_eq!(ledger.state.height, fixture.height, "{what}: a committed block is missing");
    assert_eq!(ledger.tip_hash, fixture.tip, "{what}: the tip differs");
    let ids: Vec<[u8; 32]> = fixture.acknowledged.iter().map(|(id, _)| *id).collect();
    let found = ledger.store.txs(&ids).unwrap_or_else(|e| panic!("{what}: reading the index after a clean open: {e}"));
    // a heartbeat repeated in the same slot is the same transaction: its last commit is indexed
    let mut expected = std::collections::BTreeMap::new();
    for (id, location) in &fixture.acknowledged {
        expected.insert(*id, *location);
    }
    for ((id, _), found) in fixture.acknowledged.iter().zip(found) {
        assert_eq!(found, Some(expected[id]), "{what}: acknowledged transaction {} not found where committed", hex(id));
    }
    let audit = gridmint_node::audit::audit(&ledger.store, |_, _| {})
        .unwrap_or_else(|e| panic!("{what}: the audit failed after a clean open: {e}"));
    assert!(audit.mismatches.is_empty(), "{what}: the audit differs: {:?}", audit.mismatches);
    assert_eq!(audit.epochs, fixture.epochs, "{what}");
    Verdict::Harmless
}

fn hex(id: &[u8; 32]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// `gridmint replay --data COPY` as a process: exit 0 (and "replay matches") or 3, never 101.
fn check_binary(copy: &Path, what: &str) -> Verdict {
    let out = Command::new(BIN).args(["replay", "--data", copy.to_str().unwrap()]).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    match out.status.code() {
        Some(0) => {
            assert!(stdout.contains("replay matches"), "{what}: {stdout}");
            Verdict::Harmless
        }
        Some(3) => {
            assert!(stderr.contains("is damaged") && stderr.contains(&copy.display().to_string()), "{what}: {stderr}");
            Verdict::Detected
        }
        other => panic!("{what}: gridmint replay exited with {other:?}\nstdout: {stdout}\nstderr: {stderr}"),
    }
}

/// `gridmint node --data COPY` on a damaged copy: exit 3 with the data dir named.
fn check_node_refuses(copy: &Path, what: &str) {
    let listen = format!("127.0.0.1:{}", common::free_port());
    let out = Command::new(BIN).args(["node", "--data", copy.to_str().unwrap(), "--listen", &listen]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{what}: gridmint node: {stderr}");
    assert!(stderr.contains("is damaged") && stderr.contains(&copy.display().to_string()), "{what}: {stderr}");
}

struct Flip {
    /// The file, relative to the data dir.
    file: String,
    offset: u64,
    mask: u8,
}

/// The flips for one fixture: every byte of redb's 320-byte super-header, the god byte's three
/// flags one by one, the size fields bit by bit, `random` offsets over the whole file, 16 over
/// the tip file, and `random / 4` over the block log's segments.
fn flips(rng: &mut Rng, db_len: u64, random: usize, segments: &[(String, u64)]) -> Vec<Flip> {
    const DB: &str = DB_FILE;
    let mask = |rng: &mut Rng| (rng.below(255) + 1) as u8;
    let mut out: Vec<Flip> = (0..320).map(|offset| Flip { file: DB.into(), offset, mask: mask(rng) }).collect();
    for bit in [1u8, 2, 4] {
        out.push(Flip { file: DB.into(), offset: 9, mask: bit });
    }
    // the fields redb sizes reads and allocations by, bit by bit: the page size and region
    // geometry, and the size bits (the top byte) of each commit slot's two root page numbers
    for offset in 12..24 {
        for bit in [0x01u8, 0x04, 0x10, 0x40, 0x80] {
            out.push(Flip { file: DB.into(), offset, mask: bit });
        }
    }
    for slot in [64u64, 192] {
        for root in [8u64, 40] {
            for bit in [0x08u8, 0x10, 0x20, 0x40, 0x80] {
                out.push(Flip { file: DB.into(), offset: slot + root + 7, mask: bit });
            }
        }
    }
    for _ in 0..random {
        out.push(Flip { file: DB.into(), offset: 320 + rng.below(db_len - 320), mask: mask(rng) });
    }
    for _ in 0..16 {
        out.push(Flip { file: TIP_FILE.into(), offset: rng.below(128), mask: mask(rng) });
    }
    for i in 0..random / 4 {
        let (file, len) = &segments[i % segments.len()];
        out.push(Flip { file: file.clone(), offset: rng.below(*len), mask: mask(rng) });
    }
    out
}

#[test]
fn every_single_byte_flip_is_refused_as_damage_or_harmless() {
    let seed = seed("corruption");
    let mut rng = Rng(seed | 1);
    let root = tempfile::tempdir().unwrap();
    #[allow(clippy::disallowed_methods)] // the test's own run time, reported
    let started = std::time::Instant::now();
    let mut total = (0, 0, 0);
    for clean in [true, false] {
        let label = if clean { "clean" } else { "after kill -9" };
        let fixture = fixture(&root.path().join(format!("source-{clean}")), clean);
        let db_len = std::fs::metadata(fixture.dir.join(DB_FILE)).unwrap().len();
        // GRIDMINT_CORRUPTION_FLIPS: more random offsets per data dir, for a longer soak
        let random = std::env::var("GRIDMINT_CORRUPTION_FLIPS").ok().and_then(|n| n.parse().ok()).unwrap_or(250);
        let segments: Vec<(String, u64)> = std::fs::read_dir(fixture.dir.join(LOG_DIR))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (format!("{LOG_DIR}/{}", e.file_name().to_string_lossy()), e.metadata().unwrap().len())
            })
            .collect();
        assert!(!segments.is_empty(), "the fixture's blocks are in its block log");
        let flips = flips(&mut rng, db_len, random, &segments);
        let counts = Mutex::new((0usize, 0usize, 0usize)); // detected, harmless, through the binary
        let node_runs = Mutex::new(0);
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let Some(flip) = flips.get(i) else { break };
                        let what =
                            format!("{label}: {} offset {} ^ {:#04x} (seed {seed})", flip.file, flip.offset, flip.mask);
                        let copy = root.path().join(format!("copy-{clean}-{i}"));
                        // every 8th flip, and every flip of redb's god byte, also through the binary
                        let binary = i.is_multiple_of(8) || (flip.file == DB_FILE && flip.offset == 9);
                        let file = flip.file.as_str();
                        let binary_verdict = binary.then(|| {
                            let copy = root.path().join(format!("bin-{clean}-{i}"));
                            copy_with_flip(&fixture, &copy, file, flip.offset, flip.mask);
                            let verdict = check_binary(&copy, &what);
                            std::fs::remove_dir_all(&copy).unwrap();
                            verdict
                        });
                        copy_with_flip(&fixture, &copy, file, flip.offset, flip.mask);
                        let verdict = check_in_process(&fixture, &copy, &what);
                        if let Some(b) = binary_verdict {
                            assert_eq!(b, verdict, "{what}: the binary and the library disagree");
                        }
                        std::fs::remove_dir_all(&copy).unwrap();
                        if verdict == Verdict::Detected && *node_runs.lock().unwrap() < 3 {
                            *node_runs.lock().unwrap() += 1;
                            let copy = root.path().join(format!("node-{clean}-{i}"));
                            copy_with_flip(&fixture, &copy, file, flip.offset, flip.mask);
                            check_node_refuses(&copy, &what);
                            std::fs::remove_dir_all(&copy).unwrap();
                        }
                        let mut c = counts.lock().unwrap();
                        match verdict {
                            Verdict::Detected => c.0 += 1,
                            Verdict::Harmless => c.1 += 1,
                        }
                        c.2 += usize::from(binary);
                    }
                });
            }
        });
        let (detected, harmless, binary) = *counts.lock().unwrap();
        println!(
            "{label}: {} flips over a {db_len}-byte database, its tip file and its block log: {detected} refused as damage, \
             {harmless} harmless (all {} acknowledged transactions found, audit clean); {binary} also through \
             `gridmint replay`",
            flips.len(),
            fixture.acknowledged.len()
        );
        total = (total.0 + detected, total.1 + harmless, total.2 + binary);
        assert!(detected > 0 && harmless > 0, "{label}: both outcomes occur");
    }
    println!(
        "corruption: {} detected, {} harmless, {} through the binary, in {:.1} s (seed {seed})",
        total.0,
        total.1,
        total.2,
        started.elapsed().as_secs_f64()
    );
}

/// The dangerous header bits, deterministically: redb's god byte selects the commit slot, and
/// after `kill -9` the other slot holds the previous block. Flipping it must not lose the last
/// block silently (the tip file catches it), nor may flipping its two-phase flag make redb roll
/// back. And the untouched fixture opens and audits clean, through the library and the binary.
#[test]
fn redb_god_byte_flips_never_lose_the_last_block() {
    let root = tempfile::tempdir().unwrap();
    for clean in [true, false] {
        let fixture = fixture(&root.path().join(format!("source-{clean}")), clean);
        let intact = root.path().join(format!("intact-{clean}"));
        copy_with_flip(&fixture, &intact, TIP_FILE, 127, 0); // an exact copy
        assert_eq!(check_binary(&intact, "intact"), Verdict::Harmless);
        let intact = root.path().join(format!("intact2-{clean}"));
        copy_with_flip(&fixture, &intact, TIP_FILE, 127, 0);
        assert_eq!(check_in_process(&fixture, &intact, "intact"), Verdict::Harmless);
        for mask in [1u8, 2, 4, 1 | 4, 0x80] {
            let copy = root.path().join(format!("god-{clean}-{mask}"));
            copy_with_flip(&fixture, &copy, DB_FILE, 9, mask);
            let verdict = check_in_process(&fixture, &copy, &format!("clean {clean}: god byte ^ {mask:#04x}"));
            println!("clean {clean}: god byte ^ {mask:#04x}: {verdict:?}");
        }
    }
}
