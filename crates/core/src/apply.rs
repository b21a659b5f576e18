//! Applying blocks and transactions: the one definition of executing a block.
//!
//! A block executes in three steps: (1) when it closes an epoch, the heartbeats it carries for
//! slots of that epoch (sent before the boundary, delivered within the tolerance); (2) the
//! closes of every epoch that ended by its time (G4, G7); (3) its other transactions in order.
//! The single-node producer ([`State::build_block`]), the replay of stored blocks and consensus
//! replicas ([`State::execute_block`]) all run these same steps.
//!
//! A transaction first passes the envelope (RULES G10): its encoding's limits, signer known and
//! not locked, nonce, fee payable, room in the block; for a heartbeat, a registered machine, its
//! slot current and not yet marked. A transaction that fails the envelope is *refused*: the
//! state is byte-identical and it never enters a block. One that passes the envelope but fails
//! its kind's checks is *included with its error code*: it pays its fee and consumes its nonce,
//! and changes nothing else (every kind checks everything before it writes).

use crate::connection_reward::{MachineView, UptimeFill};
use crate::epoch::EpochSummary;
use crate::{State, TxError};
use crate::{Tx, TxBody};
use gridmint_policy::Address;
use serde::{Deserialize, Serialize};

/// How far (seconds) a heartbeat's slot may be from the ledger's time: up to this much before
/// the slot starts (a machine's clock running ahead) and after it ends (network latency and the
/// block interval), capped at one slot so that a heartbeat can mark only the slot it was sent in
/// or, at a slot's edge, its neighbour (RULES NM6).
pub const HEARTBEAT_TOLERANCE_SECONDS: u64 = 30;

/// A block: ordered transactions and the producer's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Height: the previous height + 1.
    pub height: u64,
    /// Producer's time in seconds; never goes backwards.
    pub time: u64,
    /// The producer, paid the fees (NM14).
    pub producer: Address,
    /// Transactions in order.
    pub txs: Vec<Tx>,
}

/// The outcome of one transaction included in a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// blake3 of the transaction's canonical bytes.
    #[serde(with = "crate::serde_u128::hash")]
    pub tx_id: [u8; 32],
    /// 0 when applied, else the [`TxError`] code of the kind's check that failed.
    pub code: u16,
    /// Fee paid (also when the kind's checks failed, RULES G10; heartbeats pay none).
    #[serde(with = "crate::serde_u128")]
    pub fee: u128,
}

/// One machine in an epoch's explain record (X3): its reward inputs as the close saw them
/// (`rewards_total` is the cumulative total before the close), whether it qualified for the
/// connection reward, and what the close credited it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainMachine {
    /// Inputs before the close.
    #[serde(flatten)]
    pub view: MachineView,
    /// Whether it qualified for the connection reward: enough slots and no forfeit (NM6, NM9).
    pub qualified: bool,
    /// Everything the close credited the machine: its connection reward share, and where the
    /// policy has them OS5 points and DualProof mining.
    #[serde(with = "crate::serde_u128")]
    pub earned: u128,
}

/// An epoch's inputs to the connection reward, recorded at its close (X3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainRecord {
    /// The epoch.
    pub epoch: u64,
    /// Slots a machine needed (NM6).
    pub min_online_slots: u32,
    /// Sum of the qualifying machines' weights: each earns floor(budget × weight / this).
    #[serde(with = "crate::serde_u128")]
    pub qualifying_weight: u128,
    /// Every machine.
    pub machines: Vec<ExplainMachine>,
}

/// What one epoch close produced, for a ledger that keeps records (X2, X3).
#[derive(Debug, Clone)]
pub struct EpochRecord {
    /// The summary (G7 step 5).
    pub summary: EpochSummary,
    /// Rewards leaves at the close (X2).
    pub leaves: Vec<(Address, u128)>,
    /// Reward inputs (X3).
    pub explain: ExplainRecord,
}

/// What a block did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOutcome {
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// Epochs closed before the block's transactions.
    pub closed: Vec<EpochSummary>,
}

/// A block built from candidate transactions by [`State::build_block`].
#[derive(Debug)]
pub struct Built<T> {
    /// The candidates that entered the block, in order.
    pub included: Vec<T>,
    /// Their receipts.
    pub receipts: Vec<Receipt>,
    /// Candidates refused by the envelope (never stored), with why.
    pub refused: Vec<(T, TxError)>,
    /// The epochs the block closed, with their records.
    pub records: Vec<EpochRecord>,
}

/// A block the ledger cannot take (a producer bug, never a transaction error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// Height is not the next one.
    #[error("block height {got}, expected {expected}")]
    WrongHeight {
        /// Expected height.
        expected: u64,
        /// Given height.
        got: u64,
    },
    /// Time went backwards.
    #[error("block time {got} is before the previous block's {previous}")]
    TimeWentBackwards {
        /// Previous block time.
        previous: u64,
        /// Given time.
        got: u64,
    },
    /// A transaction of the block fails the envelope (G10): no valid block carries it. The state
    /// has executed the block up to it and must be discarded.
    #[error("transaction {index} of the block is refused: {error}")]
    Refused {
        /// Its position in the block.
        index: usize,
        /// Why.
        error: TxError,
    },
}

/// The fee of one transaction: (burned base fee, paid to the producer).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fee {
    pub burn: u128,
    pub producer: u128,
}

impl Fee {
    pub fn total(self) -> u128 {
        self.burn + self.producer
    }
}

impl State {
    /// Applies a decided block (consensus, replay): [`State::execute_block`] without records.
    pub fn apply_block(&mut self, block: &Block) -> Result<BlockOutcome, BlockError> {
        let (outcome, _) = self.execute_block(block.height, block.time, block.producer, &block.txs, false)?;
        Ok(outcome)
    }

    /// Executes a decided block: the one definition of a block's effect (see the module doc).
    /// Every transaction must pass the envelope: one that does not makes the block invalid
    /// ([`BlockError::Refused`]) and leaves the state part-way, to be discarded. With `record`,
    /// each epoch close also returns its explain record and reward leaves.
    pub fn execute_block<T: AsRef<Tx>>(
        &mut self,
        height: u64,
        time: u64,
        producer: Address,
        txs: &[T],
        record: bool,
    ) -> Result<(BlockOutcome, Vec<EpochRecord>), BlockError> {
        let mut refused = None;
        let (receipts, closed, records) = self.run_block(height, time, producer, txs, record, |index, error| {
            refused.get_or_insert(BlockError::Refused { index, error });
            false
        })?;
        if let Some(error) = refused {
            return Err(error);
        }
        let receipts = receipts.into_iter().flatten().collect();
        Ok((BlockOutcome { receipts, closed }, records))
    }

    /// Builds the next block from `candidates` (the single-node producer; a consensus leader):
    /// runs the same steps as [`State::execute_block`], leaving out the candidates the envelope
    /// refuses (they are returned, never stored).
    pub fn build_block<T: AsRef<Tx>>(
        &mut self,
        height: u64,
        time: u64,
        producer: Address,
        candidates: Vec<T>,
        record: bool,
    ) -> Result<Built<T>, BlockError> {
        let (receipts, _, records) = self.run_block(height, time, producer, &candidates, record, |_, _| true)?;
        let mut built = Built { included: vec![], receipts: vec![], refused: vec![], records };
        for (candidate, receipt) in candidates.into_iter().zip(receipts) {
            match receipt {
                Ok(receipt) => {
                    built.included.push(candidate);
                    built.receipts.push(receipt);
                }
                Err(error) => built.refused.push((candidate, error)),
            }
        }
        Ok(built)
    }

    /// The steps of a block; `on_refused(index, error)` returns whether to go on.
    #[allow(clippy::type_complexity)]
    fn run_block<T: AsRef<Tx>>(
        &mut self,
        height: u64,
        time: u64,
        producer: Address,
        txs: &[T],
        record: bool,
        mut on_refused: impl FnMut(usize, TxError) -> bool,
    ) -> Result<(Vec<Result<Receipt, TxError>>, Vec<EpochSummary>, Vec<EpochRecord>), BlockError> {
        if height != self.height + 1 {
            return Err(BlockError::WrongHeight { expected: self.height + 1, got: height });
        }
        if time < self.time {
            return Err(BlockError::TimeWentBackwards { previous: self.time, got: time });
        }
        let mut results: Vec<Option<Result<Receipt, TxError>>> = vec![None; txs.len()];
        // 1. a block that closes the open epoch first marks that epoch's heartbeats it carries
        if time >= self.epoch_end_time(self.epoch) {
            let epoch = self.epoch;
            for (index, tx) in txs.iter().enumerate() {
                let tx = tx.as_ref();
                if let TxBody::Heartbeat { slot } = tx.body
                    && self.slot_epoch(slot) == Some(epoch)
                {
                    let result = self.execute_heartbeat(tx, time);
                    if let Err(error) = result
                        && !on_refused(index, error)
                    {
                        return Ok((vec![], vec![], vec![]));
                    }
                    results[index] = Some(result);
                }
            }
        }
        // 2. the closes
        let mut closed = Vec::new();
        let mut records = Vec::new();
        while time >= self.epoch_end_time(self.epoch) {
            if record {
                let record = self.close_epoch_recorded();
                closed.push(record.summary.clone());
                records.push(record);
            } else {
                closed.push(self.close_epoch());
            }
        }
        self.time = time;
        self.height = height;
        self.block_tx_count = 0;
        self.block_producer = None;
        // 3. the transactions in order
        for (index, tx) in txs.iter().enumerate() {
            if results[index].is_some() {
                continue;
            }
            let result = self.execute_tx(tx.as_ref(), producer);
            if let Err(error) = result
                && !on_refused(index, error)
            {
                return Ok((vec![], vec![], vec![]));
            }
            results[index] = Some(result);
        }
        self.end_block();
        let results = results.into_iter().map(|r| r.unwrap_or(Err(TxError::InvalidEncoding))).collect();
        Ok((results, closed, records))
    }

    /// Closes the open epoch, recording what each machine's rewards were built from (X3) and
    /// the reward leaves after it (X2).
    pub fn close_epoch_recorded(&mut self) -> EpochRecord {
        let min_online_slots = self.policy.connection_reward.as_ref().map_or(0, |c| c.min_online_slots);
        let before = self.machine_views();
        let summary = self.close_epoch();
        let after = self.machine_views();
        let mut qualifying_weight = 0u128;
        let machines = before
            .into_iter()
            .zip(after)
            .map(|(b, a)| {
                let qualified = u32::from(b.online_slots) >= min_online_slots && !b.forfeited && b.weight > 0;
                if qualified {
                    qualifying_weight += u128::from(b.weight);
                }
                let earned = a.rewards_total - b.rewards_total;
                ExplainMachine { view: b, qualified, earned }
            })
            .collect();
        let explain = ExplainRecord { epoch: summary.epoch, min_online_slots, qualifying_weight, machines };
        EpochRecord { summary, leaves: self.reward_leaves(), explain }
    }

    /// Starts a block for a caller that applies transactions one by one (a simulation): checks
    /// height and time, closes the epochs that ended. Follow with [`State::apply_tx`] per
    /// transaction and [`State::end_block`].
    pub fn begin_block(&mut self, height: u64, time: u64) -> Result<Vec<EpochSummary>, BlockError> {
        if height != self.height + 1 {
            return Err(BlockError::WrongHeight { expected: self.height + 1, got: height });
        }
        if time < self.time {
            return Err(BlockError::TimeWentBackwards { previous: self.time, got: time });
        }
        let closed = self.advance_time(time);
        self.height = height;
        self.block_tx_count = 0;
        self.block_producer = None;
        Ok(closed)
    }

    /// Ends a block: moves the base fee (OT6).
    pub fn end_block(&mut self) {
        self.update_base_fee();
        self.block_producer = None;
    }

    /// Moves the clock to `time`, closing every epoch that ended at or before it.
    pub fn advance_time(&mut self, time: u64) -> Vec<EpochSummary> {
        self.advance_time_with(time, None)
    }

    /// [`State::advance_time`] for a simulation that enters the open epoch's uptime as it closes:
    /// `uptime` sets the online slots of the first epoch to close (see [`UptimeFill`]); later
    /// epochs closed by the same call see none.
    pub fn advance_time_with(&mut self, time: u64, mut uptime: Option<UptimeFill<'_>>) -> Vec<EpochSummary> {
        let mut closed = Vec::new();
        while time >= self.epoch_end_time(self.epoch) {
            closed.push(self.close_epoch_with(uptime.take()));
        }
        self.time = self.time.max(time);
        closed
    }

    /// Applies one transaction produced by `producer`: `Ok(fee)` when it succeeded; `Err` when
    /// it was refused by the envelope (nothing changed) *or* failed its kind's checks (it paid
    /// its fee and consumed its nonce). [`State::execute_tx`] tells the two apart.
    pub fn apply_tx(&mut self, tx: &Tx, producer: Address) -> Result<u128, TxError> {
        match self.run_tx(tx, producer)? {
            (None, fee) => Ok(fee),
            (Some(error), _) => Err(error),
        }
    }

    /// Executes one transaction at the ledger's time. `Err` is a refusal by the envelope (G10):
    /// the state is byte-identical and the transaction must not enter a block. `Ok` is the
    /// receipt of an included transaction, which succeeded (code 0) or failed its kind's checks
    /// (its code; it paid its fee and consumed its nonce, nothing else changed).
    pub fn execute_tx(&mut self, tx: &Tx, producer: Address) -> Result<Receipt, TxError> {
        let (error, fee) = self.run_tx(tx, producer)?;
        Ok(Receipt { tx_id: tx.id(), code: error.map_or(0, TxError::code), fee })
    }

    /// [`State::execute_tx`] without the receipt's id (a simulation does not hash what it
    /// applies): the kind's error if it failed, and the fee paid.
    fn run_tx(&mut self, tx: &Tx, producer: Address) -> Result<(Option<TxError>, u128), TxError> {
        if let TxBody::Heartbeat { slot } = tx.body {
            let id = self.check_heartbeat(tx, slot, self.time)?;
            self.mark_slot(id, slot);
            return Ok((None, 0));
        }
        let (signer, fee) = self.check_envelope(tx)?;
        let available = self.accounts[signer as usize].spendable.saturating_sub(fee.total());
        let result = match &tx.body {
            TxBody::Transfer { to, amount } => self.tx_transfer(signer, available, *to, *amount),
            TxBody::RegisterMachine { machine, gpu_class, bandwidth_mbps, bond } => {
                self.tx_register_machine(signer, available, *machine, *gpu_class, *bandwidth_mbps, *bond)
            }
            TxBody::Heartbeat { .. } => unreachable!("handled above"),
            TxBody::SubmitJob { job_id, mode, price_per_gpu_second, max_gpu_seconds } => {
                self.tx_submit_job(signer, available, *job_id, *mode, *price_per_gpu_second, *max_gpu_seconds)
            }
            TxBody::ReportUsage { customer, job_id, machine, gpu_seconds, ai_tokens } => {
                self.tx_report_usage(signer, *customer, *job_id, *machine, *gpu_seconds, *ai_tokens)
            }
            TxBody::SettleJob { job_id } => self.tx_settle_job(signer, *job_id, None),
            TxBody::FailJob { job_id, machine } => self.tx_settle_job(signer, *job_id, Some(*machine)),
            TxBody::RegisterValidator { bond } => self.tx_register_validator(signer, available, *bond),
            TxBody::Stake { validator, amount } => self.tx_stake(signer, available, *validator, *amount),
            TxBody::Unstake { validator, amount, fast } => self.tx_unstake(signer, *validator, *amount, *fast),
            TxBody::Claim => self.tx_claim(signer),
            TxBody::ClaimToStake { validator } => self.tx_claim_to_stake(signer, *validator),
            TxBody::Propose { action } => self.tx_propose(signer, action),
            TxBody::Vote { proposal, yes } => self.tx_vote(signer, *proposal, *yes),
            TxBody::BridgeOut { amount, recipient } => self.tx_bridge_out(signer, available, *amount, *recipient),
            TxBody::BridgeAttest { deposit_id, recipient, amount } => {
                self.tx_bridge_attest(tx.signer, *deposit_id, *recipient, *amount)
            }
            TxBody::AttestLiquidity { provider, amount } => self.tx_attest_liquidity(tx.signer, *provider, *amount),
            TxBody::SubmitReceipt { machine, task_id, model_id, input_hash, output_hash, gpu_seconds } => {
                self.tx_submit_receipt(signer, *machine, [task_id, model_id, input_hash, output_hash], *gpu_seconds)
            }
            TxBody::AttestReceipt { receipt, valid } => self.tx_attest_receipt(tx.signer, *receipt, *valid),
            TxBody::BridgeSign { record, signature } => self.tx_bridge_sign(tx.signer, *record, *signature),
        };
        // passed the envelope: the fee is charged and the nonce consumed, whatever the kind's
        // checks said (a failed kind wrote nothing)
        self.charge(signer, fee, producer);
        Ok((result.err(), fee.total()))
    }

    /// The envelope of a fee-paying transaction (G10), in the order of docs/ERRORS.md: limits,
    /// signer known, not locked, nonce, room in the block, fee payable. Changes nothing.
    /// Returns the signer's account and the fee.
    pub(crate) fn check_envelope(&self, tx: &Tx) -> Result<(u32, Fee), TxError> {
        let nonce = self.account(&tx.signer).map_or(0, |a| a.nonce);
        self.check_envelope_at(tx, nonce, 0, true)
    }

    /// [`State::check_envelope`] for a transaction that would follow others of its signer:
    /// `expected_nonce` is the nonce after them and `reserved` their fees.
    fn check_envelope_at(
        &self,
        tx: &Tx,
        expected_nonce: u64,
        reserved: u128,
        block_room: bool,
    ) -> Result<(u32, Fee), TxError> {
        tx.check_limits().map_err(|_| TxError::InvalidEncoding)?;
        let signer = self.account_id(&tx.signer).ok_or(TxError::UnknownSigner)?;
        if self.policy.governance.as_ref().is_some_and(|g| g.treasury == tx.signer) {
            return Err(TxError::SignerLocked);
        }
        let account = &self.accounts[signer as usize];
        if tx.nonce < expected_nonce {
            return Err(TxError::NonceTooLow);
        }
        if tx.nonce > expected_nonce {
            return Err(TxError::NonceTooHigh);
        }
        if block_room
            && let Some(base_fee) = &self.policy.gas.base_fee
            && self.block_tx_count >= base_fee.block_tx_limit
        {
            return Err(TxError::BlockFull);
        }
        let fee = self.fee();
        let needed = fee.total().saturating_add(reserved);
        // a claim may pay its fee from what it claims: an owner whose only tokens are rewards
        // can always collect them (a claim with nothing to claim needs a payable fee like any
        // other transaction)
        let claimable = match tx.body {
            TxBody::Claim => {
                let unclaimed = self.unclaimed_of(signer);
                unclaimed - crate::math::ppb_of(unclaimed, self.policy.claims.tax_ppb)
            }
            _ => 0,
        };
        if account.spendable.saturating_add(claimable) < needed {
            return Err(TxError::InsufficientFee);
        }
        Ok((signer, fee))
    }

    /// Admission's envelope check (G10), changing nothing: whether `tx` would enter a block
    /// after `expected_nonce`'s predecessors of its signer, whose fees are `reserved`, at time
    /// `now` (the node's clock, for a heartbeat's slot). Room in a block is not checked: a
    /// transaction that finds its block full waits for the next.
    pub fn precheck_at(&self, tx: &Tx, expected_nonce: u64, reserved: u128, now: u64) -> Result<(), TxError> {
        match tx.body {
            TxBody::Heartbeat { slot } => self.check_heartbeat(tx, slot, now).map(|_| ()),
            _ => self.check_envelope_at(tx, expected_nonce, reserved, false).map(|_| ()),
        }
    }

    /// Charges a transaction that passed the envelope: fee from the signer's spendable (a claim
    /// has just credited what pays it), nonce consumed, fee burned and paid to the producer.
    fn charge(&mut self, signer: u32, fee: Fee, producer: Address) {
        let account = &mut self.accounts[signer as usize];
        account.spendable -= fee.total();
        account.nonce += 1;
        self.block_tx_count += 1;
        if fee.burn > 0 {
            self.record_burn(fee.burn);
        }
        if fee.producer > 0 {
            let producer = match self.block_producer {
                Some((address, id)) if address == producer => id,
                _ => {
                    let id = self.account_or_create(producer);
                    self.block_producer = Some((producer, id));
                    id
                }
            };
            self.accounts[producer as usize].spendable += fee.producer;
        }
    }

    /// The epoch a heartbeat slot belongs to (`None` past the clock's range).
    pub(crate) fn slot_epoch(&self, slot: u64) -> Option<u64> {
        let per_epoch = u64::from(self.policy.slots_per_epoch());
        (slot / per_epoch).checked_add(1)
    }

    /// A heartbeat's envelope at time `now` (NM6, G10): the machine is registered, the nonce is
    /// 0, the slot belongs to the open epoch and holds `now` within the tolerance, and it is
    /// not marked yet. Returns the machine.
    pub(crate) fn check_heartbeat(&self, tx: &Tx, slot: u64, now: u64) -> Result<u32, TxError> {
        if tx.nonce != 0 {
            return Err(TxError::NonceTooHigh);
        }
        let id = self.machine_id(&tx.signer).ok_or(TxError::UnknownMachine)?;
        let slot_seconds = self.policy.epoch.slot_seconds;
        let tolerance = HEARTBEAT_TOLERANCE_SECONDS.min(slot_seconds);
        let start = slot.checked_mul(slot_seconds).and_then(|s| s.checked_add(self.genesis_time));
        let current = start.is_some_and(|start| {
            start <= now.saturating_add(tolerance) && now < start.saturating_add(slot_seconds + tolerance)
        });
        if !current || self.slot_epoch(slot) != Some(self.epoch) {
            return Err(TxError::SlotOutsideEpoch);
        }
        if self.slot_marked(id, slot) {
            return Err(TxError::HeartbeatDuplicate);
        }
        Ok(id)
    }

    /// Executes a heartbeat at time `now`: free, no nonce (NM14's exception); refused unless it
    /// passes [`State::check_heartbeat`].
    fn execute_heartbeat(&mut self, tx: &Tx, now: u64) -> Result<Receipt, TxError> {
        let TxBody::Heartbeat { slot } = tx.body else { unreachable!("a heartbeat") };
        let id = self.check_heartbeat(tx, slot, now)?;
        self.mark_slot(id, slot);
        Ok(Receipt { tx_id: tx.id(), code: 0, fee: 0 })
    }

    fn tx_transfer(&mut self, signer: u32, available: u128, to: Address, amount: u128) -> Result<(), TxError> {
        if amount == 0 {
            return Err(TxError::ZeroAmount);
        }
        if to.is_weak_key() {
            // a small-order or identity key: anyone could sign for it, or nobody
            return Err(TxError::InvalidRecipient);
        }
        if amount > available {
            return Err(TxError::InsufficientBalance);
        }
        self.accounts[signer as usize].spendable -= amount;
        let to = self.account_or_create(to);
        self.accounts[to as usize].spendable += amount;
        Ok(())
    }

    /// G11, OS6: claim all unclaimed rewards; `claim_tax_ppb` of them is burned.
    fn tx_claim(&mut self, signer: u32) -> Result<(), TxError> {
        let unclaimed = self.unclaimed_of(signer);
        if unclaimed == 0 {
            return Err(TxError::NothingToClaim);
        }
        self.sweep_machine_rewards(signer);
        let tax = crate::math::ppb_of(unclaimed, self.policy.claims.tax_ppb);
        self.rewards[signer as usize].unclaimed = 0;
        self.accounts[signer as usize].spendable += unclaimed - tax;
        self.record_burn(tax);
        Ok(())
    }
}
