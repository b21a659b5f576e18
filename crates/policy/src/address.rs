//! Account and machine addresses: 32 bytes (an ed25519 public key, or a name-derived system
//! account such as the DAO treasury).
//!
//! # Text forms
//!
//! A user address (a public key) is written one of two ways, and only these are accepted where a
//! user types or sends an address (the CLI, the HTTP API, every JSON transaction):
//!
//! * **bech32m** (BIP-350), the form printed for people: the prefix `gm`, the separator `1`, 52
//!   characters of data and a 6-character checksum, 61 characters in all. The checksum catches any
//!   one mistyped character (and any up to four), so a typo is refused instead of becoming
//!   another, unspendable, address. All lower case or all upper case; mixed case is refused.
//! * **64 hex digits**, upper or lower case: the form of the JSON API, logs and files
//!   ([`Address::to_hex`], `Display` and `Serialize`). Hex has no checksum: a missing or extra
//!   digit is refused by its length, a wrong digit is not detected.
//!
//! [`Address::parse_user`] reads these two forms and nothing else. A **system account** (a name
//! such as `dao_treasury`, hashed by [`Address::system`]) has no key; its name is accepted only
//! where a system account is explicitly meant: a policy or allocation file ([`Address::parse_account`],
//! [`deserialize_allowing_system`]). `Deserialize` for `Address` accepts only the two user
//! forms, so a transaction's JSON cannot name a system account by its name.
//!
//! ```
//! use gridmint_policy::{Address, AddressError};
//! let bytes: [u8; 32] = std::array::from_fn(|i| i as u8); // 00 01 02 … 1f (not a real key)
//! let text = "gm1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0s65wdxk";
//! assert_eq!(Address(bytes).to_bech32m(), text);
//! assert_eq!(Address::parse_user(text), Ok(Address(bytes)));
//! assert_eq!(Address::parse_user(&hex::encode(bytes)), Ok(Address(bytes)));
//! // one character changed: refused, not another address
//! let typo = text.replace("s65w", "s66w");
//! assert_eq!(Address::parse_user(&typo), Err(AddressError::Checksum));
//! // 63 hex digits: refused, here and in policy files
//! assert_eq!(Address::parse_user(&hex::encode(bytes)[1..]), Err(AddressError::HexLength { digits: 63 }));
//! assert!(Address::parse(&hex::encode(bytes)[1..]).is_err());
//! // a system account name only where one is meant
//! assert!(matches!(Address::parse_user("dao_treasury"), Err(AddressError::SystemName(_))));
//! assert_eq!(Address::parse("dao_treasury"), Ok(Address::system("dao_treasury")));
//! ```
//!
//! [`Address::is_weak_key`] tells a small-order public key (the identity among them), for which
//! no one holds a usable private key: tokens sent to one are lost.

use bech32::primitives::decode::{CheckedHrpstring, UncheckedHrpstring};
use bech32::{Bech32, Bech32m, Hrp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The human-readable prefix of gridmint's bech32m addresses: `gm1…`. One prefix for every network
/// today; [`Address::to_bech32m_with`] and [`Address::parse_user_with`] take another.
pub const DEFAULT_HRP: &str = "gm";

/// Longest text an address parser looks at (a bech32m address is 61 characters, hex 64; BIP-173
/// caps the bech32 format at 90).
pub const MAX_ADDRESS_TEXT: usize = 90;

/// Longest system account name.
pub const MAX_SYSTEM_NAME: usize = 32;

/// Data characters after `gm1` in a 32-byte address: ceil(256 / 5) = 52, plus 6 of checksum.
const BECH32M_DATA_CHARS: usize = 52 + 6;

/// The bech32 alphabet (BIP-173): no `1`, `b`, `i`, `o`.
const BECH32_CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// Why a text is not an address. Messages name the problem and what is expected; they never echo
/// more than [`MAX_ADDRESS_TEXT`] characters of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The text is empty.
    #[error("an address cannot be empty")]
    Empty,
    /// Longer than [`MAX_ADDRESS_TEXT`] bytes.
    #[error("{length} bytes: an address is at most {MAX_ADDRESS_TEXT} characters")]
    TooLong {
        /// The text's length in bytes.
        length: usize,
    },
    /// A space, a control character or a non-ASCII character.
    #[error("character {character:?} at position {position} cannot appear in an address")]
    InvalidCharacter {
        /// 1-based, in characters.
        position: usize,
        /// The character.
        character: char,
    },
    /// A text shaped like a system account name (see [`Address::is_system_name`]) where a user
    /// address is expected.
    #[error(
        "`{0}` is not an address: give a checksummed address (gm1…) or 64 hex digits (a system account name is not accepted here)"
    )]
    SystemName(String),
    /// Only hex digits, but not 64 of them.
    #[error("{digits} hex digits: a hex address has exactly 64 (one missing or extra?)")]
    HexLength {
        /// How many there are.
        digits: usize,
    },
    /// `0x` in front of hex digits.
    #[error("remove the `0x` prefix: a hex address is 64 hex digits alone")]
    HexPrefix,
    /// A bech32m text mixing upper and lower case.
    #[error("mixed upper and lower case: a checksummed address is all lower case (or all upper case)")]
    MixedCase,
    /// The prefix before the last `1` is not this network's.
    #[error("prefix `{found}`: addresses here start with `{expected}1`")]
    WrongPrefix {
        /// This network's prefix.
        expected: String,
        /// The text's prefix (lower-cased).
        found: String,
    },
    /// A character outside the bech32 alphabet after the separator.
    #[error(
        "character {character:?} at position {position} is not in the bech32 alphabet (which has no 1, b, i or o after the prefix)"
    )]
    NotBech32Character {
        /// 1-based, in characters.
        position: usize,
        /// The character.
        character: char,
    },
    /// Not 58 characters after the prefix and separator.
    #[error(
        "{characters} characters after the prefix's `1`: an address has {BECH32M_DATA_CHARS} (one missing or extra?)"
    )]
    DataLength {
        /// How many there are.
        characters: usize,
    },
    /// The bech32m checksum does not match: a mistyped character.
    #[error("the checksum does not match: a character is mistyped")]
    Checksum,
    /// A valid bech32 (BIP-173) checksum, which addresses do not use.
    #[error("this has a bech32 (BIP-173) checksum; addresses use bech32m (BIP-350)")]
    Bech32NotBech32m,
    /// The last data character sets padding bits: not how any address is written.
    #[error("not the canonical encoding of an address (non-zero padding bits)")]
    NonCanonical,
    /// Neither hex digits nor a bech32m address.
    #[error("not an address: expected a checksummed address (gm1…) or 64 hex digits")]
    NotAnAddress,
    /// Neither hex digits, a bech32m address nor a system account name (where names are allowed).
    #[error(
        "not an account: expected a system account name (1 to {MAX_SYSTEM_NAME} of a-z 0-9 _ -, starting with a letter), a checksummed address (gm1…) or 64 hex digits"
    )]
    NotAnAccount,
    /// A prefix other than 1 to 16 lower-case ASCII letters.
    #[error("`{0}` cannot be an address prefix (1 to 16 lower-case letters)")]
    InvalidPrefix(String),
}

/// A 32-byte address. Ordered by its bytes, which is the order of every deterministic iteration.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Address(pub [u8; 32]);

impl Ord for Address {
    /// Lexicographic by bytes, compared as four big-endian words (the same order as comparing
    /// the bytes, inlined: every index lookup compares addresses a dozen times or more).
    #[inline]
    fn cmp(&self, other: &Address) -> std::cmp::Ordering {
        let word = |a: &Address, i: usize| {
            u64::from_be_bytes([
                a.0[i],
                a.0[i + 1],
                a.0[i + 2],
                a.0[i + 3],
                a.0[i + 4],
                a.0[i + 5],
                a.0[i + 6],
                a.0[i + 7],
            ])
        };
        word(self, 0)
            .cmp(&word(other, 0))
            .then_with(|| word(self, 8).cmp(&word(other, 8)))
            .then_with(|| word(self, 16).cmp(&word(other, 16)))
            .then_with(|| word(self, 24).cmp(&word(other, 24)))
    }
}

impl PartialOrd for Address {
    #[inline]
    fn partial_cmp(&self, other: &Address) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Address {
    /// The all-zero address: never a real key; used as "no validator" for plain staking (OS7).
    pub const ZERO: Address = Address([0; 32]);

    /// The address of a named system account (`team`, `dao_treasury`, ...):
    /// `blake3("gridmint/system-account/" ‖ name)`. No private key exists for it.
    pub fn system(name: &str) -> Address {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"gridmint/system-account/");
        hasher.update(name.as_bytes());
        Address(*hasher.finalize().as_bytes())
    }

    /// A deterministic test or simulation address from an index (`blake3("gridmint/sim/" ‖ i)`).
    pub fn from_index(kind: &str, index: u64) -> Address {
        const PREFIX: &[u8] = b"gridmint/sim/";
        // one call on the whole message (a fleet hashes hundreds of thousands of addresses; the
        // incremental hasher costs more than the compression itself for inputs this short)
        let mut message = [0u8; 64];
        let length = PREFIX.len() + kind.len() + 8;
        if length > message.len() {
            let mut hasher = blake3::Hasher::new();
            hasher.update(PREFIX);
            hasher.update(kind.as_bytes());
            hasher.update(&index.to_le_bytes());
            return Address(*hasher.finalize().as_bytes());
        }
        message[..PREFIX.len()].copy_from_slice(PREFIX);
        message[PREFIX.len()..length - 8].copy_from_slice(kind.as_bytes());
        message[length - 8..length].copy_from_slice(&index.to_le_bytes());
        Address(*blake3::hash(&message[..length]).as_bytes())
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads a user address: a bech32m address with prefix [`DEFAULT_HRP`] (`gm1…`, all lower or
    /// all upper case) or 64 hex digits (either case). Nothing else: no system account name, no
    /// surrounding spaces, no `0x`. See the module doc.
    pub fn parse_user(text: &str) -> Result<Address, AddressError> {
        parse_user(text, DEFAULT_HRP)
    }

    /// [`Address::parse_user`] for addresses with prefix `hrp` (1 to 16 lower-case letters).
    pub fn parse_user_with(text: &str, hrp: &str) -> Result<Address, AddressError> {
        check_hrp(hrp)?;
        parse_user(text, hrp)
    }

    /// Reads an account where a system account is explicitly meant (policy and allocation files,
    /// scenario files): a system account name, or anything [`Address::parse_user`] accepts.
    ///
    /// A system account name is 1 to [`MAX_SYSTEM_NAME`] characters of `a-z`, `0-9`, `_` and `-`,
    /// starting with a letter, and is refused when it could be a mangled address: 16 or more hex
    /// digits alone, or a start of `gm1`. So a 63-digit or 65-digit hex typo, or a bech32m address
    /// with a typo, is an error here too, never a system account.
    pub fn parse_account(text: &str) -> Result<Address, AddressError> {
        match parse_user(text, DEFAULT_HRP) {
            Err(AddressError::SystemName(_)) => Ok(Address::system(text)),
            Err(AddressError::NotAnAddress) => Err(AddressError::NotAnAccount),
            other => other,
        }
    }

    /// [`Address::parse_account`] with the error as its message (the signature the policy and
    /// scenario code calls).
    pub fn parse(text: &str) -> Result<Address, String> {
        Address::parse_account(text).map_err(|e| e.to_string())
    }

    /// Whether `text` is a valid system account name for [`Address::parse_account`].
    pub fn is_system_name(text: &str) -> bool {
        let bytes = text.as_bytes();
        (1..=MAX_SYSTEM_NAME).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            && !(bytes.len() >= 16 && bytes.iter().all(u8::is_ascii_hexdigit))
            && !text.starts_with("gm1")
    }

    /// The checksummed text form for people: bech32m with prefix [`DEFAULT_HRP`], lower case,
    /// 61 characters (`gm1…`).
    pub fn to_bech32m(&self) -> String {
        bech32m(self, Hrp::parse_unchecked(DEFAULT_HRP))
    }

    /// [`Address::to_bech32m`] with the prefix `hrp` (1 to 16 lower-case letters).
    pub fn to_bech32m_with(&self, hrp: &str) -> Result<String, AddressError> {
        check_hrp(hrp)?;
        Ok(bech32m(self, Hrp::parse_unchecked(hrp)))
    }

    /// Whether this is a small-order ed25519 public key (the identity, the point of order 2, the
    /// two of order 4 and the four of order 8, in any of the 14 encodings ed25519-dalek's decoding
    /// accepts for them): no one holds a private key that signs for it, so tokens sent to it can
    /// never move. `Address::ZERO` is one (the order-4 point with y = 0). The same test as
    /// `ed25519_dalek::VerifyingKey::is_weak`, checked against it in this crate's tests.
    ///
    /// How: an encoding is y (255 bits, little-endian) plus a sign bit for x. Each small-order
    /// point's negation is small-order too, so the sign bit does not matter: clear it and compare
    /// y with the seven values that decode to a small-order point, p = 2^255 − 19: 0, 1, p − 1,
    /// the two y of the order-8 points, and the non-canonical p (= 0) and p + 1 (= 1).
    /// A system account (a hash) hits one of these 14 values with probability about 2^-252.
    pub fn is_weak_key(&self) -> bool {
        let mut y = self.0;
        y[31] &= 0x7f;
        WEAK_KEY_Y.contains(&y)
    }
}

impl Address {
    /// Every encoding [`Address::is_weak_key`] flags: the seven small-order y values, each with
    /// the sign bit clear and set (14 in all), in that order. For tests of other checks of the
    /// same rule (the bridge contract's).
    pub fn weak_keys() -> Vec<Address> {
        [0u8, 0x80]
            .iter()
            .flat_map(|sign| {
                WEAK_KEY_Y.map(|mut y| {
                    y[31] |= sign;
                    Address(y)
                })
            })
            .collect()
    }
}

/// y coordinates (sign bit cleared) that decode to a small-order point; see
/// [`Address::is_weak_key`]. The same list as libsodium's blocklist.
const WEAK_KEY_Y: [[u8; 32]; 7] = [
    // 0: order 4 (x = ±sqrt(−1))
    [0; 32],
    // 1: the identity
    [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    // p − 1: order 2
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ],
    // p: non-canonical 0
    [
        0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ],
    // p + 1: non-canonical 1
    [
        0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ],
    // order 8
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf,
        0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
    ],
    // order 8: p minus the one above
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20,
        0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
    ],
];

/// The message, for callers whose errors are strings (scenario and policy validation).
impl From<AddressError> for String {
    fn from(error: AddressError) -> String {
        error.to_string()
    }
}

fn check_hrp(hrp: &str) -> Result<(), AddressError> {
    if (1..=16).contains(&hrp.len()) && hrp.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(())
    } else {
        Err(AddressError::InvalidPrefix(hrp.chars().take(MAX_ADDRESS_TEXT).collect()))
    }
}

/// Lower-case bech32m of the 32 bytes; `hrp` is checked by the caller.
fn bech32m(address: &Address, hrp: Hrp) -> String {
    // encoding fails only beyond the checksum's length limit (1023 characters); 32 bytes are 52
    bech32::encode::<Bech32m>(hrp, &address.0).unwrap_or_else(|_| unreachable!("32 bytes always encode"))
}

/// [`Address::parse_user`] with a checked `hrp`. The order of the checks decides which error a
/// bad text gets: the most specific one a person can act on.
fn parse_user(text: &str, hrp: &str) -> Result<Address, AddressError> {
    if text.is_empty() {
        return Err(AddressError::Empty);
    }
    if text.len() > MAX_ADDRESS_TEXT {
        return Err(AddressError::TooLong { length: text.len() });
    }
    if let Some((index, character)) = text.chars().enumerate().find(|(_, c)| !c.is_ascii_graphic()) {
        return Err(AddressError::InvalidCharacter { position: index + 1, character });
    }
    // from here on the text is printable ASCII: byte positions are character positions
    if Address::is_system_name(text) {
        return Err(AddressError::SystemName(text.to_string()));
    }
    let bytes = text.as_bytes();
    if bytes.iter().all(u8::is_ascii_hexdigit) {
        if bytes.len() != 64 {
            return Err(AddressError::HexLength { digits: bytes.len() });
        }
        let mut address = [0u8; 32];
        hex::decode_to_slice(bytes, &mut address).map_err(|_| AddressError::HexLength { digits: bytes.len() })?;
        return Ok(Address(address));
    }
    if let Some(digits) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(AddressError::HexPrefix);
    }
    let Some(separator) = text.rfind('1') else { return Err(AddressError::NotAnAddress) };
    if bytes.iter().any(u8::is_ascii_lowercase) && bytes.iter().any(u8::is_ascii_uppercase) {
        return Err(AddressError::MixedCase);
    }
    let lower = text.to_ascii_lowercase();
    let (prefix, data) = (&lower[..separator], &lower[separator + 1..]);
    if prefix != hrp {
        return Err(AddressError::WrongPrefix { expected: hrp.to_string(), found: prefix.to_string() });
    }
    if let Some(index) = data.bytes().position(|b| !BECH32_CHARSET.contains(&b)) {
        let position = separator + 1 + index;
        return Err(AddressError::NotBech32Character {
            position: position + 1,
            character: char::from(bytes[position]),
        });
    }
    if data.len() != BECH32M_DATA_CHARS {
        return Err(AddressError::DataLength { characters: data.len() });
    }
    let checked = match CheckedHrpstring::new::<Bech32m>(&lower) {
        Ok(checked) => checked,
        Err(_) => {
            let bech32 = UncheckedHrpstring::new(&lower).is_ok_and(|u| u.has_valid_checksum::<Bech32>());
            return Err(if bech32 { AddressError::Bech32NotBech32m } else { AddressError::Checksum });
        }
    };
    let mut address = [0u8; 32];
    let mut decoded = checked.byte_iter();
    for byte in &mut address {
        *byte = decoded.next().ok_or(AddressError::DataLength { characters: data.len() })?;
    }
    let address = Address(address);
    // 52 characters carry 260 bits: the last 4 must be zero, or two texts would name one address
    if decoded.next().is_some() || bech32m(&address, checked.hrp()) != lower {
        return Err(AddressError::NonCanonical);
    }
    Ok(address)
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", &self.to_hex()[..12])
    }
}

/// Lower-case hex: the form of logs, paths and files. People get [`Address::to_bech32m`].
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Lower-case hex (the stored and hashed-over form of blocks, genesis and test vectors: unchanged);
/// the 32 raw bytes in binary formats (state snapshots).
impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() { s.serialize_str(&self.to_hex()) } else { self.0.serialize(s) }
    }
}

/// A user address only ([`Address::parse_user`]): 64 hex digits or `gm1…`, never a system account
/// name, so a transaction's JSON cannot turn a typo into a name-derived account. Policy fields
/// that name system accounts use [`deserialize_allowing_system`].
impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if !d.is_human_readable() {
            return <[u8; 32]>::deserialize(d).map(Address);
        }
        d.deserialize_str(AddressVisitor { allow_system: false })
    }
}

/// For `#[serde(deserialize_with = …)]` on a policy field where a system account is meant (the
/// treasury, allocations): [`Address::parse_account`], a system account name or a user address.
pub fn deserialize_allowing_system<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
    if !d.is_human_readable() {
        return <[u8; 32]>::deserialize(d).map(Address);
    }
    d.deserialize_str(AddressVisitor { allow_system: true })
}

/// [`deserialize_allowing_system`] for a list (the bridge committee).
pub fn deserialize_list_allowing_system<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Address>, D::Error> {
    struct Account(Address);
    impl<'de> Deserialize<'de> for Account {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            deserialize_allowing_system(d).map(Account)
        }
    }
    Ok(Vec::<Account>::deserialize(d)?.into_iter().map(|a| a.0).collect())
}

/// A visitor, so that a borrowed string is parsed in place (no allocation per hex address).
struct AddressVisitor {
    allow_system: bool,
}

impl serde::de::Visitor<'_> for AddressVisitor {
    type Value = Address;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.allow_system {
            f.write_str("an account: a system account name, a checksummed address (gm1…) or 64 hex digits")
        } else {
            f.write_str("an address: a checksummed address (gm1…) or 64 hex digits")
        }
    }
    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Address, E> {
        let parsed = if self.allow_system { Address::parse_account(text) } else { Address::parse_user(text) };
        parsed.map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bytes 00 01 … 1f and their bech32m, from an independent implementation of BIP-350 (the
    /// reference code's polymod), not from the crate under test.
    const SEQ_BECH32M: &str = "gm1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0s65wdxk";

    fn seq() -> Address {
        Address(std::array::from_fn(|i| i as u8))
    }

    /// Every printable ASCII character: the replacements a typo can bring.
    fn printable() -> impl Iterator<Item = char> {
        (0x21u8..=0x7e).map(char::from)
    }

    /// Goal: the text forms are BIP-350 bech32m with prefix `gm`. Method: known answers computed
    /// with the reference algorithm outside this crate.
    #[test]
    fn bech32m_known_answers() {
        assert_eq!(seq().to_bech32m(), SEQ_BECH32M);
        assert_eq!(Address::ZERO.to_bech32m(), "gm1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnq90x0");
        assert_eq!(
            seq().to_bech32m_with("tgm").as_deref(),
            Ok("tgm1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0snk40cy")
        );
        assert_eq!(Address::parse_user(SEQ_BECH32M), Ok(seq()));
        assert_eq!(Address::parse_user(&SEQ_BECH32M.to_ascii_uppercase()), Ok(seq()), "all upper case (BIP-350)");
    }

    proptest! {
        /// Goal: any 32 bytes survive both text forms. Method: encode, parse, compare; upper and
        /// lower case; the policy parser reads them the same.
        #[test]
        fn text_forms_round_trip(bytes in any::<[u8; 32]>()) {
            let address = Address(bytes);
            let text = address.to_bech32m();
            prop_assert_eq!(text.len(), 61);
            prop_assert!(text.starts_with("gm1"));
            prop_assert_eq!(Address::parse_user(&text), Ok(address));
            prop_assert_eq!(Address::parse_user(&text.to_ascii_uppercase()), Ok(address));
            prop_assert_eq!(Address::parse(&text), Ok(address));
            prop_assert_eq!(Address::parse_user(&address.to_hex()), Ok(address));
            prop_assert_eq!(Address::parse_user(&address.to_hex().to_ascii_uppercase()), Ok(address));
            let other = address.to_bech32m_with("gmtest").unwrap();
            prop_assert_eq!(Address::parse_user_with(&other, "gmtest"), Ok(address));
        }

        /// Goal: one mistyped character anywhere in a bech32m address is refused, by the user
        /// parser and by the policy parser alike (never a system account). Method: every position
        /// × every printable ASCII replacement (case changes included).
        #[test]
        fn any_one_typo_is_refused(bytes in any::<[u8; 32]>()) {
            let text = Address(bytes).to_bech32m();
            for position in 0..text.len() {
                for replacement in printable() {
                    if text.as_bytes()[position] == replacement as u8 {
                        continue;
                    }
                    let mut typo = text.clone().into_bytes();
                    typo[position] = replacement as u8;
                    let typo = String::from_utf8(typo).unwrap();
                    prop_assert!(Address::parse_user(&typo).is_err(), "{typo} accepted");
                    prop_assert!(Address::parse(&typo).is_err(), "{typo} accepted as an account");
                }
            }
        }

        /// Goal: a dropped or doubled character is refused too (bech32m, unlike bech32, has no
        /// insertion weakness, and the length is checked). Method: every deletion; every
        /// insertion of a bech32 character.
        #[test]
        fn a_missing_or_extra_character_is_refused(bytes in any::<[u8; 32]>()) {
            let text = Address(bytes).to_bech32m();
            for position in 0..text.len() {
                let mut shorter = text.clone();
                shorter.remove(position);
                prop_assert!(Address::parse_user(&shorter).is_err(), "{shorter} accepted");
                prop_assert!(Address::parse(&shorter).is_err(), "{shorter} accepted as an account");
                for inserted in BECH32_CHARSET.iter().map(|&b| char::from(b)) {
                    let mut longer = text.clone();
                    longer.insert(position, inserted);
                    prop_assert!(Address::parse_user(&longer).is_err(), "{longer} accepted");
                }
            }
            let hex = Address(bytes).to_hex();
            prop_assert_eq!(Address::parse_user(&hex[1..]), Err(AddressError::HexLength { digits: 63 }));
            prop_assert_eq!(Address::parse_user(&format!("{hex}0")), Err(AddressError::HexLength { digits: 65 }));
            prop_assert!(Address::parse(&hex[1..]).is_err(), "63 hex digits became a system account");
        }

        /// Goal: `is_weak_key` agrees with ed25519-dalek's `is_weak` on arbitrary bytes (almost
        /// never weak: see `weak_keys_match_ed25519_dalek` for the weak ones).
        #[test]
        fn weak_key_agrees_with_dalek_on_random_bytes(bytes in any::<[u8; 32]>()) {
            prop_assert_eq!(Address(bytes).is_weak_key(), dalek_weak(&bytes));
        }
    }

    /// ed25519-dalek's verdict: decodes to a point, and that point has small order.
    fn dalek_weak(bytes: &[u8; 32]) -> bool {
        ed25519_dalek::VerifyingKey::from_bytes(bytes).is_ok_and(|key| key.is_weak())
    }

    /// Goal: `is_weak_key` is exactly ed25519-dalek's `VerifyingKey::is_weak`. Method: our list
    /// decodes (dalek) to 8 distinct small-order points, which is the whole torsion subgroup (it
    /// has 8 elements), so no weak point is missing. Every encoding a decoder accepts for those
    /// points is then rebuilt from the points alone (y and, below 2^255, y + p, each with either
    /// sign bit) and must be exactly the 14 we flag, all weak for dalek; every single-bit change
    /// of each agrees with dalek. Real keys and system accounts are not weak.
    #[test]
    fn weak_keys_match_ed25519_dalek() {
        // every y of our list with both sign bits, kept where is_weak_key says so
        let flagged: std::collections::BTreeSet<[u8; 32]> =
            Address::weak_keys().into_iter().filter(Address::is_weak_key).map(|a| a.0).collect();
        assert_eq!(Address::weak_keys().len(), 14);
        let points: std::collections::BTreeSet<[u8; 32]> = flagged
            .iter()
            .map(|bytes| {
                let key = ed25519_dalek::VerifyingKey::from_bytes(bytes).expect("decodes");
                assert!(key.is_weak(), "{} is weak for dalek", hex::encode(bytes));
                key.to_edwards().compress().to_bytes()
            })
            .collect();
        assert_eq!(points.len(), 8, "the 8 small-order points");
        let mut rebuilt = std::collections::BTreeSet::new();
        for point in &points {
            let mut y = *point;
            y[31] &= 0x7f;
            let mut ys = vec![y];
            // y + p < 2^255 when y < 19: p + y = 2^255 − 19 + y, i.e. ed+y ff … ff 7f
            if y[0] < 19 && y[1..].iter().all(|&b| b == 0) {
                let mut plus_p = [0xff; 32];
                plus_p[0] = 0xed + y[0];
                plus_p[31] = 0x7f;
                ys.push(plus_p);
            }
            for y in ys {
                for sign in [0, 0x80] {
                    let mut encoding = y;
                    encoding[31] |= sign;
                    assert!(dalek_weak(&encoding), "{}", hex::encode(encoding));
                    rebuilt.insert(encoding);
                }
            }
        }
        assert_eq!(rebuilt, flagged, "the flagged encodings are exactly those of the small-order points");
        assert_eq!(flagged.len(), 14);
        for bytes in &flagged {
            for bit in 0..256 {
                let mut flipped = *bytes;
                flipped[bit / 8] ^= 1 << (bit % 8);
                assert_eq!(Address(flipped).is_weak_key(), dalek_weak(&flipped), "{}", hex::encode(flipped));
            }
        }
        for i in 0..64u8 {
            let key = ed25519_dalek::SigningKey::from_bytes(&[i; 32]).verifying_key();
            assert!(!Address(key.to_bytes()).is_weak_key());
        }
        assert!(Address::ZERO.is_weak_key(), "all zero is the order-4 point y = 0");
        assert!(!Address::system("dao_treasury").is_weak_key());
    }

    /// Goal: every kind of bad text gets its own typed error. Method: one example per variant.
    #[test]
    fn each_bad_text_gets_its_error() {
        use AddressError as E;
        let hex = seq().to_hex();
        let cases: Vec<(String, AddressError)> = vec![
            (String::new(), E::Empty),
            ("q".repeat(91), E::TooLong { length: 91 }),
            (format!(" {hex}"), E::InvalidCharacter { position: 1, character: ' ' }),
            (format!("{SEQ_BECH32M}\n"), E::InvalidCharacter { position: 62, character: '\n' }),
            ("gm1é".into(), E::InvalidCharacter { position: 4, character: 'é' }),
            ("dao_treasury".into(), E::SystemName("dao_treasury".into())),
            ("fee".into(), E::SystemName("fee".into())),
            (hex[..63].into(), E::HexLength { digits: 63 }),
            (hex[..40].into(), E::HexLength { digits: 40 }),
            (format!("0x{hex}"), E::HexPrefix),
            (SEQ_BECH32M.replacen('q', "Q", 1), E::MixedCase),
            (seq().to_bech32m_with("tgm").unwrap(), E::WrongPrefix { expected: "gm".into(), found: "tgm".into() }),
            (SEQ_BECH32M.replacen('s', "b", 1), E::NotBech32Character { position: 7, character: 'b' }),
            // 31 and 33 bytes, valid bech32m checksums (reference implementation)
            ("gm1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarcnz3us7".into(), E::DataLength { characters: 56 }),
            ("gm1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0jquuuweh".into(), E::DataLength { characters: 59 }),
            (SEQ_BECH32M.replace("s65w", "s66w"), E::Checksum),
            // the same bytes with a bech32 (BIP-173) checksum
            ("gm1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0s0g7pr5".into(), E::Bech32NotBech32m),
            // padding bits set, checksum valid
            ("gm1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc038z6cmy".into(), E::NonCanonical),
            ("Dao_Treasury".into(), E::NotAnAddress),
        ];
        for (text, error) in cases {
            assert_eq!(Address::parse_user(&text), Err(error.clone()), "{text:?}");
            assert!(!error.to_string().is_empty());
        }
        assert_eq!(Address::parse_account("Dao_Treasury"), Err(E::NotAnAccount));
        assert_eq!(Address::parse_user_with(SEQ_BECH32M, "GM"), Err(E::InvalidPrefix("GM".into())));
        assert_eq!(seq().to_bech32m_with("g1"), Err(E::InvalidPrefix("g1".into())));
        let long = "x".repeat(10_000);
        assert!(Address::parse_user(&long).unwrap_err().to_string().len() < 200, "the input is not echoed");
    }

    /// Goal: system account names are accepted only by `parse`, and only names that cannot be
    /// a mangled address. Method: the names of the shipped policies and scenarios; refusals.
    #[test]
    fn system_names_only_where_meant() {
        for name in ["dao_treasury", "team", "ecosystem", "bridge-committee-1", "strategic_investors_advisors", "a"] {
            assert_eq!(Address::parse(name), Ok(Address::system(name)), "{name}");
            assert_eq!(Address::parse_user(name), Err(AddressError::SystemName(name.into())));
        }
        for not_a_name in ["Team", "1team", "_team", &"a".repeat(33), "deadbeefdeadbeef", "gm1abc", "team!", ""] {
            assert!(Address::parse(not_a_name).is_err(), "{not_a_name:?}");
        }
        assert_eq!(Address::parse("deadbeef"), Ok(Address::system("deadbeef")), "short hex-only names are names");
    }

    #[derive(Debug, serde::Deserialize)]
    struct Fields {
        user: Address,
        #[serde(default, deserialize_with = "deserialize_allowing_system")]
        system: Address,
        #[serde(default, deserialize_with = "deserialize_list_allowing_system")]
        systems: Vec<Address>,
    }

    /// Goal: `Deserialize` (every JSON transaction) takes user addresses only; the policy fields'
    /// path also takes system names. Method: JSON and TOML documents.
    #[test]
    fn serde_takes_user_addresses_and_system_names_only_where_meant() {
        let hex = seq().to_hex();
        for user in [hex.clone(), hex.to_ascii_uppercase(), SEQ_BECH32M.into()] {
            let fields: Fields = serde_json::from_str(&format!(r#"{{"user":"{user}"}}"#)).unwrap();
            assert_eq!(fields.user, seq());
        }
        for bad in ["dao_treasury", &hex[1..], &SEQ_BECH32M.replace("s65w", "s66w"), "a"] {
            let error = serde_json::from_str::<Fields>(&format!(r#"{{"user":"{bad}"}}"#)).unwrap_err().to_string();
            assert!(error.contains("address") || error.contains("hex digits") || error.contains("checksum"), "{error}");
            assert!(toml::from_str::<Fields>(&format!("user = \"{bad}\"")).is_err());
        }
        let fields: Fields =
            toml::from_str(&format!("user = \"{hex}\"\nsystem = \"team\"\nsystems = [\"a\", \"{SEQ_BECH32M}\"]"))
                .unwrap();
        assert_eq!((fields.system, fields.systems), (Address::system("team"), vec![Address::system("a"), seq()]));
        let error = toml::from_str::<Fields>(&format!("user = \"{hex}\"\nsystem = \"{}\"", &hex[1..])).unwrap_err();
        assert!(error.to_string().contains("63 hex digits"), "{error}");
        assert_eq!(serde_json::to_string(&seq()).unwrap(), format!("\"{hex}\""), "serialized as lower-case hex");
    }

    /// Goal: a policy whose treasury is a 63-digit hex typo does not load (it used to become a
    /// system account). Method: the netmind preset with its treasury replaced.
    #[test]
    fn a_policy_with_a_mistyped_treasury_is_refused() {
        let text = crate::PRESETS[0].1;
        let treasury = |policy: crate::Policy| policy.governance.expect("netmind has governance").treasury;
        let expected = treasury(crate::Policy::from_toml(text).unwrap());
        let hex = expected.to_hex();
        let line = text.lines().find(|l| l.trim_start().starts_with("treasury")).expect("a treasury line");
        let fixed = text.replace(line, &format!("treasury = \"{hex}\""));
        assert_eq!(treasury(crate::Policy::from_toml(&fixed).unwrap()), expected);
        let typo = text.replace(line, &format!("treasury = \"{}\"", &hex[1..]));
        let error = crate::Policy::from_toml(&typo).unwrap_err().to_string();
        assert!(error.contains("63 hex digits"), "{error}");
    }
}
