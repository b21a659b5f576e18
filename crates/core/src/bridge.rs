//! The cross-chain bridge (NM13) and liquidity attestations (NM11).
//!
//! Outbound: tokens move from the sender into the escrow and an outbound record is created for
//! relayers; its recipient must be an EVM address (what the bridge contract can mint to). The
//! committee members publish their signatures of the record's mint (`BridgeSign`, one per member
//! and record, which the member may replace) so that any relayer can submit it once `threshold`
//! are known.
//!
//! Inbound: a deposit is *confirmed* once `threshold` committee members attested the same
//! (deposit id, recipient, amount); a deposit id is confirmed at most once. Inbound payouts per
//! epoch are capped at `inbound_cap_ppb` of the escrow at the epoch's start: a confirmed deposit
//! is paid at once as far as the room under the cap allows, and the rest waits in a queue, first
//! confirmed first paid, and is paid at later epochs' closes (in parts if it must). The escrow
//! never pays more than it holds: a deposit that the escrow, less what the queue still owes,
//! cannot cover is refused and changes nothing.

use crate::state::{Inbound, MintSignature, Outbound};
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
        let Some(params) = &self.policy.bridge else { return Err(TxError::NotInPolicy) };
        if amount == 0 {
            return Err(TxError::ZeroAmount);
        }
        // a record costs the committee a signature each and a mint: no dust records
        if params.outbound_min.is_some_and(|min| amount < min.0) {
            return Err(TxError::BelowBridgeMinimum);
        }
        if amount > available {
            return Err(TxError::InsufficientBalance);
        }
        if !is_evm_address(&recipient) {
            return Err(TxError::InvalidForeignRecipient);
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
            if amount > self.bridge.escrow - self.inbound_owed() {
                return Err(TxError::EscrowInsufficient);
            }
            self.bridge.attestations.remove(&claim);
            self.bridge.paid_deposits.insert(deposit_id);
            self.account_or_create(recipient);
            self.bridge.inbound.push(Inbound { deposit_id, recipient, amount, paid: 0, epoch: self.epoch });
            self.pay_inbound();
        } else {
            self.bridge.attestations.entry(claim).or_default().insert(signer);
        }
        Ok(())
    }

    /// What confirmed deposits still wait to be paid (held in the escrow meanwhile).
    pub fn inbound_owed(&self) -> u128 {
        let next = usize::try_from(self.bridge.inbound_next).unwrap_or(usize::MAX);
        self.bridge.inbound.get(next..).unwrap_or_default().iter().map(|i| i.amount - i.paid).sum()
    }

    /// Pays the queue of confirmed deposits in order, as far as the room under this epoch's cap
    /// allows: after a confirmation and at every epoch's close (with the new epoch's cap).
    pub(crate) fn pay_inbound(&mut self) {
        while let Some(entry) = usize::try_from(self.bridge.inbound_next).ok().and_then(|i| self.bridge.inbound.get(i))
        {
            let room = self.bridge.inbound_cap_epoch - self.bridge.inbound_paid_epoch;
            let part = room.min(entry.amount - entry.paid);
            let recipient = entry.recipient;
            let Some(to) = self.account_id(&recipient) else { break };
            if part > 0 {
                self.accounts[to as usize].spendable += part;
                self.bridge.escrow -= part;
                self.bridge.inbound_paid_epoch += part;
            }
            let next = self.bridge.inbound_next;
            let entry = &mut self.bridge.inbound[next as usize];
            entry.paid += part;
            let settled = entry.paid == entry.amount;
            if part > 0 {
                self.inbound_paid(next);
            }
            if !settled {
                break;
            }
            self.bridge.inbound_next += 1;
        }
    }

    /// A committee member publishes its signature of an outbound record's mint on the other chain.
    pub(crate) fn tx_bridge_sign(&mut self, signer: Address, record: u64, signature: [u8; 65]) -> Result<(), TxError> {
        self.committee_member(signer)?;
        if usize::try_from(record).map_or(true, |r| r >= self.bridge.outbound.len()) {
            return Err(TxError::UnknownOutboundRecord);
        }
        let signatures = self.bridge.mint_signatures.entry(record).or_default();
        // a member may replace its signature (after rotating its EVM key, or one made under a
        // wrong domain), never publish the same one twice
        if signatures.get(&signer) == Some(&MintSignature(signature)) {
            return Err(TxError::AlreadySigned);
        }
        signatures.insert(signer, MintSignature(signature));
        self.outbound_signed(record);
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

/// Whether 32 bytes are an EVM address as the bridge contract takes it: 12 zero bytes, then 20
/// bytes that are not all zero.
pub fn is_evm_address(recipient: &[u8; 32]) -> bool {
    recipient[..12].iter().all(|b| *b == 0) && recipient[12..].iter().any(|b| *b != 0)
}
