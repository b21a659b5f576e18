//! The API's wire types and the OpenAPI document generated from them and from the handlers'
//! `#[utoipa::path]` annotations ([`crate::api`]): the router and the document are built from
//! the same list of handlers, so a route cannot be served undocumented or documented unserved.
//!
//! Responses are these types, serialized as they are described. Request bodies are parsed by the
//! core's types ([`crate::SignedTx`], [`gridmint_core::TxBody`]); the `*Doc` types here mirror
//! them for the document only, and a test checks that the two accept the same JSON for every
//! transaction kind. Hex is accepted in either case and always printed in lower case: input
//! patterns say `[0-9a-fA-F]`, output patterns `[0-9a-f]`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

macro_rules! string_schema {
    ($(#[$doc:meta])* $name:ident, $pattern:literal, $description:literal) => {
        $(#[$doc])*
        pub struct $name;
        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some($pattern))
                    .description(Some($description))
                    .into()
            }
        }
        impl ToSchema for $name {}
    };
}

string_schema!(
    /// 32 bytes as printed: an address, a hash, a transaction id.
    Hex32,
    "^[0-9a-f]{64}$",
    "32 bytes (an address, a hash or a transaction id) as 64 lower-case hex digits"
);
string_schema!(
    /// 32 bytes as accepted.
    Hex32Input,
    "^[0-9a-fA-F]{64}$",
    "32 bytes (an address, a hash or a transaction id) as 64 hex digits, upper or lower case"
);
string_schema!(
    /// 65 bytes as accepted: a secp256k1 signature `r ‖ s ‖ v`.
    Hex65Input,
    "^[0-9a-fA-F]{130}$",
    "65 bytes (a secp256k1 signature r ‖ s ‖ v) as 130 hex digits, upper or lower case"
);
string_schema!(
    /// 65 bytes as printed.
    Hex65,
    "^[0-9a-f]{130}$",
    "65 bytes (a secp256k1 signature r ‖ s ‖ v) as 130 lower-case hex digits"
);
string_schema!(
    /// An address in its checksummed text form, as printed.
    Bech32m,
    "^gm1[02-9ac-hj-np-z]{58}$",
    "an address in its checksummed text form: bech32m with the prefix `gm` (the same 32 bytes as the hex field beside it)"
);
string_schema!(
    /// An address as accepted in a path.
    AddressInput,
    "^[0-9a-fA-F]{64}$",
    "an address as 64 hex digits (either case). Its checksummed form `gm1…` (bech32m, 61 characters) is accepted too, but is not in this pattern: a pattern cannot check a checksum, and a mistyped one is refused (400 invalid_address). A system account name is not accepted"
);
string_schema!(
    /// A signature as accepted.
    SignatureInput,
    "^[0-9a-fA-F]{128}$",
    "a 64-byte ed25519 signature as 128 hex digits, upper or lower case"
);
string_schema!(
    /// A signature as printed.
    Signature,
    "^[0-9a-f]{128}$",
    "a 64-byte ed25519 signature as 128 lower-case hex digits"
);
string_schema!(
    /// An amount as printed.
    Amount,
    "^(0|[1-9][0-9]*)$",
    "an amount in base units (10^-18 token), as a decimal string (JSON numbers lose precision above 2^53)"
);
string_schema!(
    /// An amount as accepted.
    AmountInput,
    "^[0-9]{1,38}$",
    "an amount in base units (10^-18 token), as a decimal string of digits only (below 2^128)"
);
string_schema!(
    /// A block height path parameter.
    HeightParam,
    "^(latest|[0-9]{1,19})$",
    "a block height (a non-negative integer), or `latest` for the tip"
);

/// Every error: a stable code and a message for people.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's code and message.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable (see each response's description for the codes it may carry).
    pub code: String,
    /// For people; may change.
    pub message: String,
}

/// A replicated node's consensus, in `GET /v1/status` (absent on a single node).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsensusView {
    /// `validator` (in the set of the height being decided) or `full_node`.
    pub role: String,
    /// This node's address (its consensus key).
    #[schema(value_type = Hex32)]
    pub address: String,
    /// The height consensus is deciding.
    pub height: u64,
    /// Its current round (0 when the first proposal is decided).
    pub round: u32,
    /// Peers connected on the p2p network.
    pub peers: u64,
    /// The validator set of that height, in its order.
    pub validators: Vec<ValidatorPowerView>,
}

/// A validator and its voting power.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ValidatorPowerView {
    /// Its address.
    #[schema(value_type = Hex32)]
    pub address: String,
    /// Its voting power (a quorum is more than 2/3 of the set's total).
    pub power: u64,
}

/// `GET /v1/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusView {
    /// The chain id: signatures commit to it.
    pub chain_id: String,
    /// The last committed block.
    pub height: u64,
    /// The open epoch.
    pub epoch: u64,
    /// The last block's time (Unix seconds).
    pub time: u64,
    /// Unix seconds.
    pub genesis_time: u64,
    /// Epoch length.
    pub epoch_seconds: u64,
    /// Heartbeat slot length.
    pub slot_seconds: u64,
    /// The last block's hash.
    #[schema(value_type = Hex32)]
    pub tip_hash: String,
    /// The policy's name.
    pub policy: String,
    /// The policy's version.
    pub policy_version: u32,
    /// Transactions waiting.
    pub mempool: u64,
    /// Accounts.
    pub accounts: u64,
    /// Machines.
    pub machines: u64,
    /// The lowest block height this node stores: 1, unless it is pruned (older blocks answer
    /// 410 `pruned`; their epochs' summaries, proofs and explain records stay).
    pub oldest_block: u64,
    /// Whether this node keeps every block (`--archive`).
    pub archive: bool,
    /// On a replicated node: its role, round, peers and the validator set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consensus: Option<ConsensusView>,
}

/// A pool.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoolView {
    /// Its name.
    pub name: String,
    /// Tokens in it.
    #[schema(value_type = Amount)]
    pub balance: String,
    /// Released from it so far.
    #[schema(value_type = Amount)]
    pub released_total: String,
}

/// `GET /v1/supply`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupplyView {
    /// At this height.
    pub height: u64,
    /// The open epoch.
    pub epoch: u64,
    /// The supply cap.
    #[schema(value_type = Amount)]
    pub cap: String,
    /// Minted less burned.
    #[schema(value_type = Amount)]
    pub total_supply: String,
    /// Held by accounts (not in pools or escrow).
    #[schema(value_type = Amount)]
    pub circulating: String,
    /// Minted so far.
    #[schema(value_type = Amount)]
    pub minted_total: String,
    /// Burned so far.
    #[schema(value_type = Amount)]
    pub burned_total: String,
    /// Locked for the other chain.
    #[schema(value_type = Amount)]
    pub escrow: String,
    /// Every pool.
    pub pools: Vec<PoolView>,
}

/// `GET /v1/bridge`: the bridge's state (NM13).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BridgeView {
    /// At this height.
    pub height: u64,
    /// The open epoch.
    pub epoch: u64,
    /// Locked for the other chain (including what confirmed deposits still wait for).
    #[schema(value_type = Amount)]
    pub escrow: String,
    /// What confirmed deposits still wait for (paid at later epochs' closes).
    #[schema(value_type = Amount)]
    pub inbound_waiting: String,
    /// This epoch's inbound cap.
    #[schema(value_type = Amount)]
    pub inbound_cap_epoch: String,
    /// Paid inbound this epoch.
    #[schema(value_type = Amount)]
    pub inbound_paid_epoch: String,
    /// Outbound records so far (their ids are 0 to this less one).
    pub outbound_records: u64,
    /// Deposits confirmed so far (the entries of `GET /v1/bridge/inbound`).
    pub inbound_confirmed: u64,
    /// The first confirmed deposit not fully paid.
    pub inbound_next: u64,
    /// Claims attested by some members but not yet by the threshold.
    pub open_attestations: u64,
    /// The committee in force.
    #[schema(value_type = Vec<Hex32>)]
    pub committee: Vec<String>,
    /// Matching attestations (or signatures) needed.
    pub threshold: u32,
    /// The smallest amount one `bridge_out` may move (the policy's `bridge.outbound_min`); null
    /// when the policy sets none.
    #[schema(value_type = Option<Amount>)]
    pub outbound_min: Option<String>,
}

/// A committee member's published signature of a record's mint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MintSignatureView {
    /// The member (its gridmint address).
    #[schema(value_type = Hex32)]
    pub member: String,
    /// The EIP-712 signature `r ‖ s ‖ v`.
    #[schema(value_type = Hex65)]
    pub signature: String,
}

/// An outbound bridge record.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OutboundView {
    /// Its id (the `id` the bridge contract's `mint` takes).
    pub id: u64,
    /// The sender here.
    #[schema(value_type = Hex32)]
    pub from: String,
    /// Base units (the same on both chains).
    #[schema(value_type = Amount)]
    pub amount: String,
    /// The recipient on the other chain, 32 bytes.
    #[schema(value_type = Hex32)]
    pub recipient: String,
    /// The same as an EVM address (`0x` and 40 hex digits); null for a recipient that is none
    /// (possible only in records older than the check, which no contract can mint).
    pub recipient_evm: Option<String>,
    /// The epoch it was sent.
    pub epoch: u64,
    /// The committee's published signatures of its mint, by member.
    pub signatures: Vec<MintSignatureView>,
}

/// `GET /v1/bridge/outbound`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OutboundList {
    /// Records in id order.
    pub records: Vec<OutboundView>,
    /// The `from` of the next page (absent at the end).
    pub next_from: Option<u64>,
}

/// A confirmed inbound deposit and what it has paid.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InboundView {
    /// Its position in the order of confirmation.
    pub index: u64,
    /// The deposit id on the other chain.
    pub deposit_id: u64,
    /// The recipient here.
    #[schema(value_type = Hex32)]
    pub recipient: String,
    /// What it pays.
    #[schema(value_type = Amount)]
    pub amount: String,
    /// What it has paid so far.
    #[schema(value_type = Amount)]
    pub paid: String,
    /// Fully paid.
    pub settled: bool,
    /// The epoch the committee's threshold confirmed it.
    pub epoch: u64,
}

/// `GET /v1/bridge/inbound`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InboundList {
    /// Payouts in the order of confirmation.
    pub payouts: Vec<InboundView>,
    /// The `from` of the next page (absent at the end).
    pub next_from: Option<u64>,
}

/// `GET /v1/accounts/{address}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    /// The account.
    #[schema(value_type = Hex32)]
    pub address: String,
    /// The account in its checksummed text form.
    #[schema(value_type = Bech32m)]
    pub address_bech32m: String,
    /// At this height.
    pub height: u64,
    /// Free to spend.
    #[schema(value_type = Amount)]
    pub spendable: String,
    /// Staked.
    #[schema(value_type = Amount)]
    pub staked: String,
    /// Unbonding.
    #[schema(value_type = Amount)]
    pub unbonding: String,
    /// In job escrow.
    #[schema(value_type = Amount)]
    pub escrowed: String,
    /// Rewards not yet claimed.
    #[schema(value_type = Amount)]
    pub unclaimed: String,
    /// Rewards ever credited.
    #[schema(value_type = Amount)]
    pub rewards_total: String,
    /// Everything it holds.
    #[schema(value_type = Amount)]
    pub holding: String,
    /// The committed nonce.
    pub nonce: u64,
    /// The nonce its next transaction takes, counting its waiting ones.
    pub next_nonce: u64,
    /// Machines it owns.
    pub machines: u64,
}

/// A governance proposal with its tally (NM12), as `GET /v1/governance` lists it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProposalView {
    /// Its id (what a vote names).
    pub id: u64,
    /// The account that proposed it.
    #[schema(value_type = Hex32)]
    pub proposer: String,
    /// What it does if it passes.
    #[schema(value_type = ProposalActionDoc)]
    pub action: gridmint_core::ProposalAction,
    /// The epoch it was proposed in (voting weights are the balances at that moment).
    pub start_epoch: u64,
    /// Its last voting epoch: it is tallied and, if passed, executed at this epoch's close.
    pub end_epoch: u64,
    /// Weight voting yes.
    #[schema(value_type = Amount)]
    pub yes: String,
    /// Weight voting no.
    #[schema(value_type = Amount)]
    pub no: String,
    /// Yes + no needed (4% of the circulating supply at its start in the presets).
    #[schema(value_type = Amount)]
    pub quorum: String,
    /// How many accounts voted.
    pub voters: u64,
    /// `voting` while open, else how it ended: `executed`, `failed_execution`, `rejected`,
    /// `no_quorum`.
    pub outcome: String,
}

/// `GET /v1/governance`: a page of proposals, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProposalList {
    /// The open epoch.
    pub epoch: u64,
    /// Proposals ever made.
    pub total: u64,
    /// In their voting periods now.
    pub open: u64,
    /// The policy's bound on open proposals (`governance.max_open_proposals`: at most this many
    /// in all, and one per proposer); absent: no bound.
    pub max_open: Option<u32>,
    /// Newest first.
    pub proposals: Vec<ProposalView>,
    /// The `before` of the next page (absent at the end).
    pub next_before: Option<u64>,
}

/// One line of `GET /v1/accounts/{address}/txs`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountTxView {
    /// The transaction id.
    #[schema(value_type = Hex32)]
    pub id: String,
    /// Its block.
    pub height: u64,
    /// Its position in the block.
    pub index: u32,
    /// Its kind (`transfer`, `stake`, …).
    pub kind: String,
    /// `signer`: the account signed it (and paid its fee); `named`: its body names the account
    /// (a recipient, a machine, a validator staked on, a customer…).
    #[schema(pattern = "^(signer|named)$")]
    pub role: String,
    /// 0 when applied, else the error code.
    pub code: u16,
    /// The error's name when it failed.
    pub error: Option<String>,
    /// The amount its body names (moved, bonded, staked…; 0 if none).
    #[schema(value_type = Amount)]
    pub amount: String,
}

/// `GET /v1/accounts/{address}/txs`: a page of an account's transactions, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountTxList {
    /// The account.
    #[schema(value_type = Hex32)]
    pub address: String,
    /// Newest first.
    pub txs: Vec<AccountTxView>,
    /// The `before` of the next page, `HEIGHT.INDEX` (absent at the end).
    pub next_before: Option<String>,
    /// Blocks up to this height are pruned here: their transactions are not listed.
    pub pruned_through: u64,
}

/// A machine as the state sees it (`gridmint_core::connection_reward::MachineView`).
#[derive(Debug, Serialize, ToSchema)]
pub struct MachineDoc {
    /// The machine.
    #[schema(value_type = Hex32)]
    pub machine: String,
    /// Its owner.
    #[schema(value_type = Hex32)]
    pub owner: String,
    /// GPU class.
    #[schema(maximum = 255)]
    pub gpu_class: u8,
    /// Bandwidth.
    pub bandwidth_mbps: u32,
    /// Online slots this epoch.
    #[schema(maximum = 65535)]
    pub online_slots: u16,
    /// Forfeited this epoch's reward.
    pub forfeited: bool,
    /// Its weight.
    pub weight: u64,
    /// Rewards ever credited.
    #[schema(value_type = Amount)]
    pub rewards_total: String,
}

/// `GET /v1/machines/{address}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MachineResponse {
    /// At this height.
    pub height: u64,
    /// The open epoch.
    pub epoch: u64,
    /// The machine.
    #[schema(value_type = MachineDoc)]
    pub machine: gridmint_core::connection_reward::MachineView,
    /// The machine in its checksummed text form.
    #[schema(value_type = Bech32m)]
    pub machine_bech32m: String,
    /// Its owner in its checksummed text form.
    #[schema(value_type = Bech32m)]
    pub owner_bech32m: String,
}

/// A validator.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidatorView {
    /// Its address.
    #[schema(value_type = Hex32)]
    pub address: String,
    /// Its address in its checksummed text form.
    #[schema(value_type = Bech32m)]
    pub address_bech32m: String,
    /// Its operator's account.
    #[schema(value_type = Hex32)]
    pub operator: String,
    /// Its operator's account in its checksummed text form.
    #[schema(value_type = Bech32m)]
    pub operator_bech32m: String,
    /// Stake in force.
    #[schema(value_type = Amount)]
    pub active_stake: String,
    /// Elected a master node.
    pub master_node: bool,
}

/// `GET /v1/validators`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidatorsView {
    /// At this height.
    pub height: u64,
    /// The open epoch.
    pub epoch: u64,
    /// Every validator.
    pub validators: Vec<ValidatorView>,
    /// The elected master nodes.
    #[schema(value_type = Vec<Hex32>)]
    pub master_nodes: Vec<String>,
}

/// A closed epoch's summary (G7 step 5): releases, payouts, burns, supply, the rewards root and
/// the state root (`gridmint_core::EpochSummary`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct EpochSummaryDoc(pub serde_json::Value);

/// A Merkle proof of an account's cumulative rewards (`gridmint_core::RewardProof`, X2).
#[derive(Debug, Serialize, ToSchema)]
pub struct RewardProofDoc {
    /// The account.
    #[schema(value_type = Hex32)]
    pub address: String,
    /// Its cumulative rewards.
    #[schema(value_type = Amount)]
    pub rewards_total: String,
    /// Leaf position.
    pub index: u64,
    /// Number of leaves.
    pub leaf_count: u64,
    /// Sibling hashes from the leaf up.
    #[schema(value_type = Vec<Hex32>)]
    pub siblings: Vec<String>,
}

/// A Merkle proof of an account's record against a state root (`gridmint_core::AccountProof`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountProofDoc {
    /// The account.
    #[schema(value_type = Hex32)]
    pub address: String,
    /// Free to spend.
    #[schema(value_type = Amount)]
    pub spendable: String,
    /// Rewards credited to the account itself, not yet claimed (its machines' are on their records).
    #[schema(value_type = Amount)]
    pub unclaimed: String,
    /// Staked.
    #[schema(value_type = Amount)]
    pub staked: String,
    /// Unbonding.
    #[schema(value_type = Amount)]
    pub unbonding: String,
    /// In job escrow.
    #[schema(value_type = Amount)]
    pub escrowed: String,
    /// Rewards ever credited to the account itself.
    #[schema(value_type = Amount)]
    pub rewards_total: String,
    /// Its committed nonce.
    pub nonce: u64,
    /// Its leaf position (creation order).
    pub index: u64,
    /// Number of accounts.
    pub leaf_count: u64,
    /// Sibling hashes from the leaf up.
    #[schema(value_type = Vec<Hex32>)]
    pub siblings: Vec<String>,
    /// The machines tree's root.
    #[schema(value_type = Hex32)]
    pub machines_root: String,
    /// Number of machines.
    pub machine_count: u64,
    /// The hash of the rest of the state.
    #[schema(value_type = Hex32)]
    pub rest_hash: String,
}

/// `GET /v1/accounts/{address}/proof`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountProofView {
    /// The block the proof is of (the tip).
    pub height: u64,
    /// That block's hash.
    #[schema(value_type = Hex32)]
    pub block_hash: String,
    /// That block's state root: the proof checks against it.
    #[schema(value_type = Hex32)]
    pub state_root: String,
    /// The proof.
    #[schema(value_type = AccountProofDoc)]
    pub proof: gridmint_core::AccountProof,
}

/// `GET /v1/epochs/{epoch}/proof/{address}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProofView {
    /// The epoch.
    pub epoch: u64,
    /// The root the proof checks against.
    #[schema(value_type = Hex32)]
    pub rewards_root: serde_json::Value,
    /// The proof.
    #[schema(value_type = RewardProofDoc)]
    pub proof: gridmint_core::RewardProof,
}

/// A machine's part in an epoch's connection reward (`crate::ledger::ExplainMachine`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainMachineDoc {
    /// The machine.
    #[schema(value_type = Hex32)]
    pub machine: String,
    /// Its owner.
    #[schema(value_type = Hex32)]
    pub owner: String,
    /// GPU class.
    #[schema(maximum = 255)]
    pub gpu_class: u8,
    /// Bandwidth.
    pub bandwidth_mbps: u32,
    /// Online slots in the epoch.
    #[schema(maximum = 65535)]
    pub online_slots: u16,
    /// Forfeited the epoch's reward.
    pub forfeited: bool,
    /// Its weight.
    pub weight: u64,
    /// Rewards credited before the close.
    #[schema(value_type = Amount)]
    pub rewards_total: String,
    /// Qualified: enough slots and no forfeit (NM6, NM9).
    pub qualified: bool,
    /// Everything the close credited it.
    #[schema(value_type = Amount)]
    pub earned: String,
}

/// The connection reward's rule and inputs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionRewardExplain {
    /// The rule, in words.
    pub rule: &'static str,
    /// Slots a machine needed.
    pub min_online_slots: u32,
    /// Sum of the qualifying machines' weights.
    #[schema(value_type = Amount)]
    pub qualifying_weight: String,
    /// The program's line in the epoch summary, if the policy has the program.
    #[schema(value_type = Option<Object>)]
    pub program: serde_json::Value,
}

/// `GET /v1/epochs/{epoch}/explain/{address}` (X3).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainView {
    /// The epoch.
    pub epoch: u64,
    /// The account.
    #[schema(value_type = Hex32)]
    pub account: String,
    /// The account in its checksummed text form.
    #[schema(value_type = Bech32m)]
    pub account_bech32m: String,
    /// Cumulative rewards at the previous close.
    #[schema(value_type = Amount)]
    pub rewards_total_before: String,
    /// Cumulative rewards at this close.
    #[schema(value_type = Amount)]
    pub rewards_total_after: String,
    /// Earned at this close.
    #[schema(value_type = Amount)]
    pub earned: String,
    /// Of which by its machines.
    #[schema(value_type = Amount)]
    pub earned_by_machines: String,
    /// Of which otherwise (staking, programs paid to accounts).
    #[schema(value_type = Amount)]
    pub earned_otherwise: String,
    /// The connection reward's rule and inputs.
    pub connection_reward: ConnectionRewardExplain,
    /// Its machines in the epoch's record.
    #[schema(value_type = Vec<ExplainMachineDoc>)]
    pub machines: Vec<crate::ledger::ExplainMachine>,
    /// The epoch's programs (from the summary).
    #[schema(value_type = Option<Vec<Object>>)]
    pub programs: serde_json::Value,
}

/// A transaction in a block.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockTxView {
    /// Its id.
    #[schema(value_type = Hex32)]
    pub id: String,
    /// The signed transaction.
    #[schema(value_type = SignedTxView)]
    pub tx: crate::SignedTx,
    /// 0 when applied, else the error code of docs/ERRORS.md.
    pub code: u16,
    /// The error's name, when `code` is not 0.
    pub error: Option<String>,
    /// The fee charged.
    #[schema(value_type = Amount)]
    pub fee: String,
}

/// `GET /v1/blocks/{height}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockView {
    /// Its height.
    pub height: u64,
    /// Its hash.
    #[schema(value_type = Hex32)]
    pub hash: String,
    /// Its parent's hash.
    #[schema(value_type = Hex32)]
    pub parent: String,
    /// Its time (Unix seconds).
    pub time: u64,
    /// Its producer.
    #[schema(value_type = Hex32)]
    pub producer: String,
    /// Its producer in its checksummed text form.
    #[schema(value_type = Bech32m)]
    pub producer_bech32m: String,
    /// The state root after it.
    #[schema(value_type = Hex32)]
    pub state_root: String,
    /// Epochs it closed.
    pub closed_epochs: Vec<u64>,
    /// Its transactions with their receipts.
    pub txs: Vec<BlockTxView>,
}

/// `committed`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommittedStatus {
    /// In a committed block.
    Committed,
}

/// `pending`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PendingStatus {
    /// Waiting in the mempool or in the block being sealed.
    Pending,
}

/// `refused`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefusedStatus {
    /// Not admitted.
    Refused,
}

/// A committed transaction's receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    /// Its id.
    #[schema(value_type = Hex32)]
    pub id: String,
    /// `committed`.
    pub status: CommittedStatus,
    /// Its block.
    pub height: u64,
    /// Its place in the block.
    pub index: u32,
    /// 0 when applied, else the error code of docs/ERRORS.md (a failed transaction still pays
    /// its fee and uses its nonce).
    pub code: u16,
    /// The error's name, when `code` is not 0.
    pub error: Option<String>,
    /// The fee charged.
    #[schema(value_type = Amount)]
    pub fee: String,
}

/// A transaction waiting to be committed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pending {
    /// Its id.
    #[schema(value_type = Hex32)]
    pub id: String,
    /// `pending`.
    pub status: PendingStatus,
}

/// A transaction of a batch that was not admitted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Refused {
    /// `refused`.
    pub status: RefusedStatus,
    /// Why: the same code and message a single submission would get.
    pub error: ErrorDetail,
}

/// `dropped`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DroppedStatus {
    /// Admitted, then refused by the envelope checks when its block executed (G10): never stored.
    Dropped,
}

/// Why a transaction was dropped.
#[derive(Debug, Serialize, ToSchema)]
pub struct DroppedError {
    /// The error code of docs/ERRORS.md.
    pub code: u16,
    /// The error's name.
    pub name: String,
    /// For people.
    pub message: String,
}

/// A transaction dropped when its block executed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dropped {
    /// Its id.
    #[schema(value_type = Hex32)]
    pub id: String,
    /// `dropped`.
    pub status: DroppedStatus,
    /// Why.
    pub error: DroppedError,
}

/// `GET /v1/tx/{id}`: committed, pending, or dropped (remembered for the last 100,000).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum TxStatus {
    /// Committed.
    Committed(Receipt),
    /// Pending.
    Pending(Pending),
    /// Dropped.
    Dropped(Dropped),
}

/// One transaction's outcome in a batch.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum TxOutcome {
    /// Committed (now, or before: a retry returns the original receipt).
    Committed(Receipt),
    /// Admitted, waiting.
    Pending(Pending),
    /// Not admitted.
    Refused(Refused),
}

/// `POST /v1/tx/batch`, `POST /v1/heartbeats`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchView {
    /// Committed or pending.
    pub accepted: u64,
    /// Refused.
    pub refused: u64,
    /// Committed.
    pub committed: u64,
    /// Per transaction, in order (empty for a batch another node forwarded, marked with the
    /// `x-gridmint-forwarded` header: that node reads the counts only).
    pub results: Vec<TxOutcome>,
}

// ---- request bodies: mirrors of the core's types, for the document ----

/// A signed transaction as submitted (`crate::SignedTx`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedTxDoc {
    /// The transaction.
    pub tx: TxDoc,
    /// ed25519 over "gridmint/tx/v1" ‖ u16 LE length of the chain id ‖ chain id ‖ the canonical
    /// transaction bytes (docs/ARCHITECTURE.md).
    #[schema(value_type = SignatureInput)]
    pub signature: String,
}

/// A transaction (`gridmint_core::Tx`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TxDoc {
    /// The signer's address (its ed25519 public key).
    #[schema(value_type = Hex32Input)]
    pub signer: String,
    /// The signer's next nonce (0 for a heartbeat).
    pub nonce: u64,
    /// What it does.
    pub body: TxBodyDoc,
}

/// A signed transaction as printed in a block.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedTxView {
    /// The transaction.
    pub tx: TxViewDoc,
    /// The signature.
    #[schema(value_type = Signature)]
    pub signature: String,
}

/// A transaction as printed in a block.
#[derive(Debug, Serialize, ToSchema)]
pub struct TxViewDoc {
    /// The signer.
    #[schema(value_type = Hex32)]
    pub signer: String,
    /// Its nonce.
    pub nonce: u64,
    /// What it does (the same fields as submitted; hex printed in lower case).
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

/// How a job runs (`gridmint_core::JobMode`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobModeDoc {
    /// Synchronous training.
    Sync,
    /// Asynchronous training.
    Async,
    /// Inference.
    Inference,
    /// Machine rental.
    Rental,
}

/// A policy change: a dotted key and a TOML value.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyChangeDoc(#[schema(max_length = 256)] pub String, #[schema(max_length = 256)] pub String);

/// What a proposal does (`gridmint_core::ProposalAction`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProposalActionDoc {
    /// Pay from the treasury.
    TreasurySpend {
        /// Recipient.
        #[schema(value_type = Hex32Input)]
        to: String,
        /// Base units.
        #[schema(value_type = AmountInput)]
        amount: String,
    },
    /// Change policy parameters from the next epoch.
    PolicyChange {
        /// (key, value) pairs, applied in order.
        #[schema(max_items = 32)]
        changes: Vec<PolicyChangeDoc>,
    },
}

/// The transaction kinds (`gridmint_core::TxBody`); each kind's checks are in docs/ERRORS.md.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TxBodyDoc {
    /// Move spendable tokens.
    Transfer {
        /// Recipient.
        #[schema(value_type = Hex32Input)]
        to: String,
        /// Base units.
        #[schema(value_type = AmountInput)]
        amount: String,
    },
    /// Register a machine owned by the signer.
    RegisterMachine {
        /// The machine's address.
        #[schema(value_type = Hex32Input)]
        machine: String,
        /// GPU class.
        #[schema(maximum = 255)]
        gpu_class: u8,
        /// Bandwidth.
        bandwidth_mbps: u32,
        /// Bond in base units.
        #[schema(value_type = AmountInput)]
        bond: String,
    },
    /// A machine's heartbeat for a slot (signed by the machine; nonce 0).
    Heartbeat {
        /// Absolute slot.
        slot: u64,
    },
    /// Escrow a job's budget.
    SubmitJob {
        /// Job id.
        job_id: u64,
        /// Mode.
        mode: JobModeDoc,
        /// Base units per GPU-second.
        #[schema(value_type = AmountInput)]
        price_per_gpu_second: String,
        /// Budgeted GPU-seconds.
        max_gpu_seconds: u64,
    },
    /// Report a machine's work on a job.
    ReportUsage {
        /// The customer.
        #[schema(value_type = Hex32Input)]
        customer: String,
        /// Job id.
        job_id: u64,
        /// The machine.
        #[schema(value_type = Hex32Input)]
        machine: String,
        /// GPU-seconds.
        gpu_seconds: u64,
        /// AI tokens served.
        ai_tokens: u64,
    },
    /// Settle a job.
    SettleJob {
        /// Job id.
        job_id: u64,
    },
    /// Fail a job's machine.
    FailJob {
        /// Job id.
        job_id: u64,
        /// The machine.
        #[schema(value_type = Hex32Input)]
        machine: String,
    },
    /// Become a validator.
    RegisterValidator {
        /// Bond in base units.
        #[schema(value_type = AmountInput)]
        bond: String,
    },
    /// Stake on a validator.
    Stake {
        /// The validator.
        #[schema(value_type = Hex32Input)]
        validator: String,
        /// Base units.
        #[schema(value_type = AmountInput)]
        amount: String,
    },
    /// Unstake.
    Unstake {
        /// The validator.
        #[schema(value_type = Hex32Input)]
        validator: String,
        /// Base units.
        #[schema(value_type = AmountInput)]
        amount: String,
        /// Fast unstake (with its penalty).
        fast: bool,
    },
    /// Claim all unclaimed rewards.
    Claim,
    /// Claim rewards into stake.
    ClaimToStake {
        /// The validator.
        #[schema(value_type = Hex32Input)]
        validator: String,
    },
    /// Propose a treasury spend or a policy change.
    Propose {
        /// What it does.
        action: ProposalActionDoc,
    },
    /// Vote on a proposal.
    Vote {
        /// Proposal id.
        proposal: u64,
        /// Yes or no.
        yes: bool,
    },
    /// Lock tokens for the other chain.
    BridgeOut {
        /// Base units.
        #[schema(value_type = AmountInput)]
        amount: String,
        /// The recipient on the other chain.
        #[schema(value_type = Hex32Input)]
        recipient: String,
    },
    /// A bridge attestation of a deposit on the other chain.
    BridgeAttest {
        /// Deposit id.
        deposit_id: u64,
        /// Recipient.
        #[schema(value_type = Hex32Input)]
        recipient: String,
        /// Base units.
        #[schema(value_type = AmountInput)]
        amount: String,
    },
    /// Attest a provider's liquidity.
    AttestLiquidity {
        /// The provider.
        #[schema(value_type = Hex32Input)]
        provider: String,
        /// Base units.
        #[schema(value_type = AmountInput)]
        amount: String,
    },
    /// A DualProof work receipt.
    SubmitReceipt {
        /// The working machine.
        #[schema(value_type = Hex32Input)]
        machine: String,
        /// Task id.
        #[schema(value_type = Hex32Input)]
        task_id: String,
        /// Model id.
        #[schema(value_type = Hex32Input)]
        model_id: String,
        /// Input hash.
        #[schema(value_type = Hex32Input)]
        input_hash: String,
        /// Output hash.
        #[schema(value_type = Hex32Input)]
        output_hash: String,
        /// GPU-seconds spent.
        gpu_seconds: u64,
    },
    /// Attest a receipt.
    AttestReceipt {
        /// Receipt id.
        #[schema(value_type = Hex32Input)]
        receipt: String,
        /// Valid or invalid.
        valid: bool,
    },
    /// A committee member's signature of an outbound record's mint on the other chain.
    BridgeSign {
        /// The outbound record's id.
        record: u64,
        /// The EIP-712 signature, `r ‖ s ‖ v`.
        #[schema(value_type = Hex65Input)]
        signature: String,
    },
}

/// A heartbeat as submitted to `POST /v1/heartbeats`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedHeartbeatDoc {
    /// The heartbeat.
    pub tx: HeartbeatTxDoc,
    /// As for every transaction.
    #[schema(value_type = SignatureInput)]
    pub signature: String,
}

/// A heartbeat transaction: signed by the machine, nonce 0.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatTxDoc {
    /// The machine.
    #[schema(value_type = Hex32Input)]
    pub signer: String,
    /// Always 0.
    #[schema(minimum = 0, maximum = 0)]
    pub nonce: u64,
    /// The heartbeat.
    pub body: HeartbeatBodyDoc,
}

/// `heartbeat`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HeartbeatKind {
    /// A heartbeat.
    Heartbeat,
}

/// A heartbeat's body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatBodyDoc {
    /// `heartbeat`.
    pub kind: HeartbeatKind,
    /// Absolute slot.
    pub slot: u64,
}

/// The document's frame: the handlers' paths and their types are added by the router.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "gridmint node API",
        version = "1",
        description = "The live ledger of a gridmint network. Amounts are base units as decimal strings. Hex is \
accepted in upper or lower case and printed in lower case. JSON integers are written without a fraction or an exponent (`5`, not `5.0`). Every error, on every \
route and for every request the server cannot parse, is `{\"error\": {\"code\", \"message\"}}` with a stable code: besides each operation's own, \
429 `rate_limited` (too many requests from this client, with Retry-After), 503 `too_many_connections` (a \
connection bound: the total, or per client IP), 400 `malformed_request` (not HTTP/1.1), 414 `uri_too_long`, 431 \
`headers_too_large`. A connection must send a whole request head within the node's header timeout of opening or \
of its previous response, and a body within its body timeout (408 `body_timeout`). Transactions are signed with \
ed25519 over \"gridmint/tx/v1\" || u16 LE length of the chain id || chain id || the canonical transaction bytes \
(docs/ARCHITECTURE.md).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "chain", description = "Status, supply, validators, blocks"),
        (name = "accounts", description = "Accounts and machines"),
        (name = "epochs", description = "Closed epochs: summaries, reward proofs (X2), explanations (X3)"),
        (name = "transactions", description = "Submitting transactions and heartbeats; receipts"),
        (name = "bridge", description = "The bridge to the EVM chain (NM13): escrow, outbound records with the committee's mint signatures, inbound payouts"),
        (name = "meta", description = "This document and the metrics"),
    )
)]
pub struct ApiDoc;

/// The document as served by a node with `config`: every operation also answers 429
/// `rate_limited`, and batches hold 1 to `config.max_batch` items.
pub fn finish(document: utoipa::openapi::OpenApi, config: &crate::node::Config) -> serde_json::Value {
    let mut document = serde_json::to_value(document).unwrap_or_default();
    // utoipa leaves the variants of an internally tagged enum open; the core refuses unknown
    // fields (serde lets the one kind without fields, `claim`, take extras: the document does
    // not promise that)
    for name in ["TxBodyDoc", "ProposalActionDoc"] {
        if let Some(variants) = document["components"]["schemas"][name]["oneOf"].as_array_mut() {
            for variant in variants {
                variant["additionalProperties"] = false.into();
            }
        }
    }
    let error = serde_json::json!({"$ref": "#/components/schemas/ErrorBody"});
    if let Some(paths) = document["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for (_, operation) in item.iter_mut() {
                if let Some(responses) = operation["responses"].as_object_mut() {
                    responses.insert(
                        "429".into(),
                        serde_json::json!({
                            "description": "rate_limited: too many requests from this client (see Retry-After)",
                            "content": {"application/json": {"schema": error}},
                        }),
                    );
                }
                if path == "/v1/tx/batch" || path == "/v1/heartbeats" {
                    let schema = &mut operation["requestBody"]["content"]["application/json"]["schema"];
                    if schema.is_object() {
                        schema["minItems"] = 1.into();
                        schema["maxItems"] = config.max_batch.into();
                    }
                }
            }
        }
    }
    document
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridmint_core::{Address, JobMode, ProposalAction, TxBody};
    use serde_json::{Value, json};

    /// One transaction of every kind. The match is exhaustive: a new kind in the core fails to
    /// compile here until it has a sample (and so a mirror in [`TxBodyDoc`]).
    fn every_kind() -> Vec<TxBody> {
        let a = Address([0xAB; 32]);
        let samples = vec![
            TxBody::Transfer { to: a, amount: u128::MAX },
            TxBody::RegisterMachine { machine: a, gpu_class: 255, bandwidth_mbps: u32::MAX, bond: 1 },
            TxBody::Heartbeat { slot: u64::MAX },
            TxBody::SubmitJob { job_id: 1, mode: JobMode::Inference, price_per_gpu_second: 2, max_gpu_seconds: 3 },
            TxBody::ReportUsage { customer: a, job_id: 1, machine: a, gpu_seconds: 2, ai_tokens: 3 },
            TxBody::SettleJob { job_id: 1 },
            TxBody::FailJob { job_id: 1, machine: a },
            TxBody::RegisterValidator { bond: 1 },
            TxBody::Stake { validator: a, amount: 1 },
            TxBody::Unstake { validator: a, amount: 1, fast: true },
            TxBody::Claim,
            TxBody::ClaimToStake { validator: a },
            TxBody::Propose { action: ProposalAction::TreasurySpend { to: a, amount: 5 } },
            TxBody::Propose {
                action: ProposalAction::PolicyChange { changes: vec![("fees.base".into(), "\"1\"".into())] },
            },
            TxBody::Vote { proposal: 1, yes: false },
            TxBody::BridgeOut { amount: 1, recipient: [1; 32] },
            TxBody::BridgeAttest { deposit_id: 1, recipient: a, amount: 1 },
            TxBody::AttestLiquidity { provider: a, amount: 1 },
            TxBody::SubmitReceipt {
                machine: a,
                task_id: [1; 32],
                model_id: [2; 32],
                input_hash: [3; 32],
                output_hash: [4; 32],
                gpu_seconds: 5,
            },
            TxBody::AttestReceipt { receipt: [9; 32], valid: true },
            TxBody::BridgeSign { record: 3, signature: [0xab; 65] },
        ];
        let mut seen = [false; 20];
        for body in &samples {
            let index = match body {
                TxBody::Transfer { .. } => 0,
                TxBody::RegisterMachine { .. } => 1,
                TxBody::Heartbeat { .. } => 2,
                TxBody::SubmitJob { .. } => 3,
                TxBody::ReportUsage { .. } => 4,
                TxBody::SettleJob { .. } => 5,
                TxBody::FailJob { .. } => 6,
                TxBody::RegisterValidator { .. } => 7,
                TxBody::Stake { .. } => 8,
                TxBody::Unstake { .. } => 9,
                TxBody::Claim => 10,
                TxBody::ClaimToStake { .. } => 11,
                TxBody::Propose { .. } => 12,
                TxBody::Vote { .. } => 13,
                TxBody::BridgeOut { .. } => 14,
                TxBody::BridgeAttest { .. } => 15,
                TxBody::AttestLiquidity { .. } => 16,
                TxBody::SubmitReceipt { .. } => 17,
                TxBody::AttestReceipt { .. } => 18,
                TxBody::BridgeSign { .. } => 19,
            };
            seen[index] = true;
        }
        assert!(seen.iter().all(|s| *s), "a kind has no sample");
        samples
    }

    /// The document's mirrors accept exactly what the core's types print, kind by kind, and the
    /// core parses what the mirrors print; upper-case hex (allowed by the input patterns) parses
    /// in the core too and is printed back in lower case.
    #[test]
    fn the_request_mirrors_match_the_core_types() {
        for body in every_kind() {
            let printed = serde_json::to_value(&body).unwrap();
            let mirror: TxBodyDoc =
                serde_json::from_value(printed.clone()).unwrap_or_else(|e| panic!("the mirror refuses {printed}: {e}"));
            assert_eq!(serde_json::to_value(&mirror).unwrap(), printed);
            let upper = Value::from_str_upper(&printed);
            let parsed: TxBody = serde_json::from_value(upper.clone()).unwrap_or_else(|e| panic!("{upper}: {e}"));
            assert_eq!(parsed, body, "upper-case hex parses to the same transaction");
            // an extra field: both refuse it (serde lets a unit kind such as `claim` take one; the
            // mirror, parsed the same way, agrees)
            if let Some(object) = printed.as_object() {
                let mut extra = object.clone();
                extra.insert("memo".into(), json!("x"));
                let core = serde_json::from_value::<TxBody>(Value::Object(extra.clone())).is_ok();
                let mirror = serde_json::from_value::<TxBodyDoc>(Value::Object(extra)).is_ok();
                assert_eq!(core, mirror, "{printed} with an extra field");
                assert!(!core || body == TxBody::Claim, "the core takes an unknown field in {printed}");
                // and the document says which
                let document = crate::api::openapi_document(&crate::node::Config::default());
                let variant = document["components"]["schemas"]["TxBodyDoc"]["oneOf"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|v| v["properties"]["kind"]["enum"][0] == printed["kind"])
                    .unwrap_or_else(|| panic!("no variant for {printed}"))
                    .clone();
                assert_eq!(variant["additionalProperties"], json!(false), "{variant}");
            }
        }
    }

    trait UpperHex {
        fn from_str_upper(v: &Value) -> Value;
    }
    impl UpperHex for Value {
        /// Every string of 64 hex digits in upper case.
        fn from_str_upper(v: &Value) -> Value {
            match v {
                Value::String(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    Value::String(s.to_ascii_uppercase())
                }
                Value::Array(items) => Value::Array(items.iter().map(Value::from_str_upper).collect()),
                Value::Object(map) => {
                    Value::Object(map.iter().map(|(k, v)| (k.clone(), Value::from_str_upper(v))).collect())
                }
                other => other.clone(),
            }
        }
    }

    /// The property names of a schema in the document, following `$ref`s.
    fn properties(document: &Value, name: &str) -> Vec<String> {
        let schema = &document["components"]["schemas"][name];
        let mut keys: Vec<String> =
            schema["properties"].as_object().unwrap_or_else(|| panic!("{name}: {schema}")).keys().cloned().collect();
        keys.sort();
        keys
    }

    fn keys(value: &Value) -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    /// The response mirrors of core types name the same fields as the core prints.
    #[test]
    fn the_response_mirrors_match_the_core_types() {
        let document = crate::api::openapi_document(&crate::node::Config::default());
        let a = Address([1; 32]);
        let view = gridmint_core::connection_reward::MachineView {
            machine: a,
            owner: a,
            gpu_class: 1,
            bandwidth_mbps: 2,
            online_slots: 3,
            forfeited: false,
            weight: 4,
            rewards_total: 5,
        };
        assert_eq!(keys(&serde_json::to_value(&view).unwrap()), properties(&document, "MachineDoc"));
        let explained = crate::ledger::ExplainMachine { view, qualified: true, earned: 6 };
        assert_eq!(keys(&serde_json::to_value(&explained).unwrap()), properties(&document, "ExplainMachineDoc"));
        let proof = gridmint_core::reward_proof_in(&[(a, 7)], &a).unwrap();
        assert_eq!(keys(&serde_json::to_value(&proof).unwrap()), properties(&document, "RewardProofDoc"));
        let mut state = gridmint_core::State::genesis(gridmint_core::Policy::preset("netmind").unwrap(), 0);
        let _ = state.state_root();
        let first = state.accounts[0].address;
        let account_proof = state.account_proof(&first).unwrap();
        assert_eq!(keys(&serde_json::to_value(&account_proof).unwrap()), properties(&document, "AccountProofDoc"));
        let key = crate::signing::key_from_label("mirror");
        let signer = crate::signing::address_of(&key);
        let tx = crate::SignedTx::sign(gridmint_core::Tx { signer, nonce: 0, body: TxBody::Claim }, &key, "c");
        let printed = serde_json::to_value(&tx).unwrap();
        assert_eq!(keys(&printed), properties(&document, "SignedTxView"));
        assert_eq!(keys(&printed["tx"]), properties(&document, "TxViewDoc"));
        assert_eq!(keys(&printed), properties(&document, "SignedTxDoc"));
        assert_eq!(keys(&printed["tx"]), properties(&document, "TxDoc"));
    }

    /// Every `$ref` in the document points at a schema it has.
    #[test]
    fn every_reference_resolves() {
        let document = crate::api::openapi_document(&crate::node::Config::default());
        fn walk(v: &Value, document: &Value, count: &mut usize) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        let name = target.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{target}"));
                        assert!(document["components"]["schemas"][name].is_object(), "{target} is missing");
                        *count += 1;
                    }
                    map.values().for_each(|v| walk(v, document, count));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, document, count)),
                _ => {}
            }
        }
        let mut count = 0;
        walk(&document, &document, &mut count);
        assert!(count > 50, "{count} references");
    }
}
