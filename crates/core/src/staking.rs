//! Staking, unbonding, the master-node election and the staking programs (NM3, NM10, N24-3,
//! OS6, OS7, G9).
//!
//! A position holds `active` stake (what counted when the epoch began: rewards use only this, G9),
//! `pending_in` (added this epoch) and `pending_out` (unstaked this epoch: still earns this epoch,
//! leaves at the boundary into unbonding). At the boundary pending amounts fold into `active`,
//! then the top `master_nodes` validators by stake (ties: lower address) are elected for the next
//! epoch.

use crate::epoch::ProgramPayout;
use crate::math::{ProRata, mul_div_floor, ppb_of};
use crate::state::{Epoch, Position, Unbonding, Validator};
use crate::{State, TxError};
use gridmint_policy::{Address, PPB};

impl State {
    pub(crate) fn tx_register_validator(&mut self, operator: u32, available: u128, bond: u128) -> Result<(), TxError> {
        let address = self.accounts[operator as usize].address;
        if self.validators.contains_key(&address) {
            return Err(TxError::ValidatorExists);
        }
        if bond == 0 {
            return Err(TxError::ZeroAmount);
        }
        if bond < self.validator_bond_min() {
            return Err(TxError::BondTooLow);
        }
        if bond > available {
            return Err(TxError::InsufficientBalance);
        }
        self.validators.insert(address, Validator { operator, ..Validator::default() });
        self.move_into_stake(operator, address, bond, true);
        Ok(())
    }

    /// A replicated chain's genesis validator (NM10 at genesis): `address` registers itself with a
    /// self-bond of `bond` taken from its genesis allocation's spendable balance, as a
    /// `RegisterValidator` transaction would (same checks, same errors), without a fee or a nonce.
    /// Unlike a transaction's, the bond is active at once: it stood when epoch 1 began (G9).
    /// Call [`State::elect_genesis_master_nodes`] once after the last one.
    pub fn bond_genesis_validator(&mut self, address: Address, bond: u128) -> Result<(), TxError> {
        let operator = self.account_id(&address).ok_or(TxError::InsufficientBalance)?;
        let available = self.accounts[operator as usize].spendable;
        self.tx_register_validator(operator, available, bond)?;
        if let Some(position) = self.positions.get_mut(&(address, operator)) {
            position.active += position.pending_in;
            position.pending_in = 0;
            if let Some(v) = self.validators.get_mut(&address) {
                v.active = position.active;
            }
        }
        Ok(())
    }

    /// NM10 at genesis: the master nodes of epoch 1, elected among the genesis validators as at
    /// an epoch close (G7 step 4).
    pub fn elect_genesis_master_nodes(&mut self) {
        self.elect_master_nodes();
    }

    fn validator_bond_min(&self) -> u128 {
        self.policy.staking.validator_bond_min.base_units()
    }

    fn check_stake_target(&self, validator: Address) -> Result<(), TxError> {
        if validator == Address::ZERO {
            if !self.policy.staking.allow_plain {
                return Err(TxError::ValidatorRequired);
            }
        } else if !self.validators.contains_key(&validator) {
            return Err(TxError::UnknownValidator);
        }
        Ok(())
    }

    /// Moves `amount` from spendable (or unclaimed) into a pending stake position.
    fn move_into_stake(&mut self, account: u32, validator: Address, amount: u128, from_spendable: bool) {
        if from_spendable {
            self.accounts[account as usize].spendable -= amount;
        } else {
            self.rewards[account as usize].unclaimed -= amount;
        }
        self.accounts[account as usize].staked += amount;
        self.positions.entry((validator, account)).or_default().pending_in += amount;
    }

    pub(crate) fn tx_stake(
        &mut self,
        staker: u32,
        available: u128,
        validator: Address,
        amount: u128,
    ) -> Result<(), TxError> {
        if amount == 0 {
            return Err(TxError::ZeroAmount);
        }
        self.check_stake_target(validator)?;
        if amount > available {
            return Err(TxError::InsufficientBalance);
        }
        self.move_into_stake(staker, validator, amount, true);
        Ok(())
    }

    /// OS6: unclaimed rewards move into stake without the claim tax.
    pub(crate) fn tx_claim_to_stake(&mut self, staker: u32, validator: Address) -> Result<(), TxError> {
        let amount = self.unclaimed_of(staker);
        if amount == 0 {
            return Err(TxError::NothingToClaim);
        }
        self.check_stake_target(validator)?;
        self.sweep_machine_rewards(staker);
        self.move_into_stake(staker, validator, amount, false);
        Ok(())
    }

    /// NM10/OS7: unstake; the tokens unbond from the epoch boundary for `unbonding_epochs`
    /// (or the fast withdrawal's epochs, with its burn).
    pub(crate) fn tx_unstake(
        &mut self,
        staker: u32,
        validator: Address,
        amount: u128,
        fast: bool,
    ) -> Result<(), TxError> {
        if amount == 0 {
            return Err(TxError::ZeroAmount);
        }
        let position = self.positions.get(&(validator, staker)).copied().unwrap_or_default();
        if position.effective() < amount {
            return Err(TxError::InsufficientStake);
        }
        let staking = &self.policy.staking;
        let (wait, burn) = if fast {
            let wait = staking.fast_unbonding_epochs.ok_or(TxError::FastWithdrawalUnavailable)?;
            (wait, ppb_of(amount, staking.fast_burn_ppb))
        } else {
            (staking.unbonding_epochs, 0)
        };
        let entry = self.positions.entry((validator, staker)).or_default();
        let from_pending = entry.pending_in.min(amount);
        entry.pending_in -= from_pending;
        entry.pending_out += amount - from_pending;
        let account = &mut self.accounts[staker as usize];
        account.staked -= amount;
        account.unbonding += amount;
        let release: Epoch = self.epoch + Epoch::from(wait);
        self.unbonding
            .insert((release, self.unbonding_seq), Unbonding { account: staker, amount: amount - burn, burn });
        self.unbonding_seq += 1;
        Ok(())
    }

    /// Burns `ppb` of a validator operator's self-bond (OT4 slashing). Returns the amount burned.
    pub(crate) fn slash_self_bond(&mut self, validator: Address, rate_ppb: u64) -> u128 {
        let Some(operator) = self.validators.get(&validator).map(|v| v.operator) else {
            return 0;
        };
        let Some(position) = self.positions.get_mut(&(validator, operator)) else {
            return 0;
        };
        let slash = ppb_of(position.effective(), rate_ppb);
        let from_pending = position.pending_in.min(slash);
        position.pending_in -= from_pending;
        let from_active = slash - from_pending;
        position.active -= from_active;
        if let Some(v) = self.validators.get_mut(&validator) {
            v.active -= from_active;
        }
        self.accounts[operator as usize].staked -= slash;
        self.record_burn(slash);
        slash
    }

    /// The operator's own active stake on its validator.
    pub fn self_bond(&self, validator: &Address) -> u128 {
        self.validators
            .get(validator)
            .and_then(|v| self.positions.get(&(*validator, v.operator)))
            .map_or(0, |p| p.active)
    }

    /// G7 step 3, NM3/N24-3: the staking pool's release, split among stakers on the master nodes
    /// (pro rata to active stake), liquidity providers (pro rata to active liquidity) and the
    /// master-node operators (equal shares).
    pub(crate) fn pay_staking_rewards(&mut self, programs: &mut Vec<ProgramPayout>) {
        let policy = std::sync::Arc::clone(&self.policy);
        let Some(params) = &policy.staking_rewards else {
            return;
        };
        let pool_index = self.pool_index(&params.pool);
        let budget = self.pools[pool_index].epoch_budget;
        let stakers_budget = ppb_of(budget, params.stakers_ppb);
        let liquidity_budget = ppb_of(budget, params.liquidity_ppb);
        let operators_budget = ppb_of(budget, params.operators_ppb);
        // stakers on master nodes
        let masters: Vec<Address> = self.master_nodes.clone();
        let mut stakes: Vec<(u32, u128)> = Vec::new();
        for master in &masters {
            for ((_, account), position) in self.positions.range((*master, 0)..=(*master, u32::MAX)) {
                if position.active > 0 {
                    stakes.push((*account, position.active));
                }
            }
        }
        let stakers = self.pay_pro_rata("staking_stakers", pool_index, stakers_budget, &stakes);
        let liquidity: Vec<(u32, u128)> =
            self.liquidity.iter().filter(|(_, l)| l.active > 0).map(|(account, l)| (*account, l.active)).collect();
        let providers = self.pay_pro_rata("staking_liquidity", pool_index, liquidity_budget, &liquidity);
        let operators: Vec<(u32, u128)> =
            masters.iter().filter_map(|m| self.validators.get(m)).map(|v| (v.operator, 1)).collect();
        let operators = self.pay_pro_rata("staking_operators", pool_index, operators_budget, &operators);
        programs.extend([stakers, providers, operators]);
    }

    /// Pays `budget` from a pool pro rata to `weights` (rounding down; dust stays in the pool).
    pub(crate) fn pay_pro_rata(
        &mut self,
        program: &'static str,
        pool: usize,
        budget: u128,
        weights: &[(u32, u128)],
    ) -> ProgramPayout {
        // committee-attested liquidity is any u128 (NM11), so the weights can sum past u128: then
        // every weight is halved alike until they fit (never for stakes, bounded by the supply)
        let mut shift = 0;
        let total = loop {
            match weights.iter().try_fold(0u128, |total, (_, w)| total.checked_add(w >> shift)) {
                Some(total) => break total,
                None => shift += 1,
            }
        };
        let split = ProRata::new(budget, total);
        let mut paid = 0;
        for (account, weight) in weights {
            let share = split.share(*weight >> shift);
            self.credit_reward(*account, share);
            paid += share;
        }
        self.pools[pool].balance -= paid;
        self.pools[pool].epoch_budget = self.pools[pool].epoch_budget.saturating_sub(paid);
        ProgramPayout {
            program,
            budget,
            paid,
            dust: budget - paid,
            recipients: if total > 0 { weights.len() as u64 } else { 0 },
        }
    }

    /// G7 step 3, OS7: each position earns floor(active·APY/365) from the pool; when the pool
    /// holds less than the total, everyone is paid pro rata to what they earned.
    pub(crate) fn pay_staking_apy(&mut self, programs: &mut Vec<ProgramPayout>) {
        let policy = std::sync::Arc::clone(&self.policy);
        let Some(params) = &policy.staking_apy else {
            return;
        };
        let pool_index = self.pool_index(&params.pool);
        let per_year = u128::from(self.policy.epoch.per_year) * PPB;
        let mut earned: Vec<(u32, u128)> = Vec::new();
        for ((_, account), position) in &self.positions {
            let amount = mul_div_floor(position.active, u128::from(params.apy_ppb), per_year).unwrap_or(0);
            if amount > 0 {
                earned.push((*account, amount));
            }
        }
        let owed: u128 = earned.iter().map(|(_, a)| a).sum();
        let available = self.pools[pool_index].balance;
        let payout = if owed <= available {
            for (account, amount) in &earned {
                self.credit_reward(*account, *amount);
            }
            self.pools[pool_index].balance -= owed;
            self.pools[pool_index].epoch_budget = self.pools[pool_index].epoch_budget.saturating_sub(owed);
            ProgramPayout { program: "staking_apy", budget: owed, paid: owed, dust: 0, recipients: earned.len() as u64 }
        } else {
            let mut payout = self.pay_pro_rata("staking_apy", pool_index, available, &earned);
            payout.budget = owed;
            payout
        };
        programs.push(payout);
    }

    /// G7 step 3 (end): stake changes of the epoch take effect; unbonding that is due is released.
    pub(crate) fn apply_stake_changes(&mut self, epoch: Epoch) {
        for ((validator, _), position) in self.positions.iter_mut() {
            if position.pending_in == 0 && position.pending_out == 0 {
                continue;
            }
            let before = position.active;
            *position = Position { active: position.effective(), pending_in: 0, pending_out: 0 };
            if let Some(v) = self.validators.get_mut(validator) {
                v.active = (v.active - before) + position.active;
            }
        }
        self.positions.retain(|_, p| p.active > 0);
        while let Some(entry) = self.unbonding.first_entry() {
            if entry.key().0 > epoch {
                break;
            }
            let unbonding = entry.remove();
            let account = &mut self.accounts[unbonding.account as usize];
            account.unbonding -= unbonding.amount + unbonding.burn;
            account.spendable += unbonding.amount;
            self.record_burn(unbonding.burn);
        }
    }

    /// G7 step 4, NM10: the validators with the most stake (self-bond at least the minimum) become
    /// the master nodes of the next epoch; ties go to the lower address.
    pub(crate) fn elect_master_nodes(&mut self) {
        let min = self.validator_bond_min();
        let mut candidates: Vec<(u128, Address)> = self
            .validators
            .iter()
            .filter(|(address, v)| v.active > 0 && self.self_bond(address) >= min)
            .map(|(address, v)| (v.active, *address))
            .collect();
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        candidates.truncate(self.policy.staking.master_nodes as usize);
        self.master_nodes = candidates.into_iter().map(|(_, address)| address).collect();
        for validator in self.validators.values_mut() {
            validator.assigned = 0;
            validator.correct = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Address, Policy, State, TOKEN, TxError};
    use gridmint_policy::{GenesisAllocation, Tokens};

    /// NM10 at genesis: validators bonded from their allocations are staked and active at once,
    /// elected master nodes of epoch 1 (most stake first), the conservation law holds then and
    /// after epoch closes, and they stay elected while nothing changes.
    #[test]
    fn genesis_validators_are_bonded_and_elected_keeping_the_invariants() {
        let mut policy = Policy::preset("netmind").unwrap();
        let validators: Vec<Address> = (0..3).map(|i| Address::from_index("validator", i)).collect();
        for v in &validators {
            policy.genesis.push(GenesisAllocation { account: *v, amount: Tokens::whole(5_000) });
            policy.token.cap = Tokens(policy.token.cap.0 + 5_000 * TOKEN);
        }
        let mut state = State::genesis(policy, 0);
        let supply = state.total_supply();
        for (i, v) in validators.iter().enumerate() {
            state.bond_genesis_validator(*v, (1_000 + i as u128) * TOKEN).unwrap();
        }
        assert_eq!(state.bond_genesis_validator(validators[0], TOKEN), Err(TxError::ValidatorExists));
        let unfunded = Address::from_index("validator", 9);
        assert_eq!(state.bond_genesis_validator(unfunded, TOKEN), Err(TxError::InsufficientBalance));
        let id = state.account_id(&validators[1]).unwrap();
        assert_eq!(state.bond_genesis_validator(validators[1], 0), Err(TxError::ValidatorExists));
        assert_eq!(state.accounts[id as usize].spendable, 3_999 * TOKEN);
        assert_eq!(state.accounts[id as usize].staked, 1_001 * TOKEN);
        assert_eq!(state.self_bond(&validators[1]), 1_001 * TOKEN, "active at once");
        state.elect_genesis_master_nodes();
        assert_eq!(state.master_nodes, vec![validators[2], validators[1], validators[0]]);
        assert_eq!(state.total_supply(), supply, "bonding moves tokens, mints none");
        state.check_invariants().unwrap();
        let epoch = state.policy.epoch.seconds;
        state.advance_time(epoch);
        state.advance_time(2 * epoch);
        state.check_invariants().unwrap();
        assert_eq!(state.master_nodes, vec![validators[2], validators[1], validators[0]]);
    }

    /// A bond above the genesis allocation is refused as the transaction would refuse it.
    #[test]
    fn a_genesis_bond_beyond_the_allocation_is_refused() {
        let mut policy = Policy::preset("netmind").unwrap();
        let v = Address::from_index("validator", 0);
        policy.genesis.push(GenesisAllocation { account: v, amount: Tokens::whole(10) });
        policy.token.cap = Tokens(policy.token.cap.0 + 10 * TOKEN);
        let mut state = State::genesis(policy, 0);
        let root = state.state_root();
        assert_eq!(state.bond_genesis_validator(v, 11 * TOKEN), Err(TxError::InsufficientBalance));
        assert_eq!(state.state_root(), root, "nothing changed");
    }

    /// Found by the `apply` fuzz target: two attested liquidity positions whose sum passes
    /// u128 overflowed the staking-rewards close (a panic with overflow checks, a wrong split
    /// without). They are now split pro rata, within the budget, and the invariants hold.
    #[test]
    fn liquidity_weights_past_u128_split_within_budget() {
        let policy = Policy::preset("netmind").unwrap();
        assert!(policy.staking_rewards.is_some() && policy.bridge.is_some());
        let committee = policy.bridge.as_ref().unwrap().committee.clone();
        let mut state = State::genesis(policy, 0);
        let providers = [Address::from_index("lp", 0), Address::from_index("lp", 1), Address::from_index("lp", 2)];
        let amounts = [u128::MAX / 2 + 1, u128::MAX / 2 + 1, 1u128 << 120];
        for (provider, amount) in providers.iter().zip(amounts) {
            for member in &committee {
                let _ = state.tx_attest_liquidity(*member, *provider, amount);
            }
        }
        for provider in &providers {
            let id = state.account_id(provider).unwrap();
            assert!(state.liquidity[&id].pending.is_some(), "the attestations registered {provider:?}");
        }
        let epoch = state.policy.epoch.seconds;
        state.advance_time(epoch); // the positions become active
        let closed = state.advance_time(2 * epoch); // and are paid
        state.check_invariants().unwrap();
        let payout = closed[0].programs.iter().find(|p| p.program == "staking_liquidity").unwrap();
        assert!(payout.budget > 0 && payout.paid <= payout.budget, "{payout:?}");
        assert_eq!(payout.recipients, 3);
        let unclaimed: Vec<u128> = providers.iter().map(|p| state.unclaimed(p)).collect();
        assert!(unclaimed[0] == unclaimed[1] && unclaimed[0] > unclaimed[2] && unclaimed[2] > 0, "{unclaimed:?}");
    }
}
