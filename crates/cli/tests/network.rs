//! Black-box tests of a replicated network: `gridmint testnet`, then one `gridmint node
//! --config` process per node on loopback, real Malachite consensus between them, `kill -9`.
#![allow(clippy::disallowed_methods)] // the test's own deadlines read the clock, never a node

mod common;

use common::net::{Net, PATIENCE, free_base_port};
use common::*;
use gridmint_consensus::app_channel::app::types::core::Round;
use gridmint_core::{Address, Tx, TxBody};
use gridmint_node::client::Client;
use gridmint_node::signing::{SignedTx, address_of, load_key};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The genesis validator set, as the nodes build it.
fn validator_set(net: &Net) -> gridmint_consensus::ValidatorSet {
    let genesis: gridmint_node::Genesis =
        serde_json::from_slice(&std::fs::read(net.dir.join("genesis.json")).unwrap()).unwrap();
    gridmint_network::run::validator_set(&genesis).unwrap()
}

/// Node `i`'s address.
fn node_address(net: &Net, i: usize) -> Address {
    address_of(&load_key(&net.dir.join(format!("node{i}/node-key.json"))).unwrap())
}

/// Signs `count` transfers from the dev key starting at `nonce`.
fn transfers(net: &Net, nonce: u64, count: usize, to: &[Address]) -> Vec<SignedTx> {
    let dev = load_key(&net.dir.join("dev-key.json")).unwrap();
    (0..count)
        .map(|i| {
            let tx = Tx {
                signer: address_of(&dev),
                nonce: nonce + i as u64,
                body: TxBody::Transfer { to: to[i % to.len()], amount: 1 + i as u128 },
            };
            SignedTx::sign(tx, &dev, &net.chain_id)
        })
        .collect()
}

/// 4 validators and a full node under transfers submitted to every node in turn: every
/// acknowledged transaction is on every node with the same receipt, and every node has the same
/// block hash and state root at every common height, epoch closes included. Then a validator is
/// killed with SIGKILL at random moments 10 times (the current proposer among them: each height's
/// proposer rotates over all four): the other three keep deciding, and the restarted one catches
/// up and agrees.
#[test]
fn four_validators_and_a_follower_agree_and_survive_kill_9() {
    let seed = seed("network_kill_9");
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::write(&dir.path().join("net"), 4, 1, &["--archive"]);
    for i in 0..5 {
        net.start(i);
    }
    let all = [0, 1, 2, 3, 4];
    net.wait_height(&all, 2);

    // transfers through every node, the follower included: forwarded to the validators
    let recipients: Vec<Address> = keys("net-recipient", 5).iter().map(address_of).collect();
    let mut acknowledged: BTreeMap<String, Value> = BTreeMap::new();
    let mut nonce = 0;
    for round in 0..10 {
        let node = round % 5;
        let batch = transfers(&net, nonce, 20, &recipients);
        nonce += 20;
        let answer = net.apis[node].post("/v1/tx/batch?wait=true", &json!(batch)).unwrap();
        assert_eq!(answer.status, 200, "round {round} via node{node}: {:?}", answer.body);
        for r in answer.body["results"].as_array().unwrap() {
            assert_eq!(r["status"], "committed", "round {round} via node{node}: {r}");
            acknowledged.insert(r["id"].as_str().unwrap().into(), r.clone());
        }
    }
    let top = net.height(0).unwrap() + 2;
    net.wait_height(&all, top);
    for (id, receipt) in &acknowledged {
        for (i, api) in net.apis.iter().enumerate() {
            let answer = api.get(&format!("/v1/tx/{id}")).unwrap();
            assert_eq!(answer.status, 200, "node{i} lacks acknowledged {id}");
            assert_eq!(answer.body["height"], receipt["height"], "node{i}: {id} at another height");
        }
    }
    net.check_agreement(&all);

    // the set as the nodes run it: the proposer of a height is the consensus crate's selection
    let set = validator_set(&net);
    let addresses: Vec<Address> = (0..4).map(|i| node_address(&net, i)).collect();
    let node_of = |address: &gridmint_consensus::ValidatorAddress| -> usize {
        addresses.iter().position(|a| *a == address.0).expect("a validator is a node")
    };

    // kill -9 a validator at random moments (every other time the proposer of the height being
    // decided); the others go on; it restarts and catches up
    for round in 0..10 {
        std::thread::sleep(Duration::from_millis(200 + rng.below(1500)));
        let victim = if round % 2 == 0 {
            let next = net.height(0).unwrap_or(0) + 1;
            node_of(set.proposer(gridmint_consensus::Height(next), Round::new(0)).address())
        } else {
            rng.below(4) as usize
        };
        net.kill9(victim);
        let others: Vec<usize> = all.iter().copied().filter(|i| *i != victim).collect();
        let before = others.iter().map(|i| net.height(*i).unwrap_or(0)).max().unwrap();
        net.wait_height(&others, before + 2);
        net.start(victim);
        let now = others.iter().map(|i| net.height(*i).unwrap_or(0)).min().unwrap();
        net.wait_height(&[victim], now);
        println!("round {round}: validator {victim} killed at about height {before}, caught up to {now}");
    }
    let top = all.iter().map(|i| net.height(*i).unwrap()).max().unwrap();
    net.wait_height(&all, top);
    let common = net.check_agreement(&all);
    let closes = net.apis[4].get("/v1/status").unwrap().body["epoch"].as_u64().unwrap();
    println!("agreed on {common} blocks; epoch {closes}");
    assert!(closes >= 2, "epochs closed on every replica identically");
    // what an operator sees: role, round, peers, the set; the consensus metrics
    for i in 0..5 {
        let status = net.apis[i].get("/v1/status").unwrap().body;
        let consensus = &status["consensus"];
        let role = if i < 4 { "validator" } else { "full_node" };
        assert_eq!(consensus["role"], role, "node{i}: {consensus}");
        assert_eq!(consensus["validators"].as_array().unwrap().len(), 4, "node{i}: {consensus}");
        assert!(consensus["height"].as_u64().unwrap() >= common, "node{i} decides the next heights: {consensus}");
        let metrics = net.apis[i].get("/metrics").unwrap().body;
        let metrics = metrics.as_str().unwrap();
        for name in [
            "gridmint_consensus_rounds_total",
            "gridmint_consensus_time_to_finality_seconds_count",
            "gridmint_consensus_peers",
        ] {
            assert!(metrics.contains(name), "node{i} metrics lack {name}");
        }
    }
    for id in acknowledged.keys() {
        for (i, api) in net.apis.iter().enumerate() {
            assert_eq!(api.get(&format!("/v1/tx/{id}")).unwrap().status, 200, "node{i} lost acknowledged {id}");
        }
    }
}

/// With 2 of 4 validators stopped there is no quorum (more than 2/3 of the power): no node
/// decides anything, and nothing forks; once one is back the network decides again. A validator
/// whose data dir was wiped rejoins from genesis through value sync and agrees.
#[test]
fn no_quorum_no_progress_then_resume_and_a_wiped_validator_rejoins() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::write(&dir.path().join("net"), 4, 0, &[]);
    for i in 0..4 {
        net.start(i);
    }
    net.wait_height(&[0, 1, 2, 3], 3);
    net.kill9(2);
    net.kill9(3);
    std::thread::sleep(Duration::from_secs(2));
    let stalled = [net.height(0).unwrap(), net.height(1).unwrap()];
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(
        [net.height(0).unwrap(), net.height(1).unwrap()],
        [stalled[0], stalled[1]],
        "half the power decided a block"
    );
    net.check_agreement(&[0, 1]);
    net.start(2);
    let top = stalled[0].max(stalled[1]) + 3;
    net.wait_height(&[0, 1, 2], top);
    // node 3 comes back with nothing: its data dir (store, WAL, undecided blocks) is gone
    std::fs::remove_dir_all(net.dir.join("node3/data")).unwrap();
    net.start(3);
    let top = net.height(0).unwrap() + 2;
    net.wait_height(&[0, 1, 2, 3], top);
    let common = net.check_agreement(&[0, 1, 2, 3]);
    assert!(common >= top, "the wiped validator caught up to {common}");
}

/// Once every node has pruned block 1, a validator wiped to an empty data dir cannot replay the
/// history by value sync: it starts from a peer's snapshot, checked against the next block's
/// commit certificate (signed by more than 2/3 of the set the snapshot's election gives, and by
/// more than 1/3 of the genesis validators), then syncs the blocks after it, votes again, and
/// agrees with the others on every block they all store.
#[test]
fn a_wiped_validator_rejoins_a_pruned_network_from_a_certified_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::write(&dir.path().join("net"), 4, 0, &["--keep-epochs", "1"]);
    let all = [0, 1, 2, 3];
    for i in all {
        net.start(i);
    }
    // wait until no node stores block 1 any more (pruned after a snapshot at an epoch close)
    let start = Instant::now();
    while !all.iter().all(|i| net.status(*i).is_some_and(|s| s["oldest_block"].as_u64().unwrap() > 1)) {
        assert!(start.elapsed() < PATIENCE, "the nodes did not prune block 1\n{}", net.logs(&all));
        net.check_running(&all);
        std::thread::sleep(Duration::from_millis(500));
    }
    net.kill9(3);
    std::fs::remove_dir_all(net.dir.join("node3/data")).unwrap();
    net.start(3);
    let top = net.height(0).unwrap() + 3;
    net.wait_height(&all, top);
    let log = std::fs::read_to_string(net.log(3)).unwrap();
    assert!(log.contains("fetching a certified snapshot") && log.contains("voting power at block"), "{log}");
    let status = net.status(3).unwrap();
    let oldest = status["oldest_block"].as_u64().unwrap();
    assert!(oldest > 1, "node3 started from a snapshot, not from genesis: {status}");
    assert_eq!(status["consensus"]["role"], "validator", "{status}");
    // it votes again: blocks after its return are proposed by it in its turns
    let back_at = net.height(3).unwrap();
    let me = status["consensus"]["address"].as_str().unwrap().to_string();
    let mut produced = false;
    let mut height = back_at + 1;
    while !produced {
        assert!(start.elapsed() < 2 * PATIENCE, "node3 proposed nothing after height {back_at}\n{}", net.logs(&all));
        net.wait_height(&all, height);
        produced = net.block(0, height)["producer"] == me.as_str();
        height += 1;
    }
    let common = net.check_agreement(&all);
    println!(
        "node3 rejoined from the snapshot (oldest block {oldest}), produced block {}, agrees to {common}",
        height - 1
    );
}

/// A full node proposes nothing: a transaction submitted to it while every validator is down
/// reaches them once they are back, because what it forwarded and still holds is sent again.
#[test]
fn a_full_nodes_transaction_reaches_validators_that_were_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::write(&dir.path().join("net"), 4, 1, &[]);
    let all = [0, 1, 2, 3, 4];
    for i in all {
        net.start(i);
    }
    net.wait_height(&all, 2);
    for i in 0..4 {
        net.kill9(i);
    }
    let dev = load_key(&net.dir.join("dev-key.json")).unwrap();
    let tx = SignedTx::sign(
        Tx { signer: address_of(&dev), nonce: 0, body: TxBody::Transfer { to: Address([9; 32]), amount: 5 } },
        &dev,
        &net.chain_id,
    );
    let answer = net.apis[4].post("/v1/tx/batch", &json!([tx])).unwrap();
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["results"][0]["status"], "pending", "{:?}", answer.body);
    std::thread::sleep(Duration::from_secs(2));
    for i in 0..4 {
        net.start(i);
    }
    let id = hex::encode(tx.id());
    let start = Instant::now();
    loop {
        let receipt = net.apis[4].get(&format!("/v1/tx/{id}")).unwrap();
        if receipt.body["status"] == "committed" {
            assert_eq!(receipt.body["code"], 0, "{:?}", receipt.body);
            break;
        }
        assert!(start.elapsed() < PATIENCE, "the transaction never reached a validator\n{}", net.logs(&all));
        net.check_running(&all);
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `gridmint devnet` starts every node as a child process, prints each API, and stops them all
/// on Ctrl-C (SIGINT), exiting 0.
#[test]
fn devnet_starts_a_network_and_ctrl_c_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("devnet");
    let base = free_base_port(6);
    let devnet = Command::new(BIN)
        .args(["devnet", "--validators", "3", "--base-port", &base.to_string(), "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let api = Client::new(&format!("http://127.0.0.1:{base}"));
    let start = Instant::now();
    let mut height = 0;
    while start.elapsed() < PATIENCE && height < 3 {
        height = api.get("/v1/status").ok().and_then(|a| a.body["height"].as_u64()).unwrap_or(0);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(height >= 3, "the devnet did not decide 3 blocks");
    let killed = Command::new("kill").args(["-INT", &devnet.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let output = devnet.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "devnet: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout.matches("API http://127.0.0.1:").count(), 3, "{stdout}");
    assert!(stdout.contains("stopped every node"), "{stdout}");
    for i in 0..3 {
        let api = Client::new(&format!("http://127.0.0.1:{}", base as usize + 2 * i));
        assert!(api.get("/v1/status").is_err(), "node{i} still answers after Ctrl-C");
    }
}
