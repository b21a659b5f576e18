//! `gridmint node`, `init`, `keys`, `tx`, `account`, `epoch`, `verify-reward`, `replay`.

use clap::{Args as ClapArgs, Subcommand};
use gridmint_core::{Address, JobMode, ProposalAction, RewardProof, Tx, TxBody};
use gridmint_node::client::{Answer, Client};
use gridmint_node::node::{self, Config, Shared};
use gridmint_node::signing::{self, SignedTx, address_of, load_key};
use gridmint_node::{Genesis, Ledger};
use gridmint_policy::{GenesisAllocation, parse_tokens};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Run a ledger node: embedded storage, block production, the HTTP API.
#[derive(ClapArgs, Debug)]
#[command(after_help = "Examples:\n  \
gridmint node --dev                       # netmind, ./gridmint-data, http://127.0.0.1:8645\n  \
gridmint node --dev --policy osmi --data /tmp/osmi --epoch-seconds 60 --block-ms 200\n  \
gridmint init --policy netmind --allocations alloc.toml --data net && gridmint node --data net\n\n\
On first start with --dev the node creates a genesis with a prefunded dev account and writes its\n\
key into the data dir (the path is printed). A transaction is acknowledged once its block is\n\
committed; after a crash the node restarts at its last committed block. Stop with Ctrl-C.\n\n\
Exit codes: 0 stopped cleanly; 1 stopped on an error; 2 refused (arguments, locked or foreign data\n\
dir); 3 the data dir's store is damaged or does not replay (the message names the data dir).")]
pub struct NodeArgs {
    /// Development network: create a genesis and a prefunded dev account on first start.
    #[arg(long)]
    dev: bool,
    /// Run one node of a replicated network from its config file (what `gridmint testnet`
    /// writes): its genesis, data dir, key, API and p2p addresses and peers come from the file;
    /// the API limits from the options below.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["dev", "data", "policy", "listen", "epoch_seconds", "archive", "keep_epochs", "max_block_txs", "block_ms", "skip_empty_blocks"])]
    config: Option<PathBuf>,
    /// Data directory (the redb database and, with --dev, the keys).
    #[arg(long, value_name = "DIR", default_value = "gridmint-data")]
    data: PathBuf,
    /// Policy for a new --dev network: a preset or a policy TOML file.
    #[arg(long, value_name = "NAME|FILE")]
    policy: Option<String>,
    /// HTTP listen address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8645")]
    listen: SocketAddr,
    /// Block interval in milliseconds: every interval the waiting transactions become a block.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    block_ms: u64,
    /// Epoch length in seconds for a new --dev network (development networks only; slots and the
    /// qualifying minimum are scaled to match).
    #[arg(long, value_name = "SECONDS", requires = "dev")]
    epoch_seconds: Option<u64>,
    /// Mempool capacity (transactions); beyond it submissions get 503 mempool_full.
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    mempool: usize,
    /// Most transactions per block.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    max_block_txs: usize,
    /// Largest request body in bytes (413 beyond).
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    max_body_bytes: usize,
    /// Most transactions per batch (413 beyond).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_batch: usize,
    /// Requests per second per client IP (429 beyond); 0 disables the limit.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    rate_limit: u32,
    /// Most HTTP connections open at once (capped by the open-files limit, which the node raises to
    /// its hard limit at start); beyond it a new connection gets 503 too_many_connections.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_connections: usize,
    /// Most HTTP connections open at once from one client IP (an IPv6 /64 counts as one).
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_connections_per_ip: usize,
    /// A connection must send a whole request head within this many milliseconds of opening or
    /// of its previous response, else it is closed (bounds idle and slow-header connections).
    #[arg(long, value_name = "MS", default_value_t = 15_000)]
    header_timeout_ms: u64,
    /// A request body must arrive whole within this many milliseconds (408 body_timeout beyond).
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    body_timeout_ms: u64,
    /// A response write that makes no progress for this many milliseconds (the client does not
    /// read) closes the connection.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    write_timeout_ms: u64,
    /// On Ctrl-C or SIGTERM, how many milliseconds requests in progress get to finish.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    shutdown_grace_ms: u64,
    /// Skip a tick's block when there is no transaction to commit and no epoch to close (an idle
    /// chain then stops recomputing its state root every interval: worth it with many machines).
    #[arg(long)]
    skip_empty_blocks: bool,
    /// Write a snapshot of the whole state after every N epoch closes into DIR/snapshots (a
    /// restart then replays only the blocks after the newest one); 0 writes none.
    #[arg(long, value_name = "N", default_value_t = 1)]
    snapshot_every: u64,
    /// How many snapshots of epoch closes to keep (the newest).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    snapshots_kept: u64,
    /// Between epoch closes, also write a snapshot once this many transactions were committed
    /// since the last one (the newest two such are kept), so that a restart replays at most
    /// about this many; 0 writes none (nor does --snapshot-every 0). A million heartbeats replay
    /// in about a second and a half.
    #[arg(long, value_name = "TXS", default_value_t = 1_000_000)]
    snapshot_txs: u64,
    /// Keep every block. Without it the node is pruned: after each epoch close it removes the
    /// blocks (and their transaction index entries) up to its newest snapshot that is at least
    /// --keep-epochs epochs old; epoch summaries, reward proofs, explain records and heartbeat
    /// bitmaps are kept forever either way.
    #[arg(long)]
    archive: bool,
    /// A pruned node keeps the blocks of at least this many closed epochs (and of the open one).
    #[arg(long, value_name = "N", default_value_t = 2, conflicts_with = "archive",
          value_parser = clap::value_parser!(u64).range(1..))]
    keep_epochs: u64,
    /// Print nothing per epoch (only start-up and errors).
    #[arg(long, short)]
    quiet: bool,
    /// Also log each block with transactions (debug level, on standard error).
    #[arg(long, short, conflicts_with = "quiet")]
    verbose: bool,
}

/// Create a genesis for a real network from a policy and an allocation file.
#[derive(ClapArgs, Debug)]
#[command(after_help = "The allocation file is TOML:\n  \
[[allocations]]\n  account = \"gm1…\"            # an address (gm1… or 64 hex digits) or a system account name\n  \
amount = \"1000000.5\"      # tokens\n\n\
Allocations are minted spendable at genesis; they must fit under the policy's cap unless\n\
--raise-cap raises the cap by their sum. An allocation to a small-order (weak) key is refused.")]
pub struct InitArgs {
    /// Policy: a preset or a policy TOML file.
    #[arg(long, value_name = "NAME|FILE")]
    policy: String,
    /// Allocation file (TOML).
    #[arg(long, value_name = "FILE")]
    allocations: Option<PathBuf>,
    /// Data directory to create.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// The producer's key file (created in the data dir when absent).
    #[arg(long, value_name = "FILE")]
    producer_key: Option<PathBuf>,
    /// Chain id [default: <policy>-<hash of the genesis>].
    #[arg(long)]
    chain_id: Option<String>,
    /// Genesis time, Unix seconds [default: now].
    #[arg(long)]
    genesis_time: Option<u64>,
    /// Raise the cap by the allocations' sum.
    #[arg(long)]
    raise_cap: bool,
}

/// Key management.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create an ed25519 key file and print its address (gm1…).
    New {
        /// Where to write the key (refuses to overwrite).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print the address as 64 hex digits instead.
        #[arg(long)]
        hex: bool,
    },
    /// Print a key file's address (gm1…).
    Show {
        /// Key file.
        file: PathBuf,
        /// Print the address as 64 hex digits instead.
        #[arg(long)]
        hex: bool,
    },
    /// Check an address and print both of its forms: gm1… (checksummed) and 64 hex digits.
    #[command(after_help = "Examples:\n  \
gridmint keys address gm1…                  # is it well-formed? its hex form\n  \
gridmint keys address 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29\n  \
gridmint keys address --system dao_treasury # a system account's address (no key exists for it)")]
    Address {
        /// The address: gm1… or 64 hex digits.
        #[arg(value_parser = address, required_unless_present = "system", conflicts_with = "system")]
        address: Option<Address>,
        /// A system account's name instead (e.g. dao_treasury): accounts without a key, named in policies.
        #[arg(long, value_name = "NAME")]
        system: Option<String>,
    },
}

/// Where the node is.
#[derive(ClapArgs, Debug, Clone)]
pub struct NodeUrl {
    /// The node's API.
    #[arg(long, value_name = "URL", env = "GRIDMINT_NODE", default_value = "http://127.0.0.1:8645")]
    node: String,
}

impl NodeUrl {
    /// A client of the node.
    pub fn client(&self) -> Client {
        Client::new(&self.node)
    }
}

/// Sign and submit a transaction.
#[derive(ClapArgs, Debug)]
#[command(after_help = "Amounts are in tokens (decimal, e.g. 12.5). Addresses are checksummed gm1… (what `keys`\n\
prints) or 64 hex digits; a system account name is refused (see `gridmint keys address --system`).\n\
Examples:\n  \
gridmint tx --key gridmint-data/dev-key.json transfer --to <ADDR> --amount 10 --wait\n  \
gridmint tx --key owner.json register-machine --machine-key gpu1.json --gpu-class 1 --bandwidth-mbps 1000\n  \
gridmint tx --key gpu1.json heartbeat                  # the current slot\n  \
gridmint tx --key owner.json raw '{\"kind\":\"claim\"}'\n\n\
The nonce: the node admits only the next nonce after the signer's waiting transactions, and a\n\
waiting one may still be dropped (its fee became unpayable), which drops every later one too.\n\
So with --wait the CLI first waits (up to a minute) until none of the signer's transactions\n\
waits, then signs with the committed nonce: what it sends never depends on one that may fail.\n\
Without --wait it takes the next nonce after the waiting ones (so scripts can send several in a\n\
row) and says so on standard error; `gridmint lookup <ID>` tells whether each was committed.\n\n\
Exit codes: 0 applied (without --wait: admitted); 1 refused, failed with an error code (it paid\n\
its fee and used its nonce), dropped, or still pending when the wait ended; 2 bad arguments or\n\
no answer from the node.")]
pub struct TxArgs {
    #[command(flatten)]
    url: NodeUrl,
    /// The signer's key file.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Nonce [default: with --wait, the committed nonce once this signer's waiting transactions
    /// have settled; without it, the next nonce after them (see the note below)].
    #[arg(long, global = true)]
    nonce: Option<u64>,
    /// Wait until the block holding it is committed, and print the receipt; exit 1 with the
    /// reason when it failed.
    #[arg(long, global = true)]
    wait: bool,
    #[command(subcommand)]
    kind: TxKind,
}

/// Transaction kinds.
#[derive(Subcommand, Debug)]
pub enum TxKind {
    /// Move spendable tokens.
    Transfer {
        /// The recipient: gm1… or 64 hex digits (a small-order key is refused).
        #[arg(long, value_parser = recipient)]
        to: Address,
        #[arg(long, value_parser = tokens)]
        amount: u128,
    },
    /// Register a machine owned by the signer.
    RegisterMachine {
        /// The machine's address.
        #[arg(long, value_parser = address, conflicts_with = "machine_key", required_unless_present = "machine_key")]
        machine: Option<Address>,
        /// The machine's key file (its address is used).
        #[arg(long, value_name = "FILE")]
        machine_key: Option<PathBuf>,
        #[arg(long)]
        gpu_class: u8,
        #[arg(long)]
        bandwidth_mbps: u32,
        #[arg(long, value_parser = tokens, default_value = "0")]
        bond: u128,
    },
    /// A machine's heartbeat (sign with the machine's key).
    Heartbeat {
        /// Absolute slot [default: the current one].
        #[arg(long)]
        slot: Option<u64>,
    },
    /// Escrow a job's budget (NM8).
    SubmitJob {
        #[arg(long)]
        job_id: u64,
        #[arg(long, value_parser = job_mode)]
        mode: JobMode,
        /// Tokens per GPU-second.
        #[arg(long, value_parser = tokens)]
        price: u128,
        #[arg(long)]
        max_gpu_seconds: u64,
    },
    /// Report a machine's work on a job.
    ReportUsage {
        #[arg(long, value_parser = address)]
        customer: Address,
        #[arg(long)]
        job_id: u64,
        #[arg(long, value_parser = address)]
        machine: Address,
        #[arg(long)]
        gpu_seconds: u64,
        #[arg(long, default_value_t = 0)]
        ai_tokens: u64,
    },
    /// Settle a job.
    SettleJob {
        #[arg(long)]
        job_id: u64,
    },
    /// Become a validator.
    RegisterValidator {
        #[arg(long, value_parser = tokens)]
        bond: u128,
    },
    /// Stake on a validator.
    Stake {
        #[arg(long, value_parser = address)]
        validator: Address,
        #[arg(long, value_parser = tokens)]
        amount: u128,
    },
    /// Unstake.
    Unstake {
        #[arg(long, value_parser = address)]
        validator: Address,
        #[arg(long, value_parser = tokens)]
        amount: u128,
        #[arg(long)]
        fast: bool,
    },
    /// Claim all unclaimed rewards.
    Claim,
    /// Propose a treasury spend or a policy change.
    Propose {
        /// Pay the treasury's tokens to this address...
        #[arg(long, value_parser = recipient, requires = "amount", conflicts_with = "set")]
        spend_to: Option<Address>,
        /// ...this many tokens.
        #[arg(long, value_parser = tokens)]
        amount: Option<u128>,
        /// A policy change KEY=VALUE (repeat).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Vote on a proposal.
    Vote {
        #[arg(long)]
        proposal: u64,
        /// Vote yes (default no).
        #[arg(long)]
        yes: bool,
    },
    /// Lock tokens for the other chain.
    BridgeOut {
        #[arg(long, value_parser = tokens)]
        amount: u128,
        /// Recipient on the other chain: an EVM address, `0x` and 40 hex digits (or the 64 hex
        /// digits of it left-padded to 32 bytes).
        #[arg(long, value_parser = foreign_recipient)]
        recipient: [u8; 32],
    },
    /// A relayer attests an inbound bridge deposit.
    Attest {
        #[arg(long)]
        deposit_id: u64,
        #[arg(long, value_parser = recipient)]
        recipient: Address,
        #[arg(long, value_parser = tokens)]
        amount: u128,
    },
    /// The customer reports that a machine's disconnection failed a job (NM9); settles it.
    FailJob {
        #[arg(long)]
        job_id: u64,
        #[arg(long, value_parser = address)]
        machine: Address,
    },
    /// Claim rewards straight into stake on a validator.
    ClaimToStake {
        #[arg(long, value_parser = address)]
        validator: Address,
    },
    /// A liquidity attester reports a provider's liquidity.
    AttestLiquidity {
        #[arg(long, value_parser = address)]
        provider: Address,
        #[arg(long, value_parser = tokens)]
        amount: u128,
    },
    /// Submit a DualProof work receipt for a machine (OT3).
    SubmitReceipt {
        #[arg(long, value_parser = address)]
        machine: Address,
        /// Task id, model id, input hash, output hash: 64 hex digits each.
        #[arg(long, value_parser = hash32)]
        task_id: [u8; 32],
        #[arg(long, value_parser = hash32)]
        model_id: [u8; 32],
        #[arg(long, value_parser = hash32)]
        input_hash: [u8; 32],
        #[arg(long, value_parser = hash32)]
        output_hash: [u8; 32],
        #[arg(long)]
        gpu_seconds: u64,
    },
    /// A validator attests a work receipt (OT4, OT5).
    AttestReceipt {
        /// Receipt id (64 hex digits).
        #[arg(long, value_parser = hash32)]
        receipt: [u8; 32],
        /// The receipt is valid (default: invalid).
        #[arg(long)]
        valid: bool,
    },
    /// Any transaction body as JSON (the `body` of docs' SignedTx, amounts in base units).
    Raw {
        /// e.g. '{"kind":"claim_to_stake","validator":"…"}'
        body: String,
    },
}

/// An address on the command line: checksummed `gm1…` or 64 hex digits, never a system account
/// name, so a typo cannot become a valid address ([`Address::parse_user`]).
pub fn address(text: &str) -> Result<Address, gridmint_policy::AddressError> {
    Address::parse_user(text)
}

/// An address that receives tokens: [`address`], and not a small-order key (no one can sign for
/// one, so tokens sent there are lost).
fn recipient(text: &str) -> Result<Address, String> {
    let address = address(text).map_err(|e| e.to_string())?;
    if address.is_weak_key() {
        return Err("a small-order (weak) public key: no one can spend from it, tokens sent there are lost".into());
    }
    Ok(address)
}

/// A 32-byte id or hash (not an address): exactly 64 hex digits.
fn foreign_recipient(text: &str) -> Result<[u8; 32], String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let mut bytes = [0u8; 32];
    let ok = match digits.len() {
        40 => hex::decode_to_slice(digits, &mut bytes[12..]).is_ok(),
        64 => hex::decode_to_slice(digits, &mut bytes).is_ok(),
        _ => false,
    };
    if !ok {
        return Err("expected an EVM address: 0x and 40 hex digits".into());
    }
    if !gridmint_core::bridge::is_evm_address(&bytes) {
        return Err("not an EVM address: the zero address, or 32 bytes whose first 12 are not zero".into());
    }
    Ok(bytes)
}

fn hash32(text: &str) -> Result<[u8; 32], String> {
    let mut bytes = [0u8; 32];
    if text.len() != 64 || hex::decode_to_slice(text, &mut bytes).is_err() {
        return Err(format!("expected 64 hex digits, got {} characters", text.chars().count()));
    }
    Ok(bytes)
}

/// An amount on the command line, in tokens (decimal, e.g. `12.5`), as base units.
fn tokens(text: &str) -> Result<u128, String> {
    parse_tokens(text).map_err(|e| e.to_string())
}

fn job_mode(text: &str) -> Result<JobMode, String> {
    serde_json::from_value(Value::String(text.into())).map_err(|_| "expected sync, async, inference or rental".into())
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn print_answer(answer: &Answer) -> ExitCode {
    crate::tx_report::print_json(answer.body.clone());
    if answer.status < 300 { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn load_policy_arg(policy: &str) -> Result<gridmint_core::Policy, String> {
    gridmint_sim::load_policy(policy)
}

/// Logs of the node's crates (`tracing`) on standard error: warnings and errors, and with
/// `--verbose` the debug lines too (one per block with transactions). A running node is quiet
/// by default: epoch closes are printed on standard output (unless `--quiet`).
fn init_logging(verbose: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let ours = if verbose { tracing::Level::DEBUG } else { tracing::Level::WARN };
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("gridmint_node", ours)
        .with_target("gridmint_network", ours)
        .with_target("gridmint_consensus", ours)
        .with_default(tracing::Level::WARN);
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(false).with_target(false);
    // a second call (tests running `node` twice in one process) keeps the first subscriber
    let _ = tracing_subscriber::registry().with(layer).with(filter).try_init();
}

/// `gridmint node`.
pub fn node(args: NodeArgs) -> ExitCode {
    init_logging(args.verbose);
    let config = Config {
        listen: args.listen,
        block_ms: args.block_ms,
        mempool_capacity: args.mempool,
        max_block_txs: args.max_block_txs,
        max_body_bytes: args.max_body_bytes,
        max_batch: args.max_batch,
        rate_limit: args.rate_limit,
        wait_timeout_ms: 30_000,
        empty_blocks: !args.skip_empty_blocks,
        log: !args.quiet,
        max_connections: args.max_connections,
        max_connections_per_ip: args.max_connections_per_ip,
        header_timeout_ms: args.header_timeout_ms,
        body_timeout_ms: args.body_timeout_ms,
        write_timeout_ms: args.write_timeout_ms,
        shutdown_grace_ms: args.shutdown_grace_ms,
        snapshot_every: args.snapshot_every,
        snapshots_kept: usize::try_from(args.snapshots_kept).unwrap_or(usize::MAX),
        snapshot_txs: args.snapshot_txs,
        archive: args.archive,
        keep_epochs: args.keep_epochs,
    };
    if let Some(file) = &args.config {
        return crate::network_cmd::run_config(file, config);
    }
    if let Err(e) = config.check() {
        return fail(e);
    }
    let exists = args.data.join(gridmint_node::store::DB_FILE).exists();
    // blocks replayed after the snapshot this start loaded: the first block writes a new one
    let mut replayed = false;
    let ledger = if !exists && args.dev {
        let policy = match load_policy_arg(args.policy.as_deref().unwrap_or("netmind")) {
            Ok(p) => p,
            Err(e) => return fail(e),
        };
        let policy = match args.epoch_seconds.map(|s| node::dev_epochs(&policy, s)).transpose() {
            Ok(p) => p.unwrap_or(policy),
            Err(e) => return fail(format!("--epoch-seconds: {e}")),
        };
        match node::create_dev(&args.data, policy) {
            Ok((ledger, key)) => {
                let address = ledger.genesis.policy.len(); // keep the borrow short
                let _ = address;
                println!("created dev network in {}", args.data.display());
                println!("dev account key: {} (prefunded with {} tokens)", key.display(), node::DEV_PREFUND_TOKENS);
                ledger
            }
            Err(e) => return fail(e),
        }
    } else {
        if args.epoch_seconds.is_some() && exists {
            eprintln!("note: --epoch-seconds only shapes a new dev network; the existing one keeps its policy");
        }
        quiet_redb_panics();
        let mut last_print = 0u64;
        #[allow(clippy::disallowed_methods)] // wall time reported to the operator, never used by the core
        let started = std::time::Instant::now();
        let opened = Ledger::open_from_snapshot(&args.data, |height, last| {
            if last >= 10_000 && height >= last_print + 10_000 {
                last_print = height;
                eprintln!("replaying block {height} of {last}");
            }
        });
        match opened {
            Ok((ledger, how)) => {
                replayed = how.snapshot.unwrap_or(0) < ledger.state.height;
                for (path, why) in &how.skipped {
                    eprintln!("warning: snapshot {} not used: {why}", path.display());
                }
                match how.snapshot {
                    Some(height) => println!(
                        "restarted from the snapshot of block {height}, replayed {} blocks after it ({:.2} s)",
                        ledger.state.height - height,
                        started.elapsed().as_secs_f64()
                    ),
                    None if ledger.state.height > 0 => println!(
                        "replayed {} blocks from genesis ({:.2} s)",
                        ledger.state.height,
                        started.elapsed().as_secs_f64()
                    ),
                    None => {}
                }
                if let Some(wanted) = &args.policy {
                    let stored = ledger.state.policy_log.first().map(|e| e.name.clone()).unwrap_or_default();
                    let wanted_name = load_policy_arg(wanted).map(|p| p.name).unwrap_or_else(|_| wanted.clone());
                    if stored != wanted_name {
                        return fail(format!(
                            "data dir {} holds chain `{}` with policy `{stored}`, not `{wanted_name}` (use another --data)",
                            args.data.display(),
                            ledger.genesis.chain_id
                        ));
                    }
                }
                ledger
            }
            Err(e @ gridmint_node::LedgerError::ReplayMismatch { .. }) => return damaged(&args.data, e),
            Err(e) if is_damage(&e) => return damaged(&args.data, e),
            Err(e) => return fail(e),
        }
    };
    if !ledger.genesis.validators.is_empty() {
        return fail(format!(
            "data dir {} holds a replicated chain ({} validators): run its node with `gridmint node --config FILE`",
            args.data.display(),
            ledger.genesis.validators.len()
        ));
    }
    if args.dev {
        let key = args.data.join(node::DEV_KEY_FILE);
        if let Ok(k) = load_key(&key) {
            println!("dev account: {} (key {})", address_of(&k), key.display());
        }
    }
    println!(
        "chain {} · policy {} · height {} · epoch {}",
        ledger.genesis.chain_id, ledger.state.policy.name, ledger.state.height, ledger.state.epoch
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    let shared = Shared::new(ledger, config);
    if replayed {
        shared.replayed_at_start();
    }
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        println!("API: http://{}/v1/status (OpenAPI at /v1/openapi.json); Ctrl-C stops", args.listen);
        let fds = gridmint_node::serve::raise_fd_limit();
        let connections = gridmint_node::serve::effective_max_connections(args.max_connections.max(1), fds);
        match fds {
            Some(fds) => {
                println!("{fds}: at most {connections} connections, {} per client IP", args.max_connections_per_ip)
            }
            None => println!("at most {connections} connections, {} per client IP", args.max_connections_per_ip),
        }
        node::run(shared, listener, node::ctrl_c_or_term()).await
    });
    match result {
        Ok(()) => {
            println!("stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AllocationFile {
    #[serde(default)]
    allocations: Vec<GenesisAllocation>,
}

/// `gridmint init`.
pub fn init(args: InitArgs) -> ExitCode {
    let policy = match load_policy_arg(&args.policy) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    // G4: a real network's epochs are one day (dev networks: `gridmint node --dev --epoch-seconds`)
    if let Err(e) = policy.validate_real_network() {
        return fail(format!("{}: {e}", args.policy));
    }
    let allocations = match &args.allocations {
        None => vec![],
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| toml::from_str::<AllocationFile>(&t).map_err(|e| e.to_string()))
        {
            Ok(file) => file.allocations,
            Err(e) => return fail(format!("allocation file {}: {e}", path.display())),
        },
    };
    if let Some(weak) = allocations.iter().find(|a| a.account.is_weak_key()) {
        return fail(format!(
            "allocation file: account {} is a small-order (weak) key: no one can spend from it",
            weak.account.to_bech32m()
        ));
    }
    let policy = match node::with_allocations(policy, &allocations, args.raise_cap) {
        Ok(p) => p,
        Err(e) => return fail(format!("{e} (use --raise-cap to mint the allocations above the policy's cap)")),
    };
    if args.data.join(gridmint_node::store::DB_FILE).exists() {
        return fail(format!("a ledger already exists in {}", args.data.display()));
    }
    if let Err(e) = std::fs::create_dir_all(&args.data) {
        return fail(format!("cannot create {}: {e}", args.data.display()));
    }
    let producer = match &args.producer_key {
        Some(path) => match load_key(path) {
            Ok(k) => k,
            Err(e) => return fail(e),
        },
        None => {
            let key = signing::generate_key();
            let path = args.data.join(node::PRODUCER_KEY_FILE);
            if let Err(e) = signing::save_key(&path, &key) {
                return fail(format!("cannot write {}: {e}", path.display()));
            }
            key
        }
    };
    let genesis_time = args.genesis_time.unwrap_or_else(node::now_seconds);
    let chain_id = args.chain_id.unwrap_or_else(|| node::chain_id_for(&policy, genesis_time, "init"));
    let genesis = Genesis {
        chain_id,
        genesis_time,
        policy: policy.to_toml(),
        producer: address_of(&producer),
        validators: vec![],
    };
    match Ledger::create(&args.data, genesis) {
        Ok(ledger) => {
            println!(
                "created chain {} ({} allocations, supply {}) in {}",
                ledger.genesis.chain_id,
                allocations.len(),
                ledger.state.total_supply(),
                args.data.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `gridmint keys`.
pub fn keys(command: KeysCommand) -> ExitCode {
    match command {
        KeysCommand::New { out, hex } => {
            let key = signing::generate_key();
            match signing::save_key(&out, &key) {
                Ok(()) => {
                    println!("{}", address_text(address_of(&key), hex));
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("cannot write {}: {e}", out.display())),
            }
        }
        KeysCommand::Show { file, hex } => match load_key(&file) {
            Ok(key) => {
                println!("{}", address_text(address_of(&key), hex));
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        KeysCommand::Address { address, system } => {
            let address = match (address, system) {
                (Some(address), _) => address,
                (None, Some(name)) if Address::is_system_name(&name) => {
                    println!("system account `{name}` (no key exists for it)");
                    Address::system(&name)
                }
                (None, Some(name)) => {
                    return fail(format!(
                        "`{name}` is not a system account name (1 to {} of a-z 0-9 _ -, starting with a letter)",
                        gridmint_policy::MAX_SYSTEM_NAME
                    ));
                }
                (None, None) => return fail("give an address or --system NAME"),
            };
            println!("bech32m: {}", address.to_bech32m());
            println!("hex:     {}", address.to_hex());
            if address.is_weak_key() {
                println!("warning: a small-order (weak) public key: no one can spend from it");
            }
            ExitCode::SUCCESS
        }
    }
}

fn address_text(address: Address, hex: bool) -> String {
    if hex { address.to_hex() } else { address.to_bech32m() }
}

fn get_json(client: &Client, path: &str) -> Result<Value, String> {
    let answer = client.get(path).map_err(|e| e.to_string())?;
    if answer.status >= 300 {
        return Err(format!("{} answered {}: {}", path, answer.status, answer.body));
    }
    Ok(answer.body)
}

fn key_address(path: &Path) -> Result<Address, String> {
    load_key(path).map(|k| address_of(&k))
}

fn build_body(kind: TxKind, client: &Client) -> Result<TxBody, String> {
    Ok(match kind {
        TxKind::Transfer { to, amount } => TxBody::Transfer { to, amount },
        TxKind::RegisterMachine { machine, machine_key, gpu_class, bandwidth_mbps, bond } => {
            let machine = match (machine, machine_key) {
                (Some(m), _) => m,
                (None, Some(path)) => key_address(&path)?,
                (None, None) => return Err("give --machine or --machine-key".into()),
            };
            TxBody::RegisterMachine { machine, gpu_class, bandwidth_mbps, bond }
        }
        TxKind::Heartbeat { slot } => {
            let slot = match slot {
                Some(s) => s,
                None => {
                    let status = get_json(client, "/v1/status")?;
                    let genesis = status["genesis_time"].as_u64().unwrap_or(0);
                    let slot_seconds = status["slot_seconds"].as_u64().unwrap_or(300).max(1);
                    node::now_seconds().saturating_sub(genesis) / slot_seconds
                }
            };
            TxBody::Heartbeat { slot }
        }
        TxKind::SubmitJob { job_id, mode, price, max_gpu_seconds } => {
            TxBody::SubmitJob { job_id, mode, price_per_gpu_second: price, max_gpu_seconds }
        }
        TxKind::ReportUsage { customer, job_id, machine, gpu_seconds, ai_tokens } => {
            TxBody::ReportUsage { customer, job_id, machine, gpu_seconds, ai_tokens }
        }
        TxKind::SettleJob { job_id } => TxBody::SettleJob { job_id },
        TxKind::RegisterValidator { bond } => TxBody::RegisterValidator { bond },
        TxKind::Stake { validator, amount } => TxBody::Stake { validator, amount },
        TxKind::Unstake { validator, amount, fast } => TxBody::Unstake { validator, amount, fast },
        TxKind::Claim => TxBody::Claim,
        TxKind::Propose { spend_to, amount, set } => {
            let action = match (spend_to, amount) {
                (Some(to), Some(amount)) => ProposalAction::TreasurySpend { to, amount },
                _ => {
                    if set.is_empty() {
                        return Err("give --spend-to with --amount, or --set KEY=VALUE".into());
                    }
                    let changes = set
                        .iter()
                        .map(|kv| {
                            kv.split_once('=')
                                .map(|(k, v)| (k.to_string(), v.to_string()))
                                .ok_or_else(|| format!("--set {kv}: expected KEY=VALUE"))
                        })
                        .collect::<Result<_, _>>()?;
                    ProposalAction::PolicyChange { changes }
                }
            };
            TxBody::Propose { action }
        }
        TxKind::Vote { proposal, yes } => TxBody::Vote { proposal, yes },
        TxKind::BridgeOut { amount, recipient } => TxBody::BridgeOut { amount, recipient },
        TxKind::Attest { deposit_id, recipient, amount } => TxBody::BridgeAttest { deposit_id, recipient, amount },
        TxKind::FailJob { job_id, machine } => TxBody::FailJob { job_id, machine },
        TxKind::ClaimToStake { validator } => TxBody::ClaimToStake { validator },
        TxKind::AttestLiquidity { provider, amount } => TxBody::AttestLiquidity { provider, amount },
        TxKind::SubmitReceipt { machine, task_id, model_id, input_hash, output_hash, gpu_seconds } => {
            TxBody::SubmitReceipt { machine, task_id, model_id, input_hash, output_hash, gpu_seconds }
        }
        TxKind::AttestReceipt { receipt, valid } => TxBody::AttestReceipt { receipt, valid },
        TxKind::Raw { body } => serde_json::from_str(&body).map_err(|e| format!("raw body: {e}"))?,
    })
}

/// `gridmint tx`.
pub fn tx(args: TxArgs) -> ExitCode {
    let client = Client::new(&args.url.node);
    let key = match load_key(&args.key) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let signer = address_of(&key);
    let is_heartbeat = matches!(args.kind, TxKind::Heartbeat { .. });
    let body = match build_body(args.kind, &client) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let status = match get_json(&client, "/v1/status") {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let chain_id = status["chain_id"].as_str().unwrap_or_default().to_string();
    let nonce = match (args.nonce, is_heartbeat) {
        (Some(n), _) => n,
        (None, true) => 0,
        (None, false) => match choose_nonce(&client, signer, args.wait) {
            Ok(n) => n,
            Err(e) => return fail(format!("cannot choose the signer's nonce: {e}")),
        },
    };
    let signed = SignedTx::sign(Tx { signer, nonce, body: body.clone() }, &key, &chain_id);
    let path = if args.wait { "/v1/tx?wait=true" } else { "/v1/tx" };
    match client.post(path, &serde_json::to_value(&signed).unwrap_or_default()) {
        Ok(answer) => {
            crate::tx_report::report_submit(&client, &answer, &crate::tx_report::Sent { signer, body }, args.wait)
        }
        Err(e) => fail(e),
    }
}

/// The nonce `gridmint tx` signs with (see `gridmint tx --help`). With `wait`: the committed
/// nonce, once none of the signer's transactions waits (polled for up to a minute), so the new
/// transaction never follows one that may still be dropped. Without: the next nonce after the
/// waiting ones (the only one the node admits while they wait), with a note when there are any.
fn choose_nonce(client: &Client, signer: Address, wait: bool) -> Result<u64, String> {
    let path = format!("/v1/accounts/{signer}");
    let read = || -> Result<(u64, u64), String> {
        let account = get_json(client, &path)?;
        let committed = account["nonce"].as_u64().ok_or("the node's answer has no nonce")?;
        Ok((committed, account["next_nonce"].as_u64().unwrap_or(committed)))
    };
    let (committed, next) = read()?;
    if next == committed {
        return Ok(committed);
    }
    if !wait {
        eprintln!(
            "note: nonce {next} follows {} waiting transaction(s) of this signer; if one of them is dropped, \
             this one is dropped too",
            next - committed
        );
        return Ok(next);
    }
    eprintln!("waiting for {} earlier transaction(s) of this signer to settle", next - committed);
    for _ in 0..600 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let (committed, next) = read()?;
        if next == committed {
            return Ok(committed);
        }
    }
    Err("the signer's earlier transactions still wait after a minute; give --nonce to queue behind them".into())
}

/// `gridmint account`: the node's answer (both address forms).
pub fn account(url: NodeUrl, address: Address) -> ExitCode {
    match Client::new(&url.node).get(&format!("/v1/accounts/{}", address.to_hex())) {
        Ok(a) => print_answer(&a),
        Err(e) => fail(e),
    }
}

/// `gridmint epoch`.
pub fn epoch(url: NodeUrl, epoch: u64, explain: Option<Address>) -> ExitCode {
    let path = match explain {
        Some(a) => format!("/v1/epochs/{epoch}/explain/{}", a.to_hex()),
        None => format!("/v1/epochs/{epoch}"),
    };
    match Client::new(&url.node).get(&path) {
        Ok(a) => print_answer(&a),
        Err(e) => fail(e),
    }
}

/// Reads a proof file (the API's answer, or the bare proof) and the root to check it against:
/// `root`, else the file's `root_key`.
fn read_proof<P: serde::de::DeserializeOwned>(
    file: &Path,
    root: Option<String>,
    what: &str,
    root_key: &str,
    hint: &str,
) -> Result<(P, [u8; 32], String), ExitCode> {
    let text = std::fs::read_to_string(file).map_err(|e| fail(format!("cannot read {}: {e}", file.display())))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| fail(format!("{} is not JSON: {e}", file.display())))?;
    let proof: P = serde_json::from_value(value.get("proof").cloned().unwrap_or(value.clone()))
        .map_err(|e| fail(format!("{} holds no {what}: {e}", file.display())))?;
    let root_text = root.or_else(|| value[root_key].as_str().map(String::from));
    let Some(root_text) = root_text else { return Err(fail(format!("no root: give --root ({hint})"))) };
    let mut root = [0u8; 32];
    if hex::decode_to_slice(&root_text, &mut root).is_err() {
        return Err(fail(format!("root `{root_text}` is not 64 hex digits")));
    }
    Ok((proof, root, root_text))
}

/// `gridmint verify-account`: checks an account proof offline.
pub fn verify_account(file: PathBuf, root: Option<String>) -> ExitCode {
    let (proof, root, root_text) = match read_proof::<gridmint_core::AccountProof>(
        &file,
        root,
        "account proof",
        "state_root",
        "the state_root of a block header you trust",
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if proof.verify(&root) {
        let both = |base_units: u128| {
            format!("{} tokens ({base_units} base units)", gridmint_policy::format_tokens(base_units))
        };
        println!(
            "valid: by this state root {} holds {} spendable, {} staked, {} unbonding, {} escrowed, {} unclaimed; \
             nonce {}",
            proof.address.to_bech32m(),
            both(proof.spendable),
            both(proof.staked),
            both(proof.unbonding),
            both(proof.escrowed),
            both(proof.unclaimed),
            proof.nonce
        );
        ExitCode::SUCCESS
    } else {
        println!("INVALID: the proof does not lead to root {root_text}");
        ExitCode::from(1)
    }
}

/// `gridmint verify-reward`: checks a proof offline.
pub fn verify_reward(file: PathBuf, root: Option<String>) -> ExitCode {
    let (proof, root, root_text) = match read_proof::<RewardProof>(
        &file,
        root,
        "reward proof",
        "rewards_root",
        "the epoch summary's rewards_root",
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if proof.verify(&root) {
        println!(
            "valid: {} earned {} tokens ({} base units) in total by this root",
            proof.address.to_bech32m(),
            gridmint_policy::format_tokens(proof.rewards_total),
            proof.rewards_total
        );
        ExitCode::SUCCESS
    } else {
        println!("INVALID: the proof does not lead to root {root_text}");
        ExitCode::from(1)
    }
}

/// Exit code of `gridmint node` and `gridmint replay` when the data dir's store is damaged: a
/// record fails its checksum, redb's pages or header fail their checks (or redb panicked on
/// them), or the store is behind a block it acknowledged. 1 is a replay or audit that differs,
/// 2 any other refusal (locked, foreign, missing data dir, bad arguments).
pub const EXIT_DAMAGED: u8 = 3;

/// Reports a damaged store and returns [`EXIT_DAMAGED`].
fn damaged(data: &Path, error: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    eprintln!(
        "error: the store in {} is damaged: restore the data dir from a copy, or rebuild it from another \
         node's blocks (exit code {EXIT_DAMAGED})",
        data.display()
    );
    ExitCode::from(EXIT_DAMAGED)
}

/// A panic inside redb on a damaged file is caught by the store and reported as damage (exit
/// code 3): print it as one line instead of a panic report with a backtrace.
fn quiet_redb_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| match info.location() {
        Some(location) if location.file().contains("redb") => {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            eprintln!("note: the database library failed an internal check at {location}: {message}");
        }
        _ => default(info),
    }));
}

/// Whether a ledger error is damage to the store.
fn is_damage(error: &gridmint_node::LedgerError) -> bool {
    matches!(error, gridmint_node::LedgerError::Store(e) if e.is_damage())
}

/// `gridmint replay`: the replay from genesis (X4), then the audit of every table against the
/// blocks ([`gridmint_node::audit`]).
pub fn replay(data: PathBuf) -> ExitCode {
    quiet_redb_panics();
    let mut last_print = 0;
    let result = Ledger::open_for_audit(&data, |height, last| {
        if height >= last_print + 10_000 || height == last {
            last_print = height;
            eprintln!("replayed block {height} of {last}");
        }
    });
    let (ledger, start) = match result {
        Ok(opened) => opened,
        Err(e @ gridmint_node::LedgerError::ReplayMismatch { .. }) => {
            println!("REPLAY DIFFERS: {e}");
            return ExitCode::from(1);
        }
        Err(e) if is_damage(&e) => return damaged(&data, e),
        Err(e) => return fail(e),
    };
    let mut last_print = 0;
    let from = start.as_ref().map(|(state, _)| state.height);
    let audited = gridmint_node::audit::audit_from(&ledger.store, start, |height, last| {
        if height >= last_print + 10_000 || height == last {
            last_print = height;
            eprintln!("audited block {height} of {last}");
        }
    });
    let audit = match audited {
        Ok(audit) => audit,
        Err(e) if e.is_damage() => return damaged(&data, e),
        Err(e) => return fail(e),
    };
    if !audit.mismatches.is_empty() {
        for mismatch in &audit.mismatches {
            println!("REPLAY DIFFERS: {mismatch}");
        }
        println!("{} differences between the tables and the blocks", audit.mismatches.len());
        return ExitCode::from(1);
    }
    let scope = match from {
        None => format!("{} blocks from genesis", ledger.state.height),
        Some(from) => format!(
            "{} blocks after the snapshot of block {from} (a pruned node: earlier epochs' leaves checked against their \
             summaries' rewards roots; an archive node audits from genesis)",
            ledger.state.height - from
        ),
    };
    println!(
        "replay matches: {scope}, epoch {}, state root {}, tip {} (every signature, receipt, invariant and state root \
         checked; the transaction index ({} entries), {} epochs' summaries, reward leaves and explain records, the \
         heartbeat bitmaps and the meta table match the blocks)",
        ledger.state.epoch,
        hex::encode(ledger.state.full_state_root()),
        hex::encode(ledger.tip_hash),
        audit.txs,
        audit.epochs,
    );
    ExitCode::SUCCESS
}
