//! The EVM half of gridmint's bridge (NM13, issue 14): Rust bindings to the Solidity contracts in
//! `contracts/` (the bridged ERC-20 `GridToken` and `GridmintBridge`), their deployment from the
//! committed artifacts `contracts/out/*.json`, and the EIP-712 signatures committee members give
//! for a mint, a committee change or an unpause.
//!
//! gridmint's ledger half is `gridmint_core::bridge` (escrow, outbound records, attestations). This
//! crate is the only one that depends on alloy, so the rest of the workspace does not build it.
//!
//! Why the contracts are compiled by a Node script and committed rather than built here: `cargo
//! build` and `cargo clippy` then need no Node; `scripts/evm-tools.sh` proves the committed
//! artifacts match the sources. See docs/design/bridge-notes.md.

pub mod anvil;
pub mod contracts;
pub mod devnet;
pub mod relay;
pub mod relayer;
pub mod sign;

pub use anvil::{Anvil, AnvilError};
pub use contracts::{CommitteeUpdate, Mint, Unpause};
pub use contracts::{DeployError, Deployed, IGridToken, IGridmintBridge, connect, deploy};
pub use sign::{
    CommitteeKey, MemberSignature, domain, evm_recipient, gridmint_chain_tag, record_recipient, sorted_signatures,
};

/// The alloy version this crate builds with, for callers (the CLI) that need its types.
pub use alloy;
