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
    }

    /// Applies a transaction that must be rejected with `error`, changing nothing.
    pub fn err(&mut self, signer: &str, body: TxBody, error: TxError) {
        self.err_as(addr(signer), body, error);
    }

    pub fn err_as(&mut self, signer: Address, body: TxBody, error: TxError) {
        let tx = self.tx(signer, body);
        self.err_tx(&tx, error);
    }

    pub fn err_tx(&mut self, tx: &Tx, error: TxError) {
        let before = self.state.canonical_bytes();
        assert_eq!(self.state.apply_tx(tx, self.producer), Err(error), "{:?}", tx.body);
        assert!(before == self.state.canonical_bytes(), "a rejected {:?} changed the state", tx.body);
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

    /// Sends heartbeats for the first `slots` slots of the open epoch (moving the clock past them).
    pub fn heartbeats(&mut self, machine: &str, slots: u64) {
        let per_epoch = u64::from(self.state.policy.slots_per_epoch());
        let first = (self.state.epoch - 1) * per_epoch;
        self.at_second(slots * self.state.policy.epoch.slot_seconds);
        for slot in first..first + slots {
            self.ok_as(addr(machine), TxBody::Heartbeat { slot });
        }
    }
}
