//! A bridge committee on loopback, for `gridmint bridge devnet` and the end-to-end tests: the
//! members' keys on both chains, the gridmint policy naming them, the deployment, and one
//! `relayer.toml` per member.

use crate::contracts::{Deployed, connect, deploy};
use crate::relayer::RelayerConfig;
use crate::sign::gridmint_chain_tag;
use alloy::primitives::Address as EvmAddress;
use alloy::signers::local::PrivateKeySigner;
use gridmint_core::{Address, Policy};
use gridmint_node::signing::{address_of, generate_key, save_key};
use std::path::{Path, PathBuf};

/// One committee member's files.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its gridmint address.
    pub address: Address,
    /// Its EVM address.
    pub evm_address: EvmAddress,
    /// `member-N.key` (gridmint, ed25519).
    pub key_file: PathBuf,
    /// `member-N.evm.key` (hex secp256k1).
    pub evm_key_file: PathBuf,
    /// `relayer-N.toml`, once [`write_relayer_configs`] wrote it.
    pub config_file: PathBuf,
}

/// Creates `count` members in `dir`: a new gridmint key each, and the EVM key `evm_keys[i]` (hex,
/// e.g. anvil's funded dev accounts, so that each member can pay gas).
pub fn create_members(dir: &Path, evm_keys: &[String]) -> Result<Vec<Member>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut members = Vec::new();
    for (i, evm_key) in evm_keys.iter().enumerate() {
        let key = generate_key();
        let key_file = dir.join(format!("member-{}.key", i + 1));
        save_key(&key_file, &key).map_err(|e| format!("cannot write {}: {e}", key_file.display()))?;
        let signer: PrivateKeySigner =
            evm_key.trim().trim_start_matches("0x").parse().map_err(|e| format!("EVM key {}: {e}", i + 1))?;
        let evm_key_file = dir.join(format!("member-{}.evm.key", i + 1));
        std::fs::write(&evm_key_file, format!("{}\n", evm_key.trim()))
            .map_err(|e| format!("cannot write {}: {e}", evm_key_file.display()))?;
        members.push(Member {
            address: address_of(&key),
            evm_address: signer.address(),
            key_file,
            evm_key_file,
            config_file: dir.join(format!("relayer-{}.toml", i + 1)),
        });
    }
    Ok(members)
}

/// The smallest deposit the bridge contract should take for `policy`: its `bridge.outbound_min`
/// (the same bound both ways), or 1 base unit when it sets none.
pub fn min_deposit_of(policy: &Policy) -> u128 {
    policy.bridge.as_ref().and_then(|b| b.outbound_min).map_or(1, |min| min.0)
}

/// `policy` with its bridge committee replaced by `members` and `threshold`.
pub fn with_committee(mut policy: Policy, members: &[Member], threshold: u32) -> Result<Policy, String> {
    let bridge = policy.bridge.as_mut().ok_or_else(|| format!("policy `{}` has no bridge", policy.name))?;
    bridge.committee = members.iter().map(|m| m.address).collect();
    bridge.threshold = threshold;
    Ok(policy)
}

/// Deploys the bridge for gridmint chain `chain_id` from `deployer` (hex key) on the EVM node at
/// `rpc`, with the members' EVM addresses (sorted, as the contract wants), `threshold`, and
/// `min_deposit` (base units; the policy's `bridge.outbound_min`, the same bound both ways).
pub async fn deploy_for(
    rpc: &str,
    deployer: &str,
    chain_id: &str,
    members: &[Member],
    threshold: u32,
    min_deposit: u128,
) -> Result<Deployed, String> {
    let signer: PrivateKeySigner =
        deployer.trim().trim_start_matches("0x").parse().map_err(|e| format!("deployer key: {e}"))?;
    let provider = connect(rpc, signer).map_err(|e| e.to_string())?;
    let mut evm_members: Vec<EvmAddress> = members.iter().map(|m| m.evm_address).collect();
    evm_members.sort();
    deploy(&provider, gridmint_chain_tag(chain_id), &evm_members, threshold, "NetMind Token", "NMT", min_deposit)
        .await
        .map_err(|e| e.to_string())
}

/// Settings every member's `relayer.toml` shares.
#[derive(Debug, Clone)]
pub struct RelayerSettings {
    /// The gridmint node's API.
    pub node: String,
    /// Its chain id.
    pub chain_id: String,
    /// The EVM node's JSON-RPC endpoint.
    pub rpc: String,
    /// The EVM chain id.
    pub evm_chain_id: u64,
    /// The bridge contract.
    pub bridge: EvmAddress,
    /// Confirmations a deposit needs.
    pub confirmations: u64,
    /// The pass interval.
    pub poll_interval_ms: u64,
}

/// Writes `relayer-N.toml` for each member (store `relayer-N/` beside it) and checks that each
/// parses.
pub fn write_relayer_configs(members: &[Member], settings: &RelayerSettings) -> Result<(), String> {
    for (i, member) in members.iter().enumerate() {
        let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let text = format!(
            "# relayer of committee member {n} (written by gridmint bridge devnet)\n\
             store = \"relayer-{n}\"\n\
             poll_interval_ms = {poll}\n\n\
             [gridmint]\n\
             node = \"{node}\"\n\
             chain_id = \"{chain}\"\n\
             key = \"{key}\"\n\n\
             [evm]\n\
             rpc = \"{rpc}\"\n\
             chain_id = {evm_chain}\n\
             bridge = \"{bridge}\"\n\
             key = \"{evm_key}\"\n\
             confirmations = {confirmations}\n",
            n = i + 1,
            poll = settings.poll_interval_ms,
            node = settings.node,
            chain = settings.chain_id,
            key = name(&member.key_file),
            rpc = settings.rpc,
            evm_chain = settings.evm_chain_id,
            bridge = settings.bridge,
            evm_key = name(&member.evm_key_file),
            confirmations = settings.confirmations,
        );
        RelayerConfig::parse(&text).map_err(|e| e.to_string())?;
        std::fs::write(&member.config_file, text)
            .map_err(|e| format!("cannot write {}: {e}", member.config_file.display()))?;
    }
    Ok(())
}
