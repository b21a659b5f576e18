//! The rulebook's "Figures to reproduce", asserted exactly to the base unit, by running the real
//! epoch close (no shortcuts) on the presets with no agents and no burns.

use gridmint_core::{Policy, State};
use gridmint_policy::parse_tokens;

fn tokens(text: &str) -> u128 {
    parse_tokens(text).unwrap()
}

fn released(state: &State, pool: &str) -> u128 {
    state.pool(pool).unwrap().released_total
}

fn close_through(state: &mut State, epoch: u64) {
    while state.epoch <= epoch {
        state.close_epoch();
        state.assert_invariants_after_close();
    }
}

trait AfterClose {
    fn assert_invariants_after_close(&self);
}

impl AfterClose for State {
    fn assert_invariants_after_close(&self) {
        // closing by hand moves the epoch without a block time; check everything but the clock
        if let Err(e) = self.check_invariants()
            && !e.contains("open epoch")
        {
            panic!("epoch {}: {e}", self.epoch);
        }
    }
}

/// Goal: NM's release table (NM2–NM5, G5, G6). Method: close 36,500 epochs of `netmind`,
/// comparing cumulative releases at each row of the table.
#[test]
fn netmind_release_table() {
    let mut state = State::genesis(Policy::preset("netmind").unwrap(), 0);
    state.compute_roots = false;
    let total = |s: &State| ["mining", "staking", "dao", "team"].iter().map(|p| released(s, p)).sum::<u128>();
    close_through(&mut state, 1);
    assert_eq!(released(&state, "mining"), tokens("273972.602739726027397260"));
    assert_eq!(released(&state, "staking"), tokens("82191.780821917808219178"));
    assert_eq!(released(&state, "dao"), 0);
    assert_eq!(released(&state, "team"), tokens("27397.260273972602739726"));
    close_through(&mut state, 365);
    assert_eq!(released(&state, "mining"), tokens("100000000"));
    assert_eq!(released(&state, "staking"), tokens("30000000"));
    assert_eq!(released(&state, "team"), tokens("10000000"));
    assert_eq!(total(&state), tokens("140000000"));
    close_through(&mut state, 1824);
    assert_eq!(released(&state, "dao"), 0, "NM4: still locked at 1824");
    assert_eq!(total(&state), tokens("699616438.356164383561643833"));
    close_through(&mut state, 1825);
    assert_eq!(released(&state, "dao"), tokens("2000000000"), "NM4: free at the close of 1825");
    assert_eq!(state.account(&gridmint_core::Address::system("dao_treasury")).unwrap().spendable, tokens("2000000000"));
    assert_eq!(released(&state, "mining"), tokens("500000000"));
    assert_eq!(released(&state, "staking"), tokens("150000000"));
    assert_eq!(released(&state, "team"), tokens("50000000"));
    assert_eq!(total(&state), tokens("2700000000"));
    close_through(&mut state, 3650);
    assert_eq!(released(&state, "mining"), tokens("1000000000"));
    assert_eq!(released(&state, "staking"), tokens("300000000"));
    assert_eq!(released(&state, "team"), tokens("100000000"));
    assert_eq!(total(&state), tokens("3400000000"));
    close_through(&mut state, 14600);
    assert_eq!(released(&state, "mining"), tokens("2500000000"));
    assert_eq!(released(&state, "staking"), tokens("1200000000"));
    assert_eq!(released(&state, "team"), tokens("400000000"));
    assert_eq!(total(&state), tokens("6100000000"));
    close_through(&mut state, 36500);
    assert_eq!(released(&state, "mining"), tokens("4000000000"));
    assert_eq!(released(&state, "staking"), tokens("3000000000"));
    assert_eq!(released(&state, "dao"), tokens("2000000000"));
    assert_eq!(released(&state, "team"), tokens("1000000000"));
    assert_eq!(total(&state), tokens("10000000000"));
    assert_eq!(state.total_supply(), tokens("10000000000"), "NM1: nothing minted after genesis");
    close_through(&mut state, 36510);
    assert_eq!(total(&state), tokens("10000000000"), "nothing released after the schedule ends");
}

/// Goal: OS2's daily emission figures. Method: close `osmi` epochs with no burns and compare the
/// epoch-1 split and the supply after epochs 2, 365 and 3650.
#[test]
fn osmi_emission_figures() {
    let mut state = State::genesis(Policy::preset("osmi").unwrap(), 0);
    state.compute_roots = false;
    assert_eq!(state.total_supply(), tokens("100000000"), "OS1: the TGE mints 100M");
    let summary = state.close_epoch();
    let minted_into = |pool: &str| summary.pools.iter().find(|p| &*p.pool == pool).unwrap().released;
    assert_eq!(summary.minted, tokens("1350000"), "OS2: D = 0.15% of 900M");
    assert_eq!(minted_into("node_rewards"), tokens("675000"));
    assert_eq!(minted_into("project_fund"), tokens("270000"));
    assert_eq!(minted_into("staking_community"), tokens("270000"));
    assert_eq!(minted_into("referral"), tokens("135000"));
    close_through(&mut state, 2);
    assert_eq!(state.total_supply(), tokens("102697975"));
    close_through(&mut state, 365);
    assert_eq!(state.total_supply(), tokens("479659332.313983636928430484"));
    close_through(&mut state, 3650);
    assert_eq!(state.total_supply(), tokens("996244263.507572524905944474"));
}

/// Goal: OS2's tge pool feeds the Node Reward Pool linearly over 1–90 (OS1).
/// Method: after epoch 90 the tge pool is empty.
#[test]
fn osmi_tge_node_rewards_linear() {
    let mut state = State::genesis(Policy::preset("osmi").unwrap(), 0);
    state.compute_roots = false;
    close_through(&mut state, 89);
    assert!(state.pool("tge_node_rewards").unwrap().balance > 0);
    close_through(&mut state, 90);
    assert_eq!(state.pool("tge_node_rewards").unwrap().balance, 0);
    assert_eq!(released(&state, "tge_node_rewards"), tokens("50000000"));
}

/// Goal: N24's buckets release exactly 113M over 10 years (N24-2..4) and the cap holds.
/// Method: close 3,650 epochs of `netmind-2024`.
#[test]
fn netmind_2024_schedule_totals() {
    let mut state = State::genesis(Policy::preset("netmind-2024").unwrap(), 0);
    state.compute_roots = false;
    assert_eq!(state.total_supply(), tokens("147571163"));
    close_through(&mut state, 730);
    assert_eq!(released(&state, "mining"), tokens("20000000"));
    assert_eq!(released(&state, "staking"), tokens("4000000"));
    assert_eq!(released(&state, "early_gpu_contributors"), 0, "locked 730 epochs");
    close_through(&mut state, 3650);
    let total: u128 = state.pools.iter().map(|p| p.released_total).sum();
    assert_eq!(total, tokens("113000000"));
    assert_eq!(released(&state, "mining"), tokens("57500000"));
    assert_eq!(released(&state, "staking"), tokens("16500000"));
}

/// Goal: OT2's locks: team nothing before 366, investors nothing before 181, all free by 1460.
/// Method: close `omnitensor` epochs and read the allocation accounts.
#[test]
fn omnitensor_genesis_locks() {
    let mut state = State::genesis(Policy::preset("omnitensor").unwrap(), 0);
    state.compute_roots = false;
    let spendable = |s: &State, name: &str| s.account(&gridmint_core::Address::system(name)).unwrap().spendable;
    assert_eq!(spendable(&state, "treasury"), tokens("50000000"));
    close_through(&mut state, 180);
    assert_eq!(spendable(&state, "investors"), 0);
    close_through(&mut state, 365);
    assert_eq!(spendable(&state, "team"), 0);
    assert!(spendable(&state, "investors") > 0);
    close_through(&mut state, 1460);
    assert_eq!(spendable(&state, "team"), tokens("100000000"));
    assert_eq!(spendable(&state, "investors"), tokens("100000000"));
    assert_eq!(spendable(&state, "ecosystem"), tokens("150000000"));
    assert_eq!(state.total_supply(), tokens("400000000"));
}
