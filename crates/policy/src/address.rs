//! Account and machine addresses: 32 bytes (an ed25519 public key, or a name-derived system
//! account such as the DAO treasury).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

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

    /// Parses 64 hex digits, or `name` for a system account (letters, digits, `_`, `-`).
    pub fn parse(text: &str) -> Result<Address, String> {
        let text = text.trim();
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(text, &mut bytes).map_err(|e| e.to_string())?;
            return Ok(Address(bytes));
        }
        if !text.is_empty()
            && text.len() <= 64
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Ok(Address::system(text));
        }
        Err(format!("`{text}` is neither 64 hex digits nor a system account name"))
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", &self.to_hex()[..12])
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // a visitor, so that a borrowed string is parsed in place (no allocation per address)
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Address;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an address: 64 hex digits or a system account name")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Address, E> {
                Address::parse(text).map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}
