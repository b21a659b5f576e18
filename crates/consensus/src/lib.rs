//! gridmint's ledger replicated on the Malachite BFT engine (issue 13): the types, signatures and
//! encodings through which the engine (`arc-malachitebft-*` 0.8.2, pinned exactly) sees gridmint.
//!
//! This crate is separate from the core, the simulator and the single-node `gridmint node --dev`
//! so that none of them links libp2p. It holds steps 1 to 4 of `docs/design/consensus-plan.md`
//! and the core of step 5 as library code:
//!
//! - [`app`]: the app loop — [`app::start`] runs the engine for one validator and answers every
//!   message it sends on behalf of an [`app::Application`] (the ledger that builds, checks,
//!   commits and serves blocks); [`app::AppHandle::stop`] stops both;
//! - [`context`]: [`GridmintContext`], the engine's `Context` — which type is the height, the
//!   address, the value, a vote, a proposal, a validator — and the proposal/vote constructors;
//! - [`types`]: [`Height`], [`ValidatorAddress`], [`Block`] (a proposed block in full) and
//!   [`BlockValue`], the value consensus decides (the header and a commitment to the
//!   transactions, [`types::txs_root`]), with its [`ValueId`];
//! - [`validators`]: [`Validator`], [`ValidatorSet`] and the deterministic weighted round-robin
//!   proposer selection;
//! - [`messages`]: [`Proposal`], [`Vote`], [`ProposalPart`];
//! - [`signing`]: what exactly is signed ([`signing::vote_signing_bytes`], …), the
//!   [`GridmintSigner`]/[`GridmintVerifier`] the engine calls, and why verification is dalek's
//!   `verify_strict` rather than the signing crate's ZIP-215;
//! - [`evidence`]: [`Equivocation`], two conflicting messages one validator signed, checked so
//!   that anyone can verify them with the validator's address alone;
//! - [`codec`]: [`GridmintCodec`], the versioned postcard encoding of every message the network,
//!   value sync and the WAL carry;
//! - [`parts`]: a block streamed out as proposal parts ([`parts::stream_messages`]) and the
//!   bounded [`parts::Assembler`] that reassembles and checks streams from any order.
//!
//! Not here yet (later steps of the plan): the node's ledger behind [`app::Application`] (which
//! checks each transaction and the time of an assembled block, and stores decided blocks with
//! their certificates), validator sets from the ledger, and the node and CLI wiring.

pub mod app;
pub mod codec;
pub mod context;
pub mod evidence;
pub mod messages;
pub mod parts;
pub mod signing;
pub mod types;
pub mod validators;
mod wire;

pub use app::{AppError, AppHandle, AppLoop, Application, DecidedCertificate, Settings};
pub use codec::{CODEC_VERSION, CodecError, GridmintCodec};
pub use context::GridmintContext;
pub use evidence::{Equivocation, Step};
pub use messages::{Proposal, ProposalPart, Vote};
pub use parts::{AssembledProposal, Assembler, AssemblyError, Limits};
pub use signing::{ChainId, GridmintSigner, GridmintVerifier};
pub use types::{Block, BlockHeader, BlockValue, Height, SignedTxBytes, ValidatorAddress, ValueId};
pub use validators::{MAX_TOTAL_VOTING_POWER, Validator, ValidatorSet, ValidatorSetError};

/// The engine crates, re-exported so that users name the same versions this crate was built
/// against.
pub use malachitebft_app_channel as app_channel;
pub use malachitebft_signing_ed25519 as signing_ed25519;
