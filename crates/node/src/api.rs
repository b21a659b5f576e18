//! The HTTP API: JSON under `/v1/`, Prometheus metrics at `/metrics`, the OpenAPI document at
//! `/v1/openapi.json`.
//!
//! Every error is JSON `{"error": {"code": "...", "message": "..."}}` with a stable code (listed
//! in the OpenAPI document); a bare error answer from a layer below the handlers is rewritten so
//! (see also [`crate::serve`] for hyper's own). Bodies are read with a size limit (413
//! `body_too_large`) and a time limit (408 `body_timeout`), batches are limited (413
//! `batch_too_large`), and each client IP has a request budget per second (429 `rate_limited`).
//! Handlers never panic on input: every parse is checked. Hex is taken in either case and printed
//! in lower case.
//!
//! Each handler's `#[utoipa::path]` annotation documents it; `routes` builds the router and the
//! OpenAPI document from the same list ([`crate::openapi`] holds the response types).

use crate::block::{StoredBlock, TxLocation};
use crate::mempool::{Admitted, Checked, Refusal};
use crate::node::Shared;
use crate::openapi::*;
use crate::signing::{KeyCache, SignedTx};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gridmint_core::{Address, TxBody, TxError};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every route: (method, path as in the OpenAPI document). A test checks it against the
/// generated document and the router.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/status"),
    ("get", "/v1/supply"),
    ("get", "/v1/accounts/{address}"),
    ("get", "/v1/accounts/{address}/proof"),
    ("get", "/v1/accounts/{address}/txs"),
    ("get", "/v1/machines/{address}"),
    ("get", "/v1/validators"),
    ("get", "/v1/governance"),
    ("get", "/v1/epochs/{epoch}"),
    ("get", "/v1/epochs/{epoch}/proof/{address}"),
    ("get", "/v1/epochs/{epoch}/explain/{address}"),
    ("get", "/v1/blocks/{height}"),
    ("post", "/v1/tx"),
    ("post", "/v1/tx/batch"),
    ("get", "/v1/tx/{id}"),
    ("post", "/v1/heartbeats"),
    ("get", "/v1/evidence"),
    ("get", "/v1/bridge"),
    ("get", "/v1/bridge/outbound"),
    ("get", "/v1/bridge/inbound"),
    ("get", "/v1/snapshot"),
    ("get", "/v1/blocks/{height}/decided"),
    ("get", "/v1/openapi.json"),
    ("get", "/metrics"),
];

/// The header a node sets on the batches of transactions it forwards to the other nodes
/// (`gridmint-network`): what they admit from such a batch they do not forward again (the
/// forwarding node sent it to every peer itself), and the answer carries the counts only.
pub const FORWARDED_HEADER: &str = "x-gridmint-forwarded";

/// The routes with their handlers and their documentation: the router and the OpenAPI document
/// both come from this one list.
fn routes() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .routes(routes!(status))
        .routes(routes!(supply))
        .routes(routes!(account))
        .routes(routes!(account_proof))
        .routes(routes!(account_txs))
        .routes(routes!(machine))
        .routes(routes!(validators))
        .routes(routes!(governance))
        .routes(routes!(epoch))
        .routes(routes!(proof))
        .routes(routes!(explain))
        .routes(routes!(block))
        .routes(routes!(submit))
        .routes(routes!(submit_batch))
        .routes(routes!(receipt))
        .routes(routes!(heartbeats))
        .routes(routes!(evidence))
        .routes(routes!(bridge))
        .routes(routes!(bridge_outbound))
        .routes(routes!(bridge_inbound))
        .routes(routes!(snapshot))
        .routes(routes!(block_decided))
        .routes(routes!(openapi))
        .routes(routes!(metrics))
}

/// The OpenAPI document of a node with `config` (its batch limit is in the document).
pub fn openapi_document(config: &crate::node::Config) -> Value {
    let (_, document) = routes().split_for_parts();
    crate::openapi::finish(document, config)
}

/// The API router.
pub fn router(shared: Arc<Shared>) -> Router {
    let (router, document) = routes().split_for_parts();
    let document = crate::openapi::finish(document, &shared.config);
    let document: Arc<str> = serde_json::to_string_pretty(&document).unwrap_or_default().into();
    router
        .merge(crate::explorer::routes())
        .merge(crate::explain_page::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::Extension(OpenApiJson(document)))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), limit_and_count))
        .with_state(shared)
}

/// The document as served.
#[derive(Clone)]
struct OpenApiJson(Arc<str>);

/// A typed API error.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }
    fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
    fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }
    fn internal(message: impl ToString) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message.to_string())
    }
    /// Its HTTP status (the explorer answers the same status with an HTML page).
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }
    /// Its message.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
    fn body(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE || self.status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // the rest of the body may still be on its way: this connection is done
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok<T: serde::Serialize>(value: T) -> ApiResult {
    Ok(axum::Json(value).into_response())
}

/// Request counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    /// Requests served.
    pub requests: AtomicU64,
    /// Requests answered 4xx.
    pub client_errors: AtomicU64,
    /// Requests refused by the rate limit.
    pub rate_limited: AtomicU64,
    /// Transactions admitted to the mempool.
    pub admitted: AtomicU64,
    /// Admitted transactions a replicated node could not queue for forwarding (its queue full).
    pub not_forwarded: AtomicU64,
    /// Transactions refused at admission.
    pub refused: AtomicU64,
    /// Admitted transactions dropped when their block executed (the envelope refused them then).
    pub dropped: AtomicU64,
    /// Blocks committed.
    pub blocks: AtomicU64,
    /// Transactions committed.
    pub committed_txs: AtomicU64,
    /// Epochs closed.
    pub epochs: AtomicU64,
    /// State snapshots written.
    pub snapshots: AtomicU64,
    /// Blocks pruned.
    pub pruned: AtomicU64,
    /// HTTP connections open now.
    pub connections_open: AtomicU64,
    /// Connections refused for a connection bound (503 `too_many_connections`).
    pub connections_refused: AtomicU64,
    /// Connections closed for not sending a whole request head in time (idle or slow).
    pub header_timeouts: AtomicU64,
    /// Requests answered 408 for a body that did not arrive in time.
    pub body_timeouts: AtomicU64,
    /// Connections closed for a response write the client did not take in time.
    pub write_timeouts: AtomicU64,
    /// A replicated node's consensus.
    pub consensus: ConsensusMetrics,
}

/// Time-to-finality histogram bounds, in milliseconds (`le`).
pub const FINALITY_BUCKETS_MS: [u64; 8] = [250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 60_000];

/// A replicated node's consensus counters (all zero on a single node).
#[derive(Default)]
pub struct ConsensusMetrics {
    /// Heights this node saw decided.
    pub heights: AtomicU64,
    /// Rounds those heights took (a height decided in round `r` took `r + 1`).
    pub rounds: AtomicU64,
    /// The round consensus is in now.
    pub round: AtomicU64,
    /// Peers connected.
    pub peers: AtomicU64,
    /// Time to finality (from a height's start to its decision): counts per bucket of
    /// [`FINALITY_BUCKETS_MS`], not cumulative, and beyond the last.
    pub finality: [AtomicU64; 9],
    /// Sum of the times to finality (ms).
    pub finality_ms: AtomicU64,
    /// Equivocation evidence records stored (`GET /v1/evidence`).
    pub equivocations: AtomicU64,
}

impl ConsensusMetrics {
    /// Records a height decided in `round` after `ms` milliseconds.
    pub fn decided(&self, round: u32, ms: u64) {
        self.heights.fetch_add(1, Ordering::Relaxed);
        self.rounds.fetch_add(u64::from(round) + 1, Ordering::Relaxed);
        let bucket = FINALITY_BUCKETS_MS.iter().position(|b| ms <= *b).unwrap_or(FINALITY_BUCKETS_MS.len());
        self.finality[bucket].fetch_add(1, Ordering::Relaxed);
        self.finality_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// The Prometheus text of these metrics (empty before any height was decided here).
    fn render(&self, text: &mut String) {
        let heights = self.heights.load(Ordering::Relaxed);
        if heights == 0 {
            return;
        }
        let gauge = |text: &mut String, name: &str, help: &str, value: u64| {
            text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"));
        };
        gauge(text, "gridmint_consensus_round", "the round consensus is in", self.round.load(Ordering::Relaxed));
        gauge(
            text,
            "gridmint_consensus_peers",
            "peers connected on the p2p network",
            self.peers.load(Ordering::Relaxed),
        );
        let name = "gridmint_consensus_rounds_total";
        text.push_str(&format!(
            "# HELP {name} rounds the decided heights took (divide by gridmint_consensus_heights_total: rounds per height)\n# TYPE {name} counter\n{name} {}\n",
            self.rounds.load(Ordering::Relaxed)
        ));
        let name = "gridmint_consensus_heights_total";
        text.push_str(&format!(
            "# HELP {name} heights decided while this node ran\n# TYPE {name} counter\n{name} {heights}\n"
        ));
        let name = "gridmint_consensus_equivocations_total";
        text.push_str(&format!(
            "# HELP {name} equivocation evidence records stored while this node ran (GET /v1/evidence)\n# TYPE {name} counter\n{name} {}\n",
            self.equivocations.load(Ordering::Relaxed)
        ));
        let name = "gridmint_consensus_time_to_finality_seconds";
        text.push_str(&format!("# HELP {name} from a height's start to its decision\n# TYPE {name} histogram\n"));
        let mut cumulative = 0;
        for (i, bound) in FINALITY_BUCKETS_MS.iter().enumerate() {
            cumulative += self.finality[i].load(Ordering::Relaxed);
            text.push_str(&format!("{name}_bucket{{le=\"{}\"}} {cumulative}\n", *bound as f64 / 1000.0));
        }
        cumulative += self.finality[FINALITY_BUCKETS_MS.len()].load(Ordering::Relaxed);
        text.push_str(&format!("{name}_bucket{{le=\"+Inf\"}} {cumulative}\n"));
        let sum = self.finality_ms.load(Ordering::Relaxed);
        text.push_str(&format!("{name}_sum {}.{:03}\n{name}_count {cumulative}\n", sum / 1000, sum % 1000));
    }
}

/// Per-client token buckets: `rate` requests per second, bursts up to one second's worth.
pub struct RateLimiter {
    rate: u32,
    buckets: Mutex<BTreeMap<IpAddr, (u64, std::time::Instant)>>,
}

impl RateLimiter {
    /// A limiter of `rate` requests per second per client; 0 disables it.
    pub fn new(rate: u32) -> RateLimiter {
        RateLimiter { rate, buckets: Mutex::new(BTreeMap::new()) }
    }

    /// Spends one request of `client`'s budget; false when it has none left.
    pub fn allow(&self, client: IpAddr) -> bool {
        self.allow_n(client, 1)
    }

    /// Spends `n` units of `client`'s budget at once (a batch's transactions); false, spending
    /// nothing, when it has fewer left.
    #[allow(clippy::disallowed_methods)]
    pub fn allow_n(&self, client: IpAddr, n: u64) -> bool {
        if self.rate == 0 {
            return true;
        }
        let cost = n.saturating_mul(1_000_000);
        // budget in micro-requests: `rate` per second refills `rate` micro-requests per µs
        let capacity = u64::from(self.rate) * 1_000_000;
        let now = std::time::Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs() < 2);
        }
        let (tokens, at) = buckets.entry(client).or_insert((capacity, now));
        let refill = now.duration_since(*at).as_micros().min(u128::from(u64::MAX)) as u64;
        *tokens = tokens.saturating_add(refill.saturating_mul(u64::from(self.rate))).min(capacity);
        *at = now;
        if *tokens >= cost {
            *tokens -= cost;
            true
        } else {
            false
        }
    }
}

async fn limit_and_count(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    shared.metrics.requests.fetch_add(1, Ordering::Relaxed);
    if !shared.limiter.allow(peer.ip()) {
        shared.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        shared.metrics.client_errors.fetch_add(1, Ordering::Relaxed);
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("more than {} requests per second from {}", shared.config.rate_limit, peer.ip()),
        )
        .into_response();
    }
    let response = typed(next.run(request).await).await;
    if response.status().is_client_error() {
        shared.metrics.client_errors.fetch_add(1, Ordering::Relaxed);
    }
    response
}

/// Every error response is the typed JSON error: one that is not (a refusal from a layer below
/// the handlers) is rewritten, keeping its status and its text as the message. The explorer's
/// HTML error pages are left as they are.
async fn typed(response: Response) -> Response {
    let status = response.status();
    let is_json = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == b"application/json");
    // the explorer's own error pages (crate::explorer) are HTML by design
    let is_page = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json || is_page {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
    let code = match status {
        StatusCode::NOT_FOUND => "no_such_route",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::REQUEST_TIMEOUT => "body_timeout",
        s if s.is_server_error() => "internal",
        _ => "malformed_request",
    };
    let message = String::from_utf8_lossy(&text).trim().to_string();
    let message =
        if message.is_empty() { status.canonical_reason().unwrap_or("error").to_lowercase() } else { message };
    ApiError::new(status, code, message).into_response()
}

/// The path parameters of a route, as text: a segment that does not percent-decode to UTF-8 is
/// refused with `400 invalid_path` (axum's own refusal is plain text).
struct Params<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(params)) => Ok(Params(params)),
            Err(e) => Err(ApiError::bad("invalid_path", e.body_text())),
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no_such_route", "no such route; see /v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this route")
}

/// A user address in a path: 64 hex digits (either case) or the checksummed `gm1…` form; never
/// a system account's name, never a near-miss of either (issue 11: typos that lose money).
pub(crate) fn parse_address(text: &str) -> Result<Address, ApiError> {
    Address::parse_user(text).map_err(|e| {
        ApiError::bad("invalid_address", format!("`{text}` is not an address (64 hex digits or gm1…): {e}"))
    })
}

fn parse_u64(text: &str, what: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| ApiError::bad("invalid_number", format!("{what} `{text}` is not a non-negative integer")))
}

/// Reads the committed state (never a block still being sealed).
pub(crate) fn read_state<T>(shared: &Shared, f: impl FnOnce(&crate::ledger::Ledger) -> T) -> T {
    let _committed = shared.sealing.read().unwrap_or_else(|e| e.into_inner());
    let ledger = shared.ledger.read().unwrap_or_else(|e| e.into_inner());
    f(&ledger)
}

fn amount(v: u128) -> String {
    v.to_string()
}

/// Chain id, height, open epoch, tip, mempool size.
#[utoipa::path(get, path = "/v1/status", tag = "chain",
    responses((status = 200, description = "the node's status", body = StatusView)))]
async fn status(State(shared): State<Arc<Shared>>) -> ApiResult {
    let mempool = shared.mempool.lock().unwrap_or_else(|e| e.into_inner()).len();
    ok(read_state(&shared, |l| StatusView {
        chain_id: l.genesis.chain_id.clone(),
        height: l.state.height,
        epoch: l.state.epoch,
        time: l.state.time,
        genesis_time: l.state.genesis_time,
        epoch_seconds: l.state.policy.epoch.seconds,
        slot_seconds: l.state.policy.epoch.slot_seconds,
        tip_hash: hex::encode(l.tip_hash),
        policy: l.state.policy.name.clone(),
        policy_version: l.state.policy.version,
        mempool: mempool as u64,
        accounts: l.state.accounts.len() as u64,
        machines: l.state.machines.len() as u64,
        oldest_block: shared.store.base_height() + 1,
        archive: shared.config.archive,
        consensus: shared.consensus.read().unwrap_or_else(|e| e.into_inner()).clone(),
    }))
}

/// Total supply, circulating, minted, burned, bridge escrow and every pool.
#[utoipa::path(get, path = "/v1/supply", tag = "chain",
    responses((status = 200, description = "the supply", body = SupplyView)))]
async fn supply(State(shared): State<Arc<Shared>>) -> ApiResult {
    ok(read_state(&shared, supply_view))
}

/// The supply as `GET /v1/supply` gives it (the explorer shows the same).
pub(crate) fn supply_view(l: &crate::ledger::Ledger) -> SupplyView {
    let s = &l.state;
    SupplyView {
        height: s.height,
        epoch: s.epoch,
        cap: amount(s.cap),
        total_supply: amount(s.total_supply()),
        circulating: amount(s.circulating()),
        minted_total: amount(s.minted_total),
        burned_total: amount(s.burned_total),
        escrow: amount(s.bridge.escrow),
        pools: s
            .pools
            .iter()
            .map(|p| PoolView {
                name: p.name.to_string(),
                balance: amount(p.balance),
                released_total: amount(p.released_total),
            })
            .collect(),
    }
}

/// An account's balances (spendable, staked, unbonding, escrowed, unclaimed), nonce and machines.
#[utoipa::path(get, path = "/v1/accounts/{address}", tag = "accounts",
    params(("address" = inline(AddressInput), Path, description = "the account")),
    responses(
        (status = 200, description = "the account", body = AccountView),
        (status = 400, description = "invalid_address, invalid_path", body = ErrorBody),
        (status = 404, description = "unknown_account: no such account", body = ErrorBody),
    ))]
async fn account(State(shared): State<Arc<Shared>>, Params(address): Params<String>) -> ApiResult {
    let address = parse_address(&address)?;
    let view =
        account_view(&shared, &address).ok_or_else(|| ApiError::not_found("unknown_account", "no such account"))?;
    ok(view)
}

/// An account as `GET /v1/accounts/{address}` gives it (`None`: no such account).
pub(crate) fn account_view(shared: &Shared, address: &gridmint_core::Address) -> Option<AccountView> {
    let pending_nonce = shared.mempool.lock().unwrap_or_else(|e| e.into_inner()).next_nonce(address);
    read_state(shared, |l| {
        let s = &l.state;
        let id = s.account_id(address)?;
        let a = &s.accounts[id as usize];
        Some(AccountView {
            address: address.to_hex(),
            address_bech32m: address.to_bech32m(),
            height: s.height,
            spendable: amount(a.spendable),
            staked: amount(a.staked),
            unbonding: amount(a.unbonding),
            escrowed: amount(a.escrowed),
            unclaimed: amount(s.unclaimed_of(id)),
            rewards_total: amount(s.rewards_total_of(id)),
            holding: amount(s.holding(id)),
            nonce: a.nonce,
            next_nonce: pending_nonce.unwrap_or(a.nonce),
            machines: s.owner_machines.get(&id).map_or(0, Vec::len) as u64,
        })
    })
}

/// A Merkle proof of the account's record (balances, rewards, nonce) against the tip block's
/// state root: check it offline with `gridmint verify-account`.
#[utoipa::path(get, path = "/v1/accounts/{address}/proof", tag = "accounts",
    params(("address" = inline(AddressInput), Path, description = "the account")),
    responses(
        (status = 200, description = "the proof", body = AccountProofView),
        (status = 400, description = "invalid_address, invalid_path", body = ErrorBody),
        (status = 404, description = "unknown_account: no such account", body = ErrorBody),
    ))]
async fn account_proof(State(shared): State<Arc<Shared>>, Params(address): Params<String>) -> ApiResult {
    let address = parse_address(&address)?;
    read_state(&shared, |l| {
        let s = &l.state;
        s.account_id(&address).ok_or_else(|| ApiError::not_found("unknown_account", "no such account"))?;
        let root = s.current_state_root().ok_or_else(|| ApiError::internal("the state root is not current"))?;
        let proof = s.account_proof(&address).ok_or_else(|| ApiError::internal("no proof"))?;
        ok(AccountProofView {
            height: s.height,
            block_hash: hex::encode(l.tip_hash),
            state_root: hex::encode(root),
            proof,
        })
    })
}

/// An account's transactions, newest first: those it signed (and paid the fee of, failed
/// ones included) and those whose body names it (a transfer's recipient, a machine, a
/// validator staked on…). Heartbeats are not listed (a machine's online slots are on
/// `GET /v1/machines/{address}`). Page with `before`; a pruned node lists the blocks it keeps.
#[utoipa::path(get, path = "/v1/accounts/{address}/txs", tag = "accounts",
    params(
        ("address" = inline(AddressInput), Path, description = "the account"),
        ("before" = Option<String>, Query, pattern = "^[0-9]+([.][0-9]+)?$", description = "only transactions before this position, `HEIGHT.INDEX` or `HEIGHT` (the previous page's `next_before`); a part past the greatest height or index stands for it"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "at most this many (1 to 100, default 50)"),
    ),
    responses(
        (status = 200, description = "a page of the account's transactions (empty for an address no transaction names)", body = crate::openapi::AccountTxList),
        (status = 400, description = "invalid_address, invalid_path, invalid_query, invalid_number", body = ErrorBody),
    ))]
async fn account_txs(
    State(shared): State<Arc<Shared>>,
    Params(address): Params<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let address = parse_address(&address)?;
    let (before, limit) = account_txs_query(query.as_deref())?;
    ok(account_txs_page(&shared, &address, before, limit)?)
}

/// The default page of `GET /v1/accounts/{address}/txs` and of the account page.
pub(crate) const ACCOUNT_TXS_PAGE: usize = 50;

/// `before` and `limit` of an account's transactions.
pub(crate) fn account_txs_query(query: Option<&str>) -> Result<(Option<(u64, u32)>, usize), ApiError> {
    let (before, limit) = paging(query, ACCOUNT_TXS_PAGE, crate::store::MAX_ACCOUNT_TXS_PAGE, "<height>[.<index>]")?;
    Ok((before.map(parse_position).transpose()?, limit))
}

/// The `before` (as given, parsed by the caller) and `limit` (1 to `max`, else `default`) of a
/// paged listing; any other query parameter is `invalid_query`. `shape` names `before`'s form
/// in the message.
fn paging<'q>(
    query: Option<&'q str>,
    default: usize,
    max: usize,
    shape: &str,
) -> Result<(Option<&'q str>, usize), ApiError> {
    let (mut before, mut limit) = (None, default);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("before", v)) => before = Some(v),
            Some(("limit", v)) => {
                let n = parse_u64(v, "limit")?;
                if !(1..=max as u64).contains(&n) {
                    return Err(ApiError::bad("invalid_query", format!("limit {n}: between 1 and {max}")));
                }
                limit = n as usize;
            }
            _ => {
                return Err(ApiError::bad(
                    "invalid_query",
                    format!("unknown query parameter `{pair}` (only before={shape} and limit=<1..={max}>)"),
                ));
            }
        }
    }
    Ok((before, limit))
}

/// A position in the chain, `HEIGHT.INDEX` or `HEIGHT` (= `HEIGHT.0`), as an exclusive
/// cursor: digits only; a part past the greatest height or index stands for it (nothing is
/// after it, so the answer is the same).
pub(crate) fn parse_position(text: &str) -> Result<(u64, u32), ApiError> {
    let (height, index) = text.split_once('.').unwrap_or((text, "0"));
    let bad = || {
        ApiError::bad(
            "invalid_number",
            format!("position `{text}` is not HEIGHT.INDEX or HEIGHT (non-negative integers)"),
        )
    };
    // digits only (`parse` also takes a leading `+`), then saturating
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(height) || !digits(index) {
        return Err(bad());
    }
    let height = height.parse::<u64>().unwrap_or(u64::MAX);
    let index = index.parse::<u32>().unwrap_or(u32::MAX);
    Ok((height, index))
}

/// A page of `address`'s transactions from the `account_txs` index.
pub(crate) fn account_txs_page(
    shared: &Shared,
    address: &gridmint_core::Address,
    before: Option<(u64, u32)>,
    limit: usize,
) -> Result<crate::openapi::AccountTxList, ApiError> {
    // one more than the page: a next page exists only if it is there
    let mut entries = shared.store.account_txs(address, before, limit + 1).map_err(ApiError::internal)?;
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next_before = more.then(|| entries.last().map(|e| format!("{}.{}", e.height, e.index))).flatten();
    let txs = entries
        .into_iter()
        .map(|e| crate::openapi::AccountTxView {
            id: hex::encode(e.id),
            height: e.height,
            index: e.index,
            kind: gridmint_core::TxBody::kind_name_of_tag(e.kind).unwrap_or("unknown").to_string(),
            role: match e.role {
                crate::block::AccountRole::Signer => "signer",
                crate::block::AccountRole::Named => "named",
            }
            .to_string(),
            code: e.code,
            error: error_name(e.code),
            amount: amount(e.amount),
        })
        .collect();
    Ok(crate::openapi::AccountTxList {
        address: address.to_hex(),
        txs,
        next_before,
        pruned_through: shared.store.base_height(),
    })
}

/// A machine: owner, class, bandwidth, online slots this epoch, weight, rewards.
#[utoipa::path(get, path = "/v1/machines/{address}", tag = "accounts",
    params(("address" = inline(AddressInput), Path, description = "the machine")),
    responses(
        (status = 200, description = "the machine", body = MachineResponse),
        (status = 400, description = "invalid_address, invalid_path", body = ErrorBody),
        (status = 404, description = "unknown_machine: no such machine", body = ErrorBody),
    ))]
async fn machine(State(shared): State<Arc<Shared>>, Params(address): Params<String>) -> ApiResult {
    let address = parse_address(&address)?;
    ok(read_state(&shared, |l| machine_response(l, &address))?)
}

/// A machine as `GET /v1/machines/{address}` gives it (the explorer shows the same).
pub(crate) fn machine_response(l: &crate::ledger::Ledger, address: &Address) -> Result<MachineResponse, ApiError> {
    let s = &l.state;
    let id = s.machine_id(address).ok_or_else(|| ApiError::not_found("unknown_machine", "no such machine"))?;
    // this machine's view only (not its owner's whole fleet)
    let view = s.machine_view(id);
    Ok(MachineResponse {
        height: s.height,
        epoch: s.epoch,
        machine_bech32m: view.machine.to_bech32m(),
        owner_bech32m: view.owner.to_bech32m(),
        machine: view,
    })
}

/// Governance proposals (NM12) with their tallies, newest first; page with `before`.
#[utoipa::path(get, path = "/v1/governance", tag = "chain",
    params(
        ("before" = Option<u64>, Query, description = "only proposals with an id below this (the previous page's `next_before`)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "at most this many (1 to 100, default 50)"),
    ),
    responses(
        (status = 200, description = "a page of proposals", body = crate::openapi::ProposalList),
        (status = 400, description = "invalid_query, invalid_number", body = ErrorBody),
    ))]
async fn governance(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> ApiResult {
    let (before, limit) = paging(query.as_deref(), 50, 100, "<id>")?;
    let before = before.map(|v| parse_u64(v, "before")).transpose()?.unwrap_or(u64::MAX);
    ok(proposals_view(&shared, before, limit))
}

/// A page of proposals with ids below `before`, newest first (the API's and the explorer's):
/// only the page is copied under the read lock.
pub(crate) fn proposals_view(shared: &Shared, before: u64, limit: usize) -> crate::openapi::ProposalList {
    read_state(shared, |l| {
        let s = &l.state;
        let proposals: Vec<crate::openapi::ProposalView> = s
            .proposals
            .range(..before)
            .rev()
            .take(limit + 1)
            .map(|(id, p)| crate::openapi::ProposalView {
                id: *id,
                proposer: s.accounts[p.proposer as usize].address.to_hex(),
                action: p.action.clone(),
                start_epoch: p.start_epoch,
                end_epoch: p.end_epoch,
                yes: amount(p.yes),
                no: amount(p.no),
                quorum: amount(p.quorum),
                voters: p.voters.len() as u64,
                outcome: match p.outcome {
                    None => "voting".into(),
                    Some(o) => {
                        serde_json::to_value(o).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
                    }
                },
            })
            .collect();
        // one more than the page was read: a next page exists only if it is there
        let mut proposals = proposals;
        let more = proposals.len() > limit;
        proposals.truncate(limit);
        let next_before = more.then(|| proposals.last().map(|p| p.id)).flatten();
        crate::openapi::ProposalList {
            epoch: s.epoch,
            total: s.proposals.len() as u64,
            open: s.proposals.values().filter(|p| p.outcome.is_none()).count() as u64,
            max_open: s.policy.governance.as_ref().and_then(|g| g.max_open_proposals),
            proposals,
            next_before,
        }
    })
}

/// Validators with their active stake, and the elected master nodes.
#[utoipa::path(get, path = "/v1/validators", tag = "chain",
    responses((status = 200, description = "the validators", body = ValidatorsView)))]
async fn validators(State(shared): State<Arc<Shared>>) -> ApiResult {
    ok(read_state(&shared, validators_view))
}

/// The validators as `GET /v1/validators` gives them (the explorer shows the same).
pub(crate) fn validators_view(l: &crate::ledger::Ledger) -> ValidatorsView {
    {
        let s = &l.state;
        let masters: std::collections::BTreeSet<&Address> = s.master_nodes.iter().collect();
        ValidatorsView {
            height: s.height,
            epoch: s.epoch,
            validators: s
                .validators
                .iter()
                .map(|(address, v)| ValidatorView {
                    address: address.to_hex(),
                    address_bech32m: address.to_bech32m(),
                    operator: s.accounts[v.operator as usize].address.to_hex(),
                    operator_bech32m: s.accounts[v.operator as usize].address.to_bech32m(),
                    active_stake: amount(v.active),
                    master_node: masters.contains(address),
                })
                .collect(),
            master_nodes: s.master_nodes.iter().map(Address::to_hex).collect(),
        }
    }
}

/// An epoch that closed before the block this node started from.
fn before_start(epoch: u64) -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "pruned",
        format!("epoch {epoch} closed before the snapshot this node started from: ask a node that has its records"),
    )
}

/// A closed epoch's summary as `GET /v1/epochs/{epoch}` gives it (the explorer shows the same).
pub(crate) fn closed_epoch(shared: &Shared, text: &str) -> Result<(u64, Value), ApiError> {
    let epoch = parse_u64(text, "epoch")?;
    let summary = shared.store.epoch_summary(epoch).map_err(ApiError::internal)?.ok_or_else(|| {
        let open = read_state(shared, |l| l.state.epoch);
        if (1..open).contains(&epoch) {
            // closed before the block this node started from (it started from a snapshot)
            return before_start(epoch);
        }
        ApiError::not_found("epoch_not_closed", format!("epoch {epoch} has not closed (the open epoch is {open})"))
    })?;
    let summary: Value = serde_json::from_slice(&summary).map_err(ApiError::internal)?;
    Ok((epoch, summary))
}

/// A closed epoch's summary (G7 step 5): releases, payouts, burns, supply, rewards root, state root.
#[utoipa::path(get, path = "/v1/epochs/{epoch}", tag = "epochs",
    params(("epoch" = u64, Path, description = "a closed epoch")),
    responses(
        (status = 200, description = "the epoch's summary", body = EpochSummaryDoc),
        (status = 400, description = "invalid_number, invalid_path", body = ErrorBody),
        (status = 404, description = "epoch_not_closed", body = ErrorBody),
        (status = 410, description = "pruned: the epoch (or, for explain, the one before it) closed before the snapshot this node started from", body = ErrorBody),
    ))]
async fn epoch(State(shared): State<Arc<Shared>>, Params(epoch): Params<String>) -> ApiResult {
    ok(closed_epoch(&shared, &epoch)?.1)
}

/// A Merkle proof of the account's cumulative rewards against the epoch's rewards root (X2).
#[utoipa::path(get, path = "/v1/epochs/{epoch}/proof/{address}", tag = "epochs",
    params(("epoch" = u64, Path, description = "a closed epoch"), ("address" = inline(AddressInput), Path, description = "the account")),
    responses(
        (status = 200, description = "the proof", body = ProofView),
        (status = 400, description = "invalid_number, invalid_address, invalid_path", body = ErrorBody),
        (status = 404, description = "epoch_not_closed, no_rewards", body = ErrorBody),
        (status = 410, description = "pruned: the epoch (or, for explain, the one before it) closed before the snapshot this node started from", body = ErrorBody),
    ))]
async fn proof(State(shared): State<Arc<Shared>>, Params((epoch, address)): Params<(String, String)>) -> ApiResult {
    ok(proof_view(&shared, &epoch, &address)?)
}

/// What `GET /v1/epochs/{epoch}/proof/{address}` answers (the explorer's explain page shows the
/// same value).
pub(crate) fn proof_view(shared: &Shared, epoch: &str, address: &str) -> Result<ProofView, ApiError> {
    let (epoch, summary) = closed_epoch(shared, epoch)?;
    let address = parse_address(address)?;
    // the directory and one chunk of leaves: a proof costs the same at any number of accounts
    let proof = shared.store.leaf_proof(epoch, &address).map_err(ApiError::internal)?.ok_or_else(|| {
        ApiError::not_found("no_rewards", format!("{address} had earned no rewards by the close of epoch {epoch}"))
    })?;
    Ok(ProofView { epoch, rewards_root: summary["rewards_root"].clone(), proof })
}

/// Why the account earned what it earned in the epoch (X3): its machines' uptime, qualification,
/// weights, shares; the program budget and dust.
#[utoipa::path(get, path = "/v1/epochs/{epoch}/explain/{address}", tag = "epochs",
    params(("epoch" = u64, Path, description = "a closed epoch"), ("address" = inline(AddressInput), Path, description = "the account")),
    responses(
        (status = 200, description = "the explanation", body = ExplainView),
        (status = 400, description = "invalid_number, invalid_address, invalid_path", body = ErrorBody),
        (status = 404, description = "epoch_not_closed; unknown_account: no account, no machine in the epoch's record and no rewards by its close", body = ErrorBody),
        (status = 410, description = "pruned: the epoch (or, for explain, the one before it) closed before the snapshot this node started from", body = ErrorBody),
    ))]
async fn explain(State(shared): State<Arc<Shared>>, Params((epoch, address)): Params<(String, String)>) -> ApiResult {
    ok(explain_view(&shared, &epoch, &address)?)
}

/// What `GET /v1/epochs/{epoch}/explain/{address}` answers (the explorer's explain page shows
/// the same value).
pub(crate) fn explain_view(shared: &Shared, epoch: &str, address: &str) -> Result<ExplainView, ApiError> {
    explain_window(shared, epoch, address, 0, usize::MAX).map(|(view, _)| view)
}

/// [`explain_view`] with only the machines `from..from + limit` of the owner's record (in
/// record order), and how many machines the record holds: the record is decoded outside the
/// ledger's lock, and only the window's machine addresses are looked up under it (the explain
/// page of an owner of 10,000 machines copies one page under the lock). The totals (what the
/// machines earned) cover every machine.
pub(crate) fn explain_window(
    shared: &Shared,
    epoch: &str,
    address: &str,
    from: usize,
    limit: usize,
) -> Result<(ExplainView, usize), ApiError> {
    let (epoch, summary) = closed_epoch(shared, epoch)?;
    let address = parse_address(address)?;
    let header = shared
        .store
        .epoch_explain(epoch)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal("no explain record"))?;
    let (min_online_slots, qualifying_weight, _, _) =
        crate::block::decode_explain_header(&header).map_err(ApiError::internal)?;
    // only this owner's machines are read, and only this account's leaves are looked up
    let mut entries = match shared.store.owner_explain(epoch, &address).map_err(ApiError::internal)? {
        Some(bytes) => crate::block::decode_owner_entries(address, &bytes).map_err(ApiError::internal)?,
        None => vec![],
    };
    let count = entries.len();
    let from_machines: u128 = entries.iter().map(|(_, m)| m.earned).sum();
    entries.truncate(from.saturating_add(limit));
    entries.drain(..from.min(entries.len()));
    let machines = read_state(shared, |l| {
        entries
            .into_iter()
            .map(|(id, mut m)| {
                m.view.machine = l.state.machine_address(id).ok_or_else(|| format!("no machine {id}"))?;
                Ok(m)
            })
            .collect::<Result<Vec<_>, String>>()
    })
    .map_err(ApiError::internal)?;
    let total_at = |e: u64| -> Result<Option<u128>, ApiError> {
        if e == 0 {
            return Ok(None);
        }
        shared.store.leaf_total(e, &address).map_err(ApiError::internal)
    };
    let leaf = total_at(epoch)?;
    let known = leaf.is_some()
        || count > 0
        || read_state(shared, |l| l.state.account_id(&address).is_some() || l.state.machine_id(&address).is_some());
    if !known {
        return Err(ApiError::not_found(
            "unknown_account",
            format!("{address} has no account, no machine in epoch {epoch}'s record and no rewards by its close"),
        ));
    }
    // what the epoch added needs the previous close's totals
    if epoch > 1 && shared.store.epoch_close(epoch - 1).map_err(ApiError::internal)?.is_none() {
        return Err(before_start(epoch - 1));
    }
    let before = total_at(epoch - 1)?.unwrap_or(0);
    let after = leaf.unwrap_or(0);
    let connection = summary["programs"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["program"] == "connection_reward"))
        .cloned()
        .unwrap_or(Value::Null);
    Ok((
        ExplainView {
            epoch,
            account: address.to_hex(),
            account_bech32m: address.to_bech32m(),
            rewards_total_before: amount(before),
            rewards_total_after: amount(after),
            earned: amount(after.saturating_sub(before)),
            earned_by_machines: amount(from_machines),
            earned_otherwise: amount(after.saturating_sub(before).saturating_sub(from_machines)),
            connection_reward: ConnectionRewardExplain {
                rule: "a machine qualifies with online_slots >= min_online_slots and no forfeit (NM6, NM9); \
                   it earns floor(budget x weight / qualifying_weight) (NM7); the remainder is dust kept in the pool (G3)",
                min_online_slots,
                qualifying_weight: amount(qualifying_weight),
                program: connection,
            },
            machines,
            programs: summary["programs"].clone(),
        },
        count,
    ))
}

pub(crate) fn block_view(block: StoredBlock) -> BlockView {
    BlockView {
        height: block.height,
        hash: hex::encode(block.hash()),
        parent: hex::encode(block.parent),
        time: block.time,
        producer: block.producer.to_hex(),
        producer_bech32m: block.producer.to_bech32m(),
        state_root: hex::encode(block.state_root),
        closed_epochs: block.closed_epochs.clone(),
        txs: block
            .txs
            .into_iter()
            .zip(&block.receipts)
            .map(|(tx, r)| BlockTxView {
                id: hex::encode(r.tx_id),
                tx,
                code: r.code,
                error: error_name(r.code),
                fee: amount(r.fee),
            })
            .collect(),
    }
}

/// A committed block with its transactions and receipts (`latest` for the tip).
#[utoipa::path(get, path = "/v1/blocks/{height}", tag = "chain",
    params(("height" = inline(HeightParam), Path, description = "a height, or `latest`")),
    responses(
        (status = 200, description = "the block", body = BlockView),
        (status = 400, description = "invalid_number, invalid_path", body = ErrorBody),
        (status = 404, description = "unknown_block", body = ErrorBody),
        (status = 410, description = "pruned: this node no longer stores the block", body = ErrorBody),
    ))]
async fn block(State(shared): State<Arc<Shared>>, Params(height): Params<String>) -> ApiResult {
    let height =
        if height == "latest" { read_state(&shared, |l| l.state.height) } else { parse_u64(&height, "height")? };
    let block = shared.store.block(height).map_err(ApiError::internal)?.ok_or_else(|| {
        let base = shared.store.base_height();
        if (1..=base).contains(&height) {
            ApiError::new(
                StatusCode::GONE,
                "pruned",
                format!("block {height} was pruned: this node keeps blocks after {base} (ask an archive node)"),
            )
        } else {
            ApiError::not_found("unknown_block", format!("no block at height {height}"))
        }
    })?;
    ok(block_view(block))
}

/// The bridge (NM13): escrow, the inbound cap and what waits under it, the record counts, the
/// committee in force. 404 `not_in_policy` on a network without a bridge.
#[utoipa::path(get, path = "/v1/bridge", tag = "bridge",
    responses(
        (status = 200, description = "the bridge", body = crate::openapi::BridgeView),
        (status = 404, description = "not_in_policy: this network has no bridge", body = ErrorBody),
    ))]
async fn bridge(State(shared): State<Arc<Shared>>) -> ApiResult {
    let view = read_state(&shared, bridge_view);
    ok(view.ok_or_else(|| ApiError::not_found("not_in_policy", "this network has no bridge"))?)
}

/// The bridge as `GET /v1/bridge` gives it (`None`: no bridge in the policy).
pub(crate) fn bridge_view(l: &crate::ledger::Ledger) -> Option<crate::openapi::BridgeView> {
    {
        let s = &l.state;
        let policy = s.policy.bridge.as_ref()?;
        let b = &s.bridge;
        Some(crate::openapi::BridgeView {
            height: s.height,
            epoch: s.epoch,
            escrow: amount(b.escrow),
            inbound_waiting: amount(s.inbound_owed()),
            inbound_cap_epoch: amount(b.inbound_cap_epoch),
            inbound_paid_epoch: amount(b.inbound_paid_epoch),
            outbound_records: b.outbound.len() as u64,
            inbound_confirmed: b.inbound.len() as u64,
            inbound_next: b.inbound_next,
            open_attestations: b.attestations.len() as u64,
            committee: policy.committee.iter().map(|a| a.to_hex()).collect(),
            threshold: policy.threshold,
            outbound_min: policy.outbound_min.map(|min| amount(min.0)),
        })
    }
}

/// `from` and `limit` of a bridge listing (limit 1 to 100, default 100).
pub(crate) fn bridge_page(query: Option<&str>) -> Result<(u64, usize), ApiError> {
    let (mut from, mut limit) = (0, BRIDGE_PAGE);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("from", v)) => from = parse_u64(v, "from")?,
            Some(("limit", v)) => {
                let n = parse_u64(v, "limit")?;
                if !(1..=BRIDGE_PAGE as u64).contains(&n) {
                    return Err(ApiError::bad("invalid_query", format!("limit {n}: between 1 and {BRIDGE_PAGE}")));
                }
                limit = n as usize;
            }
            _ => {
                return Err(ApiError::bad(
                    "invalid_query",
                    format!("unknown query parameter `{pair}` (only from=<id> and limit=<1..={BRIDGE_PAGE}>)"),
                ));
            }
        }
    }
    Ok((from, limit))
}

/// The most records a bridge listing returns at once.
pub(crate) const BRIDGE_PAGE: usize = 100;

/// Outbound bridge records from id `from` on, with the committee's published mint signatures:
/// what relayers follow to mint on the other chain.
#[utoipa::path(get, path = "/v1/bridge/outbound", tag = "bridge",
    params(
        ("from" = Option<u64>, Query, description = "the first record id (default 0; the previous page's `next_from`)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "at most this many records (1 to 100, default 100)"),
    ),
    responses(
        (status = 200, description = "the records", body = crate::openapi::OutboundList),
        (status = 400, description = "invalid_query, invalid_number", body = ErrorBody),
    ))]
async fn bridge_outbound(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> ApiResult {
    let (from, limit) = bridge_page(query.as_deref())?;
    ok(read_state(&shared, |l| outbound_list(l, from, limit)))
}

/// Outbound records as `GET /v1/bridge/outbound?from=&limit=` gives them.
pub(crate) fn outbound_list(l: &crate::ledger::Ledger, from: u64, limit: usize) -> crate::openapi::OutboundList {
    {
        let b = &l.state.bridge;
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(b.outbound.len());
        let end = start.saturating_add(limit).min(b.outbound.len());
        let records = (start..end)
            .map(|id| {
                let r = &b.outbound[id];
                let signatures = b.mint_signatures.get(&(id as u64)).map_or_else(Vec::new, |by| {
                    by.iter()
                        .map(|(member, s)| crate::openapi::MintSignatureView {
                            member: member.to_hex(),
                            signature: hex::encode(s.0),
                        })
                        .collect()
                });
                crate::openapi::OutboundView {
                    id: id as u64,
                    from: r.from.to_hex(),
                    amount: amount(r.amount),
                    recipient: hex::encode(r.recipient),
                    recipient_evm: gridmint_core::bridge::is_evm_address(&r.recipient)
                        .then(|| format!("0x{}", hex::encode(&r.recipient[12..]))),
                    epoch: r.epoch,
                    signatures,
                }
            })
            .collect();
        crate::openapi::OutboundList { records, next_from: (end < b.outbound.len()).then_some(end as u64) }
    }
}

/// Confirmed inbound deposits from position `from` on, in the order the committee's threshold
/// confirmed them, with what each has paid: one above the room under an epoch's cap waits and
/// is paid at later closes.
#[utoipa::path(get, path = "/v1/bridge/inbound", tag = "bridge",
    params(
        ("from" = Option<u64>, Query, description = "the first position (default 0; the previous page's `next_from`)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "at most this many payouts (1 to 100, default 100)"),
    ),
    responses(
        (status = 200, description = "the payouts", body = crate::openapi::InboundList),
        (status = 400, description = "invalid_query, invalid_number", body = ErrorBody),
    ))]
async fn bridge_inbound(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> ApiResult {
    let (from, limit) = bridge_page(query.as_deref())?;
    ok(read_state(&shared, |l| inbound_list(l, from, limit)))
}

/// Inbound payouts as `GET /v1/bridge/inbound?from=&limit=` gives them.
pub(crate) fn inbound_list(l: &crate::ledger::Ledger, from: u64, limit: usize) -> crate::openapi::InboundList {
    {
        let b = &l.state.bridge;
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(b.inbound.len());
        let end = start.saturating_add(limit).min(b.inbound.len());
        let payouts = b.inbound[start..end]
            .iter()
            .zip(start as u64..)
            .map(|(i, index)| crate::openapi::InboundView {
                index,
                deposit_id: i.deposit_id,
                recipient: i.recipient.to_hex(),
                amount: amount(i.amount),
                paid: amount(i.paid),
                settled: i.paid == i.amount,
                epoch: i.epoch,
            })
            .collect();
        crate::openapi::InboundList { payouts, next_from: (end < b.inbound.len()).then_some(end as u64) }
    }
}

/// Equivocation evidence: pairs of conflicting messages a validator signed at one height, round
/// and step, as consensus reported them (a replicated node; always empty on a single node).
/// Recorded and shown only: the rulebook has no slashing for master nodes. Newest height first;
/// page with `before`. Evidence is pruned with its block.
#[utoipa::path(get, path = "/v1/evidence", tag = "chain",
    params(
        ("before" = Option<u64>, Query, description = "only heights below this (the previous page's `next_before`)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "at most this many records (1 to 100, default 100), but never part of a height's: a height with more is given whole"),
    ),
    responses(
        (status = 200, description = "the evidence", body = crate::evidence::EvidenceList),
        (status = 400, description = "invalid_query, invalid_number", body = ErrorBody),
    ))]
async fn evidence(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> ApiResult {
    let (before, limit) = paging(query.as_deref(), crate::evidence::MAX_PAGE, crate::evidence::MAX_PAGE, "<height>")?;
    let before = before.map(|v| parse_u64(v, "before")).transpose()?.unwrap_or(u64::MAX);
    // whole heights: a height's records are never split across pages (each stored height holds
    // at least one record, so `limit` heights are enough to fill a page)
    let heights = shared.store.evidence_before(before, limit).map_err(ApiError::internal)?;
    let fetched = heights.len();
    let mut records = Vec::new();
    let mut next_before = None;
    for (i, (height, bytes)) in heights.into_iter().enumerate() {
        let parsed = crate::evidence::parse(&bytes).map_err(ApiError::internal)?;
        if !records.is_empty() && records.len() + parsed.len() > limit {
            next_before = Some(height + 1);
            break;
        }
        records.extend(parsed);
        if i + 1 == fetched && fetched == limit {
            next_before = Some(height);
        }
    }
    ok(crate::evidence::EvidenceList { evidence: records, next_before, pruned_through: shared.store.base_height() })
}

/// This node's newest state snapshot that checks out (its own file format, `gridmint snapshot
/// inspect` reads it): what a new node starts from instead of replaying the whole history. A
/// replicated node checks it against a block certified by the validators before using it
/// (`GET /v1/blocks/{height}/decided` of the next height); anyone else compares its block hash
/// with one they trust.
#[utoipa::path(get, path = "/v1/snapshot", tag = "chain",
    responses(
        (status = 200, description = "the snapshot file", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 404, description = "no_snapshot: this node has written none yet (one at each epoch close)", body = ErrorBody),
    ))]
async fn snapshot(State(shared): State<Arc<Shared>>) -> ApiResult {
    // off the async workers, and one load at a time: the cache lock is held while the newest
    // snapshot is read and checked, so many requests for a new snapshot cost one decode, and a
    // newest file that does not check out is tried once, not on every request
    let loaded = tokio::task::spawn_blocking(move || {
        let found = crate::snapshots::list(&crate::snapshots::dir_of(shared.store.dir()));
        let newest = found.first().map(|(height, _)| *height)?;
        let mut cache = shared.served_snapshot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, bytes)) = cache.as_ref()
            && *seen == newest
        {
            return bytes.clone();
        }
        let bytes = found.into_iter().find_map(|(_, path)| {
            let bytes = std::fs::read(path).ok()?;
            gridmint_core::snapshot::decode(&bytes).ok()?;
            Some(axum::body::Bytes::from(bytes))
        });
        *cache = Some((newest, bytes.clone()));
        bytes
    })
    .await
    .map_err(ApiError::internal)?;
    let Some(bytes) = loaded else {
        return Err(ApiError::not_found(
            "no_snapshot",
            "this node has no snapshot that checks out yet (one is written at each epoch close)",
        ));
    };
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"))], bytes).into_response())
}

/// A block of a replicated chain as consensus decided it: the stored block and what was decided
/// beside it (the commit certificate, the candidates execution refused), framed as a 4-byte
/// little-endian length, the stored block's bytes, then the decided record's bytes (the
/// consensus crate's encoding). What a new node checks a snapshot against.
#[utoipa::path(get, path = "/v1/blocks/{height}/decided", tag = "chain",
    params(("height" = u64, Path, description = "a height")),
    responses(
        (status = 200, description = "the framed block and decided record", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "invalid_number, invalid_path", body = ErrorBody),
        (status = 404, description = "unknown_block: not stored here, or not a replicated chain's block (no decided record)", body = ErrorBody),
    ))]
async fn block_decided(State(shared): State<Arc<Shared>>, Params(height): Params<String>) -> ApiResult {
    let height = parse_u64(&height, "height")?;
    let missing = || ApiError::not_found("unknown_block", format!("no decided block at height {height} here"));
    let decided = shared.store.decided(height).map_err(ApiError::internal)?.ok_or_else(missing)?;
    let block = shared.store.block(height).map_err(ApiError::internal)?.ok_or_else(missing)?;
    let block = block.encode();
    let mut out = Vec::with_capacity(4 + block.len() + decided.len());
    out.extend_from_slice(&(block.len() as u32).to_le_bytes());
    out.extend_from_slice(&block);
    out.extend_from_slice(&decided);
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"))], out).into_response())
}

pub(crate) fn error_name(code: u16) -> Option<String> {
    TxError::from_code(code).and_then(|e| serde_json::to_value(e).ok()).and_then(|v| v.as_str().map(String::from))
}

fn receipt_of(id: &[u8; 32], location: &TxLocation) -> Receipt {
    Receipt {
        id: hex::encode(id),
        status: CommittedStatus::Committed,
        height: location.height,
        index: location.index,
        code: location.code,
        error: error_name(location.code),
        fee: amount(location.fee),
    }
}

/// A transaction's status: its receipt once committed, or pending.
#[utoipa::path(get, path = "/v1/tx/{id}", tag = "transactions",
    params(("id" = inline(Hex32Input), Path, description = "the transaction id")),
    responses(
        (status = 200, description = "committed (its receipt), pending, or dropped", body = TxStatus),
        (status = 400, description = "invalid_tx_id, invalid_path", body = ErrorBody),
        (status = 404, description = "unknown_tx: never received, or refused", body = ErrorBody),
    ))]
async fn receipt(State(shared): State<Arc<Shared>>, Params(id): Params<String>) -> ApiResult {
    ok(tx_status(&shared, &id)?)
}

/// A transaction's status as `GET /v1/tx/{id}` gives it (the explorer shows the same).
pub(crate) fn tx_status(shared: &Shared, id: &str) -> Result<TxStatus, ApiError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(id, &mut bytes)
        .map_err(|_| ApiError::bad("invalid_tx_id", format!("`{id}` is not a transaction id (64 hex digits)")))?;
    // the order a transaction moves in: mempool, the block being sealed, the store
    if shared.mempool.lock().unwrap_or_else(|e| e.into_inner()).contains(&bytes) || shared.is_inflight(&bytes) {
        return Ok(TxStatus::Pending(Pending { id: hex::encode(bytes), status: PendingStatus::Pending }));
    }
    if let Some(location) = shared.store.tx(&bytes).map_err(ApiError::internal)? {
        return Ok(TxStatus::Committed(receipt_of(&bytes, &location)));
    }
    if let Some(error) = shared.mempool.lock().unwrap_or_else(|e| e.into_inner()).dropped(&bytes) {
        // admitted, then refused by the envelope when its block executed: never stored (G10)
        return Ok(TxStatus::Dropped(Dropped {
            id: hex::encode(bytes),
            status: DroppedStatus::Dropped,
            error: DroppedError {
                code: error.code(),
                name: serde_json::to_value(error).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
                message: error.describe().to_string(),
            },
        }));
    }
    Err(ApiError::not_found("unknown_tx", "no such transaction (never received, refused, or dropped long ago)"))
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "the OpenAPI document", body = Object)))]
async fn openapi(axum::Extension(OpenApiJson(document)): axum::Extension<OpenApiJson>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document.to_string()).into_response()
}

/// Prometheus metrics: request, admission, block and connection counters; height, epoch,
/// mempool, accounts, machines, open connections.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let m = &shared.metrics;
    let (height, epoch, accounts, machines, outbound, inbound, waiting) = read_state(&shared, |l| {
        let s = &l.state;
        let b = &s.bridge;
        let waiting = b.inbound.len() as u64 - b.inbound_next.min(b.inbound.len() as u64);
        (s.height, s.epoch, s.accounts.len(), s.machines.len(), b.outbound.len(), b.inbound.len(), waiting)
    });
    let mempool = shared.mempool.lock().unwrap_or_else(|e| e.into_inner()).len();
    let counters = [
        ("gridmint_http_requests_total", "HTTP requests received", m.requests.load(Ordering::Relaxed)),
        ("gridmint_http_client_errors_total", "HTTP requests answered 4xx", m.client_errors.load(Ordering::Relaxed)),
        (
            "gridmint_http_rate_limited_total",
            "HTTP requests refused by the rate limit",
            m.rate_limited.load(Ordering::Relaxed),
        ),
        ("gridmint_tx_admitted_total", "transactions admitted to the mempool", m.admitted.load(Ordering::Relaxed)),
        ("gridmint_tx_refused_total", "transactions refused at admission", m.refused.load(Ordering::Relaxed)),
        (
            "gridmint_tx_not_forwarded_total",
            "admitted transactions a replicated node could not queue for the validators",
            m.not_forwarded.load(Ordering::Relaxed),
        ),
        ("gridmint_tx_dropped_total", "admitted transactions dropped at execution", m.dropped.load(Ordering::Relaxed)),
        ("gridmint_tx_committed_total", "transactions committed in blocks", m.committed_txs.load(Ordering::Relaxed)),
        ("gridmint_blocks_total", "blocks committed by this process", m.blocks.load(Ordering::Relaxed)),
        ("gridmint_epochs_closed_total", "epochs closed by this process", m.epochs.load(Ordering::Relaxed)),
        (
            "gridmint_snapshots_written_total",
            "state snapshots written by this process",
            m.snapshots.load(Ordering::Relaxed),
        ),
        ("gridmint_blocks_pruned_total", "blocks pruned by this process", m.pruned.load(Ordering::Relaxed)),
        (
            "gridmint_http_connections_refused_total",
            "connections refused for a connection bound",
            m.connections_refused.load(Ordering::Relaxed),
        ),
        (
            "gridmint_http_header_timeouts_total",
            "connections closed for not sending a request head in time (idle or slow)",
            m.header_timeouts.load(Ordering::Relaxed),
        ),
        (
            "gridmint_http_body_timeouts_total",
            "requests answered 408 for a body that did not arrive in time",
            m.body_timeouts.load(Ordering::Relaxed),
        ),
        (
            "gridmint_http_write_timeouts_total",
            "connections closed for a response the client did not read in time",
            m.write_timeouts.load(Ordering::Relaxed),
        ),
    ];
    let gauges = [
        ("gridmint_height", "last committed block height", height),
        ("gridmint_epoch", "open epoch", epoch),
        ("gridmint_mempool_transactions", "transactions waiting", mempool as u64),
        ("gridmint_accounts", "accounts", accounts as u64),
        ("gridmint_machines", "machines", machines as u64),
        ("gridmint_bridge_outbound_records", "outbound bridge records created", outbound as u64),
        ("gridmint_bridge_inbound_confirmed", "inbound deposits confirmed by the committee", inbound as u64),
        ("gridmint_bridge_inbound_waiting", "confirmed inbound deposits not yet fully paid (cap)", waiting),
        ("gridmint_http_connections_open", "HTTP connections open", m.connections_open.load(Ordering::Relaxed)),
    ];
    let mut text = String::new();
    for (name, help, value) in counters {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"));
    }
    for (name, help, value) in gauges {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"));
    }
    m.consensus.render(&mut text);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

// ---- submission ----

/// Reads a request body: at most `max_body_bytes` (413 `body_too_large`), whole within
/// `body_timeout_ms` (408 `body_timeout`, and the connection is closed).
async fn read_body(shared: &Shared, body: Body) -> Result<Bytes, ApiError> {
    let limit = shared.config.max_body_bytes;
    let timeout = std::time::Duration::from_millis(shared.config.body_timeout_ms);
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request body over {limit} bytes"),
        )),
        Err(_) => {
            shared.metrics.body_timeouts.fetch_add(1, Ordering::Relaxed);
            Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!("the request body did not arrive within {} ms", shared.config.body_timeout_ms),
            ))
        }
    }
}

fn parse_json<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::bad("invalid_transaction", e.to_string()),
        _ => ApiError::bad("malformed_json", e.to_string()),
    })
}

fn parse_wait(query: Option<String>) -> Result<bool, ApiError> {
    let Some(query) = query else { return Ok(false) };
    let mut wait = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair {
            "wait" | "wait=true" | "wait=1" => wait = true,
            "wait=false" | "wait=0" => wait = false,
            other => {
                return Err(ApiError::bad(
                    "invalid_query",
                    format!("unknown query parameter `{other}` (only wait=true|false)"),
                ));
            }
        }
    }
    Ok(wait)
}

/// The outcome of one submitted transaction.
enum Outcome {
    Pending([u8; 32]),
    Committed([u8; 32], TxLocation),
    Refused(ApiError),
}

fn refusal_error(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::UnknownSigner => ApiError::not_found("unknown_account", "the signer has no account (fund it first)"),
        Refusal::UnknownMachine => ApiError::not_found("unknown_machine", "the heartbeat's machine is not registered"),
        Refusal::NonceTooLow { expected } => ApiError::new(
            StatusCode::CONFLICT,
            "nonce_too_low",
            format!("nonce already used; the next nonce is {expected}"),
        ),
        Refusal::NonceTooHigh { expected } => ApiError::new(
            StatusCode::CONFLICT,
            "nonce_too_high",
            format!("nonce skips ahead; the next nonce is {expected}"),
        ),
        // a nonce conflict like the others (409): the request is well formed
        Refusal::HeartbeatNonce => ApiError::new(StatusCode::CONFLICT, "nonce_too_high", "a heartbeat carries nonce 0"),
        Refusal::Envelope(error) => envelope_error(error),
        Refusal::Full => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "mempool_full", "the mempool is full; retry later")
        }
    }
}

/// A refusal by the core's envelope checks (G10): the transaction never enters a block.
fn envelope_error(error: TxError) -> ApiError {
    let (status, code) = match error {
        TxError::InsufficientFee => (StatusCode::PAYMENT_REQUIRED, "insufficient_fee"),
        TxError::SignerLocked => (StatusCode::FORBIDDEN, "signer_locked"),
        TxError::InvalidEncoding => (StatusCode::BAD_REQUEST, "invalid_transaction"),
        TxError::SlotOutsideEpoch => (StatusCode::CONFLICT, "slot_not_current"),
        TxError::HeartbeatDuplicate => (StatusCode::CONFLICT, "slot_already_marked"),
        TxError::BlockFull => (StatusCode::SERVICE_UNAVAILABLE, "block_full"),
        _ => (StatusCode::BAD_REQUEST, "refused"),
    };
    ApiError::new(status, code, format!("refused (code {}): {}", error.code(), error.describe()))
}

/// Verifies signatures under the chain's rule, in batches of at most 1,024
/// ([`crate::signing::verify_batch`]: the same verdict as one by one), on every core for large
/// batches.
fn verify_all(txs: &[SignedTx], chain_id: &str, cache: &KeyCache) -> Vec<Result<(), crate::signing::SignatureError>> {
    let verify_part = move |part: &[SignedTx]| -> Vec<_> {
        part.chunks(1024).flat_map(|group| crate::signing::verify_batch(group, chain_id, cache)).collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if txs.len() < 64 || threads == 1 {
        return verify_part(txs);
    }
    let chunk = txs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            txs.chunks(chunk).map(|part| (part.len(), scope.spawn(move || verify_part(part)))).collect();
        // a part whose check panicked is refused whole, never taken as checked
        handles
            .into_iter()
            .flat_map(|(len, h)| {
                h.join().unwrap_or_else(|_| vec![Err(crate::signing::SignatureError::BadSignature); len])
            })
            .collect()
    })
}

/// A transaction's signature as admission sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// Checked now, this way.
    Checked(Checked),
    /// Not checked: the transaction is committed or in the block being sealed (its answer does
    /// not depend on the signature). Checked after all should it reach the mempool.
    Settled,
    /// Not checked again: exactly this transaction, this signature, waits, checked this way.
    Waiting(Checked),
}

/// Admits signature-checked transactions: a committed one returns its receipt, a waiting one
/// is not added twice.
#[cfg(test)]
fn admit(
    shared: &Shared,
    txs: Vec<SignedTx>,
    verified: Vec<Result<(), crate::signing::SignatureError>>,
) -> Result<Vec<Outcome>, ApiError> {
    let screened = vec![None; txs.len()];
    let verified = verified.into_iter().map(|r| r.map(|()| Known::Checked(Checked::Unknown))).collect();
    admit_screened(shared, txs, screened, verified, false)
}

/// Cheap refusals, before any signature is checked (issue 11: a flood of heartbeats from an
/// unregistered key, each with a wrong signature, cost 9× a valid batch): the signer's account
/// or machine, a heartbeat's nonce and slot, a nonce beyond the batch's window. A transaction
/// already committed, in flight or waiting is never screened (a retry answers as before), and
/// nothing screened here is verified. Runs under the ledger's read lock; no state changes.
#[cfg(test)]
fn screen(shared: &Shared, txs: &[SignedTx]) -> Result<Vec<Option<Refusal>>, ApiError> {
    Ok(screen_known(shared, txs)?.into_iter().map(|(refusal, _)| refusal).collect())
}

/// A transaction's screen: its refusal, if any, and what is known of its signature.
type Screened = (Option<Refusal>, Option<Known>);

/// [`screen`], with what is known of each transaction that needs no signature check: committed
/// or in flight ([`Known::Settled`]), or waiting with the same signature
/// ([`Known::Waiting`]).
fn screen_known(shared: &Shared, txs: &[SignedTx]) -> Result<Vec<Screened>, ApiError> {
    let ids: Vec<[u8; 32]> = txs.iter().map(SignedTx::id).collect();
    let ledger = shared.ledger.read().unwrap_or_else(|e| e.into_inner());
    let inflight = shared.inflight.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let committed = shared.store.txs(&ids).map_err(ApiError::internal)?;
    let mempool = shared.mempool.lock().unwrap_or_else(|e| e.into_inner());
    let now = crate::node::now_seconds();
    let state = &ledger.state;
    let mut earlier: BTreeMap<Address, u64> = BTreeMap::new();
    let mut screened = Vec::with_capacity(txs.len());
    for ((signed, id), committed) in txs.iter().zip(&ids).zip(committed) {
        if committed.is_some() || inflight.binary_search(id).is_ok() {
            screened.push((None, Some(Known::Settled)));
            continue;
        }
        if mempool.contains(id) {
            screened.push((None, mempool.checked(signed).map(Known::Waiting)));
            continue;
        }
        let tx = &signed.tx;
        let refusal = match tx.body {
            TxBody::Heartbeat { .. } if tx.nonce != 0 => Some(Refusal::HeartbeatNonce),
            TxBody::Heartbeat { .. } => state.precheck_at(tx, 0, 0, now).err().map(|e| match e {
                TxError::UnknownMachine => Refusal::UnknownMachine,
                other => Refusal::Envelope(other),
            }),
            _ => match state.account(&tx.signer) {
                None => Some(Refusal::UnknownSigner),
                Some(account) => {
                    let expected = mempool.next_nonce(&tx.signer).unwrap_or(account.nonce);
                    let before = earlier.entry(tx.signer).or_insert(0);
                    *before += 1;
                    // the window: this signer's transactions earlier in the batch may fill the
                    // gap; a lower nonce may be a retry of a committed one (answered later)
                    if tx.nonce >= expected + *before {
                        Some(Refusal::NonceTooHigh { expected })
                    } else if tx.nonce < expected {
                        None
                    } else {
                        // the rest of the envelope (limits, locked signer, a payable fee with
                        // the fees of the signer's waiting and earlier transactions reserved):
                        // a spammer who cannot pay costs no signature check
                        let ahead = u128::from(tx.nonce - account.nonce);
                        state
                            .precheck_at(tx, tx.nonce, state.current_fee().saturating_mul(ahead), now)
                            .err()
                            .map(Refusal::Envelope)
                    }
                }
            },
        };
        screened.push((refusal, None));
    }
    Ok(screened)
}

/// Screens `txs`, verifies the signatures of the others that need it (in batches, on every core
/// for large ones) and admits them; with `forward`, those newly admitted are queued for the other
/// nodes. A transaction that waits with the same signature, checked, is not checked again, nor
/// one already committed.
fn screen_verify_admit(shared: &Shared, txs: Vec<SignedTx>, forward: bool) -> Result<Vec<Outcome>, ApiError> {
    let screened = screen_known(shared, &txs)?;
    let known = |s: &Option<Known>| matches!(s, Some(Known::Settled | Known::Waiting(Checked::Verified)));
    let to_verify: Vec<SignedTx> = txs
        .iter()
        .zip(&screened)
        .filter(|(_, (refusal, signature))| refusal.is_none() && !known(signature))
        .map(|(t, _)| t.clone())
        .collect();
    let mut results = verify_all(&to_verify, &shared.chain_id, &shared.keys).into_iter();
    let mut refusals = Vec::with_capacity(txs.len());
    let mut verified = Vec::with_capacity(txs.len());
    for (refusal, signature) in screened {
        verified.push(match signature {
            Some(s) if refusal.is_none() && known(&Some(s)) => Ok(s),
            _ if refusal.is_none() => results
                .next()
                .unwrap_or(Err(crate::signing::SignatureError::BadSignature))
                .map(|()| Known::Checked(Checked::Verified)),
            _ => Ok(Known::Checked(Checked::Unknown)),
        });
        refusals.push(refusal);
    }
    admit_screened(shared, txs, refusals, verified, forward)
}

fn admit_screened(
    shared: &Shared,
    txs: Vec<SignedTx>,
    screened: Vec<Option<Refusal>>,
    verified: Vec<Result<Known, crate::signing::SignatureError>>,
    forward: bool,
) -> Result<Vec<Outcome>, ApiError> {
    let ids: Vec<[u8; 32]> = txs.iter().map(SignedTx::id).collect();
    // under the read lock no block takes from the mempool; one may be sealing: its ids are in
    // flight until they are in the store, so check in flight first, then the store
    let ledger = shared.ledger.read().unwrap_or_else(|e| e.into_inner());
    let inflight = shared.inflight.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let committed = shared.store.txs(&ids).map_err(ApiError::internal)?;
    let mut mempool = shared.mempool.lock().unwrap_or_else(|e| e.into_inner());
    let mut outcomes = Vec::with_capacity(txs.len());
    for ((((tx, id), verified), committed), screened) in
        txs.into_iter().zip(ids).zip(verified).zip(committed).zip(screened)
    {
        if let Some(location) = committed {
            outcomes.push(Outcome::Committed(id, location));
            continue;
        }
        if inflight.binary_search(&id).is_ok() {
            outcomes.push(Outcome::Pending(id));
            continue;
        }
        if let Some(refusal) = screened {
            shared.metrics.refused.fetch_add(1, Ordering::Relaxed);
            outcomes.push(Outcome::Refused(refusal_error(refusal)));
            continue;
        }
        // settled when screened, and no longer found (pruned meanwhile): checked now
        let verified = match verified {
            Ok(Known::Settled) => shared.keys.verify(&tx, &shared.chain_id).map(|()| Checked::Verified),
            Ok(Known::Checked(c) | Known::Waiting(c)) => Ok(c),
            Err(e) => Err(e),
        };
        let checked = match verified {
            Ok(checked) => checked,
            Err(e) => {
                shared.metrics.refused.fetch_add(1, Ordering::Relaxed);
                let code = match e {
                    crate::signing::SignatureError::BadPublicKey => "invalid_signer",
                    crate::signing::SignatureError::BadSignature => "invalid_signature",
                };
                outcomes.push(Outcome::Refused(ApiError::new(StatusCode::UNAUTHORIZED, code, e.to_string())));
                continue;
            }
        };
        let forward = shared.forward.get().filter(|_| forward).map(|f| (f, tx.clone()));
        match mempool.admit_checked(tx, id, &ledger.state, crate::node::now_seconds(), checked) {
            Ok(Admitted::New) => {
                shared.metrics.admitted.fetch_add(1, Ordering::Relaxed);
                // proposable at once by this node, and forwarded to the others (their
                // validation checks in a batch what they have not admitted yet)
                if let Some((to, tx)) = forward
                    && to.try_send(tx).is_err()
                {
                    shared.metrics.not_forwarded.fetch_add(1, Ordering::Relaxed);
                }
                outcomes.push(Outcome::Pending(id));
            }
            Ok(Admitted::AlreadyPending) => outcomes.push(Outcome::Pending(id)),
            Err(refusal) => {
                shared.metrics.refused.fetch_add(1, Ordering::Relaxed);
                outcomes.push(Outcome::Refused(refusal_error(refusal)));
            }
        }
    }
    Ok(outcomes)
}

/// Waits until every pending outcome is committed or the wait times out.
async fn wait_for(shared: &Shared, outcomes: &mut [Outcome]) -> Result<(), ApiError> {
    let mut committed = shared.committed.subscribe();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(shared.config.wait_timeout_ms);
    loop {
        let pending: Vec<(usize, [u8; 32])> = outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| if let Outcome::Pending(id) = o { Some((i, *id)) } else { None })
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let ids: Vec<[u8; 32]> = pending.iter().map(|(_, id)| *id).collect();
        let found = shared.store.txs(&ids).map_err(ApiError::internal)?;
        let mut still = false;
        for ((i, id), location) in pending.into_iter().zip(found) {
            match location {
                Some(location) => outcomes[i] = Outcome::Committed(id, location),
                None => still = true,
            }
        }
        if !still {
            return Ok(());
        }
        match tokio::time::timeout_at(deadline, committed.changed()).await {
            Ok(Ok(())) => {}
            _ => return Ok(()),
        }
    }
}

fn outcome_view(outcome: Outcome) -> TxOutcome {
    match outcome {
        Outcome::Pending(id) => TxOutcome::Pending(Pending { id: hex::encode(id), status: PendingStatus::Pending }),
        Outcome::Committed(id, location) => TxOutcome::Committed(receipt_of(&id, &location)),
        Outcome::Refused(error) => TxOutcome::Refused(Refused {
            status: RefusedStatus::Refused,
            error: ErrorDetail { code: error.code.to_string(), message: error.message },
        }),
    }
}

/// Submit one signed transaction. A retry of a committed transaction returns its original
/// receipt; it never applies twice.
#[utoipa::path(post, path = "/v1/tx", tag = "transactions",
    params(("wait" = Option<bool>, Query, description = "wait until the block holding it is committed (up to the node's wait timeout)")),
    request_body(content = SignedTxDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "committed: the receipt", body = Receipt),
        (status = 202, description = "pending: admitted to the mempool", body = Pending),
        (status = 400, description = "malformed_json, invalid_transaction, invalid_query, refused (another envelope refusal, G10)", body = ErrorBody),
        (status = 401, description = "invalid_signature, invalid_signer", body = ErrorBody),
        (status = 402, description = "insufficient_fee: the signer cannot pay the fee, counting its waiting transactions", body = ErrorBody),
        (status = 403, description = "signer_locked", body = ErrorBody),
        (status = 404, description = "unknown_account (fund it first), unknown_machine", body = ErrorBody),
        (status = 408, description = "body_timeout", body = ErrorBody),
        (status = 409, description = "nonce_too_low, nonce_too_high, slot_not_current, slot_already_marked", body = ErrorBody),
        (status = 413, description = "body_too_large", body = ErrorBody),
        (status = 503, description = "mempool_full, block_full (retry later)", body = ErrorBody),
    ))]
async fn submit(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery, body: Body) -> ApiResult {
    let wait = parse_wait(query)?;
    let bytes = read_body(&shared, body).await?;
    let tx: SignedTx = parse_json(&bytes)?;
    let mut outcomes = screen_verify_admit(&shared, vec![tx], true)?;
    if let Some(Outcome::Refused(_)) = outcomes.last()
        && let Some(Outcome::Refused(error)) = outcomes.pop()
    {
        return Err(error);
    }
    if wait {
        wait_for(&shared, &mut outcomes).await?;
    }
    match outcomes.pop().map(outcome_view) {
        Some(TxOutcome::Refused(_)) | None => Err(ApiError::internal("no outcome")),
        Some(TxOutcome::Pending(pending)) => Ok((StatusCode::ACCEPTED, axum::Json(pending)).into_response()),
        Some(TxOutcome::Committed(receipt)) => ok(receipt),
    }
}

fn check_batch_size(shared: &Shared, len: usize) -> Result<(), ApiError> {
    let limit = shared.config.max_batch;
    if len > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("{len} transactions in one batch; at most {limit}"),
        ));
    }
    if len == 0 {
        return Err(ApiError::bad("empty_batch", "the batch holds no transactions"));
    }
    Ok(())
}

async fn batch(
    shared: Arc<Shared>,
    client: IpAddr,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
    heartbeats_only: bool,
) -> ApiResult {
    let wait = parse_wait(query)?;
    let bytes = read_body(&shared, body).await?;
    let binary = headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == b"application/octet-stream");
    // every item must parse: a malformed batch is refused whole (the slow path names the item)
    let parsed = if binary {
        crate::signing::decode_batch(&bytes).map_err(|e| ApiError::bad("invalid_transaction", e))
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e: serde_json::Error| ApiError::bad("invalid_transaction", e.to_string()))
    };
    let txs: Vec<SignedTx> = match parsed {
        Ok(txs) => txs,
        Err(e) if binary => return Err(e),
        Err(whole) => {
            // name the item: each is parsed from its own text (a `Value` would hide what the
            // typed parse refuses, such as a duplicate key)
            let items: Vec<&serde_json::value::RawValue> = parse_json(&bytes)?;
            check_batch_size(&shared, items.len())?;
            for (i, item) in items.into_iter().enumerate() {
                serde_json::from_str::<SignedTx>(item.get())
                    .map_err(|e| ApiError::bad("invalid_transaction", format!("transaction {i}: {e}")))?;
            }
            return Err(whole);
        }
    };
    check_batch_size(&shared, txs.len())?;
    // the rate limit counts transactions, not requests: a batch spends one unit a transaction
    if !shared.tx_limiter.allow_n(client, txs.len() as u64) {
        shared.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "more than {} transactions per second from {client}",
                u64::from(shared.config.rate_limit) * crate::node::TXS_PER_REQUEST
            ),
        ));
    }
    for (i, tx) in txs.iter().enumerate() {
        if heartbeats_only && !matches!(tx.tx.body, TxBody::Heartbeat { .. }) {
            return Err(ApiError::bad(
                "not_a_heartbeat",
                format!("transaction {i} is a {}, not a heartbeat", tx.tx.body.kind_name()),
            ));
        }
    }
    let admitter = shared.clone();
    // a batch another node forwarded is not forwarded again: that node sent it to every peer
    let forward = !headers.contains_key(FORWARDED_HEADER);
    let mut outcomes = tokio::task::spawn_blocking(move || screen_verify_admit(&admitter, txs, forward))
        .await
        .map_err(ApiError::internal)??;
    if wait {
        wait_for(&shared, &mut outcomes).await?;
    }
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count() as u64;
    let (refused, committed) =
        (count(|o| matches!(o, Outcome::Refused(_))), count(|o| matches!(o, Outcome::Committed(..))));
    ok(BatchView {
        accepted: outcomes.len() as u64 - refused,
        refused,
        committed,
        // the forwarding node reads no answer but the status: the counts only
        results: if forward { outcomes.into_iter().map(outcome_view).collect() } else { Vec::new() },
    })
}

/// Submit a JSON array of signed transactions; each gets its own result (receipt, pending, or a
/// typed refusal). A batch that does not parse whole is refused whole. Also takes the binary batch
/// format (`content-type: application/octet-stream`): per transaction its 64-byte signature, a
/// u16 little-endian length and its canonical bytes (`Tx::encode`).
#[utoipa::path(post, path = "/v1/tx/batch", tag = "transactions",
    params(("wait" = Option<bool>, Query, description = "wait until the blocks holding them are committed (up to the node's wait timeout)")),
    request_body(content = Vec<SignedTxDoc>, content_type = "application/json"),
    responses(
        (status = 200, description = "per-transaction results", body = BatchView),
        (status = 400, description = "malformed_json, invalid_transaction (the message names the item), empty_batch, invalid_query", body = ErrorBody),
        (status = 408, description = "body_timeout", body = ErrorBody),
        (status = 413, description = "body_too_large, batch_too_large", body = ErrorBody),
    ))]
async fn submit_batch(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    batch(shared, peer.ip(), query, headers, body, false).await
}

/// Submit machines' heartbeats: a JSON array of signed heartbeats (or the binary batch format),
/// verified in batches. Every item must be a heartbeat.
#[utoipa::path(post, path = "/v1/heartbeats", tag = "transactions",
    params(("wait" = Option<bool>, Query, description = "wait until the blocks holding them are committed (up to the node's wait timeout)")),
    request_body(content = Vec<SignedHeartbeatDoc>, content_type = "application/json"),
    responses(
        (status = 200, description = "per-heartbeat results", body = BatchView),
        (status = 400, description = "malformed_json, invalid_transaction (the message names the item), not_a_heartbeat, empty_batch, invalid_query", body = ErrorBody),
        (status = 408, description = "body_timeout", body = ErrorBody),
        (status = 413, description = "body_too_large, batch_too_large", body = ErrorBody),
    ))]
async fn heartbeats(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    batch(shared, peer.ip(), query, headers, body, true).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Proposal;
    use crate::node::{Config, create_dev};
    use crate::signing::load_key;
    use gridmint_core::{Policy, Tx};

    /// The producer executes a block under the write lock, then seals it (root, storage) under
    /// a read lock while admission goes on: a retry of a transaction of the block being sealed
    /// must answer "pending" (not refuse it, not admit it twice), and "committed" once sealed.
    #[test]
    fn a_retry_while_its_block_seals_is_pending_then_committed() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, key_path) = create_dev(dir.path(), Policy::preset("netmind").unwrap()).unwrap();
        let shared = Shared::new(ledger, Config::default());
        let key = load_key(&key_path).unwrap();
        let dev = crate::signing::address_of(&key);
        let body = TxBody::Transfer { to: Address([7; 32]), amount: 1 };
        let tx = SignedTx::sign(Tx { signer: dev, nonce: 0, body }, &key, &shared.chain_id);
        let id = tx.id();
        let admit_one = || admit(&shared, vec![tx.clone()], vec![Ok(())]).unwrap().pop().unwrap();
        assert!(matches!(admit_one(), Outcome::Pending(i) if i == id));

        // what `produce` does before sealing: take, mark in flight, execute
        let (txs, ids) = shared.mempool.lock().unwrap().take(10);
        *shared.inflight.lock().unwrap() = Arc::new(ids);
        let executed = {
            let mut ledger = shared.ledger.write().unwrap();
            let time = ledger.state.time;
            ledger.execute_next(Proposal { time, txs }).unwrap()
        };
        // the state has moved (the nonce is used) but nothing is stored yet
        assert!(shared.store.tx(&id).unwrap().is_none());
        assert!(matches!(admit_one(), Outcome::Pending(i) if i == id), "a retry while sealing is pending");
        assert!(shared.mempool.lock().unwrap().is_empty(), "and is not admitted a second time");

        let (block, _) = shared.ledger.read().unwrap().seal(executed).unwrap();
        shared.ledger.write().unwrap().finish(&block);
        *shared.inflight.lock().unwrap() = Arc::new(Vec::new());
        assert!(matches!(admit_one(), Outcome::Committed(i, location) if i == id && location.code == 0));
        assert!(shared.mempool.lock().unwrap().is_empty());
    }

    /// Cheap checks come before signatures: heartbeats from an unregistered key reusing one
    /// wrong signature, and transfers from an unknown signer or past the nonce window, are
    /// screened out (none reaches signature verification), while a valid batch of one signer's
    /// consecutive nonces and a retry of a waiting transaction pass the screen.
    #[test]
    fn cheap_checks_screen_before_signatures() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, key_path) = create_dev(dir.path(), Policy::preset("netmind").unwrap()).unwrap();
        let shared = Shared::new(ledger, Config::default());
        let key = load_key(&key_path).unwrap();
        let dev = crate::signing::address_of(&key);
        let stranger = crate::signing::address_of(&crate::signing::key_from_label("stranger"));
        let flood: Vec<SignedTx> = (0..10_000u64)
            .map(|slot| SignedTx {
                tx: Tx { signer: stranger, nonce: 0, body: TxBody::Heartbeat { slot } },
                signature: [7; 64],
            })
            .collect();
        let screened = screen(&shared, &flood).unwrap();
        assert!(screened.iter().all(|s| *s == Some(Refusal::UnknownMachine)), "every one screened, none verified");
        let transfer = |signer, nonce| {
            SignedTx::sign(
                Tx { signer, nonce, body: TxBody::Transfer { to: Address([7; 32]), amount: 1 } },
                &key,
                &shared.chain_id,
            )
        };
        let batch = vec![transfer(dev, 0), transfer(dev, 1), transfer(dev, 2), transfer(dev, 9), transfer(stranger, 0)];
        let screened = screen(&shared, &batch).unwrap();
        assert_eq!(
            screened,
            vec![None, None, None, Some(Refusal::NonceTooHigh { expected: 0 }), Some(Refusal::UnknownSigner)]
        );
        let poor = crate::signing::key_from_label("poor");
        let poor_address = crate::signing::address_of(&poor);
        shared.ledger.write().unwrap().state.account_or_create(poor_address);
        let unpaid = SignedTx::sign(
            Tx { signer: poor_address, nonce: 0, body: TxBody::Transfer { to: Address([7; 32]), amount: 1 } },
            &poor,
            &shared.chain_id,
        );
        assert_eq!(screen(&shared, &[unpaid]).unwrap(), vec![Some(Refusal::Envelope(TxError::InsufficientFee))]);
        let outcomes = screen_verify_admit(&shared, batch[..3].to_vec(), true).unwrap();
        assert!(outcomes.iter().all(|o| matches!(o, Outcome::Pending(_))));
        assert_eq!(screen(&shared, &batch[..1]).unwrap(), vec![None], "a retry of a waiting transaction passes");
    }

    /// A transaction waiting with exactly the same signature, checked strictly, is not checked
    /// again when it comes back (a retry, or the copy another node forwards): here a corrupted
    /// signature recorded as checked shows that the check is skipped; another signature for the
    /// same transaction is checked, and refused.
    #[test]
    fn a_waiting_transaction_is_not_checked_again() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, key_path) = create_dev(dir.path(), Policy::preset("netmind").unwrap()).unwrap();
        let shared = Shared::new(ledger, Config::default());
        let key = load_key(&key_path).unwrap();
        let dev = crate::signing::address_of(&key);
        let body = TxBody::Transfer { to: Address([7; 32]), amount: 1 };
        let mut tx = SignedTx::sign(Tx { signer: dev, nonce: 0, body }, &key, &shared.chain_id);
        tx.signature[40] ^= 1;
        {
            let ledger = shared.ledger.read().unwrap();
            let mut mempool = shared.mempool.lock().unwrap();
            mempool.admit_checked(tx.clone(), tx.id(), &ledger.state, 0, Checked::Verified).unwrap();
        }
        let outcomes = screen_verify_admit(&shared, vec![tx.clone()], true).unwrap();
        assert!(matches!(outcomes[..], [Outcome::Pending(id)] if id == tx.id()), "not checked again");
        let mut other = tx.clone();
        other.signature[41] ^= 1;
        let outcomes = screen_verify_admit(&shared, vec![other], true).unwrap();
        assert!(matches!(&outcomes[..], [Outcome::Refused(e)] if e.code == "invalid_signature"));
    }

    /// Admission checks a heartbeat under the chain's rule, in a batch, and records it as
    /// checked: a replica validating a block that holds it need not check it again.
    #[test]
    fn admission_records_a_heartbeat_as_checked() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, key_path) = create_dev(dir.path(), Policy::preset("netmind").unwrap()).unwrap();
        let shared = Shared::new(ledger, Config::default());
        let key = load_key(&key_path).unwrap();
        let dev = crate::signing::address_of(&key);
        let machine = crate::signing::key_from_label("strict-machine");
        let register = TxBody::RegisterMachine {
            machine: crate::signing::address_of(&machine),
            gpu_class: 1,
            bandwidth_mbps: 1000,
            bond: 0,
        };
        let register = SignedTx::sign(Tx { signer: dev, nonce: 0, body: register }, &key, &shared.chain_id);
        {
            let mut ledger = shared.ledger.write().unwrap();
            let time = ledger.state.time;
            let executed = ledger.execute_next(Proposal { time, txs: vec![register] }).unwrap();
            let (block, _) = ledger.seal(executed).unwrap();
            ledger.finish(&block);
        }
        let (genesis_time, slot_seconds) = {
            let ledger = shared.ledger.read().unwrap();
            (ledger.genesis.genesis_time, ledger.state.policy.epoch.slot_seconds)
        };
        let slot = (crate::node::now_seconds() - genesis_time) / slot_seconds;
        let beat = SignedTx::sign(
            Tx { signer: crate::signing::address_of(&machine), nonce: 0, body: TxBody::Heartbeat { slot } },
            &machine,
            &shared.chain_id,
        );
        let mut forged = beat.clone();
        forged.signature[5] ^= 1;
        let outcomes = screen_verify_admit(&shared, vec![forged.clone()], true).unwrap();
        assert!(matches!(&outcomes[..], [Outcome::Refused(e)] if e.code == "invalid_signature"));
        let outcomes = screen_verify_admit(&shared, vec![beat.clone()], true).unwrap();
        assert!(matches!(outcomes[..], [Outcome::Pending(_)]));
        assert_eq!(shared.mempool.lock().unwrap().checked(&beat), Some(Checked::Verified));
        assert_eq!(shared.mempool.lock().unwrap().checked(&forged), None);
    }

    /// What a node admits from a batch another node forwarded (marked with
    /// [`FORWARDED_HEADER`]) is not forwarded again, and the answer carries the counts only;
    /// what a client sends is forwarded.
    #[tokio::test]
    async fn a_forwarded_batch_is_not_forwarded_again() {
        use tower_service::Service;
        let dir = tempfile::tempdir().unwrap();
        let (ledger, key_path) = create_dev(dir.path(), Policy::preset("netmind").unwrap()).unwrap();
        let shared = Shared::new(ledger, Config { rate_limit: 0, ..Config::default() });
        let (to_peers, mut forwarded) = tokio::sync::mpsc::channel(10);
        shared.forward.set(to_peers).unwrap();
        let key = load_key(&key_path).unwrap();
        let dev = crate::signing::address_of(&key);
        let transfer = |nonce| {
            let body = TxBody::Transfer { to: Address([7; 32]), amount: 1 };
            SignedTx::sign(Tx { signer: dev, nonce, body }, &key, &shared.chain_id)
        };
        let mut router = router(shared.clone());
        let mut send = async |tx: &SignedTx, from_a_node: bool| {
            let mut request = Request::builder()
                .method("POST")
                .uri("/v1/tx/batch")
                .header(header::CONTENT_TYPE, "application/octet-stream");
            if from_a_node {
                request = request.header(FORWARDED_HEADER, "1");
            }
            let mut request = request.body(Body::from(crate::signing::encode_batch(std::slice::from_ref(tx)))).unwrap();
            request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
            let response = router.call(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        };
        let (t0, t1) = (transfer(0), transfer(1));
        let answer = send(&t0, true).await;
        assert_eq!((answer["accepted"].as_u64(), answer["results"].as_array().map(Vec::len)), (Some(1), Some(0)));
        assert!(forwarded.try_recv().is_err(), "a forwarded transaction is not forwarded again");
        let answer = send(&t1, false).await;
        assert_eq!(answer["results"].as_array().map(Vec::len), Some(1));
        assert_eq!(forwarded.try_recv().ok(), Some(t1.clone()), "a client's transaction is forwarded");
        let mempool = shared.mempool.lock().unwrap();
        assert_eq!(mempool.peek(10), vec![t0, t1], "both proposable at once");
    }

    /// The transaction budget spends a batch's size at once and refuses, spending nothing, what
    /// it cannot cover; 0 disables it.
    #[test]
    fn the_rate_limit_counts_transactions() {
        let ip: IpAddr = [127, 0, 0, 9].into();
        let limiter = RateLimiter::new(100);
        assert!(limiter.allow_n(ip, 60));
        assert!(!limiter.allow_n(ip, 60), "40 left, not 60");
        assert!(limiter.allow_n(ip, 39), "the refused batch spent nothing");
        assert!(RateLimiter::new(0).allow_n(ip, u64::MAX));
    }
}
