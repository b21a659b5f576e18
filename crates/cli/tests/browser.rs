//! The explorer in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`,
//! which `scripts/test.sh` installs) driven over WebDriver ([`webdriver::Browser`]) against a
//! live `gridmint node --dev` that has seen transfers, machines with heartbeats, a closed epoch,
//! a claim and a governance proposal. What it checks, with one node and one browser session:
//! - every page in [`pages`] loads with no console error (JS exceptions, failed loads and
//!   Content-Security-Policy violations are all console errors), shows the numbers the API
//!   answers, and a screenshot of it at a desktop and a phone width is not blank;
//! - the search box, typed into and submitted, finds an address (both forms) and a block; hostile
//!   input comes back as text;
//! - "verify in my browser" on the explain page passes on the real proof and fails when one byte
//!   of the proof (the amount, the address, a sibling) or of the root is changed.
//!
//! A second test runs the page's JavaScript BLAKE3 in the browser against the `blake3` crate on
//! every input length from 0 to 1,024 bytes, keyed too, and on the proof's exact messages.
//!
//! These tests fail, never skip, without the browser: run `bash scripts/test.sh`, which installs
//! it, or set `GRIDMINT_CHROMIUM` and `GRIDMINT_CHROMEDRIVER`. Screenshots are kept under the
//! test target's tmp directory, `explorer-screenshots/`.
#![allow(clippy::disallowed_methods)]

mod common;
#[path = "common/webdriver.rs"]
mod webdriver;

use common::*;
use gridmint_core::{ProposalAction, RewardProof, TxBody};
use gridmint_node::explorer::tokens;
use gridmint_node::signing::{address_of, key_from_label};
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::Duration;
use webdriver::Browser;

/// One browser at a time: the machine's cores go to the node and one Chromium.
static SERIAL: Mutex<()> = Mutex::new(());

/// What a page must show.
enum Check {
    /// The text of the first element matching the selector contains this.
    Text(&'static str, String),
    /// An element matches this selector (e.g. an amount's exact base units in its title).
    Exists(String),
    /// The first element matching the selector has this attribute value.
    Attr(&'static str, &'static str, String),
}

/// Checks `page` on what the browser shows now; the failures, described.
fn run_checks(browser: &Browser, page: &str, checks: &[Check]) {
    for check in checks {
        match check {
            Check::Text(css, expected) => {
                let text = browser.text(css);
                assert!(text.contains(expected.as_str()), "{page}: `{css}` shows {text:?}, not {expected:?}");
            }
            Check::Exists(css) => assert!(browser.count(css) > 0, "{page}: nothing matches `{css}`"),
            Check::Attr(css, name, expected) => {
                let value = browser.attr(css, name);
                assert_eq!(value.as_deref(), Some(expected.as_str()), "{page}: `{css}` {name}");
            }
        }
    }
}

fn base_units(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("{v} is not an amount")).to_string()
}

/// Everything the scenario produced that the pages are checked against.
struct World {
    node: NodeProc,
    owner: String,
    owner_bech32m: String,
    bystander: String,
    /// The owner's machine (hex).
    machine: String,
    epoch: u64,
    transfer: Value,
    claim: Value,
    proposal: Value,
}

/// A dev node with 4-second epochs: transfers, two machines (two owners, so the rewards tree has
/// two leaves and the proof a sibling) sending heartbeats through a closed epoch, a claim and a
/// proposal. An archive node: with 4-second epochs a pruned node would drop the early blocks
/// while the browser is still reading them (on a slow machine), and the test would depend on time.
fn world(data: &std::path::Path) -> World {
    let node = start(data, &["--quiet", "--archive", "--block-ms", "50", "--epoch-seconds", "4", "--rate-limit", "0"]);
    let owner = key_from_label("browser-owner");
    let other = key_from_label("browser-other-owner");
    let bystander = key_from_label("browser-bystander");
    let gpus = [key_from_label("browser-gpu-0"), key_from_label("browser-gpu-1")];
    node.fund(&[owner.clone(), other.clone()], 10u128.pow(18));
    // a transfer of its own, to find its id in the block and the search
    let dev = node.dev_key();
    let transfer = node.sign(
        &dev,
        node.next_nonce(&address_of(&dev)),
        TxBody::Transfer { to: address_of(&bystander), amount: 123_456_789 },
    );
    let transfer = node.post("/v1/tx?wait=true", &json!(transfer)).body;
    assert_eq!(transfer["code"], 0, "{transfer}");
    for (key, gpu) in [(&owner, &gpus[0]), (&other, &gpus[1])] {
        let register = node.sign(
            key,
            0,
            TxBody::RegisterMachine { machine: address_of(gpu), gpu_class: 1, bandwidth_mbps: 1000, bond: 0 },
        );
        assert_eq!(node.post("/v1/tx?wait=true", &json!(register)).body["code"], 0);
    }
    let status = node.get("/v1/status").body;
    let (genesis, slot_seconds) = (status["genesis_time"].as_u64().unwrap(), status["slot_seconds"].as_u64().unwrap());
    // heartbeats in the slot of the last block's time, until both machines have one in an epoch
    let mut attempts = 0;
    let epoch = loop {
        attempts += 1;
        assert!(attempts < 200, "no heartbeats were accepted in 200 attempts");
        let s = node.get("/v1/status").body;
        let slot = (s["time"].as_u64().unwrap() - genesis) / slot_seconds;
        let beats: Vec<_> = gpus.iter().map(|gpu| node.sign(gpu, 0, TxBody::Heartbeat { slot })).collect();
        let answer = node.post("/v1/heartbeats?wait=true", &json!(beats));
        let results = answer.body["results"].as_array().cloned().unwrap_or_default();
        if results.len() == 2 && results.iter().all(|r| r["code"] == 0) {
            break s["epoch"].as_u64().unwrap();
        }
    };
    while node.get("/v1/status").body["epoch"].as_u64().unwrap() <= epoch {
        std::thread::sleep(Duration::from_millis(100));
    }
    let claim = node.sign(&owner, node.next_nonce(&address_of(&owner)), TxBody::Claim);
    let claim = node.post("/v1/tx?wait=true", &json!(claim)).body;
    assert_eq!(claim["status"], "committed", "{claim}");
    let propose = TxBody::Propose { action: ProposalAction::PolicyChange { changes: vec![("k0".into(), "1".into())] } };
    let proposal = node.sign(&dev, node.next_nonce(&address_of(&dev)), propose);
    let proposal = node.post("/v1/tx?wait=true", &json!(proposal)).body;
    assert_eq!(proposal["status"], "committed", "{proposal}");
    World {
        owner: address_of(&owner).to_hex(),
        owner_bech32m: address_of(&owner).to_bech32m(),
        bystander: address_of(&bystander).to_hex(),
        machine: address_of(&gpus[0]).to_hex(),
        node,
        epoch,
        transfer,
        claim,
        proposal,
    }
}

/// Every page of the explorer on this branch with what it must show, from the API's answers. A
/// new page is one more entry.
fn pages(w: &World) -> Vec<(String, Vec<Check>)> {
    let node = &w.node;
    let supply = node.get("/v1/supply").body;
    let account = node.get(&format!("/v1/accounts/{}", w.owner)).body;
    let explain = node.get(&format!("/v1/epochs/{}/explain/{}", w.epoch, w.owner)).body;
    let proof = node.get(&format!("/v1/epochs/{}/proof/{}", w.epoch, w.owner)).body;
    let summary = node.get(&format!("/v1/epochs/{}", w.epoch)).body;
    let block = |height: &Value| node.get(&format!("/v1/blocks/{height}")).body;
    let (transfer_block, claim_block, proposal_block) =
        (block(&w.transfer["height"]), block(&w.claim["height"]), block(&w.proposal["height"]));
    let machine = &explain["machines"][0];
    let machine_view = node.get(&format!("/v1/machines/{}", w.machine)).body;
    let validators = node.get("/v1/validators").body;
    let bridge = node.get("/v1/bridge").body;
    let connection = &explain["connection_reward"];
    // the block page shows a transaction's id cut to its first 8 and last 6 digits
    let id_shown = |receipt: &Value| Check::Text("main", base_units(&receipt["id"])[..8].to_string());
    let amount_shown = |v: &Value| Check::Exists(format!("[title=\"{} base units\"]", base_units(v)));
    vec![
        (
            "/".into(),
            vec![
                Check::Text("h1", "Network".into()),
                amount_shown(&supply["total_supply"]),
                Check::Text("main", tokens(&base_units(&supply["circulating"]))),
            ],
        ),
        (
            format!("/blocks/{}", w.transfer["height"]),
            vec![Check::Text("main", base_units(&transfer_block["hash"])), id_shown(&w.transfer)],
        ),
        (
            format!("/blocks/{}", w.claim["height"]),
            vec![Check::Text("main", base_units(&claim_block["hash"])), id_shown(&w.claim)],
        ),
        (
            format!("/blocks/{}", w.proposal["height"]),
            vec![Check::Text("main", base_units(&proposal_block["hash"])), id_shown(&w.proposal)],
        ),
        (
            format!("/accounts/{}", w.owner),
            vec![
                amount_shown(&account["spendable"]),
                amount_shown(&account["rewards_total"]),
                Check::Text("main", w.owner_bech32m.clone()),
                // its transactions, from the account index: the claim it signed
                Check::Exists(format!("table.txs a[href=\"/tx/{}\"]", base_units(&w.claim["id"]))),
            ],
        ),
        (
            // an account only named by a transaction: the transfer to it, with its amount
            format!("/accounts/{}", w.bystander),
            vec![
                Check::Exists(format!("table.txs a[href=\"/tx/{}\"]", base_units(&w.transfer["id"]))),
                Check::Exists("[title=\"123456789 base units\"]".into()),
                Check::Text("table.txs", "named in it".into()),
            ],
        ),
        (
            format!("/accounts/{}/epochs/{}", w.owner, w.epoch),
            vec![
                Check::Text("h1", format!("Rewards in epoch {}", w.epoch)),
                Check::Exists(format!("[data-value=\"{}\"]", base_units(&explain["earned"]))),
                amount_shown(&explain["earned"]),
                amount_shown(&explain["rewards_total_after"]),
                amount_shown(&explain["earned_by_machines"]),
                amount_shown(&connection["program"]["budget"]),
                amount_shown(&connection["program"]["dust"]),
                Check::Exists(format!("[data-value=\"{}\"]", base_units(&connection["qualifying_weight"]))),
                Check::Exists(format!("[data-value=\"{}\"]", connection["min_online_slots"])),
                Check::Attr("tr[data-machine] td:nth-child(4)", "data-value", machine["online_slots"].to_string()),
                Check::Attr("tr[data-machine] td:nth-child(6)", "data-value", machine["weight"].to_string()),
                Check::Text("tr[data-machine] td:nth-child(5)", "yes".into()),
                Check::Text("ul.words", format!("has weight {}", machine["weight"])),
                Check::Attr("#root", "data-node-root", base_units(&summary["rewards_root"])),
                Check::Attr("#root", "value", base_units(&proof["rewards_root"])),
                Check::Text("#verify-result", "Not checked yet".into()),
            ],
        ),
        (
            format!("/epochs/{}", w.epoch),
            vec![
                Check::Text("h1", format!("Epoch {}", w.epoch)),
                Check::Text("main", base_units(&summary["rewards_root"])),
                Check::Text("main", base_units(&summary["state_root"])),
                amount_shown(&summary["minted"]),
            ],
        ),
        (
            format!("/tx/{}", base_units(&w.transfer["id"])),
            vec![
                Check::Text("h1", "Transaction".into()),
                Check::Text("main", base_units(&w.transfer["id"])),
                Check::Exists(format!("a[href=\"/blocks/{}\"]", w.transfer["height"])),
            ],
        ),
        (
            format!("/machines/{}", w.machine),
            vec![
                Check::Text("h1", "Machine".into()),
                Check::Exists(format!("a[href=\"/accounts/{}\"]", w.owner)),
                Check::Text("main", format!("{} Mbit/s", machine_view["machine"]["bandwidth_mbps"])),
            ],
        ),
        (
            "/validators".into(),
            vec![Check::Text("h1", format!("Validators {}", validators["validators"].as_array().map_or(0, Vec::len)))],
        ),
        (
            "/governance".into(),
            vec![Check::Text("h1", "Governance".into()), Check::Text("main", "Newest first".into())],
        ),
        (
            "/bridge".into(),
            vec![
                Check::Text("h1", "Bridge".into()),
                amount_shown(&bridge["escrow"]),
                Check::Text("main", format!("threshold {}", bridge["threshold"])),
            ],
        ),
        (
            // an account that earned nothing: the breakdown without a proof
            format!("/accounts/{}/epochs/{}", w.bystander, w.epoch),
            vec![Check::Text("#no-proof", "No proof".into()), Check::Text("#machines", "(0)".into())],
        ),
    ]
}

/// The verdict the page shows after "Verify in my browser": (pass or fail, its text).
fn verify_in_page(browser: &Browser) -> (String, String) {
    browser.execute("document.getElementById('verify-result').removeAttribute('data-result')", vec![]);
    browser.click("#verify");
    browser.wait_until("the verdict", |b| b.attr("#verify-result", "data-result").is_some());
    (browser.attr("#verify-result", "data-result").unwrap(), browser.text("#verify-result"))
}

/// `text` with the character at byte `at` replaced by another hex digit (or digit).
fn change_one(text: &str, at: usize) -> String {
    let old = text.as_bytes()[at];
    let new = if old == b'0' { b'1' } else { b'0' };
    let mut bytes = text.as_bytes().to_vec();
    bytes[at] = new;
    String::from_utf8(bytes).unwrap()
}

#[test]
fn the_explorer_in_chromium() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let w = world(&dir.path().join("data"));
    let base = w.node.client.base().to_string();
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("explorer-screenshots");
    let mut browser = Browser::start(1280, 900);

    for (i, (path, checks)) in pages(&w).iter().enumerate() {
        browser.goto(&format!("{base}{path}"));
        let errors = browser.console_errors();
        assert!(errors.is_empty(), "{path}: console errors {errors:#?}");
        run_checks(&browser, path, checks);
        let stats = webdriver::non_blank(&browser.screenshot_to(&shots, &format!("page-{i}-1280"))).unwrap();
        browser.set_window_size(390, 844);
        browser.screenshot_to(&shots, &format!("page-{i}-390"));
        browser.set_window_size(1280, 900);
        let errors = browser.console_errors();
        assert!(errors.is_empty(), "{path}: console errors {errors:#?}");
        println!("{path}: {} checks, screenshot {stats:?}", checks.len());
    }

    // the search box: typed into and submitted, it lands on the page
    let searches = [
        (w.owner_bech32m.clone(), format!("/accounts/{}", w.owner)),
        (w.owner.clone(), format!("/accounts/{}", w.owner)),
        (w.transfer["height"].to_string(), format!("/blocks/{}", w.transfer["height"])),
        (base_units(&w.transfer["id"]), format!("/tx/{}", base_units(&w.transfer["id"]))),
        (format!("epoch {}", w.epoch), format!("/epochs/{}", w.epoch)),
        (format!("e{}", w.epoch), format!("/epochs/{}", w.epoch)),
        (w.machine.clone(), format!("/machines/{}", w.machine)),
    ];
    for (query, target) in &searches {
        browser.goto(&format!("{base}/"));
        browser.type_into("#q", query);
        browser.click("header form button");
        let want = format!("{base}{target}");
        browser.wait_until(&format!("search {query} → {target}"), |b| b.url() == want);
        let errors = browser.console_errors();
        assert!(errors.is_empty(), "search {query}: console errors {errors:#?}");
    }
    // hostile input: shown as text, no element built from it, no script run
    let hostile = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>";
    browser.goto(&format!("{base}/"));
    browser.type_into("#q", hostile);
    browser.click("header form button");
    browser.wait_until("the search's answer", |b| b.url().contains("/search?"));
    assert!(browser.text("main").contains(hostile), "{}", browser.text("main"));
    assert_eq!(browser.count("main img") + browser.count("main script"), 0);
    assert_ne!(browser.execute("return document.title", vec![]), json!("pwned"));
    // the answer is a 400 page: its own load is the one console line allowed
    let errors: Vec<_> = browser
        .console_errors()
        .into_iter()
        .filter(|e| {
            let message = e["message"].as_str().unwrap_or_default();
            !(e["source"] == "network" && message.contains("/search?") && message.contains("status of 400"))
        })
        .collect();
    assert!(errors.is_empty(), "hostile search: console errors {errors:#?}");

    // verify in my browser: the real proof passes
    let page = format!("{base}/accounts/{}/epochs/{}", w.owner, w.epoch);
    browser.goto(&page);
    let root = browser.attr("#root", "data-node-root").unwrap();
    let (verdict, text) = verify_in_page(&browser);
    assert_eq!(verdict, "pass", "{text}");
    assert!(text.contains(&root), "{text}");
    browser.execute("document.getElementById('verify-result').scrollIntoView()", vec![]);
    browser.screenshot_to(&shots, "verify-pass");
    let original: String =
        serde_json::from_value(browser.execute("return document.getElementById('proof').value", vec![])).unwrap();
    let proof: RewardProof = serde_json::from_str(&original).unwrap();
    assert!(!proof.siblings.is_empty(), "two leaves: the proof has a sibling");
    // one byte changed in the amount, the address, a sibling; and in the root
    let total = proof.rewards_total.to_string();
    let places = [
        ("the amount", original.find(&format!("\"{total}\"")).unwrap() + total.len()),
        ("the address", original.find(&proof.address.to_hex()).unwrap() + 10),
        ("a sibling", original.find(&hex::encode(proof.siblings[0])).unwrap() + 63),
    ];
    for (what, at) in places {
        let tampered = change_one(&original, at);
        assert_ne!(tampered, original);
        browser.execute("document.getElementById('proof').value = arguments[0]", vec![json!(tampered)]);
        let (verdict, text) = verify_in_page(&browser);
        assert_eq!(verdict, "fail", "{what} changed: {text}");
        assert!(text.contains("FAIL") && text.contains(&root), "{what}: {text}");
    }
    // the user types the original back: it passes again; then a changed root fails
    browser.execute("document.getElementById('proof').value = arguments[0]", vec![json!(original)]);
    assert_eq!(verify_in_page(&browser).0, "pass");
    browser.type_into("#root", &change_one(&root, 5));
    let (verdict, text) = verify_in_page(&browser);
    assert_eq!(verdict, "fail", "{text}");
    // not JSON at all: a failure that says why, no exception
    browser.type_into("#root", &root);
    browser.execute("document.getElementById('proof').value = arguments[0]", vec![json!("{\"address\": 1")]);
    let (verdict, text) = verify_in_page(&browser);
    assert_eq!(verdict, "fail");
    assert!(text.contains("not valid JSON"), "{text}");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "verify: console errors {errors:#?}");
    println!("verify in the browser: pass on the real proof, fail on 3 one-byte changes, a changed root and bad JSON");
}

/// The page's BLAKE3 (`assets/blake3.js`) equals the `blake3` crate: every length from 0 to 1,024
/// bytes (block boundaries 63/64/65, 128, …, the chunk's end), keyed with two keys, and the
/// reward proof's two messages (a 68-byte leaf and a 65-byte node). Longer input is refused.
#[test]
fn the_pages_blake3_equals_the_blake3_crate() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng(seed("the_pages_blake3_equals_the_blake3_crate") | 1);
    let mut inputs: Vec<Vec<u8>> = (0..=1024usize).map(|n| (0..n).map(|_| rng.next() as u8).collect()).collect();
    // the proof's messages: a leaf (tag ‖ address ‖ u128 LE) and a node (0x01 ‖ left ‖ right)
    let mut leaf = b"gridmint/reward-leaf".to_vec();
    leaf.extend_from_slice(&[7u8; 32]);
    leaf.extend_from_slice(&123_456_789_000_000_000_000u128.to_le_bytes());
    let mut node = vec![1u8];
    node.extend_from_slice(blake3::hash(b"left").as_bytes());
    node.extend_from_slice(blake3::hash(b"right").as_bytes());
    inputs.push(leaf.clone());
    inputs.push(node);
    let browser = Browser::start(800, 600);
    browser.goto("about:blank");
    browser.execute(gridmint_node::explain_page::BLAKE3_JS, vec![]);
    let hex_inputs: Vec<String> = inputs.iter().map(hex::encode).collect();
    let hashes = browser.execute(
        "const h = (t) => Uint8Array.from(t.match(/../g) || [], (b) => parseInt(b, 16));
         return arguments[0].map((t) => gridmintBlake3.toHex(gridmintBlake3.hash(h(t))));",
        vec![json!(hex_inputs)],
    );
    let hashes = hashes.as_array().unwrap();
    assert_eq!(hashes.len(), inputs.len());
    for (input, got) in inputs.iter().zip(hashes) {
        assert_eq!(got.as_str().unwrap(), blake3::hash(input).to_hex().as_str(), "{} bytes", input.len());
    }
    for key in [[0u8; 32], *blake3::hash(b"a key").as_bytes()] {
        let sample: Vec<&Vec<u8>> = inputs.iter().step_by(61).chain([&inputs[64], &inputs[1024]]).collect();
        let keyed = browser.execute(
            "const h = (t) => Uint8Array.from(t.match(/../g) || [], (b) => parseInt(b, 16));
             return arguments[1].map((t) => gridmintBlake3.toHex(gridmintBlake3.keyedHash(h(arguments[0]), h(t))));",
            vec![json!(hex::encode(key)), json!(sample.iter().map(hex::encode).collect::<Vec<_>>())],
        );
        for (input, got) in sample.iter().zip(keyed.as_array().unwrap()) {
            assert_eq!(
                got.as_str().unwrap(),
                blake3::keyed_hash(&key, input).to_hex().as_str(),
                "keyed, {} bytes",
                input.len()
            );
        }
    }
    let refused = browser.execute(
        "try { gridmintBlake3.hash(new Uint8Array(1025)); return 'hashed'; } catch (e) { return e.name; }",
        vec![],
    );
    assert_eq!(refused, json!("RangeError"), "one chunk only: 1,025 bytes are refused, not hashed wrong");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors {errors:#?}");
    println!("{} inputs hashed alike in Chromium and the blake3 crate", inputs.len());
}
