//! Integrity under attack, against a real node process on loopback (issue 11): what a cheap
//! transaction can no longer do. Every test here failed on the node before its fix.

mod common;
use common::{keys, start};
use gridmint_core::{ProposalAction, TxBody};
use gridmint_node::signing::address_of;
use serde_json::{Value, json};
use std::time::Duration;

fn metric(node: &common::NodeProc, name: &str) -> u64 {
    let text = node.client.get("/metrics").unwrap().body;
    let text = text.as_str().unwrap_or_default().to_string();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name}"))
}

fn wait_blocks(node: &common::NodeProc, n: u64) {
    let start = node.get("/v1/status").body["height"].as_u64().unwrap();
    while node.get("/v1/status").body["height"].as_u64().unwrap() < start + n {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// G10: an account holding one base unit used to get 50,000 failing transfers stored for
/// free. Now each is refused at admission (it cannot pay the fee): nothing is queued, nothing
/// committed, nothing stored, and the spammer's nonce and balance are unchanged.
#[test]
fn spam_that_cannot_pay_is_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(&dir.path().join("data"), &["--block-ms", "50", "--rate-limit", "0"]);
    let spammer = keys("spammer", 1).remove(0);
    node.fund(std::slice::from_ref(&spammer), 1);
    let committed = metric(&node, "gridmint_tx_committed_total");
    let batch: Vec<_> = (0..5_000u64)
        .map(|i| {
            let to = address_of(&keys(&format!("victim{}", i % 7), 1)[0]);
            node.sign(&spammer, 0, TxBody::Transfer { to, amount: 1 + i as u128 })
        })
        .collect();
    let answer = node.post("/v1/tx/batch", &json!(batch));
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["accepted"], 0, "nothing a spammer without a fee sends is admitted");
    assert_eq!(answer.body["refused"], 5_000);
    let first = &answer.body["results"][0];
    assert_eq!(first["error"]["code"], "insufficient_fee", "{first}");
    wait_blocks(&node, 3);
    assert_eq!(metric(&node, "gridmint_tx_committed_total"), committed, "nothing committed");
    let id = hex::encode(batch[0].id());
    assert_eq!(node.get(&format!("/v1/tx/{id}")).status, 404, "nothing stored");
    let account = node.account(&address_of(&spammer));
    assert_eq!((account["spendable"].as_str(), account["nonce"].as_u64()), (Some("1"), Some(0)));
}

/// A proposal over the encoding's limits (a 257-byte key ending in a two-byte character; 33
/// changes) used to commit and then make the node unable to restart. Now both are refused at
/// admission; proposals at the limits commit, and the node restarts after kill -9.
#[test]
fn transactions_over_the_limits_are_refused_and_the_node_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut node = start(&data, &["--block-ms", "50", "--rate-limit", "0"]);
    let dev = node.dev_key();
    let change = |changes: Vec<(String, String)>| TxBody::Propose { action: ProposalAction::PolicyChange { changes } };
    let long_key = "a".repeat(255) + "é";
    let over: Vec<TxBody> =
        vec![change(vec![(long_key, "1".into())]), change((0..33).map(|i| (format!("k{i}"), "1".into())).collect())];
    for body in over {
        let tx = node.sign(&dev, node.next_nonce(&address_of(&dev)), body);
        let answer = node.post("/v1/tx", &json!(tx));
        assert_eq!(answer.status, 400, "{:?}", answer.body);
        assert_eq!(answer.error_code(), Some("invalid_transaction"), "{:?}", answer.body);
    }
    let at_limits = vec![
        change(vec![("a".repeat(254) + "é", "1".into())]),
        change((0..32).map(|i| (format!("k{i}"), "x".repeat(256))).collect()),
    ];
    for body in at_limits {
        let tx = node.sign(&dev, node.next_nonce(&address_of(&dev)), body);
        let answer = node.post("/v1/tx?wait=true", &json!(tx));
        assert_eq!(answer.body["status"], "committed", "{:?}", answer.body);
    }
    let height = node.get("/v1/status").body["height"].as_u64().unwrap();
    node.kill9();
    let node = start(&data, &["--block-ms", "50", "--rate-limit", "0"]);
    let status = node.get("/v1/status").body;
    assert!(status["height"].as_u64().unwrap() >= height, "{status}");
    let (code, out) = {
        drop(node);
        let out = std::process::Command::new(common::BIN)
            .args(["replay", "--data", data.to_str().unwrap()])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    assert_eq!(code, Some(0), "{out}");
}

/// NM6 / G10 over HTTP: a heartbeat marks the slot of the node's time. One for a past slot or
/// one far ahead is refused and not stored; a retry of a heartbeat refused as early is accepted
/// once its slot comes (no stored rejection answers it forever).
#[test]
fn heartbeats_mark_the_current_slot_only() {
    let dir = tempfile::tempdir().unwrap();
    // 600-second epochs make 3-second slots: a tolerance of 3 s either side, so a stalled test
    // process (CI under load) does not push a heartbeat across a window by accident
    let node = start(&dir.path().join("data"), &["--block-ms", "50", "--epoch-seconds", "600", "--rate-limit", "0"]);
    let dev = node.dev_key();
    let gpu = keys("hb-gpu", 1).remove(0);
    let register = node.sign(
        &dev,
        node.next_nonce(&address_of(&dev)),
        TxBody::RegisterMachine { machine: address_of(&gpu), gpu_class: 1, bandwidth_mbps: 1000, bond: 0 },
    );
    assert_eq!(node.post("/v1/tx?wait=true", &json!(register)).body["code"], 0);
    let status = node.get("/v1/status").body;
    let (genesis, slot_seconds) = (status["genesis_time"].as_u64().unwrap(), status["slot_seconds"].as_u64().unwrap());
    assert_eq!(slot_seconds, 3);
    let now_slot = || {
        let now = gridmint_node::node::now_seconds();
        (now - genesis) / slot_seconds
    };
    let send = |slot: u64| -> Value {
        let hb = node.sign(&gpu, 0, TxBody::Heartbeat { slot });
        node.post("/v1/heartbeats?wait=true", &json!([hb])).body["results"][0].clone()
    };
    // ahead of the node's time by more than the tolerance: refused, never stored
    let ahead = now_slot() + 4;
    let early = send(ahead);
    assert_eq!(early["status"], "refused", "{early}");
    assert_eq!(early["error"]["code"], "slot_not_current", "{early}");
    // the same heartbeat, retried when its slot has come: accepted and committed
    while now_slot() < ahead {
        std::thread::sleep(Duration::from_millis(100));
    }
    let retried = send(ahead);
    assert_eq!((retried["status"].as_str(), retried["code"].as_u64()), (Some("committed"), Some(0)), "{retried}");
    // three slots in the past: refused
    let past = send(now_slot() - 3);
    assert_eq!(past["error"]["code"], "slot_not_current", "{past}");
    // and a second one for the same slot is refused
    let again = send(ahead);
    assert!(
        again["status"] == "committed" || again["error"]["code"] == "slot_already_marked",
        "the same heartbeat answers its receipt, another is refused: {again}"
    );
    let machine = node.get(&format!("/v1/machines/{}", address_of(&gpu))).body;
    assert_eq!(machine["machine"]["online_slots"], 1, "{machine}");
}

/// The rate limit counts transactions, not requests: with `--rate-limit 10` (500 transactions a
/// second per client) a batch of 600 is refused whole with 429, one of 400 is served.
#[test]
fn a_batch_spends_one_unit_of_rate_per_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(&dir.path().join("data"), &["--block-ms", "50", "--rate-limit", "10"]);
    let stranger = keys("rate-stranger", 1).remove(0);
    let beats = |n: u64| -> Vec<_> { (0..n).map(|slot| node.sign(&stranger, 0, TxBody::Heartbeat { slot })).collect() };
    std::thread::sleep(Duration::from_millis(1_100)); // a full bucket
    let answer = node.post("/v1/heartbeats", &json!(beats(600)));
    assert_eq!(answer.status, 429, "{:?}", answer.body);
    assert_eq!(answer.error_code(), Some("rate_limited"));
    std::thread::sleep(Duration::from_millis(1_100));
    let answer = node.post("/v1/heartbeats", &json!(beats(400)));
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["refused"], 400, "an unregistered machine's heartbeats, screened");
}
