//! The explorer every node serves beside its API (issue 15, first pages): HTML rendered on the
//! server from the same views the API answers with, so a page and `GET /v1/…` never disagree.
//!
//! - `/`: the network: height, epoch and the time to its close, supply (total, circulating,
//!   minted, burned, bridge escrow), each pool's balance and release, the elected master nodes,
//!   the latest blocks, and a search box;
//! - `/blocks/{height}`: a block's header and its transactions with their receipts;
//! - `/accounts/{address}`: an account's balances, nonce and machine count;
//! - `/search?q=`: a height or an address, redirected to its page;
//! - `/assets/explorer.css`: the one stylesheet (embedded in the binary).
//!
//! No script, no inline style, no third-party asset: every page is sent with a strict
//! Content-Security-Policy (`default-src 'none'`, styles from this origin only), `nosniff`, no
//! referrer, and `Cache-Control: no-cache`. Every value written into a page goes through
//! [`escape`]. A page copies what it shows under the ledger's read lock and renders after
//! releasing it: page loads never hold up block production. Unknown pages, blocks and accounts
//! answer an HTML 404 page, and malformed input an HTML 400 page.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
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
         <input id=\"q\" name=\"q\" placeholder=\"height or address\" autocomplete=\"off\">\
         <button type=\"submit\">Go</button></form></header><main>{body}</main>\
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

/// What the network page shows, copied under the read lock.
struct Network {
    chain_id: String,
    policy: String,
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
            policy: format!("{} v{}", s.policy.name, s.policy.version),
            height: s.height,
            epoch: s.epoch,
            time: s.time,
            epoch_end: s.epoch_end_time(s.epoch),
            supply: crate::api::supply_view(l),
            master_nodes: s.master_nodes.iter().map(|a| a.to_hex()).collect(),
        }
    });
    let base = shared.store.base_height();
    let latest: Vec<_> = (n.height.saturating_sub(LATEST_BLOCKS - 1).max(base + 1).max(1)..=n.height)
        .rev()
        .filter_map(|h| shared.store.block(h).ok().flatten())
        .map(|b| (b.height, b.time, b.txs.len(), b.producer.to_hex(), b.closed_epochs.len()))
        .collect();
    let mut body = String::new();
    let _ = write!(body, "<h1>Network <span class=\"muted\">{}</span></h1>", escape(&n.chain_id));
    rows(
        &mut body,
        &[
            ("Height", format!("<a href=\"/blocks/{0}\">{0}</a>", n.height)),
            ("Epoch", n.epoch.to_string()),
            ("Epoch closes in", format!("{} s", n.epoch_end.saturating_sub(n.time))),
            ("Policy", escape(&n.policy)),
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
    body.push_str("<h2>Pools</h2><table><thead><tr><th scope=\"col\">Pool</th><th scope=\"col\">Balance</th><th scope=\"col\">Released</th></tr></thead><tbody>");
    for p in &s.pools {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&p.name),
            amount_cell(&p.balance),
            amount_cell(&p.released_total)
        );
    }
    body.push_str("</tbody></table>");
    let _ = write!(body, "<h2>Master nodes <span class=\"muted\">{}</span></h2>", n.master_nodes.len());
    if n.master_nodes.is_empty() {
        body.push_str("<p class=\"muted\">None elected.</p>");
    } else {
        body.push_str("<ol class=\"addresses\">");
        for a in &n.master_nodes {
            let _ = write!(body, "<li><a href=\"/accounts/{a}\"><code>{a}</code></a></li>");
        }
        body.push_str("</ol>");
    }
    body.push_str("<h2>Latest blocks</h2><table><thead><tr><th scope=\"col\">Height</th><th scope=\"col\">Time</th><th scope=\"col\">Transactions</th><th scope=\"col\">Producer</th></tr></thead><tbody>");
    for (height, time, txs, producer, closes) in &latest {
        let closed = if *closes > 0 { " <span class=\"tag\">epoch close</span>" } else { "" };
        let _ = write!(
            body,
            "<tr><td><a href=\"/blocks/{height}\">{height}</a>{closed}</td><td>{time}</td><td>{txs}</td>\
             <td><a href=\"/accounts/{producer}\"><code>{}</code></a></td></tr>",
            short(producer)
        );
    }
    body.push_str("</tbody></table>");
    html(StatusCode::OK, "Network", &body)
}

async fn block(State(shared): State<Arc<Shared>>, Path(height): Path<String>) -> Response {
    let Ok(height) = height.parse::<u64>() else {
        return error_page(StatusCode::BAD_REQUEST, &format!("`{height}` is not a height"));
    };
    let stored = match shared.store.block(height) {
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
    let v = crate::api::block_view(stored);
    let mut body = String::new();
    let _ = write!(body, "<h1>Block {}</h1>", v.height);
    let nav = format!(
        "{}<a href=\"/blocks/{}\">next →</a>",
        if v.height > 1 { format!("<a href=\"/blocks/{}\">← previous</a> · ", v.height - 1) } else { String::new() },
        v.height + 1
    );
    let _ = write!(body, "<p class=\"nav\">{nav}</p>");
    rows(
        &mut body,
        &[
            ("Hash", format!("<code>{}</code>", escape(&v.hash))),
            ("Parent", format!("<code>{}</code>", escape(&v.parent))),
            ("Time", v.time.to_string()),
            ("Producer", format!("<a href=\"/accounts/{0}\"><code>{0}</code></a>", escape(&v.producer))),
            ("State root", format!("<code>{}</code>", escape(&v.state_root))),
            (
                "Closed epochs",
                if v.closed_epochs.is_empty() {
                    "none".into()
                } else {
                    v.closed_epochs.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                },
            ),
        ],
    );
    let _ = write!(body, "<h2>Transactions <span class=\"muted\">{}</span></h2>", v.txs.len());
    body.push_str("<table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Id</th><th scope=\"col\">Kind</th><th scope=\"col\">Signer</th><th scope=\"col\">Result</th><th scope=\"col\">Fee</th></tr></thead><tbody>");
    for (i, t) in v.txs.iter().enumerate() {
        let tx = serde_json::to_value(&t.tx).unwrap_or_default();
        let kind = tx["body"]["kind"].as_str().unwrap_or("?").to_string();
        let signer = tx["signer"].as_str().unwrap_or("").to_string();
        let result = match &t.error {
            None => "<span class=\"ok\">ok</span>".to_string(),
            Some(e) => format!("<span class=\"refused\">{} ({})</span>", escape(e), t.code),
        };
        let _ = write!(
            body,
            "<tr><td>{i}</td><td><code>{}</code></td><td>{}</td><td><a href=\"/accounts/{}\"><code>{}</code></a></td><td>{result}</td><td>{}</td></tr>",
            escape(&short(&t.id)),
            escape(&kind),
            escape(&signer),
            escape(&short(&signer)),
            amount_cell(&t.fee)
        );
    }
    body.push_str("</tbody></table>");
    html(StatusCode::OK, &format!("Block {}", v.height), &body)
}

async fn account(State(shared): State<Arc<Shared>>, Path(address): Path<String>) -> Response {
    let Ok(parsed) = crate::api::parse_address(&address) else {
        return error_page(StatusCode::BAD_REQUEST, &format!("`{address}` is not an address (64 hex digits or gm1…)"));
    };
    let Some(a) = crate::api::account_view(&shared, &parsed) else {
        return error_page(StatusCode::NOT_FOUND, &format!("no account {}", parsed.to_hex()));
    };
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Account</h1><p><code>{}</code><br><code>{}</code></p>",
        escape(&a.address),
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
        escape(&a.address)
    );
    html(StatusCode::OK, "Account", &body)
}

#[derive(serde::Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

async fn search(query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>) -> Response {
    let q = query.ok().and_then(|Query(q)| q.q).unwrap_or_default();
    let q = q.trim();
    let target = if let Ok(height) = q.parse::<u64>() {
        format!("/blocks/{height}")
    } else if let Ok(address) = crate::api::parse_address(q) {
        format!("/accounts/{}", address.to_hex())
    } else {
        return error_page(StatusCode::BAD_REQUEST, &format!("`{q}` is neither a height nor an address"));
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
