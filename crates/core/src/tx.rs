//! Transactions and their canonical binary encoding.
//!
//! The node signs exactly `Tx::encode()` (prefixed with a domain tag and the chain id), so the
//! encoding is part of the protocol: fixed-width little-endian integers, 32-byte addresses,
//! `u16` length-prefixed UTF-8 strings, one tag byte per enum; decoding rejects unknown tags,
//! booleans other than 0/1, over-long strings and trailing bytes. `decode(encode(t)) == t` and
//! every byte string decodes to at most one transaction.

use crate::serde_u128;
use gridmint_policy::Address;
use serde::{Deserialize, Serialize};

/// Encoding version byte at the start of every transaction.
pub const TX_VERSION: u8 = 1;
/// Longest string in a transaction (policy-change keys and values).
pub const MAX_STRING_BYTES: usize = 256;
/// Most key/value pairs in one policy-change proposal.
pub const MAX_POLICY_CHANGES: usize = 32;

/// A signed-for transaction: who acts, in which order, and what.
///
/// Deserializing (JSON) checks every limit of the canonical encoding ([`Tx::check_limits`]), so
/// a transaction that arrives by JSON can always be encoded and decoded back to itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "TxUnchecked")]
pub struct Tx {
    /// The account (or, for heartbeats, the machine) whose key signs.
    pub signer: Address,
    /// The signer's next nonce (0 for heartbeats, which are idempotent and use none).
    pub nonce: u64,
    /// What the transaction does.
    pub body: TxBody,
}

impl AsRef<Tx> for Tx {
    fn as_ref(&self) -> &Tx {
        self
    }
}

/// [`Tx`] as it arrives, before its limits are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TxUnchecked {
    signer: Address,
    nonce: u64,
    body: TxBody,
}

impl TryFrom<TxUnchecked> for Tx {
    type Error = DecodeError;
    fn try_from(raw: TxUnchecked) -> Result<Tx, DecodeError> {
        let tx = Tx { signer: raw.signer, nonce: raw.nonce, body: raw.body };
        tx.check_limits()?;
        Ok(tx)
    }
}

/// The mode of a job: it decides the provider share and the burn (NM8, N24-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobMode {
    /// Synchronous training.
    Sync = 1,
    /// Asynchronous training.
    Async = 2,
    /// Inference (AI tokens count for OS5 points).
    Inference = 3,
    /// Machine rental.
    Rental = 4,
}

/// What a governance proposal does when it passes (NM12, G12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProposalAction {
    /// Pay from the treasury.
    TreasurySpend {
        /// Recipient.
        to: Address,
        /// Amount in base units.
        #[serde(with = "serde_u128")]
        amount: u128,
    },
    /// Change policy parameters (dotted keys, TOML values) from the next epoch.
    PolicyChange {
        /// (key, value) pairs applied in order.
        changes: Vec<(String, String)>,
    },
}

/// The transaction kinds. Each variant's checks and their order are in docs/ERRORS.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TxBody {
    /// Move spendable tokens; creates the recipient's account.
    Transfer {
        /// Recipient.
        to: Address,
        /// Base units.
        #[serde(with = "serde_u128")]
        amount: u128,
    },
    /// Register a GPU machine owned by the signer, with an optional bond (OT4).
    RegisterMachine {
        /// The machine's own key.
        machine: Address,
        /// GPU class, 1-based (NM7 tiers).
        gpu_class: u8,
        /// Measured bandwidth (NM7).
        bandwidth_mbps: u32,
        /// Bond moved from spendable into stake.
        #[serde(with = "serde_u128")]
        bond: u128,
    },
    /// A machine is online in heartbeat slot `slot` (counted from genesis) (NM6). Signed by the machine.
    Heartbeat {
        /// Absolute slot index.
        slot: u64,
    },
    /// Escrow price × max GPU-seconds for a job (NM8).
    SubmitJob {
        /// Customer-chosen id, unique per customer.
        job_id: u64,
        /// Mode.
        mode: JobMode,
        /// Base units per GPU-second.
        #[serde(with = "serde_u128")]
        price_per_gpu_second: u128,
        /// Budget of GPU-seconds.
        max_gpu_seconds: u64,
    },
    /// A machine's owner reports work on a job.
    ReportUsage {
        /// The job's customer.
        customer: Address,
        /// The job.
        job_id: u64,
        /// The working machine.
        machine: Address,
        /// GPU-seconds supplied.
        gpu_seconds: u64,
        /// AI tokens generated (inference; OS5).
        ai_tokens: u64,
    },
    /// The customer settles a job: pay providers, burn, refund (NM8, OS4).
    SettleJob {
        /// The job.
        job_id: u64,
    },
    /// The customer reports that `machine`'s disconnection failed the job (NM9); settles it.
    FailJob {
        /// The job.
        job_id: u64,
        /// The machine that disconnected.
        machine: Address,
    },
    /// Become a validator with a self-bond (NM10, OT4).
    RegisterValidator {
        /// Self-bond in base units.
        #[serde(with = "serde_u128")]
        bond: u128,
    },
    /// Stake on a validator (or, where the policy allows, on none: the zero address).
    Stake {
        /// Validator address, or zero for plain staking (OS7).
        validator: Address,
        /// Base units.
        #[serde(with = "serde_u128")]
        amount: u128,
    },
    /// Unstake; effective at the epoch boundary, then unbonding (NM10, OS7).
    Unstake {
        /// Validator address, or zero.
        validator: Address,
        /// Base units.
        #[serde(with = "serde_u128")]
        amount: u128,
        /// Fast withdrawal with a burn (OS7).
        fast: bool,
    },
    /// Claim all unclaimed rewards, less the claim tax (G11, OS6).
    Claim,
    /// Move all unclaimed rewards into stake, tax-free (OS6).
    ClaimToStake {
        /// Validator address, or zero.
        validator: Address,
    },
    /// Open a governance proposal (NM12).
    Propose {
        /// What it does when it passes.
        action: ProposalAction,
    },
    /// Vote on a proposal.
    Vote {
        /// Proposal id.
        proposal: u64,
        /// Yes or no.
        yes: bool,
    },
    /// Send tokens to the other chain: into the bridge escrow (NM13).
    BridgeOut {
        /// Base units.
        #[serde(with = "serde_u128")]
        amount: u128,
        /// Recipient on the other chain (left-padded to 32 bytes).
        #[serde(with = "serde_u128::hash")]
        recipient: [u8; 32],
    },
    /// A committee member attests an inbound deposit (NM13).
    BridgeAttest {
        /// Deposit id on the other chain.
        deposit_id: u64,
        /// Recipient here.
        recipient: Address,
        /// Base units.
        #[serde(with = "serde_u128")]
        amount: u128,
    },
    /// A committee member attests a liquidity position (NM11).
    AttestLiquidity {
        /// The liquidity provider.
        provider: Address,
        /// Position size in base units.
        #[serde(with = "serde_u128")]
        amount: u128,
    },
    /// A DualProof work receipt (OT3).
    SubmitReceipt {
        /// The working machine.
        machine: Address,
        /// Task id.
        #[serde(with = "serde_u128::hash")]
        task_id: [u8; 32],
        /// Model id.
        #[serde(with = "serde_u128::hash")]
        model_id: [u8; 32],
        /// Input hash.
        #[serde(with = "serde_u128::hash")]
        input_hash: [u8; 32],
        /// Output hash.
        #[serde(with = "serde_u128::hash")]
        output_hash: [u8; 32],
        /// GPU-seconds spent.
        gpu_seconds: u64,
    },
    /// An assigned validator attests a receipt (OT4).
    AttestReceipt {
        /// Receipt id.
        #[serde(with = "serde_u128::hash")]
        receipt: [u8; 32],
        /// Valid or invalid.
        valid: bool,
    },
    /// A committee member publishes its signature of the mint of outbound record `record` on the
    /// other chain (NM13): the EIP-712 signature (`r ‖ s ‖ v`, 65 bytes) the bridge contract
    /// checks. The ledger orders and keeps the committee's signatures so that any relayer can
    /// submit the mint once `threshold` of them are known; it does not check them (the contract
    /// does, against its own committee).
    BridgeSign {
        /// The outbound record's id.
        record: u64,
        /// `r ‖ s ‖ v`.
        #[serde(with = "serde_u128::signature")]
        signature: [u8; 65],
    },
}

/// Why bytes did not decode to a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes ended early.
    #[error("truncated transaction")]
    Truncated,
    /// Bytes remain after the transaction.
    #[error("trailing bytes after the transaction")]
    TrailingBytes,
    /// An unknown version, kind, mode or action tag.
    #[error("unknown tag {0} for {1}")]
    UnknownTag(u8, &'static str),
    /// A boolean byte other than 0 or 1.
    #[error("invalid boolean byte {0}")]
    InvalidBool(u8),
    /// A string that is not UTF-8.
    #[error("invalid string (not UTF-8)")]
    InvalidString,
    /// A string longer than [`MAX_STRING_BYTES`] bytes.
    #[error("a string is longer than {MAX_STRING_BYTES} bytes")]
    StringTooLong,
    /// More policy changes than allowed.
    #[error("more than {MAX_POLICY_CHANGES} policy changes in one proposal")]
    TooManyChanges,
}

/// Appends canonical bytes.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    /// Little-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// Little-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// Little-endian u128.
    pub fn u128(&mut self, v: u128) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// 32 raw bytes.
    pub fn bytes32(&mut self, v: &[u8; 32]) {
        self.0.extend_from_slice(v);
    }
    /// A bool as 0/1.
    pub fn bool(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }
    /// u16 length + UTF-8. Never truncates: a string over [`MAX_STRING_BYTES`] is written
    /// whole (up to `u16::MAX` bytes) and then fails to decode, which is why every transaction
    /// is checked with [`Tx::check_limits`] before it is signed, admitted or applied.
    pub fn string(&mut self, v: &str) {
        let bytes = v.as_bytes();
        let len = bytes.len().min(usize::from(u16::MAX));
        self.0.extend_from_slice(&(len as u16).to_le_bytes());
        self.0.extend_from_slice(bytes.get(..len).unwrap_or_default());
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(DecodeError::Truncated)?;
        self.0 = rest;
        Ok(*head)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn u128(&mut self) -> Result<u128, DecodeError> {
        Ok(u128::from_le_bytes(self.take()?))
    }
    fn bytes32(&mut self) -> Result<[u8; 32], DecodeError> {
        self.take()
    }
    fn address(&mut self) -> Result<Address, DecodeError> {
        Ok(Address(self.take()?))
    }
    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(DecodeError::InvalidBool(other)),
        }
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        let len = u16::from_le_bytes(self.take()?) as usize;
        if len > MAX_STRING_BYTES || len > self.0.len() {
            return Err(if len > MAX_STRING_BYTES { DecodeError::StringTooLong } else { DecodeError::Truncated });
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(head.to_vec()).map_err(|_| DecodeError::InvalidString)
    }
}

impl TxBody {
    /// The tag byte of this kind in the encoding.
    pub fn tag(&self) -> u8 {
        match self {
            TxBody::Transfer { .. } => 1,
            TxBody::RegisterMachine { .. } => 2,
            TxBody::Heartbeat { .. } => 3,
            TxBody::SubmitJob { .. } => 4,
            TxBody::ReportUsage { .. } => 5,
            TxBody::SettleJob { .. } => 6,
            TxBody::FailJob { .. } => 7,
            TxBody::RegisterValidator { .. } => 8,
            TxBody::Stake { .. } => 9,
            TxBody::Unstake { .. } => 10,
            TxBody::Claim => 11,
            TxBody::ClaimToStake { .. } => 12,
            TxBody::Propose { .. } => 13,
            TxBody::Vote { .. } => 14,
            TxBody::BridgeOut { .. } => 15,
            TxBody::BridgeAttest { .. } => 16,
            TxBody::AttestLiquidity { .. } => 17,
            TxBody::SubmitReceipt { .. } => 18,
            TxBody::AttestReceipt { .. } => 19,
            TxBody::BridgeSign { .. } => 20,
        }
    }

    /// The kind's name as used in JSON and the CLI (`transfer`, `register_machine`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            TxBody::Transfer { .. } => "transfer",
            TxBody::RegisterMachine { .. } => "register_machine",
            TxBody::Heartbeat { .. } => "heartbeat",
            TxBody::SubmitJob { .. } => "submit_job",
            TxBody::ReportUsage { .. } => "report_usage",
            TxBody::SettleJob { .. } => "settle_job",
            TxBody::FailJob { .. } => "fail_job",
            TxBody::RegisterValidator { .. } => "register_validator",
            TxBody::Stake { .. } => "stake",
            TxBody::Unstake { .. } => "unstake",
            TxBody::Claim => "claim",
            TxBody::ClaimToStake { .. } => "claim_to_stake",
            TxBody::Propose { .. } => "propose",
            TxBody::Vote { .. } => "vote",
            TxBody::BridgeOut { .. } => "bridge_out",
            TxBody::BridgeAttest { .. } => "bridge_attest",
            TxBody::AttestLiquidity { .. } => "attest_liquidity",
            TxBody::SubmitReceipt { .. } => "submit_receipt",
            TxBody::AttestReceipt { .. } => "attest_receipt",
            TxBody::BridgeSign { .. } => "bridge_sign",
        }
    }

    /// The kind's name for a tag byte ([`TxBody::tag`]; `None`: no such kind).
    pub fn kind_name_of_tag(tag: u8) -> Option<&'static str> {
        const NAMES: [&str; 20] = [
            "transfer",
            "register_machine",
            "heartbeat",
            "submit_job",
            "report_usage",
            "settle_job",
            "fail_job",
            "register_validator",
            "stake",
            "unstake",
            "claim",
            "claim_to_stake",
            "propose",
            "vote",
            "bridge_out",
            "bridge_attest",
            "attest_liquidity",
            "submit_receipt",
            "attest_receipt",
            "bridge_sign",
        ];
        NAMES.get(usize::from(tag).checked_sub(1)?).copied()
    }

    /// The gridmint accounts the body names besides its signer, in the body's order: a
    /// transfer's recipient, a machine, a customer, a validator staked on, a deposit's recipient,
    /// a liquidity provider, a treasury spend's recipient. What an account's list of
    /// transactions is made of (the node's `account_txs` index); a bridge-out's recipient is an
    /// EVM address and is not one.
    pub fn named_accounts(&self) -> Vec<Address> {
        match self {
            TxBody::Transfer { to, .. } => vec![*to],
            TxBody::RegisterMachine { machine, .. }
            | TxBody::FailJob { machine, .. }
            | TxBody::SubmitReceipt { machine, .. } => vec![*machine],
            TxBody::ReportUsage { customer, machine, .. } => vec![*customer, *machine],
            TxBody::Stake { validator, .. }
            | TxBody::Unstake { validator, .. }
            | TxBody::ClaimToStake { validator } => vec![*validator],
            TxBody::BridgeAttest { recipient, .. } => vec![*recipient],
            TxBody::AttestLiquidity { provider, .. } => vec![*provider],
            TxBody::Propose { action: ProposalAction::TreasurySpend { to, .. } } => vec![*to],
            TxBody::Propose { action: ProposalAction::PolicyChange { .. } }
            | TxBody::Heartbeat { .. }
            | TxBody::SubmitJob { .. }
            | TxBody::SettleJob { .. }
            | TxBody::RegisterValidator { .. }
            | TxBody::Claim
            | TxBody::Vote { .. }
            | TxBody::BridgeOut { .. }
            | TxBody::AttestReceipt { .. }
            | TxBody::BridgeSign { .. } => Vec::new(),
        }
    }

    /// The amount the body moves, bonds or asks for, in base units (`None`: it names none), for
    /// listings: a transfer's, a bond, a stake or unstake, a bridge transfer, an attested
    /// liquidity, a treasury spend.
    pub fn amount(&self) -> Option<u128> {
        match self {
            TxBody::Transfer { amount, .. }
            | TxBody::Stake { amount, .. }
            | TxBody::Unstake { amount, .. }
            | TxBody::BridgeOut { amount, .. }
            | TxBody::BridgeAttest { amount, .. }
            | TxBody::AttestLiquidity { amount, .. }
            | TxBody::Propose { action: ProposalAction::TreasurySpend { amount, .. } } => Some(*amount),
            TxBody::RegisterMachine { bond, .. } | TxBody::RegisterValidator { bond } => Some(*bond),
            _ => None,
        }
    }
}

impl Tx {
    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(96));
        self.encode_into(&mut w);
        w.0
    }

    /// Appends the canonical bytes.
    pub fn encode_into(&self, w: &mut Writer) {
        w.u8(TX_VERSION);
        w.bytes32(&self.signer.0);
        w.u64(self.nonce);
        w.u8(self.body.tag());
        match &self.body {
            TxBody::Transfer { to, amount } => {
                w.bytes32(&to.0);
                w.u128(*amount);
            }
            TxBody::RegisterMachine { machine, gpu_class, bandwidth_mbps, bond } => {
                w.bytes32(&machine.0);
                w.u8(*gpu_class);
                w.u32(*bandwidth_mbps);
                w.u128(*bond);
            }
            TxBody::Heartbeat { slot } => w.u64(*slot),
            TxBody::SubmitJob { job_id, mode, price_per_gpu_second, max_gpu_seconds } => {
                w.u64(*job_id);
                w.u8(*mode as u8);
                w.u128(*price_per_gpu_second);
                w.u64(*max_gpu_seconds);
            }
            TxBody::ReportUsage { customer, job_id, machine, gpu_seconds, ai_tokens } => {
                w.bytes32(&customer.0);
                w.u64(*job_id);
                w.bytes32(&machine.0);
                w.u64(*gpu_seconds);
                w.u64(*ai_tokens);
            }
            TxBody::SettleJob { job_id } => w.u64(*job_id),
            TxBody::FailJob { job_id, machine } => {
                w.u64(*job_id);
                w.bytes32(&machine.0);
            }
            TxBody::RegisterValidator { bond } => w.u128(*bond),
            TxBody::Stake { validator, amount } => {
                w.bytes32(&validator.0);
                w.u128(*amount);
            }
            TxBody::Unstake { validator, amount, fast } => {
                w.bytes32(&validator.0);
                w.u128(*amount);
                w.bool(*fast);
            }
            TxBody::Claim => {}
            TxBody::ClaimToStake { validator } => w.bytes32(&validator.0),
            TxBody::Propose { action } => match action {
                ProposalAction::TreasurySpend { to, amount } => {
                    w.u8(1);
                    w.bytes32(&to.0);
                    w.u128(*amount);
                }
                ProposalAction::PolicyChange { changes } => {
                    w.u8(2);
                    // never truncated (see `Writer::string`): an over-long list fails to decode
                    w.u8(changes.len().min(usize::from(u8::MAX)) as u8);
                    for (key, value) in changes {
                        w.string(key);
                        w.string(value);
                    }
                }
            },
            TxBody::Vote { proposal, yes } => {
                w.u64(*proposal);
                w.bool(*yes);
            }
            TxBody::BridgeOut { amount, recipient } => {
                w.u128(*amount);
                w.bytes32(recipient);
            }
            TxBody::BridgeAttest { deposit_id, recipient, amount } => {
                w.u64(*deposit_id);
                w.bytes32(&recipient.0);
                w.u128(*amount);
            }
            TxBody::AttestLiquidity { provider, amount } => {
                w.bytes32(&provider.0);
                w.u128(*amount);
            }
            TxBody::SubmitReceipt { machine, task_id, model_id, input_hash, output_hash, gpu_seconds } => {
                w.bytes32(&machine.0);
                w.bytes32(task_id);
                w.bytes32(model_id);
                w.bytes32(input_hash);
                w.bytes32(output_hash);
                w.u64(*gpu_seconds);
            }
            TxBody::AttestReceipt { receipt, valid } => {
                w.bytes32(receipt);
                w.bool(*valid);
            }
            TxBody::BridgeSign { record, signature } => {
                w.u64(*record);
                w.0.extend_from_slice(signature);
            }
        }
    }

    /// Decodes canonical bytes; rejects anything that `encode` would not produce.
    pub fn decode(bytes: &[u8]) -> Result<Tx, DecodeError> {
        let mut r = Reader(bytes);
        let version = r.u8()?;
        if version != TX_VERSION {
            return Err(DecodeError::UnknownTag(version, "version"));
        }
        let signer = r.address()?;
        let nonce = r.u64()?;
        let tag = r.u8()?;
        let body = match tag {
            1 => TxBody::Transfer { to: r.address()?, amount: r.u128()? },
            2 => TxBody::RegisterMachine {
                machine: r.address()?,
                gpu_class: r.u8()?,
                bandwidth_mbps: r.u32()?,
                bond: r.u128()?,
            },
            3 => TxBody::Heartbeat { slot: r.u64()? },
            4 => TxBody::SubmitJob {
                job_id: r.u64()?,
                mode: match r.u8()? {
                    1 => JobMode::Sync,
                    2 => JobMode::Async,
                    3 => JobMode::Inference,
                    4 => JobMode::Rental,
                    other => return Err(DecodeError::UnknownTag(other, "job mode")),
                },
                price_per_gpu_second: r.u128()?,
                max_gpu_seconds: r.u64()?,
            },
            5 => TxBody::ReportUsage {
                customer: r.address()?,
                job_id: r.u64()?,
                machine: r.address()?,
                gpu_seconds: r.u64()?,
                ai_tokens: r.u64()?,
            },
            6 => TxBody::SettleJob { job_id: r.u64()? },
            7 => TxBody::FailJob { job_id: r.u64()?, machine: r.address()? },
            8 => TxBody::RegisterValidator { bond: r.u128()? },
            9 => TxBody::Stake { validator: r.address()?, amount: r.u128()? },
            10 => TxBody::Unstake { validator: r.address()?, amount: r.u128()?, fast: r.bool()? },
            11 => TxBody::Claim,
            12 => TxBody::ClaimToStake { validator: r.address()? },
            13 => TxBody::Propose {
                action: match r.u8()? {
                    1 => ProposalAction::TreasurySpend { to: r.address()?, amount: r.u128()? },
                    2 => {
                        let count = r.u8()? as usize;
                        if count > MAX_POLICY_CHANGES {
                            return Err(DecodeError::TooManyChanges);
                        }
                        let mut changes = Vec::with_capacity(count);
                        for _ in 0..count {
                            changes.push((r.string()?, r.string()?));
                        }
                        ProposalAction::PolicyChange { changes }
                    }
                    other => return Err(DecodeError::UnknownTag(other, "proposal action")),
                },
            },
            14 => TxBody::Vote { proposal: r.u64()?, yes: r.bool()? },
            15 => TxBody::BridgeOut { amount: r.u128()?, recipient: r.bytes32()? },
            16 => TxBody::BridgeAttest { deposit_id: r.u64()?, recipient: r.address()?, amount: r.u128()? },
            17 => TxBody::AttestLiquidity { provider: r.address()?, amount: r.u128()? },
            18 => TxBody::SubmitReceipt {
                machine: r.address()?,
                task_id: r.bytes32()?,
                model_id: r.bytes32()?,
                input_hash: r.bytes32()?,
                output_hash: r.bytes32()?,
                gpu_seconds: r.u64()?,
            },
            19 => TxBody::AttestReceipt { receipt: r.bytes32()?, valid: r.bool()? },
            20 => TxBody::BridgeSign { record: r.u64()?, signature: r.take()? },
            other => return Err(DecodeError::UnknownTag(other, "transaction kind")),
        };
        if !r.0.is_empty() {
            return Err(DecodeError::TrailingBytes);
        }
        Ok(Tx { signer, nonce, body })
    }

    /// Checks every limit of the canonical encoding: strings of at most [`MAX_STRING_BYTES`]
    /// bytes, at most [`MAX_POLICY_CHANGES`] changes in a proposal. A transaction that passes
    /// encodes to bytes that [`Tx::decode`] turns back into exactly it.
    pub fn check_limits(&self) -> Result<(), DecodeError> {
        if let TxBody::Propose { action: ProposalAction::PolicyChange { changes } } = &self.body {
            if changes.len() > MAX_POLICY_CHANGES {
                return Err(DecodeError::TooManyChanges);
            }
            for (key, value) in changes {
                if key.len() > MAX_STRING_BYTES || value.len() > MAX_STRING_BYTES {
                    return Err(DecodeError::StringTooLong);
                }
            }
        }
        Ok(())
    }

    /// blake3 of the canonical bytes: the transaction's id.
    pub fn id(&self) -> [u8; 32] {
        *blake3::hash(&self.encode()).as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of_each() -> Vec<TxBody> {
        let a = Address([7; 32]);
        vec![
            TxBody::Transfer { to: a, amount: 1 },
            TxBody::RegisterMachine { machine: a, gpu_class: 0, bandwidth_mbps: 1, bond: 2 },
            TxBody::Heartbeat { slot: 0 },
            TxBody::SubmitJob { job_id: 1, mode: JobMode::Inference, price_per_gpu_second: 1, max_gpu_seconds: 1 },
            TxBody::ReportUsage { customer: Address([8; 32]), job_id: 1, machine: a, gpu_seconds: 1, ai_tokens: 0 },
            TxBody::SettleJob { job_id: 1 },
            TxBody::FailJob { job_id: 1, machine: a },
            TxBody::RegisterValidator { bond: 3 },
            TxBody::Stake { validator: a, amount: 4 },
            TxBody::Unstake { validator: a, amount: 5, fast: false },
            TxBody::Claim,
            TxBody::ClaimToStake { validator: a },
            TxBody::Propose { action: ProposalAction::TreasurySpend { to: a, amount: 6 } },
            TxBody::Vote { proposal: 0, yes: true },
            TxBody::BridgeOut { amount: 7, recipient: [1; 32] },
            TxBody::BridgeAttest { deposit_id: 0, recipient: a, amount: 8 },
            TxBody::AttestLiquidity { provider: a, amount: 9 },
            TxBody::SubmitReceipt {
                machine: a,
                task_id: [0; 32],
                model_id: [0; 32],
                input_hash: [0; 32],
                output_hash: [0; 32],
                gpu_seconds: 1,
            },
            TxBody::AttestReceipt { receipt: [0; 32], valid: true },
            TxBody::BridgeSign { record: 0, signature: [0; 65] },
        ]
    }

    #[test]
    fn every_tag_names_its_kind_and_no_other_tag_names_one() {
        let bodies = one_of_each();
        for body in &bodies {
            assert_eq!(TxBody::kind_name_of_tag(body.tag()), Some(body.kind_name()), "{body:?}");
        }
        let tags: std::collections::BTreeSet<u8> = bodies.iter().map(TxBody::tag).collect();
        assert_eq!(tags.len(), bodies.len(), "a tag shared by two kinds");
        for tag in (0..=u8::MAX).filter(|t| !tags.contains(t)) {
            assert_eq!(TxBody::kind_name_of_tag(tag), None, "tag {tag}");
        }
    }

    #[test]
    fn named_accounts_and_amounts_are_the_bodys_own() {
        let a = Address([7; 32]);
        for body in one_of_each() {
            let named = body.named_accounts();
            match &body {
                TxBody::ReportUsage { .. } => assert_eq!(named, vec![Address([8; 32]), a]),
                TxBody::Transfer { .. }
                | TxBody::RegisterMachine { .. }
                | TxBody::FailJob { .. }
                | TxBody::SubmitReceipt { .. }
                | TxBody::Stake { .. }
                | TxBody::Unstake { .. }
                | TxBody::ClaimToStake { .. }
                | TxBody::BridgeAttest { .. }
                | TxBody::AttestLiquidity { .. }
                | TxBody::Propose { .. } => assert_eq!(named, vec![a], "{body:?}"),
                _ => assert!(named.is_empty(), "{body:?}"),
            }
        }
        let amounts: Vec<Option<u128>> = one_of_each().iter().map(TxBody::amount).collect();
        assert_eq!(
            amounts,
            vec![
                Some(1),
                Some(2),
                None,
                None,
                None,
                None,
                None,
                Some(3),
                Some(4),
                Some(5),
                None,
                None,
                Some(6),
                None,
                Some(7),
                Some(8),
                Some(9),
                None,
                None,
                None
            ]
        );
        let policy = TxBody::Propose { action: ProposalAction::PolicyChange { changes: vec![] } };
        assert!(policy.named_accounts().is_empty());
        assert_eq!(policy.amount(), None);
    }
}
