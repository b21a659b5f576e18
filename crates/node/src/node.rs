//! The single-node producer and the server's lifecycle.
//!
//! The node is the imperative shell around the deterministic core: it reads the clock (block
//! times), the network and the disk. Every block interval the producer takes the oldest
//! transactions from the mempool and commits them as the next block through
//! [`Ledger::commit`]; the HTTP API reads the committed state.

use crate::api::{Metrics, RateLimiter};
use crate::ledger::{Genesis, Ledger, LedgerError, Proposal};
use crate::mempool::Mempool;
use crate::signing::{address_of, generate_key, save_key};
use gridmint_core::Policy;
use gridmint_policy::{GenesisAllocation, Tokens};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::watch;

/// Transactions a client may submit a second per request of its `rate_limit` (1,000 requests
/// a second, the default, allow 50,000 transactions a second, five full batches).
pub const TXS_PER_REQUEST: u64 = 50;

/// The node's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP listen address.
    pub listen: SocketAddr,
    /// Block interval in milliseconds.
    pub block_ms: u64,
    /// Mempool capacity (transactions).
    pub mempool_capacity: usize,
    /// Most transactions in one block.
    pub max_block_txs: usize,
    /// Largest request body accepted (bytes).
    pub max_body_bytes: usize,
    /// Most transactions in one batch.
    pub max_batch: usize,
    /// Requests per second per client IP (burst of one second's worth); 0 = no limit.
    pub rate_limit: u32,
    /// How long `?wait=true` waits for the commit before answering "pending" (ms).
    pub wait_timeout_ms: u64,
    /// Make a block every interval even when there is nothing to commit.
    pub empty_blocks: bool,
    /// Print a line per epoch close (blocks are logged at debug level with `tracing`).
    pub log: bool,
    /// Most open HTTP connections at once (capped by the open-files limit); beyond it a new
    /// connection is answered 503 `too_many_connections` and closed.
    pub max_connections: usize,
    /// Most open HTTP connections from one client IP (an IPv6 /64 counts as one).
    pub max_connections_per_ip: usize,
    /// A connection must send a whole request head within this long of opening or of its
    /// previous response, else it is closed: bounds idle connections and slow headers (ms).
    pub header_timeout_ms: u64,
    /// A request body must arrive whole within this long, else 408 `body_timeout` (ms).
    pub body_timeout_ms: u64,
    /// A response write that makes no progress for this long (the client does not read) closes
    /// the connection (ms).
    pub write_timeout_ms: u64,
    /// On shutdown, how long requests in progress may finish before their connections are
    /// dropped (ms).
    pub shutdown_grace_ms: u64,
    /// Write a snapshot of the state after every this many epoch closes (0: never).
    pub snapshot_every: u64,
    /// How many snapshots of closes to keep (the newest).
    pub snapshots_kept: usize,
    /// Between closes, write an interim snapshot once this many transactions were committed
    /// since the last snapshot (0: never), so that a restart replays at most about this many.
    pub snapshot_txs: u64,
    /// Keep every block (`--archive`); otherwise the node is pruned: it keeps the blocks of the
    /// last [`Config::keep_epochs`] closed epochs (and of the open one) after a snapshot.
    pub archive: bool,
    /// A pruned node's window: the blocks of this many closed epochs are kept.
    pub keep_epochs: u64,
}

impl Config {
    /// Checks that the snapshot and pruning settings can work together: a pruned node restarts
    /// from a snapshot at or after the block it pruned to, so it needs snapshots, and one of
    /// those it keeps must be at least [`Config::keep_epochs`] epochs old.
    pub fn check(&self) -> Result<(), String> {
        if self.archive {
            return Ok(());
        }
        if self.keep_epochs == 0 {
            return Err(
                "a pruned node keeps at least one closed epoch of blocks: --keep-epochs must be 1 or more".into()
            );
        }
        if self.snapshot_every == 0 {
            return Err("a pruned node restarts from its snapshots: --snapshot-every 0 needs --archive".into());
        }
        let span = (self.snapshots_kept as u64).saturating_sub(1).saturating_mul(self.snapshot_every);
        if span < self.keep_epochs {
            return Err(format!(
                "a pruned node keeps the blocks after its oldest snapshot at least --keep-epochs {} epochs old, \
                 but {} snapshots every {} epochs span only {span}: raise --snapshots-kept to at least {}, or pass \
                 --archive",
                self.keep_epochs,
                self.snapshots_kept,
                self.snapshot_every,
                self.keep_epochs.div_ceil(self.snapshot_every) + 1
            ));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8645)),
            block_ms: 1000,
            mempool_capacity: 200_000,
            max_block_txs: 100_000,
            max_body_bytes: 8 << 20,
            max_batch: 10_000,
            rate_limit: 1_000,
            wait_timeout_ms: 30_000,
            empty_blocks: true,
            log: false,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            header_timeout_ms: 15_000,
            body_timeout_ms: 30_000,
            write_timeout_ms: 30_000,
            shutdown_grace_ms: 10_000,
            snapshot_every: 1,
            snapshots_kept: 3,
            snapshot_txs: 1_000_000,
            archive: false,
            keep_epochs: 2,
        }
    }
}

/// Everything the producer and the API share.
pub struct Shared {
    /// The ledger: write-locked while a block executes, read-locked while it is sealed (its
    /// root computed and its storage transaction committed), so admission goes on meanwhile.
    pub ledger: RwLock<Ledger>,
    /// Held for writing from a block's execution until it is committed: the API's state reads
    /// take it for reading, so they never see a block that is not yet durable.
    pub sealing: RwLock<()>,
    /// The ids of the block being sealed, sorted: taken from the mempool and not yet in the
    /// store. A retry of one of them is answered "pending", never admitted again.
    pub inflight: Mutex<Arc<Vec<[u8; 32]>>>,
    /// The store, for reads that need no state.
    pub store: Arc<crate::store::Store>,
    /// The chain id.
    pub chain_id: String,
    /// The mempool.
    pub mempool: Mutex<Mempool>,
    /// The last committed height.
    pub committed: watch::Sender<u64>,
    /// Settings.
    pub config: Config,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Per-client request budget.
    pub limiter: RateLimiter,
    /// Per-client transaction budget: [`TXS_PER_REQUEST`] × the request rate a second, so a
    /// batch of 10,000 costs what it asks of the node, not one request.
    pub tx_limiter: RateLimiter,
    /// Decompressed public keys of recent signers.
    pub keys: crate::signing::KeyCache,
    /// When the next snapshot is due.
    schedule: Mutex<crate::snapshots::Schedule>,
    /// The height pruning goes towards, a step after each block (0: none yet).
    prune_target: Mutex<u64>,
    /// On a replicated node, where newly admitted transactions go to be forwarded to the
    /// validators (bounded: when it is full a transaction is not forwarded, and waits here).
    pub forward: std::sync::OnceLock<tokio::sync::mpsc::Sender<crate::SignedTx>>,
    /// On a replicated node, its consensus as `GET /v1/status` shows it.
    pub consensus: RwLock<Option<crate::openapi::ConsensusView>>,
    /// What `GET /v1/snapshot` serves: the newest snapshot height listed when it was loaded,
    /// and the bytes of the newest snapshot that checked out then (`None`: none did). Loaded
    /// once per new snapshot, under this lock.
    pub served_snapshot: Mutex<Option<(u64, Option<axum::body::Bytes>)>>,
}

impl Shared {
    /// Wraps an opened ledger.
    pub fn new(ledger: Ledger, config: Config) -> Arc<Shared> {
        let (committed, _) = watch::channel(ledger.state.height);
        Arc::new(Shared {
            store: ledger.store.clone(),
            chain_id: ledger.genesis.chain_id.clone(),
            mempool: Mutex::new(Mempool::new(config.mempool_capacity)),
            committed,
            limiter: RateLimiter::new(config.rate_limit),
            tx_limiter: RateLimiter::new(config.rate_limit.saturating_mul(TXS_PER_REQUEST as u32)),
            keys: crate::signing::KeyCache::new(1 << 18),
            metrics: Metrics::default(),
            schedule: Mutex::new(crate::snapshots::Schedule::new(config.snapshot_every, config.snapshot_txs, 0)),
            prune_target: Mutex::new(0),
            forward: std::sync::OnceLock::new(),
            consensus: RwLock::new(None),
            served_snapshot: Mutex::new(None),
            config,
            ledger: RwLock::new(ledger),
            sealing: RwLock::new(()),
            inflight: Mutex::new(Arc::new(Vec::new())),
        })
    }

    /// Produces and commits one block at `now` (seconds) from the mempool's oldest transactions.
    /// With `--skip-empty-blocks`, a tick with nothing to commit and no epoch to close makes no
    /// block (an idle chain does not recompute its state root every interval); returns `None`.
    pub fn produce(&self, now: u64) -> Result<Option<u64>, LedgerError> {
        if !self.config.empty_blocks && self.mempool.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
            let ledger = self.ledger.read().unwrap_or_else(|e| e.into_inner());
            if now < ledger.state.epoch_end_time(ledger.state.epoch) {
                return Ok(None);
            }
        }
        let sealing = self.sealing.write().unwrap_or_else(|e| e.into_inner());
        let mut ledger = self.ledger.write().unwrap_or_else(|e| e.into_inner());
        // A transaction moves mempool -> in flight -> store, each move visible in the next place
        // before it leaves the previous one; lookups (admission, receipts) check in that order.
        let mut mempool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
        let (txs, mut ids) = mempool.take(self.config.max_block_txs);
        ids.sort_unstable();
        *self.inflight.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(ids);
        drop(mempool);
        let time = now.max(ledger.state.time);
        let executed = ledger.execute_next(Proposal { time, txs })?;
        self.seal_and_publish(sealing, ledger, executed).map(|block| Some(block.height))
    }

    /// Records equivocation evidence consensus reported when it finalized `height` (a stored
    /// block's height): merged with what is already recorded there ([`crate::evidence::merge`]),
    /// durably. Returns how many records are new.
    pub fn record_evidence(
        &self,
        height: u64,
        records: Vec<crate::evidence::EvidenceRecord>,
    ) -> Result<usize, crate::store::StoreError> {
        let _committed = self.sealing.read().unwrap_or_else(|e| e.into_inner());
        let last = self.store.last_height()?;
        if !(self.store.base_height() + 1..=last).contains(&height) {
            // not kept: it would outlive its block's pruning (the caller reports 0 new)
            return Ok(0);
        }
        let existing = match self.store.evidence(height)? {
            Some(bytes) => crate::evidence::parse(&bytes).map_err(|why| crate::store::StoreError::Corrupt {
                path: self.store.dir().to_path_buf(),
                table: crate::store::Table::Evidence.name(),
                key: height.to_string(),
                why,
            })?,
            None => Vec::new(),
        };
        let before = existing.len();
        let Some(merged) = crate::evidence::merge(existing, records) else { return Ok(0) };
        let bytes = serde_json::to_vec(&merged).expect("evidence records serialize");
        self.store.put_evidence(height, &bytes)?;
        let new = merged.len() - before;
        self.metrics.consensus.equivocations.fetch_add(new as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(new)
    }

    /// Executes a block that consensus decided (a replicated node): `proposal` holds the decided
    /// block's transactions in order and `producer` its proposer; candidates the envelope refuses
    /// are left out, identically on every replica (G10). `decided` gives, from the executed
    /// block, what is stored beside it in the same storage transaction (the commit certificate).
    /// The block's transactions leave this node's mempool, whoever proposed it.
    pub fn commit_decided(
        &self,
        proposal: Proposal,
        producer: gridmint_core::Address,
        decided: impl FnOnce(&crate::ledger::Executed) -> Vec<u8>,
    ) -> Result<crate::block::StoredBlock, LedgerError> {
        let sealing = self.sealing.write().unwrap_or_else(|e| e.into_inner());
        let mut ledger = self.ledger.write().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<[u8; 32]> = proposal.txs.iter().map(crate::SignedTx::id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut mempool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
        *self.inflight.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(ids.clone());
        mempool.remove(&ids);
        drop(mempool);
        let mut executed = ledger.execute_next_by(proposal, producer)?;
        executed.decided = Some(decided(&executed));
        // this node's own copies of what was decided elsewhere under the same nonces can never
        // commit: dropped, so they are not proposed forever and the signer's next nonce is right
        self.mempool.lock().unwrap_or_else(|e| e.into_inner()).purge_stale(&ledger.state);
        self.seal_and_publish(sealing, ledger, executed)
    }

    /// The rest of a block once executed under both locks: seals it (its root and its storage
    /// transaction, under the read lock), makes it the tip, acknowledges it, then writes a
    /// snapshot if one is due and prunes a step.
    fn seal_and_publish(
        &self,
        sealing: std::sync::RwLockWriteGuard<'_, ()>,
        ledger: std::sync::RwLockWriteGuard<'_, Ledger>,
        mut executed: crate::ledger::Executed,
    ) -> Result<crate::block::StoredBlock, LedgerError> {
        // refused by the envelope as the block executed (G10): never stored; those that found
        // the block full wait for the next
        let refused = std::mem::take(&mut executed.refused);
        if !refused.is_empty() {
            self.metrics.dropped.fetch_add(
                refused.iter().filter(|(_, e)| *e != gridmint_core::TxError::BlockFull).count() as u64,
                Ordering::Relaxed,
            );
            self.mempool.lock().unwrap_or_else(|e| e.into_inner()).return_refused(refused);
        }
        let count = executed.txs.len() as u64;
        drop(ledger);
        // sealing only reads the state: admission (a read lock) goes on meanwhile
        let (block, records) = self.ledger.read().unwrap_or_else(|e| e.into_inner()).seal(executed)?;
        self.ledger.write().unwrap_or_else(|e| e.into_inner()).finish(&block);
        *self.inflight.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(Vec::new());
        drop(sealing);
        self.report(count, &block, &records);
        // acknowledged first: a snapshot only shortens restarts, nobody waits for it
        self.committed.send_replace(block.height);
        let closed = records.last().map(|r| r.summary.epoch);
        let due = self.schedule.lock().unwrap_or_else(|e| e.into_inner()).after_block(count, closed);
        if let Some(due) = due {
            // written or not, the count starts again: a failing disk is not retried every block
            self.write_snapshot(&block, due);
            self.schedule.lock().unwrap_or_else(|e| e.into_inner()).written();
        }
        self.prune(closed, count);
        Ok(block)
    }

    /// This start replayed blocks after the snapshot it loaded: the next block writes an interim
    /// snapshot (if interim snapshots are on), so that a node restarted again and again never
    /// replays more and more.
    pub fn replayed_at_start(&self) {
        self.schedule.lock().unwrap_or_else(|e| e.into_inner()).owe();
    }

    /// Writes the snapshot of the state after `block` (the tip): encoded under the read lock
    /// (reads go on; the next block waits), written outside it. A failure is reported and the
    /// node goes on: a snapshot only shortens restarts. Returns whether it was written.
    fn write_snapshot(&self, block: &crate::block::StoredBlock, due: crate::snapshots::Due) -> bool {
        let bytes = crate::snapshots::encode(&self.ledger.read().unwrap_or_else(|e| e.into_inner()), block);
        let dir = crate::snapshots::dir_of(self.store.dir());
        let genesis = self.ledger.read().unwrap_or_else(|e| e.into_inner()).genesis.clone();
        if let Err(e) = crate::snapshots::write_genesis(&dir, &genesis) {
            eprintln!("warning: cannot write the genesis beside the snapshots: {e}");
        }
        let written = bytes.map(|b| match due {
            crate::snapshots::Due::Close => crate::snapshots::write(&dir, block.height, &b, self.config.snapshots_kept),
            crate::snapshots::Due::Interim => crate::snapshots::write_interim(&dir, block.height, &b),
        });
        match written {
            Ok(Ok(_)) => {
                self.metrics.snapshots.fetch_add(1, Ordering::Relaxed);
                true
            }
            Ok(Err(e)) => {
                eprintln!("warning: cannot write the snapshot of block {}: {e}", block.height);
                false
            }
            Err(e) => {
                eprintln!("warning: no snapshot of block {}: {e}", block.height);
                false
            }
        }
    }

    /// On a pruned node, after each block of `block_txs` transactions: when it closed `closed`,
    /// the new target ([`crate::snapshots::prune_target`]); then one step towards the target
    /// ([`crate::snapshots::prune_budget`] transactions' blocks). A failure is reported and the
    /// node goes on: pruning only saves space.
    fn prune(&self, closed: Option<u64>, block_txs: u64) {
        if self.config.archive {
            return;
        }
        let mut target = self.prune_target.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(epoch) = closed {
            match crate::snapshots::prune_target(&self.store, &self.chain_id, self.config.keep_epochs, epoch) {
                Ok(Some(new)) => *target = (*target).max(new),
                Ok(None) => {}
                Err(e) => eprintln!("warning: pruning stopped: {e}"),
            }
        }
        if *target <= self.store.base_height() {
            return;
        }
        match self.store.prune_some(*target, &self.chain_id, crate::snapshots::prune_budget(block_txs)) {
            Ok(removed) => {
                self.metrics.pruned.fetch_add(removed, Ordering::Relaxed);
                if self.config.log && self.store.base_height() >= *target {
                    let _ = writeln!(std::io::stdout(), "pruned: blocks 1..={} are no longer stored", *target);
                }
            }
            Err(e) => eprintln!("warning: pruning stopped: {e}"),
        }
    }

    /// Whether `id` is in the block being sealed.
    pub fn is_inflight(&self, id: &[u8; 32]) -> bool {
        self.inflight.lock().unwrap_or_else(|e| e.into_inner()).binary_search(id).is_ok()
    }

    fn report(&self, count: u64, block: &crate::block::StoredBlock, records: &[crate::ledger::EpochRecord]) {
        if self.config.log {
            for record in records {
                let s = &record.summary;
                let paid: u128 = s.programs.iter().map(|p| p.paid).sum();
                // a closed stdout (`gridmint node | head`) must not stop block production
                let _ = writeln!(
                    std::io::stdout(),
                    "epoch {} closed at height {}: minted {}, burned {}, programs paid {}, supply {}",
                    s.epoch,
                    block.height,
                    gridmint_policy::format_tokens(s.minted),
                    gridmint_policy::format_tokens(s.burned),
                    gridmint_policy::format_tokens(paid),
                    gridmint_policy::format_tokens(s.total_supply),
                );
            }
        }
        if count > 0 {
            // one line per block is noise on a running node: debug level (`gridmint node --verbose`)
            let failed = block.receipts.iter().filter(|r| r.code != 0).count();
            tracing::debug!("block {}: {count} transactions ({failed} failed)", block.height);
        }
        self.metrics.blocks.fetch_add(1, Ordering::Relaxed);
        self.metrics.committed_txs.fetch_add(count, Ordering::Relaxed);
        self.metrics.epochs.fetch_add(records.len() as u64, Ordering::Relaxed);
    }
}

/// Seconds since the Unix epoch: the producer's clock (the core never reads one).
#[allow(clippy::disallowed_methods)]
pub fn now_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Milliseconds since the Unix epoch: a replicated proposer's clock (a consensus header's time;
/// the ledger takes its whole seconds).
#[allow(clippy::disallowed_methods)]
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The dev account's prefund: 100,000,000 tokens, minted at genesis on top of the policy's cap.
pub const DEV_PREFUND_TOKENS: u128 = 100_000_000;

/// Files a dev data dir holds besides the database.
pub const DEV_KEY_FILE: &str = "dev-key.json";
/// The producer's key file.
pub const PRODUCER_KEY_FILE: &str = "producer-key.json";

/// Shapes a policy for a development network: epochs of `epoch_seconds`, for `--epoch-seconds`.
/// Slots shrink to match (at most as many per epoch as before), and every slot-count threshold
/// of the policy is scaled by the new slots per epoch over the old, rounding up, so it asks for
/// the same share of an epoch: NM6's `connection_reward.min_online_slots` (61 of 288) and OS5's
/// `points.min_online_slots` (216 of 288: 18 h of a day).
pub fn dev_epochs(policy: &Policy, epoch_seconds: u64) -> Result<Policy, String> {
    let old_slots = u64::from(policy.slots_per_epoch());
    let slot_seconds =
        (1..=epoch_seconds).find(|d| epoch_seconds.is_multiple_of(*d) && epoch_seconds / d <= old_slots).unwrap_or(1);
    let mut policy = policy.clone();
    policy.epoch.seconds = epoch_seconds;
    policy.epoch.slot_seconds = slot_seconds;
    let slots = epoch_seconds / slot_seconds;
    let scale = |threshold: &mut u32| {
        let scaled = (u64::from(*threshold) * slots).div_ceil(old_slots.max(1));
        *threshold = u32::try_from(scaled).unwrap_or(u32::MAX);
    };
    if let Some(c) = policy.connection_reward.as_mut() {
        scale(&mut c.min_online_slots);
    }
    if let Some(p) = policy.points.as_mut() {
        scale(&mut p.min_online_slots);
    }
    policy.validate().map_err(|e| e.to_string())?;
    Ok(policy)
}

/// Adds spendable genesis allocations, raising the cap by their sum when the policy's pools
/// already fill it (a dev network's prefund).
pub fn with_allocations(
    mut policy: Policy,
    allocations: &[GenesisAllocation],
    raise_cap: bool,
) -> Result<Policy, String> {
    let extra: u128 = allocations.iter().map(|a| a.amount.0).sum();
    if raise_cap {
        policy.token.cap = Tokens(policy.token.cap.0 + extra);
    }
    policy.genesis.extend(allocations.iter().cloned());
    policy.validate().map_err(|e| e.to_string())?;
    Ok(policy)
}

/// A chain id: the policy's name and a hash of the genesis.
pub fn chain_id_for(policy: &Policy, genesis_time: u64, tag: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(&policy.hash());
    h.update(&genesis_time.to_le_bytes());
    h.update(tag.as_bytes());
    format!("{}-{}", policy.name, &h.finalize().to_hex()[..8])
}

/// Creates a dev ledger in `dir`: a producer key, a prefunded dev key, the genesis. Returns the
/// ledger and the dev key's path.
pub fn create_dev(dir: &Path, policy: Policy) -> Result<(Ledger, PathBuf), String> {
    if dir.join(crate::snapshots::IMPORT_MARKER).exists() {
        return Err(crate::LedgerError::IncompleteImport(dir.into()).to_string());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dev = generate_key();
    let producer = generate_key();
    let dev_path = dir.join(DEV_KEY_FILE);
    save_key(&dev_path, &dev).map_err(|e| format!("cannot write {}: {e}", dev_path.display()))?;
    let producer_path = dir.join(PRODUCER_KEY_FILE);
    save_key(&producer_path, &producer).map_err(|e| format!("cannot write {}: {e}", producer_path.display()))?;
    let prefund =
        GenesisAllocation { account: address_of(&dev), amount: Tokens(DEV_PREFUND_TOKENS * gridmint_core::TOKEN) };
    let policy = with_allocations(policy, &[prefund], true)?;
    let genesis_time = now_seconds();
    let genesis = Genesis {
        chain_id: chain_id_for(&policy, genesis_time, &format!("dev-{}", address_of(&dev).to_hex())),
        genesis_time,
        policy: policy.to_toml(),
        producer: address_of(&producer),
        validators: vec![],
    };
    let ledger = Ledger::create(dir, genesis).map_err(|e| e.to_string())?;
    Ok((ledger, dev_path))
}

/// Runs the node until `shutdown` resolves: the producer ticks every block interval and the API
/// serves on the listener. A failed commit stops the node with an error (restart replays).
pub async fn run(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
    }
    let producer = {
        let shared = shared.clone();
        let mut stop = stop_rx.clone();
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(std::time::Duration::from_millis(shared.config.block_ms.max(1)));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    _ = stop.wait_for(|stopped| *stopped) => return Ok(()),
                }
                let s = shared.clone();
                let result = tokio::task::spawn_blocking(move || s.produce(now_seconds())).await;
                let error = match result {
                    Ok(Ok(_)) => continue,
                    Ok(Err(e)) => format!("block production stopped: {e}"),
                    Err(e) => format!("block production panicked: {e}"),
                };
                let _ = stop_tx.send(true);
                return Err(error);
            }
        })
    };
    let app = crate::api::router(shared.clone());
    let served = crate::serve::serve(listener, app, shared.clone(), stop_rx.clone()).await;
    let produced = producer.await.map_err(|e| e.to_string())?;
    produced.and(served)
}

/// The shutdown signal: Ctrl-C or SIGTERM.
pub async fn ctrl_c_or_term() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
