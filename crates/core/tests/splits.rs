//! Property tests of the pro-rata splits at the program level: for random fleets the connection
//! reward pays each qualifying machine exactly floor(budget·w/W), nothing to the others, and
//! Σ shares + dust = budget. (The staking, liquidity, operator, points and APY splits go through
//! `ProRata`, whose property test is in `crates/core/src/math.rs`.)

use gridmint_core::math::mul_div_floor;
use gridmint_core::{Address, Policy, State};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

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
                state.machines[id as usize].flags |= gridmint_core::state::FLAG_FORFEITED;
            }
        }
        let weights: Vec<u128> = state
            .machines
            .iter()
            .map(|m| {
                let qualifies = m.online_slots >= 61 && m.flags & gridmint_core::state::FLAG_FORFEITED == 0;
                if qualifies { u128::from(state.machine_weight(m)) } else { 0 }
            })
            .collect();
        let total: u128 = weights.iter().sum();
        let summary = state.close_epoch();
        let program = summary.programs.iter().find(|p| p.program == "connection_reward").unwrap();
        let mut paid = 0;
        for (i, weight) in weights.iter().enumerate() {
            let expected = if total == 0 { 0 } else { mul_div_floor(program.budget, *weight, total).unwrap() };
            prop_assert_eq!(state.machine_rewards[i], expected, "machine {}", i);
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
