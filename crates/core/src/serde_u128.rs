//! JSON carries amounts as decimal strings of base units: JSON numbers lose precision above 2^53
//! in most clients. Floats, negatives, exponents and values above `u128::MAX` are refused.
//! Binary formats (state snapshots) carry the integer itself.

use serde::{Deserialize, Deserializer, Serializer};

/// Serializes a `u128` as a decimal string.
pub fn serialize<S: Serializer>(value: &u128, s: S) -> Result<S::Ok, S::Error> {
    if !s.is_human_readable() {
        return s.serialize_u128(*value);
    }
    s.serialize_str(&value.to_string())
}

/// Deserializes a `u128` from a decimal string of digits only.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
    if !d.is_human_readable() {
        return u128::deserialize(d);
    }
    let text = String::deserialize(d)?;
    if text.is_empty() || text.len() > 39 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(serde::de::Error::custom(format!("amount `{text}` must be a decimal string of base units")));
    }
    text.parse().map_err(|_| serde::de::Error::custom(format!("amount `{text}` exceeds 128 bits")))
}

/// The same for 32-byte hashes as hex.
pub mod hash {
    use serde::{Deserialize, Deserializer, Serializer};
    /// Serializes 32 bytes as hex.
    pub fn serialize<S: Serializer>(value: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        if !s.is_human_readable() {
            return serde::Serialize::serialize(value, s);
        }
        s.serialize_str(&hex::encode(value))
    }
    /// Deserializes 64 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        if !d.is_human_readable() {
            return <[u8; 32]>::deserialize(d);
        }
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out).map_err(|_| serde::de::Error::custom("expected 64 hex digits"))?;
        Ok(out)
    }
}

/// The same for 65-byte signatures (`r ‖ s ‖ v`) as hex; binary formats carry the bytes.
pub mod signature {
    use serde::{Deserialize, Deserializer, Serializer};
    /// Serializes 65 bytes as hex (as bytes in binary formats).
    pub fn serialize<S: Serializer>(value: &[u8; 65], s: S) -> Result<S::Ok, S::Error> {
        if !s.is_human_readable() {
            return s.serialize_bytes(value);
        }
        s.serialize_str(&hex::encode(value))
    }
    /// Deserializes 130 hex digits (65 bytes in binary formats).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 65], D::Error> {
        let bytes: Vec<u8> = if d.is_human_readable() {
            let text = String::deserialize(d)?;
            hex::decode(&text).map_err(|_| serde::de::Error::custom("expected 130 hex digits"))?
        } else {
            serde_bytes_vec(d)?
        };
        bytes.try_into().map_err(|_| serde::de::Error::custom("expected a 65-byte signature"))
    }

    fn serde_bytes_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl<'de> serde::de::Visitor<'de> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("65 bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(65);
                while let Some(b) = seq.next_element::<u8>()? {
                    if out.len() == 65 {
                        return Err(serde::de::Error::custom("expected 65 bytes"));
                    }
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_bytes(Bytes)
    }
}
