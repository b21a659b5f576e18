//! Governance (NM12) and policy changes by proposal (G12).
//!
//! Any account whose spendable + staked balance reaches `proposer_min` may propose a treasury
//! spend or a policy change. Voting weight is each account's spendable + staked balance when the
//! proposal started (a snapshot taken at creation, so moving tokens between accounts cannot vote
//! twice). Voting lasts `voting_epochs` epochs, the proposal's own included; at the close of the
//! last one it passes with quorum (yes + no ≥ `quorum_ppb` of the circulating supply at the start)
//! and more yes than no, and executes: a spend larger than the treasury fails without effect; a
//! policy change rules from the next epoch.
//!
//! The snapshot of weights is every account's, and the state root's rest commits to it while
//! the proposal is open: with the policy's `governance.max_open_proposals` (16 in the presets;
//! the rulebook is silent) a proposer has one proposal in its voting period at a time, and at
//! most that many are open in all. Without a bound, one holder of `proposer_min` could open a
//! proposal per transaction and make every block hash and keep a copy of every account's
//! weight per proposal.

use crate::state::{Epoch, Proposal, ProposalOutcome, Upgrade};
use crate::{ProposalAction, State, TxError};
use gridmint_policy::Policy;

/// Policy sections a proposal may not change: they shape the supply itself.
const UNGOVERNABLE: [&str; 6] = ["name", "version", "token", "epoch", "genesis", "pools"];

fn apply_changes(policy: &Policy, changes: &[(String, String)]) -> Option<Policy> {
    if changes.is_empty() || changes.len() > crate::tx::MAX_POLICY_CHANGES {
        return None;
    }
    let mut next = policy.clone();
    for (key, value) in changes {
        let root = key.split('.').next().unwrap_or_default();
        if UNGOVERNABLE.contains(&root)
            || key.len() > crate::tx::MAX_STRING_BYTES
            || value.len() > crate::tx::MAX_STRING_BYTES
        {
            return None;
        }
        next = next.with_override(key, value).ok()?;
    }
    next.version = policy.version + 1;
    Some(next)
}

impl State {
    pub(crate) fn tx_propose(&mut self, proposer: u32, action: &ProposalAction) -> Result<(), TxError> {
        let params = self.policy.governance.clone().ok_or(TxError::NotInPolicy)?;
        if self.voting_weight(proposer) < params.proposer_min.base_units() {
            return Err(TxError::ProposerTooSmall);
        }
        // each open proposal holds every account's weight at its start and is in the state
        // root's rest: one at a time per proposer, and a bounded number in all, so that cheap
        // transactions cannot make every block hash and keep copies of the whole ledger
        if let Some(max) = params.max_open_proposals {
            let open = self.proposals.values().filter(|p| p.outcome.is_none());
            let (mut count, mut own) = (0usize, false);
            for p in open {
                count += 1;
                own |= p.proposer == proposer;
            }
            if own {
                return Err(TxError::ProposerHasOpenProposal);
            }
            if count >= max as usize {
                return Err(TxError::TooManyOpenProposals);
            }
        }
        match action {
            ProposalAction::TreasurySpend { amount, .. } if *amount == 0 => {
                return Err(TxError::ZeroAmount);
            }
            ProposalAction::TreasurySpend { to, .. } if to.is_weak_key() => {
                return Err(TxError::InvalidRecipient);
            }
            ProposalAction::TreasurySpend { .. } => {}
            ProposalAction::PolicyChange { changes } => {
                apply_changes(&self.policy, changes).ok_or(TxError::InvalidProposal)?;
            }
        }
        let weights = (0..self.accounts.len() as u32).map(|a| self.voting_weight(a)).collect();
        let id = self.next_proposal;
        self.next_proposal += 1;
        self.proposals.insert(
            id,
            Proposal {
                proposer,
                action: action.clone(),
                start_epoch: self.epoch,
                end_epoch: self.epoch + Epoch::from(params.voting_epochs) - 1,
                yes: 0,
                no: 0,
                quorum: crate::math::ppb_of(self.circulating(), params.quorum_ppb),
                weights,
                voters: Default::default(),
                outcome: None,
            },
        );
        Ok(())
    }

    pub(crate) fn tx_vote(&mut self, voter: u32, proposal: u64, yes: bool) -> Result<(), TxError> {
        let epoch = self.epoch;
        let p = self.proposals.get(&proposal).ok_or(TxError::UnknownProposal)?;
        if epoch > p.end_epoch || p.outcome.is_some() {
            return Err(TxError::VotingClosed);
        }
        if p.voters.contains(&voter) {
            return Err(TxError::AlreadyVoted);
        }
        let weight = p.weights.get(voter as usize).copied().unwrap_or(0);
        if weight == 0 {
            return Err(TxError::NoVotingWeight);
        }
        let p = self.proposals.get_mut(&proposal).unwrap_or_else(|| unreachable!("checked above"));
        p.voters.insert(voter);
        if yes {
            p.yes += weight;
        } else {
            p.no += weight;
        }
        Ok(())
    }

    /// Tallies and executes the proposals whose last voting epoch is `epoch`.
    pub(crate) fn execute_proposals(&mut self, epoch: Epoch) -> Vec<(u64, ProposalOutcome)> {
        let ending: Vec<u64> = self.proposals.iter().filter(|(_, p)| p.end_epoch == epoch).map(|(id, _)| *id).collect();
        let mut outcomes = Vec::new();
        for id in ending {
            let Some(proposal) = self.proposals.get(&id).cloned() else {
                continue;
            };
            let outcome = if proposal.yes + proposal.no < proposal.quorum {
                ProposalOutcome::NoQuorum
            } else if proposal.yes <= proposal.no {
                ProposalOutcome::Rejected
            } else if self.execute(&proposal.action, epoch) {
                ProposalOutcome::Executed
            } else {
                ProposalOutcome::FailedExecution
            };
            if let Some(ended) = self.proposals.get_mut(&id) {
                ended.outcome = Some(outcome);
                ended.weights = Vec::new(); // the snapshot is no longer needed
            }
            outcomes.push((id, outcome));
        }
        outcomes
    }

    fn execute(&mut self, action: &ProposalAction, epoch: Epoch) -> bool {
        let Some(treasury) = self.policy.governance.as_ref().map(|g| g.treasury) else {
            return false;
        };
        match action {
            ProposalAction::TreasurySpend { to, amount } => {
                let from = self.account_or_create(treasury);
                if self.accounts[from as usize].spendable < *amount {
                    return false;
                }
                self.accounts[from as usize].spendable -= amount;
                let to = self.account_or_create(*to);
                self.accounts[to as usize].spendable += amount;
                true
            }
            ProposalAction::PolicyChange { changes } => {
                if self.upgrades.contains_key(&(epoch + 1)) {
                    return false;
                }
                match apply_changes(&self.policy, changes) {
                    Some(policy) => {
                        self.upgrades.insert(epoch + 1, Upgrade { policy, restart_pools: false });
                        true
                    }
                    None => false,
                }
            }
        }
    }
}
