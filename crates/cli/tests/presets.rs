//! Black-box tests of the presets through the binary: `gridmint init` makes only real networks
//! (G4), `gridmint simulate` refuses a scenario upgrade it cannot schedule (G12).

use std::process::{Command, Output};

fn gridmint(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridmint")).args(args).output().expect("the binary runs")
}

/// Goal: G4: `gridmint init` (a real network's genesis) refuses a policy whose epochs are not
/// 86,400 s, naming `epoch.seconds` and the dev-network alternative, and creates nothing; every
/// preset is accepted. Method: netmind's TOML with `seconds = 3_600`, then each preset.
#[test]
fn init_refuses_short_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let shown = gridmint(&["policy", "show", "netmind"]);
    assert!(shown.status.success());
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(text.contains("seconds = 86400"), "{text}");
    let short = dir.path().join("short.toml");
    std::fs::write(&short, text.replace("seconds = 86400", "seconds = 3600")).unwrap();
    let data = dir.path().join("short-net");
    let output = gridmint(&["init", "--policy", short.to_str().unwrap(), "--data", data.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("epoch.seconds") && stderr.contains("86,400") && stderr.contains("--dev"), "{stderr}");
    assert!(!data.exists(), "nothing created");
    for preset in ["netmind", "netmind-2024", "osmi", "omnitensor"] {
        let data = dir.path().join(preset);
        let output = gridmint(&["init", "--policy", preset, "--data", data.to_str().unwrap(), "--genesis-time", "0"]);
        assert!(output.status.success(), "{preset}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

/// Goal: G12 through the CLI: a scenario upgrade at epoch 1 (it used to be dropped silently) or
/// two for one epoch (the later used to win) is bad input: exit 2, a message naming the problem,
/// no output. Method: two scenario files.
#[test]
fn simulate_refuses_unschedulable_upgrades() {
    let dir = tempfile::tempdir().unwrap();
    let upgrade =
        |epoch: u64| format!("[[upgrades]]\nepoch = {epoch}\npolicy = \"netmind-2024\"\nrestart_pools = true\n");
    let cases = [(upgrade(1), "epoch 1"), (format!("{}{}", upgrade(5), upgrade(5)), "already scheduled for epoch 5")];
    for (index, (scenario, needle)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("scenario{index}.toml"));
        std::fs::write(&path, scenario).unwrap();
        let out = dir.path().join(format!("out{index}"));
        let output = gridmint(&[
            "simulate",
            "--policy",
            "netmind",
            "--scenario",
            path.to_str().unwrap(),
            "--epochs",
            "10",
            "--out",
            out.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(needle) && stderr.contains("upgrades"), "`{stderr}` does not say `{needle}`");
        assert!(!out.exists(), "no output");
    }
}
