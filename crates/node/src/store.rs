//! The embedded store (redb): one write transaction per block.
//!
//! Every value is a checksummed record: `blake3(payload)[..16] ‖ payload`; a record that fails
//! its checksum is reported as corruption, never decoded. Tables:
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | `"format"`, `"genesis"` | format tag; the genesis (chain id, time, policy, producer) |
//! | `blocks` | height | the block: header, signed transactions, receipts |
//! | `txs` | transaction id | height, index, receipt code and fee |
//! | `epochs` | epoch | the epoch summary (JSON) |
//! | `leaves` | epoch | the rewards tree's leaves at that close (X2 proofs) |
//! | `explain` | epoch | every machine's reward inputs and earnings in that epoch (X3) |
//!
//! redb commits with fsync (durability `Immediate`): a block is either wholly there after a
//! crash or not at all. redb also locks the database file, so a second node on the same data dir
//! is refused.

use crate::block::{StoredBlock, TxLocation};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const TXS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("txs");
const EPOCHS: TableDefinition<u64, &[u8]> = TableDefinition::new("epochs");
const LEAVES: TableDefinition<u64, &[u8]> = TableDefinition::new("leaves");
const EXPLAIN: TableDefinition<u64, &[u8]> = TableDefinition::new("explain");

/// The format tag written at creation; any other value is a foreign data dir.
pub const FORMAT: &[u8] = b"gridmint-ledger-v1";
/// The database file inside a data dir.
pub const DB_FILE: &str = "ledger.redb";

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
    /// A record failed its checksum or could not be decoded.
    #[error("data dir {path} is corrupt: {what}")]
    Corrupt {
        /// Data dir.
        path: PathBuf,
        /// Which record.
        what: String,
    },
    /// No ledger in this dir.
    #[error("no ledger in {0} (create one with `gridmint init` or `gridmint node --dev`)")]
    Missing(PathBuf),
    /// A ledger already exists here.
    #[error("a ledger already exists in {0}")]
    Exists(PathBuf),
    /// The database itself failed.
    #[error("storage error in {path}: {source}")]
    Db {
        /// Data dir.
        path: PathBuf,
        /// redb's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What one block writes, all in one transaction.
pub struct BlockWrite<'a> {
    /// The block.
    pub block: &'a StoredBlock,
    /// Epochs closed by it.
    pub epochs: Vec<EpochWrite>,
}

/// One closed epoch's records.
pub struct EpochWrite {
    /// The epoch.
    pub epoch: u64,
    /// Summary JSON.
    pub summary: Vec<u8>,
    /// Reward leaves ([`crate::block::encode_leaves`]).
    pub leaves: Vec<u8>,
    /// Explain record JSON.
    pub explain: Vec<u8>,
}

/// The open store.
pub struct Store {
    db: Database,
    dir: PathBuf,
}

fn seal(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + payload.len());
    out.extend_from_slice(&blake3::hash(payload).as_bytes()[..16]);
    out.extend_from_slice(payload);
    out
}

impl Store {
    fn db_err(&self, e: impl Into<redb::Error>) -> StoreError {
        StoreError::Db { path: self.dir.clone(), source: Box::new(e.into()) }
    }

    fn unseal<'v>(&self, record: &'v [u8], what: impl FnOnce() -> String) -> Result<&'v [u8], StoreError> {
        if record.len() < 16 || blake3::hash(&record[16..]).as_bytes()[..16] != record[..16] {
            return Err(StoreError::Corrupt { path: self.dir.clone(), what: format!("{} fails its checksum", what()) });
        }
        Ok(&record[16..])
    }

    /// Creates a new ledger in `dir` with its genesis record.
    pub fn create(dir: &Path, genesis: &[u8]) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Db { path: dir.into(), source: Box::new(e) })?;
        let file = dir.join(DB_FILE);
        if file.exists() {
            return Err(StoreError::Exists(dir.into()));
        }
        let db = Database::create(&file).map_err(|e| open_error(dir, e))?;
        let store = Store { db, dir: dir.into() };
        let txn = store.db.begin_write().map_err(|e| store.db_err(e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| store.db_err(e))?;
            meta.insert("format", seal(FORMAT).as_slice()).map_err(|e| store.db_err(e))?;
            meta.insert("genesis", seal(genesis).as_slice()).map_err(|e| store.db_err(e))?;
            for table in [BLOCKS, EPOCHS, LEAVES, EXPLAIN] {
                txn.open_table(table).map_err(|e| store.db_err(e))?;
            }
            txn.open_table(TXS).map_err(|e| store.db_err(e))?;
        }
        txn.commit().map_err(|e| store.db_err(e))?;
        Ok(store)
    }

    /// Opens the ledger in `dir`, checking that it is one; returns it with its genesis record.
    pub fn open(dir: &Path) -> Result<(Store, Vec<u8>), StoreError> {
        let file = dir.join(DB_FILE);
        if !file.exists() {
            if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false) {
                return Err(StoreError::Foreign { path: dir.into(), why: format!("it has no {DB_FILE}") });
            }
            return Err(StoreError::Missing(dir.into()));
        }
        let db = Database::open(&file).map_err(|e| open_error(dir, e))?;
        let store = Store { db, dir: dir.into() };
        let txn = store.db.begin_read().map_err(|e| store.db_err(e))?;
        let meta = txn
            .open_table(META)
            .map_err(|_| StoreError::Foreign { path: dir.into(), why: "it has no gridmint meta table".into() })?;
        let format = meta.get("format").map_err(|e| store.db_err(e))?.map(|v| v.value().to_vec());
        match format {
            Some(record) if store.unseal(&record, || "the format record".into())? == FORMAT => {}
            _ => return Err(StoreError::Foreign { path: dir.into(), why: "unknown format tag".into() }),
        }
        let genesis =
            meta.get("genesis").map_err(|e| store.db_err(e))?.map(|v| v.value().to_vec()).ok_or_else(|| {
                StoreError::Corrupt { path: dir.into(), what: "the genesis record is missing".into() }
            })?;
        let genesis = store.unseal(&genesis, || "the genesis record".into())?.to_vec();
        drop(meta);
        drop(txn);
        Ok((store, genesis))
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Commits one block and everything it wrote, atomically and durably.
    pub fn commit_block(&self, write: &BlockWrite) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.db_err(e))?;
        {
            let block = write.block;
            let mut blocks = txn.open_table(BLOCKS).map_err(|e| self.db_err(e))?;
            blocks.insert(block.height, seal(&block.encode()).as_slice()).map_err(|e| self.db_err(e))?;
            let mut txs = txn.open_table(TXS).map_err(|e| self.db_err(e))?;
            // the receipt carries the transaction's id: no need to hash it again
            for (index, receipt) in block.receipts.iter().enumerate() {
                let location =
                    TxLocation { height: block.height, index: index as u32, code: receipt.code, fee: receipt.fee };
                txs.insert(&receipt.tx_id, seal(&location.encode()).as_slice()).map_err(|e| self.db_err(e))?;
            }
            let mut epochs = txn.open_table(EPOCHS).map_err(|e| self.db_err(e))?;
            let mut leaves = txn.open_table(LEAVES).map_err(|e| self.db_err(e))?;
            let mut explain = txn.open_table(EXPLAIN).map_err(|e| self.db_err(e))?;
            for e in &write.epochs {
                epochs.insert(e.epoch, seal(&e.summary).as_slice()).map_err(|e| self.db_err(e))?;
                leaves.insert(e.epoch, seal(&e.leaves).as_slice()).map_err(|e| self.db_err(e))?;
                explain.insert(e.epoch, seal(&e.explain).as_slice()).map_err(|e| self.db_err(e))?;
            }
        }
        txn.commit().map_err(|e| self.db_err(e))
    }

    /// The stored block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<StoredBlock>, StoreError> {
        let Some(bytes) = self.get(BLOCKS, height)? else { return Ok(None) };
        StoredBlock::decode(&bytes)
            .map(Some)
            .map_err(|why| StoreError::Corrupt { path: self.dir.clone(), what: format!("block {height}: {why}") })
    }

    /// The highest stored block height (0 when only the genesis exists).
    pub fn last_height(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = txn.open_table(BLOCKS).map_err(|e| self.db_err(e))?;
        let last = table.last().map_err(|e| self.db_err(e))?;
        Ok(last.map_or(0, |(k, _)| k.value()))
    }

    /// Where a transaction was committed, with its receipt.
    pub fn tx(&self, id: &[u8; 32]) -> Result<Option<TxLocation>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = txn.open_table(TXS).map_err(|e| self.db_err(e))?;
        let Some(value) = table.get(id).map_err(|e| self.db_err(e))? else { return Ok(None) };
        let payload = self.unseal(value.value(), || format!("transaction {}", hex::encode(id)))?;
        TxLocation::decode(payload).map(Some).map_err(|why| StoreError::Corrupt {
            path: self.dir.clone(),
            what: format!("transaction {}: {why}", hex::encode(id)),
        })
    }

    /// Several transactions' locations in one read.
    pub fn txs(&self, ids: &[[u8; 32]]) -> Result<Vec<Option<TxLocation>>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = txn.open_table(TXS).map_err(|e| self.db_err(e))?;
        ids.iter()
            .map(|id| {
                let Some(value) = table.get(id).map_err(|e| self.db_err(e))? else { return Ok(None) };
                let payload = self.unseal(value.value(), || format!("transaction {}", hex::encode(id)))?;
                TxLocation::decode(payload).map(Some).map_err(|why| StoreError::Corrupt {
                    path: self.dir.clone(),
                    what: format!("transaction {}: {why}", hex::encode(id)),
                })
            })
            .collect()
    }

    /// An epoch's summary JSON.
    pub fn epoch_summary(&self, epoch: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(EPOCHS, epoch)
    }

    /// An epoch's reward leaves (binary: 32-byte address ‖ 16-byte LE total, repeated).
    pub fn epoch_leaves(&self, epoch: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(LEAVES, epoch)
    }

    /// An epoch's explain record (JSON).
    pub fn epoch_explain(&self, epoch: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(EXPLAIN, epoch)
    }

    fn get(&self, table: TableDefinition<u64, &[u8]>, key: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table_handle = txn.open_table(table).map_err(|e| self.db_err(e))?;
        let Some(value) = table_handle.get(key).map_err(|e| self.db_err(e))? else { return Ok(None) };
        let name = table.to_string();
        self.unseal(value.value(), || format!("{name} record {key}")).map(|p| Some(p.to_vec()))
    }
}

fn open_error(dir: &Path, e: redb::DatabaseError) -> StoreError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked(dir.into()),
        redb::DatabaseError::Storage(redb::StorageError::Io(io)) if io.kind() == std::io::ErrorKind::WouldBlock => {
            StoreError::Locked(dir.into())
        }
        other => StoreError::Foreign { path: dir.into(), why: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::StoredBlock;
    use gridmint_core::Address;

    fn block(height: u64) -> StoredBlock {
        StoredBlock {
            height,
            time: 10,
            parent: [1; 32],
            producer: Address([2; 32]),
            state_root: [3; 32],
            txs: vec![],
            receipts: vec![],
            closed_epochs: vec![1],
        }
    }

    #[test]
    fn records_round_trip_and_a_flipped_byte_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path(), b"genesis").unwrap();
        store.commit_block(&BlockWrite { block: &block(1), epochs: vec![] }).unwrap();
        assert_eq!(store.block(1).unwrap(), Some(block(1)));
        assert_eq!(store.last_height().unwrap(), 1);
        // flip one byte of the stored record, behind the store's back
        let txn = store.db.begin_write().unwrap();
        {
            let mut blocks = txn.open_table(BLOCKS).unwrap();
            let mut record = blocks.get(1).unwrap().unwrap().value().to_vec();
            let last = record.len() - 1;
            record[last] ^= 0x10;
            blocks.insert(1, record.as_slice()).unwrap();
        }
        txn.commit().unwrap();
        let error = store.block(1).unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
        assert!(error.to_string().contains("checksum"), "{error}");
        drop(store);
        // the genesis record is checked on open too
        let (_, genesis) = Store::open(dir.path()).unwrap();
        assert_eq!(genesis, b"genesis");
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
    }
}
