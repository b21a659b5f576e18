//! State snapshots (issue 12): a snapshot restores a state that is equal to the original, has
//! the same root and goes on exactly as the original does (bookkeeping included: lazily accruing
//! machine rewards, heartbeat bits, unbonding queues); any damage is refused with a typed error.

mod common;
use common::generator::{body, policy};
use gridmint_core::snapshot::{self, SnapshotError, SnapshotHeader};
use gridmint_core::{Address, State, Tx, TxBody};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn header(state: &mut State) -> SnapshotHeader {
    SnapshotHeader {
        chain: [7; 32],
        height: state.height,
        time: state.time,
        parent: [1; 32],
        producer: Address([2; 32]),
        state_root: state.state_root(),
        txs_hash: [3; 32],
    }
}

/// One random block: up to 40 random transactions (many refused or failing, as in random.rs).
fn block(state: &mut State, rng: &mut ChaCha8Rng) -> Vec<Tx> {
    let mut txs = vec![];
    for _ in 0..rng.random_range(1..40) {
        let (signer, body) = body(rng, state);
        let nonce =
            if matches!(body, TxBody::Heartbeat { .. }) { 0 } else { state.account(&signer).map_or(0, |a| a.nonce) };
        txs.push(Tx { signer, nonce, body });
    }
    txs
}

/// Goal: at many points of a random history of every preset, a restored snapshot equals the
/// state, and both go on through the same blocks (epoch closes among them) to the same root at
/// every block. Method: random blocks; snapshot every few blocks; the copy follows the original.
/// Seeds: `GRIDMINT_SEEDS=N` (default 6 per preset); failures name the seed.
#[test]
fn restored_snapshots_go_on_exactly_as_the_original() {
    let seeds: u64 = std::env::var("GRIDMINT_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    for preset in ["netmind", "osmi", "omnitensor", "netmind-2024"] {
        for seed in 0..seeds {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut state = State::genesis(policy(preset), 0);
            let producer = Address::from_index("producer", 0);
            let epoch_seconds = state.policy.epoch.seconds;
            let mut copies: Vec<State> = vec![];
            let mut time = 0;
            for height in 1..=40u64 {
                time += rng.random_range(0..epoch_seconds / 3);
                let txs = block(&mut state, &mut rng);
                let mut proposal = state.clone();
                let built = proposal.build_block(height, time, producer, txs, false).unwrap();
                state = proposal;
                let root = state.state_root();
                for copy in &mut copies {
                    copy.execute_block(height, time, producer, &built.included, false)
                        .unwrap_or_else(|e| panic!("seed {seed} {preset} height {height}: the copy refused: {e}"));
                    assert_eq!(copy.state_root(), root, "seed {seed} {preset} height {height}: the copy diverged");
                }
                if height % 7 == 0 {
                    let h = header(&mut state);
                    let bytes = snapshot::encode(&state, &h);
                    let (read, restored) = snapshot::decode(&bytes)
                        .unwrap_or_else(|e| panic!("seed {seed} {preset} height {height}: {e}"));
                    assert_eq!(read, h);
                    assert!(restored == state, "seed {seed} {preset} height {height}: the restored state differs");
                    assert_eq!(restored.canonical_bytes(), state.canonical_bytes());
                    copies.push(restored);
                }
            }
            assert_eq!(copies.len(), 5);
        }
    }
}

fn sample_snapshot() -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut state = State::genesis(policy("netmind"), 0);
    let producer = Address::from_index("producer", 0);
    let mut time = 0;
    for height in 1..=60 {
        time += 5_000;
        let txs = block(&mut state, &mut rng);
        state.build_block(height, time, producer, txs, false).unwrap();
    }
    let h = header(&mut state);
    snapshot::encode(&state, &h)
}

/// Goal: any changed byte, any truncation, a foreign file and a wrong root are refused with a
/// typed error, never a panic and never a state. Method: flip every byte of a small snapshot
/// (bytes 0..4096 and then every 97th), truncate at every 61st length, rewrite the header's root
/// with a valid checksum.
#[test]
fn damaged_snapshots_are_refused() {
    let bytes = sample_snapshot();
    assert!(snapshot::decode(&bytes).is_ok());
    let positions: Vec<usize> = (0..bytes.len().min(4096)).chain((4096..bytes.len()).step_by(97)).collect();
    for &i in &positions {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x20;
        let error = snapshot::decode(&damaged).expect_err("a flipped byte is refused");
        assert!(
            matches!(
                error,
                SnapshotError::Checksum
                    | SnapshotError::BadMagic
                    | SnapshotError::Version { .. }
                    | SnapshotError::Truncated { .. }
            ),
            "byte {i}: {error}"
        );
    }
    for length in (0..bytes.len()).step_by(61) {
        assert!(snapshot::decode(&bytes[..length]).is_err(), "truncated to {length}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(snapshot::decode(&longer), Err(SnapshotError::Truncated { .. })));
    assert_eq!(snapshot::decode(b"not a snapshot at all, just some text that is long enough to have a header ..................................................................................................................................................................................").unwrap_err(), SnapshotError::BadMagic);

    // a snapshot re-sealed (valid checksum) around a header with another root: refused by the root
    let mut forged = bytes[..bytes.len() - 32].to_vec();
    let root_at = 17 + 4 + 112;
    forged[root_at] ^= 1;
    let checksum = blake3::hash(&forged);
    forged.extend_from_slice(checksum.as_bytes());
    assert!(
        matches!(snapshot::decode(&forged), Err(SnapshotError::Root { .. })),
        "{:?}",
        snapshot::decode(&forged).err()
    );
}

/// Goal: what the state root does not commit to (indexes, buckets, weights, accrual counts,
/// settings) is rebuilt on load, never taken from the file, and a crafted file (valid checksum)
/// whose committed tables disagree is refused with an error, never a panic. Method: forge a
/// decoded state's bookkeeping and tables, re-encode it under the same header.
#[test]
fn what_the_root_does_not_commit_is_rebuilt_and_crafted_states_are_refused() {
    let bytes = sample_snapshot();
    let (header, original) = snapshot::decode(&bytes).unwrap();
    assert!(!original.machines.is_empty() && original.accounts.len() > 2, "the sample has machines");
    let mut forged = original.clone();
    let first_owner = forged.machines[0].owner;
    forged.owner_machines.clear();
    forged.owner_machines.insert(first_owner + 1, vec![0]);
    forged.machine_index.clear();
    forged.account_index.clear();
    forged.weight_table.clear();
    forged.compute_roots = false;
    forged.threads = 7;
    let (_, restored) = snapshot::decode(&snapshot::encode(&forged, &header)).unwrap();
    assert!(restored == original, "the bookkeeping is rebuilt from the committed records");

    let refused = |state: State, what: &str| {
        let error = snapshot::decode(&snapshot::encode(&state, &header)).expect_err(what);
        assert!(matches!(error, SnapshotError::Decode(_) | SnapshotError::Root { .. }), "{what}: {error}");
    };
    let mut short = original.clone();
    short.online_slots = Vec::new().into();
    refused(short, "a table shorter than the machines");
    let mut orphan = original.clone();
    orphan.machines[0].owner = u32::MAX;
    refused(orphan, "a machine owned by no account");
    let mut class = original.clone();
    class.machines[0].gpu_class = 200;
    refused(class, "a class outside the policy");
    let mut dirty = original.clone();
    dirty.heartbeat_dirty.push(u32::MAX);
    refused(dirty, "a machine to clear that does not exist");
    let mut twice = original;
    let address = twice.accounts[1].address;
    twice.accounts[2].address = address;
    refused(twice, "an address twice");
}
