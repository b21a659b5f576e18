//! Equivocation evidence: two messages one validator signed for the same height, round and step
//! with different values.
//!
//! The engine finds them (its vote keeper and proposal keeper keep each validator's conflicting
//! pairs, a bounded number a height) and hands them over with `Finalized`. The app loop turns them
//! into [`Equivocation`]s, keeps only those whose two signatures verify strictly against the
//! validator's key over the exact bytes they cover, and gives them to
//! [`crate::app::Application::record_evidence`]. gridmint's rulebook has no slashing for master
//! nodes: evidence is recorded and shown, nothing is taken from anyone.
//!
//! An [`Equivocation`] carries each message's signed bytes, so anyone can check it with the
//! validator's address (its ed25519 public key) alone, without trusting the node that reports it.

use malachitebft_app_channel::app::types::core::{NilOrVal, Round, SignedMessage, VoteType};
use malachitebft_signing_ed25519::{PublicKey, Signature};

use crate::context::GridmintContext;
use crate::messages::{Proposal, Vote};
use crate::signing::{ChainId, proposal_signing_bytes, verify_strict, vote_signing_bytes};
use crate::types::{Height, ValidatorAddress, ValueId};

/// Which message was signed twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Two proposals.
    Proposal,
    /// Two prevotes.
    Prevote,
    /// Two precommits.
    Precommit,
}

impl Step {
    /// `"proposal"`, `"prevote"` or `"precommit"`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Proposal => "proposal",
            Step::Prevote => "prevote",
            Step::Precommit => "precommit",
        }
    }
}

/// One of the two signed messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The value it is for (`None`: a vote for nil).
    pub value_id: Option<ValueId>,
    /// A proposal's proof-of-lock round (`None` for a vote, or a fresh proposal).
    pub pol_round: Option<u32>,
    /// The exact bytes the signature covers ([`crate::signing`]).
    pub signed_bytes: Vec<u8>,
    /// The validator's ed25519 signature over them.
    pub signature: [u8; 64],
}

/// Two conflicting messages signed by one validator at one (height, round, step).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Equivocation {
    /// Who signed both.
    pub validator: ValidatorAddress,
    /// What was signed twice.
    pub step: Step,
    /// The height.
    pub height: Height,
    /// The round.
    pub round: u32,
    /// The first message.
    pub first: Statement,
    /// The second, for another value.
    pub second: Statement,
}

impl Equivocation {
    /// Whether this is evidence: the same step, height and round, two different values, and both
    /// signatures valid (strictly) under the validator's key over their signed bytes.
    pub fn verify(&self) -> bool {
        let Ok(key) = PublicKey::from_bytes(self.validator.to_bytes()) else {
            return false;
        };
        self.first.value_id != self.second.value_id
            && [&self.first, &self.second]
                .into_iter()
                .all(|s| verify_strict(&key, &s.signed_bytes, &Signature::from_bytes(s.signature)))
    }
}

fn round_number(round: Round) -> Option<u32> {
    round.as_u32()
}

fn vote_statement(chain_id: &ChainId, vote: &SignedMessage<GridmintContext, Vote>) -> Statement {
    Statement {
        value_id: match &vote.message.value {
            NilOrVal::Nil => None,
            NilOrVal::Val(id) => Some(*id),
        },
        pol_round: None,
        signed_bytes: vote_signing_bytes(chain_id, &vote.message),
        signature: vote.signature.to_bytes(),
    }
}

fn proposal_statement(chain_id: &ChainId, proposal: &SignedMessage<GridmintContext, Proposal>) -> Statement {
    Statement {
        value_id: Some(proposal.message.value.value_id()),
        pol_round: round_number(proposal.message.pol_round),
        signed_bytes: proposal_signing_bytes(chain_id, &proposal.message),
        signature: proposal.signature.to_bytes(),
    }
}

/// A conflicting pair of votes as evidence (`None` if the two are not of one validator, height,
/// round and type, or their signatures do not verify).
pub fn from_votes(
    chain_id: &ChainId,
    first: &SignedMessage<GridmintContext, Vote>,
    second: &SignedMessage<GridmintContext, Vote>,
) -> Option<Equivocation> {
    let (a, b) = (&first.message, &second.message);
    if a.validator_address != b.validator_address || a.height != b.height || a.round != b.round {
        return None;
    }
    if a.vote_type != b.vote_type {
        return None;
    }
    let step = match a.vote_type {
        VoteType::Prevote => Step::Prevote,
        VoteType::Precommit => Step::Precommit,
    };
    let evidence = Equivocation {
        validator: a.validator_address,
        step,
        height: a.height,
        round: round_number(a.round)?,
        first: vote_statement(chain_id, first),
        second: vote_statement(chain_id, second),
    };
    evidence.verify().then_some(evidence)
}

/// A conflicting pair of proposals as evidence (`None` as for [`from_votes`]).
pub fn from_proposals(
    chain_id: &ChainId,
    first: &SignedMessage<GridmintContext, Proposal>,
    second: &SignedMessage<GridmintContext, Proposal>,
) -> Option<Equivocation> {
    let (a, b) = (&first.message, &second.message);
    if a.validator_address != b.validator_address || a.height != b.height || a.round != b.round {
        return None;
    }
    let evidence = Equivocation {
        validator: a.validator_address,
        step: Step::Proposal,
        height: a.height,
        round: round_number(a.round)?,
        first: proposal_statement(chain_id, first),
        second: proposal_statement(chain_id, second),
    };
    evidence.verify().then_some(evidence)
}

/// Every verified pair the engine reported with `Finalized`, proposals first, each validator's in
/// address order (the engine's maps are ordered).
pub fn collect(
    chain_id: &ChainId,
    evidence: &malachitebft_app_channel::app::types::MisbehaviorEvidence<GridmintContext>,
) -> Vec<Equivocation> {
    let mut out = Vec::new();
    for (_, pairs) in &evidence.proposals {
        out.extend(pairs.iter().filter_map(|(a, b)| from_proposals(chain_id, a, b)));
    }
    for (_, pairs) in &evidence.votes {
        out.extend(pairs.iter().filter_map(|(a, b)| from_votes(chain_id, a, b)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::GridmintSigner;
    use malachitebft_app_channel::Signer;
    use malachitebft_app_channel::app::types::core::Context;

    fn chain() -> ChainId {
        ChainId::new("evidence-test").unwrap()
    }

    async fn signed_prevote(
        signer: &GridmintSigner,
        value: Option<[u8; 32]>,
        round: u32,
    ) -> SignedMessage<GridmintContext, Vote> {
        let value = match value {
            None => NilOrVal::Nil,
            Some(v) => NilOrVal::Val(ValueId(v)),
        };
        let vote = GridmintContext::new().new_prevote(Height(7), Round::new(round), value, signer.address());
        signer.sign_vote(vote).await.unwrap()
    }

    #[tokio::test]
    async fn two_prevotes_for_different_values_are_evidence_that_anyone_can_check() {
        let signer = GridmintSigner::new([9; 32], chain());
        let a = signed_prevote(&signer, Some([1; 32]), 2).await;
        let b = signed_prevote(&signer, None, 2).await;
        let e = from_votes(&chain(), &a, &b).expect("evidence");
        assert_eq!((e.step, e.height, e.round, e.validator), (Step::Prevote, Height(7), 2, signer.address()));
        assert_eq!(e.first.value_id, Some(ValueId([1; 32])));
        assert_eq!(e.second.value_id, None);
        assert!(e.verify());

        // a flipped byte of either signed message, or a signature moved to the other message,
        // is no evidence
        let mut tampered = e.clone();
        tampered.second.signed_bytes[40] ^= 1;
        assert!(!tampered.verify());
        let mut swapped = e.clone();
        swapped.first.signature = e.second.signature;
        assert!(!swapped.verify());
        // the same value twice is no equivocation
        let mut same = e.clone();
        same.second = e.first.clone();
        assert!(!same.verify());
    }

    #[tokio::test]
    async fn votes_of_other_rounds_or_validators_or_another_chain_are_no_evidence() {
        let signer = GridmintSigner::new([9; 32], chain());
        let other = GridmintSigner::new([8; 32], chain());
        let a = signed_prevote(&signer, Some([1; 32]), 2).await;
        assert!(from_votes(&chain(), &a, &signed_prevote(&signer, Some([2; 32]), 3).await).is_none());
        assert!(from_votes(&chain(), &a, &signed_prevote(&other, Some([2; 32]), 2).await).is_none());
        // signed for another chain: the signed bytes rebuilt for this chain do not verify
        let foreign = GridmintSigner::new([9; 32], ChainId::new("another-chain").unwrap());
        assert!(from_votes(&chain(), &a, &signed_prevote(&foreign, Some([2; 32]), 2).await).is_none());
    }
}
