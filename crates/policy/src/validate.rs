//! Policy validation: everything a policy must satisfy before the core will run it.

use crate::{PPB, Policy, Sink};
use std::collections::BTreeSet;

/// Why a policy was rejected. Every message names the offending key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// TOML syntax, a wrong type or an unknown key (serde reports which).
    #[error("policy: {0}")]
    Parse(String),
    /// No embedded preset has this name.
    #[error("unknown policy preset `{0}` (presets: netmind, netmind-2024, osmi, omnitensor; or give a file path)")]
    UnknownPreset(String),
    /// `--set` or a policy change names a key the schema does not have.
    #[error("unknown policy key `{0}`")]
    UnknownKey(String),
    /// A semantic rule is broken.
    #[error("policy `{key}`: {problem}")]
    Invalid {
        /// The key, e.g. `pools.mining.tranches`.
        key: String,
        /// What is wrong.
        problem: String,
    },
}

/// A real network's epoch length: one day (G4).
pub const REAL_EPOCH_SECONDS: u64 = 86_400;

/// The longest vote a policy may set (`governance.voting_epochs`).
pub const MAX_VOTING_EPOCHS: u32 = 365;

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> PolicyError {
    PolicyError::Invalid { key: key.into(), problem: problem.into() }
}

fn ppb_at_most_one(key: &str, value: u64) -> Result<(), PolicyError> {
    if u128::from(value) > PPB {
        return Err(invalid(key, format!("{value} ppb is more than 10^9 (100%)")));
    }
    Ok(())
}

fn ppb_sum(key: &str, parts: &[u64]) -> Result<(), PolicyError> {
    let sum: u128 = parts.iter().map(|p| u128::from(*p)).sum();
    if sum != PPB {
        return Err(invalid(key, format!("shares sum to {sum} ppb, not 10^9")));
    }
    Ok(())
}

impl Policy {
    /// Checks every semantic rule; the first violation is returned.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.epoch.per_year != 365 {
            return Err(invalid(
                "epoch.per_year",
                format!("a year is exactly 365 epochs (G4), not {}", self.epoch.per_year),
            ));
        }
        if self.epoch.seconds == 0 || self.epoch.slot_seconds == 0 {
            return Err(invalid("epoch", "seconds and slot_seconds must be positive"));
        }
        if !self.epoch.seconds.is_multiple_of(self.epoch.slot_seconds)
            || self.epoch.seconds / self.epoch.slot_seconds > 320
        {
            return Err(invalid("epoch.slot_seconds", "an epoch must hold a whole number of slots, at most 320"));
        }
        let cap = self.token.cap.base_units();
        let mut names = BTreeSet::new();
        for pool in &self.pools {
            if !names.insert(pool.name.as_str()) {
                return Err(invalid(format!("pools.{}", pool.name), "pool name used twice"));
            }
        }
        let pool_exists = |key: &str, name: &str| -> Result<(), PolicyError> {
            if names.contains(name) { Ok(()) } else { Err(invalid(key, format!("no pool named `{name}`"))) }
        };
        let mut genesis_total: u128 = 0;
        for allocation in &self.genesis {
            genesis_total = genesis_total.saturating_add(allocation.amount.base_units());
        }
        for pool in &self.pools {
            let key = format!("pools.{}", pool.name);
            genesis_total = genesis_total.saturating_add(pool.genesis.base_units());
            let mut tranches: Vec<_> = pool.tranches.iter().collect();
            tranches.sort_by_key(|t| t.first);
            let mut released: u128 = 0;
            let mut previous_last = 0;
            for tranche in tranches {
                if tranche.first == 0 || tranche.last < tranche.first {
                    return Err(invalid(
                        format!("{key}.tranches"),
                        format!("tranche {}..{} is empty or starts at epoch 0", tranche.first, tranche.last),
                    ));
                }
                if tranche.first <= previous_last {
                    return Err(invalid(
                        format!("{key}.tranches"),
                        format!(
                            "tranche starting at epoch {} overlaps the one ending at {previous_last}",
                            tranche.first
                        ),
                    ));
                }
                previous_last = tranche.last;
                released = released.saturating_add(tranche.amount.base_units());
            }
            if released > pool.genesis.base_units() {
                return Err(invalid(format!("{key}.tranches"), "tranches release more than the pool's genesis amount"));
            }
            if let Sink::Pool(target) = &pool.release_to {
                pool_exists(&format!("{key}.release_to"), target)?;
                if target == &pool.name {
                    return Err(invalid(format!("{key}.release_to"), "a pool cannot release into itself"));
                }
            }
        }
        if genesis_total > cap {
            return Err(invalid("token.cap", "genesis allocations and pools exceed the cap"));
        }
        if let Some(emission) = &self.emission {
            ppb_at_most_one("emission.rate_ppb", emission.rate_ppb)?;
            let shares: Vec<u64> = emission.split.iter().map(|s| s.ppb).collect();
            ppb_sum("emission.split", &shares)?;
            for share in &emission.split {
                pool_exists("emission.split", &share.pool)?;
            }
        }
        if let Some(connection) = &self.connection_reward {
            pool_exists("connection_reward.pool", &connection.pool)?;
            if connection.gpu_weights.is_empty() || connection.gpu_weights.len() > 16 {
                return Err(invalid("connection_reward.gpu_weights", "between 1 and 16 GPU classes"));
            }
            if connection.gpu_weights.iter().any(|w| *w == 0 || *w > 1_000_000) {
                return Err(invalid("connection_reward.gpu_weights", "each weight must be 1..=1,000,000"));
            }
            let tiers = &connection.bandwidth_tiers;
            if tiers.len() > 15 {
                return Err(invalid("connection_reward.bandwidth_tiers", "at most 15 tiers"));
            }
            if tiers.is_empty() || tiers.last().map(|t| t.min_mbps) != Some(0) {
                return Err(invalid("connection_reward.bandwidth_tiers", "the last tier must start at 0 Mbps"));
            }
            if tiers.windows(2).any(|w| w.first().map(|a| a.min_mbps) <= w.get(1).map(|b| b.min_mbps)) {
                return Err(invalid(
                    "connection_reward.bandwidth_tiers",
                    "tiers must be ordered by min_mbps, highest first",
                ));
            }
            if tiers.iter().any(|t| t.factor_ppb == 0 || t.factor_ppb > 10_000_000_000) {
                return Err(invalid(
                    "connection_reward.bandwidth_tiers",
                    "each factor_ppb must be 1..=10^10 (up to 10x)",
                ));
            }
        }
        if self.staking.master_nodes == 0 {
            return Err(invalid("staking.master_nodes", "at least one master node"));
        }
        ppb_at_most_one("staking.fast_burn_ppb", self.staking.fast_burn_ppb)?;
        if let Some(split) = &self.staking_rewards {
            pool_exists("staking_rewards.pool", &split.pool)?;
            ppb_sum("staking_rewards", &[split.stakers_ppb, split.liquidity_ppb, split.operators_ppb])?;
        }
        if let Some(apy) = &self.staking_apy {
            pool_exists("staking_apy.pool", &apy.pool)?;
            ppb_at_most_one("staking_apy.apy_ppb", apy.apy_ppb)?;
        }
        let jobs = &self.jobs;
        for (key, value) in [
            ("jobs.sync_provider_ppb", jobs.sync_provider_ppb),
            ("jobs.async_provider_ppb", jobs.async_provider_ppb),
            ("jobs.inference_provider_ppb", jobs.inference_provider_ppb),
            ("jobs.rental_provider_ppb", jobs.rental_provider_ppb),
            ("claims.tax_ppb", self.claims.tax_ppb),
        ] {
            ppb_at_most_one(key, value)?;
        }
        if let Some(burn_and_mint) = &self.burn_and_mint {
            pool_exists("burn_and_mint.pool", &burn_and_mint.pool)?;
        }
        if let Some(points) = &self.points {
            pool_exists("points.pool", &points.pool)?;
            ppb_at_most_one("points.payout_ppb", points.payout_ppb)?;
            if points.ai_tokens_per_point == 0 {
                return Err(invalid("points.ai_tokens_per_point", "must be positive"));
            }
        }
        if let Some(governance) = &self.governance {
            ppb_at_most_one("governance.quorum_ppb", governance.quorum_ppb)?;
            if governance.voting_epochs == 0 {
                return Err(invalid("governance.voting_epochs", "must be positive"));
            }
            // open proposals hold their slots for the whole vote: a vote of years, set by a
            // passed proposal or a mistake, would hold every slot for years
            if governance.voting_epochs > MAX_VOTING_EPOCHS {
                return Err(invalid(
                    "governance.voting_epochs",
                    format!("at most {MAX_VOTING_EPOCHS} (a year of daily epochs)"),
                ));
            }
            if governance.max_open_proposals == Some(0) {
                return Err(invalid(
                    "governance.max_open_proposals",
                    "must be at least 1 when set (omit it for no bound; 0 would freeze governance for ever)",
                ));
            }
        }
        if let Some(bridge) = &self.bridge {
            let members: BTreeSet<_> = bridge.committee.iter().collect();
            if members.len() != bridge.committee.len() {
                return Err(invalid("bridge.committee", "a member is listed twice"));
            }
            if bridge.threshold == 0 || bridge.threshold as usize > bridge.committee.len() {
                return Err(invalid("bridge.threshold", "must be between 1 and the committee size"));
            }
            ppb_at_most_one("bridge.inbound_cap_ppb", bridge.inbound_cap_ppb)?;
            if bridge.outbound_min.is_some_and(|min| min.0 == 0) {
                return Err(invalid("bridge.outbound_min", "must be positive when set (omit it for no minimum)"));
            }
            // a cap of 0 would leave every confirmed deposit waiting for ever
            if bridge.inbound_cap_ppb == 0 {
                return Err(invalid("bridge.inbound_cap_ppb", "must be positive (0 would never pay a deposit)"));
            }
        }
        if let Some(base_fee) = &self.gas.base_fee {
            ppb_at_most_one("gas.base_fee.max_change_ppb", base_fee.max_change_ppb)?;
            if base_fee.block_tx_limit < 2 {
                return Err(invalid("gas.base_fee.block_tx_limit", "at least 2 (the target is half)"));
            }
            if base_fee.initial < base_fee.min {
                return Err(invalid("gas.base_fee.initial", "below gas.base_fee.min"));
            }
        }
        if let Some(dualproof) = &self.dualproof {
            if dualproof.quorum == 0 || dualproof.quorum > dualproof.validators_per_receipt {
                return Err(invalid("dualproof.quorum", "must be between 1 and validators_per_receipt"));
            }
            if dualproof.class_factors_ppb.is_empty() {
                return Err(invalid("dualproof.class_factors_ppb", "at least one GPU class"));
            }
            for (key, value) in [
                ("dualproof.machine_slash_ppb", dualproof.machine_slash_ppb),
                ("dualproof.validator_slash_ppb", dualproof.validator_slash_ppb),
                ("dualproof.validator_apy_ppb", dualproof.validator_apy_ppb),
                ("dualproof.validator_bonus_apy_ppb", dualproof.validator_bonus_apy_ppb),
            ] {
                ppb_at_most_one(key, value)?;
            }
        }
        Ok(())
    }

    /// Checks what a real network's genesis needs beyond [`Policy::validate`]: epochs of exactly
    /// [`REAL_EPOCH_SECONDS`] (G4). Only development networks shorten epochs (`gridmint node
    /// --dev --epoch-seconds`), scaling their slot thresholds with them.
    pub fn validate_real_network(&self) -> Result<(), PolicyError> {
        self.validate()?;
        if self.epoch.seconds != REAL_EPOCH_SECONDS {
            return Err(invalid(
                "epoch.seconds",
                format!(
                    "a real network's epochs are 86,400 s (G4), not {}; only a dev network shortens them (gridmint node --dev --epoch-seconds)",
                    self.epoch.seconds
                ),
            ));
        }
        Ok(())
    }

    /// The number of heartbeat slots in an epoch.
    pub fn slots_per_epoch(&self) -> u32 {
        (self.epoch.seconds / self.epoch.slot_seconds) as u32
    }

    /// The index of a pool by name.
    pub fn pool_index(&self, name: &str) -> Option<usize> {
        self.pools.iter().position(|p| p.name == name)
    }

    /// The number of GPU classes machines may declare: with a connection reward, exactly the
    /// classes it weighs (a machine of a class without a weight would have no reward bucket);
    /// otherwise DualProof's classes, at least the five NM7 tiers.
    pub fn gpu_classes(&self) -> usize {
        match &self.connection_reward {
            Some(connection) => connection.gpu_weights.len(),
            None => self.dualproof.as_ref().map_or(0, |d| d.class_factors_ppb.len()).max(5),
        }
    }
}
