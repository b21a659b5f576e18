//! The bounded mempool: signature-checked transactions waiting for a block, in arrival order.
//!
//! Admission checks what can be checked without executing: the signer exists (an account, or for
//! a heartbeat a registered machine), and the nonce is exactly the next one counting the
//! signer's transactions already waiting (a replayed nonce and a skipped nonce are both refused).
//! A transaction already waiting is not added twice. When full, the mempool refuses new
//! transactions (the API answers 503 with `Retry-After`) instead of growing.

use crate::signing::SignedTx;
use gridmint_core::{Address, State, TxBody};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

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

/// The mempool.
pub struct Mempool {
    queue: VecDeque<(SignedTx, [u8; 32])>,
    ids: BTreeSet<[u8; 32]>,
    /// Per signer: (next nonce after its waiting transactions, how many wait).
    pending: BTreeMap<Address, (u64, u32)>,
    capacity: usize,
}

impl Mempool {
    /// An empty mempool holding at most `capacity` transactions.
    pub fn new(capacity: usize) -> Mempool {
        Mempool { queue: VecDeque::new(), ids: BTreeSet::new(), pending: BTreeMap::new(), capacity }
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
        self.ids.contains(id)
    }

    /// Admits a signature-checked transaction against the committed `state`.
    pub fn admit(&mut self, tx: SignedTx, id: [u8; 32], state: &State) -> Result<Admitted, Refusal> {
        if self.ids.contains(&id) {
            return Ok(Admitted::AlreadyPending);
        }
        if self.queue.len() >= self.capacity {
            return Err(Refusal::Full);
        }
        if let TxBody::Heartbeat { .. } = tx.tx.body {
            if tx.tx.nonce != 0 {
                return Err(Refusal::HeartbeatNonce);
            }
            if state.machine_id(&tx.tx.signer).is_none() {
                return Err(Refusal::UnknownMachine);
            }
        } else {
            let signer = tx.tx.signer;
            let expected = match self.pending.get(&signer) {
                Some((next, _)) => *next,
                None => state.account(&signer).ok_or(Refusal::UnknownSigner)?.nonce,
            };
            if tx.tx.nonce < expected {
                return Err(Refusal::NonceTooLow { expected });
            }
            if tx.tx.nonce > expected {
                return Err(Refusal::NonceTooHigh { expected });
            }
            let entry = self.pending.entry(signer).or_insert((expected, 0));
            entry.0 += 1;
            entry.1 += 1;
        }
        self.ids.insert(id);
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
                    // nothing else waits: the next nonce is the committed one again (a failed
                    // transaction does not consume its nonce)
                    self.pending.remove(&tx.tx.signer);
                }
            }
        }
        (taken, ids)
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

    #[test]
    fn nonces_capacity_and_retries() {
        let alice = address_of(&key_from_label("alice"));
        let mut policy = Policy::preset("netmind").unwrap();
        policy.token.cap = gridmint_policy::Tokens(policy.token.cap.0 + 10);
        policy.genesis.push(gridmint_policy::GenesisAllocation { account: alice, amount: gridmint_policy::Tokens(10) });
        let state = State::genesis(policy, 0);
        let mut pool = Mempool::new(3);
        let t0 = signed(alice, 0);
        assert_eq!(pool.admit(t0.clone(), t0.id(), &state), Ok(Admitted::New));
        assert_eq!(pool.admit(t0.clone(), t0.id(), &state), Ok(Admitted::AlreadyPending));
        let t2 = signed(alice, 2);
        assert_eq!(pool.admit(t2.clone(), t2.id(), &state), Err(Refusal::NonceTooHigh { expected: 1 }));
        let mut replay = signed(alice, 0);
        replay.tx.body = TxBody::Transfer { to: Address([8; 32]), amount: 1 };
        assert_eq!(pool.admit(replay.clone(), replay.id(), &state), Err(Refusal::NonceTooLow { expected: 1 }));
        let stranger = signed(Address([5; 32]), 0);
        assert_eq!(pool.admit(stranger.clone(), stranger.id(), &state), Err(Refusal::UnknownSigner));
        for n in 1..3 {
            let t = signed(alice, n);
            assert_eq!(pool.admit(t.clone(), t.id(), &state), Ok(Admitted::New));
        }
        let t3 = signed(alice, 3);
        assert_eq!(pool.admit(t3.clone(), t3.id(), &state), Err(Refusal::Full), "capacity 3 holds 3, not 4");
        assert_eq!(pool.take(2).0.len(), 2);
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.admit(t3.clone(), t3.id(), &state), Ok(Admitted::New));
        pool.take(10);
        assert!(pool.is_empty());
        // nothing waits: the committed nonce (still 0 here) rules again
        assert_eq!(pool.admit(t0.clone(), t0.id(), &state), Ok(Admitted::New));
    }
}
