//! The `gridmint` binary: a thin shell over the core and the simulator.

mod simulate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// gridmint — the token-economy engine for decentralized GPU compute networks.
///
/// One exact, deterministic core (integer base units, no floats) runs the rules of OSMI,
/// OmniTensor and NetMind: as a simulator today, as a ledger node and an auditor next.
#[derive(Parser)]
#[command(name = "gridmint", version, about, long_about = None, after_help = "Examples:\n  gridmint simulate --policy netmind --years 10 --out out/netmind\n  gridmint policy show osmi\n\nRun `gridmint <command> --help` for a command's options.")]
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
    match cli.command {
        Command::Simulate(args) => simulate::main(args),
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
