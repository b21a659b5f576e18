//! The block log: the bytes of committed blocks, in append-only segment files beside the
//! database (`<data>/blocks/`), the database holding only where each block is and its hash.
//!
//! Blocks are most of what a node writes (at 100k machines beating every slot, gigabytes a
//! day) and a node reads them rarely: the blocks after its snapshot when it restarts, one block
//! for an API request, all of them for an audit. Kept inside redb, every one of their pages was
//! verified at every open (see [`crate::store`]), so a restart cost a read of the whole window
//! of kept blocks. Here a block is verified when it is read, against the hash its locator holds
//! in the database, and an open reads only the last block (the tip's check). This is the shape
//! of the "static files" of reth and of TigerBeetle's grid: immutable data outside the B-tree.
//!
//! - A segment is a file named by the height of its first block (`{height:020}.blocks`); blocks
//!   are appended to the newest until it passes [`SEGMENT_BYTES`], then the next block starts a
//!   new one.
//! - A commit appends the block's bytes and syncs them *before* the database commits its
//!   locator: a crash in between leaves bytes past the last locator, which the next open cuts
//!   off (and a segment no locator points into, which it removes). A locator therefore never
//!   points at bytes that are not durable.
//! - Pruning removes whole segments once every block in them is below the store's base: those
//!   before the segment of the oldest stored block, as the database's locator names it (never
//!   from file names alone), at every prune and every open.
//! - Only files named exactly as the log names them are segments; a new log refuses a `blocks/`
//!   that already holds one (never a chain's blocks mixed with another's).
//! - A read checks the length and the blake3 hash: a flipped, truncated or missing segment is
//!   an error naming the block, never a wrong block.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The block log's directory inside a data dir.
pub const LOG_DIR: &str = "blocks";
/// A segment is closed once it holds this many bytes (the next block starts a new one).
pub const SEGMENT_BYTES: u64 = 64 << 20;
const SUFFIX: &str = ".blocks";
const HASH_DOMAIN: &[u8] = b"gridmint/store/block-bytes/v1";

/// Where a block's bytes are in the log, and their hash: what the database stores for a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locator {
    /// The segment: the height of its first block.
    pub segment: u64,
    /// Offset of the block's bytes in the segment.
    pub offset: u64,
    /// Their length.
    pub len: u64,
    /// [`bytes_hash`] of them.
    pub hash: [u8; 32],
}

/// Bytes of an encoded [`Locator`].
pub const LOCATOR_BYTES: usize = 56;

impl Locator {
    /// Fixed-width, little-endian: segment, offset, length, hash.
    pub fn encode(&self) -> [u8; LOCATOR_BYTES] {
        let mut out = [0u8; LOCATOR_BYTES];
        out[..8].copy_from_slice(&self.segment.to_le_bytes());
        out[8..16].copy_from_slice(&self.offset.to_le_bytes());
        out[16..24].copy_from_slice(&self.len.to_le_bytes());
        out[24..].copy_from_slice(&self.hash);
        out
    }

    /// Inverse of [`Locator::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Locator, String> {
        if bytes.len() != LOCATOR_BYTES {
            return Err(format!("{} bytes, not a block locator", bytes.len()));
        }
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let locator = Locator {
            segment: word(0),
            offset: word(8),
            len: word(16),
            hash: bytes[24..].try_into().expect("32 bytes"),
        };
        if locator.offset.checked_add(locator.len).is_none() {
            return Err("a block locator past any file".into());
        }
        Ok(locator)
    }

    /// The end of the block's bytes in its segment.
    pub fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// The hash a locator holds of a block's bytes.
pub fn bytes_hash(bytes: &[u8]) -> [u8; 32] {
    *blake3::Hasher::new().update(HASH_DOMAIN).update(bytes).finalize().as_bytes()
}

/// The segment being appended to.
#[derive(Debug)]
struct Active {
    first: u64,
    file: std::fs::File,
    /// The end of the last committed block in it.
    len: u64,
}

/// The open block log of one store.
#[derive(Debug)]
pub struct BlockLog {
    dir: PathBuf,
    active: Mutex<Option<Active>>,
    /// A segment is closed once it holds this many bytes ([`SEGMENT_BYTES`]).
    segment_bytes: std::sync::atomic::AtomicU64,
    /// Set when bytes were appended and their commit failed: the database may or may not point
    /// at them, so nothing more is appended until the store is opened again.
    poisoned: std::sync::atomic::AtomicBool,
}

/// The file of the segment starting at `first`.
pub fn segment_name(first: u64) -> String {
    format!("{first:020}{SUFFIX}")
}

/// The segments in `dir` by first height, ascending (names that are not segments ignored).
pub fn segments(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        let Some(first) = name.strip_suffix(SUFFIX).and_then(|n| n.parse().ok()) else { continue };
        // exactly as the log names them: `3.blocks` or `+3.blocks` is not segment 3
        if name != segment_name(first) {
            continue;
        }
        found.push((first, entry.path()));
    }
    found.sort();
    Ok(found)
}

impl BlockLog {
    fn new(dir: PathBuf, active: Option<Active>) -> BlockLog {
        BlockLog {
            dir,
            active: Mutex::new(active),
            segment_bytes: std::sync::atomic::AtomicU64::new(SEGMENT_BYTES),
            poisoned: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Creates the empty log of a new store. A `blocks/` that already holds a segment (another
    /// ledger's blocks) is refused: they are never mixed with a new chain's, nor removed.
    pub fn create(data: &Path) -> std::io::Result<BlockLog> {
        let dir = data.join(LOG_DIR);
        std::fs::create_dir_all(&dir)?;
        if let Some((_, path)) = segments(&dir)?.first() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} holds another ledger's blocks: refusing to start a new one beside them", path.display()),
            ));
        }
        sync_dir(data)?;
        Ok(BlockLog::new(dir, None))
    }

    /// The log of `data` before [`BlockLog::open`] (a store that is still being checked): it
    /// reads, it never writes.
    pub(crate) fn unopened(data: &Path) -> BlockLog {
        let log = BlockLog::new(data.join(LOG_DIR), None);
        log.poisoned.store(true, std::sync::atomic::Ordering::SeqCst);
        log
    }

    /// Closes segments at `bytes` instead of [`SEGMENT_BYTES`] (tests use small segments to
    /// cover rollover and pruning).
    pub fn set_segment_bytes(&self, bytes: u64) {
        self.segment_bytes.store(bytes.max(1), std::sync::atomic::Ordering::SeqCst);
    }

    /// Opens the log of a store whose last committed block is `last` (its height and locator;
    /// `None`: no block stored) and whose oldest stored block is in segment `oldest` (`None`:
    /// no block stored). The last block's bytes are checked first; then bytes past it (a
    /// commit that crashed before the database took its locator) are cut off, segments after
    /// its segment removed (started by such a commit), and segments before `oldest` (left by a
    /// prune that stopped midway) removed. Errors: the last block's segment is missing, shorter
    /// than its locator says, or its bytes differ (damage) — nothing is cut or removed then.
    pub fn open(data: &Path, last: Option<(u64, Locator)>, oldest: Option<u64>) -> Result<BlockLog, String> {
        let dir = data.join(LOG_DIR);
        let io = |what: &str, e: std::io::Error| format!("{what} {LOG_DIR}/: {e}");
        if !dir.is_dir() {
            return Err(format!("its block log {LOG_DIR}/ is missing"));
        }
        let checker = BlockLog::new(dir.clone(), None);
        if let Some((height, locator)) = &last {
            checker.read(*height, locator).map_err(|why| format!("block {height}: {why}"))?;
        }
        let found = segments(&dir).map_err(|e| io("cannot list", e))?;
        let mut active = None;
        for (first, path) in &found {
            let stray = match (last, oldest) {
                (Some((_, locator)), Some(oldest)) => *first > locator.segment || *first < oldest,
                _ => true,
            };
            if stray {
                std::fs::remove_file(path).map_err(|e| io("cannot remove a stray segment from", e))?;
            }
        }
        if let Some((height, locator)) = last {
            let path = dir.join(segment_name(locator.segment));
            let file = std::fs::OpenOptions::new().read(true).write(true).open(&path).map_err(|e| {
                format!("block {height}'s segment {LOG_DIR}/{} cannot be opened ({e})", segment_name(locator.segment))
            })?;
            let size = file.metadata().map_err(|e| io("cannot read", e))?.len();
            if size < locator.end() {
                return Err(format!(
                    "block {height}'s segment {LOG_DIR}/{} is truncated ({size} bytes, the block ends at {})",
                    segment_name(locator.segment),
                    locator.end()
                ));
            }
            if size > locator.end() {
                file.set_len(locator.end()).map_err(|e| io("cannot cut the uncommitted end of a segment in", e))?;
                file.sync_all().map_err(|e| io("cannot sync", e))?;
            }
            active = Some(Active { first: locator.segment, file, len: locator.end() });
        }
        sync_dir(&dir).map_err(|e| io("cannot sync", e))?;
        Ok(BlockLog::new(dir, active))
    }

    /// Appends block `height`'s bytes durably and returns their locator; the block is not
    /// committed until [`BlockLog::committed`] is called with it (after the database commit).
    pub fn append(&self, height: u64, bytes: &[u8]) -> std::io::Result<Locator> {
        use std::sync::atomic::Ordering;
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(std::io::Error::other(
                "an earlier block's commit failed after its bytes were appended: open the store again",
            ));
        }
        // cleared by `committed`: an append whose commit fails leaves the log refusing
        self.poisoned.store(true, Ordering::SeqCst);
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let limit = self.segment_bytes.load(Ordering::SeqCst);
        if active.as_ref().is_none_or(|a| a.len >= limit && a.first < height) {
            let path = self.dir.join(segment_name(height));
            let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path)?;
            sync_dir(&self.dir)?;
            *active = Some(Active { first: height, file, len: 0 });
        }
        let segment = active.as_mut().expect("set above");
        segment.file.write_all_at(bytes, segment.len)?;
        segment.file.sync_data()?;
        Ok(Locator { segment: segment.first, offset: segment.len, len: bytes.len() as u64, hash: bytes_hash(bytes) })
    }

    /// Records that the block at `locator` is committed: the next block goes after it.
    pub fn committed(&self, locator: &Locator) {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(segment) = active.as_mut().filter(|a| a.first == locator.segment) {
            segment.len = locator.end();
        }
        self.poisoned.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// The bytes of block `height` at `locator`, checked against its hash. Errors say what is
    /// wrong (a missing or short segment, bytes that differ).
    pub fn read(&self, height: u64, locator: &Locator) -> Result<Vec<u8>, String> {
        let name = segment_name(locator.segment);
        if locator.segment > height {
            return Err(format!("its locator names segment {LOG_DIR}/{name}, which starts after it"));
        }
        let file = std::fs::File::open(self.dir.join(&name))
            .map_err(|e| format!("its segment {LOG_DIR}/{name} cannot be opened ({e})"))?;
        let size = file.metadata().map_err(|e| format!("its segment {LOG_DIR}/{name} cannot be read ({e})"))?.len();
        if size < locator.end() {
            return Err(format!(
                "its segment {LOG_DIR}/{name} is truncated ({size} bytes, the block ends at {})",
                locator.end()
            ));
        }
        let mut bytes = vec![0u8; usize::try_from(locator.len).map_err(|_| "a block too large to read")?];
        file.read_exact_at(&mut bytes, locator.offset)
            .map_err(|e| format!("its bytes in {LOG_DIR}/{name} cannot be read ({e})"))?;
        if bytes_hash(&bytes) != locator.hash {
            return Err(format!("its bytes in {LOG_DIR}/{name} fail their hash"));
        }
        Ok(bytes)
    }

    /// The first `n` bytes (at most the block's length) of block `height` at `locator`: a
    /// header read. They cannot be checked against the locator's hash, which covers the whole
    /// block (a full read, [`BlockLog::read`], checks it); the caller checks what it can (the
    /// height).
    pub fn read_prefix(&self, height: u64, locator: &Locator, n: usize) -> Result<Vec<u8>, String> {
        let name = segment_name(locator.segment);
        if locator.segment > height {
            return Err(format!("its locator names segment {LOG_DIR}/{name}, which starts after it"));
        }
        let file = std::fs::File::open(self.dir.join(&name))
            .map_err(|e| format!("its segment {LOG_DIR}/{name} cannot be opened ({e})"))?;
        let len = (n as u64).min(locator.len);
        let mut bytes = vec![0u8; len as usize];
        file.read_exact_at(&mut bytes, locator.offset)
            .map_err(|e| format!("its bytes in {LOG_DIR}/{name} cannot be read ({e})"))?;
        Ok(bytes)
    }

    /// Removes the segments before `oldest`, the segment of the oldest block the database
    /// still stores (with no block stored, the segment being appended to), so every segment
    /// removed holds only pruned blocks. Returns how many were removed.
    pub fn prune_before(&self, oldest: u64) -> std::io::Result<usize> {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|a| a.first);
        let mut removed = 0;
        for (first, path) in segments(&self.dir)? {
            if first < oldest && Some(first) != active {
                std::fs::remove_file(path)?;
                removed += 1;
            }
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// The bytes the segments take.
    pub fn bytes(&self) -> std::io::Result<u64> {
        let mut total = 0;
        for (_, path) in segments(&self.dir)? {
            total += std::fs::metadata(path)?.len();
        }
        Ok(total)
    }

    /// The segments' first heights, ascending.
    pub fn segment_firsts(&self) -> std::io::Result<Vec<u64>> {
        Ok(segments(&self.dir)?.into_iter().map(|(first, _)| first).collect())
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: appended blocks read back; a block whose bytes changed, or whose segment is cut
    /// short or gone, is an error, never other bytes; bytes appended but never committed are
    /// cut off by the next open and stray segments removed; pruning removes only whole segments
    /// below the base.
    #[test]
    fn appends_read_back_damage_is_an_error_and_an_open_cuts_what_was_never_committed() {
        let data = tempfile::tempdir().unwrap();
        let log = BlockLog::create(data.path()).unwrap();
        let first = log.append(1, b"block one").unwrap();
        log.committed(&first);
        let second = log.append(2, b"block two!").unwrap();
        log.committed(&second);
        assert_eq!((second.segment, second.offset), (1, 9));
        assert_eq!(log.read(1, &first).unwrap(), b"block one");
        assert_eq!(log.read(2, &second).unwrap(), b"block two!");
        // appended, not committed: the next append goes over it, and an open cuts it
        let lost = log.append(3, b"never committed").unwrap();
        assert_eq!(lost.offset, second.end());
        drop(log);
        let segment = data.path().join(LOG_DIR).join(segment_name(1));
        assert_eq!(std::fs::metadata(&segment).unwrap().len(), lost.end());
        std::fs::write(data.path().join(LOG_DIR).join(segment_name(3)), b"stray").unwrap();
        // a name that only parses as a segment's is not one
        std::fs::write(data.path().join(LOG_DIR).join("1.blocks"), b"not mine").unwrap();
        let log = BlockLog::open(data.path(), Some((2, second)), Some(1)).unwrap();
        assert_eq!(std::fs::metadata(&segment).unwrap().len(), second.end());
        assert_eq!(log.segment_firsts().unwrap(), vec![1]);
        assert!(data.path().join(LOG_DIR).join("1.blocks").exists(), "left alone");
        // a new log beside another's blocks is refused
        let other = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(other.path().join(LOG_DIR)).unwrap();
        std::fs::copy(&segment, other.path().join(LOG_DIR).join(segment_name(1))).unwrap();
        assert!(BlockLog::create(other.path()).unwrap_err().to_string().contains("another ledger's blocks"));
        // a flipped byte, a wrong length, a missing segment
        let mut bytes = std::fs::read(&segment).unwrap();
        bytes[3] ^= 1;
        std::fs::write(&segment, &bytes).unwrap();
        assert!(log.read(1, &first).unwrap_err().contains("fail their hash"));
        assert_eq!(log.read(2, &second).unwrap(), b"block two!");
        let long = Locator { len: second.len + 100, ..second };
        assert!(log.read(2, &long).unwrap_err().contains("truncated"));
        let beyond = Locator { segment: 5, ..second };
        assert!(log.read(2, &beyond).unwrap_err().contains("starts after it"));
        // an open checks the last block before it cuts anything
        assert!(BlockLog::open(data.path(), Some((1, first)), Some(1)).unwrap_err().contains("fail their hash"));
        assert_eq!(std::fs::metadata(&segment).unwrap().len(), second.end(), "nothing cut");
        std::fs::remove_file(&segment).unwrap();
        assert!(log.read(2, &second).unwrap_err().contains("cannot be opened"));
        assert!(BlockLog::open(data.path(), Some((2, second)), Some(1)).unwrap_err().contains("cannot be opened"));
        assert!(Locator::decode(&second.encode()[..55]).is_err());
        assert_eq!(Locator::decode(&second.encode()).unwrap(), second);
    }

    /// Goal: segments roll over at their size; pruning removes only segments before the oldest
    /// stored block's, never the one being appended to; a failed commit stops further appends.
    #[test]
    fn pruning_removes_whole_segments_below_the_oldest_block_only() {
        let data = tempfile::tempdir().unwrap();
        let log = BlockLog::create(data.path()).unwrap();
        log.set_segment_bytes(100);
        let big = vec![7u8; 100];
        let mut locators = vec![];
        for height in 1..=5 {
            let bytes = if height % 2 == 1 { &big[..] } else { b"small" as &[u8] };
            let locator = log.append(height, bytes).unwrap();
            log.committed(&locator);
            locators.push(locator);
        }
        // a full segment closes after each big block: segments start at 1, 2, 4
        assert_eq!(log.segment_firsts().unwrap(), vec![1, 2, 4]);
        assert_eq!(locators.iter().map(|l| l.segment).collect::<Vec<_>>(), vec![1, 2, 2, 4, 4]);
        assert_eq!(log.prune_before(locators[2].segment).unwrap(), 1, "oldest block 3: segment 1 goes");
        assert_eq!(log.prune_before(locators[2].segment).unwrap(), 0);
        assert_eq!(log.prune_before(locators[3].segment).unwrap(), 1);
        assert_eq!(log.prune_before(99).unwrap(), 0, "the segment being appended to stays");
        assert_eq!(log.read(5, &locators[4]).unwrap(), big);
        // appended, never committed: the log refuses more until it is opened again
        log.append(6, b"lost").unwrap();
        assert!(log.append(6, b"again").unwrap_err().to_string().contains("open the store again"));
    }
}
