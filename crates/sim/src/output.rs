//! Writing a run: `epochs.csv`, `summary.json`, `balances.csv`, and the table on stdout.
//! Amounts are base units (exact integers); JSON carries them as strings.

use crate::SimResult;
use gridmint_policy::format_tokens;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

/// The header and rows of `epochs.csv`.
pub fn epochs_csv(result: &SimResult) -> String {
    let mut out = String::with_capacity(result.rows.len() * 200);
    out.push_str("epoch,total_supply,minted_total,burned_total,circulating");
    for pool in &result.pools {
        let _ = write!(out, ",released_{pool}");
    }
    for program in &result.programs {
        let _ = write!(out, ",paid_{program}");
    }
    out.push_str(",burned\n");
    for row in &result.rows {
        let _ = write!(
            out,
            "{},{},{},{},{}",
            row.epoch, row.total_supply, row.minted_total, row.burned_total, row.circulating
        );
        for value in row.released().iter().chain(row.paid()) {
            let _ = write!(out, ",{value}");
        }
        let _ = writeln!(out, ",{}", row.burned);
    }
    out
}

/// `balances.csv`: every account's whole holding, in address order, in parts (formatted in
/// parallel) that make the file when written one after the other.
pub fn balances_csv(result: &SimResult) -> Vec<String> {
    let state = &result.state;
    let machines = state.sum_by_owner(&state.machines_unclaimed());
    let accounts: Vec<(&gridmint_core::Address, &u32)> = state.account_index.iter().collect();
    // lines formatted in parallel, in address order
    use rayon::prelude::*;
    let mut parts: Vec<String> = vec!["account,balance\n".to_string()];
    parts.par_extend(accounts.par_chunks(4_096).map(|chunk| {
        let mut part = String::with_capacity(chunk.len() * 100);
        for (address, id) in chunk {
            let (a, r) = (&state.accounts[**id as usize], &state.rewards[**id as usize]);
            let holding = a.spendable + r.unclaimed + a.staked + a.unbonding + a.escrowed + machines[**id as usize];
            let mut hex = [0u8; 64];
            let _ = hex::encode_to_slice(address.0, &mut hex);
            part.push_str(std::str::from_utf8(&hex).unwrap_or_default());
            let _ = writeln!(part, ",{holding}");
        }
        part
    }));
    parts
}

/// The Gini coefficient of machine rewards (reporting only; 0 = equal, 1 = one machine has all).
pub fn gini(rewards: &[u128]) -> f64 {
    let mut sorted: Vec<f64> = rewards.iter().map(|r| *r as f64).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let total: f64 = sorted.iter().sum();
    if n == 0.0 || total == 0.0 {
        return 0.0;
    }
    let weighted: f64 = sorted.iter().enumerate().map(|(i, r)| (i as f64 + 1.0) * r).sum();
    (2.0 * weighted) / (n * total) - (n + 1.0) / n
}

/// `summary.json`.
pub fn summary_json(result: &SimResult, parameters: Value) -> Value {
    let state = &result.state;
    let pools: serde_json::Map<String, Value> =
        state.pools.iter().map(|p| (p.name.to_string(), json!(p.balance.to_string()))).collect();
    json!({
        "parameters": parameters,
        "seed": result.seed,
        "epochs": result.rows.len(),
        "policy": { "name": state.policy.name, "version": state.policy.version, "hash": hex::encode(state.policy.hash()) },
        "cap": state.cap.to_string(),
        "total_supply": state.total_supply().to_string(),
        "minted_total": state.minted_total.to_string(),
        "burned_total": state.burned_total.to_string(),
        "circulating": state.circulating().to_string(),
        "pools": pools,
        "released": result.pools.iter().enumerate().map(|(i, pool)| {
            (pool.clone(), json!(result.rows.last().map_or(0, |r| r.released()[i]).to_string()))
        }).collect::<serde_json::Map<String, Value>>(),
        "paid": result.programs.iter().enumerate().map(|(i, program)| {
            (program.clone(), json!(result.rows.iter().map(|r| r.paid()[i]).sum::<u128>().to_string()))
        }).collect::<serde_json::Map<String, Value>>(),
        "escrow": state.bridge.escrow.to_string(),
        "counts": {
            "accounts": state.accounts.len(),
            "machines": state.machines.len(),
            "validators": state.validators.len(),
            "master_nodes": state.master_nodes.len(),
            "open_jobs": state.jobs.len(),
            "debts": state.debts.len(),
            "proposals": state.proposals.len(),
        },
        "transactions": {
            "sent": result.txs_sent,
            "rejected": result.txs_rejected,
            "rejected_by_code": result.rejections.iter().map(|(code, n)| {
                let name = gridmint_core::TxError::from_code(*code).map_or("unknown".to_string(), |e| format!("{e:?}"));
                (format!("{code} {name}"), json!(n))
            }).collect::<serde_json::Map<String, Value>>(),
            "rejected_by_kind": result.rejections_by_kind.iter().map(|((kind, code), n)| {
                let name = gridmint_core::TxError::from_code(*code).map_or("unknown".to_string(), |e| format!("{e:?}"));
                (format!("{kind} {code} {name}"), json!(n))
            }).collect::<serde_json::Map<String, Value>>(),
        },
        "machine_rewards_gini": format!("{:.6}", result.machine_rewards_gini),
        "policy_log": state.policy_log,
        "refused_upgrades": result.refused_upgrades,
        "refused_proposals": result.refused_proposals,
        "leaderboard": {
            "machines": state.machine_leaderboard(10).iter().map(|(a, r)| json!([a.to_hex(), r.to_string()])).collect::<Vec<_>>(),
            "validators": state.validator_leaderboard(10).iter().map(|(a, r)| json!([a.to_hex(), r.to_string()])).collect::<Vec<_>>(),
        },
        "state_root": hex::encode(result.state_root),
        "rewards_root": hex::encode(result.rewards_root),
    })
}

/// Writes the three data files of a run into `dir`.
pub fn write_run(dir: &Path, result: &SimResult, parameters: Value) -> std::io::Result<Value> {
    std::fs::create_dir_all(dir)?;
    let (epochs, (balances, summary)) = rayon::join(
        || epochs_csv(result),
        || rayon::join(|| balances_csv(result), || summary_json(result, parameters)),
    );
    std::fs::write(dir.join("epochs.csv"), epochs)?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join("balances.csv"))?);
    balances.iter().try_for_each(|part| file.write_all(part.as_bytes()))?;
    file.flush()?;
    let mut file = std::fs::File::create(dir.join("summary.json"))?;
    file.write_all(serde_json::to_string_pretty(&summary).unwrap_or_default().as_bytes())?;
    file.write_all(b"\n")?;
    Ok(summary)
}

/// Tokens with thousands separators and 2 decimals, for tables (display only).
pub fn human(base_units: u128) -> String {
    let text = format_tokens(base_units);
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let frac: String = frac.chars().chain(std::iter::repeat('0')).take(2).collect();
    format!("{grouped}.{frac}")
}

/// The summary table printed on stdout.
pub fn table(result: &SimResult, symbol: &str) -> String {
    let state = &result.state;
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: String| {
        let _ = writeln!(out, "  {k:<28} {v:>32}");
    };
    let _ = writeln!(
        out,
        "gridmint simulate — {} v{}, {} epochs, seed {}",
        state.policy.name,
        state.policy.version,
        result.rows.len(),
        result.seed
    );
    line(&mut out, &format!("total supply ({symbol})"), human(state.total_supply()));
    line(&mut out, "minted", human(state.minted_total));
    line(&mut out, "burned", human(state.burned_total));
    line(&mut out, "circulating", human(state.circulating()));
    line(&mut out, "cap", human(state.cap));
    for pool in &state.pools {
        line(&mut out, &format!("pool {}", pool.name), human(pool.balance));
    }
    if state.bridge.escrow > 0 {
        line(&mut out, "bridge escrow", human(state.bridge.escrow));
    }
    for (i, program) in result.programs.iter().enumerate() {
        let total: u128 = result.rows.iter().map(|r| r.paid().get(i).copied().unwrap_or(0)).sum();
        line(&mut out, &format!("paid {program}"), human(total));
    }
    line(&mut out, "machines", state.machines.len().to_string());
    line(&mut out, "accounts", state.accounts.len().to_string());
    line(&mut out, "agent txs (rejected)", format!("{} ({})", result.txs_sent, result.txs_rejected));
    line(&mut out, "machine rewards Gini", format!("{:.4}", result.machine_rewards_gini));
    line(&mut out, "state root", hex::encode(&result.state_root[..8]));
    for refused in &result.refused_upgrades {
        let _ = writeln!(
            out,
            "  upgrade to {} v{} at epoch {} refused (the old policy stayed): {}",
            refused.policy, refused.version, refused.from_epoch, refused.reason
        );
    }
    for refused in &result.refused_proposals {
        let _ = writeln!(
            out,
            "  proposal {} (epoch {}) refused by the ledger, never voted on: {} (code {})",
            refused.index, refused.epoch, refused.reason, refused.code
        );
    }
    out
}
