//! Transaction fees: a flat fee to the block producer (NM14) and the EIP-1559 base fee (OT6).
//!
//! The base fee is burned; the tip goes to the producer. After each block the base fee moves
//! toward the target of half the block's transaction limit L, by
//! base·|used − L/2|·max_change/((L/2)·10^9) = base·|2·used − L|·max_change/(L·10^9), rounded
//! down ([`next_base_fee`]). The target is kept exact (doubling `used` instead of halving L): with
//! an odd limit a rounded-down target of ⌊L/2⌋ would let a full block move the fee by more than
//! `max_change` (25% for L = 3). Since used ≤ L, |2·used − L| ≤ L and the move is at most
//! base·max_change/10^9 (12.5%) for every limit; the fee never goes below the policy's minimum.

use crate::State;
use crate::apply::Fee;
use crate::math::mul_div_floor;
use gridmint_policy::PPB;

/// OT6: the base fee after a block with `used` fee-paying transactions (clamped to `limit`), for
/// a block limit `limit`, a largest move of `max_change_ppb` and a floor `min`.
///
/// The move is floor(base·|2·used − limit|·max_change_ppb/(limit·10^9)): up when the block was
/// more than half full, down when less, none at exactly half (only possible for an even limit).
/// With `base ≥ min` the result differs from `base` by at most floor(base·max_change_ppb/10^9).
/// A `limit` of 0 leaves the fee unchanged.
pub fn next_base_fee(base: u128, used: u32, limit: u32, max_change_ppb: u64, min: u128) -> u128 {
    if limit == 0 {
        return base.max(min);
    }
    let used = u128::from(used.min(limit));
    let limit = u128::from(limit);
    let doubled = 2 * used;
    let delta = mul_div_floor(base, doubled.abs_diff(limit) * u128::from(max_change_ppb), limit * PPB)
        .unwrap_or_else(|| unreachable!("the quotient is at most base·max_change/10^9"));
    let moved = if doubled > limit { base.saturating_add(delta) } else { base - delta };
    moved.max(min)
}

impl State {
    /// The fee of the next transaction.
    pub(crate) fn fee(&self) -> Fee {
        let gas = &self.policy.gas;
        let tip = gas.base_fee.as_ref().map_or(0, |b| b.tip.base_units());
        Fee { burn: self.base_fee, producer: gas.flat_fee.base_units() + tip }
    }

    /// The fee a transaction pays now (base fee + flat fee + tip).
    pub fn current_fee(&self) -> u128 {
        self.fee().total()
    }

    /// OT6: moves the base fee after a block with `block_tx_count` fee-paying transactions.
    pub(crate) fn update_base_fee(&mut self) {
        let Some(params) = &self.policy.gas.base_fee else {
            return;
        };
        self.base_fee = next_base_fee(
            self.base_fee,
            self.block_tx_count,
            params.block_tx_limit,
            params.max_change_ppb,
            params.min.base_units(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Goal: the 12.5% bound of OT6 holds for an odd limit, where the old ⌊L/2⌋ target let a full
    /// block of 3 move the fee by 25%. Method: limit 3, every usage, exact values.
    #[test]
    fn odd_limit_moves_at_most_12_5_percent() {
        let (base, max) = (8_000_000u128, 125_000_000u64);
        // |2u − 3|/3 of 12.5%: u = 0 → −12.5%, 1 → −4.1666%, 2 → +4.1666%, 3 → +12.5%
        assert_eq!(next_base_fee(base, 0, 3, max, 0), 7_000_000);
        assert_eq!(next_base_fee(base, 1, 3, max, 0), 8_000_000 - 333_333);
        assert_eq!(next_base_fee(base, 2, 3, max, 0), 8_000_000 + 333_333);
        assert_eq!(next_base_fee(base, 3, 3, max, 0), 9_000_000);
        // an even limit keeps its exact target: half full leaves the fee alone
        assert_eq!(next_base_fee(base, 5, 10, max, 0), base);
        assert_eq!(next_base_fee(base, 10, 10, max, 0), 9_000_000);
        // never below the floor
        assert_eq!(next_base_fee(base, 0, 10, max, 7_500_000), 7_500_000);
    }

    proptest! {
        /// Goal: OT6 for every limit: one block moves the base fee by at most
        /// old·max_change_ppb/10^9, up when more than half the limit was used, down when less,
        /// not at all at exactly half; never below the minimum. Method: random limits (odd and
        /// even, 1..=u32::MAX), usage 0..=limit, base fees up to 2^120, max_change up to 100%,
        /// floors at or below the base fee; checked against the state's own update as well.
        #[test]
        fn base_fee_moves_within_the_bound_for_every_limit(
            limit in prop_oneof![1u32..=64, any::<u32>().prop_map(|l| l.max(1))],
            used_seed in any::<u32>(),
            base in prop_oneof![0u128..=1_000_000_000, 0u128..(1u128 << 120)],
            max_change_ppb in prop_oneof![Just(125_000_000u64), 0u64..=1_000_000_000],
            floor_seed in any::<u128>(),
        ) {
            let used = (u64::from(used_seed) % (u64::from(limit) + 1)) as u32;
            let min = if base == 0 { 0 } else { floor_seed % (base + 1) };
            let new = next_base_fee(base, used, limit, max_change_ppb, min);
            let bound = mul_div_floor(base, u128::from(max_change_ppb), PPB).unwrap();
            prop_assert!(new.abs_diff(base) <= bound, "limit {} used {}: {} → {} (bound {})", limit, used, base, new, bound);
            prop_assert!(new >= min);
            let (doubled, limit_wide) = (2 * u64::from(used), u64::from(limit));
            if doubled > limit_wide {
                prop_assert!(new >= base, "more than half full: the fee does not fall");
            } else if doubled < limit_wide {
                prop_assert!(new <= base, "less than half full: the fee does not rise");
            } else {
                prop_assert_eq!(new, base, "exactly half full: unchanged");
            }
        }
    }

    /// Goal: the state's update is [`next_base_fee`] with the policy's parameters. Method: an
    /// omnitensor ledger with a block limit of 3, a full block.
    #[test]
    fn state_update_uses_the_exact_target() {
        let mut policy = gridmint_policy::Policy::preset("omnitensor").unwrap();
        policy.gas.base_fee.as_mut().unwrap().block_tx_limit = 3;
        let mut state = State::genesis(policy, 0);
        let base = state.base_fee;
        state.block_tx_count = 3;
        state.update_base_fee();
        assert_eq!(state.base_fee, base + base / 8, "+12.5% for a full block of 3, not +25%");
    }
}
