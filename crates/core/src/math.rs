//! Exact integer arithmetic (RULES G2, G3): multiply before dividing, round down, return dust.
//!
//! `mul_div_floor` is exact for every `u128` input: when `a·b` overflows 128 bits it continues in
//! 256 bits. [`ProRata`] splits an amount over weights without a 128-bit division per item (the
//! epoch close runs it over a million machines): one division up front, then per item two
//! multiplications and one correcting compare, giving exactly `floor(amount·w/W)`.

use gridmint_policy::PPB;

/// floor(a·b/c), exact for all inputs; `None` when c = 0 or the quotient exceeds `u128`.
pub fn mul_div_floor(a: u128, b: u128, c: u128) -> Option<u128> {
    if c == 0 {
        return None;
    }
    if let Some(product) = a.checked_mul(b) {
        return Some(product / c);
    }
    let (high, low) = mul_wide(a, b);
    if high >= c {
        return None; // the quotient would not fit in 128 bits
    }
    Some(div_wide(high, low, c))
}

/// floor(amount·rate_ppb/10^9): a share of an amount (G2). Always ≤ amount when rate ≤ 10^9.
pub fn ppb_of(amount: u128, rate_ppb: u64) -> u128 {
    mul_div_floor(amount, u128::from(rate_ppb), PPB)
        .unwrap_or_else(|| unreachable!("rate·amount/10^9 fits when rate ≤ 2^64"))
}

/// The full 256-bit product of two `u128`, as (high, low).
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a_hi, a_lo) = (a >> 64, a & MASK);
    let (b_hi, b_lo) = (b >> 64, b & MASK);
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let middle = (lo_lo >> 64) + (hi_lo & MASK) + (lo_hi & MASK);
    let low = (lo_lo & MASK) | (middle << 64);
    let high = hi_hi + (hi_lo >> 64) + (lo_hi >> 64) + (middle >> 64);
    (high, low)
}

/// floor((high·2^128 + low)/divisor) for high < divisor, by restoring binary long division.
/// Rare path (only when a·b overflows), so clarity wins over speed.
fn div_wide(mut high: u128, low: u128, divisor: u128) -> u128 {
    let mut quotient: u128 = 0;
    for bit in (0..128).rev() {
        let carry = high >> 127;
        high = (high << 1) | ((low >> bit) & 1);
        quotient <<= 1;
        if carry == 1 || high >= divisor {
            high = high.wrapping_sub(divisor);
            quotient |= 1;
        }
    }
    quotient
}

/// A pro-rata split of `amount` over weights summing to `total_weight`.
///
/// Guarantees (pinned by the property tests below):
/// - `share(w)` = floor(amount·w/total_weight) exactly, so no share exceeds its exact value;
/// - Σ shares over weights summing to `total_weight` ≤ amount; the caller reports the rest as dust
///   (Σ shares + dust = amount);
/// - for total_weight < 2^64 the per-item cost is two 128-bit multiplications and a compare.
#[derive(Debug, Clone, Copy)]
pub struct ProRata {
    amount: u128,
    total_weight: u128,
    /// floor(amount / W)
    whole_per_weight: u128,
    /// amount mod W
    remainder: u128,
    /// floor(remainder·2^64 / W), when W < 2^64
    fraction_rate: u128,
    fast: bool,
}

impl ProRata {
    /// Prepares the split; `total_weight` = 0 pays nothing (all dust).
    pub fn new(amount: u128, total_weight: u128) -> ProRata {
        if total_weight == 0 {
            return ProRata { amount, total_weight, whole_per_weight: 0, remainder: 0, fraction_rate: 0, fast: true };
        }
        let whole_per_weight = amount / total_weight;
        let remainder = amount % total_weight;
        let fast = total_weight < (1u128 << 64);
        // remainder < W < 2^64, so remainder·2^64 < 2^128
        let fraction_rate = if fast { (remainder << 64) / total_weight } else { 0 };
        ProRata { amount, total_weight, whole_per_weight, remainder, fraction_rate, fast }
    }

    /// floor(amount·weight/total_weight). `weight` must be ≤ total_weight.
    #[inline(always)]
    pub fn share(&self, weight: u128) -> u128 {
        if self.total_weight == 0 {
            return 0;
        }
        debug_assert!(weight <= self.total_weight);
        if !self.fast {
            return mul_div_floor(self.amount, weight, self.total_weight)
                .unwrap_or_else(|| unreachable!("share ≤ amount"));
        }
        // weight ≤ W < 2^64 and remainder < 2^64: every product below fits in 128 bits.
        let target = weight * self.remainder;
        let mut fraction = (weight * self.fraction_rate) >> 64;
        // fraction is floor(target/W) or one less (the rate lost < 1/2^64 per unit of weight)
        if (fraction + 1) * self.total_weight <= target {
            fraction += 1;
        }
        weight * self.whole_per_weight + fraction
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Goal: the 256-bit path agrees with known values. Method: products that overflow u128.
    #[test]
    fn mul_div_wide_known_values() {
        assert_eq!(mul_div_floor(u128::MAX, u128::MAX, u128::MAX), Some(u128::MAX));
        assert_eq!(mul_div_floor(u128::MAX, 2, 4), Some(u128::MAX / 2));
        assert_eq!(mul_div_floor(1 << 100, 1 << 100, 1 << 90), Some(1 << 110));
        assert_eq!(mul_div_floor(u128::MAX, u128::MAX, 1), None);
        assert_eq!(mul_div_floor(1, 1, 0), None);
    }

    proptest! {
        /// Goal: mul_div_floor is floor(a·b/c). Method: check q·c ≤ a·b < (q+1)·c in 256 bits.
        #[test]
        fn mul_div_is_floor(a: u128, b: u128, c in 1u128..) {
            if let Some(q) = mul_div_floor(a, b, c) {
                let (ph, pl) = mul_wide(a, b);
                let (qh, ql) = mul_wide(q, c);
                prop_assert!((qh, ql) <= (ph, pl));
                let (q1h, q1l) = mul_wide(q + 1, c);
                prop_assert!((q1h, q1l) > (ph, pl));
            }
        }

        /// Goal: ProRata shares are exact floors and Σ shares + dust = amount with dust ≥ 0.
        /// Method: random amounts and weight vectors (fast and slow paths).
        #[test]
        fn pro_rata_exact(amount in 0u128..(1u128 << 100), weights in proptest::collection::vec(0u128..(1u128 << 40), 0..40), big in any::<bool>()) {
            let weights: Vec<u128> = if big { weights.iter().map(|w| w << 70).collect() } else { weights };
            let total: u128 = weights.iter().sum();
            let split = ProRata::new(amount, total);
            let mut paid = 0u128;
            for w in &weights {
                let share = split.share(*w);
                let exact = if total == 0 { 0 } else { mul_div_floor(amount, *w, total).unwrap() };
                prop_assert_eq!(share, exact);
                paid += share;
            }
            prop_assert!(paid <= amount);
            if total > 0 {
                prop_assert!(amount - paid < weights.len().max(1) as u128, "dust below one unit per recipient");
            }
        }

        /// Goal: ppb_of never exceeds the amount for rates ≤ 100%. Method: random inputs.
        #[test]
        fn ppb_of_bounded(amount: u128, rate in 0u64..=1_000_000_000) {
            prop_assert!(ppb_of(amount, rate) <= amount);
        }
    }
}
