//! Transaction fees: a flat fee to the block producer (NM14) and the EIP-1559 base fee (OT6).
//!
//! The base fee is burned; the tip goes to the producer. After each block the base fee moves
//! toward the target of half the block's transaction limit: by
//! base·|used − target|·max_change/(target·10^9), rounded down — at most 12.5% — never below the
//! policy's minimum.

use crate::State;
use crate::apply::Fee;
use crate::math::mul_div_floor;
use gridmint_policy::PPB;

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
        let target = u128::from(params.block_tx_limit / 2);
        let used = u128::from(self.block_tx_count);
        let delta_units = used.abs_diff(target);
        let delta =
            mul_div_floor(self.base_fee, delta_units * u128::from(params.max_change_ppb), target * PPB).unwrap_or(0);
        self.base_fee = if used > target { self.base_fee + delta } else { self.base_fee - delta };
        self.base_fee = self.base_fee.max(params.min.base_units());
    }
}
