//! Black-box tests of what the CLI tells a person: exit codes and reasons of failed
//! transactions, `lookup`, the nonce it chooses, amounts in tokens, a closed pipe, a quiet node.

mod common;

use common::*;
use serde_json::Value;
use std::process::{Command, Stdio};

fn gridmint(node: &NodeProc, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).env("GRIDMINT_NODE", node.client.base()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Goal: a transaction that fails exits non-zero with one line saying what was needed and what
/// was there; `lookup` finds committed, failed and unknown ids; `--wait` after transactions sent
/// without it takes the committed nonce once they settled; amounts show in tokens too; a
/// running node prints no line per block.
/// Method: a dev node (stdout to a file), the real binary as a user runs it.
#[test]
fn failed_transactions_say_why_and_lookup_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("node-stdout.txt");
    let node = start_with_output(
        &data,
        &["--block-ms", "50", "--rate-limit", "0"],
        std::fs::File::create(&log).unwrap(),
        Stdio::null(),
    );
    let dev_key = data.join("dev-key.json");
    let dev_key = dev_key.to_str().unwrap();
    let bob_file = dir.path().join("bob.json");
    let (code, bob, _) = gridmint(&node, &["keys", "new", "--out", bob_file.to_str().unwrap()]);
    assert_eq!(code, 0);
    let bob = bob.trim().to_string();
    let dev = gridmint_node::signing::address_of(&node.dev_key()).to_bech32m();

    let (code, out, err) =
        gridmint(&node, &["tx", "--key", dev_key, "transfer", "--to", &bob, "--amount", "2", "--wait"]);
    assert_eq!(code, 0, "{out} {err}");
    let paid = json(&out);
    assert_eq!((paid["code"].as_u64(), paid["fee_tokens"].as_str()), (Some(0), Some("0.001")), "{paid}");
    let paid_id = paid["id"].as_str().unwrap().to_string();

    // bob holds 2 tokens and sends 50: committed with insufficient_balance (G10), exit 1
    let (code, out, err) = gridmint(
        &node,
        &["tx", "--key", bob_file.to_str().unwrap(), "transfer", "--to", &dev, "--amount", "50", "--wait"],
    );
    assert_eq!(code, 1, "a failed transaction is not a success: {out} {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("insufficient_balance"), "{err}");
    assert!(err.contains("needed 50 tokens") && err.contains("1.999 tokens spendable now"), "{err}");
    let failed = json(&out);
    assert_eq!(failed["code"].as_u64(), Some(11), "the receipt is still printed: {failed}");
    let failed_id = failed["id"].as_str().unwrap().to_string();

    // lookup: committed and applied (exit 0, with the transaction), failed (exit 1, why), unknown
    let (code, out, err) = gridmint(&node, &["lookup", &paid_id]);
    assert_eq!(code, 0, "{out} {err}");
    let found = json(&out);
    assert_eq!((found["status"].as_str(), found["tx"]["body"]["kind"].as_str()), (Some("committed"), Some("transfer")));
    assert_eq!(found["tx"]["body"]["amount_tokens"], "2", "{found}");
    let (code, out, err) = gridmint(&node, &["lookup", &failed_id]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("insufficient_balance") && err.contains("needed 50 tokens"), "{err}");
    let (code, _, err) = gridmint(&node, &["lookup", &"ab".repeat(32)]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown_tx"), "{err}");

    // two sent without --wait, then one with it: it waits for them and signs the next nonce
    for amount in ["0.1", "0.2"] {
        let (code, out, err) = gridmint(&node, &["tx", "--key", dev_key, "transfer", "--to", &bob, "--amount", amount]);
        assert_eq!(code, 0, "{out} {err}");
    }
    let (code, out, err) =
        gridmint(&node, &["tx", "--key", dev_key, "transfer", "--to", &bob, "--amount", "0.3", "--wait"]);
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(json(&out)["code"].as_u64(), Some(0));

    // the account in base units and in tokens: 2 − 0.001 (the failed transfer's fee) + 0.6
    let (code, out, _) = gridmint(&node, &["account", &bob]);
    assert_eq!(code, 0);
    let account = json(&out);
    assert_eq!(account["spendable"], "2599000000000000000");
    assert_eq!(account["spendable_tokens"], "2.599");
    assert_eq!(account["holding_tokens"], "2.599");
    assert_eq!(account["nonce"].as_u64(), Some(1));

    // a proof checked offline shows tokens and base units
    let bob_hex = gridmint_core::Address::parse(&bob).unwrap().to_hex();
    let proof = dir.path().join("account.json");
    std::fs::write(&proof, node.get(&format!("/v1/accounts/{bob_hex}/proof")).body.to_string()).unwrap();
    let (code, out, err) = gridmint(&node, &["verify-account", proof.to_str().unwrap()]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("2.599 tokens (2599000000000000000 base units) spendable"), "{out}");

    let printed = std::fs::read_to_string(&log).unwrap();
    assert!(!printed.lines().any(|l| l.starts_with("block ")), "no line per block by default: {printed}");
}

/// Goal: output piped into a reader that went away (`gridmint … | head`) ends quietly, never
/// with a panic. Method: the real binary with its standard output's read end closed before it
/// writes, and through a real `head -c 1`.
#[test]
fn a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    for args in [&["policy", "show", "netmind"][..], &["policy", "list"][..]] {
        let mut child = Command::new(BIN).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take()); // the reader is gone before the first write
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.status.success() || out.status.signal() == Some(13), "{args:?}: {:?}", out.status);
    }
    let script = format!(
        "'{BIN}' policy show netmind | head -c 1 >/dev/null; '{BIN}' policy show netmind 2>&1 >/dev/null | head -c 1"
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("panicked"), "{all}");
}
