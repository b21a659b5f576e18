//! The explorer pages a node serves beside its API, over real HTTP: what each page shows matches
//! the API, every response carries the strict headers, hostile input is escaped or refused with
//! an HTML error page, and the API's JSON errors are untouched.

mod common;

use common::*;
use gridmint_node::node::Config;

fn quiet() -> Config {
    Config { rate_limit: 0, block_ms: 100, shutdown_grace_ms: 500, ..Config::default() }
}

/// (status, headers as lower-case text, body)
async fn page(node: &Node, path: &str) -> (u16, String, String) {
    let mut stream = connect_from(node, 1).await;
    tokio::io::AsyncWriteExt::write_all(&mut stream, &get(path)).await.unwrap();
    let bytes = read_to_close(&mut stream).await;
    let text = String::from_utf8(bytes).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head.to_lowercase(), body.to_string())
}

fn check_headers(path: &str, head: &str) {
    assert!(head.contains("content-security-policy: default-src 'none'"), "{path}: {head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{path}: {head}");
    assert!(head.contains("referrer-policy: no-referrer"), "{path}: {head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_what_the_api_answers_with_strict_headers() {
    let node = start(quiet()).await;
    // a few blocks
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (_, status) = exchange(&node, 1, &get("/v1/status")).await;
    let (_, supply) = exchange(&node, 1, &get("/v1/supply")).await;
    let (code, head, body) = page(&node, "/").await;
    assert_eq!(code, 200);
    check_headers("/", &head);
    assert!(head.contains("content-type: text/html; charset=utf-8"));
    assert!(body.contains(status["chain_id"].as_str().unwrap()), "the chain id");
    // the total supply in tokens, exactly as the API's base units give it (cut to 4 decimals)
    let total: u128 = supply["total_supply"].as_str().unwrap().parse().unwrap();
    let whole = total / gridmint_core::TOKEN;
    let grouped = gridmint_node::explorer::tokens(&total.to_string());
    assert!(grouped.starts_with(&whole.to_string()[..1]));
    assert!(body.contains(&grouped), "the total supply {grouped}");
    assert!(body.contains(&format!("title=\"{total} base units\"")));
    for pool in supply["pools"].as_array().unwrap() {
        assert!(body.contains(pool["name"].as_str().unwrap()), "pool {pool}");
    }
    assert!(!body.contains("<script"), "no script in a page");
    assert!(!body.contains("style=\""), "no inline style (the CSP forbids it)");

    // a block page: its hash as the API gives it
    let (_, block) = exchange(&node, 1, &get("/v1/blocks/1")).await;
    let (code, head, body) = page(&node, "/blocks/1").await;
    assert_eq!(code, 200);
    check_headers("/blocks/1", &head);
    assert!(body.contains(block["hash"].as_str().unwrap()));
    assert!(body.contains(block["state_root"].as_str().unwrap()));

    // the dev account's page: its spendable balance in base units
    let dev = gridmint_node::signing::load_key(&node.dev_key).unwrap();
    let address = gridmint_node::signing::address_of(&dev).to_hex();
    let (_, account) = exchange(&node, 1, &get(&format!("/v1/accounts/{address}"))).await;
    let (code, _, body) = page(&node, &format!("/accounts/{address}")).await;
    assert_eq!(code, 200);
    assert!(body.contains(&format!("title=\"{} base units\"", account["spendable"].as_str().unwrap())));

    // the stylesheet
    let (code, head, body) = page(&node, "/assets/explorer.css").await;
    assert_eq!(code, 200);
    assert!(head.contains("content-type: text/css"));
    assert!(body.contains("color-scheme"));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_an_html_error_page_and_is_never_echoed_raw() {
    let node = start(quiet()).await;
    let hostile = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    for (path, want) in [
        (format!("/blocks/{hostile}"), 400),
        ("/blocks/99999999".to_string(), 404),
        (format!("/accounts/{hostile}"), 400),
        (format!("/accounts/{}", "ab".repeat(32)), 404),
        (format!("/search?q={hostile}"), 400),
    ] {
        let (code, head, body) = page(&node, &path).await;
        assert_eq!(code, want, "{path}: {body}");
        check_headers(&path, &head);
        assert!(head.contains("text/html"), "{path}");
        assert!(!body.contains("<script>"), "{path}: the input is escaped");
    }
    // search redirects to the page it names
    let (code, head, _) = page(&node, "/search?q=1").await;
    assert_eq!(code, 303);
    assert!(head.contains("location: /blocks/1"), "{head}");
    let (code, head, _) = page(&node, &format!("/search?q={}", "AB".repeat(32))).await;
    assert_eq!(code, 303);
    assert!(head.contains(&format!("location: /accounts/{}", "ab".repeat(32))), "{head}");
    // the API keeps its typed JSON errors
    let (code, body) = exchange(&node, 1, &get("/v1/nothing")).await;
    assert_eq!((code, body["error"]["code"].as_str()), (404, Some("no_such_route")));
    node.stop().await;
}
