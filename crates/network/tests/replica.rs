//! The node's ledger behind consensus, without the engine: what a replica builds, refuses,
//! commits and serves to value sync, over a real store in a temporary directory.

use gridmint_consensus::app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, Round, VoteExtensions,
};
use gridmint_consensus::{
    Application, Block, DecidedCertificate, Height, SignedTxBytes, Validator, ValidatorAddress, ValidatorSet,
};
use gridmint_core::{Address, Tx, TxBody};
use gridmint_network::replica::LedgerApp;
use gridmint_node::node::{Config, Shared, with_allocations};
use gridmint_node::signing::{SignedTx, address_of, key_from_label};
use gridmint_node::{Genesis, GenesisValidator, Ledger};
use gridmint_policy::{GenesisAllocation, Tokens};
use std::sync::Arc;

const GENESIS_TIME: u64 = 1_800_000_000;
const CHAIN: &str = "netmind-replica-test";

/// The test clock: well after genesis (seconds, as the mempool takes it).
fn clock() -> u64 {
    GENESIS_TIME + 100
}

/// The same clock in milliseconds, as a replica reads it: a quarter into its second.
fn clock_ms() -> u64 {
    clock() * 1000 + 250
}

struct Fixture {
    _dir: tempfile::TempDir,
    app: LedgerApp,
    shared: Arc<Shared>,
    proposer: ValidatorAddress,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let validator = key_from_label("replica-validator");
    let dev = key_from_label("replica-dev");
    let policy = gridmint_core::Policy::preset("netmind").unwrap();
    let prefund = GenesisAllocation { account: address_of(&dev), amount: Tokens(1_000_000 * gridmint_core::TOKEN) };
    let policy = with_allocations(policy, &[prefund], true).unwrap();
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        genesis_time: GENESIS_TIME,
        policy: policy.to_toml(),
        producer: address_of(&validator),
        validators: vec![GenesisValidator { address: address_of(&validator), power: 1, bond: None }],
    };
    let ledger = Ledger::create(&dir.path().join("data"), genesis).unwrap();
    let shared = Shared::new(ledger, Config::default());
    let set = ValidatorSet::new(vec![Validator::new(address_of(&validator).0, 1).unwrap()]).unwrap();
    let app = LedgerApp::new(shared.clone(), set, 2).unwrap().with_clock(clock_ms);
    Fixture { _dir: dir, app, shared, proposer: ValidatorAddress(address_of(&validator)) }
}

fn dev_transfer(nonce: u64, amount: u128) -> SignedTx {
    transfer("replica-dev", nonce, Address([7; 32]), amount)
}

fn transfer(label: &str, nonce: u64, to: Address, amount: u128) -> SignedTx {
    let key = key_from_label(label);
    let tx = Tx { signer: address_of(&key), nonce, body: TxBody::Transfer { to, amount } };
    SignedTx::sign(tx, &key, CHAIN)
}

fn bytes(tx: &SignedTx) -> SignedTxBytes {
    SignedTxBytes::new(&tx.tx, tx.signature)
}

fn certificate(block: &Block) -> DecidedCertificate {
    ExtendedCommitCertificate::from_commit_certificate_and_extensions(
        CommitCertificate {
            height: block.header.height,
            round: Round::new(0),
            value_id: block.value().value_id(),
            commit_signatures: vec![],
        },
        VoteExtensions::default(),
    )
}

fn height(f: &Fixture) -> u64 {
    f.shared.ledger.read().unwrap().state.height
}

/// A decided block with a candidate the envelope refuses: the replica stores the block without
/// it, and rebuilds for value sync exactly the block that was decided (the certificate's value
/// id), refused candidate included at its position.
#[test]
fn a_decided_block_is_stored_and_served_back_exactly() {
    let mut f = fixture();
    let poor = address_of(&key_from_label("replica-poor"));
    let mut first = f.app.build(Height(1), Round::new(0), f.proposer);
    assert_eq!(first.header.time_ms, clock_ms(), "the proposer's clock, after the parent's");
    assert!(first.txs.is_empty(), "nothing waits");
    // one base unit to a new account: it exists, and cannot pay a fee
    first.txs = vec![bytes(&transfer("replica-dev", 0, poor, 1))];
    f.app.validate(&first).unwrap();
    f.app.commit(&first, &certificate(&first)).unwrap();
    let stored1 = f.shared.store.block(1).unwrap().unwrap();
    // the next block's header carries block 1's hash and the root its execution left
    let mut block = f.app.build(Height(2), Round::new(0), f.proposer);
    assert_eq!(block.header.parent_hash, stored1.hash());
    assert_eq!(block.header.parent_state_root, stored1.state_root);
    assert!(block.header.time_ms > first.header.time_ms, "strictly after the parent's time");
    // the poor account cannot pay a fee: its transfer is no candidate (the screen)
    block.txs = vec![bytes(&transfer("replica-poor", 0, Address([7; 32]), 1))];
    assert!(f.app.validate(&block).unwrap_err().contains("InsufficientFee"));
    // the dev account spends all it has but the fee, then sends again: both fees were covered
    // in the parent state, so both are candidates, and the second is refused by the envelope at
    // execution (its fee), the same on every replica (G10)
    let (spendable, fee) = {
        let ledger = f.shared.ledger.read().unwrap();
        let dev = address_of(&key_from_label("replica-dev"));
        (ledger.state.account(&dev).unwrap().spendable, ledger.state.current_fee())
    };
    block.txs = vec![bytes(&dev_transfer(1, spendable - fee)), bytes(&dev_transfer(2, 12))];
    f.app.validate(&block).expect("signatures, screen and header check out");
    let cert = certificate(&block);
    f.app.commit(&block, &cert).unwrap();
    assert_eq!(height(&f), 2);
    let stored = f.shared.store.block(2).unwrap().unwrap();
    assert_eq!(stored.txs.len(), 1, "the refused candidate is not stored in the block");
    assert_eq!(stored.producer, f.proposer.0, "the proposer is the block's producer (NM14)");
    let (served, served_cert) = f.app.decided(Height(2)).expect("served to value sync");
    assert_eq!(served, block);
    assert_eq!(served.value().value_id(), served_cert.value_id, "the certificate names the served block");
    assert_eq!(served_cert, cert);
    // committing the same height again changes nothing
    f.app.commit(&block, &cert).unwrap();
    assert_eq!(height(&f), 2);
}

/// Heights may be shorter than a second: with the clock standing still, each block's time is a
/// millisecond after its parent's, the ledger executes them all at the same whole second, each is
/// served back to value sync with its milliseconds, and a restarted replica takes its parent's
/// milliseconds from the tip's decided record (a block at the parent's time is refused, the
/// next millisecond is accepted).
#[test]
fn heights_may_share_a_second_and_a_restart_keeps_the_parents_milliseconds() {
    let mut f = fixture();
    let mut times = vec![];
    for h in 1..=3u64 {
        let mut b = f.app.build(Height(h), Round::new(0), f.proposer);
        b.txs = vec![bytes(&dev_transfer(h - 1, 1))];
        f.app.validate(&b).unwrap();
        f.app.commit(&b, &certificate(&b)).unwrap();
        times.push(b.header.time_ms);
        assert_eq!(f.app.decided(Height(h)).unwrap().0, b, "served back with its milliseconds");
        assert_eq!(f.shared.store.block(h).unwrap().unwrap().time, clock(), "the ledger's second");
    }
    assert_eq!(times, vec![clock_ms(), clock_ms() + 1, clock_ms() + 2]);
    assert_eq!(height(&f), 3);
    let set = f.app.validator_set(Height(4)).unwrap();
    let mut app = LedgerApp::new(f.shared.clone(), set, 2).unwrap().with_clock(clock_ms);
    let mut next = app.build(Height(4), Round::new(0), f.proposer);
    assert_eq!(next.header.time_ms, clock_ms() + 3, "after block 3's milliseconds, kept across the restart");
    next.header.time_ms = clock_ms() + 2;
    assert!(app.validate(&next).unwrap_err().contains("not after"));
    next.header.time_ms = clock_ms() + 3;
    app.validate(&next).unwrap();
}

/// A tip without a decided record (a node started from a snapshot) is known only to lie in its
/// second: the node proposes after that second's last millisecond, and calls valid a block from
/// the second's first millisecond on, so that the next block, decided by the others and often in
/// the same second, is not refused here for ever (the node would stall).
#[test]
fn a_tip_without_its_milliseconds_accepts_its_whole_second() {
    let f = fixture();
    f.shared.ledger.write().unwrap().commit(gridmint_node::Proposal { time: clock(), txs: vec![] }).unwrap();
    assert!(f.shared.store.decided(1).unwrap().is_none(), "a tip without a decided record");
    let set = f.app.validator_set(Height(1)).unwrap();
    let mut app = LedgerApp::new(f.shared.clone(), set, 2).unwrap().with_clock(clock_ms);
    let mut block = app.build(Height(2), Round::new(0), f.proposer);
    assert_eq!(block.header.time_ms, (clock() + 1) * 1000, "after the whole second, valid for everyone");
    app.validate(&block).unwrap();
    block.header.time_ms = clock() * 1000 + 1;
    app.validate(&block).expect("a time in the parent's second may be after the parent's");
    // the parent's time is at least its second's first millisecond: a block at it is not after
    for before in [clock() * 1000, clock() * 1000 - 1] {
        block.header.time_ms = before;
        assert!(app.validate(&block).unwrap_err().contains("not after"), "{before}");
    }
    // once this node commits a block, it knows its milliseconds exactly again
    block.header.time_ms = clock() * 1000 + 1;
    app.commit(&block, &certificate(&block)).unwrap();
    let mut next = app.build(Height(3), Round::new(0), f.proposer);
    assert_eq!(next.header.time_ms, clock_ms(), "the clock, after the exact parent");
    next.header.time_ms = clock() * 1000 + 1;
    assert!(app.validate(&next).unwrap_err().contains("not after"));
}

/// What would let a proposer fill blocks with transactions that pay nothing makes its block
/// invalid: a duplicate, a signer without an account, a nonce out of order, a heartbeat from an
/// unregistered machine.
#[test]
fn free_riders_make_a_block_invalid() {
    let mut f = fixture();
    let good = {
        let mut b = f.app.build(Height(1), Round::new(0), f.proposer);
        b.txs = vec![bytes(&dev_transfer(0, 1)), bytes(&dev_transfer(1, 1))];
        b
    };
    f.app.validate(&good).unwrap();
    let with = |txs: Vec<SignedTx>| {
        let mut b = good.clone();
        b.txs = txs.iter().map(bytes).collect();
        f.app.validate(&b).expect_err("invalid")
    };
    assert!(with(vec![dev_transfer(0, 1), dev_transfer(0, 1)]).contains("twice"));
    assert!(with(vec![dev_transfer(1, 1)]).contains("expected 0"));
    assert!(with(vec![dev_transfer(0, 1), dev_transfer(2, 1)]).contains("expected 1"));
    assert!(with(vec![transfer("replica-nobody", 0, Address([7; 32]), 1)]).contains("no account"));
    let machine = key_from_label("replica-machine");
    let beat = SignedTx::sign(
        Tx { signer: address_of(&machine), nonce: 0, body: TxBody::Heartbeat { slot: 1 } },
        &machine,
        CHAIN,
    );
    assert!(with(vec![beat]).contains("not a registered machine"));
}

/// A block ahead of this node's clock by more than the drift gets a nil vote, yet is kept: if
/// the others (whose clocks are ahead) decide it, this node commits it instead of stopping.
#[test]
fn a_block_ahead_of_the_clock_is_refused_but_kept() {
    let mut f = fixture();
    let mut ahead = f.app.build(Height(1), Round::new(0), f.proposer);
    ahead.header.time_ms = clock_ms() + 2_001;
    ahead.txs = vec![bytes(&dev_transfer(0, 1))];
    assert!(f.app.validate(&ahead).expect_err("too far ahead").contains("ahead"));
    // the same block synced with its certificate: decided by the others' clocks, it is valid
    // here (refusing it would hold this node at its height until a restart)
    f.app.validate_decided(&ahead).expect("no clock rule for a certified block");
    let mut before_parent = ahead.clone();
    before_parent.header.time_ms = GENESIS_TIME * 1000;
    assert!(f.app.validate_decided(&before_parent).unwrap_err().contains("not after"), "the other rules hold");
    let kept = f.app.persisted_blocks(Height(1));
    assert!(kept.iter().any(|(_, b)| *b == ahead), "persisted for a commit");
    f.app.commit(&ahead, &certificate(&ahead)).unwrap();
    assert_eq!(height(&f), 1);
    f.app.forget_blocks_through(Height(1));
    assert!(f.app.persisted_blocks(Height(1)).is_empty());
}

/// Each of a proposal's checks refuses on its own, and a refused proposal changes nothing.
#[test]
fn a_replica_refuses_what_does_not_extend_it() {
    let mut f = fixture();
    let good = {
        let mut b = f.app.build(Height(1), Round::new(0), f.proposer);
        b.txs = vec![bytes(&dev_transfer(0, 1))];
        b
    };
    f.app.validate(&good).unwrap();
    let refused = |what: &str, change: &dyn Fn(&mut Block)| {
        let mut b = good.clone();
        change(&mut b);
        let e = f.app.validate(&b).expect_err(what);
        println!("{what}: {e}");
        e
    };
    assert!(refused("height", &|b| b.header.height = Height(2)).contains("height"));
    assert!(refused("parent", &|b| b.header.parent_hash[0] ^= 1).contains("parent hash"));
    assert!(refused("root", &|b| b.header.parent_state_root[0] ^= 1).contains("state root"));
    assert!(refused("time", &|b| b.header.time_ms = GENESIS_TIME * 1000).contains("not after"));
    assert!(refused("clock", &|b| b.header.time_ms = clock_ms() + 2_001).contains("ahead"));
    // at the bound of the drift: accepted
    let mut at_bound = good.clone();
    at_bound.header.time_ms = clock_ms() + 2_000;
    f.app.validate(&at_bound).unwrap();
    assert!(refused("signature", &|b| b.txs[0].signature[5] ^= 1).contains("transaction 0"));
    assert!(refused("encoding", &|b| b.txs[0].tx.push(0)).contains("does not decode"));
    let other_chain = {
        let dev = key_from_label("replica-dev");
        let tx = Tx { signer: address_of(&dev), nonce: 0, body: TxBody::Transfer { to: Address([7; 32]), amount: 1 } };
        bytes(&SignedTx::sign(tx, &dev, "another-chain"))
    };
    assert!(refused("chain", &|b| b.txs[0] = other_chain.clone()).contains("transaction 0"));
    let max = f.shared.config.max_block_txs;
    assert!(refused("count", &|b| b.txs = vec![good.txs[0].clone(); max + 1]).contains("at most"));
    // a decided block that does not extend this replica stops it: an error, nothing committed
    let mut fork = good.clone();
    fork.header.parent_state_root[0] ^= 1;
    let e = f.app.commit(&fork, &certificate(&fork)).expect_err("fail-stop");
    assert!(e.contains("never forking"), "{e}");
    assert_eq!(height(&f), 0);
    assert!(f.app.decided(Height(1)).is_none());
    f.app.commit(&good, &certificate(&good)).unwrap();
    assert_eq!(height(&f), 1);
}

/// A proposal takes the mempool's oldest transactions without removing them; a decided block
/// removes its transactions from every replica's mempool, whoever proposed it.
#[test]
fn the_mempool_empties_by_decided_blocks() {
    let mut f = fixture();
    let txs: Vec<SignedTx> = (0..3).map(|n| dev_transfer(n, 1 + n as u128)).collect();
    {
        let ledger = f.shared.ledger.read().unwrap();
        let mut mempool = f.shared.mempool.lock().unwrap();
        for t in &txs {
            mempool.admit(t.clone(), t.id(), &ledger.state, clock()).unwrap();
        }
    }
    let block = f.app.build(Height(1), Round::new(0), f.proposer);
    assert_eq!(block.txs, txs.iter().map(bytes).collect::<Vec<_>>());
    assert_eq!(f.shared.mempool.lock().unwrap().len(), 3, "building takes nothing");
    let mut decided = block.clone();
    decided.txs.truncate(2);
    f.app.commit(&decided, &certificate(&decided)).unwrap();
    let mempool = f.shared.mempool.lock().unwrap();
    assert_eq!(mempool.len(), 1);
    assert!(mempool.contains(&txs[2].id()));
}

/// A heartbeat whose signature fails the strict check (as one can pass the batch check at
/// admission) is never proposed: every replica would refuse the block, every round. The proposer
/// leaves it out and drops it from its mempool.
#[test]
fn a_heartbeat_failing_the_strict_signature_check_is_never_proposed() {
    let mut f = fixture();
    let owner = key_from_label("replica-dev");
    let machine = key_from_label("replica-machine");
    let register = SignedTx::sign(
        Tx {
            signer: address_of(&owner),
            nonce: 0,
            body: TxBody::RegisterMachine {
                machine: address_of(&machine),
                gpu_class: 1,
                bandwidth_mbps: 1000,
                bond: 0,
            },
        },
        &owner,
        CHAIN,
    );
    let mut first = f.app.build(Height(1), Round::new(0), f.proposer);
    first.txs = vec![bytes(&register)];
    f.app.commit(&first, &certificate(&first)).unwrap();
    assert_eq!(f.shared.store.block(1).unwrap().unwrap().receipts[0].code, 0, "the machine is registered");
    let slot = (clock() - GENESIS_TIME) / f.shared.ledger.read().unwrap().state.policy.epoch.slot_seconds;
    let beat = |signature_flip: bool| {
        let mut t = SignedTx::sign(
            Tx { signer: address_of(&machine), nonce: 0, body: TxBody::Heartbeat { slot } },
            &machine,
            CHAIN,
        );
        if signature_flip {
            t.signature[40] ^= 1;
        }
        t
    };
    let (forged, good) = (beat(true), dev_transfer(1, 1));
    {
        let ledger = f.shared.ledger.read().unwrap();
        let mut mempool = f.shared.mempool.lock().unwrap();
        // admission takes signature-checked transactions: the forged one is put there as the
        // looser batch check could have let it in
        mempool.admit(forged.clone(), forged.id(), &ledger.state, clock()).unwrap();
        mempool.admit(good.clone(), good.id(), &ledger.state, clock()).unwrap();
    }
    let block = f.app.build(Height(2), Round::new(0), f.proposer);
    assert_eq!(block.txs, vec![bytes(&good)]);
    f.app.validate(&block).expect("the proposal is valid everywhere");
    let mempool = f.shared.mempool.lock().unwrap();
    assert!(!mempool.contains(&forged.id()), "evicted");
    assert!(mempool.contains(&good.id()));
}

/// A replicated genesis whose validators are not all bonded is refused: an unbonded validator is
/// in no election, so whoever registers first would become the whole set.
#[test]
fn a_genesis_with_an_unbonded_validator_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = gridmint_network::config::TestnetSpec {
        validators: 2,
        followers: 0,
        policy: gridmint_core::Policy::preset("netmind").unwrap(),
        base_port: 40000,
        archive: false,
        keep_epochs: None,
        block_time_ms: 250,
    };
    // a height shorter than a second is the node's to ask for; below 100 ms is refused
    let short = gridmint_network::config::TestnetSpec { block_time_ms: 99, ..spec.clone() };
    let e = gridmint_network::config::write_testnet(&dir.path().join("short"), &short).unwrap_err();
    assert!(e.contains("--block-time-ms must be 100"), "{e}");
    let nodes = gridmint_network::config::write_testnet(&dir.path().join("net"), &spec).unwrap();
    let node0 = gridmint_network::config::NodeFile::load(&nodes[0].config).unwrap();
    assert_eq!(node0.block_time_ms, 250);
    let path = dir.path().join("net/genesis.json");
    let genesis = gridmint_network::config::read_genesis(&path).expect("testnet bonds every validator");
    let mut unbonded = genesis.clone();
    unbonded.validators[1].bond = None;
    std::fs::write(&path, serde_json::to_string(&unbonded).unwrap()).unwrap();
    let e = gridmint_network::config::read_genesis(&path).expect_err("refused");
    assert!(e.contains("no bond"), "{e}");
}

/// Two conflicting prevotes of a validator, as consensus reports them, are stored with their
/// height (once, however often reported), served at `GET /v1/evidence` with the bytes and
/// signatures anyone can check, and pruned with their block; no balance or root moves.
#[test]
fn equivocation_evidence_is_recorded_once_served_and_checkable() {
    use gridmint_consensus::app_channel::Signer;
    use gridmint_consensus::app_channel::app::types::core::{Context, NilOrVal};
    use gridmint_consensus::{ChainId, GridmintContext, GridmintSigner, ValueId};

    let mut f = fixture();
    for h in 1..=3 {
        let block = f.app.build(Height(h), Round::new(0), f.proposer);
        f.app.commit(&block, &certificate(&block)).unwrap();
    }
    let root_before = f.shared.store.block(3).unwrap().unwrap().state_root;
    let seed = key_from_label("replica-validator").to_bytes();
    let signer = GridmintSigner::new(seed, ChainId::new(CHAIN).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let prevote = |value: NilOrVal<ValueId>| {
        let vote = GridmintContext::new().new_prevote(Height(2), Round::new(1), value, signer.address());
        runtime.block_on(signer.sign_vote(vote)).unwrap()
    };
    let (a, b) = (prevote(NilOrVal::Val(ValueId([5; 32]))), prevote(NilOrVal::Nil));
    let e = gridmint_consensus::evidence::from_votes(&ChainId::new(CHAIN).unwrap(), &a, &b).expect("evidence");
    f.app.record_evidence(Height(2), vec![e.clone(), e.clone()]).unwrap();
    f.app.record_evidence(Height(2), vec![e.clone()]).unwrap();
    assert_eq!(f.shared.metrics.consensus.equivocations.load(std::sync::atomic::Ordering::Relaxed), 1);
    let stored = gridmint_node::evidence::parse(&f.shared.store.evidence(2).unwrap().unwrap()).unwrap();
    assert_eq!(stored, vec![gridmint_network::replica::evidence_record(&e)], "recorded once");
    // evidence for a height whose block is not stored is not kept (it could never be pruned)
    f.app.record_evidence(Height(9), vec![e.clone()]).unwrap();
    assert!(f.shared.store.evidence(9).unwrap().is_none());

    // served by the API, and checkable from the served fields alone
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = runtime.spawn(gridmint_node::serve::serve(
        listener,
        gridmint_node::api::router(f.shared.clone()),
        f.shared.clone(),
        stopped,
    ));
    let client = gridmint_node::client::Client::new(&base);
    let page = client.get("/v1/evidence").unwrap();
    assert_eq!(page.status, 200, "{:?}", page.body);
    let list = &page.body["evidence"];
    assert_eq!(list.as_array().unwrap().len(), 1);
    let served = &list[0];
    assert_eq!(served["height"], 2);
    assert_eq!(served["round"], 1);
    assert_eq!(served["step"], "prevote");
    assert_eq!(served["validator"], hex::encode(f.proposer.to_bytes()));
    assert_eq!(served["second"]["value_id"], serde_json::Value::Null, "a vote for nil");
    let key = ed25519_dalek::VerifyingKey::from_bytes(&f.proposer.to_bytes()).unwrap();
    for side in ["first", "second"] {
        let bytes = hex::decode(served[side]["signed_bytes"].as_str().unwrap()).unwrap();
        let sig: [u8; 64] = hex::decode(served[side]["signature"].as_str().unwrap()).unwrap().try_into().unwrap();
        key.verify_strict(&bytes, &ed25519_dalek::Signature::from_bytes(&sig)).expect("checkable by anyone");
    }
    assert_eq!(client.get("/v1/evidence?before=2").unwrap().body["evidence"].as_array().unwrap().len(), 0);
    for bad in ["limit=0", "limit=101", "before=x", "page=2"] {
        let answer = client.get(&format!("/v1/evidence?{bad}")).unwrap();
        assert_eq!(answer.status, 400, "{bad}: {:?}", answer.body);
    }
    let _ = stop.send(true);
    runtime.block_on(server).unwrap().unwrap();

    // a record, not a penalty: the state is what the blocks made it
    assert_eq!(f.shared.store.block(3).unwrap().unwrap().state_root, root_before);
    // pruned with its block
    f.shared.store.prune_to(2, CHAIN).unwrap();
    assert!(f.shared.store.evidence(2).unwrap().is_none(), "pruned with block 2");
}

/// A snapshot is certified by the next block's commit certificate: accepted with the
/// validator's real precommit signature; refused without enough signed power, with a signature
/// by someone outside the set, with a flipped signature byte, and against another block.
#[test]
fn a_snapshot_is_accepted_only_with_the_next_blocks_certificate() {
    use gridmint_consensus::app_channel::Signer;
    use gridmint_consensus::app_channel::app::types::core::{CommitSignature, Context, NilOrVal};
    use gridmint_consensus::{ChainId, GridmintContext, GridmintSigner};
    use gridmint_network::record::DecidedRecord;
    use gridmint_network::state_sync::verify;

    let mut f = fixture();
    let chain = ChainId::new(CHAIN).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let sign = |label: &str, block: &Block| {
        let signer = GridmintSigner::new(key_from_label(label).to_bytes(), chain.clone());
        let id = block.value().value_id();
        let vote = GridmintContext::new().new_precommit(
            block.header.height,
            Round::new(0),
            NilOrVal::Val(id),
            signer.address(),
        );
        let signed = runtime.block_on(signer.sign_vote(vote)).unwrap();
        CommitSignature::new(signer.address(), signed.signature)
    };
    let certified = |block: &Block, signatures: Vec<CommitSignature<GridmintContext>>| {
        ExtendedCommitCertificate::from_commit_certificate_and_extensions(
            CommitCertificate {
                height: block.header.height,
                round: Round::new(0),
                value_id: block.value().value_id(),
                commit_signatures: signatures,
            },
            VoteExtensions::default(),
        )
    };
    let first = f.app.build(Height(1), Round::new(0), f.proposer);
    f.app.commit(&first, &certified(&first, vec![sign("replica-validator", &first)])).unwrap();
    let snapshot = {
        let ledger = f.shared.ledger.read().unwrap();
        gridmint_node::snapshots::encode(&ledger, &f.shared.store.block(1).unwrap().unwrap()).unwrap()
    };
    let mut second = f.app.build(Height(2), Round::new(0), f.proposer);
    second.txs = vec![bytes(&dev_transfer(0, 5))];
    f.app.commit(&second, &certified(&second, vec![sign("replica-validator", &second)])).unwrap();
    let framed = |height: u64, record: &DecidedRecord| {
        let block = f.shared.store.block(height).unwrap().unwrap().encode();
        let mut out = (block.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&block);
        out.extend_from_slice(&record.encode());
        out
    };
    let record = DecidedRecord::decode(&f.shared.store.decided(2).unwrap().unwrap()).unwrap();
    let genesis = ValidatorSet::new(vec![Validator::new(f.proposer.to_bytes(), 1).unwrap()]).unwrap();

    let ok = verify(&chain, &genesis, snapshot.clone(), &framed(2, &record)).expect("certified");
    assert_eq!((ok.header.height, ok.signed_power), (1, (1, 1)));
    assert_eq!(ok.block_hash, f.shared.store.block(1).unwrap().unwrap().hash());

    let refused = |record: &DecidedRecord, height: u64| {
        verify(&chain, &genesis, snapshot.clone(), &framed(height, record)).expect_err("refused")
    };
    let mut unsigned = record.clone();
    unsigned.certificate.commit_signatures.clear();
    assert!(refused(&unsigned, 2).contains("not more than 2/3"), "{}", refused(&unsigned, 2));
    let mut stranger = record.clone();
    let theirs = sign("replica-dev", &second);
    stranger.certificate.commit_signatures[0].address = theirs.address;
    stranger.certificate.commit_signatures[0].signature = theirs.signature;
    assert!(refused(&stranger, 2).contains("not a validator"), "{}", refused(&stranger, 2));
    let mut flipped = record.clone();
    let mut sig = flipped.certificate.commit_signatures[0].signature.to_bytes();
    sig[10] ^= 1;
    flipped.certificate.commit_signatures[0].signature =
        gridmint_consensus::signing_ed25519::Signature::from_bytes(sig);
    assert!(refused(&flipped, 2).contains("bad signature"), "{}", refused(&flipped, 2));
    let mut twice = record.clone();
    let again = twice.certificate.commit_signatures[0].clone();
    twice.certificate.commit_signatures.push(again);
    assert!(refused(&twice, 2).contains("two signatures"), "{}", refused(&twice, 2));
    // block 1's own certificate does not certify the state after block 1
    let record1 = DecidedRecord::decode(&f.shared.store.decided(1).unwrap().unwrap()).unwrap();
    assert!(refused(&record1, 1).contains("asked for block 2"), "{}", refused(&record1, 1));
    // a snapshot whose state was altered fails its own checks first
    let mut altered = snapshot.clone();
    let at = altered.len() / 2;
    altered[at] ^= 1;
    assert!(verify(&chain, &genesis, altered, &framed(2, &record)).is_err());
}

/// The set of a height beyond the next (asked for proposals that arrive early) is predicted far
/// from an epoch close, and not given near one, where the election may change it: a stream
/// checked against a wrong prediction would be refused for good, an unknown set only defers it.
#[test]
fn the_set_of_later_heights_is_predicted_only_far_from_an_epoch_close() {
    let f = fixture();
    let next = Height(height(&f) + 1);
    let set = f.app.validator_set(next).expect("the next height's set is known");
    assert_eq!(f.app.validator_set(Height(next.0 + 2)), Some(set.clone()), "a day from the close");

    fn near_the_close() -> u64 {
        // netmind's epochs are a day; the first ends a day after genesis
        (GENESIS_TIME + 86_400 - 5) * 1000
    }
    let shared = f.shared.clone();
    let validators = set.clone();
    let app = LedgerApp::new(shared, validators, 2).unwrap().with_clock(near_the_close);
    assert_eq!(app.validator_set(next), Some(set), "the next height's set is exact, close or not");
    assert_eq!(app.validator_set(Height(next.0 + 1)), None, "5 s before a close: no prediction");
}

/// The screen's stricter rules (review finding 5): a heartbeat must have nonce 0, a slot current
/// at the block's time, and not be marked already; a signer's candidates must have their fees
/// covered together by its spendable balance in the parent state. Heartbeats that can never
/// enter a block leave the mempool after each decided block (finding 6).
#[test]
fn the_screen_refuses_free_heartbeats_and_unfunded_chains() {
    // an hour into the first epoch (of a day): slots of 5 minutes before this one exist
    fn later() -> u64 {
        GENESIS_TIME + 3_600
    }
    fn later_ms() -> u64 {
        later() * 1000
    }
    let mut f = fixture();
    let set = f.app.validator_set(Height(1)).unwrap();
    f.app = LedgerApp::new(f.shared.clone(), set, 2).unwrap().with_clock(later_ms);
    let clock = later;
    let owner = key_from_label("replica-dev");
    let machine = key_from_label("replica-machine");
    let register = SignedTx::sign(
        Tx {
            signer: address_of(&owner),
            nonce: 0,
            body: TxBody::RegisterMachine {
                machine: address_of(&machine),
                gpu_class: 1,
                bandwidth_mbps: 1000,
                bond: 0,
            },
        },
        &owner,
        CHAIN,
    );
    // a poor account with exactly one fee
    let fee = f.shared.ledger.read().unwrap().state.current_fee();
    let poor = key_from_label("replica-poor");
    let mut first = f.app.build(Height(1), Round::new(0), f.proposer);
    first.txs = vec![bytes(&register), bytes(&transfer("replica-dev", 1, address_of(&poor), fee + 1))];
    f.app.commit(&first, &certificate(&first)).unwrap();
    let slot_seconds = f.shared.ledger.read().unwrap().state.policy.epoch.slot_seconds;
    let slot = (clock() - GENESIS_TIME) / slot_seconds;
    let beat = |nonce: u64, slot: u64| {
        SignedTx::sign(Tx { signer: address_of(&machine), nonce, body: TxBody::Heartbeat { slot } }, &machine, CHAIN)
    };
    let with = |template: &Block, txs: &[SignedTx]| {
        let mut b = template.clone();
        b.txs = txs.iter().map(bytes).collect();
        b
    };
    let template = f.app.build(Height(2), Round::new(0), f.proposer);
    let block_with = |_: &Fixture, _: u64, txs: &[SignedTx]| with(&template, txs);
    let refused = |f: &Fixture, txs: &[SignedTx]| f.app.validate(&block_with(f, 2, txs)).expect_err("invalid");
    f.app.validate(&block_with(&f, 2, &[beat(0, slot)])).expect("a current heartbeat");
    assert!(refused(&f, &[beat(1, slot)]).contains("NonceTooHigh"), "{}", refused(&f, &[beat(1, slot)]));
    assert!(refused(&f, &[beat(0, slot + 50)]).contains("SlotOutsideEpoch"));
    assert!(slot > 2, "a past slot exists");
    assert!(refused(&f, &[beat(0, slot - 2)]).contains("SlotOutsideEpoch"));
    // one fee covered, two asked
    let poor_tx = |nonce| transfer("replica-poor", nonce, Address([7; 32]), 1);
    f.app.validate(&block_with(&f, 2, &[poor_tx(0)])).expect("one fee is covered");
    assert!(refused(&f, &[poor_tx(0), poor_tx(1)]).contains("InsufficientFee"));

    // a committed heartbeat's slot is marked: the same heartbeat again is refused; a heartbeat
    // of a slot that is over, waiting in the mempool, is purged
    let second = block_with(&f, 2, &[beat(0, slot)]);
    f.app.commit(&second, &certificate(&second)).unwrap();
    let stale_beat = beat(0, slot);
    let past_beat = beat(0, slot - 2);
    {
        let mut mempool = f.shared.mempool.lock().unwrap();
        let ledger = f.shared.ledger.read().unwrap();
        // admitted when its slot was current (as a node that fell behind could hold it)
        mempool.admit(past_beat.clone(), past_beat.id(), &ledger.state, clock() - 2 * slot_seconds).unwrap();
    }
    let third = f.app.build(Height(3), Round::new(0), f.proposer);
    assert!(third.txs.is_empty(), "neither dead heartbeat is proposed");
    let again = f.app.validate(&with(&third, std::slice::from_ref(&stale_beat))).expect_err("marked");
    assert!(again.contains("HeartbeatDuplicate"), "{again}");
    f.app.commit(&third, &certificate(&third)).unwrap();
    let mempool = f.shared.mempool.lock().unwrap();
    assert!(!mempool.contains(&past_beat.id()), "a heartbeat of a slot that is over is purged");
}

/// A replica does not check again a signature its mempool admitted: a block's transaction
/// waiting there with exactly the same bytes and signature, recorded as checked, is not checked
/// a second time (here a corrupted signature recorded as checked proves the check is skipped);
/// one waiting under another signature, or recorded without a check, is checked.
#[test]
fn validation_does_not_check_again_what_admission_checked() {
    use gridmint_node::mempool::Checked;
    let mut f = fixture();
    let template = f.app.build(Height(1), Round::new(0), f.proposer);
    let mut corrupted = dev_transfer(0, 1);
    corrupted.signature[40] ^= 1;
    let block = |tx: &SignedTx| Block { txs: vec![bytes(tx)], ..template.clone() };
    let admit = |tx: &SignedTx, checked: Checked| {
        let ledger = f.shared.ledger.read().unwrap();
        let mut mempool = f.shared.mempool.lock().unwrap();
        mempool.admit_checked(tx.clone(), tx.id(), &ledger.state, clock(), checked).unwrap();
    };
    let refused = f.app.validate(&block(&corrupted)).expect_err("not in the mempool: checked, and refused");
    assert!(refused.contains("transaction 0"), "{refused}");
    admit(&corrupted, Checked::Unknown);
    assert!(f.app.validate(&block(&corrupted)).is_err(), "waiting, but not known to be checked");
    f.shared.mempool.lock().unwrap().remove(&[corrupted.id()]);
    admit(&corrupted, Checked::Verified);
    f.app.validate(&block(&corrupted)).expect("exactly these bytes and signature were checked: not again");
    let mut other = corrupted.clone();
    other.signature[41] ^= 1;
    assert!(f.app.validate(&block(&other)).is_err(), "another signature for the same transaction is checked");
}
