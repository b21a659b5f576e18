//! The explain page's router over real HTTP, without a browser: its scripts are served from
//! embedded bytes at content-hashed names only, with a JavaScript content type, `nosniff` and an
//! immutable cache; the favicon exists (browsers ask for it on every page); bad input answers an
//! HTML error page with the input escaped. (The page with a closed epoch, its numbers and the
//! in-browser check are tested in Chromium: `crates/cli/tests/browser.rs`.)

mod common;

use common::*;
use gridmint_node::explain_page::{BLAKE3_JS, VERIFY_JS, asset_url};
use gridmint_node::node::Config;

fn quiet() -> Config {
    Config { rate_limit: 0, block_ms: 100, shutdown_grace_ms: 500, ..Config::default() }
}

/// (status, headers as lower-case text, body bytes)
async fn fetch(node: &Node, path: &str) -> (u16, String, Vec<u8>) {
    let mut stream = connect_from(node, 1).await;
    tokio::io::AsyncWriteExt::write_all(&mut stream, &get(path)).await.unwrap();
    let bytes = read_to_close(&mut stream).await;
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(bytes[..split].to_vec()).unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head.to_lowercase(), bytes[split + 4..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_are_served_at_hashed_names_and_bad_input_is_an_html_page() {
    let node = start(quiet()).await;
    for (url, bytes) in [(asset_url("blake3", "js"), BLAKE3_JS), (asset_url("verify", "js"), VERIFY_JS)] {
        let hash = blake3::hash(bytes.as_bytes()).to_hex();
        assert!(url.contains(&hash[..16]), "{url}: the name carries the content's hash");
        let (status, head, body) = fetch(&node, &url).await;
        assert_eq!(status, 200, "{url}");
        assert_eq!(body, bytes.as_bytes(), "{url}: the embedded bytes");
        assert!(head.contains("content-type: text/javascript; charset=utf-8"), "{head}");
        assert!(head.contains("x-content-type-options: nosniff"), "{head}");
        assert!(head.contains("cache-control: public, max-age=31536000, immutable"), "{head}");
        // the same name without its hash, or with another, is no asset
        let unhashed = url.replace(&format!(".{}", &hash[..16]), "");
        let wrong = url.replace(&hash[..16], "0000000000000000");
        for other in [unhashed, wrong] {
            let (status, head, _) = fetch(&node, &other).await;
            assert_eq!(status, 404, "{other}");
            assert!(head.contains("content-type: text/html"), "{head}");
        }
    }
    let (status, head, body) = fetch(&node, "/favicon.ico").await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: image/png"), "{head}");
    assert!(body.starts_with(b"\x89PNG\r\n\x1a\n"));

    // an epoch that is no number, escaped into the page; an epoch that has not closed
    let dev = "0000000000000000000000000000000000000000000000000000000000000001";
    let (status, head, body) = fetch(&node, &format!("/accounts/{dev}/epochs/%3Cscript%3Ex%3C%2Fscript%3E")).await;
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(head.contains("content-type: text/html; charset=utf-8"), "{head}");
    assert!(head.contains("content-security-policy: default-src 'none'"), "{head}");
    assert!(body.contains("&lt;script&gt;x&lt;/script&gt;") && !body.contains("<script>x"), "{body}");
    let (status, _, body) = fetch(&node, &format!("/accounts/{dev}/epochs/999999")).await;
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("has not closed"), "{body}");
    node.stop().await;
}
