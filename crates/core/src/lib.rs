//! gridmint-core: the deterministic token-economy state machine.
//!
//! One core serves the live ledger, the simulator and replay (RULES X1). It has no I/O, no clock
//! (blocks carry their time), no randomness, no floats and no hash-map iteration: the same policy
//! and the same blocks give the same state root, every time.
//!
//! Map of the rulebook (full table in docs/RULES.md):
//! - G1–G3 units, rates, dust: [`math`]; G4–G6 epochs and schedules: [`schedule`];
//!   G7 close order: [`epoch`]; G8 conservation: [`invariants`]; G9 snapshots: [`staking`];
//!   G10 errors: [`error`] and [`apply`]; G11 claims: [`apply`]; G12 policy versions: [`governance`],
//!   [`epoch`].
//! - NM6/NM7/NM9 [`connection_reward`]; NM3/NM10 [`staking`]; NM8 [`jobs`]; NM11/NM13 [`bridge`];
//!   NM12 [`governance`]; NM14/OT6 [`fees`]; OS2 [`schedule`]; OS4 [`jobs`]; OS5 [`points`];
//!   OS6/OS7 [`staking`]; OT3–OT5 [`dualproof`]; X2 [`root`].

#![deny(clippy::float_arithmetic)]
#![warn(missing_docs)]

pub mod apply;
pub mod bridge;
pub mod connection_reward;
pub mod dualproof;
pub mod epoch;
pub mod error;
pub mod fees;
pub mod governance;
pub mod invariants;
pub mod jobs;
pub mod math;
pub mod points;
pub mod root;
pub mod schedule;
pub mod serde_u128;
pub mod snapshot;
pub mod staking;
pub mod state;
pub mod tracked;
pub mod tx;

pub use apply::{Block, BlockError, BlockOutcome, Receipt};
pub use epoch::{EpochSummary, PoolRelease, ProgramPayout};
pub use error::TxError;
pub use gridmint_policy::{Address, PPB, Policy, TOKEN};
pub use root::{
    AccountProof, RewardProof, reward_proof_in, reward_proof_in_chunk, rewards_chunk_root, rewards_root_of,
};
pub use state::{Account, AccountId, Epoch, MachineId, State};
pub use tx::{DecodeError, JobMode, ProposalAction, Tx, TxBody};
