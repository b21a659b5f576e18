//! Scheduled policy upgrades (G12, N24-6): each is checked against the state it will meet when
//! it is scheduled, and again at the close that installs it; a refused upgrade changes nothing
//! and never panics. And G8 in the summary of every close, an upgrade's burn and mint included.

mod common;
use common::{Harness, addr, tokens};
use gridmint_core::state::UpgradeError;
use gridmint_core::{Address, EpochSummary, Policy, TOKEN};
use gridmint_policy::{PoolParams, Sink, Tokens, Tranche};

/// A copy of the ruling policy, one version up.
fn next_version(h: &Harness) -> Policy {
    let mut policy = h.state.policy.as_ref().clone();
    policy.version += 1;
    policy
}

fn pool_mut<'a>(policy: &'a mut Policy, name: &str) -> &'a mut PoolParams {
    policy.pools.iter_mut().find(|p| p.name == name).unwrap()
}

/// Schedules an upgrade that must be refused with an error matching `expected`, leaving the state
/// byte-identical.
fn refused(h: &mut Harness, epoch: u64, policy: Policy, restart: bool, expected: fn(&UpgradeError) -> bool) {
    let before = h.state.canonical_bytes();
    let error = h.state.schedule_upgrade(epoch, policy, restart).unwrap_err();
    assert!(expected(&error), "unexpected refusal: {error}");
    assert!(!error.to_string().is_empty());
    assert!(before == h.state.canonical_bytes(), "a refused upgrade changed the state ({error})");
}

/// G8 as the summary tells it: Σ its pool balances + every account's holding + the escrow = its
/// total supply = minted_total − burned_total, and its epoch's minted and burned are the
/// differences of the cumulative figures from the previous summary.
fn assert_summary_conserves(h: &Harness, summary: &EpochSummary, previous: Option<&EpochSummary>) {
    let pools: u128 = summary.pools.iter().map(|p| p.balance).sum();
    let accounts: u128 = (0..h.state.accounts.len() as u32).map(|id| h.state.holding(id)).sum();
    assert_eq!(
        pools + accounts + h.state.bridge.escrow,
        summary.total_supply,
        "epoch {}: the summary's pools + accounts + escrow = its supply (G8)",
        summary.epoch
    );
    assert_eq!(summary.minted_total - summary.burned_total, summary.total_supply, "epoch {}", summary.epoch);
    let names: std::collections::BTreeSet<&str> = summary.pools.iter().map(|p| &*p.pool).collect();
    assert_eq!(names.len(), summary.pools.len(), "epoch {}: each pool listed once", summary.epoch);
    if let Some(previous) = previous {
        assert_eq!(previous.minted_total + summary.minted, summary.minted_total, "epoch {}: minted", summary.epoch);
        assert_eq!(previous.burned_total + summary.burned, summary.burned_total, "epoch {}: burned", summary.epoch);
    }
}

/// Goal: an upgrade is refused, with a typed error and no change, when it is scheduled for the
/// open epoch or before (epoch 1 belongs to the genesis policy; it used to be dropped silently by
/// the simulator), or for an epoch that already has one (the later used to win silently).
/// Method: epoch 1 at genesis; the open epoch after two closes; two upgrades for epoch 5.
#[test]
fn g12_upgrade_epoch_must_be_future_and_free() {
    let mut h = Harness::new("netmind", &[]);
    let policy = next_version(&h);
    refused(&mut h, 1, policy.clone(), false, |e| matches!(e, UpgradeError::NotInFuture { epoch: 1, open: 1 }));
    refused(&mut h, 0, policy.clone(), false, |e| matches!(e, UpgradeError::NotInFuture { epoch: 0, .. }));
    h.next_epoch();
    h.next_epoch();
    refused(&mut h, 3, policy.clone(), false, |e| matches!(e, UpgradeError::NotInFuture { epoch: 3, open: 3 }));
    h.state.schedule_upgrade(5, policy.clone(), false).unwrap();
    let mut later = policy.clone();
    later.version += 1;
    refused(&mut h, 5, later, false, |e| matches!(e, UpgradeError::AlreadyScheduled { epoch: 5, version: 2, .. }));
    assert_eq!(h.state.upgrades[&5].policy.version, 2, "the first upgrade stays scheduled");
    for _ in 0..3 {
        h.next_epoch();
    }
    assert_eq!(h.state.policy.version, 2);
    assert_eq!(h.state.policy_log.last().unwrap().from_epoch, 5);
}

/// Goal: a plain upgrade's `token.cap` rules from its first epoch (it used to be ignored: the
/// ledger kept the genesis cap). Method: OSMI's cap doubled from epoch 2; at the close of epoch 2
/// the OS2 emission is 0.15% of the gap to the new cap, each part rounded down.
#[test]
fn g12_new_cap_rules_after_the_upgrade() {
    let mut h = Harness::new("osmi", &[]);
    let mut doubled = next_version(&h);
    doubled.token.cap = Tokens::whole(2_000_000_000);
    h.state.schedule_upgrade(2, doubled, false).unwrap();
    h.next_epoch();
    assert_eq!(h.state.cap, Tokens::whole(2_000_000_000).0);
    let gap = h.state.cap - h.state.total_supply();
    let daily = gap * 1_500_000 / 1_000_000_000;
    let summary = h.next_epoch();
    let node_rewards = summary.pools.iter().find(|p| &*p.pool == "node_rewards").unwrap();
    assert_eq!(node_rewards.released, daily / 2, "OS2: half of 0.15% of the gap to the new cap");
    assert_eq!(summary.minted, daily / 2 + daily / 5 + daily / 5 + daily / 10);
}

/// Goal: a cap below the supply the upgrade meets is refused: at scheduling against today's
/// supply, and at the close when the supply has grown past it since (the old policy stays and the
/// summary records the refusal). Method: OSMI, whose emission raises the supply every close.
#[test]
fn g12_cap_below_supply_refused_when_scheduled_and_at_the_close() {
    let mut h = Harness::new("osmi", &[]);
    let mut low = next_version(&h);
    low.token.cap = Tokens::whole(101_000_000); // above the 100M genesis: a valid policy
    h.state.schedule_upgrade(3, low.clone(), false).unwrap(); // the supply is 100M today
    h.next_epoch();
    let summary = h.next_epoch(); // supply 102.7M at the close of epoch 2
    let refusal = summary.refused_upgrade.as_ref().expect("refused at the close");
    assert_eq!((refusal.from_epoch, refusal.policy.as_str(), refusal.version), (3, "osmi", 2));
    assert!(refusal.reason.contains("token.cap"), "{}", refusal.reason);
    assert_eq!(h.state.policy.version, 1, "the old policy stays");
    assert_eq!(h.state.policy_log.len(), 1, "no era logged");
    assert!(h.state.upgrades.is_empty());
    assert_eq!(h.state.cap, Tokens::whole(1_000_000_000).0);
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["refused_upgrade"]["from_epoch"], 3);
    let summary = h.next_epoch();
    assert!(summary.refused_upgrade.is_none());
    assert!(serde_json::to_value(&summary).unwrap().get("refused_upgrade").is_none());
    refused(&mut h, 6, low, false, |e| matches!(e, UpgradeError::CapBelowSupply { .. }));
}

/// Goal: an upgrade that drops a pool still holding tokens is refused, never installed with the
/// tokens vanishing (it used to panic, exit 101). Method: netmind without its `team` pool
/// (refused when scheduled); OSMI without `staking_community`, empty when scheduled but filled by
/// the close's emission (refused at the close, the close completing normally).
#[test]
fn g12_dropping_a_funded_pool_is_refused() {
    let mut h = Harness::new("netmind", &[]);
    let mut without_team = next_version(&h);
    without_team.pools.retain(|p| p.name != "team");
    refused(&mut h, 2, without_team, false, |e| {
        // what it will hold at epoch 2: its genesis less epoch 1's release
        matches!(e, UpgradeError::DropsFundedPool { pool, balance }
            if pool == "team" && *balance == tokens(1_000_000_000) - tokens(1_000_000_000) / 36_500)
    });

    let mut h = Harness::new("osmi", &[]);
    let mut without = next_version(&h);
    without.pools.retain(|p| p.name != "staking_community");
    without.staking_apy = None;
    let split = &mut without.emission.as_mut().unwrap().split;
    split.retain(|s| s.pool != "staking_community");
    split.iter_mut().find(|s| s.pool == "project_fund").unwrap().ppb += 200_000_000;
    assert_eq!(h.state.pool("staking_community").unwrap().balance, 0);
    h.state.schedule_upgrade(2, without, false).unwrap();
    let summary = h.next_epoch(); // the emission mints into staking_community, then the check
    let refusal = summary.refused_upgrade.as_ref().expect("refused at the close");
    assert!(refusal.reason.contains("staking_community"), "{}", refusal.reason);
    assert!(h.state.pool("staking_community").unwrap().balance > 0, "its tokens are still there");
    assert!(h.state.policy.staking_apy.is_some(), "the old policy stays");
    h.next_epoch();
}

/// Goal: an upgrade whose tranches would release more than a pool holds is refused: when
/// scheduled, against the balance the ruling schedules leave by then, and at the close, when
/// payouts since have lowered it. A plain upgrade that adds a pool with a genesis amount (nothing
/// would mint it; its first release used to underflow the empty pool) is refused too.
/// Method: netmind's team tranche restarted at epoch 10 (9 epochs of it are released by then);
/// its mining schedule moved to start at 3 (all 4B due) while a machine is paid from the pool in
/// epochs 1 and 2; a new `grants` pool.
#[test]
fn g12_schedules_beyond_a_pools_balance_are_refused() {
    let mut h = Harness::new("netmind", &[("o0", tokens(1))]);
    let mut team = next_version(&h);
    pool_mut(&mut team, "team").tranches =
        vec![Tranche { first: 10, last: 36_500, amount: Tokens::whole(1_000_000_000) }];
    refused(&mut h, 10, team, false, |e| {
        matches!(e, UpgradeError::ScheduleExceedsPool { pool, due, held }
            if pool == "team" && *due == tokens(1_000_000_000) && *held == tokens(1_000_000_000) - tokens(1_000_000_000) * 9 / 36_500)
    });

    let mut grants = next_version(&h);
    grants.token.cap = Tokens(grants.token.cap.0 + 1_000 * TOKEN);
    grants.pools.push(PoolParams {
        name: "grants".into(),
        genesis: Tokens::whole(1_000),
        release_to: Sink::Account(addr("grants")),
        tranches: vec![Tranche { first: 3, last: 3, amount: Tokens::whole(1_000) }],
    });
    refused(&mut h, 3, grants, false, |e| matches!(e, UpgradeError::NewPoolGenesis { pool, .. } if pool == "grants"));

    let mut mining = next_version(&h);
    let tranches = &mut pool_mut(&mut mining, "mining").tranches;
    tranches[0].first = 3;
    h.state.schedule_upgrade(3, mining, false).unwrap(); // nothing paid from the pool yet
    let machine = h.state.add_machine(addr("o0"), Address::from_index("machine", 0), 1, 500).unwrap();
    h.state.set_online_slots(machine, 200);
    h.next_epoch();
    h.state.set_online_slots(machine, 200);
    let summary = h.next_epoch();
    let refusal = summary.refused_upgrade.as_ref().expect("refused at the close");
    assert!(refusal.reason.contains("mining"), "{}", refusal.reason);
    assert!(h.state.machine_rewards_total(machine) > 0);
    assert_eq!(h.state.policy.version, 1);
    assert_eq!(h.state.policy.pools[0].tranches[0].first, 1, "the old schedule stays");
    h.next_epoch();
}

/// Goal: the other ways an upgrade cannot fit the ledger are refused with their own errors: an
/// invalid policy, a changed epoch length (G4), a connection reward without a weight for a
/// registered machine's class. Method: one of each on netmind.
#[test]
fn g12_invalid_upgrades_are_refused() {
    let mut h = Harness::new("netmind", &[("o0", tokens(1))]);
    h.state.add_machine(addr("o0"), Address::from_index("machine", 0), 5, 500).unwrap();
    let mut invalid = next_version(&h);
    invalid.claims.tax_ppb = 2_000_000_000;
    refused(&mut h, 2, invalid, false, |e| matches!(e, UpgradeError::InvalidPolicy(_)));
    let mut halved = next_version(&h);
    halved.epoch.seconds = 43_200;
    refused(&mut h, 2, halved, true, |e| matches!(e, UpgradeError::EpochLength { from: 86_400, to: 43_200 }));
    let mut fewer = next_version(&h);
    fewer.connection_reward.as_mut().unwrap().gpu_weights = vec![1, 2, 3];
    refused(&mut h, 2, fewer, false, |e| matches!(e, UpgradeError::MachineClass { class: 5, classes: 3 }));
}

/// Goal: G8 in every summary, across an upgrade that burns pools (N24-6): the summary's pool
/// balances + accounts + escrow = its supply at every close (the close that installed the
/// upgrade used to list the pools before the burn), its minted and burned match the cumulative
/// figures (the restart's mint counted). Method: netmind with a qualifying machine and a funded
/// account, upgraded to netmind-2024 with restart at epoch 3; closes 1..=5.
#[test]
fn g8_summary_adds_up_across_a_restart() {
    let mut h = Harness::new("netmind", &[("o0", tokens(1_000))]);
    h.state.compute_roots = false;
    h.state.schedule_upgrade(3, Policy::preset("netmind-2024").unwrap(), true).unwrap();
    let machine = h.state.add_machine(addr("o0"), Address::from_index("machine", 0), 3, 500).unwrap();
    let mut previous: Option<EpochSummary> = None;
    for epoch in 1..=5u64 {
        h.state.set_online_slots(machine, 250);
        let summary = h.next_epoch();
        assert_summary_conserves(&h, &summary, previous.as_ref());
        if epoch == 2 {
            // the restart: NM's pools burned, N24's minted; the summary lists the new pools
            assert_eq!(summary.policy_version, 1);
            assert!(summary.pools.iter().any(|p| &*p.pool == "early_gpu_contributors"));
            let mining = summary.pools.iter().find(|p| &*p.pool == "mining").unwrap();
            assert_eq!(mining.balance, tokens(57_500_000), "the new mining pool, just minted");
            assert!(mining.released > 0, "what NM's mining released in epoch 2");
            let dao = summary.pools.iter().find(|p| &*p.pool == "dao").unwrap();
            assert_eq!(dao.balance, 0, "NM's dao pool, burned");
            assert_eq!(summary.minted, tokens(113_000_000), "the new pools' mint is this close's");
            assert!(summary.burned > tokens(9_000_000_000));
        }
        previous = Some(summary);
    }
}

/// Goal: after a plain upgrade that reorders the pools, the summary lists each pool's own release
/// and balance (by name, not by position). Method: netmind with its pools reversed from epoch 3
/// against netmind unchanged, closes 1..=4, the same machine in both.
#[test]
fn g8_summary_pools_by_name_after_a_reordering_upgrade() {
    let run = |reorder: bool| {
        let mut h = Harness::new("netmind", &[("o0", tokens(1))]);
        if reorder {
            let mut reversed = next_version(&h);
            reversed.pools.reverse();
            h.state.schedule_upgrade(3, reversed, false).unwrap();
        }
        let machine = h.state.add_machine(addr("o0"), Address::from_index("machine", 0), 3, 500).unwrap();
        let mut previous = None;
        let mut pools = Vec::new();
        for _ in 0..4 {
            h.state.set_online_slots(machine, 250);
            let summary = h.next_epoch();
            assert_summary_conserves(&h, &summary, previous.as_ref());
            let mut sorted: Vec<(String, u128, u128, u128)> =
                summary.pools.iter().map(|p| (p.pool.to_string(), p.released, p.released_total, p.balance)).collect();
            sorted.sort();
            pools.push(sorted);
            previous = Some(summary);
        }
        (pools, h.state.pools.first().unwrap().name.to_string())
    };
    let (plain, first_plain) = run(false);
    let (reordered, first_reordered) = run(true);
    assert_eq!((first_plain.as_str(), first_reordered.as_str()), ("mining", "team"));
    assert_eq!(plain, reordered);
}
