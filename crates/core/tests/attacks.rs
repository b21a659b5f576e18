//! Attacks on the rules, each found by an audit of the ledger and each failing on the code
//! before its fix (issue 11): strings over the encoding's limits, uptime back-fill (NM6),
//! forfeit griefing (NM9). Randomised tests print their seed (proptest's regression files).

mod common;
use common::{Harness, addr, tokens};
use gridmint_core::tx::{MAX_POLICY_CHANGES, MAX_STRING_BYTES};
use gridmint_core::{Address, JobMode, ProposalAction, TOKEN, Tx, TxBody, TxError};
use proptest::prelude::*;

/// A string of exactly `bytes` bytes whose last character is two bytes long when `wide` (so a
/// cut at the limit would fall inside it), else all ASCII.
fn string_of(bytes: usize, wide: bool) -> String {
    if wide && bytes >= 2 { "a".repeat(bytes - 2) + "é" } else { "a".repeat(bytes) }
}

fn propose(changes: Vec<(String, String)>) -> Tx {
    Tx { signer: addr("p"), nonce: 0, body: TxBody::Propose { action: ProposalAction::PolicyChange { changes } } }
}

/// Goal: every limit of the encoding is checked when a transaction arrives by JSON, and every
/// accepted transaction's bytes decode back to exactly it. Method: string lengths and change
/// counts at each limit −1, at it and +1 (ASCII and with a two-byte character at the end), each
/// through serde (the API's JSON path), `check_limits`, encode and decode. Fails on the old
/// encoder, which cut strings at 256 bytes (a 257-byte key committed and then failed to decode)
/// and lists at 32 (replay ran a different proposal).
#[test]
fn json_limits_match_the_encoding_at_every_edge() {
    let mut cases = Vec::new();
    for bytes in [0, 1, MAX_STRING_BYTES - 1, MAX_STRING_BYTES, MAX_STRING_BYTES + 1, 1000] {
        for wide in [false, true] {
            let s = string_of(bytes, wide);
            cases.push((propose(vec![(s.clone(), "1".into())]), bytes <= MAX_STRING_BYTES));
            cases.push((propose(vec![("claims.tax_ppb".into(), s)]), bytes <= MAX_STRING_BYTES));
        }
    }
    for count in [0, 1, MAX_POLICY_CHANGES - 1, MAX_POLICY_CHANGES, MAX_POLICY_CHANGES + 1, 255, 256, 300] {
        let changes = (0..count).map(|i| (format!("k{i}"), "v".to_string())).collect();
        cases.push((propose(changes), count <= MAX_POLICY_CHANGES));
    }
    for (tx, fits) in cases {
        let json = serde_json::to_string(&tx).unwrap();
        let parsed = serde_json::from_str::<Tx>(&json);
        assert_eq!(parsed.is_ok(), fits, "JSON admission of {json:.80}…");
        assert_eq!(tx.check_limits().is_ok(), fits);
        let decoded = Tx::decode(&tx.encode());
        if fits {
            assert_eq!(decoded.as_ref(), Ok(&tx), "an admitted transaction decodes back to itself");
        } else {
            assert!(decoded.is_err(), "over the limits: the bytes never decode to another transaction");
        }
    }
}

/// Goal: the core refuses a transaction over the limits (envelope, never stored), whatever path
/// built it. Method: a 257-byte key applied directly.
#[test]
fn the_core_refuses_a_transaction_over_the_limits() {
    let mut h = Harness::new("netmind", &[("p", tokens(200_000))]);
    let tx = propose(vec![(string_of(MAX_STRING_BYTES + 1, true), "1".into())]);
    h.refused(&tx, TxError::InvalidEncoding);
}

fn any_tx() -> impl Strategy<Value = Tx> {
    let address = any::<[u8; 32]>().prop_map(Address);
    let hash = any::<[u8; 32]>();
    let text = || proptest::string::string_regex("(?s).{0,80}").unwrap();
    let mode = prop_oneof![Just(JobMode::Sync), Just(JobMode::Async), Just(JobMode::Inference), Just(JobMode::Rental)];
    let body = prop_oneof![
        (address.clone(), any::<u128>()).prop_map(|(to, amount)| TxBody::Transfer { to, amount }),
        (address.clone(), any::<u8>(), any::<u32>(), any::<u128>()).prop_map(
            |(machine, gpu_class, bandwidth_mbps, bond)| {
                TxBody::RegisterMachine { machine, gpu_class, bandwidth_mbps, bond }
            }
        ),
        any::<u64>().prop_map(|slot| TxBody::Heartbeat { slot }),
        (any::<u64>(), mode, any::<u128>(), any::<u64>()).prop_map(
            |(job_id, mode, price_per_gpu_second, max_gpu_seconds)| {
                TxBody::SubmitJob { job_id, mode, price_per_gpu_second, max_gpu_seconds }
            }
        ),
        (address.clone(), any::<u64>(), address.clone(), any::<u64>(), any::<u64>()).prop_map(
            |(customer, job_id, machine, gpu_seconds, ai_tokens)| TxBody::ReportUsage {
                customer,
                job_id,
                machine,
                gpu_seconds,
                ai_tokens
            }
        ),
        any::<u64>().prop_map(|job_id| TxBody::SettleJob { job_id }),
        (any::<u64>(), address.clone()).prop_map(|(job_id, machine)| TxBody::FailJob { job_id, machine }),
        any::<u128>().prop_map(|bond| TxBody::RegisterValidator { bond }),
        (address.clone(), any::<u128>()).prop_map(|(validator, amount)| TxBody::Stake { validator, amount }),
        (address.clone(), any::<u128>(), any::<bool>()).prop_map(|(validator, amount, fast)| TxBody::Unstake {
            validator,
            amount,
            fast
        }),
        Just(TxBody::Claim),
        address.clone().prop_map(|validator| TxBody::ClaimToStake { validator }),
        (address.clone(), any::<u128>())
            .prop_map(|(to, amount)| TxBody::Propose { action: ProposalAction::TreasurySpend { to, amount } }),
        proptest::collection::vec((text(), text()), 0..40)
            .prop_map(|changes| TxBody::Propose { action: ProposalAction::PolicyChange { changes } }),
        (any::<u64>(), any::<bool>()).prop_map(|(proposal, yes)| TxBody::Vote { proposal, yes }),
        (any::<u128>(), hash).prop_map(|(amount, recipient)| TxBody::BridgeOut { amount, recipient }),
        (any::<u64>(), address.clone(), any::<u128>())
            .prop_map(|(deposit_id, recipient, amount)| TxBody::BridgeAttest { deposit_id, recipient, amount }),
        (address.clone(), any::<u128>()).prop_map(|(provider, amount)| TxBody::AttestLiquidity { provider, amount }),
        (address.clone(), hash, hash, hash, hash, any::<u64>()).prop_map(
            |(machine, task_id, model_id, input_hash, output_hash, gpu_seconds)| TxBody::SubmitReceipt {
                machine,
                task_id,
                model_id,
                input_hash,
                output_hash,
                gpu_seconds
            }
        ),
        (hash, any::<bool>()).prop_map(|(receipt, valid)| TxBody::AttestReceipt { receipt, valid }),
    ];
    (address, any::<u64>(), body).prop_map(|(signer, nonce, body)| Tx { signer, nonce, body })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Goal: over every kind, a transaction that JSON admits encodes to bytes that decode back to
    /// exactly it, and one it refuses is over a limit. Method: random transactions of all 19
    /// kinds (policy changes of up to 40 pairs of strings up to 80 characters, multi-byte ones
    /// included, so some cross the limits).
    #[test]
    fn admitted_transactions_round_trip(tx in any_tx()) {
        let json = serde_json::to_string(&tx).unwrap();
        match serde_json::from_str::<Tx>(&json) {
            Ok(parsed) => {
                prop_assert_eq!(&parsed, &tx);
                prop_assert_eq!(Tx::decode(&tx.encode()), Ok(tx));
            }
            Err(_) => prop_assert!(tx.check_limits().is_err()),
        }
    }

    /// Goal: no byte string decodes to a transaction that re-encodes differently.
    #[test]
    fn decoding_is_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(tx) = Tx::decode(&bytes) {
            prop_assert_eq!(tx.encode(), bytes);
            prop_assert!(tx.check_limits().is_ok());
        }
    }
}

/// NM6: a heartbeat marks the slot of the ledger's time, not a slot of the sender's choosing.
/// Method: a machine that sends a heartbeat for every slot of the day one second before the
/// close marks at most the slot it sent in and its neighbour (the tolerance), and does not
/// qualify; its honest twin that sent once per slot all day does. Fails on the old rule, under
/// which any past slot of the open epoch counted (both earned the same).
#[test]
fn nm6_no_uptime_back_fill() {
    let mut h = Harness::new("netmind", &[("alice", tokens(10))]);
    h.register_machine("alice", "cheat", 1, 100, 0);
    h.register_machine("alice", "honest", 1, 100, 0);
    h.online(&[("honest", 288)]);
    let per_epoch = u64::from(h.state.policy.slots_per_epoch());
    let first = (h.state.epoch - 1) * per_epoch;
    h.at_second(86_399);
    let mut marked = 0;
    for slot in first..first + per_epoch {
        let tx = h.tx(addr("cheat"), TxBody::Heartbeat { slot });
        match h.state.execute_tx(&tx, h.producer) {
            Ok(receipt) => {
                assert_eq!(receipt.fee, 0);
                marked += 1;
            }
            Err(e) => assert_eq!(e, TxError::SlotOutsideEpoch),
        }
    }
    assert_eq!(marked, 1, "only the slot that holds the ledger's time (the next slot is in the next epoch)");
    let cheat = h.state.machine_id(&addr("cheat")).unwrap();
    assert_eq!(h.state.online_slots[cheat as usize], 1);
    let summary = h.next_epoch();
    let connection = &summary.programs[0];
    assert_eq!(connection.recipients, 1, "only the honest machine qualifies");
    assert_eq!(h.state.machine_rewards_total(cheat), 0);
}

/// NM6's tolerance: an honest machine whose clock runs a few seconds ahead, or whose heartbeat
/// arrives a few seconds late, still marks its slot — across an epoch boundary too (the block
/// that closes an epoch marks that epoch's heartbeats first). Method: blocks through
/// `execute_block` at chosen times.
#[test]
fn nm6_tolerance_for_skew_latency_and_the_epoch_boundary() {
    let mut h = Harness::new("netmind", &[("alice", tokens(10))]);
    h.register_machine("alice", "m", 1, 100, 0);
    let start = h.state.epoch_end_time(0);
    let hb = |slot| Tx { signer: addr("m"), nonce: 0, body: TxBody::Heartbeat { slot } };
    let mut height = h.state.height;
    let mut block = |h: &mut Harness, time: u64, txs: Vec<Tx>| {
        height += 1;
        h.state.execute_block(height, time, h.producer, &txs, false)
    };
    // clock 10 s ahead: names slot 1 while the ledger is 10 s before it
    let (outcome, _) = block(&mut h, start + 290, vec![hb(1)]).unwrap();
    assert_eq!(outcome.receipts[0].code, 0);
    // 20 s late: slot 2's heartbeat in a block 20 s into slot 3
    block(&mut h, start + 3 * 300 + 20, vec![hb(2)]).unwrap();
    // a minute late is too late, an hour early too early: such blocks are invalid
    assert!(matches!(
        block(&mut h, start + 5 * 300 + 60, vec![hb(4)]),
        Err(gridmint_core::BlockError::Refused { error: TxError::SlotOutsideEpoch, .. })
    ));
    let mut h2 = Harness::new("netmind", &[("alice", tokens(10))]);
    h2.register_machine("alice", "m", 1, 100, 0);
    let last = u64::from(h2.state.policy.slots_per_epoch()) - 1;
    let end = h2.state.epoch_end_time(1);
    // the last slot's heartbeat arrives 5 s after the boundary: it counts for epoch 1
    let (_, records) = h2.state.execute_block(1, end + 5, h2.producer, &[hb(last)], true).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].explain.machines[0].view.online_slots, 1, "marked before the close");
    assert_eq!(h2.state.epoch, 2);
}

/// NM9: only a machine that worked on a job can be failed by it. Method: a customer fails a
/// competitor's machine that reported no usage: refused with `machine_not_in_job`, the customer
/// pays the fee, and the machine keeps its reward. Fails on the old check (machine exists).
#[test]
fn nm9_no_forfeit_griefing() {
    let mut h = Harness::new("netmind", &[("alice", tokens(10)), ("mallory", tokens(1000))]);
    h.register_machine("alice", "victim", 1, 100, 0);
    h.online(&[("victim", 100)]);
    h.ok(
        "mallory",
        TxBody::SubmitJob { job_id: 1, mode: JobMode::Sync, price_per_gpu_second: TOKEN / 100, max_gpu_seconds: 10 },
    );
    h.err("mallory", TxBody::FailJob { job_id: 1, machine: addr("victim") }, TxError::MachineNotInJob);
    let victim = h.state.machine_id(&addr("victim")).unwrap();
    assert!(!h.state.machine_forfeited(victim));
    let summary = h.next_epoch();
    assert_eq!(h.state.machine_rewards_total(victim), summary.programs[0].budget, "the victim keeps its reward");
}

/// X4: the state root commits to the ledger's meaning only: the producer's account cached for
/// one block's fees is not part of it. Method: the same state with and without the cache.
#[test]
fn the_lookup_cache_is_not_in_the_root() {
    let mut h = Harness::new("netmind", &[("a", tokens(10))]);
    h.ok("a", TxBody::Transfer { to: addr("b"), amount: 1 });
    let mut cached = h.state.clone();
    let producer = cached.account_id(&h.producer).unwrap();
    cached.block_producer = Some((h.producer, producer));
    let mut uncached = h.state.clone();
    uncached.block_producer = None;
    assert_eq!(cached.state_root(), uncached.state_root());
}
