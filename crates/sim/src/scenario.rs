//! Scenarios: how the agents around the economy behave (machines, customers, stakers, liquidity
//! providers, bridge flows, governance proposals, policy upgrades). Agent behaviour may be drawn
//! from floating-point distributions; everything that reaches the ledger is an exact integer
//! (slots, GPU-seconds, base units), entered through the core's own operations.

use gridmint_policy::{Address, Policy, parse_tokens};
use serde::{Deserialize, Serialize};

/// The default scenario of each preset, embedded.
pub const DEFAULT_SCENARIOS: [(&str, &str); 4] = [
    ("netmind", include_str!("../../../scenarios/netmind.toml")),
    ("netmind-2024", include_str!("../../../scenarios/netmind-2024.toml")),
    ("osmi", include_str!("../../../scenarios/osmi.toml")),
    ("omnitensor", include_str!("../../../scenarios/omnitensor.toml")),
];

/// A scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short description.
    #[serde(default)]
    pub description: String,
    /// Default horizon in epochs (overridden by `--epochs`/`--years`).
    #[serde(default)]
    pub epochs: Option<u64>,
    /// Policy overrides, key → TOML value (as `--set`).
    #[serde(default)]
    pub policy: toml::Table,
    /// The account agents' tokens come from (a system account name or hex), e.g. `team`. It must
    /// be able to sign: never the governance treasury, which only proposals spend (NM12).
    #[serde(default)]
    pub funding: Option<String>,
    /// Tokens minted at genesis into the funding account for the agents, the cap raised by as
    /// much (as a dev network's prefund): for a policy whose genesis has no spendable account.
    /// The schedules and the gap to the cap (OS2, OT5) are untouched; the supply is higher by it.
    #[serde(default)]
    pub prefund: Option<String>,
    /// GPU machines.
    #[serde(default)]
    pub machines: Option<Machines>,
    /// Customers paying for jobs.
    #[serde(default)]
    pub customers: Option<Customers>,
    /// Validators and stakers.
    #[serde(default)]
    pub stakers: Option<Stakers>,
    /// Liquidity providers (registered by the committee's attestations).
    #[serde(default)]
    pub liquidity: Option<LiquidityProviders>,
    /// Bridge flows.
    #[serde(default)]
    pub bridge: Option<BridgeFlows>,
    /// DualProof work receipts.
    #[serde(default)]
    pub receipts: Option<Receipts>,
    /// Governance proposals.
    #[serde(default)]
    pub proposals: Vec<ProposalEvent>,
    /// Policy upgrades at epoch boundaries (G12, N24-6).
    #[serde(default)]
    pub upgrades: Vec<UpgradeEvent>,
}

/// The fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machines {
    /// Machines at launch (`--machines` overrides).
    pub count: u64,
    /// Fleet growth per year as a fraction of the launch fleet (0.2 = 20% of the launch count
    /// joins every year; linear, so a century-long forecast stays bounded), spread daily.
    #[serde(default)]
    pub growth_per_year: f64,
    /// GPU class mix: [class, weight] pairs (class 1..=5).
    pub gpu_mix: Vec<(u8, f64)>,
    /// Bandwidth mix: [Mbps, weight] pairs.
    pub bandwidth_mix: Vec<(u32, f64)>,
    /// Each machine's mean daily uptime is uniform in [min, max] hours.
    pub mean_uptime_hours: (f64, f64),
    /// A day's uptime = clip(mean + N(0, sd), 0, 24) hours.
    pub daily_uptime_sd_hours: f64,
    /// Probability per machine per day that it fails a running job (NM9).
    #[serde(default)]
    pub job_failure_rate: f64,
    /// Bond per machine (OT4), in tokens.
    #[serde(default)]
    pub bond: Option<String>,
    /// Owners: each machine its own owner (1), or this many machines per owner.
    #[serde(default = "one")]
    pub machines_per_owner: u64,
    /// Owners claim their rewards every this many epochs (0 = never).
    #[serde(default)]
    pub claim_every_epochs: u64,
}

/// DualProof work receipts (OT3–OT5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipts {
    /// Receipts submitted per day (by random bonded machines).
    pub per_day: u64,
    /// GPU-seconds per receipt.
    pub gpu_seconds: u64,
    /// Share of receipts whose work is invalid (validators attest invalid).
    #[serde(default)]
    pub invalid_rate: f64,
}

fn one() -> u64 {
    1
}

/// Customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customers {
    /// Customer accounts.
    pub count: u64,
    /// Jobs per day across all customers.
    pub jobs_per_day: f64,
    /// Job mode mix: sync, async, inference, rental weights.
    pub mode_mix: (f64, f64, f64, f64),
    /// Price per GPU-second, in tokens (exact decimal).
    pub price_per_gpu_second: String,
    /// Mean GPU-seconds per job.
    pub gpu_seconds_per_job: u64,
    /// AI tokens per GPU-second for inference jobs.
    #[serde(default)]
    pub ai_tokens_per_gpu_second: u64,
    /// Tokens given to each customer at the start (from the funding account).
    pub budget: String,
}

/// Validators and delegators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stakers {
    /// Validators.
    pub validators: u64,
    /// Self-bond of each, tokens.
    pub validator_bond: String,
    /// Delegators.
    pub delegators: u64,
    /// Stake of each delegator, tokens.
    pub stake: String,
    /// Fraction of delegators that claim each day (G11).
    #[serde(default)]
    pub claim_rate: f64,
}

/// Liquidity providers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiquidityProviders {
    /// Providers.
    pub count: u64,
    /// Position of each, tokens.
    pub amount: String,
}

/// Bridge flows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeFlows {
    /// Tokens sent out per day.
    pub out_per_day: String,
    /// Tokens brought in per day (paid when the cap allows).
    pub in_per_day: String,
}

/// A proposal raised at an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalEvent {
    /// Epoch it is raised.
    pub epoch: u64,
    /// Policy changes, key → TOML value.
    #[serde(default)]
    pub set: toml::Table,
    /// Or a treasury spend to the funding account, tokens.
    #[serde(default)]
    pub treasury_spend: Option<String>,
    /// Share of the stakers' weight voting yes (the rest votes no).
    #[serde(default = "half")]
    pub yes_share: f64,
}

fn half() -> f64 {
    0.5
}

/// A scheduled upgrade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeEvent {
    /// First epoch the new policy rules.
    pub epoch: u64,
    /// Preset name or policy file.
    pub policy: String,
    /// Burn the old pools and mint the new ones (N24-6).
    #[serde(default)]
    pub restart_pools: bool,
}

/// Why a scenario was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// TOML syntax, types, unknown keys.
    #[error("scenario: {0}")]
    Parse(String),
    /// A value out of range.
    #[error("scenario `{key}`: {problem}")]
    Invalid {
        /// Key.
        key: String,
        /// Problem.
        problem: String,
    },
}

fn invalid(key: &str, problem: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid { key: key.into(), problem: problem.into() }
}

/// Parses an exact token amount from a scenario string.
pub fn tokens(key: &str, text: &str) -> Result<u128, ScenarioError> {
    parse_tokens(text).map_err(|e| invalid(key, e.to_string()))
}

impl Scenario {
    /// Parses and validates.
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse(e.to_string()))?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// The default scenario of a preset (an empty one for a policy file).
    pub fn default_for(policy_name: &str) -> Scenario {
        DEFAULT_SCENARIOS
            .iter()
            .find(|(name, _)| *name == policy_name)
            .map(|(_, text)| {
                Scenario::from_toml(text).unwrap_or_else(|e| panic!("embedded scenario {policy_name}: {e}"))
            })
            .unwrap_or_else(|| Scenario::from_toml("").unwrap_or_else(|e| panic!("empty scenario: {e}")))
    }

    /// Range checks the parser cannot do.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if let Some(m) = &self.machines {
            if m.gpu_mix.is_empty() || m.gpu_mix.iter().any(|(c, w)| *c == 0 || *w < 0.0 || !w.is_finite()) {
                return Err(invalid("machines.gpu_mix", "needs [class >= 1, weight >= 0] pairs"));
            }
            if m.bandwidth_mix.is_empty() || m.bandwidth_mix.iter().any(|(_, w)| *w < 0.0 || !w.is_finite()) {
                return Err(invalid("machines.bandwidth_mix", "needs [mbps, weight >= 0] pairs"));
            }
            let (low, high) = m.mean_uptime_hours;
            if !(0.0..=24.0).contains(&low) || !(low..=24.0).contains(&high) {
                return Err(invalid("machines.mean_uptime_hours", "needs 0 <= min <= max <= 24"));
            }
            if !(0.0..=24.0).contains(&m.daily_uptime_sd_hours) {
                return Err(invalid("machines.daily_uptime_sd_hours", "needs 0..=24"));
            }
            if !(0.0..=1.0).contains(&m.job_failure_rate) {
                return Err(invalid("machines.job_failure_rate", "needs 0..=1"));
            }
            if !(0.0..=100.0).contains(&m.growth_per_year) {
                return Err(invalid("machines.growth_per_year", "needs 0..=100"));
            }
            if m.machines_per_owner == 0 {
                return Err(invalid("machines.machines_per_owner", "needs >= 1"));
            }
            if let Some(bond) = &m.bond {
                tokens("machines.bond", bond)?;
            }
        }
        if let Some(c) = &self.customers {
            tokens("customers.price_per_gpu_second", &c.price_per_gpu_second)?;
            tokens("customers.budget", &c.budget)?;
            if c.count == 0 || c.jobs_per_day < 0.0 || c.gpu_seconds_per_job == 0 {
                return Err(invalid("customers", "needs count >= 1, jobs_per_day >= 0, gpu_seconds_per_job >= 1"));
            }
        }
        if let Some(s) = &self.stakers {
            tokens("stakers.validator_bond", &s.validator_bond)?;
            tokens("stakers.stake", &s.stake)?;
        }
        if let Some(l) = &self.liquidity {
            tokens("liquidity.amount", &l.amount)?;
        }
        if let Some(b) = &self.bridge {
            tokens("bridge.out_per_day", &b.out_per_day)?;
            tokens("bridge.in_per_day", &b.in_per_day)?;
        }
        for p in &self.proposals {
            if let Some(spend) = &p.treasury_spend {
                tokens("proposals.treasury_spend", spend)?;
            }
        }
        if self.epochs == Some(0) {
            return Err(invalid("epochs", "must be at least 1"));
        }
        if let Some(funding) = &self.funding {
            Address::parse(funding).map_err(|e| invalid("funding", e))?;
        }
        if let Some(prefund) = &self.prefund {
            tokens("prefund", prefund)?;
            if self.funding.is_none() {
                return Err(invalid("prefund", "needs a `funding` account to mint into"));
            }
        }
        Ok(())
    }

    /// Applies the scenario's policy overrides, then the command line's, then its prefund.
    pub fn apply_overrides(
        &self,
        mut policy: Policy,
        extra: &[(String, String)],
    ) -> Result<Policy, gridmint_policy::PolicyError> {
        for (key, value) in crate::flatten(&self.policy) {
            policy = policy.with_override(&key, &value)?;
        }
        for (key, value) in extra {
            policy = policy.with_override(key, value)?;
        }
        if let (Some(prefund), Some(funding)) = (&self.prefund, &self.funding) {
            let problem = |problem: String| gridmint_policy::PolicyError::Invalid { key: "prefund".into(), problem };
            let amount = parse_tokens(prefund).map_err(|e| problem(e.to_string()))?;
            let account = Address::parse(funding).map_err(problem)?;
            policy
                .genesis
                .push(gridmint_policy::GenesisAllocation { account, amount: gridmint_policy::Tokens(amount) });
            let cap = policy.token.cap.0.checked_add(amount).ok_or_else(|| problem("the cap overflows".into()))?;
            policy.token.cap = gridmint_policy::Tokens(cap);
            policy.validate()?;
        }
        Ok(policy)
    }
}
