//! Signed transactions and keys.
//!
//! An address is an ed25519 public key. A transaction is signed over domain-separated bytes:
//! `"gridmint/tx/v1" ‖ len(chain id) as u16 LE ‖ chain id ‖ Tx::encode()`, so a signature for one
//! chain is worthless on another, and verified with `verify_strict` (no malleable or small-order
//! keys).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use gridmint_core::{Address, Tx};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Domain tag in front of every signed message.
pub const TX_DOMAIN: &[u8] = b"gridmint/tx/v1";

/// A transaction with its signature: what clients submit and blocks carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTx {
    /// The transaction (its `signer` is the public key).
    pub tx: Tx,
    /// 64-byte ed25519 signature, hex.
    #[serde(with = "sig_hex")]
    pub signature: [u8; 64],
}

/// Why a signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signer is not a valid ed25519 public key.
    #[error("the signer is not a valid ed25519 public key")]
    BadPublicKey,
    /// The signature does not verify for this chain.
    #[error("the signature does not verify for this transaction on this chain")]
    BadSignature,
}

/// The bytes a signer signs.
pub fn signing_bytes(chain_id: &str, tx: &Tx) -> Vec<u8> {
    let body = tx.encode();
    let mut bytes = Vec::with_capacity(TX_DOMAIN.len() + 2 + chain_id.len() + body.len());
    bytes.extend_from_slice(TX_DOMAIN);
    bytes.extend_from_slice(&(chain_id.len() as u16).to_le_bytes());
    bytes.extend_from_slice(chain_id.as_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

impl AsRef<Tx> for SignedTx {
    fn as_ref(&self) -> &Tx {
        &self.tx
    }
}

impl SignedTx {
    /// Signs `tx` with `key` for `chain_id`. The caller sets `tx.signer` to the key's address.
    pub fn sign(tx: Tx, key: &SigningKey, chain_id: &str) -> SignedTx {
        let signature = key.sign(&signing_bytes(chain_id, &tx)).to_bytes();
        SignedTx { tx, signature }
    }

    /// Checks the signature (strict) against the signer's key and `chain_id`.
    pub fn verify(&self, chain_id: &str) -> Result<(), SignatureError> {
        let key = VerifyingKey::from_bytes(&self.tx.signer.0).map_err(|_| SignatureError::BadPublicKey)?;
        self.verify_with(&key, chain_id)
    }

    /// [`SignedTx::verify`] with the signer's key already decompressed (see [`KeyCache`]).
    pub fn verify_with(&self, key: &VerifyingKey, chain_id: &str) -> Result<(), SignatureError> {
        let signature = Signature::from_bytes(&self.signature);
        key.verify_strict(&signing_bytes(chain_id, &self.tx), &signature).map_err(|_| SignatureError::BadSignature)
    }

    /// The transaction id: blake3 of the transaction's canonical bytes (not of the signature, so
    /// a re-signed retry is still the same transaction).
    pub fn id(&self) -> [u8; 32] {
        self.tx.id()
    }
}

/// Verifies many signatures at once (ed25519 batch verification, about twice as fast per
/// signature); when a batch fails it is halved until the bad signatures are isolated and checked
/// with `verify_strict`, so the result per transaction is exact. Used for heartbeats only: a heartbeat moves no tokens and its
/// id excludes the signature, so batch verification's looser treatment of small-order `R`
/// components cannot be exploited; weak (small-order) public keys are still refused.
pub fn verify_batch(txs: &[SignedTx], chain_id: &str, cache: &KeyCache) -> Vec<Result<(), SignatureError>> {
    let mut keys = Vec::with_capacity(txs.len());
    for tx in txs {
        match cache.get(&tx.tx.signer) {
            Ok(key) if !key.is_weak() => keys.push(key),
            _ => return txs.iter().map(|t| t.verify(chain_id)).collect(),
        }
    }
    let messages: Vec<Vec<u8>> = txs.iter().map(|t| signing_bytes(chain_id, &t.tx)).collect();
    let message_refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let signatures: Vec<Signature> = txs.iter().map(|t| Signature::from_bytes(&t.signature)).collect();
    let mut results = vec![Ok(()); txs.len()];
    bisect(&message_refs, &signatures, &keys, &mut results);
    results
}

/// Batch-verifies; when a batch fails, halves it until the bad signatures are found one by one
/// (strictly), so a few bad signatures cost a few small batches, not a whole batch one by one.
fn bisect(
    messages: &[&[u8]],
    signatures: &[Signature],
    keys: &[VerifyingKey],
    results: &mut [Result<(), SignatureError>],
) {
    if messages.len() <= 2 {
        for (((message, signature), key), result) in messages.iter().zip(signatures).zip(keys).zip(results) {
            *result = key.verify_strict(message, signature).map_err(|_| SignatureError::BadSignature);
        }
        return;
    }
    if ed25519_dalek::verify_batch(messages, signatures, keys).is_ok() {
        return;
    }
    let half = messages.len() / 2;
    let (results_a, results_b) = results.split_at_mut(half);
    bisect(&messages[..half], &signatures[..half], &keys[..half], results_a);
    bisect(&messages[half..], &signatures[half..], &keys[half..], results_b);
}

/// Decompressed public keys of recent signers: decompressing a key is about a fifth of a
/// verification, and machines and accounts sign again and again. Bounded: when full it starts
/// over.
pub struct KeyCache {
    keys: std::sync::RwLock<std::collections::BTreeMap<Address, VerifyingKey>>,
    capacity: usize,
}

impl KeyCache {
    /// A cache of at most `capacity` keys (about 260 bytes each).
    pub fn new(capacity: usize) -> KeyCache {
        KeyCache { keys: std::sync::RwLock::new(std::collections::BTreeMap::new()), capacity }
    }

    /// The decompressed key of `address`.
    pub fn get(&self, address: &Address) -> Result<VerifyingKey, SignatureError> {
        if let Some(key) = self.keys.read().unwrap_or_else(|e| e.into_inner()).get(address) {
            return Ok(*key);
        }
        let key = VerifyingKey::from_bytes(&address.0).map_err(|_| SignatureError::BadPublicKey)?;
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= self.capacity {
            keys.clear();
        }
        keys.insert(*address, key);
        Ok(key)
    }

    /// Verifies `tx` strictly, its key from the cache.
    pub fn verify(&self, tx: &SignedTx, chain_id: &str) -> Result<(), SignatureError> {
        tx.verify_with(&self.get(&tx.tx.signer)?, chain_id)
    }
}

/// The binary batch format (`Content-Type: application/octet-stream` on the batch routes):
/// per transaction, its 64-byte signature, a u16 LE length, and its canonical bytes.
pub fn encode_batch(txs: &[SignedTx]) -> Vec<u8> {
    let mut out = Vec::with_capacity(txs.len() * 128);
    for tx in txs {
        let bytes = tx.tx.encode();
        out.extend_from_slice(&tx.signature);
        out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

/// Inverse of [`encode_batch`]; strict (every transaction decodes, nothing trails).
pub fn decode_batch(mut bytes: &[u8]) -> Result<Vec<SignedTx>, String> {
    let mut txs = Vec::new();
    while !bytes.is_empty() {
        let index = txs.len();
        if bytes.len() < 66 {
            return Err(format!("transaction {index}: the batch ends inside its header"));
        }
        let signature: [u8; 64] = bytes[..64].try_into().map_err(|_| "signature")?;
        let len = usize::from(u16::from_le_bytes([bytes[64], bytes[65]]));
        let body = bytes.get(66..66 + len).ok_or_else(|| format!("transaction {index}: the batch ends inside it"))?;
        let tx = Tx::decode(body).map_err(|e| format!("transaction {index}: {e}"))?;
        txs.push(SignedTx { tx, signature });
        bytes = &bytes[66 + len..];
    }
    Ok(txs)
}

/// The address of a key.
pub fn address_of(key: &SigningKey) -> Address {
    Address(key.verifying_key().to_bytes())
}

/// A new key from the operating system's randomness.
pub fn generate_key() -> SigningKey {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the operating system has no randomness");
    SigningKey::from_bytes(&seed)
}

/// A deterministic key from a label (tests, benches and examples only: anyone can derive it).
pub fn key_from_label(label: &str) -> SigningKey {
    SigningKey::from_bytes(blake3::hash(label.as_bytes()).as_bytes())
}

/// Writes a key file: JSON with the secret seed and the address, readable by the owner only.
pub fn save_key(path: &Path, key: &SigningKey) -> std::io::Result<()> {
    let text = serde_json::json!({
        "address": address_of(key).to_hex(),
        "secret_key": hex::encode(key.to_bytes()),
    });
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    let mut file = options.open(path)?;
    file.write_all(format!("{text:#}\n").as_bytes())?;
    file.sync_all()
}

/// Reads a key file written by [`save_key`].
pub fn load_key(path: &Path) -> Result<SigningKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read key file {}: {e}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("key file {} is not JSON: {e}", path.display()))?;
    let secret =
        value["secret_key"].as_str().ok_or_else(|| format!("key file {} has no secret_key", path.display()))?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(secret, &mut seed)
        .map_err(|_| format!("key file {}: secret_key is not 64 hex digits", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

mod sig_hex {
    use serde::{Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = [u8; 64];
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a signature: 128 hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<[u8; 64], E> {
                let mut out = [0u8; 64];
                hex::decode_to_slice(text, &mut out).map_err(|_| E::custom("signature: expected 128 hex digits"))?;
                Ok(out)
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridmint_core::TxBody;

    fn transfer(key: &SigningKey) -> Tx {
        Tx { signer: address_of(key), nonce: 0, body: TxBody::Transfer { to: Address([7; 32]), amount: 5 } }
    }

    #[test]
    fn signatures_bind_chain_and_every_byte() {
        let key = key_from_label("alice");
        let signed = SignedTx::sign(transfer(&key), &key, "chain-a");
        assert_eq!(signed.verify("chain-a"), Ok(()));
        assert_eq!(signed.verify("chain-b"), Err(SignatureError::BadSignature));
        for i in 0..64 {
            let mut bad = signed.clone();
            bad.signature[i] ^= 1;
            assert!(bad.verify("chain-a").is_err(), "flipped signature byte {i} verified");
        }
        let mut other = signed.clone();
        other.tx.nonce = 1;
        assert_eq!(other.verify("chain-a"), Err(SignatureError::BadSignature));
        let other_key = key_from_label("bob");
        let mut forged = SignedTx::sign(transfer(&key), &other_key, "chain-a");
        forged.tx.signer = address_of(&key);
        assert_eq!(forged.verify("chain-a"), Err(SignatureError::BadSignature));
    }

    #[test]
    fn batch_verification_finds_the_bad_signature() {
        let txs: Vec<SignedTx> = (0..70)
            .map(|i| {
                let key = key_from_label(&format!("m{i}"));
                let tx = Tx { signer: address_of(&key), nonce: 0, body: TxBody::Heartbeat { slot: i } };
                SignedTx::sign(tx, &key, "c")
            })
            .collect();
        let cache = KeyCache::new(16); // smaller than the batch: it also starts over
        assert!(verify_batch(&txs, "c", &cache).iter().all(Result::is_ok));
        assert!(verify_batch(&txs, "other", &cache).iter().all(Result::is_err));
        let mut bad = txs.clone();
        for i in [0, 17, 18, 69] {
            bad[i].signature[3] ^= 1;
        }
        let results = verify_batch(&bad, "c", &cache);
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.is_ok(), ![0, 17, 18, 69].contains(&i), "heartbeat {i}");
        }
    }

    #[test]
    fn binary_batches_round_trip_and_refuse_truncation() {
        let key = key_from_label("alice");
        let txs: Vec<SignedTx> = (0..3)
            .map(|n| {
                SignedTx::sign(
                    Tx { signer: address_of(&key), nonce: n, body: TxBody::Heartbeat { slot: n } },
                    &key,
                    "c",
                )
            })
            .collect();
        let bytes = encode_batch(&txs);
        assert_eq!(decode_batch(&bytes).unwrap(), txs);
        for cut in 1..bytes.len() {
            if decode_batch(&bytes[..cut]).is_ok() {
                // a cut exactly between transactions is a shorter valid batch
                assert!(decode_batch(&bytes[..cut]).unwrap().len() < 3);
            }
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode_batch(&trailing).is_err());
    }

    #[test]
    fn json_round_trip_and_strictness() {
        let key = key_from_label("alice");
        let signed = SignedTx::sign(transfer(&key), &key, "c");
        let text = serde_json::to_string(&signed).unwrap();
        assert_eq!(serde_json::from_str::<SignedTx>(&text).unwrap(), signed);
        let extra = text.replacen('{', "{\"extra\":1,", 1);
        assert!(serde_json::from_str::<SignedTx>(&extra).is_err());
        let short = text.replace(&hex::encode(signed.signature), "abcd");
        assert!(serde_json::from_str::<SignedTx>(&short).is_err());
    }
}
