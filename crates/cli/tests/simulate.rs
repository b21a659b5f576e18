//! Black-box tests of `gridmint simulate`: they run the real binary and read its files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gridmint(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridmint")).args(args).output().expect("the binary runs")
}

fn simulate(out: &Path, args: &[&str]) -> Output {
    let mut all = vec!["simulate", "--out", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = gridmint(&all);
    assert!(output.status.success(), "gridmint {all:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    fn read(path: &Path) -> Csv {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap().split(',').map(String::from).collect();
        Csv { header, rows: lines.map(|l| l.split(',').map(String::from).collect()).collect() }
    }
    fn get(&self, epoch: usize, column: &str) -> u128 {
        let index = self.header.iter().position(|h| h == column).unwrap_or_else(|| panic!("no column {column}"));
        self.rows[epoch - 1][index].parse().unwrap()
    }
}

fn tokens(text: &str) -> u128 {
    gridmint_policy::parse_tokens(text).unwrap()
}

fn empty_scenario(dir: &Path) -> PathBuf {
    let path = dir.join("empty.toml");
    std::fs::write(&path, "description = \"no agents\"\n").unwrap();
    path
}

/// Goal: the rulebook's NM figures come out of epochs.csv exactly. Method: 100 years of netmind
/// (the schedule alone, as in the rulebook's table).
#[test]
fn netmind_figures_through_epochs_csv() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = empty_scenario(dir.path());
    let out = dir.path().join("out");
    simulate(&out, &["--policy", "netmind", "--scenario", scenario.to_str().unwrap(), "--years", "100"]);
    for chart in ["supply.png", "daily_distribution.png", "allocation.png", "rewards.png"] {
        let bytes = std::fs::read(out.join(chart)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000, "{chart} is a real PNG");
    }
    let csv = Csv::read(&out.join("epochs.csv"));
    assert_eq!(csv.rows.len(), 36_500);
    assert_eq!(csv.get(1, "released_mining"), tokens("273972.602739726027397260"));
    assert_eq!(csv.get(1, "released_staking"), tokens("82191.780821917808219178"));
    assert_eq!(csv.get(1, "released_team"), tokens("27397.260273972602739726"));
    let total =
        |e| ["mining", "staking", "dao", "team"].iter().map(|p| csv.get(e, &format!("released_{p}"))).sum::<u128>();
    assert_eq!(total(365), tokens("140000000"));
    assert_eq!(csv.get(1824, "released_dao"), 0);
    assert_eq!(total(1824), tokens("699616438.356164383561643833"));
    assert_eq!(total(1825), tokens("2700000000"));
    assert_eq!(total(3650), tokens("3400000000"));
    assert_eq!(total(14600), tokens("6100000000"));
    assert_eq!(total(36500), tokens("10000000000"));
}

/// Goal: OS2's figures through epochs.csv. Method: osmi with no agents (no burns).
#[test]
fn osmi_figures_through_epochs_csv() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = empty_scenario(dir.path());
    let out = dir.path().join("out");
    simulate(&out, &["--policy", "osmi", "--scenario", scenario.to_str().unwrap(), "--epochs", "3650", "--no-charts"]);
    let csv = Csv::read(&out.join("epochs.csv"));
    assert_eq!(csv.get(1, "minted_total") - tokens("100000000"), tokens("1350000"));
    assert_eq!(csv.get(1, "released_node_rewards"), tokens("675000"), "minted into the Node Reward Pool");
    assert_eq!(csv.get(1, "released_tge_node_rewards"), tokens("50000000") / 90, "OS1: linear over 1-90");
    assert_eq!(csv.get(1, "released_project_fund"), tokens("270000"));
    assert_eq!(csv.get(1, "released_staking_community"), tokens("270000"));
    assert_eq!(csv.get(1, "released_referral"), tokens("135000"));
    assert_eq!(csv.get(2, "total_supply"), tokens("102697975"));
    assert_eq!(csv.get(365, "total_supply"), tokens("479659332.313983636928430484"));
    assert_eq!(csv.get(3650, "total_supply"), tokens("996244263.507572524905944474"));
}

fn sum_csv_column(path: &Path, column: usize) -> u128 {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().skip(1).map(|l| l.split(',').nth(column).unwrap().parse::<u128>().unwrap()).sum()
}

/// Goal: conservation at the end of every preset's default scenario: Σ balances.csv + Σ pools +
/// escrow = total_supply. Method: 200 epochs of each preset, sums from the output files.
#[test]
fn every_preset_conserves_supply() {
    for preset in ["netmind", "netmind-2024", "osmi", "omnitensor"] {
        let dir = tempfile::tempdir().unwrap();
        simulate(dir.path(), &["--policy", preset, "--epochs", "200", "--machines", "300", "--no-charts"]);
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap()).unwrap();
        let amount = |v: &serde_json::Value| v.as_str().unwrap().parse::<u128>().unwrap();
        let pools: u128 = summary["pools"].as_object().unwrap().values().map(amount).sum();
        let balances = sum_csv_column(&dir.path().join("balances.csv"), 1);
        assert!(balances > 0, "{preset}: someone holds tokens");
        assert_eq!(
            balances + pools + amount(&summary["escrow"]),
            amount(&summary["total_supply"]),
            "{preset}: G8 in the output"
        );
        let csv = Csv::read(&dir.path().join("epochs.csv"));
        assert_eq!(csv.get(200, "total_supply"), amount(&summary["total_supply"]));
    }
}

/// Goal: a run's output does not depend on how many threads drew and closed its epochs.
/// Method: 40,000 machines (enough for the parallel uptime draw, ≥ 4 chunks of 8,192, and the
/// parallel close, two chunks of ≥ 16,384) with `--threads 1` and `--threads 2`: every file
/// byte for byte.
#[test]
fn output_independent_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let args = ["--policy", "netmind", "--epochs", "20", "--machines", "40000", "--seed", "3", "--no-charts"];
    simulate(&one, &[&args[..], &["--threads", "1"]].concat());
    simulate(&two, &[&args[..], &["--threads", "2"]].concat());
    for file in ["epochs.csv", "summary.json", "balances.csv"] {
        let (x, y) = (std::fs::read(one.join(file)).unwrap(), std::fs::read(two.join(file)).unwrap());
        assert!(x == y, "{file} differs between 1 and 2 threads");
    }
}

/// Goal: the same seed gives byte-identical output, charts included; another seed differs.
/// Method: run twice with seed 7 and once with seed 8.
#[test]
fn same_seed_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
    let args = ["--policy", "netmind", "--epochs", "120", "--machines", "200"];
    simulate(&a, &[&args[..], &["--seed", "7"]].concat());
    simulate(&b, &[&args[..], &["--seed", "7", "--threads", "1"]].concat());
    simulate(&c, &[&args[..], &["--seed", "8"]].concat());
    for file in [
        "epochs.csv",
        "summary.json",
        "balances.csv",
        "supply.png",
        "daily_distribution.png",
        "allocation.png",
        "rewards.png",
        "report.html",
    ] {
        let (x, y) = (std::fs::read(a.join(file)).unwrap(), std::fs::read(b.join(file)).unwrap());
        assert!(x == y, "{file} differs between two runs with the same seed");
    }
    assert_ne!(std::fs::read(a.join("balances.csv")).unwrap(), std::fs::read(c.join("balances.csv")).unwrap());
}

/// Goal: each bad input gets a clear message naming the problem, exit code 2, and no output.
/// Method: unknown policy, unknown --set key, malformed scenario, --epochs 0, bad sweep.
#[test]
fn bad_input_rejected_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[machines]\ncount = \"many\"\n").unwrap();
    let unknown_key = dir.path().join("typo.toml");
    std::fs::write(&unknown_key, "machnes = 1\n").unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["--policy", "bitcoin"], "bitcoin"),
        (&["--policy", "netmind", "--set", "claims.tax_ppm=1"], "claims.tax_ppm"),
        (&["--policy", "netmind", "--set", "claims.tax_ppb"], "KEY=VALUE"),
        (&["--policy", "netmind", "--scenario", broken.to_str().unwrap()], "count"),
        (&["--policy", "netmind", "--scenario", unknown_key.to_str().unwrap()], "machnes"),
        (&["--policy", "netmind", "--epochs", "0"], "--epochs"),
        (&["--policy", "netmind", "--sweep", "claims.tax_ppb=5000000000"], "claims.tax_ppb"),
    ];
    for (index, (args, needle)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("out{index}"));
        let mut all = vec!["simulate", "--out", out.to_str().unwrap()];
        all.extend_from_slice(args);
        let output = gridmint(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: the message `{stderr}` does not name `{needle}`");
        assert!(!out.exists(), "{args:?}: wrote output");
    }
}

/// Goal: --runs writes one folder per seed, a comparison and banded charts; --sweep writes one
/// folder per grid point, a comparison with a column per swept parameter, and overlay charts.
/// Method: 3 runs, then a 2×2 sweep, then a sweep with charts.
#[test]
fn runs_and_sweeps() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mc");
    simulate(&out, &["--policy", "osmi", "--epochs", "60", "--machines", "100", "--runs", "3", "--seed", "5"]);
    for seed in 5..8 {
        assert!(out.join(format!("seed-{seed}")).join("epochs.csv").exists());
    }
    assert_eq!(std::fs::read_to_string(out.join("comparison.csv")).unwrap().lines().count(), 4);
    assert!(out.join("supply.png").exists());
    for chart in ["runs_total_supply.png", "runs_circulating.png", "runs_burned.png"] {
        assert!(out.join(chart).exists(), "no {chart}");
    }
    let out = dir.path().join("sweep");
    simulate(
        &out,
        &[
            "--policy",
            "osmi",
            "--epochs",
            "30",
            "--machines",
            "50",
            "--no-charts",
            "--sweep",
            "claims.tax_ppb=0,50000000",
            "--sweep",
            "points.payout_ppb=50000000,100000000",
        ],
    );
    let comparison = std::fs::read_to_string(out.join("comparison.csv")).unwrap();
    assert_eq!(comparison.lines().count(), 5, "{comparison}");
    // a label with a comma is one field, and each swept parameter has its column
    let mut reader = csv::Reader::from_path(out.join("comparison.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(&header[..4], ["run", "seed", "claims.tax_ppb", "points.payout_ppb"], "{comparison}");
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(records.iter().all(|r| r.len() == header.len()), "{comparison}");
    let point = records
        .iter()
        .find(|r| &r[0] == "claims.tax_ppb=0,points.payout_ppb=100000000")
        .unwrap_or_else(|| panic!("the label round-trips: {comparison}"));
    assert_eq!((&point[2], &point[3]), ("0", "100000000"));
    // each grid point gets its own folder (the label's commas become underscores)
    for folder in ["claims.tax_ppb=0_points.payout_ppb=50000000", "claims.tax_ppb=50000000_points.payout_ppb=100000000"]
    {
        assert!(out.join(folder).join("summary.json").exists(), "no run folder {folder}");
    }
    // the overlay charts of a sweep
    let out = dir.path().join("sweep-charts");
    simulate(&out, &["--policy", "osmi", "--epochs", "20", "--machines", "20", "--sweep", "claims.tax_ppb=0,50000000"]);
    for chart in ["sweep_total_supply.png", "sweep_circulating.png", "sweep_burned.png"] {
        assert!(std::fs::metadata(out.join(chart)).is_ok_and(|m| m.len() > 1000), "no {chart}");
    }
}

/// Goal: N24-6 through the CLI: netmind for 365 epochs, then netmind-2024. Method: the history
/// scenario; the policy log and the new pools appear in the output, and the rows written before
/// the new pools and programs existed carry zeros in their columns, every other value in place.
#[test]
fn netmind_history_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/netmind-history.toml");
    simulate(dir.path(), &["--policy", "netmind", "--scenario", scenario, "--no-charts"]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["policy"]["name"], "netmind-2024");
    assert_eq!(summary["policy_log"][1]["from_epoch"], 366);
    let csv = Csv::read(&dir.path().join("epochs.csv"));
    assert!(csv.header.contains(&"released_early_gpu_contributors".to_string()));
    assert!(csv.rows.iter().all(|row| row.len() == csv.header.len()), "every row has every column");
    assert_eq!(csv.get(1, "released_early_gpu_contributors"), 0, "a pool before it existed");
    assert_eq!(csv.get(1, "released_mining"), 273_972_602_739_726_027_397_260, "NM: 100M tokens over 365 epochs");
    assert!(csv.get(1, "paid_connection_reward") > 0, "the machines earned on day one");
    assert_eq!(csv.get(1, "burned"), 0);
    assert!(csv.get(366, "burned_total") > tokens("9000000000"), "the unreleased NM pools were burned");
    assert!(csv.get(730, "total_supply") < tokens("300000000"));
}
