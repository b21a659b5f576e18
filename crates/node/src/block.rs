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
    /// Varints (postcard): height, index, code, fee — 5 to 10 bytes for most transactions (a
    /// heartbeat's entry is one of millions a day, so every byte of it counts).
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(&(self.height, self.index, self.code, self.fee)).expect("integers serialize")
    }

    /// Inverse of [`TxLocation::encode`]; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<TxLocation, String> {
        let ((height, index, code, fee), rest) = postcard::take_from_bytes::<(u64, u32, u16, u128)>(bytes)
            .map_err(|e| format!("not a transaction location: {e}"))?;
        if !rest.is_empty() {
            return Err(format!("{} bytes after a transaction location", rest.len()));
        }
        Ok(TxLocation { height, index, code, fee })
    }
}

/// The length of an `account_txs` key: the account (32), the height (8, big-endian) and the
/// index in the block (4, big-endian), so that an account's entries are one range, in chain order.
pub const ACCOUNT_TX_KEY_LEN: usize = 44;

/// How an account appears in a transaction of its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    /// It signed the transaction (and paid its fee).
    Signer,
    /// The transaction names it: a recipient, a machine, a validator staked on, a customer…
    /// ([`gridmint_core::TxBody::named_accounts`]).
    Named,
}

/// One entry of an account's list of transactions (the `account_txs` table): enough to show a
/// line of the list without reading the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountTx {
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// The transaction id.
    pub id: [u8; 32],
    /// Its kind's tag ([`gridmint_core::TxBody::tag`]).
    pub kind: u8,
    /// How the account appears in it.
    pub role: AccountRole,
    /// 0 when applied, else the error code.
    pub code: u16,
    /// The amount its body names ([`gridmint_core::TxBody::amount`]; 0 if none).
    pub amount: u128,
}

/// The `account_txs` key of `account`'s entry for the transaction at (`height`, `index`).
pub fn account_tx_key(account: &Address, height: u64, index: u32) -> [u8; ACCOUNT_TX_KEY_LEN] {
    let mut key = [0u8; ACCOUNT_TX_KEY_LEN];
    key[..32].copy_from_slice(&account.0);
    key[32..40].copy_from_slice(&height.to_be_bytes());
    key[40..].copy_from_slice(&index.to_be_bytes());
    key
}

impl AccountTx {
    /// The value stored under its key: the id, then varints (postcard) of kind, role, code and
    /// amount.
    pub fn encode_value(&self) -> Vec<u8> {
        let mut out = self.id.to_vec();
        let role = self.role as u8;
        out.extend(postcard::to_allocvec(&(self.kind, role, self.code, self.amount)).expect("integers serialize"));
        out
    }

    /// Inverse of [`AccountTx::encode_value`] with the key's height and index; anything
    /// malformed or trailing is an error.
    pub fn decode(key: &[u8; ACCOUNT_TX_KEY_LEN], value: &[u8]) -> Result<AccountTx, String> {
        let (id, rest) = value.split_first_chunk::<32>().ok_or("an account entry shorter than an id")?;
        let ((kind, role, code, amount), rest) =
            postcard::take_from_bytes::<(u8, u8, u16, u128)>(rest).map_err(|e| format!("not an account entry: {e}"))?;
        if !rest.is_empty() {
            return Err(format!("{} bytes after an account entry", rest.len()));
        }
        let role = match role {
            0 => AccountRole::Signer,
            1 => AccountRole::Named,
            other => return Err(format!("role {other} is not one")),
        };
        if gridmint_core::TxBody::kind_name_of_tag(kind).is_none() {
            return Err(format!("kind {kind} is not one"));
        }
        Ok(AccountTx {
            height: u64::from_be_bytes(key[32..40].try_into().expect("8 bytes")),
            index: u32::from_be_bytes(key[40..].try_into().expect("4 bytes")),
            id: *id,
            kind,
            role,
            code,
            amount,
        })
    }
}

/// Every `account_txs` entry `block` writes, per transaction: one for its signer (failed ones
/// included: the signer paid a fee) and, when it was applied, one for each other account its
/// body names ([`gridmint_core::TxBody::named_accounts`], in the body's order). Heartbeats write none: a machine's are its online slots, shown from the heartbeat
/// bitmaps, and they are most of a large fleet's transactions.
pub fn account_entries(block: &StoredBlock) -> Vec<([u8; ACCOUNT_TX_KEY_LEN], AccountTx)> {
    let mut out = Vec::new();
    for (index, (signed, receipt)) in block.txs.iter().zip(&block.receipts).enumerate() {
        let body = &signed.tx.body;
        if matches!(body, gridmint_core::TxBody::Heartbeat { .. }) {
            continue;
        }
        let index = index as u32;
        let entry = |role| AccountTx {
            height: block.height,
            index,
            id: receipt.tx_id,
            kind: body.tag(),
            role,
            code: receipt.code,
            amount: body.amount().unwrap_or(0),
        };
        let mut seen = vec![signed.tx.signer];
        out.push((account_tx_key(&signed.tx.signer, block.height, index), entry(AccountRole::Signer)));
        // a failed transaction changed nothing but its signer's fee and nonce (G10): it is not
        // listed for the accounts it names, or anyone could write rows into anyone's list
        if receipt.code != 0 {
            continue;
        }
        for named in body.named_accounts() {
            if !seen.contains(&named) {
                seen.push(named);
                out.push((account_tx_key(&named, block.height, index), entry(AccountRole::Named)));
            }
        }
    }
    out
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
        gridmint_core::snapshot::block_hash(
            BLOCK_HASH_DOMAIN,
            self.height,
            self.time,
            &self.parent,
            &self.producer,
            &self.state_root,
            &self.txs_hash(),
        )
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

/// Bytes of a stored block's header: height, time, parent, producer, state root, transaction
/// count (the start of [`StoredBlock::encode`]).
pub const HEADER_BYTES: usize = 8 + 8 + 32 + 32 + 32 + 4;

/// A stored block's header without its transactions: what a list of blocks shows, read from the
/// first [`HEADER_BYTES`] of the block's record ([`crate::store::Store::block_header`]) so that
/// listing blocks costs the same whatever their size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// Height.
    pub height: u64,
    /// The producer's time in seconds.
    pub time: u64,
    /// The previous block's hash.
    pub parent: [u8; 32],
    /// The producer.
    pub producer: Address,
    /// The state root after the block.
    pub state_root: [u8; 32],
    /// How many transactions it holds.
    pub tx_count: u32,
}

impl BlockHeader {
    /// The header at the start of an encoded block (at least [`HEADER_BYTES`]; the rest is
    /// not read).
    pub fn decode(bytes: &[u8]) -> Result<BlockHeader, String> {
        let mut r = Reader(bytes.get(..HEADER_BYTES).ok_or("a block record shorter than its header")?);
        Ok(BlockHeader {
            height: r.u64()?,
            time: r.u64()?,
            parent: r.b32()?,
            producer: Address(r.b32()?),
            state_root: r.b32()?,
            tx_count: r.u32()?,
        })
    }
}

/// Bytes of a stored receipt: code u16 ‖ fee u128 (LE), after every transaction of the block.
pub const RECEIPT_BYTES: usize = 2 + 16;

/// A window of a stored block's transactions ([`decode_page`]): what the explorer's block page
/// shows, and the one transaction `/tx/{id}` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPage {
    /// The block's header (its `tx_count` is the whole block's).
    pub header: BlockHeader,
    /// The block's hash ([`StoredBlock::hash`]), when asked for.
    pub hash: Option<[u8; 32]>,
    /// The position of the first row.
    pub from: usize,
    /// The transactions `from..from + limit` (fewer at the block's end) with their receipts.
    pub rows: Vec<(SignedTx, Receipt)>,
    /// Epochs the block closed before its transactions.
    pub closed_epochs: Vec<u64>,
}

/// The transactions `from..from + limit` of an encoded block ([`StoredBlock::encode`]) with
/// their receipts, decoding only those: the others are stepped over by their length prefix
/// (and, with `hash`, fed to the block hash's transaction hasher, which covers their bytes as
/// stored), their receipts indexed at a fixed width. The record is checked as strictly as by
/// [`StoredBlock::decode`] (lengths, no trailing bytes), though the transactions outside the
/// window are not parsed. The stored format has no per-transaction index, so the walk over the
/// length prefixes stays (a few nanoseconds a transaction); what is saved is the decoding, the
/// ids and the allocations of the rows not shown.
pub fn decode_page(bytes: &[u8], from: usize, limit: usize, hash: bool) -> Result<BlockPage, String> {
    let header = BlockHeader::decode(bytes)?;
    let mut r = Reader(&bytes[HEADER_BYTES..]);
    let count = header.tx_count as usize;
    let end = from.saturating_add(limit).min(count);
    let mut hasher = hash.then(blake3::Hasher::new);
    let mut txs = Vec::with_capacity(end.saturating_sub(from));
    for i in 0..count {
        let signature = r.take(64)?;
        let len = r.u32()? as usize;
        let body = r.take(len)?;
        if let Some(h) = hasher.as_mut() {
            h.update(signature);
            h.update(body);
        }
        if i >= from && i < end {
            let tx = Tx::decode(body).map_err(|e| format!("transaction {i}: {e}"))?;
            txs.push(SignedTx { tx, signature: signature.try_into().map_err(|_| "short signature")? });
        }
    }
    let receipts = r.take(count.checked_mul(RECEIPT_BYTES).ok_or("too many receipts")?)?;
    let rows = txs
        .into_iter()
        .enumerate()
        .map(|(k, tx)| {
            let at = (from + k) * RECEIPT_BYTES;
            let code = u16::from_le_bytes(receipts[at..at + 2].try_into().expect("2 bytes"));
            let fee = u128::from_le_bytes(receipts[at + 2..at + RECEIPT_BYTES].try_into().expect("16 bytes"));
            let receipt = Receipt { tx_id: tx.id(), code, fee };
            (tx, receipt)
        })
        .collect();
    let closed = r.u32()? as usize;
    let closed_epochs = (0..closed).map(|_| r.u64()).collect::<Result<_, _>>()?;
    r.end()?;
    let hash = hasher.map(|h| {
        gridmint_core::snapshot::block_hash(
            BLOCK_HASH_DOMAIN,
            header.height,
            header.time,
            &header.parent,
            &header.producer,
            &header.state_root,
            h.finalize().as_bytes(),
        )
    });
    Ok(BlockPage { header, hash, from, rows, closed_epochs })
}

/// Bytes of one reward leaf ([`encode_leaves`]).
pub const LEAF_BYTES: usize = 48;
/// Leaves per stored chunk, a power of two: each full chunk is a whole subtree of the rewards
/// tree, so an account's total, and its proof (X2), read the epoch's directory (64 bytes a
/// chunk: its first address and its root) and one chunk of 48 KiB, whatever the number of
/// accounts (redb gives it 64 KiB of pages: a quarter of them is the price of aligned subtrees).
pub const LEAF_CHUNK: usize = 1024;

/// The key of an epoch's leaf chunk: epoch (BE) ‖ chunk index (BE).
pub fn chunk_key(epoch: u64, chunk: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&epoch.to_be_bytes());
    key[8..].copy_from_slice(&chunk.to_be_bytes());
    key
}

/// The directory of encoded leaves: their count (u64 LE) ‖ for each chunk of [`LEAF_CHUNK`], its
/// first address and its rewards-tree root ([`gridmint_core::rewards_chunk_root`]).
pub fn leaf_directory(leaves: &[u8]) -> Vec<u8> {
    let count = leaves.len() / LEAF_BYTES;
    let mut out = Vec::with_capacity(8 + count.div_ceil(LEAF_CHUNK) * 64);
    out.extend_from_slice(&(count as u64).to_le_bytes());
    for chunk in leaves.chunks(LEAF_CHUNK * LEAF_BYTES) {
        out.extend_from_slice(&chunk[..32]);
        out.extend_from_slice(&chunk_root(chunk));
    }
    out
}

/// The rewards-tree root of one encoded chunk of leaves (an undecodable chunk: zero).
pub fn chunk_root(chunk: &[u8]) -> [u8; 32] {
    decode_leaves(chunk).map_or([0; 32], |leaves| gridmint_core::rewards_chunk_root(&leaves))
}

/// A leaf directory: the count, and each chunk's first address and root.
pub type LeafDirectory = (u64, Vec<[u8; 32]>, Vec<[u8; 32]>);

/// Inverse of [`leaf_directory`].
pub fn decode_leaf_directory(bytes: &[u8]) -> Result<LeafDirectory, String> {
    if bytes.len() < 8 || !(bytes.len() - 8).is_multiple_of(64) {
        return Err(format!("a leaf directory of {} bytes", bytes.len()));
    }
    let count = u64::from_le_bytes(bytes[..8].try_into().map_err(|_| "count")?);
    let entry = |c: &[u8], at: usize| -> [u8; 32] { c[at..at + 32].try_into().unwrap_or([0; 32]) };
    let firsts: Vec<[u8; 32]> = bytes[8..].chunks(64).map(|c| entry(c, 0)).collect();
    let roots: Vec<[u8; 32]> = bytes[8..].chunks(64).map(|c| entry(c, 32)).collect();
    if count.div_ceil(LEAF_CHUNK as u64) != firsts.len() as u64 {
        return Err(format!("{count} leaves in {} chunks", firsts.len()));
    }
    if !firsts.windows(2).all(|w| w[0] < w[1]) {
        return Err("its chunks are not in address order".into());
    }
    Ok((count, firsts, roots))
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

/// An epoch's explain header: `min_online_slots u32 ‖ qualifying_weight u128 ‖ machines u64 ‖
/// owners u64` (LE). The machines are stored per owner ([`explain_by_owner`]), so explaining one
/// account reads only its own.
pub fn encode_explain_header(record: &gridmint_core::apply::ExplainRecord, owners: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(36);
    out.extend_from_slice(&record.min_online_slots.to_le_bytes());
    out.extend_from_slice(&record.qualifying_weight.to_le_bytes());
    out.extend_from_slice(&(record.machines.len() as u64).to_le_bytes());
    out.extend_from_slice(&(owners as u64).to_le_bytes());
    out
}

/// An explain header: (min_online_slots, qualifying_weight, machines, owners).
pub fn decode_explain_header(bytes: &[u8]) -> Result<(u32, u128, u64, u64), String> {
    let mut r = Reader(bytes);
    let header = (r.u32()?, r.u128()?, r.u64()?, r.u64()?);
    r.end()?;
    Ok(header)
}

/// The key of an owner's explain record: epoch (big-endian, so an epoch's owners are adjacent)
/// ‖ owner.
pub fn explain_key(epoch: u64, owner: &Address) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..8].copy_from_slice(&epoch.to_be_bytes());
    key[8..].copy_from_slice(&owner.0);
    key
}

/// The most bytes of owners' records in one stored explain chunk (unless a single owner's
/// records are larger): one B-tree entry per owner would cost more in B-tree overhead than the
/// record, and redb rounds a large value's pages up to a power of two, so chunks are cut to fill
/// 64 KiB. Explaining one account reads one chunk.
pub const OWNER_CHUNK_BYTES: usize = 65_536 - 512;

/// An explain chunk with its key ([`explain_key`] of its first owner).
pub type ExplainChunk = ([u8; 40], Vec<u8>);

/// An epoch's machines grouped by owner ([`encode_owner_explain`]), the owners in address order
/// and cut into chunks of at most [`OWNER_CHUNK_BYTES`], each keyed by [`explain_key`] of its first owner and
/// holding `owner 32 ‖ length u32 LE ‖ record` per owner ([`find_owner_record`] reads it);
/// `id_of` gives a machine's id (machine ids never change). Returns the chunks, in key order,
/// and the number of owners.
pub fn explain_by_owner(
    epoch: u64,
    record: &gridmint_core::apply::ExplainRecord,
    id_of: impl Fn(&Address) -> Option<u32>,
) -> (Vec<ExplainChunk>, usize) {
    let mut groups: std::collections::BTreeMap<Address, Vec<u8>> = std::collections::BTreeMap::new();
    for m in &record.machines {
        // every machine in a close's record is registered; u32::MAX would fail to decode
        let id = id_of(&m.view.machine).unwrap_or(u32::MAX);
        encode_owner_explain(groups.entry(m.view.owner).or_default(), m, id);
    }
    let owners = groups.len();
    let mut chunks: Vec<ExplainChunk> = Vec::new();
    for (owner, record) in groups {
        let size = 32 + 4 + record.len();
        match chunks.last_mut() {
            Some((_, bytes)) if bytes.len() + size <= OWNER_CHUNK_BYTES => {}
            _ => chunks.push((explain_key(epoch, &owner), Vec::new())),
        }
        let bytes = &mut chunks.last_mut().expect("a chunk was just made").1;
        bytes.extend_from_slice(&owner.0);
        bytes.extend_from_slice(&(record.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&record);
    }
    (chunks, owners)
}

/// `owner`'s record in an explain chunk ([`explain_by_owner`]), if the chunk holds one.
pub fn find_owner_record<'a>(chunk: &'a [u8], owner: &Address) -> Result<Option<&'a [u8]>, String> {
    let mut r = Reader(chunk);
    while !r.0.is_empty() {
        let this = r.b32()?;
        let length = r.u32()? as usize;
        let record = r.take(length)?;
        if this == owner.0 {
            return Ok(Some(record));
        }
    }
    Ok(None)
}

/// One machine of an owner's explain record, as postcard writes it: every integer a varint, the
/// machine by its id (the owner is the key's), so that a machine costs ≈ 30 bytes a day, not
/// the 80 of fixed-width fields with its address.
#[derive(serde::Serialize, serde::Deserialize)]
struct ExplainEntry {
    machine: u32,
    gpu_class: u8,
    bandwidth_mbps: u32,
    online_slots: u16,
    /// 1 forfeited, 2 qualified.
    flags: u8,
    weight: u64,
    rewards_total: u128,
    earned: u128,
}

/// Appends machine `id`'s entry to an owner's explain record.
pub fn encode_owner_explain(out: &mut Vec<u8>, m: &gridmint_core::apply::ExplainMachine, id: u32) {
    let entry = ExplainEntry {
        machine: id,
        gpu_class: m.view.gpu_class,
        bandwidth_mbps: m.view.bandwidth_mbps,
        online_slots: m.view.online_slots,
        flags: u8::from(m.view.forfeited) | (u8::from(m.qualified) << 1),
        weight: m.view.weight,
        rewards_total: m.view.rewards_total,
        earned: m.earned,
    };
    out.extend_from_slice(&postcard::to_stdvec(&entry).expect("an entry serializes"));
}

/// [`decode_owner_explain`] without the addresses: each machine's id with its entry (the
/// machine's address left zero), so that a caller decodes outside the ledger's lock and looks up,
/// under it, only the addresses it shows.
pub fn decode_owner_entries(
    owner: Address,
    bytes: &[u8],
) -> Result<Vec<(u32, gridmint_core::apply::ExplainMachine)>, String> {
    let mut rest = bytes;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (entry, tail): (ExplainEntry, &[u8]) =
            postcard::take_from_bytes(rest).map_err(|e| format!("explain record: {e}"))?;
        rest = tail;
        if entry.flags > 3 {
            return Err(format!("explain flags {}", entry.flags));
        }
        out.push((
            entry.machine,
            gridmint_core::apply::ExplainMachine {
                view: gridmint_core::connection_reward::MachineView {
                    machine: Address([0; 32]),
                    owner,
                    gpu_class: entry.gpu_class,
                    bandwidth_mbps: entry.bandwidth_mbps,
                    online_slots: entry.online_slots,
                    forfeited: entry.flags & 1 != 0,
                    weight: entry.weight,
                    rewards_total: entry.rewards_total,
                },
                qualified: entry.flags & 2 != 0,
                earned: entry.earned,
            },
        ));
    }
    Ok(out)
}

/// Inverse of [`encode_owner_explain`] over a whole record of `owner`; `address_of` gives a
/// machine id's address.
pub fn decode_owner_explain(
    owner: Address,
    bytes: &[u8],
    address_of: impl Fn(u32) -> Option<Address>,
) -> Result<Vec<gridmint_core::apply::ExplainMachine>, String> {
    let mut rest = bytes;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (entry, tail): (ExplainEntry, &[u8]) =
            postcard::take_from_bytes(rest).map_err(|e| format!("explain record: {e}"))?;
        rest = tail;
        if entry.flags > 3 {
            return Err(format!("explain flags {}", entry.flags));
        }
        let machine = address_of(entry.machine).ok_or_else(|| format!("no machine {}", entry.machine))?;
        out.push(gridmint_core::apply::ExplainMachine {
            view: gridmint_core::connection_reward::MachineView {
                machine,
                owner,
                gpu_class: entry.gpu_class,
                bandwidth_mbps: entry.bandwidth_mbps,
                online_slots: entry.online_slots,
                forfeited: entry.flags & 1 != 0,
                weight: entry.weight,
                rewards_total: entry.rewards_total,
            },
            qualified: entry.flags & 2 != 0,
            earned: entry.earned,
        });
    }
    Ok(out)
}

/// One machine's entry in an epoch's explain record ([`find_machine_explain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineEpoch {
    /// Slots marked online in the epoch.
    pub online_slots: u16,
    /// Forfeited the epoch's reward (NM9).
    pub forfeited: bool,
    /// Qualified for the connection reward at the close.
    pub qualified: bool,
    /// Its connection weight.
    pub weight: u64,
    /// Its cumulative rewards as the close found them (before what it paid).
    pub rewards_total: u128,
    /// What the close paid it.
    pub earned: u128,
}

/// Machine `id`'s entry in an owner's explain record ([`encode_owner_explain`]), reading the
/// entries before it only (the explorer's heat strip of one machine).
pub fn find_machine_explain(bytes: &[u8], id: u32) -> Result<Option<MachineEpoch>, String> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let (entry, tail): (ExplainEntry, &[u8]) =
            postcard::take_from_bytes(rest).map_err(|e| format!("explain record: {e}"))?;
        rest = tail;
        if entry.machine == id {
            return Ok(Some(MachineEpoch {
                online_slots: entry.online_slots,
                forfeited: entry.flags & 1 != 0,
                qualified: entry.flags & 2 != 0,
                weight: entry.weight,
                rewards_total: entry.rewards_total,
                earned: entry.earned,
            }));
        }
    }
    Ok(None)
}

/// [`find_machine_explain`] without decoding the entries before machine `id`'s: each is stepped
/// over by the ends of its varints (an entry is `id varint ‖ gpu_class byte ‖ bandwidth varint ‖
/// online_slots varint ‖ flags byte ‖ weight, rewards_total, earned varints`), only its id read.
/// The machine page reads one machine's entry in each of 60 epochs of an owner that may hold
/// 10,000 machines: a byte scan, not 600,000 entry decodes.
pub fn seek_machine_explain(bytes: &[u8], id: u32) -> Result<Option<MachineEpoch>, String> {
    let short = || "explain record: an entry cut short".to_string();
    let varint_end = |at: usize| -> Result<usize, String> {
        // at most 19 bytes (a u128); the last has its high bit clear
        let window = bytes.get(at..).ok_or_else(short)?;
        window.iter().take(19).position(|b| b & 0x80 == 0).map(|i| at + i + 1).ok_or_else(short)
    };
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        let (this, _) = postcard::take_from_bytes::<u32>(&bytes[at..]).map_err(|e| format!("explain record: {e}"))?;
        if this == id {
            return find_machine_explain(&bytes[start..], id);
        }
        at = varint_end(at)? + 1; // the id, the class byte
        at = varint_end(at)?; // bandwidth
        at = varint_end(at)? + 1; // online slots, the flags byte
        at = varint_end(at)?; // weight
        at = varint_end(at)?; // rewards_total
        at = varint_end(at)?; // earned
        if at > bytes.len() {
            return Err(short());
        }
    }
    Ok(None)
}

/// The total of `address` among encoded leaves ([`encode_leaves`], in address order), found by
/// binary search without decoding the others.
pub fn leaf_total(bytes: &[u8], address: &Address) -> Option<u128> {
    if !bytes.len().is_multiple_of(48) {
        return None;
    }
    let (mut low, mut high) = (0usize, bytes.len() / 48);
    while low < high {
        let middle = (low + high) / 2;
        let record = &bytes[middle * 48..middle * 48 + 48];
        match record[..32].cmp(&address.0[..]) {
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
            std::cmp::Ordering::Equal => return Some(u128::from_le_bytes(record[32..].try_into().ok()?)),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridmint_core::apply::{ExplainMachine, ExplainRecord};
    use gridmint_core::connection_reward::MachineView;

    fn machine(i: u8, owner: u8) -> ExplainMachine {
        ExplainMachine {
            view: MachineView {
                machine: Address([i; 32]),
                owner: Address([owner; 32]),
                gpu_class: i % 5,
                bandwidth_mbps: u32::MAX - u32::from(i),
                online_slots: u16::MAX - u16::from(i),
                forfeited: i.is_multiple_of(2),
                weight: u64::MAX - u64::from(i),
                rewards_total: u128::MAX - u128::from(i),
            },
            qualified: i.is_multiple_of(3),
            earned: u128::MAX / 3 + u128::from(i),
        }
    }

    /// Goal: seeking a machine's entry by stepping over the others finds exactly what decoding
    /// every entry finds, for extreme values of every field, and misses an absent id; a record
    /// cut short is an error. Method: one owner's record of 40 machines.
    #[test]
    fn seeking_a_machine_equals_decoding_the_record() {
        let mut record = Vec::new();
        for i in 0..40u8 {
            encode_owner_explain(&mut record, &machine(i, 1), u32::from(i) * 1_000_003);
        }
        for i in 0..40u8 {
            let id = u32::from(i) * 1_000_003;
            let found = seek_machine_explain(&record, id).unwrap();
            assert!(found.is_some(), "machine {i}");
            assert_eq!(found, find_machine_explain(&record, id).unwrap(), "machine {i}");
        }
        assert_eq!(seek_machine_explain(&record, 7).unwrap(), None);
        assert!(seek_machine_explain(&record[..record.len() - 1], 7).is_err());
    }

    /// Goal: a window of a block's transactions is exactly the same rows, receipts and block
    /// hash as the full decode gives, at the start, inside, at the end and past it; a damaged
    /// record is refused even when the damage lies outside the window. Method: a block of 250
    /// transactions with distinct receipts.
    #[test]
    fn a_page_of_a_block_equals_the_same_rows_of_the_full_decode() {
        let txs: Vec<SignedTx> = (0..250u32)
            .map(|i| SignedTx {
                tx: Tx {
                    signer: Address([(i % 251) as u8; 32]),
                    nonce: u64::from(i),
                    body: gridmint_core::TxBody::Heartbeat { slot: u64::from(i) * 7 },
                },
                signature: [(i % 256) as u8; 64],
            })
            .collect();
        let receipts = txs
            .iter()
            .enumerate()
            .map(|(i, t)| Receipt { tx_id: t.id(), code: i as u16 % 3, fee: 1_000 + i as u128 })
            .collect();
        let block = StoredBlock {
            height: 9,
            time: 99,
            parent: [4; 32],
            producer: Address([5; 32]),
            state_root: [6; 32],
            txs,
            receipts,
            closed_epochs: vec![2, 3],
        };
        let bytes = block.encode();
        for (from, limit, shown) in [(0, 100, 0..100), (100, 100, 100..200), (200, 100, 200..250), (250, 100, 250..250)]
        {
            let page = decode_page(&bytes, from, limit, true).unwrap();
            assert_eq!(page.hash, Some(block.hash()), "the hash covers every transaction, shown or not");
            assert_eq!(page.header.tx_count, 250);
            assert_eq!(page.closed_epochs, vec![2, 3]);
            let expected: Vec<_> = shown.clone().map(|i| (block.txs[i].clone(), block.receipts[i].clone())).collect();
            assert_eq!(page.rows, expected, "rows {shown:?}");
        }
        assert_eq!(decode_page(&bytes, 7, 1, false).unwrap().hash, None);
        assert_eq!(decode_page(&bytes, 7, 1, false).unwrap().rows[0].1.fee, 1_007);
        // damage outside the window: a length prefix past the end, a trailing byte
        let mut long = bytes.clone();
        long[HEADER_BYTES + 64] = 0xff;
        assert!(decode_page(&long, 200, 10, false).is_err());
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode_page(&trailing, 0, 1, false).is_err());
        assert!(decode_page(&bytes[..bytes.len() - 1], 0, 1, false).is_err());
    }

    /// Goal: the per-owner explain records hold every machine exactly (extreme values, every
    /// flag), grouped by owner in record order, keys in epoch-then-owner order; damaged records
    /// are refused. Method: a record of 3 owners' machines, interleaved.
    #[test]
    fn explain_by_owner_round_trips() {
        let record = ExplainRecord {
            epoch: 7,
            min_online_slots: 61,
            qualifying_weight: u128::MAX,
            machines: (0..30).map(|i| machine(i, [9, 1, 5][usize::from(i % 3)])).collect(),
        };
        // machine ids: the address's first byte; id 200 has no machine
        let id_of = |a: &Address| Some(u32::from(a.0[0]));
        let address_of = |id: u32| (id < 200).then_some(Address([id as u8; 32]));
        let (chunks, owners) = explain_by_owner(7, &record, id_of);
        assert_eq!((chunks.len(), owners), (1, 3));
        assert_eq!(chunks[0].0, explain_key(7, &Address([1; 32])), "keyed by its first owner");
        assert!(explain_key(7, &Address([0xff; 32])) < explain_key(8, &Address([0; 32])));
        assert_eq!(find_owner_record(&chunks[0].1, &Address([2; 32])).unwrap(), None);
        assert!(find_owner_record(&chunks[0].1[..chunks[0].1.len() - 1], &Address([9; 32])).is_err());
        for owner in [1u8, 5, 9].map(|o| Address([o; 32])) {
            let bytes = find_owner_record(&chunks[0].1, &owner).unwrap().unwrap().to_vec();
            let bytes = &bytes;
            let decoded = decode_owner_explain(owner, bytes, address_of).unwrap();
            let expected: Vec<_> = record.machines.iter().filter(|m| m.view.owner == owner).cloned().collect();
            assert_eq!(decoded, expected);
            assert!(decode_owner_explain(owner, &bytes[..bytes.len() - 1], address_of).is_err(), "truncated");
            // an unknown flag, and an id with no machine, are refused
            let mut one = Vec::new();
            let mut m = expected[0].clone();
            encode_owner_explain(&mut one, &m, 5);
            assert!(decode_owner_explain(owner, &one, address_of).is_ok());
            let flags_at = 1 + 1 + 5 + 3; // id, gpu class, bandwidth and slots as varints
            one[flags_at] = 4;
            assert!(decode_owner_explain(owner, &one, address_of).unwrap_err().contains("flags"));
            m.view.machine = Address([200; 32]);
            let mut unknown = Vec::new();
            encode_owner_explain(&mut unknown, &m, 200);
            assert!(decode_owner_explain(owner, &unknown, address_of).unwrap_err().contains("no machine"));
        }
        let header = encode_explain_header(&record, owners);
        assert_eq!(decode_explain_header(&header).unwrap(), (61, u128::MAX, 30, 3));
        assert!(decode_explain_header(&header[1..]).is_err());
    }

    /// Goal: `leaf_total` finds every leaf and no absent address, as decoding all would.
    #[test]
    fn leaf_total_is_a_binary_search() {
        let leaves: Vec<(Address, u128)> = (0..200u32)
            .map(|i| {
                let mut a = [0u8; 32];
                a[..4].copy_from_slice(&(i * 2 + 1).to_be_bytes());
                (Address(a), u128::from(i) * 1_000_000_007)
            })
            .collect();
        let bytes = encode_leaves(&leaves);
        for (address, total) in &leaves {
            assert_eq!(leaf_total(&bytes, address), Some(*total));
        }
        for i in 0..=200u32 {
            let mut a = [0u8; 32];
            a[..4].copy_from_slice(&(i * 2).to_be_bytes());
            assert_eq!(leaf_total(&bytes, &Address(a)), None);
        }
        assert_eq!(leaf_total(&bytes[1..], &leaves[0].0), None);
        assert_eq!(leaf_total(&[], &leaves[0].0), None);
    }
}
