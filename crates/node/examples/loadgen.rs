//! Load generator for `bench/node.sh`: signed transfers and heartbeats through the batch API,
//! end to end (admitted, then committed), against a running `gridmint node --dev`.
//!
//! ```text
//! cargo run --release -p gridmint-node --example loadgen -- URL DEV_KEY transfers SENDERS PER_SENDER
//! cargo run --release -p gridmint-node --example loadgen -- URL[,URL...] DEV_KEY spread SENDERS PER_SENDER [RATE]
//! cargo run --release -p gridmint-node --example loadgen -- URL DEV_KEY heartbeats MACHINES [binary]
//! cargo run --release -p gridmint-node --example loadgen -- URL DEV_KEY beats MACHINES [binary]
//! ```
//! Everything is signed before the clock starts; the rate counts from the first request to the
//! last transaction committed.
//!
//! `spread` (for `bench/network.sh`) splits the senders over every node of the comma-separated
//! list (each sender's transfers all go to one node, in nonce order), at RATE transfers a second
//! in all (0 or absent: as fast as the nodes admit), and reports per transfer the time from its
//! batch's request to the first moment the node it was sent to reported its block committed
//! (`/v1/status` polled every 10 ms on every node): p50, p99 and the maximum, with the blocks, the
//! blocks a second and the mean transaction bytes per block (signatures included).

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
    // `spread` takes a list: the first node funds the senders
    let client = Client::new(url.split(',').next().unwrap_or(url));
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
        "spread" => {
            let urls: Vec<&str> = url.split(',').collect();
            let senders: usize = rest[0].parse().unwrap();
            let per: u64 = rest[1].parse().unwrap();
            let rate: f64 = rest.get(2).map_or(0.0, |r| r.parse().unwrap());
            spread(&urls, &client, &chain, &dev, senders, per, rate);
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

/// Batches of `spread` (smaller than [`BATCH`], so that a paced load is smooth).
const SPREAD_BATCH: usize = 1_000;

/// A height and when a node first reported it committed.
type Seen = Vec<(u64, Instant)>;
/// A batch's transaction ids and its request body.
type Batch = (Vec<[u8; 32]>, Vec<u8>);
/// A transaction id and when the request carrying it was sent.
type Sent = ([u8; 32], Instant);

fn height_of(client: &Client) -> u64 {
    client.get("/v1/status").unwrap().body["height"].as_u64().unwrap()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Transfers sent to every node of `urls`, timed per transfer: see the module's documentation.
fn spread(
    urls: &[&str],
    funder: &Client,
    chain: &str,
    dev: &ed25519_dalek::SigningKey,
    senders: usize,
    per: u64,
    rate: f64,
) {
    let clients: Vec<Client> = urls.iter().map(|u| Client::new(u)).collect();
    let keys: Vec<_> = (0..senders).map(|i| key_from_label(&format!("loadgen-sender-{i}"))).collect();
    let addresses: Vec<_> = keys.iter().map(address_of).collect();
    fund(funder, chain, dev, &addresses, 10u128.pow(21));
    // every node has the funding block before the clock starts
    let funded = height_of(funder);
    for c in &clients {
        while height_of(c) < funded {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // lanes: CONNECTIONS per node; sender i goes to node i % nodes
    let nodes = clients.len();
    let mut lanes: Vec<Vec<SignedTx>> = vec![vec![]; CONNECTIONS * nodes];
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
        let lane = (i % nodes) + nodes * ((i / nodes) % CONNECTIONS);
        lanes[lane].extend(sign_all(txs, chain));
    }
    let total: usize = lanes.iter().map(Vec::len).sum();
    let sizes: std::collections::BTreeMap<[u8; 32], usize> =
        lanes.iter().flatten().map(|t| (t.id(), t.tx.encode().len() + 64)).collect();
    let bodies: Vec<Vec<Batch>> = lanes
        .iter()
        .map(|lane| {
            lane.chunks(SPREAD_BATCH)
                .map(|b| (b.iter().map(SignedTx::id).collect(), gridmint_node::signing::encode_batch(b)))
                .collect()
        })
        .collect();
    let lane_count = bodies.len();
    let done = std::sync::atomic::AtomicBool::new(false);
    let start = Instant::now();
    let (sent, seen): (Vec<Vec<Sent>>, Vec<Seen>) = std::thread::scope(|s| {
        let pollers: Vec<_> = clients
            .iter()
            .map(|c| {
                let (c, done) = (c.clone(), &done);
                s.spawn(move || {
                    let mut seen: Seen = vec![(funded, start)];
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        let h = height_of(&c);
                        if h > seen.last().unwrap().0 {
                            seen.push((h, Instant::now()));
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    seen
                })
            })
            .collect();
        let senders: Vec<_> = bodies
            .into_iter()
            .enumerate()
            .map(|(lane, batches)| {
                let client = clients[lane % nodes].clone();
                s.spawn(move || {
                    let mut sent = Vec::new();
                    let mut offset = 0usize;
                    for (ids, body) in &batches {
                        if rate > 0.0 {
                            // this lane's share of the rate: its n-th transfer is due at n / share
                            let due = Duration::from_secs_f64(offset as f64 * lane_count as f64 / rate);
                            if let Some(wait) = due.checked_sub(start.elapsed()) {
                                std::thread::sleep(wait);
                            }
                        }
                        let at = Instant::now();
                        loop {
                            let answer = client
                                .post_typed("/v1/tx/batch", "application/octet-stream", body)
                                .expect("node answers");
                            if answer.status == 503 || answer.status == 429 {
                                std::thread::sleep(Duration::from_millis(50));
                                continue;
                            }
                            assert_eq!(answer.status, 200, "{}", answer.body);
                            assert_eq!(answer.body["refused"], 0, "refused: {}", answer.body);
                            break;
                        }
                        sent.extend(ids.iter().map(|id| (*id, at)));
                        offset += ids.len();
                    }
                    sent
                })
            })
            .collect();
        let sent: Vec<_> = senders.into_iter().map(|h| h.join().unwrap()).collect();
        let admitted = start.elapsed().as_secs_f64();
        eprintln!("{total} transfers admitted in {admitted:.2} s");
        // committed: every node's mempool empty and every last transfer's receipt there
        for c in &clients {
            loop {
                let status = c.get("/v1/status").unwrap().body;
                if status["mempool"].as_u64() == Some(0) {
                    break;
                }
                assert!(start.elapsed() < Duration::from_secs(300), "not committed after 300 s: {status}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // the last heights reach every poller
        std::thread::sleep(Duration::from_millis(50));
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (sent, pollers.into_iter().map(|h| h.join().unwrap()).collect())
    });
    // which block holds each transfer (from node 0: every node holds the same blocks)
    let last = seen.iter().map(|s| s.last().unwrap().0).min().unwrap();
    let mut height_of_tx = std::collections::BTreeMap::new();
    let mut block_bytes = Vec::new();
    let mut end = start;
    for h in funded + 1..=last {
        let block = clients[0].get(&format!("/v1/blocks/{h}")).unwrap().body;
        let mut bytes = 0;
        for tx in block["txs"].as_array().unwrap() {
            let mut id = [0u8; 32];
            hex::decode_to_slice(tx["id"].as_str().unwrap(), &mut id).unwrap();
            assert_eq!(tx["code"], 0, "a transfer failed: {tx}");
            bytes += sizes.get(&id).copied().unwrap_or(0);
            height_of_tx.insert(id, h);
        }
        block_bytes.push(bytes);
    }
    let mut latencies = Vec::with_capacity(total);
    for (lane, sent) in sent.iter().enumerate() {
        let seen = &seen[lane % nodes];
        for (id, at) in sent {
            let h = *height_of_tx.get(id).expect("every transfer committed");
            let committed = seen.iter().find(|(sh, _)| *sh >= h).expect("the node saw the block").1;
            end = end.max(committed);
            latencies.push(committed.saturating_duration_since(*at).as_secs_f64());
        }
    }
    latencies.sort_by(f64::total_cmp);
    let seconds = end.duration_since(start).as_secs_f64();
    let blocks = last - funded;
    let nonempty = block_bytes.iter().filter(|b| **b > 0).count();
    println!(
        "spread: {total} signed transfers to {nodes} node(s) at {}: committed {:.0}/s over {seconds:.2} s; submit to commit p50 {:.2} s, p99 {:.2} s, max {:.2} s; {blocks} blocks ({:.2}/s), {:.0} transaction bytes per non-empty block ({nonempty})",
        if rate > 0.0 { format!("{rate:.0}/s offered") } else { "full speed".to_string() },
        total as f64 / seconds,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        blocks as f64 / seconds,
        block_bytes.iter().sum::<usize>() as f64 / nonempty.max(1) as f64,
    );
}
