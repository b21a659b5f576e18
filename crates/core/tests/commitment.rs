//! The state root's trees (issue 12): the incremental root equals the full one after every
//! change (the harness checks it after every transaction of every rules test; this file adds
//! the cases that stress the trees' shapes), and an account proof verifies offline against a
//! block's root and fails with any byte of it changed.

mod common;
use common::{Harness, addr, tokens};
use gridmint_core::{AccountProof, TxBody};

/// Goal: account proofs verify for every account at every tree size from 1 to 40 accounts
/// (every odd and even shape of the tree), and stop verifying once the state moves on.
/// Method: fund accounts one by one with transfers, proving every account after each.
#[test]
fn account_proofs_verify_at_every_tree_shape() {
    let mut h = Harness::new("netmind", &[("alice", tokens(1_000_000))]);
    let mut names = vec![];
    for i in 0..40 {
        let name = format!("user-{i}");
        h.ok("alice", TxBody::Transfer { to: addr(&name), amount: tokens(1) + i });
        names.push(name);
        let root = h.state.state_root();
        assert_eq!(root, h.state.full_state_root());
        for address in h.state.accounts.iter().map(|a| a.address).collect::<Vec<_>>() {
            let proof = h.state.account_proof(&address).expect("a known account has a proof");
            assert!(proof.verify(&root), "account {address} at {} accounts", h.state.accounts.len());
        }
    }
    let root = h.state.state_root();
    let proof = h.state.account_proof(&addr("user-3")).unwrap();
    assert_eq!(proof.spendable, tokens(1) + 3);
    let tx = h.tx(addr("alice"), TxBody::Transfer { to: addr("user-3"), amount: 1 });
    h.state.apply_tx(&tx, h.producer).unwrap();
    assert!(h.state.account_proof(&addr("user-3")).is_none(), "no proof from trees that are not current");
    let new_root = h.state.state_root();
    assert_ne!(root, new_root);
    assert!(proof.verify(&root) && !proof.verify(&new_root), "a proof is of one root");
    assert!(h.state.account_proof(&addr("nobody")).is_none());
}

/// Goal: an account proof fails with any byte changed, in its JSON (every field) or in the
/// root. Method: flip every bit of every field through the JSON form a client receives.
#[test]
fn account_proofs_fail_with_any_byte_changed() {
    let mut h = Harness::new("netmind", &[("alice", tokens(1_000_000))]);
    for i in 0..9 {
        h.ok("alice", TxBody::Transfer { to: addr(&format!("user-{i}")), amount: tokens(2) });
    }
    h.register_machine("alice", "gpu-1", 1, 1000, 0);
    let root = h.state.state_root();
    let proof = h.state.account_proof(&addr("user-4")).unwrap();
    assert!(proof.verify(&root));
    let json = serde_json::to_value(&proof).unwrap();
    let mut tried = 0;
    for (key, value) in json.as_object().unwrap() {
        let variants: Vec<serde_json::Value> = match value {
            serde_json::Value::String(text) if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) => {
                // a hash or an address: every byte, one bit each
                (0..32)
                    .map(|i| {
                        let mut bytes = hex::decode(text).unwrap();
                        bytes[i] ^= 1;
                        serde_json::Value::String(hex::encode(bytes))
                    })
                    .collect()
            }
            serde_json::Value::String(amount) => {
                let v: u128 = amount.parse().unwrap();
                vec![serde_json::Value::String((v + 1).to_string()), serde_json::Value::String((v ^ 1).to_string())]
            }
            serde_json::Value::Number(n) => {
                let v = n.as_u64().unwrap();
                vec![(v + 1).into(), (v ^ 1).into(), (v.wrapping_sub(1)).into()]
            }
            serde_json::Value::Array(siblings) => {
                let mut out = vec![];
                for i in 0..siblings.len() {
                    for byte in [0, 31] {
                        let mut s = siblings.clone();
                        let mut bytes = hex::decode(s[i].as_str().unwrap()).unwrap();
                        bytes[byte] ^= 0x80;
                        s[i] = hex::encode(bytes).into();
                        out.push(serde_json::Value::Array(s));
                    }
                }
                let mut fewer = siblings.clone();
                fewer.pop();
                out.push(fewer.into());
                let mut more = siblings.clone();
                more.push(siblings[0].clone());
                out.push(more.into());
                out
            }
            other => panic!("unexpected field {key}: {other}"),
        };
        for variant in variants {
            let mut changed = json.clone();
            changed[key] = variant;
            let changed: AccountProof = serde_json::from_value(changed).unwrap();
            assert!(!changed.verify(&root), "a proof with {key} changed still verifies");
            tried += 1;
        }
    }
    assert!(tried > 100, "{tried}");
    for i in 0..32 {
        let mut other = root;
        other[i] ^= 1;
        assert!(!proof.verify(&other));
    }
}

/// Goal: a block that touches a few records of a large state re-hashes only those (the root
/// follows the changes), and a close, which touches every machine, re-hashes them all, both
/// agreeing with the full root. Method: 100 machines, heartbeats and closes, the two roots
/// compared after each step.
#[test]
fn incremental_root_through_heartbeats_and_closes() {
    let mut h = Harness::new("netmind", &[("alice", tokens(1_000_000))]);
    let machines: Vec<String> = (0..100).map(|i| format!("m-{i}")).collect();
    for m in &machines {
        h.register_machine("alice", m, 1 + (m.len() % 3) as u8, 1000, 0);
    }
    let online: Vec<(&str, u64)> =
        machines.iter().enumerate().map(|(i, m)| (m.as_str(), (i % 7) as u64 * 12)).collect();
    for _ in 0..3 {
        h.online(&online);
        h.next_epoch();
        h.state.check_commitment().unwrap();
        h.ok("alice", TxBody::Claim);
    }
}

/// Goal: the large-block path of the trees (leaves and interior nodes re-hashed on the thread
/// pool once thousands changed) agrees with the full root, through growth and scattered writes.
/// Method: 20,000 accounts created, then 9,000 scattered balance changes, then 5,000 more
/// accounts; the two roots compared after each step.
#[test]
fn large_blocks_of_changes_agree_with_the_full_root() {
    let mut h = Harness::new("netmind", &[("alice", tokens(1))]);
    for i in 0..20_000u64 {
        h.state.account_or_create(gridmint_core::Address::from_index("bulk", i));
    }
    h.state.check_commitment().unwrap();
    for i in 0..9_000usize {
        let id = (i * 7_919) % h.state.accounts.len();
        h.state.accounts[id].nonce += 1;
    }
    h.state.check_commitment().unwrap();
    for i in 20_000..25_000u64 {
        h.state.account_or_create(gridmint_core::Address::from_index("bulk", i));
    }
    h.state.accounts[3].nonce += 1;
    h.state.check_commitment().unwrap();
}
