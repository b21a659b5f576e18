//! Applying blocks and transactions.
//!
//! A block first closes every epoch that ended before its time (G4, G7), then applies its
//! transactions in order. Each transaction passes the envelope checks (signer, nonce, block limit,
//! fee) and its kind's checks *before anything is written*; after the checks it must succeed.
//! A rejected transaction therefore leaves the state byte-identical (G10) and pays nothing.

use crate::connection_reward::UptimeFill;
use crate::epoch::EpochSummary;
use crate::{State, TxError};
use crate::{Tx, TxBody};
use gridmint_policy::Address;
use serde::Serialize;

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

/// The outcome of one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// blake3 of the transaction's canonical bytes.
    #[serde(with = "crate::serde_u128::hash")]
    pub tx_id: [u8; 32],
    /// 0 when applied, else the [`TxError`] code.
    pub code: u16,
    /// Fee paid (0 when rejected).
    #[serde(with = "crate::serde_u128")]
    pub fee: u128,
}

/// What a block did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOutcome {
    /// One receipt per transaction.
    pub receipts: Vec<Receipt>,
    /// Epochs closed before the block's transactions.
    pub closed: Vec<EpochSummary>,
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
    /// Applies a block: closes the epochs that ended before `block.time`, then its transactions.
    pub fn apply_block(&mut self, block: &Block) -> Result<BlockOutcome, BlockError> {
        let closed = self.begin_block(block.height, block.time)?;
        let receipts = block
            .txs
            .iter()
            .map(|tx| match self.apply_tx(tx, block.producer) {
                Ok(fee) => Receipt { tx_id: tx.id(), code: 0, fee },
                Err(error) => Receipt { tx_id: tx.id(), code: error.code(), fee: 0 },
            })
            .collect();
        self.end_block();
        Ok(BlockOutcome { receipts, closed })
    }

    /// Starts a block (for a producer that applies transactions one by one as it builds the
    /// block): checks height and time, closes the epochs that ended. Follow with
    /// [`State::apply_tx`] per transaction and [`State::end_block`].
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

    /// Applies one transaction produced by `producer`; on success returns the fee paid.
    pub fn apply_tx(&mut self, tx: &Tx, producer: Address) -> Result<u128, TxError> {
        if let TxBody::Heartbeat { slot } = tx.body {
            // heartbeats are idempotent: no nonce, no fee; signed by the machine itself
            if tx.nonce != 0 {
                return Err(TxError::NonceTooHigh);
            }
            return self.tx_heartbeat(tx.signer, slot).map(|()| 0);
        }
        let signer = self.account_id(&tx.signer).ok_or(TxError::UnknownSigner)?;
        if self.policy.governance.as_ref().is_some_and(|g| g.treasury == tx.signer) {
            return Err(TxError::SignerLocked);
        }
        let account = &self.accounts[signer as usize];
        if tx.nonce < account.nonce {
            return Err(TxError::NonceTooLow);
        }
        if tx.nonce > account.nonce {
            return Err(TxError::NonceTooHigh);
        }
        if let Some(base_fee) = &self.policy.gas.base_fee
            && self.block_tx_count >= base_fee.block_tx_limit
        {
            return Err(TxError::BlockFull);
        }
        let fee = self.fee();
        // a claim may pay its fee from what it claims: an owner whose only tokens are rewards
        // can always collect them
        let claimable = match tx.body {
            TxBody::Claim => {
                let unclaimed = self.unclaimed_of(signer);
                unclaimed - crate::math::ppb_of(unclaimed, self.policy.claims.tax_ppb)
            }
            _ => 0,
        };
        let available = (account.spendable + claimable).checked_sub(fee.total()).ok_or(TxError::InsufficientFee)?;
        let available = available.min(account.spendable);
        match &tx.body {
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
        }?;
        // after this point the transaction has succeeded: charge the fee, consume the nonce
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
        Ok(fee.total())
    }

    fn tx_transfer(&mut self, signer: u32, available: u128, to: Address, amount: u128) -> Result<(), TxError> {
        if amount == 0 {
            return Err(TxError::ZeroAmount);
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
