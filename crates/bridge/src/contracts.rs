//! Bindings to the bridge contracts (hand-written `sol!` interfaces that must match
//! `contracts/*.sol`: a wrong selector or type reverts, so the anvil tests check them) and their
//! deployment from the committed artifacts.
//!
//! One `sol!` module for the whole crate: each expansion is a proc-macro cost at build time.

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::SolValue;

sol! {
    /// The message committee members sign to mint gridmint outbound record `outboundId` (its
    /// recipient, left-padded to 32 bytes, and its amount) on the bridge of gridmint chain
    /// `gridmintChain`.
    #[derive(Debug, PartialEq, Eq)]
    struct Mint {
        bytes32 gridmintChain;
        uint64 outboundId;
        bytes32 recipient;
        uint256 amount;
    }

    /// The message committee members sign to replace the committee.
    #[derive(Debug, PartialEq, Eq)]
    struct CommitteeUpdate {
        address[] members;
        uint32 threshold;
        uint64 nonce;
    }

    /// The message committee members sign to unpause the bridge.
    #[derive(Debug, PartialEq, Eq)]
    struct Unpause {
        uint64 nonce;
    }

    /// The bridged ERC-20 (contracts/GridToken.sol).
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    interface IGridToken {
        error NotBridge();
        error InsufficientBalance(address from, uint256 balance, uint256 needed);
        error InsufficientAllowance(address owner, address spender, uint256 allowed, uint256 needed);
        error ZeroAddress();

        event Transfer(address indexed from, address indexed to, uint256 value);
        event Approval(address indexed owner, address indexed spender, uint256 value);

        function bridge() external view returns (address);
        function decimals() external view returns (uint8);
        function name() external view returns (string memory);
        function symbol() external view returns (string memory);
        function totalSupply() external view returns (uint256);
        function balanceOf(address account) external view returns (uint256);
        function allowance(address owner, address spender) external view returns (uint256);
        function transfer(address to, uint256 value) external returns (bool);
        function approve(address spender, uint256 value) external returns (bool);
        function transferFrom(address from, address to, uint256 value) external returns (bool);
        function mint(address to, uint256 value) external;
        function burn(address from, uint256 value) external;
    }

    /// The bridge (contracts/GridmintBridge.sol).
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    interface IGridmintBridge {
        struct Signature {
            uint8 v;
            bytes32 r;
            bytes32 s;
        }

        error Paused();
        error NotPaused();
        error ZeroAmount();
        error BelowMinimumDeposit(uint256 amount, uint256 minimum);
        error AmountTooLarge(uint256 amount, uint256 max);
        error AlreadyMinted(uint64 outboundId);
        error RecipientNotEvmAddress(bytes32 recipient);
        error InvalidGridmintRecipient(bytes32 recipient);
        error InvalidSignatureV(uint256 index, uint8 v);
        error MalleableSignature(uint256 index);
        error InvalidSignature(uint256 index);
        error SignersNotAscending(uint256 index, address signer);
        error NotCommitteeMember(address account);
        error NotEnoughSignatures(uint256 valid, uint256 threshold);
        error StaleNonce(uint64 given, uint64 expected);
        error InvalidThreshold(uint32 threshold, uint256 members);
        error MembersNotAscending(uint256 index);
        error TooManyMembers(uint256 count, uint256 max);

        event Minted(uint64 indexed outboundId, address indexed recipient, uint256 amount);
        event BridgeOut(uint64 indexed depositId, address indexed from, bytes32 gridmintRecipient, uint256 amount);
        event CommitteeChanged(uint64 indexed nonce, address[] members, uint32 threshold);
        event PausedBy(address indexed member);
        event Unpaused(uint64 indexed nonce);

        function MAX_AMOUNT() external view returns (uint256);
        function minDeposit() external view returns (uint256);
        function MAX_MEMBERS() external view returns (uint256);
        function MINT_TYPEHASH() external view returns (bytes32);
        function COMMITTEE_UPDATE_TYPEHASH() external view returns (bytes32);
        function UNPAUSE_TYPEHASH() external view returns (bytes32);
        function token() external view returns (address);
        function gridmintChain() external view returns (bytes32);
        function isMember(address account) external view returns (bool);
        function threshold() external view returns (uint32);
        function nonce() external view returns (uint64);
        function paused() external view returns (bool);
        function nextDepositId() external view returns (uint64);
        function minted(uint64 outboundId) external view returns (bool);
        function committee() external view returns (address[] memory);
        function domainSeparator() external view returns (bytes32);
        function hashMint(uint64 outboundId, bytes32 recipient, uint256 amount) external view returns (bytes32);
        function hashCommitteeUpdate(address[] calldata members, uint32 threshold, uint64 nonce) external view returns (bytes32);
        function hashUnpause(uint64 nonce) external view returns (bytes32);

        function mint(uint64 outboundId, bytes32 recipient, uint256 amount, Signature[] calldata signatures) external;
        function bridgeOut(bytes32 gridmintRecipient, uint256 amount) external returns (uint64 depositId);
        function updateCommittee(address[] calldata members, uint32 threshold, uint64 nonce, Signature[] calldata signatures) external;
        function pause() external;
        function unpause(uint64 nonce, Signature[] calldata signatures) external;
    }
}

/// The committed artifact of `GridmintBridge` (its constructor deploys the token).
const BRIDGE_ARTIFACT: &str = include_str!("../../../contracts/out/GridmintBridge.json");
/// The committed artifact of `GridToken` (for the ABI check; the bridge's bytecode embeds it).
#[cfg(test)]
const TOKEN_ARTIFACT: &str = include_str!("../../../contracts/out/GridToken.json");

/// Why a deployment failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The committed artifact is not `{abi, bytecode, deployedBytecode}` with hex bytecode.
    #[error("contracts/out/GridmintBridge.json is not a valid artifact: {0}")]
    Artifact(String),
    /// The node refused or failed the deployment.
    #[error("deploying the bridge failed: {0}")]
    Rpc(String),
    /// The receipt has no contract address, or the transaction reverted.
    #[error("the bridge deployment reverted (transaction {0})")]
    Reverted(B256),
}

/// The addresses of a deployed bridge and its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployed {
    /// `GridmintBridge`.
    pub bridge: Address,
    /// The `GridToken` its constructor deployed.
    pub token: Address,
}

/// The bridge's creation bytecode, from the committed artifact.
pub fn bridge_bytecode() -> Result<Vec<u8>, DeployError> {
    let artifact: serde_json::Value =
        serde_json::from_str(BRIDGE_ARTIFACT).map_err(|e| DeployError::Artifact(e.to_string()))?;
    let code = artifact["bytecode"].as_str().ok_or_else(|| DeployError::Artifact("no bytecode".into()))?;
    let code = code.strip_prefix("0x").unwrap_or(code);
    hex::decode(code).map_err(|e| DeployError::Artifact(format!("bytecode: {e}")))
}

/// Deploys `GridmintBridge` (and so its token) from the provider's wallet: for the gridmint chain
/// `gridmint_chain` ([`crate::gridmint_chain_tag`]), with committee `members` (strictly
/// ascending) and `threshold`; `min_deposit` is the smallest `bridgeOut` it takes (base units).
pub async fn deploy<P: Provider>(
    provider: &P,
    gridmint_chain: B256,
    members: &[Address],
    threshold: u32,
    token_name: &str,
    token_symbol: &str,
    min_deposit: u128,
) -> Result<Deployed, DeployError> {
    let mut code = bridge_bytecode()?;
    let arguments = (
        gridmint_chain,
        members.to_vec(),
        threshold,
        token_name.to_string(),
        token_symbol.to_string(),
        alloy::primitives::U256::from(min_deposit),
    );
    code.extend_from_slice(&arguments.abi_encode_params());
    let request = TransactionRequest::default().with_deploy_code(Bytes::from(code));
    let pending = provider.send_transaction(request).await.map_err(|e| DeployError::Rpc(e.to_string()))?;
    let receipt = pending.get_receipt().await.map_err(|e| DeployError::Rpc(e.to_string()))?;
    let hash = receipt.transaction_hash;
    let bridge = match receipt.contract_address {
        Some(address) if receipt.status() => address,
        _ => return Err(DeployError::Reverted(hash)),
    };
    let token =
        IGridmintBridge::new(bridge, provider).token().call().await.map_err(|e| DeployError::Rpc(e.to_string()))?;
    Ok(Deployed { bridge, token })
}

/// A provider that signs with `signer` and sends to the JSON-RPC endpoint `url` (http).
///
/// Nonces are read from the node for every transaction (alloy's simple nonce management), not
/// cached: the default cache counts a nonce as used as soon as it fills a transaction, even one
/// whose gas estimation then fails (every refused mint does), and the next transaction would
/// wait in the node's pool for ever behind the gap.
pub fn connect(url: &str, signer: PrivateKeySigner) -> Result<DynProvider, DeployError> {
    let url = url.parse().map_err(|e| DeployError::Rpc(format!("bad endpoint {url:?}: {e}")))?;
    Ok(ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(signer)
        .connect_http(url)
        .erased())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::json_abi::JsonAbi;

    use std::collections::BTreeSet;

    fn artifact_abi(artifact: &str) -> JsonAbi {
        let value: serde_json::Value = serde_json::from_str(artifact).unwrap();
        serde_json::from_value(value["abi"].clone()).unwrap()
    }

    /// Functions, errors and events (as hex selectors) of a JSON ABI.
    fn selectors_of(abi: &JsonAbi) -> [BTreeSet<String>; 3] {
        [
            abi.functions().map(|f| hex::encode(f.selector())).collect(),
            abi.errors().map(|e| hex::encode(e.selector())).collect(),
            abi.events().map(|e| hex::encode(e.selector())).collect(),
        ]
    }

    fn hexes<const N: usize>(selectors: &[[u8; N]]) -> BTreeSet<String> {
        selectors.iter().map(hex::encode).collect()
    }

    #[test]
    fn the_sol_interfaces_match_the_compiled_contracts() {
        // goal: the hand-written bindings declare exactly the functions, errors and events the
        // compiled contracts have (a drifted event would silently match no log); method: compare
        // their selectors with the committed artifacts' ABIs
        let bridge = selectors_of(&artifact_abi(BRIDGE_ARTIFACT));
        assert_eq!(bridge[0], hexes(IGridmintBridge::IGridmintBridgeCalls::SELECTORS), "functions");
        assert_eq!(bridge[1], hexes(IGridmintBridge::IGridmintBridgeErrors::SELECTORS), "errors");
        assert_eq!(bridge[2], hexes(IGridmintBridge::IGridmintBridgeEvents::SELECTORS), "events");
        let token = selectors_of(&artifact_abi(TOKEN_ARTIFACT));
        assert_eq!(token[0], hexes(IGridToken::IGridTokenCalls::SELECTORS), "token functions");
        assert_eq!(token[1], hexes(IGridToken::IGridTokenErrors::SELECTORS), "token errors");
        assert_eq!(token[2], hexes(IGridToken::IGridTokenEvents::SELECTORS), "token events");
        // and the bytecode is there
        assert!(bridge_bytecode().unwrap().len() > 1_000);
    }

    #[test]
    fn the_typed_messages_have_the_contracts_type_strings() {
        // goal: Rust signs the very types the contract hashes; method: compare alloy's EIP-712
        // type strings with the ones written in contracts/GridmintBridge.sol
        use alloy::sol_types::SolStruct;
        let source = include_str!("../../../contracts/GridmintBridge.sol");
        for type_string in
            [Mint::eip712_encode_type(), CommitteeUpdate::eip712_encode_type(), Unpause::eip712_encode_type()]
        {
            assert!(source.contains(&format!("keccak256(\"{type_string}\")")), "{type_string} is not in the contract");
        }
    }
}
