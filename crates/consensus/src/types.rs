//! The plain values consensus agrees on: heights, validator addresses, and the block as proposed.
//!
//! - [`Height`] is a block height (`u64`, the first block after genesis is 1).
//! - [`ValidatorAddress`] wraps gridmint's 32-byte [`Address`] (an ed25519 public key). The wrapper
//!   exists only because of Rust's orphan rule: Malachite's `Address` trait and gridmint's
//!   `Address` type both live in other crates, so the trait cannot be implemented on the type
//!   directly. It orders, prints and compares exactly like the address it wraps.
//! - [`BlockValue`] is the value consensus decides: a proposed block's header (height, time,
//!   parent block hash, the state root its parent left — so a replica whose own root after
//!   `h - 1` differs refuses the value instead of forking — and producer) and a commitment to its
//!   transactions: their count and [`txs_root`].
//! - [`Block`] is the block in full (header and ordered [`SignedTxBytes`]): what the proposer
//!   streams in parts, what the app executes, what value sync ships. [`Block::value`] is its value.
//! - [`ValueId`] is `blake3("gridmint/consensus/value/v1" ‖ canonical bytes)` of a value; votes
//!   and certificates carry only the id.
//!
//! Why the value holds a commitment and not the transactions (step 4 of the plan): the engine
//! gossips the signed `Proposal`, which carries the whole value, and writes it to its WAL, even in
//! the `ProposalAndParts` mode. With the transactions inside the value, a block of 100,000
//! transfers would travel twice (proposal and parts) and cross the network's 4 MiB message limit.
//! The value is now about 150 bytes whatever the block's size; the transactions travel once, in
//! the parts, and a receiver checks them against [`txs_root`].
//!
//! The value is shared behind an `Arc` and its id is computed once, when it is built or decoded:
//! the engine clones values and asks for their id many times per height.

use std::fmt;
use std::sync::Arc;

use gridmint_core::{Address, Tx};
use malachitebft_app_channel::app::types::core as mcore;
use serde::{Deserialize, Serialize};

use crate::wire;

/// Domain tag of value ids.
pub const VALUE_ID_DOMAIN: &[u8] = b"gridmint/consensus/value/v1";

/// Version byte in front of a value's canonical bytes.
///
/// 2 since step 4 of the plan: version 1 carried the whole block (header and transactions); the
/// engine gossips the signed proposal with its value and writes it to its WAL, so a large block
/// travelled twice and could exceed the network's message limit. Version 2 carries the header,
/// the transaction count and [`txs_root`]. The change was made before any node ran, so no WAL or
/// store holds version 1 bytes and nothing decodes them.
///
/// 3 since heights may be shorter than a second: the header's time is in milliseconds (version 2
/// carried whole seconds, so a chain whose times strictly increase could not decide more than a
/// block a second). A node of version 2 and one of version 3 compute different ids for the same
/// fields, so they never count each other's votes: mixing them stalls, it never forks. A store
/// written under version 2 is refused at start (its decided records cannot rebuild a version 3
/// value); such a node starts again from an empty data dir and syncs.
pub const VALUE_VERSION: u8 = 3;

/// Version byte in front of a [`Block`]'s canonical bytes (what value sync ships): 2 since the
/// header's time is in milliseconds (see [`VALUE_VERSION`]).
pub const BLOCK_VERSION: u8 = 2;

/// Domain tag of [`txs_root`].
pub const TXS_ROOT_DOMAIN: &[u8] = b"gridmint/consensus/txs/v1";

/// A block height. Height 0 is genesis (never decided by consensus); the first block is 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl mcore::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    /// Saturates at `u64::MAX` (unreachable: a block a nanosecond for 584 years).
    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: gridmint's 32-byte address (its ed25519 public key), wrapped so that
/// Malachite's `Address` trait can be implemented for it (orphan rule).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatorAddress(pub Address);

impl ValidatorAddress {
    /// The 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.0
    }
}

impl From<Address> for ValidatorAddress {
    fn from(address: Address) -> Self {
        ValidatorAddress(address)
    }
}

impl fmt::Display for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl mcore::Address for ValidatorAddress {}

/// The id of a [`BlockValue`]: blake3 over [`VALUE_ID_DOMAIN`] and the value's canonical bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ValueId(pub [u8; 32]);

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_string();
        write!(f, "ValueId({}…)", &hex[..12])
    }
}

/// A signed transaction as a block carries it: the signature and the transaction's canonical
/// bytes (`gridmint_core::Tx::encode`), the same pair the node's block record and block hash use.
///
/// Kept as bytes here so that consensus moves and hashes transactions without decoding them, and
/// so that this crate does not depend on the node. The app decodes and verifies them
/// ([`SignedTxBytes::decode_tx`], then the node's strict signature check) before it calls a value
/// valid.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SignedTxBytes {
    /// The 64-byte ed25519 signature.
    #[serde(with = "wire::sig64")]
    pub signature: [u8; 64],
    /// The transaction's canonical bytes.
    pub tx: Vec<u8>,
}

impl SignedTxBytes {
    /// From a transaction and its signature.
    pub fn new(tx: &Tx, signature: [u8; 64]) -> Self {
        SignedTxBytes { signature, tx: tx.encode() }
    }

    /// Decodes the transaction (strictly, as the core does).
    pub fn decode_tx(&self) -> Result<Tx, gridmint_core::tx::DecodeError> {
        Tx::decode(&self.tx)
    }
}

impl fmt::Debug for SignedTxBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignedTxBytes({} bytes)", self.tx.len())
    }
}

/// The header fields of a proposed block (everything but the transactions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockHeader {
    /// The block's height.
    pub height: Height,
    /// The producer's time in milliseconds since the Unix epoch (the ledger takes its whole seconds).
    pub time_ms: u64,
    /// The parent block's hash (the genesis hash for block 1).
    pub parent_hash: [u8; 32],
    /// The state root after the parent block.
    pub parent_state_root: [u8; 32],
    /// The producer (the proposer; paid the block's fees).
    pub producer: Address,
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct BlockValueInner {
    header: BlockHeader,
    tx_count: u32,
    txs_root: [u8; 32],
    id: ValueId,
}

/// The value consensus decides: a proposed block's header and a commitment to its transactions
/// (their count and [`txs_root`]). The transactions travel in the proposal's parts
/// ([`crate::parts`]) and in value sync (as a [`Block`]), never in the value. Cheap to clone
/// (shared); its id is computed once.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockValue(Arc<BlockValueInner>);

/// The mirror of a value on the wire (its canonical bytes after the version byte).
#[derive(Clone, Copy, Serialize, Deserialize)]
pub(crate) struct ValueWire {
    pub height: u64,
    pub time_ms: u64,
    pub parent_hash: [u8; 32],
    pub parent_state_root: [u8; 32],
    pub producer: [u8; 32],
    pub tx_count: u32,
    pub txs_root: [u8; 32],
}

impl BlockValue {
    /// Builds the value and computes its id.
    pub fn new(header: BlockHeader, tx_count: u32, txs_root: [u8; 32]) -> Self {
        let wire = value_wire(&header, tx_count, &txs_root);
        let mut hasher = blake3::Hasher::new();
        hasher.update(VALUE_ID_DOMAIN);
        hasher.update(&crate::codec::encode_versioned(VALUE_VERSION, &wire));
        let id = ValueId(*hasher.finalize().as_bytes());
        BlockValue(Arc::new(BlockValueInner { header, tx_count, txs_root, id }))
    }

    /// The header fields.
    pub fn header(&self) -> &BlockHeader {
        &self.0.header
    }

    /// The height.
    pub fn height(&self) -> Height {
        self.0.header.height
    }

    /// How many transactions the block holds.
    pub fn tx_count(&self) -> u32 {
        self.0.tx_count
    }

    /// The commitment to the ordered transactions ([`txs_root`]).
    pub fn txs_root(&self) -> [u8; 32] {
        self.0.txs_root
    }

    /// The id (computed when the value was built).
    pub fn value_id(&self) -> ValueId {
        self.0.id
    }

    /// Whether `block` is the block this value commits to (same header, count and root).
    pub fn commits_to(&self, block: &Block) -> bool {
        block.value().value_id() == self.value_id()
    }

    /// The canonical bytes: [`VALUE_VERSION`] then postcard of (height, time in ms, parent hash, parent
    /// state root, producer, transaction count, transactions root).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        crate::codec::encode_versioned(VALUE_VERSION, &self.to_wire())
    }

    /// Inverse of [`BlockValue::canonical_bytes`]: strict (version, no trailing bytes, canonical).
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, crate::codec::CodecError> {
        let wire: ValueWire = crate::codec::decode_versioned(VALUE_VERSION, bytes)?;
        let value = BlockValue::from_wire(wire);
        if value.canonical_bytes() != bytes {
            return Err(crate::codec::CodecError::NonCanonical);
        }
        Ok(value)
    }

    pub(crate) fn to_wire(&self) -> ValueWire {
        value_wire(&self.0.header, self.0.tx_count, &self.0.txs_root)
    }

    pub(crate) fn from_wire(wire: ValueWire) -> Self {
        BlockValue::new(
            header_from(wire.height, wire.time_ms, wire.parent_hash, wire.parent_state_root, wire.producer),
            wire.tx_count,
            wire.txs_root,
        )
    }
}

fn value_wire(h: &BlockHeader, tx_count: u32, txs_root: &[u8; 32]) -> ValueWire {
    ValueWire {
        height: h.height.0,
        time_ms: h.time_ms,
        parent_hash: h.parent_hash,
        parent_state_root: h.parent_state_root,
        producer: h.producer.0,
        tx_count,
        txs_root: *txs_root,
    }
}

fn header_from(
    height: u64,
    time_ms: u64,
    parent_hash: [u8; 32],
    parent_state_root: [u8; 32],
    producer: [u8; 32],
) -> BlockHeader {
    BlockHeader { height: Height(height), time_ms, parent_hash, parent_state_root, producer: Address(producer) }
}

/// Computes [`txs_root`] one transaction at a time, so that a receiver hashes Data parts as they
/// arrive. The result depends only on the ordered transactions, never on how they were split
/// into parts.
#[derive(Clone, Debug)]
pub struct TxsRootHasher {
    hasher: blake3::Hasher,
    count: u64,
}

impl Default for TxsRootHasher {
    fn default() -> Self {
        TxsRootHasher::new()
    }
}

impl TxsRootHasher {
    /// An empty hasher (the domain tag already absorbed).
    pub fn new() -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(TXS_ROOT_DOMAIN);
        TxsRootHasher { hasher, count: 0 }
    }

    /// Absorbs the next transaction: its signature, its length (u64 LE) and its bytes.
    pub fn push(&mut self, tx: &SignedTxBytes) {
        self.hasher.update(&tx.signature);
        self.hasher.update(&(tx.tx.len() as u64).to_le_bytes());
        self.hasher.update(&tx.tx);
        self.count += 1;
    }

    /// Absorbs transactions in order.
    pub fn extend<'a>(&mut self, txs: impl IntoIterator<Item = &'a SignedTxBytes>) {
        for tx in txs {
            self.push(tx);
        }
    }

    /// How many transactions were absorbed.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The root of the transactions absorbed so far.
    pub fn finalize(&self) -> [u8; 32] {
        *self.hasher.finalize().as_bytes()
    }
}

/// The commitment to a block's ordered transactions:
/// `blake3(TXS_ROOT_DOMAIN ‖ for each tx in order: signature (64 bytes) ‖ len (u64 LE) ‖ bytes)`.
///
/// Each transaction is length-framed, so the sequence is uniquely decodable from the hashed bytes
/// (no two different transaction lists hash the same bytes); the count is in the value beside it.
/// A flat hash rather than a Merkle tree: a receiver needs every transaction anyway, and a flat
/// hash is computed incrementally as the parts arrive (see [`TxsRootHasher`]).
pub fn txs_root(txs: &[SignedTxBytes]) -> [u8; 32] {
    let mut hasher = TxsRootHasher::new();
    hasher.extend(txs);
    hasher.finalize()
}

/// A proposed block in full: its header and its ordered signed transactions. What the proposer
/// builds, what the app executes, and what value sync ships ([`Block::canonical_bytes`]); its
/// consensus value is [`Block::value`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The header fields.
    pub header: BlockHeader,
    /// The ordered signed transactions (at most `u32::MAX`).
    pub txs: Vec<SignedTxBytes>,
}

#[derive(Serialize, Deserialize)]
struct BlockWire {
    height: u64,
    time_ms: u64,
    parent_hash: [u8; 32],
    parent_state_root: [u8; 32],
    producer: [u8; 32],
    txs: Vec<SignedTxBytes>,
}

/// The same fields borrowed, for encoding without copying the transactions: serde writes a
/// `&[T]` exactly as a `Vec<T>`, so both mirrors have the same bytes.
#[derive(Serialize)]
struct BlockWireRef<'a> {
    height: u64,
    time_ms: u64,
    parent_hash: &'a [u8; 32],
    parent_state_root: &'a [u8; 32],
    producer: &'a [u8; 32],
    txs: &'a [SignedTxBytes],
}

impl Block {
    /// The value consensus decides for this block: the header, the count and [`txs_root`].
    ///
    /// # Panics
    ///
    /// If the block holds more than `u32::MAX` transactions (hundreds of gigabytes: no decoder or
    /// assembler of this crate builds such a block).
    pub fn value(&self) -> BlockValue {
        let count = u32::try_from(self.txs.len()).expect("a block holds at most u32::MAX transactions");
        BlockValue::new(self.header, count, txs_root(&self.txs))
    }

    /// The canonical bytes (what value sync ships): [`BLOCK_VERSION`] then postcard of (height,
    /// time in ms, parent hash, parent state root, producer, then each transaction's signature and
    /// canonical bytes).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let h = &self.header;
        let wire = BlockWireRef {
            height: h.height.0,
            time_ms: h.time_ms,
            parent_hash: &h.parent_hash,
            parent_state_root: &h.parent_state_root,
            producer: &h.producer.0,
            txs: &self.txs,
        };
        crate::codec::encode_versioned(BLOCK_VERSION, &wire)
    }

    /// Inverse of [`Block::canonical_bytes`]: strict (version, no trailing bytes, canonical, at
    /// most `u32::MAX` transactions).
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, crate::codec::CodecError> {
        let w: BlockWire = crate::codec::decode_versioned(BLOCK_VERSION, bytes)?;
        if u32::try_from(w.txs.len()).is_err() {
            return Err(crate::codec::CodecError::NonCanonical);
        }
        let block = Block {
            header: header_from(w.height, w.time_ms, w.parent_hash, w.parent_state_root, w.producer),
            txs: w.txs,
        };
        if block.canonical_bytes() != bytes {
            return Err(crate::codec::CodecError::NonCanonical);
        }
        Ok(block)
    }
}

impl fmt::Debug for BlockValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockValue")
            .field("header", &self.0.header)
            .field("tx_count", &self.0.tx_count)
            .field("id", &self.0.id)
            .finish()
    }
}

impl mcore::Value for BlockValue {
    type Id = ValueId;

    fn id(&self) -> ValueId {
        self.0.id
    }
}
