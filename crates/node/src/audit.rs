//! The auditor's check of every table against the blocks (`gridmint replay`).
//!
//! [`crate::Ledger::open`] replays the blocks (X4: parent hashes, receipts, state roots). That
//! leaves the tables the node answers from — the transaction index, the epoch summaries, the
//! reward leaves and the explain records — and the meta table. [`audit`] re-executes the stored
//! blocks from the genesis with the core's own `State::execute_block` (the replay's path) and
//! checks:
//!
//! - `meta`: exactly the keys `"format"` and `"genesis"`, the current format tag, a genesis that
//!   parses and whose policy parses;
//! - `blocks`: exactly heights 1..=last, each block's height, parent hash, receipts and closed
//!   epochs as the re-execution gives them;
//! - `txs`: every committed transaction's id maps to its block, its position and its receipt,
//!   and there is no other entry;
//! - `epochs`, `leaves`, `explain`: for every closed epoch, exactly the bytes the commit writes
//!   for the re-executed close ([`EpochWrite::from_record`]), and no other epoch;
//! - `closes`: each closed epoch's close height, and no other epoch;
//! - `heartbeats`: each slot's bitmap is exactly the machines whose heartbeat for it the blocks
//!   commit, and no other slot has one.
//!
//! A pruned store (blocks before its base gone) is audited from a snapshot at or after its base
//! ([`audit_from`]): the blocks after it are re-executed and checked as above, the tables of
//! what they wrote too; of what came before, only what needs no blocks: each earlier epoch's
//! leaves read through their directory and hashed to the rewards root its summary records, no
//! index entry pointing at a pruned block, `meta` holding the base.
//!
//! Every difference is a [`Mismatch`] naming the table and the key. A record that fails its
//! checksum is an error ([`StoreError::Corrupt`]), as on any read.

use crate::block::{ACCOUNT_TX_KEY_LEN, AccountTx, account_entries, genesis_hash};
use crate::ledger::Genesis;
use crate::store::{EpochWrite, FORMAT, Key, Store, StoreError, Table};
use gridmint_core::State;
use std::collections::{BTreeMap, BTreeSet};

/// One difference between a table and what the blocks imply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The table.
    pub table: &'static str,
    /// The key (a number, a hex id or a quoted name).
    pub key: String,
    /// What differs.
    pub what: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "table `{}`, key {}: {}", self.table, self.key, self.what)
    }
}

/// What the audit checked, and what differed.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// Blocks re-executed.
    pub blocks: u64,
    /// Transaction index entries checked.
    pub txs: u64,
    /// Closed epochs whose three records were checked.
    pub epochs: u64,
    /// Every difference found (empty when the store matches its blocks).
    pub mismatches: Vec<Mismatch>,
}

impl Audit {
    fn mismatch(&mut self, table: Table, key: impl std::fmt::Display, what: impl Into<String>) {
        self.mismatches.push(Mismatch { table: table.name(), key: key.to_string(), what: what.into() });
    }
}

/// Audits every table of `store` against its blocks from genesis; `progress` is called with
/// (height, last height) as blocks are re-executed.
pub fn audit(store: &Store, progress: impl FnMut(u64, u64)) -> Result<Audit, StoreError> {
    audit_from(store, None, progress)
}

/// [`audit`] from `start` (a snapshot's state and its block's hash, at or after a pruned
/// store's base) instead of the genesis.
pub fn audit_from(
    store: &Store,
    start: Option<(State, [u8; 32])>,
    mut progress: impl FnMut(u64, u64),
) -> Result<Audit, StoreError> {
    let mut audit = Audit::default();
    let base = store.base_height();
    // meta
    let mut keys = store.meta_keys()?;
    keys.sort();
    let expected: &[&str] = if base > 0 { &["base", "format", "genesis"] } else { &["format", "genesis"] };
    if keys != expected {
        for key in keys.iter().filter(|k| !expected.contains(&k.as_str())) {
            audit.mismatch(Table::Meta, format!("\"{key}\""), "an entry that gridmint does not write");
        }
        for key in expected.iter().filter(|k| !keys.iter().any(|s| s == *k)) {
            audit.mismatch(Table::Meta, format!("\"{key}\""), "missing");
        }
    }
    if let Some(format) = store.meta("format")?
        && format != FORMAT
    {
        audit.mismatch(Table::Meta, "\"format\"", format!("format tag {}", String::from_utf8_lossy(&format)));
    }
    let Some(genesis_bytes) = store.meta("genesis")? else { return Ok(audit) };
    let genesis: Genesis = match serde_json::from_slice(&genesis_bytes) {
        Ok(g) => g,
        Err(e) => {
            audit.mismatch(Table::Meta, "\"genesis\"", format!("the genesis does not parse: {e}"));
            return Ok(audit);
        }
    };
    if let Err(e) = genesis.parse_policy() {
        audit.mismatch(Table::Meta, "\"genesis\"", e.to_string());
        return Ok(audit);
    }

    // blocks, re-executed; the transaction index and the epoch records checked against them
    let last = store.last_height()?;
    let stored_blocks = store.table_len(Table::Blocks)?;
    if stored_blocks != last - base {
        let extra = store.number_keys(Table::Blocks)?.into_iter().filter(|h| !(base + 1..=last).contains(h));
        for height in extra {
            audit.mismatch(Table::Blocks, height, format!("a block outside heights {}..={last}", base + 1));
        }
    }
    // what consensus decided is kept beside stored blocks only (its bytes are the consensus
    // crate's, checked by the node that serves them to value sync)
    for table in [Table::Decided, Table::Evidence] {
        for height in store.number_keys(table)?.into_iter().filter(|h| !(base + 1..=last).contains(h)) {
            audit.mismatch(table, height, format!("a record outside the stored heights {}..={last}", base + 1));
        }
    }
    for height in store.number_keys(Table::Evidence)? {
        let parsed = store.evidence(height).map(|b| b.map(|b| crate::evidence::parse(&b)));
        if let Ok(Some(Err(why))) = parsed {
            audit.mismatch(Table::Evidence, height, why);
        }
    }
    let from_snapshot = start.is_some();
    let (mut state, mut parent) = match start {
        Some((state, tip)) => (state, tip),
        None => match crate::ledger::genesis_state(&genesis) {
            Ok(state) => (state, genesis_hash(&genesis_bytes)),
            Err(e) => {
                audit.mismatch(Table::Meta, "\"genesis\"", e.to_string());
                return Ok(audit);
            }
        },
    };
    let first = state.height + 1;
    // slots of the epoch open at a snapshot may hold bits of blocks before it: not compared
    let compared_after_epoch = if from_snapshot { state.epoch } else { 0 };
    let compared =
        |slot: u64, state: &State| slot / u64::from(state.policy.slots_per_epoch()) + 1 > compared_after_epoch;
    let mut matched_txs = 0u64;
    let mut matched_account_txs = 0u64;
    let mut closed = BTreeSet::new();
    // epochs closed at or before the start: only what needs no blocks is checked
    let mut before_start = BTreeSet::new();
    if from_snapshot {
        for epoch in store.number_keys(Table::Closes)? {
            if store.epoch_close(epoch)?.is_some_and(|h| h < first) {
                before_start.insert(epoch);
                check_epoch_without_blocks(store, &mut audit, epoch)?;
            }
        }
    }
    // the bitmaps the blocks imply, for the slots not yet checked (those of open epochs)
    let mut bitmaps: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut heartbeat_slots = BTreeSet::new();
    // the stored blocks between the base and the start (the snapshot's state is after them, so
    // they are not re-executed): decoded, linked from the base's header to the start's block,
    // their index entries and close heights checked
    if from_snapshot {
        let mut link = match store.base()? {
            Some(header) => header.block_hash(crate::block::BLOCK_HASH_DOMAIN),
            None => genesis_hash(&genesis_bytes),
        };
        for height in base + 1..first {
            let Some(block) = store.block(height)? else {
                audit.mismatch(Table::Blocks, height, "missing");
                return Ok(audit);
            };
            audit.blocks += 1;
            if block.parent != link {
                audit.mismatch(Table::Blocks, height, "its parent hash is not the previous block's hash");
            }
            let ids: Vec<[u8; 32]> = block.receipts.iter().map(|r| r.tx_id).collect();
            for ((index, receipt), found) in block.receipts.iter().enumerate().zip(store.txs(&ids)?) {
                let expected =
                    crate::block::TxLocation { height, index: index as u32, code: receipt.code, fee: receipt.fee };
                match found {
                    Some(location) if location == expected => matched_txs += 1,
                    Some(location)
                        if location.height > height
                            && committed_at(store, &receipt.tx_id, location.height, location.index)? => {}
                    _ => audit.mismatch(
                        Table::Txs,
                        hex::encode(receipt.tx_id),
                        format!("committed in block {height} at {index}, the index does not say so"),
                    ),
                }
            }
            check_account_entries(store, &mut audit, &block, &mut matched_account_txs)?;
            for epoch in &block.closed_epochs {
                if store.epoch_close(*epoch)? != Some(height) {
                    audit.mismatch(Table::Closes, epoch, format!("closed at {height}, the table says otherwise"));
                }
            }
            link = block.hash();
        }
        if link != parent {
            audit.mismatch(Table::Blocks, first - 1, "the snapshot audited from is not of the stored chain's block");
        }
    }
    for height in first..=last {
        let Some(block) = store.block(height)? else {
            audit.mismatch(Table::Blocks, height, "missing");
            return Ok(audit);
        };
        audit.blocks += 1;
        if block.parent != parent {
            audit.mismatch(Table::Blocks, height, "its parent hash is not the previous block's hash");
        }
        let (receipts, records) = match state.execute_block(height, block.time, block.producer, &block.txs, true) {
            Ok((outcome, records)) => (outcome.receipts, records),
            Err(e) => {
                audit.mismatch(Table::Blocks, height, format!("it does not execute: {e}"));
                return Ok(audit);
            }
        };
        if receipts != block.receipts {
            audit.mismatch(Table::Blocks, height, "its receipts differ from the re-execution's");
        }
        let closed_here: Vec<u64> = records.iter().map(|r| r.summary.epoch).collect();
        if closed_here != block.closed_epochs {
            audit.mismatch(
                Table::Blocks,
                height,
                format!("it closed epochs {closed_here:?}, it records {:?}", block.closed_epochs),
            );
        }
        // the index, against the re-executed receipts
        let ids: Vec<[u8; 32]> = receipts.iter().map(|r| r.tx_id).collect();
        for ((index, receipt), found) in receipts.iter().enumerate().zip(store.txs(&ids)?) {
            let expected =
                crate::block::TxLocation { height, index: index as u32, code: receipt.code, fee: receipt.fee };
            let key = hex::encode(receipt.tx_id);
            match found {
                Some(location) if location == expected => matched_txs += 1,
                // the same id committed again later (a failed transaction can be): the later
                // commit overwrote the entry, and is checked when its block is reached
                Some(location)
                    if location.height > height
                        && committed_at(store, &receipt.tx_id, location.height, location.index)? => {}
                Some(location) => audit.mismatch(
                    Table::Txs,
                    key,
                    format!(
                        "committed in block {height} at {index} (code {}, fee {}), the index says block {} at {} \
                         (code {}, fee {})",
                        expected.code, expected.fee, location.height, location.index, location.code, location.fee
                    ),
                ),
                None => audit.mismatch(
                    Table::Txs,
                    key,
                    format!("committed in block {height} at {index}, missing from the index"),
                ),
            }
        }
        check_account_entries(store, &mut audit, &block, &mut matched_account_txs)?;
        for (slot, ids) in crate::ledger::heartbeats_in(&state, &block) {
            if !compared(slot, &state) {
                continue;
            }
            heartbeat_slots.insert(slot);
            let bitmap = bitmaps.entry(slot).or_default();
            ids.into_iter().for_each(|id| crate::store::set_bit(bitmap, id));
        }
        // a closed epoch's slots take no more heartbeats: check their bitmaps now
        if let Some(last_closed) = closed_here.last() {
            let open = bitmaps.split_off(&(last_closed * u64::from(state.policy.slots_per_epoch())));
            check_bitmaps(store, &mut audit, std::mem::replace(&mut bitmaps, open))?;
        }
        // the epoch records, byte for byte as the commit writes them
        for record in &records {
            let epoch = record.summary.epoch;
            closed.insert(epoch);
            match store.epoch_close(epoch)? {
                Some(h) if h == height => {}
                Some(h) => audit.mismatch(Table::Closes, epoch, format!("closed at {height}, the table says {h}")),
                None => audit.mismatch(Table::Closes, epoch, "missing"),
            }
            audit.epochs += 1;
            let expected = EpochWrite::from_record(record, &state);
            for (table, stored, wanted) in [
                (Table::Epochs, store.epoch_summary(epoch)?, &expected.summary),
                (Table::Explain, store.epoch_explain(epoch)?, &expected.explain),
            ] {
                match stored {
                    Some(bytes) if bytes == *wanted => {}
                    Some(_) => audit.mismatch(table, epoch, "differs from the re-executed close"),
                    None => audit.mismatch(table, epoch, "missing"),
                }
            }
            // the leaves, read through their directory (which they determine): a directory that
            // does not fit its chunks is reported like any other difference
            match store.epoch_leaves(epoch) {
                Ok(Some(bytes)) if bytes == expected.leaves => {}
                Ok(Some(_)) => audit.mismatch(Table::Leaves, epoch, "differs from the re-executed close"),
                Ok(None) => audit.mismatch(Table::Leaves, epoch, "missing"),
                Err(StoreError::Corrupt { table, why, .. }) => {
                    audit.mismatch(Table::Leaves, epoch, format!("{table}: {why}"));
                }
                Err(e) => return Err(e),
            }
            // every owner's explain record, and no other for the epoch
            let stored: BTreeMap<[u8; 40], Vec<u8>> = store.epoch_owner_explains(epoch)?.into_iter().collect();
            for (key, wanted) in &expected.explain_owners {
                let name = Key::EpochOwner(key).to_string();
                match stored.get(key) {
                    Some(bytes) if bytes == wanted => {}
                    Some(_) => audit.mismatch(Table::ExplainOwners, name, "differs from the re-executed close"),
                    None => audit.mismatch(Table::ExplainOwners, name, "missing"),
                }
            }
            let written: BTreeSet<&[u8; 40]> = expected.explain_owners.iter().map(|(k, _)| k).collect();
            for key in stored.keys().filter(|k| !written.contains(k)) {
                audit.mismatch(Table::ExplainOwners, Key::EpochOwner(key).to_string(), "not written by any close");
            }
        }
        parent = block.hash();
        progress(height, last);
    }

    // nothing else in the index or the epoch tables
    let indexed = store.table_len(Table::Txs)?;
    audit.txs = indexed;
    if indexed != matched_txs {
        let mut wrong = Vec::new();
        store.scan_txs(|key, location| wrong.push((key, location)))?;
        // entries already reported from the blocks' side are reported by full id
        let reported: BTreeSet<String> = audit
            .mismatches
            .iter()
            .filter(|m| m.table == Table::Txs.name())
            .map(|m| m.key.chars().take(2 * crate::store::TX_KEY_LEN).collect())
            .collect();
        for (key, location) in wrong {
            let location = location?;
            let receipt = receipt_at(store, location.height, location.index)?;
            let right = receipt.is_some_and(|r| {
                crate::store::tx_key(&r.tx_id) == key && r.code == location.code && r.fee == location.fee
            });
            if !right && !reported.contains(&hex::encode(key)) {
                audit.mismatch(
                    Table::Txs,
                    hex::encode(key),
                    format!(
                        "an entry for block {} at {} (code {}, fee {}), where no such transaction was committed",
                        location.height, location.index, location.code, location.fee
                    ),
                );
            }
        }
    }
    // nothing else in the account index: an entry the checks above did not match is either
    // damaged or not what its block writes
    if store.table_len(Table::AccountTxs)? != matched_account_txs {
        let mut found = Vec::new();
        store.scan_account_txs(|key, entry| found.push((key, entry)))?;
        let reported: BTreeSet<String> =
            audit.mismatches.iter().filter(|m| m.table == Table::AccountTxs.name()).map(|m| m.key.clone()).collect();
        let mut cached: Option<(u64, Vec<AccountEntry>)> = None;
        for (key, entry) in found {
            let name = Key::AccountTx(&key).to_string();
            if reported.contains(&name) {
                continue;
            }
            let entry = match entry {
                Ok(entry) => entry,
                Err(StoreError::Corrupt { why, .. }) => {
                    audit.mismatch(Table::AccountTxs, name, why);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if cached.as_ref().is_none_or(|(h, _)| *h != entry.height) {
                let written = match store.block(entry.height)? {
                    Some(block) if (base + 1..=last).contains(&entry.height) => account_entries(&block),
                    _ => Vec::new(),
                };
                cached = Some((entry.height, written));
            }
            let written = &cached.as_ref().expect("just set").1;
            if !written.iter().any(|(k, e)| *k == key && *e == entry) {
                audit.mismatch(
                    Table::AccountTxs,
                    name,
                    format!("an entry for block {} at {} that the block does not write", entry.height, entry.index),
                );
            }
        }
    }
    check_bitmaps(store, &mut audit, bitmaps)?;
    let mut stored_slots: Vec<u64> =
        store.number_keys(Table::Heartbeats)?.into_iter().map(crate::store::heartbeat_slot).collect();
    stored_slots.dedup();
    for slot in stored_slots.into_iter().filter(|s| compared(*s, &state)) {
        if !heartbeat_slots.contains(&slot) {
            audit.mismatch(Table::Heartbeats, slot, "a slot no committed heartbeat marks");
        }
    }
    for table in [Table::Epochs, Table::Leaves, Table::Explain, Table::Closes] {
        for epoch in store.number_keys(table)? {
            if !closed.contains(&epoch) && !before_start.contains(&epoch) {
                audit.mismatch(table, epoch, "an epoch that no block closed");
            }
        }
    }
    for epoch in store.leaf_chunk_epochs()? {
        if !closed.contains(&epoch) && !before_start.contains(&epoch) {
            audit.mismatch(Table::LeafChunks, epoch, "an epoch that no block closed");
        }
    }
    // owners' explain records of epochs no block closed (those of closed epochs are checked above)
    for key in store.explain_owner_keys()? {
        let epoch = u64::from_be_bytes(key[..8].try_into().unwrap_or_default());
        if !closed.contains(&epoch) && !before_start.contains(&epoch) {
            audit.mismatch(Table::ExplainOwners, Key::EpochOwner(&key), "an epoch that no block closed");
        }
    }
    Ok(audit)
}

/// An entry of the account index with its key.
type AccountEntry = ([u8; ACCOUNT_TX_KEY_LEN], AccountTx);

/// `block`'s entries of the account index are there, as it writes them.
fn check_account_entries(
    store: &Store,
    audit: &mut Audit,
    block: &crate::block::StoredBlock,
    matched: &mut u64,
) -> Result<(), StoreError> {
    let wanted = account_entries(block);
    let keys: Vec<[u8; ACCOUNT_TX_KEY_LEN]> = wanted.iter().map(|(k, _)| *k).collect();
    for ((key, wanted), found) in wanted.iter().zip(store.account_tx_entries(&keys)?) {
        let name = Key::AccountTx(key).to_string();
        match found {
            Ok(Some(found)) if found == *wanted => *matched += 1,
            Ok(Some(_)) => audit.mismatch(Table::AccountTxs, name, "differs from what its block writes"),
            Ok(None) => audit.mismatch(Table::AccountTxs, name, "missing"),
            Err(StoreError::Corrupt { why, .. }) => audit.mismatch(Table::AccountTxs, name, why),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// An epoch closed before the audit's start: its summary parses and its leaves, read through
/// their directory, hash to the rewards root the summary records.
fn check_epoch_without_blocks(store: &Store, audit: &mut Audit, epoch: u64) -> Result<(), StoreError> {
    let Some(summary) = store.epoch_summary(epoch)? else {
        audit.mismatch(Table::Epochs, epoch, "missing");
        return Ok(());
    };
    let recorded = serde_json::from_slice::<serde_json::Value>(&summary)
        .ok()
        .and_then(|s| s["rewards_root"].as_str().map(String::from));
    let Some(recorded) = recorded else {
        audit.mismatch(Table::Epochs, epoch, "the summary does not parse or has no rewards root");
        return Ok(());
    };
    let leaves = match store.epoch_leaves(epoch) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            audit.mismatch(Table::Leaves, epoch, "missing");
            return Ok(());
        }
        Err(StoreError::Corrupt { table, why, .. }) => {
            audit.mismatch(Table::Leaves, epoch, format!("{table}: {why}"));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    match crate::block::decode_leaves(&leaves) {
        Ok(leaves) if hex::encode(gridmint_core::rewards_root_of(&leaves)) == recorded => {}
        Ok(_) => audit.mismatch(Table::Leaves, epoch, "they do not hash to the rewards root of the epoch's summary"),
        Err(why) => audit.mismatch(Table::Leaves, epoch, why),
    }
    Ok(())
}

/// Compares each slot's stored heartbeat bitmap with the one the blocks imply.
fn check_bitmaps(store: &Store, audit: &mut Audit, expected: BTreeMap<u64, Vec<u8>>) -> Result<(), StoreError> {
    for (slot, wanted) in expected {
        match store.heartbeat_bitmap(slot)? {
            Some(bytes) if bytes == wanted => {}
            Some(_) => audit.mismatch(Table::Heartbeats, slot, "differs from the committed heartbeats"),
            None => audit.mismatch(Table::Heartbeats, slot, "missing"),
        }
    }
    Ok(())
}

/// Whether block `height` holds the transaction `id` at `index`.
fn committed_at(store: &Store, id: &[u8; 32], height: u64, index: u32) -> Result<bool, StoreError> {
    Ok(receipt_at(store, height, index)?.is_some_and(|r| r.tx_id == *id))
}

/// The receipt at `index` in block `height`, if there is one.
fn receipt_at(store: &Store, height: u64, index: u32) -> Result<Option<gridmint_core::Receipt>, StoreError> {
    Ok(store.block(height)?.and_then(|b| b.receipts.get(index as usize).cloned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::TxLocation;
    use crate::ledger::Proposal;
    use crate::node::{create_dev, dev_epochs};
    use crate::signing::{SignedTx, address_of, load_key};
    use crate::store::Key;
    use gridmint_core::{Address, Policy, Tx, TxBody};

    /// Records with valid checksums that disagree with the blocks — an entry removed, moved,
    /// added, or replaced by other bytes — are each reported, naming the table and the key.
    #[test]
    fn every_table_is_checked_against_the_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let policy = dev_epochs(&Policy::preset("netmind").unwrap(), 60).unwrap();
        let (mut ledger, key_path) = create_dev(dir.path(), policy).unwrap();
        let key = load_key(&key_path).unwrap();
        let start = ledger.state.time;
        let mut ids = Vec::new();
        for nonce in 0..6u64 {
            let body = TxBody::Transfer { to: Address([7; 32]), amount: 1 + u128::from(nonce) };
            let tx = SignedTx::sign(Tx { signer: address_of(&key), nonce, body }, &key, &ledger.genesis.chain_id);
            ids.push(tx.id());
            // the last block is past the first epoch's end: it closes it
            let time = if nonce == 5 { start + 61 } else { start + nonce };
            ledger.commit(Proposal { time, txs: vec![tx] }).unwrap();
        }
        let store = ledger.store.clone();
        let clean = audit(&store, |_, _| {}).unwrap();
        assert!(clean.mismatches.is_empty(), "{:?}", clean.mismatches);
        assert_eq!((clean.blocks, clean.txs, clean.epochs), (6, 6, 1));

        store.tamper(Table::Txs, Key::Id(&ids[0]), None);
        let wrong = TxLocation { height: 2, index: 1, code: 0, fee: 0 };
        store.tamper(Table::Txs, Key::Id(&ids[1]), Some(&wrong.encode()));
        let stray = [9u8; 32];
        store.tamper(Table::Txs, Key::Id(&stray), Some(&TxLocation { height: 3, index: 0, code: 0, fee: 0 }.encode()));
        store.tamper(Table::Leaves, Key::Number(1), Some(&[1u8; 48]));
        store.tamper(Table::Explain, Key::Number(1), None);
        store.tamper(Table::Epochs, Key::Number(99), Some(b"{}"));
        store.tamper(Table::Meta, Key::Name("extra"), Some(b"x"));
        let stray_owner = crate::block::explain_key(1, &Address([5; 32]));
        store.tamper(Table::ExplainOwners, Key::EpochOwner(&stray_owner), Some(&[0u8; 80]));
        let stray_epoch = crate::block::explain_key(99, &Address([5; 32]));
        store.tamper(Table::ExplainOwners, Key::EpochOwner(&stray_epoch), Some(&[0u8; 80]));
        store.tamper(Table::Heartbeats, Key::Number(crate::store::heartbeat_key(424_242, 3)), Some(&[1u8]));
        store.tamper(Table::Closes, Key::Number(1), Some(&99u64.to_le_bytes()));
        // the account index: the recipient's entry of block 1 gone, the signer's of block 2
        // with another amount, one for block 3 that it does not write, one that does not decode
        let signer = address_of(&key);
        let recipient_1 = crate::block::account_tx_key(&Address([7; 32]), 1, 0);
        store.tamper(Table::AccountTxs, Key::AccountTx(&recipient_1), None);
        let signer_2 = crate::block::account_tx_key(&signer, 2, 0);
        let mut changed = store.account_tx_entries(&[signer_2]).unwrap().pop().unwrap().unwrap().unwrap();
        changed.amount += 1;
        store.tamper(Table::AccountTxs, Key::AccountTx(&signer_2), Some(&changed.encode_value()));
        let stray_account = crate::block::account_tx_key(&Address([6; 32]), 3, 0);
        store.tamper(Table::AccountTxs, Key::AccountTx(&stray_account), Some(&changed.encode_value()));
        let signer_4 = crate::block::account_tx_key(&signer, 4, 0);
        store.tamper(Table::AccountTxs, Key::AccountTx(&signer_4), Some(&[0xee; 40]));
        let found = audit(&store, |_, _| {}).unwrap().mismatches;
        let named: Vec<(&str, String)> = found.iter().map(|m| (m.table, m.key.clone())).collect();
        for expected in [
            ("txs", hex::encode(ids[0])),
            ("txs", hex::encode(ids[1])),
            ("txs", hex::encode(&stray[..crate::store::TX_KEY_LEN])),
            ("leaves", "1".to_string()),
            ("explain", "1".to_string()),
            ("epochs", "99".to_string()),
            ("meta", "\"extra\"".to_string()),
            ("explain_owners", format!("1/{}", hex::encode([5u8; 32]))),
            ("explain_owners", format!("99/{}", hex::encode([5u8; 32]))),
            ("heartbeats", "424242".to_string()),
            ("closes", "1".to_string()),
            ("account_txs", format!("{}/1.0", hex::encode([7u8; 32]))),
            ("account_txs", format!("{}/2.0", signer.to_hex())),
            ("account_txs", format!("{}/3.0", hex::encode([6u8; 32]))),
            ("account_txs", format!("{}/4.0", signer.to_hex())),
        ] {
            assert!(named.contains(&(expected.0, expected.1.clone())), "{expected:?} not reported: {found:#?}");
        }
        assert_eq!(found.len(), 15, "{found:#?}");
    }
}
