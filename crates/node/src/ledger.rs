//! The ledger: the core's state, advanced one committed block at a time.
//!
//! Block ordering sits behind one narrow interface so that a consensus engine can drive it: a
//! [`Proposal`] (the producer's time and the ordered signed transactions) goes to
//! [`Ledger::commit`], which executes it deterministically, checks the invariants, and commits the
//! block, its receipts and any epoch records in one storage transaction. Today the single-node
//! producer in [`crate::node`] makes proposals from the mempool once per block interval; a BFT
//! engine would make them on its leader and call the same `commit` on every replica once decided.
//!
//! On open the ledger replays every stored block from genesis (RULES X4) and checks each block's
//! parent hash, receipts and state root against what was stored.

use crate::block::{StoredBlock, genesis_hash};
use crate::signing::SignedTx;
use crate::store::{BlockWrite, EpochWrite, Store, StoreError};
pub use gridmint_core::apply::{EpochRecord, ExplainMachine, ExplainRecord};
use gridmint_core::{Address, BlockError, Policy, Receipt, State, TxError};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// The genesis record: everything needed to rebuild the state at height 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The chain id every signature commits to.
    pub chain_id: String,
    /// Genesis time in seconds (epoch 1 starts here).
    pub genesis_time: u64,
    /// The policy, as TOML.
    pub policy: String,
    /// The block producer (paid the fees, NM14) of a single node's chain; on a replicated chain
    /// each block names its own (the proposer consensus selected).
    pub producer: Address,
    /// A replicated chain's genesis validators (empty: a single node's chain). Not written when
    /// empty, so a single node's genesis bytes, and its block 1's parent, stay as they were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validators: Vec<GenesisValidator>,
}

/// A validator of a replicated chain's genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// Its account and consensus key (an ed25519 public key).
    pub address: Address,
    /// Its voting power (the genesis set's; once the policy's election elects master nodes,
    /// their stake gives the power: `gridmint_network::election`).
    pub power: u64,
    /// Its self-bond at genesis (NM10), taken from its genesis allocation: with it the validator
    /// is registered and staked in the genesis state, and elected a master node from epoch 1.
    /// Not written when absent (no bond: not registered, as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bond: Option<gridmint_policy::Tokens>,
}

/// A ledger failure.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored genesis does not parse.
    #[error("the stored genesis is invalid: {0}")]
    BadGenesis(String),
    /// The data dir holds a different chain than the one asked for.
    #[error("data dir holds chain `{stored}` (policy `{stored_policy}`), not policy `{wanted}`")]
    WrongChain {
        /// Stored chain id.
        stored: String,
        /// Stored policy name.
        stored_policy: String,
        /// The policy asked for.
        wanted: String,
    },
    /// Replaying the stored blocks did not reproduce what was stored (X4).
    #[error("replay differs at block {height}: {what}")]
    ReplayMismatch {
        /// Block height.
        height: u64,
        /// What differed.
        what: String,
    },
    /// The proposal is not a valid next block.
    #[error(transparent)]
    Block(#[from] BlockError),
    /// A `gridmint snapshot import` into this data dir did not finish.
    #[error(
        "a snapshot import into {0} did not finish: run `gridmint snapshot import` again (a node started now would \
         begin a chain of its own from genesis)"
    )]
    IncompleteImport(std::path::PathBuf),
    /// The blocks a start needs were pruned from this data dir.
    #[error(
        "data dir {dir} is pruned: blocks 1..={base} are not stored, and {why} (start it from a snapshot of block \
         {base} or later: `gridmint snapshot import`; a full replay from genesis needs an archive node, \
         `gridmint node --archive`)"
    )]
    Pruned {
        /// The data dir.
        dir: std::path::PathBuf,
        /// The height blocks are pruned up to.
        base: u64,
        /// What was needed.
        why: String,
    },
    /// An invariant broke: the node stops rather than commit.
    #[error("invariant broken after block {height}: {what}")]
    Invariant {
        /// Block height.
        height: u64,
        /// Which invariant.
        what: String,
    },
    /// A commit failed after the state moved: the in-memory state is ahead of the store and the
    /// node must restart (it will replay to the last committed block).
    #[error("the ledger stopped after a failed commit; restart the node")]
    Halted,
}

/// What consensus (or the single-node producer) decides for the next block.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The producer's time; at least the previous block's.
    pub time: u64,
    /// Ordered, signature-checked candidate transactions: those the envelope refuses when the
    /// block executes are left out of it (G10).
    pub txs: Vec<SignedTx>,
}

/// A block executed by [`Ledger::execute_next`], not yet sealed.
#[derive(Debug)]
pub struct Executed {
    /// Its height.
    pub height: u64,
    /// Its time.
    pub time: u64,
    /// Its transactions.
    pub txs: Vec<SignedTx>,
    /// Their receipts.
    pub receipts: Vec<Receipt>,
    /// The epochs it closed.
    pub records: Vec<EpochRecord>,
    /// Proposed transactions the envelope refused (G10): not in the block, never stored.
    pub refused: Vec<(SignedTx, TxError)>,
    /// The state root after it (incremental: costs what the block changed).
    pub state_root: [u8; 32],
    /// Its producer (paid the fees, NM14).
    pub producer: Address,
    /// On a replicated node, what consensus decided beside the block (its commit certificate),
    /// stored in the same storage transaction; set by the caller before [`Ledger::seal`].
    pub decided: Option<Vec<u8>>,
}

/// How [`Ledger::open_from_snapshot`] opened a ledger.
#[derive(Debug, Default)]
pub struct Opened {
    /// The height of the snapshot it started from (`None`: from genesis).
    pub snapshot: Option<u64>,
    /// Snapshots it skipped, newest first, and why.
    pub skipped: Vec<(std::path::PathBuf, String)>,
}

/// The live ledger.
pub struct Ledger {
    /// The state after the last committed block.
    pub state: State,
    /// The store (shared with readers).
    pub store: Arc<Store>,
    /// The genesis.
    pub genesis: Genesis,
    /// Hash of the last committed block (the genesis hash at height 0).
    pub tip_hash: [u8; 32],
    halted: bool,
}

/// The state at height 0 of `genesis`: [`State::genesis`] of its policy, then (a replicated
/// chain) each genesis validator with a bond registered with it as its self-bond
/// ([`State::bond_genesis_validator`]) and the master nodes of epoch 1 elected among them. A
/// genesis without bonded validators (a single node's chain) gives exactly `State::genesis`.
pub fn genesis_state(genesis: &Genesis) -> Result<State, LedgerError> {
    let policy = genesis.parse_policy()?;
    let mut state = State::genesis(policy, genesis.genesis_time);
    let mut bonded = false;
    for validator in &genesis.validators {
        if let Some(bond) = validator.bond {
            state.bond_genesis_validator(validator.address, bond.base_units()).map_err(|e| {
                LedgerError::BadGenesis(format!(
                    "genesis validator {} cannot bond {} tokens: {e}",
                    validator.address,
                    gridmint_policy::format_tokens(bond.base_units())
                ))
            })?;
            bonded = true;
        }
    }
    if bonded {
        state.elect_genesis_master_nodes();
        state.check_invariants().map_err(|e| LedgerError::BadGenesis(format!("the genesis state: {e}")))?;
    }
    Ok(state)
}

impl Genesis {
    /// The policy of this genesis.
    pub fn parse_policy(&self) -> Result<Policy, LedgerError> {
        Policy::from_toml(&self.policy).map_err(|e| LedgerError::BadGenesis(e.to_string()))
    }

    /// The genesis record as the store holds it (its hash is block 1's parent).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("genesis serializes")
    }
}

impl Ledger {
    /// Creates a new ledger in `dir` from `genesis` (refused where a snapshot import did not
    /// finish: running it again finishes it).
    pub fn create(dir: &Path, genesis: Genesis) -> Result<Ledger, LedgerError> {
        if dir.join(crate::snapshots::IMPORT_MARKER).exists() {
            return Err(LedgerError::IncompleteImport(dir.into()));
        }
        Ledger::create_importing(dir, genesis)
    }

    /// [`Ledger::create`] for `gridmint snapshot import`, which writes its marker first.
    pub fn create_importing(dir: &Path, genesis: Genesis) -> Result<Ledger, LedgerError> {
        let state = genesis_state(&genesis)?;
        let store = Store::create(dir, &genesis.to_bytes())?;
        let tip_hash = genesis_hash(&genesis.to_bytes());
        Ok(Ledger { state, store: Arc::new(store), genesis, tip_hash, halted: false })
    }

    /// Opens the ledger in `dir` and replays it from genesis to its last committed block. With
    /// `audit`, every stored signature and the invariants after every block are checked again
    /// (the auditor's replay, `gridmint replay`).
    /// `progress` is called with (height, last height) as blocks replay.
    pub fn open(dir: &Path, audit: bool, progress: impl FnMut(u64, u64)) -> Result<Ledger, LedgerError> {
        let mut ledger = Ledger::open_at_genesis(dir)?;
        ledger.replay_to_tip(audit, progress)?;
        Ok(ledger)
    }

    /// Opens the ledger in `dir` from its newest snapshot that checks out (see
    /// [`crate::snapshots`]) and replays only the blocks after it; from genesis when there is
    /// none. Returns the ledger and how it was opened (the snapshots skipped, and why).
    pub fn open_from_snapshot(dir: &Path, mut progress: impl FnMut(u64, u64)) -> Result<(Ledger, Opened), LedgerError> {
        let mut ledger = Ledger::open_at_genesis(dir)?;
        let (genesis_state, genesis_tip) = (ledger.state.clone(), ledger.tip_hash);
        let last = ledger.store.last_height()?;
        let mut opened = Opened::default();
        let base = ledger.store.base_height();
        for (height, path) in crate::snapshots::list(&crate::snapshots::dir_of(dir)) {
            if height > last {
                opened.skipped.push((path, format!("it is past the last stored block {last}")));
                continue;
            }
            if height < base {
                opened.skipped.push((path, format!("the blocks after it were pruned (up to block {base})")));
                continue;
            }
            match crate::snapshots::load(&path, &ledger) {
                Ok((header, state)) => {
                    ledger.state = state;
                    ledger.tip_hash = header.block_hash(crate::block::BLOCK_HASH_DOMAIN);
                    // the blocks after it must replay from it; if not, an older start is tried
                    match ledger.replay_to_tip(false, &mut progress) {
                        Ok(()) => {
                            opened.snapshot = Some(height);
                            return Ok((ledger, opened));
                        }
                        // damage to the store is reported as such, not as a snapshot's problem
                        Err(LedgerError::Store(e)) if e.is_damage() => return Err(LedgerError::Store(e)),
                        Err(e) => {
                            opened.skipped.push((path, format!("the blocks after it do not replay from it: {e}")));
                            ledger.state = genesis_state.clone();
                            ledger.tip_hash = genesis_tip;
                        }
                    }
                }
                Err(crate::snapshots::Unusable::Store(e)) if e.is_damage() => return Err(e.into()),
                Err(why) => opened.skipped.push((path, why.to_string())),
            }
        }
        if base > 0 {
            let reasons: Vec<String> =
                opened.skipped.iter().map(|(path, why)| format!("{}: {why}", path.display())).collect();
            let why = if reasons.is_empty() {
                "it has no snapshot".to_string()
            } else {
                format!("no snapshot can start it ({})", reasons.join("; "))
            };
            return Err(LedgerError::Pruned { dir: dir.into(), base, why });
        }
        ledger.replay_to_tip(false, progress)?;
        Ok((ledger, opened))
    }

    /// The auditor's open (`gridmint replay`): from genesis on an archive store (as
    /// [`Ledger::open`] with `audit`); on a pruned one, from its oldest snapshot at or after its
    /// base that loads, every block after it re-verified (signatures, invariants, roots).
    /// Returns the ledger and the start the audit of the tables takes ([`crate::audit::audit_from`]):
    /// `None` for genesis, or the snapshot's state and block hash.
    #[allow(clippy::type_complexity)]
    pub fn open_for_audit(
        dir: &Path,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<(Ledger, Option<(State, [u8; 32])>), LedgerError> {
        let mut ledger = Ledger::open_at_genesis(dir)?;
        let base = ledger.store.base_height();
        if base == 0 {
            ledger.replay_to_tip(true, progress)?;
            return Ok((ledger, None));
        }
        let last = ledger.store.last_height()?;
        let mut skipped = Vec::new();
        let mut found = crate::snapshots::list(&crate::snapshots::dir_of(dir));
        found.reverse(); // oldest first: the longest stretch of blocks audited
        for (_, path) in found.into_iter().filter(|(h, _)| (base..=last).contains(h)) {
            match crate::snapshots::load(&path, &ledger) {
                Ok((header, state)) => {
                    let tip = header.block_hash(crate::block::BLOCK_HASH_DOMAIN);
                    let start = (state.clone(), tip);
                    ledger.state = state;
                    ledger.tip_hash = tip;
                    ledger.replay_to_tip(true, &mut progress)?;
                    return Ok((ledger, Some(start)));
                }
                Err(crate::snapshots::Unusable::Store(e)) if e.is_damage() => return Err(e.into()),
                Err(why) => skipped.push(format!("{}: {why}", path.display())),
            }
        }
        Err(LedgerError::Pruned {
            dir: dir.into(),
            base,
            why: if skipped.is_empty() {
                "it has no snapshot to audit from".into()
            } else {
                format!("no snapshot to audit from loads ({})", skipped.join("; "))
            },
        })
    }

    /// Opens the ledger in `dir` at its genesis state, replaying nothing (for tools that read
    /// the store or check a snapshot against it).
    pub fn open_at_genesis(dir: &Path) -> Result<Ledger, LedgerError> {
        if dir.join(crate::snapshots::IMPORT_MARKER).exists() {
            return Err(LedgerError::IncompleteImport(dir.into()));
        }
        Ledger::open_at_genesis_unchecked(dir)
    }

    /// [`Ledger::open_at_genesis`] whatever an interrupted import left (for the import that
    /// finishes it).
    pub fn open_at_genesis_unchecked(dir: &Path) -> Result<Ledger, LedgerError> {
        let (store, genesis_bytes) = Store::open(dir)?;
        let genesis: Genesis =
            serde_json::from_slice(&genesis_bytes).map_err(|e| LedgerError::BadGenesis(e.to_string()))?;
        Ok(Ledger {
            state: genesis_state(&genesis)?,
            tip_hash: genesis_hash(&genesis_bytes),
            store: Arc::new(store),
            genesis,
            halted: false,
        })
    }

    /// Replays the stored blocks after the state's height.
    fn replay_to_tip(&mut self, audit: bool, mut progress: impl FnMut(u64, u64)) -> Result<(), LedgerError> {
        let last = self.store.last_height()?;
        let base = self.store.base_height();
        if self.state.height < base {
            return Err(LedgerError::Pruned {
                dir: self.store.dir().into(),
                base,
                why: format!("replaying from block {} needs them", self.state.height),
            });
        }
        for height in self.state.height + 1..=last {
            let block = self.store.block(height)?.ok_or_else(|| LedgerError::ReplayMismatch {
                height,
                what: "the block is missing from the store".into(),
            })?;
            self.replay_block(&block, audit)?;
            progress(height, last);
        }
        // the trees current from the start, so that proofs are served at genesis too
        let _ = self.state.state_root();
        Ok(())
    }

    fn replay_block(&mut self, block: &StoredBlock, audit: bool) -> Result<(), LedgerError> {
        let height = block.height;
        let mismatch = |what: String| LedgerError::ReplayMismatch { height, what };
        if block.parent != self.tip_hash {
            return Err(mismatch("its parent hash is not the previous block's hash".into()));
        }
        if audit {
            for (index, tx) in block.txs.iter().enumerate() {
                tx.verify(&self.genesis.chain_id).map_err(|e| mismatch(format!("transaction {index}: {e}")))?;
            }
        }
        let (outcome, records) = self
            .state
            .execute_block(height, block.time, block.producer, &block.txs, true)
            .map_err(|e| mismatch(e.to_string()))?;
        let receipts = outcome.receipts;
        if receipts != block.receipts {
            let index = receipts.iter().zip(&block.receipts).position(|(a, b)| a != b).unwrap_or(receipts.len());
            return Err(mismatch(format!("receipt {index} differs")));
        }
        let closed: Vec<u64> = records.iter().map(|r| r.summary.epoch).collect();
        if closed != block.closed_epochs {
            return Err(mismatch(format!("closed epochs {closed:?}, stored {:?}", block.closed_epochs)));
        }
        if audit && let Err(what) = self.state.check_invariants() {
            return Err(mismatch(format!("invariant broken: {what}")));
        }
        let root = self.state.state_root();
        if root != block.state_root {
            return Err(mismatch(format!(
                "state root {} but the block stores {}",
                hex::encode(root),
                hex::encode(block.state_root)
            )));
        }
        self.tip_hash = block.hash();
        Ok(())
    }

    /// Executes `proposal` as the next block and commits it durably. On success the block is
    /// committed and every transaction in it is acknowledged.
    pub fn commit(&mut self, proposal: Proposal) -> Result<(StoredBlock, Vec<EpochRecord>), LedgerError> {
        let executed = self.execute_next(proposal)?;
        let (block, records) = self.seal(executed)?;
        self.finish(&block);
        Ok((block, records))
    }

    /// The first of a commit's three steps, the only one that changes the state: executes
    /// `proposal` as the next block. Until [`Ledger::finish`] the ledger is halted (a failure in
    /// between leaves it so, and a restart replays it to its last committed block).
    pub fn execute_next(&mut self, proposal: Proposal) -> Result<Executed, LedgerError> {
        let producer = self.genesis.producer;
        self.execute_next_by(proposal, producer)
    }

    /// [`Ledger::execute_next`] with the block's producer named (a replicated ledger: the
    /// proposer consensus selected; the single node's is the genesis producer). Candidates the
    /// envelope refuses are left out of the block, identically on every replica (G10).
    pub fn execute_next_by(&mut self, proposal: Proposal, producer: Address) -> Result<Executed, LedgerError> {
        if self.halted {
            return Err(LedgerError::Halted);
        }
        let height = self.state.height + 1;
        if proposal.time < self.state.time {
            return Err(BlockError::TimeWentBackwards { previous: self.state.time, got: proposal.time }.into());
        }
        // from here the state moves; any failure halts the ledger until a restart replays it
        self.halted = true;
        let built = self.state.build_block(height, proposal.time, producer, proposal.txs, true)?;
        let state_root = self.state.state_root();
        Ok(Executed {
            state_root,
            height,
            time: proposal.time,
            txs: built.included,
            receipts: built.receipts,
            records: built.records,
            refused: built.refused,
            producer,
            decided: None,
        })
    }

    /// The second step, reading the state only (the node runs it under a read lock, so that
    /// admission goes on meanwhile): checks the invariants and writes the
    /// block, its receipts and its epoch records in one storage transaction, durably.
    pub fn seal(&self, executed: Executed) -> Result<(StoredBlock, Vec<EpochRecord>), LedgerError> {
        let Executed { height, time, txs, receipts, records, refused: _, state_root, producer, decided } = executed;
        if height != self.state.height || !self.halted {
            return Err(LedgerError::Halted);
        }
        if let Err(what) = self.state.check_invariants() {
            return Err(LedgerError::Invariant { height, what });
        }
        let block = StoredBlock {
            height,
            time,
            parent: self.tip_hash,
            producer,
            state_root,
            txs,
            receipts,
            closed_epochs: records.iter().map(|r| r.summary.epoch).collect(),
        };
        // one encoding of an epoch's records, shared with the audit
        let epochs = records.iter().map(|r| EpochWrite::from_record(r, &self.state)).collect();
        let heartbeats = heartbeats_in(&self.state, &block);
        self.store.commit_block(&BlockWrite { block: &block, epochs, heartbeats, decided: decided.as_deref() })?;
        Ok((block, records))
    }

    /// The last step, once `block` is sealed: it becomes the tip and the ledger takes the next
    /// proposal.
    pub fn finish(&mut self, block: &StoredBlock) {
        debug_assert_eq!(block.height, self.state.height);
        self.tip_hash = block.hash();
        self.halted = false;
    }
}

/// The heartbeats `block` commits, by slot, with their machines' ids in `state` (machine ids
/// never change once given).
pub fn heartbeats_in(state: &State, block: &StoredBlock) -> Vec<(u64, Vec<u32>)> {
    let marks = block
        .txs
        .iter()
        .zip(&block.receipts)
        .filter(|(_, receipt)| receipt.code == 0)
        .filter_map(|(signed, _)| match signed.tx.body {
            gridmint_core::TxBody::Heartbeat { slot } => Some((slot, state.machine_id(&signed.tx.signer)?)),
            _ => None,
        })
        .collect();
    crate::store::heartbeats_of(marks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{dev_epochs, with_allocations};
    use crate::signing::{address_of, generate_key};
    use gridmint_policy::{GenesisAllocation, Tokens};

    fn genesis_of(policy: &Policy, validators: Vec<GenesisValidator>) -> Genesis {
        Genesis {
            chain_id: "election-test".into(),
            genesis_time: 1_000_000,
            policy: policy.to_toml(),
            producer: Address([3; 32]),
            validators,
        }
    }

    /// A genesis without validators, or with validators but no bonds, is `State::genesis`
    /// exactly: same state root (a single node's chain is unchanged by genesis bonding).
    #[test]
    fn a_genesis_without_bonds_is_the_plain_genesis_state() {
        let policy = Policy::preset("netmind").unwrap();
        let mut plain = State::genesis(policy.clone(), 1_000_000);
        let root = plain.state_root();
        assert_eq!(genesis_state(&genesis_of(&policy, vec![])).unwrap().state_root(), root);
        let unbonded = vec![GenesisValidator { address: address_of(&generate_key()), power: 1, bond: None }];
        let mut state = genesis_state(&genesis_of(&policy, unbonded)).unwrap();
        assert_eq!(state.state_root(), root);
        assert!(state.master_nodes.is_empty() && state.validators.is_empty());
        // the genesis bytes of a validator without a bond do not name one
        let g = genesis_of(&policy, vec![GenesisValidator { address: Address([1; 32]), power: 1, bond: None }]);
        assert!(!String::from_utf8(g.to_bytes()).unwrap().contains("\"bond\""));
    }

    /// Bonded genesis validators are the master nodes from height 1; the ledger's blocks, an epoch
    /// close among them, replay and audit from that genesis state; a bond the allocation cannot
    /// pay is a bad genesis.
    #[test]
    fn bonded_genesis_validators_are_master_nodes_from_the_start() {
        let keys: Vec<Address> = (0..3).map(|_| address_of(&generate_key())).collect();
        let allocations: Vec<_> =
            keys.iter().map(|a| GenesisAllocation { account: *a, amount: Tokens::whole(2_000) }).collect();
        let policy = dev_epochs(&Policy::preset("netmind").unwrap(), 60).unwrap();
        let policy = with_allocations(policy, &allocations, true).unwrap();
        let validators: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, a)| GenesisValidator { address: *a, power: 1, bond: Some(Tokens::whole(1_000 + i as u64)) })
            .collect();
        let genesis = genesis_of(&policy, validators.clone());
        let text = serde_json::to_string(&genesis).unwrap();
        assert_eq!(serde_json::from_str::<Genesis>(&text).unwrap(), genesis, "the bond round-trips");
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::create(dir.path(), genesis.clone()).unwrap();
        assert_eq!(ledger.state.master_nodes, vec![keys[2], keys[1], keys[0]]);
        ledger.state.check_invariants().unwrap();
        let start = ledger.state.time;
        for t in [start + 1, start + 2, start + 61] {
            ledger.commit(Proposal { time: t, txs: vec![] }).unwrap();
        }
        assert_eq!(ledger.state.epoch, 2);
        assert_eq!(ledger.state.master_nodes, vec![keys[2], keys[1], keys[0]]);
        let root = ledger.state.state_root();
        drop(ledger);
        let mut reopened = Ledger::open(dir.path(), true, |_, _| {}).unwrap();
        assert_eq!(reopened.state.state_root(), root);
        let audit = crate::audit::audit(&reopened.store, |_, _| {}).unwrap();
        assert!(audit.mismatches.is_empty(), "{:?}", audit.mismatches);

        let mut too_much = validators;
        too_much[0].bond = Some(Tokens::whole(2_001));
        assert!(matches!(genesis_state(&genesis_of(&policy, too_much)), Err(LedgerError::BadGenesis(_))));
    }
}
