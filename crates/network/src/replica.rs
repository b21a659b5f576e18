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
//! - the time (milliseconds, so that a height may be shorter than a second) is strictly after
//!   the parent's; the ledger executes the block at its whole seconds, which therefore never go
//!   back, and several blocks may share a second;
//! - at most [`MAX_BLOCK_TXS`] transactions and [`MAX_BLOCK_BYTES`] bytes (rules of the chain,
//!   not a node's settings);
//! - every transaction decodes strictly, meets the cheap rules of [`Screen`] against the parent
//!   state (no duplicate, a known signer, consecutive nonces, the policy's per-block limit), and
//!   its signature verifies (the chain's rule, `gridmint_node::signing`: cofactored, checked in
//!   batches, the chain id in the signed bytes; not checked a second time when this node's
//!   mempool holds exactly those bytes and that signature, checked at admission: the same pure
//!   check of the same input);
//! - last, the time is at most `max_clock_drift_secs` ahead of its own clock: the one check
//!   that depends on the node. A block that fails only it gets a nil vote but is persisted, so a
//!   node whose clock is behind can still commit it once the others decide it; a block synced
//!   with its commit certificate is not held to it (`validate_decided`).
//!
//! The rest of the envelope (fees, balances) is not checked here: the block executes candidates
//! in order and leaves out those the envelope refuses, identically on every replica (G10), as the
//! single node does.

use crate::record::{DecidedRecord, refused_positions, tx_bytes};
use gridmint_consensus::app_channel::app::types::core::Round;
use gridmint_consensus::evidence::Statement;
use gridmint_consensus::{
    Application, Block, BlockHeader, DecidedCertificate, Equivocation, Height, ValidatorAddress, ValidatorSet,
};
use gridmint_node::evidence::{EvidenceRecord, SignedStatement};
use gridmint_node::node::{Shared, now_millis};
use gridmint_node::{Proposal, SignedTx};
use std::sync::Arc;

/// The most bytes of transactions in a block (its parts stream in 1 MiB chunks; value sync ships
/// it whole). A rule of the chain, the same on every node.
pub const MAX_BLOCK_BYTES: usize = 8 << 20;

/// The most transactions in a block: a rule of the chain, the same on every node (a node's
/// `--max-block-txs` is a single node's setting and is refused with `--config`).
pub const MAX_BLOCK_TXS: usize = 100_000;

/// Where a replica keeps the blocks consensus has not decided yet (its own proposals and the
/// blocks it called valid), so that a restart after a crash proposes the same block again and
/// can commit a block received before it: `data/consensus/undecided`.
pub fn undecided_dir(shared: &Shared) -> std::path::PathBuf {
    shared.store.dir().join("consensus").join("undecided")
}

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
    /// How far ahead of this node's clock a proposal's time may be (ms).
    max_clock_drift_ms: u64,
    /// The state root after the last committed block (the next header's parent state root).
    tip_root: [u8; 32],
    /// The last committed block's header time (ms) as far as this node knows it: the next
    /// header's must be later ([`TipTime`]).
    tip_time: TipTime,
    /// The clock (milliseconds since the Unix epoch); a test may set its own.
    clock: fn() -> u64,
    /// The last block this node built (proposed again in its later rounds of the same height).
    last_built: Option<Block>,
}

impl LedgerApp {
    /// The app over `shared`, with the genesis validator set; a proposal may be at most
    /// `max_clock_drift_secs` ahead of this node's clock.
    ///
    /// # Errors
    ///
    /// The tip's decided record does not decode: a store written by a gridmint whose headers
    /// carried whole seconds, or damaged.
    pub fn new(shared: Arc<Shared>, validators: ValidatorSet, max_clock_drift_secs: u64) -> Result<LedgerApp, String> {
        let (tip_root, tip, tip_second, set) = {
            let mut ledger = shared.ledger.write().unwrap_or_else(|e| e.into_inner());
            let set = crate::election::validator_set_from_state(&ledger.state, &validators);
            (ledger.state.state_root(), ledger.state.height, ledger.state.time, set)
        };
        let record = shared.store.decided(tip).map_err(|e| format!("the decided record of block {tip}: {e}"))?;
        let tip_time = match record {
            Some(bytes) => TipTime::exact(
                DecidedRecord::decode(&bytes)
                    .map_err(|e| {
                        format!(
                            "the decided record of block {tip}: {e} (a data dir of an older gridmint, whose headers \
                             carried whole seconds, cannot serve this chain: start this node from an empty data dir \
                             and it syncs)"
                        )
                    })?
                    .time_ms,
            ),
            None if tip == 0 => TipTime::exact(tip_second.saturating_mul(1000)),
            None => TipTime::within_second(tip_second),
        };
        let sets = std::collections::BTreeMap::from([(tip + 1, set)]);
        Ok(LedgerApp {
            shared,
            validators,
            sets,
            max_clock_drift_ms: max_clock_drift_secs.saturating_mul(1000),
            tip_root,
            tip_time,
            clock: now_millis,
            last_built: None,
        })
    }

    /// The shared node state.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Replaces the clock (milliseconds since the Unix epoch; tests).
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

    /// Every check of a block but the one on this node's clock: it extends this replica (height,
    /// parent hash and state root), its time is after the parent's, its candidates pass the
    /// screen and their signatures verify.
    fn check(&self, block: &Block) -> Result<(), String> {
        self.check_parent(&block.header)?;
        let time_ms = block.header.time_ms;
        if time_ms <= self.tip_time.earliest_ms {
            return Err(format!("time {time_ms} ms is not after the parent's {} ms", self.tip_time.earliest_ms));
        }
        let txs = Self::decode(block)?;
        {
            let ledger = self.shared.ledger.read().unwrap_or_else(|e| e.into_inner());
            let mut screen = Screen::at(time_ms / 1000);
            for (i, tx) in txs.iter().enumerate() {
                screen.admit(&ledger.state, tx).map_err(|e| format!("transaction {i}: {e}"))?;
            }
        }
        self.verify(&txs)?;
        Ok(())
    }

    /// Decodes the block's transactions strictly, within the chain's bounds.
    fn decode(block: &Block) -> Result<Vec<SignedTx>, String> {
        if block.txs.len() > MAX_BLOCK_TXS {
            return Err(format!("{} transactions, at most {MAX_BLOCK_TXS}", block.txs.len()));
        }
        let bytes: usize = block.txs.iter().map(|t| t.tx.len() + 64).sum();
        if bytes > MAX_BLOCK_BYTES {
            return Err(format!("{bytes} bytes of transactions, at most {MAX_BLOCK_BYTES}"));
        }
        block
            .txs
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let tx = t.decode_tx().map_err(|e| format!("transaction {i} does not decode: {e}"))?;
                Ok(SignedTx { tx, signature: t.signature })
            })
            .collect()
    }

    /// Checks every signature (the chain's rule, in batches, the chain id in the signed bytes),
    /// on every core, but those of the transactions this node's mempool holds with exactly the
    /// same bytes and signature, checked when admitted: the same check of the same input, so the
    /// result is the one a check here would give, on every replica whatever its mempool.
    fn verify(&self, txs: &[SignedTx]) -> Result<(), String> {
        let unchecked: Vec<(usize, SignedTx)> = {
            let mempool = self.shared.mempool.lock().unwrap_or_else(|e| e.into_inner());
            txs.iter().enumerate().filter(|(_, t)| !mempool.verified(t)).map(|(i, t)| (i, t.clone())).collect()
        };
        let (positions, unchecked): (Vec<usize>, Vec<SignedTx>) = unchecked.into_iter().unzip();
        // one batch check a group of 1,024 (on every core); a group that fails is searched for
        // its bad signature and the block is invalid: the groups after it need no check (a
        // proposer filling a block with bad signatures costs a replica at most one group's
        // search a thread)
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = unchecked.len().div_ceil(threads).max(64);
        let (keys, chain) = (&self.shared.keys, self.shared.chain_id.as_str());
        let failed = std::sync::atomic::AtomicBool::new(false);
        let first_bad = std::thread::scope(|scope| {
            let parts: Vec<_> = unchecked
                .chunks(chunk)
                .enumerate()
                .map(|(p, part)| {
                    let failed = &failed;
                    scope.spawn(move || {
                        for (g, group) in part.chunks(1024).enumerate() {
                            if failed.load(std::sync::atomic::Ordering::Relaxed) {
                                return None;
                            }
                            if gridmint_node::signing::all_valid(group, chain, keys).is_err() {
                                failed.store(true, std::sync::atomic::Ordering::Relaxed);
                                let results = gridmint_node::signing::search_failed(group, chain, keys);
                                let (i, e) =
                                    results.into_iter().enumerate().find_map(|(i, r)| r.err().map(|e| (i, e)))?;
                                return Some((p * chunk + g * 1024 + i, e.to_string()));
                            }
                        }
                        None
                    })
                })
                .collect();
            parts
                .into_iter()
                .map(|p| p.join().unwrap_or_else(|_| Some((0, "a signature check panicked".to_string()))))
                .find_map(|bad| bad)
        });
        match first_bad {
            None if !failed.into_inner() => Ok(()),
            None => Err("a signature does not verify".to_string()),
            Some((i, e)) => Err(format!("transaction {}: {e}", positions[i])),
        }
    }

    /// Each signature's check (the chain's rule: batches of at most 1,024, the same verdict as
    /// one by one), on every core.
    fn verify_each(&self, txs: &[SignedTx]) -> Vec<Result<(), String>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = txs.len().div_ceil(threads).max(64);
        let (keys, chain) = (&self.shared.keys, self.shared.chain_id.as_str());
        std::thread::scope(|scope| {
            let parts: Vec<_> = txs
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.chunks(1024)
                            .flat_map(|group| gridmint_node::signing::verify_batch(group, chain, keys))
                            .map(|r| r.map_err(|e| e.to_string()))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            parts
                .into_iter()
                .zip(txs.chunks(chunk))
                .flat_map(|(p, part)| {
                    // a part whose check panicked is refused whole, never taken as checked
                    p.join().unwrap_or_else(|_| vec![Err("a signature check panicked".to_string()); part.len()])
                })
                .collect()
        })
    }
}

/// What a replica knows of its tip's header time (ms). The ledger keeps only whole seconds, so at
/// start the milliseconds come from the tip's decided record (exact). A tip without one — a
/// snapshot this node started from, or a tip whose record was pruned — is known only to lie in
/// its second: this node builds after the last millisecond of that second (so its own proposal is
/// valid for everyone), and calls valid any time after the second's first millisecond (the real
/// parent's time is at or after it, so a block the others call valid is valid here too; and its
/// second is never before the parent's, which is all the ledger needs). Were it to refuse a
/// time in that second, the next block — synced with its certificate, often in the same second
/// with heights of half a second — would be invalid here for ever, and the node would stall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TipTime {
    /// A header's time must be greater than this to be valid here.
    earliest_ms: u64,
    /// This node's proposals take a time greater than this.
    latest_ms: u64,
}

impl TipTime {
    fn exact(ms: u64) -> TipTime {
        TipTime { earliest_ms: ms, latest_ms: ms }
    }

    fn within_second(second: u64) -> TipTime {
        let first = second.saturating_mul(1000);
        TipTime { earliest_ms: first, latest_ms: first.saturating_add(999) }
    }
}

/// The rules a block's candidates must meet against the parent state, besides their signatures:
/// each cheap, deterministic, and what lets a candidate be refused at execution for little more
/// than its own signer's doing. A proposer that breaks one would make every replica store and
/// check transactions that pay nothing (a candidate the envelope refuses is kept in the decided
/// record), so the block is invalid; [`LedgerApp::build`] proposes only candidates that meet
/// them. They are admission's envelope checks (`State::precheck_at`), chained per signer:
///
/// - not twice;
/// - a heartbeat: nonce 0, from a registered machine, for a slot current at the block's time
///   and of the parent's epoch, not marked in the parent state, and once per (machine, slot) in
///   the block (a heartbeat of the epoch a block opens waits for the next block);
/// - any other: from an existing account, with the next nonce (the account's, then one more for
///   each of its candidates before it), its fee and those of its candidates before it covered by
///   its spendable balance in the parent state (a claim's by what it claims too), within the
///   policy's per-block limit of paying transactions.
pub struct Screen {
    /// The block's time (a heartbeat's slot must be current at it).
    time: u64,
    ids: std::collections::BTreeSet<[u8; 32]>,
    /// Per signer: the nonce its next transaction in the block must carry, and the fees its
    /// candidates before it reserve.
    next: std::collections::BTreeMap<gridmint_core::Address, (u64, u128)>,
    /// Heartbeats taken, by (machine, slot).
    beats: std::collections::BTreeSet<(gridmint_core::Address, u64)>,
    /// Transactions that pay a fee (the policy's per-block limit counts them).
    paying: u32,
}

impl Screen {
    /// The screen of a block whose header time is `time`.
    pub fn at(time: u64) -> Screen {
        Screen { time, ids: Default::default(), next: Default::default(), beats: Default::default(), paying: 0 }
    }

    /// Whether `tx` may follow the candidates screened before it in a block on `state` (see the
    /// type's documentation).
    pub fn admit(&mut self, state: &gridmint_core::State, tx: &SignedTx) -> Result<(), String> {
        let id = tx.id();
        if self.ids.contains(&id) {
            return Err(format!("transaction {} twice", hex::encode(id)));
        }
        let signer = tx.tx.signer;
        if let gridmint_core::TxBody::Heartbeat { slot } = tx.tx.body {
            if state.machine_id(&signer).is_none() {
                return Err(format!("a heartbeat from {signer}, not a registered machine"));
            }
            state
                .precheck_at(&tx.tx, 0, 0, self.time)
                .map_err(|e| format!("a heartbeat from {signer} for slot {slot}: {e:?}"))?;
            if !self.beats.insert((signer, slot)) {
                return Err(format!("a second heartbeat from {signer} for slot {slot}"));
            }
        } else {
            let Some(account) = state.account(&signer) else {
                return Err(format!("a transaction from {signer}, which has no account"));
            };
            let (expected, reserved) = *self.next.get(&signer).unwrap_or(&(account.nonce, 0));
            if tx.tx.nonce != expected {
                return Err(format!("a transaction from {signer} with nonce {}, expected {expected}", tx.tx.nonce));
            }
            if let Some(base_fee) = &state.policy.gas.base_fee
                && self.paying >= base_fee.block_tx_limit
            {
                return Err(format!("more than the policy's {} paying transactions", base_fee.block_tx_limit));
            }
            state
                .precheck_at(&tx.tx, expected, reserved, self.time)
                .map_err(|e| format!("a transaction from {signer} with nonce {expected}: {e:?}"))?;
            let fee = state.current_fee();
            self.next.insert(signer, (expected + 1, reserved.saturating_add(fee)));
            self.paying += 1;
        }
        self.ids.insert(id);
        Ok(())
    }
}

impl Application for LedgerApp {
    fn last_decided_height(&self) -> Height {
        Height(self.shared.ledger.read().unwrap_or_else(|e| e.into_inner()).state.height)
    }

    fn build(&mut self, height: Height, _round: Round, proposer: ValidatorAddress) -> Block {
        // a stalled height (rounds without a quorum) proposes the same block again: one block
        // a height held and persisted, not one a round
        if let Some(block) = &self.last_built
            && block.header.height == height
            && block.header.producer == proposer.0
        {
            return block.clone();
        }
        let ledger = self.shared.ledger.read().unwrap_or_else(|e| e.into_inner());
        let parent_hash = ledger.tip_hash;
        let (mut candidates, unchecked) = {
            let mempool = self.shared.mempool.lock().unwrap_or_else(|e| e.into_inner());
            let candidates = mempool.peek(MAX_BLOCK_TXS);
            // the replicas check each signature: a candidate whose signature fails would make
            // every block holding it invalid, forever. Admission checks and records every one;
            // a transaction waiting without that record is checked here
            let unchecked: Vec<SignedTx> = candidates.iter().filter(|t| !mempool.verified(t)).cloned().collect();
            (candidates, unchecked)
        };
        let checks = self.verify_each(&unchecked);
        if checks.iter().any(Result::is_err) {
            let mut bad: Vec<[u8; 32]> =
                unchecked.iter().zip(&checks).filter(|(_, c)| c.is_err()).map(|(t, _)| t.id()).collect();
            bad.sort_unstable();
            self.shared.mempool.lock().unwrap_or_else(|e| e.into_inner()).remove(&bad);
            candidates.retain(|t| bad.binary_search(&t.id()).is_err());
        }
        let time_ms = (self.clock)().max(self.tip_time.latest_ms.saturating_add(1));
        let mut screen = Screen::at(time_ms / 1000);
        let mut bytes = 0;
        let mut txs = Vec::new();
        for candidate in &candidates {
            let size = candidate.tx.encode().len() + 64;
            if bytes + size > MAX_BLOCK_BYTES {
                break;
            }
            if screen.admit(&ledger.state, candidate).is_ok() {
                bytes += size;
                txs.push(tx_bytes(candidate));
            }
        }
        drop(ledger);
        let block = Block {
            header: BlockHeader {
                height,
                time_ms,
                parent_hash,
                parent_state_root: self.tip_root,
                producer: proposer.0,
            },
            txs,
        };
        self.last_built = Some(block.clone());
        block
    }

    fn validate(&self, block: &Block) -> Result<(), String> {
        self.check(block)?;
        // last, and the only check that depends on this node: a block valid but for being ahead
        // of this node's clock gets a nil vote, yet is kept (persisted), so that this node can
        // commit it if the others decide it (its clock is behind theirs)
        let (time_ms, now) = (block.header.time_ms, (self.clock)());
        if time_ms > now.saturating_add(self.max_clock_drift_ms) {
            let _ = crate::undecided::persist(&undecided_dir(&self.shared), None, block);
            return Err(format!(
                "time {time_ms} ms is more than {} ms ahead of this node's clock ({now} ms)",
                self.max_clock_drift_ms
            ));
        }
        Ok(())
    }

    /// A block synced with its commit certificate: every check but the clock's (the others'
    /// clocks decided it), so that a node whose clock is behind is not held at its height.
    fn validate_decided(&self, block: &Block) -> Result<(), String> {
        self.check(block)
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
        // decided by a quorum: checked already (its signatures by this node when it voted, or
        // synced under the validators' certificate); only decoded here
        let txs = Self::decode(block)?;
        let (parent_state_root, time_ms) = (block.header.parent_state_root, block.header.time_ms);
        let decided = &block.txs;
        let stored = self
            .shared
            .commit_decided(Proposal { time: block.header.time_ms / 1000, txs }, block.header.producer, |executed| {
                let included: Vec<_> = executed.txs.iter().map(tx_bytes).collect();
                let refused = refused_positions(decided, &included)
                    .into_iter()
                    .map(|i| (i, decided[i as usize].clone()))
                    .collect();
                DecidedRecord { parent_state_root, time_ms, refused, certificate: certificate.clone() }.encode()
            })
            .map_err(|e| format!("block {height} was decided but cannot be committed: {e}"))?;
        self.tip_root = stored.state_root;
        self.tip_time = TipTime::exact(time_ms);
        let set = {
            let ledger = self.shared.ledger.read().unwrap_or_else(|e| e.into_inner());
            crate::election::validator_set_from_state(&ledger.state, &self.validators)
        };
        show_set(&self.shared, &set);
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

    fn persist_block(&mut self, round: Option<Round>, block: &Block) -> Result<(), String> {
        crate::undecided::persist(&undecided_dir(&self.shared), round, block)
    }

    fn persisted_blocks(&self, height: Height) -> Vec<(Option<Round>, Block)> {
        crate::undecided::at_height(&undecided_dir(&self.shared), height)
    }

    fn forget_blocks_through(&mut self, height: Height) {
        crate::undecided::forget_through(&undecided_dir(&self.shared), height)
    }

    /// Stored in the node's `evidence` table ([`gridmint_node::evidence`]), served at
    /// `GET /v1/evidence`.
    fn record_evidence(&mut self, height: Height, evidence: Vec<Equivocation>) -> Result<(), String> {
        let records = evidence.iter().map(evidence_record).collect();
        self.shared.record_evidence(height.0, records).map(|_| ()).map_err(|e| e.to_string())
    }

    /// The set of `height` ([`crate::election`]: the state after block `h` gives the set of
    /// `h + 1`): for the next height, the set from the current state (exact); at or below the
    /// tip, the set kept for that height, `None` when it is no longer kept (or was before this
    /// start). Beyond the next height (only the assembler asks, for proposals that arrive
    /// early) a prediction, the next height's set, given only while the open epoch cannot close
    /// before then ([`PREDICTION_MARGIN_SECS`]): near a close, the election may change the set,
    /// and a stream authenticated against a wrong prediction would be refused for good, where
    /// `None` only defers it (a transient refusal).
    fn validator_set(&self, height: Height) -> Option<ValidatorSet> {
        let (&next, set) = self.sets.last_key_value()?;
        if height.0 == next {
            return Some(set.clone());
        }
        if height.0 < next {
            return self.sets.get(&height.0).cloned();
        }
        let end = {
            let ledger = self.shared.ledger.read().unwrap_or_else(|e| e.into_inner());
            ledger.state.epoch_end_time(ledger.state.epoch)
        };
        let horizon = (self.clock)()
            .saturating_add(self.max_clock_drift_ms)
            .div_ceil(1000)
            .saturating_add(PREDICTION_MARGIN_SECS);
        (end > horizon).then(|| set.clone())
    }
}

/// The validator set of the next height as `/v1/status` shows it (`consensus.validators`), and
/// this node's role in it (`validator` or `full_node`).
pub fn show_set(shared: &Shared, set: &ValidatorSet) {
    if let Some(view) = shared.consensus.write().unwrap_or_else(|e| e.into_inner()).as_mut() {
        view.validators = power_views(set);
        let member = view.validators.iter().any(|v| v.address == view.address);
        view.role = if member { "validator" } else { "full_node" }.to_string();
    }
}

/// Each validator of `set` with its power, in the set's order.
pub fn power_views(set: &ValidatorSet) -> Vec<gridmint_node::openapi::ValidatorPowerView> {
    set.validators()
        .iter()
        .map(|v| gridmint_node::openapi::ValidatorPowerView {
            address: v.address().0.to_hex(),
            power: v.voting_power(),
        })
        .collect()
}

/// How far past this node's clock (and the allowed drift) the open epoch must end for the set
/// of a height beyond the next one to be predicted: the blocks decided before that height are
/// proposed within a few seconds, each at most the drift ahead of the honest voters' clocks.
pub const PREDICTION_MARGIN_SECS: u64 = 10;

/// An equivocation as the node stores and serves it.
pub fn evidence_record(e: &Equivocation) -> EvidenceRecord {
    let statement = |s: &Statement| SignedStatement {
        value_id: s.value_id.map(|id| hex::encode(id.0)),
        pol_round: s.pol_round,
        signed_bytes: hex::encode(&s.signed_bytes),
        signature: hex::encode(s.signature),
    };
    EvidenceRecord {
        height: e.height.0,
        round: e.round,
        validator: hex::encode(e.validator.to_bytes()),
        step: e.step.name().to_string(),
        first: statement(&e.first),
        second: statement(&e.second),
    }
}
