//! Signed transactions and keys.
//!
//! An address is an ed25519 public key. A transaction is signed over domain-separated bytes:
//! `"gridmint/tx/v1" ‖ len(chain id) as u16 LE ‖ chain id ‖ Tx::encode()`, so a signature for one
//! chain is worthless on another.
//!
//! # The validity rule (a rule of the chain: every replica must give the same verdict)
//!
//! A transaction's signature `(R, S)` is valid for its signer `A` iff
//!
//! 1. `A` (the signer's address) is the **canonical** encoding of a curve point that is **not of
//!    small order** ([`SignatureError::BadPublicKey`] otherwise): one key, one account, and no key
//!    for which anyone can forge (a small-order key makes `[k]A` vanish);
//! 2. `S` is canonical (`S < ℓ`), `R` decodes to a curve point (any encoding, as ZIP-215 says);
//! 3. the **cofactored** equation holds: `[8][S]B = [8]R + [8][k]A`, `k = SHA-512(R ‖ A ‖ M) mod ℓ`.
//!
//! Points 2–3 are ZIP-215 (Zcash's ed25519 rule; the `ed25519-consensus` crate implements it and
//! is this module's reference in the tests). Unlike `verify_strict`'s cofactorless check, this
//! rule gives the same verdict checked one at a time or in a batch, which is what makes batch
//! verification (about three times cheaper a signature) safe for a replicated ledger. Every
//! signature `verify_strict` accepts (for a key meeting point 1) this rule accepts too, so chains
//! written before it replay unchanged. What it adds is signatures whose `R` carries a small-order
//! component or is encoded non-canonically; only the key's holder can make one (a new `R` changes
//! `k`, so `S` must be computed again), and the transaction's id does not cover the signature,
//! so it is the same transaction, its nonce spent once. A network must switch to this rule on
//! every validator at once: a node of an older build refuses such a signature and votes nil on a
//! block that holds one (no fork, no progress while they are a third or more).
//!
//! Both checks are written here on `curve25519-dalek`'s group operations, so that they run on its
//! vectorised backend and a valid signature costs one check:
//!
//! - one signature: `[8](R − ([S]B − [k]A))` is the identity;
//! - a batch of n: with 128-bit coefficients `zᵢ` drawn from a blake3 hash of every input (all
//!   `R`, `S`, `A`, `k`), `[8](Σ zᵢRᵢ + Σ (zᵢkᵢ)Aᵢ − (Σ zᵢSᵢ)B)` is the identity. A signature that
//!   fails the rule leaves a defect with a prime-order part, which the random combination cancels
//!   with probability at most 2⁻¹²⁸; small-order parts, which the rule ignores, the `[8]` removes.
//!   So a batch passes exactly when each of its signatures would (a valid one never makes its
//!   batch fail, whatever its `R`), and a batch that fails is searched, level by level, for its
//!   bad signatures (halves, quarters, …, down to groups of 16 checked one by one; where most of a
//!   level's groups fail, each of their signatures is checked alone), so that the verdict per
//!   transaction is the rule's.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use gridmint_core::{Address, Tx};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};
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
    /// The signer is not a valid ed25519 public key: not a point's canonical encoding, or a point
    /// of small order.
    #[error("the signer is not a valid ed25519 public key (the canonical encoding of a point not of small order)")]
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

    /// Checks the signature against the signer's key and `chain_id` (the module's rule).
    pub fn verify(&self, chain_id: &str) -> Result<(), SignatureError> {
        self.verify_with(&signer_key(&self.tx.signer)?, chain_id)
    }

    /// [`SignedTx::verify`] with the signer's key already checked and decompressed by
    /// [`signer_key`] (see [`KeyCache`]): only such a key may be passed (a small-order one would
    /// let anyone sign).
    pub(crate) fn verify_with(&self, key: &VerifyingKey, chain_id: &str) -> Result<(), SignatureError> {
        verify_one(key, &signing_bytes(chain_id, &self.tx), &self.signature)
    }

    /// The transaction id: blake3 of the transaction's canonical bytes (not of the signature, so
    /// a re-signed retry is still the same transaction).
    pub fn id(&self) -> [u8; 32] {
        self.tx.id()
    }
}

/// The key of a signer: its address decompressed, refused unless it is the canonical encoding of
/// a point not of small order (the module's rule, point 1).
pub fn signer_key(address: &Address) -> Result<VerifyingKey, SignatureError> {
    let key = VerifyingKey::from_bytes(&address.0).map_err(|_| SignatureError::BadPublicKey)?;
    if key.is_weak() || key.to_edwards().compress().to_bytes() != address.0 {
        return Err(SignatureError::BadPublicKey);
    }
    Ok(key)
}

/// A signature taken apart for the cofactored equation: `R` decoded (any encoding), `S`
/// canonical, and `k = SHA-512(R ‖ A ‖ M) mod ℓ`.
struct Parts {
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

impl Parts {
    fn of(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> Option<Parts> {
        let r_bytes: [u8; 32] = signature[..32].try_into().ok()?;
        let s_bytes: [u8; 32] = signature[32..].try_into().ok()?;
        let r = CompressedEdwardsY(r_bytes).decompress()?;
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))?;
        let mut hash = [0u8; 64];
        hash.copy_from_slice(
            &Sha512::new().chain_update(r_bytes).chain_update(key.as_bytes()).chain_update(message).finalize(),
        );
        Some(Parts { r, s, k: Scalar::from_bytes_mod_order_wide(&hash) })
    }
}

/// One signature under the module's rule, `key` from [`signer_key`]:
/// `[8](R − ([S]B − [k]A))` is the identity.
fn verify_one(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> Result<(), SignatureError> {
    #[cfg(test)]
    CHECKS.with(|c| c.set((c.get().0 + 1, c.get().1)));
    let parts = Parts::of(key, message, signature).ok_or(SignatureError::BadSignature)?;
    let expected = EdwardsPoint::vartime_double_scalar_mul_basepoint(&parts.k, &-key.to_edwards(), &parts.s);
    if (parts.r - expected).mul_by_cofactor().is_identity() { Ok(()) } else { Err(SignatureError::BadSignature) }
}

/// Whether every signature of a batch meets the rule (see the module's documentation), keys from
/// [`signer_key`]. False when any does not (with probability at least 1 − 2⁻¹²⁸).
fn batch_holds(messages: &[&[u8]], signatures: &[[u8; 64]], keys: &[VerifyingKey]) -> bool {
    debug_assert!(messages.len() == signatures.len() && keys.len() == signatures.len());
    #[cfg(test)]
    CHECKS.with(|c| c.set((c.get().0, c.get().1 + 1)));
    let mut parts = Vec::with_capacity(signatures.len());
    for ((message, signature), key) in messages.iter().zip(signatures).zip(keys) {
        match Parts::of(key, message, signature) {
            Some(p) => parts.push(p),
            None => return false,
        }
    }
    // the coefficients: 128 bits each, from a hash of every input (k covers R, A and the message)
    let mut transcript = blake3::Hasher::new();
    transcript.update(BATCH_DOMAIN);
    transcript.update(&(parts.len() as u64).to_le_bytes());
    for ((p, signature), key) in parts.iter().zip(signatures).zip(keys) {
        transcript.update(signature);
        transcript.update(key.as_bytes());
        transcript.update(p.k.as_bytes());
    }
    let mut coefficients = transcript.finalize_xof();
    let zs: Vec<Scalar> = parts
        .iter()
        .map(|_| {
            let mut z = [0u8; 16];
            coefficients.fill(&mut z);
            Scalar::from(u128::from_le_bytes(z))
        })
        .collect();
    let b_coefficient: Scalar = parts.iter().zip(&zs).map(|(p, z)| z * p.s).sum();
    let scalars =
        std::iter::once(-b_coefficient).chain(zs.iter().copied()).chain(parts.iter().zip(&zs).map(|(p, z)| z * p.k));
    let points = std::iter::once(curve25519_dalek::constants::ED25519_BASEPOINT_POINT)
        .chain(parts.iter().map(|p| p.r))
        .chain(keys.iter().map(VerifyingKey::to_edwards));
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).mul_by_cofactor().is_identity()
}

#[cfg(test)]
thread_local! {
    /// Checks made on this thread: (one by one, batches), for the tests of the search's cost.
    static CHECKS: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
}

/// The domain of the batch check's coefficients.
const BATCH_DOMAIN: &[u8] = b"gridmint/signature-batch/v1";

/// A failed batch at most this large is checked one by one rather than halved again.
const BISECT_LEAF: usize = 16;

/// Verifies many signatures at once under the module's rule, the verdict per transaction exact
/// (batch verification, about three times cheaper a signature than one by one): a batch that
/// fails is searched for its bad signatures ([`search`]). Keys come from `cache`.
pub fn verify_batch(txs: &[SignedTx], chain_id: &str, cache: &KeyCache) -> Vec<Result<(), SignatureError>> {
    verify_with_search(txs, chain_id, cache, true)
}

/// [`verify_batch`], the whole batch checked first with `check_whole`, else searched at once.
fn verify_with_search(
    txs: &[SignedTx],
    chain_id: &str,
    cache: &KeyCache,
    check_whole: bool,
) -> Vec<Result<(), SignatureError>> {
    let mut results = vec![Ok(()); txs.len()];
    // a signer whose key is refused is refused alone; the others are checked together
    let mut keys = Vec::with_capacity(txs.len());
    let mut positions = Vec::with_capacity(txs.len());
    for (i, tx) in txs.iter().enumerate() {
        match cache.get(&tx.tx.signer) {
            Ok(key) => {
                keys.push(key);
                positions.push(i);
            }
            Err(e) => results[i] = Err(e),
        }
    }
    let messages: Vec<Vec<u8>> = positions.iter().map(|&i| signing_bytes(chain_id, &txs[i].tx)).collect();
    let message_refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let signatures: Vec<[u8; 64]> = positions.iter().map(|&i| txs[i].signature).collect();
    let mut checked = vec![Ok(()); positions.len()];
    if check_whole {
        bisect(&message_refs, &signatures, &keys, &mut checked);
    } else {
        search(&message_refs, &signatures, &keys, &mut checked);
    }
    for (i, result) in positions.into_iter().zip(checked) {
        results[i] = result;
    }
    results
}

/// Whether every transaction of `txs` has a valid signature: one batch check when they all do
/// (a block's signatures: the first bad one makes it invalid, no need to find the others).
pub fn all_valid(txs: &[SignedTx], chain_id: &str, cache: &KeyCache) -> Result<(), SignatureError> {
    let mut keys = Vec::with_capacity(txs.len());
    for tx in txs {
        keys.push(cache.get(&tx.tx.signer)?);
    }
    let messages: Vec<Vec<u8>> = txs.iter().map(|t| signing_bytes(chain_id, &t.tx)).collect();
    let message_refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let signatures: Vec<[u8; 64]> = txs.iter().map(|t| t.signature).collect();
    if batch_holds(&message_refs, &signatures, &keys) { Ok(()) } else { Err(SignatureError::BadSignature) }
}

/// Batch-verifies; a batch that fails is searched for its bad signatures (see [`search`]).
fn bisect(
    messages: &[&[u8]],
    signatures: &[[u8; 64]],
    keys: &[VerifyingKey],
    results: &mut [Result<(), SignatureError>],
) {
    if messages.len() > 2 && batch_holds(messages, signatures, keys) {
        return;
    }
    search(messages, signatures, keys, results);
}

/// The search of a batch known to fail, level by level: each failing group is halved and each
/// half batch-checked; halves that hold are done. From the second level on, when at least three
/// quarters of a level's halves fail, the bad signatures are dense: each signature of the failing
/// halves is checked alone. Groups of at most [`BISECT_LEAF`] are checked one by one. So a few bad
/// signatures cost a few small batches a level, and a batch of bad ones costs its halves and
/// quarters, then each alone (about twice a check one by one a signature), never the whole
/// descent.
fn search(
    messages: &[&[u8]],
    signatures: &[[u8; 64]],
    keys: &[VerifyingKey],
    results: &mut [Result<(), SignatureError>],
) {
    let mut one_by_one = |range: std::ops::Range<usize>| {
        for i in range {
            results[i] = verify_one(&keys[i], messages[i], &signatures[i]);
        }
    };
    let holds = |range: &std::ops::Range<usize>| {
        batch_holds(&messages[range.clone()], &signatures[range.clone()], &keys[range.clone()])
    };
    let mut failing: Vec<std::ops::Range<usize>> = std::iter::once(0..messages.len()).collect();
    let mut first_level = true;
    while !failing.is_empty() {
        let (mut checked, mut next) = (0, Vec::new());
        for range in failing {
            if range.len() <= BISECT_LEAF {
                one_by_one(range);
                continue;
            }
            let middle = range.start + range.len() / 2;
            let halves = [range.start..middle, middle..range.end];
            let failed: Vec<_> = halves.into_iter().filter(|h| !holds(h)).collect();
            checked += 2;
            if failed.is_empty() {
                // the whole failed, both halves hold: against all odds; settle it one by one
                one_by_one(range);
            }
            next.extend(failed);
        }
        if !first_level && next.len() * 4 >= checked * 3 {
            for range in next {
                one_by_one(range);
            }
            return;
        }
        first_level = false;
        failing = next;
    }
}

/// [`verify_batch`] for transactions already known to fail as a batch (their [`all_valid`] was
/// an error): the search for the bad ones, without checking the whole batch again.
pub fn search_failed(txs: &[SignedTx], chain_id: &str, cache: &KeyCache) -> Vec<Result<(), SignatureError>> {
    verify_with_search(txs, chain_id, cache, false)
}

/// Decompressed public keys of recent signers, each checked by [`signer_key`]: decompressing a
/// key is about a tenth of a verification, and machines and accounts sign again and again.
/// Bounded: when full it starts over. A refused key is not kept.
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
        let key = signer_key(address)?;
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= self.capacity {
            keys.clear();
        }
        keys.insert(*address, key);
        Ok(key)
    }

    /// Verifies `tx` (the module's rule), its key from the cache.
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

    /// Signatures made by hand from a secret scalar, so that a test can give `R` a small-order
    /// component or a non-canonical encoding, or `S` a non-canonical one.
    mod hand {
        use super::*;
        use curve25519_dalek::{EdwardsPoint, Scalar, constants::ED25519_BASEPOINT_POINT as B};
        use sha2::{Digest, Sha512};

        pub fn scalar(label: &str) -> Scalar {
            let mut wide = [0u8; 64];
            blake3::Hasher::new().update(label.as_bytes()).finalize_xof().fill(&mut wide);
            Scalar::from_bytes_mod_order_wide(&wide)
        }

        pub fn address(a: &Scalar) -> Address {
            Address((a * B).compress().to_bytes())
        }

        pub fn challenge(r: &[u8; 32], a: &Address, message: &[u8]) -> Scalar {
            let mut wide = [0u8; 64];
            wide.copy_from_slice(&Sha512::new().chain_update(r).chain_update(a.0).chain_update(message).finalize());
            Scalar::from_bytes_mod_order_wide(&wide)
        }

        /// `(R, S)` with `R = [r]B + torsion`: valid under the cofactored rule, and under the
        /// cofactorless one only when `torsion` is the identity.
        pub fn sign(a: &Scalar, tx: &Tx, chain: &str, r: &Scalar, torsion: &EdwardsPoint) -> [u8; 64] {
            let big_r = (r * B + torsion).compress().to_bytes();
            let k = challenge(&big_r, &address(a), &signing_bytes(chain, tx));
            let s = r + k * a;
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(&big_r);
            signature[32..].copy_from_slice(s.as_bytes());
            signature
        }

        /// `(R, S)` with `R` the given encoding of a small-order point and `S = k·a`: the
        /// cofactored equation holds (`[8]R` vanishes), whatever the encoding.
        pub fn sign_small_r(a: &Scalar, tx: &Tx, chain: &str, big_r: [u8; 32]) -> [u8; 64] {
            let k = challenge(&big_r, &address(a), &signing_bytes(chain, tx));
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(&big_r);
            signature[32..].copy_from_slice((k * a).as_bytes());
            signature
        }

        /// `S + ℓ`: the same residue, a non-canonical encoding (fits: ℓ < 2²⁵³).
        pub fn non_canonical_s(mut signature: [u8; 64]) -> [u8; 64] {
            // ℓ = 2²⁵² + 27742317777372353535851937790883648493, little-endian
            let mut ell = [0u8; 32];
            ell[..16].copy_from_slice(&[
                0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
            ]);
            ell[31] = 0x10;
            let mut carry = 0u16;
            for i in 0..32 {
                let sum = u16::from(signature[32 + i]) + u16::from(ell[i]) + carry;
                signature[32 + i] = sum as u8;
                carry = sum >> 8;
            }
            signature
        }

        /// The little-endian encoding of `p + y` (`p = 2²⁵⁵ − 19`): a non-canonical encoding of
        /// the y-coordinate `y` (x positive), for `y` < 19.
        pub fn non_canonical_y(y: u8) -> [u8; 32] {
            assert!(y < 19, "p + {y} does not fit in 255 bits");
            let mut bytes = [0xff; 32];
            bytes[31] = 0x7f;
            bytes[0] = 0xed + y;
            bytes
        }

        pub fn torsion(i: usize) -> EdwardsPoint {
            curve25519_dalek::constants::EIGHT_TORSION[i % 8]
        }

        /// Every encoding that decodes to a small-order point: the eight points' canonical
        /// encodings, the non-canonical p (y = 0) and p + 1 (y = 1), each with either sign bit.
        pub fn small_order_encodings() -> Vec<[u8; 32]> {
            let mut all: Vec<[u8; 32]> = (0..8).map(|i| torsion(i).compress().to_bytes()).collect();
            all.extend([non_canonical_y(0), non_canonical_y(1)]);
            let flipped: Vec<[u8; 32]> = all
                .iter()
                .map(|e| {
                    let mut e = *e;
                    e[31] ^= 0x80;
                    e
                })
                .collect();
            all.extend(flipped);
            all.sort_unstable();
            all.dedup();
            all.retain(|e| curve25519_dalek::edwards::CompressedEdwardsY(*e).decompress().is_some());
            all
        }
    }

    /// The rule's reference: the signer check of point 1, then ZIP-215 as `ed25519-consensus`
    /// implements it.
    fn reference(tx: &SignedTx, chain: &str) -> Result<(), SignatureError> {
        signer_key(&tx.tx.signer)?;
        let key =
            ed25519_consensus::VerificationKey::try_from(tx.tx.signer.0).map_err(|_| SignatureError::BadPublicKey)?;
        key.verify(&ed25519_consensus::Signature::from(tx.signature), &signing_bytes(chain, &tx.tx))
            .map_err(|_| SignatureError::BadSignature)
    }

    fn hand_tx(a: &curve25519_dalek::Scalar, nonce: u64) -> Tx {
        Tx { signer: hand::address(a), nonce, body: TxBody::Transfer { to: Address([7; 32]), amount: 5 } }
    }

    /// The rule's own cases, each checked one at a time and inside a batch of valid signatures
    /// (the same verdict both ways): a small-order component in `R` and a non-canonical
    /// small-order `R` are accepted (cofactored, as ZIP-215), though `verify_strict` refuses them;
    /// a non-canonical `S`, a small-order signer and a non-canonical signer encoding are refused.
    #[test]
    fn the_rule_is_cofactored_and_refuses_weak_and_non_canonical_keys() {
        let chain = "c";
        let a = hand::scalar("alice");
        let mut cases: Vec<(&str, SignedTx, Result<(), SignatureError>)> = Vec::new();
        let tx = hand_tx(&a, 0);
        let plain = hand::sign(&a, &tx, chain, &hand::scalar("r"), &hand::torsion(0));
        cases.push(("plain", SignedTx { tx: tx.clone(), signature: plain }, Ok(())));
        for t in 1..8 {
            let signature = hand::sign(&a, &tx, chain, &hand::scalar(&format!("r{t}")), &hand::torsion(t));
            let signed = SignedTx { tx: tx.clone(), signature };
            let key = VerifyingKey::from_bytes(&tx.signer.0).unwrap();
            assert!(
                key.verify_strict(&signing_bytes(chain, &tx), &ed25519_dalek::Signature::from_bytes(&signature))
                    .is_err(),
                "torsion {t}: the case must be one verify_strict refuses"
            );
            cases.push(("torsion in R", signed, Ok(())));
        }
        // every encoding of a small-order point as R, S = k·a
        let small = hand::small_order_encodings();
        assert_eq!(small.len(), 14, "the 14 encodings of small-order points dalek decodes");
        for big_r in &small {
            let signature = hand::sign_small_r(&a, &tx, chain, *big_r);
            cases.push(("small-order R", SignedTx { tx: tx.clone(), signature }, Ok(())));
        }
        let signature = hand::non_canonical_s(plain);
        cases.push(("S + ℓ", SignedTx { tx: tx.clone(), signature }, Err(SignatureError::BadSignature)));
        let mut wrong = SignedTx { tx: tx.clone(), signature: plain };
        wrong.tx.nonce = 1;
        cases.push(("another message", wrong, Err(SignatureError::BadSignature)));
        // a small-order signer: S = 0 and a small-order R satisfy the cofactored equation for
        // any message, so the key itself must be refused
        for (t, signer) in small.iter().enumerate() {
            let tx = Tx { signer: Address(*signer), ..hand_tx(&a, 0) };
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(&small[(t + 3) % small.len()]);
            let signed = SignedTx { tx, signature };
            let forged = ed25519_consensus::VerificationKey::try_from(*signer).is_ok_and(|k| {
                k.verify(&ed25519_consensus::Signature::from(signature), &signing_bytes(chain, &signed.tx)).is_ok()
            });
            assert!(forged, "the case must be a forgery ZIP-215 alone accepts");
            cases.push(("small-order signer", signed, Err(SignatureError::BadPublicKey)));
        }
        // a non-canonical encoding of a point that is not of small order (y + p for a small y)
        let encoding = (2..19)
            .map(hand::non_canonical_y)
            .find(|bytes| VerifyingKey::from_bytes(bytes).is_ok_and(|key| !key.is_weak()))
            .expect("some y < 19 is the coordinate of a point not of small order");
        let tx = Tx { signer: Address(encoding), ..hand_tx(&a, 0) };
        cases.push(("non-canonical signer", SignedTx { tx, signature: plain }, Err(SignatureError::BadPublicKey)));

        let valid: Vec<SignedTx> = (0..40u64)
            .map(|i| {
                let key = key_from_label(&format!("v{i}"));
                SignedTx::sign(Tx { nonce: i, ..transfer(&key) }, &key, chain)
            })
            .collect();
        for (name, signed, expected) in &cases {
            assert_eq!(reference(signed, chain), *expected, "{name}: the reference");
            assert_eq!(signed.verify(chain), *expected, "{name}: one at a time");
            for position in [0, 7, 20, 40] {
                let mut batch = valid.clone();
                batch.insert(position, signed.clone());
                let results = verify_batch(&batch, chain, &KeyCache::new(1000));
                for (i, result) in results.iter().enumerate() {
                    let want = if i == position { *expected } else { Ok(()) };
                    assert_eq!(*result, want, "{name} at {position}: transaction {i} in the batch");
                }
            }
        }
    }

    /// Batches mixing every case at random positions, up to 1,024 (the multiplication's large
    /// path), give each transaction the reference's verdict, as does the check one at a time; a
    /// batch of valid signatures only, whatever their R, holds as a whole (the seed is printed;
    /// GRIDMINT_SEED replays it).
    #[test]
    fn a_batch_gives_each_transaction_its_own_verdict() {
        let seed: u64 = std::env::var("GRIDMINT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).unwrap();
            u64::from_le_bytes(bytes)
        });
        println!("seed {seed} (GRIDMINT_SEED={seed} replays it)");
        let chain = "c";
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let cache = KeyCache::new(64);
        for round in 0..8 {
            let n = if round == 0 { 1024 } else { 3 + next() % 300 };
            let batch: Vec<SignedTx> = (0..n)
                .map(|i| {
                    let a = hand::scalar(&format!("{seed} {round} {i}"));
                    let tx = hand_tx(&a, i as u64);
                    let r = hand::scalar(&format!("r {seed} {round} {i}"));
                    let kind = if round == 0 { next() % 4 } else { next() % 8 };
                    let signature = match kind {
                        0..=2 => hand::sign(&a, &tx, chain, &r, &hand::torsion(0)),
                        3 => hand::sign(&a, &tx, chain, &r, &hand::torsion(next())),
                        4 => hand::non_canonical_s(hand::sign(&a, &tx, chain, &r, &hand::torsion(next()))),
                        5 => {
                            let mut s = hand::sign(&a, &tx, chain, &r, &hand::torsion(next()));
                            s[next() % 64] ^= 1 << (next() % 8);
                            s
                        }
                        6 => hand::sign(&a, &tx, "another chain", &r, &hand::torsion(0)),
                        _ => {
                            let small = hand::small_order_encodings();
                            hand::sign_small_r(&a, &tx, chain, small[next() % small.len()])
                        }
                    };
                    SignedTx { tx, signature }
                })
                .collect();
            let results = verify_batch(&batch, chain, &cache);
            for (i, (tx, result)) in batch.iter().zip(&results).enumerate() {
                let expected = reference(tx, chain);
                assert_eq!(*result, expected, "seed {seed}, round {round}, transaction {i}: in the batch");
                assert_eq!(tx.verify(chain), expected, "seed {seed}, round {round}, transaction {i}: alone");
            }
            let valid: Vec<SignedTx> =
                batch.iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|(t, _)| t.clone()).collect();
            assert_eq!(
                all_valid(&valid, chain, &cache),
                Ok(()),
                "seed {seed}, round {round}: the valid ones hold as a batch"
            );
            let all_ok = results.iter().all(Result::is_ok);
            assert_eq!(all_valid(&batch, chain, &cache).is_ok(), all_ok, "seed {seed}, round {round}: the whole batch");
        }
    }

    /// What a search costs: one or two bad signatures among 1,024 are found with a few small
    /// batches and at most 16 checks one by one each; 1,024 bad ones cost the batch, its halves
    /// and quarters, and each one alone, not the whole descent.
    #[test]
    fn the_search_for_bad_signatures_is_bounded() {
        let chain = "c";
        let cache = KeyCache::new(2048);
        let valid: Vec<SignedTx> = (0..1024u64)
            .map(|i| {
                let key = key_from_label(&format!("bounded {i}"));
                SignedTx::sign(Tx { nonce: i, ..transfer(&key) }, &key, chain)
            })
            .collect();
        let checks = |txs: &[SignedTx]| {
            CHECKS.with(|c| c.set((0, 0)));
            let results = verify_batch(txs, chain, &cache);
            (results, CHECKS.with(std::cell::Cell::get))
        };
        let (results, (singles, batches)) = checks(&valid);
        assert!(results.iter().all(Result::is_ok));
        assert_eq!((singles, batches), (0, 1), "valid: one batch");
        let mut one_bad = valid.clone();
        one_bad[700].signature[40] ^= 1;
        let (results, (singles, batches)) = checks(&one_bad);
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
        assert!(results[700].is_err());
        // 1,024 → 512 → … → 16: the whole batch and two halves at each of 6 levels
        assert!(singles <= 16 && batches <= 13, "one bad: {singles} alone, {batches} batches");
        let mut two_bad = valid.clone();
        two_bad[0].signature[40] ^= 1;
        two_bad[1023].signature[40] ^= 1;
        let (results, (singles, batches)) = checks(&two_bad);
        let bad: Vec<usize> = (0..1024).filter(|&i| results[i].is_err()).collect();
        assert_eq!(bad, vec![0, 1023]);
        // both halves fail, then two of four quarters: not dense; two descents to 16 each
        assert!(singles <= 32 && batches <= 23, "two bad: {singles} alone, {batches} batches");
        let (results, (singles, batches)) = {
            CHECKS.with(|c| c.set((0, 0)));
            let results = search_failed(&two_bad, chain, &cache);
            (results, CHECKS.with(std::cell::Cell::get))
        };
        assert_eq!((0..1024).filter(|&i| results[i].is_err()).collect::<Vec<_>>(), vec![0, 1023]);
        assert!(singles <= 32 && batches <= 22, "searched at once: {singles} alone, {batches} batches");
        let all_bad: Vec<SignedTx> = valid
            .iter()
            .map(|t| {
                let mut t = t.clone();
                t.signature[3] ^= 1;
                t
            })
            .collect();
        let (results, (singles, batches)) = checks(&all_bad);
        assert!(results.iter().all(Result::is_err));
        assert_eq!((singles, batches), (1024, 7), "all bad: the batch, its halves and quarters, then each alone");
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
