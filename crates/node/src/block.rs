//! Blocks as the node stores and serves them.

use crate::signing::SignedTx;
use gridmint_core::{Address, Receipt, Tx};
use serde::Serialize;

/// A committed block: header, signed transactions in order, and their receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlock {
    /// Height (1 for the first block after genesis).
    pub height: u64,
    /// The producer's time in seconds (never goes backwards).
    pub time: u64,
    /// The previous block's hash (the genesis hash for block 1).
    pub parent: [u8; 32],
    /// The producer (paid the fees, NM14).
    pub producer: Address,
    /// The state root after the block.
    pub state_root: [u8; 32],
    /// The transactions.
    pub txs: Vec<SignedTx>,
    /// One receipt per transaction.
    pub receipts: Vec<Receipt>,
    /// Epochs this block closed before its transactions.
    pub closed_epochs: Vec<u64>,
}

/// Where a committed transaction is, with its receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TxLocation {
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// 0 when applied, else the error code (docs/ERRORS.md).
    pub code: u16,
    /// Fee paid.
    #[serde(with = "gridmint_core::serde_u128")]
    pub fee: u128,
}

impl TxLocation {
    /// 30 bytes: height, index, code, fee (little-endian).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(30);
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.index.to_le_bytes());
        out.extend_from_slice(&self.code.to_le_bytes());
        out.extend_from_slice(&self.fee.to_le_bytes());
        out
    }

    /// Inverse of [`TxLocation::encode`].
    pub fn decode(bytes: &[u8]) -> Result<TxLocation, String> {
        let mut r = Reader(bytes);
        let location = TxLocation { height: r.u64()?, index: r.u32()?, code: r.u16()?, fee: r.u128()? };
        r.end()?;
        Ok(location)
    }
}

/// blake3 of a genesis record: block 1's parent.
pub fn genesis_hash(genesis: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"gridmint/genesis/v1");
    h.update(genesis);
    *h.finalize().as_bytes()
}

/// The domain prefix of block hashes.
pub const BLOCK_HASH_DOMAIN: &[u8] = b"gridmint/block/v1";

impl StoredBlock {
    /// The hash of its transactions: blake3 over each one's signature and canonical bytes.
    pub fn txs_hash(&self) -> [u8; 32] {
        let mut txs = blake3::Hasher::new();
        for tx in &self.txs {
            txs.update(&tx.signature);
            txs.update(&tx.tx.encode());
        }
        *txs.finalize().as_bytes()
    }

    /// The block hash: over the header and the hash of its transactions.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(BLOCK_HASH_DOMAIN);
        h.update(&self.height.to_le_bytes());
        h.update(&self.time.to_le_bytes());
        h.update(&self.parent);
        h.update(&self.producer.0);
        h.update(&self.state_root);
        h.update(&self.txs_hash());
        *h.finalize().as_bytes()
    }

    /// Binary record: header, then each transaction (signature, length, canonical bytes), then
    /// each receipt (code, fee), then the closed epochs.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.txs.len() * 200);
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.time.to_le_bytes());
        out.extend_from_slice(&self.parent);
        out.extend_from_slice(&self.producer.0);
        out.extend_from_slice(&self.state_root);
        out.extend_from_slice(&(self.txs.len() as u32).to_le_bytes());
        for tx in &self.txs {
            out.extend_from_slice(&tx.signature);
            let bytes = tx.tx.encode();
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(&bytes);
        }
        for receipt in &self.receipts {
            out.extend_from_slice(&receipt.code.to_le_bytes());
            out.extend_from_slice(&receipt.fee.to_le_bytes());
        }
        out.extend_from_slice(&(self.closed_epochs.len() as u32).to_le_bytes());
        for epoch in &self.closed_epochs {
            out.extend_from_slice(&epoch.to_le_bytes());
        }
        out
    }

    /// Inverse of [`StoredBlock::encode`]; strict (no trailing bytes).
    pub fn decode(bytes: &[u8]) -> Result<StoredBlock, String> {
        let mut r = Reader(bytes);
        let height = r.u64()?;
        let time = r.u64()?;
        let parent = r.b32()?;
        let producer = Address(r.b32()?);
        let state_root = r.b32()?;
        let count = r.u32()? as usize;
        let mut txs = Vec::with_capacity(count.min(1 << 20));
        for _ in 0..count {
            let signature: [u8; 64] = r.take(64)?.try_into().map_err(|_| "short signature")?;
            let len = r.u32()? as usize;
            let tx = Tx::decode(r.take(len)?).map_err(|e| format!("transaction: {e}"))?;
            txs.push(SignedTx { tx, signature });
        }
        let mut receipts = Vec::with_capacity(count.min(1 << 20));
        for tx in &txs {
            receipts.push(Receipt { tx_id: tx.id(), code: r.u16()?, fee: r.u128()? });
        }
        let closed = r.u32()? as usize;
        let closed_epochs = (0..closed).map(|_| r.u64()).collect::<Result<_, _>>()?;
        r.end()?;
        Ok(StoredBlock { height, time, parent, producer, state_root, txs, receipts, closed_epochs })
    }
}

/// Encodes reward leaves: 32-byte address ‖ 16-byte LE total, repeated.
pub fn encode_leaves(leaves: &[(Address, u128)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(leaves.len() * 48);
    for (address, total) in leaves {
        out.extend_from_slice(&address.0);
        out.extend_from_slice(&total.to_le_bytes());
    }
    out
}

/// Inverse of [`encode_leaves`].
pub fn decode_leaves(bytes: &[u8]) -> Result<Vec<(Address, u128)>, String> {
    if !bytes.len().is_multiple_of(48) {
        return Err("leaves record is not a whole number of leaves".into());
    }
    let mut r = Reader(bytes);
    let mut out = Vec::with_capacity(bytes.len() / 48);
    while !r.0.is_empty() {
        out.push((Address(r.b32()?), r.u128()?));
    }
    Ok(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("record ends early".into());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().map_err(|_| "u16")?))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| "u32")?))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| "u64")?))
    }
    fn u128(&mut self) -> Result<u128, String> {
        Ok(u128::from_le_bytes(self.take(16)?.try_into().map_err(|_| "u128")?))
    }
    fn b32(&mut self) -> Result<[u8; 32], String> {
        self.take(32)?.try_into().map_err(|_| "bytes32".to_string())
    }
    fn end(&self) -> Result<(), String> {
        if self.0.is_empty() { Ok(()) } else { Err(format!("{} trailing bytes", self.0.len())) }
    }
}
