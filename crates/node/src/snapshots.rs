//! The node's snapshots (issue 12): the whole state after an epoch-closing block, written to
//! `<data>/snapshots/` (format: [`gridmint_core::snapshot`]), the newest few kept; a restart
//! loads the newest one that checks out and replays only the blocks after it.
//!
//! Between closes, a node also writes an *interim* snapshot once enough transactions were
//! committed since its last snapshot ([`Schedule`]; `--snapshot-txs`): an epoch of a large fleet
//! is tens of millions of heartbeats, which a restart would otherwise replay. Only the newest
//! [`INTERIM_KEPT`] interim snapshots are kept, and a close's snapshot supersedes those before
//! it; pruning only ever counts on close snapshots, whose retention the settings guarantee.
//!
//! A snapshot is written to a temporary file, synced, renamed into place and the directory
//! synced: a crash (even `kill -9`) mid-write leaves at most a temporary file, which is never
//! loaded and is removed at the next write. Loading checks the file's checksum and the state
//! root it recomputes against the block the node stores at that height (the block hash too), so
//! a damaged, truncated or foreign snapshot is skipped with a warning, never used.

use crate::block::StoredBlock;
use crate::ledger::{Ledger, LedgerError};
use gridmint_core::State;
use gridmint_core::snapshot::{self, SnapshotError, SnapshotHeader};
use std::path::{Path, PathBuf};

/// The snapshot directory of a data dir.
pub fn dir_of(data: &Path) -> PathBuf {
    data.join("snapshots")
}

const SUFFIX: &str = ".snapshot";
const INTERIM_SUFFIX: &str = ".interim.snapshot";
/// How many interim snapshots (between closes) are kept.
pub const INTERIM_KEPT: usize = 2;

/// The file name of the snapshot of `height` (written at an epoch close, or imported).
pub fn file_name(height: u64) -> String {
    format!("{height:020}{SUFFIX}")
}

/// The file name of the interim snapshot of `height`.
pub fn interim_file_name(height: u64) -> String {
    format!("{height:020}{INTERIM_SUFFIX}")
}

fn list_suffix(dir: &Path, suffix: &str) -> Vec<(u64, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
    let mut found: Vec<(u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let height = name.strip_suffix(suffix)?.parse().ok()?;
            Some((height, e.path()))
        })
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found
}

/// Every snapshot file of `dir` (at closes and interim) by height, newest first (names that
/// are not snapshots ignored): what a restart may start from.
pub fn list(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut found = list_closes(dir);
    found.extend(list_suffix(dir, INTERIM_SUFFIX));
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found
}

/// The snapshots of `dir` written at closes (or imported), newest first: what pruning counts on.
pub fn list_closes(dir: &Path) -> Vec<(u64, PathBuf)> {
    list_suffix(dir, SUFFIX)
}

/// When a node writes a snapshot: after every `every_closes`-th epoch close, and between
/// closes once `every_txs` transactions were committed since the last one (0: never).
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Epoch closes between snapshots (0: none at closes).
    pub every_closes: u64,
    /// Transactions committed since the last snapshot that call for an interim one (0: none).
    pub every_txs: u64,
    since: u64,
}

/// Which snapshot a block calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// The snapshot of an epoch close.
    Close,
    /// An interim snapshot.
    Interim,
}

impl Schedule {
    /// A schedule with `since` transactions committed since the last snapshot (a restart passes
    /// those it replayed).
    pub fn new(every_closes: u64, every_txs: u64, since: u64) -> Schedule {
        Schedule { every_closes, every_txs, since }
    }

    /// After a block of `txs` transactions that closed `closed` (the last epoch it closed): the
    /// snapshot it calls for, if any. The caller writes it and calls [`Schedule::written`],
    /// which starts the count again. With `every_closes` 0 no snapshot is ever due (interim
    /// ones neither): `--snapshot-every 0` writes none.
    pub fn after_block(&mut self, txs: u64, closed: Option<u64>) -> Option<Due> {
        if self.every_closes == 0 {
            return None;
        }
        self.since = self.since.saturating_add(txs);
        if let Some(epoch) = closed
            && self.every_closes > 0
            && epoch % self.every_closes == 0
        {
            return Some(Due::Close);
        }
        (self.every_txs > 0 && self.since >= self.every_txs).then_some(Due::Interim)
    }

    /// A snapshot was written (or its write tried and failed: it is not tried at every block).
    pub fn written(&mut self) {
        self.since = 0;
    }

    /// Makes an interim snapshot due at the next block (a start that replayed blocks).
    pub fn owe(&mut self) {
        self.since = self.since.max(self.every_txs);
    }
}

/// The chain's genesis record beside the snapshots (`gridmint snapshot export` hands it on with
/// one, so that a new node can be created for it).
pub const GENESIS_FILE: &str = "genesis.json";

/// In a data dir, a `gridmint snapshot import` that started a new node and has not finished:
/// the node refuses to start until the import is run again.
pub const IMPORT_MARKER: &str = "import.incomplete";

/// Writes the genesis record into the snapshot directory unless it is there with these bytes
/// (atomically and durably).
pub fn write_genesis(dir: &Path, genesis: &crate::Genesis) -> std::io::Result<()> {
    use std::io::Write;
    let path = dir.join(GENESIS_FILE);
    let bytes = genesis.to_bytes();
    if std::fs::read(&path).is_ok_and(|stored| stored == bytes) {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!("{GENESIS_FILE}.tmp"));
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, &path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// What a snapshot header holds of the chain id: its blake3 hash.
pub fn chain_tag(chain_id: &str) -> [u8; 32] {
    *blake3::hash(chain_id.as_bytes()).as_bytes()
}

/// The header of `block`'s snapshot on chain `chain_id`.
pub fn header_of(chain_id: &str, block: &StoredBlock) -> SnapshotHeader {
    SnapshotHeader {
        chain: chain_tag(chain_id),
        height: block.height,
        time: block.time,
        parent: block.parent,
        producer: block.producer,
        state_root: block.state_root,
        txs_hash: block.txs_hash(),
    }
}

/// Writes `bytes` as the snapshot of `height` in `dir` atomically and durably, then keeps only
/// the newest `keep` snapshots of closes, removes the interim ones it supersedes (and stray
/// temporary files).
pub fn write(dir: &Path, height: u64, bytes: &[u8], keep: usize) -> std::io::Result<PathBuf> {
    let path = write_file(dir, &file_name(height), bytes)?;
    for (_, old) in list_closes(dir).into_iter().skip(keep.max(1)) {
        let _ = std::fs::remove_file(old);
    }
    for (_, old) in list_suffix(dir, INTERIM_SUFFIX).into_iter().filter(|(h, _)| *h <= height) {
        let _ = std::fs::remove_file(old);
    }
    Ok(path)
}

/// Writes `bytes` as the interim snapshot of `height` in `dir` atomically and durably, then
/// keeps only the newest [`INTERIM_KEPT`] interim snapshots.
pub fn write_interim(dir: &Path, height: u64, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let path = write_file(dir, &interim_file_name(height), bytes)?;
    for (_, old) in list_suffix(dir, INTERIM_SUFFIX).into_iter().skip(INTERIM_KEPT) {
        let _ = std::fs::remove_file(old);
    }
    Ok(path)
}

/// Writes `name` in `dir` through a synced temporary file renamed into place, then syncs the
/// directory; removes stray temporary files.
fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    let temporary = dir.join(format!("{name}.tmp"));
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, &path)?;
    std::fs::File::open(dir)?.sync_all()?;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok) {
            if entry.file_name().to_string_lossy().ends_with(".tmp") && entry.path() != temporary {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(path)
}

/// Why a snapshot file was not used.
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    /// It could not be read.
    #[error("cannot read it: {0}")]
    Read(#[from] std::io::Error),
    /// Its bytes do not check out.
    #[error("{0}")]
    Snapshot(#[from] SnapshotError),
    /// It does not match this chain's blocks.
    #[error("{0}")]
    Mismatch(String),
    /// The store failed while it was checked (damage is the store's, not the snapshot's).
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

/// Reads and checks the snapshot at `path` against `ledger`'s chain and stored blocks.
pub fn load(path: &Path, ledger: &Ledger) -> Result<(SnapshotHeader, State), Unusable> {
    let bytes = std::fs::read(path)?;
    let (header, state) = snapshot::decode(&bytes)?;
    check_against(&header, ledger)?;
    Ok((header, state))
}

/// Checks a decoded snapshot's header against the chain id and the block the store holds at
/// its height.
pub fn check_against(header: &SnapshotHeader, ledger: &Ledger) -> Result<(), Unusable> {
    if header.chain != chain_tag(&ledger.genesis.chain_id) {
        return Err(Unusable::Mismatch(format!("it is of another chain than `{}`", ledger.genesis.chain_id)));
    }
    // the block a pruned store was pruned up to (or started from) is kept as its header
    let base = ledger.store.base()?;
    if let Some(base) = base.filter(|b| b.height == header.height) {
        return if base == *header {
            Ok(())
        } else {
            Err(Unusable::Mismatch(format!(
                "its header is not that of block {} this node was pruned to",
                header.height
            )))
        };
    }
    let block = ledger
        .store
        .block(header.height)?
        .ok_or_else(|| Unusable::Mismatch(format!("this node has no block {}", header.height)))?;
    if header_of(&ledger.genesis.chain_id, &block) != *header {
        return Err(Unusable::Mismatch(format!("its header is not that of the stored block {}", header.height)));
    }
    if header.block_hash(crate::block::BLOCK_HASH_DOMAIN) != block.hash() {
        return Err(Unusable::Mismatch("its block hash differs".into()));
    }
    Ok(())
}

/// Builds the snapshot of the ledger's state after `block` (its tip).
pub fn encode(ledger: &Ledger, block: &StoredBlock) -> Result<Vec<u8>, LedgerError> {
    if block.height != ledger.state.height {
        return Err(LedgerError::Halted);
    }
    Ok(snapshot::encode(&ledger.state, &header_of(&ledger.genesis.chain_id, block)))
}

/// The most blocks one epoch close prunes.
pub const PRUNE_PER_CLOSE: u64 = 100_000;

/// After `epoch` closed, on a pruned node: removes the blocks up to the newest snapshot in the
/// data dir that is at or before the close of epoch `epoch - keep_epochs` (a restart needs a
/// snapshot at or after the base, and the blocks of the kept epochs stay). Returns how many
/// blocks were removed and the new base, or `None` when nothing was to be pruned.
pub fn prune_after_close(
    store: &crate::store::Store,
    chain_id: &str,
    keep_epochs: u64,
    epoch: u64,
) -> Result<Option<(u64, u64)>, crate::store::StoreError> {
    let Some(target) = prune_target(store, chain_id, keep_epochs, epoch)? else { return Ok(None) };
    let removed = store.prune_to(target, chain_id)?;
    Ok(Some((removed, target)))
}

/// Where pruning after `epoch` closed may go (see [`prune_after_close`]): the newest usable
/// snapshot at or before the close of epoch `epoch - keep_epochs`, at most [`PRUNE_PER_CLOSE`]
/// blocks past the base; `None` when nothing is to be pruned. A node prunes towards it a little
/// after each block ([`PRUNE_TXS_PER_BLOCK`], [`crate::store::Store::prune_some`]).
pub fn prune_target(
    store: &crate::store::Store,
    chain_id: &str,
    keep_epochs: u64,
    epoch: u64,
) -> Result<Option<u64>, crate::store::StoreError> {
    let Some(bound_epoch) = epoch.checked_sub(keep_epochs).filter(|e| *e > 0) else { return Ok(None) };
    let Some(bound) = store.epoch_close(bound_epoch)? else { return Ok(None) };
    // the newest snapshot at or before the bound whose bytes check out and whose header is the
    // stored block's: blocks are never pruned up to a file that could not start the node
    let usable = |height: u64, path: &Path| -> Result<bool, crate::store::StoreError> {
        let Ok(bytes) = std::fs::read(path) else { return Ok(false) };
        let Ok(header) = snapshot::check_checksum(&bytes) else { return Ok(false) };
        let stored = match store.block(height)? {
            Some(block) => header_of(chain_id, &block) == header,
            None => store.base()?.is_some_and(|base| base == header),
        };
        Ok(header.height == height && stored)
    };
    let mut base = None;
    for (height, path) in list_closes(&dir_of(store.dir())).into_iter().filter(|(h, _)| *h <= bound) {
        if height <= store.base_height() {
            break;
        }
        if usable(height, &path)? {
            base = Some(height);
            break;
        }
    }
    let Some(base) = base else { return Ok(None) };
    // at most PRUNE_PER_CLOSE blocks a close: an archive store turned pruned catches up over
    // several closes instead of stalling block production (any base below a usable snapshot
    // restarts from it)
    Ok(Some(base.min(store.base_height().saturating_add(PRUNE_PER_CLOSE))))
}

/// The transactions (hence index entries) a node's pruning removes after each block it commits:
/// at 100k machines beating every slot, a day is 26 million heartbeats, whose removal at once
/// stopped block production for 8 minutes; in steps of this many it costs about 0.1 s a block.
pub const PRUNE_TXS_PER_BLOCK: u64 = 20_000;

/// The budget of the pruning step after a block of `block_txs` transactions: at least
/// [`PRUNE_TXS_PER_BLOCK`], and at least twice the block's own transactions. With the constant
/// alone, blocks of more than 20,000 transactions (a large fleet's heartbeats, or anyone filling
/// blocks at the rate limit) each removed one old block while adding one, and a pruned node's
/// storage grew without bound; at twice the incoming transactions, pruning gains on its target
/// with every block, for a step that costs at most about twice the block's own index writes.
pub fn prune_budget(block_txs: u64) -> u64 {
    PRUNE_TXS_PER_BLOCK.max(block_txs.saturating_mul(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: pruning gains on its target whatever the blocks' size. A step removes whole blocks
    /// until their transactions reach the budget (at least one block); with blocks of `n`
    /// transactions a step must remove at least two of them while one is added, or a pruned
    /// node's backlog never shrinks (what blocks of 90,000 heartbeats did with a fixed budget).
    #[test]
    fn a_pruning_step_removes_more_than_a_block_adds() {
        for n in [0u64, 1, 7, 19_999, 20_000, 20_001, 90_000, 1 << 40, u64::MAX / 2, u64::MAX] {
            let budget = prune_budget(n);
            assert!(budget >= PRUNE_TXS_PER_BLOCK, "{n}");
            assert!(budget >= n.saturating_mul(2), "{n}");
            if n > 0 && n < u64::MAX / 2 {
                // the blocks a step removes: until their transactions reach the budget
                let removed = budget.div_ceil(n).max(1);
                assert!(removed >= 2, "blocks of {n} transactions: a step removes {removed}, the block adds 1");
            }
        }
    }

    /// Goal: a close calls for its snapshot (every `every_closes`-th), transactions call for an
    /// interim one once they reach `every_txs` since the last written, and a failed write is
    /// due again at the next block.
    #[test]
    fn the_schedule_follows_closes_and_transactions() {
        let mut s = Schedule::new(2, 10, 0);
        assert_eq!(s.after_block(9, None), None);
        assert_eq!(s.after_block(1, None), Some(Due::Interim));
        // not written (a failed write): due again
        assert_eq!(s.after_block(0, None), Some(Due::Interim));
        s.written();
        assert_eq!(s.after_block(3, Some(1)), None, "epoch 1 is not every second close");
        assert_eq!(s.after_block(3, Some(2)), Some(Due::Close));
        s.written();
        assert_eq!(s.after_block(9, None), None);
        let mut never = Schedule::new(0, 0, u64::MAX);
        assert_eq!(never.after_block(u64::MAX, Some(4)), None);
        // --snapshot-every 0: no interim snapshot either
        let mut none = Schedule::new(0, 10, 0);
        assert_eq!(none.after_block(100, None), None);
        // a start that replayed blocks owes one at the next block
        let mut owed = Schedule::new(1, 10, 0);
        owed.owe();
        assert_eq!(owed.after_block(0, None), Some(Due::Interim));
        let mut off = Schedule::new(1, 0, 0);
        off.owe();
        assert_eq!(off.after_block(0, None), None, "interim snapshots off");
    }

    /// Goal: interim snapshots keep the newest [`INTERIM_KEPT`]; a close's snapshot keeps the
    /// newest `keep` of its kind and removes the interim ones at or before it; `list` sees both,
    /// newest first.
    #[test]
    fn retention_keeps_the_newest_of_each_kind() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for h in [10, 20] {
            write(d, h, b"close", 2).unwrap();
        }
        for h in [21, 22, 23] {
            write_interim(d, h, b"interim").unwrap();
        }
        let heights = |v: Vec<(u64, PathBuf)>| v.into_iter().map(|f| f.0).collect::<Vec<_>>();
        assert_eq!(heights(list(d)), vec![23, 22, 20, 10]);
        write(d, 22, b"close", 2).unwrap();
        assert_eq!(heights(list(d)), vec![23, 22, 20]);
        assert_eq!(heights(list_closes(d)), vec![22, 20]);
        assert!(!d.join(interim_file_name(22)).exists(), "superseded by the close's");
    }
}
