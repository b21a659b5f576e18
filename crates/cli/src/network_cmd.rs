//! `gridmint testnet`, `gridmint devnet` and `gridmint node --config`: a replicated network.

use clap::Args as ClapArgs;
use gridmint_network::config::{CONFIG_FILE, GENESIS_FILE, NodeFile, TestnetSpec, write_testnet};
use gridmint_node::node::{self, Config};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Write a local network's keys, genesis and one config file per node.
#[derive(ClapArgs, Debug)]
#[command(after_help = "Examples:\n  \
gridmint testnet --validators 4 --out net\n  \
gridmint node --config net/node0/config.toml     # one terminal per node\n\n\
Writes OUT/genesis.json (the validators, equal power; a dev account prefunded with 100,000,000\n\
tokens, its key in OUT/dev-key.json) and OUT/nodeI/{config.toml,node-key.json}. Every node listens on\n\
127.0.0.1: node I's API on BASE+2I and its p2p on BASE+2I+1; each keeps every other as a peer and\n\
forwards the transactions it admits to the others' APIs.")]
pub struct TestnetArgs {
    /// Validators.
    #[arg(long, value_name = "N", default_value_t = 4)]
    validators: usize,
    /// Full nodes that follow the chain and serve the API without voting.
    #[arg(long, value_name = "N", default_value_t = 0)]
    followers: usize,
    /// Directory to write (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    shape: NetworkShape,
}

/// What a new network's genesis is.
#[derive(ClapArgs, Debug)]
struct NetworkShape {
    /// Policy: a preset or a policy TOML file.
    #[arg(long, value_name = "NAME|FILE", default_value = "netmind")]
    policy: String,
    /// Epoch length in seconds (development networks; slots and the qualifying minimum are
    /// scaled to match) [default: the policy's].
    #[arg(long, value_name = "SECONDS")]
    epoch_seconds: Option<u64>,
    /// The first port.
    #[arg(long, value_name = "PORT", default_value_t = 26600)]
    base_port: u16,
    /// Every node keeps every block (`archive = true` in its config); else nodes are pruned as
    /// a single node is (the blocks of the last 2 closed epochs kept).
    #[arg(long)]
    archive: bool,
    /// A pruned node keeps the blocks of this many closed epochs (`keep_epochs` in its config).
    #[arg(long, value_name = "N", conflicts_with = "archive")]
    keep_epochs: Option<u64>,
    /// The least time a height takes, in milliseconds (`block_time_ms` in each config; 100 to
    /// 60000). Block times are milliseconds, so a height may be shorter than a second.
    #[arg(long, value_name = "MS", default_value_t = gridmint_network::config::DEFAULT_BLOCK_TIME_MS)]
    block_time_ms: u64,
}

impl NetworkShape {
    fn spec(&self, validators: usize, followers: usize) -> Result<TestnetSpec, String> {
        let policy = gridmint_sim::load_policy(&self.policy)?;
        let policy = match self.epoch_seconds {
            Some(s) => node::dev_epochs(&policy, s).map_err(|e| format!("--epoch-seconds: {e}"))?,
            None => policy,
        };
        Ok(TestnetSpec {
            validators,
            followers,
            policy,
            base_port: self.base_port,
            archive: self.archive,
            keep_epochs: self.keep_epochs,
            block_time_ms: self.block_time_ms,
        })
    }
}

/// Start a whole local network: its nodes as child processes on 127.0.0.1.
#[derive(ClapArgs, Debug)]
#[command(after_help = "Examples:\n  \
gridmint devnet --validators 4\n  \
gridmint devnet --validators 4 --followers 1 --epoch-seconds 60 --out my-devnet\n\n\
The first run writes the network into OUT (as `gridmint testnet` does); a later run with the same\n\
OUT restarts it where it stopped. Each node logs to OUT/nodeI/node.log. Ctrl-C stops every node.")]
pub struct DevnetArgs {
    /// Validators (for a new network).
    #[arg(long, value_name = "N", default_value_t = 4)]
    validators: usize,
    /// Full nodes (for a new network).
    #[arg(long, value_name = "N", default_value_t = 0)]
    followers: usize,
    /// The network's directory.
    #[arg(long, value_name = "DIR", default_value = "gridmint-devnet")]
    out: PathBuf,
    #[command(flatten)]
    shape: NetworkShape,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// `gridmint testnet`.
pub fn testnet(args: TestnetArgs) -> ExitCode {
    let spec = match args.shape.spec(args.validators, args.followers) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match write_testnet(&args.out, &spec) {
        Ok(nodes) => {
            println!(
                "wrote a network of {} validators and {} full nodes into {}",
                args.validators,
                args.followers,
                args.out.display()
            );
            println!("genesis: {}", args.out.join(GENESIS_FILE).display());
            println!(
                "dev account key: {} (prefunded with {} tokens)",
                args.out.join(node::DEV_KEY_FILE).display(),
                node::DEV_PREFUND_TOKENS
            );
            for n in &nodes {
                let role = if n.validator { "validator" } else { "full node" };
                println!("  gridmint node --config {}   # {role}, API http://{}", n.config.display(), n.file.api);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `gridmint node --config FILE`.
pub fn run_config(path: &Path, mut config: Config) -> ExitCode {
    let file = match NodeFile::load(path) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    config.listen = file.api;
    config.archive = file.archive;
    config.keep_epochs = file.keep_epochs;
    if let Err(e) = config.check() {
        return fail(e);
    }
    if let Err(e) = state_sync_if_needed(&file) {
        return fail(e);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(gridmint_network::run::run(file, config, node::ctrl_c_or_term())) {
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

/// `gridmint devnet`.
pub fn devnet(args: DevnetArgs) -> ExitCode {
    let configs: Vec<PathBuf> = if args.out.join(GENESIS_FILE).exists() {
        let mut found: Vec<(usize, PathBuf)> = std::fs::read_dir(&args.out)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let i = name.strip_prefix("node")?.parse().ok()?;
                let config = e.path().join(CONFIG_FILE);
                config.exists().then_some((i, config))
            })
            .collect();
        found.sort();
        println!("restarting the network in {} ({} nodes)", args.out.display(), found.len());
        found.into_iter().map(|(_, c)| c).collect()
    } else {
        let spec = match args.shape.spec(args.validators, args.followers) {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        match write_testnet(&args.out, &spec) {
            Ok(nodes) => nodes.into_iter().map(|n| n.config).collect(),
            Err(e) => return fail(e),
        }
    };
    if configs.is_empty() {
        return fail(format!("{} holds no node config", args.out.display()));
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return fail(format!("cannot find this program: {e}")),
    };
    let mut files = Vec::new();
    for config in &configs {
        match NodeFile::load(config) {
            Ok(f) => files.push(f),
            Err(e) => return fail(e),
        }
    }
    let mut children = Vec::new();
    for (config, file) in configs.iter().zip(files) {
        let log_path = config.with_file_name("node.log");
        let logs = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .and_then(|log| log.try_clone().map(|err| (log, err)));
        let (log, err) = match logs {
            Ok(l) => l,
            Err(e) => {
                stop_all(&mut children);
                return fail(format!("cannot open {}: {e}", log_path.display()));
            }
        };
        match std::process::Command::new(&exe)
            .args(["node", "--quiet", "--config"])
            .arg(config)
            .stdout(log)
            .stderr(err)
            .spawn()
        {
            Ok(child) => {
                println!("{}: API http://{}/v1/status · log {}", file.moniker, file.api, log_path.display());
                children.push((file.moniker, child));
            }
            Err(e) => {
                stop_all(&mut children);
                return fail(format!("cannot start {}: {e}", file.moniker));
            }
        }
    }
    println!(
        "dev account key: {} · try: gridmint tx --node http://{} --key {} transfer --to <ADDR> --amount 1 --wait",
        args.out.join(node::DEV_KEY_FILE).display(),
        NodeFile::load(&configs[0]).map(|f| f.api.to_string()).unwrap_or_default(),
        args.out.join(node::DEV_KEY_FILE).display()
    );
    println!("Ctrl-C stops every node");
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            stop_all(&mut children);
            return fail(format!("cannot start the runtime: {e}"));
        }
    };
    // wait for Ctrl-C, or for a node to exit on its own (its log says why)
    let exited = runtime.block_on(async {
        let mut poll = tokio::time::interval(std::time::Duration::from_millis(500));
        let stop = node::ctrl_c_or_term();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return None,
                _ = poll.tick() => {
                    for (name, child) in children.iter_mut() {
                        if let Ok(Some(status)) = child.try_wait() {
                            return Some(format!("{name} exited ({status})"));
                        }
                    }
                }
            }
        }
    });
    stop_all(&mut children);
    match exited {
        None => {
            println!("stopped every node");
            ExitCode::SUCCESS
        }
        Some(why) => {
            eprintln!("error: {why}; stopped the others (see its node.log)");
            ExitCode::from(1)
        }
    }
}

/// Stops the children still running: SIGTERM (a clean stop), then waits.
fn stop_all(children: &mut [(String, std::process::Child)]) {
    for (_, child) in children.iter_mut() {
        if !matches!(child.try_wait(), Ok(None)) {
            continue; // exited (and reaped): its pid may be another process's now
        }
        #[cfg(unix)]
        {
            let _ = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        }
        #[cfg(not(unix))]
        {
            let _ = child.kill();
        }
    }
    for (_, child) in children.iter_mut() {
        let _ = child.wait();
    }
}

/// A node with no ledger yet, in a network where no peer stores block 1 any more (they are
/// pruned), starts from a peer's snapshot once the validators' signatures certify it
/// ([`gridmint_network::state_sync`]), installed as `gridmint snapshot import` would; otherwise
/// it starts from genesis and value sync replays every block.
fn state_sync_if_needed(file: &NodeFile) -> Result<(), String> {
    if file.data.join(gridmint_node::store::DB_FILE).exists() || file.peer_apis.is_empty() {
        return Ok(());
    }
    match gridmint_network::state_sync::needed(&file.peer_apis) {
        Ok(true) => {}
        Ok(false) => return Ok(()),
        Err(e) => {
            println!("{}: {e}; starting from genesis (value sync replays the blocks)", file.moniker);
            return Ok(());
        }
    }
    let genesis = file.read_genesis()?;
    let validators = gridmint_network::run::validator_set(&genesis)?;
    println!("{}: the peers no longer store block 1; fetching a certified snapshot", file.moniker);
    let certified = gridmint_network::state_sync::fetch(&file.peer_apis, &genesis.chain_id, &validators)?;
    let part = file.data.with_extension("state-sync.snapshot");
    std::fs::write(&part, &certified.bytes).map_err(|e| format!("cannot write {}: {e}", part.display()))?;
    let hash = hex::encode(certified.block_hash);
    let imported = crate::snapshot_cmd::import(&part, &file.data, Some(file.genesis.clone()), Some(&hash));
    let _ = std::fs::remove_file(&part);
    let message = imported?;
    let (signed, total) = certified.signed_power;
    println!(
        "{}: certified by {signed} of {total} voting power at block {}: {message}",
        file.moniker,
        certified.header.height + 1
    );
    Ok(())
}
