//! Black-box test of the validator set as the economy's election (NM10, issue 13 step 6): a full
//! node registers as a validator with a bond larger than any genesis validator's, and after the
//! next epoch close it is in the consensus validator set: it proposes blocks, with nobody
//! restarted, and every node agrees on every block. Then a genesis validator unstakes its whole
//! bond and leaves the set at a later close: it stops proposing and says it is a full node, the
//! chain goes on, and it still follows it.

// the test's own patience is measured on the clock (never the ledger's time)
#![allow(clippy::disallowed_methods)]

mod common;

use common::net::{Net, PATIENCE};
use gridmint_core::{TOKEN, Tx, TxBody};
use gridmint_node::signing::{SignedTx, address_of, load_key};
use serde_json::Value;
use std::time::{Duration, Instant};

/// 4 genesis validators (bonded at genesis, the epoch-1 master nodes) and a full node. The full
/// node is funded by the dev account and registers itself as a validator with twice a genesis
/// validator's bond; once the epoch it registered in closes, the election makes it a master node
/// and the consensus set follows: blocks name it as their producer, while no node restarts, and
/// all five agree on every block (hash, state root, producer).
#[test]
fn a_full_node_that_bonds_becomes_a_validator_and_a_validator_that_unstakes_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::write(&dir.path().join("net"), 4, 1, &[]);
    let genesis: Value = serde_json::from_slice(&std::fs::read(net.dir.join("genesis.json")).unwrap()).unwrap();
    let validators = genesis["validators"].as_array().unwrap();
    assert_eq!(validators.len(), 4);
    assert!(validators.iter().all(|v| v["bond"] == validators[0]["bond"] && v["power"] == 1), "{validators:?}");
    let all = [0, 1, 2, 3, 4];
    for i in all {
        net.start(i);
    }
    net.wait_height(&all, 2);

    // fund the full node, then it bonds twice a genesis validator's bond (the testnet's bond)
    let bond = 2 * gridmint_network::config::TESTNET_BOND_TOKENS * TOKEN;
    let dev = load_key(&net.dir.join("dev-key.json")).unwrap();
    let node4 = load_key(&net.dir.join("node4/node-key.json")).unwrap();
    let me = address_of(&node4);
    let fund =
        Tx { signer: address_of(&dev), nonce: 0, body: TxBody::Transfer { to: me, amount: bond + 1_000 * TOKEN } };
    net.submit(4, &[SignedTx::sign(fund, &dev, &net.chain_id)]);
    let register = Tx { signer: me, nonce: 0, body: TxBody::RegisterValidator { bond } };
    let receipt = net.submit(4, &[SignedTx::sign(register, &node4, &net.chain_id)]).remove(0);
    let registered_at = receipt["height"].as_u64().unwrap();
    println!("node4 ({me}) registered at height {registered_at}");

    // the blocks after its epoch's close: node4 proposes some of them (a third of the power),
    // and none before (the epoch it registered in closes in a later block than its registration)
    let start = Instant::now();
    let mut height = registered_at;
    let mut closed_at = None;
    let mut produced = Vec::new();
    let mut producers = std::collections::BTreeSet::new();
    while produced.len() < 3 {
        assert!(
            start.elapsed() < PATIENCE,
            "node4 produced no block after height {registered_at} up to {height} (producers {producers:?})\n{}",
            net.logs(&all)
        );
        net.check_running(&all);
        if net.height(4).is_some_and(|h| h >= height) {
            let block = net.block(4, height);
            let producer = block["producer"].as_str().unwrap().to_string();
            if producer == me.to_hex() {
                assert!(closed_at.is_some(), "node4 produced block {height}, before the close of its epoch");
                produced.push(height);
            }
            let closes = block["closed_epochs"].as_array().is_some_and(|c| !c.is_empty());
            if closes && height > registered_at && closed_at.is_none() {
                closed_at = Some(height);
            }
            producers.insert(producer);
            height += 1;
        } else {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    println!("the epoch closed at height {closed_at:?}");
    println!("node4 produced blocks {produced:?}");
    let status = net.status(4).unwrap();
    assert_eq!(status["consensus"]["role"], "validator", "{status}");
    let in_set = |status: &Value, who: &str| {
        status["consensus"]["validators"].as_array().unwrap().iter().any(|v| v["address"] == who)
    };
    assert!(in_set(&status, &me.to_hex()), "the status shows the elected set: {status}");

    // validator 3 unstakes its whole bond: at a later close it is no longer eligible (its
    // self-bond under the minimum) and leaves the set, with nobody restarted
    let node3 = load_key(&net.dir.join("node3/node-key.json")).unwrap();
    let three = address_of(&node3);
    let leave = Tx {
        signer: three,
        nonce: 0,
        body: TxBody::Unstake {
            validator: three,
            amount: gridmint_network::config::TESTNET_BOND_TOKENS * TOKEN,
            fast: false,
        },
    };
    let receipt = net.submit(0, &[SignedTx::sign(leave, &node3, &net.chain_id)]).remove(0);
    assert_eq!(receipt["code"], 0, "the unstake is accepted: {receipt}");
    let unstaked_at = receipt["height"].as_u64().unwrap();
    println!("node3 ({three}) unstaked at height {unstaked_at}");
    let start = Instant::now();
    let left_at = loop {
        assert!(start.elapsed() < PATIENCE, "node3 never left the set\n{}", net.logs(&all));
        net.check_running(&all);
        let status = net.status(0).unwrap();
        if !in_set(&status, &three.to_hex()) {
            break net.height(0).unwrap();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    println!("node3 left the set after height {left_at}");
    // the blocks after it left: none is node3's, the others (node4 too) go on producing
    let mut producers = std::collections::BTreeSet::new();
    let last = left_at + 8;
    net.wait_height(&all, last);
    for height in left_at + 1..=last {
        let producer = net.block(0, height)["producer"].as_str().unwrap().to_string();
        assert_ne!(producer, three.to_hex(), "block {height} was produced by node3 after it left the set");
        producers.insert(producer);
    }
    assert!(producers.len() >= 3, "the remaining validators take turns: {producers:?}");
    let status = net.status(3).unwrap();
    assert_eq!(status["consensus"]["role"], "full_node", "node3 follows without voting: {status}");
    assert!(in_set(&net.status(3).unwrap(), &me.to_hex()));

    let top = all.iter().map(|i| net.height(*i).unwrap()).max().unwrap();
    net.wait_height(&all, top);
    let common = net.check_agreement(&all);
    println!("all five agree on {common} blocks");
}
