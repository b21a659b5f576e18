//! The docs keep up with the code: every rule id of the rulebook is mapped in docs/RULES.md, and
//! every error code is listed in docs/ERRORS.md with its name.

use gridmint_core::TxError;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Goal: no rule id is left unmapped. Method: collect every `**ID ` bullet of the rulebook
/// (../shared/RULES.md beside the checkout) and find it in a table row of docs/RULES.md.
#[test]
fn every_rule_id_is_mapped() {
    let ours = std::fs::read_to_string(repo().join("docs/RULES.md")).unwrap();
    let rulebook = repo().join("../shared/RULES.md");
    let Ok(text) = std::fs::read_to_string(&rulebook) else {
        eprintln!("{} not found: checking the ids we know", rulebook.display());
        for id in ["G1", "G12", "NM14", "N24-6", "OS7", "OT7", "X4"] {
            assert!(ours.contains(&format!("| {id} ")), "{id}");
        }
        return;
    };
    let mut ids = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("- **") {
            let id: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            if id.chars().any(|c| c.is_ascii_digit()) {
                ids.push(id);
            }
        }
    }
    assert!(ids.len() >= 40, "found only {ids:?}");
    let missing: Vec<&String> = ids.iter().filter(|id| !ours.contains(&format!("| {id} "))).collect();
    assert!(missing.is_empty(), "docs/RULES.md does not map {missing:?}");
}

/// Goal: every error code is documented with its number and name. Method: look each one up.
#[test]
fn every_error_code_is_documented() {
    let doc = std::fs::read_to_string(repo().join("docs/ERRORS.md")).unwrap();
    for error in TxError::ALL {
        let name = serde_json::to_string(error).unwrap().trim_matches('"').to_string();
        assert!(
            doc.contains(&format!("| {} | `{name}` |", error.code())),
            "docs/ERRORS.md lacks {} {name}",
            error.code()
        );
    }
}
