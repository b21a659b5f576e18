//! gridmint's fuzz targets (issue 11): one function per decoder and one structured target for
//! executing transactions, each taking the fuzzer's raw bytes and panicking on a bug.
//!
//! The same functions run in two places: the libFuzzer binaries of the separate `fuzz/`
//! workspace (coverage-guided, hours), and this crate's `tests/smoke.rs` (a short, seeded run
//! over the committed seed corpus in every `cargo test`). docs/FUZZING.md has the commands.
//!
//! | target | what it checks |
//! | --- | --- |
//! | [`tx_decode`] | `Tx::decode` never panics; what it accepts re-encodes to the same bytes and passes `check_limits` |
//! | [`block_decode`] | `StoredBlock::decode` never panics; what it accepts re-encodes to the same bytes |
//! | [`batch_decode`] | `decode_batch` never panics; what it accepts re-encodes to the same bytes |
//! | [`policy_toml`] | `Policy::from_toml` never panics; an accepted policy round-trips through `to_toml` and validates |
//! | [`scenario_toml`] | `Scenario::from_toml` never panics; an accepted scenario's overrides apply to every preset without a panic |
//! | [`apply`] | executing transactions of every kind over every preset (see [`apply`]) |

#![warn(missing_docs)]

mod apply;

pub use apply::apply;

use gridmint_core::Tx;
use gridmint_node::block::StoredBlock;
use gridmint_node::signing::{decode_batch, encode_batch};
use gridmint_policy::Policy;
use gridmint_sim::Scenario;

/// A fuzz target: panics on a bug in what it runs on `data`.
pub type Target = fn(&[u8]);

/// The targets by name, as the `fuzz/` binaries and the seed directories are named.
pub const TARGETS: [(&str, Target); 6] = [
    ("tx_decode", tx_decode),
    ("block_decode", block_decode),
    ("batch_decode", batch_decode),
    ("policy_toml", policy_toml),
    ("scenario_toml", scenario_toml),
    ("apply", apply),
];

/// `Tx::decode` on arbitrary bytes: no panic; an accepted transaction is canonical (it encodes
/// back to exactly the input, so every byte string decodes to at most one transaction) and passes
/// `check_limits` (so the envelope never refuses a decoded transaction for its encoding).
pub fn tx_decode(data: &[u8]) {
    if let Ok(tx) = Tx::decode(data) {
        assert_eq!(tx.encode(), data, "a decoded transaction re-encodes to different bytes: {tx:?}");
        if let Err(e) = tx.check_limits() {
            panic!("a decoded transaction fails check_limits ({e}): {tx:?}");
        }
        let _ = tx.id();
    }
}

/// `StoredBlock::decode` on arbitrary bytes: no panic; an accepted block re-encodes to exactly
/// the input (the decoder is strict) and its hash can be taken.
pub fn block_decode(data: &[u8]) {
    if let Ok(block) = StoredBlock::decode(data) {
        assert_eq!(block.encode(), data, "a decoded block re-encodes to different bytes: {block:?}");
        assert_eq!(block.txs.len(), block.receipts.len(), "one receipt per transaction");
        let _ = block.hash();
    }
}

/// `decode_batch` (the binary batch frames of the batch routes) on arbitrary bytes: no panic; an
/// accepted batch re-encodes to exactly the input.
pub fn batch_decode(data: &[u8]) {
    if let Ok(txs) = decode_batch(data) {
        assert_eq!(encode_batch(&txs), data, "a decoded batch re-encodes to different bytes: {txs:?}");
    }
}

/// `Policy::from_toml` on arbitrary text: no panic; an accepted policy serializes (`to_toml`
/// panics otherwise), parses back to an equal policy with the same hash, and validates.
pub fn policy_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(policy) = Policy::from_toml(text) else { return };
    let again = policy.to_toml();
    let back =
        Policy::from_toml(&again).unwrap_or_else(|e| panic!("to_toml of an accepted policy is refused: {e}\n{again}"));
    assert_eq!(back, policy, "a policy changed through to_toml:\n{again}");
    assert_eq!(back.hash(), policy.hash(), "the hash changed through to_toml");
    if let Err(e) = back.validate() {
        panic!("a round-tripped policy does not validate: {e}");
    }
}

/// `Scenario::from_toml` on arbitrary text: no panic; an accepted scenario's policy overrides
/// apply (or are refused with an error) on every preset without a panic.
pub fn scenario_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(scenario) = Scenario::from_toml(text) else { return };
    for policy in apply::presets() {
        if let Ok(policy) = scenario.apply_overrides(policy.clone(), &[])
            && let Err(e) = policy.validate()
        {
            panic!("a scenario's overrides gave a policy that does not validate: {e}");
        }
    }
}
