//! Black-box test of the validator set as the economy's election (NM10, issue 13 step 6): a full
//! node registers as a validator with a bond larger than any genesis validator's, and after the
//! next epoch close it is in the consensus validator set: it proposes blocks, with nobody
//! restarted, and every node agrees on every block.

// the test's own patience is measured on the clock (never the ledger's time)
#![allow(clippy::disallowed_methods)]

mod common;

use common::*;
use gridmint_core::{TOKEN, Tx, TxBody};
use gridmint_node::client::Client;
use gridmint_node::signing::{SignedTx, address_of, load_key};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The test's own deadline for the network to reach a state, never a timing that is asserted.
const PATIENCE: Duration = Duration::from_secs(180);
/// The epoch length the testnet is written with.
const EPOCH_SECONDS: u64 = 20;

struct Net {
    dir: PathBuf,
    nodes: Vec<Option<Child>>,
    apis: Vec<Client>,
    chain_id: String,
}

impl Net {
    /// Writes a testnet of `validators` + `followers` into `dir` on free ports.
    fn write(dir: &Path, validators: usize, followers: usize) -> Net {
        let count = validators + followers;
        let base = free_base_port(2 * count);
        let out = Command::new(BIN)
            .args(["testnet", "--validators", &validators.to_string(), "--followers", &followers.to_string()])
            .args(["--epoch-seconds", &EPOCH_SECONDS.to_string(), "--base-port", &base.to_string(), "--out"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "testnet: {}", String::from_utf8_lossy(&out.stderr));
        let genesis: Value = serde_json::from_slice(&std::fs::read(dir.join("genesis.json")).unwrap()).unwrap();
        let apis = (0..count).map(|i| Client::new(&format!("http://127.0.0.1:{}", base as usize + 2 * i))).collect();
        Net {
            dir: dir.into(),
            nodes: (0..count).map(|_| None).collect(),
            apis,
            chain_id: genesis["chain_id"].as_str().unwrap().into(),
        }
    }

    fn start(&mut self, i: usize) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log(i)).unwrap();
        let child = Command::new(BIN)
            .args(["node", "--quiet", "--rate-limit", "0", "--config"])
            .arg(self.dir.join(format!("node{i}/config.toml")))
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.nodes[i] = Some(child);
    }

    fn log(&self, i: usize) -> PathBuf {
        self.dir.join(format!("node{i}/test.log"))
    }

    fn status(&self, i: usize) -> Option<Value> {
        Some(self.apis[i].get("/v1/status").ok()?.body)
    }

    fn height(&self, i: usize) -> Option<u64> {
        self.status(i)?["height"].as_u64()
    }

    fn logs(&self, which: &[usize]) -> String {
        which.iter().map(|i| format!("--- node{i}\n{}\n", tail(&self.log(*i)))).collect()
    }

    /// Panics with the logs if a node in `which` exited.
    fn check_running(&mut self, which: &[usize]) {
        for i in which {
            if let Some(child) = self.nodes[*i].as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("node{i} exited ({status}):\n{}", tail(&self.log(*i)));
            }
        }
    }

    /// Waits until every node in `which` is at `height` or above.
    fn wait_height(&mut self, which: &[usize], height: u64) {
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            if which.iter().all(|i| self.height(*i).is_some_and(|h| h >= height)) {
                return;
            }
            self.check_running(which);
            std::thread::sleep(Duration::from_millis(100));
        }
        let heights: Vec<_> = which.iter().map(|i| self.height(*i)).collect();
        panic!("nodes {which:?} did not reach height {height}: {heights:?}\n{}", self.logs(which));
    }

    /// The block at `height` as node `i` serves it.
    fn block(&self, i: usize, height: u64) -> Value {
        let answer = self.apis[i].get(&format!("/v1/blocks/{height}")).unwrap();
        assert_eq!(answer.status, 200, "node{i} block {height}: {:?}", answer.body);
        answer.body
    }

    /// Every node in `which` has the same block hash and state root at every height up to the
    /// lowest of their heights; returns that height.
    fn check_agreement(&self, which: &[usize]) -> u64 {
        let common = which.iter().map(|i| self.height(*i).unwrap()).min().unwrap();
        for height in 1..=common {
            let first = self.block(which[0], height);
            for i in &which[1..] {
                let other = self.block(*i, height);
                assert_eq!(
                    (&other["hash"], &other["state_root"], &other["producer"]),
                    (&first["hash"], &first["state_root"], &first["producer"]),
                    "node{i} and node{} differ at height {height}",
                    which[0]
                );
            }
        }
        common
    }

    /// Submits `txs` through node `i` and waits for them: each committed with code 0.
    fn submit(&self, i: usize, txs: &[SignedTx]) -> Vec<Value> {
        let answer = self.apis[i].post("/v1/tx/batch?wait=true", &json!(txs)).unwrap();
        assert_eq!(answer.status, 200, "via node{i}: {:?}", answer.body);
        let results = answer.body["results"].as_array().unwrap().clone();
        for r in &results {
            assert_eq!(r["status"], "committed", "via node{i}: {r}");
            assert_eq!(r["code"], 0, "via node{i}: {r}");
        }
        results
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for child in self.nodes.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// `n` consecutive free ports (bound and released; another process may take one meanwhile,
/// which makes a node fail to start loudly, never a test pass).
fn free_base_port(n: usize) -> u16 {
    for _ in 0..200 {
        let base = free_port();
        if base as usize + n >= 65_000 {
            continue;
        }
        let all: Vec<_> = (0..n).map(|i| std::net::TcpListener::bind(("127.0.0.1", base + i as u16))).collect();
        if all.iter().all(Result::is_ok) {
            return base;
        }
    }
    panic!("no {n} consecutive free ports");
}

/// 4 genesis validators (bonded at genesis, the epoch-1 master nodes) and a full node. The full
/// node is funded by the dev account and registers itself as a validator with twice a genesis
/// validator's bond; once the epoch it registered in closes, the election makes it a master node
/// and the consensus set follows: blocks name it as their producer, while no node restarts, and
/// all five agree on every block (hash, state root, producer).
#[test]
fn a_full_node_that_bonds_becomes_a_validator_at_the_next_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::write(&dir.path().join("net"), 4, 1);
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
    let top = all.iter().map(|i| net.height(*i).unwrap()).max().unwrap();
    net.wait_height(&all, top);
    let common = net.check_agreement(&all);
    println!("all five agree on {common} blocks");
}
