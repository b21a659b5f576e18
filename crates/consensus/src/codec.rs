//! [`GridmintCodec`]: the bytes of every message the engine sends over the network, writes to
//! its WAL, or exchanges in value sync.
//!
//! The engine is generic over its encoding: an app hands it a value implementing `Codec<T>` for
//! each message type `T` the engine's bounds name. In 0.8.2 `start_engine` requires
//!
//! - **network** (`ConsensusCodec`): `ProposalPart`, `SignedConsensusMsg` (a signed vote or
//!   proposal), `LivenessMsg` (a re-broadcast vote, a polka certificate or a skip-round
//!   certificate), `StreamMessage<ProposalPart>` and `ValidatorProof`;
//! - **sync** (`SyncCodec`): `sync::Status`, `sync::Request`, `sync::Response` (with
//!   `HasEncodedLen<sync::Response>`);
//! - **WAL** (`WalCodec`): `SignedConsensusMsg`, `ProposedValue` and `PolkaCertificate` (the WAL
//!   adds its own entry tags around these bytes).
//!
//! One codec type covers all of them.
//!
//! # Format
//!
//! Each message is one version byte ([`CODEC_VERSION`]) followed by postcard of a local *mirror*
//! struct (the `*Wire` types below): the engine's types are not serde types, and mirroring them
//! keeps the format in this file, under golden-vector tests, instead of in another crate's
//! derives. A value travels as its fields (the same fields as its canonical bytes, see
//! [`crate::BlockValue::canonical_bytes`]: the header, the transaction count and root, never the
//! transactions); its id is recomputed on decoding, never trusted. Value sync's
//! `RawDecidedValue::value_bytes` are opaque here: the app fills them with
//! [`crate::Block::canonical_bytes`] (the full block, which a syncing node needs).
//!
//! The bytes of every message that holds a value or an `Init` part changed in step 4 of the
//! plan, because the value changed (header and transactions root instead of the whole block) and
//! `Init` gained the transaction count and root; this happened before any node ran, so the
//! version byte stayed 1 and the golden vectors were re-blessed. They were re-blessed once more,
//! still before any node ran, when the proposer's signature moved from `Fin` to `Init` (so that a
//! stream is authenticated at its first part; `Fin` is now an empty marker).
//!
//! Decoding is strict and total: it never panics on any input (a property test feeds it
//! arbitrary bytes), refuses an unknown version and trailing bytes, and refuses any encoding
//! other than the one [`Codec::encode`] produces (it re-encodes and compares), so every message
//! has exactly one byte form. A forged length prefix costs little: serde preallocates at most
//! 1 MiB for a sequence whatever its announced length, and decoding fails as soon as the input
//! runs out.
//!
//! **The WAL makes this format permanent**: a node replays its WAL after a restart, so once nodes
//! run, changing an encoding means a new version byte and decoding the old one too. The golden
//! vectors in `tests/codec.rs` fail on any change.

use bytes::Bytes;
use malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::StreamContent;
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal, PolkaCertificate, PolkaSignature, Round,
    RoundCertificate, RoundCertificateType, RoundSignature, SignedMessage, ValidatorProof, Validity, VoteType,
};
use malachitebft_app_channel::app::types::streaming::{StreamId, StreamMessage};
use malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use malachitebft_signing_ed25519::Signature;
use malachitebft_sync::{ValueRequest, ValueResponse};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::context::GridmintContext;
use crate::messages::{Proposal, ProposalPart, Vote};
use crate::types::{BlockValue, Height, SignedTxBytes, ValidatorAddress, ValueId, ValueWire};
use crate::wire::Sig64;

/// The version byte in front of every encoded message.
pub const CODEC_VERSION: u8 = 1;

/// Why bytes do not decode.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// No bytes at all.
    #[error("empty message")]
    Empty,
    /// A version this code does not know.
    #[error("unknown format version {0}")]
    UnknownVersion(u8),
    /// Not a message of the expected type.
    #[error("malformed message: {0}")]
    Malformed(#[from] postcard::Error),
    /// Bytes left over after the message.
    #[error("{0} bytes after the message")]
    TrailingBytes(usize),
    /// A valid message, but not in its one canonical encoding.
    #[error("the message is not in canonical form")]
    NonCanonical,
    /// A peer id that libp2p does not accept.
    #[error("invalid peer id")]
    InvalidPeerId,
}

/// The codec for the network, sync and WAL (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GridmintCodec;

pub(crate) fn encode_versioned<T: Serialize>(version: u8, wire: &T) -> Vec<u8> {
    postcard::to_extend(wire, vec![version]).expect("mirror types serialize")
}

pub(crate) fn decode_versioned<T: DeserializeOwned>(version: u8, bytes: &[u8]) -> Result<T, CodecError> {
    let (&first, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if first != version {
        return Err(CodecError::UnknownVersion(first));
    }
    let (wire, rest) = postcard::take_from_bytes::<T>(body)?;
    if !rest.is_empty() {
        return Err(CodecError::TrailingBytes(rest.len()));
    }
    Ok(wire)
}

/// A library type and its local mirror.
trait Mirror: Sized {
    type Wire: Serialize + DeserializeOwned;
    fn to_wire(&self) -> Self::Wire;
    fn from_wire(wire: Self::Wire) -> Result<Self, CodecError>;
}

fn encode<T: Mirror>(msg: &T) -> Bytes {
    Bytes::from(encode_versioned(CODEC_VERSION, &msg.to_wire()))
}

fn decode<T: Mirror>(bytes: &[u8]) -> Result<T, CodecError> {
    let msg = T::from_wire(decode_versioned::<T::Wire>(CODEC_VERSION, bytes)?)?;
    if encode_versioned(CODEC_VERSION, &msg.to_wire()) != bytes {
        return Err(CodecError::NonCanonical);
    }
    Ok(msg)
}

macro_rules! codec_for {
    ($($t:ty),* $(,)?) => {$(
        impl Codec<$t> for GridmintCodec {
            type Error = CodecError;

            fn decode(&self, bytes: Bytes) -> Result<$t, CodecError> {
                decode::<$t>(&bytes)
            }

            fn encode(&self, msg: &$t) -> Result<Bytes, CodecError> {
                Ok(encode::<$t>(msg))
            }
        }
    )*};
}

codec_for!(
    ProposalPart,
    SignedConsensusMsg<GridmintContext>,
    LivenessMsg<GridmintContext>,
    StreamMessage<ProposalPart>,
    ValidatorProof<GridmintContext>,
    Status<GridmintContext>,
    Request<GridmintContext>,
    Response<GridmintContext>,
    ProposedValue<GridmintContext>,
    PolkaCertificate<GridmintContext>,
);

impl HasEncodedLen<Response<GridmintContext>> for GridmintCodec {
    fn encoded_len(&self, msg: &Response<GridmintContext>) -> Result<usize, CodecError> {
        Ok(encode(msg).len())
    }
}

// ---------------------------------------------------------------------------------------------
// Small pieces.

fn round_from(round: Option<u32>) -> Round {
    Round::from(round)
}

fn sig(signature: &Signature) -> Sig64 {
    Sig64(signature.to_bytes())
}

fn sig_from(wire: Sig64) -> Signature {
    Signature::from_bytes(wire.0)
}

fn addr(a: &ValidatorAddress) -> [u8; 32] {
    a.to_bytes()
}

fn addr_from(bytes: [u8; 32]) -> ValidatorAddress {
    ValidatorAddress(gridmint_core::Address(bytes))
}

fn nil_or_val(v: &NilOrVal<ValueId>) -> Option<[u8; 32]> {
    match v {
        NilOrVal::Nil => None,
        NilOrVal::Val(id) => Some(id.0),
    }
}

fn nil_or_val_from(v: Option<[u8; 32]>) -> NilOrVal<ValueId> {
    match v {
        None => NilOrVal::Nil,
        Some(id) => NilOrVal::Val(ValueId(id)),
    }
}

#[derive(Serialize, Deserialize)]
enum VoteTypeWire {
    Prevote,
    Precommit,
}

fn vote_type(t: VoteType) -> VoteTypeWire {
    match t {
        VoteType::Prevote => VoteTypeWire::Prevote,
        VoteType::Precommit => VoteTypeWire::Precommit,
    }
}

fn vote_type_from(t: VoteTypeWire) -> VoteType {
    match t {
        VoteTypeWire::Prevote => VoteType::Prevote,
        VoteTypeWire::Precommit => VoteType::Precommit,
    }
}

// ---------------------------------------------------------------------------------------------
// Votes and proposals.

#[derive(Serialize, Deserialize)]
struct VoteWire {
    vote_type: VoteTypeWire,
    height: u64,
    round: Option<u32>,
    value: Option<[u8; 32]>,
    validator: [u8; 32],
    extension: Option<Sig64>,
}

#[derive(Serialize, Deserialize)]
struct SignedVoteWire {
    vote: VoteWire,
    signature: Sig64,
}

fn signed_vote(v: &SignedMessage<GridmintContext, Vote>) -> SignedVoteWire {
    let vote = &v.message;
    SignedVoteWire {
        vote: VoteWire {
            vote_type: vote_type(vote.vote_type),
            height: vote.height.0,
            round: vote.round.as_u32(),
            value: nil_or_val(&vote.value),
            validator: addr(&vote.validator_address),
            extension: vote.extension.as_ref().map(|e| sig(&e.signature)),
        },
        signature: sig(&v.signature),
    }
}

fn signed_vote_from(w: SignedVoteWire) -> SignedMessage<GridmintContext, Vote> {
    let v = w.vote;
    let vote = Vote {
        vote_type: vote_type_from(v.vote_type),
        height: Height(v.height),
        round: round_from(v.round),
        value: nil_or_val_from(v.value),
        validator_address: addr_from(v.validator),
        extension: v.extension.map(|s| SignedMessage::new((), sig_from(s))),
    };
    SignedMessage::new(vote, sig_from(w.signature))
}

#[derive(Serialize, Deserialize)]
struct ProposalWire {
    height: u64,
    round: Option<u32>,
    value: ValueWire,
    pol_round: Option<u32>,
    proposer: [u8; 32],
}

#[derive(Serialize, Deserialize)]
struct SignedProposalWire {
    proposal: ProposalWire,
    signature: Sig64,
}

#[derive(Serialize, Deserialize)]
enum SignedConsensusWire {
    Vote(SignedVoteWire),
    Proposal(SignedProposalWire),
}

impl Mirror for SignedConsensusMsg<GridmintContext> {
    type Wire = SignedConsensusWire;

    fn to_wire(&self) -> SignedConsensusWire {
        match self {
            SignedConsensusMsg::Vote(v) => SignedConsensusWire::Vote(signed_vote(v)),
            SignedConsensusMsg::Proposal(p) => {
                let proposal = &p.message;
                SignedConsensusWire::Proposal(SignedProposalWire {
                    proposal: ProposalWire {
                        height: proposal.height.0,
                        round: proposal.round.as_u32(),
                        value: proposal.value.to_wire(),
                        pol_round: proposal.pol_round.as_u32(),
                        proposer: addr(&proposal.validator_address),
                    },
                    signature: sig(&p.signature),
                })
            }
        }
    }

    fn from_wire(wire: SignedConsensusWire) -> Result<Self, CodecError> {
        Ok(match wire {
            SignedConsensusWire::Vote(v) => SignedConsensusMsg::Vote(signed_vote_from(v)),
            SignedConsensusWire::Proposal(p) => {
                let w = p.proposal;
                let proposal = Proposal {
                    height: Height(w.height),
                    round: round_from(w.round),
                    value: BlockValue::from_wire(w.value),
                    pol_round: round_from(w.pol_round),
                    validator_address: addr_from(w.proposer),
                };
                SignedConsensusMsg::Proposal(SignedMessage::new(proposal, sig_from(p.signature)))
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Proposal parts and their stream.

#[derive(Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // as ProposalPart: one Init a stream
enum ProposalPartWire {
    Init {
        height: u64,
        round: Option<u32>,
        pol_round: Option<u32>,
        proposer: [u8; 32],
        time_ms: u64,
        parent_hash: [u8; 32],
        parent_state_root: [u8; 32],
        tx_count: u32,
        txs_root: [u8; 32],
        signature: Sig64,
    },
    Data {
        txs: Vec<SignedTxBytes>,
    },
    Fin,
}

impl Mirror for ProposalPart {
    type Wire = ProposalPartWire;

    fn to_wire(&self) -> ProposalPartWire {
        match self {
            ProposalPart::Init {
                height,
                round,
                pol_round,
                proposer,
                time_ms,
                parent_hash,
                parent_state_root,
                tx_count,
                txs_root,
                signature,
            } => ProposalPartWire::Init {
                height: height.0,
                round: round.as_u32(),
                pol_round: pol_round.as_u32(),
                proposer: proposer.0,
                time_ms: *time_ms,
                parent_hash: *parent_hash,
                parent_state_root: *parent_state_root,
                tx_count: *tx_count,
                txs_root: *txs_root,
                signature: sig(signature),
            },
            ProposalPart::Data { txs } => ProposalPartWire::Data { txs: txs.clone() },
            ProposalPart::Fin => ProposalPartWire::Fin,
        }
    }

    fn from_wire(wire: ProposalPartWire) -> Result<Self, CodecError> {
        Ok(match wire {
            ProposalPartWire::Init {
                height,
                round,
                pol_round,
                proposer,
                time_ms,
                parent_hash,
                parent_state_root,
                tx_count,
                txs_root,
                signature,
            } => ProposalPart::Init {
                height: Height(height),
                round: round_from(round),
                pol_round: round_from(pol_round),
                proposer: gridmint_core::Address(proposer),
                time_ms,
                parent_hash,
                parent_state_root,
                tx_count,
                txs_root,
                signature: sig_from(signature),
            },
            ProposalPartWire::Data { txs } => ProposalPart::Data { txs },
            ProposalPartWire::Fin => ProposalPart::Fin,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // as ProposalPart: one Init a stream
enum StreamContentWire {
    Data(ProposalPartWire),
    Fin,
}

#[derive(Serialize, Deserialize)]
struct StreamMessageWire {
    stream_id: Vec<u8>,
    sequence: u64,
    content: StreamContentWire,
}

impl Mirror for StreamMessage<ProposalPart> {
    type Wire = StreamMessageWire;

    fn to_wire(&self) -> StreamMessageWire {
        StreamMessageWire {
            stream_id: self.stream_id.to_bytes().to_vec(),
            sequence: self.sequence,
            content: match &self.content {
                StreamContent::Data(part) => StreamContentWire::Data(part.to_wire()),
                StreamContent::Fin => StreamContentWire::Fin,
            },
        }
    }

    fn from_wire(wire: StreamMessageWire) -> Result<Self, CodecError> {
        let content = match wire.content {
            StreamContentWire::Data(part) => StreamContent::Data(ProposalPart::from_wire(part)?),
            StreamContentWire::Fin => StreamContent::Fin,
        };
        Ok(StreamMessage::new(StreamId::new(Bytes::from(wire.stream_id)), wire.sequence, content))
    }
}

// ---------------------------------------------------------------------------------------------
// Certificates and liveness messages.

#[derive(Serialize, Deserialize)]
struct AddressSignatureWire {
    address: [u8; 32],
    signature: Sig64,
}

#[derive(Serialize, Deserialize)]
struct PolkaCertificateWire {
    height: u64,
    round: Option<u32>,
    value_id: [u8; 32],
    signatures: Vec<AddressSignatureWire>,
}

impl Mirror for PolkaCertificate<GridmintContext> {
    type Wire = PolkaCertificateWire;

    fn to_wire(&self) -> PolkaCertificateWire {
        PolkaCertificateWire {
            height: self.height.0,
            round: self.round.as_u32(),
            value_id: self.value_id.0,
            signatures: self
                .polka_signatures
                .iter()
                .map(|s| AddressSignatureWire { address: addr(&s.address), signature: sig(&s.signature) })
                .collect(),
        }
    }

    fn from_wire(w: PolkaCertificateWire) -> Result<Self, CodecError> {
        Ok(PolkaCertificate {
            height: Height(w.height),
            round: round_from(w.round),
            value_id: ValueId(w.value_id),
            polka_signatures: w
                .signatures
                .into_iter()
                .map(|s| PolkaSignature::new(addr_from(s.address), sig_from(s.signature)))
                .collect(),
        })
    }
}

#[derive(Serialize, Deserialize)]
enum RoundCertificateTypeWire {
    Skip,
    Precommit,
}

#[derive(Serialize, Deserialize)]
struct RoundSignatureWire {
    vote_type: VoteTypeWire,
    value_id: Option<[u8; 32]>,
    address: [u8; 32],
    signature: Sig64,
}

#[derive(Serialize, Deserialize)]
struct RoundCertificateWire {
    height: u64,
    round: Option<u32>,
    cert_type: RoundCertificateTypeWire,
    signatures: Vec<RoundSignatureWire>,
}

fn round_certificate(c: &RoundCertificate<GridmintContext>) -> RoundCertificateWire {
    RoundCertificateWire {
        height: c.height.0,
        round: c.round.as_u32(),
        cert_type: match c.cert_type {
            RoundCertificateType::Skip => RoundCertificateTypeWire::Skip,
            RoundCertificateType::Precommit => RoundCertificateTypeWire::Precommit,
        },
        signatures: c
            .round_signatures
            .iter()
            .map(|s| RoundSignatureWire {
                vote_type: vote_type(s.vote_type),
                value_id: nil_or_val(&s.value_id),
                address: addr(&s.address),
                signature: sig(&s.signature),
            })
            .collect(),
    }
}

fn round_certificate_from(w: RoundCertificateWire) -> RoundCertificate<GridmintContext> {
    RoundCertificate {
        height: Height(w.height),
        round: round_from(w.round),
        cert_type: match w.cert_type {
            RoundCertificateTypeWire::Skip => RoundCertificateType::Skip,
            RoundCertificateTypeWire::Precommit => RoundCertificateType::Precommit,
        },
        round_signatures: w
            .signatures
            .into_iter()
            .map(|s| {
                RoundSignature::new(
                    vote_type_from(s.vote_type),
                    nil_or_val_from(s.value_id),
                    addr_from(s.address),
                    sig_from(s.signature),
                )
            })
            .collect(),
    }
}

#[derive(Serialize, Deserialize)]
enum LivenessWire {
    Vote(SignedVoteWire),
    PolkaCertificate(PolkaCertificateWire),
    SkipRoundCertificate(RoundCertificateWire),
}

impl Mirror for LivenessMsg<GridmintContext> {
    type Wire = LivenessWire;

    fn to_wire(&self) -> LivenessWire {
        match self {
            LivenessMsg::Vote(v) => LivenessWire::Vote(signed_vote(v)),
            LivenessMsg::PolkaCertificate(c) => LivenessWire::PolkaCertificate(c.to_wire()),
            LivenessMsg::SkipRoundCertificate(c) => LivenessWire::SkipRoundCertificate(round_certificate(c)),
        }
    }

    fn from_wire(wire: LivenessWire) -> Result<Self, CodecError> {
        Ok(match wire {
            LivenessWire::Vote(v) => LivenessMsg::Vote(signed_vote_from(v)),
            LivenessWire::PolkaCertificate(c) => LivenessMsg::PolkaCertificate(PolkaCertificate::from_wire(c)?),
            LivenessWire::SkipRoundCertificate(c) => LivenessMsg::SkipRoundCertificate(round_certificate_from(c)),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Validator proofs.

#[derive(Serialize, Deserialize)]
struct ValidatorProofWire {
    public_key: Vec<u8>,
    peer_id: Vec<u8>,
    signature: Sig64,
}

impl Mirror for ValidatorProof<GridmintContext> {
    type Wire = ValidatorProofWire;

    fn to_wire(&self) -> ValidatorProofWire {
        ValidatorProofWire {
            public_key: self.public_key.clone(),
            peer_id: self.peer_id.clone(),
            signature: sig(&self.signature),
        }
    }

    fn from_wire(w: ValidatorProofWire) -> Result<Self, CodecError> {
        Ok(ValidatorProof::new(w.public_key, w.peer_id, sig_from(w.signature)))
    }
}

// ---------------------------------------------------------------------------------------------
// Value sync.

fn peer_id_from(bytes: &[u8]) -> Result<PeerId, CodecError> {
    PeerId::from_bytes(bytes).map_err(|_| CodecError::InvalidPeerId)
}

#[derive(Serialize, Deserialize)]
struct StatusWire {
    peer_id: Vec<u8>,
    tip_height: u64,
    history_min_height: u64,
}

impl Mirror for Status<GridmintContext> {
    type Wire = StatusWire;

    fn to_wire(&self) -> StatusWire {
        StatusWire {
            peer_id: self.peer_id.to_bytes(),
            tip_height: self.tip_height.0,
            history_min_height: self.history_min_height.0,
        }
    }

    fn from_wire(w: StatusWire) -> Result<Self, CodecError> {
        Ok(Status {
            peer_id: peer_id_from(&w.peer_id)?,
            tip_height: Height(w.tip_height),
            history_min_height: Height(w.history_min_height),
        })
    }
}

#[derive(Serialize, Deserialize)]
enum RequestWire {
    /// The inclusive range `start..=end` (the app clamps it; `start > end` is an empty range).
    ValueRequest { start: u64, end: u64 },
}

impl Mirror for Request<GridmintContext> {
    type Wire = RequestWire;

    fn to_wire(&self) -> RequestWire {
        match self {
            Request::ValueRequest(r) => RequestWire::ValueRequest { start: r.range.start().0, end: r.range.end().0 },
        }
    }

    fn from_wire(w: RequestWire) -> Result<Self, CodecError> {
        Ok(match w {
            RequestWire::ValueRequest { start, end } => {
                Request::ValueRequest(ValueRequest::new(Height(start)..=Height(end)))
            }
        })
    }
}

#[derive(Serialize, Deserialize)]
struct ExtendedCommitSignatureWire {
    address: [u8; 32],
    signature: Sig64,
    extension: Option<Sig64>,
}

#[derive(Serialize, Deserialize)]
struct ExtendedCommitCertificateWire {
    height: u64,
    round: Option<u32>,
    value_id: [u8; 32],
    signatures: Vec<ExtendedCommitSignatureWire>,
}

#[derive(Serialize, Deserialize)]
struct RawDecidedValueWire {
    value_bytes: Vec<u8>,
    certificate: ExtendedCommitCertificateWire,
}

#[derive(Serialize, Deserialize)]
enum ResponseWire {
    ValueResponse { start_height: u64, values: Vec<RawDecidedValueWire> },
}

fn extended_certificate(c: &ExtendedCommitCertificate<GridmintContext>) -> ExtendedCommitCertificateWire {
    ExtendedCommitCertificateWire {
        height: c.height.0,
        round: c.round.as_u32(),
        value_id: c.value_id.0,
        signatures: c
            .commit_signatures
            .iter()
            .map(|s| ExtendedCommitSignatureWire {
                address: addr(&s.address),
                signature: sig(&s.signature),
                extension: s.extension.as_ref().map(|e| sig(&e.signature)),
            })
            .collect(),
    }
}

/// A decided block's commit certificate as the node stores it beside the block: [`CODEC_VERSION`]
/// then postcard of the same mirror value sync ships.
pub fn encode_certificate(certificate: &ExtendedCommitCertificate<GridmintContext>) -> Vec<u8> {
    encode_versioned(CODEC_VERSION, &extended_certificate(certificate))
}

/// Inverse of [`encode_certificate`]: strict (version, no trailing bytes, canonical).
pub fn decode_certificate(bytes: &[u8]) -> Result<ExtendedCommitCertificate<GridmintContext>, CodecError> {
    let certificate = extended_certificate_from(decode_versioned(CODEC_VERSION, bytes)?);
    if encode_certificate(&certificate) != bytes {
        return Err(CodecError::NonCanonical);
    }
    Ok(certificate)
}

fn extended_certificate_from(w: ExtendedCommitCertificateWire) -> ExtendedCommitCertificate<GridmintContext> {
    ExtendedCommitCertificate {
        height: Height(w.height),
        round: round_from(w.round),
        value_id: ValueId(w.value_id),
        commit_signatures: w
            .signatures
            .into_iter()
            .map(|s| {
                ExtendedCommitSignature::new(
                    addr_from(s.address),
                    sig_from(s.signature),
                    s.extension.map(|e| SignedMessage::new((), sig_from(e))),
                )
            })
            .collect(),
    }
}

impl Mirror for Response<GridmintContext> {
    type Wire = ResponseWire;

    fn to_wire(&self) -> ResponseWire {
        match self {
            Response::ValueResponse(r) => ResponseWire::ValueResponse {
                start_height: r.start_height.0,
                values: r
                    .values
                    .iter()
                    .map(|v| RawDecidedValueWire {
                        value_bytes: v.value_bytes.to_vec(),
                        certificate: extended_certificate(&v.certificate),
                    })
                    .collect(),
            },
        }
    }

    fn from_wire(w: ResponseWire) -> Result<Self, CodecError> {
        Ok(match w {
            ResponseWire::ValueResponse { start_height, values } => Response::ValueResponse(ValueResponse::new(
                Height(start_height),
                values
                    .into_iter()
                    .map(|v| RawDecidedValue::new(Bytes::from(v.value_bytes), extended_certificate_from(v.certificate)))
                    .collect(),
            )),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// WAL: proposed values.

#[derive(Serialize, Deserialize)]
struct ProposedValueWire {
    height: u64,
    round: Option<u32>,
    valid_round: Option<u32>,
    proposer: [u8; 32],
    value: ValueWire,
    valid: bool,
}

impl Mirror for ProposedValue<GridmintContext> {
    type Wire = ProposedValueWire;

    fn to_wire(&self) -> ProposedValueWire {
        ProposedValueWire {
            height: self.height.0,
            round: self.round.as_u32(),
            valid_round: self.valid_round.as_u32(),
            proposer: addr(&self.proposer),
            value: self.value.to_wire(),
            valid: self.validity.is_valid(),
        }
    }

    fn from_wire(w: ProposedValueWire) -> Result<Self, CodecError> {
        Ok(ProposedValue {
            height: Height(w.height),
            round: round_from(w.round),
            valid_round: round_from(w.valid_round),
            proposer: addr_from(w.proposer),
            value: BlockValue::from_wire(w.value),
            validity: Validity::from_bool(w.valid),
        })
    }
}
