//! Signing and verification: domain separation, chain binding, strictness (ZIP-215 boundary).

mod common;

use common::{address, chain, key, proposal, value, vote};
use gridmint_consensus::app_channel::app::types::core::{
    NilOrVal, Round, ValidatorProof, VoteExtensionScope, VoteType,
};
use gridmint_consensus::app_channel::{Signer, Verifier};
use gridmint_consensus::signing::{
    PROPOSAL_DOMAIN, PROPOSAL_PARTS_DOMAIN, VALIDATOR_PROOF_DOMAIN, VOTE_DOMAIN, VOTE_EXTENSION_DOMAIN,
    proposal_parts_signing_bytes, proposal_signing_bytes, verify_strict, vote_signing_bytes,
};
use gridmint_consensus::signing_ed25519::{PublicKey, Signature};
use gridmint_consensus::{ChainId, GridmintSigner, GridmintVerifier, Height};

fn signer(i: u8) -> GridmintSigner {
    GridmintSigner::new([i; 32], chain())
}

fn verifier() -> GridmintVerifier {
    GridmintVerifier::new(chain())
}

#[tokio::test]
async fn votes_verify_only_as_signed() {
    let s = signer(1);
    let v = vote(VoteType::Prevote, NilOrVal::Val(value().value_id()), 1);
    let signed = s.sign_vote(v.clone()).await.unwrap();
    let pk = key(1).public_key();
    assert!(verifier().verify_signed_vote(&v, &signed.signature, &pk).await.unwrap().is_valid());

    // Another chain, another key, or any field changed: invalid.
    let other_chain = GridmintVerifier::new(ChainId::new("other").unwrap());
    assert!(other_chain.verify_signed_vote(&v, &signed.signature, &pk).await.unwrap().is_invalid());
    assert!(verifier().verify_signed_vote(&v, &signed.signature, &key(2).public_key()).await.unwrap().is_invalid());
    let mut changed = vec![v.clone(), v.clone(), v.clone(), v.clone(), v.clone()];
    changed[0].vote_type = VoteType::Precommit;
    changed[1].height = Height(8);
    changed[2].round = Round::new(3);
    changed[3].value = NilOrVal::Nil;
    changed[4].validator_address = address(2);
    for c in &changed {
        assert!(verifier().verify_signed_vote(c, &signed.signature, &pk).await.unwrap().is_invalid(), "{c:?}");
    }
}

#[tokio::test]
async fn proposals_verify_only_as_signed() {
    let s = signer(1);
    let p = proposal();
    let signed = s.sign_proposal(p.clone()).await.unwrap();
    let pk = key(1).public_key();
    assert!(verifier().verify_signed_proposal(&p, &signed.signature, &pk).await.unwrap().is_valid());
    let mut other = p.clone();
    other.pol_round = Round::new(0);
    assert!(verifier().verify_signed_proposal(&other, &signed.signature, &pk).await.unwrap().is_invalid());
    let mut header = *p.value.header();
    header.time_ms += 1;
    other = p.clone();
    other.value = gridmint_consensus::BlockValue::new(header, p.value.tx_count(), p.value.txs_root());
    assert!(verifier().verify_signed_proposal(&other, &signed.signature, &pk).await.unwrap().is_invalid());
}

#[tokio::test]
async fn signatures_do_not_cross_message_kinds() {
    // A signature over a vote's bytes is not a proposal signature, and the domain tags are
    // prefix-free (with each other and with the transaction tag).
    let domains: [&[u8]; 6] = [
        VOTE_DOMAIN,
        PROPOSAL_DOMAIN,
        VOTE_EXTENSION_DOMAIN,
        VALIDATOR_PROOF_DOMAIN,
        PROPOSAL_PARTS_DOMAIN,
        b"gridmint/tx/v1",
    ];
    for (i, a) in domains.iter().enumerate() {
        for (j, b) in domains.iter().enumerate() {
            if i != j {
                assert!(!a.starts_with(b), "{} / {}", String::from_utf8_lossy(a), String::from_utf8_lossy(b));
            }
        }
    }
    let p = proposal();
    let v = vote(VoteType::Prevote, NilOrVal::Val(p.value.value_id()), 1);
    let vote_sig = signer(1).sign_vote(v).await.unwrap().signature;
    assert!(verifier().verify_signed_proposal(&p, &vote_sig, &key(1).public_key()).await.unwrap().is_invalid());
}

#[tokio::test]
async fn signer_refuses_to_sign_for_others() {
    let s = signer(1);
    assert!(s.sign_vote(vote(VoteType::Precommit, NilOrVal::Nil, 2)).await.is_err());
    let mut p = proposal();
    p.validator_address = address(2);
    assert!(s.sign_proposal(p).await.is_err());
    assert!(s.sign_validator_proof(key(2).public_key().as_bytes().to_vec(), vec![1, 2]).await.is_err());
}

#[tokio::test]
async fn vote_extensions_and_validator_proofs() {
    let s = signer(3);
    let scope = VoteExtensionScope::new(Height(4), Round::new(0), value().value_id(), address(3));
    let ext = s.sign_vote_extension(scope.clone(), ()).await.unwrap();
    let pk = key(3).public_key();
    assert!(verifier().verify_signed_vote_extension(&scope, &(), &ext.signature, &pk).await.unwrap().is_valid());
    let other = VoteExtensionScope::new(Height(5), Round::new(0), value().value_id(), address(3));
    assert!(verifier().verify_signed_vote_extension(&other, &(), &ext.signature, &pk).await.unwrap().is_invalid());

    let proof = s.sign_validator_proof(pk.as_bytes().to_vec(), b"peer".to_vec()).await.unwrap();
    assert!(verifier().verify_validator_proof(&proof).await.unwrap().is_valid());
    let forged = ValidatorProof::new(proof.public_key.clone(), b"other peer".to_vec(), proof.signature);
    assert!(verifier().verify_validator_proof(&forged).await.unwrap().is_invalid());
    let garbage = ValidatorProof::new(vec![1, 2, 3], b"peer".to_vec(), proof.signature);
    assert!(verifier().verify_validator_proof(&garbage).await.unwrap().is_invalid());
}

#[test]
fn keys_and_signatures_match_ed25519_dalek() {
    // The same seed gives the same public key and (deterministic) signature in both libraries,
    // so a gridmint account key is usable as a consensus key as is.
    let seed = [9u8; 32];
    let dalek = ed25519_dalek::SigningKey::from_bytes(&seed);
    let ours = gridmint_consensus::signing_ed25519::PrivateKey::from(seed);
    assert_eq!(dalek.verifying_key().as_bytes(), ours.public_key().as_bytes());
    let msg = b"same bytes";
    use ed25519_dalek::Signer as _;
    assert_eq!(dalek.sign(msg).to_bytes(), ours.sign(msg).to_bytes());
}

#[test]
fn zip215_accepts_what_verify_strict_refuses() {
    // The identity point as a public key, and the signature (R = identity, S = 0): the
    // cofactored ZIP-215 equation holds for every message, the strict check refuses it.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let pk = PublicKey::from_bytes(identity).expect("ed25519-consensus accepts small-order keys");
    let mut sig = [0u8; 64];
    sig[0] = 1;
    let sig = Signature::from_bytes(sig);
    for msg in [&b"anything"[..], b"at all"] {
        assert!(pk.verify(msg, &sig).is_ok(), "ZIP-215 accepts");
        assert!(!verify_strict(&pk, msg, &sig), "verify_strict refuses");
    }
}

#[test]
fn signed_bytes_are_pinned() {
    let v = vote(VoteType::Precommit, NilOrVal::Val(value().value_id()), 1);
    let bytes = vote_signing_bytes(&chain(), &v);
    assert_eq!(hex::encode(&bytes), PINNED_VOTE_BYTES);
    let nil = vote(VoteType::Prevote, NilOrVal::Nil, 2);
    assert_eq!(hex::encode(vote_signing_bytes(&chain(), &nil)), PINNED_NIL_VOTE_BYTES);
    assert_eq!(hex::encode(proposal_signing_bytes(&chain(), &proposal())), PINNED_PROPOSAL_BYTES);
    let parts = proposal_parts_signing_bytes(
        &chain(),
        Height(7),
        Round::new(2),
        Round::new(1),
        value().value_id(),
        &address(1),
    );
    assert_eq!(hex::encode(parts), PINNED_PROPOSAL_PARTS_BYTES);
}

#[test]
fn proposal_parts_signatures_verify_only_as_signed() {
    let v = value();
    let sig = signer(1).sign_proposal_parts(Round::new(2), Round::Nil, &v).unwrap();
    let ver = verifier();
    assert!(ver.verify_proposal_parts(Round::new(2), Round::Nil, &v, &address(1), &sig));
    assert!(!ver.verify_proposal_parts(Round::new(3), Round::Nil, &v, &address(1), &sig));
    assert!(!ver.verify_proposal_parts(Round::new(2), Round::new(0), &v, &address(1), &sig));
    assert!(!ver.verify_proposal_parts(Round::new(2), Round::Nil, &v, &address(2), &sig));
    let mut header = *v.header();
    header.height = Height(8);
    let other = gridmint_consensus::BlockValue::new(header, v.tx_count(), v.txs_root());
    assert!(!ver.verify_proposal_parts(Round::new(2), Round::Nil, &other, &address(1), &sig));
    // Another chain's verifier refuses it.
    let other_chain = GridmintVerifier::new(ChainId::new("another").unwrap());
    assert!(!other_chain.verify_proposal_parts(Round::new(2), Round::Nil, &v, &address(1), &sig));
    // The signer refuses a value another validator produced.
    assert!(signer(2).sign_proposal_parts(Round::new(2), Round::Nil, &v).is_err());
}

const PINNED_VOTE_BYTES: &str = "677269646d696e742f636f6e73656e7375732f766f74652f76310d00677269646d696e742d746573740107010201222ff0f81d03eb6a9438991eae1a24209710ac98f8dab1a9e79b26a73aac4dcb8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";
const PINNED_NIL_VOTE_BYTES: &str = "677269646d696e742f636f6e73656e7375732f766f74652f76310d00677269646d696e742d7465737400070102008139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394";
const PINNED_PROPOSAL_PARTS_BYTES: &str = "677269646d696e742f636f6e73656e7375732f70726f706f73616c2d70617274732f76310d00677269646d696e742d746573740701020101222ff0f81d03eb6a9438991eae1a24209710ac98f8dab1a9e79b26a73aac4dcb8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";
const PINNED_PROPOSAL_BYTES: &str = "677269646d696e742f636f6e73656e7375732f70726f706f73616c2f76310d00677269646d696e742d74657374070102222ff0f81d03eb6a9438991eae1a24209710ac98f8dab1a9e79b26a73aac4dcb008a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

/// The engine's own certificate checks (`VerifierExt`) rebuild each vote with the context's
/// constructors and call our verifier: certificates made of our signatures must pass them, also
/// after a trip through the codec (as value sync carries them).
#[tokio::test]
async fn certificates_verify_through_the_engine_checks() {
    use gridmint_consensus::app_channel::VerifierExt;
    use gridmint_consensus::app_channel::app::types::codec::Codec;
    use gridmint_consensus::app_channel::app::types::core::{
        CommitCertificate, ExtendedCommitCertificate, PolkaCertificate, ThresholdParams, VoteExtensionPolicy,
    };
    use gridmint_consensus::app_channel::app::types::sync::{RawDecidedValue, Response};
    use gridmint_consensus::{GridmintCodec, GridmintContext, Validator, ValidatorSet};

    let ctx = GridmintContext::new();
    let set =
        ValidatorSet::new((1..=4).map(|i| Validator::new(*key(i).public_key().as_bytes(), 10).unwrap()).collect())
            .unwrap();
    let id = value().value_id();
    let mut precommits = Vec::new();
    let mut prevotes = Vec::new();
    for i in 1..=4 {
        precommits.push(signer(i).sign_vote(vote(VoteType::Precommit, NilOrVal::Val(id), i)).await.unwrap());
        prevotes.push(signer(i).sign_vote(vote(VoteType::Prevote, NilOrVal::Val(id), i)).await.unwrap());
    }
    let th = ThresholdParams::default();
    let v = verifier();

    let quorum = CommitCertificate::new(Height(7), Round::new(2), id, precommits[..3].to_vec());
    v.verify_commit_certificate(&ctx, &quorum, &set, th).await.unwrap();
    let short = CommitCertificate::new(Height(7), Round::new(2), id, precommits[..2].to_vec());
    assert!(v.verify_commit_certificate(&ctx, &short, &set, th).await.is_err());
    let mut forged = quorum.clone();
    forged.commit_signatures[0].signature = forged.commit_signatures[1].signature;
    assert!(v.verify_commit_certificate(&ctx, &forged, &set, th).await.is_err());

    let polka = PolkaCertificate::new(Height(7), Round::new(2), id, prevotes[..3].to_vec());
    v.verify_polka_certificate(&ctx, &polka, &set, th).await.unwrap();

    // Through the sync codec and back.
    let extended = ExtendedCommitCertificate::from_commit_certificate_and_extensions(quorum, Default::default());
    let response = Response::<GridmintContext>::ValueResponse(malachitebft_sync::ValueResponse::new(
        Height(7),
        vec![RawDecidedValue::new(value().canonical_bytes().into(), extended)],
    ));
    let bytes = GridmintCodec.encode(&response).unwrap();
    let Response::ValueResponse(back) = Codec::<Response<GridmintContext>>::decode(&GridmintCodec, bytes).unwrap();
    v.verify_extended_commit_certificate(&ctx, &back.values[0].certificate, &set, th, VoteExtensionPolicy::Disabled)
        .await
        .unwrap();
}
