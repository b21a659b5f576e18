//! The random transaction generator shared by the random-sequence test and the golden vectors.
#![allow(dead_code)]

use gridmint_core::{Address, JobMode, Policy, ProposalAction, State, TOKEN, TxBody};
use gridmint_policy::{GenesisAllocation, Tokens};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

pub const USERS: u64 = 8;

pub fn user(i: u64) -> Address {
    Address::from_index("user", i)
}
pub fn machine(i: u64) -> Address {
    Address::from_index("machine", i)
}
pub fn member(i: u64) -> Address {
    Address::from_index("committee", i)
}

pub fn policy(name: &str) -> Policy {
    let mut policy = Policy::preset(name).unwrap();
    let mut funded = Vec::new();
    for i in 0..USERS {
        funded.push((user(i), 1_000_000 * TOKEN));
    }
    for i in 0..3 {
        funded.push((member(i), 1_000 * TOKEN));
    }
    for (account, amount) in funded {
        policy.genesis.push(GenesisAllocation { account, amount: Tokens(amount) });
        policy.token.cap = Tokens(policy.token.cap.0 + amount);
    }
    if let Some(bridge) = policy.bridge.as_mut() {
        bridge.committee = (0..3).map(member).collect();
    }
    if let Some(base_fee) = policy.gas.base_fee.as_mut() {
        base_fee.block_tx_limit = 40;
    }
    policy.validate().unwrap();
    policy
}

pub fn amount(rng: &mut ChaCha8Rng) -> u128 {
    match rng.random_range(0..10) {
        0 => 0,
        1 => u128::MAX,
        2 => rng.random_range(0..1_000_000u128),
        3 => rng.random_range(0..10_000_000u128) * TOKEN,
        _ => rng.random_range(1..5_000u128) * TOKEN,
    }
}

pub fn any_address(rng: &mut ChaCha8Rng) -> Address {
    match rng.random_range(0..10) {
        0 => Address::from_index("stranger", rng.random_range(0..3)),
        1 => Address::ZERO,
        2 => member(rng.random_range(0..3)),
        _ => user(rng.random_range(0..USERS)),
    }
}

pub fn body(rng: &mut ChaCha8Rng, state: &State) -> (Address, TxBody) {
    let u = user(rng.random_range(0..USERS));
    let hash = |rng: &mut ChaCha8Rng| [rng.random_range(0..4u8); 32];
    let slots = u64::from(state.policy.slots_per_epoch());
    match rng.random_range(0..22) {
        0..=3 => (u, TxBody::Transfer { to: any_address(rng), amount: amount(rng) }),
        4 => (
            u,
            TxBody::RegisterMachine {
                machine: machine(rng.random_range(0..12)),
                gpu_class: rng.random_range(0..7),
                bandwidth_mbps: rng.random_range(0..200),
                bond: if rng.random_bool(0.5) { 1_000 * TOKEN } else { amount(rng) },
            },
        ),
        5 => {
            let epoch_first = (state.epoch - 1) * slots;
            let slot = epoch_first + rng.random_range(0..slots + 2);
            (machine(rng.random_range(0..12)), TxBody::Heartbeat { slot: slot.saturating_sub(rng.random_range(0..2)) })
        }
        6 => (
            u,
            TxBody::SubmitJob {
                job_id: rng.random_range(0..6),
                mode: [JobMode::Sync, JobMode::Async, JobMode::Inference, JobMode::Rental][rng.random_range(0..4)],
                price_per_gpu_second: rng.random_range(0..3) * TOKEN / 1000,
                max_gpu_seconds: rng.random_range(0..100_000),
            },
        ),
        7 => (
            u,
            TxBody::ReportUsage {
                customer: user(rng.random_range(0..USERS)),
                job_id: rng.random_range(0..6),
                machine: machine(rng.random_range(0..12)),
                gpu_seconds: rng.random_range(0..50_000),
                ai_tokens: rng.random_range(0..3_000_000),
            },
        ),
        8 => (u, TxBody::SettleJob { job_id: rng.random_range(0..6) }),
        9 => (u, TxBody::FailJob { job_id: rng.random_range(0..6), machine: machine(rng.random_range(0..12)) }),
        10 => (u, TxBody::RegisterValidator { bond: if rng.random_bool(0.5) { 40_000 * TOKEN } else { amount(rng) } }),
        11 => (u, TxBody::Stake { validator: any_address(rng), amount: amount(rng) }),
        12 => (u, TxBody::Unstake { validator: any_address(rng), amount: amount(rng) / 2, fast: rng.random_bool(0.3) }),
        13 => {
            (u, if rng.random_bool(0.7) { TxBody::Claim } else { TxBody::ClaimToStake { validator: any_address(rng) } })
        }
        14 => {
            let action = if rng.random_bool(0.5) {
                ProposalAction::TreasurySpend { to: any_address(rng), amount: amount(rng) }
            } else {
                let (key, value) = [
                    ("claims.tax_ppb", "1000"),
                    ("staking.master_nodes", "3"),
                    ("token.cap", "1"),
                    ("claims.tax_ppb", "2000000000"),
                ][rng.random_range(0..4)];
                ProposalAction::PolicyChange { changes: vec![(key.into(), value.into())] }
            };
            (u, TxBody::Propose { action })
        }
        15 => (u, TxBody::Vote { proposal: rng.random_range(0..4), yes: rng.random_bool(0.6) }),
        16 => {
            // an EVM address left-padded to 32 bytes, or the zero one (refused)
            let mut recipient = hash(rng);
            recipient[..12].fill(0);
            (u, TxBody::BridgeOut { amount: amount(rng), recipient })
        }
        17 => (
            member(rng.random_range(0..4)),
            TxBody::BridgeAttest {
                deposit_id: rng.random_range(0..5),
                recipient: any_address(rng),
                amount: rng.random_range(1..3) * TOKEN,
            },
        ),
        18 => (
            member(rng.random_range(0..4)),
            TxBody::AttestLiquidity { provider: any_address(rng), amount: rng.random_range(0..3) * TOKEN },
        ),
        19 => (
            u,
            TxBody::SubmitReceipt {
                machine: machine(rng.random_range(0..12)),
                task_id: hash(rng),
                model_id: hash(rng),
                input_hash: hash(rng),
                output_hash: hash(rng),
                gpu_seconds: rng.random_range(0..100_000),
            },
        ),
        21 => (
            member(rng.random_range(0..4)),
            TxBody::BridgeSign { record: rng.random_range(0..3), signature: [rng.random_range(0..4u8); 65] },
        ),
        _ => {
            let receipt =
                state.receipts.keys().nth(rng.random_range(0..state.receipts.len().max(1))).copied().unwrap_or([0; 32]);
            let signer =
                state.master_nodes.get(rng.random_range(0..state.master_nodes.len().max(1))).copied().unwrap_or(u);
            (signer, TxBody::AttestReceipt { receipt, valid: rng.random_bool(0.7) })
        }
    }
}
