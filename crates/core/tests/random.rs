//! Random transaction sequences over all four policies, valid and invalid transactions of every
//! kind, checked against a simple reference model:
//! - transfers: success exactly when the model says so, with the exact balance changes;
//! - every transaction: one refused by the envelope leaves the state byte-identical and stays out
//!   of the block; one included with a failure code changes exactly its fee and nonce (G10);
//!   success consumes the nonce;
//! - after every block: every invariant (G8 conservation, the cap, stake and escrow sums);
//! - some seeds are replayed from scratch and must reach the same state root (determinism).
//!
//! Seeds: `GRIDMINT_SEED=S` runs one seed of every policy; `GRIDMINT_SEEDS=N` (default 125 per
//! policy, 500 in all) and `GRIDMINT_TXS=N` (default 10,000) size the run. Every failure message
//! starts with the seed that replays it.

mod common;
use common::charged;
use common::generator::{body, policy};
use gridmint_core::{Address, Block, State, Tx, TxBody, TxError};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Runs one seed; returns the blocks and the final state root.
fn run_seed(preset: &str, seed: u64, tx_count: usize) -> (Vec<Block>, [u8; 32]) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut state = State::genesis(policy(preset), 0);
    let producer = Address::from_index("producer", 0);
    let epoch_seconds = state.policy.epoch.seconds;
    let mut blocks = Vec::new();
    let mut time = 0;
    let mut applied = 0;
    while applied < tx_count {
        time += rng.random_range(0..epoch_seconds / 3);
        let height = state.height + 1;
        state.begin_block(height, time).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let mut txs = Vec::new();
        for _ in 0..rng.random_range(1..60) {
            let (signer, body) = body(&mut rng, &state);
            let expected_nonce = state.account(&signer).map_or(0, |a| a.nonce);
            let nonce = match (rng.random_range(0..20), &body) {
                (_, TxBody::Heartbeat { .. }) => 0,
                (0, _) => expected_nonce.saturating_sub(1),
                (1, _) => expected_nonce + 1,
                _ => expected_nonce,
            };
            let tx = Tx { signer, nonce, body };
            let before = state.canonical_bytes();
            let fee = state.current_fee();
            let spendable = |s: &State, a: &Address| s.account(a).map_or(0, |x| x.spendable);
            let model = if let TxBody::Transfer { to, amount } = &tx.body {
                let known = state.account(&signer).is_some();
                let treasury = state.policy.governance.as_ref().is_some_and(|g| g.treasury == signer);
                let full = state.policy.gas.base_fee.as_ref().is_some_and(|b| state.block_tx_count >= b.block_tx_limit);
                let ok = known
                    && !treasury
                    && nonce == expected_nonce
                    && !full
                    && spendable(&state, &signer) >= fee.saturating_add(*amount)
                    && *amount > 0
                    && !to.is_weak_key();
                Some((ok, *to, *amount, spendable(&state, &signer), spendable(&state, to)))
            } else {
                None
            };
            let state_before = state.clone();
            let outcome = state.execute_tx(&tx, producer);
            let result = match &outcome {
                Ok(receipt) => TxError::from_code(receipt.code).map_or(Ok(receipt.fee), Err),
                Err(error) => Err(*error),
            };
            if let Some((ok, to, amount, from_before, to_before)) = model {
                assert_eq!(result.is_ok(), ok, "seed {seed}: transfer {tx:?} gave {result:?}, the model says ok={ok}");
                if ok && to != signer && to != producer && signer != producer {
                    assert_eq!(spendable(&state, &signer), from_before - amount - fee, "seed {seed}: sender balance");
                    assert_eq!(spendable(&state, &to), to_before + amount, "seed {seed}: recipient balance");
                }
            }
            match outcome {
                Ok(receipt) if receipt.code == 0 => {
                    if !matches!(tx.body, TxBody::Heartbeat { .. }) {
                        assert_eq!(
                            state.account(&signer).unwrap().nonce,
                            expected_nonce + 1,
                            "seed {seed}: nonce not consumed"
                        );
                    }
                }
                Ok(receipt) => {
                    let error = TxError::from_code(receipt.code).expect("a documented code");
                    assert!(!matches!(tx.body, TxBody::Heartbeat { .. }), "seed {seed}: a heartbeat is never charged");
                    assert!(
                        charged(&state_before, signer, producer).canonical_bytes() == state.canonical_bytes(),
                        "seed {seed}: failed {tx:?} ({error}) changed more than its fee and nonce"
                    );
                }
                Err(error) => {
                    assert!(TxError::from_code(error.code()) == Some(error));
                    assert!(
                        before == state.canonical_bytes(),
                        "seed {seed}: refused {tx:?} ({error}) changed the state"
                    );
                    // refused: never in a block
                    applied += 1;
                    continue;
                }
            }
            txs.push(tx);
            applied += 1;
        }
        state.end_block();
        state.check_invariants().unwrap_or_else(|e| panic!("seed {seed} {preset} height {height}: {e}"));
        state.check_commitment().unwrap_or_else(|e| panic!("seed {seed} {preset} height {height}: {e}"));
        blocks.push(Block { height, time, producer, txs });
    }
    (blocks, state.state_root())
}

fn run_policy(preset: &str, salt: u64) {
    let seeds: u64 = std::env::var("GRIDMINT_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(125);
    let txs: usize = std::env::var("GRIDMINT_TXS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let only: Option<u64> = std::env::var("GRIDMINT_SEED").ok().and_then(|s| s.parse().ok());
    let list: Vec<u64> = match only {
        Some(seed) => vec![seed],
        None => (0..seeds).map(|i| salt * 1_000_000 + i).collect(),
    };
    eprintln!("{preset}: {} seeds × {txs} transactions (replay one with GRIDMINT_SEED=S)", list.len());
    for seed in list {
        eprintln!("seed {seed}");
        let (blocks, root) = run_seed(preset, seed, txs);
        if seed % 25 == 0 {
            // determinism: the same blocks from genesis reach the same root
            let mut replay = State::genesis(policy(preset), 0);
            for block in &blocks {
                replay.apply_block(block).unwrap();
            }
            assert_eq!(replay.state_root(), root, "seed {seed}: replay diverged");
        }
    }
}

#[test]
fn random_sequences_netmind() {
    run_policy("netmind", 1);
}

#[test]
fn random_sequences_netmind_2024() {
    run_policy("netmind-2024", 2);
}

#[test]
fn random_sequences_osmi() {
    run_policy("osmi", 3);
}

#[test]
fn random_sequences_omnitensor() {
    run_policy("omnitensor", 4);
}
