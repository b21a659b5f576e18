//! The rewards tree's proofs from one chunk of leaves (issue 12): the same proof as from all the
//! leaves, for every leaf, at every shape of the last chunk.

use gridmint_core::{Address, reward_proof_in, reward_proof_in_chunk, rewards_chunk_root, rewards_root_of};

fn leaves(n: u32) -> Vec<(Address, u128)> {
    (0..n)
        .map(|i| {
            let mut a = [0u8; 32];
            a[..4].copy_from_slice(&(i * 2 + 1).to_be_bytes());
            (Address(a), u128::from(i) * 1_000_003 + 7)
        })
        .collect()
}

/// Goal: for chunks of a power of two, the proof built from the address's chunk and the chunks'
/// roots equals the proof from all the leaves, for every leaf, and verifies against the root;
/// an address not in its chunk, or a chunk size that is not a power of two, gives none.
/// Method: leaf counts around chunk boundaries (a last chunk of 1 leaf, of a full chunk, of one
/// leaf short of it), chunks of 1, 4 and 16.
#[test]
fn chunk_proofs_equal_whole_tree_proofs() {
    for size in [1usize, 4, 16] {
        for n in [1u32, 2, 3, 4, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100] {
            let all = leaves(n);
            let root = rewards_root_of(&all);
            let chunks: Vec<&[(Address, u128)]> = all.chunks(size).collect();
            let roots: Vec<[u8; 32]> = chunks.iter().map(|c| rewards_chunk_root(c)).collect();
            for (i, (address, _)) in all.iter().enumerate() {
                let chunk = i / size;
                let from_chunk =
                    reward_proof_in_chunk(chunks[chunk], chunk, size, &roots, u64::from(n), address).unwrap();
                let whole = reward_proof_in(&all, address).unwrap();
                assert_eq!(from_chunk, whole, "size {size}, {n} leaves, leaf {i}");
                assert!(from_chunk.verify(&root), "size {size}, {n} leaves, leaf {i}");
            }
            // an address looked up in another chunk is not there
            if chunks.len() > 1 {
                assert!(reward_proof_in_chunk(chunks[1], 1, size, &roots, u64::from(n), &all[0].0).is_none());
            }
        }
    }
    let all = leaves(12);
    let roots: Vec<[u8; 32]> = all.chunks(3).map(rewards_chunk_root).collect();
    assert!(reward_proof_in_chunk(&all[..3], 0, 3, &roots, 12, &all[0].0).is_none(), "3 is not a power of two");
}
