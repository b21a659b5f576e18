//! Token amounts and rates (RULES G1, G2).
//!
//! Every amount is a `u128` of base units; 1 token = 10^18 base units. Rates are integers over
//! 10^9 (parts per billion). Policy files write amounts in tokens, as integers or as exact decimal
//! strings (`"0.001"`, `"6.25"`, `"1_000_000"`); parsing is exact and rejects anything that would
//! need rounding.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Base units per token (RULES G1).
pub const TOKEN: u128 = 1_000_000_000_000_000_000;
/// Decimal places of a token.
pub const DECIMALS: u32 = 18;
/// The denominator of every rate (RULES G2): one whole = 10^9 ppb.
pub const PPB: u128 = 1_000_000_000;

/// Why a decimal token string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// The string is empty or contains something other than digits, `_` and one `.`.
    #[error("`{0}` is not a decimal token amount (digits, optional `.` and up to 18 decimals)")]
    Syntax(String),
    /// More than 18 decimal places: it would need rounding.
    #[error("`{0}` has more than 18 decimal places")]
    TooPrecise(String),
    /// Larger than `u128::MAX` base units.
    #[error("`{0}` is too large for 128-bit base units")]
    Overflow(String),
}

/// Parses a decimal token amount (`"1.5"`, `"10_000"`) into base units, exactly.
pub fn parse_tokens(text: &str) -> Result<u128, AmountError> {
    let cleaned: String = text.trim().chars().filter(|c| *c != '_').collect();
    let (whole, frac) = match cleaned.split_once('.') {
        Some((w, f)) => (w, f),
        None => (cleaned.as_str(), ""),
    };
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || !digits_ok(whole) || !digits_ok(frac) {
        return Err(AmountError::Syntax(text.to_string()));
    }
    if frac.len() > DECIMALS as usize {
        return Err(AmountError::TooPrecise(text.to_string()));
    }
    let overflow = || AmountError::Overflow(text.to_string());
    let whole_value: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| overflow())? };
    let mut frac_value: u128 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| overflow())? };
    for _ in frac.len()..DECIMALS as usize {
        frac_value *= 10; // at most 10^18: cannot overflow
    }
    whole_value.checked_mul(TOKEN).and_then(|v| v.checked_add(frac_value)).ok_or_else(overflow)
}

/// Parses a plain base-unit integer (`"1000000000000000000"`).
pub fn parse_base_units(text: &str) -> Result<u128, AmountError> {
    let cleaned: String = text.trim().chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() || !cleaned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AmountError::Syntax(text.to_string()));
    }
    cleaned.parse().map_err(|_| AmountError::Overflow(text.to_string()))
}

/// Formats base units as an exact decimal token string, trailing zeros trimmed (`"6.25"`).
pub fn format_tokens(base_units: u128) -> String {
    let whole = base_units / TOKEN;
    let frac = base_units % TOKEN;
    if frac == 0 {
        return whole.to_string();
    }
    let frac_text = format!("{frac:018}");
    format!("{whole}.{}", frac_text.trim_end_matches('0'))
}

/// An amount of tokens in a policy file, held in base units.
///
/// Reads an integer (whole tokens) or a decimal string; writes the exact decimal string, so a
/// policy survives a round trip through TOML unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Tokens(pub u128);

impl Tokens {
    /// The amount in base units.
    pub const fn base_units(self) -> u128 {
        self.0
    }
    /// `n` whole tokens.
    pub const fn whole(n: u64) -> Self {
        Tokens(n as u128 * TOKEN)
    }
}

impl Serialize for Tokens {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_tokens(self.0))
    }
}

impl<'de> Deserialize<'de> for Tokens {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Tokens;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a whole number of tokens or an exact decimal string such as \"6.25\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Tokens, E> {
                let v = u128::try_from(v).map_err(|_| E::custom("a token amount cannot be negative"))?;
                v.checked_mul(TOKEN).map(Tokens).ok_or_else(|| E::custom("token amount too large"))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Tokens, E> {
                Ok(Tokens(u128::from(v) * TOKEN))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Tokens, E> {
                Err(E::custom("write fractional token amounts as strings, e.g. \"6.25\" (floats are inexact)"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Tokens, E> {
                parse_tokens(v).map(Tokens).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: decimal parsing is exact and refuses rounding. Method: known values and edge cases.
    #[test]
    fn parse_tokens_exact() {
        assert_eq!(parse_tokens("1").unwrap(), TOKEN);
        assert_eq!(parse_tokens("0.001").unwrap(), TOKEN / 1000);
        assert_eq!(parse_tokens("6.25").unwrap(), 6 * TOKEN + TOKEN / 4);
        assert_eq!(parse_tokens("10_000_000_000").unwrap(), 10_000_000_000 * TOKEN);
        assert_eq!(parse_tokens("0.000000000000000001").unwrap(), 1);
        assert!(matches!(parse_tokens("0.0000000000000000001"), Err(AmountError::TooPrecise(_))));
        assert!(matches!(parse_tokens("1e5"), Err(AmountError::Syntax(_))));
        assert!(matches!(parse_tokens("-1"), Err(AmountError::Syntax(_))));
        assert!(matches!(parse_tokens("."), Err(AmountError::Syntax(_))));
        assert!(matches!(parse_tokens("999999999999999999999999"), Err(AmountError::Overflow(_))));
    }

    proptest::proptest! {
        /// Goal: format and parse are inverse. Method: random base-unit amounts.
        #[test]
        fn format_parse_round_trip(v in 0u128..(u128::MAX / 2)) {
            proptest::prop_assert_eq!(parse_tokens(&format_tokens(v)).unwrap(), v);
        }
    }
}
