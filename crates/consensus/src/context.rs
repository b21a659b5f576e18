//! [`GridmintContext`]: the set of types and constructors through which the Malachite engine
//! sees gridmint.
//!
//! | engine type | gridmint type |
//! |---|---|
//! | `Height` | [`Height`] (`u64`) |
//! | `Address` | [`ValidatorAddress`] (gridmint's 32-byte address) |
//! | `Value` | [`BlockValue`] (the block as proposed), `Id` = [`crate::ValueId`] |
//! | `Proposal`, `Vote`, `ProposalPart` | [`Proposal`], [`Vote`], [`ProposalPart`] |
//! | `Validator`, `ValidatorSet` | [`Validator`], [`ValidatorSet`] |
//! | `Timeouts` | the engine's `LinearTimeouts` (its defaults) |
//! | `Extension` | `()` (no vote extensions) |
//! | `SigningScheme` | the `Ed25519` scheme of `arc-malachitebft-signing-ed25519` |
//!
//! The context holds no state: the chain id lives in the signer and the verifier
//! ([`crate::signing`]), the validator set in each height's parameters.

use malachitebft_app_channel::app::types::core::{self as mcore, LinearTimeouts, NilOrVal, Round, VoteType};
use malachitebft_signing_ed25519::Ed25519;

use crate::messages::{Proposal, ProposalPart, Vote};
use crate::types::{BlockValue, Height, ValidatorAddress, ValueId};
use crate::validators::{Validator, ValidatorSet};

/// gridmint's Malachite context.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GridmintContext;

impl GridmintContext {
    /// The context.
    pub fn new() -> Self {
        GridmintContext
    }

    fn vote(
        vote_type: VoteType,
        height: Height,
        round: Round,
        value: NilOrVal<ValueId>,
        validator_address: ValidatorAddress,
    ) -> Vote {
        Vote { vote_type, height, round, value, validator_address, extension: None }
    }
}

impl mcore::Context for GridmintContext {
    type Address = ValidatorAddress;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockValue;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    /// Weighted round-robin by (height, round): see [`crate::validators`].
    fn select_proposer<'a>(&self, validator_set: &'a ValidatorSet, height: Height, round: Round) -> &'a Validator {
        validator_set.proposer(height, round)
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockValue,
        pol_round: Round,
        address: ValidatorAddress,
    ) -> Proposal {
        Proposal { height, round, value, pol_round, validator_address: address }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<ValueId>,
        address: ValidatorAddress,
    ) -> Vote {
        Self::vote(VoteType::Prevote, height, round, value_id, address)
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<ValueId>,
        address: ValidatorAddress,
    ) -> Vote {
        Self::vote(VoteType::Precommit, height, round, value_id, address)
    }
}
