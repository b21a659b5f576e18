//! The relayer's configuration and the pure decisions of its loop (issue 14, started): one
//! relayer per committee member, `gridmint bridge relay --config relayer.toml` (not wired into
//! the CLI yet; see docs/design/relayer.md for the loop and what is left open).
//!
//! What is here has no I/O, so it is tested exhaustively: which EVM blocks are final enough to
//! act on ([`confirmed_range`]), and how a gridmint outbound record becomes the `Mint` the
//! committee signs, or why it never can ([`mint_for_record`]).

use crate::contracts::Mint;
use crate::sign::evm_recipient;
use alloy::primitives::{Address, B256, U256};
use serde::Deserialize;
use std::ops::RangeInclusive;
use std::path::PathBuf;

/// Most blocks one `eth_getLogs` asks for (public endpoints cap ranges; anvil does not).
pub const DEFAULT_MAX_BLOCK_SPAN: u64 = 2_000;

/// `relayer.toml`.
///
/// ```toml
/// store = "relayer-data"          # the relayer's own embedded store (cursors, pending work)
/// poll_interval_ms = 1000
///
/// [gridmint]
/// node = "http://127.0.0.1:8645"  # a gridmint node's API
/// chain_id = "netmind-1a2b3c4d"
/// key = "member-key.json"         # the member's gridmint (ed25519) key file
///
/// [evm]
/// rpc = "http://127.0.0.1:8545"
/// chain_id = 31337                # checked against eth_chainId at start
/// bridge = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
/// key = "member-evm.key"          # the member's EVM (secp256k1) key, hex
/// confirmations = 12              # a deposit counts once its block has this many
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayerConfig {
    /// The relayer's store directory.
    pub store: PathBuf,
    /// How often both chains are polled.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// The gridmint side.
    pub gridmint: GridmintSide,
    /// The EVM side.
    pub evm: EvmSide,
}

/// Where and as whom the relayer works on gridmint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridmintSide {
    /// A node's API, `http://host:port`.
    pub node: String,
    /// The chain id the node must report (and the bridge was deployed for).
    pub chain_id: String,
    /// The member's gridmint key file.
    pub key: PathBuf,
}

/// Where and as whom the relayer works on the EVM chain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvmSide {
    /// The JSON-RPC endpoint, `http://host:port`.
    pub rpc: String,
    /// The EVM chain id `eth_chainId` must report.
    pub chain_id: u64,
    /// The `GridmintBridge` contract.
    pub bridge: Address,
    /// The member's EVM key file (hex).
    pub key: PathBuf,
    /// Confirmations a deposit's block needs (the block itself counts as one).
    pub confirmations: u64,
    /// Most blocks per log query.
    #[serde(default = "default_max_block_span")]
    pub max_block_span: u64,
    /// The first block to scan for deposits (the bridge's deployment block; default 0).
    #[serde(default)]
    pub start_block: u64,
}

fn default_poll_interval_ms() -> u64 {
    1_000
}

fn default_max_block_span() -> u64 {
    DEFAULT_MAX_BLOCK_SPAN
}

/// Why a relayer configuration is refused. Each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not TOML, an unknown field, or a missing one.
    #[error("relayer.toml: {0}")]
    Syntax(String),
    /// A field with a value the relayer cannot work with.
    #[error("relayer.toml: `{field}` {problem}")]
    Invalid {
        /// The field, dotted (`evm.confirmations`).
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

impl RelayerConfig {
    /// Parses and checks `relayer.toml`.
    pub fn parse(text: &str) -> Result<RelayerConfig, ConfigError> {
        let config: RelayerConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, problem| Err(ConfigError::Invalid { field, problem });
        if !is_http_url(&self.gridmint.node) {
            return invalid("gridmint.node", "must be an http:// or https:// URL");
        }
        if self.gridmint.chain_id.trim().is_empty() {
            return invalid("gridmint.chain_id", "cannot be empty");
        }
        if !is_http_url(&self.evm.rpc) {
            return invalid("evm.rpc", "must be an http:// or https:// URL");
        }
        if self.evm.chain_id == 0 {
            return invalid("evm.chain_id", "cannot be 0");
        }
        if self.evm.bridge == Address::ZERO {
            return invalid("evm.bridge", "cannot be the zero address");
        }
        // 0 would act on a block that is not mined yet; 1 on the head, which a reorg may drop
        if self.evm.confirmations == 0 {
            return invalid("evm.confirmations", "must be at least 1 (a block counts itself)");
        }
        if self.evm.max_block_span == 0 {
            return invalid("evm.max_block_span", "must be at least 1");
        }
        if !(100..=600_000).contains(&self.poll_interval_ms) {
            return invalid("poll_interval_ms", "must be between 100 and 600000");
        }
        Ok(())
    }
}

fn is_http_url(text: &str) -> bool {
    let rest = text.strip_prefix("http://").or_else(|| text.strip_prefix("https://"));
    rest.is_some_and(|host| !host.is_empty() && !host.starts_with('/'))
}

/// The next EVM blocks whose `BridgeOut` events are final enough to attest: from just past
/// `scanned_up_to` (the last block already handled; `None` before the first scan, which starts
/// at `start`) to the newest block with `confirmations` confirmations at chain head `head`, at
/// most `max_span` blocks. `None` when no new block is final yet.
///
/// Guarantees (tested exhaustively on small chains): every block in the range has at least
/// `confirmations` confirmations; successive ranges (each starting past the previous end) cover
/// every final block once, in order, skipping none.
pub fn confirmed_range(
    start: u64,
    scanned_up_to: Option<u64>,
    head: u64,
    confirmations: u64,
    max_span: u64,
) -> Option<RangeInclusive<u64>> {
    let from = match scanned_up_to {
        Some(block) => block.checked_add(1)?.max(start),
        None => start,
    };
    // a block b has head - b + 1 confirmations: final when b <= head - (confirmations - 1)
    let last_final = head.checked_sub(confirmations.max(1) - 1)?;
    if from > last_final || max_span == 0 {
        return None;
    }
    let to = last_final.min(from.saturating_add(max_span - 1));
    Some(from..=to)
}

/// Why an outbound record can never be minted on the EVM chain; the relayer reports it and
/// moves on (retrying cannot help: the contract would refuse it for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unmintable {
    /// The recipient is not a left-padded EVM address.
    #[error("outbound record {0}: its recipient is not an EVM address (12 zero bytes, then 20 not all zero)")]
    NotEvmRecipient(u64),
    /// An amount of 0 (gridmint does not create such records).
    #[error("outbound record {0}: amount 0")]
    ZeroAmount(u64),
}

/// The `Mint` the committee signs for gridmint outbound record `outbound_id` (its recipient's 32
/// bytes and amount in base units) of gridmint chain `gridmint_chain`.
pub fn mint_for_record(
    gridmint_chain: B256,
    outbound_id: u64,
    recipient: [u8; 32],
    amount: u128,
) -> Result<Mint, Unmintable> {
    if evm_recipient(recipient).is_none() {
        return Err(Unmintable::NotEvmRecipient(outbound_id));
    }
    if amount == 0 {
        return Err(Unmintable::ZeroAmount(outbound_id));
    }
    Ok(Mint {
        gridmintChain: gridmint_chain,
        outboundId: outbound_id,
        recipient: B256::from(recipient),
        amount: U256::from(amount),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
store = "relayer-data"

[gridmint]
node = "http://127.0.0.1:8645"
chain_id = "netmind-1a2b3c4d"
key = "member-key.json"

[evm]
rpc = "http://127.0.0.1:8545"
chain_id = 31337
bridge = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
key = "member-evm.key"
confirmations = 12
"#;

    #[test]
    fn the_documented_config_parses_and_bad_values_are_named() {
        // goal: the example in the docs is valid, and each refusal names its field; method:
        // parse it, then break one field at a time
        let config = RelayerConfig::parse(EXAMPLE).unwrap();
        assert_eq!((config.poll_interval_ms, config.evm.max_block_span), (1_000, DEFAULT_MAX_BLOCK_SPAN));
        assert_eq!(config.evm.confirmations, 12);
        let broken = |from: &str, to: &str| RelayerConfig::parse(&EXAMPLE.replace(from, to)).unwrap_err();
        let field = |e: ConfigError| match e {
            ConfigError::Invalid { field, .. } => field,
            ConfigError::Syntax(s) => panic!("expected a field error, got {s}"),
        };
        assert_eq!(field(broken("confirmations = 12", "confirmations = 0")), "evm.confirmations");
        assert_eq!(field(broken("chain_id = 31337", "chain_id = 0")), "evm.chain_id");
        assert_eq!(
            field(broken("0x5FbDB2315678afecb367f032d93F642f64180aa3", "0x0000000000000000000000000000000000000000")),
            "evm.bridge"
        );
        assert_eq!(field(broken("\"http://127.0.0.1:8545\"", "\"127.0.0.1:8545\"")), "evm.rpc");
        assert_eq!(field(broken("\"http://127.0.0.1:8645\"", "\"ftp://x\"")), "gridmint.node");
        assert_eq!(field(broken("\"netmind-1a2b3c4d\"", "\" \"")), "gridmint.chain_id");
        assert_eq!(
            field(broken("store = \"relayer-data\"", "store = \"d\"\npoll_interval_ms = 5")),
            "poll_interval_ms"
        );
        assert!(matches!(broken("confirmations = 12", "confirmations = 12\nconfirmation = 3"), ConfigError::Syntax(_)));
        assert!(matches!(broken("key = \"member-evm.key\"", ""), ConfigError::Syntax(_)));
    }

    #[test]
    fn confirmed_ranges_cover_every_final_block_once_and_nothing_else() {
        // goal: the EVM cursor never acts on a block with too few confirmations and never skips
        // or repeats one; method: every small chain, scanning as the head grows one block at a
        // time, and also jumping straight to the head
        for confirmations in 1..6 {
            for max_span in 1..5 {
                for start in 0..4 {
                    let mut scanned = None;
                    let mut seen = Vec::new();
                    for head in 0..40u64 {
                        while let Some(range) = confirmed_range(start, scanned, head, confirmations, max_span) {
                            assert!(range.end() - range.start() < max_span);
                            for block in range.clone() {
                                assert!(head - block + 1 >= confirmations, "block {block} at head {head}");
                            }
                            assert_eq!(*range.start(), scanned.map_or(start, |s| s + 1));
                            seen.extend(range.clone());
                            scanned = Some(*range.end());
                        }
                    }
                    let expected: Vec<u64> =
                        (start..=(40 - confirmations).max(start)).filter(|&b| b + confirmations <= 40).collect();
                    assert_eq!(seen, expected, "confirmations {confirmations}, span {max_span}, start {start}");
                }
            }
        }
        assert_eq!(confirmed_range(0, Some(u64::MAX), u64::MAX - 1, 1, 10), None);
        assert_eq!(confirmed_range(0, None, 0, 2, 10), None, "the genesis alone has 1 confirmation");
        assert_eq!(confirmed_range(0, Some(5), u64::MAX, 1, 10), Some(6..=15), "no overflow at the top");
    }

    #[test]
    fn an_outbound_record_becomes_the_signed_mint_or_is_reported() {
        // goal: a record maps to exactly its own Mint, and records the contract would refuse for
        // ever are reported instead of retried; method: one good record, two bad ones
        let chain = B256::repeat_byte(7);
        let mut recipient = [0u8; 32];
        recipient[31] = 0xaa;
        let mint = mint_for_record(chain, 9, recipient, 5).unwrap();
        assert_eq!(
            (mint.gridmintChain, mint.outboundId, mint.recipient.0, mint.amount),
            (chain, 9, recipient, U256::from(5))
        );
        let mut high = recipient;
        high[0] = 1;
        assert_eq!(mint_for_record(chain, 9, high, 5), Err(Unmintable::NotEvmRecipient(9)));
        assert_eq!(mint_for_record(chain, 9, recipient, 0), Err(Unmintable::ZeroAmount(9)));
        assert_eq!(mint_for_record(chain, 9, recipient, u128::MAX).unwrap().amount, U256::from(u128::MAX));
    }
}
