//! The plain values consensus agrees on: heights, validator addresses, and the block as proposed.
//!
//! - [`Height`] is a block height (`u64`, the first block after genesis is 1).
//! - [`ValidatorAddress`] wraps gridmint's 32-byte [`Address`] (an ed25519 public key). The wrapper
//!   exists only because of Rust's orphan rule: Malachite's `Address` trait and gridmint's
//!   `Address` type both live in other crates, so the trait cannot be implemented on the type
//!   directly. It orders, prints and compares exactly like the address it wraps.
//! - [`BlockValue`] is the value consensus decides: a block as its producer proposed it, before
//!   execution. It names its height, time, parent block hash, the state root its parent left
//!   (so a replica whose own root after `h - 1` differs refuses the value instead of forking),
//!   its producer, and its ordered signed transactions ([`SignedTxBytes`]).
//! - [`ValueId`] is `blake3("gridmint/consensus/value/v1" ‖ canonical bytes)` of a value; votes
//!   and certificates carry only the id.
//!
//! The value is shared behind an `Arc` and its id is computed once, when it is built or decoded:
//! the engine clones values and asks for their id many times per height, and a block of 100,000
//! transfers is megabytes.
//!
//! Caveat for step 4 of the plan: the engine gossips the signed `Proposal` (which carries the
//! whole value) and writes it to its WAL, even in the `ProposalAndParts` mode. With the
//! transactions inside the value, a large block travels twice (proposal and parts) and must fit
//! the network's `pubsub_max_size` (4 MiB by default). Step 4 has to decide between a larger
//! limit and a value that carries a commitment to the transactions instead of the transactions.

use std::fmt;
use std::sync::Arc;

use gridmint_core::{Address, Tx};
use malachitebft_app_channel::app::types::core as mcore;
use serde::{Deserialize, Serialize};

use crate::wire;

/// Domain tag of value ids.
pub const VALUE_ID_DOMAIN: &[u8] = b"gridmint/consensus/value/v1";

/// Version byte in front of a value's canonical bytes.
pub const VALUE_VERSION: u8 = 1;

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
    /// The producer's time in seconds.
    pub time: u64,
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
    txs: Vec<SignedTxBytes>,
    id: ValueId,
}

/// The value consensus decides: a block as proposed (header and ordered signed transactions).
/// Cheap to clone (shared); its id is computed once.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockValue(Arc<BlockValueInner>);

/// The mirror of a value on the wire (owned, for decoding).
#[derive(Serialize, Deserialize)]
pub(crate) struct ValueWire {
    pub height: u64,
    pub time: u64,
    pub parent_hash: [u8; 32],
    pub parent_state_root: [u8; 32],
    pub producer: [u8; 32],
    pub txs: Vec<SignedTxBytes>,
}

/// The same fields borrowed, for encoding without copying the transactions: serde writes a
/// `&[T]` exactly as a `Vec<T>`, so both mirrors have the same bytes.
#[derive(Serialize)]
struct ValueWireRef<'a> {
    height: u64,
    time: u64,
    parent_hash: &'a [u8; 32],
    parent_state_root: &'a [u8; 32],
    producer: &'a [u8; 32],
    txs: &'a [SignedTxBytes],
}

impl BlockValue {
    /// Builds the value and computes its id.
    pub fn new(header: BlockHeader, txs: Vec<SignedTxBytes>) -> Self {
        let id = compute_id(&header, &txs);
        BlockValue(Arc::new(BlockValueInner { header, txs, id }))
    }

    /// The header fields.
    pub fn header(&self) -> &BlockHeader {
        &self.0.header
    }

    /// The height.
    pub fn height(&self) -> Height {
        self.0.header.height
    }

    /// The ordered signed transactions.
    pub fn txs(&self) -> &[SignedTxBytes] {
        &self.0.txs
    }

    /// The id (computed when the value was built).
    pub fn value_id(&self) -> ValueId {
        self.0.id
    }

    /// The canonical bytes: [`VALUE_VERSION`] then postcard of (height, time, parent hash, parent
    /// state root, producer, then each transaction's signature and canonical bytes).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical_bytes(&self.0.header, &self.0.txs)
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
        let h = &self.0.header;
        ValueWire {
            height: h.height.0,
            time: h.time,
            parent_hash: h.parent_hash,
            parent_state_root: h.parent_state_root,
            producer: h.producer.0,
            txs: self.0.txs.clone(),
        }
    }

    pub(crate) fn from_wire(wire: ValueWire) -> Self {
        let header = BlockHeader {
            height: Height(wire.height),
            time: wire.time,
            parent_hash: wire.parent_hash,
            parent_state_root: wire.parent_state_root,
            producer: Address(wire.producer),
        };
        BlockValue::new(header, wire.txs)
    }
}

fn canonical_bytes(header: &BlockHeader, txs: &[SignedTxBytes]) -> Vec<u8> {
    let wire = ValueWireRef {
        height: header.height.0,
        time: header.time,
        parent_hash: &header.parent_hash,
        parent_state_root: &header.parent_state_root,
        producer: &header.producer.0,
        txs,
    };
    crate::codec::encode_versioned(VALUE_VERSION, &wire)
}

fn compute_id(header: &BlockHeader, txs: &[SignedTxBytes]) -> ValueId {
    let mut hasher = blake3::Hasher::new();
    hasher.update(VALUE_ID_DOMAIN);
    hasher.update(&canonical_bytes(header, txs));
    ValueId(*hasher.finalize().as_bytes())
}

impl fmt::Debug for BlockValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockValue")
            .field("header", &self.0.header)
            .field("txs", &self.0.txs.len())
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
