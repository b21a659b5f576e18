//! State at scale (issue 12), end to end with real processes: account proofs served by a live
//! node verify offline against the block's state root and fail when tampered with.

mod common;

use common::{BIN, amount, keys, start};
use gridmint_node::signing::address_of;
use serde_json::Value;

fn verify_account(file: &std::path::Path, root: Option<&str>) -> (i32, String) {
    let mut command = std::process::Command::new(BIN);
    command.args(["verify-account", file.to_str().unwrap()]);
    if let Some(root) = root {
        command.args(["--root", root]);
    }
    let out = command.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Goal: `GET /v1/accounts/{a}/proof` proves the account's balances against the state root of
/// the tip block (the same root `GET /v1/blocks/{height}` shows), `gridmint verify-account`
/// accepts it, and refuses it with a balance changed or against another block's root.
/// Method: a dev node, transfers to fresh keys, proofs fetched while blocks go on.
#[test]
fn account_proofs_from_a_live_node_verify_offline() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(&dir.path().join("data"), &["--block-ms", "50", "--rate-limit", "0"]);
    let users = keys("proof-user", 5);
    node.fund(&users, 7_000);
    for user in &users {
        let answer = node.get(&format!("/v1/accounts/{}/proof", address_of(user)));
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let body = answer.body;
        assert_eq!(amount(&body["proof"]["spendable"]), 7_000);
        let height = body["height"].as_u64().unwrap();
        let block = node.get(&format!("/v1/blocks/{height}")).body;
        assert_eq!(block["state_root"], body["state_root"], "the proof is of the block at its height");
        assert_eq!(block["hash"], body["block_hash"]);
        let file = dir.path().join("proof.json");
        std::fs::write(&file, serde_json::to_vec(&body).unwrap()).unwrap();
        let (code, out) = verify_account(&file, None);
        assert_eq!(code, 0, "{out}");
        assert!(out.starts_with("valid:") && out.contains("7000 spendable"), "{out}");
        let root = body["state_root"].as_str().unwrap();
        assert_eq!(verify_account(&file, Some(root)).0, 0);

        let mut tampered: Value = body.clone();
        tampered["proof"]["spendable"] = "7001".into();
        std::fs::write(&file, serde_json::to_vec(&tampered).unwrap()).unwrap();
        let (code, out) = verify_account(&file, Some(root));
        assert_eq!(code, 1, "{out}");
        assert!(out.starts_with("INVALID"), "{out}");
    }
    // a proof of one block does not verify against an older block's root
    let body = node.get(&format!("/v1/accounts/{}/proof", address_of(&users[0]))).body;
    let file = dir.path().join("proof.json");
    std::fs::write(&file, serde_json::to_vec(&body).unwrap()).unwrap();
    let old_root = node.get("/v1/blocks/1").body["state_root"].as_str().unwrap().to_string();
    assert_ne!(old_root, body["state_root"].as_str().unwrap());
    assert_eq!(verify_account(&file, Some(&old_root)).0, 1);
    // unknown accounts and malformed addresses are typed errors
    let unknown = node.get(&format!("/v1/accounts/{}/proof", "ab".repeat(32)));
    assert_eq!((unknown.status, unknown.error_code()), (404, Some("unknown_account")));
    let bad = node.get("/v1/accounts/xyz/proof");
    assert_eq!(bad.status, 400);
}
