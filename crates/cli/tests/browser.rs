//! The explorer in a real browser: headless Chromium (Debian's `chromium`, which
//! `scripts/test.sh` installs) loads a live `gridmint node --dev`'s pages. What it checks: the
//! page the browser built shows what the API answers; the browser logged nothing on its console
//! (the pages have no script, so any console line is a Content-Security-Policy violation or a
//! failed load); hostile input reaches the rendered page only as text.
//!
//! This test fails, never skips, without Chromium: set `GRIDMINT_CHROMIUM` to its path or run
//! `bash scripts/test.sh`, which installs it.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Command;

fn chromium() -> PathBuf {
    let path = std::env::var_os("GRIDMINT_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.exists(),
        "no Chromium at {} (set GRIDMINT_CHROMIUM, or run `bash scripts/test.sh`, which installs Debian's chromium)",
        path.display()
    );
    path
}

/// The DOM Chromium built for `url`, and its console lines.
fn render(url: &str) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed on {url}: {}", String::from_utf8_lossy(&out.stderr));
    let console =
        String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.contains(":CONSOLE")).map(String::from).collect();
    (String::from_utf8(out.stdout).unwrap(), console)
}

#[test]
fn the_explorer_renders_in_chromium_without_a_console_message() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(&dir.path().join("data"), &["--quiet"]);
    let base = node.client.base().to_string();
    let supply = node.get("/v1/supply").body;
    let dev = gridmint_node::signing::address_of(&node.dev_key()).to_hex();
    let account = node.get(&format!("/v1/accounts/{dev}")).body;
    let block = node.get("/v1/blocks/1").body;

    let (dom, console) = render(&format!("{base}/"));
    assert!(console.is_empty(), "console: {console:#?}");
    assert!(dom.contains("<h1>Network"), "{dom}");
    assert!(dom.contains(&format!("title=\"{} base units\"", supply["total_supply"].as_str().unwrap())));
    assert!(dom.contains(&gridmint_node::explorer::tokens(supply["circulating"].as_str().unwrap())));

    let (dom, console) = render(&format!("{base}/blocks/1"));
    assert!(console.is_empty(), "console: {console:#?}");
    assert!(dom.contains(block["hash"].as_str().unwrap()), "{dom}");

    let (dom, console) = render(&format!("{base}/accounts/{dev}"));
    assert!(console.is_empty(), "console: {console:#?}");
    assert!(dom.contains(&format!("title=\"{} base units\"", account["spendable"].as_str().unwrap())), "{dom}");

    // the search form's target with hostile input: an error page whose text holds the input,
    // never an element built from it
    let (dom, console) = render(&format!("{base}/search?q=%3Cimg%20src%3Dx%3E"));
    assert!(console.is_empty(), "console: {console:#?}");
    assert!(dom.contains("&lt;img src=x&gt;"), "{dom}");
    assert!(!dom.contains("<img"), "{dom}");
}
