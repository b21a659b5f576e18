//! One test (or more) per rule id at its edges. Each test names its rule, its goal and method.

mod common;
use common::{Harness, addr, tokens};
use gridmint_core::state::ProposalOutcome;
use gridmint_core::{Address, JobMode, Policy, ProposalAction, TOKEN, TxBody, TxError};
use gridmint_policy::parse_tokens;

const FEE: u128 = TOKEN / 1000; // NM14: 0.001 NMT

/// NM6: 60 slots do not qualify, 61 do. Method: two identical machines, 60 and 61 real heartbeats;
/// the 61-slot machine takes the whole epoch release.
#[test]
fn nm6_sixty_vs_sixty_one_slots() {
    let mut h = Harness::new("netmind", &[("alice", tokens(10))]);
    h.register_machine("alice", "m60", 1, 100, 0);
    h.register_machine("alice", "m61", 1, 100, 0);
    h.online(&[("m60", 60), ("m61", 61)]);
    let summary = h.next_epoch();
    let program = summary.programs.iter().find(|p| p.program == "connection_reward").unwrap();
    assert_eq!(program.recipients, 1);
    assert_eq!(program.paid, program.budget, "one recipient: no dust");
    let m60 = h.state.machine_id(&addr("m60")).unwrap() as usize;
    let m61 = h.state.machine_id(&addr("m61")).unwrap() as usize;
    assert_eq!(h.state.machine_rewards_total(m60 as u32), 0);
    assert_eq!(h.state.machine_rewards_total(m61 as u32), parse_tokens("273972.602739726027397260").unwrap());
}

/// NM6: nobody qualifies → the whole release stays in the pool. Method: no heartbeats.
#[test]
fn nm6_nobody_qualifies_release_stays() {
    let mut h = Harness::new("netmind", &[("alice", tokens(10))]);
    h.register_machine("alice", "m", 1, 100, 0);
    let before = h.state.pool("mining").unwrap().balance;
    let summary = h.next_epoch();
    let program = summary.programs.iter().find(|p| p.program == "connection_reward").unwrap();
    assert_eq!(program.paid, 0);
    assert_eq!(h.state.pool("mining").unwrap().balance, before);
}

/// NM7: weights = class weight × bandwidth factor. Method: an H100 at 100 Mbps vs an RTX 3060 at
/// 50 Mbps: shares 10·1.0 : 1·0.7, checked exactly with floor rounding.
#[test]
fn nm7_weights_and_bandwidth() {
    let mut h = Harness::new("netmind", &[("alice", tokens(10))]);
    h.register_machine("alice", "h100", 5, 100, 0);
    h.register_machine("alice", "r3060", 1, 50, 0);
    h.online(&[("h100", 61), ("r3060", 61)]);
    let summary = h.next_epoch();
    let budget = summary.programs[0].budget;
    let heavy = budget * 10_000 / 10_700;
    let light = budget * 700 / 10_700;
    assert_eq!(h.state.machine_rewards_total(0), heavy);
    assert_eq!(h.state.machine_rewards_total(1), light);
    assert_eq!(summary.programs[0].dust, budget - heavy - light);
    assert_eq!(
        h.state.pool("mining").unwrap().balance,
        parse_tokens("4000000000").unwrap() - heavy - light,
        "G3: dust stays"
    );
}

/// NM9: a machine whose disconnection failed a job forfeits the connection reward but keeps its
/// utilization share. Method: fail a job, compare with a twin machine.
#[test]
fn nm9_forfeit_on_failed_job() {
    let mut h = Harness::new("netmind", &[("alice", tokens(10)), ("carol", tokens(1000))]);
    h.register_machine("alice", "bad", 1, 100, 0);
    h.register_machine("alice", "good", 1, 100, 0);
    h.online(&[("bad", 100), ("good", 100)]);
    h.ok(
        "carol",
        TxBody::SubmitJob { job_id: 7, mode: JobMode::Sync, price_per_gpu_second: TOKEN / 100, max_gpu_seconds: 1000 },
    );
    h.ok(
        "alice",
        TxBody::ReportUsage {
            customer: addr("carol"),
            job_id: 7,
            machine: addr("bad"),
            gpu_seconds: 100,
            ai_tokens: 0,
        },
    );
    let alice_before = h.spendable("alice");
    h.ok("carol", TxBody::FailJob { job_id: 7, machine: addr("bad") });
    assert_eq!(h.spendable("alice") - alice_before, TOKEN / 2, "keeps 50% of 100 × 0.01");
    let summary = h.next_epoch();
    assert_eq!(summary.programs[0].recipients, 1);
    assert_eq!(h.state.machine_rewards_total(0), 0, "forfeited");
    assert_eq!(h.state.machine_rewards_total(1), summary.programs[0].budget);
    // the forfeit lasts one epoch only
    h.heartbeats("bad", 100);
    h.next_epoch();
    assert!(h.state.machine_rewards_total(0) > 0);
}

/// NM8: sync jobs pay providers 50% and burn 50%; async pay 20% and burn 80%; unused escrow is
/// refunded. Method: one job of each mode, exact balances and burns.
#[test]
fn nm8_sync_and_async_fees() {
    for (mode, provider_share) in [(JobMode::Sync, 500u128), (JobMode::Async, 200)] {
        let mut h = Harness::new("netmind", &[("alice", tokens(10)), ("carol", tokens(1000))]);
        h.register_machine("alice", "m", 1, 100, 0);
        let price = 3 * TOKEN / 1000;
        h.ok("carol", TxBody::SubmitJob { job_id: 1, mode, price_per_gpu_second: price, max_gpu_seconds: 10_000 });
        assert_eq!(h.state.account(&addr("carol")).unwrap().escrowed, price * 10_000);
        h.ok(
            "alice",
            TxBody::ReportUsage {
                customer: addr("carol"),
                job_id: 1,
                machine: addr("m"),
                gpu_seconds: 4_001,
                ai_tokens: 0,
            },
        );
        let (alice, carol, burned) = (h.spendable("alice"), h.spendable("carol"), h.state.burned_total);
        h.ok("carol", TxBody::SettleJob { job_id: 1 });
        let fee = price * 4_001;
        let share = fee * provider_share / 1000;
        assert_eq!(h.spendable("alice") - alice, share);
        assert_eq!(h.state.burned_total - burned, fee - share);
        assert_eq!(h.spendable("carol") + FEE - carol, price * 10_000 - fee, "refund of unused escrow");
        assert_eq!(h.state.account(&addr("carol")).unwrap().escrowed, 0);
        h.err("carol", TxBody::SettleJob { job_id: 1 }, TxError::UnknownJob);
        h.err(
            "carol",
            TxBody::SubmitJob { job_id: 1, mode, price_per_gpu_second: 1, max_gpu_seconds: 1 },
            TxError::JobExists,
        );
    }
}

/// NM8: usage beyond the escrowed budget is rejected. Method: report max+1 GPU-seconds.
#[test]
fn nm8_usage_bounded_by_escrow() {
    let mut h = Harness::new("netmind", &[("alice", tokens(10)), ("carol", tokens(10))]);
    h.register_machine("alice", "m", 1, 100, 0);
    h.ok("carol", TxBody::SubmitJob { job_id: 1, mode: JobMode::Sync, price_per_gpu_second: 1, max_gpu_seconds: 100 });
    h.ok(
        "alice",
        TxBody::ReportUsage { customer: addr("carol"), job_id: 1, machine: addr("m"), gpu_seconds: 100, ai_tokens: 0 },
    );
    h.err(
        "alice",
        TxBody::ReportUsage { customer: addr("carol"), job_id: 1, machine: addr("m"), gpu_seconds: 1, ai_tokens: 0 },
        TxError::UsageExceedsJob,
    );
    h.err(
        "carol",
        TxBody::ReportUsage { customer: addr("carol"), job_id: 1, machine: addr("m"), gpu_seconds: 1, ai_tokens: 0 },
        TxError::NotMachineOwner,
    );
}

fn staking_setup(preset: &str) -> Harness {
    let mut h = Harness::new(
        preset,
        &[("v1", tokens(1000)), ("v2", tokens(1000)), ("s1", tokens(1000)), ("s2", tokens(1000)), ("committee", 0)],
    );
    h.ok("v1", TxBody::RegisterValidator { bond: tokens(100) });
    h.ok("v2", TxBody::RegisterValidator { bond: tokens(100) });
    h.ok("s1", TxBody::Stake { validator: addr("v1"), amount: tokens(200) });
    h.ok("s2", TxBody::Stake { validator: addr("v2"), amount: tokens(100) });
    h
}

/// NM3 / G9: the staking release splits 50/30/20 with dust in the pool; stake added during the
/// epoch earns from the next one. Method: two validators elected at the close of epoch 1; in
/// epoch 2 the split pays stakers pro rata, operators equally; nobody has liquidity so the 30%
/// stays in the pool.
#[test]
fn nm3_split_50_30_20() {
    let mut h = staking_setup("netmind");
    let first = h.next_epoch();
    let stakers = first.programs.iter().find(|p| p.program == "staking_stakers").unwrap();
    assert_eq!(stakers.paid, 0, "G9: stake placed during epoch 1 earns nothing in epoch 1");
    assert_eq!(first.master_nodes.len(), 2);
    let summary = h.next_epoch();
    let budget = h
        .state
        .pool("staking")
        .map(|_| summary.pools.iter().find(|p| &*p.pool == "staking").unwrap().released)
        .unwrap();
    let get = |name: &str| summary.programs.iter().find(|p| p.program == name).unwrap().clone();
    let (stakers, liquidity, operators) = (get("staking_stakers"), get("staking_liquidity"), get("staking_operators"));
    assert_eq!(stakers.budget, budget / 2);
    assert_eq!(liquidity.budget, budget * 3 / 10);
    assert_eq!(operators.budget, budget / 5);
    assert_eq!(liquidity.paid, 0, "no liquidity registered: the 30% stays");
    // stakers: v1 100 + s1 200 on v1; v2 100 + s2 100 → weights 100:200:100:100 of 500
    let s1 = stakers.budget * 200 / 500;
    assert_eq!(h.unclaimed("s1"), s1);
    assert_eq!(h.unclaimed("s2"), stakers.budget * 100 / 500);
    assert_eq!(h.unclaimed("v1"), stakers.budget * 100 / 500 + operators.budget / 2);
    assert_eq!(stakers.paid + stakers.dust, stakers.budget);
    assert!(stakers.dust < 4);
}

/// N24-3: the 10/40/50 split, with liquidity registered by committee attestations (NM11).
/// Method: netmind-2024 with a 1-of-1 committee; liquidity registered in epoch 1 earns in epoch 2.
#[test]
fn n24_split_10_40_50_with_liquidity() {
    let mut policy = Policy::preset("netmind-2024").unwrap();
    policy.bridge.as_mut().unwrap().committee = vec![addr("committee")];
    policy.bridge.as_mut().unwrap().threshold = 1;
    let mut h = Harness::with_policy(policy, &[("v1", tokens(1000)), ("lp", tokens(1)), ("committee", tokens(1))]);
    h.ok("v1", TxBody::RegisterValidator { bond: tokens(100) });
    h.ok("committee", TxBody::AttestLiquidity { provider: addr("lp"), amount: tokens(5000) });
    h.err(
        "committee",
        TxBody::AttestLiquidity { provider: addr("lp"), amount: tokens(6000) },
        TxError::LiquidityAlreadyRegistered,
    );
    h.err("v1", TxBody::AttestLiquidity { provider: addr("lp"), amount: tokens(1) }, TxError::NotCommitteeMember);
    h.next_epoch();
    let summary = h.next_epoch();
    let get = |name: &str| summary.programs.iter().find(|p| p.program == name).unwrap().clone();
    let budget = summary.pools.iter().find(|p| &*p.pool == "staking").unwrap().released;
    assert_eq!(get("staking_operators").budget, budget / 10);
    assert_eq!(get("staking_liquidity").budget, budget * 4 / 10);
    assert_eq!(get("staking_stakers").budget, budget / 2);
    assert_eq!(h.unclaimed("lp"), budget * 4 / 10, "sole provider takes the 40%");
    assert_eq!(h.unclaimed("v1"), budget / 10 + budget / 2);
}

/// NM10: the top validators by stake are elected; ties go to the lower address; at most 21.
/// Method: 23 validators, two pairs tied at the cut.
#[test]
fn nm10_election_top_21_ties_lower_id() {
    let names: Vec<String> = (0..23).map(|i| format!("val{i}")).collect();
    let funded: Vec<(&str, u128)> = names.iter().map(|n| (n.as_str(), tokens(1000))).collect();
    let mut h = Harness::new("netmind", &funded);
    for (i, name) in names.iter().enumerate() {
        // the last three all bond 5: only one of them fits in the 21
        let bond = if i >= 20 { tokens(5) } else { tokens(100 + i as u128) };
        h.ok(name, TxBody::RegisterValidator { bond });
    }
    let summary = h.next_epoch();
    assert_eq!(summary.master_nodes.len(), 21);
    let mut tied: Vec<Address> = (20..23).map(|i| addr(&format!("val{i}"))).collect();
    tied.sort();
    assert!(summary.master_nodes.contains(&tied[0]), "the lowest address wins the tie");
    assert!(!summary.master_nodes.contains(&tied[1]) && !summary.master_nodes.contains(&tied[2]));
    assert_eq!(summary.master_nodes[0], addr("val19"), "most stake first");
}

/// NM10: unstaking takes effect at the boundary (unbonding 0) and still earns that epoch (G9).
/// Method: unstake in epoch 2, check spendable after the close and the reward for epoch 2.
#[test]
fn nm10_unstake_at_boundary() {
    let mut h = staking_setup("netmind");
    h.next_epoch();
    let before = h.spendable("s1");
    h.ok("s1", TxBody::Unstake { validator: addr("v1"), amount: tokens(200), fast: false });
    h.err("s1", TxBody::Unstake { validator: addr("v1"), amount: 1, fast: false }, TxError::InsufficientStake);
    h.err("s1", TxBody::Unstake { validator: addr("v2"), amount: 1, fast: true }, TxError::InsufficientStake);
    h.err("v1", TxBody::Unstake { validator: addr("v1"), amount: 1, fast: true }, TxError::FastWithdrawalUnavailable);
    // G10: the two failed unstakes were included and paid their fees
    assert_eq!(h.spendable("s1"), before - 3 * FEE, "not yet released");
    h.next_epoch();
    assert_eq!(h.spendable("s1"), before - 3 * FEE + tokens(200));
    assert!(h.unclaimed("s1") > 0, "G9: earned in the epoch it unstaked");
}

/// G11 / OS6: claims move rewards to spendable burning the tax; claim-to-stake is tax-free.
/// Method: osmi (2.5% tax) with a machine earning points.
#[test]
fn os6_claim_tax_and_tax_free_restake() {
    let mut h = Harness::new("osmi", &[("alice", tokens(10))]);
    h.register_machine("alice", "m", 1, 100, 0);
    h.heartbeats("m", 216);
    h.next_epoch();
    let earned = h.unclaimed("alice");
    assert!(earned > 0);
    let (spendable, burned) = (h.spendable("alice"), h.state.burned_total);
    h.ok("alice", TxBody::Claim);
    let tax = earned * 25 / 1000;
    assert_eq!(h.spendable("alice") - spendable, earned - tax);
    assert_eq!(h.state.burned_total - burned, tax);
    h.err("alice", TxBody::Claim, TxError::NothingToClaim);
    h.heartbeats("m", 216);
    h.next_epoch();
    let earned = h.unclaimed("alice");
    h.ok("alice", TxBody::ClaimToStake { validator: Address::ZERO });
    assert_eq!(h.state.account(&addr("alice")).unwrap().staked, earned, "no tax when restaking");
}

/// OS5: 18 h online earns the uptime point, 1M AI tokens one more point; the pool pays 5% of
/// its balance pro rata. Method: three machines: 215 slots; 216 slots; 216 slots + 2M tokens.
#[test]
fn os5_points_tokens_for_tokens() {
    let mut h =
        Harness::new("osmi", &[("a", tokens(10)), ("b", tokens(10)), ("c", tokens(10)), ("carol", tokens(1000))]);
    h.register_machine("a", "m1", 1, 100, 0);
    h.register_machine("b", "m2", 1, 100, 0);
    h.register_machine("c", "m3", 1, 100, 0);
    h.ok(
        "carol",
        TxBody::SubmitJob { job_id: 1, mode: JobMode::Inference, price_per_gpu_second: 1, max_gpu_seconds: 10 },
    );
    h.ok(
        "c",
        TxBody::ReportUsage {
            customer: addr("carol"),
            job_id: 1,
            machine: addr("m3"),
            gpu_seconds: 10,
            ai_tokens: 2_500_000,
        },
    );
    h.ok("carol", TxBody::SettleJob { job_id: 1 });
    h.online(&[("m1", 215), ("m2", 216), ("m3", 216)]);
    // the pool after step 1 and 2: its balance now plus this epoch's inflows
    let summary = h.next_epoch();
    let points = summary.programs.iter().find(|p| p.program == "points").unwrap();
    assert_eq!(h.unclaimed("a"), 0, "215 slots: no uptime point");
    assert_eq!(h.unclaimed("b"), points.budget / 4, "1 of 4 points");
    assert_eq!(h.unclaimed("c"), points.budget * 3 / 4, "1 uptime + 2 token points");
    let pool_before_payout = summary.pools.iter().find(|p| &*p.pool == "node_rewards").unwrap().balance + points.paid;
    assert_eq!(points.budget, pool_before_payout * 5 / 100);
}

/// OS4: the fee is burned whole and the provider is paid from the Node Reward Pool; what the
/// pool cannot pay becomes a debt, paid oldest first from later inflows. Method: drain the pool
/// with two large jobs, then close epochs and watch the queue.
#[test]
fn os4_burn_and_mint_debts_oldest_first() {
    let mut h = Harness::new("osmi", &[("p1", tokens(10)), ("p2", tokens(10)), ("carol", tokens(10_000_000))]);
    h.register_machine("p1", "m1", 1, 100, 0);
    h.register_machine("p2", "m2", 1, 100, 0);
    assert_eq!(h.state.pool("node_rewards").unwrap().balance, 0, "empty before the first close");
    for (job, provider, machine) in [(1, "p1", "m1"), (2, "p2", "m2")] {
        h.ok(
            "carol",
            TxBody::SubmitJob {
                job_id: job,
                mode: JobMode::Sync,
                price_per_gpu_second: tokens(1),
                max_gpu_seconds: 1_000_000,
            },
        );
        h.ok(
            provider,
            TxBody::ReportUsage {
                customer: addr("carol"),
                job_id: job,
                machine: addr(machine),
                gpu_seconds: 1_000_000,
                ai_tokens: 0,
            },
        );
        let burned = h.state.burned_total;
        h.ok("carol", TxBody::SettleJob { job_id: job });
        assert_eq!(h.state.burned_total - burned, tokens(1_000_000), "OS4: X burned");
    }
    let queue: Vec<u128> = h.state.debts.iter().map(|(_, a)| *a).collect();
    assert_eq!(queue, vec![tokens(1_000_000), tokens(1_000_000)]);
    let summary = h.next_epoch(); // the epoch's inflows (emission + tge release) go to debts first
    assert!(summary.debts_paid > tokens(1_000_000) && summary.debts_paid < tokens(2_000_000));
    assert_eq!(h.spendable("p1"), tokens(10) + tokens(1_000_000), "oldest debt paid in full first");
    assert_eq!(h.spendable("p2"), tokens(10) + summary.debts_paid - tokens(1_000_000), "the rest to the next");
    assert_eq!(h.state.pool("node_rewards").unwrap().balance, 0, "every inflow went to the debts");
    while !h.state.debts.is_empty() {
        h.next_epoch();
    }
    assert_eq!(h.spendable("p2"), tokens(10) + tokens(1_000_000));
}

/// OS7: 20% APY paid daily from staking_community; normal withdrawal after 14 epochs; fast after
/// 1 epoch with 10% burned. Method: plain stake, exact daily reward, both withdrawals.
#[test]
fn os7_staking_apy_and_withdrawals() {
    let mut h = Harness::new("osmi", &[("s", tokens(100_000))]);
    h.ok("s", TxBody::Stake { validator: Address::ZERO, amount: tokens(36_500) });
    h.next_epoch();
    h.next_epoch();
    assert_eq!(h.unclaimed("s"), tokens(20), "36,500 × 20% / 365 = 20 a day, from epoch 2 (G9)");
    let spendable = h.spendable("s");
    h.ok("s", TxBody::Unstake { validator: Address::ZERO, amount: tokens(1000), fast: false });
    h.ok("s", TxBody::Unstake { validator: Address::ZERO, amount: tokens(1000), fast: true });
    let burned = h.state.burned_total;
    h.next_epoch(); // close of e: nothing yet
    assert_eq!(h.spendable("s"), spendable);
    h.next_epoch(); // close of e+1: the fast withdrawal, 10% burned
    assert_eq!(h.spendable("s"), spendable + tokens(900));
    assert_eq!(h.state.burned_total - burned, tokens(100));
    for _ in 0..12 {
        h.next_epoch();
    }
    assert_eq!(h.spendable("s"), spendable + tokens(900), "normal waits 14 epochs");
    h.next_epoch();
    assert_eq!(h.spendable("s"), spendable + tokens(1900));
}

/// OS7: when the pool is short, every staker is paid pro rata. Method: stake far more than the
/// pool can pay in a day.
#[test]
fn os7_apy_pro_rata_when_short() {
    let mut h = Harness::new("osmi", &[("a", tokens(2_000_000_000)), ("b", tokens(1_000_000_000))]);
    h.ok("a", TxBody::Stake { validator: Address::ZERO, amount: tokens(2_000_000_000) });
    h.ok("b", TxBody::Stake { validator: Address::ZERO, amount: tokens(1_000_000_000) });
    h.next_epoch();
    let summary = h.next_epoch();
    let apy = summary.programs.iter().find(|p| p.program == "staking_apy").unwrap();
    assert!(apy.paid < apy.budget, "short");
    assert_eq!(h.state.pool("staking_community").unwrap().balance, apy.dust);
    let (a, b) = (h.unclaimed("a"), h.unclaimed("b"));
    assert!(a.abs_diff(2 * b) <= 2, "pro rata 2:1");
}

/// NM12 / G12: quorum exactly at 4% of circulating passes; one base unit less fails. A passed
/// policy change rules from the next epoch and the ledger logs the version. Method: a whale with
/// exactly 4% (or 4% − 1 unit) at the proposal's start votes yes on a claim-tax change.
#[test]
fn nm12_quorum_exactly_four_percent() {
    for short_by in [0u128, 1] {
        let whale = tokens(4_000_000) - short_by;
        let mut h = Harness::new("netmind", &[("whale", whale), ("rest", tokens(100_000_000) - whale)]);
        let change = ProposalAction::PolicyChange { changes: vec![("claims.tax_ppb".into(), "7".into())] };
        h.ok("whale", TxBody::Propose { action: change });
        assert_eq!(h.state.proposals[&1].quorum, tokens(4_000_000), "4% of the 100M circulating at the start");
        h.ok("whale", TxBody::Vote { proposal: 1, yes: true });
        h.err("whale", TxBody::Vote { proposal: 1, yes: true }, TxError::AlreadyVoted);
        assert_eq!(h.state.proposals[&1].yes, whale, "weight = spendable + staked at the start");
        let mut outcome = None;
        for epoch in 1..=7 {
            let summary = h.next_epoch();
            if let Some((_, o)) = summary.proposals.first() {
                assert_eq!(epoch, 7, "executes at the close of its last voting epoch");
                outcome = Some(*o);
            }
        }
        if short_by == 0 {
            assert_eq!(outcome, Some(ProposalOutcome::Executed));
            assert_eq!(h.state.policy.claims.tax_ppb, 7);
            assert_eq!(h.state.policy.version, 2);
            assert_eq!(h.state.policy_log.last().unwrap().from_epoch, 8, "G12: the log records the era");
        } else {
            assert_eq!(outcome, Some(ProposalOutcome::NoQuorum));
            assert_eq!(h.state.policy.claims.tax_ppb, 0);
        }
        h.err("whale", TxBody::Vote { proposal: 1, yes: true }, TxError::VotingClosed);
        h.err("whale", TxBody::Vote { proposal: 2, yes: true }, TxError::UnknownProposal);
        assert!(h.state.proposals[&1].outcome.is_some(), "the ledger keeps how it ended");
    }
}

/// NM12: proposing needs 100,000 NMT; a spend larger than the treasury fails without effect;
/// ungovernable keys are refused. Method: small proposer, the empty treasury, a cap change.
#[test]
fn nm12_proposal_limits() {
    let mut h = Harness::new("netmind", &[("small", tokens(99_999)), ("big", tokens(200_000))]);
    let spend = ProposalAction::TreasurySpend { to: addr("big"), amount: tokens(1) };
    h.err("small", TxBody::Propose { action: spend.clone() }, TxError::ProposerTooSmall);
    let cap = ProposalAction::PolicyChange { changes: vec![("token.cap".into(), "1".into())] };
    h.err("big", TxBody::Propose { action: cap }, TxError::InvalidProposal);
    let unknown = ProposalAction::PolicyChange { changes: vec![("claims.nope".into(), "1".into())] };
    h.err("big", TxBody::Propose { action: unknown }, TxError::InvalidProposal);
    h.ok("big", TxBody::Propose { action: spend });
    h.ok("big", TxBody::Vote { proposal: 1, yes: true });
    h.ok("big", TxBody::Transfer { to: addr("late"), amount: tokens(1) });
    h.err("late", TxBody::Vote { proposal: 1, yes: false }, TxError::NoVotingWeight);
    let mut outcome = None;
    for _ in 0..7 {
        if let Some((_, o)) = h.next_epoch().proposals.first() {
            outcome = Some(*o);
        }
    }
    assert_eq!(outcome, Some(ProposalOutcome::FailedExecution), "the treasury is locked until 1825");
    let treasury = Address::system("dao_treasury");
    h.err_as(treasury, TxBody::Transfer { to: addr("big"), amount: 1 }, TxError::SignerLocked);
}

/// NM12, bounded: a proposal holds every account's weight at its start and the state root
/// commits to it, so one proposer has one proposal in its voting period at a time, and at most
/// the policy's `governance.max_open_proposals` (16 in the presets) are open in all; an ended
/// proposal frees both; a policy without the field has no bound. Method: a second proposal
/// of the same account before and after the first ends; one more proposer than the limit.
#[test]
fn nm12_open_proposals_are_bounded() {
    let policy = Policy::preset("netmind").unwrap();
    let max = policy.governance.as_ref().unwrap().max_open_proposals.unwrap();
    assert_eq!(max, 16, "the presets' bound");
    const MAX_OPEN_PROPOSALS: usize = 16;
    let names: Vec<String> = (0..=MAX_OPEN_PROPOSALS).map(|i| format!("p{i}")).collect();
    let holders: Vec<(&str, u128)> = names.iter().map(|n| (n.as_str(), tokens(100_001))).collect();
    let mut h = Harness::new("netmind", &holders);
    let spend =
        |n: u128| TxBody::Propose { action: ProposalAction::TreasurySpend { to: addr("p0"), amount: tokens(1) + n } };
    h.ok("p0", spend(0));
    h.err("p0", spend(1), TxError::ProposerHasOpenProposal);
    for name in &names[1..MAX_OPEN_PROPOSALS] {
        h.ok(name, spend(2));
    }
    assert_eq!(h.state.proposals.len(), MAX_OPEN_PROPOSALS);
    h.err(&names[MAX_OPEN_PROPOSALS], spend(3), TxError::TooManyOpenProposals);
    // the weights snapshots held: one per open proposal, never more
    assert!(h.state.proposals.values().all(|p| !p.weights.is_empty() && p.weights.len() <= h.state.accounts.len()));
    for _ in 0..7 {
        h.next_epoch();
    }
    assert!(h.state.proposals.values().all(|p| p.outcome.is_some() && p.weights.is_empty()));
    h.ok("p0", spend(4));
    h.ok(&names[MAX_OPEN_PROPOSALS], spend(5));
    // a policy without the field: no bound (what chains before it replay to)
    let mut unbounded = policy.clone();
    unbounded.governance.as_mut().unwrap().max_open_proposals = None;
    let mut h = Harness::with_policy(unbounded, &[("p0", tokens(300_000))]);
    h.ok("p0", spend(0));
    h.ok("p0", spend(1));
}

fn bridge_harness() -> Harness {
    let mut policy = Policy::preset("netmind").unwrap();
    policy.bridge.as_mut().unwrap().committee = vec![addr("c1"), addr("c2"), addr("c3")];
    Harness::with_policy(
        policy,
        &[("alice", tokens(1_000_000)), ("c1", tokens(1)), ("c2", tokens(1)), ("c3", tokens(1))],
    )
}

/// An EVM address as the bridge takes it: 12 zero bytes, then 20 bytes.
fn evm(byte: u8) -> [u8; 32] {
    let mut out = [0; 32];
    out[12..].fill(byte);
    out
}

/// NM13: outbound moves tokens into escrow, to EVM addresses only; inbound pays once 2 of 3
/// attest the same deposit; a deposit pays at most once; attesting twice is refused; the
/// per-epoch cap (1% of escrow) holds, and a confirmed deposit above the room under it waits and
/// is paid in parts at later closes, first confirmed first paid, instead of failing for ever.
/// Method: escrow 999,000, then deposits around the 9,990 cap, one of twice the cap.
#[test]
fn nm13_bridge_attestations_and_cap() {
    let mut h = bridge_harness();
    for bad in [[7; 32], [0; 32], {
        let mut r = evm(7);
        r[0] = 1;
        r
    }] {
        h.err("alice", TxBody::BridgeOut { amount: tokens(1), recipient: bad }, TxError::InvalidForeignRecipient);
    }
    h.ok("alice", TxBody::BridgeOut { amount: tokens(999_000), recipient: evm(7) });
    let escrow = tokens(999_000);
    assert_eq!(h.state.bridge.escrow, escrow);
    let deposit = |id, to: &str, amount| TxBody::BridgeAttest { deposit_id: id, recipient: addr(to), amount };
    h.ok("c1", deposit(1, "bob", tokens(5)));
    h.err("c1", deposit(1, "bob", tokens(5)), TxError::AlreadyAttested);
    h.err("alice", deposit(1, "bob", tokens(5)), TxError::NotCommitteeMember);
    h.ok("c2", deposit(1, "bob", tokens(5))); // epoch 1: the cap is 1% of 0, so it waits
    assert_eq!((h.spendable("bob"), h.state.inbound_owed()), (0, tokens(5)), "confirmed, waiting");
    h.err("c3", deposit(1, "bob", tokens(5)), TxError::DepositAlreadyPaid);
    h.next_epoch();
    let cap1 = escrow / 100;
    assert_eq!(h.state.bridge.inbound_cap_epoch, cap1);
    assert_eq!(h.spendable("bob"), tokens(5), "paid at the close, from the new epoch's cap");
    assert_eq!(h.state.bridge.inbound_paid_epoch, tokens(5));
    h.ok("c1", deposit(2, "bob", tokens(2_000_000)));
    h.err("c2", deposit(2, "bob", tokens(2_000_000)), TxError::EscrowInsufficient);
    // twice the cap: the room now, the rest at the next closes; a later deposit waits behind it
    h.ok("c1", deposit(3, "bob", 2 * cap1));
    h.ok("c2", deposit(3, "bob", 2 * cap1));
    assert_eq!(h.spendable("bob"), cap1, "paid up to exactly the cap");
    assert_eq!(h.state.bridge.inbound_paid_epoch, cap1);
    h.ok("c2", deposit(4, "carol", 1));
    h.ok("c3", deposit(4, "carol", 1));
    assert_eq!(h.spendable("carol"), 0, "first confirmed, first paid");
    assert_eq!(h.state.inbound_owed(), cap1 + tokens(5) + 1);
    // what waits is reserved: the escrow less it is what a new deposit can claim
    let free = h.state.bridge.escrow - h.state.inbound_owed();
    h.ok("c1", deposit(5, "dave", free + 1));
    h.err("c2", deposit(5, "dave", free + 1), TxError::EscrowInsufficient);
    h.next_epoch();
    let cap2 = (escrow - cap1) / 100;
    assert_eq!((h.spendable("bob"), h.spendable("carol")), (cap1 + cap2, 0));
    assert_eq!(h.state.bridge.inbound_paid_epoch, cap2);
    h.next_epoch();
    assert_eq!((h.spendable("bob"), h.spendable("carol")), (tokens(5) + 2 * cap1, 1), "all paid");
    assert_eq!(h.state.inbound_owed(), 0);
    assert_eq!(h.state.bridge.escrow, escrow - tokens(5) - 2 * cap1 - 1);
    assert_eq!(h.state.bridge.inbound_next, 3);
}

/// NM13 [default]: no dust outbound transfers. A record costs every committee member a
/// `bridge_sign` fee and one mint on the other chain, so one `bridge_out` must move at least the
/// policy's `bridge.outbound_min` (1 token in the presets): one base unit less is refused with
/// 79 and changes nothing but the fee; exactly the minimum passes; a policy without a minimum
/// takes any positive amount. Records with their signatures, and confirmed deposits, enter the
/// state root through their own trees: the harness checks the incremental root against the one
/// computed from scratch after every transaction, a signature changes the root, and the rest
/// hashed flat stays the same length however many there are.
#[test]
fn nm13_outbound_transfers_have_a_minimum() {
    let mut h = bridge_harness();
    let min = h.state.policy.bridge.as_ref().unwrap().outbound_min.expect("the preset sets one").0;
    assert_eq!(min, tokens(1));
    h.err("alice", TxBody::BridgeOut { amount: min - 1, recipient: evm(7) }, TxError::BelowBridgeMinimum);
    h.err("alice", TxBody::BridgeOut { amount: 1, recipient: evm(7) }, TxError::BelowBridgeMinimum);
    assert!(h.state.bridge.outbound.is_empty());
    h.ok("alice", TxBody::BridgeOut { amount: min, recipient: evm(7) });
    h.ok("alice", TxBody::BridgeOut { amount: min + 1, recipient: evm(8) });
    assert_eq!(h.state.bridge.escrow, 2 * min + 1);
    let before = h.state.state_root();
    h.ok("c1", TxBody::BridgeSign { record: 1, signature: [5; 65] });
    assert_ne!(h.state.state_root(), before, "a published signature is part of the state root");
    // the rest hashed flat at every block does not grow with the bridge's history
    let rest_len = |h: &Harness| {
        let mut rest = Vec::new();
        h.state.encode_rest(&mut rest);
        rest.len()
    };
    let deposit = |id, amount| TxBody::BridgeAttest { deposit_id: id, recipient: addr("bob"), amount };
    h.ok("c1", deposit(0, 1));
    h.ok("c2", deposit(0, 1));
    let small = rest_len(&h);
    for i in 0..40 {
        h.ok("alice", TxBody::BridgeOut { amount: min, recipient: evm(9) });
        h.ok("c2", TxBody::BridgeSign { record: 2 + i, signature: [6; 65] });
        h.ok("c1", deposit(1 + i, 1));
        h.ok("c3", deposit(1 + i, 1));
    }
    assert_eq!(h.state.bridge.inbound.len(), 41);
    assert_eq!(rest_len(&h), small, "records, signatures and deposits are in their own trees");

    let mut policy = Policy::preset("netmind").unwrap();
    policy.bridge.as_mut().unwrap().outbound_min = None;
    let mut h = Harness::with_policy(policy, &[("alice", tokens(10))]);
    h.ok("alice", TxBody::BridgeOut { amount: 1, recipient: evm(7) });
    assert_eq!(h.state.bridge.escrow, 1);
}

/// NM13: committee members publish their signatures of an outbound record's mint, one each (a
/// member may replace its own, never repeat it), for a record that exists; nobody else can.
#[test]
fn nm13_committee_publishes_mint_signatures() {
    let mut h = bridge_harness();
    h.ok("alice", TxBody::BridgeOut { amount: tokens(10), recipient: evm(7) });
    let sign = |record, byte| TxBody::BridgeSign { record, signature: [byte; 65] };
    h.ok("c1", sign(0, 9));
    h.err("c1", sign(0, 9), TxError::AlreadySigned);
    h.ok("c1", sign(0, 1)); // replaced (a rotated EVM key, a signature under a wrong domain)
    h.err("c2", sign(1, 2), TxError::UnknownOutboundRecord);
    h.err("alice", sign(0, 3), TxError::NotCommitteeMember);
    h.ok("c3", sign(0, 4));
    let signed: Vec<_> = h.state.bridge.mint_signatures[&0].iter().map(|(a, s)| (*a, s.0[0])).collect();
    let mut expected = vec![(addr("c1"), 1), (addr("c3"), 4)];
    expected.sort();
    assert_eq!(signed, expected);
}

/// NM13: an attestation by a member that governance has since removed from the committee no
/// longer counts toward the threshold: a removed (say, leaked) key cannot help a later majority.
#[test]
fn nm13_a_removed_members_attestation_no_longer_counts() {
    let mut h = bridge_harness();
    h.ok("alice", TxBody::BridgeOut { amount: tokens(999_000), recipient: evm(7) });
    h.next_epoch();
    let deposit = TxBody::BridgeAttest { deposit_id: 9, recipient: addr("bob"), amount: tokens(5) };
    h.ok("c1", deposit.clone());
    // governance removes c1 (the policy in force changes; the stored attestation stays)
    let mut policy = (*h.state.policy).clone();
    policy.bridge.as_mut().unwrap().committee.retain(|a| *a != addr("c1"));
    h.state.policy = policy.into();
    h.err("c1", deposit.clone(), TxError::NotCommitteeMember);
    h.ok("c2", deposit.clone());
    assert_eq!(h.spendable("bob"), 0, "c1's attestation no longer counts: 1 of 2");
    h.ok("c3", deposit);
    assert_eq!(h.spendable("bob"), tokens(5), "two current members attested: paid");
}

fn omnitensor_harness() -> Harness {
    let mut h = Harness::new(
        "omnitensor",
        &[("v1", tokens(100_000)), ("v2", tokens(100_000)), ("v3", tokens(100_000)), ("owner", tokens(10_000))],
    );
    for v in ["v1", "v2", "v3"] {
        h.err(v, TxBody::RegisterValidator { bond: tokens(31_999) }, TxError::BondTooLow);
        h.ok(v, TxBody::RegisterValidator { bond: tokens(32_000) });
    }
    h.err(
        "owner",
        TxBody::RegisterMachine { machine: addr("m"), gpu_class: 1, bandwidth_mbps: 100, bond: tokens(999) },
        TxError::MachineBondTooLow,
    );
    h.register_machine("owner", "m", 1, 100, tokens(1_000));
    h.next_epoch();
    h
}

fn receipt(h: &Harness, gpu_seconds: u64, salt: u8) -> (TxBody, [u8; 32]) {
    let body = TxBody::SubmitReceipt {
        machine: addr("m"),
        task_id: [salt; 32],
        model_id: [2; 32],
        input_hash: [3; 32],
        output_hash: [4; 32],
        gpu_seconds,
    };
    let before: std::collections::BTreeSet<[u8; 32]> = h.state.receipts.keys().copied().collect();
    let mut probe = h.state.clone();
    let tx = h.tx(addr("owner"), body.clone());
    probe.apply_tx(&tx, h.producer).unwrap();
    let id = *probe.receipts.keys().find(|k| !before.contains(*k)).unwrap();
    (body, id)
}

/// OT3–OT5: a receipt assigned to 3 validators is accepted by 2 valid attestations and earns
/// 6.25 OMNIT per reference GPU-hour; a dissenting validator is slashed 1%; a rejected receipt
/// slashes the machine 10%. Method: one accepted and one rejected receipt.
#[test]
fn ot4_receipts_attest_and_slash() {
    let mut h = omnitensor_harness();
    let (body, id) = receipt(&h, 24 * 3600, 1);
    h.ok("owner", body.clone());
    h.err("owner", body, TxError::ReceiptExists);
    let assigned: Vec<Address> = h.state.receipts[&id].votes.iter().map(|(v, _)| *v).collect();
    assert_eq!(assigned.len(), 3, "OT4: 3 validators");
    h.err("owner", TxBody::AttestReceipt { receipt: id, valid: true }, TxError::NotAssignedValidator);
    let staked = |h: &Harness, v: &Address| h.state.account(v).unwrap().staked;
    let dissenter_stake = staked(&h, &assigned[0]);
    h.ok_as(assigned[0], TxBody::AttestReceipt { receipt: id, valid: false });
    h.ok_as(assigned[1], TxBody::AttestReceipt { receipt: id, valid: true });
    h.ok_as(assigned[2], TxBody::AttestReceipt { receipt: id, valid: true });
    h.err_as(assigned[0], TxBody::AttestReceipt { receipt: id, valid: true }, TxError::ReceiptFinalized);
    assert_eq!(dissenter_stake - staked(&h, &assigned[0]), tokens(32_000) / 100, "the dissenter loses 1% of its bond");
    assert_eq!(staked(&h, &assigned[1]), tokens(32_000), "the majority keeps its bond");
    let summary = h.next_epoch();
    let machines = summary.programs.iter().find(|p| p.program == "dualproof_machines").unwrap();
    assert_eq!(machines.paid, tokens(150), "an RTX 3080-class machine for 24 h earns 150");
    let (body, id) = receipt(&h, 3600, 2);
    h.ok("owner", body);
    let assigned: Vec<Address> = h.state.receipts[&id].votes.iter().map(|(v, _)| *v).collect();
    let burned = h.state.burned_total;
    h.ok_as(assigned[0], TxBody::AttestReceipt { receipt: id, valid: false });
    h.ok_as(assigned[1], TxBody::AttestReceipt { receipt: id, valid: false });
    assert_eq!(
        h.state.burned_total - burned,
        tokens(100) + 2 * h.state.base_fee,
        "10% of the 1,000 bond, and two base fees"
    );
    assert_eq!(h.state.machines_cold[0].bond, tokens(900));
}

/// OT5: when claims exceed the daily mint budget all are paid pro rata; minting never passes the
/// cap. Method: 3 receipts worth 3 × 150,000 OMNIT against the 200,000 budget; then a policy whose
/// cap leaves 1,000 tokens of room.
#[test]
fn ot5_mint_capped_pro_rata_and_never_past_cap() {
    for room in [None, Some(tokens(1_000))] {
        let mut h = omnitensor_harness();
        if let Some(room) = room {
            h.state.cap = h.state.total_supply() + room;
        }
        for salt in 0..3u8 {
            // 150,000 OMNIT = 24,000 reference GPU-hours
            let (body, id) = receipt(&h, 24_000 * 3600, 10 + salt);
            h.ok("owner", body);
            let assigned: Vec<Address> = h.state.receipts[&id].votes.iter().map(|(v, _)| *v).collect();
            h.ok_as(assigned[0], TxBody::AttestReceipt { receipt: id, valid: true });
            h.ok_as(assigned[1], TxBody::AttestReceipt { receipt: id, valid: true });
        }
        let supply = h.state.total_supply();
        let summary = h.next_epoch();
        let minted = summary.minted;
        match room {
            None => {
                assert!(minted <= tokens(200_000));
                assert!(tokens(200_000) - minted < 10, "the whole budget is paid, less dust");
                let machines = summary.programs.iter().find(|p| p.program == "dualproof_machines").unwrap();
                assert!(machines.paid < tokens(450_000));
            }
            Some(room) => {
                assert!(minted <= h.state.cap - supply && minted >= room, "capped by the room left");
                assert!(h.state.total_supply() <= h.state.cap);
                assert_eq!(h.state.total_supply(), supply + minted);
            }
        }
    }
}

/// OT6: the base fee moves at most 12.5% per block toward half the limit, never below the floor;
/// it is burned. Method: blocks at 0%, 50% and 100% of a 10-transaction limit.
#[test]
fn ot6_base_fee_moves_at_most_12_5_percent() {
    let mut policy = Policy::preset("omnitensor").unwrap();
    policy.gas.base_fee.as_mut().unwrap().block_tx_limit = 10;
    let mut h = Harness::with_policy(policy, &[("a", tokens(1_000))]);
    let base = h.state.base_fee;
    let mut height = 0;
    let mut block = |h: &mut Harness, count: usize| {
        height += 1;
        let mut txs = Vec::new();
        let nonce = h.state.account(&addr("a")).unwrap().nonce;
        for i in 0..count + 1 {
            txs.push(gridmint_core::Tx {
                signer: addr("a"),
                nonce: nonce + i as u64,
                body: TxBody::Transfer { to: addr("b"), amount: 1 },
            });
        }
        let time = h.state.time;
        let built = h.state.build_block(height, time, h.producer, txs, false).unwrap();
        h.state.assert_invariants();
        built
    };
    let burned = h.state.burned_total;
    let full = block(&mut h, 10); // 11 submitted: the 11th finds the block full and stays out
    assert_eq!(full.included.len(), 10);
    assert_eq!(full.refused.iter().map(|(_, e)| *e).collect::<Vec<_>>(), vec![TxError::BlockFull]);
    assert_eq!(h.state.burned_total - burned, base * 10, "the base fee is burned");
    assert_eq!(h.state.base_fee, base + base / 8, "+12.5% at a full block");
    let after_full = h.state.base_fee;
    block(&mut h, 4); // 5 = target: unchanged (4 + the one extra)
    assert_eq!(h.state.base_fee, after_full);
    let mut height2 = 1_000;
    for _ in 0..200 {
        height2 += 1;
        let before = h.state.base_fee;
        let time = h.state.time;
        h.state
            .apply_block(&gridmint_core::Block { height: h.state.height + 1, time, producer: h.producer, txs: vec![] })
            .unwrap();
        assert!(h.state.base_fee >= before - before / 8);
    }
    let _ = height2;
    assert_eq!(h.state.base_fee, parse_tokens("0.0001").unwrap(), "never below the floor");
}

/// N24-6: upgrading `netmind` to `netmind-2024` at an epoch boundary burns the unreleased pools
/// and starts the new schedule. Method: 365 epochs of netmind, then the upgrade; check burns,
/// the new cap, the policy log and the new mining release.
#[test]
fn n24_6_upgrade_burns_unreleased_pools() {
    let mut h = Harness::new("netmind", &[]);
    h.state.compute_roots = false;
    h.state.schedule_upgrade(366, Policy::preset("netmind-2024").unwrap(), true).unwrap();
    for _ in 0..364 {
        h.next_epoch();
    }
    let pools_before: u128 = h.state.pools_total();
    let supply_before = h.state.total_supply();
    let summary = h.next_epoch(); // close of 365 installs the upgrade
    assert_eq!(summary.policy_version, 1);
    let released_365 = h.state.account(&Address::system("team")).unwrap().spendable;
    assert_eq!(released_365, tokens(10_000_000));
    assert_eq!(h.state.policy.name, "netmind-2024");
    assert_eq!(h.state.policy_log.last().unwrap().from_epoch, 366);
    let _ = (pools_before, supply_before);
    assert_eq!(
        h.state.total_supply(),
        tokens(10_000_000) + tokens(113_000_000),
        "all but the team's 10M burned, 113M minted"
    );
    assert_eq!(h.state.cap, h.state.total_supply(), "cap = supply after the burn + the new pools (just minted)");
    h.next_epoch();
    assert_eq!(
        h.state.pool("mining").unwrap().released_total,
        tokens(20_000_000) / 730,
        "phase 1 restarts at the upgrade"
    );
}

/// G10 (revised 2026-11-29): a transaction that fails the envelope is refused and changes
/// nothing; one that fails its kind's checks is included, pays its fee, consumes its nonce and
/// changes nothing else; so an account holding one base unit cannot get anything stored.
/// Method: each envelope check and two kind failures through the harness (which compares the
/// state with one charged field by field), then 1,000 transfers from a 1-base-unit account.
#[test]
fn g10_envelope_refused_kind_failures_pay() {
    let mut h = Harness::new("netmind", &[("a", 3 * FEE)]);
    let claim = h.tx(addr("nobody"), TxBody::Claim);
    h.refused(&claim, TxError::UnknownSigner);
    h.refused(&gridmint_core::Tx { signer: addr("a"), nonce: 1, body: TxBody::Claim }, TxError::NonceTooHigh);
    // kind failures: included, each pays the flat fee to the producer and uses a nonce
    h.err("a", TxBody::Transfer { to: addr("b"), amount: 0 }, TxError::ZeroAmount);
    h.err("a", TxBody::Transfer { to: addr("b"), amount: 3 * FEE }, TxError::InsufficientBalance);
    assert_eq!(h.spendable("a"), FEE);
    assert_eq!(h.state.account(&addr("a")).unwrap().nonce, 2);
    assert_eq!(h.spendable("producer"), 2 * FEE, "NM14: the fees of failed transactions go to the producer");
    assert!(h.state.account(&addr("b")).is_none(), "a failed transfer creates no account");
    let replay = gridmint_core::Tx { signer: addr("a"), nonce: 0, body: TxBody::Transfer { to: addr("b"), amount: 1 } };
    h.refused(&replay, TxError::NonceTooLow);
    h.err("a", TxBody::Claim, TxError::NothingToClaim);
    // nothing left to pay a fee with: refused by the envelope from now on
    let spam = h.tx(addr("a"), TxBody::Transfer { to: addr("b"), amount: 1 });
    h.refused(&spam, TxError::InsufficientFee);

    let mut h = Harness::new("netmind", &[("spammer", 1)]);
    let before = h.state.canonical_bytes();
    let candidates: Vec<gridmint_core::Tx> = (0..1_000)
        .map(|i| gridmint_core::Tx {
            signer: addr("spammer"),
            nonce: 0,
            body: TxBody::Transfer { to: addr(&format!("victim{i}")), amount: 1 },
        })
        .collect();
    let time = h.state.time;
    let built = h.state.build_block(1, time, h.producer, candidates, false).unwrap();
    assert!(built.included.is_empty(), "nothing of a spammer without a fee enters a block");
    assert_eq!(built.refused.len(), 1_000);
    assert!(built.refused.iter().all(|(_, e)| *e == TxError::InsufficientFee));
    let mut after = h.state.clone();
    after.height = 0;
    after.base_fee = h.state.base_fee;
    assert!(after.canonical_bytes() == before, "an empty block of refusals changes only the height");
}

/// G10: a block built from candidates leaves the refused ones out and replays to the same root;
/// a decided block that carries a refused transaction is invalid. Method: a block of a success,
/// a kind failure, a replayed nonce and a transfer from an unknown account.
#[test]
fn g10_built_blocks_replay_and_refused_transactions_invalidate_a_block() {
    let mut h = Harness::new("netmind", &[("a", tokens(10))]);
    let genesis = h.state.clone();
    let tx = |nonce, amount, signer: &str| gridmint_core::Tx {
        signer: addr(signer),
        nonce,
        body: TxBody::Transfer { to: addr("b"), amount },
    };
    let candidates = vec![tx(0, 5, "a"), tx(1, 0, "a"), tx(1, 1, "a"), tx(0, 1, "nobody"), tx(2, 1, "a")];
    let time = h.state.time + 10;
    let built = h.state.build_block(1, time, h.producer, candidates.clone(), false).unwrap();
    assert_eq!(built.included, vec![candidates[0].clone(), candidates[1].clone(), candidates[4].clone()]);
    let codes: Vec<u16> = built.receipts.iter().map(|r| r.code).collect();
    assert_eq!(codes, vec![0, TxError::ZeroAmount.code(), 0]);
    let refused: Vec<TxError> = built.refused.iter().map(|(_, e)| *e).collect();
    assert_eq!(refused, vec![TxError::NonceTooLow, TxError::UnknownSigner]);
    let mut replica = genesis.clone();
    let block = gridmint_core::Block { height: 1, time, producer: h.producer, txs: built.included.clone() };
    let outcome = replica.apply_block(&block).unwrap();
    assert_eq!(outcome.receipts, built.receipts);
    assert_eq!(replica.state_root(), h.state.state_root());
    let mut replica = genesis;
    let bad = gridmint_core::Block { height: 1, time, producer: h.producer, txs: candidates };
    assert_eq!(
        replica.apply_block(&bad),
        Err(gridmint_core::BlockError::Refused { index: 2, error: TxError::NonceTooLow })
    );
}

/// OT7: leaderboards rank machines by validated contributions (rewards) and validators by their
/// earnings. Method: two machines with 1 h and 3 h of accepted work.
#[test]
fn ot7_leaderboards() {
    let mut h = omnitensor_harness();
    h.register_machine("owner", "m2", 1, 100, tokens(1_000));
    for (machine, hours, salt) in [("m", 1u64, 30u8), ("m2", 3, 31)] {
        let body = TxBody::SubmitReceipt {
            machine: addr(machine),
            task_id: [salt; 32],
            model_id: [2; 32],
            input_hash: [3; 32],
            output_hash: [4; 32],
            gpu_seconds: hours * 3600,
        };
        let id =
            gridmint_core::State::receipt_id(&addr(machine), [&[salt; 32], &[2; 32], &[3; 32], &[4; 32]], hours * 3600);
        h.ok("owner", body);
        let assigned: Vec<Address> = h.state.receipts[&id].votes.iter().map(|(v, _)| *v).collect();
        h.ok_as(assigned[0], TxBody::AttestReceipt { receipt: id, valid: true });
        h.ok_as(assigned[1], TxBody::AttestReceipt { receipt: id, valid: true });
    }
    h.next_epoch();
    let board = h.state.machine_leaderboard(10);
    assert_eq!(board.iter().map(|(a, _)| *a).collect::<Vec<_>>(), vec![addr("m2"), addr("m")]);
    assert_eq!(board[0].1, 3 * board[1].1, "rewards scale with validated work");
    let validators = h.state.validator_leaderboard(2);
    assert_eq!(validators.len(), 2);
    assert!(validators[0].1 >= validators[1].1 && validators[1].1 > 0);
}

/// X2: a reward proof verifies against the epoch's rewards root, and fails after flipping any
/// byte of it (address, amount, siblings, position) or of the root. Method: 9 rewarded machines'
/// owners; every owner's proof; every byte of one proof flipped in turn.
#[test]
fn x2_reward_proofs_verify_and_detect_tampering() {
    let owners: Vec<String> = (0..9).map(|i| format!("owner{i}")).collect();
    let funded: Vec<(&str, u128)> = owners.iter().map(|o| (o.as_str(), tokens(1))).collect();
    let mut h = Harness::new("netmind", &funded);
    let machines: Vec<String> = (0..owners.len()).map(|i| format!("mach{i}")).collect();
    for (i, owner) in owners.iter().enumerate() {
        h.register_machine(owner, &machines[i], (i % 5) as u8 + 1, 100, 0);
    }
    let online: Vec<(&str, u64)> = machines.iter().enumerate().map(|(i, m)| (m.as_str(), 61 + i as u64)).collect();
    h.online(&online);
    let summary = h.next_epoch();
    for owner in &owners {
        let proof = h.state.reward_proof(&addr(owner)).unwrap();
        assert!(proof.verify(&summary.rewards_root), "{owner}");
        assert_eq!(proof.rewards_total, h.unclaimed(owner));
    }
    let proof = h.state.reward_proof(&addr("owner4")).unwrap();
    let json = serde_json::to_vec(&proof).unwrap();
    let mut flips = 0;
    for byte in 0..32 {
        let mut p = proof.clone();
        p.address.0[byte] ^= 1;
        assert!(!p.verify(&summary.rewards_root));
        for sibling in 0..p.siblings.len() {
            let mut q = proof.clone();
            q.siblings[sibling][byte] ^= 0x80;
            assert!(!q.verify(&summary.rewards_root));
            flips += 1;
        }
        let mut root = summary.rewards_root;
        root[byte] ^= 1;
        assert!(!proof.verify(&root));
    }
    for bit in 0..128 {
        let mut p = proof.clone();
        p.rewards_total ^= 1 << bit;
        assert!(!p.verify(&summary.rewards_root));
    }
    let mut p = proof.clone();
    p.index ^= 1;
    assert!(!p.verify(&summary.rewards_root));
    assert!(flips > 0);
    let back: gridmint_core::RewardProof = serde_json::from_slice(&json).unwrap();
    assert!(back.verify(&summary.rewards_root), "the JSON form round-trips");
    assert!(h.state.reward_proof(&addr("nobody")).is_none());
}

/// N24-5: burn rates under netmind-2024: sync and inference 50%, async 80%, rental 100%.
/// Method: one job per mode, 1,000 GPU-seconds at 1 NMT each; compare burns exactly.
#[test]
fn n24_5_burn_rates_per_mode() {
    for (mode, burn_per_mille) in
        [(JobMode::Sync, 500u128), (JobMode::Inference, 500), (JobMode::Async, 800), (JobMode::Rental, 1000)]
    {
        let mut h = Harness::new("netmind-2024", &[("alice", tokens(10)), ("carol", tokens(10_000))]);
        h.register_machine("alice", "m", 1, 100, 0);
        h.ok("carol", TxBody::SubmitJob { job_id: 1, mode, price_per_gpu_second: TOKEN, max_gpu_seconds: 1_000 });
        h.ok(
            "alice",
            TxBody::ReportUsage {
                customer: addr("carol"),
                job_id: 1,
                machine: addr("m"),
                gpu_seconds: 1_000,
                ai_tokens: 0,
            },
        );
        let burned = h.state.burned_total;
        h.ok("carol", TxBody::SettleJob { job_id: 1 });
        assert_eq!(h.state.burned_total - burned, tokens(burn_per_mille), "{mode:?}");
    }
}
