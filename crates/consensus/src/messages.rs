//! The messages validators sign and exchange: proposals, votes, and proposal parts.
//!
//! - [`Proposal`]: "at (height, round) I propose this value", with the proof-of-lock round
//!   (`pol_round`, nil unless the proposer re-proposes a value it saw a polka for) and the
//!   proposer's address. Signed by the proposer.
//! - [`Vote`]: a prevote or precommit for a value id, or for nil, at (height, round), by one
//!   validator. Signed by that validator. gridmint uses no vote extensions (`Extension = ()`), so
//!   [`Vote::extension`] is always `None` in practice; the field exists because the engine's
//!   `Vote` trait requires it.
//! - [`ProposalPart`]: a piece of a proposal as the proposer streams it (plan step 4):
//!   [`ProposalPart::Init`] (the round, the header fields, the transaction count and root, and
//!   the proposer's signature over the value id they give, see
//!   [`crate::signing::proposal_parts_signing_bytes`]), [`ProposalPart::Data`] (a chunk of the
//!   ordered transactions), [`ProposalPart::Fin`] (the end of the transactions).
//!   [`crate::parts`] builds and reassembles the streams.

use gridmint_core::Address;
use malachitebft_app_channel::app::types::core::{self as mcore, NilOrVal, Round, SignedExtension, VoteType};
use malachitebft_signing_ed25519::Signature;

use crate::context::GridmintContext;
use crate::types::{BlockValue, Height, SignedTxBytes, ValidatorAddress, ValueId};

/// A proposal: a value for (height, round).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// The proposed block.
    pub value: BlockValue,
    /// The proof-of-lock round (nil for a fresh value).
    pub pol_round: Round,
    /// The proposer.
    pub validator_address: ValidatorAddress,
}

impl mcore::Proposal<GridmintContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockValue {
        &self.value
    }

    fn take_value(self) -> BlockValue {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator_address
    }
}

/// A prevote or a precommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// The value voted for, or nil.
    pub value: NilOrVal<ValueId>,
    /// The voter.
    pub validator_address: ValidatorAddress,
    /// A signed vote extension (unused by gridmint: `Extension = ()`).
    pub extension: Option<SignedExtension<GridmintContext>>,
}

impl mcore::Vote<GridmintContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<ValueId> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<ValueId> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator_address
    }

    fn extension(&self) -> Option<&SignedExtension<GridmintContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<GridmintContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<GridmintContext>) -> Self {
        Vote { extension: Some(extension), ..self }
    }
}

/// A piece of a streamed proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one Init a stream: boxing it would save nothing worth an allocation
pub enum ProposalPart {
    /// The first part: where the proposal belongs and the block's header fields.
    Init {
        /// The height.
        height: Height,
        /// The round.
        round: Round,
        /// The proof-of-lock round (nil for a fresh value).
        pol_round: Round,
        /// The proposer (the block's producer).
        proposer: Address,
        /// The producer's time in milliseconds since the Unix epoch (the ledger takes its whole seconds).
        time_ms: u64,
        /// The parent block's hash.
        parent_hash: [u8; 32],
        /// The state root after the parent block.
        parent_state_root: [u8; 32],
        /// How many transactions the Data parts carry in all.
        tx_count: u32,
        /// [`crate::types::txs_root`] of those transactions.
        txs_root: [u8; 32],
        /// The proposer's signature over (chain, height, round, pol round, value id, proposer),
        /// see [`crate::signing::proposal_parts_signing_bytes`]: the value id is computable from
        /// this part alone (the header fields, the count and the root), so a receiver
        /// authenticates a stream at its first part, before it buffers any transaction.
        signature: Signature,
    },
    /// A chunk of the ordered transactions.
    Data {
        /// The transactions, in block order.
        txs: Vec<SignedTxBytes>,
    },
    /// The last part: no more transactions follow (the signature is in `Init`, and the count and
    /// root it covers authenticate every `Data` part).
    Fin,
}

impl mcore::ProposalPart<GridmintContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin)
    }
}
