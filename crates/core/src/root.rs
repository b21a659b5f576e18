//! The canonical encoding of the whole state, its root, and the rewards Merkle tree (X2).
//!
//! The canonical encoding writes every field of every container, in the containers' deterministic
//! order, fixed-width little-endian. Two states are equal exactly when their encodings are, which
//! is how the tests check that a rejected transaction changed nothing.
//!
//! The state root commits to it in three parts, so that a block's root costs what the block
//! changed rather than what the state holds:
//! - the **accounts tree**: one leaf per account in creation order, leaf = blake3 of the
//!   account's record ([`State::account_record`]);
//! - the **machines tree**: likewise over machine records ([`State::machine_record`]);
//! - the **rest**: blake3 of everything else ([`State::encode_rest`]: pools, stake, jobs,
//!   proposals, the bridge, …, which scale with stakers and open jobs, not with the fleet). The
//!   bridge's outbound records with their published mint signatures, and its confirmed inbound
//!   deposits, which grow with its history, enter the rest as their counts and the roots of two
//!   more cached trees, one leaf per record or deposit ([`State::outbound_leaf`],
//!   [`State::inbound_leaf`]; written only when there is one, so a state without keeps its root).
//!
//! root = blake3("gridmint/state/v2" ‖ accounts_root ‖ account_count ‖ machines_root ‖
//! machine_count ‖ rest_hash). The trees keep every interior node ([`Commitment`]); the state's
//! record vectors are [`crate::tracked::Tracked`], which note every item written, and
//! [`State::state_root`] re-hashes only those leaves and their paths. [`State::full_state_root`]
//! recomputes everything and must agree (the invariant checks compare the two). An
//! [`AccountProof`] proves one account's record against a block's root.
//!
//! The three trees share one shape: an odd last node moves up unchanged. The state trees' node is
//! blake3 keyed with a fixed key over `left ‖ right` (64 bytes: one compression); the rewards
//! tree's node is blake3(0x01 ‖ left ‖ right), the published X2 format. The rewards tree has one leaf per account that ever earned rewards,
//! in address order: leaf = blake3("gridmint/reward-leaf" ‖ address ‖ rewards_total as u128 LE).
//! A proof is the list of siblings from the leaf up; anyone can check it against an epoch's root,
//! on any chain.

use crate::State;
use crate::tracked::Changed;
use gridmint_policy::Address;
use serde::{Deserialize, Serialize};

/// Receives canonical bytes (a hasher, or a `Vec` for byte comparison).
pub trait ByteSink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
}

impl ByteSink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// blake3 behind a 64 KiB buffer, so the hasher sees large chunks (its SIMD path).
struct BufferedHasher {
    hasher: blake3::Hasher,
    buffer: Vec<u8>,
}

impl ByteSink for BufferedHasher {
    fn put(&mut self, bytes: &[u8]) {
        if self.buffer.len() + bytes.len() > self.buffer.capacity() {
            self.hasher.update(&self.buffer);
            self.buffer.clear();
        }
        self.buffer.extend_from_slice(bytes);
    }
}

struct Out<'a, S: ByteSink>(&'a mut S);

impl<S: ByteSink> Out<'_, S> {
    fn u8(&mut self, v: u8) {
        self.0.put(&[v]);
    }
    fn u16(&mut self, v: u16) {
        self.0.put(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.put(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.put(&v.to_le_bytes());
    }
    fn u128(&mut self, v: u128) {
        self.0.put(&v.to_le_bytes());
    }
    fn len(&mut self, v: usize) {
        self.u64(v as u64);
    }
    fn bytes(&mut self, v: &[u8]) {
        self.0.put(v);
    }
    fn addr(&mut self, v: &Address) {
        self.0.put(&v.0);
    }
}

impl State {
    /// Writes the canonical encoding of the state: everything but the accounts and machines,
    /// then every account's record, then every machine's (the leaves of the two trees of the
    /// state root, see the module documentation).
    pub fn encode_canonical<S: ByteSink>(&self, sink: &mut S) {
        self.encode_parts(sink, true, None);
    }

    /// The canonical encoding without the account and machine records: what the state root
    /// hashes flat beside the two trees. The bridge's outbound records with their mint
    /// signatures, and its inbound entries, stand here as their counts and the roots of their
    /// own trees ([`State::outbound_leaf`], [`State::inbound_leaf`]), so the rest does not grow
    /// with the bridge's history.
    pub fn encode_rest<S: ByteSink>(&self, sink: &mut S) {
        self.encode_parts(sink, false, Some(self.full_bridge_roots()));
    }

    /// `bridge_roots`: `None` writes every outbound record, signature and inbound entry (the
    /// canonical bytes); `Some((outbound, inbound))` writes their counts and these roots instead
    /// (the rest the state root hashes).
    fn encode_parts<S: ByteSink>(&self, sink: &mut S, records: bool, bridge_roots: Option<BridgeRoots>) {
        // every field named: a field added to `State` fails to compile here until it is either
        // encoded or listed as not part of the state's meaning
        let State {
            policy,
            policy_log,
            policy_start_epoch,
            upgrades,
            genesis_time,
            epoch,
            height,
            time,
            cap,
            minted_total,
            burned_total,
            accounts: _,      // in account_record
            rewards: _,       // in account_record
            account_index: _, // derived: address -> position in `accounts`
            pools,
            machines: _,        // in machine_record
            machine_bucket: _,  // derived from the policy and each machine's class and tier
            online_slots: _,    // in machine_record
            forfeited: _,       // in machine_record
            accruing: _,        // bookkeeping: the settled totals below commit to it
            accruing_count: _,  // bookkeeping, as `accruing`
            machines_cold: _,   // in machine_record
            machine_credit: _,  // encoded settled, as each machine's rewards total
            machine_claimed: _, // in machine_record
            reward_index: _,    // encoded settled, as each machine's rewards total
            owner_machines: _,  // derived from each machine's owner
            machine_index: _,   // derived: address -> machine
            heartbeat_dirty: _, // bookkeeping: the machines whose slot bits are set
            epoch_ai_tokens,
            epoch_compute_units,
            validators,
            positions,
            master_nodes,
            unbonding,
            unbonding_seq,
            liquidity,
            jobs,
            closed_jobs,
            debts,
            proposals,
            next_proposal,
            bridge,
            receipts,
            base_fee,
            block_tx_count,
            block_producer: _, // a lookup cache within one block
            tally,
            weight_table: _,  // derived from the policy
            threads: _,       // how the close runs, not what it computes
            compute_roots: _, // likewise
            commitment: _,    // a cache of hashes of the records encoded here
        } = self;
        let mut o = Out(sink);
        o.bytes(b"gridmint/state/v2");
        o.bytes(&policy.hash());
        o.len(policy_log.len());
        for era in policy_log {
            o.u64(era.from_epoch);
            o.u32(era.version);
            o.bytes(&era.hash);
        }
        o.u64(*policy_start_epoch);
        o.len(upgrades.len());
        for (epoch, upgrade) in upgrades {
            o.u64(*epoch);
            o.bytes(&upgrade.policy.hash());
            o.u8(u8::from(upgrade.restart_pools));
        }
        for v in [*genesis_time, *epoch, *height, *time] {
            o.u64(v);
        }
        for v in [*cap, *minted_total, *burned_total, *base_fee] {
            o.u128(v);
        }
        o.u32(*block_tx_count);
        o.len(pools.len());
        for p in pools {
            o.bytes(p.name.as_bytes());
            o.u8(0);
            o.u128(p.balance);
            o.u128(p.released_total);
            o.u128(p.epoch_budget);
        }
        o.len(epoch_ai_tokens.len());
        for (m, t) in epoch_ai_tokens {
            o.u32(*m);
            o.u64(*t);
        }
        o.len(epoch_compute_units.len());
        for (m, u) in epoch_compute_units {
            o.u32(*m);
            o.u128(*u);
        }
        o.len(validators.len());
        for (address, v) in validators {
            o.addr(address);
            o.u32(v.operator);
            o.u128(v.active);
            o.u32(v.assigned);
            o.u32(v.correct);
        }
        o.len(positions.len());
        for ((validator, account), p) in positions {
            o.addr(validator);
            o.u32(*account);
            o.u128(p.active);
            o.u128(p.pending_in);
            o.u128(p.pending_out);
        }
        o.len(master_nodes.len());
        for m in master_nodes {
            o.addr(m);
        }
        o.len(unbonding.len());
        for ((epoch, seq), u) in unbonding {
            o.u64(*epoch);
            o.u64(*seq);
            o.u32(u.account);
            o.u128(u.amount);
            o.u128(u.burn);
        }
        o.u64(*unbonding_seq);
        o.len(liquidity.len());
        for (account, l) in liquidity {
            o.u32(*account);
            o.u128(l.active);
            o.u8(u8::from(l.pending.is_some()));
            o.u128(l.pending.unwrap_or(0));
            o.u64(l.registered_epoch);
        }
        o.len(jobs.len());
        for ((customer, id), job) in jobs {
            o.u32(*customer);
            o.u64(*id);
            o.u8(job.mode as u8);
            o.u128(job.price_per_gpu_second);
            o.u64(job.max_gpu_seconds);
            o.u64(job.used_gpu_seconds);
            o.u128(job.escrow);
            o.len(job.usage.len());
            for (m, s, t) in &job.usage {
                o.u32(*m);
                o.u64(*s);
                o.u64(*t);
            }
        }
        o.len(closed_jobs.len());
        for (customer, id) in closed_jobs {
            o.u32(*customer);
            o.u64(*id);
        }
        o.len(debts.len());
        for (account, amount) in debts {
            o.u32(*account);
            o.u128(*amount);
        }
        o.len(proposals.len());
        for (id, p) in proposals {
            o.u64(*id);
            o.u32(p.proposer);
            let mut action = crate::tx::Writer::default();
            crate::Tx { signer: Address::ZERO, nonce: 0, body: crate::TxBody::Propose { action: p.action.clone() } }
                .encode_into(&mut action);
            o.len(action.0.len());
            o.bytes(&action.0);
            o.u64(p.start_epoch);
            o.u64(p.end_epoch);
            o.u128(p.yes);
            o.u128(p.no);
            o.u128(p.quorum);
            o.len(p.weights.len());
            for w in &p.weights {
                o.u128(*w);
            }
            o.len(p.voters.len());
            for v in &p.voters {
                o.u32(*v);
            }
            o.u8(p.outcome.map_or(0, |outcome| outcome as u8 + 1));
        }
        o.u64(*next_proposal);
        let b = bridge;
        o.u128(b.escrow);
        o.len(b.outbound.len());
        match bridge_roots {
            // an empty bridge writes only its count, as before the tree
            Some((root, _)) if !b.outbound.is_empty() => o.bytes(&root),
            Some(_) => {}
            None => {
                for out in &b.outbound {
                    o.addr(&out.from);
                    o.u128(out.amount);
                    o.bytes(&out.recipient);
                    o.u64(out.epoch);
                }
            }
        }
        o.len(b.paid_deposits.len());
        // in the state root, the paid ids are those of the inbound entries (in their tree)
        if bridge_roots.is_none() {
            for d in &b.paid_deposits {
                o.u64(*d);
            }
        }
        o.len(b.attestations.len());
        for (claim, attesters) in &b.attestations {
            o.bytes(claim);
            o.len(attesters.len());
            for a in attesters {
                o.addr(a);
            }
        }
        o.u128(b.inbound_paid_epoch);
        o.u128(b.inbound_cap_epoch);
        o.len(receipts.len());
        for (id, r) in receipts {
            o.bytes(id);
            o.u32(r.machine);
            o.u128(r.compute_units);
            o.len(r.votes.len());
            for (v, vote) in &r.votes {
                o.addr(v);
                o.u8(match vote {
                    None => 0,
                    Some(false) => 1,
                    Some(true) => 2,
                });
            }
            o.u8(r.status as u8);
            o.u64(r.epoch);
        }
        o.u128(tally.minted);
        o.u128(tally.burned);
        o.len(tally.released.len());
        for r in &tally.released {
            o.u128(*r);
        }
        if records {
            o.len(self.accounts.len());
            for id in 0..self.accounts.len() {
                o.bytes(&self.account_record(id));
            }
            o.len(self.machines.len());
            for id in 0..self.machines.len() {
                o.bytes(&self.machine_record(id));
            }
        }
        // the inbound queue and the published mint signatures came later: they are written, at
        // the very end, only when there is one, so every state without them keeps its root
        let signatures_here = bridge_roots.is_none() && !b.mint_signatures.is_empty();
        if !b.inbound.is_empty() || signatures_here {
            o.bytes(b"bridge/v2");
            o.len(b.inbound.len());
            match bridge_roots {
                Some((_, root)) => o.bytes(&root),
                None => {
                    for i in &b.inbound {
                        o.u64(i.deposit_id);
                        o.addr(&i.recipient);
                        o.u128(i.amount);
                        o.u128(i.paid);
                        o.u64(i.epoch);
                    }
                }
            }
            o.u64(b.inbound_next);
            // in the state root, the signatures are in the outbound records' leaves
            if bridge_roots.is_none() {
                o.len(b.mint_signatures.len());
                for (record, signatures) in &b.mint_signatures {
                    o.u64(*record);
                    o.len(signatures.len());
                    for (member, signature) in signatures {
                        o.addr(member);
                        o.bytes(&signature.0);
                    }
                }
            }
        }
    }

    /// Outbound bridge record `id` with the committee's published mint signatures: `"gridmint/
    /// outbound" ‖ id u64 ‖ from ‖ amount u128 ‖ recipient (32 bytes) ‖ epoch u64 ‖ signature
    /// count u64 ‖ (member ‖ signature (65 bytes))*` in member order. Its leaf in the outbound
    /// tree is the blake3 of these bytes: a record or a signature added costs the root one path
    /// of that tree, whatever the bridge's history.
    pub fn outbound_leaf(&self, id: usize) -> Vec<u8> {
        let record = &self.bridge.outbound[id];
        let signatures = self.bridge.mint_signatures.get(&(id as u64));
        let mut bytes = Vec::with_capacity(17 + 8 + 20 + 16 + 32 + 8 + 8 + signatures.map_or(0, |s| s.len() * 85));
        let mut o = Out(&mut bytes);
        o.bytes(b"gridmint/outbound");
        o.u64(id as u64);
        o.addr(&record.from);
        o.u128(record.amount);
        o.bytes(&record.recipient);
        o.u64(record.epoch);
        o.len(signatures.map_or(0, std::collections::BTreeMap::len));
        for (member, signature) in signatures.into_iter().flatten() {
            o.addr(member);
            o.bytes(&signature.0);
        }
        bytes
    }

    /// Confirmed inbound deposit `i` (position in `Bridge::inbound`): `"gridmint/inbound" ‖ i u64 ‖
    /// deposit_id u64 ‖ recipient ‖ amount u128 ‖ paid u128 ‖ epoch u64`, a leaf of the inbound
    /// tree as [`State::outbound_leaf`] is of the outbound one.
    pub fn inbound_leaf(&self, i: usize) -> Vec<u8> {
        let entry = &self.bridge.inbound[i];
        let mut bytes = Vec::with_capacity(16 + 8 + 8 + 20 + 16 + 16 + 8);
        let mut o = Out(&mut bytes);
        o.bytes(b"gridmint/inbound");
        o.u64(i as u64);
        o.u64(entry.deposit_id);
        o.addr(&entry.recipient);
        o.u128(entry.amount);
        o.u128(entry.paid);
        o.u64(entry.epoch);
        bytes
    }

    /// The two bridge trees' roots computed from the records alone.
    fn full_bridge_roots(&self) -> BridgeRoots {
        (
            merkle_root(hash_each_index(self.bridge.outbound.len(), |i| blake3_of(&self.outbound_leaf(i)))),
            merkle_root(hash_each_index(self.bridge.inbound.len(), |i| blake3_of(&self.inbound_leaf(i)))),
        )
    }

    /// Notes that outbound record `id`'s signatures changed (for the cached outbound tree).
    pub(crate) fn outbound_signed(&mut self, id: u64) {
        self.commitment.outbound_signed.push(u32::try_from(id).unwrap_or(u32::MAX));
    }

    /// Notes that inbound entry `i` was paid (a part of) its amount (for the cached inbound tree).
    pub(crate) fn inbound_paid(&mut self, i: u64) {
        self.commitment.inbound_paid.push(u32::try_from(i).unwrap_or(u32::MAX));
    }

    /// An account's record: `"gridmint/account" ‖ address ‖ spendable ‖ unclaimed ‖ staked ‖
    /// unbonding ‖ escrowed ‖ rewards_total ‖ nonce` (amounts u128 LE, nonce u64 LE). Its leaf
    /// in the accounts tree is the blake3 of these bytes.
    pub fn account_record(&self, id: usize) -> [u8; ACCOUNT_RECORD] {
        let (a, r) = (&self.accounts[id], &self.rewards[id]);
        account_record_of(&a.address, [a.spendable, r.unclaimed, a.staked, a.unbonding, a.escrowed, r.total], a.nonce)
    }

    /// A machine's record: `"gridmint/machine" ‖ owner u32 ‖ online_slots u16 ‖ gpu_class ‖
    /// bandwidth_tier ‖ forfeited ‖ address ‖ bandwidth_mbps u32 ‖ bond u128 ‖ 5 slot words u64 ‖
    /// rewards_total u128 ‖ unclaimed u128`. Rewards are settled values (what a per-close credit
    /// would hold), so the root does not depend on when machines were last settled.
    pub fn machine_record(&self, id: usize) -> Vec<u8> {
        let (hot, cold) = (&self.machines[id], &self.machines_cold[id]);
        let reward = self.machine_rewards_total(id as u32);
        let unclaimed = reward - self.machine_claimed[id];
        let mut bytes = Vec::with_capacity(MACHINE_RECORD);
        let mut o = Out(&mut bytes);
        o.bytes(b"gridmint/machine");
        o.u32(hot.owner);
        o.u16(self.online_slots[id]);
        o.u8(hot.gpu_class);
        o.u8(hot.bandwidth_tier);
        o.u8(u8::from(crate::state::bit(&self.forfeited, id as u32)));
        o.addr(&cold.address);
        o.u32(cold.bandwidth_mbps);
        o.u128(cold.bond);
        for word in cold.slot_bits {
            o.u64(word);
        }
        o.u128(reward);
        o.u128(unclaimed);
        bytes
    }

    /// The canonical bytes (for tests that compare states byte for byte).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.encode_canonical(&mut bytes);
        bytes
    }

    /// The state root (see the module documentation), updated from what changed since it was
    /// last computed: the records written since then are re-hashed, and their paths up the two
    /// trees; the rest of the state is hashed flat.
    pub fn state_root(&mut self) -> [u8; 32] {
        self.update_commitment();
        let rest = self.rest_hash_with((self.commitment.outbound.root(), self.commitment.inbound.root()));
        let c = &self.commitment;
        let root =
            combine_root(&c.accounts.root(), self.accounts.len(), &c.machines.root(), self.machines.len(), &rest);
        self.commitment.last = Some((root, rest));
        root
    }

    /// The state root computed from nothing but the state, every record hashed: equal to
    /// [`State::state_root`] always (the invariant checks compare them).
    pub fn full_state_root(&self) -> [u8; 32] {
        let accounts = merkle_root(hash_each_index(self.accounts.len(), |i| blake3_of(&self.account_record(i))));
        let machines = merkle_root(hash_each_index(self.machines.len(), |i| blake3_of(&self.machine_record(i))));
        combine_root(&accounts, self.accounts.len(), &machines, self.machines.len(), &self.rest_hash())
    }

    /// blake3 of the rest with the bridge trees' roots given (cached or computed).
    fn rest_hash_with(&self, bridge_roots: BridgeRoots) -> [u8; 32] {
        let mut sink = BufferedHasher { hasher: blake3::Hasher::new(), buffer: Vec::with_capacity(1 << 16) };
        self.encode_parts(&mut sink, false, Some(bridge_roots));
        sink.hasher.update(&sink.buffer);
        *sink.hasher.finalize().as_bytes()
    }

    /// Whether the cached trees are up to date (no record written since the root was computed).
    pub fn commitment_is_current(&self) -> bool {
        !(self.accounts.is_changed()
            || self.rewards.is_changed()
            || self.machines.is_changed()
            || self.online_slots.is_changed()
            || self.forfeited.is_changed()
            || self.accruing.is_changed()
            || self.machines_cold.is_changed()
            || self.machine_credit.is_changed()
            || self.machine_claimed.is_changed()
            || self.reward_index.is_changed()
            || !self.commitment.outbound_signed.is_empty()
            || self.commitment.outbound.leaf_count() != self.bridge.outbound.len()
            || !self.commitment.inbound_paid.is_empty()
            || self.commitment.inbound.leaf_count() != self.bridge.inbound.len())
    }

    /// Folds every record written since the last call into the cached trees.
    fn update_commitment(&mut self) {
        let accounts = merge_changed([self.accounts.take_changed(), self.rewards.take_changed()], 1);
        let mut machines = merge_changed(
            [
                self.machines.take_changed(),
                self.online_slots.take_changed(),
                self.machines_cold.take_changed(),
                self.machine_credit.take_changed(),
                self.machine_claimed.take_changed(),
            ],
            1,
        );
        // bit sets: a word stands for 64 machines
        let words = merge_changed([self.forfeited.take_changed(), self.accruing.take_changed()], 64);
        machines = merge_two(machines, words, self.machines.len());
        // a bucket's running index is read by every machine of the bucket
        if self.reward_index.take_changed() != Changed::Some(vec![]) {
            machines = Changed::All;
        }
        let mut commitment = std::mem::take(&mut self.commitment);
        commitment.accounts.update(self.accounts.len(), accounts, |i| self.account_record(i));
        commitment.machines.update(self.machines.len(), machines, |i| self.machine_record(i));
        // the bridge trees: records and entries are only appended; an outbound record's leaf
        // changes when a member publishes its signature, an inbound entry's when it is paid
        let signed = std::mem::take(&mut commitment.outbound_signed);
        let outbound = appended_or(commitment.outbound.leaf_count(), self.bridge.outbound.len(), signed);
        commitment.outbound.update(self.bridge.outbound.len(), outbound, |i| self.outbound_leaf(i));
        let paid = std::mem::take(&mut commitment.inbound_paid);
        let inbound = appended_or(commitment.inbound.leaf_count(), self.bridge.inbound.len(), paid);
        commitment.inbound.update(self.bridge.inbound.len(), inbound, |i| self.inbound_leaf(i));
        self.commitment = commitment;
    }

    /// blake3 of [`State::encode_rest`].
    pub fn rest_hash(&self) -> [u8; 32] {
        let mut sink = BufferedHasher { hasher: blake3::Hasher::new(), buffer: Vec::with_capacity(1 << 16) };
        self.encode_rest(&mut sink);
        sink.hasher.update(&sink.buffer);
        *sink.hasher.finalize().as_bytes()
    }

    /// The root [`State::state_root`] last computed, when no record has been written since: what
    /// a reader holding `&State` can prove against. Free (a reader's request must not cost a
    /// hash of the state); the state must not have changed since, as in the node, which computes
    /// the root right after executing each block (debug builds check the rest of the state).
    pub fn current_state_root(&self) -> Option<[u8; 32]> {
        let (root, _) = self.current_commitment()?;
        Some(root)
    }

    /// The last computed (root, rest hash), when the trees are current.
    fn current_commitment(&self) -> Option<([u8; 32], [u8; 32])> {
        let last = self.commitment.last.filter(|_| self.commitment_is_current())?;
        debug_assert_eq!(last.1, self.rest_hash(), "the state changed after its root was computed");
        Some(last)
    }

    /// A proof of `address`'s account record against the state root, from the cached trees;
    /// `None` for an unknown account or when the trees are not current (compute the root first).
    pub fn account_proof(&self, address: &Address) -> Option<AccountProof> {
        let (_, rest_hash) = self.current_commitment()?;
        let id = *self.account_index.get(address)? as usize;
        let (a, r) = (&self.accounts[id], &self.rewards[id]);
        Some(AccountProof {
            address: *address,
            spendable: a.spendable,
            unclaimed: r.unclaimed,
            staked: a.staked,
            unbonding: a.unbonding,
            escrowed: a.escrowed,
            rewards_total: r.total,
            nonce: a.nonce,
            index: id as u64,
            leaf_count: self.accounts.len() as u64,
            siblings: self.commitment.accounts.path(id),
            machines_root: self.commitment.machines.root(),
            machine_count: self.machines.len() as u64,
            rest_hash,
        })
    }

    /// The rewarded accounts in address order: the rewards tree's leaves.
    pub fn reward_leaves(&self) -> Vec<(Address, u128)> {
        let machines = self.sum_by_owner(&self.machines_rewards_total());
        self.account_index
            .iter()
            .map(|(address, id)| (*address, self.rewards[*id as usize].total + machines[*id as usize]))
            .filter(|(_, total)| *total > 0)
            .collect()
    }

    /// The root of the rewards tree (X2); zero when nobody has earned.
    pub fn rewards_root(&self) -> [u8; 32] {
        rewards_root_of(&self.reward_leaves())
    }

    /// A proof of `address`'s cumulative rewards against [`State::rewards_root`].
    pub fn reward_proof(&self, address: &Address) -> Option<RewardProof> {
        reward_proof_in(&self.reward_leaves(), address)
    }
}

/// The rewards root (X2) of leaves in address order, as [`State::reward_leaves`] gives them.
pub fn rewards_root_of(leaves: &[(Address, u128)]) -> [u8; 32] {
    let hashes = hash_each(leaves, |(a, t)| reward_leaf(a, *t));
    merkle_levels(hashes).last().and_then(|top| top.first()).copied().unwrap_or([0; 32])
}

/// `f` of each item, in order; on the rayon pool when there are many (a million leaves take
/// a few hundred milliseconds on one core). The result does not depend on the thread count.
fn hash_each<T: Sync>(items: &[T], f: impl Fn(&T) -> [u8; 32] + Sync + Send) -> Vec<[u8; 32]> {
    use rayon::prelude::*;
    if items.len() < 1 << 12 { items.iter().map(f).collect() } else { items.par_iter().map(f).collect() }
}

/// A proof of `address`'s leaf among `leaves` (address order): how a node proves an epoch's
/// rewards from the leaves it stored at that epoch's close.
pub fn reward_proof_in(leaves: &[(Address, u128)], address: &Address) -> Option<RewardProof> {
    let index = leaves.binary_search_by(|(a, _)| a.cmp(address)).ok()?;
    let rewards_total = leaves[index].1;
    let hashes = hash_each(leaves, |(a, t)| reward_leaf(a, *t));
    let levels = merkle_levels(hashes);
    let mut siblings = Vec::new();
    let mut position = index;
    for level in &levels[..levels.len().saturating_sub(1)] {
        let sibling = position ^ 1;
        if let Some(hash) = level.get(sibling) {
            siblings.push(*hash);
        }
        position /= 2;
    }
    Some(RewardProof {
        address: *address,
        rewards_total,
        index: index as u64,
        leaf_count: leaves.len() as u64,
        siblings,
    })
}

/// The root of the rewards tree over one chunk of its leaves (in address order).
pub fn rewards_chunk_root(leaves: &[(Address, u128)]) -> [u8; 32] {
    rewards_root_of(leaves)
}

/// [`reward_proof_in`] from one chunk of the leaves and every chunk's root
/// ([`rewards_chunk_root`]): with chunks of `chunk_size` leaves, a power of two, each full
/// chunk is a whole subtree of the rewards tree and the last one is carried up unchanged, so the
/// proof is the path within the chunk followed by the path over the chunks' roots — the same
/// proof, without reading the other chunks. `None` when the address is not in the chunk, or the
/// shapes do not fit.
pub fn reward_proof_in_chunk(
    chunk: &[(Address, u128)],
    chunk_index: usize,
    chunk_size: usize,
    chunk_roots: &[[u8; 32]],
    leaf_count: u64,
    address: &Address,
) -> Option<RewardProof> {
    if !chunk_size.is_power_of_two() || chunk_index >= chunk_roots.len() || chunk.len() > chunk_size {
        return None;
    }
    let within = chunk.binary_search_by(|(a, _)| a.cmp(address)).ok()?;
    let mut siblings = Vec::new();
    for (levels, mut position) in [
        (merkle_levels(hash_each(chunk, |(a, t)| reward_leaf(a, *t))), within),
        (merkle_levels(chunk_roots.to_vec()), chunk_index),
    ] {
        for level in &levels[..levels.len().saturating_sub(1)] {
            if let Some(hash) = level.get(position ^ 1) {
                siblings.push(*hash);
            }
            position /= 2;
        }
    }
    Some(RewardProof {
        address: *address,
        rewards_total: chunk[within].1,
        index: (chunk_index * chunk_size + within) as u64,
        leaf_count,
        siblings,
    })
}

/// A Merkle proof of an account's cumulative rewards (X2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardProof {
    /// The account.
    pub address: Address,
    /// Its cumulative rewards.
    #[serde(with = "crate::serde_u128")]
    pub rewards_total: u128,
    /// Leaf position.
    pub index: u64,
    /// Number of leaves.
    pub leaf_count: u64,
    /// Siblings from the leaf up (levels where the node had none are skipped).
    #[serde(with = "hash_list")]
    pub siblings: Vec<[u8; 32]>,
}

mod hash_list {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(hex::encode))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .iter()
            .map(|t| {
                let mut out = [0u8; 32];
                hex::decode_to_slice(t, &mut out).map(|()| out).map_err(serde::de::Error::custom)
            })
            .collect()
    }
}

impl RewardProof {
    /// Recomputes the root from the proof; true when it equals `root`.
    pub fn verify(&self, root: &[u8; 32]) -> bool {
        fold_path(reward_leaf(&self.address, self.rewards_total), self.index, self.leaf_count, &self.siblings, node)
            .is_some_and(|top| &top == root)
    }
}

/// `blake3("gridmint/reward-leaf" ‖ address ‖ total_le)`, hashed in one call on the whole
/// message (a million leaves: the incremental hasher's bookkeeping costs more than it hashes).
fn reward_leaf(address: &Address, total: u128) -> [u8; 32] {
    const TAG: &[u8; 20] = b"gridmint/reward-leaf";
    let mut message = [0u8; 20 + 32 + 16];
    message[..20].copy_from_slice(TAG);
    message[20..52].copy_from_slice(&address.0);
    message[52..].copy_from_slice(&total.to_le_bytes());
    *blake3::hash(&message).as_bytes()
}

/// `blake3(0x01 ‖ left ‖ right)`, in one call.
fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut message = [1u8; 1 + 32 + 32];
    message[1..33].copy_from_slice(left);
    message[33..].copy_from_slice(right);
    *blake3::hash(&message).as_bytes()
}

/// How two children make their parent.
type NodeFn = fn(&[u8; 32], &[u8; 32]) -> [u8; 32];

/// The state trees' interior node: blake3 keyed with [`STATE_NODE_KEY`] over `left ‖ right`,
/// exactly 64 bytes, so one compression (the rewards tree's `0x01 ‖ left ‖ right` takes two). The
/// key separates nodes from leaves, which are unkeyed hashes of tagged records.
fn state_node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut message = [0u8; 64];
    message[..32].copy_from_slice(left);
    message[32..].copy_from_slice(right);
    *blake3::keyed_hash(&STATE_NODE_KEY, &message).as_bytes()
}

/// [`state_node`] of `left ‖ right` already side by side (the tree computes it many at a time,
/// [`state_nodes_of`]).
#[cfg(test)]
fn state_node_of(pair: &[u8; 64]) -> [u8; 32] {
    *blake3::keyed_hash(&STATE_NODE_KEY, pair).as_bytes()
}

/// The key of [`state_node`].
const STATE_NODE_KEY: [u8; 32] = *b"gridmint/state-tree/node/v1.....";

/// The BLAKE3 spec's domain flags that a one-block keyed hash sets (blake3's own constants are
/// private; these are fixed by the spec).
const BLAKE3_CHUNK_START: u8 = 1 << 0;
const BLAKE3_CHUNK_END: u8 = 1 << 1;
const BLAKE3_ROOT: u8 = 1 << 3;
const BLAKE3_KEYED_HASH: u8 = 1 << 4;

/// How many nodes [`state_nodes_of`] hands blake3 at once: AVX-512's 16 lanes.
const SIMD_NODES: usize = 16;

/// `out[i] = state_node_of(&pairs[i])`, the same bytes, computed [`SIMD_NODES`] at a time.
///
/// A node is one compression, and one at a time a compression uses one lane of the CPU's
/// vector unit (about 75 ns on the benchmark machine). blake3 hashes many equal-length inputs
/// in parallel lanes when it hashes a long input's chunks and parents (its `hash_many`, about
/// 13 ns a node with AVX-512, 6× less); it exposes that function as `platform::Platform::hash_many`,
/// which gridmint calls with the flags of a one-block keyed hash (chunk start, chunk end, root,
/// keyed), so each output is exactly `blake3::keyed_hash(STATE_NODE_KEY, pair)` — the tree, its
/// roots and proofs do not change, and `nodes_in_parallel_are_the_keyed_hash` checks it against
/// the scalar function. The API is public but hidden from blake3's docs, hence the exact
/// version pinned in the workspace's `Cargo.toml`.
fn state_nodes_of(pairs: &[[u8; 64]], out: &mut [[u8; 32]]) {
    assert_eq!(pairs.len(), out.len(), "one output per pair");
    let platform = blake3::platform::Platform::detect();
    let key = blake3::platform::words_from_le_bytes_32(&STATE_NODE_KEY);
    let none = [0u8; 64];
    for (pairs, out) in pairs.chunks(SIMD_NODES).zip(out.chunks_mut(SIMD_NODES)) {
        let mut inputs = [&none; SIMD_NODES];
        for (input, pair) in inputs.iter_mut().zip(pairs) {
            *input = pair;
        }
        platform.hash_many(
            &inputs[..pairs.len()],
            &key,
            0,
            blake3::IncrementCounter::No,
            BLAKE3_KEYED_HASH,
            BLAKE3_CHUNK_START,
            BLAKE3_CHUNK_END | BLAKE3_ROOT,
            out.as_flattened_mut(),
        );
    }
}

/// The state trees' levels over `leaves`, each level's nodes [`state_nodes_of`] on the rayon
/// pool (the same as `merkle_levels_with(leaves, state_node)`).
fn state_levels(leaves: Vec<[u8; 32]>) -> Vec<Vec<[u8; 32]>> {
    use rayon::prelude::*;
    let mut levels = vec![leaves];
    while let Some(below) = levels.last().filter(|l| l.len() > 1) {
        let full = below.len() / 2;
        let mut above = vec![[0u8; 32]; below.len().div_ceil(2)];
        let (pairs, _) = below[..2 * full].as_flattened().as_chunks::<64>();
        const PART: usize = 1 << 10;
        if full < 1 << 12 {
            state_nodes_of(pairs, &mut above[..full]);
        } else {
            above[..full]
                .par_chunks_mut(PART)
                .zip(pairs.par_chunks(PART))
                .for_each(|(out, pairs)| state_nodes_of(pairs, out));
        }
        if below.len() % 2 == 1 {
            above[full] = below[2 * full];
        }
        levels.push(above);
    }
    levels
}

fn merkle_levels(leaves: Vec<[u8; 32]>) -> Vec<Vec<[u8; 32]>> {
    merkle_levels_with(leaves, node)
}

fn merkle_levels_with(leaves: Vec<[u8; 32]>, node: NodeFn) -> Vec<Vec<[u8; 32]>> {
    let mut levels = vec![leaves];
    while levels.last().is_some_and(|l| l.len() > 1) {
        let below = levels.last().map(Vec::as_slice).unwrap_or_default();
        let pairs: Vec<&[[u8; 32]]> = below.chunks(2).collect();
        let above = hash_each(&pairs, |pair| if let [l, r] = pair { node(l, r) } else { pair[0] });
        levels.push(above);
    }
    levels
}

/// Bytes of an account record ([`State::account_record`]).
pub const ACCOUNT_RECORD: usize = 16 + 32 + 6 * 16 + 8;
/// Bytes of a machine record ([`State::machine_record`]).
pub const MACHINE_RECORD: usize = 16 + 4 + 2 + 3 + 32 + 4 + 16 + 5 * 8 + 2 * 16;

fn account_record_of(address: &Address, amounts: [u128; 6], nonce: u64) -> [u8; ACCOUNT_RECORD] {
    let mut bytes = [0u8; ACCOUNT_RECORD];
    bytes[..16].copy_from_slice(b"gridmint/account");
    bytes[16..48].copy_from_slice(&address.0);
    for (i, v) in amounts.iter().enumerate() {
        bytes[48 + 16 * i..64 + 16 * i].copy_from_slice(&v.to_le_bytes());
    }
    bytes[144..].copy_from_slice(&nonce.to_le_bytes());
    bytes
}

fn blake3_of(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

/// `blake3("gridmint/state/v2" ‖ accounts_root ‖ account_count u64 ‖ machines_root ‖
/// machine_count u64 ‖ rest_hash)`.
fn combine_root(
    accounts: &[u8; 32],
    account_count: usize,
    machines: &[u8; 32],
    machine_count: usize,
    rest: &[u8; 32],
) -> [u8; 32] {
    let mut message = Vec::with_capacity(17 + 32 + 8 + 32 + 8 + 32);
    message.extend_from_slice(b"gridmint/state/v2");
    message.extend_from_slice(accounts);
    message.extend_from_slice(&(account_count as u64).to_le_bytes());
    message.extend_from_slice(machines);
    message.extend_from_slice(&(machine_count as u64).to_le_bytes());
    message.extend_from_slice(rest);
    blake3_of(&message)
}

/// `f(i)` for `i` in `0..n`, on the rayon pool when there are many.
fn hash_each_index(n: usize, f: impl Fn(usize) -> [u8; 32] + Sync + Send) -> Vec<[u8; 32]> {
    use rayon::prelude::*;
    if n < 1 << 12 { (0..n).map(f).collect() } else { (0..n).into_par_iter().map(f).collect() }
}

fn merkle_root(leaves: Vec<[u8; 32]>) -> [u8; 32] {
    state_levels(leaves).last().and_then(|top| top.first()).copied().unwrap_or([0; 32])
}

/// The roots of the bridge's outbound and inbound trees.
type BridgeRoots = ([u8; 32], [u8; 32]);

/// What changed in an append-only list of `now` items whose tree holds `have` leaves: the items
/// `touched` since, and every one appended (everything, if the list is shorter than the tree).
fn appended_or(have: usize, now: usize, touched: Vec<u32>) -> Changed {
    if have > now {
        return Changed::All;
    }
    Changed::Some(touched.into_iter().filter(|&i| (i as usize) < now).chain(have as u32..now as u32).collect())
}

/// The union of what changed in vectors indexed alike.
fn merge_changed<const N: usize>(parts: [Changed; N], _stride: usize) -> Changed {
    let mut out = Vec::new();
    for part in parts {
        match part {
            Changed::All => return Changed::All,
            Changed::Some(indices) => out.extend(indices),
        }
    }
    Changed::Some(out)
}

/// `machines` with every machine of the changed 64-bit `words` added.
fn merge_two(machines: Changed, words: Changed, len: usize) -> Changed {
    match (machines, words) {
        (Changed::All, _) | (_, Changed::All) => Changed::All,
        (Changed::Some(mut m), Changed::Some(w)) => {
            for word in w {
                let start = word as usize * 64;
                m.extend((start..(start + 64).min(len)).map(|i| i as u32));
            }
            Changed::Some(m)
        }
    }
}

/// The cached trees of the state root: one over the account records, one over the machine
/// records, each leaf the blake3 of its record, in creation order (the order never changes:
/// accounts and machines are only appended).
#[derive(Debug, Clone, Default)]
pub struct Commitment {
    accounts: MerkleCache,
    machines: MerkleCache,
    /// The bridge's outbound records with their signatures ([`State::outbound_leaf`]).
    outbound: MerkleCache,
    /// Outbound records whose signatures changed since the tree was last updated.
    outbound_signed: Vec<u32>,
    /// The bridge's confirmed inbound deposits ([`State::inbound_leaf`]).
    inbound: MerkleCache,
    /// Inbound entries paid (in part) since the tree was last updated.
    inbound_paid: Vec<u32>,
    /// The last root computed and the rest hash it used.
    last: Option<([u8; 32], [u8; 32])>,
}

/// A cache: two states are equal whatever their caches hold.
impl PartialEq for Commitment {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Commitment {}

/// A binary Merkle tree with every level kept: `levels[0]` the leaf hashes, the last the root.
/// Node = blake3(0x01 ‖ left ‖ right); an odd last node moves up unchanged (as the rewards tree).
#[derive(Debug, Clone, Default)]
struct MerkleCache {
    levels: Vec<Vec<[u8; 32]>>,
}

impl MerkleCache {
    fn root(&self) -> [u8; 32] {
        self.levels.last().filter(|top| top.len() == 1).map_or([0; 32], |top| top[0])
    }

    fn leaf_count(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    /// Brings the tree to `len` leaves, re-hashing the `changed` ones (every new leaf must be
    /// among them) and the paths above them.
    ///
    /// The lowest [`SUBTREE_LEVELS`] levels are updated one subtree at a time
    /// ([`update_subtree`]): the changed leaves of each subtree, then its changed nodes level by
    /// level up to its root. The subtrees run in parallel when there are many changes (one
    /// fork-join for the whole update, rather than one per level); the few levels above are then
    /// updated once. The nodes computed are the same, so is the root.
    fn update<R: AsRef<[u8]>>(&mut self, len: usize, changed: Changed, record: impl Fn(usize) -> R + Sync + Send) {
        let dirty = match changed {
            Changed::All => {
                self.levels = state_levels(hash_each_index(len, |i| blake3_of(record(i).as_ref())));
                return;
            }
            Changed::Some(indices) => indices,
        };
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        debug_assert!(self.levels[0].len() <= len, "trees only grow");
        self.levels[0].resize(len, [0; 32]);
        // every level at its size: ceil(below / 2) nodes, up to the one root
        let mut top = 0;
        while self.levels[top].len() > 1 {
            let above = self.levels[top].len().div_ceil(2);
            if self.levels.len() == top + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[top + 1].resize(above, [0; 32]);
            top += 1;
        }
        self.levels.truncate(top + 1);
        if dirty.is_empty() {
            return;
        }
        // node p of level l covers leaves [p << l, (p + 1) << l), so cutting level l into runs of
        // 2^(low - l) nodes gives every subtree of height `low` its own part of each level
        let low = top.min(SUBTREE_LEVELS);
        let subtrees = len.div_ceil(1 << low);
        // the changed leaves grouped by subtree (each subtree sorts its own)
        let mut ends = vec![0usize; subtrees];
        for &d in &dirty {
            ends[d as usize >> low] += 1;
        }
        let mut total = 0;
        for end in &mut ends {
            total += *end;
            *end = total;
        }
        let mut grouped = vec![0u32; dirty.len()];
        for &d in dirty.iter().rev() {
            let end = &mut ends[d as usize >> low];
            *end -= 1;
            grouped[*end] = d;
        }
        let mut parts: Vec<_> =
            self.levels[..=low].iter_mut().enumerate().map(|(l, v)| v.chunks_mut(1 << (low - l))).collect();
        let mut jobs = Vec::new();
        let mut rest = grouped.as_mut_slice();
        for subtree in 0..subtrees {
            let levels: Vec<&mut [[u8; 32]]> = parts.iter_mut().map(|p| p.next().unwrap_or_default()).collect();
            let count = rest.iter().take_while(|&&d| d as usize >> low == subtree).count();
            let (leaves, after) = rest.split_at_mut(count);
            rest = after;
            if !leaves.is_empty() {
                jobs.push((subtree, leaves, levels));
            }
        }
        let run = |(subtree, leaves, mut levels): (usize, &mut [u32], Vec<&mut [[u8; 32]]>)| {
            update_subtree(&mut levels, subtree << low, leaves, &record);
            subtree as u32
        };
        let mut dirty: Vec<u32> = if dirty.len() < 1 << 12 {
            jobs.into_iter().map(run).collect()
        } else {
            use rayon::prelude::*;
            jobs.into_par_iter().map(run).collect()
        };
        for level in low + 1..=top {
            for d in &mut dirty {
                *d /= 2;
            }
            dirty.dedup();
            let (lower, upper) = self.levels.split_at_mut(level);
            let (below, above) = (&lower[level - 1], &mut upper[0]);
            set_each(above, &dirty, |p| parent_of(below, p));
        }
    }

    /// The siblings of leaf `index` from the bottom up (levels where it has none are skipped).
    fn path(&self, mut index: usize) -> Vec<[u8; 32]> {
        let mut siblings = Vec::new();
        for level in &self.levels[..self.levels.len().saturating_sub(1)] {
            if let Some(hash) = level.get(index ^ 1) {
                siblings.push(*hash);
            }
            index /= 2;
        }
        siblings
    }
}

/// Levels of the state trees updated one subtree at a time ([`MerkleCache::update`]): subtrees
/// of 2^14 leaves, half a megabyte of leaf hashes each.
const SUBTREE_LEVELS: usize = 14;

/// Node `p` of the level above `below`: its two children hashed, or an odd last child moved up.
fn parent_of(below: &[[u8; 32]], p: usize) -> [u8; 32] {
    if 2 * p + 1 < below.len() { state_node(&below[2 * p], &below[2 * p + 1]) } else { below[2 * p] }
}

/// How many nodes (or leaves) [`update_subtree`] reads before it hashes them: the reads of a
/// batch miss the cache together rather than one after another between hashes.
const BATCH: usize = 16;

/// One subtree's part of [`MerkleCache::update`]: `levels[l]` is the subtree's run of level `l`
/// (its leaves first, the last one its root), `first` its first leaf, `leaves` its changed
/// leaves (tree positions, in any order, possibly repeated), `record` a leaf's record by tree
/// position. Work goes in batches of [`BATCH`]: first every memory read of the batch (the lines
/// to be written, the records or the children), then the hashes, so the cache misses of a batch
/// overlap instead of each waiting behind the previous hash (about half of the update's time
/// before).
fn update_subtree<R: AsRef<[u8]>>(
    levels: &mut [&mut [[u8; 32]]],
    first: usize,
    leaves: &mut [u32],
    record: &impl Fn(usize) -> R,
) {
    leaves.sort_unstable();
    let mut dirty: Vec<usize> = leaves.iter().map(|&i| i as usize - first).collect();
    dirty.dedup();
    let mut records = Vec::with_capacity(BATCH);
    for batch in dirty.chunks(BATCH) {
        // read the lines about to be written (both ends: a hash may straddle two), then the
        // records, then hash
        let mut touch = 0u8;
        for &i in batch {
            touch ^= levels[0][i][0] ^ levels[0][i][31];
        }
        std::hint::black_box(touch);
        records.extend(batch.iter().map(|&i| record(first + i)));
        for (&i, r) in batch.iter().zip(&records) {
            levels[0][i] = blake3_of(r.as_ref());
        }
        records.clear();
    }
    let mut pairs = [[0u8; 64]; BATCH];
    let mut hashes = [[0u8; 32]; BATCH];
    for level in 1..levels.len() {
        dirty.dedup_by_key(|p| *p / 2);
        for p in &mut dirty {
            *p /= 2;
        }
        let (lower, upper) = levels.split_at_mut(level);
        let (below, above) = (&*lower[level - 1], &mut *upper[0]);
        for batch in dirty.chunks(BATCH) {
            // as for the leaves: the lines to be written, then the children side by side
            let mut touch = 0u8;
            for &p in batch {
                touch ^= above[p][0] ^ above[p][31];
            }
            std::hint::black_box(touch);
            for (pair, &p) in pairs.iter_mut().zip(batch) {
                pair[..32].copy_from_slice(&below[2 * p]);
                if let Some(right) = below.get(2 * p + 1) {
                    pair[32..].copy_from_slice(right);
                }
            }
            state_nodes_of(&pairs[..batch.len()], &mut hashes[..batch.len()]);
            for (hash, &p) in hashes.iter().zip(batch) {
                above[p] = if 2 * p + 1 < below.len() { *hash } else { below[2 * p] };
            }
        }
    }
}

/// `level[i] = f(i)` for every `i` of `indices`; on the rayon pool when there are many (a large
/// block's leaves and the nodes of its paths).
fn set_each(level: &mut [[u8; 32]], indices: &[u32], f: impl Fn(usize) -> [u8; 32] + Sync + Send) {
    if indices.len() < 1 << 12 {
        for &i in indices {
            level[i as usize] = f(i as usize);
        }
    } else {
        let hashes = hash_each(indices, |&i| f(i as usize));
        for (&i, hash) in indices.iter().zip(hashes) {
            level[i as usize] = hash;
        }
    }
}

/// Walks `siblings` up from `hash` at `index` among `count` leaves; the root, or `None` when the
/// proof's shape does not fit.
fn fold_path(mut hash: [u8; 32], index: u64, count: u64, siblings: &[[u8; 32]], node: NodeFn) -> Option<[u8; 32]> {
    if index >= count {
        return None;
    }
    let (mut position, mut count) = (index, count);
    let mut siblings = siblings.iter();
    while count > 1 {
        if position ^ 1 < count {
            let other = siblings.next()?;
            hash = if position % 2 == 0 { node(&hash, other) } else { node(other, &hash) };
        }
        position /= 2;
        count = count.div_ceil(2);
    }
    siblings.next().is_none().then_some(hash)
}

/// A proof of one account's record against a state root: the record's fields, its path up the
/// accounts tree, and the other three inputs of the root. Anyone can check it offline with
/// [`AccountProof::verify`] against a block's `state_root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountProof {
    /// The account.
    pub address: Address,
    /// Free to spend.
    #[serde(with = "crate::serde_u128")]
    pub spendable: u128,
    /// Rewards credited to the account itself and not yet claimed (its machines' are on the
    /// machine records).
    #[serde(with = "crate::serde_u128")]
    pub unclaimed: u128,
    /// Staked.
    #[serde(with = "crate::serde_u128")]
    pub staked: u128,
    /// Unbonding.
    #[serde(with = "crate::serde_u128")]
    pub unbonding: u128,
    /// In job escrow.
    #[serde(with = "crate::serde_u128")]
    pub escrowed: u128,
    /// Rewards ever credited to the account itself.
    #[serde(with = "crate::serde_u128")]
    pub rewards_total: u128,
    /// Its committed nonce.
    pub nonce: u64,
    /// Its position in the accounts tree (creation order).
    pub index: u64,
    /// Number of accounts.
    pub leaf_count: u64,
    /// Siblings from the leaf up (levels where the node had none are skipped).
    #[serde(with = "hash_list")]
    pub siblings: Vec<[u8; 32]>,
    /// The machines tree's root.
    #[serde(with = "hex_32")]
    pub machines_root: [u8; 32],
    /// Number of machines.
    pub machine_count: u64,
    /// The hash of the rest of the state.
    #[serde(with = "hex_32")]
    pub rest_hash: [u8; 32],
}

impl AccountProof {
    /// Recomputes the state root from the proof; true when it equals `root`.
    pub fn verify(&self, root: &[u8; 32]) -> bool {
        let record = account_record_of(
            &self.address,
            [self.spendable, self.unclaimed, self.staked, self.unbonding, self.escrowed, self.rewards_total],
            self.nonce,
        );
        let Some(accounts) = fold_path(blake3_of(&record), self.index, self.leaf_count, &self.siblings, state_node)
        else {
            return false;
        };
        let (Ok(accounts_len), Ok(machines_len)) =
            (usize::try_from(self.leaf_count), usize::try_from(self.machine_count))
        else {
            return false;
        };
        &combine_root(&accounts, accounts_len, &self.machines_root, machines_len, &self.rest_hash) == root
    }
}

mod hex_32 {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// The nodes hashed many at a time are, byte for byte, the keyed hash of each pair, for
    /// every count around the SIMD width (a partial group, one full, several); and the levels
    /// built with them are the scalar levels, odd counts included.
    #[test]
    fn nodes_in_parallel_are_the_keyed_hash() {
        let seed: u64 =
            std::env::var("GRIDMINT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| rand::rng().random());
        println!("seed {seed} (GRIDMINT_SEED={seed} replays it)");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for count in [0, 1, 2, 15, 16, 17, 31, 32, 33, 100] {
            let pairs: Vec<[u8; 64]> = (0..count).map(|_| rng.random()).collect();
            let mut out = vec![[0u8; 32]; count];
            state_nodes_of(&pairs, &mut out);
            for (pair, hash) in pairs.iter().zip(&out) {
                assert_eq!(*hash, *blake3::keyed_hash(&STATE_NODE_KEY, pair).as_bytes(), "count {count}");
                assert_eq!(*hash, state_node_of(pair));
                let (left, right) = pair.split_at(32);
                assert_eq!(*hash, state_node(left.try_into().unwrap(), right.try_into().unwrap()));
            }
        }
        for count in [1, 2, 3, 16, 33, 5_000, 10_001] {
            let leaves: Vec<[u8; 32]> = (0..count).map(|_| rng.random()).collect();
            assert_eq!(state_levels(leaves.clone()), merkle_levels_with(leaves, state_node), "{count} leaves");
        }
    }
}
