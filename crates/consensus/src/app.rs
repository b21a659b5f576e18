//! The app loop (step 5 of the plan, its core): what answers the engine.
//!
//! [`start`] starts the Malachite engine for one validator (our [`GridmintSigner`] and
//! [`GridmintVerifier`], the WAL at `home/wal/consensus.wal`, TCP on the given listen address with
//! persistent peers, value sync on, the `ProposalAndParts` payload) and spawns the loop that
//! answers every `AppMsg` on behalf of an [`Application`]: the ledger behind consensus, which
//! builds, checks, executes and stores blocks. [`AppHandle::stop`] stops the engine and the loop
//! and gives the application back.
//!
//! # What the loop answers
//!
//! | message | reply |
//! |---|---|
//! | `ConsensusReady` | start at [`Application::last_decided_height`] + 1 with that height's parameters |
//! | `StartedRound` | the undecided values already known for the height (those for that round, and those that arrived for the height before it started, checked now) |
//! | `GetValue` | [`Application::build`] once per (height, round), the same value on a repeat; its parts published through the network channel and kept for restreams |
//! | `ReceivedProposalPart` | `None` until the [`Assembler`] completes a stream (the proposer checked against [`Application::validator_set`] and the context's proposer selection); then [`Application::validate`] gives `Valid` or `Invalid`. A value for the next height waits until that height starts (its parent is not executed yet) |
//! | `Decided` | [`Application::commit`] of the block whose id the certificate names, with the certificate and its vote extensions |
//! | `Finalized` | `Next::Start(h + 1)` once height `h` is committed (committing now if `Decided` could not), else `Next::Restart(h)` |
//! | `GetDecidedValues` | [`Application::decided`] over the range clamped to what is held, at most [`MAX_SYNC_BATCH`] heights |
//! | `GetHistoryMinHeight` | [`Application::history_min_height`] |
//! | `ProcessSyncedValue` | the decoded [`Block`], checked: `Verdict` (`Valid`/`Invalid`), `PeerFault` for bytes that are no block of that height and proposer |
//! | `ExtendVote` / `VerifyVoteExtensions` | `None` / all accepted (gridmint has no vote extensions) |
//! | `RestreamProposal` | the parts published before for that value, replayed as they were signed |
//!
//! Every reply is sent: a message the loop cannot answer (no validator set for a height, a block
//! the application built for someone else) ends the loop with an [`AppError`] instead, which
//! drops the channel and stops the engine rather than stalling it silently.
//!
//! # Memory
//!
//! Values built, blocks seen and values waiting for their height are kept by height and forgotten
//! once a height is decided (everything at or below it); the assembler keeps its own bounds and
//! a window of heights around the current one. At most [`MAX_BLOCKS_PER_HEIGHT`] blocks are kept
//! for one height, and as many values for one round (an equivocating proposer can sign many).
//!
//! # Not here yet
//!
//! A value built for a (height, round) is remembered in memory only: a validator that crashes
//! after proposing rebuilds it on restart, so an [`Application::build`] that is not deterministic
//! must persist what it built (the node's store will). A restream replays the original stream
//! (its round, its signature): a re-proposal in a later round by another proposer, whose parts
//! would have to name the original producer and be signed by the new proposer, is not supported
//! by the parts' format yet. Equivocation evidence from `Finalized` is logged, not stored.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use malachitebft_app_channel::app::config::{
    ConsensusConfig, NodeConfig, P2pConfig, PubSubProtocol, ValuePayload, ValueSyncConfig,
};
use malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app_channel::app::net::Multiaddr;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, Context, ExtendedCommitCertificate, LinearTimeouts, Round, Validity, VoteExtensions,
};
use malachitebft_app_channel::app::types::streaming::StreamMessage;
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{Keypair, LocallyProposedValue, PeerId, ProposedValue};
use malachitebft_app_channel::{
    AppMsg, Channels, ConsensusContext, EngineHandle, NetworkContext, NetworkIdentity, NetworkMsg, RequestContext,
    Signer, SyncContext, WalContext,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::codec::GridmintCodec;
use crate::context::GridmintContext;
use crate::messages::ProposalPart;
use crate::parts::{AssembledProposal, Assembler, Limits, stream_messages};
use crate::signing::{ChainId, GridmintSigner, GridmintVerifier};
use crate::types::{Block, BlockValue, Height, ValidatorAddress, ValueId};
use crate::validators::ValidatorSet;

/// The certificate a decided block is stored with: the commit signatures and their (empty) vote
/// extensions, the form value sync ships.
pub type DecidedCertificate = ExtendedCommitCertificate<GridmintContext>;

/// The most heights one `GetDecidedValues` answer carries.
pub const MAX_SYNC_BATCH: u64 = 64;

/// The most blocks kept for one height (built, assembled or synced).
pub const MAX_BLOCKS_PER_HEIGHT: usize = 64;

/// The ledger behind consensus, as the app loop sees it. gridmint's node implements it over its
/// ledger and store; the tests implement it over a toy state.
///
/// Heights are consecutive: the loop asks for a block at height `h` (to build, validate or
/// commit) only once `h - 1` is committed, so the application checks a block against its own
/// tip. Every method runs on the loop's task: a slow one delays every reply to the engine.
pub trait Application: Send + 'static {
    /// The highest committed height (`Height(0)` before the first block).
    fn last_decided_height(&self) -> Height;

    /// The block this node proposes at `height` (the last committed height + 1) in `round`:
    /// transactions from its mempool under a header with `height`, the producer's time, the
    /// parent's hash and the state root the parent left, and `proposer` (this validator) as the
    /// producer. Called once per (height, round), and must return well within the engine's
    /// propose timeout (the loop waits for it).
    fn build(&mut self, height: Height, round: Round, proposer: ValidatorAddress) -> Block;

    /// A replica's checks of a proposed block at the last committed height + 1 before it calls
    /// the value valid (parent hash and state root against its tip, time, every transaction).
    fn validate(&self, block: &Block) -> Result<(), String>;

    /// Executes and stores the decided block with its commit certificate. Idempotent: a block at
    /// a height already committed is a no-op (`Ok`).
    fn commit(&mut self, block: &Block, certificate: &DecidedCertificate) -> Result<(), String>;

    /// A committed block and its certificate, for value sync (`None` if not held).
    fn decided(&self, height: Height) -> Option<(Block, DecidedCertificate)>;

    /// The lowest height whose block [`Application::decided`] still returns (`Height(1)` when
    /// nothing was pruned).
    fn history_min_height(&self) -> Height;

    /// The validator set of `height`, if known. Asked for the height being started and for the
    /// heights of proposals in the assembler's window (up to two heights ahead); a proposal
    /// whose set is unknown is refused.
    fn validator_set(&self, height: Height) -> Option<ValidatorSet>;
}

/// What [`start`] needs to run one validator.
#[derive(Clone, Debug)]
pub struct Settings {
    /// A name for the logs and the network identity.
    pub moniker: String,
    /// The chain every signature is bound to.
    pub chain_id: ChainId,
    /// The validator's 32-byte ed25519 seed (its account key). The libp2p key is derived from it
    /// ([`network_keypair`]).
    pub seed: [u8; 32],
    /// The home directory; the WAL goes in `home/wal/consensus.wal`.
    pub home: PathBuf,
    /// Where to listen, e.g. `/ip4/127.0.0.1/tcp/27000` ([`tcp_multiaddr`]).
    pub listen_addr: Multiaddr,
    /// The peers to keep connections to.
    pub persistent_peers: Vec<Multiaddr>,
    /// Each height's timeouts.
    pub timeouts: LinearTimeouts,
    /// A minimum time per height (`None`: the next height starts as soon as one is decided).
    pub target_time: Option<Duration>,
    /// Value sync (enabled by default).
    pub value_sync: ValueSyncConfig,
    /// The assembler's bounds.
    pub limits: Limits,
}

impl Settings {
    /// Defaults for everything but the identity and the network: the engine's timeouts, no
    /// target time, value sync's defaults, the assembler's default limits.
    pub fn new(
        moniker: impl Into<String>,
        chain_id: ChainId,
        seed: [u8; 32],
        home: PathBuf,
        listen_addr: Multiaddr,
        persistent_peers: Vec<Multiaddr>,
    ) -> Self {
        Settings {
            moniker: moniker.into(),
            chain_id,
            seed,
            home,
            listen_addr,
            persistent_peers,
            timeouts: LinearTimeouts::default(),
            target_time: None,
            value_sync: ValueSyncConfig::default(),
            limits: Limits::default(),
        }
    }

    /// The path of the WAL file.
    pub fn wal_path(&self) -> PathBuf {
        self.home.join("wal").join("consensus.wal")
    }
}

/// `/ip4/<ip>/tcp/<port>`.
pub fn tcp_multiaddr(addr: std::net::SocketAddrV4) -> Multiaddr {
    format!("/ip4/{}/tcp/{}", addr.ip(), addr.port()).parse().expect("a valid multiaddr")
}

/// The libp2p key of a validator: an ed25519 key whose seed is derived from the validator's
/// seed (`blake3::derive_key`), so that the network key is stable across restarts without being
/// the consensus key itself.
pub fn network_keypair(seed: &[u8; 32]) -> Keypair {
    let derived = blake3::derive_key("gridmint consensus network key v1", seed);
    Keypair::ed25519_from_bytes(derived).expect("32 bytes are an ed25519 seed")
}

/// Why the loop could not start or stopped on its own.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The WAL directory could not be created.
    #[error("cannot create the WAL directory: {0}")]
    Io(#[from] std::io::Error),
    /// The engine did not start.
    #[error("the engine did not start: {0}")]
    Engine(String),
    /// The application knows no validator set for a height consensus must start.
    #[error("no validator set for height {0}")]
    NoValidatorSet(Height),
    /// The application built a block that is not this validator's at that height.
    #[error("built a block for height {got_height} by {got_producer}, expected height {height} by {me}")]
    BadBuild {
        /// The height asked for.
        height: Height,
        /// This validator.
        me: ValidatorAddress,
        /// The block's height.
        got_height: Height,
        /// The block's producer.
        got_producer: ValidatorAddress,
    },
    /// A block could not be streamed out.
    #[error("cannot stream the block out: {0}")]
    StreamOut(String),
    /// The engine closed its channel (it stopped or crashed).
    #[error("the engine closed its channel")]
    EngineGone,
}

/// The engine's configuration (`NodeConfig`).
#[derive(Clone, Debug)]
struct EngineConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// The loop alone (see [`spawn_loop`]).
pub struct AppLoop<A> {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<A, (A, AppError)>>,
}

impl<A: Application> AppLoop<A> {
    /// Whether the loop has ended on its own (an error or the channel closed).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the loop and gives the application back, with the error that ended the loop early
    /// if one did.
    pub async fn stop(self) -> (A, Option<AppError>) {
        let _ = self.stop.send(());
        match self.task.await.expect("the app loop does not panic") {
            Ok(app) => (app, None),
            Err((app, e)) => (app, Some(e)),
        }
    }
}

/// Spawns the loop that answers the messages arriving on `channels` with `app`, on the current
/// tokio runtime. [`start`] calls it with the engine's channels; a test can give it its own.
/// `settings` gives the chain, the key (for the parts' signature), the timeouts, the target time
/// and the assembler's limits.
pub fn spawn_loop<A: Application>(settings: &Settings, app: A, channels: Channels<GridmintContext>) -> AppLoop<A> {
    let signer = GridmintSigner::new(settings.seed, settings.chain_id.clone());
    let start_height = Height(app.last_decided_height().0 + 1);
    let state = State {
        assembler: Assembler::new(settings.chain_id.clone(), settings.limits, start_height),
        app,
        me: signer.address(),
        signer,
        moniker: settings.moniker.clone(),
        timeouts: settings.timeouts,
        target_time: settings.target_time,
        current: start_height,
        built: BTreeMap::new(),
        blocks: BTreeMap::new(),
        undecided: BTreeMap::new(),
        waiting: BTreeMap::new(),
        sent: BTreeMap::new(),
    };
    let (stop, stop_rx) = oneshot::channel();
    let task = tokio::spawn(run_loop(state, channels, stop_rx));
    AppLoop { stop, task }
}

/// A running validator: the engine and the loop.
pub struct AppHandle<A> {
    engine: EngineHandle,
    app_loop: AppLoop<A>,
    address: ValidatorAddress,
    events: malachitebft_app_channel::app::engine::util::events::TxEvent<GridmintContext>,
    net_requests: tokio::sync::mpsc::Sender<malachitebft_app_channel::NetworkRequest>,
}

impl<A: Application> AppHandle<A> {
    /// The engine's events (heights and rounds started, values decided, ...), from now on.
    pub fn subscribe(
        &self,
    ) -> tokio::sync::broadcast::Receiver<malachitebft_app_channel::app::engine::util::events::Event<GridmintContext>>
    {
        self.events.subscribe()
    }

    /// How many peers the p2p network is connected to now (`None`: the network did not answer).
    pub async fn peer_count(&self) -> Option<usize> {
        let dump = malachitebft_app_channel::NetworkRequest::dump_state(&self.net_requests).await.ok()??;
        Some(dump.peers.len())
    }

    /// This validator's address.
    pub fn address(&self) -> ValidatorAddress {
        self.address
    }

    /// Whether the loop has ended on its own (an error or the engine gone).
    pub fn is_finished(&self) -> bool {
        self.app_loop.is_finished()
    }

    /// Stops the engine (its actors, the network and the WAL) and the loop, and gives the
    /// application back, with the error that ended the loop early if one did.
    pub async fn stop(self) -> (A, Option<AppError>) {
        let result = self.app_loop.stop().await;
        let _ = self.engine.actor.kill_and_wait(None).await;
        self.engine.handle.abort();
        let _ = self.engine.handle.await;
        result
    }
}

/// Starts the engine for `settings` and the loop that answers it with `app` (see the module
/// documentation). Must be called within a tokio runtime; the loop runs as a task of it.
pub async fn start<A: Application>(settings: Settings, app: A) -> Result<AppHandle<A>, AppError> {
    let signer = GridmintSigner::new(settings.seed, settings.chain_id.clone());
    let address = signer.address();
    std::fs::create_dir_all(settings.home.join("wal"))?;

    let keypair = network_keypair(&settings.seed);
    let peer_id = keypair.public().to_peer_id();
    let proof = signer
        .sign_validator_proof(signer.public_key().as_bytes().to_vec(), peer_id.to_bytes())
        .await
        .map_err(|e| AppError::Engine(format!("validator proof: {e}")))?;
    let proof_bytes = GridmintCodec.encode(&proof).map_err(|e| AppError::Engine(format!("validator proof: {e}")))?;
    let identity = NetworkIdentity::new_validator(settings.moniker.clone(), keypair, address.to_string(), proof_bytes);

    let config = EngineConfig {
        moniker: settings.moniker.clone(),
        consensus: ConsensusConfig {
            enabled: true,
            p2p: P2pConfig {
                listen_addr: settings.listen_addr.clone(),
                persistent_peers: settings.persistent_peers.clone(),
                protocol: PubSubProtocol::default(),
                ..P2pConfig::default()
            },
            value_payload: ValuePayload::ProposalAndParts,
            ..ConsensusConfig::default()
        },
        value_sync: settings.value_sync,
    };

    let (channels, engine) = malachitebft_app_channel::start_engine(
        GridmintContext::new(),
        config,
        WalContext::new(settings.wal_path(), GridmintCodec),
        NetworkContext::new(identity, GridmintCodec),
        ConsensusContext::new_validator(
            address,
            Box::new(GridmintVerifier::new(settings.chain_id.clone())),
            Box::new(GridmintSigner::new(settings.seed, settings.chain_id.clone())),
        ),
        SyncContext::new(GridmintCodec),
        RequestContext::new(100),
    )
    .await
    .map_err(|e| AppError::Engine(e.to_string()))?;
    info!(moniker = %settings.moniker, %address, %peer_id, "engine started");

    let (events, net_requests) = (channels.events.clone(), channels.net_requests.clone());
    let app_loop = spawn_loop(&settings, app, channels);
    Ok(AppHandle { engine, app_loop, address, events, net_requests })
}

struct Built {
    block: Block,
    value: BlockValue,
    messages: Vec<StreamMessage<ProposalPart>>,
}

struct State<A> {
    app: A,
    signer: GridmintSigner,
    me: ValidatorAddress,
    moniker: String,
    timeouts: LinearTimeouts,
    target_time: Option<Duration>,
    assembler: Assembler,
    /// The height consensus is at (the last committed + 1).
    current: Height,
    /// Values this node built, by (height, round).
    built: BTreeMap<(Height, u32), Built>,
    /// Full blocks known (built, assembled, synced), by (height, value id).
    blocks: BTreeMap<(Height, ValueId), Block>,
    /// Values known for the current height and above, checked, by (height, round).
    undecided: BTreeMap<(Height, u32), Vec<ProposedValue<GridmintContext>>>,
    /// Assembled proposals for a height not started yet (their parent is not committed).
    waiting: BTreeMap<Height, Vec<AssembledProposal>>,
    /// Messages published for a value, for restreams.
    sent: BTreeMap<(Height, ValueId), Vec<StreamMessage<ProposalPart>>>,
}

async fn run_loop<A: Application>(
    mut state: State<A>,
    mut channels: Channels<GridmintContext>,
    mut stop: oneshot::Receiver<()>,
) -> Result<A, (A, AppError)> {
    loop {
        let msg = tokio::select! {
            _ = &mut stop => {
                info!(moniker = %state.moniker, "app loop stopping");
                return Ok(state.app);
            }
            msg = channels.consensus.recv() => msg,
        };
        let Some(msg) = msg else {
            error!(moniker = %state.moniker, "the engine closed its channel");
            return Err((state.app, AppError::EngineGone));
        };
        if let Err(e) = state.handle(msg, &channels).await {
            error!(moniker = %state.moniker, error = %e, "app loop stopping on an error");
            return Err((state.app, e));
        }
    }
}

async fn publish(moniker: &str, channels: &Channels<GridmintContext>, messages: &[StreamMessage<ProposalPart>]) {
    for m in messages {
        if channels.network.send(NetworkMsg::PublishProposalPart(m.clone())).await.is_err() {
            warn!(%moniker, "the network channel is closed; parts not published");
            return;
        }
    }
}

impl<A: Application> State<A> {
    fn params(&self, height: Height) -> Result<HeightParams<GridmintContext>, AppError> {
        let set = self.app.validator_set(height).ok_or(AppError::NoValidatorSet(height))?;
        Ok(HeightParams::new(set, self.timeouts, self.target_time))
    }

    /// Keeps a block by its value id; whether it is kept. Another validator's blocks are capped
    /// at [`MAX_BLOCKS_PER_HEIGHT`] a height (an equivocating proposer or a sync peer can send
    /// many); this node's own block (`own`) is always kept. A value whose block is not kept is
    /// never reported valid: were it decided, the block would be missing.
    fn keep_block(&mut self, height: Height, id: ValueId, block: Block, own: bool) -> bool {
        let held = self.blocks.range((height, ValueId([0; 32]))..=(height, ValueId([0xff; 32]))).count();
        if own || held < MAX_BLOCKS_PER_HEIGHT || self.blocks.contains_key(&(height, id)) {
            self.blocks.insert((height, id), block);
            true
        } else {
            warn!(moniker = %self.moniker, %height, "too many blocks for one height; one not kept, its value not valid");
            false
        }
    }

    fn remember(&mut self, pv: &ProposedValue<GridmintContext>) {
        let round = pv.round.as_u32().unwrap_or(0);
        let list = self.undecided.entry((pv.height, round)).or_default();
        if !list.iter().any(|v| v.value.value_id() == pv.value.value_id() && v.proposer == pv.proposer) {
            if list.len() < MAX_BLOCKS_PER_HEIGHT {
                list.push(pv.clone());
            } else {
                warn!(moniker = %self.moniker, height = %pv.height, round, "too many values for one round; one not kept");
            }
        }
    }

    /// Checks an assembled proposal at the current height and files it.
    fn check(&mut self, p: AssembledProposal) -> ProposedValue<GridmintContext> {
        let mut validity = match self.app.validate(&p.block) {
            Ok(()) => Validity::Valid,
            Err(reason) => {
                warn!(moniker = %self.moniker, height = %p.value.height(), round = ?p.round, proposer = %p.proposer, %reason, "proposal invalid");
                Validity::Invalid
            }
        };
        if !self.keep_block(p.value.height(), p.value.value_id(), p.block, false) {
            validity = Validity::Invalid;
        }
        let pv = ProposedValue {
            height: p.value.height(),
            round: p.round,
            valid_round: p.pol_round,
            proposer: p.proposer,
            value: p.value.clone(),
            validity,
        };
        self.remember(&pv);
        pv
    }

    /// Forgets everything at or below `decided`.
    fn prune(&mut self, decided: Height) {
        let above = Height(decided.0 + 1);
        self.built = self.built.split_off(&(above, 0));
        self.blocks = self.blocks.split_off(&(above, ValueId([0; 32])));
        self.undecided = self.undecided.split_off(&(above, 0));
        self.waiting = self.waiting.split_off(&above);
        self.sent = self.sent.split_off(&(above, ValueId([0; 32])));
    }

    /// Commits the decided block `certificate` names, if it is known; `Ok(false)` if not.
    fn commit(
        &mut self,
        certificate: CommitCertificate<GridmintContext>,
        extensions: VoteExtensions<GridmintContext>,
    ) -> bool {
        let height = certificate.height;
        if self.app.last_decided_height() >= height {
            return true;
        }
        let Some(block) = self.blocks.get(&(height, certificate.value_id)) else {
            error!(moniker = %self.moniker, %height, value_id = %certificate.value_id, "decided a value whose block is unknown here");
            return false;
        };
        let cert = ExtendedCommitCertificate::from_commit_certificate_and_extensions(certificate, extensions);
        match self.app.commit(block, &cert) {
            Ok(()) => {
                info!(moniker = %self.moniker, %height, value_id = %cert.value_id, round = ?cert.round, txs = block.txs.len(), "committed");
                true
            }
            Err(reason) => {
                error!(moniker = %self.moniker, %height, %reason, "commit failed");
                false
            }
        }
    }

    async fn handle(
        &mut self,
        msg: AppMsg<GridmintContext>,
        channels: &Channels<GridmintContext>,
    ) -> Result<(), AppError> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let height = Height(self.app.last_decided_height().0 + 1);
                self.current = height;
                self.assembler.set_current_height(height);
                let params = self.params(height)?;
                info!(moniker = %self.moniker, %height, "consensus ready");
                let _ = reply.send((height, params));
            }
            AppMsg::StartedRound { height, round, proposer, role, reply_value } => {
                debug!(moniker = %self.moniker, %height, ?round, %proposer, ?role, "started round");
                if height != self.current {
                    self.current = height;
                    self.assembler.set_current_height(height);
                }
                let mut values: Vec<ProposedValue<GridmintContext>> = Vec::new();
                if self.app.last_decided_height().0 + 1 == height.0 {
                    for p in self.waiting.remove(&height).unwrap_or_default() {
                        values.push(self.check(p));
                    }
                }
                let r = round.as_u32().unwrap_or(0);
                for pv in self.undecided.get(&(height, r)).into_iter().flatten() {
                    if !values.iter().any(|v| v.value.value_id() == pv.value.value_id() && v.round == pv.round) {
                        values.push(pv.clone());
                    }
                }
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue { height, round, timeout: _, reply } => {
                let r = round.as_u32().unwrap_or(0);
                if !self.built.contains_key(&(height, r)) {
                    let block = self.app.build(height, round, self.me);
                    if block.header.height != height || block.header.producer != self.me.0 {
                        return Err(AppError::BadBuild {
                            height,
                            me: self.me,
                            got_height: block.header.height,
                            got_producer: ValidatorAddress(block.header.producer),
                        });
                    }
                    let messages = stream_messages(&block, round, Round::Nil, &self.signer)
                        .map_err(|e| AppError::StreamOut(e.to_string()))?;
                    let value = block.value();
                    info!(moniker = %self.moniker, %height, ?round, value_id = %value.value_id(), txs = block.txs.len(), parts = messages.len(), "built a value");
                    self.keep_block(height, value.value_id(), block.clone(), true);
                    self.sent.insert((height, value.value_id()), messages.clone());
                    self.built.insert((height, r), Built { block, value, messages });
                }
                let built = &self.built[&(height, r)];
                debug_assert!(built.value.commits_to(&built.block));
                let _ = reply.send(LocallyProposedValue::new(height, round, built.value.clone()));
                let messages = built.messages.clone();
                publish(&self.moniker, channels, &messages).await;
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions { extensions, reply, .. } => {
                let _ = reply.send(extensions.into_iter().map(|(address, ())| (address, Ok(()))).collect());
            }
            AppMsg::RestreamProposal { height, round, valid_round, address, value_id } => {
                match self.sent.get(&(height, value_id)) {
                    Some(messages) => {
                        debug!(moniker = %self.moniker, %height, ?round, ?valid_round, %address, %value_id, "restreaming");
                        let messages = messages.clone();
                        publish(&self.moniker, channels, &messages).await;
                    }
                    None => {
                        warn!(moniker = %self.moniker, %height, ?round, %value_id, "asked to restream a value whose parts are not held")
                    }
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(self.app.history_min_height());
            }
            AppMsg::ReceivedProposalPart { from, published_by, part, reply } => {
                let publisher: PeerId = published_by.unwrap_or(from);
                let app = &self.app;
                let result = self.assembler.insert(publisher, part, |h, r| {
                    app.validator_set(h).map(|set| *GridmintContext::new().select_proposer(&set, h, r).address())
                });
                let answer = match result {
                    Ok(None) => None,
                    Ok(Some(p)) => {
                        let height = p.value.height();
                        if height < self.current || self.app.last_decided_height() >= height {
                            debug!(moniker = %self.moniker, %height, "a proposal for a decided height; ignored");
                            None
                        } else if self.app.last_decided_height().0 + 1 == height.0 && height == self.current {
                            Some(self.check(p))
                        } else {
                            debug!(moniker = %self.moniker, %height, "a proposal for a later height; kept until it starts");
                            let list = self.waiting.entry(height).or_default();
                            if list.len() < MAX_BLOCKS_PER_HEIGHT {
                                list.push(p);
                            }
                            None
                        }
                    }
                    Err(e) => {
                        warn!(moniker = %self.moniker, %publisher, error = %e, "proposal stream refused");
                        None
                    }
                };
                let _ = reply.send(answer);
            }
            AppMsg::Decided { certificate, extensions, reply } => {
                self.commit(certificate, extensions);
                let _ = reply.send(());
            }
            AppMsg::Finalized { certificate, extensions, evidence, reply } => {
                let height = certificate.height;
                if !evidence.is_empty() {
                    warn!(moniker = %self.moniker, %height, ?evidence, "misbehaviour evidence");
                }
                let next = if self.commit(certificate, extensions) {
                    self.prune(height);
                    let next = Height(height.0 + 1);
                    self.current = next;
                    self.assembler.set_current_height(next);
                    Next::Start(next, self.params(next)?)
                } else {
                    Next::Restart(height, self.params(height)?)
                };
                let _ = reply.send(next);
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let start = (*range.start()).max(self.app.history_min_height());
                let last = self.app.last_decided_height();
                let end = (*range.end()).min(last).min(Height(start.0.saturating_add(MAX_SYNC_BATCH - 1)));
                let mut values = Vec::new();
                let mut h = start;
                while h <= end {
                    let Some((block, certificate)) = self.app.decided(h) else { break };
                    values.push(RawDecidedValue::new(Bytes::from(block.canonical_bytes()), certificate));
                    h = Height(h.0 + 1);
                }
                debug!(moniker = %self.moniker, ?range, served = values.len(), "decided values requested");
                let _ = reply.send(values);
            }
            AppMsg::ProcessSyncedValue { height, round, proposer, value_bytes, reply } => {
                let outcome = match Block::from_canonical_bytes(&value_bytes) {
                    Err(e) => {
                        warn!(moniker = %self.moniker, %height, error = %e, "synced bytes are no block");
                        SyncedValueOutcome::PeerFault
                    }
                    Ok(block) if block.header.height != height || block.header.producer != proposer.0 => {
                        warn!(moniker = %self.moniker, %height, "synced block of another height or proposer");
                        SyncedValueOutcome::PeerFault
                    }
                    Ok(_) if self.app.last_decided_height().0 + 1 != height.0 => {
                        warn!(moniker = %self.moniker, %height, "synced block not at the next height");
                        SyncedValueOutcome::LocalTransientError
                    }
                    Ok(block) => {
                        let validity = match self.app.validate(&block) {
                            Ok(()) => Validity::Valid,
                            Err(reason) => {
                                error!(moniker = %self.moniker, %height, %reason, "synced block invalid");
                                Validity::Invalid
                            }
                        };
                        let value = block.value();
                        info!(moniker = %self.moniker, %height, value_id = %value.value_id(), "synced a value");
                        if !self.keep_block(height, value.value_id(), block, false) {
                            // not a verdict on the peer: this node holds too much for the height
                            let _ = reply.send(SyncedValueOutcome::LocalTransientError);
                            return Ok(());
                        }
                        SyncedValueOutcome::Verdict(ProposedValue {
                            height,
                            round,
                            valid_round: Round::Nil,
                            proposer,
                            value,
                            validity,
                        })
                    }
                };
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }
}
