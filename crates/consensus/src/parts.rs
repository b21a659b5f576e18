//! Proposals in parts (step 4 of the plan): a [`Block`] streamed out as ordered
//! [`ProposalPart`]s, and reassembled, checked, from whatever order the network delivers them in.
//!
//! # The stream
//!
//! For a block at (height, round), [`stream_messages`] produces the engine's
//! `StreamMessage<ProposalPart>`s under one [`StreamId`] (see [`stream_id`]: the height as u64
//! big-endian then the round as u32 big-endian, 12 bytes), with sequences `0..`:
//!
//! | sequence | content |
//! |---|---|
//! | 0 | `Init`: height, round, pol round, proposer, time, parent hash, parent state root, transaction count and root, and the proposer's signature over [`crate::signing::proposal_parts_signing_bytes`] |
//! | 1..=k | `Data`: the ordered transactions in chunks of at most [`DATA_PART_BUDGET`] bytes (64 per signature plus each transaction's length; a larger transaction goes alone); none for an empty block |
//! | k + 1 | `Fin`: the end of the transactions (no fields) |
//! | k + 2 | the stream's end (`StreamContent::Fin`) |
//!
//! The transaction root does not depend on the chunking ([`crate::types::txs_root`]), so a
//! receiver does not check how a proposer chunked. The signature is in `Init` because the value
//! id is computable from `Init` alone (the header fields, the count and the root): a receiver
//! authenticates a stream at its first part, before it buffers megabytes of transactions, and the
//! count and root then authenticate every `Data` part. It covers the same bytes, under the same
//! domain ([`crate::signing::PROPOSAL_PARTS_DOMAIN`]), as when it travelled in `Fin`.
//!
//! # Reassembly
//!
//! An [`Assembler`] takes `(published_by, StreamMessage)` in any order — duplicates, reordering,
//! interleaved streams from several peers — keyed by (`published_by`, stream id) as the engine's
//! 0.8 notes require, and yields an [`AssembledProposal`] once the stream's every sequence up to
//! its end is in and the checks pass, in this order:
//!
//! 1. on each part: the stream id names a (height, round) in the window around the current height
//!    ([`Limits::heights_behind`], [`Limits::heights_ahead`]); sequence 0 is `Init` and only
//!    sequence 0; one `Fin` part, right before the end; nothing past the end; `Init` agrees with the
//!    stream id; no more transactions than `Init` announced; a duplicate part must equal the part
//!    already held; the stream's caps ([`Limits`]);
//! 2. on `Init`'s arrival: the proposer is the one the caller's validator set selects for
//!    (height, round); the signature verifies (`verify_strict`) against the proposer's address,
//!    which is its ed25519 key, over the value id the header, count and root give. The stream is
//!    then *authenticated*;
//! 3. once complete: the transaction count and root recomputed from the `Data` parts equal
//!    `Init`'s.
//!
//! Every refusal is an [`AssemblyError`] and drops the stream; later parts of a stream that was
//! refused or yielded are ignored (so a duplicate never yields twice), except after a transient
//! refusal ([`AssemblyError::is_transient`]: no validator set for the height yet, too many
//! copies of the value open), after which the publisher may send the stream again. That memory
//! of closed streams is bounded too (four times [`Limits::max_streams`], the lowest heights
//! forgotten first), so a publisher replaying a whole stream long after could have it yielded
//! again: the app must treat a value it already holds as a no-op. A stream dropped by eviction is
//! not closed, so a restream by its proposer can still complete it.
//!
//! Memory is bounded: parts and bytes per stream (refused); open streams per publisher and in
//! all, bytes in all, bytes held by unauthenticated streams (`Data` that arrived before its
//! `Init`), and authenticated streams per value id (dropped). To keep a bound, unauthenticated
//! streams go first (the oldest first), and an unauthenticated stream never pushes out an
//! authenticated one: it is dropped itself. Publishers cost nothing to make (gossip relays any
//! source), so a flood of junk streams under fresh publishers only ever evicts junk: the honest
//! proposer's stream, authenticated by its first part, stays. Authenticated streams are evicted,
//! the oldest first, only for another authenticated stream, which only a validator can sign (for
//! a round it proposes) or a relay can copy (at most [`Limits::max_streams_per_value`] copies of
//! one value); and the streams of the current (height, round), once the caller names the round
//! ([`Assembler::set_current_round`]), only for one another, so that a validator signing streams
//! for many other rounds cannot evict the live proposal. [`Assembler::prune_below`] forgets
//! heights already decided.
//!
//! Not checked here (the app's part, plan step 4): each transaction's signature and envelope,
//! the time against the parent's and the local clock.

use std::collections::BTreeMap;

use bytes::Bytes;
use malachitebft_app_channel::app::streaming::StreamContent;
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::app::types::core::Round;
use malachitebft_app_channel::app::types::streaming::{StreamId, StreamMessage};
use malachitebft_signing::Error as SigningError;
use malachitebft_signing_ed25519::Signature;

use crate::messages::ProposalPart;
use crate::signing::{ChainId, GridmintSigner, GridmintVerifier};
use crate::types::{
    Block, BlockHeader, BlockValue, Height, SignedTxBytes, TxsRootHasher, ValidatorAddress, ValueId, txs_root,
};

/// The byte budget of one `Data` part: 1 MiB of transactions (64 bytes per signature plus each
/// transaction's length). A part then stays well inside the network's 4 MiB message limit.
pub const DATA_PART_BUDGET: usize = 1 << 20;

/// The weight of a transaction against [`DATA_PART_BUDGET`] and the byte caps.
fn tx_weight(tx: &SignedTxBytes) -> usize {
    64 + tx.tx.len()
}

/// The accounted size of an `Init` or a `Fin` part (a bound on their fields).
const SMALL_PART_WEIGHT: usize = 256;

/// The accounted size of a whole block: its header (as an `Init` part) and every transaction
/// ([`DATA_PART_BUDGET`]'s measure). The app loop's byte bounds on the blocks it holds use it.
pub fn block_weight(block: &Block) -> usize {
    block.txs.iter().fold(SMALL_PART_WEIGHT, |acc, tx| acc.saturating_add(tx_weight(tx)))
}

/// The stream id of the proposal at (height, round): the height as u64 big-endian, then the
/// round as u32 big-endian.
pub fn stream_id(height: Height, round: u32) -> StreamId {
    let mut bytes = Vec::with_capacity(12);
    bytes.extend_from_slice(&height.0.to_be_bytes());
    bytes.extend_from_slice(&round.to_be_bytes());
    StreamId::new(Bytes::from(bytes))
}

/// The (height, round) a stream id names, if it is one [`stream_id`] makes.
pub fn parse_stream_id(id: &StreamId) -> Option<(Height, u32)> {
    let bytes = id.to_bytes();
    if bytes.len() != 12 {
        return None;
    }
    let height = u64::from_be_bytes(bytes[..8].try_into().ok()?);
    let round = u32::from_be_bytes(bytes[8..].try_into().ok()?);
    Some((Height(height), round))
}

/// Splits transactions into chunks of at most `budget` bytes (64 per signature plus each
/// transaction's length); a transaction over the budget is a chunk of its own. No chunk is empty;
/// no transactions, no chunks.
pub fn chunk_txs(txs: &[SignedTxBytes], budget: usize) -> Vec<&[SignedTxBytes]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut weight = 0usize;
    for (i, tx) in txs.iter().enumerate() {
        let w = tx_weight(tx);
        if i > start && weight.saturating_add(w) > budget {
            chunks.push(&txs[start..i]);
            start = i;
            weight = 0;
        }
        weight = weight.saturating_add(w);
    }
    if start < txs.len() {
        chunks.push(&txs[start..]);
    }
    chunks
}

/// Why a block could not be streamed out.
#[derive(Debug, thiserror::Error)]
pub enum StreamOutError {
    /// Proposals are made in a defined round.
    #[error("a proposal needs a round, not nil")]
    NilRound,
    /// The block holds more than `u32::MAX` transactions.
    #[error("a block holds at most u32::MAX transactions")]
    TooManyTxs,
    /// The signer refused (the block's producer is another validator).
    #[error("the signer refused: {0}")]
    Signer(#[from] SigningError),
}

/// The ordered parts of `block` proposed at `round` (`pol_round` nil for a fresh value) by
/// `signer`, whose address must be the block's producer: `Init`, the `Data` chunks, `Fin`.
pub fn proposal_parts(
    block: &Block,
    round: Round,
    pol_round: Round,
    signer: &GridmintSigner,
) -> Result<Vec<ProposalPart>, StreamOutError> {
    if round.as_u32().is_none() {
        return Err(StreamOutError::NilRound);
    }
    let signature = signer.sign_proposal_parts(round, pol_round, &block.value())?;
    signed_proposal_parts(block, round, pol_round, signature)
}

/// The ordered parts of `block` proposed at `round` with a signature already made (by its
/// producer, over [`crate::signing::proposal_parts_signing_bytes`]): what a validator replays
/// when the engine asks it to restream a value another validator proposed. Not checked here: a
/// wrong signature makes every receiver refuse the stream.
pub fn signed_proposal_parts(
    block: &Block,
    round: Round,
    pol_round: Round,
    signature: Signature,
) -> Result<Vec<ProposalPart>, StreamOutError> {
    if round.as_u32().is_none() {
        return Err(StreamOutError::NilRound);
    }
    let tx_count = u32::try_from(block.txs.len()).map_err(|_| StreamOutError::TooManyTxs)?;
    let h = &block.header;
    let mut parts = vec![ProposalPart::Init {
        height: h.height,
        round,
        pol_round,
        proposer: h.producer,
        time_ms: h.time_ms,
        parent_hash: h.parent_hash,
        parent_state_root: h.parent_state_root,
        tx_count,
        txs_root: txs_root(&block.txs),
        signature,
    }];
    for chunk in chunk_txs(&block.txs, DATA_PART_BUDGET) {
        parts.push(ProposalPart::Data { txs: chunk.to_vec() });
    }
    parts.push(ProposalPart::Fin);
    Ok(parts)
}

/// [`proposal_parts`] wrapped as the engine's stream messages (see the module documentation):
/// what the app publishes, one `NetworkMsg::PublishProposalPart` each, in order.
pub fn stream_messages(
    block: &Block,
    round: Round,
    pol_round: Round,
    signer: &GridmintSigner,
) -> Result<Vec<StreamMessage<ProposalPart>>, StreamOutError> {
    let parts = proposal_parts(block, round, pol_round, signer)?;
    wrap(block.header.height, round, parts)
}

/// [`signed_proposal_parts`] wrapped as the engine's stream messages: the same messages
/// [`stream_messages`] gave the producer, byte for byte (ed25519 signatures are deterministic).
pub fn signed_stream_messages(
    block: &Block,
    round: Round,
    pol_round: Round,
    signature: Signature,
) -> Result<Vec<StreamMessage<ProposalPart>>, StreamOutError> {
    let parts = signed_proposal_parts(block, round, pol_round, signature)?;
    wrap(block.header.height, round, parts)
}

fn wrap(
    height: Height,
    round: Round,
    parts: Vec<ProposalPart>,
) -> Result<Vec<StreamMessage<ProposalPart>>, StreamOutError> {
    let id = stream_id(height, round.as_u32().ok_or(StreamOutError::NilRound)?);
    let mut messages: Vec<_> = parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| StreamMessage::new(id.clone(), i as u64, StreamContent::Data(part)))
        .collect();
    messages.push(StreamMessage::new(id, messages.len() as u64, StreamContent::Fin));
    Ok(messages)
}

/// The bounds an [`Assembler`] keeps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most messages a stream may have (sequences `0..max_parts_per_stream`).
    pub max_parts_per_stream: u64,
    /// The most transaction bytes ([`DATA_PART_BUDGET`]'s measure) a stream may hold.
    pub max_bytes_per_stream: usize,
    /// The most transactions a stream may announce in `Init`.
    pub max_txs_per_stream: u32,
    /// Open streams per peer; one more drops that peer's oldest.
    pub max_streams_per_peer: usize,
    /// Open streams in all; one more drops the oldest.
    pub max_streams: usize,
    /// Bytes held in all; more drops the oldest streams (unauthenticated ones first).
    pub max_total_bytes: usize,
    /// Bytes held in all by streams whose `Init` has not arrived yet (their `Data` parts came
    /// first); more drops the oldest of them.
    pub max_unauthenticated_bytes: usize,
    /// Authenticated streams of one value id (one signed `Init` replayed by other publishers);
    /// a further one is dropped.
    pub max_streams_per_value: usize,
    /// How many heights below the current one a stream may be for.
    pub heights_behind: u64,
    /// How many heights above the current one a stream may be for.
    pub heights_ahead: u64,
}

impl Default for Limits {
    /// 64 MiB and 4,096 messages a stream (a 100,000-transfer block is about 20 MiB), 4 streams a
    /// peer, 64 streams and 256 MiB in all (8 MiB of them before their `Init`), 4 streams a value
    /// id, heights from one below to two above the current one.
    fn default() -> Self {
        Limits {
            max_parts_per_stream: 4096,
            max_bytes_per_stream: 64 << 20,
            max_txs_per_stream: 1_000_000,
            max_streams_per_peer: 4,
            max_streams: 64,
            max_total_bytes: 256 << 20,
            max_unauthenticated_bytes: 8 << 20,
            max_streams_per_value: 4,
            heights_behind: 1,
            heights_ahead: 2,
        }
    }
}

/// Why a stream was refused (and dropped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssemblyError {
    /// The stream id is not 12 bytes of (height, round).
    #[error("the stream id is not a (height, round)")]
    BadStreamId,
    /// The stream's height is outside the window around the current height.
    #[error("height {height} is outside the window around the current height {current}")]
    HeightOutOfWindow {
        /// The stream's height.
        height: Height,
        /// The current height.
        current: Height,
    },
    /// Sequence 0 is not `Init`.
    #[error("the first part (sequence 0) is not Init")]
    FirstNotInit,
    /// An `Init` at a sequence other than 0.
    #[error("an Init part at sequence {0}: only sequence 0 is Init")]
    InitNotFirst(u64),
    /// A second `Fin` part at another sequence.
    #[error("a second Fin part (sequences {0} and {1})")]
    SecondFin(u64, u64),
    /// Two ends of stream at different sequences.
    #[error("two ends of stream (sequences {0} and {1})")]
    SecondEnd(u64, u64),
    /// A part at or past the end of the stream.
    #[error("a part at sequence {sequence}, at or past the stream's end at {end}")]
    PastEnd {
        /// The part's sequence.
        sequence: u64,
        /// The end's sequence.
        end: u64,
    },
    /// The `Fin` part is not the last one before the end.
    #[error("the Fin part (sequence {0}) is not right before the stream's end")]
    FinNotLast(u64),
    /// A `Data` part with no transactions.
    #[error("an empty Data part at sequence {0}")]
    EmptyData(u64),
    /// A sequence received twice with different contents.
    #[error("two different parts at sequence {0}")]
    ConflictingPart(u64),
    /// `Init` names another height or round than the stream id.
    #[error("Init names ({init_height}, {init_round:?}), the stream id ({height}, {round})")]
    InitMismatch {
        /// From the stream id.
        height: Height,
        /// From the stream id.
        round: u32,
        /// From `Init`.
        init_height: Height,
        /// From `Init`.
        init_round: Option<u32>,
    },
    /// Too many messages in one stream.
    #[error("more than {0} messages in one stream")]
    TooManyParts(u64),
    /// Too many bytes in one stream.
    #[error("more than {0} bytes in one stream")]
    TooManyBytes(usize),
    /// `Init` announces more transactions than the limit, or the Data parts carry more than it
    /// announced.
    #[error("{got} transactions, at most {max} allowed")]
    TooManyTxs {
        /// How many (announced or received so far).
        got: u64,
        /// The bound.
        max: u64,
    },
    /// The validator set knows no proposer for the stream's (height, round).
    #[error("no proposer known for height {0} round {1}")]
    UnknownProposer(Height, u32),
    /// The stream's proposer is not the one the validator set selects.
    #[error("proposed by {got}, but the proposer for this round is {expected}")]
    WrongProposer {
        /// The proposer `Init` names.
        got: ValidatorAddress,
        /// The selected proposer.
        expected: ValidatorAddress,
    },
    /// The Data parts' transaction count differs from `Init`'s.
    #[error("Init announces {announced} transactions, the Data parts carry {got}")]
    CountMismatch {
        /// From `Init`.
        announced: u32,
        /// From the Data parts.
        got: u64,
    },
    /// The Data parts' transaction root differs from `Init`'s.
    #[error("the transactions' root differs from Init's")]
    RootMismatch,
    /// The stream ended without a `Fin` part.
    #[error("the stream ended without a Fin part")]
    MissingFin,
    /// The `Init` signature does not verify against the proposer's key.
    #[error("the Init signature does not verify against the proposer's key")]
    BadSignature,
    /// As many authenticated streams of this value are open already (copies of one signed `Init`
    /// from other publishers): this one is dropped, not remembered as refused.
    #[error("{0} streams of value {1} are open already")]
    TooManyCopies(usize, ValueId),
}

impl AssemblyError {
    /// Whether the refusal may not hold later, so the stream is dropped without being
    /// remembered as refused (its publisher may send it again): no validator set known yet for
    /// its height, or too many copies of its value open now.
    pub fn is_transient(&self) -> bool {
        matches!(self, AssemblyError::UnknownProposer(..) | AssemblyError::TooManyCopies(..))
    }
}

/// A complete, checked proposal: what the app validates and executes next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssembledProposal {
    /// The block in full.
    pub block: Block,
    /// Its value (`block.value()`).
    pub value: BlockValue,
    /// The round.
    pub round: Round,
    /// The proof-of-lock round.
    pub pol_round: Round,
    /// The proposer (the block's producer).
    pub proposer: ValidatorAddress,
    /// The proposer's signature from `Init` ([`signed_stream_messages`] replays the stream).
    pub signature: Signature,
}

type Key = (PeerId, StreamId);

struct Stream {
    height: Height,
    round: u32,
    opened: u64,
    /// The value `Init` announces, once `Init` arrived and its signature verified.
    value: Option<BlockValue>,
    parts: BTreeMap<u64, ProposalPart>,
    end: Option<u64>,
    fin_at: Option<u64>,
    bytes: usize,
    txs: u64,
}

impl Stream {
    fn messages(&self) -> u64 {
        self.parts.len() as u64 + u64::from(self.end.is_some())
    }

    fn is_complete(&self) -> bool {
        self.end.is_some_and(|end| self.parts.len() as u64 == end)
    }

    fn authenticated(&self) -> bool {
        self.value.is_some()
    }
}

/// Reassembles proposal streams (see the module documentation).
pub struct Assembler {
    verifier: GridmintVerifier,
    limits: Limits,
    current: Height,
    current_round: Option<u32>,
    streams: BTreeMap<Key, Stream>,
    /// Streams yielded or refused, by height: their later parts are ignored.
    closed: BTreeMap<Key, Height>,
    next_opened: u64,
    total_bytes: usize,
    unauthenticated_bytes: usize,
    evicted: u64,
}

impl Assembler {
    /// For `chain_id`, with `limits`, at `current` height.
    pub fn new(chain_id: ChainId, limits: Limits, current: Height) -> Self {
        Assembler {
            verifier: GridmintVerifier::new(chain_id),
            limits,
            current,
            current_round: None,
            streams: BTreeMap::new(),
            closed: BTreeMap::new(),
            next_opened: 0,
            total_bytes: 0,
            unauthenticated_bytes: 0,
            evicted: 0,
        }
    }

    /// Moves the window to `height` (the height consensus is at) and forgets every stream below
    /// the window.
    pub fn set_current_height(&mut self, height: Height) {
        if height != self.current {
            self.current_round = None;
        }
        self.current = height;
        self.prune_below(Height(height.0.saturating_sub(self.limits.heights_behind)));
    }

    /// The round consensus is in at the current height: the authenticated streams of (current
    /// height, `round`) — its proposer's — are evicted only for one another, never to make room
    /// for any other stream. Forgotten when the height changes.
    pub fn set_current_round(&mut self, round: u32) {
        self.current_round = Some(round);
    }

    /// How a stream ranks for eviction: unauthenticated (0) go first, then authenticated ones
    /// (1), then the authenticated streams of the current (height, round) (2). A stream only
    /// pushes out streams of its rank or below.
    fn rank(&self, s: &Stream) -> u8 {
        if !s.authenticated() {
            0
        } else if s.height == self.current && Some(s.round) == self.current_round {
            2
        } else {
            1
        }
    }

    /// The current height.
    pub fn current_height(&self) -> Height {
        self.current
    }

    /// Forgets every stream (open, yielded or refused) for a height below `height`.
    pub fn prune_below(&mut self, height: Height) {
        let old: Vec<Key> = self.streams.iter().filter(|(_, s)| s.height < height).map(|(k, _)| k.clone()).collect();
        for key in old {
            self.remove(&key);
        }
        self.closed.retain(|_, h| *h >= height);
    }

    /// How many streams are open (incomplete).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// The bytes the open streams hold.
    pub fn held_bytes(&self) -> usize {
        self.total_bytes
    }

    /// How many streams were dropped to keep the per-peer, total-stream and total-byte bounds.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// How many open streams are authenticated (their `Init` arrived and verified).
    pub fn authenticated_streams(&self) -> usize {
        self.streams.values().filter(|s| s.authenticated()).count()
    }

    fn remove(&mut self, key: &Key) -> Option<Stream> {
        let stream = self.streams.remove(key)?;
        self.total_bytes -= stream.bytes;
        if !stream.authenticated() {
            self.unauthenticated_bytes -= stream.bytes;
        }
        Some(stream)
    }

    fn close(&mut self, key: Key, height: Height) {
        self.remove(&key);
        self.closed.insert(key, height);
        // The closed set is bounded too: forget the lowest heights first.
        while self.closed.len() > self.limits.max_streams.saturating_mul(4) {
            let Some(lowest) = self.closed.iter().min_by_key(|(_, h)| **h).map(|(k, _)| k.clone()) else {
                break;
            };
            self.closed.remove(&lowest);
        }
    }

    /// Drops one stream to make room for `keep` (of `peer`'s streams only, if given): the lowest
    /// [`Assembler::rank`] first, the oldest first within a rank, never one that ranks above
    /// `keep`; `keep` itself if nothing else may go, unless it is a stream of the current
    /// (height, round). Whether one was dropped.
    fn evict_one(&mut self, peer: Option<&PeerId>, keep: &Key) -> bool {
        let Some(keep_rank) = self.streams.get(keep).map(|s| self.rank(s)) else {
            return false;
        };
        let victim = self
            .streams
            .iter()
            .filter(|(k, _)| *k != keep && peer.is_none_or(|p| k.0 == *p))
            .map(|(k, s)| (self.rank(s), s.opened, k))
            .filter(|(rank, _, _)| *rank <= keep_rank)
            .min()
            .map(|(_, _, k)| k.clone())
            .or_else(|| (keep_rank < 2).then(|| keep.clone()));
        match victim {
            Some(key) => {
                self.remove(&key);
                self.evicted += 1;
                true
            }
            None => false,
        }
    }

    /// Takes one message published by `published_by`. `expected_proposer` gives the proposer the
    /// validator set selects for (height, round), or `None` if it knows none; it is asked when the
    /// stream's `Init` arrives, whose signature is then checked before the stream counts as
    /// authenticated. Returns the proposal once its stream is complete and checked, `None` while
    /// it is not (or for a part of a stream already yielded, refused or dropped to keep the
    /// bounds), and an error, dropping the stream, for a malformed one.
    pub fn insert<F>(
        &mut self,
        published_by: PeerId,
        msg: StreamMessage<ProposalPart>,
        expected_proposer: F,
    ) -> Result<Option<AssembledProposal>, AssemblyError>
    where
        F: FnOnce(Height, Round) -> Option<ValidatorAddress>,
    {
        let (height, round) = parse_stream_id(&msg.stream_id).ok_or(AssemblyError::BadStreamId)?;
        let lowest = self.current.0.saturating_sub(self.limits.heights_behind);
        let highest = self.current.0.saturating_add(self.limits.heights_ahead);
        if height.0 < lowest || height.0 > highest {
            return Err(AssemblyError::HeightOutOfWindow { height, current: self.current });
        }
        let key: Key = (published_by, msg.stream_id.clone());
        if self.closed.contains_key(&key) {
            return Ok(None);
        }
        match self.accept(&key, height, round, msg, expected_proposer) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) if e.is_transient() => {
                self.remove(&key);
                return Err(e);
            }
            Err(e) => {
                self.close(key, height);
                return Err(e);
            }
        }
        self.enforce_bounds(&key);
        if !self.streams.get(&key).is_some_and(Stream::is_complete) {
            return Ok(None);
        }
        let stream = self.remove(&key).expect("the stream is open");
        self.close(key, height);
        finish(stream).map(Some)
    }

    /// Files one message into its stream; `Ok(false)` for an identical duplicate.
    fn accept<F>(
        &mut self,
        key: &Key,
        height: Height,
        round: u32,
        msg: StreamMessage<ProposalPart>,
        expected_proposer: F,
    ) -> Result<bool, AssemblyError>
    where
        F: FnOnce(Height, Round) -> Option<ValidatorAddress>,
    {
        let limits = self.limits;
        let seq = msg.sequence;
        if seq >= limits.max_parts_per_stream {
            return Err(AssemblyError::TooManyParts(limits.max_parts_per_stream));
        }
        // An Init's value (its id needs no transaction), and how many other authenticated
        // streams carry it.
        let init_value = match &msg.content {
            StreamContent::Data(part @ ProposalPart::Init { .. }) => init_value(part),
            _ => None,
        };
        let copies = init_value.as_ref().map_or(0, |v| {
            let id = v.value_id();
            self.streams
                .iter()
                .filter(|(k, s)| *k != key && s.value.as_ref().is_some_and(|x| x.value_id() == id))
                .count()
        });
        if !self.streams.contains_key(key) {
            let opened = self.next_opened;
            self.next_opened += 1;
            let stream = Stream {
                height,
                round,
                opened,
                value: None,
                parts: BTreeMap::new(),
                end: None,
                fin_at: None,
                bytes: 0,
                txs: 0,
            };
            self.streams.insert(key.clone(), stream);
        }
        let verifier = &self.verifier;
        let stream = self.streams.get_mut(key).expect("inserted above");
        let part = match msg.content {
            StreamContent::Fin => {
                match stream.end {
                    Some(end) if end == seq => return Ok(false),
                    Some(end) => return Err(AssemblyError::SecondEnd(end, seq)),
                    None => {}
                }
                if let Some((&last, _)) = stream.parts.last_key_value()
                    && last >= seq
                {
                    return Err(AssemblyError::PastEnd { sequence: last, end: seq });
                }
                if let Some(fin) = stream.fin_at
                    && fin + 1 != seq
                {
                    return Err(AssemblyError::FinNotLast(fin));
                }
                stream.end = Some(seq);
                return Ok(true);
            }
            StreamContent::Data(part) => part,
        };
        if let Some(held) = stream.parts.get(&seq) {
            return if *held == part { Ok(false) } else { Err(AssemblyError::ConflictingPart(seq)) };
        }
        if let Some(end) = stream.end
            && seq >= end
        {
            return Err(AssemblyError::PastEnd { sequence: seq, end });
        }
        let weight = match &part {
            ProposalPart::Init { height: h, round: r, pol_round, proposer, tx_count, signature, .. } => {
                if seq != 0 {
                    return Err(AssemblyError::InitNotFirst(seq));
                }
                if *h != stream.height || r.as_u32() != Some(stream.round) {
                    return Err(AssemblyError::InitMismatch {
                        height: stream.height,
                        round: stream.round,
                        init_height: *h,
                        init_round: r.as_u32(),
                    });
                }
                let max = u64::from(limits.max_txs_per_stream);
                if u64::from(*tx_count) > max {
                    return Err(AssemblyError::TooManyTxs { got: u64::from(*tx_count), max });
                }
                if stream.txs > u64::from(*tx_count) {
                    return Err(AssemblyError::TooManyTxs { got: stream.txs, max: u64::from(*tx_count) });
                }
                // Authenticated here, before any more Data is buffered: the selected proposer,
                // its signature over the value id Init gives.
                let proposer = ValidatorAddress(*proposer);
                let expected = expected_proposer(*h, *r).ok_or(AssemblyError::UnknownProposer(*h, stream.round))?;
                if expected != proposer {
                    return Err(AssemblyError::WrongProposer { got: proposer, expected });
                }
                let value = init_value.expect("an Init part");
                if !verifier.verify_proposal_parts(*r, *pol_round, &value, &proposer, signature) {
                    return Err(AssemblyError::BadSignature);
                }
                if copies >= limits.max_streams_per_value {
                    return Err(AssemblyError::TooManyCopies(copies, value.value_id()));
                }
                // what it held so far now counts as authenticated
                self.unauthenticated_bytes -= stream.bytes;
                stream.value = Some(value);
                SMALL_PART_WEIGHT
            }
            _ if seq == 0 => return Err(AssemblyError::FirstNotInit),
            ProposalPart::Data { txs } => {
                if txs.is_empty() {
                    return Err(AssemblyError::EmptyData(seq));
                }
                let count = stream.txs + txs.len() as u64;
                let max = match stream.parts.get(&0) {
                    Some(ProposalPart::Init { tx_count, .. }) => u64::from(*tx_count),
                    _ => u64::from(limits.max_txs_per_stream),
                };
                if count > max {
                    return Err(AssemblyError::TooManyTxs { got: count, max });
                }
                stream.txs = count;
                txs.iter().fold(0usize, |acc, tx| acc.saturating_add(tx_weight(tx)))
            }
            ProposalPart::Fin => {
                if let Some(fin) = stream.fin_at {
                    return Err(AssemblyError::SecondFin(fin, seq));
                }
                if let Some(end) = stream.end
                    && seq + 1 != end
                {
                    return Err(AssemblyError::FinNotLast(seq));
                }
                if let Some((&last, _)) = stream.parts.last_key_value()
                    && last > seq
                {
                    return Err(AssemblyError::FinNotLast(seq));
                }
                stream.fin_at = Some(seq);
                SMALL_PART_WEIGHT
            }
        };
        // A part after the Fin part.
        if let Some(fin) = stream.fin_at
            && seq > fin
        {
            return Err(AssemblyError::FinNotLast(fin));
        }
        let bytes = stream.bytes.saturating_add(weight);
        if bytes > limits.max_bytes_per_stream {
            return Err(AssemblyError::TooManyBytes(limits.max_bytes_per_stream));
        }
        if stream.messages() + 1 > limits.max_parts_per_stream {
            return Err(AssemblyError::TooManyParts(limits.max_parts_per_stream));
        }
        stream.bytes = bytes;
        if !stream.authenticated() {
            self.unauthenticated_bytes += weight;
        }
        stream.parts.insert(seq, part);
        self.total_bytes += weight;
        Ok(true)
    }

    /// Drops streams ([`Assembler::evict_one`]'s order) while `keep`'s publisher has more than
    /// `max_streams_per_peer` open, then while more than `max_streams` are open, more than
    /// `max_total_bytes` are held, or more than `max_unauthenticated_bytes` by unauthenticated
    /// streams.
    fn enforce_bounds(&mut self, keep: &Key) {
        let limits = self.limits;
        while self.streams.keys().filter(|k| k.0 == keep.0).count() > limits.max_streams_per_peer {
            if !self.evict_one(Some(&keep.0), keep) {
                break;
            }
        }
        while self.streams.len() > limits.max_streams
            || self.total_bytes > limits.max_total_bytes
            || self.unauthenticated_bytes > limits.max_unauthenticated_bytes
        {
            if !self.evict_one(None, keep) {
                break;
            }
        }
    }
}

/// The value an `Init` part announces (`None` for another part).
fn init_value(part: &ProposalPart) -> Option<BlockValue> {
    match part {
        ProposalPart::Init {
            height, proposer, time_ms, parent_hash, parent_state_root, tx_count, txs_root, ..
        } => {
            let header = BlockHeader {
                height: *height,
                time_ms: *time_ms,
                parent_hash: *parent_hash,
                parent_state_root: *parent_state_root,
                producer: *proposer,
            };
            Some(BlockValue::new(header, *tx_count, *txs_root))
        }
        _ => None,
    }
}

/// The checks on a complete, authenticated stream (see the module documentation), then the block.
fn finish(stream: Stream) -> Result<AssembledProposal, AssemblyError> {
    // what arrived, not what Init announced: an Init may claim a million transactions
    let received = usize::try_from(stream.txs).unwrap_or(usize::MAX);
    let mut parts = stream.parts.into_values();
    let Some(ProposalPart::Init { round, pol_round, proposer, tx_count, txs_root, signature, .. }) = parts.next()
    else {
        return Err(AssemblyError::FirstNotInit);
    };
    // Init is verified on arrival: a complete stream has its value
    let Some(value) = stream.value else {
        return Err(AssemblyError::FirstNotInit);
    };
    let mut hasher = TxsRootHasher::new();
    let mut txs = Vec::with_capacity(received);
    let mut fin = false;
    for part in parts {
        match part {
            ProposalPart::Data { txs: chunk } => {
                hasher.extend(&chunk);
                txs.extend(chunk);
            }
            ProposalPart::Fin => fin = true,
            // Refused on arrival; kept total.
            ProposalPart::Init { .. } => return Err(AssemblyError::InitNotFirst(0)),
        }
    }
    if hasher.count() != u64::from(tx_count) {
        return Err(AssemblyError::CountMismatch { announced: tx_count, got: hasher.count() });
    }
    if hasher.finalize() != txs_root {
        return Err(AssemblyError::RootMismatch);
    }
    if !fin {
        return Err(AssemblyError::MissingFin);
    }
    let header = *value.header();
    Ok(AssembledProposal {
        block: Block { header, txs },
        value,
        round,
        pol_round,
        proposer: ValidatorAddress(proposer),
        signature,
    })
}
