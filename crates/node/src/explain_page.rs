//! The explorer's explain page (issue 15; RULES X2, X3): `/accounts/{address}/epochs/{epoch}`
//! shows why an account earned what it earned in a closed epoch, and lets the reader check the
//! account's reward proof against the epoch's rewards root **in the browser**.
//!
//! - The breakdown is exactly what `GET /v1/epochs/{epoch}/explain/{address}` answers (both call
//!   [`crate::api::explain_view`]): the rewards before and after the close, each machine's online
//!   slots against the threshold, whether it qualified, its weight and its share of the
//!   connection reward's budget (in words: floor(budget × weight / qualifying weight)), and every
//!   program's budget, paid and dust. The machines are shown [`MACHINES_PAGE`] a page (`?from=`,
//!   links above and below them); the owner's record is decoded outside the ledger's lock and
//!   only the page's machine addresses are looked up under it (`api::explain_window`),
//!   while the totals cover every machine.
//! - The proof is what `GET /v1/epochs/{epoch}/proof/{address}` answers
//!   ([`crate::api::proof_view`]). It sits in the page as data: an editable `<textarea>` with the
//!   proof's JSON and an editable field with the expected root (this node's, in a
//!   `data-node-root` attribute too; a reader who trusts another node pastes that node's root).
//!   "Verify in my browser" runs `assets/verify.js`, which recomputes the root with the one-chunk
//!   BLAKE3 of `assets/blake3.js` (a leaf is 68 bytes, a node 65: always one chunk) and says pass
//!   or fail, with the recomputed and the expected root.
//!
//! The two scripts are embedded in the binary and served under `/assets/verify/` at a URL that
//! carries the first 16 hex digits of their blake3 (`blake3.<hash>.js`), so they are cached as
//! immutable; any other name is a 404. The router also answers `/favicon.ico` (a 16×16 PNG), which
//! browsers ask for on every explorer page. This page's Content-Security-Policy is the explorer's plus
//! `script-src 'self'`: no inline script, no `eval`, no request to another origin.

use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::State;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::explorer::{error_page, escape, html, secure, tokens};
use crate::node::Shared;

/// The Content-Security-Policy of the explain page: the explorer's, with scripts from this origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The one-chunk BLAKE3 in JavaScript.
pub const BLAKE3_JS: &str = include_str!("../assets/blake3.js");
/// The proof check that uses it.
pub const VERIFY_JS: &str = include_str!("../assets/verify.js");
/// The page's few extra styles.
const VERIFY_CSS: &str = include_str!("../assets/verify.css");

/// The embedded assets: (name, extension, content type, bytes).
const ASSETS: [(&str, &str, &str, &str); 3] = [
    ("blake3", "js", "text/javascript; charset=utf-8", BLAKE3_JS),
    ("verify", "js", "text/javascript; charset=utf-8", VERIFY_JS),
    ("verify", "css", "text/css; charset=utf-8", VERIFY_CSS),
];

/// Each asset's file name with its content hash (`blake3.0123456789abcdef.js`), in [`ASSETS`] order.
static HASHED: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|(name, ext, _, bytes)| format!("{name}.{}.{ext}", &blake3::hash(bytes.as_bytes()).to_hex()[..16]))
        .collect()
});

/// The URL an asset is served at: `/assets/verify/<name>.<hash>.<ext>`.
pub fn asset_url(name: &str, ext: &str) -> String {
    let i = ASSETS.iter().position(|(n, e, _, _)| *n == name && *e == ext).unwrap_or(0);
    format!("/assets/verify/{}", HASHED[i])
}

/// The explain page's routes.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/accounts/{address}/epochs/{epoch}", get(page))
        .route("/assets/verify/{file}", get(asset))
        .route("/favicon.ico", get(favicon))
}

/// The explorer's icon (16×16 PNG). Browsers ask for `/favicon.ico` on every page: without it
/// each page load logs a failed request on the console.
const FAVICON: &[u8] = include_bytes!("../assets/favicon.png");

async fn favicon() -> Response {
    let mut response = FAVICON.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    secure(headers);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    response
}

async fn asset(Path(file): Path<String>) -> Response {
    let Some(i) = HASHED.iter().position(|name| *name == file) else {
        return error_page(StatusCode::NOT_FOUND, &format!("no asset `{file}`"));
    };
    let (_, _, content_type, bytes) = ASSETS[i];
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    secure(headers);
    // the name carries the content's hash: a new build serves new bytes under a new name
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    response
}

/// An amount: tokens shown, base units in the title and the `data-value` attribute.
fn amount(base_units: &str) -> String {
    format!(
        "<span class=\"amount\" data-value=\"{0}\" title=\"{0} base units\">{1}</span>",
        escape(base_units),
        tokens(base_units)
    )
}

fn kv(out: &mut String, rows: &[(&str, String)]) {
    out.push_str("<table class=\"kv\"><tbody>");
    for (label, value) in rows {
        let _ = write!(out, "<tr><th scope=\"row\">{}</th><td>{value}</td></tr>", escape(label));
    }
    out.push_str("</tbody></table>");
}

/// `numerator / denominator` as a percentage with four decimals, cut, from integers only.
fn percent(numerator: u128, denominator: u128) -> String {
    if denominator == 0 {
        return "—".into();
    }
    match numerator.checked_mul(1_000_000) {
        Some(scaled) => {
            let p = scaled / denominator;
            format!("{}.{:04}%", p / 10_000, p % 10_000)
        }
        None => "—".into(),
    }
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// How many machines the explain page shows at once (`?from=` pages through the rest).
pub const MACHINES_PAGE: usize = 50;

/// Which machines of the owner's record a page shows: `from..from + shown` of `count`.
struct Window {
    from: usize,
    count: usize,
}

async fn page(
    State(shared): State<Arc<Shared>>,
    Path((address, epoch)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let q = match crate::explorer::numbers(query.as_deref(), &["from"]) {
        Ok(q) => q,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    let from = usize::try_from(q.get("from").copied().unwrap_or(0)).unwrap_or(usize::MAX);
    // only the page's machines are copied under the ledger's lock
    let (explain, count) = match crate::api::explain_window(&shared, &epoch, &address, from, MACHINES_PAGE) {
        Ok(found) => found,
        Err(e) => return error_page(e.status(), e.message()),
    };
    if from > 0 && from >= count {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("the account has {count} machines in the epoch's record: none from position {from}"),
        );
    }
    // an account may have no leaf (it never earned): the page still explains, without a proof
    let proof = crate::api::proof_view(&shared, &epoch, &address);
    let open = crate::api::read_state(&shared, |l| l.state.epoch);
    render(&explain, &Window { from, count }, proof, open)
}

fn render(
    x: &crate::openapi::ExplainView,
    window: &Window,
    proof: Result<crate::openapi::ProofView, crate::api::ApiError>,
    open_epoch: u64,
) -> Response {
    let epoch = x.epoch;
    let account = escape(&x.account);
    let mut body = String::new();
    let _ = write!(
        body,
        "<link rel=\"stylesheet\" href=\"{css}\">\
         <h1>Rewards in epoch {epoch}</h1>\
         <p>Account <a href=\"/accounts/{account}\"><code>{bech}</code></a><br><code>{account}</code></p>\
         <p class=\"nav\">",
        css = asset_url("verify", "css"),
        bech = escape(&x.account_bech32m),
    );
    if epoch > 1 {
        let _ = write!(body, "<a rel=\"prev\" href=\"/accounts/{account}/epochs/{0}\">← epoch {0}</a> ", epoch - 1);
    }
    if epoch + 1 < open_epoch {
        let _ = write!(body, "<a rel=\"next\" href=\"/accounts/{account}/epochs/{0}\">epoch {0} →</a>", epoch + 1);
    }
    body.push_str("</p>");

    // what the epoch added
    body.push_str("<h2>What the close credited</h2>");
    kv(
        &mut body,
        &[
            ("Earned in this epoch", amount(&x.earned)),
            ("… by its machines", amount(&x.earned_by_machines)),
            ("… otherwise (staking, programs paid to accounts)", amount(&x.earned_otherwise)),
            ("Cumulative rewards before", amount(&x.rewards_total_before)),
            ("Cumulative rewards after (the proof's leaf)", amount(&x.rewards_total_after)),
        ],
    );

    // the connection reward: the rule and the budget
    let c = &x.connection_reward;
    let qualifying_weight: u128 = c.qualifying_weight.parse().unwrap_or(0);
    let budget: Option<u128> = c.program.get("budget").and_then(|b| b.as_str()).and_then(|b| b.parse().ok());
    body.push_str("<h2 id=\"connection\">Connection reward</h2>");
    let _ = write!(body, "<p class=\"rule\">{}</p>", escape(c.rule));
    let mut rows = vec![
        ("Online slots a machine needed", format!("<span data-value=\"{0}\">{0}</span>", c.min_online_slots)),
        (
            "Qualifying weight (all qualifying machines)",
            format!("<span data-value=\"{0}\">{0}</span>", escape(&c.qualifying_weight)),
        ),
    ];
    if !c.program.is_null() {
        rows.push(("Budget", amount(&text(&c.program["budget"]))));
        rows.push(("Paid", amount(&text(&c.program["paid"]))));
        rows.push(("Dust (kept in the pool)", amount(&text(&c.program["dust"]))));
        rows.push(("Machines paid", escape(&text(&c.program["recipients"]))));
    } else {
        rows.push(("Budget", "the policy in force has no connection reward".into()));
    }
    kv(&mut body, &rows);

    // its machines
    let _ = write!(body, "<h2 id=\"machines\">Its machines in the epoch's record ({})</h2>", window.count);
    let (from, shown) = (window.from, x.machines.len());
    let mut pager = Vec::new();
    if window.count > MACHINES_PAGE {
        let _ = write!(
            body,
            "<p class=\"muted\" id=\"machine-window\">Machines {} to {} of {} (in the record's order).</p>",
            from + 1,
            from + shown,
            window.count
        );
        if from > 0 {
            let back = from.saturating_sub(MACHINES_PAGE);
            pager.push(format!(
                "<a href=\"/accounts/{account}/epochs/{epoch}?from={back}#machines\">← machines {} to {from}</a>",
                back + 1
            ));
        }
        if from + shown < window.count {
            let next = from + shown;
            pager.push(format!(
                "<a href=\"/accounts/{account}/epochs/{epoch}?from={next}#machines\">machines {} to {} →</a>",
                next + 1,
                (next + MACHINES_PAGE).min(window.count)
            ));
        }
    }
    let pager = if pager.is_empty() {
        String::new()
    } else {
        format!("<p class=\"nav\" id=\"machine-pages\">{}</p>", pager.join(" · "))
    };
    body.push_str(&pager);
    if x.machines.is_empty() {
        body.push_str("<p class=\"muted\">No machine of this account was in the epoch's record.</p>");
    } else {
        body.push_str(
            "<div class=\"scroll\"><table class=\"machines\"><thead><tr><th scope=\"col\">Machine</th>\
             <th scope=\"col\">GPU class</th><th scope=\"col\">Bandwidth</th><th scope=\"col\">Online slots</th>\
             <th scope=\"col\">Qualified</th><th scope=\"col\">Weight</th><th scope=\"col\">Share</th>\
             <th scope=\"col\">Earned</th></tr></thead><tbody>",
        );
        for m in &x.machines {
            let v = &m.view;
            let machine = escape(&v.machine.to_hex());
            let qualified = if m.qualified {
                "<span class=\"ok\">yes</span>".to_string()
            } else if v.forfeited {
                "<span class=\"refused\">no: forfeited (failed a job, NM9)</span>".to_string()
            } else {
                format!("<span class=\"refused\">no: {} of {} slots</span>", v.online_slots, c.min_online_slots)
            };
            let share = if m.qualified { percent(u128::from(v.weight), qualifying_weight) } else { "0%".into() };
            let _ = write!(
                body,
                "<tr data-machine=\"{machine}\"><td><code>{machine}</code></td><td>{}</td><td>{} Mbps</td>\
                 <td data-value=\"{}\">{} / {}</td><td>{qualified}</td><td data-value=\"{}\">{}</td><td>{share}</td><td>{}</td></tr>",
                v.gpu_class,
                v.bandwidth_mbps,
                v.online_slots,
                v.online_slots,
                c.min_online_slots,
                v.weight,
                v.weight,
                amount(&m.earned.to_string()),
            );
        }
        body.push_str("</tbody></table></div><h3>The weight behind each share, in words</h3><ul class=\"words\">");
        for m in &x.machines {
            let v = &m.view;
            let machine = escape(&v.machine.to_hex());
            let _ = write!(
                body,
                "<li><code>{}…</code> has weight {} = the weight of GPU class {} × the factor of its {} Mbps \
                 bandwidth tier, in parts per billion (NM7). ",
                &machine[..machine.len().min(12)],
                v.weight,
                v.gpu_class,
                v.bandwidth_mbps
            );
            if m.qualified {
                let share = budget
                    .and_then(|b| b.checked_mul(u128::from(v.weight)))
                    .and_then(|p| p.checked_div(qualifying_weight));
                let _ = write!(
                    body,
                    "It was online {} slots, at least the {} needed, so it qualified: its share is {} / {} = {} of \
                     the budget",
                    v.online_slots,
                    c.min_online_slots,
                    v.weight,
                    escape(&c.qualifying_weight),
                    percent(u128::from(v.weight), qualifying_weight)
                );
                match (share, budget) {
                    (Some(share), Some(b)) => {
                        let _ = write!(
                            body,
                            ", floor({} × {} / {}) = {} of connection reward",
                            amount(&b.to_string()),
                            v.weight,
                            escape(&c.qualifying_weight),
                            amount(&share.to_string())
                        );
                    }
                    _ => body.push_str(" of the connection reward"),
                }
                let _ = write!(body, "; the close credited it {} in all.</li>", amount(&m.earned.to_string()));
            } else if v.forfeited {
                body.push_str("It forfeited this epoch's reward by failing a job (NM9): no share.</li>");
            } else {
                let _ = write!(
                    body,
                    "It was online {} slots, fewer than the {} needed (NM6): no share.</li>",
                    v.online_slots, c.min_online_slots
                );
            }
        }
        body.push_str("</ul>");
        body.push_str(&pager);
    }

    // every program of the epoch
    if let Some(programs) = x.programs.as_array() {
        body.push_str(
            "<h2 id=\"programs\">The epoch's programs</h2><div class=\"scroll\"><table class=\"programs\"><thead><tr>\
             <th scope=\"col\">Program</th><th scope=\"col\">Budget</th><th scope=\"col\">Paid</th>\
             <th scope=\"col\">Dust</th><th scope=\"col\">Recipients</th></tr></thead><tbody>",
        );
        for p in programs {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&text(&p["program"])),
                amount(&text(&p["budget"])),
                amount(&text(&p["paid"])),
                amount(&text(&p["dust"])),
                escape(&text(&p["recipients"]))
            );
        }
        body.push_str("</tbody></table></div>");
    }

    // the proof (X2)
    body.push_str("<h2 id=\"proof-heading\">Proof against the epoch's rewards root</h2>");
    match proof {
        Ok(p) => {
            let root = escape(&text(&p.rewards_root));
            let json = serde_json::to_string_pretty(&p.proof).unwrap_or_default();
            let _ = write!(
                body,
                "<p>The account's cumulative rewards at this close, {total}, are a leaf of the epoch's rewards tree. \
                 The proof below is the leaf's position and its siblings up to the root. Your browser can recompute \
                 the root from it (BLAKE3, in this page's own script) and compare it with the expected root. \
                 The expected root below comes from <a href=\"/v1/epochs/{epoch}\">this node</a>: to trust the \
                 result, paste the root from a node you trust. You can paste any other proof, too.</p>\
                 <div class=\"verify\"><label for=\"root\">Expected rewards root</label>\
                 <input id=\"root\" class=\"hash\" value=\"{root}\" data-node-root=\"{root}\" spellcheck=\"false\" autocomplete=\"off\">\
                 <label for=\"proof\">Reward proof (JSON)</label>\
                 <textarea id=\"proof\" rows=\"14\" spellcheck=\"false\" data-address=\"{account}\">{proof}</textarea>\
                 <p><button id=\"verify\" type=\"button\" disabled>Verify in my browser</button></p>\
                 <p id=\"verify-result\" role=\"status\" aria-live=\"polite\">Not checked yet (the check needs JavaScript).</p></div>\
                 <p class=\"muted\">Offline: <code>gridmint verify-reward</code> on <a href=\"/v1/epochs/{epoch}/proof/{account}\">the proof's JSON</a>.</p>",
                total = amount(&p.proof.rewards_total.to_string()),
                proof = escape(&json),
            );
            let _ = write!(
                body,
                "<script src=\"{}\" defer></script><script src=\"{}\" defer></script>",
                asset_url("blake3", "js"),
                asset_url("verify", "js")
            );
        }
        Err(e) => {
            let _ = write!(body, "<p class=\"muted\" id=\"no-proof\">No proof: {}</p>", escape(e.message()));
        }
    }

    let mut response = html(StatusCode::OK, &format!("Rewards in epoch {epoch}"), &body);
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_cut_from_integers() {
        assert_eq!(percent(1, 3), "33.3333%");
        assert_eq!(percent(2, 3), "66.6666%", "cut, not rounded");
        assert_eq!(percent(5, 5), "100.0000%");
        assert_eq!(percent(0, 7), "0.0000%");
        assert_eq!(percent(1, 0), "—");
        assert_eq!(percent(u128::MAX, 1), "—", "an overflow shows no number rather than a wrong one");
    }

    #[test]
    fn asset_names_carry_their_hash() {
        let url = asset_url("blake3", "js");
        let hash = blake3::hash(BLAKE3_JS.as_bytes()).to_hex();
        assert_eq!(url, format!("/assets/verify/blake3.{}.js", &hash[..16]));
        assert_ne!(asset_url("verify", "js"), url);
        assert!(asset_url("verify", "css").ends_with(".css"));
    }

    /// A page as a node renders it: an owner with a qualified and an unqualified machine, and a
    /// proof of two leaves.
    fn sample() -> Response {
        use gridmint_core::connection_reward::MachineView;
        use gridmint_core::{Address, RewardProof};
        let owner = Address([7; 32]);
        let machine = |n: u8, slots: u16, qualified: bool, earned: u128| crate::ledger::ExplainMachine {
            view: MachineView {
                machine: Address([n; 32]),
                owner,
                gpu_class: 1,
                bandwidth_mbps: 1000,
                online_slots: slots,
                forfeited: false,
                weight: 1_000_000_000,
                rewards_total: 0,
            },
            qualified,
            earned,
        };
        let program = serde_json::json!({"program": "connection_reward", "budget": "3000", "paid": "2999",
            "dust": "1", "recipients": 3});
        let explain = crate::openapi::ExplainView {
            epoch: 4,
            account: owner.to_hex(),
            account_bech32m: owner.to_bech32m(),
            rewards_total_before: "10".into(),
            rewards_total_after: "1009".into(),
            earned: "999".into(),
            earned_by_machines: "999".into(),
            earned_otherwise: "0".into(),
            connection_reward: crate::openapi::ConnectionRewardExplain {
                rule: "floor(budget x weight / qualifying_weight)",
                min_online_slots: 13,
                qualifying_weight: "3000000000".into(),
                program: program.clone(),
            },
            machines: vec![machine(1, 20, true, 999), machine(2, 12, false, 0)],
            programs: serde_json::json!([program]),
        };
        let proof = crate::openapi::ProofView {
            epoch: 4,
            rewards_root: serde_json::json!("ab".repeat(32)),
            proof: RewardProof {
                address: owner,
                rewards_total: 1009,
                index: 0,
                leaf_count: 2,
                siblings: vec![[9; 32]],
            },
        };
        render(&explain, &Window { from: 0, count: 2 }, Ok(proof), 6)
    }

    async fn body_of(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_page_explains_in_words_and_carries_the_proof_as_data() {
        let response = sample();
        assert_eq!(response.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        assert!(!CSP.contains("unsafe") && CSP.contains("script-src 'self'") && CSP.contains("default-src 'none'"));
        let body = body_of(response).await;
        // scripts only from this origin, at their hashed names; no inline script or style
        assert_eq!(body.matches("<script").count(), 2);
        assert_eq!(body.matches("<script src=\"/assets/verify/").count(), 2);
        assert!(body.contains(&asset_url("blake3", "js")) && body.contains(&asset_url("verify", "js")));
        for inline in ["style=\"", "onclick=", "onload=", "onerror="] {
            assert!(!body.contains(inline), "no inline style or handler: {inline}");
        }
        // the weight behind the share, in words, with the exact share of the budget
        assert!(body.contains("its share is 1000000000 / 3000000000 = 33.3333% of the budget"), "{body}");
        assert!(body.contains("floor(<span class=\"amount\" data-value=\"3000\""), "{body}");
        assert!(body.contains("data-value=\"1000\" title=\"1000 base units\""), "floor(3000 × 1e9 / 3e9) = 1000");
        assert!(body.contains("data-value=\"999\" title=\"999 base units\""), "what the close credited");
        assert!(body.contains("fewer than the 13 needed (NM6): no share"), "{body}");
        assert!(body.contains("<span class=\"refused\">no: 12 of 13 slots</span>"), "{body}");
        // the proof as escaped JSON in the text area, the root in the field and its data attribute
        assert!(body.contains("&quot;rewards_total&quot;: &quot;1009&quot;"), "{body}");
        assert!(body.contains(&format!("value=\"{0}\" data-node-root=\"{0}\"", "ab".repeat(32))));
        assert!(body.contains("id=\"verify\" type=\"button\" disabled"), "enabled by the script only");
        // previous and next epochs (the next is closed: the open epoch is 6)
        assert!(body.contains("epochs/3\">← epoch 3") && body.contains("epochs/5\">epoch 5 →"));
    }

    #[test]
    fn the_scripts_use_no_eval_and_write_only_text() {
        for js in [BLAKE3_JS, VERIFY_JS] {
            for banned in ["eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"] {
                assert!(!js.contains(banned), "{banned}");
            }
        }
    }
}
