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
    /// Copy a node's newest snapshot that checks out to FILE (the node may be running).
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
    Import {
        /// The snapshot file.
        file: PathBuf,
        /// The node's data directory.
        #[arg(long, value_name = "DIR", default_value = "gridmint-data")]
        data: PathBuf,
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
                        return ExitCode::SUCCESS;
                    }
                    Err(e) => eprintln!("warning: skipped {e}"),
                }
            }
            fail(format!("no snapshot in {} checks out", data.display()))
        }
        SnapshotCommand::Import { file, data } => {
            let (header, bytes) = match read_checked(&file) {
                Ok(x) => x,
                Err(e) => return fail(e),
            };
            let ledger = match gridmint_node::Ledger::open_at_genesis(&data) {
                Ok(l) => l,
                Err(e) => return fail(format!("cannot open {}: {e}", data.display())),
            };
            if let Err(why) = snapshots::check_against(&header, &ledger) {
                return fail(format!("{} does not fit this node: {why}", file.display()));
            }
            match snapshots::write(&snapshots::dir_of(&data), header.height, &bytes, usize::MAX) {
                Ok(path) => {
                    println!("installed {}: {}", path.display(), describe(&header, bytes.len()));
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("cannot install the snapshot: {e}")),
            }
        }
    }
}
