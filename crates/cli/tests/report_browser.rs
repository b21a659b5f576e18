//! `report.html` in a real browser: `gridmint simulate` writes a forecast (one run, and one with
//! `--runs`), and headless Chromium, driven through WebDriver (Debian's `chromedriver`), opens the
//! report from disk (`file://`) with networking cut off (a proxy on a closed port, every host name
//! unresolvable). It checks: the browser logged no error (read from chromedriver's log, which the
//! test first proves it can read); the page made no request (`performance` has no resource
//! entry); every chart's canvas is drawn; moving the pointer onto an epoch shows, in the chart's
//! legend and readout, the values of that epoch's row of `epochs.csv`; dragging zooms on a range
//! of epochs and the Reset button shows them all again.
//!
//! The browser is the shared harness (`common/webdriver.rs`: chromedriver through fantoccini).
//!
//! This test fails, never skips, without Chromium and chromedriver: set `GRIDMINT_CHROMIUM` and
//! `GRIDMINT_CHROMEDRIVER`, or run `bash scripts/test.sh`, which installs them.
#![allow(clippy::disallowed_methods)] // Instant::now: deadlines while waiting for chromedriver

mod common;
#[path = "common/webdriver.rs"]
mod webdriver;

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use webdriver::Browser;

const BIN: &str = env!("CARGO_BIN_EXE_gridmint");

/// Networking off: every proxied request goes to a closed port, and no host name resolves.
const OFFLINE: &[&str] =
    &["--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "--host-resolver-rules=MAP * ~NOTFOUND"];

fn simulate(out: &Path, extra: &[&str]) {
    let output = Command::new(BIN)
        .args(["simulate", "--policy", "netmind", "--no-charts", "--out", out.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("report.html"), "simulate names report.html: {stdout}");
}

/// `epochs.csv` as (header, rows).
fn csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    (header, lines.map(|l| l.split(',').map(String::from).collect()).collect())
}

fn cell(csv: &(Vec<String>, Vec<Vec<String>>), epoch: u64, column: &str) -> String {
    let at = csv.0.iter().position(|c| c == column).unwrap_or_else(|| panic!("no column {column}"));
    let row = csv.1.iter().find(|r| r[0] == epoch.to_string()).unwrap_or_else(|| panic!("no epoch {epoch}"));
    row[at].clone()
}

/// An exact token string as the legend shows it (`1,234.5 NMT`) back to base units.
fn base_units(shown: &str) -> String {
    let number = shown.split_whitespace().next().unwrap_or_default().replace(',', "");
    let (whole, frac) = number.split_once('.').unwrap_or((&number, ""));
    assert!(frac.len() <= 18, "{shown}");
    let digits = format!("{whole}{frac:0<18}");
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() { "0".into() } else { trimmed.into() }
}

/// Opens `report` and checks what every report must: loaded with no error and no request, each
/// chart drawn. Returns the chart ids.
fn open_report(browser: &Browser, report: &Path) -> Vec<String> {
    browser.goto(&format!("file://{}", report.display()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let ids = loop {
        let state = browser.execute(
            "var plots = document.querySelectorAll('.plot'); var ready = document.querySelectorAll('.plot[data-ready]');\
             return {all: plots.length, ready: ready.length, ids: Array.prototype.map.call(plots, function (p) { return p.id; })};",
            vec![],
        );
        if state["all"].as_u64().unwrap_or(0) > 0 && state["all"] == state["ready"] {
            break state["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect::<Vec<_>>();
        }
        assert!(Instant::now() < deadline, "the charts were not built: {state}; log: {:?}", browser.console());
        std::thread::sleep(Duration::from_millis(100));
    };
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    let requests = browser
        .execute("return performance.getEntriesByType('resource').map(function (e) { return e.name; });", vec![]);
    assert_eq!(requests, json!([]), "the report made requests");
    // each chart's canvas has drawn pixels: lines in several colours, not one blank fill
    let drawn = browser.execute(
        "return Array.prototype.map.call(document.querySelectorAll('.plot canvas'), function (c) {\
           var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; var inked = 0; var colours = {};\
           for (var i = 0; i < d.length; i += 4) { if (d[i + 3] > 0) { inked++; colours[d[i] + ',' + d[i + 1] + ',' + d[i + 2]] = 1; } }\
           return {inked: inked, colours: Object.keys(colours).length, size: c.width * c.height}; });",
        vec![],
    );
    let drawn = drawn.as_array().unwrap();
    assert_eq!(drawn.len(), ids.len(), "one canvas per chart: {drawn:?}");
    for (id, canvas) in ids.iter().zip(drawn) {
        assert!(canvas["inked"].as_u64().unwrap() > 500, "{id} is blank: {canvas}");
        assert!(canvas["colours"].as_u64().unwrap() >= 3, "{id} has too few colours: {canvas}");
    }
    ids
}

/// Moves the pointer onto `epoch` of chart `id` (scrolled into view first); returns the legend
/// values (by series label) and the readout's attributes.
fn hover(browser: &Browser, id: &str, epoch: u64) -> (Vec<(String, String)>, Value) {
    let at = browser.execute(
        "var u = window.gmCharts[arguments[0]]; u.root.scrollIntoView({block: 'center'}); var r = u.over.getBoundingClientRect();\
         return [Math.round(r.left + u.valToPos(arguments[1], 'x')), Math.round(r.top + r.height / 2)];",
        vec![json!(id), json!(epoch)],
    );
    let (x, y) = (at[0].as_i64().unwrap(), at[1].as_i64().unwrap());
    browser.pointer(json!([
        {"type": "pointerMove", "duration": 0, "origin": "viewport", "x": x, "y": y},
        {"type": "pointerMove", "duration": 0, "origin": "viewport", "x": x + 1, "y": y},
        {"type": "pointerMove", "duration": 0, "origin": "viewport", "x": x, "y": y},
    ]));
    read_legend(browser, id)
}

/// The legend values (by series label) of chart `id` and its readout's attributes.
fn read_legend(browser: &Browser, id: &str) -> (Vec<(String, String)>, Value) {
    let shown = browser.execute(
        "var u = window.gmCharts[arguments[0]]; var rows = u.root.querySelectorAll('.u-legend .u-series');\
         var out = []; for (var i = 1; i < rows.length; i++) { out.push([rows[i].querySelector('.u-label').textContent, rows[i].querySelector('.u-value').textContent]); }\
         var ro = document.getElementById('readout-' + arguments[0]); var attrs = {};\
         for (var k = 0; k < ro.attributes.length; k++) { attrs[ro.attributes[k].name] = ro.attributes[k].value; }\
         return {legend: out, readout: attrs, idx: u.cursor.idx};",
        vec![json!(id)],
    );
    let legend = shown["legend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_str().unwrap().to_string()))
        .collect();
    (legend, shown["readout"].clone())
}

fn value<'a>(legend: &'a [(String, String)], label: &str) -> &'a str {
    &legend.iter().find(|(l, _)| l == label).unwrap_or_else(|| panic!("no series {label} in {legend:?}")).1
}

fn x_range(browser: &Browser, id: &str) -> (f64, f64) {
    let r = browser.execute("var s = window.gmCharts[arguments[0]].scales.x; return [s.min, s.max];", vec![json!(id)]);
    (r[0].as_f64().unwrap(), r[1].as_f64().unwrap())
}

/// Goal: a one-run forecast's report works offline in a real browser, and hovering shows the
/// exact values of `epochs.csv`. Method: 60 epochs of NetMind; the pointer on epoch 37 of the
/// supply chart and epoch 45 of the paid-per-day chart; a drag from epoch 10 to 20; Reset.
#[test]
fn report_renders_offline_and_hover_equals_epochs_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("single");
    simulate(&out, &["--epochs", "60", "--seed", "7"]);
    let table = csv(&out.join("epochs.csv"));
    let browser = Browser::start_with(1280, 1000, OFFLINE);

    // the log endpoint works: a page that logs an error shows up in it (so an empty log below
    // means no error, not a log that cannot be read)
    browser.goto("data:text/html,<p>x</p><script>console.error('gm-log-check')</script>");
    let seen = browser.console_errors();
    assert!(
        seen.iter().any(|e| e["message"].as_str().unwrap_or("").contains("gm-log-check")),
        "log not readable: {seen:?}"
    );

    let ids = open_report(&browser, &out.join("report.html"));
    assert_eq!(ids, ["plot-supply", "plot-daily", "plot-paid", "plot-released"]);

    // before any hover, the legend shows the last row
    let (legend, _) = read_legend(&browser, "supply");
    assert_eq!(base_units(value(&legend, "total supply")), cell(&table, 60, "total_supply"), "{legend:?}");
    assert_eq!(base_units(value(&legend, "circulating")), cell(&table, 60, "circulating"), "{legend:?}");

    let (legend, readout) = hover(&browser, "supply", 37);
    assert_eq!(readout["data-epoch"], json!("37"), "{readout}");
    for (label, column, k) in [
        ("total supply", "total_supply", 0),
        ("minted (total)", "minted_total", 1),
        ("circulating", "circulating", 2),
        ("burned (total)", "burned_total", 3),
    ] {
        let expected = cell(&table, 37, column);
        assert_eq!(base_units(value(&legend, label)), expected, "{label} at epoch 37: {legend:?}");
        assert!(value(&legend, label).ends_with(" NMT"), "{legend:?}");
        assert_eq!(readout[format!("data-value-{k}")], json!(expected), "{readout}");
    }
    let (legend, readout) = hover(&browser, "paid", 45);
    assert_eq!(readout["data-epoch"], json!("45"));
    assert_eq!(base_units(value(&legend, "paid connection_reward")), cell(&table, 45, "paid_connection_reward"));
    assert_eq!(base_units(value(&legend, "burned that day")), cell(&table, 45, "burned"));

    // drag from epoch 10 to epoch 20 zooms on about that range; Reset shows all 60 again
    let ends = browser.execute(
        "var u = window.gmCharts.supply; u.root.scrollIntoView({block: 'center'}); var r = u.over.getBoundingClientRect();\
         return [Math.round(r.left + u.valToPos(10, 'x')), Math.round(r.left + u.valToPos(20, 'x')), Math.round(r.top + r.height / 2)];",
        vec![],
    );
    let (a, b, y) = (ends[0].as_i64().unwrap(), ends[1].as_i64().unwrap(), ends[2].as_i64().unwrap());
    browser.pointer(json!([
        {"type": "pointerMove", "duration": 0, "origin": "viewport", "x": a, "y": y},
        {"type": "pointerDown", "button": 0},
        {"type": "pointerMove", "duration": 100, "origin": "viewport", "x": (a + b) / 2, "y": y},
        {"type": "pointerMove", "duration": 100, "origin": "viewport", "x": b, "y": y},
        {"type": "pointerUp", "button": 0},
    ]));
    let (min, max) = x_range(&browser, "supply");
    assert!((9.0..=11.0).contains(&min) && (19.0..=21.0).contains(&max), "zoomed to {min}..{max}");
    let button = browser.execute(
        "var b = document.querySelector('#fig-supply button.reset'); b.scrollIntoView({block: 'center'}); var r = b.getBoundingClientRect();\
         return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)];",
        vec![],
    );
    let (bx, by) = (button[0].as_i64().unwrap(), button[1].as_i64().unwrap());
    browser.pointer(json!([
        {"type": "pointerMove", "duration": 0, "origin": "viewport", "x": bx, "y": by},
        {"type": "pointerDown", "button": 0},
        {"type": "pointerUp", "button": 0},
    ]));
    assert_eq!(x_range(&browser, "supply"), (1.0, 60.0));
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors after interacting: {errors:?}");
}

/// Goal: a `--runs` forecast's report shows the bands and the comparison, and a band's hovered
/// median is the median of the runs' own `epochs.csv`. Method: 3 runs of 40 epochs; the pointer
/// on epoch 30 of the total-supply band chart.
#[test]
fn runs_report_shows_exact_bands() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mc");
    simulate(&out, &["--epochs", "40", "--seed", "3", "--runs", "3"]);
    let browser = Browser::start_with(1280, 1000, OFFLINE);
    let ids = open_report(&browser, &out.join("report.html"));
    for id in ["plot-supply", "plot-band_total_supply", "plot-band_circulating", "plot-band_burned"] {
        assert!(ids.iter().any(|i| i == id), "{id} missing: {ids:?}");
    }
    let mut values: Vec<u128> = (3..6)
        .map(|seed| {
            cell(&csv(&out.join(format!("seed-{seed}")).join("epochs.csv")), 30, "circulating").parse().unwrap()
        })
        .collect();
    values.sort_unstable();
    let (legend, readout) = hover(&browser, "band_circulating", 30);
    assert_eq!(readout["data-epoch"], json!("30"));
    assert_eq!(base_units(value(&legend, "median")), values[1].to_string(), "{legend:?}");
    assert_eq!(base_units(value(&legend, "p5")), values[0].to_string());
    assert_eq!(base_units(value(&legend, "p95")), values[2].to_string());
    // drawn as the distance from the median: the median is the zero line, p5 at or below it,
    // p95 at or above it
    let drawn = browser.execute(
        "var d = window.gmCharts['band_circulating'].data; return [d[1].every(function (v) { return v <= 0; }), \
         d[2].every(function (v) { return v === 0; }), d[3].every(function (v) { return v >= 0; })];",
        vec![],
    );
    assert_eq!(drawn, json!([true, true, true]), "bands drawn relative to the median");
    // the comparison table names every run
    let runs = browser.execute(
        "return Array.prototype.map.call(document.querySelectorAll('#comparison tbody th'), function (t) { return t.textContent; });",
        vec![],
    );
    assert_eq!(runs, json!(["seed-3", "seed-4", "seed-5"]));
}
