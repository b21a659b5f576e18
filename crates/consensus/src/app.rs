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
//! | `GetValue` | [`Application::build`] once per (height, round), persisted ([`Application::persist_block`]) before it is returned; the same value on a repeat, and after a restart the persisted one; its parts published through the network channel |
//! | `ReceivedProposalPart` | `None` until the [`Assembler`] completes a stream (authenticated at its `Init`: the proposer checked against [`Application::validator_set`] and the context's proposer selection, its signature verified); then [`Application::validate`] gives `Valid` (the block kept and persisted first) or `Invalid`, once per value id. A value for the next height waits until that height starts (its parent is not executed yet) |
//! | `Decided` | [`Application::commit`] of the block whose id the certificate names (held in memory, else read back from the application's store: persisted before a restart, or a synced block pushed out of memory), with the certificate and its vote extensions |
//! | `Finalized` | `Next::Start(h + 1)` once height `h` is committed (committing now if `Decided` did not), its verified equivocation evidence given to [`Application::record_evidence`], the persisted blocks through `h` forgotten ([`Application::forget_blocks_through`]) |
//! | `GetDecidedValues` | [`Application::decided`] over the range clamped to what is held, at most [`MAX_SYNC_BATCH`] heights and about value sync's `max_response_size` in bytes (at least one value) |
//! | `GetHistoryMinHeight` | [`Application::history_min_height`] |
//! | `ProcessSyncedValue` | the decoded [`Block`], checked: `Verdict` (`Valid`, the block persisted and kept apart from proposals first, or `Invalid`), `PeerFault` for bytes that are no block of that height and proposer, `LocalTransientError` when it is not for the next height |
//! | `ExtendVote` / `VerifyVoteExtensions` | `None` / all accepted (gridmint has no vote extensions) |
//! | `RestreamProposal` | the parts of the value, rebuilt from its block as its proposer first published them (its round, pol round and signature): a value this node built, or one it assembled from another validator's stream and holds (the engine pairs a proposal with its value by id across the rounds of a height, so a re-proposal in a later round needs the original stream only) |
//!
//! # Fail-stop
//!
//! The loop never answers `Finalized` with `Next::Restart`: on it the engine resets its WAL, and
//! could then sign a vote that contradicts one it signed before. A message the loop cannot answer
//! safely ends the loop with an [`AppError`] instead, nothing replied: no validator set for a
//! height, a block the application built for someone else, a block it could not persist, a
//! decided value whose block is not held ([`AppError::MissingBlock`]), a commit the application
//! refuses ([`AppError::CommitFailed`]), a height already committed with another value. [`start`]
//! then stops the engine too, and [`AppHandle::stop`] gives the error to the operator.
//!
//! # Persistence
//!
//! Every block whose value the loop hands to the engine as this node's own or as valid is
//! persisted through [`Application::persist_block`] before the reply, because the engine's WAL
//! remembers those values across a crash: after a restart the engine may ask again for the value
//! of a (height, round) it proposed, or decide a value it received. The loop loads a height's
//! persisted blocks ([`Application::persisted_blocks`]) the first time it works at it, and the
//! application forgets them once the height is committed. The trait's defaults persist nothing,
//! which is safe only without crashes.
//!
//! # Memory
//!
//! Values built, valid blocks and proposals waiting for their height are kept by height and
//! forgotten once a height is decided (everything at or below it); the assembler keeps its own
//! bounds and a window of heights around the current one. Another validator's blocks are bounded
//! by count ([`MAX_BLOCKS_PER_HEIGHT`] a height) and by bytes ([`HeldLimits`]: a height, and in
//! all); this node's own blocks are always kept. A block that would pass a bound is not kept and
//! its value not reported valid. Valid synced blocks are kept apart, at most
//! [`SYNCED_BLOCKS_PER_HEIGHT`] a height in memory, a further one pushing the oldest out (it
//! stays persisted, and is read back should it be decided): a sync peer answering with
//! valid-looking blocks of the height cannot shut out the real one. Blocks found invalid are not
//! kept (only the verdict, at most [`MAX_VERDICTS_PER_HEIGHT`] a height). A built block is held
//! once (shared), its parts rebuilt when published.
//!
//! # Not here yet
//!
//! A value this node got by value sync, or restored from the application's store after a
//! restart, has no stream signature here, so it cannot be restreamed. The application's work
//! runs on the loop's task (through `block_in_place` on a multi-threaded runtime), not on a
//! thread of its own. One Byzantine validator signing blocks for many rounds of a height can
//! still fill that height's bounds, so that this node votes nil on a later honest value of the
//! height (and stops on [`AppError::MissingBlock`] should the others decide it).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
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
use malachitebft_signing_ed25519::Signature;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::codec::GridmintCodec;
use crate::context::GridmintContext;
use crate::evidence::Equivocation;
use crate::messages::ProposalPart;
use crate::parts::{AssembledProposal, Assembler, Limits, block_weight, signed_stream_messages, stream_messages};
use crate::signing::{ChainId, GridmintSigner, GridmintVerifier};
use crate::types::{Block, BlockValue, Height, ValidatorAddress, ValueId};
use crate::validators::ValidatorSet;

/// The certificate a decided block is stored with: the commit signatures and their (empty) vote
/// extensions, the form value sync ships.
pub type DecidedCertificate = ExtendedCommitCertificate<GridmintContext>;

/// The most heights one `GetDecidedValues` answer carries.
pub const MAX_SYNC_BATCH: u64 = 64;

/// The most proposals' blocks kept for one height (built, assembled, or waiting for the height).
pub const MAX_BLOCKS_PER_HEIGHT: usize = 64;

/// The most synced blocks held in memory for one height, apart from proposals: a further one
/// replaces the oldest (which stays persisted, see [`Application::persist_block`], and is read
/// back from the store should it be decided).
pub const SYNCED_BLOCKS_PER_HEIGHT: usize = 4;

/// The most verdicts (valid or invalid, by value id) remembered for one height, so that a value
/// arriving again is not validated again.
pub const MAX_VERDICTS_PER_HEIGHT: usize = 4 * MAX_BLOCKS_PER_HEIGHT;

/// The ledger behind consensus, as the app loop sees it. gridmint's node implements it over its
/// ledger and store; the tests implement it over a toy state.
///
/// Heights are consecutive: the loop asks for a block at height `h` (to build, validate or
/// commit) only once `h - 1` is committed, so the application checks a block against its own
/// tip. Every method runs on the loop's task (the slow ones, `build`, `validate`, `commit`,
/// `decided` and the persistence methods, through `block_in_place` on a multi-threaded runtime,
/// so that the engine's other tasks move to other worker threads meanwhile): a slow one still
/// delays every reply to the engine.
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
    /// Asked once per value id and height: the loop remembers the verdict (a value arriving again,
    /// restreamed or replayed by another publisher, is not checked again).
    fn validate(&self, block: &Block) -> Result<(), String>;

    /// The checks of a block that arrives with a commit certificate (value sync): the engine
    /// checks the certificate against the block's value id, so the block was decided by a
    /// quorum; what is left to check is whether it extends this replica, without the rules that
    /// depend on this node alone (its clock). Refusing a certified block would hold this node
    /// at its height until it restarts. By default, [`Application::validate`].
    fn validate_decided(&self, block: &Block) -> Result<(), String> {
        self.validate(block)
    }

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

    /// Stores an undecided block durably, so that it survives a crash: the engine's WAL
    /// remembers the values it was told about, and after a restart it may re-propose or decide
    /// one of them, which the loop can only answer with its block. The loop calls it before it
    /// replies to the engine with the block's value, at height `block.header.height`:
    ///
    /// - `round` is `Some(r)` for this node's own block built for (height, `r`), before the
    ///   `LocallyProposedValue` is returned and its parts published. After a restart, a
    ///   `GetValue` for that (height, round) returns this block instead of calling
    ///   [`Application::build`] again, so that a `build` which is not deterministic cannot make
    ///   the node propose two values for one (height, round);
    /// - `round` is `None` for another validator's block (assembled from its parts, or fetched by
    ///   value sync) that the loop is about to report `Valid`. Blocks found invalid are never
    ///   persisted (nor kept: committing one would fail anyway).
    ///
    /// On `Ok` the block must be durable (written and synced): the reply follows at once, and the
    /// loop may drop its own copy of a synced block and read it back later through
    /// [`Application::persisted_blocks`]. It may
    /// be called again for a block already persisted, and must then succeed without storing a
    /// second copy. An `Err` (a disk failure) ends the loop with [`AppError::Persist`]
    /// (fail-stop) before anything is replied. The default persists nothing, which is safe only
    /// without crashes and with at most [`SYNCED_BLOCKS_PER_HEIGHT`] synced blocks a height
    /// (tests): a node must override it together with [`Application::persisted_blocks`] and
    /// [`Application::forget_blocks_through`].
    fn persist_block(&mut self, round: Option<Round>, block: &Block) -> Result<(), String> {
        let _ = (round, block);
        Ok(())
    }

    /// Every block [`Application::persist_block`] stored at `height` and
    /// [`Application::forget_blocks_through`] has not removed, each with the `round` it was
    /// persisted with (in any order). The loop asks once per height it works at after it starts
    /// (`ConsensusReady`, `StartedRound`, `GetValue`, `Decided` after a restart, never a height
    /// already committed) and keeps what it gets, so that a value the engine replays from its WAL
    /// can still be re-proposed or committed; and again when `Decided` names a synced block the
    /// loop pushed out of memory (it keeps at most [`SYNCED_BLOCKS_PER_HEIGHT`]). The default
    /// returns nothing.
    fn persisted_blocks(&self, height: Height) -> Vec<(Option<Round>, Block)> {
        let _ = height;
        Vec::new()
    }

    /// Called once `height` is committed ([`Application::commit`] returned `Ok`), before the
    /// next height starts: the persisted blocks of every height up to and including `height`
    /// are no longer needed and may be deleted (the loop never asks for them again). The
    /// default does nothing.
    fn forget_blocks_through(&mut self, height: Height) {
        let _ = height;
    }

    /// Called with `Finalized` of `height` when the engine saw validators sign two conflicting
    /// messages at that height: the pairs whose signatures verify ([`crate::evidence`]), at most
    /// the engine's bound per validator. An `Err` is logged, nothing more: evidence is a record,
    /// not a consensus rule. The default records nothing (the loop logs it).
    fn record_evidence(&mut self, height: Height, evidence: Vec<Equivocation>) -> Result<(), String> {
        let _ = (height, evidence);
        Ok(())
    }
}

/// What [`start`] needs to run one validator.
#[derive(Clone, Debug)]
pub struct Settings {
    /// A name for the logs and the network identity.
    pub moniker: String,
    /// The chain every signature is bound to.
    pub chain_id: ChainId,
    /// The validator's 32-byte ed25519 seed (its account key). The libp2p key is derived from it
    /// ([`network_keypair`]) unless `network_seed` is set.
    pub seed: [u8; 32],
    /// The seed the libp2p key is derived from instead of `seed` (`None`: `seed`). Two processes
    /// of one validator (a failover gone wrong, or the test double of an equivocating validator)
    /// need two network identities to both be heard.
    pub network_seed: Option<[u8; 32]>,
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
    /// Value sync (enabled by default). [`start`] raises its `max_response_size` to
    /// [`sync_response_limit`] if it is lower; the loop's `GetDecidedValues` answers stay about
    /// within it.
    pub value_sync: ValueSyncConfig,
    /// The assembler's bounds.
    pub limits: Limits,
    /// The loop's byte bounds on the blocks it holds.
    pub held: HeldLimits,
}

/// The byte bounds on the full blocks of proposals the loop holds once their streams are complete
/// (built, assembled, or waiting for their height to start; synced blocks are kept apart, see
/// [`SYNCED_BLOCKS_PER_HEIGHT`]), measured as [`crate::parts::block_weight`]. This node's own
/// blocks are always kept (and counted); another validator's block that would pass a bound is not
/// kept, and its value is then not reported valid, since a value reported valid must have its
/// block should it be decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldLimits {
    /// The most bytes held for one height.
    pub max_bytes_per_height: usize,
    /// The most bytes held in all heights.
    pub max_bytes: usize,
}

impl Default for HeldLimits {
    /// 160 MiB a height (twice the assembler's largest stream, 64 MiB, and a margin) and 320 MiB
    /// in all.
    fn default() -> Self {
        HeldLimits { max_bytes_per_height: 160 << 20, max_bytes: 320 << 20 }
    }
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
            network_seed: None,
            home,
            listen_addr,
            persistent_peers,
            timeouts: LinearTimeouts::default(),
            target_time: None,
            value_sync: ValueSyncConfig::default(),
            limits: Limits::default(),
            held: HeldLimits::default(),
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

/// The bytes value sync must carry in one response for the largest block the assembler takes
/// under `limits`: its canonical bytes (each transaction's signature and bytes, as
/// [`Limits::max_bytes_per_stream`] counts them, plus at most 5 bytes of length framing each, up
/// to [`Limits::max_txs_per_stream`]) and 1 MiB for the header, the commit certificate and the
/// response's framing. [`start`] raises the engine's `value_sync.max_response_size` to at least
/// this, and the network's RPC limit 1 MiB above it, so that a decided block of any size the
/// network accepts can also be synced (the engine drops a value larger than the limit, and a node
/// behind could then never pass that height).
pub fn sync_response_limit(limits: &Limits) -> u64 {
    (limits.max_bytes_per_stream as u64)
        .saturating_add(5 * u64::from(limits.max_txs_per_stream))
        .saturating_add(1 << 20)
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
    /// [`Application::persist_block`] failed: the value cannot be answered safely.
    #[error("cannot persist a block of height {height}: {reason}")]
    Persist {
        /// The block's height.
        height: Height,
        /// The application's reason.
        reason: String,
    },
    /// The engine decided a value whose block this node does not hold, in memory or persisted:
    /// a block lost across a crash (an application that keeps the default
    /// [`Application::persist_block`]), or a value the others decided that this node found
    /// invalid or could not keep within its bounds. The height cannot be committed from here.
    #[error("decided value {value_id} at height {height}, whose block is not held")]
    MissingBlock {
        /// The decided height.
        height: Height,
        /// The decided value.
        value_id: ValueId,
    },
    /// [`Application::commit`] refused the decided block.
    #[error("cannot commit the decided block of height {height}: {reason}")]
    CommitFailed {
        /// The decided height.
        height: Height,
        /// The application's reason.
        reason: String,
    },
    /// The engine decided a value at a height the application has already committed with
    /// another value: the store and consensus disagree.
    #[error("height {height} was committed with value {committed}, but consensus decided {decided}")]
    ConflictingCommit {
        /// The height.
        height: Height,
        /// The value the application committed.
        committed: ValueId,
        /// The value the certificate names.
        decided: ValueId,
    },
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
    failed: Arc<Notify>,
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
/// `settings` gives the chain, the key (for the parts' signature), the timeouts, the target time,
/// the assembler's limits and the held blocks' byte bounds.
pub fn spawn_loop<A: Application>(settings: &Settings, app: A, channels: Channels<GridmintContext>) -> AppLoop<A> {
    let signer = GridmintSigner::new(settings.seed, settings.chain_id.clone());
    let start_height = Height(app.last_decided_height().0 + 1);
    let failed = Arc::new(Notify::new());
    let state = State {
        assembler: Assembler::new(settings.chain_id.clone(), settings.limits, start_height),
        app,
        me: signer.address(),
        chain_id: settings.chain_id.clone(),
        signer,
        moniker: settings.moniker.clone(),
        timeouts: settings.timeouts,
        target_time: settings.target_time,
        held_limits: settings.held,
        sync_budget: settings.value_sync.max_response_size.as_u64(),
        current: start_height,
        built: BTreeMap::new(),
        blocks: BTreeMap::new(),
        synced: BTreeMap::new(),
        verdicts: BTreeMap::new(),
        undecided: BTreeMap::new(),
        waiting: BTreeMap::new(),
        held_by_height: BTreeMap::new(),
        held_total: 0,
        restored: BTreeSet::new(),
        committed: None,
    };
    let (stop, stop_rx) = oneshot::channel();
    let task = tokio::spawn(run_loop(state, channels, stop_rx, failed.clone()));
    AppLoop { stop, task, failed }
}

/// A running validator: the engine and the loop.
pub struct AppHandle<A> {
    engine: EngineHandle,
    app_loop: AppLoop<A>,
    address: ValidatorAddress,
    events: malachitebft_app_channel::app::engine::util::events::TxEvent<GridmintContext>,
    net_requests: tokio::sync::mpsc::Sender<malachitebft_app_channel::NetworkRequest>,
    watcher: JoinHandle<()>,
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

    /// Whether the loop has ended on its own (an error or the engine gone). When it ends on an
    /// error the engine is stopped too (fail-stop); [`AppHandle::stop`] gives the error.
    pub fn is_finished(&self) -> bool {
        self.app_loop.is_finished()
    }

    /// Stops the engine (its actors, the network and the WAL) and the loop, and gives the
    /// application back, with the error that ended the loop early if one did.
    pub async fn stop(self) -> (A, Option<AppError>) {
        self.watcher.abort();
        let result = self.app_loop.stop().await;
        let _ = self.engine.actor.kill_and_wait(None).await;
        self.engine.handle.abort();
        let _ = self.engine.handle.await;
        result
    }
}

/// Starts the engine for `settings` and the loop that answers it with `app` (see the module
/// documentation). Must be called within a tokio runtime; the loop runs as a task of it.
pub async fn start<A: Application>(mut settings: Settings, app: A) -> Result<AppHandle<A>, AppError> {
    // Value sync carries the largest block (ByteSize is raised by adding bytes: the type is not
    // re-exported).
    let needed = sync_response_limit(&settings.limits);
    let have = settings.value_sync.max_response_size.as_u64();
    if have < needed {
        settings.value_sync.max_response_size += needed - have;
    }
    let mut p2p = P2pConfig {
        listen_addr: settings.listen_addr.clone(),
        persistent_peers: settings.persistent_peers.clone(),
        protocol: PubSubProtocol::default(),
        ..P2pConfig::default()
    };
    let rpc_needed = settings.value_sync.max_response_size.as_u64().saturating_add(1 << 20);
    let rpc_have = p2p.rpc_max_size.as_u64();
    if rpc_have < rpc_needed {
        p2p.rpc_max_size += rpc_needed - rpc_have;
    }
    let signer = GridmintSigner::new(settings.seed, settings.chain_id.clone());
    let address = signer.address();
    std::fs::create_dir_all(settings.home.join("wal"))?;

    let keypair = network_keypair(&settings.network_seed.unwrap_or(settings.seed));
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
            p2p,
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
    // Fail-stop: a loop that ends on an error stops the engine, which would otherwise keep
    // gossiping and voting nil without an application behind it.
    let failed = app_loop.failed.clone();
    let actor = engine.actor.clone();
    let moniker = settings.moniker.clone();
    let watcher = tokio::spawn(async move {
        failed.notified().await;
        error!(%moniker, "the app loop failed; stopping the engine");
        actor.stop(Some("the app loop failed".to_string()));
    });
    Ok(AppHandle { engine, app_loop, address, events, net_requests, watcher })
}

struct Built {
    block: Arc<Block>,
    value: BlockValue,
}

/// What [`State::verdict`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Checked {
    /// Valid, its block kept (and persisted).
    Valid,
    /// Invalid.
    Invalid,
    /// Valid, but its block could not be kept: the value must not be reported valid.
    NotKept,
}

/// A full block the loop holds.
struct Held {
    block: Arc<Block>,
    /// For a block assembled from another validator's stream: that stream's round, pol round and
    /// `Init` signature, to replay it on a restream.
    origin: Option<(Round, Round, Signature)>,
}

/// Whether [`State::keep_block`] kept a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kept {
    /// Kept now.
    New,
    /// Already held.
    Already,
    /// Not kept: a bound would be passed.
    Refused,
}

struct State<A> {
    app: A,
    signer: GridmintSigner,
    me: ValidatorAddress,
    /// The chain signatures are bound to (to check evidence).
    chain_id: ChainId,
    moniker: String,
    timeouts: LinearTimeouts,
    target_time: Option<Duration>,
    held_limits: HeldLimits,
    /// The bytes one `GetDecidedValues` answer may carry (value sync's `max_response_size`).
    sync_budget: u64,
    assembler: Assembler,
    /// The height consensus is at (the last committed + 1).
    current: Height,
    /// Values this node built, by (height, round); their blocks are in `blocks` too.
    built: BTreeMap<(Height, u32), Built>,
    /// Full blocks of valid values (built, assembled, restored), by (height, value id).
    blocks: BTreeMap<(Height, ValueId), Held>,
    /// Valid synced blocks by height, the oldest first (at most [`SYNCED_BLOCKS_PER_HEIGHT`]),
    /// apart from the bounds on proposals' blocks.
    synced: BTreeMap<Height, VecDeque<(ValueId, Arc<Block>)>>,
    /// The validity found for each value checked, so that a value arriving again (a restream, a
    /// replay under another publisher) is not validated again.
    verdicts: BTreeMap<(Height, ValueId), Validity>,
    /// Values known for the current height and above, checked, by (height, round).
    undecided: BTreeMap<(Height, u32), Vec<ProposedValue<GridmintContext>>>,
    /// Assembled proposals for a height not started yet (their parent is not committed).
    waiting: BTreeMap<Height, Vec<AssembledProposal>>,
    /// Bytes held (`blocks` and `waiting`) by height, and in all.
    held_by_height: BTreeMap<Height, usize>,
    held_total: usize,
    /// Heights whose persisted blocks were loaded ([`Application::persisted_blocks`]).
    restored: BTreeSet<Height>,
    /// The last height this loop committed, with its value.
    committed: Option<(Height, ValueId)>,
}

async fn run_loop<A: Application>(
    mut state: State<A>,
    mut channels: Channels<GridmintContext>,
    mut stop: oneshot::Receiver<()>,
    failed: Arc<Notify>,
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
            failed.notify_one();
            return Err((state.app, AppError::EngineGone));
        };
        if let Err(e) = state.handle(msg, &channels).await {
            error!(moniker = %state.moniker, error = %e, "app loop stopping on an error");
            failed.notify_one();
            return Err((state.app, e));
        }
    }
}

/// Runs the application's (synchronous, possibly slow) work: on a multi-threaded runtime through
/// `block_in_place`, so that the runtime moves its other tasks (the engine's actors: timers,
/// gossip, the WAL) off this worker thread meanwhile; on a single-threaded runtime (the loop's
/// own tests), in place.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
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

fn same_value(a: &ProposedValue<GridmintContext>, b: &ProposedValue<GridmintContext>) -> bool {
    a.value.value_id() == b.value.value_id() && a.round == b.round && a.proposer == b.proposer
}

impl<A: Application> State<A> {
    fn params(&self, height: Height) -> Result<HeightParams<GridmintContext>, AppError> {
        let set = self.app.validator_set(height).ok_or(AppError::NoValidatorSet(height))?;
        Ok(HeightParams::new(set, self.timeouts, self.target_time))
    }

    /// Whether `bytes` more at `height` stay within [`HeldLimits`] (and the count cap).
    fn fits(&self, height: Height, bytes: usize) -> bool {
        let at_height = self.held_by_height.get(&height).copied().unwrap_or(0);
        let count = self.blocks.range((height, ValueId([0; 32]))..=(height, ValueId([0xff; 32]))).count()
            + self.waiting.get(&height).map_or(0, Vec::len);
        count < MAX_BLOCKS_PER_HEIGHT
            && at_height.saturating_add(bytes) <= self.held_limits.max_bytes_per_height
            && self.held_total.saturating_add(bytes) <= self.held_limits.max_bytes
    }

    fn charge(&mut self, height: Height, bytes: usize) {
        *self.held_by_height.entry(height).or_default() += bytes;
        self.held_total += bytes;
    }

    fn refund(&mut self, height: Height, bytes: usize) {
        if let Some(b) = self.held_by_height.get_mut(&height) {
            *b = b.saturating_sub(bytes);
        }
        self.held_total = self.held_total.saturating_sub(bytes);
    }

    /// Keeps a block by its value id. Another validator's blocks are bounded by count
    /// ([`MAX_BLOCKS_PER_HEIGHT`] a height) and bytes ([`HeldLimits`]): an equivocating proposer
    /// can send many; this node's own block (`own`), or one restored from the
    /// application's store, is always kept. A value whose block is not kept is never reported
    /// valid: were it decided, the block would be missing.
    fn keep_block(&mut self, height: Height, id: ValueId, block: Arc<Block>, own: bool) -> Kept {
        if self.blocks.contains_key(&(height, id)) {
            return Kept::Already;
        }
        let bytes = block_weight(&block);
        if !own && !self.fits(height, bytes) {
            warn!(moniker = %self.moniker, %height, bytes, held = self.held_total, "too many blocks held for one height or in all; one not kept, its value not valid");
            return Kept::Refused;
        }
        self.charge(height, bytes);
        self.blocks.insert((height, id), Held { block, origin: None });
        Kept::New
    }

    /// Loads, once per height, the blocks the application persisted at `height` before a
    /// restart: this node's own built values by round, the others by value id.
    fn restore(&mut self, height: Height) {
        if height <= self.app.last_decided_height() || !self.restored.insert(height) {
            return;
        }
        for (round, block) in blocking(|| self.app.persisted_blocks(height)) {
            if block.header.height != height {
                warn!(moniker = %self.moniker, %height, got = %block.header.height, "a persisted block of another height; ignored");
                continue;
            }
            let value = block.value();
            let id = value.value_id();
            let block = Arc::new(block);
            if let Some(r) = round.and_then(|r| r.as_u32())
                && block.header.producer == self.me.0
            {
                self.built.entry((height, r)).or_insert_with(|| Built { block: block.clone(), value: value.clone() });
            }
            self.keep_block(height, id, block, true);
            self.verdicts.insert((height, id), Validity::Valid);
            info!(moniker = %self.moniker, %height, ?round, value_id = %id, "restored a persisted block");
        }
    }

    fn persist(&mut self, round: Option<Round>, block: &Block) -> Result<(), AppError> {
        blocking(|| self.app.persist_block(round, block))
            .map_err(|reason| AppError::Persist { height: block.header.height, reason })
    }

    fn remember(&mut self, pv: &ProposedValue<GridmintContext>) {
        let round = pv.round.as_u32().unwrap_or(0);
        let list = self.undecided.entry((pv.height, round)).or_default();
        if !list.iter().any(|v| same_value(v, pv)) {
            if list.len() < MAX_BLOCKS_PER_HEIGHT {
                list.push(pv.clone());
            } else {
                warn!(moniker = %self.moniker, height = %pv.height, round, "too many values for one round; one not kept");
            }
        }
    }

    /// Checks `block` (value `id`) at the current height: the verdict already found for it, else
    /// [`Application::validate`]'s. A valid block is kept and, the first time, persisted
    /// ([`Application::persist_block`]) before the caller replies. `Err` only if persisting fails.
    fn verdict(&mut self, id: ValueId, block: Block) -> Result<Checked, AppError> {
        let height = block.header.height;
        if self.validity(id, &block) == Validity::Invalid {
            return Ok(Checked::Invalid);
        }
        let block = Arc::new(block);
        match self.keep_block(height, id, block.clone(), false) {
            Kept::Refused => Ok(Checked::NotKept),
            Kept::Already => Ok(Checked::Valid),
            Kept::New => {
                self.persist(None, &block)?;
                Ok(Checked::Valid)
            }
        }
    }

    /// The validity of `block` (value `id`) at the current height: the verdict already found for
    /// it, else [`Application::validate`]'s, remembered.
    fn validity(&mut self, id: ValueId, block: &Block) -> Validity {
        let height = block.header.height;
        match self.verdicts.get(&(height, id)) {
            Some(v) => *v,
            None => {
                let validity = match blocking(|| self.app.validate(block)) {
                    Ok(()) => Validity::Valid,
                    Err(reason) => {
                        warn!(moniker = %self.moniker, %height, producer = %ValidatorAddress(block.header.producer), %reason, "block invalid");
                        Validity::Invalid
                    }
                };
                let cached = self.verdicts.range((height, ValueId([0; 32]))..=(height, ValueId([0xff; 32]))).count();
                if cached < MAX_VERDICTS_PER_HEIGHT {
                    self.verdicts.insert((height, id), validity);
                }
                validity
            }
        }
    }

    /// The validity of a synced `block` (value `id`, sent with a commit certificate the engine
    /// checks): a Valid verdict already found for it, else
    /// [`Application::validate_decided`]'s, remembered. A proposal's Invalid verdict is not
    /// reused: it may rest on this node's clock alone, which a certified block need not meet.
    fn synced_validity(&mut self, id: ValueId, block: &Block) -> Validity {
        let height = block.header.height;
        if self.verdicts.get(&(height, id)) == Some(&Validity::Valid) {
            return Validity::Valid;
        }
        let validity = match blocking(|| self.app.validate_decided(block)) {
            Ok(()) => Validity::Valid,
            Err(reason) => {
                warn!(moniker = %self.moniker, %height, producer = %ValidatorAddress(block.header.producer), %reason, "synced block invalid");
                Validity::Invalid
            }
        };
        // remembered either way (a peer resending the same block costs no second check): an
        // Invalid here fails checks that `validate` makes too, so a proposal may reuse it
        let cached = self.verdicts.range((height, ValueId([0; 32]))..=(height, ValueId([0xff; 32]))).count();
        if cached < MAX_VERDICTS_PER_HEIGHT || self.verdicts.contains_key(&(height, id)) {
            self.verdicts.insert((height, id), validity);
        }
        validity
    }

    /// Files a valid synced block (persisted first): a further one past
    /// [`SYNCED_BLOCKS_PER_HEIGHT`] pushes the oldest out of memory. That is safe only because it
    /// stays persisted: the engine compares a synced value's id with its certificate after the
    /// reply, asynchronously, so the block pushed out may be the one it decides next, and
    /// [`State::commit`] then reads it back through [`Application::persisted_blocks`].
    fn keep_synced(&mut self, id: ValueId, block: Block) -> Result<(), AppError> {
        let height = block.header.height;
        if self.blocks.contains_key(&(height, id))
            || self.synced.get(&height).is_some_and(|q| q.iter().any(|(i, _)| *i == id))
        {
            return Ok(());
        }
        self.persist(None, &block)?;
        let slots = self.synced.entry(height).or_default();
        slots.push_back((id, Arc::new(block)));
        if slots.len() > SYNCED_BLOCKS_PER_HEIGHT {
            slots.pop_front();
        }
        Ok(())
    }

    /// Checks an assembled proposal at the current height and files it.
    fn check(&mut self, p: AssembledProposal) -> Result<ProposedValue<GridmintContext>, AppError> {
        let key = (p.value.height(), p.value.value_id());
        let validity = match self.verdict(key.1, p.block)? {
            Checked::Valid => {
                if let Some(held) = self.blocks.get_mut(&key) {
                    held.origin.get_or_insert((p.round, p.pol_round, p.signature));
                }
                Validity::Valid
            }
            // a value whose block is not kept is never reported valid
            Checked::Invalid | Checked::NotKept => Validity::Invalid,
        };
        let pv = ProposedValue {
            height: p.value.height(),
            round: p.round,
            valid_round: p.pol_round,
            proposer: p.proposer,
            value: p.value,
            validity,
        };
        self.remember(&pv);
        Ok(pv)
    }

    /// Forgets everything at or below `decided`.
    fn prune(&mut self, decided: Height) {
        let above = Height(decided.0 + 1);
        self.built = self.built.split_off(&(above, 0));
        self.blocks = self.blocks.split_off(&(above, ValueId([0; 32])));
        self.verdicts = self.verdicts.split_off(&(above, ValueId([0; 32])));
        self.synced = self.synced.split_off(&above);
        self.undecided = self.undecided.split_off(&(above, 0));
        self.waiting = self.waiting.split_off(&above);
        self.held_by_height = self.held_by_height.split_off(&above);
        self.held_total = self.held_by_height.values().sum();
        self.restored = self.restored.split_off(&above);
    }

    /// Commits the decided block `certificate` names. Every failure ends the loop (fail-stop):
    /// the block unknown here ([`AppError::MissingBlock`]), refused by the application
    /// ([`AppError::CommitFailed`]), or the height already committed with another value
    /// ([`AppError::ConflictingCommit`]). Never `Next::Restart`: the engine resets its WAL when
    /// it restarts a height, and could then sign votes contradicting those it signed before.
    fn commit(
        &mut self,
        certificate: CommitCertificate<GridmintContext>,
        extensions: VoteExtensions<GridmintContext>,
    ) -> Result<(), AppError> {
        let height = certificate.height;
        let value_id = certificate.value_id;
        if self.app.last_decided_height() >= height {
            if self.committed == Some((height, value_id)) {
                return Ok(());
            }
            return match blocking(|| self.app.decided(height)) {
                Some((block, _)) if block.value().value_id() != value_id => {
                    Err(AppError::ConflictingCommit { height, committed: block.value().value_id(), decided: value_id })
                }
                _ => Ok(()),
            };
        }
        self.restore(height);
        let held = self.blocks.get(&(height, value_id)).map(|h| h.block.clone()).or_else(|| {
            self.synced.get(&height).and_then(|q| q.iter().find(|(i, _)| *i == value_id)).map(|(_, b)| b.clone())
        });
        let block = match held {
            Some(block) => block,
            // a synced block pushed out of memory, read back from the store
            None => blocking(|| self.app.persisted_blocks(height))
                .into_iter()
                .map(|(_, b)| b)
                .find(|b| b.header.height == height && b.value().value_id() == value_id)
                .map(Arc::new)
                .ok_or(AppError::MissingBlock { height, value_id })?,
        };
        debug_assert_eq!(block.value().value_id(), value_id);
        let cert = ExtendedCommitCertificate::from_commit_certificate_and_extensions(certificate, extensions);
        blocking(|| self.app.commit(&block, &cert)).map_err(|reason| AppError::CommitFailed { height, reason })?;
        info!(moniker = %self.moniker, %height, %value_id, round = ?cert.round, txs = block.txs.len(), "committed");
        self.committed = Some((height, value_id));
        Ok(())
    }

    /// The parts of another validator's value `value_id` at `height`, as its proposer published
    /// them (its round, pol round and signature), if this node assembled that value and holds it.
    fn relayed_stream(
        &self,
        height: Height,
        value_id: ValueId,
    ) -> Result<Option<Vec<StreamMessage<ProposalPart>>>, AppError> {
        let Some(Held { block, origin: Some((round, pol_round, signature)) }) = self.blocks.get(&(height, value_id))
        else {
            return Ok(None);
        };
        signed_stream_messages(block, *round, *pol_round, *signature)
            .map(Some)
            .map_err(|e| AppError::StreamOut(e.to_string()))
    }

    /// The parts of this node's value `value_id` at `height`, as first published (the round it
    /// was built for, a nil proof-of-lock round).
    fn own_stream(
        &self,
        height: Height,
        value_id: ValueId,
    ) -> Result<Option<Vec<StreamMessage<ProposalPart>>>, AppError> {
        let Some(((_, r), built)) =
            self.built.range((height, 0)..=(height, u32::MAX)).find(|(_, b)| b.value.value_id() == value_id)
        else {
            return Ok(None);
        };
        stream_messages(&built.block, Round::new(*r), Round::Nil, &self.signer)
            .map(Some)
            .map_err(|e| AppError::StreamOut(e.to_string()))
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
                self.restore(height);
                info!(moniker = %self.moniker, %height, "consensus ready");
                let _ = reply.send((height, params));
            }
            AppMsg::StartedRound { height, round, proposer, role, reply_value } => {
                debug!(moniker = %self.moniker, %height, ?round, %proposer, ?role, "started round");
                if height != self.current {
                    self.current = height;
                    self.assembler.set_current_height(height);
                }
                if let Some(r) = round.as_u32() {
                    self.assembler.set_current_round(r);
                }
                self.restore(height);
                let mut values: Vec<ProposedValue<GridmintContext>> = Vec::new();
                if self.app.last_decided_height().0 + 1 == height.0 {
                    for p in self.waiting.remove(&height).unwrap_or_default() {
                        self.refund(height, block_weight(&p.block));
                        values.push(self.check(p)?);
                    }
                }
                let r = round.as_u32().unwrap_or(0);
                for pv in self.undecided.get(&(height, r)).into_iter().flatten() {
                    if !values.iter().any(|v| same_value(v, pv)) {
                        values.push(pv.clone());
                    }
                }
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue { height, round, timeout: _, reply } => {
                let r = round.as_u32().unwrap_or(0);
                self.restore(height);
                if !self.built.contains_key(&(height, r)) {
                    let me = self.me;
                    let block = blocking(|| self.app.build(height, round, me));
                    if block.header.height != height || block.header.producer != self.me.0 {
                        return Err(AppError::BadBuild {
                            height,
                            me: self.me,
                            got_height: block.header.height,
                            got_producer: ValidatorAddress(block.header.producer),
                        });
                    }
                    // persisted before anything is replied or published: a restart proposes it
                    // again rather than a new build
                    self.persist(Some(round), &block)?;
                    let value = block.value();
                    info!(moniker = %self.moniker, %height, ?round, value_id = %value.value_id(), txs = block.txs.len(), "built a value");
                    let block = Arc::new(block);
                    self.keep_block(height, value.value_id(), block.clone(), true);
                    self.verdicts.insert((height, value.value_id()), Validity::Valid);
                    self.built.insert((height, r), Built { block, value });
                }
                let built = &self.built[&(height, r)];
                debug_assert!(built.value.commits_to(&built.block));
                let messages = stream_messages(&built.block, round, Round::Nil, &self.signer)
                    .map_err(|e| AppError::StreamOut(e.to_string()))?;
                let _ = reply.send(LocallyProposedValue::new(height, round, built.value.clone()));
                publish(&self.moniker, channels, &messages).await;
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions { extensions, reply, .. } => {
                let _ = reply.send(extensions.into_iter().map(|(address, ())| (address, Ok(()))).collect());
            }
            AppMsg::RestreamProposal { height, round, valid_round, address, value_id } => {
                let messages = match self.own_stream(height, value_id)? {
                    Some(messages) => Some(messages),
                    None => self.relayed_stream(height, value_id)?,
                };
                match messages {
                    Some(messages) => {
                        debug!(moniker = %self.moniker, %height, ?round, ?valid_round, %address, %value_id, "restreaming");
                        publish(&self.moniker, channels, &messages).await;
                    }
                    None => {
                        warn!(moniker = %self.moniker, %height, ?round, %value_id, "asked to restream a value whose stream this node cannot rebuild")
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
                            Some(self.check(p)?)
                        } else {
                            let bytes = block_weight(&p.block);
                            if self.fits(height, bytes) {
                                debug!(moniker = %self.moniker, %height, "a proposal for a later height; kept until it starts");
                                self.charge(height, bytes);
                                self.waiting.entry(height).or_default().push(p);
                            } else {
                                warn!(moniker = %self.moniker, %height, bytes, "a proposal for a later height; not kept (too much held)");
                            }
                            None
                        }
                    }
                    Err(e) => {
                        debug!(moniker = %self.moniker, %publisher, error = %e, "proposal stream refused");
                        None
                    }
                };
                let _ = reply.send(answer);
            }
            AppMsg::Decided { certificate, extensions, reply } => {
                // not answered if the commit fails: the loop ends (fail-stop)
                self.commit(certificate, extensions)?;
                let _ = reply.send(());
            }
            AppMsg::Finalized { certificate, extensions, evidence, reply } => {
                let height = certificate.height;
                self.commit(certificate, extensions)?;
                if !evidence.is_empty() {
                    let found = crate::evidence::collect(&self.chain_id, &evidence);
                    for e in &found {
                        warn!(moniker = %self.moniker, %height, validator = %e.validator, step = e.step.name(),
                            round = e.round, "equivocation: two conflicting signed messages");
                    }
                    if !found.is_empty()
                        && let Err(e) = blocking(|| self.app.record_evidence(height, found))
                    {
                        error!(moniker = %self.moniker, %height, error = %e, "equivocation evidence not recorded");
                    }
                }
                self.prune(height);
                self.app.forget_blocks_through(height);
                let next = Height(height.0 + 1);
                self.current = next;
                self.assembler.set_current_height(next);
                let _ = reply.send(Next::Start(next, self.params(next)?));
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let start = (*range.start()).max(self.app.history_min_height());
                let last = self.app.last_decided_height();
                let end = (*range.end()).min(last).min(Height(start.0.saturating_add(MAX_SYNC_BATCH - 1)));
                let mut values = Vec::new();
                let mut bytes = 0u64;
                let mut h = start;
                while h <= end {
                    let Some((block, certificate)) = blocking(|| self.app.decided(h)) else { break };
                    let value_bytes = block.canonical_bytes();
                    // about what the engine will count (it drops every value past its limit):
                    // the block, each commit signature, the framing
                    let size = (value_bytes.len() as u64)
                        .saturating_add(128 * certificate.commit_signatures.len() as u64)
                        .saturating_add(256);
                    if !values.is_empty() && bytes.saturating_add(size) > self.sync_budget {
                        break;
                    }
                    bytes = bytes.saturating_add(size);
                    values.push(RawDecidedValue::new(Bytes::from(value_bytes), certificate));
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
                        let value = block.value();
                        let id = value.value_id();
                        // apart from proposals' bounds: a sync peer can send many valid-looking
                        // blocks of the height (the engine checks the id after this reply)
                        let validity = self.synced_validity(id, &block);
                        if validity == Validity::Valid {
                            self.keep_synced(id, block)?;
                        }
                        info!(moniker = %self.moniker, %height, value_id = %id, ?validity, "synced a value");
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
