//! Machines and the connection reward (NM6, NM7, NM9).
//!
//! A heartbeat marks its 300 s slot; online time = marked slots × 300 s; a machine qualifies with
//! ≥ `min_online_slots` (61: more than 5 h) and no forfeit (NM9). The epoch's release of the
//! mining pool is split pro rata to weight = GPU-class weight × bandwidth factor (ppb), rounding
//! down; dust, and the whole release when nobody qualifies, stay in the pool.
//!
//! This is the hottest loop of the ledger (a million machines per close): one pass over the
//! 12-byte hot records counts the qualifying machines per weight bucket, and no machine is
//! credited one by one. Every qualifying machine of a bucket earns the same exact share
//! floor(budget·w/W) ([`crate::math::ProRata`]), so the close adds it once to the bucket's
//! cumulative `reward_index` — the "reward per share" accumulator of staking contracts, exact to
//! the unit. A machine's credit changes only when its qualification does: a run of qualifying
//! closes adds its bucket's index at the run's end minus at its start (`State::machine_credit`).

use crate::epoch::ProgramPayout;
use crate::math::ProRata;
use crate::state::{FLAG_ACCRUING, FLAG_FORFEITED, MachineCold, MachineHot};
use crate::{State, TxError};
use gridmint_policy::Address;

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

    fn insert_machine(&mut self, owner: u32, machine: Address, gpu_class: u8, bandwidth_mbps: u32, bond: u128) -> u32 {
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
        self.machines.push(MachineHot {
            owner,
            online_slots: 0,
            gpu_class: gpu_class - 1,
            bandwidth_tier,
            flags: 0,
            bucket,
        });
        self.machines_cold.push(MachineCold { address: machine, bandwidth_mbps, bond, slot_bits: [0; 5] });
        self.machine_credit.push(0);
        self.machine_claimed.push(0);
        self.owner_machines.entry(owner).or_default().push(id);
        self.machine_index.insert(machine, id);
        id
    }

    /// NM6: a heartbeat marks the slot it falls in, if that slot is in the open epoch and not in
    /// the future. Marking a slot twice changes nothing.
    pub(crate) fn tx_heartbeat(&mut self, machine: Address, slot: u64) -> Result<(), TxError> {
        let id = self.machine_id(&machine).ok_or(TxError::UnknownMachine)?;
        let slots_per_epoch = u64::from(self.policy.slots_per_epoch());
        let slot_seconds = self.policy.epoch.slot_seconds;
        let epoch_of_slot = slot / slots_per_epoch + 1;
        let slot_start = slot.checked_mul(slot_seconds).and_then(|s| s.checked_add(self.genesis_time));
        if epoch_of_slot != self.epoch || slot_start.is_none_or(|start| start > self.time) {
            return Err(TxError::SlotOutsideEpoch);
        }
        let index = (slot % slots_per_epoch) as usize;
        let cold = &mut self.machines_cold[id as usize];
        let was_clean = cold.slot_bits == [0; 5];
        let word = &mut cold.slot_bits[index / 64];
        let bit = 1u64 << (index % 64);
        if *word & bit == 0 {
            *word |= bit;
            self.machines[id as usize].online_slots += 1;
            if was_clean {
                self.heartbeat_dirty.push(id);
            }
        }
        Ok(())
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
    /// Weights take only (GPU classes × bandwidth tiers) distinct values, so machines are counted
    /// per weight bucket and the exact pro-rata share floor(budget·w/W) is computed once per
    /// bucket: the same exact result as a per-machine split. The share is added to the bucket's
    /// `reward_index`; the counting pass touches a machine's credit only when its qualification
    /// changes (a run starts: minus the index; it ends: plus the index).
    ///
    /// Returns true when it also cleared every machine's slots and forfeit for the next epoch (it
    /// does so in its pass when no later program reads them), saving the reset pass.
    pub(crate) fn pay_connection_reward(&mut self, programs: &mut Vec<ProgramPayout>) -> bool {
        let Some(params) = &self.policy.connection_reward else { return false };
        let reset = self.policy.points.is_none() && self.policy.dualproof.is_none();
        let pool_index = self.pool_index(&params.pool);
        let budget = self.pools[pool_index].epoch_budget;
        let min_slots = params.min_online_slots;
        let buckets = self.weight_table.len();
        let index = &self.reward_index;
        // one pass: count per bucket, settle the machines whose qualification changed, and
        // (with `reset`) clear the epoch's slots and forfeit
        let pass = |machines: &mut [MachineHot], credits: &mut [u128]| {
            // four interleaved histograms: consecutive machines of one bucket do not wait on
            // each other's increment; a u8 bucket indexes 256 entries without a bounds check
            let mut histograms = [[0u32; 256]; 4];
            for (machines, credits) in machines.chunks_mut(64).zip(credits.chunks_mut(64)) {
                // branch-free over the block (qualification is as random as uptime); then only
                // the machines whose qualification changed are visited, by bit
                let mut changed = 0u64;
                for (j, machine) in machines.iter_mut().enumerate() {
                    let qualifies =
                        (u32::from(machine.online_slots) >= min_slots) & (machine.flags & FLAG_FORFEITED == 0);
                    let accruing = machine.flags & FLAG_ACCRUING != 0;
                    histograms[j & 3][usize::from(machine.bucket)] += u32::from(qualifies);
                    changed |= u64::from(qualifies != accruing) << j;
                    let keep = if reset { 0 } else { machine.flags & !FLAG_ACCRUING };
                    machine.flags = keep | if qualifies { FLAG_ACCRUING } else { 0 };
                    if reset {
                        machine.online_slots = 0;
                    }
                }
                while changed != 0 {
                    let j = changed.trailing_zeros() as usize;
                    changed &= changed - 1;
                    let (machine, credit) = (&machines[j], &mut credits[j]);
                    let at = index[usize::from(machine.bucket)];
                    // a run starts at the index before this close's share, or ends there
                    *credit = if machine.flags & FLAG_ACCRUING != 0 {
                        credit.wrapping_sub(at)
                    } else {
                        credit.wrapping_add(at)
                    };
                }
            }
            let mut counts = vec![0u64; buckets];
            for histogram in &histograms {
                for (count, n) in counts.iter_mut().zip(histogram) {
                    *count += u64::from(*n);
                }
            }
            counts
        };
        let chunk = chunk_size(self.machines.len(), self.threads);
        let counts: Vec<u64> = if self.machines.is_empty() {
            vec![0; buckets]
        } else if self.machines.len() <= chunk {
            pass(&mut self.machines, &mut self.machine_credit)
        } else {
            // a pool kept across closes: a close of 100,000 machines takes well under a
            // millisecond, less than spawning threads for it would
            use rayon::prelude::*;
            self.machines
                .par_chunks_mut(chunk)
                .zip(self.machine_credit.par_chunks_mut(chunk))
                .map(|(machines, credits)| pass(machines, credits))
                .reduce(
                    || vec![0u64; buckets],
                    |mut total, part| {
                        total.iter_mut().zip(part).for_each(|(t, p)| *t += p);
                        total
                    },
                )
        };
        let total_weight: u128 =
            counts.iter().zip(&self.weight_table).map(|(n, w)| u128::from(*n) * u128::from(*w)).sum();
        let split = ProRata::new(budget, total_weight);
        let mut paid = 0u128;
        for ((index, weight), n) in self.reward_index.iter_mut().zip(&self.weight_table).zip(&counts) {
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
    /// (Cheap: one pass writing 3 bytes per machine.)
    pub(crate) fn reset_machine_epoch(&mut self, slots_already_cleared: bool) {
        if !slots_already_cleared {
            for machine in &mut self.machines {
                machine.online_slots = 0;
                machine.flags &= FLAG_ACCRUING;
            }
        }
        for id in std::mem::take(&mut self.heartbeat_dirty) {
            self.machines_cold[id as usize].slot_bits = [0; 5];
        }
        self.epoch_ai_tokens.clear();
        self.epoch_compute_units.clear();
    }
}

/// Machines per task for the epoch close: an equal share per thread, in whole blocks of 64, and
/// at least 16k machines (below that a task costs more than it saves).
pub(crate) fn chunk_size(machines: usize, threads: usize) -> usize {
    machines.div_ceil(threads.max(1)).next_multiple_of(64).max(1 << 14)
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

    fn machine_view(&self, id: u32) -> MachineView {
        let hot = &self.machines[id as usize];
        let cold = &self.machines_cold[id as usize];
        MachineView {
            machine: cold.address,
            owner: self.accounts[hot.owner as usize].address,
            gpu_class: hot.gpu_class + 1,
            bandwidth_mbps: cold.bandwidth_mbps,
            online_slots: hot.online_slots,
            forfeited: hot.flags & FLAG_FORFEITED != 0,
            weight: self.machine_weight(hot),
            rewards_total: self.machine_rewards_total(id),
        }
    }
}
