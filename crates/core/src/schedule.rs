//! Pool schedules (G5 linear, G6 cliff) and the daily gap-decay mint (OS2): G7 step 1.

use crate::State;
use crate::math::{mul_div_floor, ppb_of};
use crate::state::Epoch;
use gridmint_policy::{PPB, Sink, Tranche};

/// G5: what a tranche has released after epoch `e`:
/// floor(amount·(min(e,last)−first+1)/(last−first+1)), 0 before `first`. A cliff (G6) is a
/// tranche with first == last. Exact at `last`.
pub fn released_after(tranche: &Tranche, e: Epoch) -> u128 {
    if e < tranche.first {
        return 0;
    }
    let length = u128::from(tranche.last - tranche.first + 1);
    let elapsed = u128::from(e.min(tranche.last) - tranche.first + 1);
    mul_div_floor(tranche.amount.base_units(), elapsed, length).unwrap_or_else(|| unreachable!("≤ amount"))
}

/// What a list of tranches releases in epoch `e` alone.
pub fn released_in(tranches: &[Tranche], e: Epoch) -> u128 {
    tranches.iter().filter(|t| t.first <= e && e <= t.last).map(|t| tranche_release(t, e)).sum()
}

/// What one tranche releases in epoch `e` (first ≤ e ≤ last): ⌊A·k/L⌋ − ⌊A·(k−1)/L⌋ for
/// k = e − first + 1. With A = a·L + b (b < L) that is a + ⌊b·k/L⌋ − ⌊b·(k−1)/L⌋: one 128-bit
/// division and two 64-bit ones instead of two 128-bit ones (a schedule-only forecast computes it
/// for every pool at each of tens of thousands of epochs). Falls back to the definition when b·k
/// does not fit 64 bits.
fn tranche_release(tranche: &Tranche, e: Epoch) -> u128 {
    let length = tranche.last - tranche.first + 1;
    let k = e - tranche.first + 1;
    let amount = tranche.amount.base_units();
    let whole = amount / u128::from(length);
    let rest = (amount - whole * u128::from(length)) as u64; // < length
    match rest.checked_mul(k) {
        Some(product) => whole + u128::from(product / length - rest * (k - 1) / length),
        None => released_after(tranche, e) - released_after(tranche, e - 1),
    }
}

/// OS2: D = floor((cap − supply)·rate/10^9).
pub fn gap_emission(cap: u128, supply: u128, rate_ppb: u64) -> u128 {
    ppb_of(cap.saturating_sub(supply), rate_ppb)
}

impl State {
    /// G7 step 1: schedules release into their sinks; the gap-decay mint fills its pools.
    pub(crate) fn release_schedules(&mut self, epoch: Epoch) {
        let local = self.local_epoch(epoch);
        let policy = std::sync::Arc::clone(&self.policy);
        for index in 0..self.pools.len() {
            let params = &policy.pools[index];
            let amount = released_in(&params.tranches, local);
            if amount == 0 {
                continue;
            }
            let sink = &params.release_to;
            let pool = &mut self.pools[index];
            pool.released_total += amount;
            self.tally.released[index] += amount;
            match sink {
                Sink::Program => pool.epoch_budget += amount,
                Sink::Hold => {}
                Sink::Account(address) => {
                    pool.balance -= amount;
                    let id = self.account_or_create(*address);
                    self.accounts[id as usize].spendable += amount;
                }
                Sink::Pool(target) => {
                    pool.balance -= amount;
                    let target = self.pool_index(target);
                    self.pools[target].balance += amount;
                    if self.policy.pools[target].release_to == Sink::Program {
                        self.pools[target].epoch_budget += amount;
                    }
                }
            }
        }
        if let Some(emission) = &policy.emission {
            let daily = gap_emission(self.cap, self.total_supply(), emission.rate_ppb);
            for share in &emission.split {
                // each part rounded down; only the parts are minted (OS2)
                let part = mul_div_floor(daily, u128::from(share.ppb), PPB).unwrap_or(0);
                let index = self.pool_index(&share.pool);
                self.pools[index].balance += part;
                self.pools[index].released_total += part;
                self.tally.released[index] += part;
                if self.policy.pools[index].release_to == Sink::Program {
                    self.pools[index].epoch_budget += part;
                }
                self.record_mint(part);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridmint_policy::Tokens;
    use proptest::prelude::*;

    proptest! {
        /// Goal: G5 is monotone, exact at `last`, and per-epoch releases sum to the total.
        /// Method: random tranches, summing released_in over the whole range.
        #[test]
        fn linear_release_sums_exactly(amount in 0u128..(1u128 << 100), first in 1u64..50, len in 1u64..400) {
            let tranche = Tranche { first, last: first + len - 1, amount: Tokens(amount) };
            let mut total = 0u128;
            let mut previous = 0u128;
            for e in 0..=tranche.last + 3 {
                let after = released_after(&tranche, e);
                prop_assert!(after >= previous);
                if e >= 1 {
                    let released = released_in(std::slice::from_ref(&tranche), e);
                    prop_assert_eq!(released, after - previous, "epoch {}: the release is the difference of the cumulative", e);
                    total += released;
                }
                previous = after;
            }
            prop_assert_eq!(total, amount);
            prop_assert_eq!(released_after(&tranche, tranche.last), amount);
        }

        /// Goal: an epoch's release is the difference of the cumulative release (G5) for any
        /// amount and length, also where the 64-bit shortcut does not apply. Method: random
        /// amounts up to 2^127, lengths up to 2^40, epochs sampled in the tranche.
        #[test]
        fn an_epochs_release_is_the_difference_of_the_cumulative(
            amount in 0u128..(1u128 << 127),
            first in 1u64..1_000,
            len in 1u64..(1u64 << 40),
            at in proptest::collection::vec(any::<u64>(), 8),
        ) {
            let tranche = Tranche { first, last: first + len - 1, amount: Tokens(amount) };
            // random epochs of the tranche, and its first and last
            for offset in at.iter().map(|a| a % len).chain([0, len - 1]) {
                let e = first + offset;
                let expected = released_after(&tranche, e) - released_after(&tranche, e - 1);
                prop_assert_eq!(released_in(std::slice::from_ref(&tranche), e), expected, "epoch {}", e);
            }
        }
    }

    /// Goal: a cliff (G6) releases nothing before its epoch and everything at its close.
    /// Method: NM4's DAO tranche at 1824 and 1825.
    #[test]
    fn cliff_releases_at_close_of_lock() {
        let dao = Tranche { first: 1825, last: 1825, amount: Tokens::whole(2_000_000_000) };
        assert_eq!(released_after(&dao, 1824), 0);
        assert_eq!(released_after(&dao, 1825), Tokens::whole(2_000_000_000).0);
    }
}
