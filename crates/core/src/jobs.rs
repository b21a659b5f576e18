//! Jobs: escrow, usage, settlement (NM8, N24-5), failure by disconnection (NM9), and
//! burn-and-mint settlement with its debt queue (OS4).
//!
//! A job escrows price × max GPU-seconds when submitted. Providers' owners report usage; the
//! customer settles: fee = price × used GPU-seconds; each provider gets its mode's share of the
//! fee for the GPU-seconds it supplied (rounded down), the rest of the fee is burned, the unused
//! escrow is refunded. Under burn-and-mint the whole fee is burned and each provider is paid the
//! same amount from the Node Reward Pool; what the pool cannot pay becomes a debt, paid oldest
//! first from the pool's later inflows (G7 step 2).

use crate::math::ppb_of;
use crate::state::Job;
use crate::{JobMode, State, TxError};
use gridmint_policy::Address;

impl State {
    pub(crate) fn tx_submit_job(
        &mut self,
        customer: u32,
        available: u128,
        job_id: u64,
        mode: JobMode,
        price_per_gpu_second: u128,
        max_gpu_seconds: u64,
    ) -> Result<(), TxError> {
        if price_per_gpu_second == 0 || max_gpu_seconds == 0 {
            return Err(TxError::InvalidJob);
        }
        if self.jobs.contains_key(&(customer, job_id)) || self.closed_jobs.contains(&(customer, job_id)) {
            return Err(TxError::JobExists);
        }
        let escrow = price_per_gpu_second.checked_mul(u128::from(max_gpu_seconds)).ok_or(TxError::AmountOverflow)?;
        if escrow > available {
            return Err(TxError::InsufficientBalance);
        }
        let account = &mut self.accounts[customer as usize];
        account.spendable -= escrow;
        account.escrowed += escrow;
        self.jobs.insert(
            (customer, job_id),
            Job { mode, price_per_gpu_second, max_gpu_seconds, used_gpu_seconds: 0, escrow, usage: vec![] },
        );
        Ok(())
    }

    pub(crate) fn tx_report_usage(
        &mut self,
        reporter: u32,
        customer: Address,
        job_id: u64,
        machine: Address,
        gpu_seconds: u64,
        ai_tokens: u64,
    ) -> Result<(), TxError> {
        let machine = self.machine_id(&machine).ok_or(TxError::UnknownMachine)?;
        if self.machines[machine as usize].owner != reporter {
            return Err(TxError::NotMachineOwner);
        }
        let customer = self.account_id(&customer).ok_or(TxError::UnknownJob)?;
        let job = self.jobs.get(&(customer, job_id)).ok_or(TxError::UnknownJob)?;
        if gpu_seconds == 0 {
            return Err(TxError::ZeroAmount);
        }
        if job.used_gpu_seconds.checked_add(gpu_seconds).is_none_or(|used| used > job.max_gpu_seconds) {
            return Err(TxError::UsageExceedsJob);
        }
        let job = self.jobs.get_mut(&(customer, job_id)).unwrap_or_else(|| unreachable!("checked above"));
        job.used_gpu_seconds += gpu_seconds;
        match job.usage.iter_mut().find(|(m, _, _)| *m == machine) {
            Some(entry) => {
                entry.1 += gpu_seconds;
                entry.2 = entry.2.saturating_add(ai_tokens);
            }
            None => job.usage.push((machine, gpu_seconds, ai_tokens)),
        }
        Ok(())
    }

    /// Settles a job; with `failed_by`, that machine forfeits this epoch's connection reward
    /// (NM9) but keeps its utilization share for the work it did.
    pub(crate) fn tx_settle_job(
        &mut self,
        customer: u32,
        job_id: u64,
        failed_by: Option<Address>,
    ) -> Result<(), TxError> {
        if !self.jobs.contains_key(&(customer, job_id)) {
            return Err(TxError::UnknownJob);
        }
        let failed = match failed_by {
            Some(address) => {
                let machine = self.machine_id(&address).ok_or(TxError::UnknownMachine)?;
                // NM9: only a machine that worked on the job can be failed by it
                let job = &self.jobs[&(customer, job_id)];
                if !job.usage.iter().any(|(m, _, _)| *m == machine) {
                    return Err(TxError::MachineNotInJob);
                }
                Some(machine)
            }
            None => None,
        };
        let job = self.jobs.remove(&(customer, job_id)).unwrap_or_else(|| unreachable!("checked above"));
        self.closed_jobs.insert((customer, job_id));
        let fee = job.price_per_gpu_second * u128::from(job.used_gpu_seconds);
        let account = &mut self.accounts[customer as usize];
        account.escrowed -= job.escrow;
        account.spendable += job.escrow - fee;
        let burn_and_mint = self.policy.burn_and_mint.clone();
        let provider_ppb = match job.mode {
            JobMode::Sync => self.policy.jobs.sync_provider_ppb,
            JobMode::Async => self.policy.jobs.async_provider_ppb,
            JobMode::Inference => self.policy.jobs.inference_provider_ppb,
            JobMode::Rental => self.policy.jobs.rental_provider_ppb,
        };
        let mut paid_from_fee = 0u128;
        for (machine, gpu_seconds, ai_tokens) in &job.usage {
            let owner = self.machines[*machine as usize].owner;
            let earned = job.price_per_gpu_second * u128::from(*gpu_seconds);
            match &burn_and_mint {
                Some(params) => {
                    let pool = self.pool_index(&params.pool);
                    // newer payments queue behind older debts
                    let pay = if self.debts.is_empty() { earned.min(self.pools[pool].balance) } else { 0 };
                    self.pools[pool].balance -= pay;
                    self.accounts[owner as usize].spendable += pay;
                    if earned > pay {
                        self.debts.push_back((owner, earned - pay));
                    }
                }
                None => {
                    let share = ppb_of(earned, provider_ppb);
                    self.accounts[owner as usize].spendable += share;
                    paid_from_fee += share;
                }
            }
            if job.mode == JobMode::Inference && *ai_tokens > 0 {
                let tokens = self.epoch_ai_tokens.entry(*machine).or_default();
                *tokens = tokens.saturating_add(*ai_tokens);
            }
        }
        self.record_burn(fee - paid_from_fee);
        if let Some(machine) = failed {
            self.forfeit_connection_reward(machine);
        }
        Ok(())
    }

    /// G7 step 2, OS4: pays debts from the burn-and-mint pool, oldest first. Returns the total.
    pub(crate) fn pay_debts(&mut self) -> u128 {
        let Some(params) = &self.policy.burn_and_mint else {
            return 0;
        };
        let pool = self.pool_index(&params.pool);
        let mut paid = 0;
        while let Some((account, owed)) = self.debts.front().copied() {
            let pay = owed.min(self.pools[pool].balance);
            if pay == 0 {
                break;
            }
            self.pools[pool].balance -= pay;
            self.pools[pool].epoch_budget = self.pools[pool].epoch_budget.saturating_sub(pay);
            self.accounts[account as usize].spendable += pay;
            paid += pay;
            if pay == owed {
                self.debts.pop_front();
            } else if let Some(front) = self.debts.front_mut() {
                front.1 -= pay;
            }
        }
        paid
    }
}
