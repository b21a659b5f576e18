//! The app loop on a real network: 4 validators of equal power, each with its own engine, home
//! (WAL) and 127.0.0.1 TCP port, all in this test process, over a toy in-memory [`Application`]
//! (a block's transactions are arbitrary bytes; the "state" is a running blake3 of the decided
//! value ids, used as the next block's parent state root).
//!
//! What it checks: every validator decides at least [`TARGET`] heights; at every height two
//! validators both decided, they decided the same value id and hold the same toy state; every
//! decided block was produced by the proposer the validator set selects for its (height, round),
//! or for an earlier round of its height (Tendermint's re-proposal: a value that gathered a polka
//! in round r' is proposed again in a later round, still the block its first proposer built).
//! Then: with one validator stopped, the other three still decide (its turns to propose cost a
//! round each); a validator stopped and restarted from its home (the engine's WAL, and the toy
//! store it persisted in a file) catches up through value sync and agrees; the blocks of a
//! proposer whose blocks fail the others' checks are never decided.

use std::collections::BTreeMap;
use std::net::{SocketAddrV4, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gridmint_consensus::app::{AppHandle, Application, DecidedCertificate, Settings, start, tcp_multiaddr};
use gridmint_consensus::app_channel::app::types::codec::Codec;
use gridmint_consensus::app_channel::app::types::core::{LinearTimeouts, Round};
use gridmint_consensus::app_channel::app::types::sync::{RawDecidedValue, Response};
use gridmint_consensus::{
    Block, BlockHeader, ChainId, Equivocation, GridmintCodec, Height, SignedTxBytes, Step, Validator, ValidatorAddress,
    ValidatorSet, ValueId,
};

/// Heights every validator must decide.
const TARGET: u64 = 10;

/// How long the validators get to decide them: a bound for a failing test, far above what a
/// passing one takes (5 to 12 s on the 2-core machine), so that CI's parallel tests and a slow
/// moment of a shared VM never fail it.
const DEADLINE: Duration = Duration::from_secs(150);

fn seed(i: usize) -> [u8; 32] {
    [i as u8 + 1; 32]
}

fn public_key(i: usize) -> [u8; 32] {
    *gridmint_consensus::signing_ed25519::PrivateKey::from(seed(i)).public_key().as_bytes()
}

fn validator_set(n: usize) -> ValidatorSet {
    ValidatorSet::new((0..n).map(|i| Validator::new(public_key(i), 1).unwrap()).collect()).unwrap()
}

/// One decided height as a validator saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Decision {
    value_id: ValueId,
    round: Round,
    producer: ValidatorAddress,
    state_after: [u8; 32],
}

type Log = Arc<Mutex<BTreeMap<u64, Decision>>>;

/// The toy ledger.
struct ToyApp {
    set: ValidatorSet,
    /// The value id of the last decided block (the parent hash of the next one).
    tip: [u8; 32],
    /// The running blake3 of the decided value ids.
    state: [u8; 32],
    height: Height,
    store: BTreeMap<u64, (Block, DecidedCertificate)>,
    log: Log,
    /// Where the store is persisted after each commit, if anywhere.
    file: Option<PathBuf>,
    /// Builds blocks with a wrong parent state root (a faulty proposer).
    corrupt_builds: bool,
    /// Where undecided blocks are persisted (`persist_block`), if anywhere.
    blocks_dir: Option<PathBuf>,
    /// Put into every block it builds (the double of an equivocating validator builds blocks
    /// other than the original's).
    tag: &'static str,
    /// The equivocation evidence recorded, by height.
    evidence: Evidence,
}

type Evidence = Arc<Mutex<Vec<(Height, Equivocation)>>>;

impl ToyApp {
    fn new(set: ValidatorSet) -> (Self, Log) {
        let log = Log::default();
        let app = ToyApp {
            set,
            tip: [0; 32],
            state: *blake3::hash(b"toy genesis").as_bytes(),
            height: Height(0),
            store: BTreeMap::new(),
            log: log.clone(),
            file: None,
            corrupt_builds: false,
            blocks_dir: None,
            tag: "",
            evidence: Evidence::default(),
        };
        (app, log)
    }

    /// A toy app persisted in `file`: the blocks and certificates already there are replayed
    /// through `commit`, then every commit rewrites the file.
    fn persisted(set: ValidatorSet, file: PathBuf) -> (Self, Log) {
        let (mut app, log) = ToyApp::new(set);
        if let Ok(bytes) = std::fs::read(&file) {
            let Response::ValueResponse(response) = GridmintCodec.decode(bytes.into()).unwrap();
            for raw in response.values {
                let block = Block::from_canonical_bytes(&raw.value_bytes).unwrap();
                app.commit(&block, &raw.certificate).unwrap();
            }
        }
        let dir = file.with_extension("blocks");
        std::fs::create_dir_all(&dir).unwrap();
        app.blocks_dir = Some(dir);
        app.file = Some(file);
        (app, log)
    }

    /// The persisted undecided blocks' files: (height, round or none, path).
    fn block_files(&self) -> Vec<(u64, Option<u32>, PathBuf)> {
        let Some(dir) = &self.blocks_dir else { return Vec::new() };
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let Some(stem) = name.strip_suffix(".block") else { continue };
            let fields: Vec<&str> = stem.split('-').collect();
            let height = fields[0].parse().unwrap();
            let round = fields[1].parse().ok();
            out.push((height, round, path));
        }
        out
    }

    fn save(&self) {
        let Some(file) = &self.file else { return };
        let values = self
            .store
            .values()
            .map(|(block, cert)| RawDecidedValue::new(block.canonical_bytes().into(), cert.clone()))
            .collect();
        let response = Response::ValueResponse(malachitebft_sync::ValueResponse::new(Height(1), values));
        let bytes = GridmintCodec.encode(&response).unwrap();
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, &bytes).unwrap();
        std::fs::rename(&tmp, file).unwrap();
    }
}

impl Application for ToyApp {
    fn last_decided_height(&self) -> Height {
        self.height
    }

    fn build(&mut self, height: Height, round: Round, proposer: ValidatorAddress) -> Block {
        let header = BlockHeader {
            height,
            time_ms: 1_700_000_000 + height.0,
            parent_hash: self.tip,
            parent_state_root: if self.corrupt_builds { [0xee; 32] } else { self.state },
            producer: proposer.0,
        };
        let txs = (0..3u8)
            .map(|i| SignedTxBytes {
                signature: [i; 64],
                tx: format!("toy tx {i} at {height}/{round:?} by {proposer}{}", self.tag).into_bytes(),
            })
            .collect();
        Block { header, txs }
    }

    fn validate(&self, block: &Block) -> Result<(), String> {
        let h = &block.header;
        if h.height.0 != self.height.0 + 1 {
            return Err(format!("height {} after {}", h.height, self.height));
        }
        if h.parent_hash != self.tip {
            return Err("wrong parent".into());
        }
        if h.parent_state_root != self.state {
            return Err("wrong parent state root".into());
        }
        if block.txs.is_empty() {
            return Err("a toy block has transactions".into());
        }
        Ok(())
    }

    fn commit(&mut self, block: &Block, certificate: &DecidedCertificate) -> Result<(), String> {
        let height = block.header.height;
        if height <= self.height {
            return Ok(());
        }
        self.validate(block)?;
        let value_id = block.value().value_id();
        if value_id != certificate.value_id || certificate.height != height {
            return Err("the certificate names another value".into());
        }
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.state);
        hasher.update(&value_id.0);
        self.state = *hasher.finalize().as_bytes();
        self.tip = value_id.0;
        self.height = height;
        self.store.insert(height.0, (block.clone(), certificate.clone()));
        let decision = Decision {
            value_id,
            round: certificate.round,
            producer: ValidatorAddress(block.header.producer),
            state_after: self.state,
        };
        self.log.lock().unwrap().insert(height.0, decision);
        self.save();
        Ok(())
    }

    fn decided(&self, height: Height) -> Option<(Block, DecidedCertificate)> {
        self.store.get(&height.0).cloned()
    }

    fn history_min_height(&self) -> Height {
        Height(1)
    }

    fn validator_set(&self, _height: Height) -> Option<ValidatorSet> {
        Some(self.set.clone())
    }

    fn persist_block(&mut self, round: Option<Round>, block: &Block) -> Result<(), String> {
        let Some(dir) = &self.blocks_dir else { return Ok(()) };
        let round = round.and_then(|r| r.as_u32()).map_or("x".to_string(), |r| r.to_string());
        let name = format!("{}-{round}-{}.block", block.header.height.0, block.value().value_id());
        let tmp = dir.join(format!("{name}.tmp"));
        std::fs::write(&tmp, block.canonical_bytes()).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, dir.join(name)).map_err(|e| e.to_string())
    }

    fn persisted_blocks(&self, height: Height) -> Vec<(Option<Round>, Block)> {
        self.block_files()
            .into_iter()
            .filter(|(h, _, _)| *h == height.0)
            .map(|(_, round, path)| {
                (round.map(Round::new), Block::from_canonical_bytes(&std::fs::read(path).unwrap()).unwrap())
            })
            .collect()
    }

    fn forget_blocks_through(&mut self, height: Height) {
        for (h, _, path) in self.block_files() {
            if h <= height.0 {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    fn record_evidence(&mut self, height: Height, evidence: Vec<Equivocation>) -> Result<(), String> {
        self.evidence.lock().unwrap().extend(evidence.into_iter().map(|e| (height, e)));
        Ok(())
    }
}

fn free_ports(n: usize) -> Vec<SocketAddrV4> {
    let listeners: Vec<TcpListener> = (0..n).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    listeners
        .iter()
        .map(|l| match l.local_addr().unwrap() {
            std::net::SocketAddr::V4(a) => a,
            std::net::SocketAddr::V6(_) => unreachable!("bound on 127.0.0.1"),
        })
        .collect()
}

fn timeouts() -> LinearTimeouts {
    LinearTimeouts {
        propose: Duration::from_millis(1500),
        propose_delta: Duration::from_millis(250),
        prevote: Duration::from_millis(500),
        prevote_delta: Duration::from_millis(250),
        precommit: Duration::from_millis(500),
        precommit_delta: Duration::from_millis(250),
        rebroadcast: Duration::from_millis(1000),
        max_timeout: Duration::from_secs(5),
    }
}

fn settings(i: usize, home: &std::path::Path, addrs: &[SocketAddrV4]) -> Settings {
    let peers = addrs.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, a)| tcp_multiaddr(*a)).collect();
    let mut s = Settings::new(
        format!("validator-{i}"),
        ChainId::new("gridmint-network-test").unwrap(),
        seed(i),
        home.join(format!("v{i}")),
        tcp_multiaddr(addrs[i]),
        peers,
    );
    s.timeouts = timeouts();
    s.value_sync.status_update_interval = Duration::from_secs(1);
    s.value_sync.request_timeout = Duration::from_secs(3);
    s
}

/// Waits until every log in `logs` holds `target` heights, or the deadline.
async fn wait_for(logs: &[&Log], target: u64, deadline: Duration) -> bool {
    // the test's own deadline, not a time that reaches any block
    let start = tokio::time::Instant::now();
    while start.elapsed() < deadline {
        if logs.iter().all(|l| l.lock().unwrap().len() as u64 >= target) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Same value and state at every common height; the right proposer everywhere.
fn check_agreement(set: &ValidatorSet, logs: &[&Log]) {
    let snapshots: Vec<BTreeMap<u64, Decision>> = logs.iter().map(|l| l.lock().unwrap().clone()).collect();
    for (i, a) in snapshots.iter().enumerate() {
        for (height, d) in a {
            // decided in round r: built by round r's proposer, or re-proposed from an earlier round
            // of the height (the polka's value, which keeps the producer who first built it)
            let selected: Vec<ValidatorAddress> = (0..=d.round.as_u32().expect("a decided round is never nil"))
                .map(|r| *set.proposer(Height(*height), Round::new(r)).address())
                .collect();
            assert!(
                selected.contains(&d.producer),
                "validator {i}, height {height}: produced by {}, not by a proposer of rounds 0..={:?} ({selected:?})",
                d.producer,
                d.round
            );
            for (j, b) in snapshots.iter().enumerate().skip(i + 1) {
                if let Some(other) = b.get(height) {
                    assert_eq!(d, other, "validators {i} and {j} disagree at height {height}");
                }
            }
        }
    }
}

async fn stop_all(handles: Vec<AppHandle<ToyApp>>) {
    for h in handles {
        let (_, error) = h.stop().await;
        assert!(error.is_none(), "a loop ended on an error: {error:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_validators_decide_the_same_blocks() {
    let home = tempfile::tempdir().unwrap();
    let set = validator_set(4);
    let addrs = free_ports(4);
    let mut handles = Vec::new();
    let mut logs = Vec::new();
    for i in 0..4 {
        let (app, log) = ToyApp::new(set.clone());
        handles.push(start(settings(i, home.path(), &addrs), app).await.unwrap());
        logs.push(log);
    }
    let log_refs: Vec<&Log> = logs.iter().collect();
    let done = wait_for(&log_refs, TARGET, DEADLINE).await;
    for h in &handles {
        assert!(!h.is_finished(), "a loop ended early");
    }
    let heights: Vec<usize> = logs.iter().map(|l| l.lock().unwrap().len()).collect();
    eprintln!("decided heights per validator: {heights:?}");
    for (h, d) in logs[0].lock().unwrap().iter() {
        eprintln!("height {h}: round {:?}, producer {}, value {}", d.round, d.producer, d.value_id);
    }
    stop_all(handles).await;
    assert!(done, "not every validator decided {TARGET} heights in time: {heights:?}");
    check_agreement(&set, &log_refs);
    // Every height from 1 up is there (no gap).
    for (i, log) in logs.iter().enumerate() {
        let log = log.lock().unwrap();
        let keys: Vec<u64> = log.keys().copied().collect();
        assert_eq!(keys, (1..=keys.len() as u64).collect::<Vec<_>>(), "validator {i} skipped a height");
    }
}

fn height_of(log: &Log) -> u64 {
    log.lock().unwrap().keys().next_back().copied().unwrap_or(0)
}

async fn start_four(
    home: &std::path::Path,
    set: &ValidatorSet,
) -> (Vec<SocketAddrV4>, Vec<AppHandle<ToyApp>>, Vec<Log>) {
    let addrs = free_ports(4);
    let mut handles = Vec::new();
    let mut logs = Vec::new();
    for i in 0..4 {
        let (app, log) = ToyApp::persisted(set.clone(), home.join(format!("toy-{i}.bin")));
        handles.push(start(settings(i, home, &addrs), app).await.unwrap());
        logs.push(log);
    }
    (addrs, handles, logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_of_four_decide_with_one_stopped() {
    let home = tempfile::tempdir().unwrap();
    let set = validator_set(4);
    let (_addrs, mut handles, logs) = start_four(home.path(), &set).await;
    let all: Vec<&Log> = logs.iter().collect();
    assert!(wait_for(&all, 3, DEADLINE).await, "the 4 validators did not start deciding");

    let stopped = handles.pop().unwrap();
    let (_, error) = stopped.stop().await;
    assert!(error.is_none(), "{error:?}");
    let at_stop = logs[..3].iter().map(height_of).max().unwrap();

    // 4 validators of power 1: 3 are a quorum (> 2/3). Over the next heights the stopped one's
    // turns come up and cost a round each.
    let three: Vec<&Log> = logs[..3].iter().collect();
    let target = at_stop + 6;
    let done = wait_for(&three, target, DEADLINE).await;
    let heights: Vec<u64> = logs.iter().map(height_of).collect();
    stop_all(handles).await;
    assert!(done, "3 validators did not reach height {target}: {heights:?}");
    check_agreement(&set, &all);
    let later_rounds = logs[0].lock().unwrap().values().filter(|d| d.round != Round::new(0)).count();
    eprintln!("heights {heights:?}; decided after round 0: {later_rounds}");
    // over 6 heights of a round robin over 4, the stopped validator was round 0's proposer at
    // least once: the round-skip path ran
    assert!(later_rounds >= 1, "no height was decided after round 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_validator_catches_up_through_value_sync() {
    let home = tempfile::tempdir().unwrap();
    let set = validator_set(4);
    let (addrs, mut handles, logs) = start_four(home.path(), &set).await;
    let all: Vec<&Log> = logs.iter().collect();
    assert!(wait_for(&all, 3, DEADLINE).await, "the 4 validators did not start deciding");

    let stopped = handles.pop().unwrap();
    let (_, error) = stopped.stop().await;
    assert!(error.is_none(), "{error:?}");
    let left_at = height_of(&logs[3]);

    // The others move on without it.
    let three: Vec<&Log> = logs[..3].iter().collect();
    assert!(wait_for(&three, left_at + 5, DEADLINE).await, "3 validators did not move on");

    // Restart from the same home: the WAL, and the toy store from its file.
    let (app, log) = ToyApp::persisted(set.clone(), home.path().join("toy-3.bin"));
    assert_eq!(height_of(&log), left_at, "the toy store was persisted up to where it stopped");
    handles.push(start(settings(3, home.path(), &addrs), app).await.unwrap());
    // Heights left_at + 1 ..= others_at were decided while it was down: consensus does not run
    // them again, so it can only get them through value sync.
    let others_at = logs[..3].iter().map(height_of).max().unwrap();
    let restarted = [&log];
    let caught_up = wait_for(&restarted, others_at + 2, DEADLINE).await;
    let heights: Vec<u64> = logs[..3].iter().map(height_of).chain([height_of(&log)]).collect();
    stop_all(handles).await;
    assert!(caught_up, "the restarted validator stayed behind: {heights:?} (it left at {left_at})");
    let mut all = all;
    all[3] = &log;
    check_agreement(&set, &all);
    eprintln!("left at {left_at}, others at {others_at} on restart; heights at the end {heights:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_proposer_whose_blocks_are_invalid_never_gets_one_decided() {
    let home = tempfile::tempdir().unwrap();
    let set = validator_set(4);
    let addrs = free_ports(4);
    let faulty = 2;
    let faulty_address = ValidatorAddress(gridmint_core::Address(public_key(faulty)));
    let mut handles = Vec::new();
    let mut logs = Vec::new();
    for i in 0..4 {
        let (mut app, log) = ToyApp::new(set.clone());
        app.corrupt_builds = i == faulty;
        handles.push(start(settings(i, home.path(), &addrs), app).await.unwrap());
        logs.push(log);
    }
    let all: Vec<&Log> = logs.iter().collect();
    // 8 heights: the faulty validator is round 0's proposer of 2 of them (round robin over 4).
    let done = wait_for(&all, 8, DEADLINE).await;
    let heights: Vec<u64> = logs.iter().map(height_of).collect();
    stop_all(handles).await;
    assert!(done, "the validators did not decide 8 heights: {heights:?}");
    check_agreement(&set, &all);
    let log = logs[0].lock().unwrap().clone();
    let mut skipped = 0;
    for (height, d) in &log {
        assert_ne!(d.producer, faulty_address, "height {height}: the faulty validator's block was decided");
        if *set.proposer(Height(*height), Round::new(0)).address() == faulty_address {
            assert_ne!(d.round, Round::new(0), "height {height}");
            skipped += 1;
        }
    }
    assert!(skipped >= 1, "the faulty validator was never round 0's proposer");
    eprintln!("heights {heights:?}; the faulty proposer's turns skipped: {skipped}");
}

/// A Byzantine validator as a test double: validator 3's key runs in two engines (two network
/// identities), each building its own blocks, so that both sign proposals and votes for different
/// values at the same height and round. The honest three keep agreeing, and each records
/// evidence naming validator 3 that verifies with its address alone, and none naming anyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_equivocating_validator_is_recorded_and_the_others_keep_agreeing() {
    let home = tempfile::tempdir().unwrap();
    let set = validator_set(4);
    let addrs = free_ports(5);
    let byzantine = ValidatorAddress(gridmint_core::Address(public_key(3)));
    let mut handles = Vec::new();
    let mut logs = Vec::new();
    let mut evidence = Vec::new();
    for i in 0..5 {
        let (mut app, log) = ToyApp::new(set.clone());
        let mut s = settings(i.min(3), home.path(), &addrs);
        // every engine listens on its own port and dials the other four
        s.listen_addr = tcp_multiaddr(addrs[i]);
        s.persistent_peers =
            addrs.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, a)| tcp_multiaddr(*a)).collect();
        if i == 4 {
            // the double: validator 3's key, another network identity and home, other blocks
            s.network_seed = Some([0xd0; 32]);
            s.home = home.path().join("v3-double");
            s.moniker = "validator-3-double".into();
            app.tag = " (double)";
        }
        evidence.push(app.evidence.clone());
        handles.push(start(s, app).await.unwrap());
        logs.push(log);
    }
    let honest: Vec<&Log> = logs[..3].iter().collect();
    // Validator 3 is round 0's proposer every 4th height: within 12 heights both of its engines
    // propose at least twice. Wait until every honest validator recorded evidence too.
    // the test's own deadline, not a time that reaches any block
    let start_time = tokio::time::Instant::now();
    let mut done = false;
    while start_time.elapsed() < DEADLINE {
        let heights_done = honest.iter().all(|l| l.lock().unwrap().len() >= 12);
        let all_recorded = evidence[..3].iter().all(|e| !e.lock().unwrap().is_empty());
        if heights_done && all_recorded {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let heights: Vec<u64> = logs.iter().map(height_of).collect();
    let counts: Vec<usize> = evidence.iter().map(|e| e.lock().unwrap().len()).collect();
    for h in handles {
        let _ = h.stop().await;
    }
    eprintln!("heights {heights:?}; evidence recorded per engine {counts:?}");
    assert!(done, "the honest validators did not decide 12 heights and record evidence in time");
    check_agreement(&set, &honest);
    let mut steps = std::collections::BTreeSet::new();
    for (i, recorded) in evidence[..3].iter().enumerate() {
        for (height, e) in recorded.lock().unwrap().iter() {
            assert_eq!(e.validator, byzantine, "validator {i} recorded evidence against an honest validator: {e:?}");
            assert_eq!(e.height, *height);
            assert!(e.verify(), "unverifiable evidence: {e:?}");
            assert_ne!(e.first.value_id, e.second.value_id);
            steps.insert(e.step);
        }
    }
    eprintln!("equivocations seen: {steps:?}");
    assert!(steps.contains(&Step::Proposal) || steps.contains(&Step::Prevote), "{steps:?}");
}
