//! What validators sign, and how signatures are checked.
//!
//! # The signed bytes
//!
//! Every consensus signature is over
//!
//! ```text
//! domain ‖ len(chain id) as u16 LE ‖ chain id ‖ postcard(signing form of the message)
//! ```
//!
//! the same framing as gridmint's transaction signatures (`"gridmint/tx/v1" ‖ …`), so that:
//!
//! - **a signature means one thing.** Each kind of message has its own domain tag
//!   ([`VOTE_DOMAIN`], [`PROPOSAL_DOMAIN`], [`VOTE_EXTENSION_DOMAIN`], [`VALIDATOR_PROOF_DOMAIN`]),
//!   and no tag is a prefix of another or of the transaction tag: a vote signature can never be
//!   replayed as a proposal, a transaction or a proof, even by a validator whose consensus key is
//!   also its account key (in gridmint it is, since an address is a public key);
//! - **a signature is worth nothing on another chain** (the chain id is inside, length-framed);
//! - **the bytes are canonical.** The *signing form* is a small local struct encoded with postcard,
//!   rebuilt from the message's fields by the signer and by every verifier alike; it never
//!   depends on how a message travelled (network or WAL encoding), so a codec change cannot
//!   invalidate a signature.
//!
//! The signing forms:
//!
//! | message | fields, in order |
//! |---|---|
//! | vote | type (0 prevote, 1 precommit), height, round (`Option<u32>`), value id (`Option<[u8; 32]>`, none for nil), voter address |
//! | proposal | height, round, value id, proof-of-lock round, proposer address |
//! | proposal parts (in `Init`) | height, round (`Option<u32>`), proof-of-lock round, value id, proposer address |
//! | vote extension | height, round, value id, voter address (the extension itself is `()`) |
//! | validator proof | public key bytes, peer id bytes |
//!
//! A vote's signature covers neither its extension nor anything else the vote does not carry:
//! the engine rebuilds votes from certificates (`ctx.new_prevote(..)` then verify), so the signed
//! bytes must be a function of (type, height, round, value id, address) only. A proposal signs
//! the value's *id*, not the whole block: the id is a collision-resistant commitment to it, and
//! re-encoding megabytes on every signature check would be wasted work.
//!
//! # Verification: `verify_strict`, not ZIP-215
//!
//! The signing crate wraps `ed25519-consensus`, whose own `verify` follows ZIP-215: it accepts
//! small-order (weak) public keys and `R` values, non-canonical encodings of `R` and `A`, and
//! checks the *cofactored* equation `[8][S]B = [8]R + [8][k]A`. Consensus messages are checked
//! with ed25519-dalek's `verify_strict`: canonical `S`, no small-order `A` or `R`, `R` re-encoded
//! canonically, and the cofactorless equation `[S]B = R + [k]A`.
//!
//! - Everything `verify_strict` accepts, ZIP-215 accepts too; the converse is false. For example
//!   the identity point as a public key with the signature `(R = identity, S = 0)` verifies under
//!   ZIP-215 for *every* message, and is refused by `verify_strict` (a test pins this).
//! - An honest signer (either library: keys and signatures are byte-compatible, same seed, same
//!   public key, same deterministic signature) always produces signatures both accept.
//!
//! The engine checks every consensus signature through *our* [`Verifier`] (votes, proposals,
//! certificates, vote extensions, validator proofs); it never calls the scheme's `verify` itself.
//! [`GridmintVerifier`] uses `verify_strict`, and [`crate::Validator::new`] refuses weak keys:
//! a consensus message is checked one at a time, so the cofactorless rule's disagreement with
//! batch verification does not matter here, and strictness closes the small-order cases. The
//! boundary: the scheme's `PublicKey::verify` (ZIP-215 without the key checks) must not be used
//! for anything gridmint accepts.
//!
//! Transactions have a rule of their own (`gridmint_node::signing`): ZIP-215's cofactored
//! equation with the signer's key required canonical and not of small order, because a block's
//! thousands of transaction signatures are checked in batches, which only a cofactored rule
//! makes agree with the check one at a time.

use async_trait::async_trait;
use ed25519_dalek::VerifyingKey;
use malachitebft_app_channel::app::types::core::{
    NilOrVal, Round, SignedMessage, ValidatorProof, VoteExtensionScope, VoteType,
};
use malachitebft_app_channel::{Signer, Verifier};
use malachitebft_signing_ed25519::{PrivateKey, PublicKey, Signature};
use serde::Serialize;

// The traits' error and result types are not re-exported by app-channel.
use malachitebft_signing::{Error as SigningError, VerificationResult};

use crate::context::GridmintContext;
use crate::messages::{Proposal, Vote};
use crate::types::{BlockValue, Height, ValidatorAddress, ValueId};

/// Domain tag of vote signatures.
pub const VOTE_DOMAIN: &[u8] = b"gridmint/consensus/vote/v1";
/// Domain tag of proposal signatures.
pub const PROPOSAL_DOMAIN: &[u8] = b"gridmint/consensus/proposal/v1";
/// Domain tag of vote-extension signatures.
pub const VOTE_EXTENSION_DOMAIN: &[u8] = b"gridmint/consensus/vote-extension/v1";
/// Domain tag of validator proofs (a validator's key vouching for its network peer id).
pub const VALIDATOR_PROOF_DOMAIN: &[u8] = b"gridmint/consensus/validator-proof/v1";
/// Domain tag of the signature in a proposal stream's `Init` part.
pub const PROPOSAL_PARTS_DOMAIN: &[u8] = b"gridmint/consensus/proposal-parts/v1";

/// A chain id, at most `u16::MAX` bytes (it is length-framed in signed bytes).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChainId(String);

/// A chain id longer than `u16::MAX` bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a chain id is at most 65535 bytes")]
pub struct ChainIdTooLong;

impl ChainId {
    /// Checks the length.
    pub fn new(chain_id: impl Into<String>) -> Result<Self, ChainIdTooLong> {
        let chain_id = chain_id.into();
        if chain_id.len() > usize::from(u16::MAX) {
            return Err(ChainIdTooLong);
        }
        Ok(ChainId(chain_id))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Serialize)]
enum VoteTypeForm {
    Prevote,
    Precommit,
}

#[derive(Serialize)]
struct VoteForm {
    vote_type: VoteTypeForm,
    height: u64,
    round: Option<u32>,
    value: Option<[u8; 32]>,
    validator: [u8; 32],
}

#[derive(Serialize)]
struct ProposalForm {
    height: u64,
    round: Option<u32>,
    value_id: [u8; 32],
    pol_round: Option<u32>,
    proposer: [u8; 32],
}

#[derive(Serialize)]
struct PartsForm {
    height: u64,
    round: Option<u32>,
    pol_round: Option<u32>,
    value_id: [u8; 32],
    proposer: [u8; 32],
}

#[derive(Serialize)]
struct ExtensionForm {
    height: u64,
    round: Option<u32>,
    value_id: [u8; 32],
    validator: [u8; 32],
    extension: (),
}

#[derive(Serialize)]
struct ProofForm<'a> {
    public_key: &'a [u8],
    peer_id: &'a [u8],
}

fn framed(domain: &[u8], chain_id: &ChainId, form: &impl Serialize) -> Vec<u8> {
    let body = postcard::to_allocvec(form).expect("signing forms serialize");
    let chain = chain_id.0.as_bytes();
    let mut out = Vec::with_capacity(domain.len() + 2 + chain.len() + body.len());
    out.extend_from_slice(domain);
    out.extend_from_slice(&(chain.len() as u16).to_le_bytes());
    out.extend_from_slice(chain);
    out.extend_from_slice(&body);
    out
}

/// The bytes a vote's signature covers.
pub fn vote_signing_bytes(chain_id: &ChainId, vote: &Vote) -> Vec<u8> {
    let form = VoteForm {
        vote_type: match vote.vote_type {
            VoteType::Prevote => VoteTypeForm::Prevote,
            VoteType::Precommit => VoteTypeForm::Precommit,
        },
        height: vote.height.0,
        round: vote.round.as_u32(),
        value: match &vote.value {
            NilOrVal::Nil => None,
            NilOrVal::Val(id) => Some(id.0),
        },
        validator: vote.validator_address.to_bytes(),
    };
    framed(VOTE_DOMAIN, chain_id, &form)
}

/// The bytes a proposal's signature covers.
pub fn proposal_signing_bytes(chain_id: &ChainId, proposal: &Proposal) -> Vec<u8> {
    let form = ProposalForm {
        height: proposal.height.0,
        round: proposal.round.as_u32(),
        value_id: proposal.value.value_id().0,
        pol_round: proposal.pol_round.as_u32(),
        proposer: proposal.validator_address.to_bytes(),
    };
    framed(PROPOSAL_DOMAIN, chain_id, &form)
}

/// The bytes the signature in a proposal stream's `Init` part covers: the stream's (height, round,
/// proof-of-lock round), the id of the value it carries and the proposer. The value id commits to
/// the header and to the transactions (their count and root), so the one signature covers every
/// part of the stream.
pub fn proposal_parts_signing_bytes(
    chain_id: &ChainId,
    height: Height,
    round: Round,
    pol_round: Round,
    value_id: ValueId,
    proposer: &ValidatorAddress,
) -> Vec<u8> {
    let form = PartsForm {
        height: height.0,
        round: round.as_u32(),
        pol_round: pol_round.as_u32(),
        value_id: value_id.0,
        proposer: proposer.to_bytes(),
    };
    framed(PROPOSAL_PARTS_DOMAIN, chain_id, &form)
}

/// The bytes a vote extension's signature covers.
pub fn vote_extension_signing_bytes(chain_id: &ChainId, scope: &VoteExtensionScope<GridmintContext>) -> Vec<u8> {
    let form = ExtensionForm {
        height: scope.height.0,
        round: scope.round.as_u32(),
        value_id: scope.value_id.0,
        validator: scope.validator_address.to_bytes(),
        extension: (),
    };
    framed(VOTE_EXTENSION_DOMAIN, chain_id, &form)
}

/// The bytes a validator proof's signature covers.
pub fn validator_proof_signing_bytes(chain_id: &ChainId, public_key: &[u8], peer_id: &[u8]) -> Vec<u8> {
    framed(VALIDATOR_PROOF_DOMAIN, chain_id, &ProofForm { public_key, peer_id })
}

/// `verify_strict` (ed25519-dalek) of `signature` over `message` by `public_key`.
pub fn verify_strict(public_key: &PublicKey, message: &[u8], signature: &Signature) -> bool {
    verify_strict_bytes(public_key.as_bytes(), message, signature)
}

fn verify_strict_bytes(public_key: &[u8; 32], message: &[u8], signature: &Signature) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    let signature = ed25519_dalek::Signature::from_bytes(&signature.to_bytes());
    key.verify_strict(message, &signature).is_ok()
}

/// Signs consensus messages with a validator's key (its account key) for one chain.
pub struct GridmintSigner {
    key: PrivateKey,
    address: ValidatorAddress,
    chain_id: ChainId,
}

impl GridmintSigner {
    /// From the 32-byte ed25519 seed (the same bytes as an ed25519-dalek `SigningKey`).
    pub fn new(seed: [u8; 32], chain_id: ChainId) -> Self {
        let key = PrivateKey::from(seed);
        let address = ValidatorAddress(gridmint_core::Address(*key.public_key().as_bytes()));
        GridmintSigner { key, address, chain_id }
    }

    /// The validator's address (its public key): the address to give the engine with this signer
    /// (`ConsensusContext::new_validator`). The signer refuses to sign anything in another
    /// validator's name.
    pub fn address(&self) -> ValidatorAddress {
        self.address
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Signs a proposal stream's `Init` part for `value` at (height, round): refuses a value whose
    /// producer is not this validator.
    pub fn sign_proposal_parts(
        &self,
        round: Round,
        pol_round: Round,
        value: &BlockValue,
    ) -> Result<Signature, SigningError> {
        self.refuse_other(&ValidatorAddress(value.header().producer))?;
        let bytes = proposal_parts_signing_bytes(
            &self.chain_id,
            value.height(),
            round,
            pol_round,
            value.value_id(),
            &self.address,
        );
        Ok(self.key.sign(&bytes))
    }

    fn refuse_other(&self, address: &ValidatorAddress) -> Result<(), SigningError> {
        if *address != self.address {
            return Err(SigningError::from_source(format!(
                "asked to sign for {address} with the key of {}",
                self.address
            )));
        }
        Ok(())
    }
}

impl std::fmt::Debug for GridmintSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GridmintSigner").field("address", &self.address).field("chain_id", &self.chain_id).finish()
    }
}

#[async_trait]
impl Signer<GridmintContext> for GridmintSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<GridmintContext, Vote>, SigningError> {
        self.refuse_other(&vote.validator_address)?;
        let signature = self.key.sign(&vote_signing_bytes(&self.chain_id, &vote));
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<GridmintContext, Proposal>, SigningError> {
        self.refuse_other(&proposal.validator_address)?;
        let signature = self.key.sign(&proposal_signing_bytes(&self.chain_id, &proposal));
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<GridmintContext>,
        extension: (),
    ) -> Result<SignedMessage<GridmintContext, ()>, SigningError> {
        self.refuse_other(&scope.validator_address)?;
        let signature = self.key.sign(&vote_extension_signing_bytes(&self.chain_id, &scope));
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<GridmintContext>, SigningError> {
        if public_key.as_slice() != self.key.public_key().as_bytes() {
            return Err(SigningError::from_source("asked to sign a validator proof for another key"));
        }
        let signature = self.key.sign(&validator_proof_signing_bytes(&self.chain_id, &public_key, &peer_id));
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

/// Checks consensus signatures for one chain, strictly (see the module documentation).
#[derive(Clone, Debug)]
pub struct GridmintVerifier {
    chain_id: ChainId,
}

impl GridmintVerifier {
    /// For this chain.
    pub fn new(chain_id: ChainId) -> Self {
        GridmintVerifier { chain_id }
    }

    /// Checks a proposal stream's `Init` signature (strictly) against the proposer's address,
    /// which is its ed25519 public key.
    pub fn verify_proposal_parts(
        &self,
        round: Round,
        pol_round: Round,
        value: &BlockValue,
        proposer: &ValidatorAddress,
        signature: &Signature,
    ) -> bool {
        let bytes =
            proposal_parts_signing_bytes(&self.chain_id, value.height(), round, pol_round, value.value_id(), proposer);
        verify_strict_bytes(&proposer.to_bytes(), &bytes, signature)
    }
}

#[async_trait]
impl Verifier<GridmintContext> for GridmintVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        let ok = verify_strict(public_key, &vote_signing_bytes(&self.chain_id, vote), signature);
        Ok(VerificationResult::from_bool(ok))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        let ok = verify_strict(public_key, &proposal_signing_bytes(&self.chain_id, proposal), signature);
        Ok(VerificationResult::from_bool(ok))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<GridmintContext>,
        _extension: &(),
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        let ok = verify_strict(public_key, &vote_extension_signing_bytes(&self.chain_id, scope), signature);
        Ok(VerificationResult::from_bool(ok))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<GridmintContext>,
    ) -> Result<VerificationResult, SigningError> {
        let Ok(public_key) = proof.decoded_public_key() else {
            return Ok(VerificationResult::Invalid);
        };
        let bytes = validator_proof_signing_bytes(&self.chain_id, &proof.public_key, &proof.peer_id);
        Ok(VerificationResult::from_bool(verify_strict(&public_key, &bytes, &proof.signature)))
    }
}
