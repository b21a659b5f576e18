//! The validator set is the economy's election (NM10): the consensus validators of a height are
//! the master nodes the ledger elected, with voting power in proportion to their stake.
//!
//! # Which set rules which height
//!
//! The election runs at an epoch close (G7 step 4), and an epoch closes inside the block whose
//! time crosses the boundary. So the set derived from the state *after* block `h` is the set of
//! height `h + 1`: block `h` is decided by the set the state after `h - 1` gave, and the set it
//! elects takes over from the next height on. Every replica holds the same state after `h`, so
//! every replica derives the same set for `h + 1` without any message about it.
//!
//! # Voting power
//!
//! A master node's power is `max(1, ⌊stake × POWER_SCALE / total stake⌋)` with its active stake
//! (self-bond and delegations, as the election counted it): integer arithmetic only, so every
//! node computes the same powers. The total is at most `POWER_SCALE` plus one per master node,
//! far below the engine's [`MAX_TOTAL_VOTING_POWER`](gridmint_consensus::MAX_TOTAL_VOTING_POWER)
//! for any number of master nodes a policy may ask for (`u32`). A policy with
//! `staking.equal_voting_power = true` gives every master node a power of 1 instead: a quorum is
//! then more than 2/3 of the master nodes, whatever their stakes.
//!
//! # When the genesis set stays
//!
//! A policy without an election (`staking.master_nodes` = 0), or an election that elected nobody
//! (no validator bonded), keeps the genesis set: the set is never emptied. A master node whose
//! address is not a usable ed25519 key (it could not sign votes) is left out of the set; if none
//! is usable the genesis set stays.

use gridmint_consensus::{Validator, ValidatorSet};
use gridmint_core::State;
use gridmint_core::math::mul_div_floor;

/// The total voting power stake is scaled to (before the floor of 1 a master node gets).
pub const POWER_SCALE: u128 = 1_000_000;

/// The voting power of `stake` out of `total` (see the module documentation).
pub fn power_of(stake: u128, total: u128) -> u64 {
    let scaled = mul_div_floor(stake, POWER_SCALE, total).unwrap_or(0);
    // scaled ≤ POWER_SCALE since stake ≤ total
    u64::try_from(scaled).unwrap_or(u64::MAX).max(1)
}

/// The validator set of the height after the block that left `state` (see the module
/// documentation): the master nodes, powered by stake, when the policy elects them and the
/// election elected someone; else `genesis`.
pub fn validator_set_from_state(state: &State, genesis: &ValidatorSet) -> ValidatorSet {
    if state.policy.staking.master_nodes == 0 || state.master_nodes.is_empty() {
        return genesis.clone();
    }
    let stakes: Vec<_> = state
        .master_nodes
        .iter()
        .map(|address| (*address, state.validators.get(address).map_or(0, |v| v.active)))
        .collect();
    // stakes are tokens that exist: their sum is at most the supply, which fits u128
    let total = stakes.iter().fold(0u128, |sum, (_, stake)| sum.saturating_add(*stake));
    let equal = state.policy.staking.equal_voting_power;
    let validators: Vec<Validator> = stakes
        .iter()
        .filter_map(|(address, stake)| Validator::new(address.0, if equal { 1 } else { power_of(*stake, total) }).ok())
        .collect();
    ValidatorSet::new(validators).unwrap_or_else(|_| genesis.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridmint_consensus::MAX_TOTAL_VOTING_POWER;
    use gridmint_core::{Address, Policy, TOKEN};
    use gridmint_policy::{GenesisAllocation, Tokens};

    use gridmint_node::signing::{address_of, generate_key};

    /// `n` fresh accounts' addresses (ed25519 public keys), sorted.
    fn keys(n: usize) -> Vec<Address> {
        let mut keys: Vec<Address> = (0..n).map(|_| address_of(&generate_key())).collect();
        keys.sort();
        keys
    }

    fn genesis_set() -> ValidatorSet {
        ValidatorSet::new(keys(4).into_iter().map(|a| Validator::new(a.0, 1).unwrap()).collect()).unwrap()
    }

    /// A state of `policy` with `bonds` registered as genesis validators and elected.
    fn state_with(mut policy: Policy, bonds: &[(Address, u128)]) -> State {
        for (address, bond) in bonds {
            policy.genesis.push(GenesisAllocation { account: *address, amount: Tokens(*bond + TOKEN) });
            policy.token.cap = Tokens(policy.token.cap.0 + *bond + TOKEN);
        }
        let mut state = State::genesis(policy, 0);
        for (address, bond) in bonds {
            state.bond_genesis_validator(*address, *bond).unwrap();
        }
        state.elect_genesis_master_nodes();
        state.check_invariants().unwrap();
        state
    }

    fn powers(set: &ValidatorSet) -> Vec<(Address, u64)> {
        set.validators().iter().map(|v| (v.address().0, v.voting_power())).collect()
    }

    #[test]
    fn power_is_proportional_to_stake() {
        let k = keys(3);
        let bonds = [(k[0], 100 * TOKEN), (k[1], 300 * TOKEN), (k[2], 600 * TOKEN)];
        let state = state_with(Policy::preset("netmind").unwrap(), &bonds);
        let set = validator_set_from_state(&state, &genesis_set());
        assert_eq!(powers(&set), vec![(k[0], 100_000), (k[1], 300_000), (k[2], 600_000)]);
        assert_eq!(set.total_voting_power(), 1_000_000);
    }

    #[test]
    fn a_tiny_stake_still_votes_and_the_total_stays_under_the_cap() {
        let k = keys(2);
        let bonds = [(k[0], 1), (k[1], 1_000_000_000 * TOKEN)];
        let state = state_with(Policy::preset("netmind").unwrap(), &bonds);
        let set = validator_set_from_state(&state, &genesis_set());
        assert_eq!(powers(&set), vec![(k[0], 1), (k[1], 999_999)], "the floor of one");
        assert!(set.total_voting_power() <= 1_000_001);
        // the bound for any number of master nodes a policy may ask for
        assert!(u128::from(u32::MAX) * (POWER_SCALE + 1) < u128::from(MAX_TOTAL_VOTING_POWER));
        assert_eq!(power_of(u128::MAX, u128::MAX), 1_000_000);
        assert_eq!(power_of(0, 0), 1);
    }

    #[test]
    fn the_election_decides_who_is_in_and_ties_go_to_the_lower_address() {
        let mut policy = Policy::preset("netmind").unwrap();
        policy.staking.master_nodes = 2;
        // the highest address has the most stake; the other three tie
        let k = keys(4);
        let bonds = [(k[2], 500 * TOKEN), (k[1], 500 * TOKEN), (k[0], 500 * TOKEN), (k[3], 900 * TOKEN)];
        let state = state_with(policy, &bonds);
        assert_eq!(state.master_nodes, vec![k[3], k[0]]);
        let set = validator_set_from_state(&state, &genesis_set());
        assert_eq!(powers(&set), vec![(k[0], 357_142), (k[3], 642_857)]);
    }

    #[test]
    fn equal_stakes_give_equal_powers() {
        let bonds: Vec<_> = keys(4).into_iter().map(|a| (a, 1_000 * TOKEN)).collect();
        let state = state_with(Policy::preset("netmind").unwrap(), &bonds);
        let set = validator_set_from_state(&state, &genesis_set());
        assert!(set.validators().iter().all(|v| v.voting_power() == 250_000), "{:?}", powers(&set));
    }

    #[test]
    fn the_policy_switch_makes_powers_equal_whatever_the_stakes() {
        let k = keys(3);
        let bonds = [(k[0], 100 * TOKEN), (k[1], 300 * TOKEN), (k[2], 600 * TOKEN)];
        let mut policy = Policy::preset("netmind").unwrap();
        policy.staking.equal_voting_power = true;
        let state = state_with(policy, &bonds);
        let set = validator_set_from_state(&state, &genesis_set());
        assert_eq!(powers(&set), vec![(k[0], 1), (k[1], 1), (k[2], 1)]);
        // the switch is part of the policy's hash, and a policy without it keeps its hash
        let plain = Policy::preset("netmind").unwrap();
        let mut switched = plain.clone();
        switched.staking.equal_voting_power = true;
        assert_ne!(plain.hash(), switched.hash());
        assert!(!plain.to_toml().contains("equal_voting_power"), "absent while false");
        let reread = Policy::from_toml(&switched.to_toml()).unwrap();
        assert!(reread.staking.equal_voting_power);
        // what a governance policy change (NM12) applies
        let governed = plain.with_override("staking.equal_voting_power", "true").unwrap();
        assert_eq!(governed.hash(), switched.hash());
    }

    #[test]
    fn no_election_keeps_the_genesis_set() {
        let mut policy = Policy::preset("netmind").unwrap();
        policy.staking.master_nodes = 0;
        let state = State::genesis(policy, 0);
        let genesis = genesis_set();
        assert_eq!(validator_set_from_state(&state, &genesis), genesis);
    }

    #[test]
    fn an_election_of_nobody_keeps_the_genesis_set() {
        let state = state_with(Policy::preset("netmind").unwrap(), &[]);
        assert!(state.master_nodes.is_empty());
        let genesis = genesis_set();
        assert_eq!(validator_set_from_state(&state, &genesis), genesis);
    }

    #[test]
    fn master_nodes_without_a_usable_key_are_left_out() {
        let mut weak = [0; 32]; // the identity point: a small-order, weak key
        weak[0] = 1;
        let weak = Address(weak);
        let bonds = [(weak, 100 * TOKEN)];
        let state = state_with(Policy::preset("netmind").unwrap(), &bonds);
        assert_eq!(state.master_nodes, vec![weak]);
        let genesis = genesis_set();
        assert_eq!(validator_set_from_state(&state, &genesis), genesis);
        let k = keys(1);
        let bonds = [(weak, 100 * TOKEN), (k[0], 100 * TOKEN)];
        let state = state_with(Policy::preset("netmind").unwrap(), &bonds);
        assert_eq!(powers(&validator_set_from_state(&state, &genesis)), vec![(k[0], 500_000)]);
    }
}
