//! The explorer every node serves beside its API (issue 15): HTML rendered on the server from
//! the same views and store reads the API answers with, so a page and `GET /v1/…` never disagree.
//!
//! - `/`: the network: height, epoch and the time to its close, supply (cap, total,
//!   circulating, minted, burned, bridge escrow), each pool's released and remaining, the supply
//!   curve and the distribution by program over the closed epochs (inline SVG charts with exact
//!   tables), the policy in force and its history (G12), the elected master nodes and the latest
//!   blocks (their headers only: [`crate::store::Store::block_header`]);
//! - `/epochs/{epoch}`: a closed epoch's summary (per pool and per program, dust, burns, debts,
//!   elected master nodes, proposals ended, rewards and state roots), previous and next;
//! - `/blocks/{height}`: a block's header and its transactions with their receipts,
//!   [`BLOCK_TXS_PAGE`] a page (`?from=`; only the page's transactions are decoded);
//! - `/tx/{id}`: a transaction's status, its receipt with the error code and name, and its body
//!   (only that transaction of its block is decoded);
//! - `/accounts/{address}`: balances, machines (paged), rewards per epoch (chart and table, each
//!   epoch linking to its explain page `/accounts/{address}/epochs/{epoch}`);
//! - `/machines/{address}`: owner, class, bandwidth tier, this epoch's online slots against the
//!   threshold, a heat strip of online slots per closed epoch, rewards;
//! - `/validators`, `/governance`, `/bridge`: validators and master nodes, proposals with their
//!   tallies, bridge records (paged; the validators page copies only its page under the lock);
//! - `/search?q=`: a height (`123`), an epoch (`e12`, `epoch 12`), a transaction id or an address
//!   (64 hex digits: a known transaction first, then a machine, then an account; `gm1…`),
//!   redirected to its page;
//! - `/assets/explorer.css`: the one stylesheet (embedded in the binary).
//!
//! No script, no inline style, no third-party asset: every page is sent with a strict
//! Content-Security-Policy (`default-src 'none'`, styles from this origin only), `nosniff`, no
//! referrer, and `Cache-Control: no-cache`. Charts are inline SVG drawn with presentation
//! attributes and classes, each mark with a `<title>` giving its exact value. Every value
//! written into a page goes through [`escape`]. A page copies what it shows under the ledger's
//! read lock and renders after releasing it: page loads never hold up block production. Every
//! list is bounded (`?from=` paging links, or the latest [`CHART_EPOCHS`] epochs): no request
//! reads more than a page's worth, whatever the chain's size. Unknown pages, blocks, epochs,
//! transactions, accounts and machines answer an HTML 404 page, and malformed input an HTML 400
//! page.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::node::Shared;

/// The stylesheet.
const CSS: &str = include_str!("../assets/explorer.css");

/// The Content-Security-Policy of every explorer response.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; \
                       form-action 'self'; frame-ancestors 'none'";

/// How many of the latest blocks the network page lists.
pub const LATEST_BLOCKS: u64 = 10;

/// The explorer's routes (merged into the node's router, under its connection bounds and rate
/// limit).
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(network))
        .route("/blocks/{height}", get(block))
        .route("/accounts/{address}", get(account))
        .route("/epochs/{epoch}", get(epoch))
        .route("/tx/{id}", get(transaction))
        .route("/machines/{address}", get(machine))
        .route("/validators", get(validators))
        .route("/governance", get(governance))
        .route("/bridge", get(bridge))
        .route("/search", get(search))
        .route("/assets/explorer.css", get(stylesheet))
}

/// `text` with `& < > " '` escaped: safe in element content and in quoted attributes.
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

/// Base units (a decimal string of a `u128`) as tokens: the whole part grouped by thousands and
/// four decimals, cut (never rounded) — exact digits, no float. Text that is no amount is
/// returned escaped as it is.
pub fn tokens(base_units: &str) -> String {
    let Ok(v) = base_units.parse::<u128>() else { return escape(base_units) };
    let (whole, fraction) = (v / gridmint_core::TOKEN, v % gridmint_core::TOKEN);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(d);
    }
    format!("{grouped}.{:04}", fraction / 100_000_000_000_000)
}

fn short(hex: &str) -> String {
    if hex.len() > 16 { format!("{}…{}", &hex[..8], &hex[hex.len() - 6..]) } else { hex.to_string() }
}

pub(crate) fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · gridmint</title><link rel=\"stylesheet\" href=\"/assets/explorer.css\"></head>\
         <body><header><a class=\"brand\" href=\"/\">gridmint</a>\
         <form action=\"/search\" method=\"get\" role=\"search\"><label for=\"q\">Search</label>\
         <input id=\"q\" name=\"q\" placeholder=\"address, tx id, height 123 or epoch e12\" autocomplete=\"off\">\
         <button type=\"submit\">Go</button></form>\
         <nav><a href=\"/\">Network</a> <a href=\"/validators\">Validators</a> \
         <a href=\"/governance\">Governance</a> <a href=\"/bridge\">Bridge</a></nav></header><main>{body}</main>\
         <footer>Every number here is what <a href=\"/v1/openapi.json\">this node's API</a> answers.</footer>\
         </body></html>\n",
        escape(title)
    );
    let mut response = (status, page).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    secure(headers);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub(crate) fn secure(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    html(
        status,
        status.canonical_reason().unwrap_or("error"),
        &format!("<h1>{}</h1><p>{}</p>", status, escape(message)),
    )
}

/// A table of (label, value) rows; values are HTML already.
fn rows(out: &mut String, rows: &[(&str, String)]) {
    out.push_str("<table class=\"kv\"><tbody>");
    for (label, value) in rows {
        let _ = write!(out, "<tr><th scope=\"row\">{}</th><td>{value}</td></tr>", escape(label));
    }
    out.push_str("</tbody></table>");
}

fn amount_cell(base_units: &str) -> String {
    format!("<span class=\"amount\" title=\"{} base units\">{}</span>", escape(base_units), tokens(base_units))
}

async fn stylesheet() -> Response {
    let mut response = CSS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    secure(headers);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

/// How many closed epochs the charts of the network, account and machine pages cover at most:
/// the network page samples the closed epochs evenly down to this many; the account and machine
/// pages show this many per page (`?from=` goes further back).
pub const CHART_EPOCHS: u64 = 60;

/// The most rows a paged list shows at once.
pub const PAGE: u64 = 50;

/// The HTML page of an API error: the same status and message.
fn api_error(e: crate::api::ApiError) -> Response {
    error_page(e.status(), e.message())
}

/// The page of a record this node cannot read (checksum, length): a 500 naming the table and
/// the key, as the API says it; never a page that shows the record as missing.
fn damaged(e: crate::store::StoreError) -> Response {
    error_page(StatusCode::INTERNAL_SERVER_ERROR, &format!("this node's store: {e}"))
}

/// A link to an account's page.
fn account_link(hex: &str) -> String {
    format!("<a href=\"/accounts/{0}\"><code>{1}</code></a>", escape(hex), escape(&short(hex)))
}

/// The `from` (a start: an id, an epoch, a position) and `limit` of a paged page: `?from=<u64>`
/// and `?limit=<1..=PAGE>`; other keys named in `keys` are read as numbers too. Anything else is
/// malformed: the message of an HTML 400.
pub(crate) fn numbers(query: Option<&str>, keys: &[&str]) -> Result<std::collections::BTreeMap<String, u64>, String> {
    let mut out = std::collections::BTreeMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !keys.contains(&key) {
            return Err(format!("unknown query parameter `{key}` (this page takes {})", keys.join(", ")));
        }
        let Ok(n) = value.parse::<u64>() else {
            return Err(format!("`{key}={value}`: not a non-negative integer"));
        };
        if key == "limit" && !(1..=PAGE).contains(&n) {
            return Err(format!("limit {n}: between 1 and {PAGE}"));
        }
        out.insert(key.to_string(), n);
    }
    Ok(out)
}

/// A scale from `0..=max` to `0..=height` pixels (positions only: the values shown are exact).
fn scale(v: u128, max: u128, height: f64) -> f64 {
    if max == 0 { 0.0 } else { (v as f64 / max as f64) * height }
}

const CHART_W: f64 = 640.0;
const CHART_H: f64 = 200.0;
const CHART_PAD: f64 = 8.0;

/// An SVG chart's opening: its frame, the zero line and the top of its scale (every chart is
/// scaled from zero to its own maximum: [`scale_caption`] says it under the chart).
fn chart_frame(label: &str) -> String {
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {CHART_W} {}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        CHART_H + 2.0 * CHART_PAD,
        escape(label)
    );
    let _ = write!(
        svg,
        "<line class=\"axis\" x1=\"0\" y1=\"{0}\" x2=\"{CHART_W}\" y2=\"{0}\" stroke-width=\"1\"/>\
         <line class=\"axis\" x1=\"0\" y1=\"{CHART_PAD}\" x2=\"{CHART_W}\" y2=\"{CHART_PAD}\" stroke-width=\"0.5\" stroke-dasharray=\"4 4\"/>",
        CHART_H + CHART_PAD,
    );
    svg
}

/// The caption under a chart: its scale, from zero to the dashed line at `max`.
fn scale_caption(max: u128) -> String {
    format!(
        "<p class=\"scale\">Scale: 0 to {} tokens (the dashed line; {max} base units). Hover a mark for its exact value.</p>",
        tokens(&max.to_string())
    )
}

/// An SVG bar chart (one bar a label, stacked by series), each bar part with a `<title>` giving
/// its exact value in tokens and base units; `series` names the stacked parts (classes `s0…`).
fn bar_chart(label: &str, series: &[String], bars: &[(String, Vec<u128>)]) -> String {
    let max = bars.iter().map(|(_, v)| v.iter().sum::<u128>()).max().unwrap_or(0);
    let mut svg = chart_frame(label);
    let n = bars.len().max(1) as f64;
    let width = CHART_W / n;
    for (i, (name, values)) in bars.iter().enumerate() {
        let mut base = 0u128;
        for (k, v) in values.iter().enumerate() {
            if *v == 0 {
                continue;
            }
            let y0 = scale(base, max, CHART_H);
            let y1 = scale(base + v, max, CHART_H);
            base += v;
            let _ = write!(
                svg,
                "<rect class=\"s{}\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\"><title>{}: {} {} ({} base units)</title></rect>",
                k % 8,
                i as f64 * width + width * 0.1,
                CHART_PAD + CHART_H - y1,
                (width * 0.8).max(0.5),
                (y1 - y0).max(0.5),
                escape(name),
                escape(series.get(k).map_or("", String::as_str)),
                tokens(&v.to_string()),
                v
            );
        }
    }
    svg.push_str("</svg>");
    svg.push_str(&scale_caption(max));
    if !series.is_empty() {
        svg.push_str("<ul class=\"legend\">");
        for (k, name) in series.iter().enumerate() {
            let _ = write!(svg, "<li><span class=\"swatch s{}\"></span>{}</li>", k % 8, escape(name));
        }
        svg.push_str("</ul>");
    }
    svg
}

/// An SVG line chart of `lines` (name, points (x label, value)) sharing one x axis, each point
/// with a `<title>` giving its exact value.
fn line_chart(label: &str, lines: &[(String, Vec<(String, u128)>)]) -> String {
    let max = lines.iter().flat_map(|(_, p)| p.iter().map(|(_, v)| *v)).max().unwrap_or(0);
    let n = lines.iter().map(|(_, p)| p.len()).max().unwrap_or(0);
    let x = |i: usize| {
        if n <= 1 { CHART_W / 2.0 } else { CHART_PAD + i as f64 * (CHART_W - 2.0 * CHART_PAD) / (n - 1) as f64 }
    };
    let mut svg = chart_frame(label);
    for (k, (name, points)) in lines.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, (_, v))| format!("{:.2},{:.2}", x(i), CHART_PAD + CHART_H - scale(*v, max, CHART_H)))
            .collect();
        let _ = write!(
            svg,
            "<polyline class=\"l{}\" fill=\"none\" stroke-width=\"2\" points=\"{}\"/>",
            k % 8,
            path.join(" ")
        );
        for (i, (at, v)) in points.iter().enumerate() {
            let _ = write!(
                svg,
                "<circle class=\"p{}\" cx=\"{:.2}\" cy=\"{:.2}\" r=\"3\"><title>{}, {}: {} ({} base units)</title></circle>",
                k % 8,
                x(i),
                CHART_PAD + CHART_H - scale(*v, max, CHART_H),
                escape(name),
                escape(at),
                tokens(&v.to_string()),
                v
            );
        }
    }
    svg.push_str("</svg>");
    svg.push_str(&scale_caption(max));
    if lines.len() > 1 {
        svg.push_str("<ul class=\"legend\">");
        for (k, (name, _)) in lines.iter().enumerate() {
            let _ = write!(svg, "<li><span class=\"swatch s{}\"></span>{}</li>", k % 8, escape(name));
        }
        svg.push_str("</ul>");
    }
    svg
}

fn amount_of(v: &serde_json::Value) -> u128 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The closed epochs the network page charts: every one of `1..open` when there are at most
/// [`CHART_EPOCHS`], else evenly spaced ones ending with the last closed (deterministic).
fn sampled_epochs(open: u64) -> (Vec<u64>, u64) {
    let closed = open.saturating_sub(1);
    if closed == 0 {
        return (vec![], 1);
    }
    let step = closed.div_ceil(CHART_EPOCHS).max(1);
    // checked: the first value past epoch 1 must end the list, not underflow
    let mut epochs: Vec<u64> = (0..CHART_EPOCHS)
        .map_while(|i| i.checked_mul(step).and_then(|back| closed.checked_sub(back)))
        .take_while(|e| *e >= 1)
        .collect();
    epochs.reverse();
    (epochs, step)
}

/// What the network page shows, copied under the read lock.
struct Network {
    chain_id: String,
    policy: std::sync::Arc<gridmint_core::Policy>,
    policy_log: Vec<gridmint_core::state::PolicyEra>,
    upgrades: Vec<(u64, String, u32, bool)>,
    height: u64,
    epoch: u64,
    time: u64,
    epoch_end: u64,
    supply: crate::openapi::SupplyView,
    master_nodes: Vec<String>,
}

async fn network(State(shared): State<Arc<Shared>>) -> Response {
    let n = crate::api::read_state(&shared, |l| {
        let s = &l.state;
        Network {
            chain_id: l.genesis.chain_id.clone(),
            policy: s.policy.clone(),
            policy_log: s.policy_log.clone(),
            upgrades: s
                .upgrades
                .iter()
                .map(|(e, u)| (*e, u.policy.name.clone(), u.policy.version, u.restart_pools))
                .collect(),
            height: s.height,
            epoch: s.epoch,
            time: s.time,
            epoch_end: s.epoch_end_time(s.epoch),
            supply: crate::api::supply_view(l),
            master_nodes: s.master_nodes.iter().map(|a| a.to_hex()).collect(),
        }
    });
    // the latest blocks: their headers only, whatever their size
    let base = shared.store.base_height();
    let lowest = n.height.saturating_sub(LATEST_BLOCKS - 1).max(base + 1).max(1);
    // a damaged record is said (a 500 naming it), never shown as missing
    let mut latest = Vec::new();
    for h in (lowest..=n.height).rev() {
        match shared.store.block_header(h) {
            Ok(Some(header)) => latest.push(header),
            Ok(None) => {} // pruned since the state was read
            Err(e) => return damaged(e),
        }
    }
    // which of them closed epochs: the closes index, newest epochs first
    let mut closes = std::collections::BTreeMap::new();
    for e in (1..n.epoch).rev().take(LATEST_BLOCKS as usize) {
        match shared.store.epoch_close(e) {
            Ok(Some(h)) if h >= lowest => {
                closes.insert(h, e);
            }
            Ok(_) => break,
            Err(e) => return damaged(e),
        }
    }
    // the charts: closed epochs' summaries, at most CHART_EPOCHS of them (an epoch closed before
    // the snapshot this node started from has none here)
    let (sampled, step) = sampled_epochs(n.epoch);
    let mut summaries: Vec<(u64, serde_json::Value)> = Vec::new();
    for e in &sampled {
        match shared.store.epoch_summary(*e) {
            Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
                Ok(summary) => summaries.push((*e, summary)),
                Err(error) => {
                    let message = format!("this node's summary of epoch {e} is not JSON ({error})");
                    return error_page(StatusCode::INTERNAL_SERVER_ERROR, &message);
                }
            },
            Ok(None) => {}
            Err(e) => return damaged(e),
        }
    }

    let mut body = String::new();
    let _ = write!(body, "<h1>Network <span class=\"muted\">{}</span></h1>", escape(&n.chain_id));
    rows(
        &mut body,
        &[
            ("Height", format!("<a href=\"/blocks/{0}\">{0}</a>", n.height)),
            (
                "Epoch",
                if n.epoch > 1 {
                    format!("{} (last closed: <a href=\"/epochs/{1}\">{1}</a>)", n.epoch, n.epoch - 1)
                } else {
                    n.epoch.to_string()
                },
            ),
            ("Epoch closes in", format!("{} s", n.epoch_end.saturating_sub(n.time))),
            ("Policy", format!("{} v{}", escape(&n.policy.name), n.policy.version)),
        ],
    );
    body.push_str("<h2>Supply</h2>");
    let s = &n.supply;
    rows(
        &mut body,
        &[
            ("Cap", amount_cell(&s.cap)),
            ("Total supply", amount_cell(&s.total_supply)),
            ("Circulating", amount_cell(&s.circulating)),
            ("Minted", amount_cell(&s.minted_total)),
            ("Burned", amount_cell(&s.burned_total)),
            ("Bridge escrow", amount_cell(&s.escrow)),
        ],
    );
    body.push_str(
        "<h2>Pools</h2><div class=\"scroll\"><table><thead><tr><th scope=\"col\">Pool</th>\
         <th scope=\"col\">Released</th><th scope=\"col\">Remaining</th></tr></thead><tbody>",
    );
    for p in &s.pools {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&p.name),
            amount_cell(&p.released_total),
            amount_cell(&p.balance)
        );
    }
    body.push_str("</tbody></table></div>");

    // charts
    body.push_str("<h2>Supply curve</h2>");
    if summaries.is_empty() {
        body.push_str("<p class=\"muted\">No epoch has closed yet.</p>");
    } else {
        if step > 1 {
            let _ = write!(body, "<p class=\"muted\">One closed epoch in every {step}, ending with the last.</p>");
        }
        let series = |key: &str| -> Vec<(String, u128)> {
            summaries.iter().map(|(e, v)| (format!("epoch {e}"), amount_of(&v[key]))).collect()
        };
        // one chart per quantity, each on its own scale from zero: on one scale the cap-sized
        // total would flatten the circulating supply and the burns into the axis
        for (title, key) in
            [("Total supply", "total_supply"), ("Circulating", "circulating"), ("Burned in all", "burned_total")]
        {
            let _ = write!(body, "<h3>{title}</h3>");
            body.push_str(&line_chart(&format!("{title} after each close"), &[(title.to_lowercase(), series(key))]));
        }
        // the distribution by program: every program that paid in the sampled epochs
        let mut programs: Vec<String> = Vec::new();
        for (_, v) in &summaries {
            for p in v["programs"].as_array().into_iter().flatten() {
                let name = text_of(&p["program"]);
                if !programs.contains(&name) {
                    programs.push(name);
                }
            }
        }
        // a program that paid nothing in these epochs has no colour to explain
        programs.retain(|name| {
            summaries.iter().any(|(_, v)| {
                v["programs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| text_of(&p["program"]) == *name && amount_of(&p["paid"]) > 0)
            })
        });
        let bars: Vec<(String, Vec<u128>)> = summaries
            .iter()
            .map(|(e, v)| {
                let paid = programs
                    .iter()
                    .map(|name| {
                        v["programs"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|p| text_of(&p["program"]) == *name)
                            .map(|p| amount_of(&p["paid"]))
                            .sum()
                    })
                    .collect();
                (format!("epoch {e}"), paid)
            })
            .collect();
        body.push_str("<h2>Distribution by program</h2><p class=\"muted\">Paid at each close.</p>");
        body.push_str(&bar_chart("paid per epoch by program", &programs, &bars));
        body.push_str("<details><summary>The values</summary><div class=\"scroll\"><table><thead><tr><th scope=\"col\">Epoch</th><th scope=\"col\">Total supply</th><th scope=\"col\">Circulating</th><th scope=\"col\">Burned</th>");
        for p in &programs {
            let _ = write!(body, "<th scope=\"col\">{}</th>", escape(p));
        }
        body.push_str("</tr></thead><tbody>");
        for ((e, v), (_, paid)) in summaries.iter().zip(&bars) {
            let _ = write!(
                body,
                "<tr><td><a href=\"/epochs/{e}\">{e}</a></td><td>{}</td><td>{}</td><td>{}</td>",
                amount_cell(&text_of(&v["total_supply"])),
                amount_cell(&text_of(&v["circulating"])),
                amount_cell(&text_of(&v["burned_total"]))
            );
            for p in paid {
                let _ = write!(body, "<td>{}</td>", amount_cell(&p.to_string()));
            }
            body.push_str("</tr>");
        }
        body.push_str("</tbody></table></div></details>");
    }

    // the policy in force and its history (G12)
    body.push_str("<h2>Policy</h2>");
    let p = &n.policy;
    rows(
        &mut body,
        &[
            ("In force", format!("{} v{}", escape(&p.name), p.version)),
            ("Epoch length", format!("{} s", p.epoch.seconds)),
            ("Heartbeat slot", format!("{} s", p.epoch.slot_seconds)),
            ("Pools", p.pools.len().to_string()),
        ],
    );
    body.push_str(
        "<h3>History</h3><div class=\"scroll\"><table><thead><tr><th scope=\"col\">From epoch</th><th scope=\"col\">Policy</th>\
         <th scope=\"col\">Version</th><th scope=\"col\">Hash</th></tr></thead><tbody>",
    );
    for era in n.policy_log.iter().rev().take(PAGE as usize) {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            era.from_epoch,
            escape(&era.name),
            era.version,
            short(&hex::encode(era.hash))
        );
    }
    body.push_str("</tbody></table></div>");
    if !n.upgrades.is_empty() {
        body.push_str("<h3>Scheduled</h3><ul>");
        for (from, name, version, restart) in n.upgrades.iter().take(PAGE as usize) {
            let _ = write!(
                body,
                "<li>from epoch {from}: {} v{version}{}</li>",
                escape(name),
                if *restart { " (restarts the pools)" } else { "" }
            );
        }
        body.push_str("</ul>");
    }
    let _ = write!(
        body,
        "<details><summary>The policy in force, whole</summary><pre>{}</pre></details>",
        escape(&p.to_toml())
    );

    let _ = write!(
        body,
        "<h2>Master nodes <span class=\"muted\">{}</span></h2><p><a href=\"/validators\">All validators</a></p>",
        n.master_nodes.len()
    );
    if n.master_nodes.is_empty() {
        body.push_str("<p class=\"muted\">None elected.</p>");
    } else {
        body.push_str("<ol class=\"addresses\">");
        for a in &n.master_nodes {
            let _ = write!(body, "<li><a href=\"/accounts/{a}\"><code>{a}</code></a></li>");
        }
        body.push_str("</ol>");
    }
    body.push_str("<h2>Latest blocks</h2><div class=\"scroll\"><table><thead><tr><th scope=\"col\">Height</th><th scope=\"col\">Time</th><th scope=\"col\">Transactions</th><th scope=\"col\">Producer</th></tr></thead><tbody>");
    for h in &latest {
        let closed = match closes.get(&h.height) {
            Some(e) => format!(" <a class=\"tag\" href=\"/epochs/{e}\">closed epoch {e}</a>"),
            None => String::new(),
        };
        let producer = h.producer.to_hex();
        let _ = write!(
            body,
            "<tr><td><a href=\"/blocks/{0}\">{0}</a>{closed}</td><td>{1}</td><td>{2}</td><td>{3}</td></tr>",
            h.height,
            h.time,
            h.tx_count,
            account_link(&producer)
        );
    }
    body.push_str("</tbody></table></div>");
    html(StatusCode::OK, "Network", &body)
}

/// How many transactions the block page shows at once (`?from=` pages through the rest).
pub const BLOCK_TXS_PAGE: u64 = 100;

async fn block(State(shared): State<Arc<Shared>>, Path(height): Path<String>, RawQuery(query): RawQuery) -> Response {
    let Ok(height) = height.parse::<u64>() else {
        return error_page(StatusCode::BAD_REQUEST, &format!("`{height}` is not a height"));
    };
    let q = match numbers(query.as_deref(), &["from"]) {
        Ok(q) => q,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    let from = q.get("from").copied().unwrap_or(0);
    // only the page's transactions are decoded (the others are stepped over by their length)
    let start = usize::try_from(from).unwrap_or(usize::MAX);
    let page = match shared.store.block_page(height, start, BLOCK_TXS_PAGE as usize, true) {
        Ok(Some(b)) => b,
        Ok(None) if (1..=shared.store.base_height()).contains(&height) => {
            return error_page(
                StatusCode::GONE,
                &format!("block {height} was pruned from this node (ask an archive node)"),
            );
        }
        Ok(None) => return error_page(StatusCode::NOT_FOUND, &format!("no block at height {height}")),
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let count = u64::from(page.header.tx_count);
    if from > 0 && from >= count {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("block {height} has {count} transactions: none from position {from}"),
        );
    }
    let h = &page.header;
    let tip = crate::api::read_state(&shared, |l| l.state.height);
    let mut body = String::new();
    let _ = write!(body, "<h1>Block {}</h1>", h.height);
    let mut links = Vec::new();
    if h.height > 1 {
        links.push(format!("<a href=\"/blocks/{}\">← previous</a>", h.height - 1));
    }
    if h.height < tip {
        links.push(format!("<a href=\"/blocks/{}\">next →</a>", h.height + 1));
    }
    let nav = links.join(" · ");
    let _ = write!(body, "<p class=\"nav\">{nav}</p>");
    let producer = h.producer.to_hex();
    rows(
        &mut body,
        &[
            ("Hash", format!("<code>{}</code>", hex::encode(page.hash.unwrap_or_default()))),
            ("Parent", format!("<code>{}</code>", hex::encode(h.parent))),
            ("Time", h.time.to_string()),
            ("Producer", format!("<a href=\"/accounts/{0}\"><code>{0}</code></a>", escape(&producer))),
            ("State root", format!("<code>{}</code>", hex::encode(h.state_root))),
            (
                "Closed epochs",
                if page.closed_epochs.is_empty() {
                    "none".into()
                } else {
                    page.closed_epochs.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                },
            ),
        ],
    );
    let _ = write!(body, "<h2>Transactions <span class=\"muted\">{count}</span></h2>");
    let shown = page.rows.len() as u64;
    if count > BLOCK_TXS_PAGE {
        let _ = write!(
            body,
            "<p class=\"muted\" id=\"tx-window\">Transactions {} to {} of {count}.</p>",
            from,
            (from + shown).saturating_sub(1)
        );
    }
    body.push_str("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Id</th><th scope=\"col\">Kind</th><th scope=\"col\">Signer</th><th scope=\"col\">Result</th><th scope=\"col\">Fee</th></tr></thead><tbody>");
    for (k, (tx, receipt)) in page.rows.iter().enumerate() {
        let i = from + k as u64;
        let id = hex::encode(receipt.tx_id);
        let kind = tx.tx.body.kind_name();
        let signer = tx.tx.signer.to_hex();
        let result = match crate::api::error_name(receipt.code) {
            None => "<span class=\"ok\">ok</span>".to_string(),
            Some(e) => format!("<span class=\"refused\">{} ({})</span>", escape(&e), receipt.code),
        };
        let _ = write!(
            body,
            "<tr><td>{i}</td><td><a href=\"/tx/{}\"><code>{}</code></a></td><td>{}</td><td><a href=\"/accounts/{}\"><code>{}</code></a></td><td>{result}</td><td>{}</td></tr>",
            escape(&id),
            escape(&short(&id)),
            escape(kind),
            escape(&signer),
            escape(&short(&signer)),
            amount_cell(&receipt.fee.to_string())
        );
    }
    body.push_str("</tbody></table></div>");
    let mut pager = Vec::new();
    if from > 0 {
        let back = from.saturating_sub(BLOCK_TXS_PAGE);
        pager.push(format!(
            "<a rel=\"prev\" href=\"/blocks/{height}?from={back}\">← transactions {back} to {}</a>",
            from - 1
        ));
    }
    if from + shown < count {
        let next = from + shown;
        pager.push(format!(
            "<a rel=\"next\" href=\"/blocks/{height}?from={next}\">transactions {next} to {} →</a>",
            (next + BLOCK_TXS_PAGE).min(count) - 1
        ));
    }
    if !pager.is_empty() {
        let _ = write!(body, "<p class=\"nav\" id=\"tx-pages\">{}</p>", pager.join(" · "));
    }
    html(StatusCode::OK, &format!("Block {}", h.height), &body)
}

async fn epoch(State(shared): State<Arc<Shared>>, Path(text): Path<String>) -> Response {
    if text.parse::<u64>().is_err() {
        return error_page(StatusCode::BAD_REQUEST, &format!("`{text}` is not an epoch (a non-negative integer)"));
    }
    let (epoch, v) = match crate::api::closed_epoch(&shared, &text) {
        Ok(found) => found,
        Err(e) => return api_error(e),
    };
    let close = match shared.store.epoch_close(epoch) {
        Ok(close) => close,
        Err(e) => return damaged(e),
    };
    let open = crate::api::read_state(&shared, |l| l.state.epoch);
    let mut body = String::new();
    let _ = write!(body, "<h1>Epoch {epoch}</h1><p class=\"nav\">");
    if epoch > 1 {
        let _ = write!(body, "<a href=\"/epochs/{}\">← previous</a>", epoch - 1);
    }
    if epoch + 1 < open {
        let _ = write!(body, "{}<a href=\"/epochs/{}\">next →</a>", if epoch > 1 { " · " } else { "" }, epoch + 1);
    }
    body.push_str("</p>");
    rows(
        &mut body,
        &[
            ("Closed at block", close.map_or_else(|| "?".to_string(), |h| format!("<a href=\"/blocks/{h}\">{h}</a>"))),
            ("Policy version", escape(&text_of(&v["policy_version"]))),
            ("Minted", amount_cell(&text_of(&v["minted"]))),
            ("Burned", amount_cell(&text_of(&v["burned"]))),
            ("Debts paid", amount_cell(&text_of(&v["debts_paid"]))),
            ("Debts outstanding", amount_cell(&text_of(&v["debts_outstanding"]))),
            ("Total supply", amount_cell(&text_of(&v["total_supply"]))),
            ("Circulating", amount_cell(&text_of(&v["circulating"]))),
            ("Minted in all", amount_cell(&text_of(&v["minted_total"]))),
            ("Burned in all", amount_cell(&text_of(&v["burned_total"]))),
            ("Rewards root", format!("<code>{}</code>", escape(&text_of(&v["rewards_root"])))),
            ("State root", format!("<code>{}</code>", escape(&text_of(&v["state_root"])))),
        ],
    );
    body.push_str("<h2>Programs</h2><div class=\"scroll\"><table><thead><tr><th scope=\"col\">Program</th><th scope=\"col\">Budget</th><th scope=\"col\">Paid</th><th scope=\"col\">Dust</th><th scope=\"col\">Recipients</th></tr></thead><tbody>");
    for p in v["programs"].as_array().into_iter().flatten() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&text_of(&p["program"])),
            amount_cell(&text_of(&p["budget"])),
            amount_cell(&text_of(&p["paid"])),
            amount_cell(&text_of(&p["dust"])),
            escape(&text_of(&p["recipients"]))
        );
    }
    body.push_str("</tbody></table></div><h2>Pools</h2><div class=\"scroll\"><table><thead><tr><th scope=\"col\">Pool</th><th scope=\"col\">Released</th><th scope=\"col\">Released in all</th><th scope=\"col\">Remaining</th></tr></thead><tbody>");
    for p in v["pools"].as_array().into_iter().flatten() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&text_of(&p["pool"])),
            amount_cell(&text_of(&p["released"])),
            amount_cell(&text_of(&p["released_total"])),
            amount_cell(&text_of(&p["balance"]))
        );
    }
    body.push_str("</tbody></table></div>");
    let masters = v["master_nodes"].as_array().cloned().unwrap_or_default();
    let _ = write!(body, "<h2>Master nodes elected <span class=\"muted\">{}</span></h2>", masters.len());
    if !masters.is_empty() {
        body.push_str("<ol class=\"addresses\">");
        for a in &masters {
            let _ = write!(body, "<li>{}</li>", account_link(&text_of(a)));
        }
        body.push_str("</ol>");
    }
    let proposals = v["proposals"].as_array().cloned().unwrap_or_default();
    if !proposals.is_empty() {
        body.push_str("<h2>Proposals ended</h2><ul>");
        for p in &proposals {
            let _ = write!(body, "<li>proposal {}: {}</li>", escape(&text_of(&p[0])), escape(&text_of(&p[1])));
        }
        body.push_str("</ul>");
    }
    if !v["refused_upgrade"].is_null() {
        let _ = write!(
            body,
            "<h2>Refused upgrade</h2><pre>{}</pre>",
            escape(&serde_json::to_string_pretty(&v["refused_upgrade"]).unwrap_or_default())
        );
    }
    let _ = write!(
        body,
        "<p class=\"muted\">The same summary as JSON: <a href=\"/v1/epochs/{epoch}\">/v1/epochs/{epoch}</a>.</p>"
    );
    html(StatusCode::OK, &format!("Epoch {epoch}"), &body)
}

async fn transaction(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let status = match crate::api::tx_status(&shared, &id) {
        Ok(status) => status,
        Err(e) => return api_error(e),
    };
    let id = id.to_ascii_lowercase();
    let mut body = format!("<h1>Transaction</h1><p><code>{}</code></p>", escape(&id));
    match status {
        crate::openapi::TxStatus::Committed(r) => {
            let result = match &r.error {
                None => "<span class=\"ok\">applied</span>".to_string(),
                Some(name) => {
                    let text = gridmint_core::TxError::from_code(r.code).map_or("", |e| e.describe());
                    format!(
                        "<span class=\"refused\">{} (code {})</span><br><span class=\"muted\">{}</span>",
                        escape(name),
                        r.code,
                        escape(text)
                    )
                }
            };
            rows(
                &mut body,
                &[
                    ("Status", "committed".into()),
                    ("Block", format!("<a href=\"/blocks/{0}\">{0}</a>", r.height)),
                    ("Position", r.index.to_string()),
                    ("Result", result),
                    ("Code", r.code.to_string()),
                    ("Fee", amount_cell(&r.fee)),
                ],
            );
            // its body, from its block: one block read, only this transaction decoded (a pruned
            // block has none to show; a damaged one is said, never left out)
            let page = match shared.store.block_page(r.height, r.index as usize, 1, false) {
                Ok(page) => page,
                Err(e) => return damaged(e),
            };
            if let Some(page) = page
                && let Some((tx, _)) = page.rows.first()
            {
                let value = serde_json::to_value(tx).unwrap_or_default();
                body.push_str("<h2>Body</h2>");
                let mut fields: Vec<(&str, String)> = Vec::new();
                let signer = text_of(&value["tx"]["signer"]);
                fields.push(("Signer", account_link(&signer)));
                fields.push(("Nonce", escape(&text_of(&value["tx"]["nonce"]))));
                let mut table = String::new();
                rows(&mut table, &fields);
                body.push_str(&table);
                let _ = write!(
                    body,
                    "<pre>{}</pre>",
                    escape(&serde_json::to_string_pretty(&value["tx"]["body"]).unwrap_or_default())
                );
            }
        }
        crate::openapi::TxStatus::Pending(_) => {
            rows(&mut body, &[("Status", "pending: waiting in the mempool or in the block being sealed".into())]);
        }
        crate::openapi::TxStatus::Dropped(d) => {
            rows(
                &mut body,
                &[
                    ("Status", "dropped: refused when its block executed, never stored".into()),
                    (
                        "Error",
                        format!("<span class=\"refused\">{} (code {})</span>", escape(&d.error.name), d.error.code),
                    ),
                    ("Why", escape(&d.error.message)),
                ],
            );
        }
    }
    let _ = write!(body, "<p class=\"muted\">As JSON: <a href=\"/v1/tx/{0}\">/v1/tx/{0}</a>.</p>", escape(&id));
    html(StatusCode::OK, "Transaction", &body)
}

/// What the account page shows besides the API's view, copied under the read lock.
struct AccountExtra {
    open: u64,
    machines: Vec<String>,
    machine_count: u64,
}

async fn account(
    State(shared): State<Arc<Shared>>,
    Path(address): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(parsed) = crate::api::parse_address(&address) else {
        return error_page(StatusCode::BAD_REQUEST, &format!("`{address}` is not an address (64 hex digits or gm1…)"));
    };
    // `txs_before` is a position (`HEIGHT.INDEX`), the other keys numbers
    let (mut txs_before, mut rest) = (None, Vec::new());
    for pair in query.as_deref().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("txs_before", v)) => match crate::api::parse_position(v) {
                Ok(position) => txs_before = Some(position),
                Err(e) => return api_error(e),
            },
            _ => rest.push(pair),
        }
    }
    let q = match numbers(Some(&rest.join("&")), &["machines_from", "epochs_before", "txs_before"]) {
        Ok(q) => q,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    let Some(a) = crate::api::account_view(&shared, &parsed) else {
        return error_page(StatusCode::NOT_FOUND, &format!("no account {}", parsed.to_hex()));
    };
    let machines_from = q.get("machines_from").copied().unwrap_or(0);
    let extra = crate::api::read_state(&shared, |l| {
        let s = &l.state;
        let ids = s.account_id(&parsed).and_then(|id| s.owner_machines.get(&id)).map(Vec::as_slice).unwrap_or_default();
        let start = usize::try_from(machines_from).unwrap_or(usize::MAX).min(ids.len());
        AccountExtra {
            open: s.epoch,
            machines: ids[start..]
                .iter()
                .take(PAGE as usize)
                .filter_map(|m| s.machine_address(*m))
                .map(|m| m.to_hex())
                .collect(),
            machine_count: ids.len() as u64,
        }
    });
    // rewards per closed epoch, from the reward leaves (the store reads the proof and explain
    // routes use): the newest CHART_EPOCHS before `epochs_before`
    let last = q.get("epochs_before").copied().unwrap_or(extra.open).min(extra.open).saturating_sub(1);
    let first = last.saturating_sub(CHART_EPOCHS - 1).max(1);
    let mut rewards: Vec<(u64, u128, u128)> = Vec::new();
    if last >= 1 {
        // an epoch closed before the snapshot this node started from has no leaves here: its
        // total is unknown (not 0), and neither it nor the next epoch's earnings are shown
        let total_at = |e: u64| -> Result<Option<u128>, crate::store::StoreError> {
            if e == 0 {
                return Ok(Some(0));
            }
            shared
                .store
                .epoch_close(e)?
                .map(|_| shared.store.leaf_total(e, &parsed).map(|t| t.unwrap_or(0)))
                .transpose()
        };
        let mut before = match total_at(first - 1) {
            Ok(total) => total,
            Err(e) => return damaged(e),
        };
        for e in first..=last {
            let after = match total_at(e) {
                Ok(total) => total,
                Err(e) => return damaged(e),
            };
            if let (Some(b), Some(t)) = (before, after) {
                rewards.push((e, t.saturating_sub(b), t));
            }
            before = after;
        }
    }
    let address_hex = escape(&a.address);
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Account</h1><p><code>{}</code><br><code>{}</code></p>",
        address_hex,
        escape(&a.address_bech32m)
    );
    rows(
        &mut body,
        &[
            ("Spendable", amount_cell(&a.spendable)),
            ("Staked", amount_cell(&a.staked)),
            ("Unbonding", amount_cell(&a.unbonding)),
            ("Escrowed", amount_cell(&a.escrowed)),
            ("Claimable rewards", amount_cell(&a.unclaimed)),
            ("Rewards earned in all", amount_cell(&a.rewards_total)),
            ("Holding", amount_cell(&a.holding)),
            ("Nonce", a.nonce.to_string()),
            ("Machines", a.machines.to_string()),
            ("As of height", format!("<a href=\"/blocks/{0}\">{0}</a>", a.height)),
        ],
    );
    let _ = write!(
        body,
        "<p class=\"muted\">Check these balances against the block's state root: <a href=\"/v1/accounts/{0}/proof\">the account proof</a> (<code>gridmint verify-account</code>).</p>",
        address_hex
    );

    let _ = write!(body, "<h2>Rewards per epoch</h2>");
    if rewards.is_empty() {
        body.push_str("<p class=\"muted\">No closed epoch in this range.</p>");
    } else {
        let _ = write!(body, "<p class=\"muted\">Epochs {first} to {last}.</p>");
        let bars: Vec<(String, Vec<u128>)> =
            rewards.iter().map(|(e, earned, _)| (format!("epoch {e}"), vec![*earned])).collect();
        body.push_str(&bar_chart("rewards earned per epoch", &["earned".to_string()], &bars));
        body.push_str("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Epoch</th><th scope=\"col\">Earned</th><th scope=\"col\">Earned in all</th><th scope=\"col\">Why, and the proof</th></tr></thead><tbody>");
        for (e, earned, total) in rewards.iter().rev() {
            let _ = write!(
                body,
                "<tr><td><a href=\"/epochs/{e}\">{e}</a></td><td>{}</td><td>{}</td><td><a href=\"/accounts/{address_hex}/epochs/{e}\">explain and verify</a></td></tr>",
                amount_cell(&earned.to_string()),
                amount_cell(&total.to_string())
            );
        }
        body.push_str("</tbody></table></div>");
        if first > 1 {
            let _ = write!(
                body,
                "<p class=\"nav\"><a href=\"/accounts/{address_hex}?epochs_before={first}\">← older epochs</a></p>"
            );
        }
    }

    let _ = write!(body, "<h2>Machines <span class=\"muted\">{}</span></h2>", extra.machine_count);
    if extra.machines.is_empty() {
        body.push_str("<p class=\"muted\">None here.</p>");
    } else {
        let _ = write!(body, "<ol class=\"addresses\" start=\"{}\">", machines_from + 1);
        for m in &extra.machines {
            let _ = write!(body, "<li><a href=\"/machines/{m}\"><code>{m}</code></a></li>");
        }
        body.push_str("</ol>");
        let next = machines_from + PAGE;
        let mut nav = Vec::new();
        if machines_from > 0 {
            nav.push(format!(
                "<a href=\"/accounts/{address_hex}?machines_from={}\">← previous</a>",
                machines_from.saturating_sub(PAGE)
            ));
        }
        if next < extra.machine_count {
            nav.push(format!("<a href=\"/accounts/{address_hex}?machines_from={next}\">next →</a>"));
        }
        if !nav.is_empty() {
            let _ = write!(body, "<p class=\"nav\">{}</p>", nav.join(" · "));
        }
    }
    let txs = match crate::api::account_txs_page(&shared, &parsed, txs_before, crate::api::ACCOUNT_TXS_PAGE) {
        Ok(page) => page,
        Err(e) => return api_error(e),
    };
    account_transactions(&mut body, &address_hex, &txs, txs_before.is_some());
    html(StatusCode::OK, "Account", &body)
}

/// The account page's list of transactions, newest first, a page from the `account_txs` index
/// (the same rows as `GET /v1/accounts/{a}/txs`).
fn account_transactions(body: &mut String, address_hex: &str, page: &crate::openapi::AccountTxList, paged: bool) {
    body.push_str("<h2>Transactions</h2>");
    if page.txs.is_empty() {
        body.push_str("<p class=\"muted\">None in the blocks this node keeps.</p>");
    } else {
        body.push_str(
            "<div class=\"scroll\"><table class=\"txs\"><thead><tr><th scope=\"col\">Block</th><th scope=\"col\">Transaction</th>\
             <th scope=\"col\">Kind</th><th scope=\"col\">This account</th><th scope=\"col\">Amount</th>\
             <th scope=\"col\">Result</th></tr></thead><tbody>",
        );
        for t in &page.txs {
            let id = escape(&t.id);
            let role = if t.role == "signer" { "signed it" } else { "named in it" };
            let result = match &t.error {
                None if t.code == 0 => "applied".to_string(),
                error => format!(
                    "<span class=\"error\">{} (code {})</span>",
                    escape(error.as_deref().unwrap_or("failed")),
                    t.code
                ),
            };
            let amount = if t.amount == "0" { "—".to_string() } else { amount_cell(&t.amount) };
            let _ = write!(
                body,
                "<tr><td><a href=\"/blocks/{0}\">{0}</a></td><td><a href=\"/tx/{id}\"><code>{1}</code></a></td>\
                 <td>{2}</td><td>{role}</td><td>{amount}</td><td>{result}</td></tr>",
                t.height,
                short(&t.id),
                escape(&t.kind),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    let mut nav = Vec::new();
    if paged {
        nav.push(format!("<a href=\"/accounts/{address_hex}\">← newest</a>"));
    }
    if let Some(next) = &page.next_before {
        nav.push(format!("<a href=\"/accounts/{address_hex}?txs_before={}\">older →</a>", escape(next)));
    }
    if !nav.is_empty() {
        let _ = write!(body, "<p class=\"nav\">{}</p>", nav.join(" · "));
    }
    let mut notes = String::from("Heartbeats are not listed: a machine's online slots are on its page.");
    if page.pruned_through > 0 {
        let _ = write!(
            notes,
            " Blocks up to {} are pruned on this node: their transactions are not listed here.",
            page.pruned_through
        );
    }
    let _ = write!(body, "<p class=\"muted\">{notes}</p>");
}

/// What the machine page shows besides the API's view, copied under the read lock.
struct MachineExtra {
    id: u32,
    bandwidth_tier: u8,
    unclaimed: u128,
    min_online_slots: u32,
    slots_per_epoch: u64,
}

async fn machine(
    State(shared): State<Arc<Shared>>,
    Path(address): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(parsed) = crate::api::parse_address(&address) else {
        return error_page(StatusCode::BAD_REQUEST, &format!("`{address}` is not an address (64 hex digits or gm1…)"));
    };
    let q = match numbers(query.as_deref(), &["epochs_before"]) {
        Ok(q) => q,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    let found = crate::api::read_state(&shared, |l| {
        let m = crate::api::machine_response(l, &parsed)?;
        let s = &l.state;
        let id = s.machine_id(&parsed).unwrap_or_default();
        Ok::<_, crate::api::ApiError>((
            m,
            MachineExtra {
                id,
                bandwidth_tier: s.machines[id as usize].bandwidth_tier,
                unclaimed: s.machine_unclaimed(id),
                min_online_slots: s.policy.connection_reward.as_ref().map_or(0, |c| c.min_online_slots),
                slots_per_epoch: s.policy.epoch.seconds / s.policy.epoch.slot_seconds.max(1),
            },
        ))
    });
    let (m, x) = match found {
        Ok(found) => found,
        Err(e) => return api_error(e),
    };
    let v = &m.machine;
    // online slots per closed epoch, from the explain records (the store read the explain route
    // uses): one owner's chunk per epoch, the newest CHART_EPOCHS before `epochs_before`
    let last = q.get("epochs_before").copied().unwrap_or(m.epoch).min(m.epoch).saturating_sub(1);
    let first = last.saturating_sub(CHART_EPOCHS - 1).max(1);
    // one read transaction; each owner's record is scanned in place for this machine's entry,
    // the others stepped over undecoded ([`crate::store::Store::machine_explains`])
    let epochs: Vec<(u64, Option<crate::block::MachineEpoch>, u32)> = if last >= 1 {
        match shared.store.machine_explains(&v.owner, x.id, first..=last) {
            Ok(found) => found
                .into_iter()
                .map(|(e, threshold, entry)| (e, entry, threshold.unwrap_or(x.min_online_slots)))
                .collect(),
            Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    } else {
        Vec::new()
    };
    let hex = escape(&v.machine.to_hex());
    let mut body = format!("<h1>Machine</h1><p><code>{hex}</code><br><code>{}</code></p>", escape(&m.machine_bech32m));
    let qualifies = u32::from(v.online_slots) >= x.min_online_slots && !v.forfeited && v.weight > 0;
    rows(
        &mut body,
        &[
            ("Owner", format!("<a href=\"/accounts/{0}\"><code>{0}</code></a>", escape(&v.owner.to_hex()))),
            ("GPU class", v.gpu_class.to_string()),
            ("Bandwidth", format!("{} Mbit/s (tier {})", v.bandwidth_mbps, x.bandwidth_tier)),
            ("Connection weight", v.weight.to_string()),
            (
                "Online slots this epoch",
                format!(
                    "{} of {} (qualifies from {}): {}",
                    v.online_slots,
                    x.slots_per_epoch,
                    x.min_online_slots,
                    if v.forfeited {
                        "<span class=\"refused\">forfeited (a failed job)</span>".to_string()
                    } else if qualifies {
                        "<span class=\"ok\">qualifies so far</span>".to_string()
                    } else {
                        "<span class=\"refused\">below the threshold so far</span>".to_string()
                    }
                ),
            ),
            ("Rewards in all", amount_cell(&v.rewards_total.to_string())),
            ("Not yet claimed", amount_cell(&x.unclaimed.to_string())),
            ("Epoch", format!("{} (as of height <a href=\"/blocks/{1}\">{1}</a>)", m.epoch, m.height)),
        ],
    );
    body.push_str("<h2>Online slots per epoch</h2>");
    if epochs.is_empty() {
        body.push_str("<p class=\"muted\">No epoch has closed yet.</p>");
    } else {
        let _ = write!(
            body,
            "<p class=\"muted\">Epochs {first} to {last}: each cell one closed epoch, darker the more slots online; a ring marks one that qualified.</p>"
        );
        let n = epochs.len() as f64;
        let w = CHART_W / n.max(1.0);
        let _ = write!(
            body,
            "<svg class=\"strip\" viewBox=\"0 0 {CHART_W} 40\" role=\"img\" aria-label=\"online slots per epoch\" xmlns=\"http://www.w3.org/2000/svg\">"
        );
        for (i, (e, entry, threshold)) in epochs.iter().enumerate() {
            let (slots, class, what) = match entry {
                None => (0, "none", "not in the record (not registered, or no owner record)".to_string()),
                Some(me) if me.qualified => {
                    (me.online_slots, "q", format!("qualified, earned {} tokens", tokens(&me.earned.to_string())))
                }
                Some(me) if me.forfeited => (me.online_slots, "nq", "forfeited".to_string()),
                Some(me) => (me.online_slots, "nq", format!("below the threshold of {threshold}")),
            };
            let opacity = if x.slots_per_epoch == 0 {
                1.0
            } else {
                0.15 + 0.85 * (f64::from(slots) / x.slots_per_epoch as f64).min(1.0)
            };
            let _ = write!(
                body,
                "<rect class=\"{class}\" x=\"{:.2}\" y=\"4\" width=\"{:.2}\" height=\"32\" fill-opacity=\"{opacity:.2}\"><title>epoch {e}: {slots} of {} slots online; {}</title></rect>",
                i as f64 * w,
                (w - 1.0).max(0.5),
                x.slots_per_epoch,
                escape(&what)
            );
        }
        body.push_str("</svg>");
        body.push_str("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Epoch</th><th scope=\"col\">Online slots</th><th scope=\"col\">Threshold</th><th scope=\"col\">Qualified</th><th scope=\"col\">Earned</th><th scope=\"col\">Rewards before the close</th></tr></thead><tbody>");
        for (e, entry, threshold) in epochs.iter().rev() {
            match entry {
                Some(me) => {
                    let _ = write!(
                        body,
                        "<tr><td><a href=\"/epochs/{e}\">{e}</a></td><td>{}</td><td>{threshold}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        me.online_slots,
                        if me.qualified {
                            "<span class=\"ok\">yes</span>"
                        } else if me.forfeited {
                            "<span class=\"refused\">forfeited</span>"
                        } else {
                            "<span class=\"refused\">no</span>"
                        },
                        amount_cell(&me.earned.to_string()),
                        amount_cell(&me.rewards_total.to_string())
                    );
                }
                None => {
                    let _ = write!(
                        body,
                        "<tr><td><a href=\"/epochs/{e}\">{e}</a></td><td colspan=\"5\" class=\"muted\">not in this epoch's record</td></tr>"
                    );
                }
            }
        }
        body.push_str("</tbody></table></div>");
        if first > 1 {
            let _ = write!(
                body,
                "<p class=\"nav\"><a href=\"/machines/{hex}?epochs_before={first}\">← older epochs</a></p>"
            );
        }
    }
    html(StatusCode::OK, "Machine", &body)
}

/// The validators page's copy of the state: one page of validators (address, operator, active
/// stake, master node?) and the first master nodes.
struct ValidatorsPage {
    height: u64,
    epoch: u64,
    count: usize,
    rows: Vec<(String, String, u128, bool)>,
    master_count: usize,
    master_nodes: Vec<String>,
}

async fn validators(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let q = match numbers(query.as_deref(), &["from"]) {
        Ok(q) => q,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    let from = q.get("from").copied().unwrap_or(0);
    let start = usize::try_from(from).unwrap_or(usize::MAX);
    // only the page is copied under the lock; "master node?" is a set lookup
    let v = crate::api::read_state(&shared, |l| {
        let s = &l.state;
        let elected: std::collections::BTreeSet<&gridmint_core::Address> = s.master_nodes.iter().collect();
        ValidatorsPage {
            height: s.height,
            epoch: s.epoch,
            count: s.validators.len(),
            rows: s
                .validators
                .iter()
                .skip(start)
                .take(PAGE as usize)
                .map(|(address, v)| {
                    (
                        address.to_hex(),
                        s.accounts[v.operator as usize].address.to_hex(),
                        v.active,
                        elected.contains(address),
                    )
                })
                .collect(),
            master_count: s.master_nodes.len(),
            master_nodes: s.master_nodes.iter().take(PAGE as usize * 4).map(gridmint_core::Address::to_hex).collect(),
        }
    });
    let mut body = format!("<h1>Validators <span class=\"muted\">{}</span></h1>", v.count);
    let _ = write!(
        body,
        "<p>Epoch {}, height <a href=\"/blocks/{1}\">{1}</a>; {2} master nodes elected.</p>",
        v.epoch, v.height, v.master_count
    );
    body.push_str("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Validator</th><th scope=\"col\">Operator</th><th scope=\"col\">Active stake</th><th scope=\"col\">Master node</th></tr></thead><tbody>");
    let start = start.min(v.count);
    for (address, operator, active, master) in &v.rows {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            account_link(address),
            account_link(operator),
            amount_cell(&active.to_string()),
            if *master { "<span class=\"ok\">yes</span>" } else { "no" }
        );
    }
    body.push_str("</tbody></table></div>");
    let mut nav = Vec::new();
    if from > 0 {
        nav.push(format!("<a href=\"/validators?from={}\">← previous</a>", from.saturating_sub(PAGE)));
    }
    if (start as u64) + PAGE < v.count as u64 {
        nav.push(format!("<a href=\"/validators?from={}\">next →</a>", start as u64 + PAGE));
    }
    if !nav.is_empty() {
        let _ = write!(body, "<p class=\"nav\">{}</p>", nav.join(" · "));
    }
    body.push_str("<h2>Master nodes, in election order</h2>");
    if v.master_nodes.is_empty() {
        body.push_str("<p class=\"muted\">None elected.</p>");
    } else {
        body.push_str("<ol class=\"addresses\">");
        for a in v.master_nodes.iter().take(PAGE as usize * 4) {
            let _ = write!(body, "<li>{}</li>", account_link(a));
        }
        body.push_str("</ol>");
    }
    html(StatusCode::OK, "Validators", &body)
}

/// One proposal as the governance page shows it.
struct ProposalRow {
    id: u64,
    proposer: String,
    action: String,
    start: u64,
    end: u64,
    yes: String,
    no: String,
    quorum: String,
    voters: u64,
    outcome: String,
}

async fn governance(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let q = match numbers(query.as_deref(), &["before"]) {
        Ok(q) => q,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    let before = q.get("before").copied().unwrap_or(u64::MAX);
    // the API's view (`GET /v1/governance`): only the page is copied under the lock
    let list = crate::api::proposals_view(&shared, before, PAGE as usize);
    let (total, epoch, open, next_before) = (list.total, list.epoch, list.open, list.next_before);
    let bound = match list.max_open {
        Some(n) => format!("at most {n} at once, one per proposer"),
        None => "no bound in this policy".into(),
    };
    let rows_: Vec<ProposalRow> = list
        .proposals
        .into_iter()
        .map(|p| ProposalRow {
            id: p.id,
            proposer: p.proposer,
            action: match &p.action {
                gridmint_core::ProposalAction::TreasurySpend { to, amount } => {
                    format!(
                        "treasury spend of {} tokens ({amount} base units) to {}",
                        tokens(&amount.to_string()),
                        to.to_hex()
                    )
                }
                gridmint_core::ProposalAction::PolicyChange { changes } => format!(
                    "policy change: {}",
                    changes.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join("; ")
                ),
            },
            start: p.start_epoch,
            end: p.end_epoch,
            yes: p.yes,
            no: p.no,
            quorum: p.quorum,
            voters: p.voters,
            outcome: p.outcome,
        })
        .collect();
    let mut body = format!(
        "<h1>Governance <span class=\"muted\">{total} proposals</span></h1><p>The open epoch is {epoch}. {open} in their \
         voting periods ({bound}). Newest first.</p>"
    );
    if rows_.is_empty() {
        body.push_str("<p class=\"muted\">No proposal here.</p>");
    }
    for p in &rows_ {
        let _ =
            write!(body, "<h2 id=\"p{0}\">Proposal {0} <span class=\"tag\">{1}</span></h2>", p.id, escape(&p.outcome));
        rows(
            &mut body,
            &[
                ("Action", escape(&p.action)),
                ("Proposer", account_link(&p.proposer)),
                ("Voting", format!("epochs {} to {} (executes at the close of {})", p.start, p.end, p.end)),
                ("Yes", amount_cell(&p.yes)),
                ("No", amount_cell(&p.no)),
                ("Quorum", amount_cell(&p.quorum)),
                ("Voters", p.voters.to_string()),
            ],
        );
    }
    if let Some(next) = next_before {
        let _ = write!(body, "<p class=\"nav\"><a href=\"/governance?before={next}\">older →</a></p>");
    }
    html(StatusCode::OK, "Governance", &body)
}

async fn bridge(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let q = match numbers(query.as_deref(), &["out_from", "in_from"]) {
        Ok(q) => q,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    let (out_from, in_from) = (q.get("out_from").copied().unwrap_or(0), q.get("in_from").copied().unwrap_or(0));
    let (view, outbound, inbound) = crate::api::read_state(&shared, |l| {
        (
            crate::api::bridge_view(l),
            crate::api::outbound_list(l, out_from, PAGE as usize),
            crate::api::inbound_list(l, in_from, PAGE as usize),
        )
    });
    let Some(b) = view else {
        return error_page(StatusCode::NOT_FOUND, "this network has no bridge");
    };
    let mut body = String::from("<h1>Bridge</h1>");
    rows(
        &mut body,
        &[
            ("Escrow", amount_cell(&b.escrow)),
            ("Inbound waiting", amount_cell(&b.inbound_waiting)),
            ("Inbound cap this epoch", amount_cell(&b.inbound_cap_epoch)),
            ("Inbound paid this epoch", amount_cell(&b.inbound_paid_epoch)),
            ("Outbound records", b.outbound_records.to_string()),
            ("Inbound confirmed", b.inbound_confirmed.to_string()),
            ("Committee", format!("{} members, threshold {}", b.committee.len(), b.threshold)),
        ],
    );
    body.push_str("<h2>Outbound</h2><div class=\"scroll\"><table><thead><tr><th scope=\"col\">Id</th><th scope=\"col\">From</th><th scope=\"col\">Amount</th><th scope=\"col\">Recipient</th><th scope=\"col\">Epoch</th><th scope=\"col\">Signatures</th></tr></thead><tbody>");
    for r in &outbound.records {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><a href=\"/epochs/{4}\">{4}</a></td><td>{5}</td></tr>",
            r.id,
            account_link(&r.from),
            amount_cell(&r.amount),
            escape(r.recipient_evm.as_deref().unwrap_or(&r.recipient)),
            r.epoch,
            r.signatures.len()
        );
    }
    body.push_str("</tbody></table></div>");
    let pages = |key: &str, from: u64, next: Option<u64>, other: &str| {
        let mut nav = Vec::new();
        if from > 0 {
            nav.push(format!("<a href=\"/bridge?{key}={}&amp;{other}\">← previous</a>", from.saturating_sub(PAGE)));
        }
        if let Some(next) = next {
            nav.push(format!("<a href=\"/bridge?{key}={next}&amp;{other}\">next →</a>"));
        }
        if nav.is_empty() { String::new() } else { format!("<p class=\"nav\">{}</p>", nav.join(" · ")) }
    };
    body.push_str(&pages("out_from", out_from, outbound.next_from, &format!("in_from={in_from}")));
    body.push_str("<h2>Inbound</h2><div class=\"scroll\"><table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Deposit</th><th scope=\"col\">Recipient</th><th scope=\"col\">Amount</th><th scope=\"col\">Paid</th><th scope=\"col\">Epoch</th></tr></thead><tbody>");
    for i in &inbound.payouts {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td><a href=\"/epochs/{6}\">{6}</a></td></tr>",
            i.index,
            i.deposit_id,
            account_link(&i.recipient),
            amount_cell(&i.amount),
            amount_cell(&i.paid),
            if i.settled { " <span class=\"ok\">settled</span>" } else { "" },
            i.epoch
        );
    }
    body.push_str("</tbody></table></div>");
    body.push_str(&pages("in_from", in_from, inbound.next_from, &format!("out_from={out_from}")));
    html(StatusCode::OK, "Bridge", &body)
}

#[derive(serde::Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

/// Where a search goes: `Ok(path)`, or why nothing matched (an HTML 400 for text that is no
/// height, epoch, id or address).
fn search_target(shared: &Shared, q: &str) -> Result<String, String> {
    let help = "Search for an address (64 hex digits or gm1…), a transaction id (64 hex digits), a block \
                height (a number, e.g. 123) or an epoch (e12 or epoch 12).";
    let lower = q.to_ascii_lowercase();
    if let Ok(height) = q.parse::<u64>() {
        return Ok(format!("/blocks/{height}"));
    }
    let epoch = lower.strip_prefix("epoch").or_else(|| lower.strip_prefix('e')).map(str::trim);
    if let Some(Ok(epoch)) = epoch.map(str::parse::<u64>) {
        return Ok(format!("/epochs/{epoch}"));
    }
    if q.len() == 64 && q.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut id = [0u8; 32];
        if hex::decode_to_slice(q, &mut id).is_ok()
            // a damaged index entry leads to the transaction's page, which says so
            && (matches!(shared.store.tx(&id), Ok(Some(_)) | Err(_))
                || shared.mempool.lock().unwrap_or_else(|e| e.into_inner()).contains(&id))
        {
            return Ok(format!("/tx/{lower}"));
        }
    }
    if let Ok(address) = crate::api::parse_address(q) {
        let machine = crate::api::read_state(shared, |l| l.state.machine_id(&address).is_some());
        return Ok(if machine {
            format!("/machines/{}", address.to_hex())
        } else {
            format!("/accounts/{}", address.to_hex())
        });
    }
    Err(format!("Nothing matches `{q}`. {help}"))
}

async fn search(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = query.ok().and_then(|Query(q)| q.q).unwrap_or_default();
    let target = match search_target(&shared, q.trim()) {
        Ok(target) => target,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(&target) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    secure(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The charted epochs for every count of closed epochs up to 10,000 (and a few huge ones):
    /// never a panic (the step once walked past epoch 1 and underflowed, at 61 closed epochs),
    /// at most `CHART_EPOCHS`, ascending, distinct, within `1..open`, ending with the last closed.
    #[test]
    fn sampled_epochs_end_at_the_last_closed_and_never_underflow() {
        for open in (0..=10_001).chain([u64::MAX / 2, u64::MAX - 1, u64::MAX]) {
            let (epochs, step) = sampled_epochs(open);
            let closed = open.saturating_sub(1);
            assert!(step >= 1);
            if closed == 0 {
                assert!(epochs.is_empty());
                continue;
            }
            assert!(!epochs.is_empty() && epochs.len() as u64 <= CHART_EPOCHS, "open {open}: {}", epochs.len());
            assert_eq!(*epochs.last().unwrap(), closed, "open {open}");
            assert!(epochs[0] >= 1 && epochs.windows(2).all(|w| w[0] < w[1]), "open {open}: {epochs:?}");
            if closed <= CHART_EPOCHS {
                assert_eq!(epochs, (1..=closed).collect::<Vec<_>>(), "every epoch while they fit");
            }
        }
    }

    #[test]
    fn amounts_are_exact_cut_and_grouped() {
        assert_eq!(tokens("0"), "0.0000");
        assert_eq!(tokens("1"), "0.0000", "a base unit is below the fourth decimal: cut, not rounded");
        assert_eq!(tokens("999999999999999999"), "0.9999");
        assert_eq!(tokens("1000000000000000000"), "1.0000");
        assert_eq!(tokens("1234567891234500000000000"), "1,234,567.8912");
        assert_eq!(tokens(&u128::MAX.to_string()), "340,282,366,920,938,463,463.3746");
        assert_eq!(tokens("<b>"), "&lt;b&gt;");
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
