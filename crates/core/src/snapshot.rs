//! State snapshots: the whole state in one self-checking byte string, so that a node restarts
//! from its newest snapshot and replays only the blocks after it, and a new node starts from a
//! snapshot another node exported.
//!
//! Layout: `"gridmint/snapshot"` (17 bytes) ‖ format version u32 ‖ the [`SnapshotHeader`]
//! (chain id hash, height, time, parent, producer, state root, transactions hash; fixed width,
//! little-endian) ‖ body length u64 ‖ body ‖ blake3 of everything before it (32 bytes).
//! The body is the state in postcard (serde's compact binary format), every field including
//! the bookkeeping, the policies as their TOML text; the state root's cache is left out and
//! rebuilt on load.
//!
//! Loading checks, in order: length, magic, version, checksum, that the body decodes, that the
//! state is at the header's height, and that its state root (computed from the records) equals
//! the header's. A snapshot is therefore only as trustworthy as the header's root: the node
//! checks it against the block header it stores or is given (the replication issue adds the
//! validators' signatures).

use crate::State;
use gridmint_policy::Address;

const MAGIC: &[u8; 17] = b"gridmint/snapshot";
/// The format version this build writes and reads. 2: the bridge's inbound queue and the
/// committee's published mint signatures.
pub const FORMAT: u32 = 2;
const HEADER_LEN: usize = 32 + 8 + 8 + 32 + 32 + 32 + 32;
const PREFIX_LEN: usize = MAGIC.len() + 4 + HEADER_LEN + 8;

/// The block a snapshot is the state after: enough of its header to recompute its hash, so that
/// the snapshot can be checked against a block hash from elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// blake3 of the chain id (a snapshot of another chain is refused).
    pub chain: [u8; 32],
    /// The block's height.
    pub height: u64,
    /// Its time.
    pub time: u64,
    /// Its parent's hash.
    pub parent: [u8; 32],
    /// Its producer.
    pub producer: Address,
    /// The state root after it.
    pub state_root: [u8; 32],
    /// The hash of its transactions (as the block hash takes it).
    pub txs_hash: [u8; 32],
}

/// A block's hash: blake3 over `domain ‖ height ‖ time ‖ parent ‖ producer ‖ state root ‖
/// transactions hash` (the one definition: the node's blocks and snapshot headers both use it).
pub fn block_hash(
    domain: &[u8],
    height: u64,
    time: u64,
    parent: &[u8; 32],
    producer: &Address,
    state_root: &[u8; 32],
    txs_hash: &[u8; 32],
) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(domain);
    h.update(&height.to_le_bytes());
    h.update(&time.to_le_bytes());
    h.update(parent);
    h.update(&producer.0);
    h.update(state_root);
    h.update(txs_hash);
    *h.finalize().as_bytes()
}

/// Why a snapshot was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Shorter than its own framing says.
    #[error("the snapshot is truncated ({length} bytes)")]
    Truncated {
        /// Its length.
        length: usize,
    },
    /// Not a snapshot file.
    #[error("not a gridmint snapshot (bad magic)")]
    BadMagic,
    /// Another format version.
    #[error("snapshot format {found}, this build reads format {FORMAT}")]
    Version {
        /// The file's.
        found: u32,
    },
    /// A byte changed somewhere.
    #[error("the snapshot's checksum does not match its contents (damaged)")]
    Checksum,
    /// The body does not decode to a state.
    #[error("the snapshot's state does not decode: {0}")]
    Decode(String),
    /// The state is not at the header's height.
    #[error("the snapshot's state is at height {state}, its header says {header}")]
    Height {
        /// The state's.
        state: u64,
        /// The header's.
        header: u64,
    },
    /// The state's root is not the header's.
    #[error("the snapshot's state root {computed} differs from its header's {header}")]
    Root {
        /// Recomputed from the records.
        computed: String,
        /// In the header.
        header: String,
    },
}

impl SnapshotHeader {
    /// The block hash this header stands for, given the block-hash function's domain prefix
    /// (the node's block format owns it).
    pub fn block_hash(&self, domain: &[u8]) -> [u8; 32] {
        block_hash(domain, self.height, self.time, &self.parent, &self.producer, &self.state_root, &self.txs_hash)
    }

    /// The header alone, as a snapshot file holds it ([`SnapshotHeader::from_bytes`] reads it):
    /// what a pruned store keeps of the block it was pruned up to.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        self.encode(&mut out);
        out
    }

    /// Reads [`SnapshotHeader::to_bytes`]; `None` unless exactly that many bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<SnapshotHeader> {
        bytes.try_into().ok().map(SnapshotHeader::decode)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.chain);
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.time.to_le_bytes());
        out.extend_from_slice(&self.parent);
        out.extend_from_slice(&self.producer.0);
        out.extend_from_slice(&self.state_root);
        out.extend_from_slice(&self.txs_hash);
    }

    fn decode(bytes: &[u8; HEADER_LEN]) -> SnapshotHeader {
        let h32 = |at: usize| -> [u8; 32] { bytes[at..at + 32].try_into().unwrap_or([0; 32]) };
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
        SnapshotHeader {
            chain: h32(0),
            height: u64_at(32),
            time: u64_at(40),
            parent: h32(48),
            producer: Address(h32(80)),
            state_root: h32(112),
            txs_hash: h32(144),
        }
    }
}

/// Reads only the header of `bytes` (magic and version checked; the checksum is not: use
/// [`decode`] before trusting anything).
pub fn peek_header(bytes: &[u8]) -> Result<SnapshotHeader, SnapshotError> {
    if bytes.len() < PREFIX_LEN + 32 {
        return Err(SnapshotError::Truncated { length: bytes.len() });
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let at = MAGIC.len();
    let version = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or_default());
    if version != FORMAT {
        return Err(SnapshotError::Version { found: version });
    }
    let header: &[u8; HEADER_LEN] =
        bytes[at + 4..at + 4 + HEADER_LEN].try_into().map_err(|_| SnapshotError::Truncated { length: bytes.len() })?;
    Ok(SnapshotHeader::decode(header))
}

/// The snapshot of `state` after the block `header` describes.
pub fn encode(state: &State, header: &SnapshotHeader) -> Vec<u8> {
    let body = postcard::to_stdvec(state).unwrap_or_else(|e| panic!("a state always serializes: {e}"));
    let mut out = Vec::with_capacity(PREFIX_LEN + body.len() + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    header.encode(&mut out);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    let checksum = blake3::hash(&out);
    out.extend_from_slice(checksum.as_bytes());
    out
}

/// Checks a snapshot's framing and checksum without decoding its state (what is worth knowing
/// of a file cheaply, before relying on it): its header.
pub fn check_checksum(bytes: &[u8]) -> Result<SnapshotHeader, SnapshotError> {
    let header = peek_header(bytes)?;
    let at = MAGIC.len() + 4 + HEADER_LEN;
    let body_len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
    let expected = u64::try_from(PREFIX_LEN + 32).ok().and_then(|fixed| fixed.checked_add(body_len));
    if expected != u64::try_from(bytes.len()).ok() {
        return Err(SnapshotError::Truncated { length: bytes.len() });
    }
    let (content, checksum) = bytes.split_at(bytes.len() - 32);
    if blake3::hash(content).as_bytes() != checksum {
        return Err(SnapshotError::Checksum);
    }
    Ok(header)
}

/// Decodes and checks a snapshot (see the module documentation); the state comes back with its
/// root computed (its trees built), ready to execute the next block.
pub fn decode(bytes: &[u8]) -> Result<(SnapshotHeader, State), SnapshotError> {
    let header = check_checksum(bytes)?;
    let content = &bytes[..bytes.len() - 32];
    let mut state: State =
        postcard::from_bytes(&content[PREFIX_LEN..]).map_err(|e| SnapshotError::Decode(e.to_string()))?;
    if state.height != header.height {
        return Err(SnapshotError::Height { state: state.height, header: header.height });
    }
    // what the root does not commit to is never taken from the file: rebuilt from what it does
    rebuild_derived(&mut state)?;
    // a file with a valid checksum can still be crafted: whatever it holds, a refusal, never a
    // panic of the loader
    let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        state.check_invariants()?;
        Ok::<_, String>(state.state_root())
    }));
    let computed = match checked {
        Ok(Ok(root)) => root,
        Ok(Err(what)) => return Err(SnapshotError::Decode(what)),
        Err(_) => return Err(SnapshotError::Decode("the state is inconsistent".into())),
    };
    if computed != header.state_root {
        return Err(SnapshotError::Root { computed: hex::encode(computed), header: hex::encode(header.state_root) });
    }
    Ok((header, state))
}

/// Recomputes every field that the state root does not commit to from the fields it does (and
/// the policy), after checking that the committed tables agree in length and reference: the
/// indexes, the buckets and weights, the accrual counts, the machines to clear at the close, and
/// the per-process settings.
fn rebuild_derived(state: &mut State) -> Result<(), SnapshotError> {
    let bad = |what: &str| Err(SnapshotError::Decode(what.to_string()));
    let machines = state.machines.len();
    let words = machines.div_ceil(64);
    if state.rewards.len() != state.accounts.len()
        || state.machines_cold.len() != machines
        || state.online_slots.len() != machines
        || state.machine_credit.len() != machines
        || state.machine_claimed.len() != machines
        || state.forfeited.len() != words
        || state.accruing.len() != words
        || u32::try_from(machines).is_err()
        || u32::try_from(state.accounts.len()).is_err()
    {
        return bad("the state's tables differ in length");
    }
    if state.machines.iter().any(|m| m.owner as usize >= state.accounts.len()) {
        return bad("a machine's owner is not an account");
    }
    state.account_index = state.accounts.iter().enumerate().map(|(i, a)| (a.address, i as u32)).collect();
    state.machine_index = state.machines_cold.iter().enumerate().map(|(i, m)| (m.address, i as u32)).collect();
    if state.account_index.len() != state.accounts.len() || state.machine_index.len() != machines {
        return bad("an address appears twice");
    }
    let mut owners: std::collections::BTreeMap<u32, Vec<u32>> = std::collections::BTreeMap::new();
    for (id, m) in state.machines.iter().enumerate() {
        owners.entry(m.owner).or_default().push(id as u32);
    }
    state.owner_machines = owners;
    state.weight_table = crate::state::weight_table_of(&state.policy);
    let tiers = state.policy.connection_reward.as_ref().map_or(1, |c| c.bandwidth_tiers.len().max(1));
    let buckets = state.weight_table.len();
    let mut bucket_of = Vec::with_capacity(machines);
    for m in state.machines.iter() {
        let bucket = usize::from(m.gpu_class) * tiers + usize::from(m.bandwidth_tier);
        if buckets > 0 && bucket >= buckets {
            return bad("a machine's class or tier is outside the policy's");
        }
        bucket_of.push(u8::try_from(bucket).map_err(|_| SnapshotError::Decode("a bucket past 255".into()))?);
    }
    state.machine_bucket = bucket_of;
    if state.reward_index.len() != buckets {
        return bad("the reward index does not match the policy's buckets");
    }
    let mut counts = vec![0u64; buckets];
    for (id, bucket) in state.machine_bucket.iter().enumerate() {
        if crate::state::bit(&state.accruing, id as u32) {
            match counts.get_mut(usize::from(*bucket)) {
                Some(n) => *n += 1,
                None => return bad("a machine accrues without a connection reward"),
            }
        }
    }
    state.accruing_count = counts;
    // the machines whose slot bits the close clears: kept in the file's order (equality with
    // the original), but every id must be a machine and every machine with bits must be listed
    let listed: std::collections::BTreeSet<u32> = state.heartbeat_dirty.iter().copied().collect();
    if listed.iter().any(|&id| id as usize >= machines)
        || (0..machines as u32).any(|id| state.machines_cold[id as usize].slot_bits != [0; 5] && !listed.contains(&id))
    {
        return bad("the machines to clear at the close do not match their slot bits");
    }
    state.block_producer = None;
    state.threads = 1;
    state.compute_roots = true;
    Ok(())
}
