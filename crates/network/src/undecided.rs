//! Blocks persisted before consensus decides them: one file per block in a directory, written
//! to a temporary name, fsynced, renamed and the directory fsynced, so that a crash leaves a
//! block wholly there or not at all. A file is `height-round-valueid.block` (`round` is `x` for
//! another validator's block) holding the block's canonical bytes and a blake3 checksum of them;
//! a file that fails its checksum or does not decode is reported and skipped (the engine then
//! gets the block again from its peers), never trusted.

use gridmint_consensus::app_channel::app::types::core::Round;
use gridmint_consensus::{Block, Height};
use std::io::Write;
use std::path::{Path, PathBuf};

fn name(height: Height, round: Option<Round>, block: &Block) -> String {
    let round = round.and_then(|r| r.as_u32()).map_or("x".to_string(), |r| r.to_string());
    format!("{:020}-{round}-{}.block", height.0, hex::encode(block.value().value_id().0))
}

/// Persists `block` (idempotent: a block already there is not written again).
pub fn persist(dir: &Path, round: Option<Round>, block: &Block) -> Result<(), String> {
    let path = dir.join(name(block.header.height, round, block));
    if path.exists() {
        return Ok(());
    }
    let io = |what: &str, e: std::io::Error| format!("cannot persist block {}: {what}: {e}", block.header.height.0);
    std::fs::create_dir_all(dir).map_err(|e| io("creating its directory", e))?;
    let mut bytes = block.canonical_bytes();
    let sum = blake3::hash(&bytes);
    bytes.extend_from_slice(sum.as_bytes());
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(|e| io("creating it", e))?;
    file.write_all(&bytes).map_err(|e| io("writing it", e))?;
    file.sync_all().map_err(|e| io("syncing it", e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io("renaming it", e))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("syncing its directory", e))?;
    Ok(())
}

fn entries(dir: &Path) -> Vec<(u64, Option<u32>, PathBuf)> {
    let Ok(read) = std::fs::read_dir(dir) else { return vec![] };
    let mut found = Vec::new();
    for entry in read.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(stem) = name.strip_suffix(".block") else { continue };
        let mut parts = stem.splitn(3, '-');
        let (Some(height), Some(round)) = (parts.next(), parts.next()) else { continue };
        let Ok(height) = height.parse::<u64>() else { continue };
        let round = if round == "x" {
            None
        } else {
            match round.parse::<u32>() {
                Ok(r) => Some(r),
                Err(_) => continue,
            }
        };
        found.push((height, round, path));
    }
    found.sort();
    found
}

/// The blocks persisted at `height`, with the round of this node's own.
pub fn at_height(dir: &Path, height: Height) -> Vec<(Option<Round>, Block)> {
    let mut blocks = Vec::new();
    for (h, round, path) in entries(dir) {
        if h != height.0 {
            continue;
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot read a persisted block: {e}");
                continue;
            }
        };
        let Some((body, sum)) = bytes.split_last_chunk::<32>() else { continue };
        if blake3::hash(body).as_bytes() != sum {
            tracing::warn!(path = %path.display(), "a persisted block fails its checksum: skipped");
            continue;
        }
        match Block::from_canonical_bytes(body) {
            Ok(block) if block.header.height == height => blocks.push((round.map(Round::new), block)),
            _ => tracing::warn!(path = %path.display(), "a persisted block does not decode: skipped"),
        }
    }
    blocks
}

/// Deletes the blocks of heights up to `height` (and temporary files a crash left).
pub fn forget_through(dir: &Path, height: Height) {
    for (h, _, path) in entries(dir) {
        if h <= height.0 {
            let _ = std::fs::remove_file(path);
        }
    }
    if let Ok(read) = std::fs::read_dir(dir) {
        for entry in read.flatten() {
            if entry.path().extension().is_some_and(|e| e == "tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridmint_consensus::{BlockHeader, SignedTxBytes};

    fn block(height: u64, n: u8) -> Block {
        Block {
            header: BlockHeader {
                height: Height(height),
                time_ms: 10 + height,
                parent_hash: [n; 32],
                parent_state_root: [2; 32],
                producer: gridmint_core::Address([3; 32]),
            },
            txs: vec![SignedTxBytes { signature: [n; 64], tx: vec![n; 5] }],
        }
    }

    /// Persisted blocks come back by height with their rounds; a damaged file is skipped; the
    /// blocks of committed heights go.
    #[test]
    fn blocks_survive_until_forgotten_and_damage_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("undecided");
        persist(&d, Some(Round::new(2)), &block(5, 1)).unwrap();
        persist(&d, Some(Round::new(2)), &block(5, 1)).unwrap();
        persist(&d, None, &block(5, 2)).unwrap();
        persist(&d, None, &block(6, 3)).unwrap();
        let at5 = at_height(&d, Height(5));
        assert_eq!(at5.len(), 2, "the same block twice is one file");
        assert!(at5.contains(&(Some(Round::new(2)), block(5, 1))));
        assert!(at5.contains(&(None, block(5, 2))));
        // a flipped byte: the block is not trusted
        let (_, _, path) = entries(&d).into_iter().find(|(h, r, _)| *h == 5 && r.is_none()).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[3] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(at_height(&d, Height(5)), vec![(Some(Round::new(2)), block(5, 1))]);
        forget_through(&d, Height(5));
        assert!(at_height(&d, Height(5)).is_empty());
        assert_eq!(at_height(&d, Height(6)), vec![(None, block(6, 3))]);
    }
}
