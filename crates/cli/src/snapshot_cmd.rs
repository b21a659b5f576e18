//! `gridmint snapshot`: inspect, export and import state snapshots (issue 12).

use clap::Subcommand;
use gridmint_node::block::BLOCK_HASH_DOMAIN;
use gridmint_node::snapshots;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `gridmint snapshot …`.
#[derive(Subcommand, Debug)]
pub enum SnapshotCommand {
    /// Check a snapshot file (checksum, decoding, state root) and print the block it is of.
    Inspect {
        /// The snapshot file.
        file: PathBuf,
    },
    /// Copy a node's newest snapshot that checks out to FILE (the node may be running), and the
    /// chain's genesis to FILE.genesis.json (what a new node needs to start from it).
    Export {
        /// The node's data directory.
        #[arg(long, value_name = "DIR", default_value = "gridmint-data")]
        data: PathBuf,
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Install a snapshot into a stopped node's data directory, after checking it against the
    /// block the node stores at its height (chain, header, block hash, state root): the next
    /// start loads it and replays only the blocks after it.
    ///
    /// A new node starts from a snapshot the same way: DIR holds no ledger yet (it is created
    /// from --genesis) or one with no block, and --trusted-hash gives the snapshot's block hash
    /// as a node you trust reports it (GET /v1/blocks/N): the node then stores no block before
    /// it, and starts there.
    Import {
        /// The snapshot file.
        file: PathBuf,
        /// The node's data directory.
        #[arg(long, value_name = "DIR", default_value = "gridmint-data")]
        data: PathBuf,
        /// The chain's genesis file, to create DIR [default: FILE.genesis.json, as `export`
        /// writes it].
        #[arg(long, value_name = "FILE")]
        genesis: Option<PathBuf>,
        /// The hash of the snapshot's block from a source you trust (64 hex digits): needed to
        /// start a node that does not store that block.
        #[arg(long, value_name = "HEX")]
        trusted_hash: Option<String>,
    },
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn describe(header: &gridmint_core::snapshot::SnapshotHeader, bytes: usize) -> String {
    format!(
        "snapshot of block {} (time {}): block hash {}, state root {}, {} bytes",
        header.height,
        header.time,
        hex::encode(header.block_hash(BLOCK_HASH_DOMAIN)),
        hex::encode(header.state_root),
        bytes
    )
}

/// Reads and fully checks a snapshot file.
fn read_checked(file: &Path) -> Result<(gridmint_core::snapshot::SnapshotHeader, Vec<u8>), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let (header, _) = gridmint_core::snapshot::decode(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok((header, bytes))
}

/// Runs a `gridmint snapshot` command.
pub fn main(command: SnapshotCommand) -> ExitCode {
    match command {
        SnapshotCommand::Inspect { file } => match read_checked(&file) {
            Ok((header, bytes)) => {
                println!("valid: {}", describe(&header, bytes.len()));
                println!("compare the block hash with one you trust (another node's GET /v1/blocks/{})", header.height);
                ExitCode::SUCCESS
            }
            Err(e) => {
                println!("INVALID: {e}");
                ExitCode::from(1)
            }
        },
        SnapshotCommand::Export { data, out } => {
            let found = snapshots::list(&snapshots::dir_of(&data));
            if found.is_empty() {
                return fail(format!(
                    "{} holds no snapshot (a node writes one at each epoch close; see --snapshot-every)",
                    data.display()
                ));
            }
            for (_, path) in found {
                match read_checked(&path) {
                    Ok((header, bytes)) => {
                        if let Err(e) = std::fs::write(&out, &bytes) {
                            return fail(format!("cannot write {}: {e}", out.display()));
                        }
                        println!("wrote {}: {}", out.display(), describe(&header, bytes.len()));
                        let genesis = snapshots::dir_of(&data).join(snapshots::GENESIS_FILE);
                        let beside = genesis_beside(&out);
                        match std::fs::copy(&genesis, &beside) {
                            Ok(_) => println!("wrote {} (the chain's genesis)", beside.display()),
                            Err(e) => eprintln!("warning: no genesis beside it ({}: {e})", genesis.display()),
                        }
                        return ExitCode::SUCCESS;
                    }
                    Err(e) => eprintln!("warning: skipped {e}"),
                }
            }
            fail(format!("no snapshot in {} checks out", data.display()))
        }
        SnapshotCommand::Import { file, data, genesis, trusted_hash } => {
            match import(&file, &data, genesis, trusted_hash.as_deref()) {
                Ok(message) => {
                    println!("{message}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}

/// `gridmint snapshot import`: into a node that stores the snapshot's block (or its base), or
/// — with the trusted block hash — a new node started at it.
pub(crate) fn import(
    file: &Path,
    data: &Path,
    genesis: Option<PathBuf>,
    trusted_hash: Option<&str>,
) -> Result<String, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let (header, state) = gridmint_core::snapshot::decode(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
    let trusted = trusted_hash.map(parse_hash).transpose().map_err(|e| format!("--trusted-hash: {e}"))?;
    let marker = data.join(snapshots::IMPORT_MARKER);
    let has_ledger = data.join(gridmint_node::store::DB_FILE).exists() && !marker.exists();
    if !has_ledger {
        return import_new(file, data, genesis, &header, &state, &bytes, trusted);
    }
    if genesis.is_some() {
        return Err(format!("{} already holds a ledger: --genesis only creates a new one", data.display()));
    }
    let ledger =
        gridmint_node::Ledger::open_at_genesis(data).map_err(|e| format!("cannot open {}: {e}", data.display()))?;
    check_genesis(&ledger.genesis, &header, &state)?;
    let described = describe(&header, bytes.len());
    if let Err(why) = snapshots::check_against(&header, &ledger) {
        // a ledger with no block yet may start at the snapshot, if its block hash is trusted
        let store = &ledger.store;
        let last = store.last_height().map_err(|e| e.to_string())?;
        if last != store.base_height() || header.height <= last {
            return Err(format!("{} does not fit this node: {why}", file.display()));
        }
        check_trusted(&header, trusted, &why.to_string())?;
        // under the marker: a crash in between leaves a node that refuses to start, never one
        // that produces from genesis
        write_marker(data)?;
        snapshots::write(&snapshots::dir_of(data), header.height, &bytes, usize::MAX)
            .map_err(|e| format!("cannot install the snapshot: {e}"))?;
        store
            .start_at(&header)
            .map_err(|e| format!("cannot start {} at block {}: {e}", data.display(), header.height))?;
        remove_marker(data)?;
        return Ok(started_message(data, &header, &described));
    }
    let path = snapshots::write(&snapshots::dir_of(data), header.height, &bytes, usize::MAX)
        .map_err(|e| format!("cannot install the snapshot: {e}"))?;
    Ok(format!("installed {}: {described}", path.display()))
}

/// A new node in `data` from `genesis` (default: beside the snapshot), started at the
/// snapshot's block. Everything is checked before anything is written; a marker file makes an
/// interrupted import refuse to start (never a chain from genesis), and a failed one removes
/// only what it wrote.
fn import_new(
    file: &Path,
    data: &Path,
    genesis: Option<PathBuf>,
    header: &gridmint_core::snapshot::SnapshotHeader,
    state: &gridmint_core::State,
    bytes: &[u8],
    trusted: Option<[u8; 32]>,
) -> Result<String, String> {
    let path = genesis.unwrap_or_else(|| genesis_beside(file));
    let genesis = std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice::<gridmint_node::Genesis>(&b).map_err(|e| e.to_string()))
        .map_err(|e| {
            format!(
                "{} holds no ledger, and the genesis to create one cannot be read from {}: {e} (pass --genesis FILE)",
                data.display(),
                path.display()
            )
        })?;
    check_genesis(&genesis, header, state)?;
    check_trusted(header, trusted, &format!("{} holds no ledger", data.display()))?;
    let described = describe(header, bytes.len());
    let dir_existed = data.exists();
    let snapshot_dir = snapshots::dir_of(data);
    let snapshots_existed = snapshot_dir.exists();
    let marker = data.join(snapshots::IMPORT_MARKER);
    let ledger_files = [data.join(gridmint_node::store::DB_FILE), data.join(gridmint_node::store::TIP_FILE)];
    // a ledger started from a snapshot has no block yet: its block log holds nothing to keep
    let log_dir = data.join(gridmint_node::blocklog::LOG_DIR);
    if marker.exists() {
        // what an interrupted import left is replaced: a ledger that produced blocks is not
        if let Ok(ledger) = gridmint_node::Ledger::open_at_genesis_unchecked(data) {
            let last = ledger.store.last_height().map_err(|e| e.to_string())?;
            if last > ledger.store.base_height() {
                return Err(format!(
                    "{} holds an interrupted import and a ledger with blocks: remove one of them by hand",
                    data.display()
                ));
            }
        }
        for file in &ledger_files {
            remove_if_there(file)?;
        }
        // an import writes no block: a block log with blocks in it is someone else's
        if gridmint_node::blocklog::segments(&log_dir).is_ok_and(|s| !s.is_empty()) {
            return Err(format!(
                "{} holds an interrupted import and blocks in {}: remove one of them by hand",
                data.display(),
                log_dir.display()
            ));
        }
        remove_dir_if_there(&log_dir)?;
    } else if let Some(file) = ledger_files.iter().find(|f| f.symlink_metadata().is_ok()) {
        return Err(format!("{} is there but holds no readable ledger: refusing to touch it", file.display()));
    } else if gridmint_node::blocklog::segments(&log_dir).is_ok_and(|s| !s.is_empty()) {
        return Err(format!("{} holds blocks but no ledger: refusing to touch it", log_dir.display()));
    }
    if std::fs::read(snapshot_dir.join(snapshots::GENESIS_FILE)).is_ok_and(|stored| stored != genesis.to_bytes()) {
        return Err(format!("{} already holds another chain's genesis", snapshot_dir.display()));
    }
    let log_existed = log_dir.exists();
    let snapshot_file = snapshot_dir.join(snapshots::file_name(header.height));
    let snapshot_existed = snapshot_file.exists();
    let write = || -> Result<(), String> {
        std::fs::create_dir_all(data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
        write_marker(data)?;
        let ledger = gridmint_node::Ledger::create_importing(data, genesis.clone())
            .map_err(|e| format!("cannot create {}: {e}", data.display()))?;
        snapshots::write(&snapshot_dir, header.height, bytes, usize::MAX)
            .map_err(|e| format!("cannot install the snapshot: {e}"))?;
        snapshots::write_genesis(&snapshot_dir, &ledger.genesis)
            .map_err(|e| format!("cannot write the genesis beside it: {e}"))?;
        ledger
            .store
            .start_at(header)
            .map_err(|e| format!("cannot start {} at block {}: {e}", data.display(), header.height))?;
        drop(ledger);
        remove_marker(data)
    };
    match write() {
        Ok(()) => Ok(started_message(data, header, &described)),
        Err(e) => {
            // only what this import wrote goes; the marker last, once the ledger is gone
            let removed = ledger_files
                .iter()
                .try_for_each(|f| remove_if_there(f))
                .and_then(|()| if log_existed { Ok(()) } else { remove_dir_if_there(&log_dir) });
            if let Err(why) = removed {
                return Err(format!(
                    "{e}; and the half-made ledger could not be removed ({why}): the import marker stays"
                ));
            }
            if !snapshots_existed {
                let _ = std::fs::remove_dir_all(&snapshot_dir);
            } else if !snapshot_existed {
                let _ = std::fs::remove_file(&snapshot_file);
            }
            let _ = remove_if_there(&marker);
            if !dir_existed {
                let _ = std::fs::remove_dir(data);
            }
            Err(e)
        }
    }
}

/// Removes `file` if it is there (a missing file is not an error).
fn remove_if_there(file: &Path) -> Result<(), String> {
    match std::fs::remove_file(file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", file.display())),
    }
}

/// Removes the directory `dir` and what it holds if it is there.
fn remove_dir_if_there(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", dir.display())),
    }
}

/// Writes the import marker durably: from here until [`remove_marker`] the node will not start.
fn write_marker(data: &Path) -> Result<(), String> {
    let marker = data.join(snapshots::IMPORT_MARKER);
    let io = |e: std::io::Error| format!("cannot write {}: {e}", marker.display());
    let file = std::fs::File::create(&marker).map_err(io)?;
    std::io::Write::write_all(&mut &file, b"a snapshot import into this data dir did not finish: run it again\n")
        .map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::File::open(data).and_then(|d| d.sync_all()).map_err(io)
}

/// Removes the import marker durably.
fn remove_marker(data: &Path) -> Result<(), String> {
    remove_if_there(&data.join(snapshots::IMPORT_MARKER))?;
    std::fs::File::open(data).and_then(|d| d.sync_all()).map_err(|e| format!("cannot sync {}: {e}", data.display()))
}

/// The genesis must be the one the snapshot's chain started from: same chain id, genesis time
/// and first policy (the state root commits to the last two), and the block's producer.
fn check_genesis(
    genesis: &gridmint_node::Genesis,
    header: &gridmint_core::snapshot::SnapshotHeader,
    state: &gridmint_core::State,
) -> Result<(), String> {
    if header.chain != snapshots::chain_tag(&genesis.chain_id) {
        return Err(format!("the snapshot is of another chain than `{}`", genesis.chain_id));
    }
    if state.genesis_time != genesis.genesis_time {
        return Err(format!(
            "the snapshot's chain began at {}, the genesis at {}: not this chain's genesis",
            state.genesis_time, genesis.genesis_time
        ));
    }
    let policy = genesis.parse_policy().map_err(|e| e.to_string())?;
    if state.policy_log.first().map(|era| era.hash) != Some(policy.hash()) {
        return Err("the snapshot's chain began under another policy than the genesis's".into());
    }
    // a single node's blocks all have its genesis producer; a replicated chain's each have their
    // proposer (the trusted hash commits to it)
    if genesis.validators.is_empty() && header.producer != genesis.producer {
        return Err(format!(
            "the snapshot's block was produced by {}, not this genesis's producer {}",
            header.producer.to_bech32m(),
            genesis.producer.to_bech32m()
        ));
    }
    Ok(())
}

/// A snapshot whose block the node does not store is taken only with its block hash trusted.
fn check_trusted(
    header: &gridmint_core::snapshot::SnapshotHeader,
    trusted: Option<[u8; 32]>,
    why: &str,
) -> Result<(), String> {
    let hash = header.block_hash(BLOCK_HASH_DOMAIN);
    match trusted {
        None => Err(format!(
            "this node does not store block {} ({why}); to start it from this snapshot, pass --trusted-hash with that \
             block's hash from a node you trust (this snapshot claims {})",
            header.height,
            hex::encode(hash)
        )),
        Some(t) if t != hash => Err(format!(
            "the snapshot is of block hash {}, not the trusted {}: refused",
            hex::encode(hash),
            hex::encode(t)
        )),
        Some(_) => Ok(()),
    }
}

fn started_message(data: &Path, header: &gridmint_core::snapshot::SnapshotHeader, described: &str) -> String {
    format!(
        "installed: {described}\n{} starts at block {} (it stores no earlier block); start it with `gridmint node \
         --data {}`",
        data.display(),
        header.height,
        data.display()
    )
}

/// Where `export` writes the genesis beside a snapshot file.
fn genesis_beside(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".genesis.json");
    PathBuf::from(name)
}

fn parse_hash(text: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text.trim()).map_err(|e| format!("not hex: {e}"))?;
    bytes.try_into().map_err(|b: Vec<u8>| format!("{} bytes, not 32", b.len()))
}
