//! Equivocation evidence on a replicated node: what consensus reported, as stored and served.
//!
//! When consensus finalizes a height it reports every pair of conflicting messages a validator
//! signed at it (two proposals, prevotes or precommits of one round for different values), each
//! already checked by the consensus crate. The node keeps them in the store's `evidence` table by
//! height (pruned with the block, like commit certificates) and serves them at `GET /v1/evidence`.
//! gridmint's rulebook has no slashing for master nodes: evidence is recorded and shown; it moves
//! no balance and changes no state root.
//!
//! Each record carries both messages' signed bytes and signatures: anyone checks it with the
//! validator's address (its ed25519 public key) alone, without trusting this node.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::openapi::Hex32;

/// The most records kept for one height: the engine reports at most 3 pairs a validator and
/// step; a bound here too, so that no report can grow a height's record without limit.
pub const MAX_RECORDS_PER_HEIGHT: usize = 64;

/// The most records one `GET /v1/evidence` answer carries.
pub const MAX_PAGE: usize = 100;

/// One of the two conflicting messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedStatement {
    /// The value (block) id it is for; `null`: a vote for nil.
    #[schema(value_type = Option<Hex32>)]
    pub value_id: Option<String>,
    /// A proposal's proof-of-lock round (`null` for a vote or a fresh proposal).
    pub pol_round: Option<u32>,
    /// The exact bytes the signature covers (hex).
    pub signed_bytes: String,
    /// The validator's ed25519 signature over them (hex, 64 bytes).
    pub signature: String,
}

/// Two messages one validator signed for the same height, round and step, with different values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRecord {
    /// The height.
    pub height: u64,
    /// The round.
    pub round: u32,
    /// The validator that signed both (its address, the ed25519 public key, hex).
    #[schema(value_type = Hex32)]
    pub validator: String,
    /// `proposal`, `prevote` or `precommit`.
    pub step: String,
    /// The first message.
    pub first: SignedStatement,
    /// The second, for another value.
    pub second: SignedStatement,
}

/// `GET /v1/evidence`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceList {
    /// Records, newest height first.
    pub evidence: Vec<EvidenceRecord>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<u64>,
    /// Evidence of heights at or below this was pruned with their blocks (0: nothing pruned).
    pub pruned_through: u64,
}

/// A height's stored records, checked.
pub fn parse(bytes: &[u8]) -> Result<Vec<EvidenceRecord>, String> {
    let records: Vec<EvidenceRecord> =
        serde_json::from_slice(bytes).map_err(|e| format!("not a list of evidence records: {e}"))?;
    if records.len() > MAX_RECORDS_PER_HEIGHT {
        return Err(format!("{} records, more than {MAX_RECORDS_PER_HEIGHT}", records.len()));
    }
    Ok(records)
}

/// `existing` with those of `new` it does not hold yet appended, up to [`MAX_RECORDS_PER_HEIGHT`];
/// `None` if nothing changes.
pub fn merge(existing: Vec<EvidenceRecord>, new: Vec<EvidenceRecord>) -> Option<Vec<EvidenceRecord>> {
    let mut all = existing;
    let before = all.len();
    for record in new {
        if all.len() >= MAX_RECORDS_PER_HEIGHT {
            break;
        }
        if !all.contains(&record) {
            all.push(record);
        }
    }
    (all.len() != before).then_some(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(round: u32) -> EvidenceRecord {
        let statement = |v: u8| SignedStatement {
            value_id: Some(hex::encode([v; 32])),
            pol_round: None,
            signed_bytes: "00".into(),
            signature: hex::encode([v; 64]),
        };
        EvidenceRecord {
            height: 5,
            round,
            validator: hex::encode([7; 32]),
            step: "prevote".into(),
            first: statement(1),
            second: statement(2),
        }
    }

    #[test]
    fn merging_keeps_each_record_once_and_stops_at_the_bound() {
        assert_eq!(merge(vec![record(0)], vec![record(0)]), None, "a repeat changes nothing");
        assert_eq!(merge(vec![record(0)], vec![record(1), record(0)]), Some(vec![record(0), record(1)]));
        let full: Vec<_> = (0..MAX_RECORDS_PER_HEIGHT as u32).map(record).collect();
        assert_eq!(merge(full.clone(), vec![record(1000)]), None, "a full height takes no more");
        let bytes = serde_json::to_vec(&full).unwrap();
        assert_eq!(parse(&bytes).unwrap(), full);
        let mut over = full;
        over.push(record(1000));
        assert!(parse(&serde_json::to_vec(&over).unwrap()).is_err());
        assert!(parse(b"{\"not\": \"a list\"}").is_err());
    }
}
