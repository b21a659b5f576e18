//! The structured target: the fuzzer's bytes pick a preset, then blocks of transactions of every
//! kind from a small world (a few funded users, machines, committee members and the treasury),
//! at times that cross slots and epoch boundaries, with right, stale and future nonces.

use arbitrary::{Result, Unstructured};
use gridmint_core::{Address, JobMode, Policy, ProposalAction, State, TOKEN, Tx, TxBody};
use gridmint_policy::{GenesisAllocation, PRESETS, Tokens};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Funded users (signers of most transactions).
const USERS: u64 = 6;
/// Machine keys users may register.
const MACHINES: u64 = 8;
/// Bridge committee members (funded).
const MEMBERS: u64 = 3;
/// Blocks per input.
const MAX_BLOCKS: usize = 12;
/// Candidate transactions per block.
const MAX_TXS: usize = 16;
/// A small block limit, so that blocks fill up (where the policy has a base fee).
const BLOCK_TX_LIMIT: u32 = 6;

fn user(i: u64) -> Address {
    Address::from_index("user", i)
}
fn machine(i: u64) -> Address {
    Address::from_index("machine", i)
}
fn member(i: u64) -> Address {
    Address::from_index("committee", i)
}

/// The presets as they ship.
pub(crate) fn presets() -> &'static [Policy] {
    static PRESET_POLICIES: OnceLock<Vec<Policy>> = OnceLock::new();
    PRESET_POLICIES.get_or_init(|| {
        PRESETS.iter().map(|(name, _)| Policy::preset(name).unwrap_or_else(|e| panic!("preset {name}: {e}"))).collect()
    })
}

/// The presets with the fuzz world funded at genesis: users, the bridge committee, a small block.
fn worlds() -> &'static [Policy] {
    static WORLDS: OnceLock<Vec<Policy>> = OnceLock::new();
    WORLDS.get_or_init(|| {
        presets()
            .iter()
            .map(|preset| {
                let mut policy = preset.clone();
                let funded = (0..USERS)
                    .map(|i| (user(i), 1_000_000 * TOKEN))
                    .chain((0..MEMBERS).map(|i| (member(i), 1_000 * TOKEN)));
                for (account, amount) in funded {
                    policy.genesis.push(GenesisAllocation { account, amount: Tokens(amount) });
                    policy.token.cap = Tokens(policy.token.cap.0 + amount);
                }
                if let Some(bridge) = policy.bridge.as_mut() {
                    bridge.committee = (0..MEMBERS).map(member).collect();
                }
                if let Some(base_fee) = policy.gas.base_fee.as_mut() {
                    base_fee.block_tx_limit = BLOCK_TX_LIMIT;
                }
                policy.validate().unwrap_or_else(|e| panic!("fuzz world of {}: {e}", policy.name));
                policy
            })
            .collect()
    })
}

/// Executes the blocks the bytes describe, each either built by [`State::build_block`] and
/// replayed by [`State::execute_block`] on a copy (same receipts, same state root and bytes), or
/// applied one transaction at a time (`begin_block`, `execute_tx`, `end_block`), where a refused
/// transaction must leave `canonical_bytes` identical and an included one that failed its
/// kind's checks must consume its nonce. `check_invariants` must hold at genesis, after every
/// transaction applied one by one and after every block. Panics on a violation.
pub fn apply(data: &[u8]) {
    let mut u = Unstructured::new(data);
    // `Err` only means that the bytes ran out
    let _ = run(&mut u);
}

fn check(state: &mut State, when: &dyn std::fmt::Display) {
    if let Err(e) = state.check_invariants().and_then(|()| state.check_commitment()) {
        panic!("invariant broken {when}: {e}");
    }
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let worlds = worlds();
    let mut state = State::genesis(worlds[u.choose_index(worlds.len())?].clone(), 0);
    check(&mut state, &"at genesis");
    let producers = [Address::from_index("producer", 0), user(0)];
    for _ in 0..MAX_BLOCKS {
        if u.is_empty() {
            break;
        }
        let time = state.time.saturating_add(time_step(u, &state)?);
        let height = state.height + 1;
        let producer = *u.choose(&producers)?;
        let mut nonces = BTreeMap::new();
        let count = u.int_in_range(0..=MAX_TXS)?;
        let mut txs = Vec::with_capacity(count);
        for _ in 0..count {
            txs.push(tx(u, &state, time, &mut nonces)?);
        }
        if u.arbitrary::<bool>()? {
            build_and_replay(&mut state, height, time, producer, txs, u.arbitrary()?);
        } else {
            one_by_one(&mut state, height, time, producer, &txs);
        }
    }
    Ok(())
}

fn build_and_replay(state: &mut State, height: u64, time: u64, producer: Address, txs: Vec<Tx>, record: bool) {
    let mut replica = state.clone();
    let built = state
        .build_block(height, time, producer, txs, record)
        .unwrap_or_else(|e| panic!("block {height} at {time} not built: {e}"));
    check(state, &format_args!("after built block {height}"));
    let (outcome, _) = replica
        .execute_block(height, time, producer, &built.included, record)
        .unwrap_or_else(|e| panic!("built block {height} does not replay: {e}\n{:?}", built.included));
    assert_eq!(outcome.receipts, built.receipts, "block {height}: the replay's receipts differ from the build's");
    assert_eq!(replica.state_root(), state.state_root(), "block {height}: the replay's state root differs");
    assert!(replica.canonical_bytes() == state.canonical_bytes(), "block {height}: the replay's state bytes differ");
}

fn one_by_one(state: &mut State, height: u64, time: u64, producer: Address, txs: &[Tx]) {
    state.begin_block(height, time).unwrap_or_else(|e| panic!("block {height} at {time} not begun: {e}"));
    check(state, &format_args!("after beginning block {height}"));
    for (index, tx) in txs.iter().enumerate() {
        let before = state.canonical_bytes();
        let nonce_before = state.account(&tx.signer).map(|a| a.nonce);
        match state.execute_tx(tx, producer) {
            Err(error) => {
                assert!(
                    state.canonical_bytes() == before,
                    "block {height} tx {index}: refused ({error:?}) but the state changed: {tx:?}"
                );
            }
            Ok(receipt) => {
                if !matches!(tx.body, TxBody::Heartbeat { .. }) {
                    let nonce = state.account(&tx.signer).map(|a| a.nonce);
                    assert_eq!(
                        nonce,
                        nonce_before.map(|n| n + 1),
                        "block {height} tx {index}: included (code {}) without consuming its nonce: {tx:?}",
                        receipt.code
                    );
                }
            }
        }
        check(state, &format_args!("after block {height} tx {index} {tx:?}"));
    }
    state.end_block();
    check(state, &format_args!("after block {height}"));
}

/// How far the next block's time is from the last: nothing, within a slot, up to an epoch, just
/// past the open epoch's end, or several epochs.
fn time_step(u: &mut Unstructured<'_>, state: &State) -> Result<u64> {
    let epoch = state.policy.epoch.seconds.max(1);
    let slot = state.policy.epoch.slot_seconds.max(1);
    Ok(match u.int_in_range(0..=5)? {
        0 => 0,
        1 => u.int_in_range(1..=slot)?,
        2 => u.int_in_range(0..=epoch)?,
        3 => state.epoch_end_time(state.epoch).saturating_sub(state.time) + u.int_in_range(0..=60)?,
        4 => u.int_in_range(epoch..=epoch.saturating_mul(3))?,
        _ => u.int_in_range(1..=600)?,
    })
}

fn amount(u: &mut Unstructured<'_>) -> Result<u128> {
    Ok(match u.int_in_range(0..=7)? {
        0 => 0,
        1 => u128::MAX,
        2 => u.arbitrary()?,
        3 => u.int_in_range(0..=1_000_000u128)?,
        4 => u128::from(u.int_in_range(0..=10_000_000u64)?) * TOKEN,
        _ => u128::from(u.int_in_range(1..=5_000u64)?) * TOKEN,
    })
}

fn hash(u: &mut Unstructured<'_>) -> Result<[u8; 32]> {
    Ok(if u.ratio(1, 4)? { u.arbitrary()? } else { [u.int_in_range(0..=3)?; 32] })
}

/// Someone: a user mostly, else a machine, a member, a validator, a stranger, zero, the treasury.
fn address(u: &mut Unstructured<'_>, state: &State) -> Result<Address> {
    Ok(match u.int_in_range(0..=11)? {
        5 => machine(u.int_in_range(0..=MACHINES - 1)?),
        6 => member(u.int_in_range(0..=MEMBERS)?),
        7 => Address::ZERO,
        8 => Address::from_index("stranger", u.int_in_range(0..=2)?),
        9 => treasury(state).unwrap_or(Address::ZERO),
        10 => state
            .validators
            .keys()
            .nth(u.choose_index(state.validators.len().max(1))?)
            .copied()
            .unwrap_or(Address::ZERO),
        11 => Address(u.arbitrary()?),
        _ => user(u.int_in_range(0..=USERS - 1)?),
    })
}

/// The treasury's address, where the policy has governance (it can sign nothing).
fn treasury(state: &State) -> Option<Address> {
    state.policy.governance.as_ref().map(|g| g.treasury)
}

fn slot(u: &mut Unstructured<'_>, state: &State, time: u64) -> Result<u64> {
    let slot_seconds = state.policy.epoch.slot_seconds.max(1);
    let now = time.saturating_sub(state.genesis_time) / slot_seconds;
    let per_epoch = u64::from(state.policy.slots_per_epoch());
    Ok(match u.int_in_range(0..=5)? {
        0 => u.arbitrary()?,
        // the open epoch's last slot: delivered late, in the block that closes it
        1 => state.epoch.saturating_mul(per_epoch).saturating_sub(1),
        2 => now.saturating_sub(1),
        3 => now + 1,
        _ => now,
    })
}

fn policy_change(u: &mut Unstructured<'_>) -> Result<(String, String)> {
    const CHANGES: [(&str, &str); 6] = [
        ("claims.tax_ppb", "1000"),
        ("claims.tax_ppb", "2000000000"),
        ("staking.master_nodes", "3"),
        ("token.cap", "1"),
        ("gas.base_fee.block_tx_limit", "2"),
        ("version", "99"),
    ];
    if u.ratio(1, 5)? {
        return Ok((u.arbitrary()?, u.arbitrary()?));
    }
    let (key, value) = u.choose(&CHANGES)?;
    Ok((key.to_string(), value.to_string()))
}

/// One transaction: a signer, a nonce (mostly the next one of the block so far) and a body.
fn tx(u: &mut Unstructured<'_>, state: &State, time: u64, nonces: &mut BTreeMap<Address, u64>) -> Result<Tx> {
    let user = user(u.int_in_range(0..=USERS - 1)?);
    let job_id = u.int_in_range(0..=4)?;
    let (signer, body) = match u.int_in_range(0..=21u8)? {
        0..=2 => (user, TxBody::Transfer { to: address(u, state)?, amount: amount(u)? }),
        3 => (
            user,
            TxBody::RegisterMachine {
                machine: machine(u.int_in_range(0..=MACHINES - 1)?),
                gpu_class: u.int_in_range(0..=7)?,
                bandwidth_mbps: if u.ratio(1, 8)? { u.arbitrary()? } else { u.int_in_range(0..=200)? },
                bond: if u.arbitrary()? { 1_000 * TOKEN } else { amount(u)? },
            },
        ),
        4 | 5 => (machine(u.int_in_range(0..=MACHINES - 1)?), TxBody::Heartbeat { slot: slot(u, state, time)? }),
        6 => (
            user,
            TxBody::SubmitJob {
                job_id,
                mode: *u.choose(&[JobMode::Sync, JobMode::Async, JobMode::Inference, JobMode::Rental])?,
                price_per_gpu_second: if u.ratio(1, 8)? {
                    amount(u)?
                } else {
                    u128::from(u.int_in_range(0..=3u8)?) * TOKEN / 1000
                },
                max_gpu_seconds: if u.ratio(1, 8)? { u.arbitrary()? } else { u.int_in_range(0..=100_000)? },
            },
        ),
        7 => (
            user,
            TxBody::ReportUsage {
                customer: address(u, state)?,
                job_id,
                machine: machine(u.int_in_range(0..=MACHINES - 1)?),
                gpu_seconds: if u.ratio(1, 8)? { u.arbitrary()? } else { u.int_in_range(0..=50_000)? },
                ai_tokens: if u.ratio(1, 8)? { u.arbitrary()? } else { u.int_in_range(0..=3_000_000)? },
            },
        ),
        8 => (user, TxBody::SettleJob { job_id }),
        9 => (user, TxBody::FailJob { job_id, machine: machine(u.int_in_range(0..=MACHINES - 1)?) }),
        10 => (user, TxBody::RegisterValidator { bond: if u.arbitrary()? { 40_000 * TOKEN } else { amount(u)? } }),
        11 => (user, TxBody::Stake { validator: address(u, state)?, amount: amount(u)? }),
        12 => (user, TxBody::Unstake { validator: address(u, state)?, amount: amount(u)?, fast: u.arbitrary()? }),
        13 => {
            (user, if u.arbitrary()? { TxBody::Claim } else { TxBody::ClaimToStake { validator: address(u, state)? } })
        }
        14 => {
            let action = if u.arbitrary()? {
                ProposalAction::TreasurySpend { to: address(u, state)?, amount: amount(u)? }
            } else {
                let count = u.int_in_range(0..=3)?;
                ProposalAction::PolicyChange { changes: (0..count).map(|_| policy_change(u)).collect::<Result<_>>()? }
            };
            (user, TxBody::Propose { action })
        }
        15 => {
            let proposal = if u.ratio(1, 4)? {
                u.arbitrary()?
            } else {
                state.proposals.keys().nth(u.choose_index(state.proposals.len().max(1))?).copied().unwrap_or(0)
            };
            (user, TxBody::Vote { proposal, yes: u.arbitrary()? })
        }
        16 => {
            // mostly an EVM address (what the contract mints to), now and then any 32 bytes
            let mut recipient = hash(u)?;
            if u.ratio(3, 4)? {
                recipient[..12].fill(0);
            }
            (user, TxBody::BridgeOut { amount: amount(u)?, recipient })
        }
        17 => (
            member(u.int_in_range(0..=MEMBERS)?),
            TxBody::BridgeAttest {
                deposit_id: u.int_in_range(0..=4)?,
                recipient: address(u, state)?,
                amount: if u.ratio(1, 4)? { amount(u)? } else { u128::from(u.int_in_range(1..=3u8)?) * TOKEN },
            },
        ),
        18 => (
            member(u.int_in_range(0..=MEMBERS)?),
            TxBody::AttestLiquidity { provider: address(u, state)?, amount: amount(u)? },
        ),
        19 => (
            user,
            TxBody::SubmitReceipt {
                machine: machine(u.int_in_range(0..=MACHINES - 1)?),
                task_id: hash(u)?,
                model_id: hash(u)?,
                input_hash: hash(u)?,
                output_hash: hash(u)?,
                gpu_seconds: if u.ratio(1, 8)? { u.arbitrary()? } else { u.int_in_range(0..=100_000)? },
            },
        ),
        20 => {
            let receipt =
                state.receipts.keys().nth(u.choose_index(state.receipts.len().max(1))?).copied().unwrap_or([0; 32]);
            let signer = match u.int_in_range(0..=2)? {
                0 => user,
                1 => {
                    state.validators.keys().nth(u.choose_index(state.validators.len().max(1))?).copied().unwrap_or(user)
                }
                _ => state.master_nodes.get(u.choose_index(state.master_nodes.len().max(1))?).copied().unwrap_or(user),
            };
            (signer, TxBody::AttestReceipt { receipt, valid: u.arbitrary()? })
        }
        _ => (
            member(u.int_in_range(0..=MEMBERS)?),
            TxBody::BridgeSign {
                record: if u.ratio(1, 4)? { u.arbitrary()? } else { u.int_in_range(0..=3)? },
                signature: u.arbitrary()?,
            },
        ),
    };
    // now and then the treasury (locked) or a stranger signs instead
    let signer = match u.int_in_range(0..=39)? {
        38 => treasury(state).unwrap_or(signer),
        39 => Address::from_index("stranger", 0),
        _ => signer,
    };
    let next = nonces.entry(signer).or_insert_with(|| state.account(&signer).map_or(0, |a| a.nonce));
    // (the bytes running out give 0s: the usual choices come first)
    let nonce = match (&body, u.int_in_range(0..=19)?) {
        (TxBody::Heartbeat { .. }, 19) => 1,
        (TxBody::Heartbeat { .. }, _) => 0,
        (_, 17) => next.saturating_sub(1),
        (_, 18) => *next + 1,
        (_, 19) => u.arbitrary()?,
        _ => {
            *next += 1;
            *next - 1
        }
    };
    Ok(Tx { signer, nonce, body })
}
