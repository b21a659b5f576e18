//! Black-box tests of `gridmint node`: real processes, real HTTP, real redb, `kill -9`.

mod common;

use common::*;
use gridmint_core::{Address, RewardProof, TxBody};
use gridmint_node::signing::{SignedTx, address_of, key_from_label};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn transfer(to: &ed25519_dalek::SigningKey, amount: u128) -> TxBody {
    TxBody::Transfer { to: address_of(to), amount }
}

/// A node killed with SIGKILL at random moments during a write workload, 50 times: after each
/// restart every acknowledged (committed) transaction is there with its receipt; at the end an
/// audited replay (signatures, receipts, invariants, state roots) matches.
#[test]
fn crash_loop_kill_9_loses_nothing_acknowledged() {
    let seed = seed("crash_loop");
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let recipients = keys("crash-recipient", 8);
    let mut acknowledged: BTreeMap<String, Value> = BTreeMap::new();
    let rounds = 50;
    for round in 0..rounds {
        let mut node = start(&data, &["--block-ms", "20", "--rate-limit", "0"]);
        // everything acknowledged before is still there, receipt unchanged
        for (id, receipt) in &acknowledged {
            let answer = node.get(&format!("/v1/tx/{id}"));
            assert_eq!(answer.status, 200, "round {round}: acknowledged {id} lost: {:?}", answer.body);
            assert_eq!(&answer.body, receipt, "round {round}: receipt of {id} changed");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let worker = {
            let stop = stop.clone();
            let client = node.client.clone();
            let chain_id = node.chain_id.clone();
            let dev = node.dev_key();
            let recipients = recipients.clone();
            let batch_size = 1 + rng.below(40) as usize;
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let dev_address = address_of(&dev);
                while !stop.load(Ordering::Relaxed) {
                    let Ok(account) = client.get(&format!("/v1/accounts/{dev_address}")) else { break };
                    let Some(nonce) = account.body["next_nonce"].as_u64() else { break };
                    let batch: Vec<SignedTx> = (0..batch_size)
                        .map(|i| {
                            let to = &recipients[i % recipients.len()];
                            let tx = gridmint_core::Tx {
                                signer: dev_address,
                                nonce: nonce + i as u64,
                                body: TxBody::Transfer { to: address_of(to), amount: 1 + i as u128 },
                            };
                            SignedTx::sign(tx, &dev, &chain_id)
                        })
                        .collect();
                    let Ok(answer) = client.post("/v1/tx/batch?wait=true", &json!(batch)) else { break };
                    if answer.status != 200 {
                        break;
                    }
                    for r in answer.body["results"].as_array().unwrap() {
                        if r["status"] == "committed" {
                            acked.push((r["id"].as_str().unwrap().to_string(), r.clone()));
                        }
                    }
                }
                acked
            })
        };
        std::thread::sleep(Duration::from_millis(30 + rng.below(300)));
        node.kill9();
        stop.store(true, Ordering::Relaxed);
        for (id, receipt) in worker.join().unwrap() {
            acknowledged.insert(id, receipt);
        }
    }
    assert!(acknowledged.len() > 100, "the workload acknowledged only {} transactions", acknowledged.len());
    let out = std::process::Command::new(BIN).args(["replay", "--data", data.to_str().unwrap()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("replay matches"),
        "replay: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{rounds} kills, {} acknowledged transactions all present; {stdout}", acknowledged.len());
}

/// Concurrent clients transfer and read over HTTP: every consistent read of the closed set of
/// accounts sums to what was funded, retries of committed transactions return the original
/// receipt, and the final balances equal exactly what the receipts say happened.
#[test]
fn bank_over_http() {
    let seed = seed("bank");
    let dir = tempfile::tempdir().unwrap();
    let node = Arc::new(start(&dir.path().join("data"), &["--block-ms", "30", "--rate-limit", "0"]));
    let accounts = keys("bank", 8);
    let initial: u128 = 1_000 * 10u128.pow(18); // 1,000 tokens: fees (0.001 token each) and transfers
    node.fund(&accounts, initial);
    let producer: Address = {
        let block = node.get("/v1/blocks/1");
        serde_json::from_value(block.body["producer"].clone()).unwrap()
    };
    let set: Vec<Address> = accounts.iter().map(address_of).collect();
    let total_at_start: u128 = set.iter().map(|a| amount(&node.account(a)["holding"])).sum::<u128>()
        + amount(&node.account(&producer)["holding"]);
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (node, set, stop) = (node.clone(), set.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut consistent = 0;
                while !stop.load(Ordering::Relaxed) {
                    let mut heights = Vec::new();
                    let mut sum = 0u128;
                    for a in set.iter().chain([&producer]) {
                        let account = node.account(a);
                        heights.push(account["height"].as_u64().unwrap());
                        sum += amount(&account["holding"]); // parses as u128: never negative
                    }
                    if heights.iter().all(|h| *h == heights[0]) {
                        assert_eq!(sum, total_at_start, "read at height {} sums to {sum}", heights[0]);
                        consistent += 1;
                    }
                }
                consistent
            })
        })
        .collect();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (node, accounts) = (node.clone(), accounts.clone());
            std::thread::spawn(move || {
                let mut rng = Rng((seed ^ ((w as u64 + 1) * 0x9E37_79B9)) | 1);
                let mut effects = Vec::new();
                for round in 0..15 {
                    let signer = &accounts[w * 2 + round % 2];
                    let to = &accounts[rng.below(8) as usize];
                    let value = 1 + u128::from(rng.below(5_000));
                    let nonce = node.next_nonce(&address_of(signer));
                    let tx = node.sign(signer, nonce, transfer(to, value));
                    let first = node.post("/v1/tx?wait=true", &json!(tx));
                    assert_eq!(first.status, 200, "{:?}", first.body);
                    // the retry returns the original receipt and never applies twice
                    let retry = node.post("/v1/tx?wait=true", &json!(tx));
                    assert_eq!(retry.body, first.body, "a retry got a different answer");
                    effects.push((address_of(signer), address_of(to), value, first.body.clone()));
                }
                effects
            })
        })
        .collect();
    let effects: Vec<_> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    // every transfer is affordable: all must have applied (a failed one would move nothing and
    // make the sums trivially hold)
    for (_, _, _, receipt) in &effects {
        assert_eq!(receipt["code"], 0, "{receipt}");
        assert!(amount(&receipt["fee"]) > 0, "netmind charges a flat fee: {receipt}");
    }
    stop.store(true, Ordering::Relaxed);
    let consistent: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(consistent > 10, "only {consistent} consistent reads");
    let mut expected: BTreeMap<Address, i128> = set.iter().map(|a| (*a, initial as i128)).collect();
    for (from, to, value, receipt) in &effects {
        let fee = amount(&receipt["fee"]) as i128;
        *expected.get_mut(from).unwrap() -= fee;
        if receipt["code"] == 0 {
            *expected.get_mut(from).unwrap() -= *value as i128;
            *expected.get_mut(to).unwrap() += *value as i128;
        }
    }
    for (address, want) in expected {
        assert_eq!(amount(&node.account(&address)["spendable"]) as i128, want, "balance of {address}");
    }
    println!("bank: {} transfers, {consistent} consistent reads", effects.len());
}

fn expect_error(answer: &gridmint_node::client::Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "expected {status} {code}, got {:?}", answer.body);
    assert_eq!(answer.error_code(), Some(code), "expected {code}, got {:?}", answer.body);
}

/// Every kind of bad input gets a typed 4xx and changes nothing; every limit is tested at its
/// maximum and one past it.
#[test]
fn bad_input_is_refused_typed_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let max_body = 4096;
    let node = start(
        &dir.path().join("data"),
        &["--block-ms", "50", "--rate-limit", "0", "--max-body-bytes", &max_body.to_string(), "--max-batch", "5"],
    );
    let dev = node.dev_key();
    let dev_address = address_of(&dev);
    let bob = key_from_label("bad-input-bob");
    let before = node.account(&dev_address);
    let good = node.sign(&dev, 0, transfer(&bob, 5));
    let good_json = serde_json::to_value(&good).unwrap();
    let good_text = good_json.to_string();
    let post_raw = |path: &str, body: &str| node.client.post_bytes(path, body.as_bytes()).unwrap();

    expect_error(&post_raw("/v1/tx", "{not json"), 400, "malformed_json");
    expect_error(&post_raw("/v1/tx", ""), 400, "malformed_json");
    let mut wrong_type = good_json.clone();
    wrong_type["tx"]["nonce"] = json!("zero");
    expect_error(&node.post("/v1/tx", &wrong_type), 400, "invalid_transaction");
    for bad_amount in
        [json!(1.5), json!("1.5"), json!(-1), json!("-1"), json!("340282366920938463463374607431768211456"), json!(5)]
    {
        let mut body = good_json.clone();
        body["tx"]["body"]["amount"] = bad_amount.clone();
        expect_error(&node.post("/v1/tx", &body), 400, "invalid_transaction");
    }
    let mut unknown_field = good_json.clone();
    unknown_field["tx"]["memo"] = json!("hi");
    expect_error(&node.post("/v1/tx", &unknown_field), 400, "invalid_transaction");
    let mut unknown_kind = good_json.clone();
    unknown_kind["tx"]["body"]["kind"] = json!("print_money");
    expect_error(&node.post("/v1/tx", &unknown_kind), 400, "invalid_transaction");
    let mut bad_signature = good.clone();
    bad_signature.signature[10] ^= 0x40;
    expect_error(&node.post("/v1/tx", &json!(bad_signature)), 401, "invalid_signature");
    let foreign = SignedTx::sign(good.tx.clone(), &dev, "some-other-chain");
    expect_error(&node.post("/v1/tx", &json!(foreign)), 401, "invalid_signature");
    let skipped = node.sign(&dev, 1, transfer(&bob, 5));
    expect_error(&node.post("/v1/tx", &json!(skipped)), 409, "nonce_too_high");
    let stranger = key_from_label("bad-input-stranger");
    expect_error(&node.post("/v1/tx", &json!(node.sign(&stranger, 0, transfer(&bob, 5)))), 404, "unknown_account");
    expect_error(&node.get(&format!("/v1/accounts/{}", address_of(&stranger))), 404, "unknown_account");
    expect_error(&node.get("/v1/accounts/xyz"), 400, "invalid_address");
    expect_error(&node.get("/v1/epochs/abc"), 400, "invalid_number");
    expect_error(&node.get("/v1/epochs/99999"), 404, "epoch_not_closed");
    expect_error(&node.get("/v1/blocks/99999999"), 404, "unknown_block");
    expect_error(&node.get(&format!("/v1/tx/{}", "ab".repeat(32))), 404, "unknown_tx");
    expect_error(&node.get("/v1/nothing"), 404, "no_such_route");
    expect_error(&node.get("/v1/tx"), 405, "method_not_allowed");
    expect_error(&post_raw("/v1/tx?wait=maybe", &good_text), 400, "invalid_query");
    expect_error(&node.post("/v1/heartbeats", &json!([good])), 400, "not_a_heartbeat");
    expect_error(&node.post("/v1/tx/batch", &json!([])), 400, "empty_batch");
    // nothing above changed anything
    assert_eq!(node.account(&dev_address)["spendable"], before["spendable"]);
    assert_eq!(node.account(&dev_address)["next_nonce"], 0);
    assert_eq!(node.get("/v1/status").body["mempool"], 0);

    // body limit: exactly the maximum is taken, one byte more is refused
    let padded = format!("{good_text}{}", " ".repeat(max_body - good_text.len()));
    assert_eq!(padded.len(), max_body);
    expect_error(&post_raw("/v1/tx", &format!("{padded} ")), 413, "body_too_large");
    assert_eq!(node.account(&dev_address)["next_nonce"], 0);
    let accepted = post_raw("/v1/tx?wait=true", &padded);
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    assert_eq!(accepted.body["code"], 0);
    // the replay of a used nonce (a different transaction) is refused; the same one is a retry
    let replayed = node.sign(&dev, 0, transfer(&bob, 6));
    expect_error(&node.post("/v1/tx", &json!(replayed)), 409, "nonce_too_low");
    let retry = post_raw("/v1/tx", &good_text);
    assert_eq!(retry.body, accepted.body, "a retry returns the original receipt");

    // batch limit: 5 is taken, 6 refused whole
    let batch = |n: u64, start: u64| -> Vec<SignedTx> {
        (0..n).map(|i| node.sign(&dev, start + i, transfer(&bob, 1))).collect()
    };
    let before_batch = node.account(&dev_address);
    expect_error(&node.post("/v1/tx/batch", &json!(batch(6, 1))), 413, "batch_too_large");
    assert_eq!(node.account(&dev_address)["next_nonce"], before_batch["next_nonce"]);
    let five = node.post("/v1/tx/batch?wait=true", &json!(batch(5, 1)));
    assert_eq!(five.status, 200, "{:?}", five.body);
    assert_eq!(five.body["committed"], 5);
    // the binary batch format: a truncated batch is refused whole, a whole one commits
    let bytes = gridmint_node::signing::encode_batch(&batch(2, 6));
    let octets = "application/octet-stream";
    let truncated = node.client.post_typed("/v1/tx/batch", octets, &bytes[..bytes.len() - 1]).unwrap();
    expect_error(&truncated, 400, "invalid_transaction");
    assert_eq!(node.account(&dev_address)["next_nonce"], 6);
    let binary = node.client.post_typed("/v1/tx/batch?wait=true", octets, &bytes).unwrap();
    assert_eq!(binary.body["committed"], 2, "{:?}", binary.body);
    let metrics = node.client.get("/metrics").unwrap();
    assert!(metrics.body.as_str().unwrap().contains("gridmint_tx_committed_total"), "metrics: {:?}", metrics.body);
    let openapi = node.get("/v1/openapi.json");
    for (method, path) in gridmint_node::api::ROUTES {
        assert!(openapi.body["paths"][path][method].is_object(), "OpenAPI lacks {method} {path}");
    }
    assert_eq!(openapi.body["paths"].as_object().unwrap().len(), gridmint_node::api::ROUTES.len());
}

/// The per-client rate limit (at its maximum and one past) and the mempool bound.
#[test]
fn rate_limit_and_full_mempool_push_back() {
    let dir = tempfile::tempdir().unwrap();
    // no block for a long time, so the mempool fills; 3 requests per second per client
    let node = start(&dir.path().join("data"), &["--block-ms", "600000", "--rate-limit", "3", "--mempool", "2"]);
    let dev = node.dev_key();
    let bob = key_from_label("limits-bob");
    let txs: Vec<Value> = (0..3).map(|n| json!(node.sign(&dev, n, transfer(&bob, 1)))).collect();
    std::thread::sleep(Duration::from_millis(1100)); // the start-up polls spent some budget
    #[allow(clippy::disallowed_methods)] // the test's own clock, to tell a slow machine from a bug
    let started = std::time::Instant::now();
    let a = node.post("/v1/tx", &txs[0]);
    let b = node.post("/v1/tx", &txs[1]);
    let c = node.post("/v1/tx", &txs[2]);
    let fourth = node.get("/v1/status");
    assert_eq!((a.status, b.status), (202, 202), "{:?} {:?}", a.body, b.body);
    expect_error(&c, 503, "mempool_full");
    // the bucket holds 3 and refills one every 333 ms: the 4th request within that is refused
    if started.elapsed() < Duration::from_millis(300) {
        expect_error(&fourth, 429, "rate_limited");
    } else {
        println!("slow machine: {:?} for 4 requests; checking that the limit bites at all", started.elapsed());
        assert!((0..10).any(|_| node.get("/v1/status").status == 429), "no 429 in 10 quick requests");
    }
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(node.get("/v1/status").body["mempool"], 2, "the refused transaction was not queued");
}

/// Rewards over a real epoch: the proof verifies against the epoch's root, and fails after
/// flipping any byte of it; `explain` accounts for the machine's earnings (X2, X3).
#[test]
fn reward_proofs_and_explain_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(&dir.path().join("data"), &["--block-ms", "50", "--epoch-seconds", "4", "--rate-limit", "0"]);
    let owner = key_from_label("proof-owner");
    let gpu = key_from_label("proof-gpu");
    node.fund(std::slice::from_ref(&owner), 10u128.pow(18));
    let register = node.sign(
        &owner,
        0,
        TxBody::RegisterMachine { machine: address_of(&gpu), gpu_class: 1, bandwidth_mbps: 1000, bond: 0 },
    );
    assert_eq!(node.post("/v1/tx?wait=true", &json!(register)).body["code"], 0);
    let status = node.get("/v1/status").body;
    let (genesis, slot_seconds) = (status["genesis_time"].as_u64().unwrap(), status["slot_seconds"].as_u64().unwrap());
    // a heartbeat in the slot of the last block's time: inside the open epoch, not in the future
    let mut attempts = 0;
    let beat = loop {
        attempts += 1;
        assert!(attempts < 200, "no heartbeat was accepted in 200 attempts");
        let s = node.get("/v1/status").body;
        let slot = (s["time"].as_u64().unwrap() - genesis) / slot_seconds;
        let hb = node.sign(&gpu, 0, TxBody::Heartbeat { slot });
        let answer = node.post("/v1/heartbeats?wait=true", &json!([hb]));
        let result = answer.body["results"][0].clone();
        if result["code"] == 0 {
            break (s["epoch"].as_u64().unwrap(), result);
        }
    };
    let epoch = beat.0;
    while node.get("/v1/status").body["epoch"].as_u64().unwrap() <= epoch {
        std::thread::sleep(Duration::from_millis(200));
    }
    let owner_address = address_of(&owner);
    let explain = node.get(&format!("/v1/epochs/{epoch}/explain/{owner_address}")).body;
    let machine = &explain["machines"][0];
    assert_eq!(machine["qualified"], true, "{explain}");
    assert!(amount(&machine["earned"]) > 0, "{explain}");
    assert_eq!(amount(&explain["earned_by_machines"]), amount(&machine["earned"]));
    let answer = node.get(&format!("/v1/epochs/{epoch}/proof/{owner_address}"));
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let summary = node.get(&format!("/v1/epochs/{epoch}")).body;
    assert_eq!(answer.body["rewards_root"], summary["rewards_root"]);
    let proof: RewardProof = serde_json::from_value(answer.body["proof"].clone()).unwrap();
    let mut root = [0u8; 32];
    hex::decode_to_slice(summary["rewards_root"].as_str().unwrap(), &mut root).unwrap();
    assert!(proof.verify(&root));
    assert_eq!(proof.rewards_total, amount(&machine["earned"]), "the first epoch's rewards are all this machine's");
    // flip every byte of the proof (and of the root): each must fail
    let mut flips = 0;
    for i in 0..32 {
        let mut p = proof.clone();
        p.address.0[i] ^= 1;
        let mut r = root;
        r[i] ^= 1;
        assert!(!p.verify(&root) && !proof.verify(&r));
        flips += 2;
    }
    for i in 0..16 {
        let mut p = proof.clone();
        p.rewards_total ^= 1 << (8 * i);
        assert!(!p.verify(&root));
        flips += 1;
    }
    for s in 0..proof.siblings.len() {
        for i in 0..32 {
            let mut p = proof.clone();
            p.siblings[s][i] ^= 1;
            assert!(!p.verify(&root));
            flips += 1;
        }
    }
    for i in 0..8 {
        let mut p = proof.clone();
        p.index ^= 1 << (8 * i);
        let mut q = proof.clone();
        q.leaf_count ^= 1 << (8 * i);
        assert!(!p.verify(&root) && !q.verify(&root));
        flips += 2;
    }
    // and through the CLI, offline
    let file = dir.path().join("proof.json");
    std::fs::write(&file, answer.body.to_string()).unwrap();
    let ok = std::process::Command::new(BIN).args(["verify-reward", file.to_str().unwrap()]).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    let mut tampered = answer.body.clone();
    tampered["proof"]["rewards_total"] = json!((proof.rewards_total + 1).to_string());
    std::fs::write(&file, tampered.to_string()).unwrap();
    let bad = std::process::Command::new(BIN).args(["verify-reward", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1), "{}", String::from_utf8_lossy(&bad.stdout));
    println!("proof of {} base units verified; {flips} single-byte flips all fail", proof.rewards_total);
}

/// A second node on the same data dir, and a data dir that is not a ledger, are refused.
#[test]
fn locked_and_foreign_data_dirs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _node = start(&data, &["--block-ms", "100"]);
    let port = free_port().to_string();
    let second = std::process::Command::new(BIN)
        .args(["node", "--data", data.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&second.stderr).contains("in use"), "{}", String::from_utf8_lossy(&second.stderr));
    let foreign = dir.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("ledger.redb"), b"this is not a database at all, just some bytes").unwrap();
    let refused_as_foreign = |args: &[&str]| {
        let out = std::process::Command::new(BIN).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("not a gridmint ledger"), "{args:?}: {stderr}");
    };
    refused_as_foreign(&["replay", "--data", foreign.to_str().unwrap()]);
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), b"hello").unwrap();
    refused_as_foreign(&["node", "--data", other.to_str().unwrap()]);
}

fn gridmint(node: &NodeProc, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(BIN).args(args).env("GRIDMINT_NODE", node.client.base()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CLI client against a live node: keys, tx with --wait, account, epoch; a clean stop on
/// SIGINT that keeps every committed block.
#[test]
fn cli_client_and_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut node = start(&data, &["--block-ms", "50", "--rate-limit", "0"]);
    let bob_file = dir.path().join("bob.json");
    let (code, bob, _) = gridmint(&node, &["keys", "new", "--out", bob_file.to_str().unwrap()]);
    assert_eq!(code, 0);
    let bob = bob.trim().to_string();
    let (code, shown, _) = gridmint(&node, &["keys", "show", bob_file.to_str().unwrap()]);
    assert_eq!((code, shown.trim()), (0, bob.as_str()));
    let dev_key = data.join("dev-key.json");
    let dev_key = dev_key.to_str().unwrap();
    let (code, out, err) =
        gridmint(&node, &["tx", "--key", dev_key, "transfer", "--to", &bob, "--amount", "12.5", "--wait"]);
    assert_eq!(code, 0, "{out} {err}");
    let receipt: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((receipt["status"].as_str(), receipt["code"].as_u64()), (Some("committed"), Some(0)));
    // two without --wait in a row: the second takes the next nonce, counting the waiting one
    for amount in ["1", "2"] {
        let (code, out, err) = gridmint(&node, &["tx", "--key", dev_key, "transfer", "--to", &bob, "--amount", amount]);
        assert_eq!(code, 0, "{out} {err}");
    }
    let (code, out, err) = gridmint(&node, &["tx", "--key", bob_file.to_str().unwrap(), "claim", "--wait"]);
    assert_eq!(code, 1, "a failed transaction is not a success: {err}");
    assert!(err.contains("nothing_to_claim") && err.lines().count() == 1, "one line says why: {err}");
    let failed = serde_json::from_str::<Value>(&out).unwrap();
    assert_eq!(failed["error"], "nothing_to_claim", "a failed receipt names its error");
    // G10: a transaction that fails its kind's checks is included and pays its fee
    let fee = amount(&failed["fee"]);
    assert!(fee > 0, "{failed}");
    // the two transfers sent without --wait commit within a few blocks
    let expected = 155 * 10u128.pow(17) - fee;
    let mut spendable = 0;
    for _ in 0..200 {
        let (code, out, _) = gridmint(&node, &["account", &bob]);
        assert_eq!(code, 0);
        spendable = amount(&serde_json::from_str::<Value>(&out).unwrap()["spendable"]);
        if spendable == expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(spendable, expected, "12.5 + 1 + 2 tokens, less the failed claim's fee");
    let (code, _, err) = gridmint(&node, &["account", "not-an-address"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, _) = gridmint(&node, &["epoch", "999"]);
    assert_eq!(code, 1);
    assert!(out.contains("epoch_not_closed"), "{out}");
    let (code, _, err) = gridmint(&node, &["tx", "--key", dev_key, "transfer", "--to", &bob, "--amount", "-1"]);
    assert_eq!(code, 2, "{err}");
    // SIGINT: a clean stop, exit 0; a restart is at the same height
    let height = node.get("/v1/status").body["height"].as_u64().unwrap();
    let pid = node.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let status = node.child.wait().unwrap();
    assert!(status.success(), "stopped with {status}");
    let node = start(&data, &["--block-ms", "50"]);
    assert!(node.get("/v1/status").body["height"].as_u64().unwrap() >= height);
    assert_eq!(amount(&node.account(&gridmint_core::Address::parse(&bob).unwrap())["spendable"]), expected);
}

/// Garbage on every route never crashes the server: every answer is a typed JSON error.
#[test]
fn garbage_never_crashes_the_server() {
    let seed = seed("garbage");
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let node = start(&dir.path().join("data"), &["--block-ms", "50", "--rate-limit", "0"]);
    let paths = ["/v1/tx", "/v1/tx/batch", "/v1/heartbeats", "/v1/tx?wait=true"];
    let fragments = [
        "{",
        "}",
        "[",
        "]",
        "\"tx\"",
        ":",
        ",",
        "\"signature\"",
        "1e999",
        "-0",
        "null",
        "\"kind\"",
        "\u{0}",
        "\"\\u0000\"",
    ];
    for i in 0..300 {
        let body: String = (0..rng.below(40)).map(|_| fragments[rng.below(fragments.len() as u64) as usize]).collect();
        let body = if i % 3 == 0 { (0..rng.below(200)).map(|_| rng.below(256) as u8 as char).collect() } else { body };
        let path = paths[i % paths.len()];
        let answer = node.client.post_bytes(path, body.as_bytes()).expect("the server answers");
        assert!((400..500).contains(&answer.status), "{path} {body:?} → {}", answer.status);
        assert!(answer.error_code().is_some(), "{path} {body:?} → {:?}", answer.body);
    }
    for _ in 0..100 {
        let alphabet = b"abcz09/-_.~";
        let junk: String =
            (0..rng.below(30)).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize] as char).collect();
        let answer = node.client.get(&format!("/v1/{junk}")).expect("the server answers");
        assert!(answer.status < 500, "GET /v1/{junk} → {}", answer.status);
    }
    assert_eq!(node.get("/v1/status").status, 200, "still serving");
}

/// `gridmint init` makes a real network's genesis from a policy and an allocation file; `gridmint
/// node` (no --dev) runs it; allocations above the cap need --raise-cap.
#[test]
fn init_creates_a_network_from_allocations() {
    let dir = tempfile::tempdir().unwrap();
    let alice = address_of(&key_from_label("init-alice"));
    let alloc = dir.path().join("alloc.toml");
    std::fs::write(&alloc, format!("[[allocations]]\naccount = \"{alice}\"\namount = \"1234.5\"\n")).unwrap();
    let data = dir.path().join("net");
    let run = |args: &[&str]| std::process::Command::new(BIN).args(args).output().unwrap();
    let refused = run(&[
        "init",
        "--policy",
        "netmind",
        "--allocations",
        alloc.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2), "netmind's pools fill its cap: allocations need --raise-cap");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--raise-cap"));
    let made = run(&[
        "init",
        "--policy",
        "netmind",
        "--allocations",
        alloc.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--raise-cap",
        "--chain-id",
        "test-net-1",
    ]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let again = run(&["init", "--policy", "netmind", "--data", data.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2), "init refuses an existing ledger");
    let port = free_port();
    let child = std::process::Command::new(BIN)
        .args(["node", "--data", data.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}"), "--block-ms", "50"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut node = NodeProc {
        child,
        client: gridmint_node::client::Client::new(&format!("http://127.0.0.1:{port}")),
        data,
        chain_id: String::new(),
    };
    let status = (0..200)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(50));
            node.client.get("/v1/status").ok().filter(|a| a.status == 200)
        })
        .expect("the node answers");
    assert_eq!(status.body["chain_id"], "test-net-1");
    node.chain_id = "test-net-1".into();
    assert_eq!(amount(&node.account(&alice)["spendable"]), 12345 * 10u128.pow(17));
    let supply = node.get("/v1/supply").body;
    assert_eq!(amount(&supply["total_supply"]), 10_000_000_000 * 10u128.pow(18) + 12345 * 10u128.pow(17));
}
