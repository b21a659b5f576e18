//! The policy hash commits to our own canonical encoding, never to a crate's text format: a
//! TOML release that formats differently, or a policy file written with other spacing, comments
//! or key order, must not change any root.

use gridmint_policy::Policy;

/// Goal: the hash is a function of the policy's values only. Method: every preset's TOML,
/// reformatted (comments, blank lines, keys reordered by a round trip through a TOML value,
/// inline spacing), parses to a policy with the same hash; and every field change changes it.
#[test]
fn the_hash_ignores_formatting_and_sees_every_value() {
    for name in ["netmind", "netmind-2024", "osmi", "omnitensor"] {
        let policy = Policy::preset(name).unwrap();
        let hash = policy.hash();
        let text = policy.to_toml();
        let reformatted = format!("# a comment\n\n{}\n\n# the end\n", text.replace(" = ", "   =   "));
        assert_eq!(Policy::from_toml(&reformatted).unwrap().hash(), hash, "{name}: spacing and comments");
        let value: toml::Value = toml::from_str(&text).unwrap();
        let pretty = toml::to_string_pretty(&value).unwrap();
        assert_eq!(Policy::from_toml(&pretty).unwrap().hash(), hash, "{name}: another TOML layout");
        let mut changed = policy.clone();
        changed.claims.tax_ppb += 1;
        assert_ne!(changed.hash(), hash, "{name}: a value change");
        let mut changed = policy.clone();
        changed.version += 1;
        assert_ne!(changed.hash(), hash, "{name}: the version");
        // the encoding starts with its domain tag and version
        assert!(gridmint_policy::canonical::encode(&policy).starts_with(b"gridmint/policy/v1"));
    }
}

/// Goal: the encoding is pinned — a change to it is a change of every root and chain id and must
/// be deliberate (bump the tag, re-bless the golden vectors, say why). Method: the netmind
/// preset's hash, frozen.
#[test]
fn the_netmind_hash_is_pinned() {
    let preset = Policy::preset("netmind").unwrap();
    assert_eq!(
        hex::encode(preset.hash()),
        "38371121ba15f72e83b0ae8e228564075296bf679e14ec3022dd3daeed1e1dbd",
        "the canonical policy encoding changed"
    );
    // without the governance bound: the hash before that field existed
    let mut unbounded = preset.clone();
    unbounded.governance.as_mut().unwrap().max_open_proposals = None;
    assert_eq!(
        hex::encode(unbounded.hash()),
        "7edc44d0643ef1e284e042c45a79d5d2b6b8e7777b9384395ec9b212ae9aa21f",
        "an unset optional field changed the encoding"
    );
    // fields added later enter only when set: without the bridge's outbound minimum the preset
    // has the hash it had before that field existed
    let mut without = unbounded.clone();
    without.bridge.as_mut().unwrap().outbound_min = None;
    assert_eq!(
        hex::encode(without.hash()),
        "ead028b097d8c5dbc03c78af235c7cf4c10606e5759226afbeb0861937693e2c",
        "an unset optional field changed the encoding"
    );
}
