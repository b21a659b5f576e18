//! The HTTP server's connection bounds and timeouts, against a real node on loopback: a flood of
//! idle, slow-header and slow-body connections does not lock a new client out; slow connections
//! are closed by the server once their timeout passes; connections over a bound get a typed 503.
//!
//! Connections come from several loopback addresses (127.0.0.2, 127.0.0.3, ...: all of
//! 127.0.0.0/8 is this machine) so that the per-client bound can be tested apart from the total.

mod common;

use common::*;
use gridmint_node::node::Config;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn quiet_config() -> Config {
    Config { rate_limit: 0, block_ms: 200, shutdown_grace_ms: 500, ..Config::default() }
}

/// How many idle connections this process can hold: each takes two descriptors here (client and
/// server end). Raises the soft limit to the hard limit first; a lower hard limit shrinks the test
/// (and says so) instead of failing it.
fn idle_connections_affordable(wanted: usize, others: usize) -> usize {
    let limit = gridmint_node::serve::raise_fd_limit().map_or(1024, |f| f.after) as usize;
    let affordable = (limit.saturating_sub(256) / 2).saturating_sub(others);
    if affordable < wanted {
        println!("open-files limit {limit}: holding {affordable} idle connections instead of {wanted}");
    }
    wanted.min(affordable)
}

/// 1,104 idle connections, 30 sending their headers slowly and 30 sending their body slowly, all
/// held open at once: a new client still gets its `200` for `/v1/status`, the server holds every
/// one of them (none was dropped to make room), and a stop with all of them open is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_and_slow_connections_does_not_lock_out_a_new_client() {
    let (slow_headers, slow_bodies) = (30, 30);
    let idle_total = idle_connections_affordable(1_104, slow_headers + slow_bodies);
    let config = Config {
        max_connections: 5_000,
        max_connections_per_ip: 200,
        // long timeouts: nothing is closed for being slow while this test holds it
        header_timeout_ms: 600_000,
        body_timeout_ms: 600_000,
        ..quiet_config()
    };
    let node = start(config).await;
    let mut held = Vec::new();
    // idle: connected, nothing sent; from 127.0.0.2..=127.0.0.7, 184 each (under 200 per client)
    for i in 0..idle_total {
        held.push(connect_from(&node, 2 + (i / 184) as u8).await);
    }
    // slowloris: a request head that never ends
    for _ in 0..slow_headers {
        let mut stream = connect_from(&node, 8).await;
        stream.write_all(b"GET /v1/status HTTP/1.1\r\nhost: gridmint\r\nx-slow: ").await.unwrap();
        held.push(stream);
    }
    // slow body: a whole head announcing 1,000 bytes, then 10 of them
    for _ in 0..slow_bodies {
        let mut stream = connect_from(&node, 9).await;
        let head =
            "POST /v1/tx HTTP/1.1\r\nhost: gridmint\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(b"{\"tx\": {\"s").await.unwrap();
        held.push(stream);
    }

    let (status, body) = exchange(&node, 1, &get("/v1/status")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["chain_id"].is_string(), "{body}");

    // connections are accepted in order, so every one opened above is counted by now
    let text = metrics(&node).await;
    let open = metric(&text, "gridmint_http_connections_open");
    assert!(open > held.len() as u64, "{open} connections open; this test holds {}", held.len());
    assert_eq!(metric(&text, "gridmint_http_connections_refused_total"), 0);
    println!("{} connections held ({idle_total} idle), a new client served, {open} open", held.len());
    node.stop().await;
}

/// With short timeouts set, the server itself closes: idle connections, connections idle after a
/// response (keep-alive), slow headers even while bytes keep trickling in, and slow bodies (after
/// answering them `408 body_timeout`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed_after_their_timeouts() {
    let config = Config { header_timeout_ms: 1_000, body_timeout_ms: 1_000, ..quiet_config() };
    let node = start(config).await;
    let mut closers = tokio::task::JoinSet::new();
    for i in 0..20u8 {
        // idle
        let mut stream = connect_from(&node, 2).await;
        closers.spawn(async move { ("idle", read_to_close(&mut stream).await) });
        // slowloris that keeps sending a header byte every 100 ms: the clock is not reset by it
        let stream = connect_from(&node, 3).await;
        closers.spawn(async move {
            let (mut reader, mut writer) = stream.into_split();
            writer.write_all(b"GET /v1/status HTTP/1.1\r\nhost: gridmint\r\nx-slow: ").await.unwrap();
            let trickle = async move {
                // bounded: 600 bytes, a minute; the server closes long before
                for _ in 0..600 {
                    if writer.write_all(b"a").await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            };
            let mut out = Vec::new();
            let read = async {
                let mut buf = [0u8; 1024];
                loop {
                    match reader.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => out.extend_from_slice(&buf[..n]),
                    }
                }
            };
            tokio::select! {
                _ = read => {}
                _ = trickle => panic!("a slowloris connection was still open after a minute"),
            }
            ("slow headers", out)
        });
        // slow body
        let mut stream = connect_from(&node, 4).await;
        let head = "POST /v1/tx/batch HTTP/1.1\r\nhost: gridmint\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n[";
        stream.write_all(head.as_bytes()).await.unwrap();
        closers.spawn(async move { ("slow body", read_to_close(&mut stream).await) });
        if i < 5 {
            // kept alive after a response, then idle
            let mut stream = connect_from(&node, 5).await;
            stream.write_all(b"GET /v1/status HTTP/1.1\r\nhost: gridmint\r\n\r\n").await.unwrap();
            closers.spawn(async move { ("idle after a response", read_to_close(&mut stream).await) });
        }
    }
    let mut closed = std::collections::BTreeMap::<&str, usize>::new();
    while let Some(joined) = closers.join_next().await {
        let (kind, bytes) = joined.unwrap();
        match kind {
            "slow body" => {
                let (status, body) = parse_response(&bytes);
                assert_eq!((status, body["error"]["code"].as_str()), (408, Some("body_timeout")), "{body}");
            }
            "idle after a response" => {
                assert!(bytes.starts_with(b"HTTP/1.1 200 "), "{:?}", String::from_utf8_lossy(&bytes))
            }
            _ => assert!(bytes.is_empty(), "{kind}: {:?}", String::from_utf8_lossy(&bytes)),
        }
        *closed.entry(kind).or_default() += 1;
    }
    assert_eq!(closed.values().sum::<usize>(), 65, "{closed:?}");
    let text = metrics(&node).await;
    assert!(metric(&text, "gridmint_http_header_timeouts_total") >= 45, "{text}");
    assert!(metric(&text, "gridmint_http_body_timeouts_total") >= 20, "{text}");
    assert_eq!(metric(&text, "gridmint_http_connections_open"), 1, "only this request's connection: {text}");
    node.stop().await;
}

/// Over the per-client bound, and over the total, a new connection is answered `503
/// too_many_connections` (typed JSON) and closed; a closed connection gives its place back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_a_bound_are_refused_with_a_typed_503() {
    let config =
        Config { max_connections: 10, max_connections_per_ip: 4, header_timeout_ms: 600_000, ..quiet_config() };
    let node = start(config).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from(&node, 2).await);
    }
    let (status, body) = exchange(&node, 2, &get("/v1/status")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("too_many_connections")), "{body}");
    // another client is still served
    let (status, _) = exchange(&node, 3, &get("/v1/status")).await;
    assert_eq!(status, 200);
    // fill the total: 4 + 4 + 2
    for source in [3, 3, 3, 3, 4, 4] {
        held.push(connect_from(&node, source).await);
    }
    let (status, body) = exchange(&node, 5, &get("/v1/status")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("too_many_connections")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("at most 10 connections"), "{body}");
    // closing connections gives their places back (the server notices the close on its own
    // schedule: retry, bounded)
    held.clear();
    let mut served = false;
    for _ in 0..600 {
        if exchange(&node, 5, &get("/v1/status")).await.0 == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "places were not given back");
    let text = metrics(&node).await;
    assert!(metric(&text, "gridmint_http_connections_refused_total") >= 2, "{text}");
    node.stop().await;
}

/// Requests hyper cannot parse, and paths that do not decode, are answered with the typed JSON
/// error (not hyper's or axum's bare answers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_requests_get_typed_errors() {
    let node = start(quiet_config()).await;
    let many_headers: String = (0..101).map(|i| format!("x-h{i}: v\r\n")).collect();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("garbage request line", b"HELLO THERE\r\n\r\n".to_vec(), 400, "malformed_request"),
        ("HTTP/2 preface-like version", b"GET / HTTP/9.9\r\n\r\n".to_vec(), 400, "malformed_request"),
        (
            "a raw non-UTF-8 byte in the path",
            b"GET /v1/accounts/\xff\xfe HTTP/1.1\r\nhost: g\r\nconnection: close\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        ("percent-encoded non-UTF-8 path", get("/v1/accounts/%FF%FE"), 400, "invalid_path"),
        ("bad percent-encoding", get("/v1/accounts/%zz"), 400, "invalid_address"),
        ("a URI over 64 KiB", get(&format!("/v1/accounts/{}", "a".repeat(70_000))), 414, "uri_too_long"),
        (
            "101 headers",
            format!("GET /v1/status HTTP/1.1\r\nhost: g\r\n{many_headers}connection: close\r\n\r\n").into_bytes(),
            431,
            "headers_too_large",
        ),
        (
            "a 1 MiB header",
            format!("GET /v1/status HTTP/1.1\r\nhost: g\r\nx-big: {}\r\n\r\n", "b".repeat(1 << 20)).into_bytes(),
            431,
            "headers_too_large",
        ),
    ];
    for (what, request, status, code) in cases {
        let (got, body) = exchange(&node, 1, &request).await;
        assert_eq!((got, body["error"]["code"].as_str()), (status, Some(code)), "{what}: {body}");
        assert!(body["error"]["message"].is_string(), "{what}: {body}");
    }
    let (status, _) = exchange(&node, 1, &get("/v1/status")).await;
    assert_eq!(status, 200, "still serving");
    node.stop().await;
}

/// A client that asks and then does not read (slow read) is closed once a response write has
/// made no progress for the write timeout: it does not hold its connection for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_closed_after_the_write_timeout() {
    let node = start(Config { write_timeout_ms: 500, ..quiet_config() }).await;
    let (_, document) = exchange(&node, 1, &get("/v1/openapi.json")).await;
    let one = document.to_string().len();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut stream = socket.connect(node.addr).await.unwrap();
    // 300 requests for a large document, pipelined: far more than the socket buffers hold
    let asked = 300;
    let request = b"GET /v1/openapi.json HTTP/1.1\r\nhost: gridmint\r\n\r\n".repeat(asked);
    stream.write_all(&request).await.unwrap();
    // read nothing until the server gave up (bounded: a minute)
    let mut gave_up = false;
    for _ in 0..600 {
        if metric(&metrics(&node).await, "gridmint_http_write_timeouts_total") >= 1 {
            gave_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gave_up, "no write timed out");
    let read = read_to_close(&mut stream).await;
    assert!(read.len() < asked * one, "the connection was closed before every response was sent: {} bytes", read.len());
    node.stop().await;
}
