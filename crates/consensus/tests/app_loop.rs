//! The app loop driven by hand-made engine messages (no engine, no network): what it replies to
//! each `AppMsg`, and what it publishes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gridmint_consensus::app::{
    AppError, AppLoop, Application, DecidedCertificate, HeldLimits, MAX_SYNC_BATCH, Settings, spawn_loop,
};
use gridmint_consensus::app_channel::app::engine::host::{Next, SyncedValueOutcome};
use gridmint_consensus::app_channel::app::events::TxEvent;
use gridmint_consensus::app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, Round, Validity, VoteExtensionPolicy, VoteExtensions,
};
use gridmint_consensus::app_channel::app::types::streaming::StreamMessage;
use gridmint_consensus::app_channel::app::types::{MisbehaviorEvidence, PeerId, ProposedValue};
use gridmint_consensus::app_channel::{AppMsg, Channels, NetworkMsg};
use gridmint_consensus::parts::stream_messages;
use gridmint_consensus::{
    Block, BlockHeader, ChainId, GridmintContext, GridmintSigner, Height, ProposalPart, SignedTxBytes, Validator,
    ValidatorAddress, ValidatorSet, ValueId,
};
use tokio::sync::{mpsc, oneshot};

const CHAIN: &str = "gridmint-loop-test";

fn chain() -> ChainId {
    ChainId::new(CHAIN).unwrap()
}

fn seed(i: usize) -> [u8; 32] {
    [i as u8 + 1; 32]
}

fn signer(i: usize) -> GridmintSigner {
    GridmintSigner::new(seed(i), chain())
}

fn set() -> ValidatorSet {
    ValidatorSet::new((0..4).map(|i| Validator::new(signer(i).address().to_bytes(), 1).unwrap()).collect()).unwrap()
}

fn index_of(address: ValidatorAddress) -> usize {
    (0..4).find(|i| signer(*i).address() == address).unwrap()
}

fn peer(i: u8) -> PeerId {
    let mut bytes = vec![0x12, 0x20];
    bytes.extend_from_slice(&[i; 32]);
    PeerId::from_bytes(&bytes).unwrap()
}

/// A number no two builds in this process share: the toy's `build` is not deterministic.
static BUILDS: AtomicU64 = AtomicU64::new(0);

/// A chain of toy blocks: the parent hash is the parent's value id, the state a hash chain. The
/// committed state is kept in memory and carried over a simulated crash ([`Toy::reopened`]), as a
/// store's committed blocks survive one; undecided blocks are persisted as files in `dir`, and
/// read back from there only.
struct Toy {
    set: ValidatorSet,
    height: Height,
    tip: [u8; 32],
    state: [u8; 32],
    store: BTreeMap<u64, (Block, DecidedCertificate)>,
    min: Height,
    /// Where persisted blocks go (shared by the reopened toys of one test).
    dir: Arc<tempfile::TempDir>,
    /// How many times `build` ran on this toy.
    builds: u64,
    /// What `persist_block` was asked, in order.
    persisted: Vec<(Option<Round>, ValueId)>,
    /// Whether `commit` fails.
    fail_commit: bool,
}

impl Toy {
    fn new() -> Self {
        Toy {
            set: set(),
            height: Height(0),
            tip: [0; 32],
            state: [7; 32],
            store: BTreeMap::new(),
            min: Height(1),
            dir: Arc::new(tempfile::tempdir().unwrap()),
            builds: 0,
            persisted: Vec::new(),
            fail_commit: false,
        }
    }

    /// The toy after a crash: the committed state and the persisted files, nothing else.
    fn reopened(&self) -> Self {
        Toy {
            set: self.set.clone(),
            height: self.height,
            tip: self.tip,
            state: self.state,
            store: self.store.clone(),
            min: self.min,
            dir: self.dir.clone(),
            builds: 0,
            persisted: Vec::new(),
            fail_commit: self.fail_commit,
        }
    }

    fn block(&self, height: Height, producer: ValidatorAddress) -> Block {
        Block {
            header: BlockHeader {
                height,
                time_ms: height.0,
                parent_hash: self.tip,
                parent_state_root: self.state,
                producer: producer.0,
            },
            txs: vec![SignedTxBytes { signature: [1; 64], tx: format!("tx at {height}").into_bytes() }],
        }
    }

    /// The persisted files, by name.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".block"))
            .collect();
        names.sort();
        names
    }
}

impl Application for Toy {
    fn last_decided_height(&self) -> Height {
        self.height
    }
    fn build(&mut self, height: Height, _round: Round, proposer: ValidatorAddress) -> Block {
        self.builds += 1;
        let mut block = self.block(height, proposer);
        // not deterministic: another time at every call
        block.header.time_ms = 1_000_000 + BUILDS.fetch_add(1, Ordering::Relaxed);
        block
    }
    fn validate(&self, block: &Block) -> Result<(), String> {
        let h = &block.header;
        if h.height.0 != self.height.0 + 1 || h.parent_hash != self.tip || h.parent_state_root != self.state {
            return Err("not on our tip".into());
        }
        Ok(())
    }
    fn commit(&mut self, block: &Block, certificate: &DecidedCertificate) -> Result<(), String> {
        if block.header.height <= self.height {
            return Ok(());
        }
        if self.fail_commit {
            return Err("the disk is full".into());
        }
        self.validate(block)?;
        let id = block.value().value_id();
        self.state = *blake3::hash(&[self.state, id.0].concat()).as_bytes();
        self.tip = id.0;
        self.height = block.header.height;
        self.store.insert(self.height.0, (block.clone(), certificate.clone()));
        Ok(())
    }
    fn decided(&self, height: Height) -> Option<(Block, DecidedCertificate)> {
        self.store.get(&height.0).cloned()
    }
    fn history_min_height(&self) -> Height {
        self.min
    }
    fn validator_set(&self, _height: Height) -> Option<ValidatorSet> {
        Some(self.set.clone())
    }
    fn persist_block(&mut self, round: Option<Round>, block: &Block) -> Result<(), String> {
        let id = block.value().value_id();
        self.persisted.push((round, id));
        let round = match round.and_then(|r| r.as_u32()) {
            Some(r) => r.to_string(),
            None => "x".to_string(),
        };
        let name = format!("h{}-r{round}-{id}.block", block.header.height.0);
        let tmp = self.dir.path().join(format!("{name}.tmp"));
        std::fs::write(&tmp, block.canonical_bytes()).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, self.dir.path().join(name)).map_err(|e| e.to_string())
    }
    fn persisted_blocks(&self, height: Height) -> Vec<(Option<Round>, Block)> {
        let prefix = format!("h{}-r", height.0);
        let mut out = Vec::new();
        for name in self.files() {
            let Some(rest) = name.strip_prefix(&prefix) else { continue };
            let round = rest.split('-').next().unwrap();
            let round = if round == "x" { None } else { Some(Round::new(round.parse().unwrap())) };
            let bytes = std::fs::read(self.dir.path().join(&name)).unwrap();
            out.push((round, Block::from_canonical_bytes(&bytes).unwrap()));
        }
        out
    }
    fn forget_blocks_through(&mut self, height: Height) {
        for name in self.files() {
            let h: u64 = name[1..].split('-').next().unwrap().parse().unwrap();
            if h <= height.0 {
                std::fs::remove_file(self.dir.path().join(name)).unwrap();
            }
        }
    }
}

struct Harness {
    to_loop: mpsc::Sender<AppMsg<GridmintContext>>,
    published: mpsc::Receiver<NetworkMsg<GridmintContext>>,
    app_loop: AppLoop<Toy>,
    _home: tempfile::TempDir,
}

impl Harness {
    /// The loop for validator 0 over `app`.
    fn new(app: Toy) -> Self {
        Self::with(app, |_| {})
    }

    /// The loop for validator 0 over `app`, with settings changed by `change`.
    fn with(app: Toy, change: impl FnOnce(&mut Settings)) -> Self {
        let home = tempfile::tempdir().unwrap();
        let (to_loop, consensus) = mpsc::channel(16);
        let (network, published) = mpsc::channel(1024);
        let (requests, _) = mpsc::channel(1);
        let (net_requests, _) = mpsc::channel(1);
        let channels = Channels { consensus, network, events: TxEvent::new(), requests, net_requests };
        let mut settings = Settings::new(
            "loop-test",
            chain(),
            seed(0),
            home.path().to_path_buf(),
            "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
            vec![],
        );
        change(&mut settings);
        let app_loop = spawn_loop(&settings, app, channels);
        Harness { to_loop, published, app_loop, _home: home }
    }

    async fn ask<T>(&self, msg: impl FnOnce(oneshot::Sender<T>) -> AppMsg<GridmintContext>) -> T {
        let (reply, answer) = oneshot::channel();
        self.to_loop.send(msg(reply)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), answer).await.expect("a reply in time").expect("a reply")
    }

    fn drain_published(&mut self) -> Vec<StreamMessage<ProposalPart>> {
        let mut out = Vec::new();
        while let Ok(NetworkMsg::PublishProposalPart(m)) = self.published.try_recv() {
            out.push(m);
        }
        out
    }

    async fn part(&self, m: StreamMessage<ProposalPart>) -> Option<ProposedValue<GridmintContext>> {
        self.ask(|reply| AppMsg::ReceivedProposalPart { from: peer(9), published_by: Some(peer(1)), part: m, reply })
            .await
    }

    /// Sends `msg` and expects no reply: the loop drops the reply channel (it ended).
    async fn ask_unanswered<T>(&self, msg: impl FnOnce(oneshot::Sender<T>) -> AppMsg<GridmintContext>) {
        let (reply, answer) = oneshot::channel();
        self.to_loop.send(msg(reply)).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), answer).await.expect("the reply dropped in time");
        assert!(answer.is_err(), "no reply expected");
    }

    /// Waits for the loop to end on its own, and gives the application and the error back.
    async fn failed(self) -> (Toy, AppError) {
        for _ in 0..500 {
            if self.app_loop.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(self.app_loop.is_finished(), "the loop ended");
        let (app, error) = self.app_loop.stop().await;
        (app, error.expect("the loop ended on an error"))
    }

    async fn stop(self) -> Toy {
        let (app, error) = self.app_loop.stop().await;
        assert!(error.is_none(), "{error:?}");
        app
    }
}

fn certificate(height: Height, value_id: ValueId) -> CommitCertificate<GridmintContext> {
    CommitCertificate { height, round: Round::new(0), value_id, commit_signatures: vec![] }
}

fn no_evidence() -> MisbehaviorEvidence<GridmintContext> {
    MisbehaviorEvidence { proposals: Default::default(), votes: Default::default() }
}

/// Streams of a block by the proposer the set selects for (height, round 0).
fn proposal_stream(toy: &Toy, height: Height) -> (Block, Vec<StreamMessage<ProposalPart>>) {
    let proposer = *toy.set.proposer(height, Round::new(0)).address();
    let block = toy.block(height, proposer);
    let messages = stream_messages(&block, Round::new(0), Round::Nil, &signer(index_of(proposer))).unwrap();
    (block, messages)
}

#[tokio::test]
async fn ready_starts_after_the_last_decided_height() {
    let h = Harness::new(Toy::new());
    let (height, params) = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    assert_eq!(height, Height(1));
    assert_eq!(params.validator_set, set());
    h.stop().await;
}

#[tokio::test]
async fn get_value_builds_once_a_round_and_publishes_its_parts() {
    let mut h = Harness::new(Toy::new());
    let get =
        |reply| AppMsg::GetValue { height: Height(1), round: Round::new(0), timeout: Duration::from_secs(1), reply };
    let first = h.ask(get).await;
    let parts = h.drain_published();
    let again = h
        .ask(|reply| AppMsg::GetValue {
            height: Height(1),
            round: Round::new(0),
            timeout: Duration::from_secs(1),
            reply,
        })
        .await;
    assert_eq!(first.value, again.value, "a repeated GetValue returns the same value");
    assert_eq!(first.value.header().producer, signer(0).address().0);
    assert_eq!(h.drain_published(), parts, "the same parts again");
    // Init, one Data, Fin, end of stream.
    assert_eq!(parts.len(), 4);
    // A restream replays them.
    h.to_loop
        .send(AppMsg::RestreamProposal {
            height: Height(1),
            round: Round::new(0),
            valid_round: Round::Nil,
            address: signer(0).address(),
            value_id: first.value.value_id(),
        })
        .await
        .unwrap();
    let _ = h.ask(|reply| AppMsg::GetHistoryMinHeight { reply }).await;
    assert_eq!(h.drain_published(), parts, "a restream replays the parts");
    h.stop().await;
}

#[tokio::test]
async fn a_complete_stream_is_validated() {
    let toy = Toy::new();
    let (block, messages) = proposal_stream(&toy, Height(1));
    let h = Harness::new(toy);
    let _ = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    let n = messages.len();
    let mut last = None;
    for (i, m) in messages.into_iter().enumerate() {
        let answer = h.part(m).await;
        if i + 1 < n {
            assert!(answer.is_none(), "no value before the stream is complete");
        }
        last = answer;
    }
    let pv = last.expect("a value once complete");
    assert_eq!(pv.value, block.value());
    assert_eq!(pv.validity, Validity::Valid);
    assert_eq!(pv.proposer, ValidatorAddress(block.header.producer));

    // The same value decided: committed, and the next height starts.
    let decided = h
        .ask(|reply| AppMsg::Decided {
            certificate: certificate(Height(1), block.value().value_id()),
            extensions: VoteExtensions::default(),
            reply,
        })
        .await;
    assert_eq!(decided, ());
    let next = h
        .ask(|reply| AppMsg::Finalized {
            certificate: certificate(Height(1), block.value().value_id()),
            extensions: VoteExtensions::default(),
            evidence: no_evidence(),
            reply,
        })
        .await;
    assert!(matches!(next, Next::Start(Height(2), _)), "{next:?}");
    let toy = h.stop().await;
    assert_eq!(toy.height, Height(1));
    assert_eq!(toy.store[&1].0, block);
}

#[tokio::test]
async fn a_block_off_the_tip_is_invalid() {
    let mut toy = Toy::new();
    toy.state = [9; 32]; // the proposer's view of the parent state
    let (_, messages) = proposal_stream(&toy, Height(1));
    let h = Harness::new(Toy::new());
    let _ = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    let mut last = None;
    for m in messages {
        last = h.part(m).await;
    }
    assert_eq!(last.expect("a value").validity, Validity::Invalid);
    h.stop().await;
}

#[tokio::test]
async fn a_proposal_for_the_next_height_waits_for_it() {
    // The proposer is already at height 1 (decided block 1); we are not yet.
    let mut ahead = Toy::new();
    let b1 = ahead.block(Height(1), signer(0).address());
    let cert1 = ExtendedCommitCertificate::from_commit_certificate_and_extensions(
        certificate(Height(1), b1.value().value_id()),
        VoteExtensions::default(),
    );
    ahead.commit(&b1, &cert1).unwrap();
    let (b2, messages) = proposal_stream(&ahead, Height(2));

    let h = Harness::new(Toy::new());
    let _ = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    for m in messages {
        assert!(h.part(m).await.is_none(), "held: its parent is not committed here");
    }
    // Height 1 arrives by sync, is decided, then height 2 starts: the held value comes back.
    let synced = h
        .ask(|reply| AppMsg::ProcessSyncedValue {
            height: Height(1),
            round: Round::new(0),
            proposer: signer(0).address(),
            value_bytes: b1.canonical_bytes().into(),
            reply,
        })
        .await;
    assert!(matches!(&synced, SyncedValueOutcome::Verdict(pv) if pv.validity == Validity::Valid), "{synced:?}");
    let _ = h
        .ask(|reply| AppMsg::Decided {
            certificate: certificate(Height(1), b1.value().value_id()),
            extensions: VoteExtensions::default(),
            reply,
        })
        .await;
    let next = h
        .ask(|reply| AppMsg::Finalized {
            certificate: certificate(Height(1), b1.value().value_id()),
            extensions: VoteExtensions::default(),
            evidence: no_evidence(),
            reply,
        })
        .await;
    assert!(matches!(next, Next::Start(Height(2), _)));
    let proposer = *set().proposer(Height(2), Round::new(0)).address();
    let values = h
        .ask(|reply| AppMsg::StartedRound {
            height: Height(2),
            round: Round::new(0),
            proposer,
            role: gridmint_consensus::app_channel::app::consensus::Role::Validator,
            reply_value: reply,
        })
        .await;
    assert_eq!(values.len(), 1);
    assert_eq!(values[0].value, b2.value());
    assert_eq!(values[0].validity, Validity::Valid);
    h.stop().await;
}

/// A decided value whose block is not held ends the loop with a typed error (fail-stop), and
/// nothing is replied: never `Next::Restart`, which resets the engine's WAL.
#[tokio::test]
async fn an_unknown_decided_value_stops_the_loop() {
    let h = Harness::new(Toy::new());
    let _ = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    h.ask_unanswered(|reply| AppMsg::Decided {
        certificate: certificate(Height(1), ValueId([3; 32])),
        extensions: VoteExtensions::default(),
        reply,
    })
    .await;
    let (toy, error) = h.failed().await;
    assert!(
        matches!(error, AppError::MissingBlock { height: Height(1), value_id } if value_id == ValueId([3; 32])),
        "{error:?}"
    );
    assert_eq!(toy.height, Height(0));
}

/// A commit the application refuses ends the loop with a typed error, the decision unanswered.
#[tokio::test]
async fn a_failed_commit_stops_the_loop() {
    let mut toy = Toy::new();
    toy.fail_commit = true;
    let (block, messages) = proposal_stream(&toy, Height(1));
    let h = Harness::new(toy);
    let _ = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    let mut last = None;
    for m in messages {
        last = h.part(m).await;
    }
    assert_eq!(last.expect("a value").validity, Validity::Valid);
    h.ask_unanswered(|reply| AppMsg::Decided {
        certificate: certificate(Height(1), block.value().value_id()),
        extensions: VoteExtensions::default(),
        reply,
    })
    .await;
    let (toy, error) = h.failed().await;
    assert!(
        matches!(&error, AppError::CommitFailed { height: Height(1), reason } if reason == "the disk is full"),
        "{error:?}"
    );
    assert_eq!(toy.height, Height(0));
}

/// The value built for (height, round) is persisted before it is returned; after a crash, a
/// `GetValue` for the same (height, round) returns it again, from the store, without building
/// (the toy's `build` gives another block at every call), and publishes the same parts.
#[tokio::test]
async fn a_value_built_before_a_restart_is_proposed_again() {
    let mut h = Harness::new(Toy::new());
    let _ = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    let get = |round: u32| {
        move |reply| AppMsg::GetValue {
            height: Height(1),
            round: Round::new(round),
            timeout: Duration::from_secs(1),
            reply,
        }
    };
    let before = h.ask(get(1)).await;
    let parts = h.drain_published();
    let toy = h.stop().await;
    assert_eq!(toy.builds, 1);
    assert_eq!(toy.persisted, vec![(Some(Round::new(1)), before.value.value_id())]);

    let mut h = Harness::new(toy.reopened());
    let _ = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    let after = h.ask(get(1)).await;
    assert_eq!(after.value, before.value, "the same value for the same (height, round)");
    assert_eq!(h.drain_published(), parts, "the same parts");
    // another round: a new build
    let other = h.ask(get(2)).await;
    assert_ne!(other.value, before.value);
    let toy = h.stop().await;
    assert_eq!(toy.builds, 1, "built for round 2 only");
    assert_eq!(toy.persisted, vec![(Some(Round::new(2)), other.value.value_id())]);
}

/// A block received (valid) before a crash is persisted before its value is reported valid; the
/// engine replays the value from its WAL and decides it after the restart: the loop commits the
/// persisted block, then forgets it.
#[tokio::test]
async fn a_value_decided_after_a_restart_commits_the_block_received_before() {
    let toy = Toy::new();
    let (block, messages) = proposal_stream(&toy, Height(1));
    let h = Harness::new(toy);
    let _ = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    let mut last = None;
    for m in messages {
        last = h.part(m).await;
    }
    assert_eq!(last.expect("a value").validity, Validity::Valid);
    let toy = h.stop().await;
    assert_eq!(toy.persisted, vec![(None, block.value().value_id())]);

    let h = Harness::new(toy.reopened());
    let _ = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    let cert = certificate(Height(1), block.value().value_id());
    let c = cert.clone();
    let _ = h.ask(|reply| AppMsg::Decided { certificate: c, extensions: VoteExtensions::default(), reply }).await;
    let next = h
        .ask(|reply| AppMsg::Finalized {
            certificate: cert,
            extensions: VoteExtensions::default(),
            evidence: no_evidence(),
            reply,
        })
        .await;
    assert!(matches!(next, Next::Start(Height(2), _)), "{next:?}");
    let toy = h.stop().await;
    assert_eq!(toy.height, Height(1));
    assert_eq!(toy.store[&1].0, block);
    assert!(toy.files().is_empty(), "forgotten once committed: {:?}", toy.files());
}

#[tokio::test]
async fn synced_bytes_that_are_no_block_of_that_height_and_proposer_are_a_peer_fault() {
    let toy = Toy::new();
    let b1 = toy.block(Height(1), signer(0).address());
    let h = Harness::new(toy);
    let cases: Vec<(Height, ValidatorAddress, Vec<u8>)> = vec![
        (Height(1), signer(0).address(), b"not a block".to_vec()),
        (Height(2), signer(0).address(), b1.canonical_bytes()),
        (Height(1), signer(1).address(), b1.canonical_bytes()),
    ];
    for (height, proposer, bytes) in cases {
        let outcome = h
            .ask(|reply| AppMsg::ProcessSyncedValue {
                height,
                round: Round::new(0),
                proposer,
                value_bytes: bytes.into(),
                reply,
            })
            .await;
        assert!(matches!(outcome, SyncedValueOutcome::PeerFault), "{outcome:?}");
    }
    h.stop().await;
}

#[tokio::test]
async fn decided_values_are_served_from_a_clamped_range() {
    let mut toy = Toy::new();
    for height in 1..=100 {
        let block = toy.block(Height(height), signer(0).address());
        let cert = ExtendedCommitCertificate::from_commit_certificate_and_extensions(
            certificate(Height(height), block.value().value_id()),
            VoteExtensions::default(),
        );
        toy.commit(&block, &cert).unwrap();
    }
    toy.min = Height(10);
    let h = Harness::new(toy);
    assert_eq!(h.ask(|reply| AppMsg::GetHistoryMinHeight { reply }).await, Height(10));
    let all = h.ask(|reply| AppMsg::GetDecidedValues { range: Height(0)..=Height(u64::MAX), reply }).await;
    assert_eq!(all.len() as u64, MAX_SYNC_BATCH);
    assert_eq!(all[0].certificate.height, Height(10));
    let tail = h.ask(|reply| AppMsg::GetDecidedValues { range: Height(95)..=Height(200), reply }).await;
    let heights: Vec<u64> = tail.iter().map(|v| v.certificate.height.0).collect();
    assert_eq!(heights, vec![95, 96, 97, 98, 99, 100]);
    assert_eq!(Block::from_canonical_bytes(&tail[0].value_bytes).unwrap().header.height, Height(95));
    let none = h.ask(|reply| AppMsg::GetDecidedValues { range: Height(101)..=Height(50), reply }).await;
    assert!(none.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn no_vote_extensions() {
    let h = Harness::new(Toy::new());
    let ext = h
        .ask(|reply| AppMsg::ExtendVote {
            height: Height(1),
            round: Round::new(0),
            value_id: ValueId([1; 32]),
            vote_extension_policy: VoteExtensionPolicy::default(),
            reply,
        })
        .await;
    assert!(ext.is_none());
    let addresses: Vec<ValidatorAddress> = (0..3).map(|i| signer(i).address()).collect();
    let verdicts = h
        .ask(|reply| AppMsg::VerifyVoteExtensions {
            height: Height(1),
            round: Round::new(0),
            value_id: ValueId([1; 32]),
            extensions: addresses.iter().map(|a| (*a, ())).collect(),
            reply,
        })
        .await;
    assert_eq!(verdicts.iter().map(|(a, _)| *a).collect::<Vec<_>>(), addresses);
    assert!(verdicts.iter().all(|(_, r)| r.is_ok()));
    h.stop().await;
}

/// An equivocating proposer's many valid blocks for one height: those past the cap are not kept,
/// so their values are reported invalid (a value reported valid always has its block, should it
/// be decided); this node's own block is kept whatever the cap, and commits when decided.
#[tokio::test]
async fn a_value_is_valid_only_with_its_block_kept() {
    use gridmint_consensus::app::MAX_BLOCKS_PER_HEIGHT;
    let toy = Toy::new();
    let height = Height(1);
    let proposer = *toy.set.proposer(height, Round::new(0)).address();
    let blocks: Vec<Block> = (0..=MAX_BLOCKS_PER_HEIGHT)
        .map(|i| {
            let mut block = toy.block(height, proposer);
            block.txs = vec![SignedTxBytes { signature: [2; 64], tx: format!("equivocation {i}").into_bytes() }];
            block
        })
        .collect();
    let h = Harness::new(toy);
    let _ = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    let mut verdicts = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        let messages = stream_messages(block, Round::new(0), Round::Nil, &signer(index_of(proposer))).unwrap();
        let mut last = None;
        for m in messages {
            // each stream from its own publisher: the assembler keys streams by publisher
            last = h
                .ask(|reply| AppMsg::ReceivedProposalPart {
                    from: peer(9),
                    published_by: Some(peer(20 + i as u8)),
                    part: m,
                    reply,
                })
                .await;
        }
        let pv = last.expect("a value once complete");
        assert_eq!(pv.value, block.value());
        verdicts.push(pv.validity);
    }
    assert!(verdicts[..MAX_BLOCKS_PER_HEIGHT].iter().all(|v| *v == Validity::Valid), "{verdicts:?}");
    assert_eq!(verdicts[MAX_BLOCKS_PER_HEIGHT], Validity::Invalid, "the block past the cap is not kept");

    // this node's own value for a later round is kept past the cap, and commits when decided
    let own =
        h.ask(|reply| AppMsg::GetValue { height, round: Round::new(1), timeout: Duration::from_secs(1), reply }).await;
    let _ = h
        .ask(|reply| AppMsg::Decided {
            certificate: certificate(height, own.value.value_id()),
            extensions: VoteExtensions::default(),
            reply,
        })
        .await;
    let next = h
        .ask(|reply| AppMsg::Finalized {
            certificate: certificate(height, own.value.value_id()),
            extensions: VoteExtensions::default(),
            evidence: no_evidence(),
            reply,
        })
        .await;
    assert!(matches!(next, Next::Start(Height(2), _)), "{next:?}");
    let toy = h.stop().await;
    assert_eq!(toy.store[&1].0.value(), own.value);
}

/// A block by the proposer of (height, round 0) holding one transaction of 2,000 bytes, made
/// distinct by `tag`.
fn big_block(toy: &Toy, height: Height, tag: usize) -> Block {
    let proposer = *toy.set.proposer(height, Round::new(0)).address();
    let mut block = toy.block(height, proposer);
    let mut tx = format!("big {tag} ").into_bytes();
    tx.resize(2000, b'.');
    block.txs = vec![SignedTxBytes { signature: [3; 64], tx }];
    block
}

/// Streams `block` (round 0, signed by its producer) from publisher `publisher`; the last reply.
async fn stream_from(h: &Harness, block: &Block, publisher: u8) -> Option<ProposedValue<GridmintContext>> {
    let messages =
        stream_messages(block, Round::new(0), Round::Nil, &signer(index_of(ValidatorAddress(block.header.producer))))
            .unwrap();
    let mut last = None;
    for m in messages {
        last = h
            .ask(|reply| AppMsg::ReceivedProposalPart {
                from: peer(9),
                published_by: Some(peer(publisher)),
                part: m,
                reply,
            })
            .await;
    }
    last
}

/// Blocks held for one height are bounded by bytes, well below the count cap: past the budget an
/// equivocator's valid block is not kept, so its value is invalid; this node's own block is kept
/// whatever the budget, and commits when decided.
#[tokio::test]
async fn held_blocks_are_bounded_by_bytes_a_height() {
    let toy = Toy::new();
    let weight = gridmint_consensus::parts::block_weight(&big_block(&toy, Height(1), 0));
    let blocks: Vec<Block> = (0..4).map(|i| big_block(&toy, Height(1), i)).collect();
    let h = Harness::with(toy, |s| {
        s.held = HeldLimits { max_bytes_per_height: 3 * weight + 100, max_bytes: 1 << 30 };
    });
    let _ = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    let mut verdicts = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        let pv = stream_from(&h, block, 20 + i as u8).await.expect("a value once complete");
        assert_eq!(pv.value, block.value());
        verdicts.push(pv.validity);
    }
    assert_eq!(verdicts, vec![Validity::Valid, Validity::Valid, Validity::Valid, Validity::Invalid]);

    let own = h
        .ask(|reply| AppMsg::GetValue {
            height: Height(1),
            round: Round::new(1),
            timeout: Duration::from_secs(1),
            reply,
        })
        .await;
    let _ = h
        .ask(|reply| AppMsg::Decided {
            certificate: certificate(Height(1), own.value.value_id()),
            extensions: VoteExtensions::default(),
            reply,
        })
        .await;
    let next = h
        .ask(|reply| AppMsg::Finalized {
            certificate: certificate(Height(1), own.value.value_id()),
            extensions: VoteExtensions::default(),
            evidence: no_evidence(),
            reply,
        })
        .await;
    assert!(matches!(next, Next::Start(Height(2), _)), "{next:?}");
    let toy = h.stop().await;
    assert_eq!(toy.store[&1].0.value(), own.value);
}

/// The byte budget in all covers the blocks waiting for a later height: with a proposal for the
/// next height held, a block of the current height that would pass the total is not kept.
#[tokio::test]
async fn held_blocks_are_bounded_by_bytes_in_all() {
    let toy = Toy::new();
    let later = big_block(&toy, Height(2), 0);
    let now = big_block(&toy, Height(1), 1);
    let small = toy.block(Height(1), *toy.set.proposer(Height(1), Round::new(0)).address());
    let weight = gridmint_consensus::parts::block_weight(&now);
    let h = Harness::with(toy, |s| {
        s.held = HeldLimits { max_bytes_per_height: 1 << 30, max_bytes: weight + weight / 2 };
    });
    let _ = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    assert!(stream_from(&h, &later, 30).await.is_none(), "waits for its height");
    let pv = stream_from(&h, &now, 31).await.expect("a value");
    assert_eq!(pv.validity, Validity::Invalid, "past the total: not kept");
    let pv = stream_from(&h, &small, 32).await.expect("a value");
    assert_eq!(pv.validity, Validity::Valid, "a small one still fits");
    h.stop().await;
}

/// `GetDecidedValues` stops at value sync's response size (the engine drops every value past it),
/// but always serves one value.
#[tokio::test]
async fn decided_values_are_served_within_the_response_size() {
    let mut toy = Toy::new();
    for height in 1..=10 {
        let block = big_block(&toy, Height(height), height as usize);
        let cert = ExtendedCommitCertificate::from_commit_certificate_and_extensions(
            certificate(Height(height), block.value().value_id()),
            VoteExtensions::default(),
        );
        toy.commit(&block, &cert).unwrap();
    }
    let one = toy.store[&1].0.canonical_bytes().len() as u64;
    let h = Harness::with(toy, |s| {
        // ByteSize is not re-exported: from zero, add the bytes
        s.value_sync.max_response_size = Default::default();
        s.value_sync.max_response_size += 3 * one + one / 2;
    });
    let served = h.ask(|reply| AppMsg::GetDecidedValues { range: Height(1)..=Height(10), reply }).await;
    assert_eq!(served.iter().map(|v| v.certificate.height.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    h.stop().await;
    let mut toy = Toy::new();
    let block = big_block(&toy, Height(1), 0);
    let cert = ExtendedCommitCertificate::from_commit_certificate_and_extensions(
        certificate(Height(1), block.value().value_id()),
        VoteExtensions::default(),
    );
    toy.commit(&block, &cert).unwrap();
    let h = Harness::with(toy, |s| {
        s.value_sync.max_response_size = Default::default();
        s.value_sync.max_response_size += 10u64;
    });
    let served = h.ask(|reply| AppMsg::GetDecidedValues { range: Height(1)..=Height(10), reply }).await;
    assert_eq!(served.len(), 1, "one value even past the limit");
    h.stop().await;
}

/// The response size `start` gives value sync holds the largest block the assembler takes, with
/// its certificate.
#[test]
fn the_sync_response_limit_holds_the_largest_block() {
    use gridmint_consensus::Limits;
    use gridmint_consensus::app::sync_response_limit;
    use gridmint_consensus::parts::block_weight;
    let toy = Toy::new();
    for (n, len) in [(1usize, 9_000usize), (150, 0), (100, 60), (10, 200_000)] {
        let mut block = toy.block(Height(1), signer(0).address());
        block.txs = (0..n).map(|i| SignedTxBytes { signature: [i as u8; 64], tx: vec![7; len] }).collect();
        let limits =
            Limits { max_bytes_per_stream: block_weight(&block), max_txs_per_stream: n as u32, ..Limits::default() };
        let certificate_bytes = 4 * 128; // four commit signatures, generously
        assert!(
            (block.canonical_bytes().len() + certificate_bytes) as u64 <= sync_response_limit(&limits),
            "{n} transactions of {len} bytes"
        );
    }
}

/// The engine asks a validator to restream a value another validator proposed (a re-proposal in
/// a later round, or a lock): the loop replays that value's original stream, byte for byte, from
/// the block it assembled; a value it does not hold publishes nothing.
#[tokio::test]
async fn a_value_proposed_by_another_is_restreamed_as_it_was_published() {
    let toy = Toy::new();
    let (block, messages) = proposal_stream(&toy, Height(1));
    let mut h = Harness::new(toy);
    let _ = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    let mut last = None;
    for m in messages.clone() {
        last = h.part(m).await;
    }
    assert_eq!(last.expect("a value").validity, Validity::Valid);
    assert!(h.drain_published().is_empty());
    for (value_id, expected) in [(block.value().value_id(), messages), (ValueId([9; 32]), vec![])] {
        h.to_loop
            .send(AppMsg::RestreamProposal {
                height: Height(1),
                round: Round::new(1),
                valid_round: Round::new(0),
                address: signer(0).address(),
                value_id,
            })
            .await
            .unwrap();
        let _ = h.ask(|reply| AppMsg::GetHistoryMinHeight { reply }).await;
        assert_eq!(h.drain_published(), expected);
    }
    h.stop().await;
}

/// A sync peer can answer with valid-looking blocks of the height asked for (its header fields
/// are public; the engine compares the value id with the certificate only after the reply):
/// they are kept apart from proposals, a few a height in memory, so neither the proposals'
/// bounds nor the junk shut out the real block; one pushed out of memory stays persisted and
/// still commits when decided.
#[tokio::test]
async fn junk_synced_blocks_do_not_shut_out_the_real_one() {
    let toy = Toy::new();
    let proposer = signer(2).address();
    let blocks: Vec<Block> = (0..10)
        .map(|i| {
            let mut block = toy.block(Height(1), proposer);
            block.txs = vec![SignedTxBytes { signature: [4; 64], tx: format!("synced {i}").into_bytes() }];
            block
        })
        .collect();
    // bounds so small that no other validator's proposal would be kept
    let h = Harness::with(toy, |s| s.held = HeldLimits { max_bytes_per_height: 10, max_bytes: 10 });
    let _ = h.ask(|reply| AppMsg::ConsensusReady { reply }).await;
    for block in &blocks {
        let outcome = h
            .ask(|reply| AppMsg::ProcessSyncedValue {
                height: Height(1),
                round: Round::new(0),
                proposer,
                value_bytes: block.canonical_bytes().into(),
                reply,
            })
            .await;
        assert!(
            matches!(&outcome, SyncedValueOutcome::Verdict(pv) if pv.validity == Validity::Valid && pv.value == block.value()),
            "{outcome:?}"
        );
    }
    // the first one, long pushed out of memory, is decided: read back from the store
    let id = blocks[0].value().value_id();
    let _ = h
        .ask(|reply| AppMsg::Decided {
            certificate: certificate(Height(1), id),
            extensions: VoteExtensions::default(),
            reply,
        })
        .await;
    let next = h
        .ask(|reply| AppMsg::Finalized {
            certificate: certificate(Height(1), id),
            extensions: VoteExtensions::default(),
            evidence: no_evidence(),
            reply,
        })
        .await;
    assert!(matches!(next, Next::Start(Height(2), _)), "{next:?}");
    let toy = h.stop().await;
    assert_eq!(toy.store[&1].0, blocks[0]);
    assert_eq!(toy.persisted.len(), 10);
    assert!(toy.files().is_empty(), "forgotten once committed");
}
