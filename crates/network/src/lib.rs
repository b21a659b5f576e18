//! gridmint-network: the ledger as a network of validators.
//!
//! - [`election`]: the validator set of a height, from the ledger's election (NM10);
//! - [`replica`]: the node's ledger behind the consensus engine ([`replica::LedgerApp`]);
//! - [`record`]: what a replicated node stores beside each block (the commit certificate);
//! - [`config`]: a node's configuration file and `gridmint testnet`'s layout;
//! - [`undecided`]: blocks persisted before consensus decides them (one file each, fsynced);
//! - [`run`]: a replicated node's lifecycle (the engine, the API, forwarding transactions);
//! - [`state_sync`]: joining a pruned network from a snapshot certified by the validators.

#![warn(missing_docs)]

pub mod config;
pub mod election;
pub mod record;
pub mod replica;
pub mod run;
pub mod state_sync;
pub mod undecided;
