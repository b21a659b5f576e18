//! The policy's canonical encoding: what its hash — and through it every state root and chain
//! id — commits to (G12). Our own fixed-width little-endian bytes, never a crate's text format:
//! a new release of the TOML crate that formats differently must not change a root. Every
//! struct is destructured, so a field added to the schema fails to compile here until it is
//! encoded.

use crate::{
    BandwidthTier, BaseFeeParams, BridgeParams, BurnAndMintParams, ClaimParams, ConnectionRewardParams,
    DualProofParams, EmissionParams, EpochParams, GasParams, GenesisAllocation, GovernanceParams, JobParams,
    PointsParams, Policy, PoolParams, PoolShare, Sink, StakingApyParams, StakingParams, StakingRewardsParams,
    TokenParams, Tokens, Tranche,
};

/// Domain tag and version of the encoding.
const TAG: &[u8] = b"gridmint/policy/v1";

struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn tokens(&mut self, v: &Tokens) {
        self.0.extend_from_slice(&v.0.to_le_bytes());
    }
    fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }
    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    fn str(&mut self, v: &str) {
        self.len(v.len());
        self.0.extend_from_slice(v.as_bytes());
    }
    fn address(&mut self, v: &crate::Address) {
        self.0.extend_from_slice(&v.0);
    }
    fn option<T>(&mut self, v: &Option<T>, f: impl FnOnce(&mut W, &T)) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                f(self, v);
            }
        }
    }
    fn list<T>(&mut self, v: &[T], mut f: impl FnMut(&mut W, &T)) {
        self.len(v.len());
        for item in v {
            f(self, item);
        }
    }
}

/// The canonical bytes of `policy`.
pub fn encode(policy: &Policy) -> Vec<u8> {
    let Policy {
        name,
        version,
        token,
        epoch,
        genesis,
        pools,
        emission,
        connection_reward,
        staking,
        staking_rewards,
        staking_apy,
        jobs,
        burn_and_mint,
        points,
        claims,
        governance,
        bridge,
        gas,
        dualproof,
    } = policy;
    let mut w = W(Vec::with_capacity(1024));
    w.0.extend_from_slice(TAG);
    w.str(name);
    w.u32(*version);
    let TokenParams { symbol, cap } = token;
    w.str(symbol);
    w.tokens(cap);
    let EpochParams { seconds, per_year, slot_seconds } = epoch;
    w.u64(*seconds);
    w.u32(*per_year);
    w.u64(*slot_seconds);
    w.list(genesis, |w, GenesisAllocation { account, amount }| {
        w.address(account);
        w.tokens(amount);
    });
    w.list(pools, |w, PoolParams { name, genesis, release_to, tranches }| {
        w.str(name);
        w.tokens(genesis);
        match release_to {
            Sink::Program => w.u8(0),
            Sink::Account(address) => {
                w.u8(1);
                w.address(address);
            }
            Sink::Pool(pool) => {
                w.u8(2);
                w.str(pool);
            }
            Sink::Hold => w.u8(3),
        }
        w.list(tranches, |w, Tranche { first, last, amount }| {
            w.u64(*first);
            w.u64(*last);
            w.tokens(amount);
        });
    });
    w.option(emission, |w, EmissionParams { rate_ppb, split }| {
        w.u64(*rate_ppb);
        w.list(split, |w, PoolShare { pool, ppb }| {
            w.str(pool);
            w.u64(*ppb);
        });
    });
    w.option(
        connection_reward,
        |w, ConnectionRewardParams { pool, min_online_slots, gpu_weights, bandwidth_tiers }| {
            w.str(pool);
            w.u32(*min_online_slots);
            w.list(gpu_weights, |w, v| w.u64(*v));
            w.list(bandwidth_tiers, |w, BandwidthTier { min_mbps, factor_ppb }| {
                w.u32(*min_mbps);
                w.u64(*factor_ppb);
            });
        },
    );
    let StakingParams {
        master_nodes,
        validator_bond_min,
        unbonding_epochs,
        fast_unbonding_epochs,
        fast_burn_ppb,
        allow_plain,
        equal_voting_power,
    } = staking;
    w.u32(*master_nodes);
    w.tokens(validator_bond_min);
    w.u32(*unbonding_epochs);
    w.option(fast_unbonding_epochs, |w, v| w.u32(*v));
    w.u64(*fast_burn_ppb);
    w.bool(*allow_plain);
    w.option(staking_rewards, |w, StakingRewardsParams { pool, stakers_ppb, liquidity_ppb, operators_ppb }| {
        w.str(pool);
        w.u64(*stakers_ppb);
        w.u64(*liquidity_ppb);
        w.u64(*operators_ppb);
    });
    w.option(staking_apy, |w, StakingApyParams { pool, apy_ppb }| {
        w.str(pool);
        w.u64(*apy_ppb);
    });
    let JobParams { sync_provider_ppb, async_provider_ppb, inference_provider_ppb, rental_provider_ppb } = jobs;
    for v in [sync_provider_ppb, async_provider_ppb, inference_provider_ppb, rental_provider_ppb] {
        w.u64(*v);
    }
    w.option(burn_and_mint, |w, BurnAndMintParams { pool }| w.str(pool));
    w.option(points, |w, PointsParams { pool, payout_ppb, min_online_slots, uptime_points, ai_tokens_per_point }| {
        w.str(pool);
        w.u64(*payout_ppb);
        w.u32(*min_online_slots);
        w.u64(*uptime_points);
        w.u64(*ai_tokens_per_point);
    });
    let ClaimParams { tax_ppb } = claims;
    w.u64(*tax_ppb);
    w.option(
        governance,
        |w, GovernanceParams { proposer_min, voting_epochs, quorum_ppb, treasury, max_open_proposals: _ }| {
            w.tokens(proposer_min);
            w.u32(*voting_epochs);
            w.u64(*quorum_ppb);
            w.address(treasury);
        },
    );
    w.option(bridge, |w, BridgeParams { committee, threshold, inbound_cap_ppb, outbound_min: _ }| {
        w.list(committee, |w, a| w.address(a));
        w.u32(*threshold);
        w.u64(*inbound_cap_ppb);
    });
    let GasParams { flat_fee, base_fee } = gas;
    w.tokens(flat_fee);
    w.option(base_fee, |w, BaseFeeParams { initial, min, block_tx_limit, max_change_ppb, tip }| {
        w.tokens(initial);
        w.tokens(min);
        w.u32(*block_tx_limit);
        w.u64(*max_change_ppb);
        w.tokens(tip);
    });
    w.option(dualproof, |w, params| {
        let DualProofParams {
            machine_bond_min,
            class_factors_ppb,
            reward_per_reference_gpu_hour,
            validator_apy_ppb,
            validator_bonus_apy_ppb,
            daily_mint_cap,
            validators_per_receipt,
            quorum,
            machine_slash_ppb,
            validator_slash_ppb,
        } = params;
        w.tokens(machine_bond_min);
        w.list(class_factors_ppb, |w, v| w.u64(*v));
        w.tokens(reward_per_reference_gpu_hour);
        w.u64(*validator_apy_ppb);
        w.u64(*validator_bonus_apy_ppb);
        w.tokens(daily_mint_cap);
        w.u32(*validators_per_receipt);
        w.u32(*quorum);
        w.u64(*machine_slash_ppb);
        w.u64(*validator_slash_ppb);
    });
    // fields added after v1, each encoded only when set (named, after everything else), so
    // that a policy without them keeps its encoding and its hash
    if *equal_voting_power {
        w.str("staking.equal_voting_power");
        w.bool(true);
    }
    if let Some(BridgeParams { outbound_min: Some(min), .. }) = bridge {
        w.str("bridge.outbound_min");
        w.tokens(min);
    }
    if let Some(GovernanceParams { max_open_proposals: Some(n), .. }) = governance {
        w.str("governance.max_open_proposals");
        w.u32(*n);
    }
    w.0
}
