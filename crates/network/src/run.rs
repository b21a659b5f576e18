//! A replicated node's lifecycle: its ledger opened (or created from the genesis), the
//! consensus engine driving it through [`LedgerApp`], the HTTP API serving it, and admitted
//! transactions forwarded to the other nodes.
//!
//! The node stops on Ctrl-C/SIGTERM (cleanly), or on its own when the app loop ends: a decided
//! block it cannot commit, a state that does not extend the network's (fail-stop: the error names
//! the height and the roots), or the engine gone.

use crate::config::NodeFile;
use crate::replica::LedgerApp;
use gridmint_consensus::GridmintContext;
use gridmint_consensus::app::{Settings, tcp_multiaddr};
use gridmint_consensus::app_channel::app::engine::util::events::Event;
use gridmint_consensus::app_channel::app::types::core::LinearTimeouts;
use gridmint_consensus::{Application, ChainId, Height, Validator, ValidatorSet};
use gridmint_node::client::Client;
use gridmint_node::node::{Config, Shared};
use gridmint_node::openapi::ConsensusView;
use gridmint_node::signing::{encode_batch, load_key};
use gridmint_node::{Genesis, Ledger, SignedTx};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Transactions waiting to be forwarded, at most (beyond it they wait in the mempool only).
pub const FORWARD_QUEUE: usize = 100_000;
/// Transactions forwarded in one request, at most.
pub const FORWARD_BATCH: usize = 5_000;
/// How long a forwarding request may take before it is given up (the peer misses the batch).
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);
/// A forwarded transaction still waiting here this long after it was sent is sent again.
pub const FORWARD_RETRY_AFTER: Duration = Duration::from_secs(5);
/// How many times a forwarded transaction is sent again, at most.
pub const FORWARD_RETRIES: u32 = 3;

/// The genesis validators as a consensus validator set.
pub fn validator_set(genesis: &Genesis) -> Result<ValidatorSet, String> {
    let validators = genesis
        .validators
        .iter()
        .map(|v| Validator::new(v.address.0, v.power).map_err(|e| format!("genesis validator {}: {e}", v.address)))
        .collect::<Result<Vec<_>, _>>()?;
    ValidatorSet::new(validators).map_err(|e| format!("the genesis validator set: {e}"))
}

/// Opens the node's ledger, or creates it from the genesis on first start; refuses a data dir
/// that holds another chain. Returns it with whether blocks were replayed after a snapshot.
pub fn open_ledger(file: &NodeFile, genesis: &Genesis) -> Result<(Ledger, bool), String> {
    if !file.data.join(gridmint_node::store::DB_FILE).exists() {
        let ledger = Ledger::create(&file.data, genesis.clone()).map_err(|e| e.to_string())?;
        return Ok((ledger, false));
    }
    let (ledger, opened) = Ledger::open_from_snapshot(&file.data, |_, _| {}).map_err(|e| e.to_string())?;
    if ledger.genesis != *genesis {
        return Err(format!(
            "data dir {} holds chain `{}`, not the genesis {} (chain `{}`)",
            file.data.display(),
            ledger.genesis.chain_id,
            file.genesis.display(),
            genesis.chain_id
        ));
    }
    let replayed = opened.snapshot.unwrap_or(0) < ledger.state.height;
    Ok((ledger, replayed))
}

/// The engine's timeouts: Malachite's shape, sized for a loopback or LAN network.
pub fn timeouts() -> LinearTimeouts {
    LinearTimeouts {
        propose: Duration::from_millis(2000),
        propose_delta: Duration::from_millis(500),
        prevote: Duration::from_millis(1000),
        prevote_delta: Duration::from_millis(500),
        precommit: Duration::from_millis(1000),
        precommit_delta: Duration::from_millis(500),
        rebroadcast: Duration::from_millis(2000),
        max_timeout: Duration::from_secs(10),
    }
}

/// Runs the node of `file` with the API settings `config` until `shutdown` resolves or the
/// consensus loop ends (an error).
pub async fn run(
    file: NodeFile,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let genesis = file.read_genesis()?;
    let validators = validator_set(&genesis)?;
    let key = load_key(&file.key)?;
    let (ledger, replayed) = open_ledger(&file, &genesis)?;
    let me = gridmint_node::signing::address_of(&key);
    let role = if genesis.validators.iter().any(|v| v.address == me) { "validator" } else { "full node" };
    println!(
        "{} ({role} {me}) · chain {} · height {} · {} validators",
        file.moniker,
        genesis.chain_id,
        ledger.state.height,
        genesis.validators.len()
    );
    let shared = Shared::new(ledger, config);
    if replayed {
        shared.replayed_at_start();
    }
    let chain_id = ChainId::new(genesis.chain_id.clone()).map_err(|_| "the chain id is too long".to_string())?;
    let mut settings = Settings::new(
        file.moniker.clone(),
        chain_id,
        key.to_bytes(),
        file.data.join("consensus"),
        tcp_multiaddr(file.p2p),
        file.peers.iter().map(|p| tcp_multiaddr(*p)).collect(),
    );
    settings.timeouts = timeouts();
    settings.target_time = Some(Duration::from_millis(file.block_time_ms));
    settings.value_sync.status_update_interval = Duration::from_secs(1);
    settings.value_sync.request_timeout = Duration::from_secs(5);

    let (forward_tx, forward_rx) = mpsc::channel(FORWARD_QUEUE);
    let _ = shared.forward.set(forward_tx);
    let (stop_tx, stop_rx) = watch::channel(false);
    let forwarder = tokio::spawn(forward(forward_rx, file.peer_apis.clone(), shared.clone(), stop_rx.clone()));

    let listener = tokio::net::TcpListener::bind(file.api)
        .await
        .map_err(|e| format!("cannot listen on {} for the API: {e}", file.api))?;
    println!("{} API: http://{}/v1/status", file.moniker, file.api);
    let app = LedgerApp::new(shared.clone(), validators, file.max_clock_drift_secs)?;
    // the set in force at the next height (the election's, after a restart), not the genesis'
    let next = Height(shared.ledger.read().unwrap_or_else(|e| e.into_inner()).state.height + 1);
    let next_set = app.validator_set(next).ok_or("no validator set for the next height")?;
    let in_set = next_set.validators().iter().any(|v| v.address().0 == me);
    let role = if in_set { "validator" } else { "full node" };
    let validator_views = crate::replica::power_views(&next_set);
    let handle = gridmint_consensus::app::start(settings, app).await.map_err(|e| e.to_string())?;
    *shared.consensus.write().unwrap_or_else(|e| e.into_inner()) = Some(ConsensusView {
        role: role.replace(' ', "_"),
        address: me.to_hex(),
        height: shared.ledger.read().unwrap_or_else(|e| e.into_inner()).state.height + 1,
        round: 0,
        peers: 0,
        validators: validator_views,
    });
    let watcher = tokio::spawn(watch_events(handle.subscribe(), shared.clone(), stop_rx.clone()));
    let api = tokio::spawn(gridmint_node::serve::serve(
        listener,
        gridmint_node::api::router(shared.clone()),
        shared.clone(),
        stop_rx.clone(),
    ));

    tokio::pin!(shutdown);
    let mut poll = tokio::time::interval(Duration::from_millis(200));
    let mut ticks = 0u64;
    let stopped_on_its_own = loop {
        tokio::select! {
            _ = &mut shutdown => break false,
            _ = poll.tick() => {
                if handle.is_finished() {
                    break true;
                }
                ticks += 1;
                if ticks.is_multiple_of(5) && let Some(peers) = handle.peer_count().await {
                    shared.metrics.consensus.peers.store(peers as u64, Ordering::Relaxed);
                    if let Some(view) = shared.consensus.write().unwrap_or_else(|e| e.into_inner()).as_mut() {
                        view.peers = peers as u64;
                    }
                }
            }
        }
    };
    let _ = stop_tx.send(true);
    let _ = watcher.await;
    let (_, error) = handle.stop().await;
    let _ = forwarder.await;
    let served = api.await.map_err(|e| e.to_string())?;
    match error {
        Some(e) => Err(format!("consensus stopped: {e}")),
        None if stopped_on_its_own => Err("consensus stopped".into()),
        None => served,
    }
}

/// Follows the engine's events for the status and the metrics: the height and round being
/// decided, and each height's rounds and time to finality (from its start to its decision, on
/// this node's clock).
async fn watch_events(
    mut events: tokio::sync::broadcast::Receiver<Event<GridmintContext>>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    #[allow(clippy::disallowed_methods)] // the operator's metrics, never the ledger's
    let now = std::time::Instant::now;
    let mut started: Option<(u64, std::time::Instant)> = None;
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = stop.wait_for(|s| *s) => return,
        };
        let event = match event {
            Ok(e) => e,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let set = |height: u64, round: u32| {
            if let Some(view) = shared.consensus.write().unwrap_or_else(|e| e.into_inner()).as_mut() {
                view.height = height;
                view.round = round;
            }
            shared.metrics.consensus.round.store(u64::from(round), Ordering::Relaxed);
        };
        match event {
            Event::StartedHeight(height, _) => {
                started = Some((height.0, now()));
                set(height.0, 0);
            }
            Event::StartedRound(height, round, _, _) => set(height.0, round.as_u32().unwrap_or(0)),
            Event::Decided { commit_certificate } => {
                let round = commit_certificate.round.as_u32().unwrap_or(0);
                let ms = match started {
                    Some((h, at)) if h == commit_certificate.height.0 => at.elapsed().as_millis() as u64,
                    _ => continue,
                };
                shared.metrics.consensus.decided(round, ms);
            }
            _ => {}
        }
    }
}

/// Forwards admitted transactions to `peers` in batches (the binary batch format, marked as
/// forwarded: a peer does not forward them again, so each transaction crosses each link once and
/// is admitted once per node). This node proposes them meanwhile: a validator checks in a batch
/// the signatures of a proposal's transactions it has not admitted yet. What still waits here
/// [`FORWARD_RETRY_AFTER`] after it was sent is sent again, up to [`FORWARD_RETRIES`] times: a
/// peer that did not answer (a timeout, a restart) gets it later, and a full node, which proposes
/// nothing, does not keep its client's transaction to itself.
async fn forward(
    mut rx: mpsc::Receiver<SignedTx>,
    peers: Vec<String>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    // a peer that hangs delays the forwarding of what follows by this much at most
    let clients: Vec<Client> = peers.iter().map(|p| Client::with_timeout(p, FORWARD_TIMEOUT)).collect();
    // the operator's retry timing, never the ledger's
    #[allow(clippy::disallowed_methods)]
    let now = std::time::Instant::now;
    // batches sent, kept to be sent again while their transactions still wait here
    let mut sent: std::collections::VecDeque<(std::time::Instant, u32, Vec<SignedTx>)> = Default::default();
    let mut kept = 0usize;
    let mut tick = tokio::time::interval(FORWARD_RETRY_AFTER);
    loop {
        let mut batch = Vec::new();
        let retry = tokio::select! {
            n = rx.recv_many(&mut batch, FORWARD_BATCH) => if n == 0 { return } else { false },
            _ = tick.tick() => true,
            _ = stop.wait_for(|s| *s) => return,
        };
        if retry {
            // what was forwarded a while ago and still waits here (not decided yet): a peer
            // may have missed it (a timeout, a restart); a full node proposes nothing, so
            // without this its client's transaction could wait forever
            let mut again = Vec::new();
            while let Some((at, _, _)) = sent.front() {
                if at.elapsed() < FORWARD_RETRY_AFTER {
                    break;
                }
                let (_, tries, txs) = sent.pop_front().expect("a front");
                kept -= txs.len();
                let waiting: Vec<SignedTx> = {
                    let mempool = shared.mempool.lock().unwrap_or_else(|e| e.into_inner());
                    txs.into_iter().filter(|t| mempool.contains(&t.id())).collect()
                };
                if !waiting.is_empty() && tries < FORWARD_RETRIES {
                    again.push((tries + 1, waiting));
                }
            }
            for (tries, txs) in again {
                send_all(&clients, &txs).await;
                kept += txs.len();
                sent.push_back((now(), tries, txs));
            }
            continue;
        }
        send_all(&clients, &batch).await;
        kept += batch.len();
        sent.push_back((now(), 0, batch));
        // bounded: the oldest are given up first (they still wait in this node's mempool)
        while kept > FORWARD_QUEUE {
            let Some((_, _, txs)) = sent.pop_front() else { break };
            kept -= txs.len();
        }
    }
}

/// Posts `txs` to every peer as one forwarded batch, all peers at once.
async fn send_all(clients: &[Client], txs: &[SignedTx]) {
    let bytes = Arc::new(encode_batch(txs));
    let sends: Vec<_> = clients
        .iter()
        .cloned()
        .map(|client| {
            let bytes = bytes.clone();
            tokio::task::spawn_blocking(move || client.post_forwarded("/v1/tx/batch", &bytes))
        })
        .collect();
    for send in sends {
        let _ = send.await;
    }
}
