//! The policy schema. Field names end in their unit (`_ppb`, `_epochs`, `_slots`, `_seconds`);
//! amounts are [`Tokens`]. Every struct denies unknown keys.

use crate::{Address, Tokens};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A whole network's economy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Preset or network name, e.g. `netmind`.
    pub name: String,
    /// Version number; a policy change (G12) must raise it.
    pub version: u32,
    /// The token and its cap (G1).
    pub token: TokenParams,
    /// Epoch and slot lengths (G4, NM6).
    pub epoch: EpochParams,
    /// Spendable balances minted at genesis.
    #[serde(default)]
    pub genesis: Vec<GenesisAllocation>,
    /// Supply buckets with their release schedules (G5, G6).
    #[serde(default)]
    pub pools: Vec<PoolParams>,
    /// Daily gap-decay mint (OS2).
    #[serde(default)]
    pub emission: Option<EmissionParams>,
    /// Connection reward for online machines (NM6, NM7, NM9).
    #[serde(default)]
    pub connection_reward: Option<ConnectionRewardParams>,
    /// Staking, unbonding and the master-node election (NM10, OS7 withdrawals).
    pub staking: StakingParams,
    /// The staking pool's split among stakers, liquidity providers and operators (NM3, N24-3).
    #[serde(default)]
    pub staking_rewards: Option<StakingRewardsParams>,
    /// A fixed APY paid to stakers from a pool (OS7).
    #[serde(default)]
    pub staking_apy: Option<StakingApyParams>,
    /// Utilization fees: provider shares per job mode; the rest is burned (NM8, N24-5).
    pub jobs: JobParams,
    /// Burn-and-mint settlement from a pool, with a debt queue (OS4).
    #[serde(default)]
    pub burn_and_mint: Option<BurnAndMintParams>,
    /// Daily points program (OS5).
    #[serde(default)]
    pub points: Option<PointsParams>,
    /// Claims and their tax (G11, OS6).
    pub claims: ClaimParams,
    /// Governance (NM12).
    #[serde(default)]
    pub governance: Option<GovernanceParams>,
    /// Cross-chain bridge (NM13) and liquidity attestations (NM11).
    #[serde(default)]
    pub bridge: Option<BridgeParams>,
    /// Transaction fees (NM14, OT6).
    pub gas: GasParams,
    /// DualProof work receipts, validation and capped mining (OT3–OT5).
    #[serde(default)]
    pub dualproof: Option<DualProofParams>,
}

/// The token (G1, NM1, OS1, OT1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenParams {
    /// Ticker, e.g. `NMT`.
    pub symbol: String,
    /// The cap: total supply never exceeds it.
    pub cap: Tokens,
}

/// Time (G4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochParams {
    /// Length of an epoch (86,400 s on a real network; shorter only on dev networks).
    pub seconds: u64,
    /// Epochs in a year: exactly 365 (G4, leap years ignored).
    pub per_year: u32,
    /// Heartbeat slot length (NM6 [default] 300 s).
    pub slot_seconds: u64,
}

/// A spendable genesis balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAllocation {
    /// Account: a system account name, a `gm1…` address or 64 hex digits.
    #[serde(deserialize_with = "crate::address::deserialize_allowing_system")]
    pub account: Address,
    /// Amount minted to it at genesis.
    pub amount: Tokens,
}

/// Where a pool's scheduled release goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// Stays in the pool as this epoch's budget for the program that names the pool.
    Program,
    /// Moved to a named or hex account's spendable balance.
    Account(Address),
    /// Moved into another pool.
    Pool(String),
    /// Stays in the pool, counted as released (a pool spent by governance or by hand).
    Hold,
}

impl Sink {
    fn parse(text: &str) -> Result<Sink, String> {
        match text {
            "program" => Ok(Sink::Program),
            "hold" => Ok(Sink::Hold),
            _ => match text.split_once(':') {
                Some(("account", name)) => {
                    Address::parse(name).map(Sink::Account).map_err(|e| format!("release_to `{text}`: {e}"))
                }
                Some(("pool", name)) if !name.is_empty() => Ok(Sink::Pool(name.to_string())),
                _ => Err(format!("release_to `{text}`: expected program, hold, account:NAME or pool:NAME")),
            },
        }
    }
    fn render(&self) -> String {
        match self {
            Sink::Program => "program".into(),
            Sink::Hold => "hold".into(),
            Sink::Account(a) => format!("account:{}", a.to_hex()),
            Sink::Pool(p) => format!("pool:{p}"),
        }
    }
}

impl Serialize for Sink {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.render())
    }
}

impl<'de> Deserialize<'de> for Sink {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Sink::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A supply bucket (G5, G6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolParams {
    /// Pool name as in the rulebook (`mining`, `staking`, `dao`, `node_rewards`, ...).
    pub name: String,
    /// Minted into the pool at genesis (locked until released).
    #[serde(default)]
    pub genesis: Tokens,
    /// Where each release goes.
    pub release_to: Sink,
    /// Linear tranches; a cliff is a tranche with `first == last`.
    #[serde(default)]
    pub tranches: Vec<Tranche>,
}

/// Releases `amount` linearly over epochs `first..=last` (G5): after epoch e it has released
/// floor(amount·(min(e,last)−first+1)/(last−first+1)). With first == last it is a cliff (G6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tranche {
    /// First epoch of the release (1-based, relative to the policy's start).
    pub first: u64,
    /// Last epoch (inclusive).
    pub last: u64,
    /// Amount released over the tranche.
    pub amount: Tokens,
}

/// A share of an amount sent to a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolShare {
    /// Receiving pool.
    pub pool: String,
    /// Share in ppb.
    pub ppb: u64,
}

/// OS2: each epoch mints D = floor((cap − supply)·rate_ppb/10^9), split into pools (each part
/// rounded down; only the parts are minted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmissionParams {
    /// Daily rate on the gap to the cap (OS2: 1,500,000 = 0.15%).
    pub rate_ppb: u64,
    /// Split of D into pools; sums to 10^9.
    pub split: Vec<PoolShare>,
}

/// A bandwidth tier (NM7): machines with at least `min_mbps` get `factor_ppb`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandwidthTier {
    /// Lower bound in Mbps (inclusive).
    pub min_mbps: u32,
    /// Weight factor in ppb.
    pub factor_ppb: u64,
}

/// NM6/NM7: the connection reward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionRewardParams {
    /// Pool whose epoch release funds the reward.
    pub pool: String,
    /// Marked slots needed to qualify (61 = more than 5 h of 300 s slots).
    pub min_online_slots: u32,
    /// Weight per GPU class, tier 1 first.
    pub gpu_weights: Vec<u64>,
    /// Bandwidth tiers, highest `min_mbps` first; the last must start at 0.
    pub bandwidth_tiers: Vec<BandwidthTier>,
}

/// NM10, OS7: staking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StakingParams {
    /// Validators elected as master nodes at each epoch close (NM10: 21).
    pub master_nodes: u32,
    /// Minimum self-bond to register a validator.
    pub validator_bond_min: Tokens,
    /// Epochs an unstake waits after the epoch boundary (NM10 [default] 0; OS7 14).
    pub unbonding_epochs: u32,
    /// Fast withdrawal: epochs to wait (OS7: 1); absent = no fast withdrawal.
    #[serde(default)]
    pub fast_unbonding_epochs: Option<u32>,
    /// Share of a fast withdrawal burned (OS7: 10%).
    #[serde(default)]
    pub fast_burn_ppb: u64,
    /// Whether stake may be placed without a validator (OS7 community staking).
    #[serde(default)]
    pub allow_plain: bool,
    /// On a replicated chain, every elected master node gets the same consensus voting power
    /// instead of power in proportion to its stake (the rulebook is silent; default: by stake).
    /// Absent from the canonical encoding while false, so policies without it keep their hash.
    #[serde(default, skip_serializing_if = "is_false")]
    pub equal_voting_power: bool,
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// NM3, N24-3: the staking pool's release split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StakingRewardsParams {
    /// Pool whose epoch release is split.
    pub pool: String,
    /// Stakers on the master nodes, pro rata to stake.
    pub stakers_ppb: u64,
    /// Liquidity providers, pro rata to registered liquidity.
    pub liquidity_ppb: u64,
    /// Master-node operators, equal shares.
    pub operators_ppb: u64,
}

/// OS7: a fixed APY on stake, paid daily from a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StakingApyParams {
    /// Paying pool.
    pub pool: String,
    /// Annual rate (20% = 200,000,000).
    pub apy_ppb: u64,
}

/// NM8, N24-5: share of each job fee paid to providers, by mode; the rest is burned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobParams {
    /// Sync training.
    pub sync_provider_ppb: u64,
    /// Async training.
    pub async_provider_ppb: u64,
    /// Inference.
    pub inference_provider_ppb: u64,
    /// Machine rental.
    pub rental_provider_ppb: u64,
}

/// OS4: fees are burned whole; providers are paid the same amount from this pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurnAndMintParams {
    /// The Node Reward Pool.
    pub pool: String,
}

/// OS5: daily points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointsParams {
    /// Paying pool.
    pub pool: String,
    /// Share of the pool's balance paid each epoch (5%).
    pub payout_ppb: u64,
    /// Slots online for the uptime point (216 = 18 h).
    pub min_online_slots: u32,
    /// Points for qualifying uptime.
    pub uptime_points: u64,
    /// AI tokens per extra point (1,000,000).
    pub ai_tokens_per_point: u64,
}

/// G11, OS6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimParams {
    /// Share of a claim burned (OS6: 2.5%).
    pub tax_ppb: u64,
}

/// NM12.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernanceParams {
    /// Spendable + staked needed to propose (100,000).
    pub proposer_min: Tokens,
    /// Voting length in epochs, the proposal's own epoch included (7).
    pub voting_epochs: u32,
    /// Quorum as a share of circulating supply at the proposal's start (4%).
    pub quorum_ppb: u64,
    /// The treasury account that only passed proposals spend (a system account name or an address).
    #[serde(deserialize_with = "crate::address::deserialize_allowing_system")]
    pub treasury: Address,
    /// At most this many proposals in their voting periods at once, and one per proposer (the
    /// rulebook is silent; the presets say 16). Each open proposal holds every account's voting
    /// weight at its start, which the state root commits to: without a bound, one holder of
    /// `proposer_min` could open a proposal per transaction and make every block hash copies of
    /// the whole ledger. Absent = no bound, and absent from the canonical encoding, so policies
    /// without it keep their hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_open_proposals: Option<u32>,
}

/// NM13, NM11.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeParams {
    /// Committee members (attesters): system account names or addresses.
    #[serde(deserialize_with = "crate::address::deserialize_list_allowing_system")]
    pub committee: Vec<Address>,
    /// Matching attestations needed (M of N).
    pub threshold: u32,
    /// Inbound payouts per epoch, as a share of the escrow at the epoch's start (1%).
    pub inbound_cap_ppb: u64,
    /// The smallest amount one `bridge_out` may move (the rulebook is silent; the presets say
    /// 1 token). Each outbound record costs every committee member a `bridge_sign` fee, one mint
    /// on the other chain and a record kept for ever: a dust transfer must not buy that for one
    /// fee. Absent = no minimum, and absent from the canonical encoding, so policies without it
    /// keep their hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_min: Option<Tokens>,
}

/// NM14, OT6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GasParams {
    /// Flat fee per transaction, paid to the block producer (NM14).
    pub flat_fee: Tokens,
    /// EIP-1559 base fee, burned (OT6); absent = none.
    #[serde(default)]
    pub base_fee: Option<BaseFeeParams>,
}

/// OT6: EIP-1559.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseFeeParams {
    /// Base fee at genesis.
    pub initial: Tokens,
    /// Floor of the base fee.
    pub min: Tokens,
    /// Transactions per block at most; the target is half of it.
    pub block_tx_limit: u32,
    /// Largest move per block (12.5% = 125,000,000).
    pub max_change_ppb: u64,
    /// Tip per transaction to the producer.
    pub tip: Tokens,
}

/// OT3–OT5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DualProofParams {
    /// A machine's bond to submit receipts.
    pub machine_bond_min: Tokens,
    /// Compute-unit factor per GPU class, ppb of a reference GPU (RTX 3080 = 10^9).
    pub class_factors_ppb: Vec<u64>,
    /// Reward per reference GPU-hour of accepted work (6.25).
    pub reward_per_reference_gpu_hour: Tokens,
    /// Validators' yearly rate on bond (5%).
    pub validator_apy_ppb: u64,
    /// Extra yearly rate for uptime and correct attestations (up to 2%).
    pub validator_bonus_apy_ppb: u64,
    /// Mint budget per epoch (200,000).
    pub daily_mint_cap: Tokens,
    /// Validators assigned per receipt (3).
    pub validators_per_receipt: u32,
    /// Matching attestations that decide a receipt (2).
    pub quorum: u32,
    /// Bond share burned from a machine whose receipt is rejected (10%).
    pub machine_slash_ppb: u64,
    /// Bond share burned from a validator that attested against the outcome (1%).
    pub validator_slash_ppb: u64,
}

/// Leaves that `with_override` may add although the serialized tree lacks them (optional values).
pub(crate) fn is_optional_leaf(path: &[&str]) -> bool {
    matches!(
        path,
        ["staking", "fast_unbonding_epochs" | "equal_voting_power"]
            | ["bridge", "outbound_min"]
            | ["governance", "max_open_proposals"]
    )
}
