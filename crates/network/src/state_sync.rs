//! Joining a network whose history is pruned: a snapshot certified by the validators.
//!
//! Value sync replays decided blocks from height 1, but a pruned node (the default) keeps only
//! the blocks of its last epochs. A node that starts with an empty data dir while no peer stores
//! block 1 starts instead from a peer's newest snapshot (`GET /v1/snapshot`, the state after
//! block `h`), once it has checked it against the validators' signatures:
//!
//! 1. the snapshot decodes and its state root is recomputed from the state (what any import
//!    checks);
//! 2. block `h + 1` as consensus decided it (`GET /v1/blocks/{h+1}/decided`: the stored block
//!    and its decided record, rebuilt exactly as value sync serves it) names the snapshot's block
//!    hash as its parent and the snapshot's state root as its parent state root;
//! 3. its commit certificate is for that block's value id and height, and carries strict ed25519
//!    precommit signatures of validators holding more than 2/3 of the voting power of the set of
//!    `h + 1`, which the election in the snapshot's own state gives ([`crate::election`]);
//! 4. and, since that set comes from the state being checked, the signers also hold more than
//!    1/3 of the power of the set this node trusts without asking anyone: the genesis
//!    validators. A forged state whose master nodes are the forger's keys fails here unless more
//!    than 1/3 of the genesis power signs for it.
//!
//! The last check is the trust assumption (weak subjectivity, as every proof-of-stake light
//! client has one): once the genesis validators have all left the set, a new node cannot
//! check a snapshot alone and is started with `gridmint snapshot import --trusted-hash` (the hash
//! from a node its operator trusts). Afterwards the node is an ordinary replica: it syncs the
//! blocks after `h` by value sync and checks each against its own execution.

use crate::record::{DecidedRecord, rebuild};
use gridmint_consensus::app_channel::app::types::core::{Context, NilOrVal};
use gridmint_consensus::signing::{verify_strict, vote_signing_bytes};
use gridmint_consensus::{ChainId, GridmintContext, Height, ValidatorSet};
use gridmint_core::snapshot::SnapshotHeader;
use gridmint_node::block::{BLOCK_HASH_DOMAIN, StoredBlock};
use gridmint_node::client::Client;
use std::collections::BTreeSet;

/// The largest snapshot fetched (a state of tens of millions of accounts).
pub const MAX_SNAPSHOT_BYTES: u64 = 4 << 30;
/// The largest decided block fetched (the 8 MiB block limit, its certificate and framing).
pub const MAX_DECIDED_BYTES: u64 = 64 << 20;

/// A snapshot checked against the validators' signatures.
#[derive(Debug)]
pub struct Certified {
    /// The snapshot file's bytes.
    pub bytes: Vec<u8>,
    /// Its header.
    pub header: SnapshotHeader,
    /// The hash of its block (height `header.height`), as the certified next block names it.
    pub block_hash: [u8; 32],
    /// The voting power that signed, of the set's total.
    pub signed_power: (u64, u64),
}

/// Checks `snapshot` against `decided` (the `GET /v1/blocks/{h+1}/decided` answer for the
/// snapshot's height `h`), `genesis` being the validator set this node trusts (see the module
/// documentation).
pub fn verify(
    chain_id: &ChainId,
    genesis: &ValidatorSet,
    snapshot: Vec<u8>,
    decided: &[u8],
) -> Result<Certified, String> {
    let (header, state) = gridmint_core::snapshot::decode(&snapshot).map_err(|e| format!("the snapshot: {e}"))?;
    verify_decoded(chain_id, genesis, snapshot, header, &state, decided)
}

/// [`verify`] of a snapshot already decoded (and so its root recomputed) from `snapshot`.
fn verify_decoded(
    chain_id: &ChainId,
    genesis: &ValidatorSet,
    snapshot: Vec<u8>,
    header: SnapshotHeader,
    state: &gridmint_core::State,
    decided: &[u8],
) -> Result<Certified, String> {
    let next = header.height + 1;
    let (stored, record) = split_decided(decided).map_err(|e| format!("block {next} as decided: {e}"))?;
    if stored.height != next {
        return Err(format!("asked for block {next}, got block {}", stored.height));
    }
    let block = rebuild(&stored, &record).map_err(|e| format!("block {next}: {e}"))?;
    let block_hash = header.block_hash(BLOCK_HASH_DOMAIN);
    if block.header.parent_hash != block_hash || block.header.parent_state_root != header.state_root {
        return Err(format!(
            "block {next} does not extend the snapshot of block {} (its parent hash or parent state root differs)",
            header.height
        ));
    }
    let certificate = &record.certificate;
    let value_id = block.value().value_id();
    if certificate.height != Height(next) || certificate.value_id != value_id {
        return Err(format!("the certificate of block {next} is for another height or value"));
    }
    let set = crate::election::validator_set_from_state(state, genesis);
    let mut signers = BTreeSet::new();
    let (mut power, mut trusted_power) = (0u64, 0u64);
    for signature in &certificate.commit_signatures {
        let Some(validator) = set.validators().iter().find(|v| *v.address() == signature.address) else {
            return Err(format!("the certificate of block {next} is signed by {}, not a validator", signature.address));
        };
        if !signers.insert(signature.address) {
            return Err(format!("the certificate of block {next} holds two signatures of {}", signature.address));
        }
        let precommit = GridmintContext::new().new_precommit(
            Height(next),
            certificate.round,
            NilOrVal::Val(value_id),
            signature.address,
        );
        if !verify_strict(validator.public_key(), &vote_signing_bytes(chain_id, &precommit), &signature.signature) {
            return Err(format!("the certificate of block {next}: a bad signature of {}", signature.address));
        }
        power += validator.voting_power();
        if let Some(trusted) = genesis.validators().iter().find(|v| *v.address() == signature.address) {
            trusted_power += trusted.voting_power();
        }
    }
    let total = set.total_voting_power();
    if u128::from(power) * 3 <= u128::from(total) * 2 {
        return Err(format!(
            "the certificate of block {next} is signed by {power} of {total} voting power, not more than 2/3"
        ));
    }
    let genesis_total = genesis.total_voting_power();
    if u128::from(trusted_power) * 3 <= u128::from(genesis_total) {
        return Err(format!(
            "the certificate of block {next} is signed by {trusted_power} of the genesis validators' {genesis_total} \
             voting power, not more than 1/3: this node cannot check the snapshot alone (start it with `gridmint \
             snapshot import --trusted-hash`, the hash from a node you trust)"
        ));
    }
    Ok(Certified { bytes: snapshot, header, block_hash, signed_power: (power, total) })
}

/// The `GET /v1/blocks/{h}/decided` framing: a 4-byte little-endian length, the stored block,
/// the decided record.
pub fn split_decided(bytes: &[u8]) -> Result<(StoredBlock, DecidedRecord), String> {
    let len: [u8; 4] = bytes.get(..4).ok_or("shorter than its length prefix")?.try_into().expect("4 bytes");
    let len = u32::from_le_bytes(len) as usize;
    let block = bytes.get(4..4usize.saturating_add(len)).ok_or("shorter than its block")?;
    let stored = StoredBlock::decode(block)?;
    let record = DecidedRecord::decode(&bytes[4 + len..])?;
    Ok((stored, record))
}

/// Whether a node with no ledger must start from a snapshot: no peer that answers stores block 1
/// (their `oldest_block`), and at least one answers. `Ok(false)`: value sync can replay the
/// whole history from some peer.
pub fn needed(peers: &[String]) -> Result<bool, String> {
    let mut answered = 0;
    for peer in peers {
        let Ok(answer) = Client::new(peer).get("/v1/status") else { continue };
        let Some(oldest) = answer.body["oldest_block"].as_u64() else { continue };
        answered += 1;
        if oldest <= 1 {
            return Ok(false);
        }
    }
    if answered == 0 {
        return Err(format!("no peer API answered ({})", peers.join(", ")));
    }
    Ok(true)
}

/// A certified snapshot from the first of `peers` that gives one, with each peer's reason
/// otherwise.
pub fn fetch(peers: &[String], chain_id: &str, genesis: &ValidatorSet) -> Result<Certified, String> {
    let chain_id = ChainId::new(chain_id).map_err(|_| "the chain id is too long".to_string())?;
    let mut reasons = Vec::new();
    for peer in peers {
        match fetch_from(peer, &chain_id, genesis) {
            Ok(certified) => return Ok(certified),
            Err(e) => reasons.push(format!("{peer}: {e}")),
        }
    }
    Err(format!("no peer gave a snapshot that checks out: {}", reasons.join("; ")))
}

fn fetch_from(peer: &str, chain_id: &ChainId, genesis: &ValidatorSet) -> Result<Certified, String> {
    let client = Client::new(peer);
    let (status, snapshot) = client.get_bytes("/v1/snapshot", MAX_SNAPSHOT_BYTES).map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("GET /v1/snapshot answered {status}"));
    }
    let (header, state) = gridmint_core::snapshot::decode(&snapshot).map_err(|e| format!("the snapshot: {e}"))?;
    let next = header.height + 1;
    // the block after the snapshot's may still be being decided: a few tries
    let mut last = String::new();
    for attempt in 0..20 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let (status, decided) =
            client.get_bytes(&format!("/v1/blocks/{next}/decided"), MAX_DECIDED_BYTES).map_err(|e| e.to_string())?;
        if status == 200 {
            return verify_decoded(chain_id, genesis, snapshot, header, &state, &decided);
        }
        last = format!("GET /v1/blocks/{next}/decided answered {status}");
    }
    Err(last)
}
