//! gridmint-sim: forecasts by running the core itself (RULES X1), day by day, with agents.
//!
//! [`scenario`] reads agent behaviour; [`run`] drives the core; [`output`] writes CSV, JSON and
//! the summary table; [`charts`] draws the PNG charts. The `gridmint simulate` command (crates/cli)
//! is a thin shell over these.

#![deny(clippy::unwrap_used)]

pub mod charts;
pub mod normal;
pub mod output;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sha256;

pub use run::{EpochRow, SimConfig, SimError, SimResult, load_policy, run};
pub use scenario::{Scenario, ScenarioError};

/// Flattens a nested TOML table into dotted keys with TOML-text values (`a.b = 1` → `("a.b", "1")`).
pub fn flatten(table: &toml::Table) -> Vec<(String, String)> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<(String, String)>) {
        for (key, value) in table {
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            match value {
                toml::Value::Table(inner) => walk(&path, inner, out),
                other => out.push((path, other.to_string())),
            }
        }
    }
    let mut out = Vec::new();
    walk("", table, &mut out);
    out
}
