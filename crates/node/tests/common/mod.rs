//! A node in this process on a free loopback port, and raw HTTP/1.1 exchanges with it.
#![allow(dead_code)]

use gridmint_core::Policy;
use gridmint_node::node::{Config, Shared, create_dev, run};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A node serving on a free loopback port, in this process.
pub struct Node {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), String>>,
    pub dir: tempfile::TempDir,
    /// The prefunded dev account's key file.
    pub dev_key: std::path::PathBuf,
}

pub async fn start(config: Config) -> Node {
    start_with(config, Policy::preset("netmind").unwrap()).await
}

/// [`start`] with a policy.
pub async fn start_with(config: Config, policy: Policy) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, dev_key) = create_dev(dir.path(), policy).unwrap();
    serve(config, ledger, dir, dev_key).await
}

/// A node serving `ledger` (made in `dir`, e.g. with a history committed block by block).
pub async fn serve(
    config: Config,
    ledger: gridmint_node::ledger::Ledger,
    dir: tempfile::TempDir,
    dev_key: std::path::PathBuf,
) -> Node {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(Shared::new(ledger, config), listener, async move {
        let _ = stopped.await;
    }));
    Node { addr, stop: Some(stop), task, dir, dev_key }
}

impl Node {
    /// Stops the node (as Ctrl-C would) and checks that it stopped cleanly.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        // a bound on a hang, not a timing: the grace in these tests is at most a second
        let result = tokio::time::timeout(Duration::from_secs(60), self.task).await;
        result.expect("the node stops after its shutdown grace").unwrap().unwrap();
    }
}

/// A connection to `node` from the loopback address `127.0.0.<source>`.
pub async fn connect_from(node: &Node, source: u8) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, source)), 0)).unwrap();
    socket.connect(node.addr).await.unwrap()
}

/// Sends `request` on a new connection from `127.0.0.<source>` and reads until the server closes
/// (each request here asks for `connection: close`): (status, body as JSON).
pub async fn exchange(node: &Node, source: u8, request: &[u8]) -> (u16, Value) {
    let mut stream = connect_from(node, source).await;
    stream.write_all(request).await.unwrap();
    let bytes = read_to_close(&mut stream).await;
    parse_response(&bytes)
}

/// Reads until the server closes the connection (a reset counts as closed); bounded at 60 s so a
/// server that never closes fails the test instead of hanging it.
pub async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(Duration::from_secs(60), stream.read(&mut buf)).await {
            Err(_) => {
                panic!("the server did not close the connection within 60 s; read {:?}", String::from_utf8_lossy(&out))
            }
            Ok(Ok(0)) | Ok(Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

pub fn parse_response(bytes: &[u8]) -> (u16, Value) {
    let text = String::from_utf8_lossy(bytes);
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // a body that is not JSON (the metrics) comes back as a string
    let body = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()));
    (status, body)
}

pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: gridmint\r\nconnection: close\r\n\r\n").into_bytes()
}

/// A POST of a JSON body that asks for `connection: close`.
pub fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: gridmint\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn metric(text: &str, name: &str) -> u64 {
    let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("no {name}"));
    line[name.len() + 1..].parse().unwrap()
}

pub async fn metrics(node: &Node) -> String {
    let mut stream = connect_from(node, 1).await;
    stream.write_all(&get("/metrics")).await.unwrap();
    String::from_utf8(read_to_close(&mut stream).await).unwrap()
}
