//! The cross-chain bridge (NM13) and liquidity attestations (NM11).
//!
//! Outbound: tokens move from the sender into the escrow and an outbound record is created for
//! relayers. Inbound: tokens leave the escrow to the recipient once `threshold` committee members
//! attested the same (deposit id, recipient, amount). A deposit id pays at most once; inbound
//! payouts per epoch are capped at `inbound_cap_ppb` of the escrow at the epoch's start; the
//! escrow never pays more than it holds. The attestation that would break a limit is rejected and
//! changes nothing: relayers retry in a later epoch.

use crate::state::Outbound;
use crate::{State, TxError};
use gridmint_policy::Address;

fn claim_hash(kind: &[u8], fields: &[&[u8]]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"gridmint/attestation/");
    hasher.update(kind);
    for field in fields {
        hasher.update(field);
    }
    *hasher.finalize().as_bytes()
}

impl State {
    fn committee_member(&self, signer: Address) -> Result<u32, TxError> {
        let bridge = self.policy.bridge.as_ref().ok_or(TxError::NotInPolicy)?;
        if !bridge.committee.contains(&signer) {
            return Err(TxError::NotCommitteeMember);
        }
        Ok(bridge.threshold)
    }

    /// How many of `attesters` are members of the committee in force: an attestation made by a
    /// member that governance has since removed no longer counts (a rotation neutralises a key).
    fn counted(&self, attesters: Option<&std::collections::BTreeSet<Address>>) -> usize {
        let Some(bridge) = self.policy.bridge.as_ref() else { return 0 };
        attesters.map_or(0, |a| a.iter().filter(|x| bridge.committee.contains(x)).count())
    }

    pub(crate) fn tx_bridge_out(
        &mut self,
        sender: u32,
        available: u128,
        amount: u128,
        recipient: [u8; 32],
    ) -> Result<(), TxError> {
        if self.policy.bridge.is_none() {
            return Err(TxError::NotInPolicy);
        }
        if amount == 0 {
            return Err(TxError::ZeroAmount);
        }
        if amount > available {
            return Err(TxError::InsufficientBalance);
        }
        let account = &mut self.accounts[sender as usize];
        account.spendable -= amount;
        let from = account.address;
        self.bridge.escrow += amount;
        self.bridge.outbound.push(Outbound { from, amount, recipient, epoch: self.epoch });
        Ok(())
    }

    pub(crate) fn tx_bridge_attest(
        &mut self,
        signer: Address,
        deposit_id: u64,
        recipient: Address,
        amount: u128,
    ) -> Result<(), TxError> {
        let threshold = self.committee_member(signer)?;
        if amount == 0 {
            return Err(TxError::ZeroAmount);
        }
        if recipient.is_weak_key() {
            return Err(TxError::InvalidRecipient);
        }
        if self.bridge.paid_deposits.contains(&deposit_id) {
            return Err(TxError::DepositAlreadyPaid);
        }
        let claim = claim_hash(b"deposit", &[&deposit_id.to_le_bytes(), &recipient.0, &amount.to_le_bytes()]);
        let attesters = self.bridge.attestations.get(&claim);
        if attesters.is_some_and(|a| a.contains(&signer)) {
            return Err(TxError::AlreadyAttested);
        }
        let completes = self.counted(attesters) + 1 >= threshold as usize;
        if completes {
            if amount > self.bridge.escrow {
                return Err(TxError::EscrowInsufficient);
            }
            if self.bridge.inbound_paid_epoch + amount > self.bridge.inbound_cap_epoch {
                return Err(TxError::InboundCapExceeded);
            }
            self.bridge.attestations.remove(&claim);
            self.bridge.paid_deposits.insert(deposit_id);
            self.bridge.escrow -= amount;
            self.bridge.inbound_paid_epoch += amount;
            let to = self.account_or_create(recipient);
            self.accounts[to as usize].spendable += amount;
        } else {
            self.bridge.attestations.entry(claim).or_default().insert(signer);
        }
        Ok(())
    }

    /// NM11: a liquidity position is registered by `threshold` matching committee attestations,
    /// at most once per epoch per provider; it counts from the next epoch (G9).
    pub(crate) fn tx_attest_liquidity(
        &mut self,
        signer: Address,
        provider: Address,
        amount: u128,
    ) -> Result<(), TxError> {
        let threshold = self.committee_member(signer)?;
        let epoch = self.epoch;
        let registered_now = self
            .account_id(&provider)
            .and_then(|id| self.liquidity.get(&id))
            .is_some_and(|l| l.registered_epoch == epoch && l.pending.is_some());
        if registered_now {
            return Err(TxError::LiquidityAlreadyRegistered);
        }
        let claim = claim_hash(b"liquidity", &[&epoch.to_le_bytes(), &provider.0, &amount.to_le_bytes()]);
        let attesters = self.bridge.attestations.get(&claim);
        if attesters.is_some_and(|a| a.contains(&signer)) {
            return Err(TxError::AlreadyAttested);
        }
        if self.counted(attesters) + 1 >= threshold as usize {
            self.bridge.attestations.remove(&claim);
            let id = self.account_or_create(provider);
            let position = self.liquidity.entry(id).or_default();
            position.pending = Some(amount);
            position.registered_epoch = epoch;
        } else {
            self.bridge.attestations.entry(claim).or_default().insert(signer);
        }
        Ok(())
    }

    /// At the boundary: registered liquidity becomes active.
    pub(crate) fn apply_liquidity_changes(&mut self) {
        for position in self.liquidity.values_mut() {
            if let Some(amount) = position.pending.take() {
                position.active = amount;
            }
        }
        self.liquidity.retain(|_, l| l.active > 0 || l.pending.is_some());
    }
}
