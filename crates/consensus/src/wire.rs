//! Small serde helpers shared by the signed bytes and the codecs.
//!
//! serde implements arrays only up to 32 elements, so 64-byte signatures get their own helper:
//! a fixed-size tuple, which postcard writes as the 64 raw bytes with no length prefix (the same
//! way it writes a `[u8; 32]`).

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A 64-byte signature as a fixed-size tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sig64(pub [u8; 64]);

impl Serialize for Sig64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        sig64::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Sig64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        sig64::deserialize(d).map(Sig64)
    }
}

/// `#[serde(with = "sig64")]` for `[u8; 64]` fields.
pub mod sig64 {
    use super::*;

    /// Writes the 64 bytes as a tuple.
    pub fn serialize<S: Serializer>(bytes: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(64)?;
        for b in bytes {
            t.serialize_element(b)?;
        }
        t.end()
    }

    /// Reads 64 bytes written by [`serialize`].
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = [u8; 64];
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; 64], A::Error> {
                let mut out = [0u8; 64];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(i, &self))?;
                }
                Ok(out)
            }
        }
        d.deserialize_tuple(64, V)
    }
}
