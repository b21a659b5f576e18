//! Starting real node processes for the black-box tests.
#![allow(dead_code)]

pub mod net;

use gridmint_core::{Address, Tx, TxBody};
use gridmint_node::client::{Answer, Client};
use gridmint_node::signing::{SignedTx, address_of, key_from_label, load_key};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_gridmint");

pub struct NodeProc {
    pub child: Child,
    pub client: Client,
    pub data: PathBuf,
    pub chain_id: String,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `gridmint node --dev` on `data` with `extra` flags; waits until the API answers.
pub fn start(data: &Path, extra: &[&str]) -> NodeProc {
    start_with_output(data, extra, Stdio::null(), Stdio::null())
}

/// [`start`] with the node's standard output and error going to `stdout` and `stderr`.
pub fn start_with_output(data: &Path, extra: &[&str], stdout: impl Into<Stdio>, stderr: impl Into<Stdio>) -> NodeProc {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .args(["node", "--dev", "--data", data.to_str().unwrap(), "--listen", &listen])
        .args(extra)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("spawn gridmint node");
    let client = Client::new(&format!("http://{listen}"));
    let mut node = NodeProc { child, client, data: data.into(), chain_id: String::new() };
    for _ in 0..600 {
        if let Ok(answer) = node.client.get("/v1/status")
            && answer.status == 200
        {
            node.chain_id = answer.body["chain_id"].as_str().unwrap().to_string();
            return node;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("node on {listen} did not answer within 30 s");
}

impl NodeProc {
    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    pub fn dev_key(&self) -> ed25519_dalek::SigningKey {
        load_key(&self.data.join("dev-key.json")).unwrap()
    }

    pub fn sign(&self, key: &ed25519_dalek::SigningKey, nonce: u64, body: TxBody) -> SignedTx {
        SignedTx::sign(Tx { signer: address_of(key), nonce, body }, key, &self.chain_id)
    }

    pub fn get(&self, path: &str) -> Answer {
        self.client.get(path).unwrap()
    }

    pub fn post(&self, path: &str, body: &Value) -> Answer {
        self.client.post(path, body).unwrap()
    }

    pub fn account(&self, address: &Address) -> Value {
        let a = self.get(&format!("/v1/accounts/{address}"));
        assert_eq!(a.status, 200, "{:?}", a.body);
        a.body
    }

    pub fn next_nonce(&self, address: &Address) -> u64 {
        self.account(address)["next_nonce"].as_u64().unwrap()
    }

    /// Transfers `amount` base units from the dev account to each key, committed.
    pub fn fund(&self, keys: &[ed25519_dalek::SigningKey], amount: u128) {
        let dev = self.dev_key();
        let nonce = self.next_nonce(&address_of(&dev));
        let batch: Vec<SignedTx> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| self.sign(&dev, nonce + i as u64, TxBody::Transfer { to: address_of(k), amount }))
            .collect();
        let answer = self.post("/v1/tx/batch?wait=true", &json!(batch));
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        for r in answer.body["results"].as_array().unwrap() {
            assert_eq!(r["status"], "committed", "{r}");
            assert_eq!(r["code"], 0, "{r}");
        }
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn keys(prefix: &str, n: usize) -> Vec<ed25519_dalek::SigningKey> {
    (0..n).map(|i| key_from_label(&format!("{prefix}-{i}"))).collect()
}

/// The seed of a randomised test: GRIDMINT_SEED or a fresh one, printed.
pub fn seed(name: &str) -> u64 {
    let seed = std::env::var("GRIDMINT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        let mut bytes = [0u8; 8];
        getrandom_fill(&mut bytes);
        u64::from_le_bytes(bytes)
    });
    println!("{name}: seed {seed} (rerun with GRIDMINT_SEED={seed})");
    seed
}

fn getrandom_fill(bytes: &mut [u8]) {
    let key = gridmint_node::signing::generate_key();
    bytes.copy_from_slice(&key.to_bytes()[..bytes.len()]);
}

/// xorshift64*: enough for test schedules.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn amount(v: &Value) -> u128 {
    v.as_str().unwrap_or_else(|| panic!("amount {v} is not a string")).parse().unwrap()
}
