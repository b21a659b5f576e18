//! Property tests of the pro-rata splits at the program level: for random fleets the connection
//! reward pays each qualifying machine exactly floor(budget·w/W), nothing to the others, and
//! Σ shares + dust = budget. (The staking, liquidity, operator, points and APY splits go through
//! `ProRata`, whose property test is in `crates/core/src/math.rs`.)

mod common;
use common::{Harness, addr, tokens};
use gridmint_core::connection_reward::FleetMachine;
use gridmint_core::math::mul_div_floor;
use gridmint_core::{Address, Policy, State, TxBody, TxError};
use proptest::prelude::*;

/// Goal: an upgrade to a policy without a connection reward keeps every machine's accrued total
/// (runs are closed before the index goes away) and the ledger conserves supply after it.
/// Method: machines qualify for two closes, the upgrade drops the program, two more closes.
#[test]
fn accrued_rewards_survive_an_upgrade_that_drops_the_connection_reward() {
    let mut h = Harness::new("netmind", &[("o0", tokens(1))]);
    let mut without = h.state.policy.as_ref().clone();
    without.connection_reward = None;
    h.state.schedule_upgrade(3, without, false).unwrap();
    let ids: Vec<u32> = (0..3)
        .map(|i| h.state.add_machine(addr("o0"), Address::from_index("machine", i), 1 + i as u8, 500).unwrap())
        .collect();
    for _ in 0..2 {
        ids.iter().for_each(|id| h.state.set_online_slots(*id, 200));
        h.next_epoch();
    }
    let totals: Vec<u128> = ids.iter().map(|id| h.state.machine_rewards_total(*id)).collect();
    assert!(totals.iter().all(|t| *t > 0), "they earned at both closes");
    for _ in 0..2 {
        ids.iter().for_each(|id| h.state.set_online_slots(*id, 200));
        h.next_epoch(); // checks the invariants (G8)
    }
    assert!(h.state.policy.connection_reward.is_none());
    let after: Vec<u128> = ids.iter().map(|id| h.state.machine_rewards_total(*id)).collect();
    assert_eq!(after, totals, "nothing earned without the program, nothing lost");
    assert_eq!(h.unclaimed("o0"), totals.iter().sum::<u128>());
}

/// Goal: a qualifying threshold above any 16-bit slot count pays nobody (the close compares
/// slots as u16, and must not truncate the threshold). Method: min_online_slots 2^16 + 61, a
/// machine online all epoch.
#[test]
fn a_threshold_beyond_any_slot_count_pays_nobody() {
    let mut policy = Policy::preset("netmind").unwrap();
    policy.connection_reward.as_mut().unwrap().min_online_slots = 65_536 + 61; // 61 when truncated to 16 bits
    let mut state = State::genesis(policy, 0);
    let id = state.add_machine(Address::from_index("owner", 0), Address::from_index("machine", 0), 1, 100).unwrap();
    state.set_online_slots(id, u16::MAX);
    let summary = state.close_epoch();
    let program = summary.programs.iter().find(|p| p.program == "connection_reward").unwrap();
    assert_eq!((program.paid, program.recipients), (0, 0));
    assert_eq!(state.machine_rewards_total(id), 0);
}

/// Goal: an epoch whose uptime the close itself enters (`close_epoch_with`, as the simulator
/// does: each thread fills its own part of the machines just before closing it) ends in exactly
/// the state of one whose slots were set beforehand — across several parts on several threads,
/// when a later program reads the slots (points on top of the connection reward), when filled
/// values exceed the epoch's slots (they count as all of them), and when the threshold is above
/// the epoch's slots. Method: 40,000 machines (three parts on three threads), slots from a fixed
/// mix of (epoch, machine) up to 400 (the epoch has 288), four closes each way; summaries, state
/// roots and invariants compared after every close, and the fill must visit every machine once.
#[test]
fn uptime_entered_by_the_close_equals_slots_set_before_it() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let netmind = Policy::preset("netmind").unwrap();
    let mut with_points = netmind.clone();
    with_points.points = Policy::preset("osmi").unwrap().points;
    let points = with_points.points.as_mut().unwrap();
    points.pool = "mining".into();
    points.min_online_slots = 289; // only values above the epoch's slots would reach it
    let mut unreachable = netmind.clone();
    unreachable.connection_reward.as_mut().unwrap().min_online_slots = 289;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    for (name, policy) in [("netmind", netmind), ("points", with_points), ("threshold 289", unreachable)] {
        let mut before = State::genesis(policy, 0);
        before.threads = 3;
        let fleet: Vec<FleetMachine> = (0..40_000u64)
            .map(|i| FleetMachine {
                owner: Address::from_index("owner", i % 1_000),
                machine: Address::from_index("machine", i),
                gpu_class: 1 + (i % 4) as u8,
                bandwidth_mbps: (i % 3) as u32 * 600,
            })
            .collect();
        before.add_machines(&fleet).unwrap();
        let mut entered = before.clone();
        for epoch in 1..=4u64 {
            let slots = |machine: usize| ((epoch * 7_919 + machine as u64 * 104_729) % 401) as u16;
            let all: Vec<u16> = (0..fleet.len()).map(slots).collect();
            before.set_all_online_slots(&all);
            let expected = before.close_epoch();
            let visited = AtomicUsize::new(0);
            let fill = |first: usize, out: &mut [u16]| {
                assert_eq!(first % 64, 0, "a part starts at a word");
                out.iter_mut().enumerate().for_each(|(k, s)| *s = slots(first + k));
                visited.fetch_add(out.len(), Ordering::Relaxed);
            };
            let summary = pool.install(|| entered.close_epoch_with(Some(&fill)));
            assert_eq!(visited.load(Ordering::Relaxed), fleet.len(), "{name}: every machine filled once");
            assert_eq!(format!("{summary:?}"), format!("{expected:?}"), "{name}, epoch {epoch}");
            assert_eq!(entered.state_root(), before.state_root(), "{name}, epoch {epoch}");
            entered.check_invariants().unwrap();
        }
        let paid = |s: &State| (0..fleet.len() as u32).map(|id| s.machine_rewards_total(id)).sum::<u128>();
        if name == "threshold 289" {
            assert_eq!(paid(&entered), 0, "an unreachable threshold pays nobody");
        } else {
            assert!(paid(&entered) > 0, "{name}: machines earned");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    /// Goal: a fleet added at once (`add_machines`, linear time) leaves exactly the state that
    /// adding its machines one by one does — accounts numbered in order of first appearance,
    /// existing owners reused — and a bad fleet changes nothing. Method: random fleets over a few
    /// owners, one of them a genesis account, added on top of machines already registered;
    /// compare state roots; then a duplicate machine, a registered machine and a bad class.
    #[test]
    fn a_fleet_added_at_once_equals_its_machines_added_one_by_one(
        before in 0usize..40,
        fleet in proptest::collection::vec((0usize..6, 1u8..=4, 0u32..3_000), 0..400),
    ) {
        let policy = Policy::preset("netmind").unwrap();
        let mut one_by_one = State::genesis(policy.clone(), 0);
        let genesis_account = one_by_one.accounts[0].address;
        let owner = |k: usize| if k == 0 { genesis_account } else { Address::from_index("owner", k as u64) };
        for i in 0..before {
            one_by_one.add_machine(owner(i % 3), Address::from_index("machine", i as u64), 1, 100).unwrap();
        }
        let mut at_once = one_by_one.clone();
        let machines: Vec<FleetMachine> = fleet
            .iter()
            .enumerate()
            .map(|(i, (k, class, mbps))| FleetMachine {
                owner: owner(*k),
                machine: Address::from_index("machine", (before + i) as u64),
                gpu_class: *class,
                bandwidth_mbps: *mbps,
            })
            .collect();
        let mut ids = Vec::new();
        for m in &machines {
            ids.push(one_by_one.add_machine(m.owner, m.machine, m.gpu_class, m.bandwidth_mbps).unwrap());
        }
        prop_assert_eq!(at_once.add_machines(&machines).unwrap(), ids);
        prop_assert_eq!(at_once.state_root(), one_by_one.state_root());
        // ten more owners, so that a one-machine fleet is small next to the indexes
        let extra: Vec<FleetMachine> = (0..10)
            .map(|j| FleetMachine { owner: Address::from_index("extra owner", j), machine: Address::from_index("extra", j), gpu_class: 1, bandwidth_mbps: 0 })
            .collect();
        for m in &extra {
            one_by_one.add_machine(m.owner, m.machine, m.gpu_class, m.bandwidth_mbps).unwrap();
        }
        at_once.add_machines(&extra).unwrap();
        // small fleets (a growing fleet's day: looked up, not walked): an existing owner, a new one
        for (i, k) in [(0u64, 1usize), (1, 5), (2, 0)] {
            let m = FleetMachine { owner: owner(k), machine: Address::from_index("day", i), gpu_class: 2, bandwidth_mbps: 90 };
            let id = one_by_one.add_machine(m.owner, m.machine, m.gpu_class, m.bandwidth_mbps).unwrap();
            prop_assert_eq!(at_once.add_machines(&[m]).unwrap(), vec![id]);
            let late = FleetMachine { owner: Address::from_index("late owner", i), ..m };
            prop_assert_eq!(at_once.add_machines(&[late]), Err(TxError::MachineExists));
        }
        prop_assert_eq!(at_once.state_root(), one_by_one.state_root());
        at_once.assert_invariants();
        let root = at_once.state_root();
        let new = |i: u64| FleetMachine { owner: owner(1), machine: Address::from_index("spare", i), gpu_class: 1, bandwidth_mbps: 0 };
        let registered = FleetMachine { machine: Address::from_index("machine", 0), ..new(0) };
        prop_assert_eq!(at_once.add_machines(&[new(1), new(2), new(1)]), Err(TxError::MachineExists));
        if before > 0 {
            prop_assert_eq!(at_once.add_machines(&[new(1), registered]), Err(TxError::MachineExists));
        }
        prop_assert_eq!(at_once.add_machines(&[new(1), FleetMachine { gpu_class: 9, ..new(2) }]), Err(TxError::InvalidGpuClass));
        prop_assert_eq!(at_once.state_root(), root, "a refused fleet changed the state");
    }


    /// Goal: lazy accrual (each bucket's `reward_index`; a machine's credit moves only when its
    /// qualification changes, a claim records the total claimed, a policy change closes every
    /// run) credits exactly what crediting every machine at every close would. Method: a random fleet over random epochs with random slots and
    /// forfeits, owners claiming at random, and at a random epoch an upgrade that reverses the
    /// GPU weights; after every close each machine's total against the running sum of its exact
    /// shares floor(budget·w/W), each owner's unclaimed against the sum since its last claim, a
    /// claim paying exactly that, and G8 (the harness checks invariants after every step).
    #[test]
    fn connection_reward_accrues_exactly_over_epochs(
        fleet in proptest::collection::vec((1u8..=5, 0u32..200, 0usize..4), 1..40),
        slots in proptest::collection::vec(proptest::collection::vec(0u16..=130, 40), 1..10),
        forfeits in proptest::collection::vec(0usize..400, 0..6),
        claims in proptest::collection::vec(any::<bool>(), 40),
        upgrade_at in 2u64..12,
    ) {
        let owners = ["o0", "o1", "o2", "o3"];
        let mut h = Harness::new("netmind", &owners.map(|o| (o, tokens(1))));
        let mut reversed = h.state.policy.as_ref().clone();
        reversed.connection_reward.as_mut().unwrap().gpu_weights.reverse();
        h.state.schedule_upgrade(upgrade_at, reversed, false).unwrap();
        let mut ids = Vec::new();
        for (i, (class, mbps, owner)) in fleet.iter().enumerate() {
            ids.push(h.state.add_machine(addr(owners[*owner]), Address::from_index("machine", i as u64), *class, *mbps).unwrap());
        }
        let mut total = vec![0u128; fleet.len()];
        let mut unclaimed = vec![0u128; fleet.len()];
        for (epoch, epoch_slots) in slots.iter().enumerate() {
            for (i, id) in ids.iter().enumerate() {
                h.state.set_online_slots(*id, epoch_slots[i]);
                if forfeits.contains(&(epoch * 40 + i)) {
                    h.state.forfeit_connection_reward(*id);
                }
            }
            let weights: Vec<u128> = h.state.machines.iter().zip(0..).map(|(m, id)| {
                let qualifies = h.state.online_slots[id as usize] >= 61 && !h.state.machine_forfeited(id);
                if qualifies { u128::from(h.state.machine_weight(m)) } else { 0 }
            }).collect();
            let all: u128 = weights.iter().sum();
            let summary = h.next_epoch();
            let budget = summary.programs.iter().find(|p| p.program == "connection_reward").unwrap().budget;
            for (i, weight) in weights.iter().enumerate() {
                let share = if all == 0 { 0 } else { mul_div_floor(budget, *weight, all).unwrap() };
                total[i] += share;
                unclaimed[i] += share;
                prop_assert_eq!(h.state.machine_rewards_total(ids[i]), total[i], "epoch {} machine {}", epoch + 1, i);
            }
            for (k, owner) in owners.iter().enumerate() {
                let owed: u128 = (0..fleet.len()).filter(|i| fleet[*i].2 == k).map(|i| unclaimed[i]).sum();
                prop_assert_eq!(h.unclaimed(owner), owed, "epoch {} owner {}", epoch + 1, owner);
                if claims[(epoch * 4 + k) % claims.len()] && owed > 0 && h.spendable(owner) >= tokens(1) / 100 {
                    let (before, fee) = (h.spendable(owner), h.state.current_fee());
                    h.ok(owner, TxBody::Claim);
                    prop_assert_eq!(h.spendable(owner) + fee, before + owed, "a claim pays what accrued");
                    prop_assert_eq!(h.unclaimed(owner), 0);
                    (0..fleet.len()).filter(|i| fleet[*i].2 == k).for_each(|i| unclaimed[i] = 0);
                }
            }
        }
    }

    /// Goal: NM6/NM7's split is exact per machine. Method: random classes, bandwidths and online
    /// slots; compare every machine's reward with the exact formula.
    #[test]
    fn connection_reward_exact_per_machine(
        fleet in proptest::collection::vec((1u8..=5, 0u32..200, 0u16..=288), 1..300),
        forfeit in proptest::collection::vec(any::<bool>(), 300),
    ) {
        let mut state = State::genesis(Policy::preset("netmind").unwrap(), 0);
        for (i, (class, mbps, slots)) in fleet.iter().enumerate() {
            let id = state.add_machine(Address::from_index("owner", i as u64 % 7), Address::from_index("machine", i as u64), *class, *mbps).unwrap();
            state.set_online_slots(id, *slots);
            if forfeit[i] && i % 3 == 0 {
                state.forfeit_connection_reward(id);
            }
        }
        let weights: Vec<u128> = state
            .machines
            .iter()
            .zip(0..)
            .map(|(m, id)| {
                let qualifies = state.online_slots[id as usize] >= 61 && !state.machine_forfeited(id);
                if qualifies { u128::from(state.machine_weight(m)) } else { 0 }
            })
            .collect();
        let total: u128 = weights.iter().sum();
        let summary = state.close_epoch();
        let program = summary.programs.iter().find(|p| p.program == "connection_reward").unwrap();
        let mut paid = 0;
        for (i, weight) in weights.iter().enumerate() {
            let expected = if total == 0 { 0 } else { mul_div_floor(program.budget, *weight, total).unwrap() };
            prop_assert_eq!(state.machine_rewards_total(i as u32), expected, "machine {}", i);
            paid += expected;
        }
        prop_assert_eq!(program.paid, paid);
        prop_assert_eq!(program.paid + program.dust, program.budget);
        let qualifying = weights.iter().filter(|w| **w > 0).count() as u128;
        if qualifying == 0 {
            prop_assert_eq!(program.dust, program.budget, "nobody qualifies: the whole release stays");
        } else {
            prop_assert!(program.dust < qualifying, "dust below one base unit per recipient");
        }
        state.check_invariants().map_err(TestCaseError::fail)?;
    }
}
