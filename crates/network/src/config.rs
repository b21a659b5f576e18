//! A replicated node's configuration file, and the layout `gridmint testnet` writes.
//!
//! ```toml
//! moniker = "node0"
//! genesis = "../genesis.json"   # the chain's genesis (paths are relative to this file)
//! data = "data"                 # the node's data dir (created from the genesis on first start)
//! key = "node-key.json"         # its ed25519 key: a validator's if the genesis names it
//! api = "127.0.0.1:26600"       # the HTTP API
//! p2p = "127.0.0.1:26601"       # consensus (TCP)
//! peers = ["127.0.0.1:26603"]   # other nodes' p2p addresses, kept connected
//! peer_apis = ["http://127.0.0.1:26602"]  # where admitted transactions are forwarded
//! max_clock_drift_secs = 2      # a proposal's time at most this far ahead of this node's clock
//! block_time_ms = 500           # the least time a height takes (100 to 60000)
//! ```

use gridmint_node::node::{DEV_KEY_FILE, DEV_PREFUND_TOKENS, chain_id_for, now_seconds, with_allocations};
use gridmint_node::signing::{address_of, generate_key, save_key};
use gridmint_node::{Genesis, GenesisValidator};
use gridmint_policy::{GenesisAllocation, Tokens};
use serde::{Deserialize, Serialize};
use std::net::{SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

/// The genesis file's name in a testnet's directory.
pub const GENESIS_FILE: &str = "genesis.json";
/// A testnet validator's self-bond at genesis, in whole tokens, when the policy's
/// `validator_bond_min` is lower (NM10: the genesis validators are the epoch-1 master nodes).
pub const TESTNET_BOND_TOKENS: u128 = 1_000_000;
/// What a testnet validator holds spendable at genesis beside its bond (its fees), whole tokens.
pub const TESTNET_SPENDABLE_TOKENS: u128 = 1_000;

/// A node's config file's name in its directory.
pub const CONFIG_FILE: &str = "config.toml";
/// A node's key file's name in its directory.
pub const KEY_FILE: &str = "node-key.json";

/// A node's configuration file (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// A name for logs and the network identity.
    pub moniker: String,
    /// The genesis file.
    pub genesis: PathBuf,
    /// The data dir.
    pub data: PathBuf,
    /// This node's ed25519 key file.
    pub key: PathBuf,
    /// The HTTP API's listen address.
    pub api: SocketAddr,
    /// The consensus listen address (TCP, IPv4).
    pub p2p: SocketAddrV4,
    /// Other nodes' consensus addresses, kept connected.
    #[serde(default)]
    pub peers: Vec<SocketAddrV4>,
    /// Other nodes' APIs (`http://host:port`), where admitted transactions are forwarded.
    #[serde(default)]
    pub peer_apis: Vec<String>,
    /// A proposal's time may be at most this many seconds ahead of this node's clock.
    #[serde(default = "default_drift")]
    pub max_clock_drift_secs: u64,
    /// The least time a height takes (ms).
    #[serde(default = "default_block_time")]
    pub block_time_ms: u64,
    /// Keep every block (else pruned, as a single node).
    #[serde(default)]
    pub archive: bool,
    /// A pruned node keeps the blocks of this many closed epochs (and of the open one).
    #[serde(default = "default_keep_epochs")]
    pub keep_epochs: u64,
}

fn default_keep_epochs() -> u64 {
    2
}

fn default_drift() -> u64 {
    2
}

fn default_block_time() -> u64 {
    DEFAULT_BLOCK_TIME_MS
}

/// The least time a height takes unless the config says otherwise (ms).
pub const DEFAULT_BLOCK_TIME_MS: u64 = 500;
/// The shortest `block_time_ms` a config may ask for.
pub const MIN_BLOCK_TIME_MS: u64 = 100;
/// The longest `block_time_ms` a config may ask for.
pub const MAX_BLOCK_TIME_MS: u64 = 60_000;

impl NodeFile {
    /// Reads `path`, with the paths in it made relative to its directory.
    pub fn load(path: &Path) -> Result<NodeFile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut file: NodeFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut file.genesis, &mut file.data, &mut file.key] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        if file.moniker.is_empty() || file.moniker.len() > 64 {
            return Err(format!("{}: moniker must be 1 to 64 characters", path.display()));
        }
        // block times are milliseconds and strictly increase; below 100 ms a height would be
        // mostly the engine's own round trips
        if !(MIN_BLOCK_TIME_MS..=MAX_BLOCK_TIME_MS).contains(&file.block_time_ms) {
            return Err(format!(
                "{}: block_time_ms must be {MIN_BLOCK_TIME_MS} to {MAX_BLOCK_TIME_MS}",
                path.display()
            ));
        }
        for api in &file.peer_apis {
            if !api.starts_with("http://") {
                return Err(format!("{}: peer API `{api}` is not an http:// URL", path.display()));
            }
        }
        Ok(file)
    }

    /// The genesis the file names.
    pub fn read_genesis(&self) -> Result<Genesis, String> {
        read_genesis(&self.genesis)
    }
}

/// Reads a genesis file.
pub fn read_genesis(path: &Path) -> Result<Genesis, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the genesis {}: {e}", path.display()))?;
    let genesis: Genesis =
        serde_json::from_slice(&bytes).map_err(|e| format!("the genesis {} is invalid: {e}", path.display()))?;
    if genesis.validators.is_empty() {
        return Err(format!("the genesis {} names no validators (a single node's chain)", path.display()));
    }
    // an unbonded genesis validator is in no election: at the first close, whoever registers
    // would become the whole set
    if let Some(v) = genesis.validators.iter().find(|v| v.bond.is_none()) {
        return Err(format!(
            "the genesis {}: validator {} has no bond (every validator of a replicated chain is bonded at genesis)",
            path.display(),
            v.address
        ));
    }
    genesis.parse_policy().map_err(|e| format!("the genesis {}: {e}", path.display()))?;
    Ok(genesis)
}

/// What `gridmint testnet` writes.
#[derive(Debug, Clone)]
pub struct TestnetSpec {
    /// Validators (equal voting power).
    pub validators: usize,
    /// Full nodes that follow without voting.
    pub followers: usize,
    /// The policy (with shortened epochs if asked).
    pub policy: gridmint_core::Policy,
    /// The first port: node `i`'s API is `base_port + 2i`, its p2p `base_port + 2i + 1`.
    pub base_port: u16,
    /// Every node keeps every block (else each is pruned as a single node is).
    pub archive: bool,
    /// A pruned node's window in closed epochs (`None`: 2, a single node's default).
    pub keep_epochs: Option<u64>,
    /// The least time a height takes (ms; every node's `block_time_ms`).
    pub block_time_ms: u64,
}

/// A node written by [`write_testnet`].
#[derive(Debug, Clone)]
pub struct TestnetNode {
    /// Its config file.
    pub config: PathBuf,
    /// Its settings.
    pub file: NodeFile,
    /// Whether it is a validator.
    pub validator: bool,
}

/// Writes a testnet into `out` (which must not exist or be empty): the genesis with a prefunded
/// dev account (`dev-key.json`) and its validators bonded ([`TESTNET_BOND_TOKENS`] or the policy's
/// minimum, whichever is more), and per node `nodeI/config.toml` and `nodeI/node-key.json`,
/// every node a persistent peer of every other, on 127.0.0.1.
pub fn write_testnet(out: &Path, spec: &TestnetSpec) -> Result<Vec<TestnetNode>, String> {
    if spec.validators == 0 || spec.validators > 100 {
        return Err("--validators must be 1 to 100".into());
    }
    if spec.followers > 100 {
        return Err("--followers must be at most 100".into());
    }
    if !(MIN_BLOCK_TIME_MS..=MAX_BLOCK_TIME_MS).contains(&spec.block_time_ms) {
        return Err(format!("--block-time-ms must be {MIN_BLOCK_TIME_MS} to {MAX_BLOCK_TIME_MS}"));
    }
    let count = spec.validators + spec.followers;
    let last_port = u32::from(spec.base_port) + 2 * count as u32 - 1;
    if spec.base_port == 0 || last_port > u32::from(u16::MAX) {
        return Err(format!("ports {}..={last_port} do not fit: choose a lower --base-port", spec.base_port));
    }
    if out.exists() && std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(format!("{} exists and is not empty", out.display()));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let io = |path: &Path, e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let dev = generate_key();
    let dev_path = out.join(DEV_KEY_FILE);
    save_key(&dev_path, &dev).map_err(|e| io(&dev_path, e))?;
    let mut keys = Vec::new();
    for i in 0..count {
        let dir = out.join(format!("node{i}"));
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let key = generate_key();
        let path = dir.join(KEY_FILE);
        save_key(&path, &key).map_err(|e| io(&path, e))?;
        keys.push(address_of(&key));
    }
    let prefund =
        GenesisAllocation { account: address_of(&dev), amount: Tokens(DEV_PREFUND_TOKENS * gridmint_core::TOKEN) };
    // each validator is bonded at genesis (at least the policy's minimum), from an allocation of
    // its bond and some spendable tokens; equal bonds, so equal voting power (as the genesis set's)
    let bond = Tokens(spec.policy.staking.validator_bond_min.0.max(TESTNET_BOND_TOKENS * gridmint_core::TOKEN));
    let mut allocations = vec![prefund];
    allocations.extend(keys[..spec.validators].iter().map(|a| GenesisAllocation {
        account: *a,
        amount: Tokens(bond.0 + TESTNET_SPENDABLE_TOKENS * gridmint_core::TOKEN),
    }));
    let policy = with_allocations(spec.policy.clone(), &allocations, true)?;
    let genesis_time = now_seconds();
    let genesis = Genesis {
        chain_id: chain_id_for(&policy, genesis_time, &format!("testnet-{}", address_of(&dev).to_hex())),
        genesis_time,
        policy: policy.to_toml(),
        producer: keys[0],
        validators: keys[..spec.validators]
            .iter()
            .map(|a| GenesisValidator { address: *a, power: 1, bond: Some(bond) })
            .collect(),
    };
    let genesis_path = out.join(GENESIS_FILE);
    let text = serde_json::to_string_pretty(&genesis).map_err(|e| e.to_string())?;
    std::fs::write(&genesis_path, text).map_err(|e| io(&genesis_path, e))?;
    let localhost = std::net::Ipv4Addr::LOCALHOST;
    let api = |i: usize| SocketAddrV4::new(localhost, spec.base_port + 2 * i as u16);
    let p2p = |i: usize| SocketAddrV4::new(localhost, spec.base_port + 2 * i as u16 + 1);
    let mut nodes = Vec::new();
    for i in 0..count {
        let file = NodeFile {
            moniker: format!("node{i}"),
            genesis: PathBuf::from("..").join(GENESIS_FILE),
            data: PathBuf::from("data"),
            key: PathBuf::from(KEY_FILE),
            api: SocketAddr::V4(api(i)),
            p2p: p2p(i),
            peers: (0..count).filter(|j| *j != i).map(p2p).collect(),
            peer_apis: (0..count).filter(|j| *j != i).map(|j| format!("http://{}", api(j))).collect(),
            max_clock_drift_secs: default_drift(),
            block_time_ms: spec.block_time_ms,
            archive: spec.archive,
            keep_epochs: spec.keep_epochs.unwrap_or_else(default_keep_epochs),
        };
        let path = out.join(format!("node{i}")).join(CONFIG_FILE);
        let text = toml::to_string_pretty(&file).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
        nodes.push(TestnetNode { config: path, file, validator: i < spec.validators });
    }
    Ok(nodes)
}
