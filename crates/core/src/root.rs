//! The canonical encoding of the whole state, its root, and the rewards Merkle tree (X2).
//!
//! The state root is blake3 over the canonical encoding: every field of every container, in the
//! containers' deterministic order, fixed-width little-endian. Two states are equal exactly when
//! their encodings are, which is how the tests check that a rejected transaction changed nothing.
//!
//! The rewards tree has one leaf per account that ever earned rewards, in address order:
//! leaf = blake3("gridmint/reward-leaf" ‖ address ‖ rewards_total as u128 LE),
//! node = blake3(0x01 ‖ left ‖ right); an odd last node moves up unchanged. A proof is the list of
//! siblings from the leaf up; anyone can check it against an epoch's root, on any chain.

use crate::State;
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
    /// Writes the canonical encoding of the state.
    pub fn encode_canonical<S: ByteSink>(&self, sink: &mut S) {
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
            accounts,
            rewards,
            account_index: _, // derived: address -> position in `accounts`
            pools,
            machines,
            machine_bucket: _, // derived from the policy and each machine's class and tier
            online_slots,
            forfeited,
            accruing: _,       // bookkeeping: the settled totals below commit to it
            accruing_count: _, // bookkeeping, as `accruing`
            machines_cold,
            machine_credit: _, // encoded settled, as each machine's rewards total
            machine_claimed,
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
        } = self;
        let mut o = Out(sink);
        o.bytes(b"gridmint/state/v1");
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
        o.len(accounts.len());
        for (a, r) in accounts.iter().zip(rewards) {
            o.addr(&a.address);
            for v in [a.spendable, r.unclaimed, a.staked, a.unbonding, a.escrowed, r.total] {
                o.u128(v);
            }
            o.u64(a.nonce);
        }
        o.len(pools.len());
        for p in pools {
            o.bytes(p.name.as_bytes());
            o.u8(0);
            o.u128(p.balance);
            o.u128(p.released_total);
            o.u128(p.epoch_budget);
        }
        o.len(machines.len());
        // settled values (what a per-close credit would hold), so the root does not depend on
        // when machines were last settled; the accruing bits are bookkeeping and left out
        for (id, (hot, cold)) in machines.iter().zip(machines_cold).enumerate() {
            let reward = self.machine_rewards_total(id as u32);
            let unclaimed = reward - machine_claimed[id];
            o.u32(hot.owner);
            o.u16(online_slots[id]);
            o.u8(hot.gpu_class);
            o.u8(hot.bandwidth_tier);
            o.u8(u8::from(crate::state::bit(forfeited, id as u32)));
            o.addr(&cold.address);
            o.u32(cold.bandwidth_mbps);
            o.u128(cold.bond);
            for word in cold.slot_bits {
                o.u64(word);
            }
            o.u128(reward);
            o.u128(unclaimed);
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
        for out in &b.outbound {
            o.addr(&out.from);
            o.u128(out.amount);
            o.bytes(&out.recipient);
            o.u64(out.epoch);
        }
        o.len(b.paid_deposits.len());
        for d in &b.paid_deposits {
            o.u64(*d);
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
    }

    /// The canonical bytes (for tests that compare states byte for byte).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.encode_canonical(&mut bytes);
        bytes
    }

    /// The state root: blake3 of the canonical encoding.
    pub fn state_root(&self) -> [u8; 32] {
        let mut sink = BufferedHasher { hasher: blake3::Hasher::new(), buffer: Vec::with_capacity(1 << 16) };
        self.encode_canonical(&mut sink);
        sink.hasher.update(&sink.buffer);
        *sink.hasher.finalize().as_bytes()
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
        if self.index >= self.leaf_count {
            return false;
        }
        let mut hash = reward_leaf(&self.address, self.rewards_total);
        let (mut position, mut count) = (self.index, self.leaf_count);
        let mut siblings = self.siblings.iter();
        while count > 1 {
            let sibling = position ^ 1;
            if sibling < count {
                let Some(other) = siblings.next() else {
                    return false;
                };
                hash = if position % 2 == 0 { node(&hash, other) } else { node(other, &hash) };
            }
            position /= 2;
            count = count.div_ceil(2);
        }
        siblings.next().is_none() && &hash == root
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

fn merkle_levels(leaves: Vec<[u8; 32]>) -> Vec<Vec<[u8; 32]>> {
    let mut levels = vec![leaves];
    while levels.last().is_some_and(|l| l.len() > 1) {
        let below = levels.last().map(Vec::as_slice).unwrap_or_default();
        let pairs: Vec<&[[u8; 32]]> = below.chunks(2).collect();
        let above = hash_each(&pairs, |pair| if let [l, r] = pair { node(l, r) } else { pair[0] });
        levels.push(above);
    }
    levels
}
