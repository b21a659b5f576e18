//! A real headless Chromium for the tests, driven over WebDriver: Debian's `chromedriver`
//! (started here, on a free loopback port, killed on drop) and `chromium`, through fantoccini.
//!
//! [`Browser`] is synchronous: it owns a small tokio runtime and blocks on each command, so a
//! test reads like the blocking node tests beside it. What it offers: navigate, read an
//! element's text or attribute, run a script, type into a field and click, take a screenshot
//! (and [`non_blank`] checks one), and the console's errors: chromedriver keeps the browser's
//! log with `goog:loggingPrefs` and hands it out (and clears it) at `POST /session/{id}/se/log`
//! (checked on chromedriver 148: JS exceptions, `console.error`, failed loads and
//! Content-Security-Policy violations all arrive there as `SEVERE`).
//!
//! Without the browser or the driver this **fails** (never skips), saying to run
//! `bash scripts/test.sh`, which installs Debian's `chromium` and `chromium-driver`. The paths
//! can be overridden with `GRIDMINT_CHROMIUM` and `GRIDMINT_CHROMEDRIVER`.
#![allow(dead_code, clippy::disallowed_methods)]

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the driver gets to start, and a page element to appear.
const PATIENCE: Duration = Duration::from_secs(30);

fn binary(var: &str, default: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "no {package} at {} (set {var}, or run `bash scripts/test.sh`, which installs Debian's chromium and chromium-driver)",
        path.display()
    );
    path
}

/// One chromedriver and one browser session.
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    /// chromedriver's own HTTP endpoint, for the log command fantoccini has no method for.
    driver_api: gridmint_node::client::Client,
    session: String,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width`×`height` CSS pixels.
    pub fn start(width: u32, height: u32) -> Browser {
        Browser::start_with(width, height, &[])
    }

    /// As [`Browser::start`], with more Chromium arguments (e.g. networking cut off).
    pub fn start_with(width: u32, height: u32, extra_args: &[&str]) -> Browser {
        let chromium = binary("GRIDMINT_CHROMIUM", "/usr/bin/chromium", "Chromium");
        let chromedriver = binary("GRIDMINT_CHROMEDRIVER", "/usr/bin/chromedriver", "chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        // a port taken between choosing and binding it: try another
        for attempt in 0..3 {
            let port = crate::common::free_port();
            let log = std::fs::File::create(profile.path().join(format!("chromedriver-{attempt}.log"))).unwrap();
            let mut driver = Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::from(log.try_clone().unwrap()))
                .stderr(Stdio::from(log))
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start {}: {e} (run `bash scripts/test.sh`)", chromedriver.display())
                });
            let base = format!("http://127.0.0.1:{port}");
            let driver_api = gridmint_node::client::Client::with_timeout(&base, Duration::from_secs(60));
            let started = Instant::now();
            let ready = loop {
                if let Ok(answer) = driver_api.get("/status")
                    && answer.body["value"]["ready"] == true
                {
                    break true;
                }
                if started.elapsed() > PATIENCE || driver.try_wait().ok().flatten().is_some() {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            if !ready {
                let _ = driver.kill();
                let _ = driver.wait();
                continue;
            }
            let capabilities = json!({
                "browserName": "chrome",
                "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-dev-shm-usage",
                        "--no-first-run",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        "--hide-scrollbars",
                        format!("--window-size={width},{height}"),
                        format!("--user-data-dir={}", profile.path().join("profile").display()),
                    ],
                },
            });
            let Value::Object(mut capabilities) = capabilities else { unreachable!() };
            if let Some(args) = capabilities["goog:chromeOptions"]["args"].as_array_mut() {
                args.extend(extra_args.iter().map(|a| Value::from(*a)));
            }
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let client = runtime
                .block_on(ClientBuilder::new(connector).capabilities(capabilities).connect(&base))
                .unwrap_or_else(|e| panic!("no browser session from chromedriver: {e}"));
            let session = runtime.block_on(client.session_id()).unwrap().expect("a session id");
            let mut browser = Browser { runtime, client: Some(client), driver, driver_api, session, profile };
            browser.set_window_size(width, height);
            return browser;
        }
        panic!("chromedriver did not start in 3 attempts (run `bash scripts/test.sh`)");
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("an open session")
    }

    /// Sets the window's size (the viewport a page is laid out for).
    pub fn set_window_size(&mut self, width: u32, height: u32) {
        self.runtime.block_on(self.client().set_window_size(width, height)).unwrap();
    }

    /// Loads `url` and waits for its load event.
    pub fn goto(&self, url: &str) {
        self.runtime.block_on(self.client().goto(url)).unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// The URL shown now.
    pub fn url(&self) -> String {
        self.runtime.block_on(self.client().current_url()).unwrap().to_string()
    }

    /// The rendered text of the first element matching `css`.
    pub fn text(&self, css: &str) -> String {
        self.runtime
            .block_on(async { self.client().find(Locator::Css(css)).await?.text().await })
            .unwrap_or_else(|e| panic!("text of `{css}` on {}: {e}", self.url()))
    }

    /// The rendered text of every element matching `css`.
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.runtime.block_on(async {
            let mut out = Vec::new();
            for e in self.client().find_all(Locator::Css(css)).await.unwrap() {
                out.push(e.text().await.unwrap());
            }
            out
        })
    }

    /// How many elements match `css`.
    pub fn count(&self, css: &str) -> usize {
        self.runtime.block_on(self.client().find_all(Locator::Css(css))).unwrap().len()
    }

    /// An attribute of the first element matching `css`.
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.runtime
            .block_on(async { self.client().find(Locator::Css(css)).await?.attr(name).await })
            .unwrap_or_else(|e| panic!("attribute {name} of `{css}` on {}: {e}", self.url()))
    }

    /// Runs `script` (a function body: `arguments[i]` are `args`) and returns what it returns.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.runtime.block_on(self.client().execute(script, args)).unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// Clears the field matching `css` and types `text` into it, as keystrokes.
    pub fn type_into(&self, css: &str, text: &str) {
        self.runtime
            .block_on(async {
                let field = self.client().find(Locator::Css(css)).await?;
                field.clear().await?;
                field.send_keys(text).await
            })
            .unwrap_or_else(|e| panic!("typing into `{css}`: {e}"));
    }

    /// Clicks the first element matching `css`.
    pub fn click(&self, css: &str) {
        self.runtime
            .block_on(async { self.client().find(Locator::Css(css)).await?.click().await })
            .unwrap_or_else(|e| panic!("clicking `{css}` on {}: {e}", self.url()));
    }

    /// Waits until `check` holds (a page's script or a navigation still running), or panics
    /// saying `what` after [`PATIENCE`].
    pub fn wait_until(&self, what: &str, mut check: impl FnMut(&Browser) -> bool) {
        let started = Instant::now();
        while !check(self) {
            assert!(started.elapsed() < PATIENCE, "waited {PATIENCE:?} for {what} on {}", self.url());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The browser's log since the last call (chromedriver clears it on reading): every entry.
    pub fn console(&self) -> Vec<Value> {
        let answer = self
            .driver_api
            .post(&format!("/session/{}/se/log", self.session), &json!({"type": "browser"}))
            .expect("chromedriver's log");
        assert_eq!(answer.status, 200, "chromedriver's log: {:?}", answer.body);
        answer.body["value"].as_array().cloned().unwrap_or_default()
    }

    /// Performs one W3C pointer action sequence (`steps`: the actions of a mouse, moves in
    /// viewport pixels), then releases everything it holds.
    pub fn pointer(&self, steps: Value) {
        let path = format!("/session/{}/actions", self.session);
        let actions = json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": steps}]});
        let answer = self.driver_api.post(&path, &actions).expect("chromedriver's actions");
        assert_eq!(answer.status, 200, "pointer actions: {:?}", answer.body);
        self.runtime.block_on(self.client().release_actions()).expect("releasing the pointer");
    }

    /// The log's errors since the last call (`SEVERE`: exceptions, failed loads, CSP violations,
    /// `console.error`).
    pub fn console_errors(&self) -> Vec<Value> {
        self.console().into_iter().filter(|e| e["level"] == "SEVERE").collect()
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        self.runtime.block_on(self.client().screenshot()).unwrap()
    }

    /// A screenshot, saved as `dir/name.png` (kept for a person to look at) and checked non-blank.
    pub fn screenshot_to(&self, dir: &Path, name: &str) -> Vec<u8> {
        let png = self.screenshot();
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
        if let Err(e) = non_blank(&png) {
            panic!("the screenshot of {} ({name}) is blank: {e}", self.url());
        }
        png
    }

    /// The profile directory (chromedriver's logs are there too).
    pub fn dir(&self) -> &Path {
        self.profile.path()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ =
                self.runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), client.close()).await });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// What a decoded screenshot holds: width, height, distinct colours (up to 1,000 counted) and
/// the share of pixels unlike the top-left one, in per mille.
#[derive(Debug)]
pub struct PixelStats {
    pub width: u32,
    pub height: u32,
    pub colours: usize,
    pub differing_per_mille: u64,
}

/// Decodes a PNG (8-bit RGB or RGBA, what Chromium writes) and measures it.
pub fn pixel_stats(png_bytes: &[u8]) -> Result<PixelStats, String> {
    let decoder = png::Decoder::new(png_bytes);
    let mut reader = decoder.read_info().map_err(|e| format!("not a PNG: {e}"))?;
    let mut buffer = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buffer).map_err(|e| format!("undecodable PNG: {e}"))?;
    let channels = match (frame.color_type, frame.bit_depth) {
        (png::ColorType::Rgba, png::BitDepth::Eight) => 4,
        (png::ColorType::Rgb, png::BitDepth::Eight) => 3,
        other => return Err(format!("unexpected PNG format {other:?}")),
    };
    let pixels: Vec<&[u8]> = buffer[..frame.buffer_size()].chunks_exact(channels).collect();
    let Some(first) = pixels.first() else { return Err("no pixels".into()) };
    let mut colours = std::collections::BTreeSet::new();
    let mut differing = 0u64;
    for p in &pixels {
        if p != first {
            differing += 1;
        }
        if colours.len() < 1_000 {
            colours.insert(p.to_vec());
        }
    }
    Ok(PixelStats {
        width: frame.width,
        height: frame.height,
        colours: colours.len(),
        differing_per_mille: differing * 1_000 / pixels.len() as u64,
    })
}

/// `Ok` when a screenshot shows something: at least 1% of its pixels unlike the top-left one,
/// and more than two colours (text is anti-aliased: a page with words has many).
pub fn non_blank(png_bytes: &[u8]) -> Result<PixelStats, String> {
    let stats = pixel_stats(png_bytes)?;
    if stats.differing_per_mille < 10 || stats.colours <= 2 {
        return Err(format!("{stats:?}"));
    }
    Ok(stats)
}
