//! Test harness: a ledger with funded accounts, transactions with automatic nonces, every
//! rejection checked to leave the state byte-identical, invariants checked after every step.
#![allow(dead_code)]

pub mod generator;

use gridmint_core::{Address, EpochSummary, Policy, State, TOKEN, Tx, TxBody, TxError};
use gridmint_policy::{GenesisAllocation, Tokens};

pub fn addr(name: &str) -> Address {
    Address::system(&format!("test-{name}"))
}

pub fn tokens(n: u128) -> u128 {
    n * TOKEN
}

/// `before` after a transaction of `signer` that failed its kind's checks: its fee charged
/// (burned base fee, the rest to `producer`), its nonce consumed, the block's count moved;
/// written field by field, independently of the core's own charging code.
pub fn charged(before: &State, signer: Address, producer: Address) -> State {
    let mut after = before.clone();
    let fee = before.current_fee();
    let burn = before.base_fee;
    let id = after.account_id(&signer).expect("a charged signer exists") as usize;
    after.accounts[id].spendable -= fee;
    after.accounts[id].nonce += 1;
    after.block_tx_count += 1;
    after.burned_total += burn;
    after.tally.burned += burn;
    if fee > burn {
        let p = after.account_or_create(producer) as usize;
        after.accounts[p].spendable += fee - burn;
    }
    after
}

pub struct Harness {
    pub state: State,
    pub producer: Address,
}

impl Harness {
    /// A preset with extra accounts funded at genesis (the cap is raised by their total, so the
    /// preset's own schedules are untouched).
    pub fn new(preset: &str, funded: &[(&str, u128)]) -> Harness {
        Harness::with_policy(Policy::preset(preset).unwrap(), funded)
    }

    pub fn with_policy(mut policy: Policy, funded: &[(&str, u128)]) -> Harness {
        for (name, amount) in funded {
            policy.genesis.push(GenesisAllocation { account: addr(name), amount: Tokens(*amount) });
            policy.token.cap = Tokens(policy.token.cap.0 + amount);
        }
        policy.validate().unwrap();
        let state = State::genesis(policy, 1_000_000);
        Harness { state, producer: addr("producer") }
    }

    pub fn tx(&self, signer: Address, body: TxBody) -> Tx {
        let nonce = self.state.account(&signer).map_or(0, |a| a.nonce);
        let nonce = if matches!(body, TxBody::Heartbeat { .. }) { 0 } else { nonce };
        Tx { signer, nonce, body }
    }

    /// Applies a transaction that must succeed.
    pub fn ok(&mut self, signer: &str, body: TxBody) {
        self.ok_as(addr(signer), body);
    }

    pub fn ok_as(&mut self, signer: Address, body: TxBody) {
        let tx = self.tx(signer, body);
        if let Err(e) = self.state.apply_tx(&tx, self.producer) {
            panic!("{:?} by {signer:?} rejected: {e}", tx.body);
        }
        self.state.assert_invariants();
        self.state.check_commitment().unwrap();
    }

    /// Applies a transaction that must be rejected with `error`, changing nothing.
    pub fn err(&mut self, signer: &str, body: TxBody, error: TxError) {
        self.err_as(addr(signer), body, error);
    }

    pub fn err_as(&mut self, signer: Address, body: TxBody, error: TxError) {
        let tx = self.tx(signer, body);
        self.err_tx(&tx, error);
    }

    /// A transaction that fails with `error`: refused by the envelope (the state byte-identical),
    /// or included with `error` in its receipt, having paid its fee and consumed its nonce and
    /// changed nothing else (G10).
    pub fn err_tx(&mut self, tx: &Tx, error: TxError) {
        let before = self.state.clone();
        match self.state.execute_tx(tx, self.producer) {
            Err(refused) => {
                assert_eq!(refused, error, "{:?}", tx.body);
                assert!(
                    before.canonical_bytes() == self.state.canonical_bytes(),
                    "a refused {:?} changed the state",
                    tx.body
                );
            }
            Ok(receipt) => {
                assert_eq!(TxError::from_code(receipt.code), Some(error), "{:?}", tx.body);
                let expected = charged(&before, tx.signer, self.producer);
                assert_eq!(receipt.fee, before.current_fee());
                assert!(
                    expected.canonical_bytes() == self.state.canonical_bytes(),
                    "a failed {:?} changed more than its fee and nonce",
                    tx.body
                );
            }
        }
        self.state.assert_invariants();
        self.state.check_commitment().unwrap();
    }

    /// Asserts that `tx` is refused by the envelope with `error`, changing nothing.
    pub fn refused(&mut self, tx: &Tx, error: TxError) {
        let before = self.state.canonical_bytes();
        assert_eq!(self.state.execute_tx(tx, self.producer), Err(error), "{:?}", tx.body);
        assert!(before == self.state.canonical_bytes(), "a refused {:?} changed the state", tx.body);
    }

    /// Moves the clock `seconds` into the open epoch.
    pub fn at_second(&mut self, seconds: u64) {
        let start = self.state.epoch_end_time(self.state.epoch - 1);
        self.state.advance_time(start + seconds);
    }

    /// Closes the open epoch.
    pub fn next_epoch(&mut self) -> EpochSummary {
        let end = self.state.epoch_end_time(self.state.epoch);
        let mut closed = self.state.advance_time(end);
        assert_eq!(closed.len(), 1);
        self.state.assert_invariants();
        self.state.check_commitment().unwrap();
        closed.remove(0)
    }

    pub fn spendable(&self, name: &str) -> u128 {
        self.state.account(&addr(name)).map_or(0, |a| a.spendable)
    }

    pub fn unclaimed(&self, name: &str) -> u128 {
        self.state.unclaimed(&addr(name))
    }

    pub fn register_machine(&mut self, owner: &str, machine: &str, gpu_class: u8, bandwidth_mbps: u32, bond: u128) {
        self.ok(owner, TxBody::RegisterMachine { machine: addr(machine), gpu_class, bandwidth_mbps, bond });
    }

    /// Sends a heartbeat in each of the first `slots` slots of the open epoch, the clock moved
    /// into each slot before its heartbeat (a heartbeat marks the slot of the ledger's time).
    pub fn heartbeats(&mut self, machine: &str, slots: u64) {
        self.online(&[(machine, slots)]);
    }

    /// Machines online together: each `(machine, n)` sends a heartbeat in each of the open
    /// epoch's first `n` slots, the clock moving slot by slot from the epoch's start (or from
    /// where it is, when it is already inside the epoch: earlier slots are skipped).
    pub fn online(&mut self, machines: &[(&str, u64)]) {
        let per_epoch = u64::from(self.state.policy.slots_per_epoch());
        let first = (self.state.epoch - 1) * per_epoch;
        let slot_seconds = self.state.policy.epoch.slot_seconds;
        let start = self.state.epoch_end_time(self.state.epoch - 1);
        let most = machines.iter().map(|(_, n)| *n).max().unwrap_or(0);
        for i in 0..most {
            let at = start + i * slot_seconds;
            if self.state.time >= at + slot_seconds {
                continue;
            }
            if self.state.time < at {
                self.at_second(i * slot_seconds);
            }
            for (machine, n) in machines {
                if i < *n {
                    self.ok_as(addr(machine), TxBody::Heartbeat { slot: first + i });
                }
            }
        }
    }
}
