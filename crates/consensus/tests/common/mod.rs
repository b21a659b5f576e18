//! Fixed fixtures shared by the tests: keys from fixed seeds, a small block, signed messages.

#![allow(dead_code)]

use gridmint_consensus::app_channel::app::types::core::{NilOrVal, Round, SignedMessage, VoteType};
use gridmint_consensus::signing::{proposal_signing_bytes, vote_signing_bytes};
use gridmint_consensus::signing_ed25519::{PrivateKey, Signature};
use gridmint_consensus::{
    Block, BlockHeader, BlockValue, ChainId, GridmintContext, Height, Proposal, SignedTxBytes, ValidatorAddress, Vote,
};

pub const CHAIN: &str = "gridmint-test";

pub fn chain() -> ChainId {
    ChainId::new(CHAIN).unwrap()
}

pub fn key(i: u8) -> PrivateKey {
    PrivateKey::from([i; 32])
}

pub fn address(i: u8) -> ValidatorAddress {
    ValidatorAddress(gridmint_core::Address(*key(i).public_key().as_bytes()))
}

/// A small block: two transactions.
pub fn block() -> Block {
    let header = BlockHeader {
        height: Height(7),
        time_ms: 1_700_000_000,
        parent_hash: [0xaa; 32],
        parent_state_root: [0xbb; 32],
        producer: address(1).0,
    };
    let txs = vec![
        SignedTxBytes { signature: [0x11; 64], tx: b"first transaction".to_vec() },
        SignedTxBytes { signature: [0x22; 64], tx: vec![0, 1, 2, 3, 255] },
    ];
    Block { header, txs }
}

/// The small block's value.
pub fn value() -> BlockValue {
    block().value()
}

pub fn vote(vote_type: VoteType, value: NilOrVal<gridmint_consensus::ValueId>, signer: u8) -> Vote {
    Vote {
        vote_type,
        height: Height(7),
        round: Round::new(2),
        value,
        validator_address: address(signer),
        extension: None,
    }
}

pub fn signed_vote(v: Vote, signer: u8) -> SignedMessage<GridmintContext, Vote> {
    let signature = key(signer).sign(&vote_signing_bytes(&chain(), &v));
    SignedMessage::new(v, signature)
}

pub fn proposal() -> Proposal {
    Proposal {
        height: Height(7),
        round: Round::new(2),
        value: value(),
        pol_round: Round::Nil,
        validator_address: address(1),
    }
}

pub fn signed_proposal() -> SignedMessage<GridmintContext, Proposal> {
    let p = proposal();
    let signature = key(1).sign(&proposal_signing_bytes(&chain(), &p));
    SignedMessage::new(p, signature)
}

pub fn fixed_signature(byte: u8) -> Signature {
    Signature::from_bytes([byte; 64])
}
