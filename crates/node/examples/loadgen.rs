//! Load generator for `bench/node.sh`: signed transfers and heartbeats through the batch API,
//! end to end (admitted, then committed), against a running `gridmint node --dev`.
//!
//! ```text
//! cargo run --release -p gridmint-node --example loadgen -- URL DEV_KEY transfers SENDERS PER_SENDER
//! cargo run --release -p gridmint-node --example loadgen -- URL DEV_KEY heartbeats MACHINES [binary]
//! cargo run --release -p gridmint-node --example loadgen -- URL DEV_KEY beats MACHINES [binary]
//! ```
//! Everything is signed before the clock starts; the rate counts from the first request to the
//! last transaction committed.

#![allow(clippy::disallowed_methods)] // a load generator measures wall-clock time

use gridmint_core::{Tx, TxBody};
use gridmint_node::client::Client;
use gridmint_node::signing::{SignedTx, address_of, key_from_label, load_key};
use std::time::{Duration, Instant};

const BATCH: usize = 5_000;
const CONNECTIONS: usize = 4;

fn sign_all(txs: Vec<(ed25519_dalek::SigningKey, Tx)>, chain: &str) -> Vec<SignedTx> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = txs.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = txs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || part.iter().map(|(k, t)| SignedTx::sign(t.clone(), k, chain)).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

/// Posts `lanes` (each lane's transactions in order) over parallel connections; returns
/// (seconds until all admitted, seconds until all committed, refused).
fn drive(client: &Client, lanes: Vec<Vec<SignedTx>>, path: &str, binary: bool) -> (f64, f64, usize) {
    let total: usize = lanes.iter().map(Vec::len).sum();
    let lasts: Vec<String> = lanes.iter().filter_map(|l| l.last()).map(|t| hex::encode(t.id())).collect();
    // request bodies are serialized before the clock starts, like the signatures
    let bodies: Vec<Vec<Vec<u8>>> = lanes
        .iter()
        .map(|lane| {
            lane.chunks(BATCH)
                .map(|b| if binary { gridmint_node::signing::encode_batch(b) } else { serde_json::to_vec(b).unwrap() })
                .collect()
        })
        .collect();
    let start = Instant::now();
    let refused: usize = std::thread::scope(|s| {
        let handles: Vec<_> = bodies
            .into_iter()
            .map(|lane| {
                let client = client.clone();
                s.spawn(move || {
                    let mut refused = 0;
                    for batch in &lane {
                        loop {
                            let content_type = if binary { "application/octet-stream" } else { "application/json" };
                            let answer = client.post_typed(path, content_type, batch).expect("node answers");
                            if answer.status == 503 || answer.status == 429 {
                                std::thread::sleep(Duration::from_millis(50));
                                continue;
                            }
                            assert_eq!(answer.status, 200, "{}", answer.body);
                            refused += answer.body["refused"].as_u64().unwrap() as usize;
                            break;
                        }
                    }
                    refused
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let admitted = start.elapsed().as_secs_f64();
    // committed: the last transaction's receipt exists (blocks commit in order)
    for last in &lasts {
        loop {
            let answer = client.get(&format!("/v1/tx/{last}")).unwrap();
            if answer.body["status"] == "committed" {
                assert_eq!(answer.body["code"], 0, "the last transaction failed: {}", answer.body);
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(300), "not committed after 300 s: {}", answer.body);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let committed = start.elapsed().as_secs_f64();
    let mempool = client.get("/v1/status").unwrap().body["mempool"].as_u64().unwrap();
    assert_eq!(mempool, 0, "the mempool drained");
    eprintln!("{total} transactions: admitted in {admitted:.2} s, committed in {committed:.2} s, {refused} refused");
    (admitted, committed, refused)
}

fn fund(client: &Client, chain: &str, dev: &ed25519_dalek::SigningKey, to: &[gridmint_core::Address], amount: u128) {
    let dev_address = address_of(dev);
    let nonce = client.get(&format!("/v1/accounts/{dev_address}")).unwrap().body["next_nonce"].as_u64().unwrap();
    let txs = to
        .iter()
        .enumerate()
        .map(|(i, a)| {
            (
                dev.clone(),
                Tx { signer: dev_address, nonce: nonce + i as u64, body: TxBody::Transfer { to: *a, amount } },
            )
        })
        .collect();
    let signed = sign_all(txs, chain);
    let (_, _, refused) = drive(client, vec![signed], "/v1/tx/batch", false);
    assert_eq!(refused, 0);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, dev_key, mode, rest @ ..] = args.as_slice() else {
        eprintln!("usage: loadgen URL DEV_KEY transfers SENDERS PER_SENDER | heartbeats MACHINES");
        std::process::exit(2);
    };
    let client = Client::new(url);
    let dev = load_key(std::path::Path::new(dev_key)).expect("dev key");
    let chain = client.get("/v1/status").unwrap().body["chain_id"].as_str().unwrap().to_string();
    match mode.as_str() {
        "transfers" => {
            let senders: usize = rest[0].parse().unwrap();
            let per: u64 = rest[1].parse().unwrap();
            let keys: Vec<_> = (0..senders).map(|i| key_from_label(&format!("loadgen-sender-{i}"))).collect();
            let addresses: Vec<_> = keys.iter().map(address_of).collect();
            fund(&client, &chain, &dev, &addresses, 10u128.pow(21));
            let mut lanes = vec![vec![]; CONNECTIONS];
            for (i, key) in keys.iter().enumerate() {
                let txs = (0..per)
                    .map(|n| {
                        let to = addresses[(i + 1 + n as usize) % senders];
                        (
                            key.clone(),
                            Tx { signer: addresses[i], nonce: n, body: TxBody::Transfer { to, amount: 1 + n as u128 } },
                        )
                    })
                    .collect();
                lanes[i % CONNECTIONS].extend(sign_all(txs, &chain));
            }
            let total: usize = lanes.iter().map(Vec::len).sum();
            let (admitted, committed, _) = drive(&client, lanes, "/v1/tx/batch", false);
            println!(
                "transfers: {total} signed transfers, admitted {:.0}/s, committed end to end {:.0}/s",
                total as f64 / admitted,
                total as f64 / committed
            );
        }
        "heartbeats" | "beats" => {
            // `beats`: only the heartbeats, for machines an earlier `heartbeats` run registered
            let machines: usize = rest[0].parse().unwrap();
            let owners = machines.div_ceil(2_000);
            let owner_keys: Vec<_> = (0..owners).map(|i| key_from_label(&format!("loadgen-owner-{i}"))).collect();
            if mode == "heartbeats" {
                fund(&client, &chain, &dev, &owner_keys.iter().map(address_of).collect::<Vec<_>>(), 10u128.pow(21));
            }
            let machine_keys: Vec<_> = (0..machines).map(|i| key_from_label(&format!("loadgen-machine-{i}"))).collect();
            let mut lanes = vec![vec![]; CONNECTIONS];
            for (o, owner) in owner_keys.iter().enumerate() {
                let txs = machine_keys
                    .iter()
                    .enumerate()
                    .filter(|(m, _)| m % owners == o)
                    .enumerate()
                    .map(|(n, (_, m))| {
                        let body = TxBody::RegisterMachine {
                            machine: address_of(m),
                            gpu_class: 1,
                            bandwidth_mbps: 1000,
                            bond: 0,
                        };
                        (owner.clone(), Tx { signer: address_of(owner), nonce: n as u64, body })
                    })
                    .collect();
                lanes[o % CONNECTIONS].extend(sign_all(txs, &chain));
            }
            if mode == "heartbeats" {
                eprintln!("registering {machines} machines");
                drive(&client, lanes, "/v1/tx/batch", false);
            }
            let status = client.get("/v1/status").unwrap().body;
            let slot = (status["time"].as_u64().unwrap() - status["genesis_time"].as_u64().unwrap())
                / status["slot_seconds"].as_u64().unwrap();
            let txs: Vec<_> = machine_keys
                .iter()
                .map(|m| (m.clone(), Tx { signer: address_of(m), nonce: 0, body: TxBody::Heartbeat { slot } }))
                .collect();
            let signed = sign_all(txs, &chain);
            let mut lanes = vec![vec![]; CONNECTIONS];
            for (i, tx) in signed.into_iter().enumerate() {
                lanes[(i / BATCH) % CONNECTIONS].push(tx);
            }
            let binary = rest.get(1).is_some_and(|f| f == "binary");
            let (admitted, committed, refused) = drive(&client, lanes, "/v1/heartbeats", binary);
            println!(
                "heartbeats ({}): {machines} signed heartbeats ({refused} refused), ingested {:.0}/s, committed end to end {:.0}/s",
                if binary { "binary batches" } else { "JSON batches" },
                machines as f64 / admitted,
                machines as f64 / committed
            );
        }
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    }
}
