//! gridmint-node: the live ledger service.
//!
//! - [`signing`]: ed25519 keys and domain-separated signatures over the core's canonical bytes;
//! - [`block`]: blocks as stored and served;
//! - [`store`]: the embedded redb store, one write transaction per block, checksummed records;
//! - [`blocklog`]: the blocks' bytes in append-only segment files beside the database;
//! - [`audit`]: the auditor's check of every table against the blocks (`gridmint replay`);
//! - [`ledger`]: the core state advanced by committed blocks; replay (X4); the consensus seam;
//! - [`mempool`]: the bounded mempool;
//! - [`api`]: the HTTP API under `/v1/`, its limits, metrics and OpenAPI document;
//! - [`node`]: the single-node producer and the server's lifecycle;
//! - [`openapi`]: the API's wire types and the OpenAPI document generated from them;
//! - [`serve`]: the HTTP server: connection bounds and timeouts, typed answers to unparseable requests;
//! - [`client`]: a small blocking client for the CLI, tests and benches.

#![warn(missing_docs)]

pub mod api;
pub mod audit;
pub mod block;
pub mod blocklog;
pub mod client;
pub mod evidence;
pub mod explain_page;
pub mod explorer;
pub mod ledger;
pub mod mempool;
pub mod node;
pub mod openapi;
pub mod serve;
pub mod signing;
pub mod snapshots;
pub mod store;

pub use ledger::{Genesis, GenesisValidator, Ledger, LedgerError, Proposal};
pub use signing::SignedTx;
