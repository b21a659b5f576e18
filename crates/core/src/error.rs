//! Rejection codes (RULES G10).
//!
//! Checks run in a fixed order and the first failing check's code is returned:
//! 1. the envelope: the encoding's limits (7), signer known (1), signer not a locked system
//!    account (5), nonce (2, 3), block not full (6), fee payable (4); for a heartbeat: nonce 0
//!    (3), a registered machine (21), its slot current (24), not yet marked (26). A transaction
//!    that fails the envelope is *refused*: it changes nothing and never enters a block.
//! 2. the body, in the order of its fields (each kind's checks are listed in docs/ERRORS.md). A
//!    transaction that fails here is *included* with its code in the receipt: it pays its fee,
//!    consumes its nonce, and changes nothing else.
//!
//! Codes are stable: a code's number and meaning never change; new codes get new numbers.

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $name:ident = $code:literal,)*) => {
        /// Why a transaction was rejected. `code()` is stable and documented.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum TxError { $($(#[doc = $doc])* $name,)* }

        impl TxError {
            /// Every code, in numeric order.
            pub const ALL: &'static [TxError] = &[$(TxError::$name,)*];
            /// The stable numeric code.
            pub const fn code(self) -> u16 { match self { $(TxError::$name => $code,)* } }
            /// The error for a numeric code.
            pub fn from_code(code: u16) -> Option<TxError> { match code { $($code => Some(TxError::$name),)* _ => None } }
            /// One line explaining the code.
            pub fn describe(self) -> &'static str { match self { $(TxError::$name => concat!($($doc),*).trim_ascii(),)* } }
        }
    };
}

codes! {
    /// The signer has no account (it has never received tokens).
    UnknownSigner = 1,
    /// The nonce was already used (a replay).
    NonceTooLow = 2,
    /// The nonce skips ahead of the account's next nonce.
    NonceTooHigh = 3,
    /// The signer's spendable balance cannot pay the transaction fee.
    InsufficientFee = 4,
    /// The signer is a system account that only governance may spend (the DAO treasury).
    SignerLocked = 5,
    /// The block already holds the policy's transaction limit.
    BlockFull = 6,
    /// A string or list is over the limits of the canonical encoding (256-byte strings, 32
    /// policy changes).
    InvalidEncoding = 7,
    /// An amount that must be positive is zero.
    ZeroAmount = 10,
    /// The spendable balance is too small.
    InsufficientBalance = 11,
    /// The amount overflows what the ledger can hold.
    AmountOverflow = 12,
    /// The recipient is a small-order or identity public key (no one, or anyone, holds its key).
    InvalidRecipient = 13,
    /// A machine with this address is already registered.
    MachineExists = 20,
    /// No machine has this address.
    UnknownMachine = 21,
    /// The signer does not own the machine.
    NotMachineOwner = 22,
    /// The GPU class is outside the policy's classes.
    InvalidGpuClass = 23,
    /// The heartbeat's slot is not the ledger's current slot (within the tolerance for clock skew
    /// and latency) or not in the open epoch.
    SlotOutsideEpoch = 24,
    /// The machine's bond is below the policy minimum.
    MachineBondTooLow = 25,
    /// The machine has already marked this slot online.
    HeartbeatDuplicate = 26,
    /// The customer already has a job with this id.
    JobExists = 30,
    /// No open job with this customer and id.
    UnknownJob = 31,
    /// Reported usage would exceed the job's escrowed GPU-seconds.
    UsageExceedsJob = 33,
    /// A job needs a positive price and GPU-second budget.
    InvalidJob = 35,
    /// The machine did not work on this job (it reported no usage for it): it cannot be failed
    /// by it.
    MachineNotInJob = 36,
    /// The signer already runs a validator.
    ValidatorExists = 40,
    /// No validator has this address.
    UnknownValidator = 41,
    /// A validator's self-bond is below the policy minimum.
    BondTooLow = 42,
    /// The position holds less stake than the unstake asks for.
    InsufficientStake = 43,
    /// Staking without a validator is not allowed by this policy.
    ValidatorRequired = 44,
    /// The policy has no fast withdrawal.
    FastWithdrawalUnavailable = 45,
    /// There are no unclaimed rewards.
    NothingToClaim = 50,
    /// The proposer holds less than the policy's minimum.
    ProposerTooSmall = 60,
    /// No proposal has this id.
    UnknownProposal = 61,
    /// The proposal's voting period is over.
    VotingClosed = 62,
    /// The signer already voted on this proposal.
    AlreadyVoted = 63,
    /// The proposal's action is invalid (an invalid or ungovernable policy change).
    InvalidProposal = 64,
    /// The signer had no voting weight when the proposal started.
    NoVotingWeight = 65,
    /// The proposer already has a proposal in its voting period: one at a time.
    ProposerHasOpenProposal = 66,
    /// As many proposals as the policy allows (`governance.max_open_proposals`) are in their
    /// voting periods: each holds every account's voting weight at its start.
    TooManyOpenProposals = 67,
    /// The signer is not a member of the bridge committee.
    NotCommitteeMember = 70,
    /// This deposit was already paid out.
    DepositAlreadyPaid = 71,
    /// The signer already attested this claim.
    AlreadyAttested = 72,
    /// The payout would exceed this epoch's inbound cap. (No longer returned: a confirmed
    /// deposit above the room under the cap is paid in parts at later epochs' closes.)
    InboundCapExceeded = 73,
    /// The escrow holds less than the payout.
    EscrowInsufficient = 74,
    /// This provider's liquidity was already registered this epoch.
    LiquidityAlreadyRegistered = 75,
    /// The recipient on the other chain is not an EVM address: 20 bytes, not all zero,
    /// left-padded to 32 with zeros (the bridge contract could never mint to it).
    InvalidForeignRecipient = 76,
    /// No outbound bridge record has this id.
    UnknownOutboundRecord = 77,
    /// The signer already published this very signature for this outbound record.
    AlreadySigned = 78,
    /// The amount is below the policy's smallest outbound bridge transfer
    /// (`bridge.outbound_min`).
    BelowBridgeMinimum = 79,
    /// A receipt with this content was already submitted.
    ReceiptExists = 80,
    /// No receipt has this id.
    UnknownReceipt = 81,
    /// The signer is not a validator assigned to this receipt.
    NotAssignedValidator = 82,
    /// The receipt is already accepted or rejected.
    ReceiptFinalized = 83,
    /// There are no active validators to assign.
    NoActiveValidators = 85,
    /// This transaction kind is not part of the policy (e.g. a bridge on a network without one).
    NotInPolicy = 90,
}

impl std::fmt::Display for TxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:?}): {}", self.code(), self, self.describe())
    }
}

impl std::error::Error for TxError {}
