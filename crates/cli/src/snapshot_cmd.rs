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
            let (header, bytes) = match read_checked(&file) {
                Ok(x) => x,
                Err(e) => return fail(e),
            };
            let trusted = match trusted_hash.as_deref().map(parse_hash).transpose() {
                Ok(t) => t,
                Err(e) => return fail(format!("--trusted-hash: {e}")),
            };
            let created = !data.join(gridmint_node::store::DB_FILE).exists();
            if created {
                let path = genesis.unwrap_or_else(|| genesis_beside(&file));
                let parsed = std::fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| serde_json::from_slice::<gridmint_node::Genesis>(&b).map_err(|e| e.to_string()));
                let genesis = match parsed {
                    Ok(g) => g,
                    Err(e) => {
                        return fail(format!(
                            "{} holds no ledger, and the genesis to create one cannot be read from {}: {e} (pass \
                             --genesis FILE)",
                            data.display(),
                            path.display()
                        ));
                    }
                };
                if let Err(e) = gridmint_node::Ledger::create(&data, genesis) {
                    return fail(format!("cannot create {}: {e}", data.display()));
                }
            }
            let result = install(&file, &data, &header, &bytes, trusted);
            if result.is_err() && created {
                // a ledger made only for this import is not left behind half-made
                let _ = std::fs::remove_dir_all(&data);
            }
            match result {
                Ok(message) => {
                    println!("{message}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
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

/// Checks the snapshot against the node in `data` and installs it; a node that does not store
/// its block starts at it, if `trusted` is its block hash.
fn install(
    file: &Path,
    data: &Path,
    header: &gridmint_core::snapshot::SnapshotHeader,
    bytes: &[u8],
    trusted: Option<[u8; 32]>,
) -> Result<String, String> {
    let ledger =
        gridmint_node::Ledger::open_at_genesis(data).map_err(|e| format!("cannot open {}: {e}", data.display()))?;
    let described = describe(header, bytes.len());
    let mut started = false;
    if let Err(why) = snapshots::check_against(header, &ledger) {
        let store = &ledger.store;
        let last = store.last_height().map_err(|e| e.to_string())?;
        let empty = last == store.base_height();
        if !(empty && header.height > last) {
            return Err(format!("{} does not fit this node: {why}", file.display()));
        }
        if header.chain != snapshots::chain_tag(&ledger.genesis.chain_id) {
            return Err(format!("{} is of another chain than `{}`", file.display(), ledger.genesis.chain_id));
        }
        let hash = header.block_hash(BLOCK_HASH_DOMAIN);
        match trusted {
            None => {
                return Err(format!(
                    "this node does not store block {} ({why}); to start it from this snapshot, pass --trusted-hash \
                     with that block's hash from a node you trust (this snapshot claims {})",
                    header.height,
                    hex::encode(hash)
                ));
            }
            Some(t) if t != hash => {
                return Err(format!(
                    "{} is of block hash {}, not the trusted {}: refused",
                    file.display(),
                    hex::encode(hash),
                    hex::encode(t)
                ));
            }
            Some(_) => {}
        }
        store
            .start_at(header)
            .map_err(|e| format!("cannot start {} at block {}: {e}", data.display(), header.height))?;
        started = true;
    }
    let path = snapshots::write(&snapshots::dir_of(data), header.height, bytes, usize::MAX)
        .map_err(|e| format!("cannot install the snapshot: {e}"))?;
    snapshots::write_genesis(&snapshots::dir_of(data), &ledger.genesis)
        .map_err(|e| format!("cannot write the genesis beside it: {e}"))?;
    Ok(if started {
        format!(
            "installed {}: {described}\n{} starts at block {} (it stores no earlier block); start it with `gridmint \
             node --data {}`",
            path.display(),
            data.display(),
            header.height,
            data.display()
        )
    } else {
        format!("installed {}: {described}", path.display())
    })
}
