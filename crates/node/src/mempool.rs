//! The bounded mempool: signature-checked transactions waiting for a block, in arrival order.
//!
//! Admission checks the envelope (RULES G10) against the committed state, counting the
//! signer's transactions already waiting: the encoding's limits, the signer exists and is not
//! locked, the nonce is exactly the next one after the waiting ones (a replayed nonce and a
//! skipped nonce are both refused), the fee of this and every waiting transaction is payable;
//! a heartbeat's machine is registered and its slot is the current one at the node's clock
//! (within the tolerance) and not yet marked. A transaction already waiting is not added twice.
//! When full, the mempool refuses new transactions (the API answers 503 with `Retry-After`)
//! instead of growing.
//!
//! Each entry remembers whether its signature was checked at admission (under the chain's rule,
//! `signing`'s module documentation) and which signature that was, so that a replica asked to
//! vote on a block holding exactly those bytes need not check the same signature again
//! ([`Mempool::verified`]): a signature check is a pure function of the transaction's
//! bytes, the signature and the chain id, so the block's validity does not change, only the work.
//!
//! A waiting transaction that the envelope refuses when its block executes (its signer spent
//! the fee meanwhile, a heartbeat delivered too late) is dropped: never stored. The mempool
//! remembers the last dropped ids and why, so that a client asking for its receipt learns it.

use crate::signing::SignedTx;
use gridmint_core::{Address, State, TxBody, TxError};
use std::collections::{BTreeMap, VecDeque};

/// How many dropped transaction ids are remembered.
pub const DROPPED_MEMORY: usize = 100_000;

/// Why the mempool refuses a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The signer has no account.
    UnknownSigner,
    /// A heartbeat from an unregistered machine.
    UnknownMachine,
    /// The nonce was already used (a replay).
    NonceTooLow {
        /// The nonce expected.
        expected: u64,
    },
    /// The nonce skips ahead.
    NonceTooHigh {
        /// The nonce expected.
        expected: u64,
    },
    /// A heartbeat must carry nonce 0.
    HeartbeatNonce,
    /// Any other envelope check of the core (G10): limits, locked signer, fee, heartbeat slot.
    Envelope(TxError),
    /// No room.
    Full,
}

/// What admission did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// Added.
    New,
    /// Already waiting (a retry): not added again.
    AlreadyPending,
}

/// How an admitted transaction's signature was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Checked under the chain's signature rule (one at a time or in a batch: the same verdict),
    /// the rule of a replica's block validation.
    Verified,
    /// Not known here (the caller checked it, or will).
    Unknown,
}

/// The mempool.
pub struct Mempool {
    queue: VecDeque<(SignedTx, [u8; 32])>,
    /// Each waiting id with the signature admitted under it and how that signature was checked.
    ids: BTreeMap<[u8; 32], ([u8; 64], Checked)>,
    /// Per signer: (next nonce after its waiting transactions, how many wait).
    pending: BTreeMap<Address, (u64, u32)>,
    /// Recently dropped ids and why, oldest first.
    dropped: BTreeMap<[u8; 32], TxError>,
    dropped_order: VecDeque<[u8; 32]>,
    capacity: usize,
}

impl Mempool {
    /// An empty mempool holding at most `capacity` transactions.
    pub fn new(capacity: usize) -> Mempool {
        Mempool {
            queue: VecDeque::new(),
            ids: BTreeMap::new(),
            pending: BTreeMap::new(),
            dropped: BTreeMap::new(),
            dropped_order: VecDeque::new(),
            capacity,
        }
    }

    /// Transactions waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The next nonce `signer` should use, counting its waiting transactions.
    pub fn next_nonce(&self, signer: &Address) -> Option<u64> {
        self.pending.get(signer).map(|(next, _)| *next)
    }

    /// Whether `id` waits.
    pub fn contains(&self, id: &[u8; 32]) -> bool {
        self.ids.contains_key(id)
    }

    /// How the signature of `tx` was checked when it was admitted, if exactly this transaction
    /// (its id, so its bytes, and this signature) waits; `None` otherwise (a transaction that
    /// waits under another signature, a re-signed retry, is another signature to check).
    pub fn checked(&self, tx: &SignedTx) -> Option<Checked> {
        match self.ids.get(&tx.id()) {
            Some((signature, checked)) if *signature == tx.signature => Some(*checked),
            _ => None,
        }
    }

    /// Whether exactly `tx` (its bytes and this signature) waits, its signature checked at
    /// admission: the check a replica's validation would repeat.
    pub fn verified(&self, tx: &SignedTx) -> bool {
        self.checked(tx) == Some(Checked::Verified)
    }

    /// Why `id` was dropped, if it was dropped recently (and not admitted again since).
    pub fn dropped(&self, id: &[u8; 32]) -> Option<TxError> {
        self.dropped.get(id).copied()
    }

    /// The envelope checks of admission, changing nothing: cheap (no signature), so the API runs
    /// them before it verifies signatures. `now` is the node's clock, for heartbeats.
    pub fn precheck(&self, tx: &SignedTx, state: &State, now: u64) -> Result<(), Refusal> {
        let tx = &tx.tx;
        if let TxBody::Heartbeat { .. } = tx.body {
            if tx.nonce != 0 {
                return Err(Refusal::HeartbeatNonce);
            }
            return state.precheck_at(tx, tx.nonce, 0, now).map_err(|e| match e {
                TxError::UnknownMachine => Refusal::UnknownMachine,
                other => Refusal::Envelope(other),
            });
        }
        let (expected, waiting) = match self.pending.get(&tx.signer) {
            Some((next, waiting)) => (*next, *waiting),
            None => (state.account(&tx.signer).ok_or(Refusal::UnknownSigner)?.nonce, 0),
        };
        let reserved = state.current_fee() * u128::from(waiting);
        state.precheck_at(tx, expected, reserved, now).map_err(|e| match e {
            TxError::UnknownSigner => Refusal::UnknownSigner,
            TxError::NonceTooLow => Refusal::NonceTooLow { expected },
            TxError::NonceTooHigh => Refusal::NonceTooHigh { expected },
            other => Refusal::Envelope(other),
        })
    }

    /// Admits a signature-checked transaction against the committed `state` at the node's clock
    /// `now` (seconds); how its signature was checked is not recorded ([`Checked::Unknown`]).
    pub fn admit(&mut self, tx: SignedTx, id: [u8; 32], state: &State, now: u64) -> Result<Admitted, Refusal> {
        self.admit_checked(tx, id, state, now, Checked::Unknown)
    }

    /// [`Mempool::admit`], recording how the caller checked the signature.
    pub fn admit_checked(
        &mut self,
        tx: SignedTx,
        id: [u8; 32],
        state: &State,
        now: u64,
        checked: Checked,
    ) -> Result<Admitted, Refusal> {
        if self.ids.contains_key(&id) {
            return Ok(Admitted::AlreadyPending);
        }
        if self.queue.len() >= self.capacity {
            return Err(Refusal::Full);
        }
        self.precheck(&tx, state, now)?;
        if !matches!(tx.tx.body, TxBody::Heartbeat { .. }) {
            let entry = self.pending.entry(tx.tx.signer).or_insert((tx.tx.nonce, 0));
            entry.0 = tx.tx.nonce + 1;
            entry.1 += 1;
        }
        if self.dropped.remove(&id).is_some() {
            self.dropped_order.retain(|d| *d != id);
        }
        self.ids.insert(id, (tx.signature, checked));
        self.queue.push_back((tx, id));
        Ok(Admitted::New)
    }

    /// Takes up to `max` transactions, oldest first, for the next block, with their ids.
    pub fn take(&mut self, max: usize) -> (Vec<SignedTx>, Vec<[u8; 32]>) {
        let n = self.queue.len().min(max);
        let (taken, ids): (Vec<SignedTx>, Vec<[u8; 32]>) = self.queue.drain(..n).unzip();
        for (tx, id) in taken.iter().zip(&ids) {
            self.ids.remove(id);
            if !matches!(tx.tx.body, TxBody::Heartbeat { .. })
                && let Some(entry) = self.pending.get_mut(&tx.tx.signer)
            {
                entry.1 -= 1;
                if entry.1 == 0 {
                    // nothing else waits: the next nonce is the committed one again
                    self.pending.remove(&tx.tx.signer);
                }
            }
        }
        (taken, ids)
    }

    /// The oldest `max` waiting transactions, left waiting (a replicated node's proposal: they
    /// leave the mempool only when a decided block holds them, [`Mempool::remove`]).
    pub fn peek(&self, max: usize) -> Vec<SignedTx> {
        self.queue.iter().take(max).map(|(tx, _)| tx.clone()).collect()
    }

    /// Removes the transactions whose ids are in `ids` (sorted): those of a decided block,
    /// whichever node proposed it.
    pub fn remove(&mut self, ids: &[[u8; 32]]) {
        if ids.is_empty() || self.queue.is_empty() {
            return;
        }
        let before = self.queue.len();
        let mut removed = Vec::new();
        self.queue.retain(|(tx, id)| {
            let gone = ids.binary_search(id).is_ok();
            if gone {
                removed.push((tx.tx.signer, matches!(tx.tx.body, TxBody::Heartbeat { .. })));
            }
            !gone
        });
        if self.queue.len() == before {
            return;
        }
        for id in ids {
            self.ids.remove(id);
        }
        for (signer, heartbeat) in removed {
            if !heartbeat && let Some(entry) = self.pending.get_mut(&signer) {
                entry.1 -= 1;
                if entry.1 == 0 {
                    self.pending.remove(&signer);
                }
            }
        }
    }

    /// Drops what can never commit after the committed `state` (a replicated node, after each
    /// decided block), and remembers why: the transactions whose nonce the state has already used
    /// (another transaction of the same signer and nonce was decided elsewhere), and those left
    /// behind a nonce gap (review finding 6: a predecessor was refused when its block executed, so
    /// the signer's next nonce waits nowhere; these would sit at the head of the queue forever,
    /// and the signer could not send the missing nonce again), and the heartbeats that can never
    /// enter a block (their slot over or marked). Returns how many went.
    pub fn purge_stale(&mut self, state: &State) -> usize {
        // per signer, its waiting nonces in order
        let mut waiting: BTreeMap<Address, Vec<(u64, [u8; 32])>> = BTreeMap::new();
        let mut dead_beats = Vec::new();
        for (tx, id) in &self.queue {
            match tx.tx.body {
                TxBody::Heartbeat { slot } => {
                    if let Some(error) = dead_heartbeat(state, &tx.tx, slot) {
                        dead_beats.push((*id, error));
                    }
                }
                _ => waiting.entry(tx.tx.signer).or_default().push((tx.tx.nonce, *id)),
            }
        }
        let mut stale = Vec::new();
        let mut gaps = Vec::new();
        let mut next_nonces = Vec::new();
        for (signer, mut nonces) in waiting {
            let Some(account) = state.account(&signer) else { continue };
            nonces.sort_unstable();
            let mut next = account.nonce;
            for (nonce, id) in nonces {
                if nonce < account.nonce {
                    stale.push(id);
                } else if nonce == next {
                    next += 1;
                } else {
                    gaps.push(id);
                }
            }
            next_nonces.push((signer, next));
        }
        let mut gone: Vec<[u8; 32]> =
            stale.iter().chain(&gaps).copied().chain(dead_beats.iter().map(|(id, _)| *id)).collect();
        gone.sort_unstable();
        self.remove(&gone);
        for id in &stale {
            self.remember_dropped(*id, TxError::NonceTooLow);
        }
        for id in &gaps {
            self.remember_dropped(*id, TxError::NonceTooHigh);
        }
        for (id, error) in &dead_beats {
            self.remember_dropped(*id, *error);
        }
        if !gaps.is_empty() {
            // the next nonce follows what still waits
            for (signer, next) in next_nonces {
                if let Some(entry) = self.pending.get_mut(&signer) {
                    entry.0 = next;
                }
            }
        }
        gone.len()
    }

    /// What the block did not take back: transactions refused only for want of room in the
    /// block wait again at the front, in order; the others are dropped and remembered.
    pub fn return_refused(&mut self, refused: Vec<(SignedTx, TxError)>) {
        let mut again = Vec::new();
        for (tx, error) in refused {
            let id = tx.id();
            if error == TxError::BlockFull && !self.ids.contains_key(&id) {
                again.push((tx, id));
            } else {
                self.remember_dropped(id, error);
            }
        }
        for (tx, id) in again.into_iter().rev() {
            if !matches!(tx.tx.body, TxBody::Heartbeat { .. }) {
                let entry = self.pending.entry(tx.tx.signer).or_insert((tx.tx.nonce + 1, 0));
                entry.0 = entry.0.max(tx.tx.nonce + 1);
                entry.1 += 1;
            }
            self.ids.insert(id, (tx.signature, Checked::Unknown));
            self.queue.push_front((tx, id));
        }
    }

    fn remember_dropped(&mut self, id: [u8; 32], error: TxError) {
        if self.dropped.insert(id, error).is_none() {
            self.dropped_order.push_back(id);
        }
        while self.dropped_order.len() > DROPPED_MEMORY {
            if let Some(old) = self.dropped_order.pop_front() {
                self.dropped.remove(&old);
            }
        }
    }
}

/// Why a waiting heartbeat can never enter a block after `state` (`None`: it still may): its
/// slot is marked already, or over (past its end and the tolerance, at the state's time).
fn dead_heartbeat(state: &State, tx: &gridmint_core::Tx, slot: u64) -> Option<TxError> {
    match state.precheck_at(tx, 0, 0, state.time) {
        Ok(()) => None,
        Err(e @ (TxError::HeartbeatDuplicate | TxError::UnknownMachine | TxError::NonceTooHigh)) => Some(e),
        Err(e) => {
            let slot_seconds = state.policy.epoch.slot_seconds;
            let tolerance = gridmint_core::apply::HEARTBEAT_TOLERANCE_SECONDS.min(slot_seconds);
            let end = slot
                .checked_add(1)
                .and_then(|s| s.checked_mul(slot_seconds))
                .and_then(|s| s.checked_add(state.genesis_time));
            end.is_none_or(|end| end.saturating_add(tolerance) <= state.time).then_some(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::{address_of, key_from_label};
    use gridmint_core::{Policy, Tx};

    fn signed(signer: Address, nonce: u64) -> SignedTx {
        let body = TxBody::Transfer { to: Address([9; 32]), amount: 1 };
        SignedTx { tx: Tx { signer, nonce, body }, signature: [0; 64] }
    }

    fn funded(amount: u128) -> (Address, State) {
        let alice = address_of(&key_from_label("alice"));
        let mut policy = Policy::preset("netmind").unwrap();
        policy.token.cap = gridmint_policy::Tokens(policy.token.cap.0 + amount);
        policy
            .genesis
            .push(gridmint_policy::GenesisAllocation { account: alice, amount: gridmint_policy::Tokens(amount) });
        (alice, State::genesis(policy, 0))
    }

    #[test]
    fn nonces_capacity_and_retries() {
        let (alice, state) = funded(10 * gridmint_core::TOKEN);
        let mut pool = Mempool::new(3);
        let t0 = signed(alice, 0);
        assert_eq!(pool.admit(t0.clone(), t0.id(), &state, 0), Ok(Admitted::New));
        assert_eq!(pool.admit(t0.clone(), t0.id(), &state, 0), Ok(Admitted::AlreadyPending));
        let t2 = signed(alice, 2);
        assert_eq!(pool.admit(t2.clone(), t2.id(), &state, 0), Err(Refusal::NonceTooHigh { expected: 1 }));
        let mut replay = signed(alice, 0);
        replay.tx.body = TxBody::Transfer { to: Address([8; 32]), amount: 1 };
        assert_eq!(pool.admit(replay.clone(), replay.id(), &state, 0), Err(Refusal::NonceTooLow { expected: 1 }));
        let stranger = signed(Address([5; 32]), 0);
        assert_eq!(pool.admit(stranger.clone(), stranger.id(), &state, 0), Err(Refusal::UnknownSigner));
        for n in 1..3 {
            let t = signed(alice, n);
            assert_eq!(pool.admit(t.clone(), t.id(), &state, 0), Ok(Admitted::New));
        }
        let t3 = signed(alice, 3);
        assert_eq!(pool.admit(t3.clone(), t3.id(), &state, 0), Err(Refusal::Full), "capacity 3 holds 3, not 4");
        assert_eq!(pool.take(2).0.len(), 2);
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.admit(t3.clone(), t3.id(), &state, 0), Ok(Admitted::New));
        pool.take(10);
        assert!(pool.is_empty());
        // nothing waits: the committed nonce (still 0 here) rules again
        assert_eq!(pool.admit(t0.clone(), t0.id(), &state, 0), Ok(Admitted::New));
    }

    /// A replicated node proposes without taking, and removes what a decided block holds,
    /// whoever proposed it: the signer's next nonce follows what still waits.
    #[test]
    fn peek_leaves_and_remove_takes_by_id() {
        let (alice, state) = funded(10 * gridmint_core::TOKEN);
        let mut pool = Mempool::new(10);
        let txs: Vec<SignedTx> = (0..3).map(|n| signed(alice, n)).collect();
        for t in &txs {
            assert_eq!(pool.admit(t.clone(), t.id(), &state, 0), Ok(Admitted::New));
        }
        assert_eq!(pool.peek(2), txs[..2].to_vec());
        assert_eq!(pool.len(), 3, "peek takes nothing");
        let mut gone = vec![txs[0].id(), txs[1].id(), [7; 32]];
        gone.sort_unstable();
        pool.remove(&gone);
        assert_eq!(pool.len(), 1);
        assert!(!pool.contains(&txs[0].id()) && pool.contains(&txs[2].id()));
        assert_eq!(pool.next_nonce(&alice), Some(3), "nonce 2 still waits");
        // a transaction whose nonce was used by another, decided elsewhere, goes
        let mut state = state;
        let alice_id = state.account_id(&alice).unwrap() as usize;
        state.accounts[alice_id].nonce = 3;
        assert_eq!(pool.purge_stale(&state), 1);
        assert_eq!(pool.dropped(&txs[2].id()), Some(TxError::NonceTooLow));
        assert!(pool.is_empty());
        assert_eq!(pool.next_nonce(&alice), None, "nothing waits: the committed nonce rules");
    }

    /// Each entry remembers the signature it was admitted with and how it was checked: exactly
    /// that transaction and signature answer it; a re-signed copy (same id) does not.
    #[test]
    fn an_entry_remembers_its_signature_and_its_check() {
        let (alice, state) = funded(10 * gridmint_core::TOKEN);
        let mut pool = Mempool::new(10);
        let (t0, t1, t2) = (signed(alice, 0), signed(alice, 1), signed(alice, 2));
        pool.admit_checked(t0.clone(), t0.id(), &state, 0, Checked::Verified).unwrap();
        pool.admit_checked(t1.clone(), t1.id(), &state, 0, Checked::Unknown).unwrap();
        pool.admit(t2.clone(), t2.id(), &state, 0).unwrap();
        assert_eq!(pool.checked(&t0), Some(Checked::Verified));
        assert!(pool.verified(&t0));
        assert_eq!(pool.checked(&t1), Some(Checked::Unknown));
        assert!(!pool.verified(&t1), "checked by the caller, not recorded");
        assert!(!pool.verified(&t2), "not recorded");
        let mut resigned = t0.clone();
        resigned.signature[0] = 1;
        assert_eq!(resigned.id(), t0.id());
        assert_eq!(pool.checked(&resigned), None, "another signature is another check");
        assert!(!pool.verified(&signed(alice, 3)), "not waiting");
        pool.remove(&[t0.id()]);
        assert!(!pool.verified(&t0), "gone");
    }

    /// Review finding 6: transactions behind a nonce gap (their predecessor left the mempool in
    /// a block that refused it) can never commit: purged after the block, so that they do not
    /// sit at the head of the queue and the signer can send the missing nonce again.
    #[test]
    fn transactions_behind_a_nonce_gap_are_purged() {
        let (alice, state) = funded(10 * gridmint_core::TOKEN);
        let mut pool = Mempool::new(10);
        let txs: Vec<SignedTx> = (0..3).map(|n| signed(alice, n)).collect();
        for t in &txs {
            pool.admit(t.clone(), t.id(), &state, 0).unwrap();
        }
        // nonce 0 was in a decided block that refused it: the account's nonce is still 0
        pool.remove(&[txs[0].id()]);
        assert_eq!(pool.purge_stale(&state), 2);
        assert!(pool.is_empty());
        assert_eq!(pool.dropped(&txs[1].id()), Some(TxError::NonceTooHigh));
        assert_eq!(pool.next_nonce(&alice), None);
        let again = signed(alice, 0);
        assert_eq!(pool.admit(again.clone(), again.id(), &state, 0), Ok(Admitted::New), "the gap can be filled");
        // consecutive nonces from the account's stay
        let next = signed(alice, 1);
        pool.admit(next.clone(), next.id(), &state, 0).unwrap();
        assert_eq!(pool.purge_stale(&state), 0);
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.next_nonce(&alice), Some(2));
    }

    /// G10 at admission: the fees of the signer's waiting transactions count, so an account
    /// cannot queue more transactions than it can pay for.
    #[test]
    fn waiting_transactions_reserve_their_fees() {
        let (alice, state) = funded(2 * state_fee());
        let mut pool = Mempool::new(100);
        for n in 0..2 {
            let t = signed(alice, n);
            assert_eq!(pool.admit(t.clone(), t.id(), &state, 0), Ok(Admitted::New));
        }
        let t = signed(alice, 2);
        assert_eq!(
            pool.admit(t.clone(), t.id(), &state, 0),
            Err(Refusal::Envelope(TxError::InsufficientFee)),
            "a third fee is not payable"
        );
    }

    fn state_fee() -> u128 {
        State::genesis(Policy::preset("netmind").unwrap(), 0).current_fee()
    }

    /// What a block refused comes back: for want of room, to wait at the front in order; for
    /// any other reason, dropped and remembered, until admitted again.
    #[test]
    fn refused_by_the_block_wait_or_are_dropped() {
        let (alice, state) = funded(10 * gridmint_core::TOKEN);
        let mut pool = Mempool::new(100);
        let txs: Vec<SignedTx> = (0..4).map(|n| signed(alice, n)).collect();
        for t in &txs {
            pool.admit(t.clone(), t.id(), &state, 0).unwrap();
        }
        let (taken, _) = pool.take(4);
        assert_eq!(taken.len(), 4);
        let late = signed(alice, 9);
        pool.return_refused(vec![
            (txs[2].clone(), TxError::BlockFull),
            (txs[3].clone(), TxError::BlockFull),
            (late.clone(), TxError::InsufficientFee),
        ]);
        let (again, _) = pool.take(10);
        assert_eq!(again, vec![txs[2].clone(), txs[3].clone()], "in order, at the front");
        assert_eq!(pool.dropped(&late.id()), Some(TxError::InsufficientFee));
        assert_eq!(pool.dropped(&txs[2].id()), None);
    }
}
