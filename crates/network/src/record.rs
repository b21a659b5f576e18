//! What a replicated node stores beside each block: the commit certificate and what the
//! decided block held that the executed block does not.
//!
//! Consensus decides a [`Block`]: a header (with the parent's state root) and the proposer's
//! ordered candidates. Every replica executes it through the node's one block path, which leaves
//! out the candidates the envelope refuses (G10), identically everywhere; the node stores the
//! executed block ([`StoredBlock`]: included transactions and their receipts). The decided
//! block is rebuilt from the stored one and this record — for value sync, and to check the
//! certificate against the block's value id — so its transactions are never stored twice: the
//! record holds only the refused candidates, with their positions, and the parent's state root.

use gridmint_consensus::codec::{decode_certificate, encode_certificate};
use gridmint_consensus::{Block, BlockHeader, DecidedCertificate, Height, SignedTxBytes};
use gridmint_node::block::StoredBlock;
use serde::{Deserialize, Serialize};

/// The record's version byte: 2 since it holds the header's time in milliseconds (the stored
/// block keeps whole seconds). Version 1 is refused: it belongs to headers in whole seconds,
/// whose values this gridmint does not decide.
pub const RECORD_VERSION: u8 = 2;

/// The record stored beside a replicated block (the store's `decided` table).
#[derive(Debug, Clone, PartialEq)]
pub struct DecidedRecord {
    /// The state root the parent left (in the decided header).
    pub parent_state_root: [u8; 32],
    /// The header's time (ms); the stored block holds its whole seconds.
    pub time_ms: u64,
    /// The candidates the envelope refused, with their positions in the decided block.
    pub refused: Vec<(u32, SignedTxBytes)>,
    /// The commit certificate.
    pub certificate: DecidedCertificate,
}

#[derive(Serialize, Deserialize)]
struct RecordWire {
    parent_state_root: [u8; 32],
    time_ms: u64,
    refused: Vec<(u32, SignedTxBytes)>,
    certificate: Vec<u8>,
}

impl DecidedRecord {
    /// [`RECORD_VERSION`] then postcard of (parent state root, time in ms, refused candidates, the
    /// certificate's own encoding).
    pub fn encode(&self) -> Vec<u8> {
        let wire = RecordWire {
            parent_state_root: self.parent_state_root,
            time_ms: self.time_ms,
            refused: self.refused.clone(),
            certificate: encode_certificate(&self.certificate),
        };
        postcard::to_extend(&wire, vec![RECORD_VERSION]).expect("the record serializes")
    }

    /// Inverse of [`DecidedRecord::encode`]: strict (version, no trailing bytes).
    pub fn decode(bytes: &[u8]) -> Result<DecidedRecord, String> {
        let (&version, body) = bytes.split_first().ok_or("an empty decided record")?;
        if version != RECORD_VERSION {
            return Err(format!("decided record version {version}, expected {RECORD_VERSION}"));
        }
        let (wire, rest) =
            postcard::take_from_bytes::<RecordWire>(body).map_err(|e| format!("not a decided record: {e}"))?;
        if !rest.is_empty() {
            return Err(format!("{} bytes after a decided record", rest.len()));
        }
        let certificate = decode_certificate(&wire.certificate).map_err(|e| format!("its certificate: {e}"))?;
        Ok(DecidedRecord {
            parent_state_root: wire.parent_state_root,
            time_ms: wire.time_ms,
            refused: wire.refused,
            certificate,
        })
    }
}

/// The positions in `decided` of the candidates that the executed block left out: the included
/// transactions are a subsequence of the candidates in the same order, so each candidate is
/// matched greedily with the next included one (an identical copy after an included one is the
/// refused one, as the core refused it).
pub fn refused_positions(decided: &[SignedTxBytes], included: &[SignedTxBytes]) -> Vec<u32> {
    let mut next = 0;
    let mut refused = Vec::new();
    for (i, tx) in decided.iter().enumerate() {
        if included.get(next) == Some(tx) {
            next += 1;
        } else {
            refused.push(i as u32);
        }
    }
    refused
}

/// A stored transaction as consensus carries it.
pub fn tx_bytes(tx: &gridmint_node::SignedTx) -> SignedTxBytes {
    SignedTxBytes::new(&tx.tx, tx.signature)
}

/// The decided block rebuilt from the stored block and its record.
pub fn rebuild(stored: &StoredBlock, record: &DecidedRecord) -> Result<Block, String> {
    let total = stored.txs.len() + record.refused.len();
    let mut txs = Vec::with_capacity(total);
    let mut included = stored.txs.iter();
    let mut refused = record.refused.iter().peekable();
    for i in 0..total {
        match refused.peek() {
            Some((at, tx)) if *at as usize == i => {
                txs.push(tx.clone());
                refused.next();
            }
            _ => txs.push(tx_bytes(included.next().ok_or("the record's positions do not fit the block")?)),
        }
    }
    if refused.next().is_some() || included.next().is_some() {
        return Err("the record's positions do not fit the block".into());
    }
    if record.time_ms / 1000 != stored.time {
        return Err(format!("the record's time {} ms is not in the block's second {}", record.time_ms, stored.time));
    }
    Ok(Block {
        header: BlockHeader {
            height: Height(stored.height),
            time_ms: record.time_ms,
            parent_hash: stored.parent,
            parent_state_root: record.parent_state_root,
            producer: stored.producer,
        },
        txs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(n: u8) -> SignedTxBytes {
        SignedTxBytes { signature: [n; 64], tx: vec![n; 3] }
    }

    /// A record of whole-second headers (version 1) is refused; a time outside the stored
    /// block's second does not rebuild.
    #[test]
    fn old_records_and_stray_times_are_refused() {
        let e = DecidedRecord::decode(&[1, 0, 0]).unwrap_err();
        assert!(e.contains("version 1"), "{e}");
        let stored = StoredBlock {
            height: 1,
            time: 7,
            parent: [0; 32],
            producer: gridmint_core::Address([1; 32]),
            txs: vec![],
            receipts: vec![],
            state_root: [0; 32],
            closed_epochs: vec![],
        };
        let certificate = DecidedCertificate::from_commit_certificate_and_extensions(
            gridmint_consensus::app_channel::app::types::core::CommitCertificate {
                height: Height(1),
                round: gridmint_consensus::app_channel::app::types::core::Round::new(0),
                value_id: gridmint_consensus::ValueId([0; 32]),
                commit_signatures: vec![],
            },
            Default::default(),
        );
        let mut record = DecidedRecord { parent_state_root: [0; 32], time_ms: 7_999, refused: vec![], certificate };
        assert_eq!(rebuild(&stored, &record).unwrap().header.time_ms, 7_999);
        assert_eq!(DecidedRecord::decode(&record.encode()).unwrap(), record);
        record.time_ms = 8_000;
        assert!(rebuild(&stored, &record).unwrap_err().contains("not in the block's second"));
        record.time_ms = 6_999;
        assert!(rebuild(&stored, &record).is_err());
    }

    /// Positions found greedily; a duplicate after an included copy is the refused one.
    #[test]
    fn refused_positions_follow_the_order() {
        let decided = vec![tx(1), tx(2), tx(2), tx(3), tx(4)];
        let included = vec![tx(1), tx(2), tx(4)];
        assert_eq!(refused_positions(&decided, &included), vec![2, 3]);
        assert_eq!(refused_positions(&decided, &[]), vec![0, 1, 2, 3, 4]);
        assert!(refused_positions(&decided, &decided).is_empty());
    }
}
