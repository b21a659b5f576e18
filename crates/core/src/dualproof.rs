//! DualProof (OT3–OT5): work receipts, stake-weighted validator assignment, attestations,
//! slashing, and mining capped per epoch.
//!
//! A receipt's compute units = GPU-seconds × the machine's class factor (reference GPU-seconds),
//! computed here, not trusted from the submitter. It is assigned `validators_per_receipt`
//! distinct validators of the active set, drawn from blake3(receipt id ‖ draw) weighted by stake.
//! `quorum` valid attestations accept it; `quorum` invalid ones reject it, burning
//! `machine_slash_ppb` of the machine's bond. Validators that attested against the outcome lose
//! `validator_slash_ppb` of their self-bond, burned.
//!
//! At the close, accepted work earns `reward_per_reference_gpu_hour` per 3,600 compute units and
//! active validators earn `validator_apy_ppb` on their self-bond plus up to
//! `validator_bonus_apy_ppb` in proportion to their correct attestations (full when none were
//! assigned: uptime). The mint is at most min(daily cap, cap − supply); above it everyone is paid
//! pro rata, rounding down, and the rest is not minted.

use crate::epoch::ProgramPayout;
use crate::math::{ProRata, mul_div_floor, ppb_of};
use crate::state::{ReceiptStatus, WorkReceipt};
use crate::{State, TxError};
use gridmint_policy::{Address, PPB};

impl State {
    pub(crate) fn tx_submit_receipt(
        &mut self,
        owner: u32,
        machine: Address,
        hashes: [&[u8; 32]; 4],
        gpu_seconds: u64,
    ) -> Result<(), TxError> {
        let params = self.policy.dualproof.clone().ok_or(TxError::NotInPolicy)?;
        let machine_id = self.machine_id(&machine).ok_or(TxError::UnknownMachine)?;
        if self.machines[machine_id as usize].owner != owner {
            return Err(TxError::NotMachineOwner);
        }
        if self.machines_cold[machine_id as usize].bond < params.machine_bond_min.base_units() {
            return Err(TxError::MachineBondTooLow);
        }
        if gpu_seconds == 0 {
            return Err(TxError::ZeroAmount);
        }
        let id = Self::receipt_id(&machine, hashes, gpu_seconds);
        if self.receipts.contains_key(&id) {
            return Err(TxError::ReceiptExists);
        }
        let assigned = self.assign_validators(&id, params.validators_per_receipt as usize);
        if assigned.is_empty() {
            return Err(TxError::NoActiveValidators);
        }
        let class = usize::from(self.machines[machine_id as usize].gpu_class);
        let factor = params.class_factors_ppb.get(class).or(params.class_factors_ppb.last()).copied().unwrap_or(0);
        let compute_units = mul_div_floor(u128::from(gpu_seconds), u128::from(factor), PPB).unwrap_or(0);
        for validator in &assigned {
            if let Some(v) = self.validators.get_mut(validator) {
                v.assigned += 1;
            }
        }
        self.receipts.insert(
            id,
            WorkReceipt {
                machine: machine_id,
                compute_units,
                votes: assigned.into_iter().map(|v| (v, None)).collect(),
                status: ReceiptStatus::Pending,
                epoch: self.epoch,
            },
        );
        Ok(())
    }

    /// A receipt's id: blake3 over its machine, task, model, input, output and GPU-seconds.
    pub fn receipt_id(machine: &Address, hashes: [&[u8; 32]; 4], gpu_seconds: u64) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"gridmint/receipt/");
        hasher.update(&machine.0);
        for hash in hashes {
            hasher.update(hash);
        }
        hasher.update(&gpu_seconds.to_le_bytes());
        *hasher.finalize().as_bytes()
    }

    /// OT4: `count` distinct master nodes drawn by stake from the receipt hash.
    pub fn assign_validators(&self, receipt: &[u8; 32], count: usize) -> Vec<Address> {
        let mut candidates: Vec<(Address, u128)> =
            self.master_nodes.iter().filter_map(|m| self.validators.get(m).map(|v| (*m, v.active.max(1)))).collect();
        candidates.sort();
        let mut chosen = Vec::new();
        for draw in 0..count.min(candidates.len()) {
            let total: u128 = candidates.iter().map(|(_, s)| s).sum();
            let mut hasher = blake3::Hasher::new();
            hasher.update(b"gridmint/assign/");
            hasher.update(receipt);
            hasher.update(&(draw as u64).to_le_bytes());
            let bytes = hasher.finalize();
            let mut first = [0u8; 16];
            first.copy_from_slice(&bytes.as_bytes()[..16]);
            let mut target = u128::from_le_bytes(first) % total;
            let mut pick = 0;
            for (index, (_, stake)) in candidates.iter().enumerate() {
                if target < *stake {
                    pick = index;
                    break;
                }
                target -= stake;
            }
            chosen.push(candidates.remove(pick).0);
        }
        chosen
    }

    pub(crate) fn tx_attest_receipt(&mut self, signer: Address, receipt: [u8; 32], valid: bool) -> Result<(), TxError> {
        let params = self.policy.dualproof.clone().ok_or(TxError::NotInPolicy)?;
        let entry = self.receipts.get(&receipt).ok_or(TxError::UnknownReceipt)?;
        if entry.status != ReceiptStatus::Pending {
            return Err(TxError::ReceiptFinalized);
        }
        let slot = entry.votes.iter().position(|(v, _)| *v == signer).ok_or(TxError::NotAssignedValidator)?;
        if entry.votes[slot].1.is_some() {
            return Err(TxError::AlreadyAttested);
        }
        let entry = self.receipts.get_mut(&receipt).unwrap_or_else(|| unreachable!("checked above"));
        entry.votes[slot].1 = Some(valid);
        let side = entry.votes.iter().filter(|(_, vote)| *vote == Some(valid)).count();
        if side < params.quorum as usize {
            return Ok(());
        }
        entry.status = if valid { ReceiptStatus::Accepted } else { ReceiptStatus::Rejected };
        let (machine, compute_units) = (entry.machine, entry.compute_units);
        let votes = entry.votes.clone();
        if valid {
            *self.epoch_compute_units.entry(machine).or_default() += compute_units;
        } else {
            let cold = &mut self.machines_cold[machine as usize];
            let slash = ppb_of(cold.bond, params.machine_slash_ppb);
            cold.bond -= slash;
            let owner = self.machines[machine as usize].owner;
            self.accounts[owner as usize].staked -= slash;
            self.record_burn(slash);
        }
        for (validator, vote) in votes {
            match vote {
                Some(v) if v == valid => {
                    if let Some(record) = self.validators.get_mut(&validator) {
                        record.correct += 1;
                    }
                }
                Some(_) => {
                    self.slash_self_bond(validator, params.validator_slash_ppb);
                }
                None => {}
            }
        }
        Ok(())
    }

    /// G7 step 3, OT5: the capped mining mint.
    pub(crate) fn pay_dualproof(&mut self, programs: &mut Vec<ProgramPayout>) {
        let policy = std::sync::Arc::clone(&self.policy);
        let Some(params) = &policy.dualproof else {
            return;
        };
        let reward = params.reward_per_reference_gpu_hour.base_units();
        let mut claims: Vec<(u32, u128, Option<u32>)> = Vec::new();
        for (machine, units) in &self.epoch_compute_units {
            let owner = self.machines[*machine as usize].owner;
            let amount = mul_div_floor(*units, reward, 3_600).unwrap_or(0);
            if amount > 0 {
                claims.push((owner, amount, Some(*machine)));
            }
        }
        let machine_claims = claims.len();
        let per_year = u128::from(self.policy.epoch.per_year) * PPB;
        for master in &self.master_nodes {
            let Some(validator) = self.validators.get(master) else {
                continue;
            };
            let bond = self.self_bond(master);
            let base = mul_div_floor(bond, u128::from(params.validator_apy_ppb), per_year).unwrap_or(0);
            let bonus_full = mul_div_floor(bond, u128::from(params.validator_bonus_apy_ppb), per_year).unwrap_or(0);
            let bonus = if validator.assigned == 0 {
                bonus_full
            } else {
                mul_div_floor(bonus_full, u128::from(validator.correct), u128::from(validator.assigned)).unwrap_or(0)
            };
            if base + bonus > 0 {
                claims.push((validator.operator, base + bonus, None));
            }
        }
        let owed: u128 = claims.iter().map(|(_, a, _)| a).sum();
        let budget = params.daily_mint_cap.base_units().min(self.cap - self.total_supply()).min(owed);
        let split = ProRata::new(budget, owed);
        let (mut machines_paid, mut validators_paid) = (0u128, 0u128);
        for (account, amount, machine) in &claims {
            let share = if owed <= budget { *amount } else { split.share(*amount) };
            match machine {
                Some(m) => {
                    self.credit_machine(*m, share);
                    machines_paid += share;
                }
                None => {
                    self.credit_reward(*account, share);
                    validators_paid += share;
                }
            }
        }
        self.record_mint(machines_paid + validators_paid);
        let dust = budget - machines_paid - validators_paid;
        programs.push(ProgramPayout {
            program: "dualproof_machines",
            budget: owed,
            paid: machines_paid,
            dust,
            recipients: machine_claims as u64,
        });
        programs.push(ProgramPayout {
            program: "dualproof_validators",
            budget: 0,
            paid: validators_paid,
            dust: 0,
            recipients: (claims.len() - machine_claims) as u64,
        });
    }
}

impl State {
    /// OT7: machines ranked by rewards earned (their validated contributions), most first, ties by
    /// address; at most `limit`.
    pub fn machine_leaderboard(&self, limit: usize) -> Vec<(Address, u128)> {
        let mut ranked: Vec<(Address, u128)> = self
            .machines_cold
            .iter()
            .zip(self.machines_rewards_total())
            .map(|(m, r)| (m.address, r))
            .filter(|(_, r)| *r > 0)
            .collect();
        // the top `limit` by selection (linear), then sorted: a total order, so the same list
        let order = |a: &(Address, u128), b: &(Address, u128)| b.1.cmp(&a.1).then(a.0.cmp(&b.0));
        if ranked.len() > limit {
            ranked.select_nth_unstable_by(limit, order);
            ranked.truncate(limit);
        }
        ranked.sort_by(order);
        ranked
    }

    /// OT7: validators ranked by the rewards their operators earned, most first, ties by address.
    pub fn validator_leaderboard(&self, limit: usize) -> Vec<(Address, u128)> {
        let mut ranked: Vec<(Address, u128)> =
            self.validators.iter().map(|(address, v)| (*address, self.rewards[v.operator as usize].total)).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(limit);
        ranked
    }
}
