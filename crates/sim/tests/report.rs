//! `report.html` (crates/sim/src/report.rs): self-contained, exact, escaped, bounded in size,
//! deterministic. A real 60-epoch NetMind run gives the result; the 100-year size bound uses that
//! run's rows stretched to 36,500 epochs (a real 100-year run takes about a minute).

use gridmint_core::Policy;
use gridmint_sim::report::{self, Multi, ReportInput, RunRef};
use gridmint_sim::sha256::{base64, sha256};
use gridmint_sim::{Scenario, SimConfig, SimResult, output, run};
use serde_json::{Value, json};

fn netmind(epochs: u64, seed: u64) -> SimResult {
    let scenario = Scenario::default_for("netmind");
    let policy = scenario.apply_overrides(Policy::preset("netmind").unwrap(), &[]).unwrap();
    let config = SimConfig { policy, scenario, epochs, machines: None, seed, threads: 1 };
    run(&config, &|_| {}).unwrap()
}

fn input<'a>(result: &'a SimResult, context: &str, multi: Option<Multi<'a>>) -> ReportInput<'a> {
    let parameters = json!({ "policy": "netmind", "seed": result.seed, "label": context });
    ReportInput {
        result,
        context: context.to_string(),
        summary: output::summary_json(result, parameters.clone()),
        parameters,
        initial_cap: result.state.policy.token.cap.0,
        multi,
    }
}

/// The JSON data island of a report.
fn island(html: &str) -> Value {
    let start = html.find("<script type=\"application/json\" id=\"gm-data\">").unwrap();
    let body = &html[start..];
    let body = &body[body.find('>').unwrap() + 1..body.find("</script>").unwrap()];
    serde_json::from_str(body).unwrap()
}

/// The contents of every `<tag>…</tag>` block whose opening tag is exactly `<tag>`.
fn blocks<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    html.match_indices(&open)
        .map(|(at, _)| {
            let rest = &html[at + open.len()..];
            &rest[..rest.find(&close).unwrap()]
        })
        .collect()
}

/// Goal: the page needs nothing from outside: no URL to load, no external reference of any
/// kind, and its CSP allows exactly its own inline blocks. Method: scan the HTML (the only URL
/// in it is the comment naming uPlot's source), recompute the blocks' hashes.
#[test]
fn report_is_self_contained_and_its_csp_hashes_its_blocks() {
    let result = netmind(60, 7);
    let html = report::report_html(&input(&result, "policy netmind · seed 7", None));
    let scanned = html.replace("/*! https://github.com/leeoniya/uPlot (v1.6.32) */", "");
    for needle in ["http:", "https:", "src=", "href=", "<link", "@import", "url(", "<iframe", "<img", "ftp:"] {
        assert!(!scanned.contains(needle), "the report contains {needle}");
    }
    let csp_start = html.find("http-equiv=\"Content-Security-Policy\" content=\"").unwrap();
    let csp = &html[csp_start..];
    let csp = &csp[csp.find("content=\"").unwrap() + 9..];
    let csp = csp[..csp.find('"').unwrap()].replace("&#39;", "'");
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    let scripts = blocks(&html, "script");
    let styles = blocks(&html, "style");
    assert_eq!((scripts.len(), styles.len()), (2, 1));
    for block in scripts.iter().chain(&styles) {
        let source = format!("'sha256-{}'", base64(&sha256(block.as_bytes())));
        assert!(csp.contains(&source), "{source} not in {csp}");
    }
    assert_eq!(csp.matches("'sha256-").count(), 3, "only the page's own blocks: {csp}");
}

/// Goal: the values in the page are the cells of `epochs.csv`, digit for digit. Method: parse the
/// island of a 60-epoch run back and compare every supply series and every paid column with the
/// CSV text `output::epochs_csv` writes.
#[test]
fn island_carries_the_csv_cells() {
    let result = netmind(60, 7);
    let data = island(&report::report_html(&input(&result, "x", None)));
    let csv = output::epochs_csv(&result);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let column = |name: &str| -> Vec<Value> {
        let at = header.iter().position(|h| *h == name).unwrap();
        rows.iter().map(|r| json!(r[at])).collect()
    };
    let chart = |id: &str| data["charts"].as_array().unwrap().iter().find(|c| c["id"] == json!(id)).unwrap().clone();
    let supply = chart("supply");
    assert_eq!(
        supply["x"],
        Value::Array(column("epoch").iter().map(|e| json!(e.as_str().unwrap().parse::<u64>().unwrap())).collect())
    );
    for (index, name) in ["total_supply", "minted_total", "circulating", "burned_total"].iter().enumerate() {
        assert_eq!(supply["series"][index]["values"], Value::Array(column(name)), "{name}");
    }
    let paid = chart("paid");
    for (index, program) in result.programs.iter().enumerate() {
        assert_eq!(paid["series"][index]["values"], Value::Array(column(&format!("paid_{program}"))), "{program}");
    }
    assert_eq!(paid["series"][result.programs.len()]["values"], Value::Array(column("burned")));
    let released = chart("released");
    for (index, pool) in result.pools.iter().enumerate() {
        assert_eq!(released["series"][index]["values"], Value::Array(column(&format!("released_{pool}"))), "{pool}");
    }
    assert_eq!(data["symbol"], json!("NMT"));
}

/// Goal: user text (a scenario file name, a run label) cannot inject markup or close the data
/// island. Method: a hostile context and run label; the raw text is nowhere in the HTML, its
/// escaped form is, and the island still parses back to the raw label.
#[test]
fn hostile_names_are_escaped() {
    let result = netmind(20, 7);
    let hostile = "</script><script>alert('x')</script><img src=x onerror=alert(1)>&amp;\"";
    let swept = vec!["1\"><b>".to_string()];
    let multi = Multi {
        runs: vec![RunRef { label: hostile, swept: &swept, result: &result }],
        swept_keys: vec!["k<i>".into()],
        bands: true,
    };
    let html = report::report_html(&input(&result, hostile, Some(multi)));
    assert!(!html.contains(hostile));
    assert!(!html.contains("<script>alert"), "an injected script");
    assert!(!html.contains("<img"), "an injected element");
    assert!(!html.contains("<b>") && !html.contains("<i>"));
    assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(&#39;x&#39;)"));
    assert!(html.contains("k&lt;i&gt;") && html.contains("1&quot;&gt;&lt;b&gt;"));
    let data = island(&html);
    let overlay = data["charts"].as_array().unwrap().iter().find(|c| c["id"] == json!("sweep_total_supply")).unwrap();
    assert_eq!(overlay["series"][0]["label"], json!(hostile));
}

/// Goal: the same run gives the same bytes (no time, path or random id in the page).
#[test]
fn report_is_deterministic() {
    let (a, b) = (netmind(30, 9), netmind(30, 9));
    assert_eq!(report::report_html(&input(&a, "c", None)), report::report_html(&input(&b, "c", None)));
}

/// Goal: a 100-year forecast's report stays under 5 MB, keeps only actual rows, always the last
/// one and the peaks (a cliff day stays visible). Method: a 60-epoch run's rows repeated to
/// 36,500 epochs with every amount made distinct (27-digit values, as late in a real run), one
/// cliff day planted; size, sampled rows and the planted day checked.
#[test]
fn hundred_years_stay_under_five_megabytes() {
    let mut result = netmind(60, 7);
    let template = result.rows.clone();
    result.rows = (0..36_500u64)
        .map(|i| {
            let mut row = template[(i % 60) as usize].clone();
            row.epoch = i + 1;
            row.total_supply = 9_999_000_000_000_000_000_000_000_000 - u128::from(i) * 1_234_567_891_234_567;
            row.circulating = row.total_supply - 1_000_000_000_000_000_000_000_000_000;
            row.burned_total = u128::from(i) * 987_654_321_987_654_321;
            row.burned = if i == 20_000 { 2_000_000_000_000_000_000_000_000_000 } else { u128::from(i) * 1_000_003 };
            row
        })
        .collect();
    let (rows, bucket) = report::sample_rows(&result);
    assert_eq!(bucket, 19);
    assert!(rows.len() <= 2 * report::SAMPLE_BUCKETS + 2, "{}", rows.len());
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "ascending, no repeats");
    assert_eq!((rows.first(), rows.last()), (Some(&0), Some(&36_499)));
    assert!(rows.contains(&20_000), "the cliff day is kept");
    let html = report::report_html(&input(&result, "100 years", None));
    assert!(html.len() < 5_000_000, "{} bytes", html.len());
    let data = island(&html);
    let supply = &data["charts"][0];
    assert_eq!(supply["x"].as_array().unwrap().len(), rows.len());
    // each embedded point is the row of its epoch
    for (k, &i) in rows.iter().enumerate().step_by(97) {
        assert_eq!(supply["x"][k], json!(result.rows[i].epoch));
        assert_eq!(supply["series"][0]["values"][k], json!(result.rows[i].total_supply.to_string()));
    }
    assert!(html.contains("the charts show"), "the page says it is downsampled");
}
