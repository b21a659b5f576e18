//! Every invariant the ledger can state, checked in one place. Tests call [`State::check_invariants`]
//! after every block; a violation is a bug, never a transaction error (G8), so callers assert.

use crate::State;

impl State {
    /// Checks conservation (G8), the cap, and every internal sum; returns the first violation.
    pub fn check_invariants(&self) -> Result<(), String> {
        let fail = |what: String| Err(what);
        if self.burned_total > self.minted_total {
            return fail(format!("burned {} exceeds minted {}", self.burned_total, self.minted_total));
        }
        let supply = self.total_supply();
        if supply > self.cap {
            return fail(format!("G8: total supply {supply} exceeds the cap {}", self.cap));
        }
        let machine_unclaimed: u128 = (0..self.machines.len() as u32).map(|m| self.machine_unclaimed(m)).sum();
        let holdings: u128 = self
            .accounts
            .iter()
            .zip(&self.rewards)
            .map(|(a, r)| a.spendable + r.unclaimed + a.staked + a.unbonding + a.escrowed)
            .sum::<u128>()
            + machine_unclaimed;
        let pools = self.pools_total();
        if holdings + pools + self.bridge.escrow != supply {
            return fail(format!(
                "G8: accounts and machines {holdings} + pools {pools} + escrow {} != supply {supply}",
                self.bridge.escrow
            ));
        }
        let staked: u128 = self.accounts.iter().map(|a| a.staked).sum();
        let positions: u128 = self.positions.values().map(|p| p.effective()).sum();
        let bonds: u128 = self.machines_cold.iter().map(|m| m.bond).sum();
        if staked != positions + bonds {
            return fail(format!("staked {staked} != positions {positions} + machine bonds {bonds}"));
        }
        let unbonding: u128 = self.accounts.iter().map(|a| a.unbonding).sum();
        let entries: u128 = self.unbonding.values().map(|u| u.amount + u.burn).sum();
        if unbonding != entries {
            return fail(format!("unbonding {unbonding} != unbonding entries {entries}"));
        }
        let escrowed: u128 = self.accounts.iter().map(|a| a.escrowed).sum();
        let jobs: u128 = self.jobs.values().map(|j| j.escrow).sum();
        if escrowed != jobs {
            return fail(format!("escrowed {escrowed} != open job escrow {jobs}"));
        }
        for (address, validator) in &self.validators {
            let active: u128 = self.positions.range((*address, 0)..=(*address, u32::MAX)).map(|(_, p)| p.active).sum();
            if active != validator.active {
                return fail(format!("validator {address:?} active {} != positions {active}", validator.active));
            }
        }
        for job in self.jobs.values() {
            if job.used_gpu_seconds > job.max_gpu_seconds
                || job.price_per_gpu_second * u128::from(job.max_gpu_seconds) != job.escrow
            {
                return fail("a job's usage or escrow is inconsistent".into());
            }
        }
        if self.master_nodes.len() > self.policy.staking.master_nodes as usize
            || self.master_nodes.iter().any(|m| !self.validators.contains_key(m))
        {
            return fail("master nodes are not a subset of the validators".into());
        }
        for pool in &self.pools {
            if pool.epoch_budget > pool.balance {
                return fail(format!("pool {} budget above its balance", pool.name));
            }
        }
        let owned: usize = self.owner_machines.values().map(Vec::len).sum();
        if self.machines.len() != self.machines_cold.len()
            || self.machines.len() != self.machine_index.len()
            || self.machines.len() != self.machine_credit.len()
            || self.machines.len() != self.machine_claimed.len()
            || self.machines.len() != self.online_slots.len()
            || self.machines.len() != self.machine_bucket.len()
            || self.machines.len().div_ceil(64) != self.forfeited.len()
            || self.machines.len().div_ceil(64) != self.accruing.len()
            || self.accruing_count.len() != self.weight_table.len()
            || self.reward_index.len() != self.weight_table.len()
            || owned != self.machines.len()
        {
            return fail("machine tables differ in length".into());
        }
        // the close keeps each bucket's count of accruing machines by the changes alone
        let mut accruing = vec![0u64; self.accruing_count.len()];
        for (id, bucket) in self.machine_bucket.iter().enumerate() {
            if crate::state::bit(&self.accruing, id as u32) {
                match accruing.get_mut(usize::from(*bucket)) {
                    Some(n) => *n += 1,
                    None => return fail(format!("machine {id} accrues in a bucket the policy does not have")),
                }
            }
        }
        if accruing != self.accruing_count {
            return fail("a bucket's count of accruing machines disagrees with the machines".into());
        }
        let max_slots = self.policy.slots_per_epoch() as u16;
        if self.online_slots.iter().any(|s| *s > max_slots) {
            return fail("a machine has more online slots than the epoch holds".into());
        }
        if self.rewards.len() != self.accounts.len() {
            return fail("rewards and accounts differ in length".into());
        }
        if self.account_index.len() != self.accounts.len()
            || self.account_index.iter().any(|(a, id)| self.accounts.get(*id as usize).map(|x| x.address) != Some(*a))
        {
            return fail("the account index disagrees with the accounts".into());
        }
        if self.time >= self.epoch_end_time(self.epoch) {
            return fail("the open epoch ended before the last block".into());
        }
        if self.bridge.inbound_paid_epoch > self.bridge.inbound_cap_epoch {
            return fail("inbound bridge payouts above the epoch cap".into());
        }
        let next = usize::try_from(self.bridge.inbound_next).unwrap_or(usize::MAX);
        if next > self.bridge.inbound.len()
            || self.bridge.inbound.iter().any(|i| i.paid > i.amount || self.account_id(&i.recipient).is_none())
            || self.bridge.inbound[..next].iter().any(|i| i.paid != i.amount)
            || self.bridge.inbound.get(next + 1..).unwrap_or_default().iter().any(|i| i.paid != 0)
            || self.bridge.inbound.len()
                != self.bridge.inbound.iter().filter(|i| self.bridge.paid_deposits.contains(&i.deposit_id)).count()
        {
            return fail("the inbound bridge queue is inconsistent".into());
        }
        if self.inbound_owed() > self.bridge.escrow {
            return fail("the inbound bridge queue owes more than the escrow holds".into());
        }
        if self.bridge.mint_signatures.keys().next_back().is_some_and(|r| *r as usize >= self.bridge.outbound.len()) {
            return fail("a mint signature names no outbound record".into());
        }
        if self.debts.iter().any(|(_, amount)| *amount == 0) {
            return fail("a zero debt is queued".into());
        }
        Ok(())
    }

    /// Panics on a broken invariant (a bug: stop, never catch).
    pub fn assert_invariants(&self) {
        if let Err(violation) = self.check_invariants() {
            panic!("invariant broken at height {} epoch {}: {violation}", self.height, self.epoch);
        }
    }
}

impl State {
    /// Computes the state root incrementally and from scratch and compares them: the cached
    /// trees must always agree with the records (tests and fuzzing run this after every block).
    pub fn check_commitment(&mut self) -> Result<(), String> {
        let incremental = self.state_root();
        let full = self.full_state_root();
        if incremental == full {
            Ok(())
        } else {
            Err(format!(
                "the incremental state root {} differs from the full one {}",
                hex::encode(incremental),
                hex::encode(full)
            ))
        }
    }
}
