//! The HTTP server: hyper's HTTP/1 connections under the node's own accept loop, with bounds.
//!
//! `axum::serve` has no limits, so a client could hold every file descriptor with idle or
//! half-sent connections. Here each accepted connection must first get a place:
//!
//! - at most [`crate::node::Config::max_connections`] at once (further capped by the open-files limit), and
//!   at most [`crate::node::Config::max_connections_per_ip`] from one client address (one IPv6 /64 counts as
//!   one client). A connection over either bound is answered `503` with the typed error
//!   `too_many_connections` and closed at once: it never waits in a queue holding a descriptor;
//! - a request head must arrive whole within [`crate::node::Config::header_timeout_ms`] of the connection
//!   waiting for it, that is of its opening or of the previous response: this closes idle
//!   keep-alive connections and slow headers (slowloris) alike. hyper starts this clock as soon as
//!   it waits for a request, so idle and slow-header connections share the one timeout;
//! - a request body must arrive whole within [`crate::node::Config::body_timeout_ms`]: `408 body_timeout`
//!   (enforced where the body is read, [`crate::api`]);
//! - a response write that makes no progress for [`crate::node::Config::write_timeout_ms`] (the
//!   client does not read) closes the connection ([`WriteStall`]).
//!
//! hyper answers a request it cannot parse (a bad request line, a URI over 64 KiB, more than 100
//! headers or a head over its buffer) by itself, with an empty body; [`TypedErrors`] rewrites
//! those answers into the API's typed JSON errors, so every response is `{"error": {...}}`.
//!
//! Shutdown stops accepting, lets requests in progress finish and closes idle connections; after
//! [`crate::node::Config::shutdown_grace_ms`] the rest are dropped.

use crate::node::Shared;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// Descriptors kept out of the connection budget: the database, the listener, standard streams,
/// key files, the blocking pool's work.
pub const RESERVED_DESCRIPTORS: u64 = 128;

/// The open-files limit at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// The soft limit found.
    pub before: u64,
    /// The soft limit now (the hard limit where raising it was allowed).
    pub after: u64,
    /// The hard limit.
    pub hard: u64,
}

impl std::fmt::Display for FdLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.after > self.before {
            write!(f, "open-files limit raised from {} to {} (hard limit {})", self.before, self.after, self.hard)
        } else if self.after < self.hard {
            write!(f, "open-files limit {} (could not raise it to the hard limit {})", self.after, self.hard)
        } else {
            write!(f, "open-files limit {} (the hard limit)", self.after)
        }
    }
}

/// Raises the soft open-files limit to the hard limit where allowed; returns what it got
/// (`None` where the platform has no such limit or it cannot be read).
pub fn raise_fd_limit() -> Option<FdLimit> {
    let (before, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?;
    // an unlimited hard limit is capped by the kernel's per-process maximum: ask for less then
    let after = rlimit::increase_nofile_limit(hard)
        .or_else(|_| rlimit::increase_nofile_limit(hard.min(1 << 20)))
        .unwrap_or(before);
    Some(FdLimit { before, after: after.max(before), hard })
}

/// The connection bound in force: the configured one, capped so that the open-files limit
/// keeps [`RESERVED_DESCRIPTORS`] spare.
pub fn effective_max_connections(configured: usize, fds: Option<FdLimit>) -> usize {
    match fds {
        Some(f) => configured.min(f.after.saturating_sub(RESERVED_DESCRIPTORS).max(1) as usize),
        None => configured,
    }
}

/// The key a client's connections are counted under: its IPv4 address, or its IPv6 /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::from(octets)
            }
        },
    }
}

/// Open connections per client.
#[derive(Default)]
struct PerClient {
    open: Mutex<BTreeMap<IpAddr, usize>>,
}

/// A connection's place in its client's count; given back on drop.
struct ClientSlot {
    table: Arc<PerClient>,
    key: IpAddr,
}

impl PerClient {
    fn try_take(table: &Arc<PerClient>, ip: IpAddr, limit: usize) -> Option<ClientSlot> {
        let key = client_key(ip);
        let mut open = table.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(ClientSlot { table: table.clone(), key })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The typed JSON error as a whole HTTP/1.1 response that closes the connection.
fn typed_response(status_line: &str, code: &str, message: &str, retry_after: bool) -> Vec<u8> {
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    let retry = if retry_after { "retry-after: 1\r\n" } else { "" };
    format!(
        "HTTP/1.1 {status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{retry}connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers a connection over a bound with `503 too_many_connections` and closes it. The answer is
/// written only if the socket takes it at once; the close waits (at most a second, and for at
/// most 64 such connections at a time) for the client's request so that unread bytes do not turn
/// the close into a reset that would lose the answer.
fn refuse(stream: TcpStream, message: String, lingering: &Arc<Semaphore>) {
    let response = typed_response("503 Service Unavailable", "too_many_connections", &message, true);
    let _ = stream.try_write(&response);
    let Ok(permit) = lingering.clone().try_acquire_owned() else { return };
    tokio::spawn(async move {
        let _permit = permit;
        let mut stream = stream;
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut stream).await;
        let mut sink = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let mut total = 0;
            while total < 64 << 10 {
                match tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n,
                }
            }
        })
        .await;
    });
}

/// Serves `app` on `listener` until `stop` turns true; see the module doc for the bounds.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let config = &shared.config;
    let max_connections = effective_max_connections(config.max_connections.max(1), raise_fd_limit());
    let per_ip = config.max_connections_per_ip.max(1);
    let global = Arc::new(Semaphore::new(max_connections));
    let clients = Arc::new(PerClient::default());
    let lingering = Arc::new(Semaphore::new(64));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(config.header_timeout_ms.max(1)))
        .keep_alive(true);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stopped| *stopped) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // out of descriptors (EMFILE, ENFILE) or a connection reset before it was
                // accepted: wait a little rather than spin, then accept again
                if !matches!(e.kind(), std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                continue;
            }
        };
        let Ok(place) = global.clone().try_acquire_owned() else {
            shared.metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
            refuse(
                stream,
                format!("the node serves at most {max_connections} connections at once; retry later"),
                &lingering,
            );
            continue;
        };
        let Some(slot) = PerClient::try_take(&clients, peer.ip(), per_ip) else {
            shared.metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
            refuse(stream, format!("at most {per_ip} connections at once from one client; reuse them"), &lingering);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = hyper::service::service_fn({
            let app = app.clone();
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(axum::extract::ConnectInfo::<SocketAddr>(peer));
                let mut app = app.clone();
                tower_service::Service::call(&mut app, request)
            }
        });
        let io = WriteStall::new(stream, Duration::from_millis(config.write_timeout_ms.max(1)), shared.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(TypedErrors::new(io)), service));
        let shared = shared.clone();
        shared.metrics.connections_open.fetch_add(1, Ordering::Relaxed);
        tasks.spawn(async move {
            if let Err(e) = connection.await
                && e.is_timeout()
            {
                shared.metrics.header_timeouts.fetch_add(1, Ordering::Relaxed);
            }
            shared.metrics.connections_open.fetch_sub(1, Ordering::Relaxed);
            drop((place, slot));
        });
    }
    drop(listener);
    let grace = Duration::from_millis(config.shutdown_grace_ms);
    let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
    tasks.shutdown().await;
    Ok(())
}

/// The socket, with a bound on how long a write may wait for the client to read: a response
/// that makes no progress for the write timeout fails its connection (a client that reads
/// slowly, or not at all, cannot hold it open).
pub struct WriteStall<S> {
    inner: S,
    timeout: Duration,
    /// Set while a write waits for the client.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
    shared: Arc<Shared>,
}

impl<S> WriteStall<S> {
    fn new(inner: S, timeout: Duration, shared: Arc<Shared>) -> WriteStall<S> {
        WriteStall { inner, timeout, stalled: None, shared }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteStall<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> WriteStall<S> {
    /// The outcome of a write-side poll: progress clears the stall clock; waiting starts it (once)
    /// and fails the write when it runs out.
    fn watch<T>(&mut self, cx: &mut Context<'_>, polled: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let timeout = self.timeout;
        let stalled = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if stalled.as_mut().poll(cx).is_ready() {
            self.stalled = None;
            self.shared.metrics.write_timeouts.fetch_add(1, Ordering::Relaxed);
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client took no response bytes within the write timeout",
            )));
        }
        Poll::Pending
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteStall<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, polled)
    }
}

/// The socket, with hyper's own error answers rewritten as typed JSON errors.
///
/// hyper answers a request it cannot parse with a status line, `content-length: 0` and no body
/// (400, 414 or 431), then closes. The API's own responses always have a body, so such a write is
/// recognised exactly and replaced by the typed error with the same status.
pub struct TypedErrors<S> {
    inner: S,
    /// A replacement being written: its bytes, how many are written, and the length hyper gave.
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<S> TypedErrors<S> {
    /// Wraps a stream.
    pub fn new(inner: S) -> TypedErrors<S> {
        TypedErrors { inner, pending: None }
    }
}

/// The typed replacement for hyper's automatic answer in `buf`, if `buf` is one.
pub fn typed_replacement(buf: &[u8]) -> Option<Vec<u8>> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ").or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    if end != buf.len() {
        return None;
    }
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    if !head.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let (status_line, code, message) = match rest.get(..4)? {
        b"400 " => {
            ("400 Bad Request", "malformed_request", "the request is not valid HTTP/1.1 (request line, URI or headers)")
        }
        b"414 " => ("414 URI Too Long", "uri_too_long", "the request URI is longer than 65,534 bytes"),
        b"431 " => (
            "431 Request Header Fields Too Large",
            "headers_too_large",
            "the request has more than 100 headers, or its head is too large",
        ),
        _ => return None,
    };
    Some(typed_response(status_line, code, message, false))
}

impl<S: AsyncRead + Unpin> AsyncRead for TypedErrors<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TypedErrors<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if self.pending.is_none() {
            match typed_replacement(buf) {
                Some(replacement) => self.pending = Some((replacement, 0, buf.len())),
                None => return Pin::new(&mut self.inner).poll_write(cx, buf),
            }
        }
        let this = &mut *self;
        let Some((bytes, written, claimed)) = this.pending.as_mut() else { return Poll::Ready(Ok(0)) };
        while *written < bytes.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        let claimed = *claimed;
        this.pending = None;
        Poll::Ready(Ok(claimed))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bodiless_error_answers_are_rewritten() {
        let canned = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let typed = String::from_utf8(typed_replacement(canned).unwrap()).unwrap();
        assert!(typed.starts_with("HTTP/1.1 431 "), "{typed}");
        assert!(typed.ends_with(r#"{"error":{"code":"headers_too_large","message":"the request has more than 100 headers, or its head is too large"}}"#), "{typed}");
        assert!(typed_replacement(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").is_some());
        assert!(typed_replacement(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n").is_some());
        // a response with a body, another status, or a partial head is left alone
        assert!(typed_replacement(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}").is_none());
        assert!(typed_replacement(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n").is_none());
        assert!(typed_replacement(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(typed_replacement(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n").is_none());
        assert!(typed_replacement(b"{\"a\":1}").is_none());
    }

    #[test]
    fn clients_are_counted_by_address_and_ipv6_by_prefix() {
        let table = Arc::new(PerClient::default());
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        let first = PerClient::try_take(&table, a, 2).unwrap();
        let _second = PerClient::try_take(&table, b, 2).unwrap();
        assert!(PerClient::try_take(&table, a, 2).is_none(), "one /64 is one client");
        assert!(PerClient::try_take(&table, "2001:db9::1".parse().unwrap(), 2).is_some());
        drop(first);
        assert!(PerClient::try_take(&table, a, 2).is_some(), "a closed connection gives its place back");
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(client_key(mapped), v4);
    }
}
