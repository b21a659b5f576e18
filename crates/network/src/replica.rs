//! The node's ledger behind the consensus engine: [`LedgerApp`] implements the app loop's
//! [`Application`] over the node's [`Shared`] state, so that a decided block goes through the
//! same block path as a single node's (`Shared::commit_decided` → `Ledger::execute_next_by` →
//! seal → one redb write transaction holding the block, its receipts, its epoch records and its
//! [`DecidedRecord`]).
//!
//! # What a replica checks before it calls a proposal valid
//!
//! - the height is its tip's next, the parent hash is its tip's hash and the parent state root is
//!   the root its own execution left: a replica whose state differs refuses every proposal, and
//!   one asked to commit such a block stops (fail-stop, never a silent fork);
//! - the time is strictly after the parent's and at most `max_clock_drift` seconds ahead of its
//!   own clock;
//! - at most `max_block_txs` transactions and [`MAX_BLOCK_BYTES`] bytes;
//! - every transaction decodes strictly and its signature verifies (`verify_strict`, the chain id
//!   in the signed bytes).
//!
//! The envelope (nonces, fees, balances) is not checked here: the block executes candidates in
//! order and leaves out those the envelope refuses, identically on every replica (G10), as the
//! single node does.

use crate::record::{DecidedRecord, refused_positions, tx_bytes};
use gridmint_consensus::app_channel::app::types::core::Round;
use gridmint_consensus::{Application, Block, BlockHeader, DecidedCertificate, Height, ValidatorAddress, ValidatorSet};
use gridmint_node::node::{Shared, now_seconds};
use gridmint_node::{Proposal, SignedTx};
use std::sync::Arc;

/// The most bytes of transactions a proposer puts in a block (its parts stream in 1 MiB chunks;
/// value sync ships it whole).
pub const MAX_BLOCK_BYTES: usize = 8 << 20;

/// How many heights' validator sets [`LedgerApp`] keeps (the next height's and the ones before).
pub const VALIDATOR_SETS_KEPT: usize = 64;

/// The ledger as the app loop sees it.
pub struct LedgerApp {
    shared: Arc<Shared>,
    /// The genesis validator set (the set while the ledger's election elects nobody).
    validators: ValidatorSet,
    /// The set in force at each of the last [`VALIDATOR_SETS_KEPT`] heights, by height; the last
    /// entry is the next height's (from the state after the tip, [`crate::election`]).
    sets: std::collections::BTreeMap<u64, ValidatorSet>,
    /// How far ahead of this node's clock a proposal's time may be (seconds).
    max_clock_drift: u64,
    /// The state root after the last committed block (the next header's parent state root).
    tip_root: [u8; 32],
    /// The clock (seconds since the Unix epoch); a test may set its own.
    clock: fn() -> u64,
}

impl LedgerApp {
    /// The app over `shared`, with the genesis validator set.
    pub fn new(shared: Arc<Shared>, validators: ValidatorSet, max_clock_drift: u64) -> LedgerApp {
        let (tip_root, next, set) = {
            let mut ledger = shared.ledger.write().unwrap_or_else(|e| e.into_inner());
            let set = crate::election::validator_set_from_state(&ledger.state, &validators);
            (ledger.state.state_root(), ledger.state.height + 1, set)
        };
        let sets = std::collections::BTreeMap::from([(next, set)]);
        LedgerApp { shared, validators, sets, max_clock_drift, tip_root, clock: now_seconds }
    }

    /// The shared node state.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: fn() -> u64) -> LedgerApp {
        self.clock = clock;
        self
    }

    /// The header checks against this replica's tip (height, parent hash, parent state root).
    fn check_parent(&self, header: &BlockHeader) -> Result<(), String> {
        let ledger = self.shared.ledger.read().unwrap_or_else(|e| e.into_inner());
        let next = ledger.state.height + 1;
        if header.height.0 != next {
            return Err(format!("height {} but this replica's next height is {next}", header.height.0));
        }
        if header.parent_hash != ledger.tip_hash {
            return Err(format!(
                "parent hash {} but this replica's block {} is {}",
                hex::encode(header.parent_hash),
                ledger.state.height,
                hex::encode(ledger.tip_hash)
            ));
        }
        if header.parent_state_root != self.tip_root {
            return Err(format!(
                "parent state root {} but this replica's state after block {} has root {}",
                hex::encode(header.parent_state_root),
                ledger.state.height,
                hex::encode(self.tip_root)
            ));
        }
        Ok(())
    }

    /// Decodes the block's transactions strictly and checks their signatures.
    fn decode_and_verify(&self, block: &Block) -> Result<Vec<SignedTx>, String> {
        let max = self.shared.config.max_block_txs;
        if block.txs.len() > max {
            return Err(format!("{} transactions, at most {max}", block.txs.len()));
        }
        let bytes: usize = block.txs.iter().map(|t| t.tx.len() + 64).sum();
        if bytes > MAX_BLOCK_BYTES {
            return Err(format!("{bytes} bytes of transactions, at most {MAX_BLOCK_BYTES}"));
        }
        let mut txs = Vec::with_capacity(block.txs.len());
        for (i, t) in block.txs.iter().enumerate() {
            let tx = t.decode_tx().map_err(|e| format!("transaction {i} does not decode: {e}"))?;
            let signed = SignedTx { tx, signature: t.signature };
            self.shared.keys.verify(&signed, &self.shared.chain_id).map_err(|e| format!("transaction {i}: {e}"))?;
            txs.push(signed);
        }
        Ok(txs)
    }
}

impl Application for LedgerApp {
    fn last_decided_height(&self) -> Height {
        Height(self.shared.ledger.read().unwrap_or_else(|e| e.into_inner()).state.height)
    }

    fn build(&mut self, height: Height, _round: Round, proposer: ValidatorAddress) -> Block {
        let (parent_hash, parent_time) = {
            let ledger = self.shared.ledger.read().unwrap_or_else(|e| e.into_inner());
            (ledger.tip_hash, ledger.state.time)
        };
        let candidates =
            self.shared.mempool.lock().unwrap_or_else(|e| e.into_inner()).peek(self.shared.config.max_block_txs);
        let mut bytes = 0;
        let txs = candidates
            .iter()
            .map(tx_bytes)
            .take_while(|t| {
                bytes += t.tx.len() + 64;
                bytes <= MAX_BLOCK_BYTES
            })
            .collect();
        let time = (self.clock)().max(parent_time + 1);
        Block {
            header: BlockHeader { height, time, parent_hash, parent_state_root: self.tip_root, producer: proposer.0 },
            txs,
        }
    }

    fn validate(&self, block: &Block) -> Result<(), String> {
        self.check_parent(&block.header)?;
        let parent_time = self.shared.ledger.read().unwrap_or_else(|e| e.into_inner()).state.time;
        let time = block.header.time;
        if time <= parent_time {
            return Err(format!("time {time} is not after the parent's {parent_time}"));
        }
        let now = (self.clock)();
        if time > now.saturating_add(self.max_clock_drift) {
            return Err(format!(
                "time {time} is more than {} s ahead of this node's clock ({now})",
                self.max_clock_drift
            ));
        }
        self.decode_and_verify(block).map(|_| ())
    }

    fn commit(&mut self, block: &Block, certificate: &DecidedCertificate) -> Result<(), String> {
        let height = block.header.height.0;
        let tip = self.shared.ledger.read().unwrap_or_else(|e| e.into_inner()).state.height;
        if height <= tip {
            return Ok(());
        }
        // a decided block that does not extend this replica's state is a fork or a bug: stop
        self.check_parent(&block.header).map_err(|e| {
            format!("block {height} was decided but does not extend this replica ({e}): stopping, never forking")
        })?;
        let txs = self.decode_and_verify(block)?;
        let parent_state_root = block.header.parent_state_root;
        let decided = &block.txs;
        let stored = self
            .shared
            .commit_decided(Proposal { time: block.header.time, txs }, block.header.producer, |executed| {
                let included: Vec<_> = executed.txs.iter().map(tx_bytes).collect();
                let refused = refused_positions(decided, &included)
                    .into_iter()
                    .map(|i| (i, decided[i as usize].clone()))
                    .collect();
                DecidedRecord { parent_state_root, refused, certificate: certificate.clone() }.encode()
            })
            .map_err(|e| format!("block {height} was decided but cannot be committed: {e}"))?;
        self.tip_root = stored.state_root;
        let set = {
            let ledger = self.shared.ledger.read().unwrap_or_else(|e| e.into_inner());
            crate::election::validator_set_from_state(&ledger.state, &self.validators)
        };
        self.sets.insert(height + 1, set);
        while self.sets.len() > VALIDATOR_SETS_KEPT {
            self.sets.pop_first();
        }
        Ok(())
    }

    fn decided(&self, height: Height) -> Option<(Block, DecidedCertificate)> {
        let store = &self.shared.store;
        let stored = store.block(height.0).ok()??;
        let record = DecidedRecord::decode(&store.decided(height.0).ok()??).ok()?;
        let block = crate::record::rebuild(&stored, &record).ok()?;
        Some((block, record.certificate))
    }

    fn history_min_height(&self) -> Height {
        Height(self.shared.store.base_height() + 1)
    }

    /// The set of `height` ([`crate::election`]: the state after block `h` gives the set of
    /// `h + 1`): past the tip, the set from the current state (exact for the next height, a
    /// prediction beyond it: an epoch closing before then may change it); at or below the tip, the
    /// set kept for that height, `None` when it is no longer kept (or was before this start).
    fn validator_set(&self, height: Height) -> Option<ValidatorSet> {
        let (&next, set) = self.sets.last_key_value()?;
        if height.0 >= next { Some(set.clone()) } else { self.sets.get(&height.0).cloned() }
    }
}
