//! gridmint policies: every economic parameter of a network as typed, validated data.
//!
//! A policy is a TOML file (`policies/*.toml` for the presets, embedded in the binary). Every
//! number of `RULES.md` and every `[default]` is a field here, so a network changes its economy by
//! editing data, never code. Loading rejects, with a message naming the problem: unknown keys,
//! shares that do not sum to 10^9, genesis above the cap, tranches that overlap or release more
//! than their pool holds, a year that is not 365 epochs, references to pools that do not exist.
//!
//! This crate also owns the two value types every other crate shares: [`Address`] and exact token
//! amounts ([`Tokens`], [`parse_tokens`]).

#![deny(clippy::float_arithmetic, clippy::unwrap_used)]

mod address;
mod amount;
pub mod canonical;
mod schema;
mod validate;

pub use address::Address;
pub use amount::{AmountError, DECIMALS, PPB, TOKEN, Tokens, format_tokens, parse_base_units, parse_tokens};
pub use schema::*;
pub use validate::{PolicyError, REAL_EPOCH_SECONDS};

/// The presets shipped with gridmint, by name, with their TOML text (embedded at build time).
pub const PRESETS: [(&str, &str); 4] = [
    ("netmind", include_str!("../../../policies/netmind.toml")),
    ("netmind-2024", include_str!("../../../policies/netmind-2024.toml")),
    ("osmi", include_str!("../../../policies/osmi.toml")),
    ("omnitensor", include_str!("../../../policies/omnitensor.toml")),
];

impl Policy {
    /// Parses and validates a policy from TOML text.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = toml::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        policy.validate()?;
        Ok(policy)
    }

    /// One of the embedded presets (`netmind`, `netmind-2024`, `osmi`, `omnitensor`).
    pub fn preset(name: &str) -> Result<Policy, PolicyError> {
        let (_, text) =
            PRESETS.iter().find(|(n, _)| *n == name).ok_or_else(|| PolicyError::UnknownPreset(name.to_string()))?;
        Policy::from_toml(text)
    }

    /// The exact TOML text of this policy (stable field order: the basis of [`Policy::hash`]).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| panic!("a valid policy always serializes: {e}"))
    }

    /// blake3 of the policy's canonical encoding ([`canonical::encode`], never its TOML text):
    /// identifies a policy version in the ledger (G12) and feeds every state root.
    pub fn hash(&self) -> [u8; 32] {
        *blake3::hash(&canonical::encode(self)).as_bytes()
    }

    /// A copy with `key` (a dotted path such as `claims.tax_ppb` or `pools.mining.genesis`) set to
    /// `value` (TOML syntax; a bare word is taken as a string). The result is validated. An
    /// unknown key is an error, never silently added.
    pub fn with_override(&self, key: &str, value: &str) -> Result<Policy, PolicyError> {
        let mut tree = toml::Value::try_from(self).map_err(|e| PolicyError::Parse(e.to_string()))?;
        let parsed: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {value}")) {
            Ok(mut table) => table.remove("v").unwrap_or(toml::Value::String(value.to_string())),
            Err(_) => toml::Value::String(value.to_string()),
        };
        let unknown = || PolicyError::UnknownKey(key.to_string());
        let mut node = &mut tree;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            node = match node {
                toml::Value::Table(table) => {
                    if last {
                        if !table.contains_key(*part) && !schema::is_optional_leaf(&parts) {
                            return Err(unknown());
                        }
                        table.insert((*part).to_string(), parsed);
                        break;
                    }
                    table.get_mut(*part).ok_or_else(unknown)?
                }
                toml::Value::Array(items) => {
                    let position = match part.parse::<usize>() {
                        Ok(index) => Some(index),
                        Err(_) => items.iter().position(|item| {
                            item.get("name").or_else(|| item.get("pool")).and_then(|v| v.as_str()) == Some(*part)
                        }),
                    };
                    let item = position.and_then(|p| items.get_mut(p)).ok_or_else(unknown)?;
                    if last {
                        *item = parsed;
                        break;
                    }
                    item
                }
                _ => return Err(unknown()),
            };
        }
        let policy: Policy = tree.try_into().map_err(|e: toml::de::Error| PolicyError::Parse(e.to_string()))?;
        policy.validate()?;
        Ok(policy)
    }
}

#[cfg(test)]
mod tests;
