//! The relayer's loop: one process per committee member (`gridmint bridge relay`), following a
//! gridmint node and the EVM chain, signing and submitting on both (docs/design/relayer.md).
//!
//! Each pass ([`Relayer::step`]) does two things, in this order:
//!
//! - **gridmint → EVM.** For the outbound records from the cursor on (`GET /v1/bridge/outbound`):
//!   a record already `minted` on the bridge is done; otherwise the member publishes its EIP-712
//!   signature of the record's `Mint` on gridmint (`BridgeSign`) if it has not yet, and once the
//!   published signatures that recover to members of the contract's committee reach its
//!   threshold, submits `mint`. The member `id mod N` (by gridmint address) submits first; the
//!   others take over after [`TAKEOVER_AFTER`] passes, so a mint costs gas once unless its
//!   designated member is down. The cursor moves past a record once it is minted.
//! - **EVM → gridmint.** The next range of blocks with the configured confirmations
//!   ([`crate::relayer::confirmed_range`]): its `BridgeOut` events are written to the store as
//!   pending deposits *together with* the new cursor (one redb transaction), then every pending
//!   deposit is attested on gridmint (`BridgeAttest`) and leaves the store once gridmint took the
//!   attestation, or says it already has it or the deposit was paid.
//!
//! Crash safety: the cursors and the pending deposits are written only after what they record
//! happened; a crash in between makes the next run redo a step, and the once-only ids on both
//! sides (`minted(id)` and `AlreadyMinted` on the EVM side; `AlreadySigned`, `AlreadyAttested`,
//! `DepositAlreadyPaid` on gridmint) turn a redo into a no-op. A deposit is attested only once its
//! block has `confirmations` confirmations: a reorg shallower than that never reaches gridmint.
//!
//! gridmint's API is called with the node crate's blocking client: the loop is one sequential
//! task, so nothing else waits on the thread meanwhile.

use crate::contracts::{IGridmintBridge, Mint, connect};
use crate::relayer::{RelayerConfig, confirmed_range, mint_for_record};
use crate::sign::{CommitteeKey, domain, gridmint_chain_tag};
use alloy::primitives::{Address as EvmAddress, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::Filter;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{Eip712Domain, SolEvent, SolStruct};
use gridmint_core::{Address, Tx, TxBody};
use gridmint_node::client::Client;
use gridmint_node::signing::{SignedTx, address_of, load_key};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const CURSORS: TableDefinition<&str, u64> = TableDefinition::new("cursors");
/// Deposit id → recipient (32) ‖ amount (u128 LE) ‖ EVM block (u64 LE).
const PENDING: TableDefinition<u64, &[u8]> = TableDefinition::new("pending_deposits");
const OUTBOUND_NEXT: &str = "outbound_next";
const EVM_SCANNED: &str = "evm_scanned_up_to";

/// Passes a non-designated member waits, once a record has enough signatures, before it submits
/// the mint itself.
pub const TAKEOVER_AFTER: u32 = 3;
/// Most outbound records still to do looked at in one pass.
const OUTBOUND_WINDOW: u64 = 100;
/// Most pages of outbound records read in one pass.
const OUTBOUND_PAGES: u32 = 10;
/// How long a mint's receipt is awaited before the pass goes on (the mint is looked at again
/// at the next pass: minted, or sent again).
const RECEIPT_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// Most gridmint transactions sent in one batch.
const BATCH: usize = 100;

/// Why the relayer stopped or a pass failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A key file, the store, or the configuration.
    #[error("{0}")]
    Setup(String),
    /// The gridmint node did not answer as expected (retried at the next pass).
    #[error("gridmint node: {0}")]
    Gridmint(String),
    /// The EVM node did not answer as expected (retried at the next pass).
    #[error("EVM node: {0}")]
    Evm(String),
    /// The relayer's store.
    #[error("relayer store: {0}")]
    Store(String),
}

fn store_error(e: impl std::fmt::Display) -> RelayError {
    RelayError::Store(e.to_string())
}

fn evm_error(e: impl std::fmt::Display) -> RelayError {
    RelayError::Evm(e.to_string())
}

/// What one pass did (for the log and the status file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PassReport {
    /// Mint signatures published on gridmint.
    pub signed: u64,
    /// Mints this member submitted that succeeded.
    pub minted: u64,
    /// Deposits newly seen in confirmed EVM blocks.
    pub deposits_seen: u64,
    /// Attestations gridmint took (or already had).
    pub attested: u64,
}

/// The relayer's progress, written to `status.json` in its store directory after every pass
/// (`gridmint bridge status` reads it; the store itself is locked by the running relayer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RelayerStatus {
    /// The member's gridmint address.
    pub member: String,
    /// The member's EVM address.
    pub evm_member: String,
    /// The first outbound record not known to be minted.
    pub outbound_next: u64,
    /// Outbound records on gridmint.
    pub outbound_records: u64,
    /// The last EVM block scanned for deposits.
    pub evm_scanned_up_to: Option<u64>,
    /// The EVM head at the last pass.
    pub evm_head: u64,
    /// Deposits seen and not yet attested.
    pub pending_deposits: u64,
    /// The last pass's error, if it failed.
    pub last_error: Option<String>,
}

/// One committee member's relayer.
pub struct Relayer {
    config: RelayerConfig,
    node: Client,
    gridmint_key: ed25519_dalek::SigningKey,
    member: Address,
    evm_key: CommitteeKey,
    provider: DynProvider,
    domain: Eip712Domain,
    chain_tag: B256,
    store: Database,
    store_dir: PathBuf,
    /// Records with enough signatures that another member should mint: passes seen so.
    waiting_mints: BTreeMap<u64, u32>,
    status: RelayerStatus,
}

/// Reads an EVM key file: 64 hex digits, with or without `0x`, surrounding whitespace ignored.
pub fn load_evm_key(path: &Path) -> Result<PrivateKeySigner, RelayError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| RelayError::Setup(format!("cannot read EVM key file {}: {e}", path.display())))?;
    let text = text.trim();
    text.strip_prefix("0x")
        .unwrap_or(text)
        .parse::<PrivateKeySigner>()
        .map_err(|e| RelayError::Setup(format!("EVM key file {}: not a secp256k1 key in hex: {e}", path.display())))
}

impl Relayer {
    /// Opens the store and the keys and checks both chains: the gridmint node reports the
    /// configured chain id, the EVM node the configured chain id, and the bridge is deployed for
    /// that gridmint chain. Paths in the config are relative to `base` (the config's directory).
    pub async fn open(config: RelayerConfig, base: &Path) -> Result<Relayer, RelayError> {
        let at = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
        let gridmint_key = load_key(&at(&config.gridmint.key)).map_err(RelayError::Setup)?;
        let member = address_of(&gridmint_key);
        let signer = load_evm_key(&at(&config.evm.key))?;
        let evm_key = CommitteeKey::new(signer.clone());
        let node = Client::with_timeout(&config.gridmint.node, std::time::Duration::from_secs(60));
        let status = node.get("/v1/status").map_err(|e| RelayError::Gridmint(e.to_string()))?;
        let chain_id = status.body["chain_id"].as_str().unwrap_or_default();
        if chain_id != config.gridmint.chain_id {
            return Err(RelayError::Setup(format!(
                "the gridmint node at {} runs chain `{chain_id}`, the config names `{}`",
                config.gridmint.node, config.gridmint.chain_id
            )));
        }
        let provider = connect(&config.evm.rpc, signer).map_err(evm_error)?;
        let evm_chain = provider.get_chain_id().await.map_err(evm_error)?;
        if evm_chain != config.evm.chain_id {
            return Err(RelayError::Setup(format!(
                "the EVM node at {} reports chain id {evm_chain}, the config names {}",
                config.evm.rpc, config.evm.chain_id
            )));
        }
        let chain_tag = gridmint_chain_tag(&config.gridmint.chain_id);
        let deployed_for =
            IGridmintBridge::new(config.evm.bridge, &provider).gridmintChain().call().await.map_err(evm_error)?;
        if deployed_for != chain_tag {
            return Err(RelayError::Setup(format!(
                "the bridge at {} serves another gridmint chain (tag {deployed_for}), not `{}`",
                config.evm.bridge, config.gridmint.chain_id
            )));
        }
        let store_dir = at(&config.store);
        std::fs::create_dir_all(&store_dir)
            .map_err(|e| RelayError::Setup(format!("cannot create {}: {e}", store_dir.display())))?;
        let store = Database::create(store_dir.join("relayer.redb")).map_err(store_error)?;
        let write = store.begin_write().map_err(store_error)?;
        write.open_table(CURSORS).map_err(store_error)?;
        write.open_table(PENDING).map_err(store_error)?;
        write.commit().map_err(store_error)?;
        let status = RelayerStatus {
            member: member.to_hex(),
            evm_member: evm_key.address().to_string(),
            ..RelayerStatus::default()
        };
        Ok(Relayer {
            domain: domain(config.evm.chain_id, config.evm.bridge),
            config,
            node,
            gridmint_key,
            member,
            evm_key,
            provider,
            chain_tag,
            store,
            store_dir,
            waiting_mints: BTreeMap::new(),
            status,
        })
    }

    fn short(&self) -> String {
        self.member.to_hex()[..8].to_string()
    }

    /// The member's gridmint address.
    pub fn member(&self) -> Address {
        self.member
    }

    fn cursor(&self, name: &str) -> Result<Option<u64>, RelayError> {
        let read = self.store.begin_read().map_err(store_error)?;
        let table = read.open_table(CURSORS).map_err(store_error)?;
        Ok(table.get(name).map_err(store_error)?.map(|v| v.value()))
    }

    fn set_cursor(&self, name: &str, value: u64) -> Result<(), RelayError> {
        let write = self.store.begin_write().map_err(store_error)?;
        write.open_table(CURSORS).map_err(store_error)?.insert(name, value).map_err(store_error)?;
        write.commit().map_err(store_error)
    }

    /// One pass over both directions; then `status.json` is rewritten.
    pub async fn step(&mut self) -> Result<PassReport, RelayError> {
        let mut report = PassReport::default();
        // both directions every pass: a failing one never stops the other
        let outbound = self.outbound(&mut report).await;
        let inbound = self.inbound(&mut report).await;
        let result = outbound.and(inbound);
        self.status.last_error = result.as_ref().err().map(ToString::to_string);
        self.write_status();
        result.map(|()| report)
    }

    fn write_status(&self) {
        let path = self.store_dir.join("status.json");
        let temporary = self.store_dir.join("status.json.tmp");
        let text = serde_json::to_string_pretty(&self.status).unwrap_or_default();
        // best effort: the status file is for operators, the store is the truth
        if std::fs::write(&temporary, text).is_ok() {
            let _ = std::fs::rename(&temporary, &path);
        }
    }

    /// Runs passes every `poll_interval_ms` until `stop` resolves; a failed pass is logged and
    /// retried at the next.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) {
        let interval = std::time::Duration::from_millis(self.config.poll_interval_ms);
        tokio::pin!(stop);
        loop {
            match self.step().await {
                Ok(report) if report != PassReport::default() => eprintln!(
                    "relayer {}: signed {} minted {} deposits seen {} attested {}",
                    self.short(),
                    report.signed,
                    report.minted,
                    report.deposits_seen,
                    report.attested
                ),
                Ok(_) => {}
                Err(e) => eprintln!("relayer {}: pass failed, retrying: {e}", self.short()),
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }

    // ---- gridmint → EVM ----

    async fn outbound(&mut self, report: &mut PassReport) -> Result<(), RelayError> {
        let summary = self.node.get("/v1/bridge").map_err(|e| RelayError::Gridmint(e.to_string()))?;
        if summary.status != 200 {
            return Err(RelayError::Gridmint(format!("GET /v1/bridge: {} {}", summary.status, summary.body)));
        }
        self.status.outbound_records = summary.body["outbound_records"].as_u64().unwrap_or(0);
        let mut from = self.cursor(OUTBOUND_NEXT)?.unwrap_or(0);
        if from > self.status.outbound_records {
            // a cursor past every record (a damaged store, or a node of another chain's
            // history): start again from 0, which only repeats once-only steps
            eprintln!("relayer {}: outbound cursor {from} is past the node's records: rescanning", self.short());
            from = 0;
        }
        let committee: Vec<Address> = summary.body["committee"]
            .as_array()
            .map(|m| m.iter().filter_map(|a| a.as_str().and_then(hex_address)).collect())
            .unwrap_or_default();
        let bridge = IGridmintBridge::new(self.config.evm.bridge, self.provider.clone());
        let evm_members = bridge.committee().call().await.map_err(evm_error)?;
        let threshold = bridge.threshold().call().await.map_err(evm_error)? as usize;
        let mut to_sign = Vec::new();
        let mut done_through = from;
        let mut contiguous = true;
        // pages from the cursor until OUTBOUND_WINDOW records still to do were looked at (or
        // OUTBOUND_PAGES pages): a record stuck below its threshold never hides the later ones
        let (mut page_from, mut undone, mut pages) = (from, 0, 0);
        while undone < OUTBOUND_WINDOW && pages < OUTBOUND_PAGES {
            pages += 1;
            let answer = self
                .node
                .get(&format!("/v1/bridge/outbound?from={page_from}&limit={OUTBOUND_WINDOW}"))
                .map_err(|e| RelayError::Gridmint(e.to_string()))?;
            if answer.status != 200 {
                return Err(RelayError::Gridmint(format!(
                    "GET /v1/bridge/outbound: {} {}",
                    answer.status, answer.body
                )));
            }
            for record in answer.body["records"].as_array().into_iter().flatten() {
                let Some(parsed) = parse_record(record) else {
                    return Err(RelayError::Gridmint(format!("an outbound record it cannot read: {record}")));
                };
                let id = parsed.id;
                let done = match mint_for_record(self.chain_tag, id, parsed.recipient, parsed.amount) {
                    Err(unmintable) => {
                        if contiguous {
                            eprintln!(
                                "relayer {}: {unmintable}: skipped (the contract can never mint it)",
                                self.short()
                            );
                        }
                        true
                    }
                    Ok(mint) => {
                        if bridge.minted(id).call().await.map_err(evm_error)? {
                            true
                        } else {
                            // publish, or replace a published one that is not this key's under
                            // this domain (a rotated key, a wrong config before): signatures are
                            // deterministic (RFC 6979), so the bytes are compared
                            let mine = self.mint_signature(&mint)?;
                            if parsed.signatures.iter().find(|(m, _)| *m == self.member).map(|(_, s)| *s) != Some(mine)
                            {
                                to_sign.push(TxBody::BridgeSign { record: id, signature: mine });
                            }
                            let valid = self.valid_signatures(&mint, &parsed.signatures, &evm_members);
                            if valid.len() >= threshold && threshold > 0 {
                                // a refused mint (no gas, a revert) is logged and retried: it must
                                // not stop the other records or the deposits
                                match self.try_mint(id, &mint, valid, threshold, &committee, report).await {
                                    Ok(done) => done,
                                    Err(e) => {
                                        eprintln!("relayer {}: {e}", self.short());
                                        false
                                    }
                                }
                            } else {
                                false
                            }
                        }
                    }
                };
                if done {
                    self.waiting_mints.remove(&id);
                } else {
                    undone += 1;
                }
                contiguous &= done;
                if contiguous {
                    done_through = id + 1;
                }
            }
            match answer.body["next_from"].as_u64() {
                Some(next) => page_from = next,
                None => break,
            }
        }
        if done_through > from {
            self.set_cursor(OUTBOUND_NEXT, done_through)?;
        }
        self.status.outbound_next = done_through;
        if !to_sign.is_empty() {
            report.signed += self.submit(to_sign)?.len() as u64;
        }
        Ok(())
    }

    /// This member's signature of `mint` as `BridgeSign` carries it: `r ‖ s ‖ v`.
    fn mint_signature(&self, mint: &Mint) -> Result<[u8; 65], RelayError> {
        let signature = self.evm_key.sign(mint, &self.domain).map_err(evm_error)?.signature;
        let mut bytes = [0u8; 65];
        bytes[..32].copy_from_slice(signature.r.as_slice());
        bytes[32..64].copy_from_slice(signature.s.as_slice());
        bytes[64] = signature.v;
        Ok(bytes)
    }

    /// The published signatures that recover, for `mint`, to distinct members of the contract's
    /// committee, as (EVM signer, signature).
    fn valid_signatures(
        &self,
        mint: &Mint,
        published: &[(Address, [u8; 65])],
        evm_members: &[EvmAddress],
    ) -> BTreeMap<EvmAddress, IGridmintBridge::Signature> {
        let hash = mint.eip712_signing_hash(&self.domain);
        let mut valid = BTreeMap::new();
        for (_, bytes) in published {
            let v = bytes[64];
            if v != 27 && v != 28 {
                continue;
            }
            let signature = alloy::primitives::Signature::new(
                U256::from_be_slice(&bytes[..32]),
                U256::from_be_slice(&bytes[32..64]),
                v == 28,
            );
            if signature.normalize_s().is_some() {
                continue; // high s: the contract refuses it
            }
            if let Ok(signer) = signature.recover_address_from_prehash(&hash)
                && evm_members.contains(&signer)
            {
                valid.insert(
                    signer,
                    IGridmintBridge::Signature {
                        v,
                        r: B256::from_slice(&bytes[..32]),
                        s: B256::from_slice(&bytes[32..64]),
                    },
                );
            }
        }
        valid
    }

    /// Submits the mint if this member is designated for the record or the designated one has
    /// had [`TAKEOVER_AFTER`] passes; whether the record is now minted.
    async fn try_mint(
        &mut self,
        id: u64,
        mint: &Mint,
        valid: BTreeMap<EvmAddress, IGridmintBridge::Signature>,
        threshold: usize,
        committee: &[Address],
        report: &mut PassReport,
    ) -> Result<bool, RelayError> {
        let designated = committee.get((id % committee.len().max(1) as u64) as usize) == Some(&self.member);
        let waited = self.waiting_mints.entry(id).or_insert(0);
        *waited += 1;
        if !designated && *waited <= TAKEOVER_AFTER {
            return Ok(false);
        }
        // the first `threshold`, ascending by signer (a BTreeMap's order), as the contract wants
        let signatures: Vec<IGridmintBridge::Signature> = valid.into_values().take(threshold).collect();
        let bridge = IGridmintBridge::new(self.config.evm.bridge, &self.provider);
        let call = bridge.mint(id, mint.recipient, mint.amount, signatures);
        match call.send().await {
            Ok(pending) => {
                let Ok(receipt) = tokio::time::timeout(RECEIPT_WAIT, pending.get_receipt()).await else {
                    return Err(RelayError::Evm(format!("mint of record {id}: no receipt within {RECEIPT_WAIT:?}")));
                };
                let receipt = receipt.map_err(evm_error)?;
                if receipt.status() {
                    report.minted += 1;
                    return Ok(true);
                }
                Ok(bridge.minted(id).call().await.map_err(evm_error)?)
            }
            // refused at gas estimation: most often minted by another member meanwhile
            Err(e) => {
                if bridge.minted(id).call().await.map_err(evm_error)? {
                    return Ok(true);
                }
                Err(RelayError::Evm(format!("mint of record {id}: {e}")))
            }
        }
    }

    // ---- EVM → gridmint ----

    async fn inbound(&mut self, report: &mut PassReport) -> Result<(), RelayError> {
        let head = self.provider.get_block_number().await.map_err(evm_error)?;
        self.status.evm_head = head;
        let scanned = self.cursor(EVM_SCANNED)?;
        if scanned.is_some_and(|b| b > head) {
            // a node behind the one this relayer read before (not rescanned from the start: that
            // would pay a fee per past deposit), or a damaged store: say so every pass
            eprintln!("relayer {}: EVM cursor {scanned:?} is past the node's head {head}: waiting", self.short());
        }
        let range = confirmed_range(
            self.config.evm.start_block,
            scanned,
            head,
            self.config.evm.confirmations,
            self.config.evm.max_block_span,
        );
        if let Some(range) = range {
            let filter = Filter::new()
                .address(self.config.evm.bridge)
                .event_signature(IGridmintBridge::BridgeOut::SIGNATURE_HASH)
                .from_block(*range.start())
                .to_block(*range.end());
            let logs = self.provider.get_logs(&filter).await.map_err(evm_error)?;
            let write = self.store.begin_write().map_err(store_error)?;
            {
                let mut pending = write.open_table(PENDING).map_err(store_error)?;
                for log in &logs {
                    let Ok(event) = IGridmintBridge::BridgeOut::decode_log(&log.inner) else { continue };
                    let Ok(amount) = u128::try_from(event.data.amount) else {
                        eprintln!("relayer: deposit {}: amount above 128 bits, skipped", event.data.depositId);
                        continue;
                    };
                    let mut value = Vec::with_capacity(56);
                    value.extend_from_slice(event.data.gridmintRecipient.as_slice());
                    value.extend_from_slice(&amount.to_le_bytes());
                    value.extend_from_slice(&log.block_number.unwrap_or_default().to_le_bytes());
                    pending.insert(event.data.depositId, value.as_slice()).map_err(store_error)?;
                    report.deposits_seen += 1;
                }
                write
                    .open_table(CURSORS)
                    .map_err(store_error)?
                    .insert(EVM_SCANNED, *range.end())
                    .map_err(store_error)?;
            }
            write.commit().map_err(store_error)?;
            self.status.evm_scanned_up_to = Some(*range.end());
        } else {
            self.status.evm_scanned_up_to = scanned;
        }
        // attest every pending deposit, oldest id first
        let pending: Vec<(u64, Address, u128)> = {
            let read = self.store.begin_read().map_err(store_error)?;
            let table = read.open_table(PENDING).map_err(store_error)?;
            let mut out = Vec::new();
            for entry in table.iter().map_err(store_error)?.take(BATCH) {
                let (id, value) = entry.map_err(store_error)?;
                let value = value.value();
                if value.len() != 56 {
                    return Err(RelayError::Store(format!("pending deposit {} is damaged", id.value())));
                }
                let recipient = Address(value[..32].try_into().unwrap_or_default());
                let amount = u128::from_le_bytes(value[32..48].try_into().unwrap_or_default());
                out.push((id.value(), recipient, amount));
            }
            out
        };
        if !pending.is_empty() {
            let bodies = pending
                .iter()
                .map(|(id, recipient, amount)| TxBody::BridgeAttest {
                    deposit_id: *id,
                    recipient: *recipient,
                    amount: *amount,
                })
                .collect();
            let results = self.submit(bodies)?;
            let write = self.store.begin_write().map_err(store_error)?;
            {
                let mut table = write.open_table(PENDING).map_err(store_error)?;
                for ((id, _, _), result) in pending.iter().zip(&results) {
                    // taken (0), or gridmint already has it (72) or paid it (71): settled for
                    // this member; 74 (the escrow cannot cover it yet) and refusals: retried
                    let settled = match result {
                        Submitted::Code(code) => [0, 71, 72].contains(code) || permanent(*code),
                        Submitted::Refused(_) | Submitted::Pending => false,
                    };
                    if settled {
                        if let Submitted::Code(code) = result
                            && permanent(*code)
                        {
                            eprintln!("relayer: deposit {id}: gridmint refuses it for ever (code {code}); dropped");
                        }
                        table.remove(*id).map_err(store_error)?;
                        report.attested += 1;
                    }
                }
            }
            write.commit().map_err(store_error)?;
        }
        let read = self.store.begin_read().map_err(store_error)?;
        self.status.pending_deposits = read.open_table(PENDING).map_err(store_error)?.len().map_err(store_error)?;
        Ok(())
    }

    // ---- submitting on gridmint ----

    /// Signs `bodies` with consecutive nonces from the account's next one (counting its waiting
    /// transactions), submits them as one batch and waits for their block: each one's outcome.
    fn submit(&self, bodies: Vec<TxBody>) -> Result<Vec<Submitted>, RelayError> {
        let mut outcomes = Vec::with_capacity(bodies.len());
        for chunk in bodies.chunks(BATCH) {
            let account = self
                .node
                .get(&format!("/v1/accounts/{}", self.member.to_hex()))
                .map_err(|e| RelayError::Gridmint(e.to_string()))?;
            if account.status != 200 {
                return Err(RelayError::Gridmint(format!(
                    "the member's account {}: {} (fund it: it pays a fee per transaction)",
                    self.member.to_hex(),
                    account.body
                )));
            }
            let nonce = account.body["next_nonce"].as_u64().unwrap_or(0);
            let batch: Vec<SignedTx> = chunk
                .iter()
                .zip(nonce..)
                .map(|(body, nonce)| {
                    let tx = Tx { signer: self.member, nonce, body: body.clone() };
                    SignedTx::sign(tx, &self.gridmint_key, &self.config.gridmint.chain_id)
                })
                .collect();
            let body = serde_json::to_value(&batch).map_err(|e| RelayError::Gridmint(e.to_string()))?;
            let answer =
                self.node.post("/v1/tx/batch?wait=true", &body).map_err(|e| RelayError::Gridmint(e.to_string()))?;
            if answer.status != 200 {
                return Err(RelayError::Gridmint(format!("POST /v1/tx/batch: {} {}", answer.status, answer.body)));
            }
            let results = answer.body["results"].as_array().cloned().unwrap_or_default();
            outcomes.extend(results.iter().map(Submitted::of));
        }
        Ok(outcomes)
    }
}

/// What gridmint said of one submitted transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Submitted {
    /// Committed with this code (0: applied).
    Code(u64),
    /// Refused at admission (a nonce race, the fee...): tried again at the next pass.
    Refused(String),
    /// Admitted but not committed before the node's wait ended.
    Pending,
}

impl Submitted {
    fn of(result: &Value) -> Submitted {
        if let Some(code) = result["code"].as_u64() {
            return Submitted::Code(code);
        }
        match result["status"].as_str() {
            Some("refused") => Submitted::Refused(result["error"]["code"].as_str().unwrap_or_default().to_string()),
            _ => Submitted::Pending,
        }
    }
}

/// Codes that no later attempt can change: not a member (70), zero amount (10), a recipient no
/// one can hold (13), no bridge on this network (90).
fn permanent(code: u64) -> bool {
    [10, 13, 70, 90].contains(&code)
}

/// An outbound record as `GET /v1/bridge/outbound` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    id: u64,
    recipient: [u8; 32],
    amount: u128,
    signatures: Vec<(Address, [u8; 65])>,
}

fn hex_address(text: &str) -> Option<Address> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(Address(bytes))
}

fn parse_record(value: &Value) -> Option<Record> {
    let mut recipient = [0u8; 32];
    hex::decode_to_slice(value["recipient"].as_str()?, &mut recipient).ok()?;
    let signatures = value["signatures"]
        .as_array()?
        .iter()
        .map(|s| {
            let member = hex_address(s["member"].as_str()?)?;
            let mut bytes = [0u8; 65];
            hex::decode_to_slice(s["signature"].as_str()?, &mut bytes).ok()?;
            Some((member, bytes))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Record { id: value["id"].as_u64()?, recipient, amount: value["amount"].as_str()?.parse().ok()?, signatures })
}

/// Reads a relayer's `status.json` (written after every pass) from its store directory.
pub fn read_status(store_dir: &Path) -> Result<RelayerStatus, String> {
    let path = store_dir.join("status.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse_as_the_node_lists_them_and_damaged_ones_do_not() {
        // goal: the relayer reads exactly what GET /v1/bridge/outbound prints; method: a record
        // in the node's shape, then each field broken
        let member = Address([3; 32]);
        let good = serde_json::json!({
            "id": 4, "from": "00".repeat(32), "amount": "1000000000000000000",
            "recipient": format!("{}{}", "00".repeat(12), "11".repeat(20)), "recipient_evm": "0x",
            "epoch": 1, "signatures": [{"member": member.to_hex(), "signature": "ab".repeat(65)}]
        });
        let record = parse_record(&good).unwrap();
        assert_eq!((record.id, record.amount), (4, 1_000_000_000_000_000_000));
        assert_eq!(record.signatures, vec![(member, [0xab; 65])]);
        for (field, bad) in [
            ("amount", serde_json::json!("1e18")),
            ("recipient", serde_json::json!("11")),
            ("id", serde_json::json!(-1)),
            ("signatures", serde_json::json!([{"member": member.to_hex(), "signature": "ab"}])),
        ] {
            let mut broken = good.clone();
            broken[field] = bad;
            assert_eq!(parse_record(&broken), None, "{field}");
        }
    }

    #[test]
    fn outcomes_are_read_from_receipts_and_refusals() {
        // goal: a committed code, a refusal and a pending answer are told apart; method: the
        // three shapes of a batch result
        assert_eq!(Submitted::of(&serde_json::json!({"id": "ab", "code": 72})), Submitted::Code(72));
        assert_eq!(
            Submitted::of(&serde_json::json!({"status": "refused", "error": {"code": "nonce_too_low"}})),
            Submitted::Refused("nonce_too_low".into())
        );
        assert_eq!(Submitted::of(&serde_json::json!({"id": "ab", "status": "pending"})), Submitted::Pending);
        assert!(permanent(70) && !permanent(74) && !permanent(0));
    }
}
