//! Addresses at the edges (issue 11, item 6: typos that lose money): the CLI prints checksummed
//! `gm1…` addresses and accepts them or 64 hex digits; a mistyped address, a system account name
//! or a small-order key is refused before anything is signed; a transaction's JSON takes user
//! addresses only, at the node's API too.

mod common;

use common::{BIN, amount, start};
use gridmint_core::{Address, Tx, TxBody};
use gridmint_node::signing::{SignedTx, address_of, key_from_label, load_key};
use serde_json::{Value, json};
use std::path::Path;

/// Runs the CLI against `node` (an unreachable one when `None`: a refusal must come before any
/// request). Returns (exit code, stdout, stderr).
fn gridmint(node: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(BIN)
        .args(args)
        .env("GRIDMINT_NODE", node.unwrap_or("http://127.0.0.1:9"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn new_key(path: &Path) -> String {
    let (code, out, err) = gridmint(None, &["keys", "new", "--out", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    out.trim().to_string()
}

/// `text` with the character at `position` replaced by another of the bech32 alphabet.
fn typo(text: &str, position: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes[position] = if bytes[position] == b'q' { b'p' } else { b'q' };
    String::from_utf8(bytes).unwrap()
}

/// Goal: `keys` prints the checksummed form, `--hex` the hex one, and `keys address` converts
/// and checks. Method: a new key, its address in every form, against the key file.
#[test]
fn keys_print_checksummed_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("k.json");
    let shown = new_key(&file);
    let address = address_of(&load_key(&file).unwrap());
    assert_eq!(shown, address.to_bech32m());
    assert!(shown.starts_with("gm1") && shown.len() == 61, "{shown}");
    let (code, out, _) = gridmint(None, &["keys", "show", file.to_str().unwrap()]);
    assert_eq!((code, out.trim()), (0, shown.as_str()));
    let (code, out, _) = gridmint(None, &["keys", "show", "--hex", file.to_str().unwrap()]);
    assert_eq!((code, out.trim()), (0, address.to_hex().as_str()));
    let hex_file = dir.path().join("h.json");
    let (code, out, _) = gridmint(None, &["keys", "new", "--hex", "--out", hex_file.to_str().unwrap()]);
    assert_eq!((code, out.trim()), (0, address_of(&load_key(&hex_file).unwrap()).to_hex().as_str()));

    let both = format!("bech32m: {}\nhex:     {}\n", address.to_bech32m(), address.to_hex());
    for form in [shown.clone(), shown.to_uppercase(), address.to_hex(), address.to_hex().to_uppercase()] {
        let (code, out, err) = gridmint(None, &["keys", "address", &form]);
        assert_eq!((code, out.as_str()), (0, both.as_str()), "{form}: {err}");
    }
    let treasury = Address::system("dao_treasury");
    let (code, out, _) = gridmint(None, &["keys", "address", "--system", "dao_treasury"]);
    assert_eq!(code, 0);
    assert!(out.contains(&treasury.to_bech32m()) && out.contains(&treasury.to_hex()), "{out}");
    for refused in [&["keys", "address", "dao_treasury"][..], &["keys", "address", "--system", "Dao-Treasury"]] {
        let (code, _, err) = gridmint(None, refused);
        assert_eq!(code, 2, "{refused:?}: {err}");
    }
    let (code, out, _) = gridmint(None, &["keys", "address", &"0".repeat(64)]);
    assert_eq!(code, 0);
    assert!(out.contains("weak"), "all zero is a small-order key: {out}");
}

/// Goal: a mistyped address, a system account name or a small-order key on the command line is
/// refused with a message naming the problem, before any key is used or any request sent.
/// Method: `tx transfer --to`, `account`, `epoch --explain` against an unreachable node (a
/// request would fail differently), one case per kind of mistake.
#[test]
fn mistyped_addresses_are_refused_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.json");
    let good = new_key(&key);
    let hex = Address::parse_user(&good).unwrap().to_hex();
    let mut mixed = good.clone().into_bytes();
    let letter = mixed.iter().rposition(u8::is_ascii_lowercase).unwrap();
    mixed[letter] = mixed[letter].to_ascii_uppercase();
    let mixed = String::from_utf8(mixed).unwrap();
    let other_network = Address::parse_user(&good).unwrap().to_bech32m_with("tgm").unwrap();
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let cases: Vec<(String, &str)> = vec![
        (hex[1..].to_string(), "63 hex digits"),
        (format!("{hex}0"), "65 hex digits"),
        (typo(&good, 3), "checksum"),
        (typo(&good, 30), "checksum"),
        (typo(&good, 60), "checksum"),
        (good[..60].to_string(), "characters after the prefix"),
        (mixed, "mixed upper and lower case"),
        (other_network, "prefix `tgm`"),
        ("dao_treasury".into(), "system account name"),
        (format!("0x{hex}"), "0x"),
        (format!(" {good}"), "position 1"),
    ];
    for (text, message) in &cases {
        for args in [
            vec!["tx", "--key", key.to_str().unwrap(), "transfer", "--to", text, "--amount", "1"],
            vec!["account", text],
            vec!["epoch", "1", "--explain", text],
        ] {
            let (code, out, err) = gridmint(None, &args);
            assert_eq!(code, 2, "{args:?} accepted: {out}");
            assert!(err.contains(message), "{args:?}: expected {message:?} in {err}");
        }
    }
    // a weak key is a valid address but loses whatever is sent to it
    for weak in ["0".repeat(64), hex::encode(identity), Address::ZERO.to_bech32m()] {
        let (code, _, err) =
            gridmint(None, &["tx", "--key", key.to_str().unwrap(), "transfer", "--to", &weak, "--amount", "1"]);
        assert_eq!(code, 2);
        assert!(err.contains("small-order"), "{err}");
        let (code, _, err) =
            gridmint(None, &["tx", "--key", key.to_str().unwrap(), "propose", "--spend-to", &weak, "--amount", "1"]);
        assert_eq!(code, 2);
        assert!(err.contains("small-order"), "{err}");
    }
    // a raw JSON body goes through the same Deserialize as the node's API
    let raw = json!({"kind": "transfer", "to": "dao_treasury", "amount": "1"}).to_string();
    let (code, _, err) = gridmint(None, &["tx", "--key", key.to_str().unwrap(), "raw", &raw]);
    assert_eq!(code, 2);
    assert!(err.contains("raw body") && err.contains("system account name"), "{err}");
}

/// Goal: the JSON of a transaction (what the API and blocks carry) takes a user address in
/// either form and nothing else. Method: a signed transfer's JSON with its `to` replaced.
#[test]
fn json_transactions_take_user_addresses_only() {
    let key = key_from_label("json-addresses");
    let to = address_of(&key_from_label("json-addresses-to"));
    let tx = Tx { signer: address_of(&key), nonce: 0, body: TxBody::Transfer { to, amount: 1 } };
    let signed = serde_json::to_value(SignedTx::sign(tx.clone(), &key, "chain")).unwrap();
    assert_eq!(signed["tx"]["body"]["to"], to.to_hex(), "serialized as hex, as before");
    let with_to = |text: &str| {
        let mut value = signed.clone();
        value["tx"]["body"]["to"] = Value::String(text.into());
        serde_json::from_value::<SignedTx>(value)
    };
    for accepted in [to.to_hex(), to.to_hex().to_uppercase(), to.to_bech32m(), to.to_bech32m().to_uppercase()] {
        let parsed = with_to(&accepted).unwrap_or_else(|e| panic!("{accepted}: {e}"));
        assert_eq!(parsed.tx, tx);
        assert!(parsed.verify("chain").is_ok(), "the signature covers the bytes, not the text form");
    }
    let good = to.to_bech32m();
    for refused in [
        "dao_treasury".to_string(),
        "team".into(),
        to.to_hex()[1..].into(),
        typo(&good, 20),
        good.replacen("gm1", "GM1", 1),
        String::new(),
    ] {
        assert!(with_to(&refused).is_err(), "{refused:?} accepted");
    }
    let mut signer_named = signed.clone();
    signer_named["tx"]["signer"] = Value::String("dao_treasury".into());
    assert!(serde_json::from_value::<SignedTx>(signer_named).is_err(), "a signer cannot be a name either");
}

/// Goal: end to end, a transfer to a `gm1…` address arrives, `account` shows both forms, and the
/// node's API refuses a transaction naming a system account (a 400, nothing applied) but takes
/// one whose JSON carries a `gm1…` address. Method: a dev node, the CLI and raw API calls.
#[test]
fn a_live_node_takes_checksummed_addresses_and_refuses_names() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(&dir.path().join("data"), &["--block-ms", "50", "--rate-limit", "0"]);
    let url = node.client.base().to_string();
    let bob = new_key(&dir.path().join("bob.json"));
    let dev_key = node.data.join("dev-key.json");
    let (code, out, err) = gridmint(
        Some(&url),
        &["tx", "--key", dev_key.to_str().unwrap(), "transfer", "--to", &bob, "--amount", "2", "--wait"],
    );
    assert_eq!(code, 0, "{out} {err}");
    let (code, out, err) = gridmint(Some(&url), &["account", &bob]);
    assert_eq!(code, 0, "{err}");
    let account: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(account["address_bech32m"], bob.as_str());
    assert_eq!(account["address"], Address::parse_user(&bob).unwrap().to_hex());
    assert_eq!(amount(&account["spendable"]), 2 * 10u128.pow(18));

    let dev = node.dev_key();
    let nonce = node.next_nonce(&address_of(&dev));
    let carol = address_of(&key_from_label("live-carol"));
    let signed = serde_json::to_value(node.sign(&dev, nonce, TxBody::Transfer { to: carol, amount: 5 })).unwrap();
    let mut named = signed.clone();
    named["tx"]["body"]["to"] = json!("dao_treasury");
    let answer = node.post("/v1/tx?wait=true", &named);
    assert_eq!((answer.status, answer.error_code()), (400, Some("invalid_transaction")), "{:?}", answer.body);
    assert_eq!(node.next_nonce(&address_of(&dev)), nonce, "nothing applied");
    let mut checksummed = signed;
    checksummed["tx"]["body"]["to"] = json!(carol.to_bech32m());
    let answer = node.post("/v1/tx?wait=true", &checksummed);
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let carol_view = node.account(&carol);
    assert_eq!(amount(&carol_view["spendable"]), 5);
    // the API prints both forms wherever it prints an address
    assert_eq!(carol_view["address_bech32m"], carol.to_bech32m().as_str());
    let block = node.get("/v1/blocks/latest").body;
    let producer = Address::parse_user(block["producer"].as_str().unwrap()).unwrap();
    assert_eq!(block["producer_bech32m"], producer.to_bech32m().as_str());
    let by_bech32m = node.get(&format!("/v1/accounts/{}", carol.to_bech32m())).body;
    assert_eq!(by_bech32m["address"], carol.to_hex().as_str());
    let validators = node.get("/v1/validators").body;
    for v in validators["validators"].as_array().unwrap() {
        for key in ["address", "operator"] {
            let hex = Address::parse_user(v[key].as_str().unwrap()).unwrap();
            assert_eq!(v[format!("{key}_bech32m")], hex.to_bech32m().as_str(), "{v}");
        }
    }
}

/// Goal: an allocation file (where system accounts are meant) takes names and both address
/// forms, and refuses a mistyped address and a small-order key instead of minting to them.
/// Method: `gridmint init` with one allocation file per case.
#[test]
fn allocation_files_take_names_and_refuse_typos_and_weak_keys() {
    let dir = tempfile::tempdir().unwrap();
    let alice = address_of(&key_from_label("alloc-alice"));
    let cases: Vec<(String, Option<&str>)> = vec![
        (format!("account = \"{}\"", alice.to_bech32m()), None),
        (format!("account = \"{}\"", alice.to_hex()), None),
        ("account = \"early_backers\"".into(), None),
        (format!("account = \"{}\"", &alice.to_hex()[1..]), Some("63 hex digits")),
        (format!("account = \"{}\"", typo(&alice.to_bech32m(), 10)), Some("checksum")),
        ("account = \"Early Backers\"".into(), Some("cannot appear in an address")),
        (format!("account = \"{}\"", "0".repeat(64)), Some("small-order")),
    ];
    for (i, (account, error)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("alloc{i}.toml"));
        std::fs::write(&file, format!("[[allocations]]\n{account}\namount = \"1000\"\n")).unwrap();
        let data = dir.path().join(format!("data{i}"));
        let (code, out, err) = gridmint(
            None,
            &[
                "init",
                "--policy",
                "netmind",
                "--raise-cap",
                "--allocations",
                file.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
            ],
        );
        match error {
            None => assert_eq!(code, 0, "{account}: {out} {err}"),
            Some(message) => {
                assert_eq!(code, 2, "{account} accepted: {out}");
                assert!(err.contains(message), "{account}: expected {message:?} in {err}");
            }
        }
    }
}
