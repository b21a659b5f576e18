//! `report.html`: one self-contained page per forecast, to open from disk with no network.
//!
//! The page holds, inline: its CSS, the vendored charting library [uPlot] (pinned, see
//! [`UPLOT_VERSION`] and [`UPLOT_JS_SHA256`]), a small hand-written script (`assets/report.js`)
//! and one JSON data island (`<script type="application/json" id="gm-data">`). The script reads
//! the island and draws the charts: hover shows exact values, dragging across the plot zooms on a
//! range of epochs, a button (or a double click) resets the zoom.
//!
//! - **Exact values.** Amounts are carried in the island as decimal strings of base units, the
//!   same digits as the cells of `epochs.csv`; the script formats them as tokens with string
//!   arithmetic only. Floats are used for plotting positions, never for a value shown.
//! - **Size.** Up to [`SAMPLE_THRESHOLD`] epochs every row is embedded. Above it, the rows are
//!   cut into buckets of `ceil(epochs / SAMPLE_BUCKETS)` consecutive epochs, and of each bucket
//!   two actual rows are kept: its last row and its row with the largest flow of the day
//!   (released + paid + burned; the earliest on a tie), plus the first row and the first row of
//!   every policy upgrade. Every point is a real row of `epochs.csv`; the page says so.
//! - **Closed to the network.** A `<meta>` Content-Security-Policy `default-src 'none'` allows
//!   only the inline script and style blocks, by their SHA-256 hashes computed at write time: no
//!   request can leave the page, and nothing injected could run.
//! - **Escaping.** Every text written into the HTML goes through [`escape`]; the island is JSON
//!   with `<`, `>` and `&` written as `\u003c`, `\u003e`, `\u0026`, so no text can close it.
//! - **Deterministic.** No time, host or path of the machine goes into the file: the same run
//!   gives the same bytes.
//!
//! [uPlot]: https://github.com/leeoniya/uPlot

use crate::SimResult;
use crate::sha256::{base64, sha256};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The vendored uPlot (`assets/uplot/`, MIT, from the npm package `uplot@1.6.32`).
pub const UPLOT_VERSION: &str = "1.6.32";
/// SHA-256 of `assets/uplot/uPlot.iife.min.js` as published in `uplot@1.6.32` (51,081 bytes).
pub const UPLOT_JS_SHA256: &str = "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f";
/// SHA-256 of `assets/uplot/uPlot.min.css` as published in `uplot@1.6.32`.
pub const UPLOT_CSS_SHA256: &str = "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04";

const UPLOT_JS: &str = include_str!("../assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../assets/uplot/uPlot.min.css");
const UPLOT_LICENSE: &str = include_str!("../assets/uplot/LICENSE");
const REPORT_JS: &str = include_str!("../assets/report.js");
const REPORT_CSS: &str = include_str!("../assets/report.css");

/// Up to this many epochs (10 years) every row of `epochs.csv` is embedded.
pub const SAMPLE_THRESHOLD: usize = 3_660;
/// Above [`SAMPLE_THRESHOLD`], the number of buckets the rows are cut into.
pub const SAMPLE_BUCKETS: usize = 2_000;
/// The most points a sweep overlay embeds over all its runs together.
const OVERLAY_POINTS: usize = 12_000;

/// Opaque colours, as the PNG charts use.
const PALETTE: [&str; 8] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

/// One run of a forecast with several (`--runs`, `--sweep`).
#[derive(Debug, Clone, Copy)]
pub struct RunRef<'a> {
    /// The run's label (e.g. `claims.tax_ppb=0,seed-3`): user text, escaped when written.
    pub label: &'a str,
    /// The run's value of each swept parameter, in the order of [`Multi::swept_keys`].
    pub swept: &'a [String],
    /// Its result.
    pub result: &'a SimResult,
}

/// What a forecast of several runs adds to the report.
#[derive(Debug, Clone)]
pub struct Multi<'a> {
    /// Every run, in the order of `comparison.csv`.
    pub runs: Vec<RunRef<'a>>,
    /// The swept parameters (`--sweep`), empty without a sweep.
    pub swept_keys: Vec<String>,
    /// Draw p5/p50/p95 bands over the runs (`--runs` > 1).
    pub bands: bool,
}

/// What the report is about.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    /// The run whose charts and tables are shown (with `--runs`, the first seed).
    pub result: &'a SimResult,
    /// Where the run comes from: policy, seed, scenario, epochs, overrides (user text).
    pub context: String,
    /// The parameters, as in `summary.json`.
    pub parameters: Value,
    /// `summary.json`.
    pub summary: Value,
    /// The cap of the policy the run started with (overrides included).
    pub initial_cap: u128,
    /// With several runs: the bands and the comparison.
    pub multi: Option<Multi<'a>>,
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON safe inside a `<script>` block: `<`, `>` and `&` as `\u` escapes (valid JSON still).
fn island(value: &Value) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    text.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// The CSP source for an inline block.
fn hash_source(text: &str) -> String {
    format!("'sha256-{}'", base64(&sha256(text.as_bytes())))
}

/// The row indices embedded in the report (see the module docs), ascending, and the bucket size
/// (1: every row).
pub fn sample_rows(result: &SimResult) -> (Vec<usize>, usize) {
    let n = result.rows.len();
    if n <= SAMPLE_THRESHOLD {
        return ((0..n).collect(), 1);
    }
    let bucket = n.div_ceil(SAMPLE_BUCKETS);
    let flow = |i: usize| {
        let row = &result.rows[i];
        row.released_epoch().iter().chain(row.paid()).fold(row.burned, |sum, v| sum.saturating_add(*v))
    };
    let mut keep = BTreeSet::from([0]);
    for start in (0..n).step_by(bucket) {
        let end = (start + bucket).min(n);
        keep.insert(end - 1);
        if let Some(peak) = (start..end).max_by_key(|&i| (flow(i), std::cmp::Reverse(i))) {
            keep.insert(peak);
        }
    }
    for era in result.state.policy_log.iter().skip(1) {
        if let Some(i) = result.rows.iter().position(|r| r.epoch == era.from_epoch) {
            keep.insert(i);
        }
    }
    (keep.into_iter().collect(), bucket)
}

/// The cap in force at each epoch of the run (the caps of its policy eras, G12).
fn cap_at(result: &SimResult, initial_cap: u128) -> impl Fn(u64) -> u128 + '_ {
    let log = &result.state.policy_log;
    let caps: Vec<(u64, u128)> = log
        .iter()
        .enumerate()
        .map(|(i, era)| {
            let cap = if i + 1 == log.len() {
                result.state.policy.token.cap.0
            } else if i == 0 {
                initial_cap
            } else {
                crate::load_policy(&era.name).map_or(initial_cap, |p| p.token.cap.0)
            };
            (era.from_epoch, cap)
        })
        .collect();
    move |epoch| caps.iter().rev().find(|(from, _)| *from <= epoch).map_or(initial_cap, |(_, cap)| *cap)
}

fn strings(values: impl Iterator<Item = u128>) -> Value {
    Value::Array(values.map(|v| Value::String(v.to_string())).collect())
}

fn series(label: &str, values: Value, index: usize) -> Value {
    json!({ "label": label, "values": values, "color": PALETTE[index % PALETTE.len()] })
}

/// The top of a flow chart: a quarter above the 99th percentile of the day's largest value,
/// so that a cliff day (NM4's 2,000,000,000) does not flatten the others; `None` when that
/// would hide nothing.
fn flow_scale(result: &SimResult, rows: &[usize], read: &dyn Fn(&crate::EpochRow) -> u128) -> Option<(f64, Vec<u64>)> {
    let mut values: Vec<u128> = rows.iter().map(|&i| read(&result.rows[i])).collect();
    values.sort_unstable();
    let typical = values.get((values.len().saturating_sub(1)) * 99 / 100).copied().unwrap_or(0);
    let top = typical.saturating_add(typical / 4);
    if top == 0 {
        return None;
    }
    let over: Vec<u64> = rows.iter().map(|&i| &result.rows[i]).filter(|r| read(r) > top).map(|r| r.epoch).collect();
    if over.is_empty() { None } else { Some((top as f64 / 1e18, over)) }
}

/// The charts of one run, at the embedded rows.
fn run_charts(input: &ReportInput, rows: &[usize]) -> Vec<Value> {
    let result = input.result;
    let epochs: Vec<u64> = rows.iter().map(|&i| result.rows[i].epoch).collect();
    let col = |read: &dyn Fn(&crate::EpochRow) -> u128| strings(rows.iter().map(|&i| read(&result.rows[i])));
    let cap = cap_at(result, input.initial_cap);
    let mut charts = Vec::new();
    charts.push(json!({
        "id": "supply",
        "title": "Supply",
        "note": "total_supply, minted_total, circulating and burned_total are the columns of epochs.csv; the cap is the policy's cap in force that epoch.",
        "x": epochs,
        "series": [
            series("total supply", col(&|r| r.total_supply), 0),
            series("minted (total)", col(&|r| r.minted_total), 4),
            series("circulating", col(&|r| r.circulating), 2),
            series("burned (total)", col(&|r| r.burned_total), 3),
            json!({ "label": "cap", "values": strings(rows.iter().map(|&i| cap(result.rows[i].epoch))), "color": "#000000", "dash": true }),
        ],
    }));
    let flowing: Vec<usize> = (0..result.pools.len())
        .filter(|&p| result.rows.iter().any(|r| r.released_epoch().get(p).copied().unwrap_or(0) > 0))
        .collect();
    if !flowing.is_empty() {
        let largest = |r: &crate::EpochRow| flowing.iter().map(|&p| r.released_epoch()[p]).max().unwrap_or(0);
        let scale = flow_scale(result, rows, &largest);
        charts.push(json!({
            "id": "daily",
            "title": "Released or minted per day, by pool",
            "note": "Each pool's release of that epoch (the difference of its released_ column in epochs.csv between two epochs); pools that never released are left out.",
            "x": epochs,
            "series": flowing.iter().enumerate().map(|(k, &p)| series(&result.pools[p], col(&|r| r.released_epoch()[p]), k)).collect::<Vec<_>>(),
            "y_max": scale.as_ref().map(|s| s.0),
            "off_scale": scale.map(|s| s.1).unwrap_or_default(),
        }));
    }
    let read_paid = |r: &crate::EpochRow| r.paid().iter().copied().chain([r.burned]).max().unwrap_or(0);
    let scale = flow_scale(result, rows, &read_paid);
    let mut paid: Vec<Value> = result
        .programs
        .iter()
        .enumerate()
        .map(|(k, program)| series(&format!("paid {program}"), col(&|r| r.paid()[k]), k))
        .collect();
    paid.push(series("burned that day", col(&|r| r.burned), 3));
    charts.push(json!({
        "id": "paid",
        "title": "Paid per day by program, and burned",
        "note": "The paid_ and burned columns of epochs.csv (that epoch's amounts).",
        "x": epochs,
        "series": paid,
        "y_max": scale.as_ref().map(|s| s.0),
        "off_scale": scale.map(|s| s.1).unwrap_or_default(),
    }));
    charts.push(json!({
        "id": "released",
        "title": "Released so far, by pool",
        "note": "The released_ columns of epochs.csv (cumulative).",
        "x": epochs,
        "series": result.pools.iter().enumerate().map(|(p, pool)| series(pool, col(&|r| r.released()[p]), p)).collect::<Vec<_>>(),
    }));
    charts
}

/// p5/p50/p95 of a quantity over the runs, per embedded row (nearest rank, as the PNG bands).
fn band_charts(multi: &Multi, rows: &[usize]) -> Vec<Value> {
    type Read = fn(&crate::EpochRow) -> u128;
    let quantities: [(&str, &str, Read); 3] = [
        ("band_total_supply", "total supply", |r| r.total_supply),
        ("band_circulating", "circulating", |r| r.circulating),
        ("band_burned", "burned (total)", |r| r.burned_total),
    ];
    let epochs_in_all = multi.runs.iter().map(|r| r.result.rows.len()).min().unwrap_or(0);
    let rows: Vec<usize> = rows.iter().copied().filter(|&i| i < epochs_in_all).collect();
    let Some(first) = multi.runs.first() else { return vec![] };
    let epochs: Vec<u64> = rows.iter().map(|&i| first.result.rows[i].epoch).collect();
    quantities
        .iter()
        .map(|(id, name, read)| {
            let mut p5 = Vec::with_capacity(rows.len());
            let mut p50 = Vec::with_capacity(rows.len());
            let mut p95 = Vec::with_capacity(rows.len());
            for &i in &rows {
                let mut values: Vec<u128> = multi.runs.iter().map(|r| read(&r.result.rows[i])).collect();
                values.sort_unstable();
                let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
                p5.push(at(0.05));
                p50.push(at(0.5));
                p95.push(at(0.95));
            }
            json!({
                "id": id,
                "title": format!("{name}: p5, median and p95 of {} runs", multi.runs.len()),
                "note": "Drawn as the distance from the median (so a spread of a fraction of a percent is visible); the values shown on hover are the exact p5, median and p95.",
                "x": epochs,
                // 1-based like `band`: the median (drawn as the zero line)
                "relative_to": 2,
                "series": [
                    series("p5", strings(p5.into_iter()), 0),
                    series("median", strings(p50.into_iter()), 2),
                    series("p95", strings(p95.into_iter()), 0),
                ],
                "band": [1, 3],
            })
        })
        .collect()
}

/// One line per run for total supply, circulating and burned (`--sweep`).
fn overlay_charts(multi: &Multi) -> Vec<Value> {
    type Read = fn(&crate::EpochRow) -> u128;
    let quantities: [(&str, &str, Read); 3] = [
        ("sweep_total_supply", "total supply", |r| r.total_supply),
        ("sweep_circulating", "circulating", |r| r.circulating),
        ("sweep_burned", "burned (total)", |r| r.burned_total),
    ];
    let epochs = multi.runs.iter().map(|r| r.result.rows.len()).min().unwrap_or(0);
    let Some(first) = multi.runs.first() else { return vec![] };
    // the last row of each of `points` equal buckets
    let points = (OVERLAY_POINTS / multi.runs.len().max(1)).clamp(200, 4_000).min(epochs);
    let bucket = epochs.div_ceil(points.max(1)).max(1);
    let rows: Vec<usize> = (0..epochs).filter(|i| (i + 1) % bucket == 0 || i + 1 == epochs).collect();
    let x: Vec<u64> = rows.iter().map(|&i| first.result.rows[i].epoch).collect();
    quantities
        .iter()
        .map(|(id, name, read)| {
            json!({
                "id": id,
                "title": format!("{name}: one line per run"),
                "note": if bucket > 1 { format!("Every {bucket}th epoch of each run (its actual row).") } else { "Every epoch of each run.".to_string() },
                "x": x,
                "series": multi.runs.iter().enumerate().map(|(k, run)| {
                    let mut s = series(run.label, strings(rows.iter().map(|&i| read(&run.result.rows[i]))), k);
                    if k >= PALETTE.len() { s["dash"] = json!(true); }
                    s
                }).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn amount(base_units: u128, symbol: &str) -> String {
    let symbol = escape(symbol);
    format!(
        "<data value=\"{base_units}\" title=\"{} {symbol} exactly: {base_units} base units\">{} {symbol}</data>",
        gridmint_policy::format_tokens(base_units),
        crate::output::human(base_units),
    )
}

fn row(out: &mut String, key: &str, value_html: &str) {
    let _ = writeln!(out, "<tr><th scope=\"row\">{}</th><td>{value_html}</td></tr>", escape(key));
}

/// A JSON value as table text (strings unquoted).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

fn tables(input: &ReportInput, symbol: &str) -> String {
    let result = input.result;
    let state = &result.state;
    let mut out = String::new();
    // parameters
    out.push_str("<section id=\"parameters\"><h2>Parameters</h2><table><tbody>\n");
    if let Value::Object(map) = &input.parameters {
        for (key, value) in map {
            let shown = match value {
                Value::Array(items) if key == "overrides" => {
                    let pairs: Vec<String> = items
                        .iter()
                        .map(|p| match p {
                            Value::Array(kv) => kv.iter().map(text).collect::<Vec<_>>().join("="),
                            other => text(other),
                        })
                        .collect();
                    if pairs.is_empty() { "none".to_string() } else { pairs.join(", ") }
                }
                other => text(other),
            };
            row(&mut out, key, &escape(&shown));
        }
    }
    row(&mut out, "policy in force at the end", &escape(&format!("{} v{}", state.policy.name, state.policy.version)));
    row(&mut out, "policy hash", &format!("<code>{}</code>", hex::encode(state.policy.hash())));
    out.push_str("</tbody></table></section>\n");
    // policy eras
    if state.policy_log.len() > 1 || !result.refused_upgrades.is_empty() {
        out.push_str("<section id=\"policies\"><h2>Policies over the run</h2><table><thead><tr><th scope=\"col\">from epoch</th><th scope=\"col\">policy</th></tr></thead><tbody>\n");
        for era in &state.policy_log {
            let _ = writeln!(
                out,
                "<tr><td class=\"num\">{}</td><td>{}</td></tr>",
                era.from_epoch,
                escape(&format!("{} v{}", era.name, era.version))
            );
        }
        for refused in &result.refused_upgrades {
            let _ = writeln!(
                out,
                "<tr><td class=\"num\">{}</td><td>{}</td></tr>",
                refused.from_epoch,
                escape(&format!(
                    "refused: {} v{} ({}); the old policy stayed",
                    refused.policy, refused.version, refused.reason
                ))
            );
        }
        out.push_str("</tbody></table></section>\n");
    }
    // proposals the scenario asked for and the ledger refused to open
    if !result.refused_proposals.is_empty() {
        out.push_str("<section id=\"refused-proposals\"><h2>Proposals the ledger refused</h2><table><thead><tr><th scope=\"col\">epoch</th><th scope=\"col\">scenario proposal</th><th scope=\"col\">why</th></tr></thead><tbody>\n");
        for refused in &result.refused_proposals {
            let _ = writeln!(
                out,
                "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                refused.epoch,
                refused.index,
                escape(&format!("{} (code {})", refused.reason, refused.code))
            );
        }
        out.push_str("</tbody></table></section>\n");
    }
    // summary
    out.push_str("<section id=\"summary\"><h2>Summary at the end</h2><table><tbody>\n");
    row(&mut out, "epochs", &result.rows.len().to_string());
    for (name, value) in [
        ("total supply", state.total_supply()),
        ("minted (total)", state.minted_total),
        ("burned (total)", state.burned_total),
        ("circulating", state.circulating()),
        ("cap", state.cap),
    ] {
        row(&mut out, name, &amount(value, symbol));
    }
    for pool in &state.pools {
        row(&mut out, &format!("pool {} (balance)", pool.name), &amount(pool.balance, symbol));
    }
    for (i, pool) in result.pools.iter().enumerate() {
        let released = result.rows.last().map_or(0, |r| r.released()[i]);
        row(&mut out, &format!("released {pool}"), &amount(released, symbol));
    }
    for (i, program) in result.programs.iter().enumerate() {
        let paid: u128 = result.rows.iter().map(|r| r.paid()[i]).sum();
        row(&mut out, &format!("paid {program}"), &amount(paid, symbol));
    }
    if state.bridge.escrow > 0 {
        row(&mut out, "bridge escrow", &amount(state.bridge.escrow, symbol));
    }
    if let Some(Value::Object(counts)) = input.summary.get("counts") {
        for (key, value) in counts {
            row(&mut out, key, &escape(&text(value)));
        }
    }
    row(&mut out, "agent transactions (rejected)", &format!("{} ({})", result.txs_sent, result.txs_rejected));
    row(&mut out, "machine rewards Gini", &format!("{:.6}", result.machine_rewards_gini));
    row(&mut out, "state root", &format!("<code>{}</code>", hex::encode(result.state_root)));
    row(&mut out, "rewards root", &format!("<code>{}</code>", hex::encode(result.rewards_root)));
    out.push_str("</tbody></table></section>\n");
    // what allocation.png shows
    out.push_str("<section id=\"allocation\"><h2>Where the tokens are at the end</h2><table><tbody>\n");
    for pool in state.pools.iter().filter(|p| p.balance > 0) {
        row(&mut out, &format!("pool {}", pool.name), &amount(pool.balance, symbol));
    }
    let accounts = state.total_supply().saturating_sub(state.pools_total()).saturating_sub(state.bridge.escrow);
    row(&mut out, "accounts", &amount(accounts, symbol));
    if state.bridge.escrow > 0 {
        row(&mut out, "bridge escrow", &amount(state.bridge.escrow, symbol));
    }
    row(&mut out, "burned", &amount(state.burned_total, symbol));
    out.push_str("</tbody></table></section>\n");
    // what rewards.png shows
    if !result.rewards_by_class.is_empty() {
        let _ = writeln!(
            out,
            "<section id=\"rewards\"><h2>Machine rewards by GPU class (Gini {:.3})</h2><table><thead><tr><th scope=\"col\">class</th><th scope=\"col\">machines</th><th scope=\"col\">total</th><th scope=\"col\">mean per machine (rounded down)</th></tr></thead><tbody>",
            result.machine_rewards_gini
        );
        for (class, rewards) in &result.rewards_by_class {
            let total: u128 = rewards.iter().sum();
            let mean = total / (rewards.len().max(1) as u128);
            let _ = writeln!(
                out,
                "<tr><td class=\"num\">{class}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                rewards.len(),
                amount(total, symbol),
                amount(mean, symbol)
            );
        }
        out.push_str("</tbody></table></section>\n");
    }
    out
}

fn comparison_table(multi: &Multi, symbol: &str) -> String {
    let mut out = String::from(
        "<section id=\"comparison\"><h2>Comparison of the runs</h2><p>The same numbers as <code>comparison.csv</code>.</p><div class=\"scroll\"><table><thead><tr><th scope=\"col\">run</th><th scope=\"col\">seed</th>",
    );
    for key in &multi.swept_keys {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(key));
    }
    out.push_str("<th scope=\"col\">total supply</th><th scope=\"col\">minted (total)</th><th scope=\"col\">burned (total)</th><th scope=\"col\">circulating</th><th scope=\"col\">state root</th></tr></thead><tbody>\n");
    for run in &multi.runs {
        let s = &run.result.state;
        let _ =
            write!(out, "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td>", escape(run.label), run.result.seed);
        for value in run.swept {
            let _ = write!(out, "<td>{}</td>", escape(value));
        }
        for value in [s.total_supply(), s.minted_total, s.burned_total, s.circulating()] {
            let _ = write!(out, "<td>{}</td>", amount(value, symbol));
        }
        let _ = writeln!(out, "<td><code>{}</code></td></tr>", hex::encode(&run.result.state_root[..8]));
    }
    out.push_str("</tbody></table></div></section>\n");
    out
}

fn chart_figure(chart: &Value, index: usize) -> String {
    let id = chart["id"].as_str().unwrap_or("chart");
    let title = chart["title"].as_str().unwrap_or_default();
    let note = chart["note"].as_str().unwrap_or_default();
    let mut off = String::new();
    if let Some(epochs) = chart["off_scale"].as_array().filter(|e| !e.is_empty()) {
        let list: Vec<String> = epochs.iter().take(10).map(|e| e.to_string()).collect();
        let more = if epochs.len() > 10 { format!(" and {} more", epochs.len() - 10) } else { String::new() };
        let plural = if epochs.len() > 1 { "s" } else { "" };
        off = format!(
            " The y-axis is scaled to the ordinary days; above its top: epoch{plural} {}{more} (hover for the values).",
            list.join(", ")
        );
    }
    format!(
        "<figure class=\"chart\" id=\"fig-{id}\"><figcaption><h3>{}</h3><p>{}{}</p></figcaption>\
<div class=\"controls\"><button type=\"button\" class=\"reset\" data-chart=\"{index}\">Reset zoom</button> \
<span class=\"hint\">Drag across the plot to zoom on epochs; double-click or Reset to see them all.</span></div>\
<div class=\"plot\" id=\"plot-{id}\" data-chart=\"{index}\"></div>\
<output class=\"readout\" id=\"readout-{id}\" aria-live=\"polite\"></output></figure>\n",
        escape(title),
        escape(note),
        escape(&off),
    )
}

/// The whole `report.html`.
pub fn report_html(input: &ReportInput) -> String {
    let result = input.result;
    let symbol = result.state.policy.token.symbol.clone();
    let (rows, bucket) = sample_rows(result);
    let mut charts = run_charts(input, &rows);
    let mut multi_html = String::new();
    if let Some(multi) = &input.multi {
        if multi.bands {
            charts.extend(band_charts(multi, &rows));
        }
        if !multi.swept_keys.is_empty() {
            charts.extend(overlay_charts(multi));
        }
        multi_html = comparison_table(multi, &symbol);
    }
    let mut names: Vec<&str> = Vec::new();
    for era in &result.state.policy_log {
        if names.last() != Some(&era.name.as_str()) {
            names.push(&era.name);
        }
    }
    let network = if names.is_empty() { result.state.policy.name.clone() } else { names.join(" → ") };
    let upgrades: Vec<Value> = result
        .state
        .policy_log
        .iter()
        .skip(1)
        .map(|e| json!([e.from_epoch, format!("{} v{}", e.name, e.version)]))
        .collect();
    let sampling = if bucket > 1 {
        format!(
            "The run has {} epochs: the charts show {} of its rows, the last row and the row with the largest flow of the day of every {bucket} consecutive epochs (plus the first row and each upgrade's first row). Each point is an actual row of epochs.csv, which has every epoch.",
            result.rows.len(),
            rows.len()
        )
    } else {
        format!("Every one of the {} epochs is shown; hovered values are the cells of epochs.csv.", result.rows.len())
    };
    let data = json!({
        "symbol": symbol,
        "upgrades": upgrades,
        "charts": charts,
    });
    let mut figures = String::new();
    for (index, chart) in charts.iter().enumerate() {
        if index == 4 && input.multi.is_some() {
            figures.push_str("<h2>Across the runs</h2>\n");
        }
        figures.push_str(&chart_figure(chart, index));
    }
    let style = format!("{UPLOT_CSS}\n{REPORT_CSS}");
    let csp = format!(
        "default-src 'none'; script-src {} {}; style-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        hash_source(UPLOT_JS),
        hash_source(REPORT_JS),
        hash_source(&style)
    );
    let title = format!("{network}: forecast report");
    let mut html = String::with_capacity(UPLOT_JS.len() + 4096 + rows.len() * 600);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"referrer\" content=\"no-referrer\">\n<title>{}</title>\n<style>{style}</style>\n</head>\n<body>\n\
<header><h1>{}</h1><p class=\"context\">{}</p><p class=\"meta\">gridmint {} · {} epochs · seed {}</p></header>\n<main>\n",
        escape(&csp),
        escape(&title),
        escape(&title),
        escape(&input.context),
        env!("CARGO_PKG_VERSION"),
        result.rows.len(),
        result.seed,
    );
    let _ = write!(
        html,
        "<section id=\"charts\"><h2>Charts</h2><p class=\"note\" id=\"sampling\">{} Amounts are in {} (1 token = 10^18 base units); hovered values are exact, in tokens, with the base units below the chart.</p>\n{figures}</section>\n",
        escape(&sampling),
        escape(&symbol)
    );
    html.push_str(&multi_html);
    html.push_str(&tables(input, &symbol));
    let _ = write!(
        html,
        "</main>\n<footer><details><summary>Third-party licence: uPlot {UPLOT_VERSION}</summary><pre>{}</pre></details></footer>\n\
<script type=\"application/json\" id=\"gm-data\">{}</script>\n<script>{UPLOT_JS}</script>\n<script>{REPORT_JS}</script>\n</body>\n</html>\n",
        escape(UPLOT_LICENSE),
        island(&data),
    );
    html
}

/// Writes `report.html` into `dir`; returns its path.
pub fn write_report(dir: &Path, input: &ReportInput) -> std::io::Result<PathBuf> {
    let path = dir.join("report.html");
    std::fs::write(&path, report_html(input))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: a silent change of the vendored uPlot is caught. Method: the SHA-256 of the embedded
    /// bytes against the hashes of the published `uplot@1.6.32` files.
    #[test]
    fn vendored_uplot_is_the_pinned_release() {
        assert_eq!(hex::encode(sha256(UPLOT_JS.as_bytes())), UPLOT_JS_SHA256);
        assert_eq!(hex::encode(sha256(UPLOT_CSS.as_bytes())), UPLOT_CSS_SHA256);
        assert_eq!(UPLOT_JS.len(), 51_081);
        assert!(UPLOT_JS.contains("(v1.6.32)"));
        assert!(UPLOT_LICENSE.contains("Leon Sorokin"));
    }

    /// Goal: escaping covers every character that can open markup or end an attribute.
    #[test]
    fn escape_covers_markup_characters() {
        assert_eq!(escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    /// Goal: the island cannot be closed by text inside it, and parses back unchanged.
    #[test]
    fn island_escapes_script_end() {
        let value = json!({ "label": "</script><script>alert(1)</script>&" });
        let text = island(&value);
        assert!(!text.contains('<') && !text.contains('>') && !text.contains('&'), "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
    }
}
