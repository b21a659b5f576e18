//! What `gridmint tx` and `gridmint lookup` tell the user about a transaction: the node's JSON
//! on standard output (with token-formatted amounts beside the base units), and on standard
//! error one line saying why it did not do what was asked, and an exit code that says so.
//!
//! Exit codes: 0 the transaction was applied (or, without `--wait`, admitted to the mempool);
//! 1 it was not: refused by the node, committed with an error code (G10: it paid its fee and
//! used its nonce, nothing else happened), dropped while waiting, still pending when the wait
//! ended, or unknown; 2 bad arguments or no answer from the node.

use gridmint_core::{Address, TxBody, TxError};
use gridmint_node::client::{Answer, Client};
use gridmint_policy::format_tokens;
use serde_json::Value;
use std::process::ExitCode;

/// Names of the amount fields (base units, as decimal strings) in the node's answers.
const AMOUNT_FIELDS: &[&str] = &[
    "active_stake",
    "amount",
    "balance",
    "bond",
    "budget",
    "burned",
    "burned_total",
    "cap",
    "circulating",
    "debt",
    "dust",
    "earned",
    "earned_by_machines",
    "earned_otherwise",
    "escrow",
    "escrowed",
    "fee",
    "holding",
    "minted",
    "minted_total",
    "paid",
    "released",
    "released_total",
    "remaining",
    "reward",
    "rewards_total",
    "rewards_total_after",
    "rewards_total_before",
    "share",
    "spendable",
    "staked",
    "total_supply",
    "unbonding",
    "unclaimed",
];

/// Adds `<key>_tokens` (the amount in tokens, exact decimal) beside every amount field
/// `<key>` (base units as a string of digits) at any depth. Nothing is removed or renamed, so
/// a script reading the base units keeps working.
pub fn with_tokens(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let mut added = Vec::new();
            for (key, field) in map.iter_mut() {
                match field {
                    Value::String(text) if AMOUNT_FIELDS.contains(&key.as_str()) => {
                        if let Some(base_units) = base_units(text) {
                            added.push((format!("{key}_tokens"), Value::String(format_tokens(base_units))));
                        }
                    }
                    _ => with_tokens(field),
                }
            }
            for (key, tokens) in added {
                map.entry(key).or_insert(tokens);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(with_tokens),
        _ => {}
    }
}

fn base_units(text: &str) -> Option<u128> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Prints `body` (pretty JSON, with token amounts) on standard output.
pub fn print_json(mut body: Value) {
    with_tokens(&mut body);
    println!("{body:#}");
}

/// What the CLI knows of the transaction it sent: its body and signer (a lookup reads them
/// from the block).
pub struct Sent {
    /// The signer.
    pub signer: Address,
    /// The body.
    pub body: TxBody,
}

/// Reports the node's answer to `POST /v1/tx` (`waited`: with `?wait=true`).
pub fn report_submit(client: &Client, answer: &Answer, sent: &Sent, waited: bool) -> ExitCode {
    let body = answer.body.clone();
    match (answer.status, body["status"].as_str()) {
        (200, Some("committed")) => report_receipt(client, body, Some(sent)),
        (202, _) if !waited => {
            print_json(body);
            ExitCode::SUCCESS
        }
        (202, _) => {
            // the node's wait ended: dropped meanwhile, or still waiting
            let id = body["id"].as_str().unwrap_or_default().to_string();
            match client.get(&format!("/v1/tx/{id}")) {
                Ok(now) if now.status == 200 && now.body["status"] == "committed" => {
                    report_receipt(client, now.body, Some(sent))
                }
                Ok(now) if now.status == 200 && now.body["status"] == "dropped" => report_dropped(now.body),
                _ => {
                    print_json(body);
                    eprintln!(
                        "error: not committed yet: the transaction still waits after the node's wait; \
                         check it later with `gridmint lookup {id}`"
                    );
                    ExitCode::from(1)
                }
            }
        }
        (status, _) => {
            print_json(body.clone());
            let code = body["error"]["code"].as_str().unwrap_or("error");
            let message = body["error"]["message"].as_str().unwrap_or("");
            eprintln!("error: refused by the node (HTTP {status}, {code}): {message}");
            ExitCode::from(1)
        }
    }
}

/// Prints a committed receipt; when it carries an error code, says why on standard error and
/// exits 1.
fn report_receipt(client: &Client, receipt: Value, sent: Option<&Sent>) -> ExitCode {
    let code = receipt["code"].as_u64().unwrap_or(0);
    let height = receipt["height"].as_u64().unwrap_or(0);
    let fee = receipt["fee"].as_str().and_then(base_units).unwrap_or(0);
    print_json(receipt.clone());
    if code == 0 {
        return ExitCode::SUCCESS;
    }
    let error = u16::try_from(code).ok().and_then(TxError::from_code);
    let name = receipt["error"].as_str().unwrap_or("unknown error").to_string();
    let describe = error.map(|e| lowercase_first(e.describe().trim_end_matches('.'))).unwrap_or_default();
    let detail = match (error, sent) {
        (Some(error), Some(sent)) => needed_and_held(client, error, sent).map(|d| format!(": {d}")).unwrap_or_default(),
        _ => String::new(),
    };
    eprintln!(
        "error: failed in block {height} ({name}: {describe}){detail}; it paid its fee of {} tokens and used its \
         nonce, nothing else changed",
        format_tokens(fee)
    );
    ExitCode::from(1)
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

fn report_dropped(status: Value) -> ExitCode {
    print_json(status.clone());
    let name = status["error"]["name"].as_str().unwrap_or("unknown");
    let message = status["error"]["message"].as_str().unwrap_or("");
    eprintln!(
        "error: dropped before its block ({name}: {message}); it was never stored and paid nothing: \
         send it again (a new nonce is chosen)"
    );
    ExitCode::from(1)
}

/// For a balance that was too small: what the transaction needed and what the signer holds
/// now (read after its block: later blocks may have changed it, so it says "now"); for a
/// bridge transfer below the policy's minimum: what was sent and the minimum.
fn needed_and_held(client: &Client, error: TxError, sent: &Sent) -> Option<String> {
    if let (TxBody::BridgeOut { amount, .. }, TxError::BelowBridgeMinimum) = (&sent.body, error) {
        let bridge = client.get("/v1/bridge").ok().filter(|b| b.status == 200)?;
        let min = bridge.body["outbound_min"].as_str().and_then(base_units)?;
        return Some(format!("sent {} tokens, the minimum is {} tokens", format_tokens(*amount), format_tokens(min)));
    }
    let needed = match (&sent.body, error) {
        (TxBody::Transfer { amount, .. }, TxError::InsufficientBalance)
        | (TxBody::Stake { amount, .. }, TxError::InsufficientBalance)
        | (TxBody::BridgeOut { amount, .. }, TxError::InsufficientBalance)
        | (TxBody::Unstake { amount, .. }, TxError::InsufficientStake) => *amount,
        (TxBody::RegisterValidator { bond }, TxError::InsufficientBalance)
        | (TxBody::RegisterMachine { bond, .. }, TxError::InsufficientBalance) => *bond,
        (TxBody::SubmitJob { price_per_gpu_second, max_gpu_seconds, .. }, TxError::InsufficientBalance) => {
            price_per_gpu_second.checked_mul(u128::from(*max_gpu_seconds))?
        }
        _ => return None,
    };
    let (field, what) =
        if error == TxError::InsufficientStake { ("staked", "staked") } else { ("spendable", "spendable") };
    let account = client.get(&format!("/v1/accounts/{}", sent.signer.to_hex())).ok().filter(|a| a.status == 200)?;
    let held = account.body[field].as_str().and_then(base_units)?;
    Some(format!("needed {} tokens, the signer has {} tokens {what} now", format_tokens(needed), format_tokens(held)))
}

/// `gridmint lookup ID`: a transaction by id: committed (its receipt and the transaction, read
/// from its block while the node keeps it), pending, or dropped.
pub fn lookup(client: &Client, id: &str) -> ExitCode {
    let answer = match client.get(&format!("/v1/tx/{id}")) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if answer.status != 200 {
        print_json(answer.body.clone());
        let code = answer.body["error"]["code"].as_str().unwrap_or("error");
        let message = answer.body["error"]["message"].as_str().unwrap_or("");
        eprintln!("error: {code}: {message}");
        return ExitCode::from(1);
    }
    match answer.body["status"].as_str() {
        Some("committed") => {
            let mut receipt = answer.body;
            let sent = transaction_of(client, &receipt);
            if let Some((_, tx)) = &sent {
                receipt["tx"] = tx.clone();
            }
            let sent = sent.map(|(sent, _)| sent);
            report_receipt(client, receipt, sent.as_ref())
        }
        Some("dropped") => report_dropped(answer.body),
        _ => {
            print_json(answer.body);
            eprintln!("pending: waiting in the node's mempool for a block");
            ExitCode::from(1)
        }
    }
}

/// The transaction of a receipt, from its block (`None` when the node pruned the block).
fn transaction_of(client: &Client, receipt: &Value) -> Option<(Sent, Value)> {
    let height = receipt["height"].as_u64()?;
    let index = usize::try_from(receipt["index"].as_u64()?).ok()?;
    let block = client.get(&format!("/v1/blocks/{height}")).ok().filter(|a| a.status == 200)?;
    let item = block.body["txs"].get(index)?;
    let tx = item["tx"]["tx"].clone();
    let signer = serde_json::from_value(tx["signer"].clone()).ok()?;
    let body = serde_json::from_value(tx["body"].clone()).ok()?;
    Some((Sent { signer, body }, tx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Goal: every amount field gets a token twin, nested ones too, and nothing else changes.
    /// Method: a receipt-like and an epoch-like value.
    #[test]
    fn amounts_get_a_token_twin() {
        let mut value = json!({
            "fee": "1000000000000000",
            "height": 3,
            "id": "12",
            "programs": [{"paid": "12500000000000000000", "name": "mining"}],
            "holding": "not a number",
        });
        with_tokens(&mut value);
        assert_eq!(value["fee_tokens"], "0.001");
        assert_eq!(value["programs"][0]["paid_tokens"], "12.5");
        assert_eq!(value["fee"], "1000000000000000", "the base units stay");
        assert!(value.get("id_tokens").is_none() && value.get("height_tokens").is_none());
        assert!(value.get("holding_tokens").is_none(), "only digit strings are amounts");
    }
}
