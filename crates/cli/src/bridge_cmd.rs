//! `gridmint bridge …`: the relayer of one committee member, a whole bridge on loopback (anvil,
//! the contracts, a dev node and a 2-of-3 committee), its status, and a deposit from the EVM side.

use clap::{Args, Subcommand};
use gridmint_bridge::Anvil;
use gridmint_bridge::alloy::primitives::{Address as EvmAddress, B256, U256};
use gridmint_bridge::contracts::{IGridToken, IGridmintBridge, connect};
use gridmint_bridge::devnet::{RelayerSettings, create_members, deploy_for, with_committee, write_relayer_configs};
use gridmint_bridge::relay::{Relayer, load_evm_key, read_status};
use gridmint_bridge::relayer::RelayerConfig;
use gridmint_core::{Address, Tx, TxBody};
use gridmint_node::client::Client;
use gridmint_node::node;
use gridmint_node::signing::{SignedTx, address_of, load_key};
use gridmint_policy::{format_tokens, parse_tokens};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode};
use std::time::Duration;

/// The bridge to an EVM chain (NM13).
#[derive(Subcommand)]
pub enum BridgeCommand {
    /// Run one committee member's relayer: follows the gridmint node and the EVM chain, signs
    /// and submits on both; resumes where it stopped after a crash.
    Relay {
        /// The relayer's config (see docs/design/relayer.md; `bridge devnet` writes examples).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Start a whole bridge on loopback: anvil, the contracts, a gridmint dev node and a 2-of-3
    /// committee of relayers (child processes); prints what to run to move tokens both ways.
    Devnet(DevnetArgs),
    /// Show the escrow on gridmint, the bridged supply on the EVM chain, the records in flight
    /// and each relayer's lag.
    Status(StatusArgs),
    /// Send bridged tokens back from the EVM chain: `bridgeOut` to a gridmint account (burns
    /// them there; the committee releases them from the escrow here).
    Deposit(DepositArgs),
}

/// `gridmint bridge devnet`.
#[derive(Args)]
pub struct DevnetArgs {
    /// Directory for the node's data, the keys, the relayers' configs and stores, and the logs.
    #[arg(long, value_name = "DIR", default_value = "gridmint-bridge-devnet")]
    dir: PathBuf,
    /// The gridmint node's HTTP address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8645")]
    listen: String,
    /// gridmint block interval in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    block_ms: u64,
    /// gridmint epoch length in seconds (the inbound cap is per epoch).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    epoch_seconds: u64,
    /// Confirmations a deposit's EVM block needs before the committee attests it.
    #[arg(long, value_name = "N", default_value_t = 2)]
    confirmations: u64,
    /// The EVM chain id anvil runs with.
    #[arg(long, value_name = "ID", default_value_t = 31337)]
    evm_chain_id: u64,
}

/// `gridmint bridge status`.
#[derive(Args)]
pub struct StatusArgs {
    /// The gridmint node's API.
    #[arg(long, value_name = "URL", env = "GRIDMINT_NODE", default_value = "http://127.0.0.1:8645")]
    node: String,
    /// The EVM node's JSON-RPC endpoint.
    #[arg(long, value_name = "URL")]
    evm_rpc: String,
    /// The bridge contract.
    #[arg(long, value_name = "ADDRESS")]
    bridge: String,
    /// A relayer's store directory (its `status.json`); repeat for each relayer.
    #[arg(long = "relayer", value_name = "DIR")]
    relayers: Vec<PathBuf>,
}

/// `gridmint bridge deposit`.
#[derive(Args)]
pub struct DepositArgs {
    /// The EVM node's JSON-RPC endpoint.
    #[arg(long, value_name = "URL")]
    evm_rpc: String,
    /// The bridge contract.
    #[arg(long, value_name = "ADDRESS")]
    bridge: String,
    /// The EVM key file (hex) of the holder of the bridged tokens.
    #[arg(long, value_name = "FILE")]
    evm_key: PathBuf,
    /// The gridmint account to release the tokens to (64 hex digits or gm1…).
    #[arg(long, value_name = "ADDRESS")]
    to: String,
    /// Tokens (e.g. 12.5).
    #[arg(long, value_name = "TOKENS")]
    amount: String,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("cannot start: {e}"))
}

/// Runs a `gridmint bridge` command.
pub fn main(command: BridgeCommand) -> ExitCode {
    let result = match command {
        BridgeCommand::Relay { config } => relay(&config),
        BridgeCommand::Devnet(args) => devnet(args),
        BridgeCommand::Status(args) => status(args),
        BridgeCommand::Deposit(args) => deposit(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn relay(config_path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(config_path).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let config = RelayerConfig::parse(&text).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let base = config_path.parent().map(Path::to_path_buf).unwrap_or_default();
    runtime()?.block_on(async {
        let relayer = Relayer::open(config, &base).await.map_err(|e| e.to_string())?;
        eprintln!("relayer of member {} running (Ctrl-C stops it)", relayer.member().to_hex());
        relayer.run(node::ctrl_c_or_term()).await;
        Ok(())
    })
}

fn parse_evm_address(text: &str) -> Result<EvmAddress, String> {
    text.parse().map_err(|e| format!("`{text}` is not an EVM address: {e}"))
}

fn deposit(args: DepositArgs) -> Result<(), String> {
    let bridge = parse_evm_address(&args.bridge)?;
    let to = Address::parse_user(&args.to).map_err(|e| format!("--to: {e}"))?;
    if to.is_weak_key() {
        // gridmint would refuse to pay it (13) and the tokens would be burned here for nothing
        return Err("--to: a small-order key no one holds; gridmint would never pay it".into());
    }
    let amount = parse_tokens(&args.amount).map_err(|e| format!("--amount: {e}"))?;
    let signer = load_evm_key(&args.evm_key).map_err(|e| e.to_string())?;
    runtime()?.block_on(async {
        let provider = connect(&args.evm_rpc, signer).map_err(|e| e.to_string())?;
        let contract = IGridmintBridge::new(bridge, &provider);
        let pending = contract
            .bridgeOut(B256::from(to.0), U256::from(amount))
            .send()
            .await
            .map_err(|e| format!("bridgeOut refused: {e}"))?;
        let receipt = pending.get_receipt().await.map_err(|e| e.to_string())?;
        if !receipt.status() {
            return Err(format!("bridgeOut reverted (transaction {})", receipt.transaction_hash));
        }
        println!(
            "deposited {} ({} base units) for {} in EVM block {} (transaction {}); the committee releases it once the block has its confirmations",
            format_tokens(amount),
            amount,
            to.to_hex(),
            receipt.block_number.unwrap_or_default(),
            receipt.transaction_hash
        );
        Ok(())
    })
}

fn status(args: StatusArgs) -> Result<(), String> {
    let bridge = parse_evm_address(&args.bridge)?;
    let node = Client::new(&args.node);
    let summary = node.get("/v1/bridge").map_err(|e| e.to_string())?;
    if summary.status != 200 {
        return Err(format!("GET /v1/bridge: {} {}", summary.status, summary.body));
    }
    let amount = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<u128>().ok()).unwrap_or(0);
    let escrow = amount(&summary.body["escrow"]);
    let waiting = amount(&summary.body["inbound_waiting"]);
    let records = summary.body["outbound_records"].as_u64().unwrap_or(0);
    let statuses: Vec<(PathBuf, Result<gridmint_bridge::relay::RelayerStatus, String>)> =
        args.relayers.iter().map(|d| (d.clone(), read_status(d))).collect();
    let from = statuses.iter().filter_map(|(_, s)| s.as_ref().ok().map(|s| s.outbound_next)).min().unwrap_or(0);
    runtime()?.block_on(async {
        let provider = alloy_provider(&args.evm_rpc)?;
        let contract = IGridmintBridge::new(bridge, &provider);
        let token = contract.token().call().await.map_err(|e| format!("the bridge at {bridge}: {e}"))?;
        let supply = IGridToken::new(token, &provider).totalSupply().call().await.map_err(|e| e.to_string())?;
        let supply = u128::try_from(supply).map_err(|_| "the bridged supply exceeds 128 bits".to_string())?;
        let head = provider_block(&provider).await?;
        let mut unminted = 0;
        for id in from..records {
            if !contract.minted(id).call().await.map_err(|e| e.to_string())? {
                unminted += 1;
            }
        }
        let line = |label: &str, v: u128| println!("  {label:<32} {:>28}  ({v} base units)", format_tokens(v));
        println!("gridmint (height {}, epoch {})", summary.body["height"], summary.body["epoch"]);
        line("escrow", escrow);
        line("  of which deposits waiting", waiting);
        println!("  {:<32} {records:>28}", "outbound records");
        println!("EVM (chain head {head}, bridge {bridge})");
        line("bridged supply", supply);
        line("in flight (escrow - waiting - supply)", escrow.saturating_sub(waiting).saturating_sub(supply));
        println!("  {:<32} {unminted:>28}", "outbound records not yet minted");
        for (dir, s) in &statuses {
            match s {
                Ok(s) => println!(
                    "relayer {} (member {}): outbound {}/{} (lag {}), EVM scanned {} of {} (lag {}), {} deposits pending{}",
                    dir.display(),
                    &s.member[..s.member.len().min(16)],
                    s.outbound_next,
                    s.outbound_records,
                    s.outbound_records.saturating_sub(s.outbound_next),
                    s.evm_scanned_up_to.map_or("none".into(), |b| b.to_string()),
                    s.evm_head,
                    s.evm_head.saturating_sub(s.evm_scanned_up_to.unwrap_or(0)),
                    s.pending_deposits,
                    s.last_error.as_ref().map_or(String::new(), |e| format!(", last error: {e}"))
                ),
                Err(e) => println!("relayer {}: no status yet ({e})", dir.display()),
            }
        }
        Ok(())
    })
}

fn alloy_provider(rpc: &str) -> Result<gridmint_bridge::alloy::providers::DynProvider, String> {
    use gridmint_bridge::alloy::providers::{Provider, ProviderBuilder};
    let url = rpc.parse().map_err(|e| format!("--evm-rpc {rpc}: {e}"))?;
    Ok(ProviderBuilder::new().disable_recommended_fillers().connect_http(url).erased())
}

async fn provider_block(provider: &gridmint_bridge::alloy::providers::DynProvider) -> Result<u64, String> {
    use gridmint_bridge::alloy::providers::Provider;
    provider.get_block_number().await.map_err(|e| e.to_string())
}

/// Child processes stopped when dropped.
struct Children(Vec<(String, Child)>);

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn_logged(exe: &Path, args: &[&str], log: &Path) -> Result<Child, String> {
    let file = std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    std::process::Command::new(exe)
        .args(args)
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))
}

fn devnet(args: DevnetArgs) -> Result<(), String> {
    if args.dir.exists() && std::fs::read_dir(&args.dir).map(|mut d| d.next().is_some()).unwrap_or(false) {
        return Err(format!("{} is not empty: give a new --dir (a bridge devnet starts fresh)", args.dir.display()));
    }
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("cannot create {}: {e}", args.dir.display()))?;
    let dir = args.dir.canonicalize().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let anvil = Anvil::spawn(args.evm_chain_id).map_err(|e| e.to_string())?;
    let keys = anvil.private_keys().to_vec();
    if keys.len() < 4 {
        return Err("anvil printed fewer than 4 funded accounts".into());
    }
    // account 0 deploys and is the EVM user; accounts 1 to 3 are the members (they pay gas)
    let members = create_members(&dir, &keys[1..4])?;
    let policy = with_committee(gridmint_core::Policy::preset("netmind").map_err(|e| e.to_string())?, &members, 2)?;
    let policy_file = dir.join("policy.toml");
    std::fs::write(&policy_file, policy.to_toml()).map_err(|e| e.to_string())?;
    let data = dir.join("node");
    let mut children = Children(Vec::new());
    let node_args = [
        "node",
        "--dev",
        "--data",
        &data.to_string_lossy(),
        "--policy",
        &policy_file.to_string_lossy(),
        "--listen",
        &args.listen,
        "--block-ms",
        &args.block_ms.to_string(),
        "--epoch-seconds",
        &args.epoch_seconds.to_string(),
    ]
    .map(|s| s.to_string());
    let node_args: Vec<&str> = node_args.iter().map(String::as_str).collect();
    children.0.push(("node".into(), spawn_logged(&exe, &node_args, &dir.join("node.log"))?));
    let url = format!("http://{}", args.listen);
    let client = Client::with_timeout(&url, Duration::from_secs(30));
    let chain_id = wait_for_node(&client)?;
    // fund the members: each gridmint transaction costs a flat fee (NM14)
    let dev_key = load_key(&data.join(node::DEV_KEY_FILE))?;
    let dev = address_of(&dev_key);
    let nonce = client.get(&format!("/v1/accounts/{}", dev.to_hex())).map_err(|e| e.to_string())?.body["next_nonce"]
        .as_u64()
        .unwrap_or(0);
    let batch: Vec<SignedTx> = members
        .iter()
        .zip(nonce..)
        .map(|(m, nonce)| {
            let body = TxBody::Transfer { to: m.address, amount: 100 * gridmint_core::TOKEN };
            SignedTx::sign(Tx { signer: dev, nonce, body }, &dev_key, &chain_id)
        })
        .collect();
    let funded = client
        .post("/v1/tx/batch?wait=true", &serde_json::to_value(&batch).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    if funded.body["committed"].as_u64() != Some(members.len() as u64) {
        return Err(format!("funding the committee failed: {}", funded.body));
    }
    let min_deposit = gridmint_bridge::devnet::min_deposit_of(&policy);
    let deployed = runtime()?.block_on(deploy_for(anvil.url(), &keys[0], &chain_id, &members, 2, min_deposit))?;
    write_relayer_configs(
        &members,
        &RelayerSettings {
            node: url.clone(),
            chain_id: chain_id.clone(),
            rpc: anvil.url().to_string(),
            evm_chain_id: args.evm_chain_id,
            bridge: deployed.bridge,
            confirmations: args.confirmations,
            poll_interval_ms: 500,
        },
    )?;
    for (i, member) in members.iter().enumerate() {
        let log = dir.join(format!("relayer-{}.log", i + 1));
        let config = member.config_file.to_string_lossy().into_owned();
        children
            .0
            .push((format!("relayer {}", i + 1), spawn_logged(&exe, &["bridge", "relay", "--config", &config], &log)?));
    }
    let user_key = dir.join("evm-user.key");
    std::fs::write(&user_key, format!("{}\n", keys[0])).map_err(|e| e.to_string())?;
    let evm_user = load_evm_key(&user_key).map_err(|e| e.to_string())?.address();
    let dev_file = data.join(node::DEV_KEY_FILE);
    println!("gridmint bridge devnet in {}", dir.display());
    println!("  gridmint node     {url} (chain {chain_id}); dev account key {}", dev_file.display());
    println!("  EVM (anvil)       {} (chain id {})", anvil.url(), args.evm_chain_id);
    println!("  bridge contract   {}", deployed.bridge);
    println!("  bridged token     {}", deployed.token);
    println!("  committee         2 of 3; relayer configs, stores and logs: {}/relayer-N.*", dir.display());
    println!();
    println!("Move 10 tokens out to the EVM user {evm_user}:");
    println!(
        "  gridmint tx --node {url} --key {} bridge-out --amount 10 --recipient {evm_user} --wait",
        dev_file.display()
    );
    println!("Bring 4 back to the dev account (once the 10 are minted):");
    println!(
        "  gridmint bridge deposit --evm-rpc {} --bridge {} --evm-key {} --to {} --amount 4",
        anvil.url(),
        deployed.bridge,
        user_key.display(),
        dev.to_hex()
    );
    println!("Watch both sides:");
    println!(
        "  gridmint bridge status --node {url} --evm-rpc {} --bridge {} --relayer {d}/relayer-1 --relayer {d}/relayer-2 --relayer {d}/relayer-3",
        anvil.url(),
        deployed.bridge,
        d = dir.display()
    );
    println!("Ctrl-C stops everything");
    runtime()?.block_on(async {
        let mut poll = tokio::time::interval(Duration::from_millis(500));
        let stop = node::ctrl_c_or_term();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = poll.tick() => {
                    for (name, child) in children.0.iter_mut() {
                        if let Ok(Some(status)) = child.try_wait() {
                            return Err(format!("{name} exited ({status}); see its log in {}", dir.display()));
                        }
                    }
                }
            }
        }
    })
}

/// Waits up to a minute for the node's API: its chain id.
fn wait_for_node(client: &Client) -> Result<String, String> {
    for _ in 0..240 {
        if let Ok(answer) = client.get("/v1/status")
            && let Some(chain) = answer.body["chain_id"].as_str()
        {
            return Ok(chain.to_string());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!("the node at {} did not answer within a minute (see node.log)", client.base()))
}
