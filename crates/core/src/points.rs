//! OS5: daily points. After G7 step 2 the Node Reward Pool pays `payout_ppb` (5%) of its
//! balance by points: `uptime_points` for ≥ `min_online_slots` (18 h) online, plus one point per
//! `ai_tokens_per_point` (1,000,000) AI tokens generated in inference jobs settled that epoch
//! ("tokens for tokens"); pro rata, rounding down, dust stays in the pool.

use crate::State;
use crate::epoch::ProgramPayout;
use crate::math::{ProRata, ppb_of};

impl State {
    /// G7 step 3: OS5.
    pub(crate) fn pay_points(&mut self, programs: &mut Vec<ProgramPayout>) {
        let policy = std::sync::Arc::clone(&self.policy);
        let Some(params) = &policy.points else {
            return;
        };
        let pool = self.pool_index(&params.pool);
        let budget = ppb_of(self.pools[pool].balance, params.payout_ppb);
        let points_of = |index: usize, online_slots: u16, ai: &std::collections::BTreeMap<u32, u64>| -> u128 {
            let uptime = if u32::from(online_slots) >= params.min_online_slots { params.uptime_points } else { 0 };
            let tokens = ai.get(&(index as u32)).map_or(0, |t| t / params.ai_tokens_per_point);
            u128::from(uptime) + u128::from(tokens)
        };
        let total: u128 =
            self.online_slots.iter().enumerate().map(|(i, s)| points_of(i, *s, &self.epoch_ai_tokens)).sum();
        let split = ProRata::new(budget, total);
        let mut paid = 0;
        let mut recipients = 0;
        if total > 0 {
            for index in 0..self.machines.len() {
                let points = points_of(index, self.online_slots[index], &self.epoch_ai_tokens);
                if points == 0 {
                    continue;
                }
                let share = split.share(points);
                self.credit_machine(index as u32, share);
                paid += share;
                recipients += 1;
            }
        }
        self.pools[pool].balance -= paid;
        self.pools[pool].epoch_budget = self.pools[pool].epoch_budget.saturating_sub(paid);
        programs.push(ProgramPayout {
            program: "points",
            budget,
            paid,
            dust: if total > 0 { budget - paid } else { 0 },
            recipients,
        });
    }
}
