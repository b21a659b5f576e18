//! Policy loading and validation: every preset loads; every class of bad policy is rejected.

use super::*;

fn netmind_text() -> &'static str {
    PRESETS[0].1
}

/// Goal: all four presets parse and validate. Method: load each by name.
#[test]
fn presets_load() {
    for (name, _) in PRESETS {
        let policy = Policy::preset(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(policy.name, name);
    }
    assert!(matches!(Policy::preset("bitcoin"), Err(PolicyError::UnknownPreset(_))));
}

/// Goal: presets carry the rulebook's numbers. Method: spot-check NM1..NM5, OS2, OT5.
#[test]
fn presets_carry_rulebook_numbers() {
    let nm = Policy::preset("netmind").unwrap();
    assert_eq!(nm.token.cap, Tokens::whole(10_000_000_000));
    let genesis: u128 = nm.pools.iter().map(|p| p.genesis.0).sum();
    assert_eq!(genesis, nm.token.cap.0, "NM1: all supply minted into pools");
    let osmi = Policy::preset("osmi").unwrap();
    assert_eq!(osmi.emission.as_ref().unwrap().rate_ppb, 1_500_000);
    assert_eq!(osmi.claims.tax_ppb, 25_000_000);
    let ot = Policy::preset("omnitensor").unwrap();
    assert_eq!(ot.dualproof.as_ref().unwrap().reward_per_reference_gpu_hour.0, parse_tokens("6.25").unwrap());
    let n24 = Policy::preset("netmind-2024").unwrap();
    let issued: u128 = n24.pools.iter().map(|p| p.genesis.0).sum();
    assert_eq!(issued, Tokens::whole(113_000_000).0, "N24-4: the buckets sum to 113M");
}

fn rejects(text: &str, needle: &str) {
    match Policy::from_toml(text) {
        Ok(_) => panic!("accepted a bad policy (wanted an error containing `{needle}`)"),
        Err(e) => assert!(e.to_string().contains(needle), "error `{e}` does not mention `{needle}`"),
    }
}

/// Goal: unknown keys are rejected, never ignored. Method: add a typo'd key.
#[test]
fn rejects_unknown_key() {
    rejects(&netmind_text().replace("tax_ppb = 0", "tax_ppb = 0\ntax_ppm = 1"), "tax_ppm");
}

/// Goal: shares must sum to 10^9. Method: break the 50/30/20 split.
#[test]
fn rejects_shares_not_summing() {
    rejects(&netmind_text().replace("operators_ppb = 200_000_000", "operators_ppb = 200_000_001"), "sum");
}

/// Goal: a bridge whose inbound cap is 0 (it would never pay a confirmed deposit) is rejected.
/// Method: set it to 0.
#[test]
fn rejects_a_zero_inbound_cap() {
    rejects(
        &netmind_text().replace("inbound_cap_ppb = 10_000_000   # 1% of escrow per epoch", "inbound_cap_ppb = 0"),
        "bridge.inbound_cap_ppb",
    );
}

/// Goal: a bridge minimum of 0 (set, yet no minimum) is rejected, so "no minimum" has one spelling
/// (the field absent) and one policy hash. Method: set it to "0"; the smallest positive amount
/// passes.
#[test]
fn rejects_a_zero_outbound_minimum() {
    let set = |min: &str| netmind_text().replace("outbound_min = \"1\"", &format!("outbound_min = \"{min}\""));
    assert_ne!(set("0"), netmind_text(), "the preset names its minimum");
    rejects(&set("0"), "bridge.outbound_min");
    let smallest = Policy::from_toml(&set("0.000000000000000001")).unwrap();
    assert_eq!(smallest.bridge.unwrap().outbound_min.map(|m| m.0), Some(1));
}

/// Goal: genesis above the cap is rejected. Method: lower the cap.
#[test]
fn rejects_genesis_above_cap() {
    rejects(&netmind_text().replace("cap = 10_000_000_000", "cap = 9_999_999_999"), "exceed the cap");
}

/// Goal: overlapping tranches are rejected. Method: make tranche 2 start inside tranche 1.
#[test]
fn rejects_overlapping_tranches() {
    rejects(&netmind_text().replace("first = 3_651", "first = 3_650"), "overlaps");
}

/// Goal: a schedule releasing more than its pool is rejected. Method: shrink the pool.
#[test]
fn rejects_schedule_above_pool() {
    let text = netmind_text().replace(
        "genesis = 1_000_000_000\nrelease_to = \"account:team\"",
        "genesis = 999_999_999\nrelease_to = \"account:team\"",
    );
    rejects(&text, "more than the pool");
}

/// Goal: a year must be 365 epochs (G4). Method: set 366.
#[test]
fn rejects_leap_year() {
    rejects(&netmind_text().replace("per_year = 365", "per_year = 366"), "365");
}

/// Goal: floats are refused as amounts. Method: write 0.001 unquoted.
#[test]
fn rejects_float_amount() {
    rejects(&netmind_text().replace("flat_fee = \"0.001\"", "flat_fee = 0.001"), "floats");
}

/// Goal: `with_override` sets known keys and rejects unknown ones. Method: set and read back.
#[test]
fn overrides() {
    let nm = Policy::preset("netmind").unwrap();
    let changed = nm.with_override("claims.tax_ppb", "5").unwrap();
    assert_eq!(changed.claims.tax_ppb, 5);
    let changed = nm.with_override("connection_reward.min_online_slots", "72").unwrap();
    assert_eq!(changed.connection_reward.unwrap().min_online_slots, 72);
    let changed = nm.with_override("gas.flat_fee", "\"0.5\"").unwrap();
    assert_eq!(changed.gas.flat_fee.0, TOKEN / 2);
    assert!(matches!(nm.with_override("claims.tax", "5"), Err(PolicyError::UnknownKey(_))));
    assert!(matches!(nm.with_override("nope.x", "5"), Err(PolicyError::UnknownKey(_))));
    assert!(nm.with_override("staking_rewards.stakers_ppb", "1").is_err(), "an override is validated");
    // the policy survives a round trip through TOML unchanged
    assert_eq!(Policy::from_toml(&nm.to_toml()).unwrap(), nm);
    assert_ne!(nm.hash(), changed_hash(&nm));
}

fn changed_hash(p: &Policy) -> [u8; 32] {
    p.with_override("version", "99").unwrap().hash()
}

proptest::proptest! {
    /// Goal: addresses order exactly as their bytes do (every deterministic iteration, and so
    /// every state root, depends on it; `Ord` compares words for speed). Method: random pairs,
    /// and pairs equal up to a random byte.
    #[test]
    fn addresses_order_as_their_bytes(a in proptest::array::uniform32(0u8..), b in proptest::array::uniform32(0u8..), at in 0usize..32) {
        proptest::prop_assert_eq!(Address(a).cmp(&Address(b)), a.cmp(&b));
        let mut c = a;
        c[at] = b[at];
        proptest::prop_assert_eq!(Address(a).cmp(&Address(c)), a.cmp(&c));
        proptest::prop_assert_eq!(Address(c).partial_cmp(&Address(a)), Some(c.cmp(&a)));
    }
}

/// Goal: `from_index` is `blake3("gridmint/sim/" ‖ kind ‖ index_le)` whichever way it hashes
/// (one call on a stack buffer for short kinds, the incremental hasher past 64 bytes): every
/// simulated address, and so every forecast's files, depends on it. Method: kinds of every length
/// around the 64-byte boundary and a few indexes, against the hasher fed the parts.
#[test]
fn simulation_addresses_hash_prefix_kind_and_index() {
    for length in 0..60 {
        let kind: String = "machine-owner-customer-validator-".repeat(2)[..length].to_string();
        for index in [0u64, 1, 41, u64::MAX] {
            let mut hasher = blake3::Hasher::new();
            hasher.update(b"gridmint/sim/");
            hasher.update(kind.as_bytes());
            hasher.update(&index.to_le_bytes());
            assert_eq!(Address::from_index(&kind, index).0, *hasher.finalize().as_bytes(), "kind {kind:?}");
        }
    }
}

/// Goal: G4 for a real network's genesis: every preset has 86,400-second epochs; a policy with
/// shorter epochs (valid for a dev network) is refused, naming `epoch.seconds`. Method: each
/// preset, then netmind with 3,600-second epochs.
#[test]
fn real_network_needs_day_long_epochs() {
    for (name, _) in PRESETS {
        Policy::preset(name).unwrap().validate_real_network().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let mut short = Policy::preset("netmind").unwrap();
    short.epoch.seconds = 3_600;
    short.validate().unwrap();
    let error = short.validate_real_network().unwrap_err().to_string();
    assert!(error.contains("epoch.seconds") && error.contains("86,400"), "{error}");
}

/// The governance bound (`governance.max_open_proposals`): 0 would freeze governance for ever
/// and is refused; 1 is taken; a vote longer than a year is refused (slots held for years).
#[test]
fn governance_bounds_are_checked() {
    let base = netmind_text();
    assert!(base.contains("max_open_proposals = 16"));
    rejects(&base.replace("max_open_proposals = 16", "max_open_proposals = 0"), "governance.max_open_proposals");
    let one = Policy::from_toml(&base.replace("max_open_proposals = 16", "max_open_proposals = 1")).unwrap();
    assert_eq!(one.governance.unwrap().max_open_proposals, Some(1));
    rejects(&base.replace("voting_epochs = 7", "voting_epochs = 366"), "governance.voting_epochs");
    let year = Policy::from_toml(&base.replace("voting_epochs = 7", "voting_epochs = 365")).unwrap();
    assert_eq!(year.governance.unwrap().voting_epochs, 365);
}
