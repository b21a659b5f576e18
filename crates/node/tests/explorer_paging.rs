//! The explorer's pages that a cheap request must not make expensive (issue 15), over real
//! HTTP: a block of 250 transactions is shown a page at a time with working links, and `/tx`
//! shows the one body it names; an owner of 120 machines has its explain page paged, with the
//! totals still over every machine; a machine of that owner shows the slots the explain records
//! hold; the validators page agrees with the API.

mod common;

use common::*;
use gridmint_core::connection_reward::FleetMachine;
use gridmint_core::{Address, Policy, Tx, TxBody};
use gridmint_node::ledger::Proposal;
use gridmint_node::node::Config;
use gridmint_node::signing::{SignedTx, address_of, load_key};

const TXS: usize = 250;
const MACHINES: u32 = 120;

fn quiet() -> Config {
    Config { rate_limit: 0, block_ms: 100, shutdown_grace_ms: 500, ..Config::default() }
}

fn machine(i: u32) -> Address {
    let mut a = [0x4d; 32];
    a[..4].copy_from_slice(&i.to_be_bytes());
    Address(a)
}

const OWNER: Address = Address([0x6f; 32]);

/// A dev NetMind node (60-second epochs): block 1 holds 250 transfers of the dev account; an
/// owner of 120 machines, machine `i` online `i % 60` slots of epoch 1; block 2 registers the dev
/// account as a validator; epochs 1 and 2 closed.
/// Returns the node and the ids of block 1's transactions, in order.
async fn history() -> (Node, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let policy = gridmint_node::node::dev_epochs(&Policy::preset("netmind").unwrap(), 60).unwrap();
    let (mut ledger, dev_key) = gridmint_node::node::create_dev(dir.path(), policy).unwrap();
    let dev = load_key(&dev_key).unwrap();
    let chain = ledger.genesis.chain_id.clone();
    let txs: Vec<SignedTx> = (0..TXS as u64)
        .map(|n| {
            let body = TxBody::Transfer { to: Address([0x11; 32]), amount: u128::from(n) + 1 };
            SignedTx::sign(Tx { signer: address_of(&dev), nonce: n, body }, &dev, &chain)
        })
        .collect();
    let ids = txs.iter().map(|t| hex::encode(t.id())).collect();
    let time = ledger.state.time;
    ledger.commit(Proposal { time, txs }).unwrap();
    // block 2: the dev account becomes a validator
    let bond = ledger.state.policy.staking.validator_bond_min.base_units().max(gridmint_core::TOKEN);
    let register = Tx { signer: address_of(&dev), nonce: TXS as u64, body: TxBody::RegisterValidator { bond } };
    ledger.commit(Proposal { time, txs: vec![SignedTx::sign(register, &dev, &chain)] }).unwrap();
    // the fleet, outside transactions (as a genesis fleet is), and its heartbeats
    let fleet: Vec<FleetMachine> = (0..MACHINES)
        .map(|i| FleetMachine { owner: OWNER, machine: machine(i), gpu_class: 1, bandwidth_mbps: 1000 })
        .collect();
    ledger.state.add_machines(&fleet).unwrap();
    let genesis = ledger.state.genesis_time;
    let producer = Address::system("paging-producer");
    let slot_seconds = ledger.state.policy.epoch.slot_seconds;
    for slot in 0..59u64 {
        let at = genesis + slot * slot_seconds;
        if at >= ledger.state.epoch_end_time(1) {
            break;
        }
        ledger.state.advance_time(at.max(ledger.state.time));
        for i in (0..MACHINES).filter(|i| u64::from(i % 60) > slot) {
            let beat = Tx { signer: machine(i), nonce: 0, body: TxBody::Heartbeat { slot } };
            ledger.state.apply_tx(&beat, producer).unwrap();
        }
    }
    let mut time = ledger.state.time;
    while ledger.state.epoch <= 2 {
        time = ledger.state.epoch_end_time(ledger.state.epoch);
        ledger.commit(Proposal { time, txs: vec![] }).unwrap();
    }
    ledger.commit(Proposal { time: time + 1, txs: vec![] }).unwrap();
    (serve(quiet(), ledger, dir, dev_key).await, ids)
}

/// (status, body)
async fn page(node: &Node, path: &str) -> (u16, String) {
    let mut stream = connect_from(node, 1).await;
    tokio::io::AsyncWriteExt::write_all(&mut stream, &get(path)).await.unwrap();
    let text = String::from_utf8(read_to_close(&mut stream).await).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head[9..12].parse().unwrap(), body.to_string())
}

async fn ok_page(node: &Node, path: &str) -> String {
    let (status, body) = page(node, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// The transaction ids a block page links to, in order.
fn tx_links(body: &str) -> Vec<String> {
    body.split("href=\"/tx/").skip(1).map(|t| t[..64].to_string()).collect()
}

/// The `?from=` targets of a page's links to `prefix`, in order.
fn from_links(body: &str, prefix: &str) -> Vec<u64> {
    body.split(&format!("href=\"{prefix}?from="))
        .skip(1)
        .map(|t| t.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap())
        .collect()
}

/// Goal: each request shows exactly one page of the block's transactions (the requested
/// positions, their ids) with previous/next links that lead to the neighbouring pages, the
/// block's hash as the API computes it from all of them, and `/tx` the body it names.
/// Method: a block of 250 transfers (nonce = position), read page by page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_block_is_shown_a_page_at_a_time_with_working_links() {
    let (node, ids) = history().await;
    let api = exchange(&node, 1, &get("/v1/blocks/1")).await.1;
    assert_eq!(api["txs"].as_array().unwrap().len(), TXS);
    let first = ok_page(&node, "/blocks/1").await;
    assert_eq!(tx_links(&first), ids[..100].to_vec());
    assert!(first.contains(&format!("<code>{}</code>", api["hash"].as_str().unwrap())), "the block's hash");
    assert!(first.contains("Transactions 0 to 99 of 250."), "{first}");
    assert_eq!(from_links(&first, "/blocks/1"), vec![100], "next only");
    let middle = ok_page(&node, "/blocks/1?from=100").await;
    assert_eq!(tx_links(&middle), ids[100..200].to_vec());
    assert!(middle.contains("<tr><td>100</td>") && middle.contains("<tr><td>199</td>"), "positions in the block");
    assert_eq!(from_links(&middle, "/blocks/1"), vec![0, 200], "previous and next");
    let last = ok_page(&node, "/blocks/1?from=200").await;
    assert_eq!(tx_links(&last), ids[200..].to_vec());
    assert_eq!(from_links(&last, "/blocks/1"), vec![100], "previous only");
    // an odd start still shows 100 from there
    let odd = ok_page(&node, "/blocks/1?from=37").await;
    assert_eq!(tx_links(&odd), ids[37..137].to_vec());
    assert_eq!(from_links(&odd, "/blocks/1"), vec![0, 137]);
    assert_eq!(page(&node, "/blocks/1?from=250").await.0, 404, "past the last transaction");
    assert_eq!(page(&node, "/blocks/1?from=x").await.0, 400);
    assert_eq!(page(&node, "/blocks/1?limit=5").await.0, 400, "the page size is fixed");
    // a block of a few transactions has no pager
    let small = ok_page(&node, "/blocks/2").await;
    assert!(from_links(&small, "/blocks/2").is_empty() && !small.contains("tx-window"));
    // the body of transaction 137 is its own (nonce 137, amount 138)
    let tx = ok_page(&node, &format!("/tx/{}", ids[137])).await;
    assert!(tx.contains("<th scope=\"row\">Position</th><td>137</td>"), "{tx}");
    assert!(tx.contains("<th scope=\"row\">Nonce</th><td>137</td>"), "{tx}");
    assert!(tx.contains("&quot;amount&quot;: &quot;138&quot;"), "{tx}");
    node.stop().await;
}

/// The machine addresses of an explain answer, in order.
fn api_machines(v: &serde_json::Value) -> Vec<String> {
    v["machines"].as_array().unwrap().iter().map(|m| m["machine"].as_str().unwrap().to_string()).collect()
}

/// The machine rows (`data-machine`) of an explain page, in order.
fn page_machines(body: &str) -> Vec<String> {
    body.split("data-machine=\"").skip(1).map(|t| t[..64].to_string()).collect()
}

/// Goal: the explain page of an owner with more machines than a page shows that page (the
/// API's machines at those positions, rows and words alike) and links on and back, while what
/// the close credited its machines stays the total over all of them. Method: an owner of 120
/// machines, pages at 0, 50 and 100.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owners_explain_page_is_paged_and_its_totals_cover_every_machine() {
    let (node, _) = history().await;
    let owner = OWNER.to_hex();
    let api = exchange(&node, 1, &get(&format!("/v1/epochs/1/explain/{owner}"))).await.1;
    let all = api_machines(&api);
    assert_eq!(all.len(), MACHINES as usize);
    let base = format!("/accounts/{owner}/epochs/1");
    let first = ok_page(&node, &base).await;
    assert!(first.contains("Its machines in the epoch's record (120)"), "{first}");
    assert_eq!(page_machines(&first), all[..50].to_vec());
    assert_eq!(first.matches("<li><code>").count(), 50, "the words cover the page's machines only");
    assert!(first.contains("Machines 1 to 50 of 120"), "{first}");
    assert_eq!(from_links(&first, &base), vec![50, 50], "next, above and below the machines");
    let earned = api["earned_by_machines"].as_str().unwrap();
    assert!(
        first.contains(&format!(
            "<th scope=\"row\">… by its machines</th><td><span class=\"amount\" data-value=\"{earned}\""
        )),
        "the total over all 120 machines: {earned}"
    );
    let middle = ok_page(&node, &format!("{base}?from=50")).await;
    assert_eq!(page_machines(&middle), all[50..100].to_vec());
    assert_eq!(from_links(&middle, &base), vec![0, 100, 0, 100]);
    let last = ok_page(&node, &format!("{base}?from=100")).await;
    assert_eq!(page_machines(&last), all[100..].to_vec());
    assert_eq!(from_links(&last, &base), vec![50, 50], "previous only");
    // the proof part is on every page
    for body in [&first, &middle, &last] {
        assert!(body.contains("id=\"verify\"") || body.contains("id=\"no-proof\""));
    }
    assert_eq!(page(&node, &format!("{base}?from=120")).await.0, 404);
    assert_eq!(page(&node, &format!("{base}?from=-1")).await.0, 400);
    node.stop().await;
}

/// Goal: the machine page of one machine among an owner's many shows, per closed epoch, the
/// online slots and outcome its owner's explain records hold (what the API's explain answer
/// says of it). Method: machines 17 and 59 and 119 of the 120-machine owner, epochs 1 and 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_of_a_big_owner_shows_its_own_slots() {
    let (node, _) = history().await;
    let owner = OWNER.to_hex();
    for i in [17u32, 59, 119] {
        let hex = machine(i).to_hex();
        let body = ok_page(&node, &format!("/machines/{hex}")).await;
        for epoch in [1u64, 2] {
            let api = exchange(&node, 1, &get(&format!("/v1/epochs/{epoch}/explain/{owner}"))).await.1;
            let entry = api["machines"].as_array().unwrap().iter().find(|m| m["machine"] == hex.as_str()).unwrap();
            let slots = entry["online_slots"].as_u64().unwrap();
            if epoch == 1 {
                assert_eq!(slots, u64::from(i % 60), "the history's heartbeats");
            }
            let row = format!("<tr><td><a href=\"/epochs/{epoch}\">{epoch}</a></td><td>{slots}</td>");
            assert!(body.contains(&row), "machine {i}, epoch {epoch}: {row}\n{body}");
            let qualified = if entry["qualified"].as_bool().unwrap() { "yes" } else { "no" };
            assert!(body.contains(&format!(
                "{row}<td>{}</td><td>{}</td>",
                api["connection_reward"]["min_online_slots"],
                {
                    if qualified == "yes" {
                        "<span class=\"ok\">yes</span>"
                    } else {
                        "<span class=\"refused\">no</span>"
                    }
                }
            )));
            let earned = entry["earned"].as_str().unwrap();
            assert!(body.contains(&format!("title=\"{earned} base units\"")), "earned {earned}");
        }
    }
    node.stop().await;
}

/// Goal: the validators page lists what the API lists, with the same master-node flags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_validators_page_agrees_with_the_api() {
    let (node, _) = history().await;
    let api = exchange(&node, 1, &get("/v1/validators")).await.1;
    let body = ok_page(&node, "/validators").await;
    let validators = api["validators"].as_array().unwrap();
    assert!(!validators.is_empty());
    assert!(body.contains(&format!("Validators <span class=\"muted\">{}</span>", validators.len())));
    for v in validators {
        let address = v["address"].as_str().unwrap();
        let master = if v["master_node"].as_bool().unwrap() { "<span class=\"ok\">yes</span>" } else { "no" };
        let row = body.split(&format!("<tr><td><a href=\"/accounts/{address}\">")).nth(1).unwrap();
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(row.ends_with(&format!("<td>{master}</td>")), "{row}");
        assert!(row.contains(&format!("title=\"{} base units\"", v["active_stake"].as_str().unwrap())), "{row}");
    }
    node.stop().await;
}
