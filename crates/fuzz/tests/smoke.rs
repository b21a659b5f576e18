//! Every fuzz target in every `cargo test`: each input of its committed seed corpus
//! (`fuzz/seeds/<target>/`), then a seeded run of mutations of them (bit flips, byte writes,
//! inserts, deletes, splices). This is a smoke run so that CI exercises the targets; the
//! coverage-guided runs are libFuzzer's (`fuzz/`, docs/FUZZING.md).
//!
//! Each target prints its seed; `GRIDMINT_FUZZ_SEED=S` replays one, `GRIDMINT_FUZZ_ITERS=N`
//! sets the number of mutated inputs per target. A failure names the seed, the iteration and the
//! input in hex (save it as a file to replay it with the libFuzzer binary).
//!
//! `cargo test -p gridmint-fuzz -- --ignored bless_seeds` rewrites the generated seed files.

use gridmint_core::{Address, JobMode, ProposalAction, Receipt, TOKEN, Tx, TxBody};
use gridmint_fuzz::TARGETS;
use gridmint_node::SignedTx;
use gridmint_node::block::StoredBlock;
use gridmint_node::signing::encode_batch;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

fn seeds_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds").join(target)
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = seeds_dir(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    let corpus: Vec<_> = files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.file_name().expect("a file name").to_string_lossy().into_owned(), bytes)
        })
        .collect();
    assert!(!corpus.is_empty(), "no seeds in {}", dir.display());
    corpus
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

/// A mutation of a corpus input: one to four edits.
fn mutate(rng: &mut ChaCha8Rng, corpus: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut input = corpus[rng.random_range(0..corpus.len())].1.clone();
    for _ in 0..rng.random_range(1..=4) {
        let len = input.len();
        match rng.random_range(0..8) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                input[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                input[i] = [0, 1, 0x7f, 0x80, 0xff, b'"', b'=', b'\n', b'[', b'-'][rng.random_range(0..10)];
            }
            2 => {
                let at = rng.random_range(0..=len);
                let bytes: Vec<u8> = (0..rng.random_range(1..=8)).map(|_| rng.random()).collect();
                input.splice(at..at, bytes);
            }
            3 if len > 0 => {
                let from = rng.random_range(0..len);
                let to = rng.random_range(from..=len.min(from + 16));
                input.drain(from..to);
            }
            4 if len > 0 => {
                let from = rng.random_range(0..len);
                let to = rng.random_range(from..=len.min(from + 32));
                let copy = input[from..to].to_vec();
                let at = rng.random_range(0..=len);
                input.splice(at..at, copy);
            }
            5 => {
                let other = &corpus[rng.random_range(0..corpus.len())].1;
                let cut = rng.random_range(0..=len);
                let from = rng.random_range(0..=other.len());
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            6 if len > 0 => input.truncate(rng.random_range(0..len)),
            _ => {
                if len > 0 {
                    let i = rng.random_range(0..len);
                    input[i] = rng.random();
                }
            }
        }
    }
    input
}

fn smoke(name: &str, default_iterations: u64) {
    let target = TARGETS.iter().find(|(n, _)| *n == name).expect("a target of that name").1;
    // a fresh seed every run (printed), so that CI keeps exploring
    let seed = env_u64("GRIDMINT_FUZZ_SEED").unwrap_or_else(rand::random);
    let iterations = env_u64("GRIDMINT_FUZZ_ITERS").unwrap_or(default_iterations);
    println!("fuzz smoke {name}: seed {seed} (GRIDMINT_FUZZ_SEED={seed} replays), {iterations} mutated inputs");
    let corpus = corpus(name);
    let run = |input: &[u8], what: &str| {
        if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
            panic!(
                "fuzz smoke {name}: {what} panicked (GRIDMINT_FUZZ_SEED={seed}); input ({} bytes): {}",
                input.len(),
                hex::encode(input)
            );
        }
    };
    for (file, bytes) in &corpus {
        run(bytes, &format!("seed file {file}"));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in 0..iterations {
        let input = mutate(&mut rng, &corpus);
        run(&input, &format!("iteration {i}"));
    }
}

#[test]
fn tx_decode() {
    smoke("tx_decode", 50_000);
}

#[test]
fn block_decode() {
    smoke("block_decode", 20_000);
}

#[test]
fn batch_decode() {
    smoke("batch_decode", 20_000);
}

#[test]
fn policy_toml() {
    smoke("policy_toml", 1_000);
}

#[test]
fn scenario_toml() {
    smoke("scenario_toml", 1_000);
}

#[test]
fn apply() {
    smoke("apply", 1_000);
}

/// One transaction of every kind (and both proposal actions), as the decoders' seeds.
fn every_kind() -> Vec<Tx> {
    let a = |i| Address::from_index("user", i);
    let m = Address::from_index("machine", 0);
    let h = |b: u8| [b; 32];
    let mut evm = [9; 32];
    evm[..12].fill(0);
    let bodies = vec![
        TxBody::Transfer { to: a(1), amount: 5 * TOKEN },
        TxBody::RegisterMachine { machine: m, gpu_class: 2, bandwidth_mbps: 100, bond: 1_000 * TOKEN },
        TxBody::Heartbeat { slot: 287 },
        TxBody::SubmitJob {
            job_id: 1,
            mode: JobMode::Inference,
            price_per_gpu_second: TOKEN / 1000,
            max_gpu_seconds: 3600,
        },
        TxBody::ReportUsage { customer: a(1), job_id: 1, machine: m, gpu_seconds: 600, ai_tokens: 10_000 },
        TxBody::SettleJob { job_id: 1 },
        TxBody::FailJob { job_id: 2, machine: m },
        TxBody::RegisterValidator { bond: 40_000 * TOKEN },
        TxBody::Stake { validator: a(2), amount: 10 * TOKEN },
        TxBody::Unstake { validator: a(2), amount: TOKEN, fast: true },
        TxBody::Claim,
        TxBody::ClaimToStake { validator: Address::ZERO },
        TxBody::Propose { action: ProposalAction::TreasurySpend { to: a(3), amount: 7 * TOKEN } },
        TxBody::Propose {
            action: ProposalAction::PolicyChange {
                changes: vec![("claims.tax_ppb".into(), "1000".into()), ("staking.master_nodes".into(), "3".into())],
            },
        },
        TxBody::Vote { proposal: 0, yes: true },
        TxBody::BridgeOut { amount: 2 * TOKEN, recipient: evm },
        TxBody::BridgeAttest { deposit_id: 4, recipient: a(4), amount: 3 * TOKEN },
        TxBody::AttestLiquidity { provider: a(5), amount: 100 * TOKEN },
        TxBody::SubmitReceipt {
            machine: m,
            task_id: h(1),
            model_id: h(2),
            input_hash: h(3),
            output_hash: h(4),
            gpu_seconds: 60,
        },
        TxBody::AttestReceipt { receipt: h(5), valid: false },
        TxBody::BridgeSign { record: 0, signature: [7; 65] },
    ];
    bodies.into_iter().enumerate().map(|(i, body)| Tx { signer: a(0), nonce: i as u64, body }).collect()
}

fn signed(txs: &[Tx]) -> Vec<SignedTx> {
    txs.iter().enumerate().map(|(i, tx)| SignedTx { tx: tx.clone(), signature: [i as u8; 64] }).collect()
}

fn block(txs: Vec<SignedTx>, closed_epochs: Vec<u64>) -> StoredBlock {
    let receipts = txs
        .iter()
        .enumerate()
        .map(|(i, tx)| Receipt { tx_id: tx.id(), code: i as u16 % 3, fee: i as u128 * 1000 })
        .collect();
    StoredBlock {
        height: 7,
        time: 86_400,
        parent: [1; 32],
        producer: Address::from_index("producer", 0),
        state_root: [2; 32],
        txs,
        receipts,
        closed_epochs,
    }
}

/// The generated seeds, by target and file name.
fn generated_seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let txs = every_kind();
    let mut seeds = Vec::new();
    for (i, tx) in txs.iter().enumerate() {
        seeds.push(("tx_decode", format!("{i:02}-{}", tx.body.kind_name()), tx.encode()));
    }
    seeds.push(("batch_decode", "all-kinds".into(), encode_batch(&signed(&txs))));
    seeds.push(("batch_decode", "one".into(), encode_batch(&signed(&txs[..1]))));
    seeds.push(("block_decode", "all-kinds".into(), block(signed(&txs), vec![1, 2]).encode()));
    seeds.push(("block_decode", "empty".into(), block(vec![], vec![]).encode()));
    for (name, text) in gridmint_policy::PRESETS {
        seeds.push(("policy_toml", name.to_string(), text.as_bytes().to_vec()));
    }
    let scenarios = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut files: Vec<_> =
        std::fs::read_dir(&scenarios).expect("scenarios/").map(|e| e.expect("an entry").path()).collect();
    files.sort();
    for path in files {
        let name = path.file_stem().expect("a name").to_string_lossy().into_owned();
        seeds.push(("scenario_toml", name, std::fs::read(&path).expect("a scenario")));
    }
    for seed in 0..8u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        seeds.push(("apply", format!("random-{seed}"), (0..1024).map(|_| rng.random()).collect()));
    }
    seeds
}

/// Rewrites the generated seed files (run after a change of the encodings or presets).
#[test]
#[ignore]
fn bless_seeds() {
    for (target, name, bytes) in generated_seeds() {
        let dir = seeds_dir(target);
        std::fs::create_dir_all(&dir).expect("a seeds directory");
        std::fs::write(dir.join(name), bytes).expect("a seed file");
    }
}

/// The committed seeds are the generated ones: they still decode (a change of an encoding
/// that forgot to re-bless them would leave the fuzzers starting from rejected inputs).
#[test]
fn seeds_are_current() {
    for (target, name, bytes) in generated_seeds() {
        let path = seeds_dir(target).join(&name);
        let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run bless_seeds", path.display()));
        assert!(
            committed == bytes,
            "{} is stale; run `cargo test -p gridmint-fuzz -- --ignored bless_seeds`",
            path.display()
        );
    }
}
