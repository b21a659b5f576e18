//! Validators, the validator set, and who proposes at each (height, round).
//!
//! A [`Validator`] is an ed25519 public key with a voting power; its address is its public key's
//! 32 bytes (in gridmint an address *is* a public key, so a validator's consensus key is its
//! account key). A [`ValidatorSet`] is sorted by address and refuses, when built:
//! an empty set, a duplicate address, a zero voting power, a weak (small-order) key, and a total
//! voting power above [`MAX_TOTAL_VOTING_POWER`]. That bound is a third of `u64::MAX`, not
//! `u64::MAX`: the engine checks quorums as `weight * 3 > total * 2` in `u64` and *panics* on
//! overflow, so a set whose total merely fits `u64` could still crash every node.
//!
//! # Proposer selection (weighted round-robin, a pure function of height and round)
//!
//! Give each validator as many *slots* as its voting power, in address order: with powers
//! `[3, 1, 2]` the slots `0..6` belong to validators `0 0 0 1 2 2`. Then:
//!
//! 1. round 0 of height `h` takes slot `(h · stride) mod total`, where `stride` is the first
//!    number at or above `⌊total / φ⌋` (φ the golden ratio) that is coprime with `total`. Because
//!    the stride is coprime with `total`, any `total` consecutive heights visit every slot exactly
//!    once: over that window each validator proposes exactly as many blocks as its power, and the
//!    golden-ratio stride spreads a heavy validator's turns out instead of bunching them together;
//! 2. round `r > 0` moves `r` validators further along the sorted set from round 0's proposer (by
//!    index, not by slot), so `n` consecutive rounds try `n` distinct validators: a proposer that
//!    is down or faulty costs one round, never several.
//!
//! Everything is integer arithmetic over the sorted set, so every node computes the same proposer.

use ed25519_dalek::VerifyingKey;
use malachitebft_app_channel::app::types::core as mcore;
use malachitebft_signing_ed25519::PublicKey;

use crate::context::GridmintContext;
use crate::types::{Height, ValidatorAddress};

/// The largest total voting power a set may have (see the module documentation).
pub const MAX_TOTAL_VOTING_POWER: u64 = u64::MAX / 3;

/// Why a validator or a validator set is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    /// No validators.
    #[error("the validator set is empty")]
    Empty,
    /// Two validators with the same address.
    #[error("validator {0} appears twice")]
    Duplicate(ValidatorAddress),
    /// A validator without voting power.
    #[error("validator {0} has zero voting power")]
    ZeroPower(ValidatorAddress),
    /// The total voting power exceeds [`MAX_TOTAL_VOTING_POWER`].
    #[error("the total voting power exceeds {MAX_TOTAL_VOTING_POWER}")]
    TotalPowerTooLarge,
    /// The public key is not a valid ed25519 point, or is of small order (weak).
    #[error("validator key {0} is not a valid, non-weak ed25519 public key")]
    BadKey(ValidatorAddress),
}

/// A validator: address (= its public key's bytes), public key, voting power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    address: ValidatorAddress,
    public_key: PublicKey,
    voting_power: u64,
}

impl Validator {
    /// A validator for this public key (its address is the key's bytes). Refuses keys that are not
    /// points, small-order (weak) keys, and zero power.
    pub fn new(public_key_bytes: [u8; 32], voting_power: u64) -> Result<Self, ValidatorSetError> {
        let address = ValidatorAddress(gridmint_core::Address(public_key_bytes));
        let dalek = VerifyingKey::from_bytes(&public_key_bytes).map_err(|_| ValidatorSetError::BadKey(address))?;
        if dalek.is_weak() {
            return Err(ValidatorSetError::BadKey(address));
        }
        let public_key = PublicKey::from_bytes(public_key_bytes).map_err(|_| ValidatorSetError::BadKey(address))?;
        if voting_power == 0 {
            return Err(ValidatorSetError::ZeroPower(address));
        }
        Ok(Validator { address, public_key, voting_power })
    }

    /// The address.
    pub fn address(&self) -> &ValidatorAddress {
        &self.address
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The voting power.
    pub fn voting_power(&self) -> u64 {
        self.voting_power
    }
}

impl mcore::Validator<GridmintContext> for Validator {
    fn address(&self) -> &ValidatorAddress {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> u64 {
        self.voting_power
    }
}

/// The validators of a height, sorted by address, with the precomputed proposer schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    /// `ends[i]` = the sum of the powers of validators `0..=i` (slot `s` belongs to the first `i`
    /// with `s < ends[i]`).
    ends: Vec<u64>,
    total: u64,
    stride: u64,
}

impl ValidatorSet {
    /// Sorts by address and checks the set (see the module documentation).
    pub fn new(mut validators: Vec<Validator>) -> Result<Self, ValidatorSetError> {
        if validators.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        validators.sort_by_key(|v| v.address);
        let mut ends = Vec::with_capacity(validators.len());
        let mut total: u64 = 0;
        for (i, v) in validators.iter().enumerate() {
            if i > 0 && validators[i - 1].address == v.address {
                return Err(ValidatorSetError::Duplicate(v.address));
            }
            if v.voting_power == 0 {
                return Err(ValidatorSetError::ZeroPower(v.address));
            }
            total = total
                .checked_add(v.voting_power)
                .filter(|t| *t <= MAX_TOTAL_VOTING_POWER)
                .ok_or(ValidatorSetError::TotalPowerTooLarge)?;
            ends.push(total);
        }
        let stride = stride_for(total);
        Ok(ValidatorSet { validators, ends, total, stride })
    }

    /// The validators, sorted by address.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// The sum of the voting powers.
    pub fn total_voting_power(&self) -> u64 {
        self.total
    }

    /// The proposer's index in [`ValidatorSet::validators`] for (height, round); a nil round
    /// counts as round 0.
    pub fn proposer_index(&self, height: Height, round: mcore::Round) -> usize {
        let total = u128::from(self.total);
        let slot = (u128::from(height.0) * u128::from(self.stride) % total) as u64;
        let first = self.ends.partition_point(|end| *end <= slot);
        let round = u64::from(round.as_u32().unwrap_or(0));
        let n = self.validators.len() as u64;
        ((first as u64 + round % n) % n) as usize
    }

    /// The proposer for (height, round).
    pub fn proposer(&self, height: Height, round: mcore::Round) -> &Validator {
        &self.validators[self.proposer_index(height, round)]
    }
}

/// The first number at or above `⌊total / φ⌋` (at least 1) coprime with `total`. It exists below
/// `total` for `total ≥ 2` (`total - 1` is coprime with `total`); for `total = 1` it is 1.
fn stride_for(total: u64) -> u64 {
    // 2^64 / φ, the Fibonacci-hashing multiplier.
    const INV_PHI: u128 = 11_400_714_819_323_198_485;
    let mut stride = ((u128::from(total) * INV_PHI) >> 64) as u64;
    stride = stride.max(1);
    while gcd(stride, total) != 1 {
        stride += 1;
    }
    stride
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl mcore::ValidatorSet<GridmintContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> u64 {
        self.total
    }

    fn get_by_address(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.validators.binary_search_by(|v| v.address.cmp(address)).ok().map(|i| &self.validators[i])
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}
