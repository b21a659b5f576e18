//! The context: heights, values and their ids, validator sets, proposer selection, parts.

mod common;

use common::{address, block, key, value};
use gridmint_consensus::app_channel::app::types::core::{
    Context, Height as _, NilOrVal, ProposalPart as _, Round, ValidatorSet as _, Value as _, Vote as _,
};
use gridmint_consensus::signing_ed25519::Signature;
use gridmint_consensus::types::VALUE_ID_DOMAIN;
use gridmint_consensus::*;

fn validator(i: u8, power: u64) -> Validator {
    Validator::new(*key(i).public_key().as_bytes(), power).unwrap()
}

#[test]
fn heights() {
    assert_eq!(Height::ZERO, Height(0));
    assert_eq!(Height::INITIAL, Height(1));
    assert_eq!(Height(5).increment(), Height(6));
    assert_eq!(Height(5).decrement_by(5), Some(Height(0)));
    assert_eq!(Height(5).decrement_by(6), None);
    assert_eq!(Height(u64::MAX).increment(), Height(u64::MAX));
    assert_eq!(Height(9).as_u64(), 9);
    assert_eq!(Height(9).to_string(), "9");
}

#[test]
fn value_id_is_blake3_of_domain_and_canonical_bytes() {
    let v = value();
    let mut hasher = blake3::Hasher::new();
    hasher.update(VALUE_ID_DOMAIN);
    hasher.update(&v.canonical_bytes());
    assert_eq!(v.id(), ValueId(*hasher.finalize().as_bytes()));
    assert_eq!(v.id(), v.value_id());
    assert_eq!(BlockValue::from_canonical_bytes(&v.canonical_bytes()).unwrap(), v);
}

#[test]
fn value_id_changes_with_every_field() {
    let v = value();
    let base = *v.header();
    let (n, root) = (v.tx_count(), v.txs_root());
    let mut variants = Vec::new();
    let mut h = base;
    h.height = Height(8);
    variants.push(BlockValue::new(h, n, root));
    let mut h = base;
    h.time_ms += 1;
    variants.push(BlockValue::new(h, n, root));
    let mut h = base;
    h.parent_hash[0] ^= 1;
    variants.push(BlockValue::new(h, n, root));
    let mut h = base;
    h.parent_state_root[31] ^= 1;
    variants.push(BlockValue::new(h, n, root));
    let mut h = base;
    h.producer = address(2).0;
    variants.push(BlockValue::new(h, n, root));
    variants.push(BlockValue::new(base, n + 1, root));
    let mut other_root = root;
    other_root[0] ^= 1;
    variants.push(BlockValue::new(base, n, other_root));
    // Through the transactions root: reordered, re-signed, one fewer.
    let txs = block().txs;
    let mut reordered = txs.clone();
    reordered.reverse();
    variants.push(Block { header: base, txs: reordered }.value());
    let mut resigned = txs.clone();
    resigned[0].signature[63] ^= 1;
    variants.push(Block { header: base, txs: resigned }.value());
    variants.push(Block { header: base, txs: txs[..1].to_vec() }.value());
    for other in &variants {
        assert_ne!(other.id(), v.id(), "{other:?}");
    }
}

#[test]
fn canonical_value_bytes_are_strict() {
    let bytes = value().canonical_bytes();
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(BlockValue::from_canonical_bytes(&trailing).is_err());
    assert_eq!(bytes[0], gridmint_consensus::types::VALUE_VERSION);
    for v in [1, 2, 4] {
        // Version 1 (the whole block, before step 4) is not decoded: no node ever wrote it.
        // Version 2 (whole seconds) is not either: its ids are not version 3's.
        let mut version = bytes.clone();
        version[0] = v;
        assert!(BlockValue::from_canonical_bytes(&version).is_err());
    }
    assert!(BlockValue::from_canonical_bytes(&bytes[..bytes.len() - 1]).is_err());
    assert!(BlockValue::from_canonical_bytes(&[]).is_err());
}

#[test]
fn validator_set_is_sorted_by_address() {
    let set = ValidatorSet::new((1..=6).map(|i| validator(i, u64::from(i))).collect()).unwrap();
    let addresses: Vec<_> = set.validators().iter().map(|v| *v.address()).collect();
    let mut sorted = addresses.clone();
    sorted.sort();
    assert_eq!(addresses, sorted);
    assert_eq!(set.count(), 6);
    assert_eq!(mcore_total(&set), 21);
    for i in 1..=6 {
        let v = set.get_by_address(&address(i)).unwrap();
        assert_eq!(v.voting_power(), u64::from(i));
        assert_eq!(v.public_key(), &key(i).public_key());
    }
    assert!(set.get_by_address(&address(9)).is_none());
    assert!(set.get_by_index(6).is_none());
}

fn mcore_total(set: &ValidatorSet) -> u64 {
    gridmint_consensus::app_channel::app::types::core::ValidatorSet::total_voting_power(set)
}

#[test]
fn validator_set_refusals() {
    assert_eq!(ValidatorSet::new(vec![]), Err(ValidatorSetError::Empty));
    assert_eq!(
        ValidatorSet::new(vec![validator(1, 1), validator(2, 1), validator(1, 5)]),
        Err(ValidatorSetError::Duplicate(address(1)))
    );
    assert_eq!(Validator::new(*key(1).public_key().as_bytes(), 0), Err(ValidatorSetError::ZeroPower(address(1))));
    assert_eq!(
        ValidatorSet::new(vec![validator(1, MAX_TOTAL_VOTING_POWER), validator(2, 1)]),
        Err(ValidatorSetError::TotalPowerTooLarge)
    );
    assert_eq!(
        ValidatorSet::new(vec![validator(1, u64::MAX), validator(2, u64::MAX)]),
        Err(ValidatorSetError::TotalPowerTooLarge)
    );
    assert!(ValidatorSet::new(vec![validator(1, MAX_TOTAL_VOTING_POWER - 1), validator(2, 1)]).is_ok());
    // The identity point: a valid encoding, but of small order (weak).
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(matches!(Validator::new(identity, 1), Err(ValidatorSetError::BadKey(_))));
    // Not a point at all.
    let mut not_a_point = [0x01u8; 32];
    not_a_point[31] = 0;
    assert!(matches!(Validator::new(not_a_point, 1), Err(ValidatorSetError::BadKey(_))));
}

#[test]
fn round_zero_proposers_are_weighted_over_each_window() {
    let powers = [5u64, 1, 3, 2, 7];
    let set = ValidatorSet::new(powers.iter().enumerate().map(|(i, p)| validator(i as u8 + 1, *p)).collect()).unwrap();
    let total = set.total_voting_power();
    for start in [0u64, 1, 1000, u64::MAX - 100] {
        let mut counts = vec![0u64; set.count()];
        for h in 0..total {
            counts[set.proposer_index(Height(start.wrapping_add(h)), Round::new(0))] += 1;
        }
        let expected: Vec<u64> = set.validators().iter().map(|v| v.voting_power()).collect();
        if start < u64::MAX - total {
            assert_eq!(counts, expected, "window starting at {start}");
        }
    }
    // The heaviest validator does not propose its 7 blocks back to back.
    let heaviest = set.validators().iter().position(|v| v.voting_power() == 7).unwrap();
    let run = (1..=total).map(|h| set.proposer_index(Height(h), Round::new(0)) == heaviest).collect::<Vec<_>>();
    assert!(run.windows(3).all(|w| !(w[0] && w[1] && w[2])), "{run:?}");
}

#[test]
fn later_rounds_try_every_validator_in_turn() {
    let set = ValidatorSet::new((1..=4).map(|i| validator(i, 10 * u64::from(i))).collect()).unwrap();
    let ctx = GridmintContext::new();
    for h in 1..50 {
        let mut seen: Vec<ValidatorAddress> =
            (0..4).map(|r| *ctx.select_proposer(&set, Height(h), Round::new(r)).address()).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 4, "height {h}");
        assert_eq!(
            ctx.select_proposer(&set, Height(h), Round::new(4)),
            ctx.select_proposer(&set, Height(h), Round::new(0))
        );
        assert_eq!(
            ctx.select_proposer(&set, Height(h), Round::Nil),
            ctx.select_proposer(&set, Height(h), Round::new(0))
        );
    }
    // Extreme rounds and heights do not panic.
    ctx.select_proposer(&set, Height(u64::MAX), Round::new(u32::MAX));
}

#[test]
fn proposer_schedule_is_pinned() {
    // Any change to the selection rule changes who proposes: that must be deliberate.
    let set = ValidatorSet::new((1..=4).map(|i| validator(i, u64::from(i))).collect()).unwrap();
    let schedule: Vec<usize> = (1..=20).map(|h| set.proposer_index(Height(h), Round::new(0))).collect();
    assert_eq!(schedule, PINNED_SCHEDULE);
}

const PINNED_SCHEDULE: [usize; 20] = [3, 2, 0, 3, 2, 1, 3, 2, 2, 0, 3, 2, 0, 3, 2, 1, 3, 2, 2, 0];

#[test]
fn single_validator_always_proposes() {
    let set = ValidatorSet::new(vec![validator(3, 1)]).unwrap();
    for h in 0..10 {
        for r in 0..3 {
            assert_eq!(set.proposer(Height(h), Round::new(r)).address(), &address(3));
        }
    }
}

#[test]
fn constructors_build_what_they_say() {
    let ctx = GridmintContext::new();
    let v = value();
    let p = ctx.new_proposal(Height(7), Round::new(1), v.clone(), Round::new(0), address(1));
    assert_eq!(
        (p.height, p.round, p.pol_round, p.validator_address),
        (Height(7), Round::new(1), Round::new(0), address(1))
    );
    assert_eq!(p.value, v);
    let pv = ctx.new_prevote(Height(7), Round::new(1), NilOrVal::Val(v.id()), address(2));
    assert_eq!(pv.vote_type(), gridmint_consensus::app_channel::app::types::core::VoteType::Prevote);
    assert_eq!(pv.value(), &NilOrVal::Val(v.id()));
    let pc = ctx.new_precommit(Height(7), Round::new(1), NilOrVal::Nil, address(2));
    assert_eq!(pc.vote_type(), gridmint_consensus::app_channel::app::types::core::VoteType::Precommit);
    assert!(pc.extension().is_none());
}

#[test]
fn proposal_parts_first_and_last() {
    let init = ProposalPart::Init {
        height: Height(1),
        round: Round::new(0),
        pol_round: Round::Nil,
        proposer: address(1).0,
        time_ms: 1,
        parent_hash: [0; 32],
        parent_state_root: [0; 32],
        tx_count: 2,
        txs_root: [0; 32],
        signature: Signature::from_bytes([0; 64]),
    };
    let data = ProposalPart::Data { txs: block().txs };
    let fin = ProposalPart::Fin;
    assert!(init.is_first() && !init.is_last());
    assert!(!data.is_first() && !data.is_last());
    assert!(!fin.is_first() && fin.is_last());
}
