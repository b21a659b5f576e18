//! Closing an epoch, in the fixed order of RULES G7:
//! 1. schedules release or mint into pools ([`crate::schedule`]);
//! 2. burn-and-mint debts are paid ([`crate::jobs`]);
//! 3. reward programs pay out (connection reward, staking split, staking APY, points, DualProof),
//!    then governance executes proposals whose voting ended, stake and liquidity changes take
//!    effect, and the policy that rules the next epoch is installed (G12);
//! 4. the active validator set for the next epoch is elected under that policy ([`crate::staking`]);
//! 5. the summary and the state root are written.

use crate::State;
use crate::connection_reward::UptimeFill;
use crate::state::{Epoch, ProposalOutcome};
use gridmint_policy::Address;
use serde::Serialize;

/// What one reward program paid in an epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramPayout {
    /// Program name: `connection_reward`, `staking_stakers`, `staking_liquidity`,
    /// `staking_operators`, `staking_apy`, `points`, `dualproof_machines`, `dualproof_validators`.
    pub program: &'static str,
    /// The budget it had.
    #[serde(with = "crate::serde_u128")]
    pub budget: u128,
    /// What it paid.
    #[serde(with = "crate::serde_u128")]
    pub paid: u128,
    /// Rounding dust (budget − paid when there were recipients; G3).
    #[serde(with = "crate::serde_u128")]
    pub dust: u128,
    /// Recipients paid.
    pub recipients: u64,
}

/// Released or minted into a pool in an epoch, and the pool after the close.
///
/// A summary lists the pools of the policy that rules the next epoch, in its order, then any pool
/// an upgrade at this close removed (balance 0: burned by a restart, or empty). So the balances
/// add up with the accounts and the escrow to the summary's `total_supply` at every close (G8),
/// an upgrade's burn and mint included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolRelease {
    /// Pool name (shared with the state's pool: a summary per epoch copies no string).
    #[serde(serialize_with = "crate::epoch::serialize_str")]
    pub pool: std::sync::Arc<str>,
    /// Released (schedule) or minted (emission) this epoch, under the policy that ruled it.
    #[serde(with = "crate::serde_u128")]
    pub released: u128,
    /// Cumulative, after the close (a restart at this close starts the new pool at 0).
    #[serde(with = "crate::serde_u128")]
    pub released_total: u128,
    /// Balance after the close (after an upgrade's burn and mint).
    #[serde(with = "crate::serde_u128")]
    pub balance: u128,
}

/// The record of a closed epoch (G7 step 5, X2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EpochSummary {
    /// The epoch.
    pub epoch: Epoch,
    /// Version of the policy that ruled it (G12).
    pub policy_version: u32,
    /// Per pool.
    pub pools: Vec<PoolRelease>,
    /// Per program.
    pub programs: Vec<ProgramPayout>,
    /// Burn-and-mint debts paid (OS4).
    #[serde(with = "crate::serde_u128")]
    pub debts_paid: u128,
    /// Debts outstanding after the close.
    #[serde(with = "crate::serde_u128")]
    pub debts_outstanding: u128,
    /// Minted this epoch (all causes).
    #[serde(with = "crate::serde_u128")]
    pub minted: u128,
    /// Burned this epoch (all causes).
    #[serde(with = "crate::serde_u128")]
    pub burned: u128,
    /// Cumulative minted.
    #[serde(with = "crate::serde_u128")]
    pub minted_total: u128,
    /// Cumulative burned.
    #[serde(with = "crate::serde_u128")]
    pub burned_total: u128,
    /// Total supply after the close.
    #[serde(with = "crate::serde_u128")]
    pub total_supply: u128,
    /// Circulating after the close.
    #[serde(with = "crate::serde_u128")]
    pub circulating: u128,
    /// Master nodes elected for the next epoch.
    pub master_nodes: Vec<Address>,
    /// Proposals that ended.
    pub proposals: Vec<(u64, ProposalOutcome)>,
    /// Merkle root over (address, cumulative rewards) of every rewarded account (X2).
    #[serde(with = "crate::serde_u128::hash")]
    pub rewards_root: [u8; 32],
    /// The state root after the close (zero when roots are off).
    #[serde(with = "crate::serde_u128::hash")]
    pub state_root: [u8; 32],
    /// A scheduled upgrade this close refused to install (the old policy stays), if any (G12).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_upgrade: Option<RefusedUpgrade>,
}

/// An upgrade that was valid when scheduled but no longer is at the close that would install it
/// (e.g. a pool it drops has received tokens since, or the supply grew past its cap). The close
/// does not install it: the policy that ruled the closed epoch keeps ruling, no era is logged,
/// and the upgrade is removed from the schedule. The summary of that close records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedUpgrade {
    /// The epoch it would have ruled from.
    pub from_epoch: Epoch,
    /// Its policy's name.
    pub policy: String,
    /// Its policy's version.
    pub version: u32,
    /// Why it was refused ([`crate::state::UpgradeError`]).
    pub reason: String,
}

/// Serializes a shared string as a string.
fn serialize_str<S: serde::Serializer>(text: &std::sync::Arc<str>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(text)
}

impl State {
    /// Closes the open epoch (G7) and opens the next.
    pub fn close_epoch(&mut self) -> EpochSummary {
        self.close_epoch_with(None)
    }

    /// [`State::close_epoch`], the open epoch's online slots first set by `uptime` (a
    /// simulation's draw, see [`UptimeFill`]): the same summary and state as setting them all
    /// beforehand, but the connection reward's pass over the machines sets each thread's share
    /// just before reading it, in one parallel step.
    pub fn close_epoch_with(&mut self, uptime: Option<UptimeFill<'_>>) -> EpochSummary {
        let epoch = self.epoch;
        // 1. schedules and mints
        self.release_schedules(epoch);
        // 2. burn-and-mint debts
        let debts_paid = self.pay_debts();
        // 3. reward programs
        let mut programs = Vec::new();
        let slots_cleared = self.pay_connection_reward(&mut programs, uptime);
        self.pay_staking_rewards(&mut programs);
        self.pay_staking_apy(&mut programs);
        self.pay_points(&mut programs);
        self.pay_dualproof(&mut programs);
        for pool in &mut self.pools {
            pool.epoch_budget = 0; // unpaid release stays in the pool (G3)
        }
        self.reset_machine_epoch(slots_cleared);
        let proposals = self.execute_proposals(epoch);
        self.apply_stake_changes(epoch);
        self.apply_liquidity_changes();
        // the policy that rules the next epoch is installed before electing for it; the
        // summary's pools are taken after it (an upgrade may burn and mint pools, G8)
        let policy_version = self.policy.version;
        let mut pools: Vec<PoolRelease> = self
            .pools
            .iter()
            .zip(&self.tally.released)
            .map(|(pool, released)| PoolRelease {
                pool: pool.name.clone(),
                released: *released,
                released_total: pool.released_total,
                balance: pool.balance,
            })
            .collect();
        let mut refused_upgrade = None;
        if self.upgrades.contains_key(&(epoch + 1)) {
            refused_upgrade = self.install_upgrade(epoch + 1);
            pools = self.pools_after_upgrade(pools);
        }
        // 4. election for the next epoch
        self.elect_master_nodes();
        self.bridge.inbound_paid_epoch = 0;
        self.bridge.inbound_cap_epoch =
            self.policy.bridge.as_ref().map_or(0, |b| crate::math::ppb_of(self.bridge.escrow, b.inbound_cap_ppb));
        // confirmed deposits that waited for room are paid first from the new epoch's cap
        self.pay_inbound();
        // 5. summary and roots
        let (rewards_root, state_root) =
            if self.compute_roots { (self.rewards_root(), self.state_root()) } else { ([0; 32], [0; 32]) };
        let summary = EpochSummary {
            epoch,
            policy_version,
            pools,
            programs,
            debts_paid,
            debts_outstanding: self.debts.iter().map(|(_, amount)| amount).sum(),
            minted: self.tally.minted,
            burned: self.tally.burned,
            minted_total: self.minted_total,
            burned_total: self.burned_total,
            total_supply: self.total_supply(),
            circulating: self.circulating(),
            master_nodes: self.master_nodes.clone(),
            proposals,
            rewards_root,
            state_root,
            refused_upgrade,
        };
        // the tally starts over, its per-pool vector reused (a close should not allocate much:
        // a 100-year forecast closes 36,500 epochs)
        let mut released = std::mem::take(&mut self.tally.released);
        released.clear();
        released.resize(self.pools.len(), 0);
        self.tally = crate::state::EpochTally { released, ..Default::default() };
        self.epoch += 1;
        summary
    }

    /// The summary's pools after an upgrade: the pools now ruling, each with what its name
    /// released this epoch (from `before`, the pools as they closed the epoch), then the pools
    /// the upgrade removed, at balance 0.
    fn pools_after_upgrade(&self, before: Vec<PoolRelease>) -> Vec<PoolRelease> {
        let mut pools: Vec<PoolRelease> = self
            .pools
            .iter()
            .map(|pool| PoolRelease {
                pool: pool.name.clone(),
                released: before.iter().find(|b| b.pool == pool.name).map_or(0, |b| b.released),
                released_total: pool.released_total,
                balance: pool.balance,
            })
            .collect();
        for old in before {
            if !self.pools.iter().any(|p| p.name == old.pool) {
                pools.push(PoolRelease { balance: 0, ..old });
            }
        }
        pools
    }

    /// Installs the upgrade that rules from `epoch`, if one is scheduled (G12, N24-6), after
    /// checking it against the state it meets ([`State::check_upgrade_at_close`]). One that
    /// fails the check is removed unapplied and returned as refused: the ruling policy stays.
    fn install_upgrade(&mut self, epoch: Epoch) -> Option<RefusedUpgrade> {
        let upgrade = self.upgrades.remove(&epoch)?;
        if let Err(error) = self.check_upgrade_at_close(epoch, &upgrade.policy, upgrade.restart_pools) {
            return Some(RefusedUpgrade {
                from_epoch: epoch,
                policy: upgrade.policy.name.clone(),
                version: upgrade.policy.version,
                reason: error.to_string(),
            });
        }
        if upgrade.restart_pools {
            // N24-6: the unreleased pools are burned and the new policy's pools minted. The new
            // policy's cap is its headroom over its own genesis allocations (cap − Σ genesis
            // accounts; N24-1: 147,571,163 − 34,571,163 = the 113,000,000 issued) on top of the
            // supply after the burn, which stands in for those allocations.
            let burned: u128 = self.pools.iter().map(|p| p.balance).sum();
            for pool in &mut self.pools {
                pool.balance = 0;
                pool.epoch_budget = 0;
            }
            self.record_burn(burned);
            let allocated: u128 = upgrade.policy.genesis.iter().map(|g| g.amount.base_units()).sum();
            let headroom = upgrade.policy.token.cap.base_units() - allocated; // validated: ≥ the pools' genesis
            let issued: u128 = upgrade.policy.pools.iter().map(|p| p.genesis.base_units()).sum();
            self.cap = self.total_supply() + headroom;
            self.pools.clear();
            self.policy = std::sync::Arc::new(upgrade.policy);
            self.policy_start_epoch = epoch;
            self.install_policy(epoch, true);
            self.tally.minted += issued; // the new pools, minted by `install_policy`
        } else {
            // checked: the new cap holds the supply (G8)
            self.cap = upgrade.policy.token.cap.base_units();
            self.policy = std::sync::Arc::new(upgrade.policy);
            self.install_policy(epoch, false);
        }
        self.tally.released.resize(self.pools.len(), 0);
        None
    }
}
