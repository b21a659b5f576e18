//! The embedded store (redb): one write transaction per block.
//!
//! Every value is a checksummed record, `tag ‖ payload`, where the 16-byte tag is the start of
//! blake3 over a domain tag, the table's name, the key and the payload (all length-prefixed): a
//! value that was moved to another key, or a key that was altered, fails its check as surely as
//! a damaged value. A record that fails it is [`StoreError::Corrupt`] naming the table and the
//! key, never decoded and never a silent miss. Tables:
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | `"format"`, `"genesis"` | format tag; the genesis (chain id, time, policy, producer) |
//! | `blocks` | height | where the block's bytes are in the block log and their hash ([`crate::blocklog::Locator`]): the block itself (header, signed transactions, receipts) is in `blocks/`, outside the database |
//! | `txs` | transaction id | height, index, receipt code and fee |
//! | `epochs` | epoch | the epoch summary (JSON) |
//! | `leaves` | epoch | the directory of the rewards tree's leaves at that close (X2 proofs): their count, and the first address of each chunk ([`crate::block::leaf_directory`]) |
//! | `leaf_chunks` | epoch (BE) ‖ chunk (BE) | [`crate::block::LEAF_CHUNK`] leaves each, in address order: one account's total is one chunk's read |
//! | `explain` | epoch | the epoch's explain header: threshold, qualifying weight, counts (X3) |
//! | `explain_owners` | epoch (BE) ‖ first owner | owners' machines by id, in chunks of up to [`crate::block::OWNER_CHUNK_BYTES`]: reward inputs and earnings (X3), varints, ≈ 30 bytes a machine |
//! | `heartbeats` | slot × 2^20 + segment ([`heartbeat_key`]) | bitmap of the machines (by id, bit `i % 8` of byte `i / 8` of the slot's bitmap, cut into segments of [`SEGMENT_BYTES`]) whose heartbeat for that slot is committed |
//! | `closes` | epoch | the height of the block that closed it (8 bytes, little-endian) |
//! | `decided` | height | on a replicated node, what consensus decided beside the block: its commit certificate and what the block's executed form leaves out, opaque here (the consensus crate's encoding); pruned with the block |
//! | `account_txs` | account ‖ height (BE) ‖ index (BE) ([`crate::block::account_tx_key`]) | the transaction id, kind, the account's role (signer or named), receipt code and amount ([`crate::block::AccountTx`]): an account's list of transactions, newest first, without reading a block; heartbeats are not listed; pruned with the block |
//! | `evidence` | height | on a replicated node, the equivocations consensus reported when it finalized that height ([`crate::evidence::EvidenceRecord`]s, JSON); pruned with the block |
//!
//! and the meta key `"base"` on a pruned store: the header of the last block removed (blocks
//! `1..=base` are gone; [`Store::prune_to`]), or of the snapshot a new node started from
//! ([`Store::start_at`]). Heartbeat bitmaps, epoch summaries, leaves, explain records and close
//! heights are aggregates, kept forever; blocks and their transaction index entries go.
//!
//! # What redb checks, and what this module adds
//!
//! redb keeps a checksum of every B-tree page in its parent and of each root in the header's two
//! commit slots, but it verifies them only when it repairs a file after an unclean shutdown — not
//! on reads, and not at all when it opens a cleanly closed file — and its repair falls back to the
//! previous commit when the newest fails its checksums. On its own a flipped byte can therefore
//! make redb panic (asserts and slice indexing on garbage), allocate terabytes (a page number's
//! size bits; an abort, not a panic), return a wrong or missing entry, or drop the last committed
//! block. Hence:
//!
//! - before redb reads the file, its header's fixed fields are checked and its god byte is set
//!   so that redb repairs on every open (`prepare_redb_header`): both commit slots' checksums
//!   are checked and every reachable page is verified against its checksum, top down, before
//!   anything in it is used — the cost of one read of the file, which is why the blocks' bytes
//!   live outside it, in the block log ([`crate::blocklog`]), each checked against its hash
//!   when it is read;
//! - every commit is two-phase (redb fsyncs the data before the header points at it);
//! - a small side file, [`TIP_FILE`], records the height and hash of the last committed block,
//!   written and fsynced after the redb commit and before the block is acknowledged: a store
//!   behind it has lost an acknowledged block (redb's fall-back to the previous commit slot, or a
//!   flipped bit in its header selecting it) and is refused;
//! - redb is called under [`std::panic::catch_unwind`], so a panic inside it on a damaged page
//!   becomes [`StoreError::Damaged`] (see [`Store::open`] for why that is sound here);
//! - the record tags above catch what slips past all of that, and `gridmint replay` audits every
//!   table against the blocks ([`crate::audit`]).
//!
//! redb commits with fsync (durability `Immediate`): a block is either wholly there after a
//! crash or not at all. redb also locks the database file, so a second node on the same data dir
//! is refused.

use crate::block::{StoredBlock, TxLocation, genesis_hash};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};
use std::io::{Read, Seek, SeekFrom, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// The transaction index: a [`TX_KEY_LEN`]-byte prefix of the id → its [`TxLocation`], untagged
/// (see [`tx_key`]).
const TXS: TableDefinition<&[u8; TX_KEY_LEN], &[u8]> = TableDefinition::new("txs");
/// Bytes of a transaction id that key the index: a collision of two ids' prefixes takes about
/// 2^80 hashes of signed transactions.
pub const TX_KEY_LEN: usize = 20;

/// The transaction index's key for `id`.
///
/// The index holds one entry per transaction of the kept window — at 100k machines beating
/// every slot, tens of millions — and the open-time check reads every one of its pages, so an
/// entry is kept small: a 20-byte key and the location as varints, without the per-record tag
/// of the other tables (from 97 to about 50 bytes an entry in redb's pages). What the tag would
/// catch is caught otherwise: redb's page checksums, which the store verifies at every open, cover
/// the entries on disk; a damaged value fails to decode ([`StoreError::Corrupt`]); and the audit
/// (`gridmint replay`) checks every entry against the blocks.
pub fn tx_key(id: &[u8; 32]) -> [u8; TX_KEY_LEN] {
    let mut key = [0u8; TX_KEY_LEN];
    key.copy_from_slice(&id[..TX_KEY_LEN]);
    key
}
const EPOCHS: TableDefinition<u64, &[u8]> = TableDefinition::new("epochs");
const LEAVES: TableDefinition<u64, &[u8]> = TableDefinition::new("leaves");
const EXPLAIN: TableDefinition<u64, &[u8]> = TableDefinition::new("explain");
/// Blocks removed per storage transaction by [`Store::prune_to`].
pub const PRUNE_CHUNK: u64 = 64;

const EXPLAIN_OWNERS: TableDefinition<&[u8; 40], &[u8]> = TableDefinition::new("explain_owners");
const HEARTBEATS: TableDefinition<u64, &[u8]> = TableDefinition::new("heartbeats");
const LEAF_CHUNKS: TableDefinition<&[u8; 16], &[u8]> = TableDefinition::new("leaf_chunks");
const CLOSES: TableDefinition<u64, &[u8]> = TableDefinition::new("closes");
const DECIDED: TableDefinition<u64, &[u8]> = TableDefinition::new("decided");
const EVIDENCE: TableDefinition<u64, &[u8]> = TableDefinition::new("evidence");
const ACCOUNT_TXS: TableDefinition<&[u8; crate::block::ACCOUNT_TX_KEY_LEN], &[u8]> =
    TableDefinition::new("account_txs");
/// The most entries [`Store::account_txs`] returns at once.
pub const MAX_ACCOUNT_TXS_PAGE: usize = 100;

/// The format tag written at creation; any other value is a foreign data dir or an old format.
/// v2: record tags cover (table, key, value); two-phase commits; the tip file. v3: explain
/// records by owner. v4: heartbeat bitmaps, epoch close heights, pruning (the `"base"` meta key).
/// v5: blocks in the block log ([`crate::blocklog`]), transaction locations as varints. v6: the
/// transaction index keyed by a [`TX_KEY_LEN`]-byte prefix of the id, its entries untagged. v7:
/// the `decided` table (commit certificates of a replicated node). v8: the `evidence` table.
/// v9: state snapshots of format 2 (the bridge's inbound queue and published mint signatures).
/// v10: state roots commit to the bridge's outbound records through their own tree (a chain
/// with outbound records replays to other roots) and the bridge's outbound minimum. v11: the
/// `account_txs` table (an account's transactions), and proposals bounded (one open proposal per
/// proposer, 16 in all: a chain where a proposer had two replays to other receipts).
pub const FORMAT: &[u8] = b"gridmint-ledger-v11";
/// The prefix every gridmint format tag starts with (to name an old format when refusing it).
const FORMAT_PREFIX: &[u8] = b"gridmint-ledger-";
/// The database file inside a data dir.
pub const DB_FILE: &str = "ledger.redb";
/// The tip file inside a data dir: the last committed block's height and hash.
pub const TIP_FILE: &str = "ledger.tip";

const RECORD_DOMAIN: &[u8] = b"gridmint/store/record/v2";
const TAG_LEN: usize = 16;
const TIP_DOMAIN: &[u8] = b"gridmint/store/tip/v1";
const TIP_SLOT: usize = 64;
/// redb's magic number (file format 3), the first bytes of its file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];
/// redb's super-header: header and two commit slots.
const REDB_HEADER_LEN: usize = 320;
/// The page size this store uses (redb's default), as its header records it.
const REDB_PAGE_SIZE: u32 = 4096;
/// redb's region geometry for that page size (its defaults), as its header records it.
const REDB_REGION_HEADER_PAGES: u32 = 0;
const REDB_REGION_DATA_PAGES: u32 = 1 << 20;
/// redb's god byte: bit 0 the primary commit slot, bit 1 recovery required, bit 2 two-phase.
const REDB_GOD_BYTE: usize = 9;
const REDB_RECOVERY_REQUIRED: u8 = 2;
const REDB_TWO_PHASE_COMMIT: u8 = 4;

/// The store's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Format tag and genesis.
    Meta,
    /// Blocks by height.
    Blocks,
    /// Transaction index by id.
    Txs,
    /// Epoch summaries.
    Epochs,
    /// Reward leaves per epoch.
    Leaves,
    /// Explain headers per epoch.
    Explain,
    /// Explain records per (epoch, owner).
    ExplainOwners,
    /// Heartbeat bitmaps per slot.
    Heartbeats,
    /// Epoch close heights.
    Closes,
    /// Reward leaves in chunks per (epoch, chunk).
    LeafChunks,
    /// What consensus decided beside each block (a replicated node).
    Decided,
    /// Equivocation evidence by height (a replicated node).
    Evidence,
    /// An account's transactions by (account, height, index).
    AccountTxs,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 13] = [
        Table::Meta,
        Table::Blocks,
        Table::Txs,
        Table::Epochs,
        Table::Leaves,
        Table::LeafChunks,
        Table::Explain,
        Table::ExplainOwners,
        Table::Heartbeats,
        Table::Closes,
        Table::Decided,
        Table::Evidence,
        Table::AccountTxs,
    ];

    /// The table's name in the file.
    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Blocks => "blocks",
            Table::Txs => "txs",
            Table::Epochs => "epochs",
            Table::Leaves => "leaves",
            Table::Explain => "explain",
            Table::ExplainOwners => "explain_owners",
            Table::Heartbeats => "heartbeats",
            Table::Closes => "closes",
            Table::LeafChunks => "leaf_chunks",
            Table::Decided => "decided",
            Table::Evidence => "evidence",
            Table::AccountTxs => "account_txs",
        }
    }

    fn u64_table(self) -> TableDefinition<'static, u64, &'static [u8]> {
        match self {
            Table::Blocks => BLOCKS,
            Table::Epochs => EPOCHS,
            Table::Leaves => LEAVES,
            Table::Explain => EXPLAIN,
            Table::Heartbeats => HEARTBEATS,
            Table::Closes => CLOSES,
            Table::Decided => DECIDED,
            Table::Evidence => EVIDENCE,
            Table::Meta | Table::Txs | Table::ExplainOwners | Table::LeafChunks | Table::AccountTxs => {
                unreachable!("{} is not keyed by a number", self.name())
            }
        }
    }
}

/// A record's key, for its tag and for messages.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    /// A height or an epoch.
    Number(u64),
    /// A transaction id.
    Id(&'a [u8; 32]),
    /// A key of the transaction index ([`tx_key`]).
    TxKey(&'a [u8; TX_KEY_LEN]),
    /// A meta key.
    Name(&'a str),
    /// An epoch and an owner ([`crate::block::explain_key`]).
    EpochOwner(&'a [u8; 40]),
    /// An epoch and a chunk ([`crate::block::chunk_key`]).
    EpochChunk(&'a [u8; 16]),
    /// An account, a height and an index ([`crate::block::account_tx_key`]).
    AccountTx(&'a [u8; crate::block::ACCOUNT_TX_KEY_LEN]),
}

impl Key<'_> {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Key::Number(n) => n.to_le_bytes().to_vec(),
            Key::Id(id) => id.to_vec(),
            Key::TxKey(key) => key.to_vec(),
            Key::Name(name) => name.as_bytes().to_vec(),
            Key::EpochOwner(key) => key.to_vec(),
            Key::EpochChunk(key) => key.to_vec(),
            Key::AccountTx(key) => key.to_vec(),
        }
    }
}

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Number(n) => write!(f, "{n}"),
            Key::Id(id) => write!(f, "{}", hex::encode(id)),
            Key::TxKey(key) => write!(f, "{}", hex::encode(key)),
            Key::Name(name) => write!(f, "\"{name}\""),
            Key::EpochOwner(key) => {
                let epoch = u64::from_be_bytes(key[..8].try_into().unwrap_or_default());
                write!(f, "{epoch}/{}", hex::encode(&key[8..]))
            }
            Key::EpochChunk(key) => {
                let epoch = u64::from_be_bytes(key[..8].try_into().unwrap_or_default());
                let chunk = u64::from_be_bytes(key[8..].try_into().unwrap_or_default());
                write!(f, "{epoch}/{chunk}")
            }
            Key::AccountTx(key) => {
                let height = u64::from_be_bytes(key[32..40].try_into().unwrap_or_default());
                let index = u32::from_be_bytes(key[40..].try_into().unwrap_or_default());
                write!(f, "{}/{height}.{index}", hex::encode(&key[..32]))
            }
        }
    }
}

/// A store failure. Every variant names what is wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the data dir.
    #[error("data dir {0} is in use by another gridmint process (its database is locked)")]
    Locked(PathBuf),
    /// The data dir was not written by gridmint, or by an incompatible version.
    #[error("data dir {path} is not a gridmint ledger: {why}")]
    Foreign {
        /// Data dir.
        path: PathBuf,
        /// What was found.
        why: String,
    },
    /// A record failed its checksum over (table, key, value), or could not be decoded.
    #[error("data dir {path} is damaged: table `{table}`, key {key}: {why}")]
    Corrupt {
        /// Data dir.
        path: PathBuf,
        /// The table.
        table: &'static str,
        /// The record's key (a number, a hex id or a quoted name).
        key: String,
        /// What is wrong with it.
        why: String,
    },
    /// The database file is damaged below the records: redb's header or pages fail their checks,
    /// redb panicked reading them, or the store is behind an acknowledged block.
    #[error("data dir {path} is damaged: {why}")]
    Damaged {
        /// Data dir.
        path: PathBuf,
        /// What was found.
        why: String,
    },
    /// No ledger in this dir.
    #[error("no ledger in {0} (create one with `gridmint init` or `gridmint node --dev`)")]
    Missing(PathBuf),
    /// A ledger already exists here.
    #[error("a ledger already exists in {0}")]
    Exists(PathBuf),
    /// The database itself failed (an I/O error, not damage).
    #[error("storage error in {path}: {source}")]
    Db {
        /// Data dir.
        path: PathBuf,
        /// redb's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// Whether this is damage to the stored data ([`StoreError::Corrupt`] or
    /// [`StoreError::Damaged`]): the CLI exits with code 3 on it.
    pub fn is_damage(&self) -> bool {
        matches!(self, StoreError::Corrupt { .. } | StoreError::Damaged { .. })
    }
}

/// What one block writes, all in one transaction.
pub struct BlockWrite<'a> {
    /// The block.
    pub block: &'a StoredBlock,
    /// Epochs closed by it.
    pub epochs: Vec<EpochWrite>,
    /// Its heartbeats: each slot with the ids of the machines it marks ([`heartbeats_of`]).
    pub heartbeats: Vec<(u64, Vec<u32>)>,
    /// On a replicated node, what consensus decided beside the block (the `decided` table).
    pub decided: Option<&'a [u8]>,
}

/// Groups `(slot, machine id)` pairs by slot, slots ascending (the shape [`BlockWrite`] takes).
pub fn heartbeats_of(mut marks: Vec<(u64, u32)>) -> Vec<(u64, Vec<u32>)> {
    marks.sort_unstable();
    let mut out: Vec<(u64, Vec<u32>)> = Vec::new();
    for (slot, id) in marks {
        match out.last_mut() {
            Some((last, ids)) if *last == slot => ids.push(id),
            _ => out.push((slot, vec![id])),
        }
    }
    out
}

/// Bytes of a heartbeat bitmap per stored segment (32,000 machines): a whole segment with its
/// tag, key and entry header fills one 4 KiB B-tree page, so a slot's bitmap costs its bits, not
/// its bits rounded up to redb's power-of-two page runs (a 100k-machine bitmap in one value
/// would take 16 KiB for its 12.5 KB); only the last, partial segment shares a page.
pub const SEGMENT_BYTES: usize = 4000;
const SEGMENT_BITS: u32 = SEGMENT_BYTES as u32 * 8;

/// The largest slot a heartbeat key holds: slots are the current slot when their heartbeat is
/// accepted, 2^44 of them is millions of years.
pub const MAX_SLOT: u64 = (1 << 44) - 1;

/// The key of segment `segment` of `slot`'s heartbeat bitmap (`slot` at most [`MAX_SLOT`]).
pub fn heartbeat_key(slot: u64, segment: u32) -> u64 {
    (slot.min(MAX_SLOT) << 20) | u64::from(segment)
}

/// The slot of a heartbeat key.
pub fn heartbeat_slot(key: u64) -> u64 {
    key >> 20
}

/// Sets machine `id`'s bit in a heartbeat bitmap, growing it as needed.
pub fn set_bit(bitmap: &mut Vec<u8>, id: u32) {
    let byte = id as usize / 8;
    if bitmap.len() <= byte {
        bitmap.resize(byte + 1, 0);
    }
    bitmap[byte] |= 1 << (id % 8);
}

/// Whether machine `id`'s bit is set in a heartbeat bitmap.
pub fn bit_is_set(bitmap: &[u8], id: u32) -> bool {
    bitmap.get(id as usize / 8).is_some_and(|b| b & (1 << (id % 8)) != 0)
}

/// An owner's explain record with its key ([`crate::block::explain_key`]).
pub type OwnerRecord = ([u8; 40], Vec<u8>);

/// A leaf chunk with its key ([`crate::block::chunk_key`]).
type Chunk = ([u8; 16], Vec<u8>);

/// One closed epoch's records.
pub struct EpochWrite {
    /// The epoch.
    pub epoch: u64,
    /// Summary JSON.
    pub summary: Vec<u8>,
    /// Reward leaves ([`crate::block::encode_leaves`]).
    pub leaves: Vec<u8>,
    /// Explain header ([`crate::block::encode_explain_header`]).
    pub explain: Vec<u8>,
    /// Explain records by owner in chunks ([`crate::block::explain_by_owner`]), in key order.
    pub explain_owners: Vec<OwnerRecord>,
}

impl EpochWrite {
    /// The records of one epoch close, encoded as they are stored (the single encoding, shared by
    /// the ledger's commit and the audit).
    /// `state` is the state after the close (for the machines' ids).
    pub fn from_record(record: &crate::ledger::EpochRecord, state: &gridmint_core::State) -> EpochWrite {
        let (chunks, owners) =
            crate::block::explain_by_owner(record.summary.epoch, &record.explain, |a| state.machine_id(a));
        EpochWrite {
            epoch: record.summary.epoch,
            summary: serde_json::to_vec(&record.summary).expect("summary serializes"),
            leaves: crate::block::encode_leaves(&record.leaves),
            explain: crate::block::encode_explain_header(&record.explain, owners),
            explain_owners: chunks,
        }
    }
}

/// redb's database, dropped under `catch_unwind`: redb's close writes a last commit, which can
/// panic on a damaged file, and a store is dropped on every path (error paths included).
struct Db(Option<Database>);

impl std::ops::Deref for Db {
    type Target = Database;
    fn deref(&self) -> &Database {
        self.0.as_ref().expect("the database is there until the store is dropped")
    }
}

impl std::ops::DerefMut for Db {
    fn deref_mut(&mut self) -> &mut Database {
        self.0.as_mut().expect("the database is there until the store is dropped")
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let db = self.0.take();
        let _ = catch_unwind(AssertUnwindSafe(move || drop(db)));
    }
}

/// The open store.
pub struct Store {
    db: Db,
    dir: PathBuf,
    /// The blocks' bytes.
    log: crate::blocklog::BlockLog,
    /// The tip file (absent only while an opening store is being checked).
    tip: Mutex<Option<std::fs::File>>,
    /// Set when redb panicked: every later operation is refused as damage.
    panicked: AtomicBool,
    /// The height blocks were pruned up to (0: none), as the `"base"` meta record holds it.
    base: AtomicU64,
}

/// The 16-byte tag of a record: blake3 over the domain, the table, the key and the payload.
pub fn record_tag(table: Table, key: Key, payload: &[u8]) -> [u8; TAG_LEN] {
    let name = table.name().as_bytes();
    let key = key.bytes();
    let mut h = blake3::Hasher::new();
    h.update(RECORD_DOMAIN);
    h.update(&(name.len() as u32).to_le_bytes());
    h.update(name);
    h.update(&(key.len() as u32).to_le_bytes());
    h.update(&key);
    h.update(&(payload.len() as u64).to_le_bytes());
    h.update(payload);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&h.finalize().as_bytes()[..TAG_LEN]);
    tag
}

fn seal(table: Table, key: Key, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(TAG_LEN + payload.len());
    out.extend_from_slice(&record_tag(table, key, payload));
    out.extend_from_slice(payload);
    out
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".into()
    }
}

impl Store {
    fn db_err(&self, e: impl Into<redb::Error>) -> StoreError {
        redb_error(&self.dir, e.into())
    }

    fn corrupt(&self, table: Table, key: Key, why: impl Into<String>) -> StoreError {
        StoreError::Corrupt { path: self.dir.clone(), table: table.name(), key: key.to_string(), why: why.into() }
    }

    /// Runs `f` (which calls redb) so that a panic inside redb is [`StoreError::Damaged`]. Sound
    /// (hence `AssertUnwindSafe`): redb only panics on a file whose structures are inconsistent,
    /// and after one the store refuses every further operation as damage, so nothing redb's
    /// unwound state holds is used again; a failed commit halts the ledger, and the next open
    /// checks the whole file.
    fn guard<T>(&self, doing: &str, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        if self.panicked.load(Ordering::SeqCst) {
            return Err(StoreError::Damaged {
                path: self.dir.clone(),
                why: "the database panicked earlier; restart to check the file again".into(),
            });
        }
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(result) => result,
            Err(panic) => {
                self.panicked.store(true, Ordering::SeqCst);
                Err(StoreError::Damaged {
                    path: self.dir.clone(),
                    why: format!("the database panicked while {doing} ({})", panic_message(panic.as_ref())),
                })
            }
        }
    }

    fn unseal<'v>(&self, table: Table, key: Key, record: &'v [u8]) -> Result<&'v [u8], StoreError> {
        if record.len() < TAG_LEN || record_tag(table, key, &record[TAG_LEN..]) != record[..TAG_LEN] {
            return Err(self.corrupt(table, key, "the record fails its checksum over (table, key, value)"));
        }
        Ok(&record[TAG_LEN..])
    }

    /// Creates a new ledger in `dir` with its genesis record.
    pub fn create(dir: &Path, genesis: &[u8]) -> Result<Store, StoreError> {
        let io = |e: std::io::Error| StoreError::Db { path: dir.into(), source: Box::new(e) };
        std::fs::create_dir_all(dir).map_err(io)?;
        let file = dir.join(DB_FILE);
        if file.exists() {
            return Err(StoreError::Exists(dir.into()));
        }
        // the block log first: it refuses a dir that holds another ledger's blocks
        let log = crate::blocklog::BlockLog::create(dir).map_err(io)?;
        // the tip next: a crash before the database exists leaves a dir that is created again
        let genesis_tip = tip_slot(0, &genesis_hash(genesis));
        let mut tip = std::fs::File::create(dir.join(TIP_FILE)).map_err(io)?;
        tip.write_all(&genesis_tip).map_err(io)?;
        tip.write_all(&genesis_tip).map_err(io)?;
        tip.sync_all().map_err(io)?;
        sync_dir(dir).map_err(io)?;
        let db = Database::create(&file).map_err(|e| open_error(dir, e))?;
        let store = Store {
            db: Db(Some(db)),
            dir: dir.into(),
            log,
            tip: Mutex::new(Some(tip)),
            panicked: AtomicBool::new(false),
            base: AtomicU64::new(0),
        };
        store.guard("creating the tables", || {
            let txn = store.begin_write()?;
            {
                let mut meta = txn.open_table(META).map_err(|e| store.db_err(e))?;
                meta.insert("format", seal(Table::Meta, Key::Name("format"), FORMAT).as_slice())
                    .map_err(|e| store.db_err(e))?;
                meta.insert("genesis", seal(Table::Meta, Key::Name("genesis"), genesis).as_slice())
                    .map_err(|e| store.db_err(e))?;
                for table in [BLOCKS, EPOCHS, LEAVES, EXPLAIN] {
                    txn.open_table(table).map_err(|e| store.db_err(e))?;
                }
                txn.open_table(TXS).map_err(|e| store.db_err(e))?;
                txn.open_table(EXPLAIN_OWNERS).map_err(|e| store.db_err(e))?;
                txn.open_table(HEARTBEATS).map_err(|e| store.db_err(e))?;
                txn.open_table(LEAF_CHUNKS).map_err(|e| store.db_err(e))?;
                txn.open_table(CLOSES).map_err(|e| store.db_err(e))?;
                txn.open_table(DECIDED).map_err(|e| store.db_err(e))?;
                txn.open_table(EVIDENCE).map_err(|e| store.db_err(e))?;
                txn.open_table(ACCOUNT_TXS).map_err(|e| store.db_err(e))?;
            }
            txn.commit().map_err(|e| store.db_err(e))
        })?;
        sync_dir(dir).map_err(io)?;
        Ok(store)
    }

    /// Opens the ledger in `dir`, checking that it is one and that it is whole; returns it with
    /// its genesis record.
    ///
    /// A damaged file is [`StoreError::Damaged`] or [`StoreError::Corrupt`], never a panic: redb
    /// verifies the whole file as it opens (`prepare_redb_header`), under `catch_unwind` (with
    /// `AssertUnwindSafe`: nothing that a panic interrupts is used again — the half-opened
    /// database is dropped, itself under `catch_unwind`, and the error returned). The last
    /// committed block must be there, as the tip file records it.
    pub fn open(dir: &Path) -> Result<(Store, Vec<u8>), StoreError> {
        let file = dir.join(DB_FILE);
        if !file.exists() {
            if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false) {
                return Err(StoreError::Foreign { path: dir.into(), why: format!("it has no {DB_FILE}") });
            }
            return Err(StoreError::Missing(dir.into()));
        }
        let db = open_checked(dir, &file)?;
        let mut store = Store {
            db: Db(Some(db)),
            dir: dir.into(),
            // opened below, once the database says where the last block is
            log: crate::blocklog::BlockLog::unopened(dir),
            tip: Mutex::new(None),
            panicked: AtomicBool::new(false),
            base: AtomicU64::new(0),
        };
        // the format first: an old format (which has no tip file) is refused by name
        store.check_format()?;
        let tip = std::fs::OpenOptions::new().read(true).write(true).open(dir.join(TIP_FILE)).map_err(|e| {
            StoreError::Damaged { path: dir.into(), why: format!("its tip file {TIP_FILE} cannot be opened ({e})") }
        })?;
        *store.tip.lock().unwrap_or_else(|p| p.into_inner()) = Some(tip);
        let base = store.base()?.map_or(0, |b| b.height);
        store.base.store(base, Ordering::SeqCst);
        let genesis = store
            .meta("genesis")?
            .ok_or_else(|| store.corrupt(Table::Meta, Key::Name("genesis"), "the genesis record is missing"))?;
        store.check_tip(&genesis)?;
        // only now, with the database whole and at its tip: what the log holds past the last
        // block was never acknowledged, and goes
        let last = store.last_locator()?;
        let oldest = store.first_locator()?.map(|(_, l)| l.segment);
        store.log = crate::blocklog::BlockLog::open(dir, last, oldest)
            .map_err(|why| StoreError::Damaged { path: dir.into(), why })?;
        Ok((store, genesis))
    }

    fn check_format(&self) -> Result<(), StoreError> {
        let record = self.guard("reading the format record", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let meta = txn.open_table(META).map_err(|_| StoreError::Foreign {
                path: self.dir.clone(),
                why: "it has no gridmint meta table".into(),
            })?;
            Ok(meta.get("format").map_err(|e| self.db_err(e))?.map(|v| v.value().to_vec()))
        })?;
        let Some(record) = record else {
            return Err(StoreError::Foreign { path: self.dir.clone(), why: "it has no format tag".into() });
        };
        if record.len() > TAG_LEN && record[TAG_LEN..].starts_with(FORMAT_PREFIX) && record[TAG_LEN..] != *FORMAT {
            let found = String::from_utf8_lossy(&record[TAG_LEN..]).into_owned();
            return Err(StoreError::Foreign {
                path: self.dir.clone(),
                why: format!(
                    "it is in format `{found}`, and this gridmint reads `{}` only (replay the chain into a new data \
                     dir with the version that wrote it, or start a new one)",
                    String::from_utf8_lossy(FORMAT)
                ),
            });
        }
        let payload = self.unseal(Table::Meta, Key::Name("format"), &record)?;
        if payload != FORMAT {
            return Err(StoreError::Foreign { path: self.dir.clone(), why: "unknown format tag".into() });
        }
        Ok(())
    }

    /// The last committed block per the tip file must be in the store with the same hash.
    fn check_tip(&self, genesis: &[u8]) -> Result<(), StoreError> {
        let (height, hash) = self.read_tip()?;
        let last = self.last_height()?;
        let damaged = |why: String| StoreError::Damaged { path: self.dir.clone(), why };
        if last < height {
            return Err(damaged(format!(
                "block {height} was committed and acknowledged ({TIP_FILE}), but the database ends at block {last}: \
                 it was rolled back"
            )));
        }
        let base = self.base()?;
        let stored = if height == 0 {
            genesis_hash(genesis)
        } else if let Some(base) = base.filter(|b| b.height == height) {
            base.block_hash(crate::block::BLOCK_HASH_DOMAIN)
        } else {
            self.block(height)?
                .ok_or_else(|| self.corrupt(Table::Blocks, Key::Number(height), "the block is missing"))?
                .hash()
        };
        if stored != hash {
            return Err(damaged(format!(
                "block {height} in the database is not the one committed ({TIP_FILE} has hash {})",
                hex::encode(hash)
            )));
        }
        Ok(())
    }

    fn read_tip(&self) -> Result<(u64, [u8; 32]), StoreError> {
        let mut bytes = Vec::new();
        let read = match self.tip.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(file) => file.seek(SeekFrom::Start(0)).and_then(|_| file.read_to_end(&mut bytes)),
            None => Err(std::io::Error::other("the tip file is not open")),
        };
        read.map_err(|e| StoreError::Db { path: self.dir.clone(), source: Box::new(e) })?;
        let best = bytes.chunks(TIP_SLOT).take(2).filter_map(parse_tip_slot).max_by_key(|(height, _)| *height);
        best.ok_or_else(|| StoreError::Damaged {
            path: self.dir.clone(),
            why: format!("its tip file {TIP_FILE} has no valid record"),
        })
    }

    fn write_tip(&self, height: u64, hash: &[u8; 32]) -> Result<(), StoreError> {
        let slot = tip_slot(height, hash);
        let result = match self.tip.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(file) => file
                .seek(SeekFrom::Start((height % 2) * TIP_SLOT as u64))
                .and_then(|_| file.write_all(&slot))
                .and_then(|_| file.sync_data()),
            None => Err(std::io::Error::other("the tip file is not open")),
        };
        result.map_err(|e| StoreError::Db { path: self.dir.clone(), source: Box::new(e) })
    }

    fn begin_write(&self) -> Result<WriteTransaction, StoreError> {
        let mut txn = self.db.begin_write().map_err(|e| self.db_err(e))?;
        // the data is fsynced before the header points at it: a damaged newest commit is then
        // an error on open, never a silent roll-back to the previous one
        txn.set_two_phase_commit(true);
        Ok(txn)
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Commits one block and everything it wrote, atomically and durably, then records it as the
    /// tip. On success the block may be acknowledged.
    pub fn commit_block(&self, write: &BlockWrite) -> Result<(), StoreError> {
        let block = write.block;
        // the block's bytes are durable before the database points at them
        let locator = self
            .log
            .append(block.height, &block.encode())
            .map_err(|e| StoreError::Db { path: self.dir.clone(), source: Box::new(e) })?;
        self.guard("committing a block", || {
            let txn = self.begin_write()?;
            {
                let mut blocks = txn.open_table(BLOCKS).map_err(|e| self.db_err(e))?;
                let key = Key::Number(block.height);
                blocks
                    .insert(block.height, seal(Table::Blocks, key, &locator.encode()).as_slice())
                    .map_err(|e| self.db_err(e))?;
                let mut txs = txn.open_table(TXS).map_err(|e| self.db_err(e))?;
                // the receipt carries the transaction's id: no need to hash it again
                for (index, receipt) in block.receipts.iter().enumerate() {
                    let location =
                        TxLocation { height: block.height, index: index as u32, code: receipt.code, fee: receipt.fee };
                    txs.insert(&tx_key(&receipt.tx_id), location.encode().as_slice()).map_err(|e| self.db_err(e))?;
                }
                let mut account_txs = txn.open_table(ACCOUNT_TXS).map_err(|e| self.db_err(e))?;
                for (key, entry) in crate::block::account_entries(block) {
                    account_txs
                        .insert(&key, seal(Table::AccountTxs, Key::AccountTx(&key), &entry.encode_value()).as_slice())
                        .map_err(|e| self.db_err(e))?;
                }
                let mut epochs = txn.open_table(EPOCHS).map_err(|e| self.db_err(e))?;
                let mut leaves = txn.open_table(LEAVES).map_err(|e| self.db_err(e))?;
                let mut explain = txn.open_table(EXPLAIN).map_err(|e| self.db_err(e))?;
                let mut explain_owners = txn.open_table(EXPLAIN_OWNERS).map_err(|e| self.db_err(e))?;
                let mut closes = txn.open_table(CLOSES).map_err(|e| self.db_err(e))?;
                let mut heartbeats = txn.open_table(HEARTBEATS).map_err(|e| self.db_err(e))?;
                let mut chunks = txn.open_table(LEAF_CHUNKS).map_err(|e| self.db_err(e))?;
                if let Some(decided) = write.decided {
                    let mut table = txn.open_table(DECIDED).map_err(|e| self.db_err(e))?;
                    table
                        .insert(block.height, seal(Table::Decided, key, decided).as_slice())
                        .map_err(|e| self.db_err(e))?;
                }
                for e in &write.epochs {
                    for (index, chunk) in
                        e.leaves.chunks(crate::block::LEAF_CHUNK * crate::block::LEAF_BYTES).enumerate()
                    {
                        let key = crate::block::chunk_key(e.epoch, index as u64);
                        chunks
                            .insert(&key, seal(Table::LeafChunks, Key::EpochChunk(&key), chunk).as_slice())
                            .map_err(|e| self.db_err(e))?;
                    }
                }
                for (slot, ids) in &write.heartbeats {
                    if *slot > MAX_SLOT {
                        return Err(StoreError::Damaged {
                            path: self.dir.clone(),
                            why: format!("a heartbeat for slot {slot}, beyond any slot a bitmap holds"),
                        });
                    }
                    // ids ascending: each segment is read and written once
                    for segment_ids in ids.chunk_by(|a, b| a / SEGMENT_BITS == b / SEGMENT_BITS) {
                        let n = heartbeat_key(*slot, segment_ids[0] / SEGMENT_BITS);
                        let key = Key::Number(n);
                        let mut bitmap = match heartbeats.get(n).map_err(|e| self.db_err(e))? {
                            Some(record) => self.unseal(Table::Heartbeats, key, record.value())?.to_vec(),
                            None => Vec::new(),
                        };
                        for id in segment_ids {
                            set_bit(&mut bitmap, id % SEGMENT_BITS);
                        }
                        heartbeats
                            .insert(n, seal(Table::Heartbeats, key, &bitmap).as_slice())
                            .map_err(|e| self.db_err(e))?;
                    }
                }
                for e in &write.epochs {
                    let height = block.height.to_le_bytes();
                    closes
                        .insert(e.epoch, seal(Table::Closes, Key::Number(e.epoch), &height).as_slice())
                        .map_err(|e| self.db_err(e))?;
                    for (key, record) in &e.explain_owners {
                        explain_owners
                            .insert(key, seal(Table::ExplainOwners, Key::EpochOwner(key), record).as_slice())
                            .map_err(|e| self.db_err(e))?;
                    }
                    let key = Key::Number(e.epoch);
                    epochs
                        .insert(e.epoch, seal(Table::Epochs, key, &e.summary).as_slice())
                        .map_err(|e| self.db_err(e))?;
                    let directory = crate::block::leaf_directory(&e.leaves);
                    leaves
                        .insert(e.epoch, seal(Table::Leaves, key, &directory).as_slice())
                        .map_err(|e| self.db_err(e))?;
                    explain
                        .insert(e.epoch, seal(Table::Explain, key, &e.explain).as_slice())
                        .map_err(|e| self.db_err(e))?;
                }
            }
            txn.commit().map_err(|e| self.db_err(e))
        })?;
        self.log.committed(&locator);
        self.write_tip(block.height, &block.hash())
    }

    /// A meta record.
    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.guard("reading the meta table", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let table = txn.open_table(META).map_err(|e| self.db_err(e))?;
            let Some(value) = table.get(name).map_err(|e| self.db_err(e))? else { return Ok(None) };
            self.unseal(Table::Meta, Key::Name(name), value.value()).map(|p| Some(p.to_vec()))
        })
    }

    /// Every key of the meta table.
    pub fn meta_keys(&self) -> Result<Vec<String>, StoreError> {
        self.guard("reading the meta table", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let table = txn.open_table(META).map_err(|e| self.db_err(e))?;
            let mut keys = Vec::new();
            for entry in table.iter().map_err(|e| self.db_err(e))? {
                let (key, _) = entry.map_err(|e| self.db_err(e))?;
                keys.push(key.value().to_string());
            }
            Ok(keys)
        })
    }

    /// The stored block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<StoredBlock>, StoreError> {
        let Some(bytes) = self.block_bytes(height)? else { return Ok(None) };
        let block = StoredBlock::decode(&bytes).map_err(|why| self.corrupt(Table::Blocks, Key::Number(height), why))?;
        if block.height != height {
            return Err(self.corrupt(Table::Blocks, Key::Number(height), format!("it holds block {}", block.height)));
        }
        Ok(Some(block))
    }

    /// The header of the stored block at `height` ([`crate::block::BlockHeader`]): its locator
    /// and the first [`crate::block::HEADER_BYTES`] of its bytes are read, never its
    /// transactions, so a list of the latest blocks costs the same whatever their size (the
    /// explorer's network page). Unlike [`Store::block`] the bytes are not checked against the
    /// locator's hash (it covers the whole block); the height they hold is.
    pub fn block_header(&self, height: u64) -> Result<Option<crate::block::BlockHeader>, StoreError> {
        let Some(record) = self.get(Table::Blocks, height)? else { return Ok(None) };
        let key = Key::Number(height);
        let locator = crate::blocklog::Locator::decode(&record).map_err(|why| self.corrupt(Table::Blocks, key, why))?;
        let bytes = match self.log.read_prefix(height, &locator, crate::block::HEADER_BYTES) {
            Ok(bytes) => bytes,
            Err(_) if height <= self.base_height() => return Ok(None),
            Err(why) => return Err(self.corrupt(Table::Blocks, key, why)),
        };
        let header = crate::block::BlockHeader::decode(&bytes).map_err(|why| self.corrupt(Table::Blocks, key, why))?;
        if header.height != height {
            return Err(self.corrupt(Table::Blocks, key, format!("it holds block {}", header.height)));
        }
        Ok(Some(header))
    }

    /// Block `height`'s bytes from the block log, checked against the hash its locator holds.
    fn block_bytes(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(record) = self.get(Table::Blocks, height)? else { return Ok(None) };
        let key = Key::Number(height);
        let locator = crate::blocklog::Locator::decode(&record).map_err(|why| self.corrupt(Table::Blocks, key, why))?;
        match self.log.read(height, &locator) {
            Ok(bytes) => Ok(Some(bytes)),
            // pruned between the locator's read and the segment's: gone, not damaged
            Err(_) if height <= self.base_height() => Ok(None),
            Err(why) => Err(self.corrupt(Table::Blocks, key, why)),
        }
    }

    /// Closes the block log's segments at `bytes` instead of
    /// [`crate::blocklog::SEGMENT_BYTES`] (tests cover rollover and pruning with small ones).
    pub fn set_segment_bytes(&self, bytes: u64) {
        self.log.set_segment_bytes(bytes);
    }

    /// The last stored block's height and locator (`None`: no block stored).
    fn last_locator(&self) -> Result<Option<(u64, crate::blocklog::Locator)>, StoreError> {
        self.end_locator(true)
    }

    /// The oldest stored block's height and locator (`None`: no block stored).
    fn first_locator(&self) -> Result<Option<(u64, crate::blocklog::Locator)>, StoreError> {
        self.end_locator(false)
    }

    fn end_locator(&self, last: bool) -> Result<Option<(u64, crate::blocklog::Locator)>, StoreError> {
        self.guard("reading the blocks' locators", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let table = txn.open_table(BLOCKS).map_err(|e| self.db_err(e))?;
            let end = if last { table.last() } else { table.first() };
            let Some((key, value)) = end.map_err(|e| self.db_err(e))? else { return Ok(None) };
            let height = key.value();
            let record = self.unseal(Table::Blocks, Key::Number(height), value.value())?;
            let locator = crate::blocklog::Locator::decode(record)
                .map_err(|why| self.corrupt(Table::Blocks, Key::Number(height), why))?;
            Ok(Some((height, locator)))
        })
    }

    /// The bytes the block log's segments take (outside the database file).
    pub fn log_bytes(&self) -> Result<u64, StoreError> {
        self.log.bytes().map_err(|e| StoreError::Db { path: self.dir.clone(), source: Box::new(e) })
    }

    /// The highest stored block height (the base when no block is stored: 0 at genesis). Its record is checked:
    /// a damaged last key cannot hide the last block.
    pub fn last_height(&self) -> Result<u64, StoreError> {
        self.guard("reading the last block", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let table = txn.open_table(BLOCKS).map_err(|e| self.db_err(e))?;
            let Some((key, value)) = table.last().map_err(|e| self.db_err(e))? else {
                return Ok(self.base_height());
            };
            let height = key.value();
            self.unseal(Table::Blocks, Key::Number(height), value.value())?;
            Ok(height)
        })
    }

    /// The header of the block blocks were pruned up to, or that a new node started from
    /// (`None`: every block from 1 is stored).
    pub fn base(&self) -> Result<Option<gridmint_core::snapshot::SnapshotHeader>, StoreError> {
        let Some(bytes) = self.meta("base")? else { return Ok(None) };
        gridmint_core::snapshot::SnapshotHeader::from_bytes(&bytes).map(Some).ok_or_else(|| {
            self.corrupt(Table::Meta, Key::Name("base"), format!("{} bytes, not a block header", bytes.len()))
        })
    }

    /// The height blocks are pruned up to: blocks `1..=base_height` are not stored (0: none).
    pub fn base_height(&self) -> u64 {
        self.base.load(Ordering::SeqCst)
    }

    fn put_base(
        &self,
        txn: &WriteTransaction,
        header: &gridmint_core::snapshot::SnapshotHeader,
    ) -> Result<(), StoreError> {
        let mut meta = txn.open_table(META).map_err(|e| self.db_err(e))?;
        meta.insert("base", seal(Table::Meta, Key::Name("base"), &header.to_bytes()).as_slice())
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Makes an empty ledger (no block stored) start after the block `header` describes: the
    /// state there comes from a snapshot of it, checked against `header` by the caller. Blocks
    /// `1..=header.height` are then never stored here.
    pub fn start_at(&self, header: &gridmint_core::snapshot::SnapshotHeader) -> Result<(), StoreError> {
        let last = self.last_height()?;
        if last != self.base_height() || header.height <= last {
            return Err(StoreError::Exists(self.dir.clone()));
        }
        self.guard("starting from a snapshot", || {
            let txn = self.begin_write()?;
            self.put_base(&txn, header)?;
            txn.commit().map_err(|e| self.db_err(e))
        })?;
        self.base.store(header.height, Ordering::SeqCst);
        self.write_tip(header.height, &header.block_hash(crate::block::BLOCK_HASH_DOMAIN))
    }

    /// Removes the blocks after the base up to `target` (at most the last block) with their
    /// transaction index entries, [`PRUNE_CHUNK`] blocks per storage transaction, each recording
    /// the header of the last block it removed as the new base: a crash between two leaves a
    /// whole store pruned a little less. `chain_id` goes into the base header. Returns how many
    /// blocks were removed.
    pub fn prune_to(&self, target: u64, chain_id: &str) -> Result<u64, StoreError> {
        self.prune_some(target, chain_id, u64::MAX)
    }

    /// [`Store::prune_to`], stopping after the storage transaction in which the removed
    /// blocks' transactions reach `max_txs` (at least one block goes): a node prunes a little
    /// after each block it commits, so that removing a day of a large fleet's heartbeats (tens
    /// of millions of index entries) never stops block production.
    pub fn prune_some(&self, target: u64, chain_id: &str, max_txs: u64) -> Result<u64, StoreError> {
        let target = target.min(self.last_height()?);
        let mut removed = 0;
        let mut txs_removed = 0u64;
        while self.base_height() < target && txs_removed < max_txs {
            let from = self.base_height() + 1;
            let last = target.min(from + PRUNE_CHUNK - 1);
            let header = self.guard("pruning blocks", || {
                let txn = self.begin_write()?;
                let mut header = None;
                {
                    let mut blocks = txn.open_table(BLOCKS).map_err(|e| self.db_err(e))?;
                    let mut txs = txn.open_table(TXS).map_err(|e| self.db_err(e))?;
                    let mut decided = txn.open_table(DECIDED).map_err(|e| self.db_err(e))?;
                    let mut evidence = txn.open_table(EVIDENCE).map_err(|e| self.db_err(e))?;
                    let mut account_txs = txn.open_table(ACCOUNT_TXS).map_err(|e| self.db_err(e))?;
                    for height in from..=last {
                        if txs_removed >= max_txs {
                            break;
                        }
                        let key = Key::Number(height);
                        let Some(record) = blocks.remove(height).map_err(|e| self.db_err(e))? else {
                            return Err(self.corrupt(Table::Blocks, key, "the block is missing"));
                        };
                        let locator =
                            crate::blocklog::Locator::decode(self.unseal(Table::Blocks, key, record.value())?)
                                .map_err(|why| self.corrupt(Table::Blocks, key, why))?;
                        drop(record);
                        decided.remove(height).map_err(|e| self.db_err(e))?;
                        evidence.remove(height).map_err(|e| self.db_err(e))?;
                        let bytes =
                            self.log.read(height, &locator).map_err(|why| self.corrupt(Table::Blocks, key, why))?;
                        let block = StoredBlock::decode(&bytes).map_err(|why| self.corrupt(Table::Blocks, key, why))?;
                        if block.height != height {
                            return Err(self.corrupt(Table::Blocks, key, format!("it holds block {}", block.height)));
                        }
                        // an entry goes only if it is this block's: a later commit of the same id
                        // (which the rules do not allow today) would keep its own
                        txs_removed = txs_removed.saturating_add(block.receipts.len() as u64);
                        for receipt in &block.receipts {
                            let key = tx_key(&receipt.tx_id);
                            let here = match txs.get(&key).map_err(|e| self.db_err(e))? {
                                Some(v) => self.decode_location(&key, v.value())?.height == height,
                                None => false,
                            };
                            if here {
                                txs.remove(&key).map_err(|e| self.db_err(e))?;
                            }
                        }
                        for (key, _) in crate::block::account_entries(&block) {
                            account_txs.remove(&key).map_err(|e| self.db_err(e))?;
                        }
                        header = Some(crate::snapshots::header_of(chain_id, &block));
                    }
                }
                let header = header.expect("the range is not empty");
                self.put_base(&txn, &header)?;
                txn.commit().map_err(|e| self.db_err(e))?;
                Ok(header)
            })?;
            removed += header.height + 1 - from;
            self.base.store(header.height, Ordering::SeqCst);
        }
        // the segments before the oldest stored block's hold only pruned blocks (with none
        // stored, every segment but the one being appended to); also what an earlier prune
        // that stopped midway left
        let oldest = self.first_locator()?.map_or(u64::MAX, |(_, l)| l.segment);
        self.log.prune_before(oldest).map_err(|e| StoreError::Db { path: self.dir.clone(), source: Box::new(e) })?;
        Ok(removed)
    }

    /// The heartbeat bitmap of `slot`, its segments put together ([`bit_is_set`]; `None`: no
    /// heartbeat for it committed).
    pub fn heartbeat_bitmap(&self, slot: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let (start, end) = (heartbeat_key(slot, 0), heartbeat_key(slot, (1 << 20) - 1));
        self.guard("reading records", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let handle = txn.open_table(HEARTBEATS).map_err(|e| self.db_err(e))?;
            let mut bitmap: Option<Vec<u8>> = None;
            for entry in handle.range(start..=end).map_err(|e| self.db_err(e))? {
                let (key, value) = entry.map_err(|e| self.db_err(e))?;
                let key = key.value();
                let segment = self.unseal(Table::Heartbeats, Key::Number(key), value.value())?;
                let index = key - start;
                if segment.len() > SEGMENT_BYTES || index > u64::from(u32::MAX / SEGMENT_BITS) {
                    return Err(self.corrupt(Table::Heartbeats, Key::Number(key), "not a segment of a machine bitmap"));
                }
                let at = index as usize * SEGMENT_BYTES;
                let bitmap = bitmap.get_or_insert_with(Vec::new);
                bitmap.resize(bitmap.len().max(at + segment.len()), 0);
                bitmap[at..at + segment.len()].copy_from_slice(segment);
            }
            Ok(bitmap)
        })
    }

    /// What consensus decided beside block `height` (`None`: not a replicated block, or pruned).
    pub fn decided(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(Table::Decided, height)
    }

    /// The equivocation evidence recorded at `height` (JSON, [`crate::evidence`]).
    pub fn evidence(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(Table::Evidence, height)
    }

    /// Replaces the evidence recorded at `height`, durably. The caller records evidence of stored
    /// blocks' heights only (the audit reports any other), so that it is pruned with them.
    pub fn put_evidence(&self, height: u64, record: &[u8]) -> Result<(), StoreError> {
        self.guard("recording evidence", || {
            let txn = self.begin_write()?;
            {
                let mut table = txn.open_table(EVIDENCE).map_err(|e| self.db_err(e))?;
                table
                    .insert(height, seal(Table::Evidence, Key::Number(height), record).as_slice())
                    .map_err(|e| self.db_err(e))?;
            }
            txn.commit().map_err(|e| self.db_err(e))
        })
    }

    /// The evidence records of the heights below `before`, newest first, at most `limit` of them.
    pub fn evidence_before(&self, before: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.guard("reading records", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let handle = txn.open_table(EVIDENCE).map_err(|e| self.db_err(e))?;
            let mut out = Vec::new();
            for entry in handle.range(..before).map_err(|e| self.db_err(e))?.rev().take(limit) {
                let (key, value) = entry.map_err(|e| self.db_err(e))?;
                let height = key.value();
                out.push((height, self.unseal(Table::Evidence, Key::Number(height), value.value())?.to_vec()));
            }
            Ok(out)
        })
    }

    /// The height of the block that closed `epoch`.
    pub fn epoch_close(&self, epoch: u64) -> Result<Option<u64>, StoreError> {
        let Some(bytes) = self.get(Table::Closes, epoch)? else { return Ok(None) };
        let height: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
            self.corrupt(Table::Closes, Key::Number(epoch), format!("{} bytes, not a height", bytes.len()))
        })?;
        Ok(Some(u64::from_le_bytes(height)))
    }

    /// Where a transaction was committed, with its receipt.
    pub fn tx(&self, id: &[u8; 32]) -> Result<Option<TxLocation>, StoreError> {
        Ok(self.txs(std::slice::from_ref(id))?.pop().flatten())
    }

    /// Several transactions' locations in one read.
    pub fn txs(&self, ids: &[[u8; 32]]) -> Result<Vec<Option<TxLocation>>, StoreError> {
        self.guard("reading the transaction index", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let table = txn.open_table(TXS).map_err(|e| self.db_err(e))?;
            ids.iter()
                .map(|id| {
                    let key = tx_key(id);
                    let Some(value) = table.get(&key).map_err(|e| self.db_err(e))? else { return Ok(None) };
                    self.decode_location(&key, value.value()).map(Some)
                })
                .collect()
        })
    }

    fn decode_location(&self, key: &[u8; TX_KEY_LEN], record: &[u8]) -> Result<TxLocation, StoreError> {
        TxLocation::decode(record).map_err(|why| self.corrupt(Table::Txs, Key::TxKey(key), why))
    }

    /// Calls `f` with every entry of the transaction index (its key, [`tx_key`]), in key order;
    /// an entry that does not decode is passed as its error.
    pub fn scan_txs(
        &self,
        mut f: impl FnMut([u8; TX_KEY_LEN], Result<TxLocation, StoreError>),
    ) -> Result<(), StoreError> {
        self.guard("scanning the transaction index", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let table = txn.open_table(TXS).map_err(|e| self.db_err(e))?;
            for entry in table.iter().map_err(|e| self.db_err(e))? {
                let (key, value) = entry.map_err(|e| self.db_err(e))?;
                let key = *key.value();
                f(key, self.decode_location(&key, value.value()));
            }
            Ok(())
        })
    }

    /// `account`'s transactions before (`height`, `index`) (`None`: from the newest), newest
    /// first, at most `limit` (capped at one more than [`MAX_ACCOUNT_TXS_PAGE`], so that a
    /// caller can tell a full last page from one with more after it): one range of the
    /// `account_txs` table, whatever the account's history.
    pub fn account_txs(
        &self,
        account: &gridmint_core::Address,
        before: Option<(u64, u32)>,
        limit: usize,
    ) -> Result<Vec<crate::block::AccountTx>, StoreError> {
        let limit = limit.min(MAX_ACCOUNT_TXS_PAGE + 1);
        let first = crate::block::account_tx_key(account, 0, 0);
        // every key of `account` is at or below its key at the greatest height and index
        let (end, inclusive) = match before {
            Some((height, index)) => (crate::block::account_tx_key(account, height, index), false),
            None => (crate::block::account_tx_key(account, u64::MAX, u32::MAX), true),
        };
        self.guard("reading an account's transactions", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let table = txn.open_table(ACCOUNT_TXS).map_err(|e| self.db_err(e))?;
            let mut out = Vec::new();
            let range = if inclusive {
                table.range::<&[u8; crate::block::ACCOUNT_TX_KEY_LEN]>(&first..=&end)
            } else {
                table.range::<&[u8; crate::block::ACCOUNT_TX_KEY_LEN]>(&first..&end)
            }
            .map_err(|e| self.db_err(e))?;
            for entry in range.rev().take(limit) {
                let (key, value) = entry.map_err(|e| self.db_err(e))?;
                let key = *key.value();
                let payload = self.unseal(Table::AccountTxs, Key::AccountTx(&key), value.value())?;
                let entry = crate::block::AccountTx::decode(&key, payload)
                    .map_err(|why| self.corrupt(Table::AccountTxs, Key::AccountTx(&key), why))?;
                out.push(entry);
            }
            Ok(out)
        })
    }

    /// Calls `f` with every entry of the `account_txs` table, in key order; an entry that fails
    /// its check or does not decode is passed as its error.
    pub fn scan_account_txs(
        &self,
        mut f: impl FnMut([u8; crate::block::ACCOUNT_TX_KEY_LEN], Result<crate::block::AccountTx, StoreError>),
    ) -> Result<(), StoreError> {
        self.guard("scanning the account index", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let table = txn.open_table(ACCOUNT_TXS).map_err(|e| self.db_err(e))?;
            for entry in table.iter().map_err(|e| self.db_err(e))? {
                let (key, value) = entry.map_err(|e| self.db_err(e))?;
                let key = *key.value();
                let decoded = self.unseal(Table::AccountTxs, Key::AccountTx(&key), value.value()).and_then(|p| {
                    crate::block::AccountTx::decode(&key, p)
                        .map_err(|why| self.corrupt(Table::AccountTxs, Key::AccountTx(&key), why))
                });
                f(key, decoded);
            }
            Ok(())
        })
    }

    /// The entries of `account_txs` under `keys`, in one read (for the audit): each one's
    /// entry, `None` if absent, or its error if it fails its check.
    #[allow(clippy::type_complexity)]
    pub fn account_tx_entries(
        &self,
        keys: &[[u8; crate::block::ACCOUNT_TX_KEY_LEN]],
    ) -> Result<Vec<Result<Option<crate::block::AccountTx>, StoreError>>, StoreError> {
        self.guard("reading the account index", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let table = txn.open_table(ACCOUNT_TXS).map_err(|e| self.db_err(e))?;
            keys.iter()
                .map(|key| {
                    let Some(value) = table.get(key).map_err(|e| self.db_err(e))? else { return Ok(Ok(None)) };
                    Ok(self.unseal(Table::AccountTxs, Key::AccountTx(key), value.value()).and_then(|payload| {
                        crate::block::AccountTx::decode(key, payload)
                            .map(Some)
                            .map_err(|why| self.corrupt(Table::AccountTxs, Key::AccountTx(key), why))
                    }))
                })
                .collect()
        })
    }

    /// The number of entries in a table.
    pub fn table_len(&self, table: Table) -> Result<u64, StoreError> {
        self.guard("counting a table", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            match table {
                Table::Meta => txn.open_table(META).map_err(|e| self.db_err(e))?.len(),
                Table::Txs => txn.open_table(TXS).map_err(|e| self.db_err(e))?.len(),
                Table::ExplainOwners => txn.open_table(EXPLAIN_OWNERS).map_err(|e| self.db_err(e))?.len(),
                Table::Heartbeats => txn.open_table(HEARTBEATS).map_err(|e| self.db_err(e))?.len(),
                Table::Closes => txn.open_table(CLOSES).map_err(|e| self.db_err(e))?.len(),
                Table::LeafChunks => txn.open_table(LEAF_CHUNKS).map_err(|e| self.db_err(e))?.len(),
                Table::AccountTxs => txn.open_table(ACCOUNT_TXS).map_err(|e| self.db_err(e))?.len(),
                other => txn.open_table(other.u64_table()).map_err(|e| self.db_err(e))?.len(),
            }
            .map_err(|e| self.db_err(e))
        })
    }

    /// The bytes a table takes in the file: its entries and its B-tree's pages (redb's
    /// accounting), for storage reports.
    pub fn table_bytes(&self, table: Table) -> Result<u64, StoreError> {
        self.guard("measuring a table", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let stats = match table {
                Table::Meta => txn.open_table(META).map_err(|e| self.db_err(e))?.stats(),
                Table::Txs => txn.open_table(TXS).map_err(|e| self.db_err(e))?.stats(),
                Table::ExplainOwners => txn.open_table(EXPLAIN_OWNERS).map_err(|e| self.db_err(e))?.stats(),
                Table::LeafChunks => txn.open_table(LEAF_CHUNKS).map_err(|e| self.db_err(e))?.stats(),
                Table::AccountTxs => txn.open_table(ACCOUNT_TXS).map_err(|e| self.db_err(e))?.stats(),
                other => txn.open_table(other.u64_table()).map_err(|e| self.db_err(e))?.stats(),
            }
            .map_err(|e| self.db_err(e))?;
            Ok(stats.stored_bytes() + stats.metadata_bytes() + stats.fragmented_bytes())
        })
    }

    /// Every key of a table keyed by a number (blocks, epochs, leaves, explain), in order.
    pub fn number_keys(&self, table: Table) -> Result<Vec<u64>, StoreError> {
        self.guard("listing a table", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let handle = txn.open_table(table.u64_table()).map_err(|e| self.db_err(e))?;
            let mut keys = Vec::new();
            for entry in handle.iter().map_err(|e| self.db_err(e))? {
                keys.push(entry.map_err(|e| self.db_err(e))?.0.value());
            }
            Ok(keys)
        })
    }

    /// An epoch's summary JSON.
    pub fn epoch_summary(&self, epoch: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(Table::Epochs, epoch)
    }

    /// An epoch's reward leaves (binary: 32-byte address ‖ 16-byte LE total, repeated): every
    /// chunk, checked against the epoch's directory.
    pub fn epoch_leaves(&self, epoch: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(directory) = self.get(Table::Leaves, epoch)? else { return Ok(None) };
        let (count, firsts, roots) = crate::block::decode_leaf_directory(&directory)
            .map_err(|why| self.corrupt(Table::Leaves, Key::Number(epoch), why))?;
        let chunks = self.epoch_chunks(epoch)?;
        if chunks.len() != firsts.len() {
            return Err(self.corrupt(
                Table::LeafChunks,
                Key::Number(epoch),
                format!("{} chunks, the directory names {}", chunks.len(), firsts.len()),
            ));
        }
        let mut out = Vec::with_capacity(count as usize * crate::block::LEAF_BYTES);
        for (index, ((key, chunk), (first, root))) in chunks.iter().zip(firsts.iter().zip(&roots)).enumerate() {
            let whole = index + 1 < firsts.len();
            if *key != crate::block::chunk_key(epoch, index as u64)
                || chunk.get(..32) != Some(&first[..])
                || (whole && chunk.len() != crate::block::LEAF_CHUNK * crate::block::LEAF_BYTES)
                || crate::block::chunk_root(chunk) != *root
            {
                return Err(self.corrupt(
                    Table::LeafChunks,
                    Key::EpochChunk(key),
                    "it is not the chunk the directory names",
                ));
            }
            out.extend_from_slice(chunk);
        }
        if out.len() != count as usize * crate::block::LEAF_BYTES {
            return Err(self.corrupt(Table::Leaves, Key::Number(epoch), "the chunks do not hold the leaves it counts"));
        }
        Ok(Some(out))
    }

    fn epoch_chunks(&self, epoch: u64) -> Result<Vec<Chunk>, StoreError> {
        let (start, end) = (crate::block::chunk_key(epoch, 0), crate::block::chunk_key(epoch, u64::MAX));
        self.guard("reading records", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let handle = txn.open_table(LEAF_CHUNKS).map_err(|e| self.db_err(e))?;
            let mut out = Vec::new();
            for entry in handle.range::<&[u8; 16]>(&start..=&end).map_err(|e| self.db_err(e))? {
                let (key, value) = entry.map_err(|e| self.db_err(e))?;
                let key = *key.value();
                out.push((key, self.unseal(Table::LeafChunks, Key::EpochChunk(&key), value.value())?.to_vec()));
            }
            Ok(out)
        })
    }

    /// `address`'s total among an epoch's reward leaves (`None`: no leaf, or no such epoch):
    /// the directory and one chunk are read, whatever the number of accounts.
    pub fn leaf_total(&self, epoch: u64, address: &gridmint_core::Address) -> Result<Option<u128>, StoreError> {
        Ok(self.leaf_chunk_of(epoch, address)?.and_then(|(_, _, chunk)| crate::block::leaf_total(&chunk, address)))
    }

    /// `address`'s proof of its cumulative rewards at `epoch`'s close (X2), from the directory
    /// and its chunk only (`None`: no leaf, or no such epoch). The same proof as from every leaf.
    pub fn leaf_proof(
        &self,
        epoch: u64,
        address: &gridmint_core::Address,
    ) -> Result<Option<gridmint_core::RewardProof>, StoreError> {
        let Some((count, (index, roots), chunk)) = self.leaf_chunk_of(epoch, address)? else { return Ok(None) };
        let key = crate::block::chunk_key(epoch, index as u64);
        let leaves = crate::block::decode_leaves(&chunk)
            .map_err(|why| self.corrupt(Table::LeafChunks, Key::EpochChunk(&key), why))?;
        Ok(gridmint_core::reward_proof_in_chunk(&leaves, index, crate::block::LEAF_CHUNK, &roots, count, address))
    }

    /// The chunk of `epoch`'s leaves where `address` would be, with the leaf count, the chunk's
    /// index and every chunk's root.
    #[allow(clippy::type_complexity)]
    fn leaf_chunk_of(
        &self,
        epoch: u64,
        address: &gridmint_core::Address,
    ) -> Result<Option<(u64, (usize, Vec<[u8; 32]>), Vec<u8>)>, StoreError> {
        let Some(directory) = self.get(Table::Leaves, epoch)? else { return Ok(None) };
        let (count, firsts, roots) = crate::block::decode_leaf_directory(&directory)
            .map_err(|why| self.corrupt(Table::Leaves, Key::Number(epoch), why))?;
        let Some(index) = firsts.partition_point(|first| first[..] <= address.0[..]).checked_sub(1) else {
            return Ok(None);
        };
        let key = crate::block::chunk_key(epoch, index as u64);
        let chunk = self.guard("reading a record", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let handle = txn.open_table(LEAF_CHUNKS).map_err(|e| self.db_err(e))?;
            let Some(value) = handle.get(&key).map_err(|e| self.db_err(e))? else { return Ok(None) };
            self.unseal(Table::LeafChunks, Key::EpochChunk(&key), value.value()).map(|p| Some(p.to_vec()))
        })?;
        let chunk =
            chunk.ok_or_else(|| self.corrupt(Table::LeafChunks, Key::EpochChunk(&key), "the chunk is missing"))?;
        Ok(Some((count, (index, roots), chunk)))
    }

    /// The epochs that have leaf chunks, each once, in order.
    pub fn leaf_chunk_epochs(&self) -> Result<Vec<u64>, StoreError> {
        self.guard("listing a table", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let handle = txn.open_table(LEAF_CHUNKS).map_err(|e| self.db_err(e))?;
            let mut epochs: Vec<u64> = Vec::new();
            for entry in handle.iter().map_err(|e| self.db_err(e))? {
                let key = *entry.map_err(|e| self.db_err(e))?.0.value();
                let epoch = u64::from_be_bytes(key[..8].try_into().unwrap_or_default());
                if epochs.last() != Some(&epoch) {
                    epochs.push(epoch);
                }
            }
            Ok(epochs)
        })
    }

    /// An epoch's explain header ([`crate::block::decode_explain_header`]).
    pub fn epoch_explain(&self, epoch: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(Table::Explain, epoch)
    }

    /// `owner`'s explain record in `epoch` ([`crate::block::decode_owner_explain`]): one seek
    /// and one chunk of at most [`crate::block::OWNER_CHUNK_BYTES`] read, whatever the fleet.
    pub fn owner_explain(&self, epoch: u64, owner: &gridmint_core::Address) -> Result<Option<Vec<u8>>, StoreError> {
        // the chunk holding it is the last one keyed at or before it in this epoch
        let (start, end) = (
            crate::block::explain_key(epoch, &gridmint_core::Address([0; 32])),
            crate::block::explain_key(epoch, owner),
        );
        self.guard("reading a record", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let handle = txn.open_table(EXPLAIN_OWNERS).map_err(|e| self.db_err(e))?;
            let Some(entry) = handle.range::<&[u8; 40]>(&start..=&end).map_err(|e| self.db_err(e))?.next_back() else {
                return Ok(None);
            };
            let (key, value) = entry.map_err(|e| self.db_err(e))?;
            let key = *key.value();
            let chunk = self.unseal(Table::ExplainOwners, Key::EpochOwner(&key), value.value())?;
            crate::block::find_owner_record(chunk, owner)
                .map(|r| r.map(<[u8]>::to_vec))
                .map_err(|why| self.corrupt(Table::ExplainOwners, Key::EpochOwner(&key), why))
        })
    }

    /// The key of every owner's explain record, in order.
    pub fn explain_owner_keys(&self) -> Result<Vec<[u8; 40]>, StoreError> {
        self.guard("listing a table", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let handle = txn.open_table(EXPLAIN_OWNERS).map_err(|e| self.db_err(e))?;
            let mut keys = Vec::new();
            for entry in handle.iter().map_err(|e| self.db_err(e))? {
                keys.push(*entry.map_err(|e| self.db_err(e))?.0.value());
            }
            Ok(keys)
        })
    }

    /// Every explain record of `epoch`, in owner order.
    pub fn epoch_owner_explains(&self, epoch: u64) -> Result<Vec<OwnerRecord>, StoreError> {
        let start = crate::block::explain_key(epoch, &gridmint_core::Address([0; 32]));
        let end = crate::block::explain_key(epoch, &gridmint_core::Address([0xff; 32]));
        self.guard("reading records", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let handle = txn.open_table(EXPLAIN_OWNERS).map_err(|e| self.db_err(e))?;
            let mut out = Vec::new();
            for entry in handle.range::<&[u8; 40]>(&start..=&end).map_err(|e| self.db_err(e))? {
                let (key, value) = entry.map_err(|e| self.db_err(e))?;
                let key = *key.value();
                let payload = self.unseal(Table::ExplainOwners, Key::EpochOwner(&key), value.value())?.to_vec();
                out.push((key, payload));
            }
            Ok(out)
        })
    }

    /// Writes (or with `None` removes) a correctly sealed record behind the ledger's back: what a
    /// bug or a deliberate edit could leave, which only the audit can tell.
    #[cfg(test)]
    pub(crate) fn tamper(&self, table: Table, key: Key, payload: Option<&[u8]>) {
        let txn = self.db.begin_write().unwrap();
        {
            let record = payload.map(|p| seal(table, key, p));
            match (table, key) {
                (Table::Meta, Key::Name(name)) => {
                    let mut t = txn.open_table(META).unwrap();
                    match &record {
                        Some(r) => drop(t.insert(name, r.as_slice()).unwrap()),
                        None => drop(t.remove(name).unwrap()),
                    }
                }
                // untagged: the payload as it is
                (Table::Txs, Key::Id(id)) => {
                    let mut t = txn.open_table(TXS).unwrap();
                    match payload {
                        Some(p) => drop(t.insert(&tx_key(id), p).unwrap()),
                        None => drop(t.remove(&tx_key(id)).unwrap()),
                    }
                }
                (Table::AccountTxs, Key::AccountTx(k)) => {
                    let mut t = txn.open_table(ACCOUNT_TXS).unwrap();
                    match &record {
                        Some(r) => drop(t.insert(k, r.as_slice()).unwrap()),
                        None => drop(t.remove(k).unwrap()),
                    }
                }
                (Table::ExplainOwners, Key::EpochOwner(k)) => {
                    let mut t = txn.open_table(EXPLAIN_OWNERS).unwrap();
                    match &record {
                        Some(r) => drop(t.insert(k, r.as_slice()).unwrap()),
                        None => drop(t.remove(k).unwrap()),
                    }
                }
                (table, Key::Number(n)) => {
                    let mut t = txn.open_table(table.u64_table()).unwrap();
                    match &record {
                        Some(r) => drop(t.insert(n, r.as_slice()).unwrap()),
                        None => drop(t.remove(n).unwrap()),
                    }
                }
                other => panic!("no such key: {other:?}"),
            }
        }
        txn.commit().unwrap();
    }

    fn get(&self, table: Table, key: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.guard("reading a record", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let handle = txn.open_table(table.u64_table()).map_err(|e| self.db_err(e))?;
            let Some(value) = handle.get(key).map_err(|e| self.db_err(e))? else { return Ok(None) };
            self.unseal(table, Key::Number(key), value.value()).map(|p| Some(p.to_vec()))
        })
    }
}

fn tip_slot(height: u64, hash: &[u8; 32]) -> [u8; TIP_SLOT] {
    let mut slot = [0u8; TIP_SLOT];
    slot[..8].copy_from_slice(&height.to_le_bytes());
    slot[8..40].copy_from_slice(hash);
    let tag = blake3::Hasher::new().update(TIP_DOMAIN).update(&slot[..40]).finalize();
    slot[40..56].copy_from_slice(&tag.as_bytes()[..16]);
    slot
}

fn parse_tip_slot(slot: &[u8]) -> Option<(u64, [u8; 32])> {
    if slot.len() != TIP_SLOT {
        return None;
    }
    let height = u64::from_le_bytes(slot[..8].try_into().ok()?);
    let hash: [u8; 32] = slot[8..40].try_into().ok()?;
    (tip_slot(height, &hash)[..] == *slot).then_some((height, hash))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Checks redb's header before redb reads it, and makes redb verify the whole file as it opens.
///
/// A file that does not start with redb's magic number is foreign; one that nearly does, or
/// whose page size or region geometry is not what this store creates, is a damaged ledger
/// (redb asserts on those fields, or sizes allocations by them). Then redb's god byte is set to
/// "recovery required, not two-phase": redb then checks both commit slots' checksums, picks the
/// newest valid one, and verifies every reachable page against its checksum (falling back to the
/// other slot if the newest fails) before it reads anything else. Left alone, redb opens a
/// cleanly closed file without any check, and a damaged page number in it can make redb allocate
/// terabytes — an abort no `catch_unwind` can catch. A fall-back that loses an acknowledged block
/// is caught by the tip file ([`Store::open`]). The file is locked meanwhile, so a running node's
/// file is never touched (redb's file format 3, as redb 3 writes it; the layout is pinned by
/// `tests::redb_header_is_as_this_module_expects`).
fn prepare_redb_header(dir: &Path, file: &Path) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::Db { path: dir.into(), source: Box::new(e) };
    let mut handle = std::fs::OpenOptions::new().read(true).write(true).open(file).map_err(io)?;
    match handle.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(StoreError::Locked(dir.into())),
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    let checked = check_and_force(dir, &mut handle);
    // released explicitly: a child process forked meanwhile (not yet exec'd) shares the handle,
    // and would otherwise hold the lock past the drop, refusing redb's own lock
    let _ = handle.unlock();
    checked
}

fn check_and_force(dir: &Path, handle: &mut std::fs::File) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::Db { path: dir.into(), source: Box::new(e) };
    let mut head = Vec::with_capacity(REDB_HEADER_LEN);
    handle.take(REDB_HEADER_LEN as u64).read_to_end(&mut head).map_err(io)?;
    let magic_differs = (0..REDB_MAGIC.len()).filter(|&i| head.get(i) != Some(&REDB_MAGIC[i])).count();
    if magic_differs > 1 {
        return Err(StoreError::Foreign { path: dir.into(), why: format!("its {DB_FILE} is not a redb database") });
    }
    let damaged = |why: String| Err(StoreError::Damaged { path: dir.into(), why });
    if magic_differs == 1 {
        return damaged(format!("the magic number of {DB_FILE} is damaged"));
    }
    if head.len() < REDB_HEADER_LEN {
        return damaged(format!("{DB_FILE} is truncated ({} bytes)", head.len()));
    }
    let field =
        |offset: usize| u32::from_le_bytes([head[offset], head[offset + 1], head[offset + 2], head[offset + 3]]);
    for (offset, name, expected) in [
        (12, "page size", REDB_PAGE_SIZE),
        (16, "region header pages", REDB_REGION_HEADER_PAGES),
        (20, "region data pages", REDB_REGION_DATA_PAGES),
    ] {
        if field(offset) != expected {
            return damaged(format!("the header of {DB_FILE} records {name} {}, not {expected}", field(offset)));
        }
    }
    let god = head[REDB_GOD_BYTE];
    let forced = (god | REDB_RECOVERY_REQUIRED) & !REDB_TWO_PHASE_COMMIT;
    if forced != god {
        handle.seek(SeekFrom::Start(REDB_GOD_BYTE as u64)).map_err(io)?;
        handle.write_all(&[forced]).map_err(io)?;
        handle.sync_data().map_err(io)?;
    }
    Ok(())
}

/// Opens redb, which verifies every reachable page as it opens (see [`prepare_redb_header`]),
/// without panicking.
fn open_checked(dir: &Path, file: &Path) -> Result<Database, StoreError> {
    prepare_redb_header(dir, file)?;
    let opened = catch_unwind(AssertUnwindSafe(|| Database::open(file)));
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(open_error(dir, e)),
        Err(panic) => Err(StoreError::Damaged {
            path: dir.into(),
            why: format!("the database panicked while opening it ({})", panic_message(panic.as_ref())),
        }),
    }
}

/// A redb error after open: corruption is damage, anything else a storage error.
fn redb_error(dir: &Path, e: redb::Error) -> StoreError {
    match e {
        redb::Error::Corrupted(why) => {
            StoreError::Damaged { path: dir.into(), why: format!("redb reports corruption: {why}") }
        }
        redb::Error::Io(io)
            if matches!(io.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData) =>
        {
            StoreError::Damaged { path: dir.into(), why: format!("redb cannot read {DB_FILE} ({io})") }
        }
        other => StoreError::Db { path: dir.into(), source: Box::new(other) },
    }
}

fn open_error(dir: &Path, e: redb::DatabaseError) -> StoreError {
    let damaged = |why: String| StoreError::Damaged { path: dir.into(), why };
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked(dir.into()),
        redb::DatabaseError::Storage(redb::StorageError::Io(io)) if io.kind() == std::io::ErrorKind::WouldBlock => {
            StoreError::Locked(dir.into())
        }
        // structures that point past the end of the file, or that redb cannot parse
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidInput
            ) =>
        {
            damaged(format!("redb cannot read {DB_FILE} ({io})"))
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(io)) => {
            StoreError::Db { path: dir.into(), source: Box::new(io) }
        }
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(why)) => {
            damaged(format!("redb's checksums or structures do not match: {why}"))
        }
        other => damaged(format!("redb refuses it: {other}")),
    }
}

/// Reads for the explorer's pages that a request must not make expensive (issue 15): a window
/// of a block's transactions, one machine's entries across epochs.
impl Store {
    /// The transactions `from..from + limit` of block `height` with their receipts
    /// ([`crate::block::decode_page`]), and its hash when `hash`: the block's bytes are read
    /// and checked against their locator's hash as [`Store::block`] does, but only the window
    /// is decoded. `None` when the block is not stored.
    pub fn block_page(
        &self,
        height: u64,
        from: usize,
        limit: usize,
        hash: bool,
    ) -> Result<Option<crate::block::BlockPage>, StoreError> {
        let Some(bytes) = self.block_bytes(height)? else { return Ok(None) };
        let key = Key::Number(height);
        let page = crate::block::decode_page(&bytes, from, limit, hash)
            .map_err(|why| self.corrupt(Table::Blocks, key, why))?;
        if page.header.height != height {
            return Err(self.corrupt(Table::Blocks, key, format!("it holds block {}", page.header.height)));
        }
        Ok(Some(page))
    }

    /// Machine `id`'s entry in `owner`'s explain record of each epoch in `epochs`, with the
    /// epoch's threshold (its explain header's `min_online_slots`), in epoch order: one read
    /// transaction; each owner's record is found and scanned where redb holds it (no copy) with
    /// [`crate::block::seek_machine_explain`]. An epoch without a record gives `(None, None)`.
    pub fn machine_explains(
        &self,
        owner: &gridmint_core::Address,
        id: u32,
        epochs: std::ops::RangeInclusive<u64>,
    ) -> Result<MachineEpochs, StoreError> {
        self.guard("reading a record", || {
            let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let headers = txn.open_table(EXPLAIN).map_err(|e| self.db_err(e))?;
            let owners = txn.open_table(EXPLAIN_OWNERS).map_err(|e| self.db_err(e))?;
            let mut out = Vec::new();
            for epoch in epochs {
                let threshold = match headers.get(epoch).map_err(|e| self.db_err(e))? {
                    Some(value) => {
                        let header = self.unseal(Table::Explain, Key::Number(epoch), value.value())?;
                        let (min_online_slots, ..) = crate::block::decode_explain_header(header)
                            .map_err(|why| self.corrupt(Table::Explain, Key::Number(epoch), why))?;
                        Some(min_online_slots)
                    }
                    None => None,
                };
                let (start, end) = (
                    crate::block::explain_key(epoch, &gridmint_core::Address([0; 32])),
                    crate::block::explain_key(epoch, owner),
                );
                let mut range = owners.range::<&[u8; 40]>(&start..=&end).map_err(|e| self.db_err(e))?;
                let entry = match range.next_back() {
                    Some(entry) => {
                        let (key, value) = entry.map_err(|e| self.db_err(e))?;
                        let key = *key.value();
                        let value = value.value();
                        let chunk = self.unseal(Table::ExplainOwners, Key::EpochOwner(&key), value)?;
                        let record = crate::block::find_owner_record(chunk, owner)
                            .map_err(|why| self.corrupt(Table::ExplainOwners, Key::EpochOwner(&key), why))?;
                        match record {
                            Some(record) => crate::block::seek_machine_explain(record, id)
                                .map_err(|why| self.corrupt(Table::ExplainOwners, Key::EpochOwner(&key), why))?,
                            None => None,
                        }
                    }
                    None => None,
                };
                out.push((epoch, threshold, entry));
            }
            Ok(out)
        })
    }
}

/// [`Store::machine_explains`]: (epoch, its threshold, the machine's entry) per epoch.
pub type MachineEpochs = Vec<(u64, Option<u32>, Option<crate::block::MachineEpoch>)>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::StoredBlock;
    use gridmint_core::Address;

    fn block(height: u64, parent: [u8; 32]) -> StoredBlock {
        StoredBlock {
            height,
            time: 10,
            parent,
            producer: Address([2; 32]),
            state_root: [3; 32],
            txs: vec![],
            receipts: vec![],
            closed_epochs: vec![1],
        }
    }

    #[test]
    fn records_round_trip_and_a_flipped_byte_or_a_moved_record_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path(), b"genesis").unwrap();
        let first = block(1, genesis_hash(b"genesis"));
        let second = block(2, first.hash());
        store.commit_block(&BlockWrite { block: &first, epochs: vec![], heartbeats: vec![], decided: None }).unwrap();
        store.commit_block(&BlockWrite { block: &second, epochs: vec![], heartbeats: vec![], decided: None }).unwrap();
        assert_eq!(store.block(1).unwrap(), Some(first.clone()));
        assert_eq!(store.last_height().unwrap(), 2);
        // behind the store's back: flip one byte of block 1's record, and copy block 2's record
        // (valid for key 2) to key 7
        let txn = store.db.begin_write().unwrap();
        {
            let mut blocks = txn.open_table(BLOCKS).unwrap();
            let mut record = blocks.get(1).unwrap().unwrap().value().to_vec();
            let last = record.len() - 1;
            record[last] ^= 0x10;
            blocks.insert(1, record.as_slice()).unwrap();
            let moved = blocks.get(2).unwrap().unwrap().value().to_vec();
            blocks.insert(7, moved.as_slice()).unwrap();
        }
        txn.commit().unwrap();
        let error = store.block(1).unwrap_err();
        assert!(matches!(&error, StoreError::Corrupt { table: "blocks", key, .. } if key == "1"), "{error}");
        assert!(error.to_string().contains("checksum"), "{error}");
        let error = store.block(7).unwrap_err();
        assert!(matches!(&error, StoreError::Corrupt { table: "blocks", key, .. } if key == "7"), "{error}");
        // the last key is checked too: it cannot hide the last block behind another key
        assert!(matches!(store.last_height(), Err(StoreError::Corrupt { table: "blocks", .. })));
        drop(store);
        let error = Store::open(dir.path()).err().expect("refused");
        assert!(error.is_damage(), "{error}");
    }

    /// Goal: a block's header is read without its transactions (what the explorer lists), and
    /// equals the full block's. Method: damage the last byte of a block's bytes in its segment:
    /// the full read fails its hash, the header read (its first bytes only) still answers; a
    /// header under another height's key is corruption.
    #[test]
    fn a_header_read_reads_the_header_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path(), b"genesis").unwrap();
        let first = block(1, genesis_hash(b"genesis"));
        store.commit_block(&BlockWrite { block: &first, epochs: vec![], heartbeats: vec![], decided: None }).unwrap();
        let header = store.block_header(1).unwrap().unwrap();
        assert_eq!(
            (header.height, header.time, header.parent, header.producer, header.state_root, header.tx_count),
            (1, first.time, first.parent, first.producer, first.state_root, 0)
        );
        assert_eq!(store.block_header(2).unwrap(), None);
        let segment = dir.path().join(crate::blocklog::LOG_DIR).join(crate::blocklog::segment_name(1));
        let mut bytes = std::fs::read(&segment).unwrap();
        assert!(bytes.len() > crate::block::HEADER_BYTES);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        std::fs::write(&segment, &bytes).unwrap();
        assert!(store.block(1).is_err(), "the full read checks the whole block's hash");
        assert_eq!(store.block_header(1).unwrap(), Some(header), "the header read never reads the tail");
        // the header's height is checked against its key
        let txn = store.db.begin_write().unwrap();
        {
            let mut blocks = txn.open_table(BLOCKS).unwrap();
            let moved = blocks.get(1).unwrap().unwrap().value().to_vec();
            blocks.insert(5, moved.as_slice()).unwrap();
        }
        txn.commit().unwrap();
        assert!(store.block_header(5).is_err());
    }

    /// Goal: leaves stored in chunks read back whole and one account at a time, across chunk
    /// boundaries, with absent addresses absent; a directory that does not fit its chunks is
    /// corruption, never a wrong total. Method: two and a half chunks of leaves at one close.
    #[test]
    fn leaves_are_read_whole_or_one_chunk_at_a_time() {
        use crate::block::{LEAF_CHUNK, encode_leaves};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path(), b"g").unwrap();
        let address = |i: u32| {
            let mut a = [0u8; 32];
            a[..4].copy_from_slice(&(i * 2 + 1).to_be_bytes());
            Address(a)
        };
        let n = 2 * LEAF_CHUNK as u32 + LEAF_CHUNK as u32 / 2;
        let leaves: Vec<(Address, u128)> = (0..n).map(|i| (address(i), u128::from(i) << 70)).collect();
        let encoded = encode_leaves(&leaves);
        let epoch = EpochWrite {
            epoch: 3,
            summary: b"{}".to_vec(),
            leaves: encoded.clone(),
            explain: vec![],
            explain_owners: vec![],
        };
        let first = block(1, genesis_hash(b"g"));
        store
            .commit_block(&BlockWrite { block: &first, epochs: vec![epoch], heartbeats: vec![], decided: None })
            .unwrap();
        assert_eq!(store.table_len(Table::LeafChunks).unwrap(), 3);
        assert_eq!(store.epoch_leaves(3).unwrap(), Some(encoded));
        for i in [0, 1, LEAF_CHUNK as u32 - 1, LEAF_CHUNK as u32, 2 * LEAF_CHUNK as u32, n - 1] {
            assert_eq!(store.leaf_total(3, &address(i)).unwrap(), Some(u128::from(i) << 70), "leaf {i}");
            let mut absent = address(i).0;
            absent[3] -= 1;
            assert_eq!(store.leaf_total(3, &Address(absent)).unwrap(), None, "before leaf {i}");
        }
        assert_eq!(store.leaf_total(3, &Address([0xff; 32])).unwrap(), None);
        // proofs from the directory and one chunk: the same as from every leaf, and they verify
        let root = gridmint_core::rewards_root_of(&leaves);
        for i in [0, LEAF_CHUNK as u32 - 1, LEAF_CHUNK as u32, 2 * LEAF_CHUNK as u32 + 1, n - 1] {
            let proof = store.leaf_proof(3, &address(i)).unwrap().unwrap();
            assert_eq!(proof, gridmint_core::reward_proof_in(&leaves, &address(i)).unwrap(), "leaf {i}");
            assert!(proof.verify(&root));
        }
        assert_eq!(store.leaf_proof(3, &Address([0xff; 32])).unwrap(), None);
        assert_eq!(store.leaf_total(4, &address(0)).unwrap(), None, "no such epoch");
        // a directory naming two chunks where there are three: corruption on the whole read
        let mut directory = (2 * LEAF_CHUNK as u64).to_le_bytes().to_vec();
        directory.extend_from_slice(&address(0).0);
        directory.extend_from_slice(&[0; 32]);
        directory.extend_from_slice(&address(LEAF_CHUNK as u32).0);
        directory.extend_from_slice(&[0; 32]);
        store.tamper(Table::Leaves, Key::Number(3), Some(&directory));
        let error = store.epoch_leaves(3).unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { table: "leaf_chunks", .. }), "{error}");
        store.tamper(Table::Leaves, Key::Number(3), Some(&[1u8; 48]));
        assert!(matches!(store.leaf_total(3, &address(0)), Err(StoreError::Corrupt { table: "leaves", .. })));
    }

    /// Goal: a slot's heartbeat bitmap, stored in segments and written by several blocks, reads
    /// back with exactly the committed machines' bits, across segment boundaries. Method: two
    /// blocks marking machines on both sides of a boundary, and a slot nobody marked.
    #[test]
    fn heartbeat_bitmaps_span_segments_and_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path(), b"g").unwrap();
        let first = block(1, genesis_hash(b"g"));
        let second = block(2, first.hash());
        let edge = SEGMENT_BITS;
        let beats = heartbeats_of(vec![(7, edge), (7, 0), (9, 3), (7, edge - 1)]);
        store.commit_block(&BlockWrite { block: &first, epochs: vec![], heartbeats: beats, decided: None }).unwrap();
        let beats = heartbeats_of(vec![(7, 2 * edge + 5), (7, 1)]);
        store.commit_block(&BlockWrite { block: &second, epochs: vec![], heartbeats: beats, decided: None }).unwrap();
        let bitmap = store.heartbeat_bitmap(7).unwrap().unwrap();
        let set: Vec<u32> = (0..3 * edge).filter(|i| bit_is_set(&bitmap, *i)).collect();
        assert_eq!(set, vec![0, 1, edge - 1, edge, 2 * edge + 5]);
        assert_eq!(store.table_len(Table::Heartbeats).unwrap(), 4, "slot 7: three segments; slot 9: one");
        let nine = store.heartbeat_bitmap(9).unwrap().unwrap();
        assert!(bit_is_set(&nine, 3) && !bit_is_set(&nine, 2));
        assert_eq!(store.heartbeat_bitmap(8).unwrap(), None);
    }

    #[test]
    fn a_store_behind_its_tip_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path(), b"g").unwrap();
        let first = block(1, genesis_hash(b"g"));
        store.commit_block(&BlockWrite { block: &first, epochs: vec![], heartbeats: vec![], decided: None }).unwrap();
        // roll the database back behind the store's back (a flipped bit in redb's header can
        // select the previous commit): the tip still says block 1
        let txn = store.db.begin_write().unwrap();
        txn.open_table(BLOCKS).unwrap().remove(1).unwrap();
        txn.commit().unwrap();
        drop(store);
        let error = Store::open(dir.path()).err().expect("refused");
        assert!(matches!(error, StoreError::Damaged { .. }), "{error}");
        assert!(error.to_string().contains("rolled back"), "{error}");
        // a damaged tip file is damage, not a panic
        std::fs::write(dir.path().join(TIP_FILE), [7u8; 128]).unwrap();
        let error = Store::open(dir.path()).err().expect("refused");
        assert!(error.to_string().contains("no valid record"), "{error}");
    }

    #[test]
    fn an_old_format_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path(), b"g").unwrap();
        // what format v1 wrote: blake3(payload)[..16] ‖ payload
        let old = b"gridmint-ledger-v1";
        let mut record = blake3::hash(old).as_bytes()[..16].to_vec();
        record.extend_from_slice(old);
        let txn = store.db.begin_write().unwrap();
        txn.open_table(META).unwrap().insert("format", record.as_slice()).unwrap();
        txn.commit().unwrap();
        drop(store);
        let error = Store::open(dir.path()).err().expect("refused");
        assert!(matches!(error, StoreError::Foreign { .. }), "{error}");
        assert!(error.to_string().contains("gridmint-ledger-v1"), "{error}");
        // and without its tip file (as v1 wrote it), still named as the old format
        std::fs::remove_file(dir.path().join(TIP_FILE)).unwrap();
        let error = Store::open(dir.path()).err().expect("refused");
        assert!(error.to_string().contains("gridmint-ledger-v1"), "{error}");
    }

    /// The redb header fields that [`prepare_redb_header`] reads and writes are where, and hold
    /// what, it expects (a redb upgrade that moves them fails here first); and a store opened
    /// after its god byte was forced opens whole.
    #[test]
    fn redb_header_is_as_this_module_expects() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path(), b"g").unwrap();
        let first = block(1, genesis_hash(b"g"));
        store.commit_block(&BlockWrite { block: &first, epochs: vec![], heartbeats: vec![], decided: None }).unwrap();
        let head = std::fs::read(dir.path().join(DB_FILE)).unwrap();
        assert_eq!(head[..9], REDB_MAGIC);
        assert_eq!(head[12..16], REDB_PAGE_SIZE.to_le_bytes());
        assert_eq!(head[16..20], REDB_REGION_HEADER_PAGES.to_le_bytes());
        assert_eq!(head[20..24], REDB_REGION_DATA_PAGES.to_le_bytes());
        // open: recovery required (redb sets it while the file is open); our commits are two-phase
        assert_eq!(head[REDB_GOD_BYTE] & (REDB_RECOVERY_REQUIRED | REDB_TWO_PHASE_COMMIT), 6);
        drop(store);
        let head = std::fs::read(dir.path().join(DB_FILE)).unwrap();
        assert_eq!(head[REDB_GOD_BYTE] & REDB_RECOVERY_REQUIRED, 0, "closed cleanly");
        let (store, genesis) = Store::open(dir.path()).unwrap();
        assert_eq!((genesis.as_slice(), store.last_height().unwrap()), (&b"g"[..], 1));
        assert_eq!(store.block(1).unwrap(), Some(first));
    }

    #[test]
    fn foreign_missing_and_existing_dirs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(Store::open(&dir.path().join("nothing")), Err(StoreError::Missing(_))));
        std::fs::write(dir.path().join("readme.txt"), "not a ledger").unwrap();
        assert!(matches!(Store::open(dir.path()), Err(StoreError::Foreign { .. })));
        let other = dir.path().join("other");
        let store = Store::create(&other, b"g").unwrap();
        assert!(matches!(Store::create(&other, b"g"), Err(StoreError::Exists(_))));
        assert!(matches!(Store::open(&other), Err(StoreError::Locked(_))), "a second open of a held database");
        drop(store);
        assert!(Store::open(&other).is_ok());
        let garbage = dir.path().join("garbage");
        std::fs::create_dir_all(&garbage).unwrap();
        std::fs::write(garbage.join(DB_FILE), b"this is not a database at all").unwrap();
        assert!(matches!(Store::open(&garbage), Err(StoreError::Foreign { .. })));
    }

    /// Goal: an account's transactions are listed newest first, a page at a time, from the
    /// `account_txs` index alone: as signer or as the account a body names, failed ones included,
    /// heartbeats never; the greatest address too; pruning a block removes its entries; a
    /// damaged entry is corruption. Method: three blocks of unsigned transactions (the store
    /// does not check signatures), 150 of them to one recipient in one block.
    #[test]
    fn an_accounts_transactions_are_listed_newest_first_and_pruned_with_their_block() {
        use crate::block::AccountRole;
        use crate::signing::SignedTx;
        use gridmint_core::{Tx, TxBody};
        let (a, b, c, m, v, last) = (
            Address([1; 32]),
            Address([2; 32]),
            Address([3; 32]),
            Address([4; 32]),
            Address([5; 32]),
            Address([0xff; 32]),
        );
        let tx =
            |signer: Address, nonce: u64, body: TxBody| SignedTx { tx: Tx { signer, nonce, body }, signature: [0; 64] };
        let with = |height: u64, parent: [u8; 32], txs: Vec<SignedTx>, codes: &[(usize, u16)]| {
            let receipts = txs
                .iter()
                .enumerate()
                .map(|(i, t)| gridmint_core::Receipt {
                    tx_id: t.tx.id(),
                    code: codes.iter().find(|(at, _)| *at == i).map_or(0, |(_, c)| *c),
                    fee: 1,
                })
                .collect();
            StoredBlock { txs, receipts, closed_epochs: vec![], ..block(height, parent) }
        };
        let first = with(
            1,
            genesis_hash(b"genesis"),
            vec![tx(a, 0, TxBody::Transfer { to: b, amount: 10 }), tx(m, 0, TxBody::Heartbeat { slot: 0 })],
            &[],
        );
        let mut txs: Vec<SignedTx> = (0..150).map(|n| tx(a, 1 + n, TxBody::Transfer { to: c, amount: 1 })).collect();
        txs.push(tx(b, 0, TxBody::Stake { validator: v, amount: 7 }));
        let second = with(2, first.hash(), txs, &[(150, 12)]);
        let third = with(3, second.hash(), vec![tx(b, 1, TxBody::Transfer { to: last, amount: 3 })], &[]);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path(), b"genesis").unwrap();
        for blk in [&first, &second, &third] {
            store.commit_block(&BlockWrite { block: blk, epochs: vec![], heartbeats: vec![], decided: None }).unwrap();
        }
        let at = |list: &[crate::block::AccountTx]| list.iter().map(|e| (e.height, e.index)).collect::<Vec<_>>();
        // a: 151 as signer; a page of 100, then the rest from the cursor
        let page = store.account_txs(&a, None, 1000).unwrap();
        assert_eq!(page.len(), MAX_ACCOUNT_TXS_PAGE + 1, "a page is capped (one more: is there a next page?)");
        let page = &page[..MAX_ACCOUNT_TXS_PAGE];
        let mut expected: Vec<(u64, u32)> = (50..150).rev().map(|i| (2, i)).collect();
        assert_eq!(at(page), expected);
        assert!(page.iter().all(|e| e.role == AccountRole::Signer && e.kind == 1 && e.amount == 1 && e.code == 0));
        let rest = store.account_txs(&a, Some((2, 50)), 100).unwrap();
        expected = (0..50).rev().map(|i| (2, i)).collect();
        expected.push((1, 0));
        assert_eq!(at(&rest), expected);
        assert_eq!(rest.last().unwrap().id, first.receipts[0].tx_id);
        // b: signer of the failed stake and of block 3's transfer, named by block 1's transfer
        let listed = store.account_txs(&b, None, 10).unwrap();
        assert_eq!(at(&listed), vec![(3, 0), (2, 150), (1, 0)]);
        assert_eq!(
            listed.iter().map(|e| (e.role, e.kind, e.code, e.amount)).collect::<Vec<_>>(),
            vec![(AccountRole::Signer, 1, 0, 3), (AccountRole::Signer, 9, 12, 7), (AccountRole::Named, 1, 0, 10)]
        );
        // the failed stake changed nothing for the validator it names: not in its list
        assert!(store.account_txs(&v, None, 10).unwrap().is_empty(), "a failed transaction's named account");
        assert_eq!(at(&store.account_txs(&last, None, 10).unwrap()), vec![(3, 0)], "the greatest address");
        assert!(store.account_txs(&m, None, 10).unwrap().is_empty(), "heartbeats are not listed");
        assert_eq!(store.account_txs(&c, None, 0).unwrap(), vec![]);
        assert_eq!(store.table_len(Table::AccountTxs).unwrap(), 2 + (2 * 150 + 1) + 2);
        // pruning blocks 1 and 2 removes their entries, and only theirs
        store.prune_to(2, "test").unwrap();
        assert_eq!(at(&store.account_txs(&b, None, 10).unwrap()), vec![(3, 0)]);
        assert!(store.account_txs(&a, None, 10).unwrap().is_empty());
        assert_eq!(store.table_len(Table::AccountTxs).unwrap(), 2);
        // a flipped byte in an entry is corruption naming the table and key
        let key = crate::block::account_tx_key(&b, 3, 0);
        let txn = store.db.begin_write().unwrap();
        {
            let mut table = txn.open_table(ACCOUNT_TXS).unwrap();
            let mut record = table.get(&key).unwrap().unwrap().value().to_vec();
            record[TAG_LEN] ^= 1;
            table.insert(&key, record.as_slice()).unwrap();
        }
        txn.commit().unwrap();
        let error = store.account_txs(&b, None, 10).unwrap_err();
        assert!(
            matches!(&error, StoreError::Corrupt { table: "account_txs", key, .. } if key.ends_with("/3.0")),
            "{error}"
        );
    }
}
