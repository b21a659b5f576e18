//! Machines and the connection reward (NM6, NM7, NM9).
//!
//! A heartbeat marks its 300 s slot; online time = marked slots × 300 s; a machine qualifies with
//! ≥ `min_online_slots` (61: more than 5 h) and no forfeit (NM9). The epoch's release of the
//! mining pool is split pro rata to weight = GPU-class weight × bandwidth factor (ppb), rounding
//! down; dust, and the whole release when nobody qualifies, stay in the pool.
//!
//! This is the hottest loop of the ledger (a million machines per close): one pass over the
//! machines' online-slot column and forfeit and accrual bits, 64 machines to a word, visits only
//! the machines whose qualification changed, and no machine is credited one by one. Every
//! qualifying machine of a bucket earns the same exact share floor(budget·w/W)
//! ([`crate::math::ProRata`]), so the close adds it once to the bucket's cumulative
//! `reward_index` — the "reward per share" accumulator of staking contracts, exact to the unit.
//! A machine's credit changes only when its qualification does: a run of qualifying closes adds
//! its bucket's index at the run's end minus at its start (`State::machine_credit`).

use crate::epoch::ProgramPayout;
use crate::math::ProRata;
use crate::state::{Account, AccountId, MachineCold, MachineHot, MachineId, Rewards, bit};
use crate::{State, TxError};
use gridmint_policy::Address;
use std::collections::BTreeMap;

impl State {
    pub(crate) fn tx_register_machine(
        &mut self,
        owner: u32,
        available: u128,
        machine: Address,
        gpu_class: u8,
        bandwidth_mbps: u32,
        bond: u128,
    ) -> Result<(), TxError> {
        if self.machine_index.contains_key(&machine) {
            return Err(TxError::MachineExists);
        }
        if gpu_class == 0 || usize::from(gpu_class) > self.policy.gpu_classes() {
            return Err(TxError::InvalidGpuClass);
        }
        let bond_min = self.policy.dualproof.as_ref().map_or(0, |d| d.machine_bond_min.base_units());
        if bond < bond_min {
            return Err(TxError::MachineBondTooLow);
        }
        if bond > available {
            return Err(TxError::InsufficientBalance);
        }
        self.insert_machine(owner, machine, gpu_class, bandwidth_mbps, bond);
        Ok(())
    }

    /// Adds a machine outside a transaction, as part of a genesis fleet or a simulation's fleet
    /// (no fee, no bond). The node never calls this: its machines register by transaction.
    pub fn add_machine(
        &mut self,
        owner: Address,
        machine: Address,
        gpu_class: u8,
        bandwidth_mbps: u32,
    ) -> Result<u32, TxError> {
        if self.machine_index.contains_key(&machine) {
            return Err(TxError::MachineExists);
        }
        if gpu_class == 0 || usize::from(gpu_class) > self.policy.gpu_classes() {
            return Err(TxError::InvalidGpuClass);
        }
        let owner = self.account_or_create(owner);
        Ok(self.insert_machine(owner, machine, gpu_class, bandwidth_mbps, 0))
    }

    /// Adds a whole fleet outside transactions, all or nothing: the same state as
    /// [`State::add_machine`] for each machine in order (owners created in order of first
    /// appearance), in time linear in the fleet. `add_machine` costs an index search and an
    /// insertion per machine and per new owner; here the new addresses are sorted once, checked
    /// against the indexes by one merged walk, and a large fleet rebuilds each index in one go.
    pub fn add_machines(&mut self, fleet: &[FleetMachine]) -> Result<Vec<MachineId>, TxError> {
        let classes = self.policy.gpu_classes();
        if fleet.iter().any(|m| m.gpu_class == 0 || usize::from(m.gpu_class) > classes) {
            return Err(TxError::InvalidGpuClass);
        }
        let first = u32::try_from(self.machines.len() + fleet.len())
            .map(|end| end - fleet.len() as u32)
            .unwrap_or_else(|_| panic!("more than 2^32 machines"));
        // machines: new addresses sorted, distinct, and not yet registered
        let mut machines: Vec<(Address, MachineId)> =
            fleet.iter().zip(first..).map(|(m, id)| (m.machine, id)).collect();
        sort(&mut machines);
        // a few new machines (a growing fleet's day) are looked up; many, walked along the index
        let registered = if machines.len() * 8 < self.machine_index.len() {
            machines.iter().any(|(a, _)| self.machine_index.contains_key(a))
        } else {
            sorted_overlap(self.machine_index.keys(), machines.iter().map(|(a, _)| a))
        };
        if registered || machines.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(TxError::MachineExists);
        }
        // owners: each group of equal addresses (sorted; ties in fleet order) is an account
        // already, or a new one numbered by its first appearance
        let mut by_owner: Vec<(Address, u32)> = fleet.iter().zip(0..).map(|(m, i)| (m.owner, i)).collect();
        sort(&mut by_owner);
        let mut owner_of = vec![0 as AccountId; fleet.len()];
        let mut new_owners: Vec<(u32, Address, usize, usize)> = Vec::new(); // first position, address, group
        let few = by_owner.len() * 8 < self.account_index.len();
        let mut existing = self.account_index.iter().peekable();
        let mut start = 0;
        while start < by_owner.len() {
            let address = by_owner[start].0;
            let end = start + by_owner[start..].iter().take_while(|(a, _)| *a == address).count();
            let account = if few {
                self.account_index.get(&address).copied()
            } else {
                while existing.next_if(|(a, _)| **a < address).is_some() {}
                existing.peek().filter(|(a, _)| **a == address).map(|(_, id)| **id)
            };
            match account {
                Some(id) => by_owner[start..end].iter().for_each(|(_, i)| owner_of[*i as usize] = id),
                None => new_owners.push((by_owner[start].1, address, start, end)),
            }
            start = end;
        }
        // new owners in order of first appearance: mark each at its first position, then walk
        let mut first_at = vec![u32::MAX; fleet.len()];
        for (k, owner) in new_owners.iter().enumerate() {
            first_at[owner.0 as usize] = k as u32;
        }
        let first_new = self.accounts.len();
        let mut new_ids = vec![0 as AccountId; new_owners.len()];
        for k in first_at.into_iter().filter(|k| *k != u32::MAX).map(|k| k as usize) {
            let (_, address, start, end) = new_owners[k];
            let id = AccountId::try_from(self.accounts.len()).unwrap_or_else(|_| panic!("more than 2^32 accounts"));
            self.accounts.push(Account { address, ..Account::default() });
            self.rewards.push(Rewards::default());
            by_owner[start..end].iter().for_each(|(_, i)| owner_of[*i as usize] = id);
            new_ids[k] = id;
        }
        drop(by_owner);
        insert_sorted(&mut self.account_index, new_owners.iter().zip(new_ids).map(|((_, a, _, _), id)| (*a, id)));
        drop(new_owners);
        // (each temporary goes as soon as it has served: a fleet of 100,000 is tens of MB)
        insert_sorted(&mut self.machine_index, machines.into_iter());
        self.reserve_machines(fleet.len());
        // the new owners' machine lists are built apart and join `owner_machines` at once
        let mut lists: Vec<Vec<MachineId>> = vec![Vec::new(); self.accounts.len() - first_new];
        for (m, owner) in fleet.iter().zip(owner_of) {
            let id = self.push_machine(owner, m.machine, m.gpu_class, m.bandwidth_mbps, 0, false);
            match (owner as usize).checked_sub(first_new) {
                Some(k) => lists[k].push(id),
                None => self.owner_machines.entry(owner).or_default().push(id),
            }
        }
        let few = lists.len() * 8 < self.owner_machines.len();
        let lists = lists.into_iter().zip(first_new as AccountId..).map(|(list, owner)| (owner, list));
        if few {
            self.owner_machines.extend(lists);
        } else {
            // keys above every existing one: the chain is sorted, and the tree is built bottom-up
            self.owner_machines = std::mem::take(&mut self.owner_machines).into_iter().chain(lists).collect();
        }
        Ok((first..first + fleet.len() as u32).collect())
    }

    /// Makes room for `additional` machines and as many owner accounts (a fleet added at once
    /// then grows no table by reallocation).
    pub fn reserve_machines(&mut self, additional: usize) {
        self.machines.reserve(additional);
        self.machine_bucket.reserve(additional);
        self.online_slots.reserve(additional);
        self.machines_cold.reserve(additional);
        self.machine_credit.reserve(additional);
        self.machine_claimed.reserve(additional);
        self.accounts.reserve(additional);
        self.rewards.reserve(additional);
    }

    fn insert_machine(&mut self, owner: u32, machine: Address, gpu_class: u8, bandwidth_mbps: u32, bond: u128) -> u32 {
        let id = self.push_machine(owner, machine, gpu_class, bandwidth_mbps, bond, true);
        self.machine_index.insert(machine, id);
        id
    }

    /// Everything of registering a machine but its entry in `machine_index` (and, unless
    /// `listed`, in its owner's list of machines).
    fn push_machine(
        &mut self,
        owner: u32,
        machine: Address,
        gpu_class: u8,
        bandwidth_mbps: u32,
        bond: u128,
        listed: bool,
    ) -> u32 {
        let bandwidth_tier = self
            .policy
            .connection_reward
            .as_ref()
            .and_then(|c| c.bandwidth_tiers.iter().position(|t| bandwidth_mbps >= t.min_mbps))
            .unwrap_or(0) as u8;
        let account = &mut self.accounts[owner as usize];
        account.spendable -= bond;
        account.staked += bond;
        let id = u32::try_from(self.machines.len()).unwrap_or_else(|_| panic!("more than 2^32 machines"));
        let tiers = self.policy.connection_reward.as_ref().map_or(1, |c| c.bandwidth_tiers.len());
        let bucket = ((usize::from(gpu_class) - 1) * tiers + usize::from(bandwidth_tier)) as u8;
        self.machines.push(MachineHot { owner, gpu_class: gpu_class - 1, bandwidth_tier });
        self.machine_bucket.push(bucket);
        self.online_slots.push(0);
        if id % 64 == 0 {
            self.forfeited.push(0);
            self.accruing.push(0);
        }
        self.machines_cold.push(MachineCold { address: machine, bandwidth_mbps, bond, slot_bits: [0; 5] });
        self.machine_credit.push(0);
        self.machine_claimed.push(0);
        if listed {
            self.owner_machines.entry(owner).or_default().push(id);
        }
        id
    }

    /// NM6: a heartbeat marks the slot it falls in, if that slot is in the open epoch and not in
    /// the future. Marking a slot twice changes nothing.
    /// Whether `machine` has marked `slot` (a slot of the open epoch).
    pub(crate) fn slot_marked(&self, machine: MachineId, slot: u64) -> bool {
        let index = (slot % u64::from(self.policy.slots_per_epoch())) as usize;
        self.machines_cold[machine as usize].slot_bits[index / 64] >> (index % 64) & 1 != 0
    }

    /// Marks `slot` (a slot of the open epoch, not yet marked) online for `machine` (NM6).
    pub(crate) fn mark_slot(&mut self, machine: MachineId, slot: u64) {
        let index = (slot % u64::from(self.policy.slots_per_epoch())) as usize;
        let cold = &mut self.machines_cold[machine as usize];
        let was_clean = cold.slot_bits == [0; 5];
        cold.slot_bits[index / 64] |= 1u64 << (index % 64);
        self.online_slots[machine as usize] += 1;
        if was_clean {
            self.heartbeat_dirty.push(machine);
        }
    }

    /// The connection weight of a machine (NM7): class weight × bandwidth factor in ppb.
    #[inline]
    pub fn machine_weight(&self, machine: &MachineHot) -> u64 {
        let tiers = self.policy.connection_reward.as_ref().map_or(1, |c| c.bandwidth_tiers.len());
        self.weight_table
            .get(usize::from(machine.gpu_class) * tiers + usize::from(machine.bandwidth_tier))
            .copied()
            .unwrap_or(0)
    }

    /// G7 step 3: NM6's connection reward.
    ///
    /// Weights take only (GPU classes × bandwidth tiers) distinct values, so the exact pro-rata
    /// share floor(budget·w/W) is computed once per weight bucket: the same exact result as a
    /// per-machine split. The share is added to the bucket's `reward_index`. The pass over the
    /// machines reads their online slots (2 bytes each) and forfeit bits, 64 machines to a word
    /// of qualification bits, and compares it with the word of `accruing` bits: only the machines
    /// whose qualification changed are visited, to settle their credit (a run starts: minus the
    /// index; it ends: plus the index) and move the bucket's count of qualifying machines.
    ///
    /// Returns true when it also cleared every machine's slots and forfeit for the next epoch (it
    /// does so in its pass when no later program reads them), saving the reset pass.
    pub(crate) fn pay_connection_reward(
        &mut self,
        programs: &mut Vec<ProgramPayout>,
        uptime: Option<UptimeFill<'_>>,
    ) -> bool {
        let max_slots = self.policy.slots_per_epoch().min(u32::from(u16::MAX)) as u16;
        let reset = self.policy.points.is_none() && self.policy.dualproof.is_none();
        // sets a part's slots (machines first.., a multiple of 64), capped at the epoch's slots;
        // when the pass clears them, nothing but its comparison ever reads them, and the cap
        // changes no comparison (a threshold above the cap is unreachable, below)
        let fill = |first: usize, slots: &mut [u16], capped: bool| {
            if let Some(uptime) = uptime {
                uptime(first, slots);
                if capped {
                    slots.iter_mut().for_each(|s| *s = (*s).min(max_slots));
                }
            }
        };
        let Some(params) = &self.policy.connection_reward else {
            fill(0, self.online_slots.all_mut(), true);
            return false;
        };
        let pool_index = self.pool_index(&params.pool);
        let budget = self.pools[pool_index].epoch_budget;
        // a threshold above any count an epoch can have: nobody qualifies
        let (min_slots, reachable) = match u16::try_from(params.min_online_slots) {
            Ok(min) if min <= max_slots => (min, u64::MAX),
            _ => (u16::MAX, 0),
        };
        let buckets = self.weight_table.len();
        let index = &self.reward_index;
        let machine_bucket = &self.machine_bucket;
        // one pass over a range of whole words: returns each bucket's change in qualifying machines
        let pass = |first_word: usize,
                    slots: &mut [u16],
                    forfeited: &mut [u64],
                    accruing: &mut [u64],
                    credits: &mut [u128]| {
            // a run starts at the index before this close's share (credit minus the index), or
            // ends there (plus): `change[starts][bucket]`, a u8 bucket indexing 256 entries
            // without a bounds check; `flips[starts][bucket]` counts them
            let mut change = [[0u128; 256]; 2];
            for (bucket, at) in index.iter().take(256).enumerate() {
                change[0][bucket] = *at;
                change[1][bucket] = at.wrapping_neg();
            }
            let mut flips = [[0u64; 256]; 2];
            let first = first_word * 64;
            let bucket_of = &machine_bucket[first..first + credits.len()];
            let mut words = slots
                .chunks_mut(64)
                .zip(forfeited.iter_mut())
                .zip(accruing.iter_mut())
                .zip(credits.chunks_mut(64).zip(bucket_of.chunks(64)));
            for (((slots, forfeit), accruing), (credits, bucket_of)) in &mut words {
                let qualifies = qualification_bits(slots, min_slots) & !*forfeit & reachable;
                let changed = qualifies ^ *accruing;
                *accruing = qualifies;
                if reset {
                    slots.fill(0);
                    *forfeit = 0;
                }
                // only the changed machines, branch-free whether a run starts or ends (they
                // alternate at random); a whole word's columns as arrays, indexed by bit number
                match (credits.as_mut_array::<64>(), bucket_of.as_array::<64>()) {
                    (Some(credits), Some(bucket_of)) => {
                        settle(changed, qualifies, credits, bucket_of, &change, &mut flips);
                    }
                    _ => settle(changed, qualifies, credits, bucket_of, &change, &mut flips),
                }
            }
            // starts minus ends (bounded by the machine count)
            (0..buckets.min(256)).map(|b| flips[1][b] as i64 - flips[0][b] as i64).collect::<Vec<i64>>()
        };
        let words = self.accruing.len();
        let chunk = chunk_words(words, self.threads.min(rayon::current_num_threads()));
        let delta: Vec<i64> = if words == 0 {
            Vec::new() // no machines, no change (a schedule-only forecast closes tens of thousands of epochs)
        } else if words <= chunk {
            fill(0, self.online_slots.all_mut(), !reset);
            pass(
                0,
                self.online_slots.all_mut(),
                self.forfeited.all_mut(),
                self.accruing.all_mut(),
                self.machine_credit.all_mut(),
            )
        } else {
            // one part per thread of the pool, the same part to the same thread at every close:
            // a part's columns (a few hundred kB to a few MB) stay in that core's cache from one
            // close to the next; and the draw of its slots, if any, happens there just before
            type Part<'a> = (&'a mut [u16], &'a mut [u64], &'a mut [u64], &'a mut [u128]);
            let parts: Vec<std::sync::Mutex<Option<Part<'_>>>> = self
                .online_slots
                .all_mut()
                .chunks_mut(chunk * 64)
                .zip(self.forfeited.all_mut().chunks_mut(chunk))
                .zip(self.accruing.all_mut().chunks_mut(chunk))
                .zip(self.machine_credit.all_mut().chunks_mut(chunk * 64))
                .map(|(((slots, forfeited), accruing), credits)| {
                    std::sync::Mutex::new(Some((slots, forfeited, accruing, credits)))
                })
                .collect();
            let deltas = rayon::broadcast(|context| {
                let index = context.index();
                let part = parts.get(index)?.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
                let (slots, forfeited, accruing, credits) = part?;
                fill(index * chunk * 64, slots, !reset);
                Some(pass(index * chunk, slots, forfeited, accruing, credits))
            });
            let deltas: Vec<Vec<i64>> = deltas.into_iter().flatten().collect();
            assert_eq!(deltas.len(), parts.len(), "every part of the machines is closed by one thread");
            let mut total = vec![0i64; buckets];
            for part in deltas {
                total.iter_mut().zip(part).for_each(|(t, p)| *t += p);
            }
            total
        };
        for (count, d) in self.accruing_count.iter_mut().zip(delta) {
            *count = count.checked_add_signed(d).unwrap_or_else(|| panic!("a bucket's qualifying count went negative"));
        }
        let counts = &self.accruing_count;
        let total_weight: u128 =
            counts.iter().zip(&self.weight_table).map(|(n, w)| u128::from(*n) * u128::from(*w)).sum();
        let split = ProRata::new(budget, total_weight);
        let mut paid = 0u128;
        for ((index, weight), n) in self.reward_index.all_mut().iter_mut().zip(&self.weight_table).zip(counts) {
            if *n > 0 {
                let share = split.share(u128::from(*weight));
                *index += share;
                paid += u128::from(*n) * share;
            }
        }
        let recipients: u64 = if paid > 0 { counts.iter().sum() } else { 0 };
        self.pools[pool_index].balance -= paid;
        self.pools[pool_index].epoch_budget -= paid;
        programs.push(ProgramPayout { program: "connection_reward", budget, paid, dust: budget - paid, recipients });
        reset
    }

    /// Clears the per-epoch machine data after the programs ran.
    ///
    /// (Cheap: 2 bytes and a bit per machine.)
    pub(crate) fn reset_machine_epoch(&mut self, slots_already_cleared: bool) {
        if !slots_already_cleared {
            self.online_slots.all_mut().fill(0);
            self.forfeited.all_mut().fill(0);
        }
        for id in std::mem::take(&mut self.heartbeat_dirty) {
            self.machines_cold[id as usize].slot_bits = [0; 5];
        }
        self.epoch_ai_tokens.clear();
        self.epoch_compute_units.clear();
    }
}

/// A simulation's uptime for the open epoch, entered as its close reads it: `fill(first, slots)`
/// sets the online slots of machines `first .. first + slots.len()` (what the node derives from
/// heartbeats; values above the epoch's slots count as all of them). The close calls it once for
/// each machine, in parts that start at multiples of 64, from several threads at once: the result
/// must not depend on how the machines are cut.
pub type UptimeFill<'a> = &'a (dyn Fn(usize, &mut [u16]) + Sync);

/// One machine of a fleet added outside transactions ([`State::add_machines`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetMachine {
    /// Its owner (created if new).
    pub owner: Address,
    /// The machine.
    pub machine: Address,
    /// GPU class, 1-based.
    pub gpu_class: u8,
    /// Declared bandwidth.
    pub bandwidth_mbps: u32,
}

/// Sorts, on the rayon pool when long (the result is the same: unstable sorts of distinct
/// elements; pairs here carry distinct ids or positions).
fn sort<T: Ord + Send>(items: &mut [T]) {
    use rayon::prelude::*;
    if items.len() < 1 << 14 { items.sort_unstable() } else { items.par_sort_unstable() }
}

/// Whether two ascending sequences share an element (one merged walk).
fn sorted_overlap<'a>(a: impl Iterator<Item = &'a Address>, b: impl Iterator<Item = &'a Address>) -> bool {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => _ = a.next(),
            std::cmp::Ordering::Greater => _ = b.next(),
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// Adds entries whose keys `index` does not hold: one insertion each when they are few, else a
/// rebuild from all entries (collecting into a `BTreeMap` sorts, which for two ascending runs is
/// linear, then builds the tree bottom-up).
fn insert_sorted<V>(index: &mut BTreeMap<Address, V>, new: impl ExactSizeIterator<Item = (Address, V)>) {
    if new.len() * 8 < index.len() {
        index.extend(new);
    } else {
        let mut new: Vec<(Address, V)> = new.collect();
        new.sort_unstable_by_key(|x| x.0);
        *index = std::mem::take(index).into_iter().chain(new).collect();
    }
}

/// Bit j of the result: whether `slots[j]` (up to 64) reaches `min_slots`. Compares into bytes
/// first (vector code), then packs eight 0/1 bytes at a time into a byte of bits with one
/// multiplication (byte i of `x` lands on bit 56 + i of `x · 0x0102040810204080`, and no two
/// terms share a bit, so nothing carries).
#[inline]
fn qualification_bits(slots: &[u16], min_slots: u16) -> u64 {
    let mut bytes = [0u8; 64];
    for (byte, s) in bytes.iter_mut().zip(slots) {
        *byte = u8::from(*s >= min_slots);
    }
    let mut bits = 0u64;
    for (k, eight) in bytes.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes([eight[0], eight[1], eight[2], eight[3], eight[4], eight[5], eight[6], eight[7]]);
        bits |= (x.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    bits
}

/// Settles the credits of a word's machines whose qualification changed (bits of `changed`,
/// `qualifies` the new bits): a run starts (`change[1]`, minus the index) or ends (`change[0]`,
/// plus it); counts them by kind and bucket. Generic over arrays (a whole word: no bounds
/// checks) and slices (a fleet's last, partial word).
#[inline(always)]
fn settle<C, B>(
    mut changed: u64,
    qualifies: u64,
    credits: &mut C,
    bucket_of: &B,
    change: &[[u128; 256]; 2],
    flips: &mut [[u64; 256]; 2],
) where
    C: std::ops::IndexMut<usize, Output = u128> + ?Sized,
    B: std::ops::Index<usize, Output = u8> + ?Sized,
{
    while changed != 0 {
        // < 64: the mask only tells the compiler (a bit set is a machine of the word)
        let j = changed.trailing_zeros() as usize & 63;
        changed &= changed - 1;
        let starts = (qualifies >> j & 1) as usize;
        let bucket = usize::from(bucket_of[j]);
        credits[j] = credits[j].wrapping_add(change[starts][bucket]);
        flips[starts][bucket] = flips[starts][bucket].wrapping_add(1);
    }
}

/// Words of 64 machines per task for the epoch close: an equal share per thread, and at least
/// 256 words, 16,384 machines (below that a task costs more than it saves).
pub(crate) fn chunk_words(words: usize, threads: usize) -> usize {
    words.div_ceil(threads.max(1)).max(1 << 8)
}

/// One machine as an epoch close is about to see it: the inputs of its connection reward, for
/// RULES X3's `explain` (a node records these just before each close).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MachineView {
    /// The machine.
    pub machine: Address,
    /// Its owner.
    pub owner: Address,
    /// GPU class, 1-based (NM7).
    pub gpu_class: u8,
    /// Declared bandwidth (NM7).
    pub bandwidth_mbps: u32,
    /// Slots marked online this epoch (NM6).
    pub online_slots: u16,
    /// Forfeited this epoch's reward by failing a job (NM9).
    pub forfeited: bool,
    /// Connection weight: class weight × bandwidth factor in ppb (NM7).
    pub weight: u64,
    /// Cumulative rewards credited to the machine so far (connection reward, and where the policy
    /// has them OS5 points and DualProof mining).
    #[serde(with = "crate::serde_u128")]
    pub rewards_total: u128,
}

impl State {
    /// Every machine of `owner` with its reward inputs (X3).
    pub fn machine_views_of(&self, owner: &Address) -> Vec<MachineView> {
        let Some(id) = self.account_id(owner) else { return vec![] };
        let ids = self.owner_machines.get(&id).map(Vec::as_slice).unwrap_or_default();
        ids.iter().map(|m| self.machine_view(*m)).collect()
    }

    /// All machines with their reward inputs, in registration order (X3).
    pub fn machine_views(&self) -> Vec<MachineView> {
        (0..self.machines.len() as u32).map(|m| self.machine_view(m)).collect()
    }

    /// One machine with its reward inputs (X3), by id.
    pub fn machine_view(&self, id: u32) -> MachineView {
        let hot = &self.machines[id as usize];
        let cold = &self.machines_cold[id as usize];
        MachineView {
            machine: cold.address,
            owner: self.accounts[hot.owner as usize].address,
            gpu_class: hot.gpu_class + 1,
            bandwidth_mbps: cold.bandwidth_mbps,
            online_slots: self.online_slots[id as usize],
            forfeited: bit(&self.forfeited, id),
            weight: self.machine_weight(hot),
            rewards_total: self.machine_rewards_total(id),
        }
    }
}
