//! The explorer's cost at scale (issue 15's performance goal), an ignored test run by
//! `bash bench/explorer.sh`: a dev NetMind node with 100,000 accounts owning 100,000 machines
//! (half of them online for 20 slots of the first epoch), one owner of 10,000 more machines
//! (online alike), one full block ([`FULL_BLOCK`] transfers) and [`CLOSED`] closed epochs; each
//! page, among them the big owner's explain page and one of its machines, the full block's page
//! and its last transaction, requested over loopback (p50 / p99 of the whole request, one at a
//! time), then the blocks a second the node produces with and without 50 page loads a second.
//! Prints the figures; never fails on a timing.
#![allow(clippy::disallowed_methods)]

mod common;

use common::*;
use gridmint_core::connection_reward::FleetMachine;
use gridmint_core::{Address, Policy, Tx, TxBody};
use gridmint_node::ledger::Proposal;
use gridmint_node::node::Config;
use std::time::{Duration, Instant};

const MACHINES: u32 = 100_000;
/// The big owner's machines.
const FLEET: u32 = 10_000;
/// Transactions in the full block (the node's `max_block_txs`).
const FULL_BLOCK: u64 = 100_000;
/// Closed epochs (more than the machine page's 60).
const CLOSED: u64 = 62;

fn address(tag: u8, i: u32) -> Address {
    let mut a = [tag; 32];
    a[..4].copy_from_slice(&i.to_be_bytes());
    Address(a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement (bash bench/explorer.sh)"]
async fn explorer_at_100k_accounts_and_machines() {
    let built = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let policy = gridmint_node::node::dev_epochs(&Policy::preset("netmind").unwrap(), 60).unwrap();
    let (mut ledger, dev_key) = gridmint_node::node::create_dev(dir.path(), policy).unwrap();
    // the fleet, outside transactions (as a genesis fleet is): one owner a machine
    let fleet: Vec<FleetMachine> = (0..MACHINES)
        .map(|i| FleetMachine { owner: address(1, i), machine: address(2, i), gpu_class: 1, bandwidth_mbps: 1000 })
        .collect();
    ledger.state.add_machines(&fleet).unwrap();
    // one owner of FLEET machines
    let big: Vec<FleetMachine> = (0..FLEET)
        .map(|i| FleetMachine { owner: address(3, 0), machine: address(4, i), gpu_class: 1, bandwidth_mbps: 1000 })
        .collect();
    ledger.state.add_machines(&big).unwrap();
    let genesis = ledger.state.genesis_time;
    let producer = Address::system("bench-producer");
    for slot in 0..20u64 {
        ledger.state.advance_time(genesis + slot);
        for i in (0..MACHINES).step_by(2) {
            let beat = Tx { signer: address(2, i), nonce: 0, body: TxBody::Heartbeat { slot } };
            ledger.state.apply_tx(&beat, producer).unwrap();
        }
        for i in (0..FLEET).step_by(2) {
            let beat = Tx { signer: address(4, i), nonce: 0, body: TxBody::Heartbeat { slot } };
            ledger.state.apply_tx(&beat, producer).unwrap();
        }
    }
    // one full block: FULL_BLOCK transfers of the dev account
    let dev = gridmint_node::signing::load_key(&dev_key).unwrap();
    let chain = ledger.genesis.chain_id.clone();
    let signer = gridmint_node::signing::address_of(&dev);
    let full: Vec<gridmint_node::signing::SignedTx> = (0..FULL_BLOCK)
        .map(|n| {
            let body = TxBody::Transfer { to: address(5, (n % 1000) as u32), amount: u128::from(n) + 1 };
            gridmint_node::signing::SignedTx::sign(Tx { signer, nonce: n, body }, &dev, &chain)
        })
        .collect();
    let last_tx = hex::encode(full.last().unwrap().id());
    ledger.commit(Proposal { time: ledger.state.time, txs: full }).unwrap();
    let full_height = ledger.state.height;
    // the closes through the ledger: their summaries, leaves and explain records are stored
    let mut time = ledger.state.time;
    while ledger.state.epoch <= CLOSED {
        time = ledger.state.epoch_end_time(ledger.state.epoch);
        ledger.commit(Proposal { time, txs: vec![] }).unwrap();
    }
    ledger.commit(Proposal { time: time + 1, txs: vec![] }).unwrap();
    println!(
        "state: {} accounts, {} machines (one owner of {FLEET}), epoch {}, block {full_height} of {FULL_BLOCK} \
         transactions (built in {:.1} s)",
        ledger.state.accounts.len(),
        ledger.state.machines.len(),
        ledger.state.epoch,
        built.elapsed().as_secs_f64()
    );
    let config = Config { rate_limit: 0, block_ms: 100, shutdown_grace_ms: 500, ..Config::default() };
    let node = serve(config, ledger, dir, dev_key).await;
    let owner = address(1, 4242).to_hex();
    let machine = address(2, 4242).to_hex();
    let pages = [
        "/".to_string(),
        "/epochs/1".into(),
        "/blocks/1".into(),
        format!("/accounts/{owner}"),
        format!("/machines/{machine}"),
        "/validators".into(),
        "/governance".into(),
        "/bridge".into(),
        format!("/search?q={machine}"),
        format!("/accounts/{}/epochs/{}", address(3, 0).to_hex(), CLOSED - 1),
        format!("/accounts/{}/epochs/{}?from={}", address(3, 0).to_hex(), CLOSED - 1, FLEET - 50),
        format!("/machines/{}", address(4, FLEET / 2).to_hex()),
        format!("/blocks/{full_height}"),
        format!("/blocks/{full_height}?from={}", FULL_BLOCK - 100),
        format!("/tx/{last_tx}"),
    ];
    println!("page, status, bytes: p50 / p99 / max ms over 100 requests, one at a time, over loopback");
    for path in &pages {
        let mut times = Vec::new();
        let (mut code, mut size) = (0, 0);
        for _ in 0..100 {
            let start = Instant::now();
            (code, size) = fetch(&node, path).await;
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            assert!(code == 200 || code == 303 || code == 404, "{path}: {code}");
        }
        times.sort_by(f64::total_cmp);
        let path =
            if path.len() > 40 { format!("{}…{}", &path[..20], &path[path.len() - 19..]) } else { path.clone() };
        println!("  {path:<42} {code} {size:>7} B {:7.2} / {:7.2} / {:7.2}", times[49], times[98], times[99]);
    }
    // blocks a second, without and with 50 page loads a second (the pages above in turn)
    let height = || async { exchange(&node, 1, &get("/v1/status")).await.1["height"].as_u64().unwrap() };
    let window = Duration::from_secs(10);
    let h0 = height().await;
    tokio::time::sleep(window).await;
    let quiet = (height().await - h0) as f64 / window.as_secs_f64();
    let h1 = height().await;
    let start = Instant::now();
    let mut loads = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut inflight = tokio::task::JoinSet::new();
    let addr = node.addr;
    while start.elapsed() < window {
        tick.tick().await;
        let path = pages[loads as usize % pages.len()].clone();
        inflight.spawn(async move { fetch_at(addr, &path).await });
        loads += 1;
    }
    let loaded = (height().await - h1) as f64 / start.elapsed().as_secs_f64();
    while inflight.join_next().await.is_some() {}
    println!(
        "blocks/s (a block every 100 ms at most): {quiet:.2} without page loads, {loaded:.2} with {} page loads in {:.0} s",
        loads,
        window.as_secs_f64()
    );
    node.stop().await;
}

async fn fetch(node: &Node, path: &str) -> (u16, usize) {
    fetch_at(node.addr, path).await
}

async fn fetch_at(addr: std::net::SocketAddr, path: &str) -> (u16, usize) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, &get(path)).await.unwrap();
    let mut bytes = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut bytes).await.unwrap();
    (std::str::from_utf8(&bytes[9..12]).unwrap().parse().unwrap(), bytes.len())
}
