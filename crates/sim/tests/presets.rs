//! Every preset's default scenario exercises the preset's own mechanisms (issue 11: the
//! omnitensor scenario funded its agents from the governance treasury, a locked signer, so every
//! agent transaction was refused and nothing happened). Each test runs the default scenario
//! through the simulator, as `gridmint simulate --policy <preset>` does, for 90 epochs, and checks
//! what the preset has: machines rewarded, jobs settled, stake paid, receipts accepted ... and
//! that the ledger refused only the agent actions the scenario means to be refusable.

use gridmint_core::state::ReceiptStatus;
use gridmint_core::{Policy, TxError};
use gridmint_sim::{Scenario, SimConfig, SimResult, run};

const EPOCHS: u64 = 90;

fn run_default(preset: &str) -> SimResult {
    let scenario = Scenario::default_for(preset);
    let policy = scenario.apply_overrides(Policy::preset(preset).unwrap(), &[]).unwrap();
    let config = SimConfig { policy, scenario, epochs: EPOCHS, machines: None, seed: 42, threads: 1 };
    let result = run(&config, &|_| {}).unwrap();
    result.state.assert_invariants();
    assert!(result.txs_sent > 0, "{preset}: the agents acted");
    result
}

/// Paid in total over the run by `program`.
fn paid(result: &SimResult, program: &str) -> u128 {
    let column = result.programs.iter().position(|p| p == program).unwrap_or_else(|| panic!("no program {program}"));
    result.rows.iter().map(|r| r.paid()[column]).sum()
}

/// The refusals are exactly of the kinds the scenario means: `allowed` (kind, error) pairs.
fn only_meant_rejections(preset: &str, result: &SimResult, allowed: &[(&str, TxError)]) {
    for ((kind, code), count) in &result.rejections_by_kind {
        let error = TxError::from_code(*code).unwrap();
        assert!(
            allowed.contains(&(*kind, error)),
            "{preset}: {count} {kind} transactions refused with {error:?}, which the scenario does not mean"
        );
    }
    assert_eq!(result.rejections_by_kind.values().sum::<u64>(), result.txs_rejected);
}

/// Accounts that claimed at least once (their cumulative rewards exceed what is unclaimed).
fn claimers(result: &SimResult) -> usize {
    let s = &result.state;
    (0..s.accounts.len() as u32).filter(|id| s.rewards_total_of(*id) > s.unclaimed_of(*id)).count()
}

/// An owner without spendable tokens cannot pay the fee to report a job's usage: the ledger
/// refuses it and the job settles at zero usage (the simulator's documented behaviour).
const UNFUNDED_REPORTS: (&str, TxError) = ("report_usage", TxError::InsufficientFee);

/// Goal: the netmind scenario (funded from the team's releases, NM5) rewards connected machines
/// (NM6), settles jobs with burns (NM8), pays the staking split to stakers, liquidity providers
/// and operators (NM3) of 21 elected master nodes (NM10), moves tokens over the bridge (NM13),
/// and its owners and delegators claim (G11).
#[test]
fn netmind_default_scenario_exercises_netmind() {
    let result = run_default("netmind");
    let s = &result.state;
    assert!(paid(&result, "connection_reward") > 0);
    for program in ["staking_stakers", "staking_liquidity", "staking_operators"] {
        assert!(paid(&result, program) > 0, "{program}");
    }
    assert_eq!(s.master_nodes.len(), 21);
    assert!(s.closed_jobs.len() > 100, "jobs settled: {}", s.closed_jobs.len());
    assert!(s.burned_total > 0, "job fees burned");
    assert!(s.bridge.escrow > 0 && !s.bridge.paid_deposits.is_empty(), "bridged out and in");
    assert!(claimers(&result) > 10);
    only_meant_rejections("netmind", &result, &[UNFUNDED_REPORTS]);
}

/// Goal: the netmind-2024 scenario (funded at once by the holders of the supply circulating at
/// the switch, N24-1) rewards machines, settles jobs of every mode with N24-5's burns, splits the
/// staking release 10/40/50 among operators, liquidity providers and stakers (N24-3).
#[test]
fn netmind_2024_default_scenario_exercises_netmind_2024() {
    let result = run_default("netmind-2024");
    let s = &result.state;
    assert!(paid(&result, "connection_reward") > 0);
    for program in ["staking_stakers", "staking_liquidity", "staking_operators"] {
        assert!(paid(&result, program) > 0, "{program}");
    }
    assert_eq!(s.master_nodes.len(), 21);
    assert!(s.closed_jobs.len() > 100, "jobs settled: {}", s.closed_jobs.len());
    assert!(s.burned_total > 0);
    assert!(s.bridge.escrow > 0 && !s.bridge.paid_deposits.is_empty());
    assert!(claimers(&result) > 10);
    only_meant_rejections("netmind-2024", &result, &[UNFUNDED_REPORTS]);
}

/// Goal: the osmi scenario mints the daily emission (OS2), pays points for uptime and for the AI
/// tokens of settled inference jobs (OS5), settles those jobs by burn-and-mint (OS4), pays the
/// staking APY to community stakers (OS7), and its claims burn the tax (OS6); nothing refused.
#[test]
fn osmi_default_scenario_exercises_osmi() {
    let result = run_default("osmi");
    let s = &result.state;
    assert!(paid(&result, "points") > 0);
    assert!(paid(&result, "staking_apy") > 0);
    assert!(s.closed_jobs.len() > 100, "jobs settled: {}", s.closed_jobs.len());
    let genesis: u128 = s.policy.pools.iter().map(|p| p.genesis.0).sum::<u128>()
        + s.policy.genesis.iter().map(|g| g.amount.0).sum::<u128>();
    assert!(s.minted_total > genesis, "the emission minted");
    assert!(s.burned_total > 0, "job fees and claim taxes burned");
    assert!(claimers(&result) > 10);
    only_meant_rejections("osmi", &result, &[]);
}

/// Goal: the omnitensor scenario (funded from the ecosystem allocation's releases, OT2, not the
/// governance treasury) registers every bonded machine and its 21 validators, whose receipts are
/// attested and accepted, the invalid ones rejected and slashed (OT3, OT4), pays machines and
/// validators in newly minted OMNIT (OT5), burns base fees (OT6); nothing refused.
#[test]
fn omnitensor_default_scenario_exercises_omnitensor() {
    let result = run_default("omnitensor");
    let s = &result.state;
    assert_eq!(s.machines.len(), 500, "every bonded machine registered");
    assert_eq!((s.validators.len(), s.master_nodes.len()), (21, 21));
    let accepted = s.receipts.values().filter(|r| r.status == ReceiptStatus::Accepted).count();
    let rejected = s.receipts.values().filter(|r| r.status == ReceiptStatus::Rejected).count();
    assert!(accepted > 1_000, "receipts accepted: {accepted}");
    assert!(rejected > 0, "invalid receipts rejected (and slashed)");
    assert!(paid(&result, "dualproof_machines") > 0);
    assert!(paid(&result, "dualproof_validators") > 0);
    assert!(s.burned_total > 0, "base fees and slashes burned");
    assert!(claimers(&result) > 10);
    only_meant_rejections("omnitensor", &result, &[]);
}

/// Goal: a scenario that funds its agents from the governance treasury (a locked signer: every
/// transfer from it is refused, the cause of issue 11) is refused before the run, naming
/// `funding`. Method: the omnitensor scenario funded from `treasury`.
#[test]
fn funding_from_the_locked_treasury_is_refused() {
    let mut scenario = Scenario::default_for("omnitensor");
    scenario.funding = Some("treasury".into());
    let config = SimConfig {
        policy: Policy::preset("omnitensor").unwrap(),
        scenario,
        epochs: 5,
        machines: None,
        seed: 1,
        threads: 1,
    };
    let error = run(&config, &|_| {}).unwrap_err().to_string();
    assert!(error.contains("funding") && error.contains("governance treasury"), "{error}");
}

/// A scenario asking for more proposals than the policy lets be open at once (NM12:
/// `governance.max_open_proposals`, 16 in the preset) gets the first 16 opened and voted on;
/// the others are refused by the ledger and said so, in the result, the JSON summary and the
/// text summary, never only counted among the rejections.
#[test]
fn proposals_past_the_open_limit_are_reported_not_dropped_silently() {
    let mut scenario = Scenario::default_for("netmind");
    // the agents funded from the first epoch (the preset's funding account vests later)
    scenario.prefund = Some("10000000".into());
    let before = scenario.proposals.len();
    for _ in 0..18 {
        scenario.proposals.push(gridmint_sim::scenario::ProposalEvent {
            epoch: 3,
            set: Default::default(),
            treasury_spend: Some("1".into()),
            yes_share: 0.9,
        });
    }
    // the validators (bonds of 10,000) may propose: the preset asks 100,000 of a proposer
    let lower = [("governance.proposer_min".to_string(), "1000".to_string())];
    let policy = scenario.apply_overrides(Policy::preset("netmind").unwrap(), &lower).unwrap();
    assert_eq!(policy.governance.as_ref().and_then(|g| g.max_open_proposals), Some(16));
    let config = SimConfig { policy, scenario, epochs: 5, machines: None, seed: 7, threads: 1 };
    let result = run(&config, &|_| {}).unwrap();
    result.state.assert_invariants();
    let refused: Vec<(u64, usize, u16)> = result.refused_proposals.iter().map(|r| (r.epoch, r.index, r.code)).collect();
    let code = TxError::TooManyOpenProposals.code();
    assert_eq!(refused, vec![(3, before + 16, code), (3, before + 17, code)]);
    assert!(result.refused_proposals[0].reason.contains("max_open_proposals"), "{:?}", result.refused_proposals);
    let json = gridmint_sim::output::summary_json(&result, serde_json::json!({}));
    assert_eq!(json["refused_proposals"].as_array().map(Vec::len), Some(2), "{}", json["refused_proposals"]);
    let html = gridmint_sim::report::report_html(&gridmint_sim::report::ReportInput {
        result: &result,
        context: "refused proposals".into(),
        summary: json.clone(),
        parameters: serde_json::json!({}),
        initial_cap: result.state.policy.token.cap.0,
        multi: None,
    });
    let section = &html[html.find("id=\"refused-proposals\"").expect("report.html lists them")..];
    assert_eq!(section[..section.find("</section>").unwrap()].matches("<tr><td").count(), 2);
    let text = gridmint_sim::output::table(&result, "NMT");
    assert!(text.contains(&format!("proposal {} (epoch 3) refused by the ledger", before + 16)), "{text}");
}
