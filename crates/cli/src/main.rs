//! The `gridmint` binary: a thin shell over the core and the simulator.

mod bridge_cmd;
mod network_cmd;
mod node_cmd;
mod simulate;
mod snapshot_cmd;
mod tx_report;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// gridmint — the token-economy engine for decentralized GPU compute networks.
///
/// One exact, deterministic core (integer base units, no floats) runs the rules of OSMI,
/// OmniTensor and NetMind: as a simulator, as a ledger node, and as an auditor (replay, proofs).
#[derive(Parser)]
#[command(name = "gridmint", version, about, long_about = None, after_help = "Examples:\n  gridmint node --dev\n  gridmint simulate --policy netmind --years 10 --out out/netmind\n  gridmint policy show osmi\n\nRun `gridmint <command> --help` for a command's options.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Forecast a network's economy day by day with simulated agents (CSV, JSON, PNG charts).
    Simulate(simulate::Args),
    /// Inspect and check policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Run a ledger node (`--dev` for a development network with a prefunded account).
    Node(node_cmd::NodeArgs),
    /// Create a genesis for a network from a policy and an allocation file.
    Init(node_cmd::InitArgs),
    /// Write a local replicated network: validators' keys, a genesis, one config file per node.
    Testnet(network_cmd::TestnetArgs),
    /// Start a whole local replicated network in one command (child processes on 127.0.0.1).
    Devnet(network_cmd::DevnetArgs),
    /// The bridge to an EVM chain (NM13): run a committee member's relayer, start a whole bridge
    /// on loopback, show its status, deposit from the EVM side.
    #[command(subcommand)]
    Bridge(bridge_cmd::BridgeCommand),
    /// Create and show ed25519 keys.
    #[command(subcommand)]
    Keys(node_cmd::KeysCommand),
    /// Sign and submit a transaction to a node.
    Tx(node_cmd::TxArgs),
    /// Look a transaction up by id: its receipt and body once committed, pending, or dropped
    /// (exit 0 only when it was committed and applied).
    Lookup {
        #[command(flatten)]
        url: node_cmd::NodeUrl,
        /// The transaction id (64 hex digits, as `gridmint tx` prints it).
        id: String,
    },
    /// Show an account.
    Account {
        #[command(flatten)]
        url: node_cmd::NodeUrl,
        /// The address.
        #[arg(value_parser = node_cmd::address)]
        address: gridmint_core::Address,
    },
    /// Show a closed epoch's summary, or with --explain an account's reward breakdown (X3).
    Epoch {
        #[command(flatten)]
        url: node_cmd::NodeUrl,
        /// The epoch.
        epoch: u64,
        /// Explain this account's rewards in the epoch.
        #[arg(long, value_name = "ADDRESS", value_parser = node_cmd::address)]
        explain: Option<gridmint_core::Address>,
    },
    /// Check a reward proof offline (the JSON of /v1/epochs/N/proof/ADDR) against a rewards root.
    VerifyReward {
        /// Proof file.
        proof: std::path::PathBuf,
        /// The rewards root to check against [default: the one in the file].
        #[arg(long)]
        root: Option<String>,
    },
    /// Check an account proof offline (the JSON of /v1/accounts/ADDR/proof) against a state root.
    VerifyAccount {
        /// Proof file.
        proof: std::path::PathBuf,
        /// The state root to check against, from a block header you trust [default: the one in
        /// the file].
        #[arg(long)]
        root: Option<String>,
    },
    /// Inspect, export and import state snapshots (a node writes one at each epoch close).
    #[command(subcommand)]
    Snapshot(snapshot_cmd::SnapshotCommand),
    /// Recompute every state root from the stored blocks and report any difference (X4).
    Replay {
        /// Data directory (the node must be stopped).
        #[arg(long, value_name = "DIR", default_value = "gridmint-data")]
        data: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// List the embedded presets.
    List,
    /// Print a policy (a preset name or a file) as TOML.
    Show {
        /// Preset name (netmind, netmind-2024, osmi, omnitensor) or a policy file.
        policy: String,
    },
    /// Validate a policy file; exit 2 with the problem if it is invalid.
    Check {
        /// Policy file or preset name.
        policy: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Node(_) | Command::Devnet(_)) {
        // `gridmint … | head`: end quietly when the reader goes away, as Unix tools do, instead
        // of panicking on the failed write. Not for the long-running commands: a node must not
        // die of a closed pipe (its log lines ignore write errors instead).
        sigpipe::reset();
    }
    match cli.command {
        Command::Simulate(args) => simulate::main(args),
        Command::Node(args) => node_cmd::node(args),
        Command::Init(args) => node_cmd::init(args),
        Command::Testnet(args) => network_cmd::testnet(args),
        Command::Devnet(args) => network_cmd::devnet(args),
        Command::Bridge(command) => bridge_cmd::main(command),
        Command::Keys(command) => node_cmd::keys(command),
        Command::Tx(args) => node_cmd::tx(args),
        Command::Lookup { url, id } => tx_report::lookup(&url.client(), &id),
        Command::Account { url, address } => node_cmd::account(url, address),
        Command::Epoch { url, epoch, explain } => node_cmd::epoch(url, epoch, explain),
        Command::VerifyReward { proof, root } => node_cmd::verify_reward(proof, root),
        Command::VerifyAccount { proof, root } => node_cmd::verify_account(proof, root),
        Command::Replay { data } => node_cmd::replay(data),
        Command::Snapshot(command) => snapshot_cmd::main(command),
        Command::Policy(PolicyCommand::List) => {
            for (name, text) in gridmint_policy::PRESETS {
                let description = text.lines().next().unwrap_or_default().trim_start_matches("# ");
                println!("{name:<14} {description}");
            }
            ExitCode::SUCCESS
        }
        Command::Policy(PolicyCommand::Show { policy }) | Command::Policy(PolicyCommand::Check { policy })
            if gridmint_sim::load_policy(&policy).is_err() =>
        {
            eprintln!("error: {}", gridmint_sim::load_policy(&policy).err().unwrap_or_default());
            ExitCode::from(2)
        }
        Command::Policy(PolicyCommand::Show { policy }) => {
            let loaded = gridmint_sim::load_policy(&policy).unwrap_or_else(|_| unreachable!("checked above"));
            print!("{}", loaded.to_toml());
            ExitCode::SUCCESS
        }
        Command::Policy(PolicyCommand::Check { policy }) => {
            let loaded = gridmint_sim::load_policy(&policy).unwrap_or_else(|_| unreachable!("checked above"));
            println!("ok: {} v{} ({} pools)", loaded.name, loaded.version, loaded.pools.len());
            ExitCode::SUCCESS
        }
    }
}
