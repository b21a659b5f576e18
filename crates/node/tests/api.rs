//! The API's contract against a real node on loopback: the OpenAPI document is generated from
//! the router's own handlers (and committed, so a change shows in review); bad input gets a typed
//! error and changes nothing; hex is taken in either case and printed in lower case.

mod common;

use common::*;
use gridmint_core::{Address, Policy, Tx, TxBody};
use gridmint_node::node::Config;
use gridmint_node::signing::{SignedTx, address_of, key_from_label, load_key};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

fn quiet() -> Config {
    Config { rate_limit: 0, block_ms: 100, shutdown_grace_ms: 500, ..Config::default() }
}

/// A path of the document with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{address}", &"ab".repeat(32))
        .replace("{epoch}", "1")
        .replace("{height}", "latest")
        .replace("{id}", &"cd".repeat(32))
}

/// The routes in the document are exactly [`gridmint_node::api::ROUTES`], and each is served by
/// the real router: documented methods reach a handler (never `no_such_route` or
/// `method_not_allowed`), other methods on the same path get 405, and paths near the documented
/// ones get 404 — so the router serves nothing the document lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_and_every_documented_route_is_served() {
    let node = start(quiet()).await;
    let (_, served) = exchange(&node, 1, &get("/v1/openapi.json")).await;
    assert_eq!(served, gridmint_node::api::openapi_document(&quiet()), "the node serves the generated document");
    let mut documented = BTreeSet::new();
    for (path, item) in served["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let listed: BTreeSet<(String, String)> =
        gridmint_node::api::ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, listed);
    for (method, path) in &documented {
        let url = concrete(path);
        let request = if method == "get" { get(&url) } else { post(&url, "[]") };
        let (status, body) = exchange(&node, 1, &request).await;
        let code = body["error"]["code"].as_str().unwrap_or_default();
        assert!(
            !["no_such_route", "method_not_allowed"].contains(&code) && status != 500,
            "{method} {url}: {status} {body}"
        );
        for other in ["PUT", "DELETE", "PATCH", if method == "get" { "POST" } else { "GET" }] {
            let request =
                format!("{other} {url} HTTP/1.1\r\nhost: g\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let (status, body) = exchange(&node, 1, request.as_bytes()).await;
            assert_eq!((status, body["error"]["code"].as_str()), (405, Some("method_not_allowed")), "{other} {url}");
        }
    }
    for near in ["/v1", "/v1/", "/v1/status/x", "/v1/accounts", "/v1/epochs/1/proof", "/v1/tx/batch/x", "/metrics/x"] {
        let (status, body) = exchange(&node, 1, &get(near)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("no_such_route")), "{near}");
    }
    node.stop().await;
}

/// `crates/node/openapi.json` is the generated document (with the default limits), so readers
/// and tools that take the file see what a node serves. Regenerate it with
/// `GRIDMINT_WRITE_OPENAPI=1 cargo test -p gridmint-node --test api committed`.
#[test]
fn the_committed_openapi_document_is_the_generated_one() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let generated =
        serde_json::to_string_pretty(&gridmint_node::api::openapi_document(&Config::default())).unwrap() + "\n";
    if std::env::var_os("GRIDMINT_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "crates/node/openapi.json differs from the generated document: regenerate it with \
         GRIDMINT_WRITE_OPENAPI=1 cargo test -p gridmint-node --test api committed"
    );
}

fn signed(node: &Node, nonce: u64, body: TxBody, chain_id: &str) -> SignedTx {
    let key = load_key(&node.dev_key).unwrap();
    SignedTx::sign(Tx { signer: address_of(&key), nonce, body }, &key, chain_id)
}

async fn status(node: &Node) -> Value {
    let (status, body) = exchange(node, 1, &get("/v1/status")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A batch item with a duplicate key (which a generic JSON value would silently merge) is
/// refused with `400 invalid_transaction` naming the item, and nothing is admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_keys_are_refused_typed_and_change_nothing() {
    let node = start(quiet()).await;
    let chain_id = status(&node).await["chain_id"].as_str().unwrap().to_string();
    let good = signed(&node, 0, TxBody::Transfer { to: Address([7; 32]), amount: 1 }, &chain_id);
    let good_text = serde_json::to_string(&good).unwrap();
    let tx_text = serde_json::to_string(&good.tx).unwrap();
    // the same transaction twice under "tx", and a duplicate inside the body
    let dup_tx = good_text.replacen("{\"tx\":", &format!("{{\"tx\":{tx_text},\"tx\":"), 1);
    let dup_amount = good_text.replacen("\"amount\":\"1\"", "\"amount\":\"1\",\"amount\":\"1\"", 1);
    assert_ne!(dup_tx, good_text);
    assert_ne!(dup_amount, good_text);
    for (what, item) in [("tx", &dup_tx), ("amount", &dup_amount)] {
        for batch in [format!("[{item}]"), format!("[{good_text},{item}]")] {
            let index = if batch.starts_with(&format!("[{good_text},")) { 1 } else { 0 };
            for route in ["/v1/tx/batch", "/v1/heartbeats"] {
                let (status, body) = exchange(&node, 1, &post(route, &batch)).await;
                assert_eq!(
                    (status, body["error"]["code"].as_str()),
                    (400, Some("invalid_transaction")),
                    "{route} {what}: {body}"
                );
                let message = body["error"]["message"].as_str().unwrap();
                assert!(
                    message.contains(&format!("transaction {index}")) && message.contains("duplicate field"),
                    "{message}"
                );
            }
        }
        let (status, body) = exchange(&node, 1, &post("/v1/tx", item)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_transaction")), "{what}: {body}");
    }
    assert_eq!(status(&node).await["mempool"], 0, "nothing was admitted");
    node.stop().await;
}

/// Hex in upper case is taken everywhere hex is (paths, signer, signature, addresses in the
/// body) and every answer prints it in lower case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hex_is_taken_in_either_case_and_printed_in_lower_case() {
    let node = start(Config { block_ms: 600_000, ..quiet() }).await;
    let chain_id = status(&node).await["chain_id"].as_str().unwrap().to_string();
    let dev = address_of(&load_key(&node.dev_key).unwrap());
    let upper = dev.to_hex().to_ascii_uppercase();
    let (status_code, account) = exchange(&node, 1, &get(&format!("/v1/accounts/{upper}"))).await;
    assert_eq!(status_code, 200, "{account}");
    assert_eq!(account["address"], dev.to_hex());

    let to = address_of(&key_from_label("hex-case-recipient"));
    let tx = signed(&node, 0, TxBody::Transfer { to, amount: 5 }, &chain_id);
    let mut shouting = serde_json::to_value(&tx).unwrap();
    for pointer in ["/signature", "/tx/signer", "/tx/body/to"] {
        let field = shouting.pointer_mut(pointer).unwrap();
        *field = json!(field.as_str().unwrap().to_ascii_uppercase());
    }
    let (status_code, pending) = exchange(&node, 1, &post("/v1/tx", &shouting.to_string())).await;
    assert_eq!(status_code, 202, "{pending}");
    let id = hex::encode(tx.id());
    assert_eq!(pending, json!({"id": id, "status": "pending"}), "the same transaction, its id in lower case");
    // no block for ten minutes: still pending, asked for in upper case, answered in lower case
    let (status_code, again) = exchange(&node, 1, &get(&format!("/v1/tx/{}", id.to_ascii_uppercase()))).await;
    assert_eq!((status_code, &again), (200, &pending));
    node.stop().await;
}

/// Explaining an epoch for an address the epoch never knew is `404 unknown_account` (it was a
/// `200` of zeros); an account it knew is explained.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explaining_an_unknown_account_is_404() {
    let policy = gridmint_node::node::dev_epochs(&Policy::preset("netmind").unwrap(), 2).unwrap();
    let node = start_with(quiet(), policy).await;
    // wait for epoch 1 to close: bounded, and no assertion on how long it took
    for _ in 0..600 {
        if status(&node).await["epoch"].as_u64().unwrap() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dev = address_of(&load_key(&node.dev_key).unwrap());
    let stranger = address_of(&key_from_label("explain-stranger"));
    let (code, body) = exchange(&node, 1, &get(&format!("/v1/epochs/1/explain/{stranger}"))).await;
    assert_eq!((code, body["error"]["code"].as_str()), (404, Some("unknown_account")), "{body}");
    let (code, body) = exchange(&node, 1, &get(&format!("/v1/epochs/1/explain/{dev}"))).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["account"], dev.to_hex());
    let (code, body) = exchange(&node, 1, &get(&format!("/v1/epochs/1/explain/{}", "zz".repeat(32)))).await;
    assert_eq!((code, body["error"]["code"].as_str()), (400, Some("invalid_address")), "{body}");
    node.stop().await;
}

/// The bridge's listings (issue 14): an outbound record with its recipient as an EVM address and
/// the committee's published mint signature; a confirmed deposit above the epoch's cap listed as
/// waiting, not refused; the summary and `/metrics` count them; a recipient the contract could
/// never mint to is refused with its code; paging bounds are typed errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_lists_outbound_records_with_signatures_and_inbound_payouts() {
    let member_key = key_from_label("api-bridge-member");
    let member = address_of(&member_key);
    let mut policy = Policy::preset("netmind").unwrap();
    let bridge = policy.bridge.as_mut().unwrap();
    bridge.committee = vec![member];
    bridge.threshold = 1;
    // small amounts: the outbound minimum has its own rules test
    bridge.outbound_min = None;
    let node = start_with(quiet(), policy).await;
    let chain_id = status(&node).await["chain_id"].as_str().unwrap().to_string();
    let dev_key = load_key(&node.dev_key).unwrap();
    let dev = address_of(&dev_key);
    let mut evm = [0u8; 32];
    evm[12..].fill(0x11);
    let txs = [
        (&dev_key, 0, TxBody::BridgeOut { amount: 7_000, recipient: evm }),
        (&dev_key, 1, TxBody::BridgeOut { amount: 1, recipient: [0x11; 32] }),
        (&dev_key, 2, TxBody::Transfer { to: member, amount: gridmint_core::TOKEN }),
        (&member_key, 0, TxBody::BridgeSign { record: 0, signature: [5; 65] }),
        (&member_key, 1, TxBody::BridgeAttest { deposit_id: 42, recipient: dev, amount: 3_000 }),
    ];
    let mut codes = Vec::new();
    for (key, nonce, body) in txs {
        let tx = SignedTx::sign(Tx { signer: address_of(key), nonce, body }, key, &chain_id);
        let (code, receipt) = exchange(&node, 1, &post("/v1/tx?wait=true", &serde_json::to_string(&tx).unwrap())).await;
        assert_eq!(code, 200, "{receipt}");
        codes.push(receipt["code"].clone());
    }
    assert_eq!(codes, [0, 76, 0, 0, 0].map(|c| json!(c)), "a 32-byte recipient that is no EVM address: 76");

    let (code, summary) = exchange(&node, 1, &get("/v1/bridge")).await;
    assert_eq!(code, 200, "{summary}");
    assert_eq!(summary["escrow"], "7000");
    assert_eq!((summary["outbound_records"].clone(), summary["inbound_confirmed"].clone()), (json!(1), json!(1)));
    assert_eq!(summary["inbound_cap_epoch"], "0", "the first epoch's cap is 1% of an empty escrow");
    assert_eq!(summary["inbound_waiting"], "3000", "confirmed and waiting for room, not refused");
    assert_eq!((summary["threshold"].clone(), summary["committee"].clone()), (json!(1), json!([member.to_hex()])));

    let (code, outbound) = exchange(&node, 1, &get("/v1/bridge/outbound")).await;
    assert_eq!(code, 200, "{outbound}");
    let record = &outbound["records"][0];
    assert_eq!(record["id"], 0);
    assert_eq!(record["amount"], "7000");
    assert_eq!(record["recipient_evm"], format!("0x{}", "11".repeat(20)));
    assert_eq!(record["signatures"], json!([{"member": member.to_hex(), "signature": "05".repeat(65)}]));
    assert_eq!(outbound["next_from"], Value::Null);

    let (code, inbound) = exchange(&node, 1, &get("/v1/bridge/inbound?from=0&limit=1")).await;
    assert_eq!(code, 200, "{inbound}");
    let payout = &inbound["payouts"][0];
    assert_eq!((payout["deposit_id"].clone(), payout["paid"].clone()), (json!(42), json!("0")));
    assert_eq!((payout["amount"].clone(), payout["settled"].clone()), (json!("3000"), json!(false)));

    let text = metrics(&node).await;
    assert_eq!(metric(&text, "gridmint_bridge_outbound_records"), 1);
    assert_eq!(metric(&text, "gridmint_bridge_inbound_confirmed"), 1);
    assert_eq!(metric(&text, "gridmint_bridge_inbound_waiting"), 1);

    let (code, past) = exchange(&node, 1, &get("/v1/bridge/outbound?from=99")).await;
    assert_eq!((code, past), (200, json!({"records": [], "next_from": null})));
    for bad in ["limit=0", "limit=101", "from=-1", "cursor=1"] {
        let (code, body) = exchange(&node, 1, &get(&format!("/v1/bridge/inbound?{bad}"))).await;
        assert_eq!(code, 400, "{bad}: {body}");
    }
    node.stop().await;
}

/// An account's transactions (issue 15): newest first, those it signed and those naming it,
/// failed ones with their error, paged by `next_before` to the end without a repeat or a gap;
/// bad paging input is a typed error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_transactions_are_listed_newest_first_and_paged() {
    let node = start(quiet()).await;
    let chain_id = status(&node).await["chain_id"].as_str().unwrap().to_string();
    let dev = address_of(&load_key(&node.dev_key).unwrap());
    let to = address_of(&key_from_label("account-txs-recipient"));
    let mut batch: Vec<SignedTx> =
        (0..5u64).map(|n| signed(&node, n, TxBody::Transfer { to, amount: 1 + u128::from(n) }, &chain_id)).collect();
    // more than the dev account holds: committed as failed, its fee paid
    batch.push(signed(&node, 5, TxBody::Transfer { to, amount: u128::MAX / 2 }, &chain_id));
    let (code, body) =
        exchange(&node, 1, &post("/v1/tx/batch?wait=true", &serde_json::to_string(&batch).unwrap())).await;
    assert_eq!(code, 200, "{body}");
    let receipts = body["results"].as_array().unwrap().clone();
    assert_eq!(receipts.len(), 6, "{body}");
    assert!(receipts.iter().all(|r| r["status"] == "committed"), "{body}");
    let ids: Vec<String> = batch.iter().map(|t| hex::encode(t.id())).collect();

    // the signer's list, two at a time, newest first, to the end
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    let mut pages = 0;
    for _ in 0..10 {
        pages += 1;
        let url = match &before {
            Some(b) => format!("/v1/accounts/{dev}/txs?limit=2&before={b}"),
            None => format!("/v1/accounts/{dev}/txs?limit=2"),
        };
        let (code, page) = exchange(&node, 1, &get(&url)).await;
        assert_eq!(code, 200, "{url}: {page}");
        assert_eq!(page["address"], dev.to_hex());
        for t in page["txs"].as_array().unwrap() {
            assert_eq!((t["role"].as_str(), t["kind"].as_str()), (Some("signer"), Some("transfer")), "{t}");
            seen.push(t.clone());
        }
        match page["next_before"].as_str() {
            Some(next) => before = Some(next.to_string()),
            None => break,
        }
    }
    let listed: Vec<&str> = seen.iter().map(|t| t["id"].as_str().unwrap()).collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first, "every transaction once, newest first");
    assert_eq!(pages, 3, "six in pages of two: no empty page after a full last one");
    let failed = &seen[0];
    assert_eq!(failed["error"], "insufficient_balance", "{failed}");
    assert_ne!(failed["code"], 0);
    assert_eq!(failed["amount"], (u128::MAX / 2).to_string());
    assert_eq!((seen[5]["code"].as_u64(), seen[5]["amount"].as_str()), (Some(0), Some("1")));
    for (t, r) in seen.iter().rev().zip(&receipts) {
        assert_eq!((&t["height"], &t["index"]), (&r["height"], &r["index"]), "{t} vs {r}");
    }

    // the recipient sees the applied transactions that name it; the failed one changed nothing
    // for it and is not in its list
    let (_, page) = exchange(&node, 1, &get(&format!("/v1/accounts/{to}/txs"))).await;
    let named: Vec<&str> = page["txs"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(named, newest_first[1..]);
    assert!(page["txs"].as_array().unwrap().iter().all(|t| t["role"] == "named"));
    assert!(page["next_before"].is_null(), "fewer than a page: no next page");
    // an address nothing names: an empty list
    let (code, page) = exchange(&node, 1, &get(&format!("/v1/accounts/{}/txs", "ab".repeat(32)))).await;
    assert_eq!((code, page["txs"].as_array().map(Vec::len)), (200, Some(0)), "{page}");

    for (query, error) in [
        ("before=abc", "invalid_number"),
        ("before=+5", "invalid_number"),
        ("before=5.", "invalid_number"),
        ("before=5.1.2", "invalid_number"),
        ("limit=0", "invalid_query"),
        ("limit=101", "invalid_query"),
        ("page=2", "invalid_query"),
    ] {
        let (code, body) = exchange(&node, 1, &get(&format!("/v1/accounts/{dev}/txs?{query}"))).await;
        assert_eq!((code, body["error"]["code"].as_str()), (400, Some(error)), "{query}: {body}");
    }
    // a cursor past the greatest height or index stands for it: everything is before it
    for huge in ["18446744073709551616", "1.4294967296", "99999999999999999999999.99999999999999"] {
        let (code, page) = exchange(&node, 1, &get(&format!("/v1/accounts/{dev}/txs?before={huge}&limit=100"))).await;
        // "1.…": every transaction of height 1 (the block the six may share), none after it
        let at_height_1 = seen.iter().filter(|t| t["height"].as_u64() == Some(1)).count();
        let expected = if huge.starts_with("1.") { at_height_1 } else { 6 };
        assert_eq!((code, page["txs"].as_array().map(Vec::len)), (200, Some(expected)), "{huge}: {page}");
    }
    let (code, page) = exchange(&node, 1, &get(&format!("/v1/accounts/{dev}/txs?before=0&limit=100"))).await;
    assert_eq!((code, page["txs"].as_array().map(Vec::len)), (200, Some(0)), "nothing before height 0: {page}");
    node.stop().await;
}

/// Governance over the API: a proposal with its tally, the proposer's second one refused while
/// the first is open (NM12's bound), paging and bad input typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governance_lists_proposals_with_their_tallies() {
    let node = start(quiet()).await;
    let chain_id = status(&node).await["chain_id"].as_str().unwrap().to_string();
    let dev = address_of(&load_key(&node.dev_key).unwrap());
    let to = address_of(&key_from_label("governance-recipient"));
    let spend = gridmint_core::ProposalAction::TreasurySpend { to, amount: 5 };
    let batch = vec![
        signed(&node, 0, TxBody::Propose { action: spend.clone() }, &chain_id),
        signed(&node, 1, TxBody::Propose { action: spend.clone() }, &chain_id),
        signed(&node, 2, TxBody::Vote { proposal: 1, yes: true }, &chain_id),
    ];
    let (code, body) =
        exchange(&node, 1, &post("/v1/tx/batch?wait=true", &serde_json::to_string(&batch).unwrap())).await;
    assert_eq!(code, 200, "{body}");
    let codes: Vec<u64> = body["results"].as_array().unwrap().iter().map(|r| r["code"].as_u64().unwrap()).collect();
    assert_eq!(codes, vec![0, 66, 0], "{body}");
    assert_eq!(body["results"][1]["error"], "proposer_has_open_proposal");

    let (code, list) = exchange(&node, 1, &get("/v1/governance")).await;
    assert_eq!(code, 200, "{list}");
    assert_eq!((list["total"].as_u64(), list["open"].as_u64()), (Some(1), Some(1)), "{list}");
    let p = &list["proposals"][0];
    assert_eq!(p["id"], 1);
    assert_eq!(p["proposer"], dev.to_hex());
    assert_eq!(p["action"], json!({"action": "treasury_spend", "to": to.to_hex(), "amount": "5"}));
    assert_eq!((p["voters"].as_u64(), p["outcome"].as_str(), p["no"].as_str()), (Some(1), Some("voting"), Some("0")));
    let yes: u128 = p["yes"].as_str().unwrap().parse().unwrap();
    assert!(yes > 0, "the dev account's weight at the start: {p}");
    assert!(list["next_before"].is_null());
    let (_, page) = exchange(&node, 1, &get("/v1/governance?before=1")).await;
    assert_eq!(page["proposals"], json!([]), "nothing below id 1");
    for (query, error) in [
        ("before=x", "invalid_number"),
        ("limit=0", "invalid_query"),
        ("limit=101", "invalid_query"),
        ("a=1", "invalid_query"),
    ] {
        let (code, body) = exchange(&node, 1, &get(&format!("/v1/governance?{query}"))).await;
        assert_eq!((code, body["error"]["code"].as_str()), (400, Some(error)), "{query}: {body}");
    }
    node.stop().await;
}
