//! The ledger state and its genesis.
//!
//! Everything the rules read or write lives here, in deterministic containers only (`Vec` in
//! creation order, `BTreeMap` by key). Machines are stored by column where an epoch close reads
//! them: online slots (2 bytes a machine), forfeits and running accruals (a bit each); the
//! weight bucket (1 byte) and the credit (16 bytes) of the machines whose qualification changed;
//! then a record of fixed facts (owner, class, tier) and cold data touched only by transactions.

use crate::tracked::Tracked;
use gridmint_policy::{Address, Policy, PolicyError, Sink, format_tokens};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Index of an account in [`State::accounts`] (creation order).
pub type AccountId = u32;
/// Index of a machine in [`State::machines`] (registration order).
pub type MachineId = u32;
/// An epoch number, from 1 (G4).
pub type Epoch = u64;

/// An account's balances. Its rewards live apart, in [`State::rewards`] (same index).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The address.
    pub address: Address,
    /// Freely spendable.
    #[serde(with = "crate::serde_u128")]
    pub spendable: u128,
    /// Staked on validators, self-bonds and machine bonds.
    #[serde(with = "crate::serde_u128")]
    pub staked: u128,
    /// Unstaked, waiting for release.
    #[serde(with = "crate::serde_u128")]
    pub unbonding: u128,
    /// Escrowed for open jobs (NM8).
    #[serde(with = "crate::serde_u128")]
    pub escrowed: u128,
    /// Next nonce.
    pub nonce: u64,
}

/// An account's rewards, kept in a dense array of their own: the epoch close credits every
/// rewarded owner, and 32 bytes per account stream through the cache far faster than whole
/// account records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rewards {
    /// Accrued, not yet claimed (G11).
    #[serde(with = "crate::serde_u128")]
    pub unclaimed: u128,
    /// All rewards ever credited (the leaf value of the rewards root, X2).
    #[serde(with = "crate::serde_u128")]
    pub total: u128,
}

/// A supply bucket (G5, G6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// Name from the policy.
    pub name: std::sync::Arc<str>,
    /// Tokens held (locked and released-but-unpaid).
    pub balance: u128,
    /// Cumulative schedule releases and mints into this pool.
    pub released_total: u128,
    /// This epoch's release that a program may pay out (reset after step 3).
    pub epoch_budget: u128,
}

/// A machine's fixed facts (its online slots, forfeit, accrual and weight bucket live in columns
/// of their own, where the close reads them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MachineHot {
    /// Owning account.
    pub owner: AccountId,
    /// GPU class, 0-based.
    pub gpu_class: u8,
    /// Bandwidth tier index into the policy's tiers.
    pub bandwidth_tier: u8,
}

/// Whether bit `i` of a bitmap of machines (64 a word) is set.
#[inline]
pub fn bit(bits: &[u64], i: u32) -> bool {
    bits[(i / 64) as usize] >> (i % 64) & 1 != 0
}

/// The part of a machine only transactions touch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineCold {
    /// The machine's address.
    pub address: Address,
    /// Declared bandwidth.
    pub bandwidth_mbps: u32,
    /// Bond (counted in the owner's `staked`).
    pub bond: u128,
    /// Heartbeat slots marked this epoch.
    pub slot_bits: [u64; 5],
}

/// A stake position of one account on one validator (or [`Address::ZERO`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Stake that counted when this epoch began (G9).
    pub active: u128,
    /// Added this epoch; active from the next.
    pub pending_in: u128,
    /// Unstaked this epoch; still earns this epoch (G9), leaves at the boundary.
    pub pending_out: u128,
}

impl Position {
    /// What the position will hold after the boundary.
    pub fn effective(&self) -> u128 {
        self.active + self.pending_in - self.pending_out
    }
}

/// A validator ("Mind Node"), keyed by its operator's address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    /// The operator's account.
    pub operator: AccountId,
    /// Σ active stake of its positions.
    pub active: u128,
    /// Receipts assigned this epoch (OT4).
    pub assigned: u32,
    /// Attestations on the final side this epoch (OT5 bonus).
    pub correct: u32,
}

/// Tokens leaving stake at `release` epoch's close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unbonding {
    /// Owner.
    pub account: AccountId,
    /// Amount returned (after `burn`).
    pub amount: u128,
    /// Burned at release (fast withdrawal, OS7).
    pub burn: u128,
}

/// A liquidity position (NM11).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Liquidity {
    /// Counted this epoch.
    pub active: u128,
    /// Registered this epoch, counted from the next.
    pub pending: Option<u128>,
    /// Epoch of the last registration.
    pub registered_epoch: Epoch,
}

/// An open job (NM8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Mode.
    pub mode: crate::JobMode,
    /// Base units per GPU-second.
    pub price_per_gpu_second: u128,
    /// Budget.
    pub max_gpu_seconds: u64,
    /// Used so far.
    pub used_gpu_seconds: u64,
    /// Escrowed = price × max.
    pub escrow: u128,
    /// Usage per machine: (machine, gpu-seconds, AI tokens).
    pub usage: Vec<(MachineId, u64, u64)>,
}

/// Governance proposal (NM12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Proposer.
    pub proposer: AccountId,
    /// Action.
    #[serde(with = "action_bytes")]
    pub action: crate::ProposalAction,
    /// Created in this epoch.
    pub start_epoch: Epoch,
    /// Last voting epoch; executes at its close.
    pub end_epoch: Epoch,
    /// Yes weight.
    pub yes: u128,
    /// No weight.
    pub no: u128,
    /// Quorum needed (share of circulating at start).
    pub quorum: u128,
    /// Voting weight of each account at the start (spendable + staked), by account id.
    pub weights: Vec<u128>,
    /// Who voted.
    pub voters: BTreeSet<AccountId>,
    /// How it ended (None while voting).
    pub outcome: Option<ProposalOutcome>,
}

/// How a proposal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalOutcome {
    /// Passed and executed.
    Executed,
    /// Passed, but its action could not run (spend above the treasury, invalid change).
    FailedExecution,
    /// Quorum not reached.
    NoQuorum,
    /// Not more yes than no.
    Rejected,
}

/// An outbound bridge transfer for relayers (NM13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbound {
    /// Sender.
    pub from: Address,
    /// Amount.
    pub amount: u128,
    /// Recipient on the other chain.
    pub recipient: [u8; 32],
    /// Epoch it was sent.
    pub epoch: Epoch,
}

/// Bridge escrow and attestations (NM13, NM11).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bridge {
    /// Tokens held for the other chain.
    pub escrow: u128,
    /// Outbound records, by id (= position).
    pub outbound: Vec<Outbound>,
    /// Deposit ids already paid.
    pub paid_deposits: BTreeSet<u64>,
    /// Attesters per claim hash.
    pub attestations: BTreeMap<[u8; 32], BTreeSet<Address>>,
    /// Paid inbound this epoch.
    pub inbound_paid_epoch: u128,
    /// This epoch's inbound cap.
    pub inbound_cap_epoch: u128,
    /// Every confirmed deposit, in the order its threshold was reached: what it pays and what is
    /// paid of it so far. Those not fully paid wait, first confirmed first paid, for room under
    /// a later epoch's cap.
    pub inbound: Vec<Inbound>,
    /// Index in `inbound` of the first deposit not fully paid (every one before it is).
    pub inbound_next: u64,
    /// The committee's published signatures of each outbound record's mint on the other chain
    /// (`BridgeSign`), by record id, then member.
    pub mint_signatures: BTreeMap<u64, BTreeMap<Address, MintSignature>>,
}

/// A confirmed inbound deposit (NM13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    /// Deposit id on the other chain.
    pub deposit_id: u64,
    /// Recipient here.
    pub recipient: Address,
    /// What it pays.
    pub amount: u128,
    /// What it has paid so far (`amount` once settled).
    pub paid: u128,
    /// The epoch its threshold was reached.
    pub epoch: Epoch,
}

/// A 65-byte `r ‖ s ‖ v` signature as the state keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintSignature(#[serde(with = "crate::serde_u128::signature")] pub [u8; 65]);

/// A DualProof receipt's state (OT4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// Waiting for attestations.
    Pending,
    /// Accepted: its compute units earn mining rewards.
    Accepted,
    /// Rejected: the machine was slashed.
    Rejected,
}

/// A DualProof work receipt (OT3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkReceipt {
    /// The machine.
    pub machine: MachineId,
    /// Reference GPU-seconds.
    pub compute_units: u128,
    /// Assigned validators and their votes.
    pub votes: Vec<(Address, Option<bool>)>,
    /// Status.
    pub status: ReceiptStatus,
    /// Epoch submitted.
    pub epoch: Epoch,
}

/// A policy change scheduled for an epoch boundary (G12, N24-6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upgrade {
    /// The new policy.
    #[serde(with = "policy_text")]
    pub policy: Policy,
    /// Burn every pool's balance and mint the new policy's pools (N24-6), restarting schedules.
    pub restart_pools: bool,
}

/// One entry of the policy log: the version that ruled from `from_epoch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyEra {
    /// First epoch under this policy.
    pub from_epoch: Epoch,
    /// Policy name.
    pub name: String,
    /// Policy version.
    pub version: u32,
    /// blake3 of the policy's TOML.
    #[serde(with = "crate::serde_u128::hash")]
    pub hash: [u8; 32],
}

/// Per-epoch accumulators for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochTally {
    /// Minted this epoch.
    pub minted: u128,
    /// Burned this epoch.
    pub burned: u128,
    /// Released or minted into each pool this epoch (policy order).
    pub released: Vec<u128>,
}

/// The whole ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The ruling policy (shared: the close reads it while mutating the state).
    #[serde(with = "policy_text")]
    pub policy: std::sync::Arc<Policy>,
    /// Which policy ruled from which epoch (G12).
    pub policy_log: Vec<PolicyEra>,
    /// First epoch of the current policy's schedules.
    pub policy_start_epoch: Epoch,
    /// Upgrades by the first epoch they rule.
    pub upgrades: BTreeMap<Epoch, Upgrade>,
    /// Genesis time (s).
    pub genesis_time: u64,
    /// The open epoch.
    pub epoch: Epoch,
    /// Last applied block height (0 = genesis).
    pub height: u64,
    /// Last block time.
    pub time: u64,
    /// Cap (changes only with an upgrade that restarts pools).
    pub cap: u128,
    /// Minted since genesis.
    pub minted_total: u128,
    /// Burned since genesis.
    pub burned_total: u128,
    /// Accounts in creation order.
    pub accounts: Tracked<Account>,
    /// Rewards per account (same index as `accounts`).
    pub rewards: Tracked<Rewards>,
    /// Address → account.
    pub account_index: BTreeMap<Address, AccountId>,
    /// Pools in policy order.
    pub pools: Vec<Pool>,
    /// Per machine, its fixed facts (owner, class, tier).
    pub machines: Tracked<MachineHot>,
    /// Per machine, its index into the connection weight table: class × tiers + tier (derived
    /// from the policy).
    pub(crate) machine_bucket: Vec<u8>,
    /// Per machine, the slots marked online in the open epoch (NM6): one column, 2 bytes a
    /// machine, the first thing a close reads.
    pub online_slots: Tracked<u16>,
    /// Machines that forfeited this epoch's connection reward (NM9), a bit each (64 a word).
    pub(crate) forfeited: Tracked<u64>,
    /// Machines that qualified for the connection reward at the last close, a bit each: they
    /// accrue their bucket's share lazily (see [`State::machine_rewards_total`]). Set and cleared
    /// by the close and by policy changes only: clearing a bit elsewhere would drop the running
    /// accrual. Bookkeeping only: not part of the state root, which commits to settled values.
    pub(crate) accruing: Tracked<u64>,
    /// Per connection-weight bucket, how many machines have their `accruing` bit set: the close
    /// updates it by the machines whose qualification changed, never recounting the others.
    pub(crate) accruing_count: Vec<u64>,
    /// Cold machine data.
    pub machines_cold: Tracked<MachineCold>,
    /// Per machine, its credit: every amount credited to it, plus for each run of closes at which
    /// it qualified for the connection reward its bucket's `reward_index` at the run's end minus
    /// at its start (a run still going counts the current index as its end). One 16-byte value per
    /// machine, written only when its qualification changes; wrapping arithmetic (mid-run it may
    /// hold "minus the start index" mod 2^128, while the total it stands for is a true amount).
    /// Read it with [`State::machine_rewards_total`].
    pub(crate) machine_credit: Tracked<u128>,
    /// Per machine: its rewards total when its owner last claimed (G11); what it has not yet
    /// claimed is the difference (read it with [`State::machine_unclaimed`]).
    pub(crate) machine_claimed: Tracked<u128>,
    /// Per connection-weight bucket, the cumulative share one qualifying machine of the bucket
    /// earned over every close since the policy was installed (see `machine_credit`). Machine
    /// rewards accrue on the machine, as Helium's accrue per hotspot, and a claim sweeps the
    /// owner's machines.
    pub(crate) reward_index: Tracked<u128>,
    /// The machines of each owner, in registration order.
    pub owner_machines: BTreeMap<AccountId, Vec<MachineId>>,
    /// Address → machine.
    pub machine_index: BTreeMap<Address, MachineId>,
    /// Machines whose heartbeat bits must be cleared at the close.
    pub heartbeat_dirty: Vec<MachineId>,
    /// AI tokens of settled inference jobs this epoch, per machine (OS5).
    pub epoch_ai_tokens: BTreeMap<MachineId, u64>,
    /// Accepted compute units this epoch, per machine (OT5).
    pub epoch_compute_units: BTreeMap<MachineId, u128>,
    /// Validators by operator address.
    pub validators: BTreeMap<Address, Validator>,
    /// Stake positions by (validator or zero, account).
    pub positions: BTreeMap<(Address, AccountId), Position>,
    /// Master nodes (active set) for the open epoch, in election order.
    pub master_nodes: Vec<Address>,
    /// Unbonding entries by (release epoch, sequence).
    pub unbonding: BTreeMap<(Epoch, u64), Unbonding>,
    /// Next unbonding sequence number.
    pub unbonding_seq: u64,
    /// Liquidity positions (NM11).
    pub liquidity: BTreeMap<AccountId, Liquidity>,
    /// Open jobs by (customer, job id).
    pub jobs: BTreeMap<(AccountId, u64), Job>,
    /// Settled job ids (never reused).
    pub closed_jobs: BTreeSet<(AccountId, u64)>,
    /// Burn-and-mint debts, oldest first (OS4).
    pub debts: VecDeque<(AccountId, u128)>,
    /// Proposals by id.
    pub proposals: BTreeMap<u64, Proposal>,
    /// Next proposal id.
    pub next_proposal: u64,
    /// Bridge.
    pub bridge: Bridge,
    /// DualProof receipts by id.
    pub receipts: BTreeMap<[u8; 32], WorkReceipt>,
    /// Current EIP-1559 base fee (OT6).
    pub base_fee: u128,
    /// Fee-paying transactions in the current block.
    pub block_tx_count: u32,
    /// The current block's producer and its account, resolved once per block (a transfer then
    /// needs two account look-ups, not three).
    pub block_producer: Option<(Address, AccountId)>,
    /// This epoch's tallies.
    pub tally: EpochTally,
    /// Precomputed connection weight per (GPU class, bandwidth tier).
    pub weight_table: Vec<u64>,
    /// Threads the epoch close may use over machines (1 = none spawned). Not part of the state:
    /// the result is the same for any value.
    pub threads: usize,
    /// Whether the epoch close computes the state and rewards roots (a simulation may skip them
    /// until the end; the node never does).
    pub compute_roots: bool,
    /// The state root's cached trees (see [`crate::root`]): a cache, not part of the state (a
    /// snapshot leaves it out; the first root after loading one rebuilds it).
    #[serde(skip)]
    pub commitment: crate::root::Commitment,
}

impl State {
    /// The genesis state of `policy` (G1, NM1, OS1, OT2): genesis allocations minted spendable,
    /// pools minted with their genesis amounts.
    pub fn genesis(policy: Policy, genesis_time: u64) -> State {
        let mut state = State {
            policy_log: vec![],
            policy_start_epoch: 1,
            upgrades: BTreeMap::new(),
            genesis_time,
            epoch: 1,
            height: 0,
            time: genesis_time,
            cap: policy.token.cap.base_units(),
            minted_total: 0,
            burned_total: 0,
            accounts: Tracked::new(),
            rewards: Tracked::new(),
            account_index: BTreeMap::new(),
            pools: vec![],
            machines: Tracked::new(),
            machine_bucket: vec![],
            online_slots: Tracked::new(),
            forfeited: Tracked::new(),
            accruing: Tracked::new(),
            accruing_count: vec![],
            machines_cold: Tracked::new(),
            machine_credit: Tracked::new(),
            machine_claimed: Tracked::new(),
            reward_index: Tracked::new(),
            owner_machines: BTreeMap::new(),
            machine_index: BTreeMap::new(),
            heartbeat_dirty: vec![],
            epoch_ai_tokens: BTreeMap::new(),
            epoch_compute_units: BTreeMap::new(),
            validators: BTreeMap::new(),
            positions: BTreeMap::new(),
            master_nodes: vec![],
            unbonding: BTreeMap::new(),
            unbonding_seq: 0,
            liquidity: BTreeMap::new(),
            jobs: BTreeMap::new(),
            closed_jobs: BTreeSet::new(),
            debts: VecDeque::new(),
            proposals: BTreeMap::new(),
            next_proposal: 1,
            bridge: Bridge::default(),
            receipts: BTreeMap::new(),
            base_fee: 0,
            block_tx_count: 0,
            block_producer: None,
            tally: EpochTally::default(),
            weight_table: vec![],
            compute_roots: true,
            commitment: crate::root::Commitment::default(),
            threads: 1,
            policy: std::sync::Arc::new(policy),
        };
        for allocation in state.policy.genesis.clone() {
            let id = state.account_or_create(allocation.account);
            state.accounts[id as usize].spendable += allocation.amount.base_units();
            state.minted_total += allocation.amount.base_units();
        }
        state.install_policy(1, true);
        state
    }

    /// Makes `self.policy` rule from `from_epoch`: pools created or matched by name, derived
    /// tables rebuilt, the era logged.
    pub(crate) fn install_policy(&mut self, from_epoch: Epoch, mint_pools: bool) {
        // buckets and weights may change: settle every machine on the old ones first
        self.settle_all_machines();
        let mut pools = Vec::with_capacity(self.policy.pools.len());
        for params in &self.policy.pools {
            let existing = self.pools.iter().find(|p| *p.name == *params.name);
            pools.push(existing.cloned().unwrap_or(Pool {
                name: params.name.as_str().into(),
                balance: 0,
                released_total: 0,
                epoch_budget: 0,
            }));
        }
        let minted_now: u128 =
            if mint_pools { self.policy.pools.iter().map(|p| p.genesis.base_units()).sum() } else { 0 };
        // genesis, or a restart (N24-6), mints the pools' genesis amounts
        if mint_pools {
            for (pool, params) in pools.iter_mut().zip(&self.policy.pools) {
                pool.balance += params.genesis.base_units();
            }
            self.minted_total += minted_now;
        }
        // an upgrade is checked before it is installed (`check_upgrade_at_close`): it drops no
        // pool that holds tokens
        debug_assert!(
            self.pools.iter().all(|old| pools.iter().any(|p| p.name == old.name) || old.balance == 0),
            "a checked policy change drops no pool that still holds tokens"
        );
        self.pools = pools;
        self.tally.released.resize(self.pools.len(), 0);
        // tiers and buckets derive from the policy: a policy change re-derives them
        let tiers = self.policy.connection_reward.as_ref().map(|c| c.bandwidth_tiers.clone()).unwrap_or_default();
        for ((hot, cold), bucket) in
            self.machines.all_mut().iter_mut().zip(&self.machines_cold).zip(&mut self.machine_bucket)
        {
            hot.bandwidth_tier = tiers.iter().position(|t| cold.bandwidth_mbps >= t.min_mbps).unwrap_or(0) as u8;
            *bucket = (usize::from(hot.gpu_class) * tiers.len().max(1) + usize::from(hot.bandwidth_tier)) as u8;
        }
        self.weight_table = weight_table_of(&self.policy);
        // every machine is settled: the index starts over for the new buckets
        self.reward_index = vec![0; self.weight_table.len()].into();
        self.accruing_count = vec![0; self.weight_table.len()];

        if self.base_fee == 0 {
            self.base_fee = self.policy.gas.base_fee.as_ref().map_or(0, |b| b.initial.base_units());
        }
        for sink in self.policy.pools.iter().map(|p| p.release_to.clone()).collect::<Vec<_>>() {
            if let Sink::Account(address) = sink {
                self.account_or_create(address);
            }
        }
        if let Some(governance) = &self.policy.governance {
            let treasury = governance.treasury;
            self.account_or_create(treasury);
        }
        self.policy_log.push(PolicyEra {
            from_epoch,
            name: self.policy.name.clone(),
            version: self.policy.version,
            hash: self.policy.hash(),
        });
    }

    /// Everything account `id` holds: spendable + unclaimed (its own and its machines') + staked
    /// + unbonding + escrowed.
    pub fn holding(&self, id: AccountId) -> u128 {
        let a = &self.accounts[id as usize];
        a.spendable + self.unclaimed_of(id) + a.staked + a.unbonding + a.escrowed
    }

    /// Unclaimed rewards of account `id`: its own and its machines'.
    pub fn unclaimed_of(&self, id: AccountId) -> u128 {
        let machines: u128 =
            self.owner_machines.get(&id).map_or(0, |list| list.iter().map(|m| self.machine_unclaimed(*m)).sum());
        self.rewards[id as usize].unclaimed + machines
    }

    /// Cumulative rewards of account `id`: its own and its machines' (the X2 leaf value).
    pub fn rewards_total_of(&self, id: AccountId) -> u128 {
        let machines: u128 =
            self.owner_machines.get(&id).map_or(0, |list| list.iter().map(|m| self.machine_rewards_total(*m)).sum());
        self.rewards[id as usize].total + machines
    }

    /// Per account, the sum of `values` over the machines it owns: one sequential pass over the
    /// machines (for roots, invariants and reports over every account).
    pub fn sum_by_owner(&self, values: &[u128]) -> Vec<u128> {
        let mut sums = vec![0u128; self.accounts.len()];
        for (machine, value) in self.machines.iter().zip(values) {
            sums[machine.owner as usize] += value;
        }
        sums
    }

    /// Moves all of an account's machines' unclaimed rewards into its own unclaimed balance.
    pub(crate) fn sweep_machine_rewards(&mut self, id: AccountId) {
        let Some(list) = self.owner_machines.get(&id) else { return };
        let mut swept = 0;
        for &machine in list {
            let m = machine as usize;
            let total = self.machine_rewards_total(machine);
            swept += total - std::mem::replace(&mut self.machine_claimed[m], total);
        }
        self.rewards[id as usize].unclaimed += swept;
    }

    /// The unclaimed rewards of `address` (0 for an unknown address).
    pub fn unclaimed(&self, address: &Address) -> u128 {
        self.account_id(address).map_or(0, |id| self.unclaimed_of(id))
    }

    /// Rewards ever credited to `machine`: its credit plus, while it keeps qualifying, its
    /// bucket's current `reward_index` (the end of its running run). Exactly what crediting it at
    /// every close would have added, at no per-close cost.
    #[inline]
    pub fn machine_rewards_total(&self, machine: MachineId) -> u128 {
        let running = if bit(&self.accruing, machine) {
            self.reward_index[usize::from(self.machine_bucket[machine as usize])]
        } else {
            0
        };
        self.machine_credit[machine as usize].wrapping_add(running)
    }

    /// Rewards of `machine` not yet claimed by its owner.
    pub fn machine_unclaimed(&self, machine: MachineId) -> u128 {
        self.machine_rewards_total(machine) - self.machine_claimed[machine as usize]
    }

    /// [`State::machine_unclaimed`] of every machine, in registration order.
    pub fn machines_unclaimed(&self) -> Vec<u128> {
        (0..self.machines.len() as MachineId).map(|m| self.machine_unclaimed(m)).collect()
    }

    /// [`State::machine_rewards_total`] of every machine, in registration order.
    pub fn machines_rewards_total(&self) -> Vec<u128> {
        (0..self.machines.len() as MachineId).map(|m| self.machine_rewards_total(m)).collect()
    }

    /// Closes every running run at the current index (before buckets, weights and the index
    /// change, or the connection reward goes away): a machine that still qualifies at the next
    /// close starts a new run there, from the new index.
    fn settle_all_machines(&mut self) {
        for (w, word) in self.accruing.all_mut().iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let m = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let credit = &mut self.machine_credit[m];
                *credit = credit.wrapping_add(self.reward_index[usize::from(self.machine_bucket[m])]);
            }
        }
        self.accruing_count.iter_mut().for_each(|n| *n = 0);
    }

    /// Credits a machine's reward (to the machine; its owner claims it).
    #[inline]
    pub(crate) fn credit_machine(&mut self, machine: MachineId, amount: u128) {
        let credit = &mut self.machine_credit[machine as usize];
        *credit = credit.wrapping_add(amount);
    }

    /// The account id of `address`, if it exists.
    #[inline]
    pub fn account_id(&self, address: &Address) -> Option<AccountId> {
        self.account_index.get(address).copied()
    }

    /// The account of `address`, if it exists.
    pub fn account(&self, address: &Address) -> Option<&Account> {
        self.account_id(address).map(|id| &self.accounts[id as usize])
    }

    /// The account id of `address`, creating an empty account if needed.
    pub fn account_or_create(&mut self, address: Address) -> AccountId {
        if let Some(id) = self.account_index.get(&address) {
            return *id;
        }
        let id = AccountId::try_from(self.accounts.len()).unwrap_or_else(|_| panic!("more than 2^32 accounts"));
        self.accounts.push(Account { address, ..Account::default() });
        self.rewards.push(Rewards::default());
        self.account_index.insert(address, id);
        id
    }

    /// The machine id of `address`.
    pub fn machine_id(&self, address: &Address) -> Option<MachineId> {
        self.machine_index.get(address).copied()
    }

    /// The address of machine `id` (ids are given in registration order and never change).
    pub fn machine_address(&self, id: MachineId) -> Option<Address> {
        self.machines_cold.get(id as usize).map(|m| m.address)
    }

    /// A pool by name.
    pub fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools.iter().find(|p| &*p.name == name)
    }

    pub(crate) fn pool_index(&self, name: &str) -> usize {
        self.pools
            .iter()
            .position(|p| &*p.name == name)
            .unwrap_or_else(|| panic!("validated policy names pool `{name}`"))
    }

    /// Total supply = minted − burned (G8).
    pub fn total_supply(&self) -> u128 {
        self.minted_total - self.burned_total
    }

    /// Tokens held by pools.
    pub fn pools_total(&self) -> u128 {
        self.pools.iter().map(|p| p.balance).sum()
    }

    /// Circulating supply: total supply minus pools and the bridge escrow.
    pub fn circulating(&self) -> u128 {
        self.total_supply() - self.pools_total() - self.bridge.escrow
    }

    /// The epoch (1-based) of the current policy's schedules for ledger epoch `epoch`.
    pub fn local_epoch(&self, epoch: Epoch) -> Epoch {
        epoch + 1 - self.policy_start_epoch
    }

    /// First second after epoch `epoch` (G4).
    pub fn epoch_end_time(&self, epoch: Epoch) -> u64 {
        self.genesis_time + epoch * self.policy.epoch.seconds
    }

    /// Credits a reward to an account's unclaimed balance (G11) and its rewards total (X2).
    #[inline]
    pub(crate) fn credit_reward(&mut self, account: AccountId, amount: u128) {
        let rewards = &mut self.rewards[account as usize];
        rewards.unclaimed += amount;
        rewards.total += amount;
    }

    /// Burns from nowhere in particular: the caller has already removed `amount` from a balance.
    #[inline]
    pub(crate) fn record_burn(&mut self, amount: u128) {
        self.burned_total += amount;
        self.tally.burned += amount;
    }

    /// Mints: the caller adds `amount` to a balance.
    #[inline]
    pub(crate) fn record_mint(&mut self, amount: u128) {
        self.minted_total += amount;
        self.tally.minted += amount;
        assert!(self.total_supply() <= self.cap, "minting past the cap is a bug (G8)");
    }

    /// Voting and proposing weight: spendable + staked (NM12).
    pub fn voting_weight(&self, account: AccountId) -> u128 {
        let a = &self.accounts[account as usize];
        a.spendable + a.staked
    }

    /// Schedules a policy upgrade that rules from `epoch` (G12, N24-6), after checking it
    /// against the state it will meet ([`State::check_upgrade`]). A refused upgrade changes
    /// nothing. The close that would install it checks it again against the state it then meets
    /// and refuses it, keeping the old policy, when it has become invalid (see
    /// [`crate::epoch::RefusedUpgrade`]).
    pub fn schedule_upgrade(&mut self, epoch: Epoch, policy: Policy, restart_pools: bool) -> Result<(), UpgradeError> {
        self.check_upgrade(epoch, &policy, restart_pools)?;
        self.upgrades.insert(epoch, Upgrade { policy, restart_pools });
        Ok(())
    }

    /// Aggregated uptime for every machine at once (`slots[i]` for machine i), capped at the
    /// epoch's slots.
    pub fn set_all_online_slots(&mut self, slots: &[u16]) {
        let max = self.policy.slots_per_epoch() as u16;
        for (machine, value) in self.online_slots.all_mut().iter_mut().zip(slots) {
            *machine = (*value).min(max);
        }
    }

    /// Aggregated uptime for simulation: sets a machine's online slots for the open epoch (what
    /// the node derives from heartbeats).
    pub fn set_online_slots(&mut self, machine: MachineId, slots: u16) {
        let max = self.policy.slots_per_epoch() as u16;
        self.online_slots[machine as usize] = slots.min(max);
    }

    /// Whether `machine` forfeited this epoch's connection reward (NM9).
    pub fn machine_forfeited(&self, machine: MachineId) -> bool {
        bit(&self.forfeited, machine)
    }

    /// NM9: `machine` forfeits this epoch's connection reward (a failed job; simulations and
    /// tests may mark it directly). Cleared at the close.
    pub fn forfeit_connection_reward(&mut self, machine: MachineId) {
        self.forfeited[(machine / 64) as usize] |= 1 << (machine % 64);
    }
}

/// Why a policy upgrade was refused (G12), when it was scheduled ([`State::schedule_upgrade`])
/// or at the close that would have installed it ([`crate::epoch::RefusedUpgrade`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpgradeError {
    /// The policy itself is invalid.
    #[error("the upgrade's policy is invalid: {0}")]
    InvalidPolicy(PolicyError),
    /// The epoch is not after the open epoch (epoch 1 always belongs to the genesis policy).
    #[error(
        "an upgrade must rule from an epoch after the open epoch {open}, not from epoch {epoch} (the genesis policy rules epoch 1)"
    )]
    NotInFuture {
        /// The epoch asked for.
        epoch: Epoch,
        /// The open epoch.
        open: Epoch,
    },
    /// Another upgrade already rules from this epoch.
    #[error("an upgrade to `{name}` v{version} is already scheduled for epoch {epoch}: one upgrade per epoch")]
    AlreadyScheduled {
        /// The epoch.
        epoch: Epoch,
        /// The scheduled policy's name.
        name: String,
        /// Its version.
        version: u32,
    },
    /// The upgrade changes the epoch length (G4: epochs keep their length for a ledger's life;
    /// every epoch boundary is genesis + e·seconds).
    #[error("the upgrade changes epoch.seconds from {from} to {to}: an epoch's length never changes (G4)")]
    EpochLength {
        /// The ledger's epoch length.
        from: u64,
        /// The upgrade's.
        to: u64,
    },
    /// The new cap is below the total supply the upgrade would meet (G8: supply ≤ cap).
    #[error("the upgrade's token.cap {} is below the total supply {} it would meet (G8)", format_tokens(*.cap), format_tokens(*.supply))]
    CapBelowSupply {
        /// The new cap (base units).
        cap: u128,
        /// The supply (base units).
        supply: u128,
    },
    /// The upgrade leaves out a pool that still holds tokens (they would vanish).
    #[error("the upgrade drops pool `{pool}`, which would still hold {} tokens (restart_pools burns pools; a plain upgrade keeps them)", format_tokens(*.balance))]
    DropsFundedPool {
        /// The pool.
        pool: String,
        /// What it would hold (base units).
        balance: u128,
    },
    /// A pool's schedule would release more than the pool would hold.
    #[error("pool `{pool}`'s tranches would release {} tokens from the upgrade on, more than the {} it would hold", format_tokens(*.due), format_tokens(*.held))]
    ScheduleExceedsPool {
        /// The pool.
        pool: String,
        /// Still to release under the new policy from its first epoch (base units).
        due: u128,
        /// What the pool would hold (base units).
        held: u128,
    },
    /// A plain upgrade (no restart) adds a pool with a genesis amount: nothing would mint it.
    #[error("the upgrade adds pool `{pool}` with genesis {} tokens, which only a restart_pools upgrade mints", format_tokens(*.genesis))]
    NewPoolGenesis {
        /// The pool.
        pool: String,
        /// Its genesis amount (base units).
        genesis: u128,
    },
    /// Registered machines have a GPU class the new connection reward has no weight for.
    #[error(
        "registered machines have GPU class {class}, but the upgrade's connection_reward.gpu_weights has {classes} classes"
    )]
    MachineClass {
        /// The highest registered class (1-based).
        class: usize,
        /// The classes the upgrade weighs.
        classes: usize,
    },
}

impl State {
    /// Checks an upgrade that would rule from `epoch` against the state it will meet (G12):
    /// - always: the policy is valid; `epoch` is after the open epoch (so never epoch 1); no other
    ///   upgrade rules from `epoch`; the epoch length is unchanged (G4); every registered
    ///   machine's GPU class has a connection weight;
    /// - when no earlier upgrade is pending (otherwise the state it will meet depends on that
    ///   one, and the close decides): the checks of [`State::check_upgrade_at_close`] against the
    ///   pool balances projected to `epoch` by the ruling schedules (releases to accounts and
    ///   between pools; program payouts and emission are not forecast) and the current supply.
    pub fn check_upgrade(&self, epoch: Epoch, policy: &Policy, restart_pools: bool) -> Result<(), UpgradeError> {
        if epoch <= self.epoch {
            return Err(UpgradeError::NotInFuture { epoch, open: self.epoch });
        }
        if let Some(existing) = self.upgrades.get(&epoch) {
            return Err(UpgradeError::AlreadyScheduled {
                epoch,
                name: existing.policy.name.clone(),
                version: existing.policy.version,
            });
        }
        self.check_upgrade_static(policy)?;
        if self.upgrades.range(..epoch).next().is_some() {
            return Ok(());
        }
        let balances = self.projected_pool_balances(epoch);
        self.check_upgrade_against(epoch, policy, restart_pools, &balances, self.total_supply())
    }

    /// Checks an upgrade at the close that installs it, `epoch` being the first epoch it rules,
    /// against the state as it is then (after the close's payouts):
    /// - without `restart_pools`: the new `token.cap` is at least the total supply; no pool that
    ///   holds tokens is dropped; no new pool has a genesis amount (nothing would mint it); each
    ///   pool's tranches release from `epoch` on at most what the pool holds (the schedules keep
    ///   counting from the ledger's policy start);
    /// - with `restart_pools`: every pool is burned and the new ones minted, their schedules
    ///   starting over (the policy's own validation bounds them by their genesis amounts).
    pub fn check_upgrade_at_close(
        &self,
        epoch: Epoch,
        policy: &Policy,
        restart_pools: bool,
    ) -> Result<(), UpgradeError> {
        self.check_upgrade_static(policy)?;
        let balances: Vec<u128> = self.pools.iter().map(|p| p.balance).collect();
        self.check_upgrade_against(epoch, policy, restart_pools, &balances, self.total_supply())
    }

    /// The checks that do not depend on when the upgrade is installed.
    fn check_upgrade_static(&self, policy: &Policy) -> Result<(), UpgradeError> {
        policy.validate().map_err(UpgradeError::InvalidPolicy)?;
        if policy.epoch.seconds != self.policy.epoch.seconds {
            return Err(UpgradeError::EpochLength { from: self.policy.epoch.seconds, to: policy.epoch.seconds });
        }
        if let Some(connection) = &policy.connection_reward
            && let Some(class) = self.machines.iter().map(|m| usize::from(m.gpu_class) + 1).max()
            && class > connection.gpu_weights.len()
        {
            return Err(UpgradeError::MachineClass { class, classes: connection.gpu_weights.len() });
        }
        Ok(())
    }

    /// The checks against pool balances (`balances[i]` for `self.pools[i]`) and a supply.
    fn check_upgrade_against(
        &self,
        epoch: Epoch,
        policy: &Policy,
        restart_pools: bool,
        balances: &[u128],
        supply: u128,
    ) -> Result<(), UpgradeError> {
        if restart_pools {
            // every pool is burned; the new pools are minted at their genesis amounts, which the
            // policy's validation checked against their tranches, and the cap is derived from
            // the supply after the burn (see `install_upgrade`)
            return Ok(());
        }
        let cap = policy.token.cap.base_units();
        if cap < supply {
            return Err(UpgradeError::CapBelowSupply { cap, supply });
        }
        for (pool, balance) in self.pools.iter().zip(balances) {
            if *balance > 0 && policy.pool_index(&pool.name).is_none() {
                return Err(UpgradeError::DropsFundedPool { pool: pool.name.to_string(), balance: *balance });
            }
        }
        // the schedules keep counting from the ledger's policy start: the first local epoch
        // under the new policy is `local`
        let local = self.local_epoch(epoch);
        for params in &policy.pools {
            let existing = self.pools.iter().position(|p| *p.name == *params.name);
            if existing.is_none() && params.genesis.base_units() > 0 {
                return Err(UpgradeError::NewPoolGenesis {
                    pool: params.name.clone(),
                    genesis: params.genesis.base_units(),
                });
            }
            let held = existing.map_or(0, |i| balances[i]);
            let due: u128 = params
                .tranches
                .iter()
                .map(|t| t.amount.base_units() - crate::schedule::released_after(t, local - 1))
                .sum();
            if due > held {
                return Err(UpgradeError::ScheduleExceedsPool { pool: params.name.clone(), due, held });
            }
        }
        Ok(())
    }

    /// Each pool's balance when `epoch` begins (`epoch` > the open epoch), as far as the ruling
    /// schedules decide it: the tranches of the closes from the open epoch to `epoch` − 1 moved
    /// to accounts and between pools. Program payouts (which only lower a balance) and emission
    /// (which only raises one) are not forecast.
    fn projected_pool_balances(&self, epoch: Epoch) -> Vec<u128> {
        let (first, last) = (self.local_epoch(self.epoch), self.local_epoch(epoch - 1));
        let mut inflow = vec![0u128; self.pools.len()];
        let mut outflow = vec![0u128; self.pools.len()];
        for (index, params) in self.policy.pools.iter().enumerate() {
            let moved: u128 = params
                .tranches
                .iter()
                .map(|t| crate::schedule::released_after(t, last) - crate::schedule::released_after(t, first - 1))
                .sum();
            match &params.release_to {
                Sink::Account(_) => outflow[index] += moved,
                Sink::Pool(target) => {
                    outflow[index] += moved;
                    if let Some(target) = self.policy.pool_index(target) {
                        inflow[target] += moved;
                    }
                }
                Sink::Program | Sink::Hold => {}
            }
        }
        self.pools.iter().zip(inflow).zip(outflow).map(|((pool, i), o)| (pool.balance + i).saturating_sub(o)).collect()
    }
}

/// A policy in a snapshot: its TOML text (the policy's own format; a snapshot loads through the
/// same validation as a policy file, and the state root checks its hash).
mod policy_text {
    use super::Policy;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) trait Wrap: Sized {
        fn policy(&self) -> &Policy;
        fn wrap(policy: Policy) -> Self;
    }
    impl Wrap for Policy {
        fn policy(&self) -> &Policy {
            self
        }
        fn wrap(policy: Policy) -> Self {
            policy
        }
    }
    impl Wrap for std::sync::Arc<Policy> {
        fn policy(&self) -> &Policy {
            self
        }
        fn wrap(policy: Policy) -> Self {
            std::sync::Arc::new(policy)
        }
    }

    pub(super) fn serialize<S: Serializer, P: Wrap>(value: &P, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.policy().to_toml())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>, P: Wrap>(d: D) -> Result<P, D::Error> {
        let text = String::deserialize(d)?;
        Policy::from_toml(&text).map(P::wrap).map_err(serde::de::Error::custom)
    }
}

/// A proposal's action in a snapshot: its canonical transaction encoding (the JSON form is an
/// internally tagged enum, which binary formats cannot read back).
mod action_bytes {
    use crate::{ProposalAction, Tx, TxBody};
    use gridmint_policy::Address;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(action: &ProposalAction, s: S) -> Result<S::Ok, S::Error> {
        let tx = Tx { signer: Address::ZERO, nonce: 0, body: TxBody::Propose { action: action.clone() } };
        s.serialize_bytes(&tx.encode())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ProposalAction, D::Error> {
        let bytes = <Vec<u8>>::deserialize(d)?;
        match Tx::decode(&bytes).map_err(serde::de::Error::custom)?.body {
            TxBody::Propose { action } => Ok(action),
            _ => Err(serde::de::Error::custom("a proposal's action is not a proposal")),
        }
    }
}

/// The connection weight of each (GPU class, bandwidth tier) bucket under `policy`.
pub(crate) fn weight_table_of(policy: &Policy) -> Vec<u64> {
    match &policy.connection_reward {
        Some(connection) => {
            let mut table = Vec::new();
            for weight in &connection.gpu_weights {
                for tier in &connection.bandwidth_tiers {
                    table.push(weight * tier.factor_ppb);
                }
            }
            table
        }
        None => vec![],
    }
}
