//! State at scale (issue 12), end to end with real processes: account proofs served by a live
//! node verify offline against the block's state root and fail when tampered with.

mod common;

use common::{BIN, amount, keys, start};
use gridmint_node::signing::address_of;
use serde_json::Value;

fn verify_account(file: &std::path::Path, root: Option<&str>) -> (i32, String) {
    let mut command = std::process::Command::new(BIN);
    command.args(["verify-account", file.to_str().unwrap()]);
    if let Some(root) = root {
        command.args(["--root", root]);
    }
    let out = command.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Goal: `GET /v1/accounts/{a}/proof` proves the account's balances against the state root of
/// the tip block (the same root `GET /v1/blocks/{height}` shows), `gridmint verify-account`
/// accepts it, and refuses it with a balance changed or against another block's root.
/// Method: a dev node, transfers to fresh keys, proofs fetched while blocks go on.
#[test]
fn account_proofs_from_a_live_node_verify_offline() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(&dir.path().join("data"), &["--block-ms", "50", "--rate-limit", "0"]);
    let users = keys("proof-user", 5);
    node.fund(&users, 7_000);
    for user in &users {
        let answer = node.get(&format!("/v1/accounts/{}/proof", address_of(user)));
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let body = answer.body;
        assert_eq!(amount(&body["proof"]["spendable"]), 7_000);
        let height = body["height"].as_u64().unwrap();
        let block = node.get(&format!("/v1/blocks/{height}")).body;
        assert_eq!(block["state_root"], body["state_root"], "the proof is of the block at its height");
        assert_eq!(block["hash"], body["block_hash"]);
        let file = dir.path().join("proof.json");
        std::fs::write(&file, serde_json::to_vec(&body).unwrap()).unwrap();
        let (code, out) = verify_account(&file, None);
        assert_eq!(code, 0, "{out}");
        assert!(out.starts_with("valid:") && out.contains("(7000 base units) spendable"), "{out}");
        let root = body["state_root"].as_str().unwrap();
        assert_eq!(verify_account(&file, Some(root)).0, 0);

        let mut tampered: Value = body.clone();
        tampered["proof"]["spendable"] = "7001".into();
        std::fs::write(&file, serde_json::to_vec(&tampered).unwrap()).unwrap();
        let (code, out) = verify_account(&file, Some(root));
        assert_eq!(code, 1, "{out}");
        assert!(out.starts_with("INVALID"), "{out}");
    }
    // a proof of one block does not verify against an older block's root
    let body = node.get(&format!("/v1/accounts/{}/proof", address_of(&users[0]))).body;
    let file = dir.path().join("proof.json");
    std::fs::write(&file, serde_json::to_vec(&body).unwrap()).unwrap();
    let old_root = node.get("/v1/blocks/1").body["state_root"].as_str().unwrap().to_string();
    assert_ne!(old_root, body["state_root"].as_str().unwrap());
    assert_eq!(verify_account(&file, Some(&old_root)).0, 1);
    // unknown accounts and malformed addresses are typed errors
    let unknown = node.get(&format!("/v1/accounts/{}/proof", "ab".repeat(32)));
    assert_eq!((unknown.status, unknown.error_code()), (404, Some("unknown_account")));
    let bad = node.get("/v1/accounts/xyz/proof");
    assert_eq!(bad.status, 400);
}

/// Starts a dev node on `data` with 2-second epochs and 50 ms blocks, its output in `log`.
fn start_logged(data: &std::path::Path, log: &std::path::Path, extra: &[&str]) -> common::NodeProc {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    let mut args = vec!["--block-ms", "50", "--epoch-seconds", "2", "--rate-limit", "0"];
    args.extend_from_slice(extra);
    common::start_with_output(data, &args, out, err)
}

fn wait_for_epoch(node: &common::NodeProc, epoch: u64) {
    for _ in 0..400 {
        if node.get("/v1/status").body["epoch"].as_u64().unwrap() >= epoch {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("epoch {epoch} not reached in 20 s");
}

fn snapshot_files(data: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(data.join("snapshots"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).filter(|p| !p.ends_with("genesis.json")).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The tip's height and state root, and a few accounts, as the API shows them.
fn fingerprint(node: &common::NodeProc, users: &[ed25519_dalek::SigningKey]) -> (u64, Value, Vec<Value>) {
    let block = node.get("/v1/blocks/latest").body;
    let accounts = users.iter().map(|u| node.account(&address_of(u))).map(|mut a| {
        a.as_object_mut().unwrap().remove("height");
        a
    });
    (block["height"].as_u64().unwrap(), block["state_root"].clone(), accounts.collect())
}

/// Goal: a node writes snapshots at epoch closes (keeping the newest N), restarts after
/// `kill -9` from the newest and replays only the blocks after it, to the same state as a full
/// replay; a damaged, truncated or half-written snapshot is never loaded (the node falls back
/// to an older one, or to genesis) and says why. Method: a dev node with 2-second epochs and
/// transfers, killed and restarted with its snapshots tampered with in turn.
#[test]
fn restarts_from_the_newest_valid_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("node.log");
    // an archive node: the full replay from genesis is the reference, and the fall-back
    let mut node = start_logged(&data, &log, &["--snapshots-kept", "2", "--archive"]);
    let users = keys("snap-user", 4);
    node.fund(&users, 1_000);
    wait_for_epoch(&node, 5);
    node.fund(&users, 1);
    let files = snapshot_files(&data);
    assert_eq!(files.len(), 2, "the newest two are kept: {files:?}");
    node.kill9();
    // a crash mid-write leaves at most a temporary file: never loaded
    std::fs::write(data.join("snapshots").join("00000000000099999999.snapshot.tmp"), b"half a snapshot").unwrap();

    // the full replay from genesis is the reference
    let (code, out, err) = run(&["replay", "--data", data.to_str().unwrap()]);
    assert_eq!(code, 0, "{out} {err}");

    let restart = |node: &mut common::NodeProc| {
        *node = start_logged(&data, &log, &["--snapshots-kept", "2", "--skip-empty-blocks", "--archive"]);
        std::fs::read_to_string(&log).unwrap()
    };
    let newest_height: u64 = files[1].file_name().unwrap().to_str().unwrap()[..20].parse().unwrap();
    let text = restart(&mut node);
    assert!(text.contains(&format!("restarted from the snapshot of block {newest_height}")), "{text}");
    let (height, root, accounts) = fingerprint(&node, &users);
    assert!(height >= newest_height);
    assert_eq!(amount(&accounts[0]["spendable"]), 1_001);
    node.kill9();

    // the newest damaged: the older one is used, with a warning
    let files = snapshot_files(&data).into_iter().filter(|f| f.extension().unwrap() == "snapshot").collect::<Vec<_>>();
    let (older, newest) = (&files[files.len() - 2], &files[files.len() - 1]);
    let older_height: u64 = older.file_name().unwrap().to_str().unwrap()[..20].parse().unwrap();
    let mut bytes = std::fs::read(newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(newest, &bytes).unwrap();
    let text = restart(&mut node);
    assert!(text.contains("checksum") && text.contains("not used"), "{text}");
    assert!(text.contains(&format!("restarted from the snapshot of block {older_height}")), "{text}");
    let after = fingerprint(&node, &users);
    assert_eq!(after.0, height, "no block was made (nothing to do, --skip-empty-blocks)");
    assert_eq!((after.1, after.2), (root.clone(), accounts.clone()), "the same state from an older snapshot");
    node.kill9();

    // every snapshot truncated: replay from genesis, same state
    for f in snapshot_files(&data).into_iter().filter(|f| f.extension().unwrap() == "snapshot") {
        let bytes = std::fs::read(&f).unwrap();
        std::fs::write(&f, &bytes[..bytes.len() / 3]).unwrap();
    }
    let text = restart(&mut node);
    assert!(text.contains("truncated"), "{text}");
    assert!(text.contains("replayed") && text.contains("from genesis"), "{text}");
    let after = fingerprint(&node, &users);
    assert_eq!((after.1, after.2), (root, accounts));
}

/// Goal: `gridmint snapshot export` copies a running node's newest snapshot, `inspect` checks
/// it, `import` installs it into a node that has the blocks (and refuses it for another chain
/// or with a byte changed). Method: two dev nodes, one snapshot moved between data dirs.
#[test]
fn snapshots_move_between_data_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("node.log");
    let mut node = start_logged(&data, &log, &[]);
    wait_for_epoch(&node, 3);
    let file = dir.path().join("exported.snapshot");
    let (code, out, err) =
        run(&["snapshot", "export", "--data", data.to_str().unwrap(), "--out", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out} {err}");
    let (code, out, _) = run(&["snapshot", "inspect", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let height: u64 = out.split("snapshot of block ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let block = node.get(&format!("/v1/blocks/{height}")).body;
    assert!(out.contains(block["hash"].as_str().unwrap()), "inspect prints the block hash: {out}");
    assert!(out.contains(block["state_root"].as_str().unwrap()), "{out}");
    node.kill9();

    // a node with the blocks and no snapshots takes it, and restarts from it
    std::fs::remove_dir_all(data.join("snapshots")).unwrap();
    let (code, out, err) = run(&["snapshot", "import", file.to_str().unwrap(), "--data", data.to_str().unwrap()]);
    assert_eq!(code, 0, "{out} {err}");
    node = start_logged(&data, &log, &[]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(&format!("restarted from the snapshot of block {height}")), "{text}");
    node.kill9();

    // a byte changed: refused by inspect and import
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[100] ^= 0x40;
    let damaged = dir.path().join("damaged.snapshot");
    std::fs::write(&damaged, &bytes).unwrap();
    let (code, out, _) = run(&["snapshot", "inspect", damaged.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("INVALID"), "{out}");
    let (code, _, err) = run(&["snapshot", "import", damaged.to_str().unwrap(), "--data", data.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");

    // another chain's node refuses it
    let other = dir.path().join("other");
    let other_node = start_logged(&other, &dir.path().join("other.log"), &[]);
    wait_for_epoch(&other_node, 2);
    drop(other_node);
    let (code, _, err) = run(&["snapshot", "import", file.to_str().unwrap(), "--data", other.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("another chain"), "{err}");
}

/// Goal: a node is pruned by default: after epoch closes it no longer stores the oldest blocks
/// (410 `pruned`, with the height it keeps from in `/v1/status`), still serves every epoch's
/// summary, restarts after `kill -9` from its snapshots, and `gridmint replay` refuses it by
/// name; `--archive` keeps every block. Method: two dev nodes with 2-second epochs.
#[test]
fn a_node_is_pruned_by_default_and_an_archive_node_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("node.log");
    let mut node = start_logged(&data, &log, &[]);
    let users = keys("prune-user", 2);
    node.fund(&users, 500);
    assert_eq!(node.get("/v1/blocks/1").body["height"], 1);
    wait_for_epoch(&node, 6);
    let status = node.get("/v1/status").body;
    assert_eq!(status["archive"], false);
    let oldest = status["oldest_block"].as_u64().unwrap();
    assert!(oldest > 1, "{status}");
    let gone = node.get("/v1/blocks/1");
    assert_eq!((gone.status, gone.error_code()), (410, Some("pruned")), "{:?}", gone.body);
    assert!(gone.body["error"]["message"].as_str().unwrap().contains("archive"));
    assert_eq!(node.get(&format!("/v1/blocks/{oldest}")).status, 200);
    assert_eq!(node.get("/v1/epochs/1").status, 200, "an epoch's summary outlives its blocks");
    let unknown = node.get("/v1/blocks/99999999");
    assert_eq!((unknown.status, unknown.error_code()), (404, Some("unknown_block")));
    let metrics = node.get("/metrics").body;
    let pruned: u64 = metrics
        .as_str()
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("gridmint_blocks_pruned_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(pruned >= oldest - 1, "{pruned} blocks pruned, oldest kept {oldest}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("pruned") && text.contains("no longer stored"), "{text}");
    let (height, root, accounts) = fingerprint(&node, &users);
    node.kill9();

    // the auditor's replay of a pruned node: from its oldest snapshot at or after its base
    let (code, out, err) = run(&["replay", "--data", data.to_str().unwrap()]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("replay matches") && out.contains("after the snapshot of block"), "{out}");
    node = start_logged(&data, &log, &["--skip-empty-blocks"]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("restarted from the snapshot of block"), "{text}");
    let after = fingerprint(&node, &users);
    assert!(after.0 >= height);
    assert_eq!(after.2, accounts, "the same accounts after the restart");
    if after.0 == height {
        assert_eq!(after.1, root);
    }
    node.kill9();

    // settings that could never prune, or never restart, are refused before anything starts
    let (code, _, err) = run(&["node", "--dev", "--data", data.to_str().unwrap(), "--snapshot-every", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--archive"), "{err}");
    let (code, _, err) = run(&["node", "--dev", "--data", data.to_str().unwrap(), "--snapshots-kept", "1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--snapshots-kept"), "{err}");
    let (code, _, err) = run(&["node", "--dev", "--data", data.to_str().unwrap(), "--keep-epochs", "0"]);
    assert_eq!(code, 2, "{err}");

    let archive = dir.path().join("archive");
    let node = start_logged(&archive, &dir.path().join("archive.log"), &["--archive"]);
    wait_for_epoch(&node, 6);
    let status = node.get("/v1/status").body;
    assert_eq!((status["archive"].as_bool(), status["oldest_block"].as_u64()), (Some(true), Some(1)));
    assert_eq!(node.get("/v1/blocks/1").status, 200);
}

/// An epoch that closed before the node's first block (the one before its open epoch).
fn gone_epoch(node: &common::NodeProc) -> u64 {
    node.get("/v1/status").body["epoch"].as_u64().unwrap() - 1
}

/// Goal: a new node starts from another node's snapshot without its blocks: `import` creates
/// its data dir from the exported genesis, takes the snapshot only with the block hash given
/// as trusted (and refuses another), and the node starts at that block with the same state.
/// Method: a dev node's snapshot exported and imported into a new data dir.
#[test]
fn a_new_node_starts_from_a_trusted_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("node.log");
    let node = start_logged(&data, &log, &[]);
    let users = keys("boot-user", 3);
    node.fund(&users, 900);
    wait_for_epoch(&node, 3);
    let file = dir.path().join("exported.snapshot");
    let (code, out, err) =
        run(&["snapshot", "export", "--data", data.to_str().unwrap(), "--out", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("genesis"), "{out}");
    let height: u64 = out.split("snapshot of block ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let block = node.get(&format!("/v1/blocks/{height}")).body;
    let hash = block["hash"].as_str().unwrap().to_string();
    let expected: Vec<Value> =
        users.iter().map(|u| node.get(&format!("/v1/accounts/{}/proof", address_of(u))).body).collect();
    drop(node);

    let fresh = dir.path().join("fresh");
    let import = |extra: &[&str]| {
        let mut args = vec!["snapshot", "import", file.to_str().unwrap(), "--data", fresh.to_str().unwrap()];
        args.extend_from_slice(extra);
        run(&args)
    };
    // without a trusted hash, or with another: refused, and nothing left behind
    let (code, _, err) = import(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--trusted-hash") && err.contains(&hash), "{err}");
    assert!(!fresh.exists(), "a refused import leaves no data dir");
    // into a dir the operator already has: a refusal leaves everything in it
    std::fs::create_dir_all(&fresh).unwrap();
    std::fs::write(fresh.join("keep.txt"), "mine").unwrap();
    let (code, _, err) = import(&[]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(std::fs::read_dir(&fresh).unwrap().count(), 1, "only the operator's file is there");
    // another chain's genesis: refused, even with the right hash
    let other_genesis = dir.path().join("other-genesis.json");
    let mut genesis: Value =
        serde_json::from_slice(&std::fs::read(format!("{}.genesis.json", file.display())).unwrap()).unwrap();
    genesis["genesis_time"] = (genesis["genesis_time"].as_u64().unwrap() + 1).into();
    std::fs::write(&other_genesis, serde_json::to_vec(&genesis).unwrap()).unwrap();
    let (code, _, err) = import(&["--trusted-hash", &hash, "--genesis", other_genesis.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not this chain's genesis"), "{err}");
    let (code, _, err) = import(&["--trusted-hash", &"ab".repeat(32)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("refused"), "{err}");
    let (code, _, err) = import(&["--trusted-hash", "xyz"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = import(&["--trusted-hash", &hash]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains(&format!("starts at block {height}")), "{out}");
    assert_eq!(std::fs::read_to_string(fresh.join("keep.txt")).unwrap(), "mine");
    // an import that did not finish: the node refuses to start (never a chain from genesis);
    // running the import again finishes it
    std::fs::write(fresh.join(gridmint_node::snapshots::IMPORT_MARKER), "").unwrap();
    let (code, _, err) = run(&["node", "--data", fresh.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("did not finish"), "{err}");
    let (code, out, err) = import(&["--trusted-hash", &hash]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(!fresh.join(gridmint_node::snapshots::IMPORT_MARKER).exists());
    // a marker where no ledger is: a new dev chain is not created over it either
    let marked = dir.path().join("marked");
    std::fs::create_dir_all(&marked).unwrap();
    std::fs::write(marked.join(gridmint_node::snapshots::IMPORT_MARKER), "").unwrap();
    let (code, _, err) = run(&["node", "--dev", "--data", marked.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("did not finish"), "{err}");
    // a ledger's file with no readable ledger and no marker: not touched
    let stray = dir.path().join("stray");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join(gridmint_node::store::TIP_FILE), "x").unwrap();
    let (code, _, err) = run(&[
        "snapshot",
        "import",
        file.to_str().unwrap(),
        "--data",
        stray.to_str().unwrap(),
        "--trusted-hash",
        &hash,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("refusing to touch it"), "{err}");
    assert_eq!(std::fs::read(stray.join(gridmint_node::store::TIP_FILE)).unwrap(), b"x");

    let fresh_log = dir.path().join("fresh.log");
    let mut node = start_logged(&fresh, &fresh_log, &["--skip-empty-blocks"]);
    let text = std::fs::read_to_string(&fresh_log).unwrap();
    assert!(text.contains(&format!("restarted from the snapshot of block {height}")), "{text}");
    let status = node.get("/v1/status").body;
    assert_eq!(status["oldest_block"].as_u64(), Some(height + 1));
    assert_eq!(status["tip_hash"].as_str(), Some(hash.as_str()), "{status}");
    let gone = node.get(&format!("/v1/blocks/{height}"));
    assert_eq!(gone.status, 410);
    // the epochs closed before its first block are another node's to answer, by name
    let epoch = gone_epoch(&node);
    let answer = node.get(&format!("/v1/epochs/{epoch}"));
    assert_eq!((answer.status, answer.error_code()), (410, Some("pruned")), "{:?}", answer.body);
    for (user, want) in users.iter().zip(&expected) {
        let proof = node.get(&format!("/v1/accounts/{}/proof", address_of(user))).body;
        assert_eq!(proof["proof"]["spendable"], want["proof"]["spendable"]);
    }
    // it goes on from there (the dev account's key copied over), and restarts after kill -9
    let key = gridmint_node::node::DEV_KEY_FILE;
    std::fs::copy(data.join(key), fresh.join(key)).unwrap();
    node.fund(&users[..1], 1);
    node.kill9();
    let node = start_logged(&fresh, &fresh_log, &["--skip-empty-blocks"]);
    assert_eq!(amount(&node.account(&address_of(&users[0]))["spendable"]), 901);
}
