//! A replicated network of real `gridmint node --config` processes on loopback, written by
//! `gridmint testnet` (for `tests/network.rs` and `tests/election.rs`).

// the tests' own patience is measured on the clock (never the ledger's time)
#![allow(clippy::disallowed_methods)]

use super::BIN;
use gridmint_node::client::Client;
use gridmint_node::signing::SignedTx;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The tests' own deadline for the network to reach a state, never a timing that is asserted.
pub const PATIENCE: Duration = Duration::from_secs(180);
/// The epoch length the testnet is written with.
pub const EPOCH_SECONDS: u64 = 20;

pub struct Net {
    pub dir: PathBuf,
    pub nodes: Vec<Option<Child>>,
    pub apis: Vec<Client>,
    pub chain_id: String,
}

impl Net {
    /// Writes a testnet of `validators` + `followers` into `dir` on free ports, with epochs of
    /// [`EPOCH_SECONDS`] and `extra` flags of `gridmint testnet`.
    pub fn write(dir: &Path, validators: usize, followers: usize, extra: &[&str]) -> Net {
        let count = validators + followers;
        let base = free_base_port(2 * count);
        let out = Command::new(BIN)
            .args(["testnet", "--validators", &validators.to_string(), "--followers", &followers.to_string()])
            .args(["--epoch-seconds", &EPOCH_SECONDS.to_string(), "--base-port", &base.to_string()])
            .args(extra)
            .arg("--out")
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

    /// Starts node `i` (`gridmint node --config`), its output appended to its `test.log`.
    pub fn start(&mut self, i: usize) {
        assert!(self.nodes[i].is_none(), "node{i} runs already");
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

    pub fn log(&self, i: usize) -> PathBuf {
        self.dir.join(format!("node{i}/test.log"))
    }

    /// Kills node `i` with SIGKILL.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn status(&self, i: usize) -> Option<Value> {
        Some(self.apis[i].get("/v1/status").ok()?.body)
    }

    pub fn height(&self, i: usize) -> Option<u64> {
        self.status(i)?["height"].as_u64()
    }

    pub fn logs(&self, which: &[usize]) -> String {
        which.iter().map(|i| format!("--- node{i}\n{}\n", tail(&self.log(*i)))).collect()
    }

    /// Panics with the logs if a node in `which` exited.
    pub fn check_running(&mut self, which: &[usize]) {
        for i in which {
            if let Some(child) = self.nodes[*i].as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("node{i} exited ({status}):\n{}", tail(&self.log(*i)));
            }
        }
    }

    /// Waits until every node in `which` is at `height` or above.
    pub fn wait_height(&mut self, which: &[usize], height: u64) {
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
    pub fn block(&self, i: usize, height: u64) -> Value {
        let answer = self.apis[i].get(&format!("/v1/blocks/{height}")).unwrap();
        assert_eq!(answer.status, 200, "node{i} block {height}: {:?}", answer.body);
        answer.body
    }

    /// Every node in `which` has the same block hash and state root at every height they all
    /// store (from the highest `oldest_block`: pruned nodes, or one started from a snapshot) up
    /// to the lowest of their heights; returns that height.
    pub fn check_agreement(&self, which: &[usize]) -> u64 {
        let common = which.iter().map(|i| self.height(*i).unwrap()).min().unwrap();
        let oldest = which.iter().map(|i| self.status(*i).unwrap()["oldest_block"].as_u64().unwrap()).max().unwrap();
        for height in oldest..=common {
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
    pub fn submit(&self, i: usize, txs: &[SignedTx]) -> Vec<Value> {
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

pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// `n` consecutive free ports (bound and released; another process may take one meanwhile,
/// which makes a node fail to start loudly, never a test pass).
pub fn free_base_port(n: usize) -> u16 {
    for _ in 0..200 {
        let base = super::free_port();
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
