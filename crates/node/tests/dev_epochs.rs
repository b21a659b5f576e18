//! Dev networks with short epochs (G4 allows them only there): `dev_epochs` scales every
//! slot-count threshold of the policy with the epoch, so the programs that count slots still pay.

use gridmint_core::{Address, Policy, State, Tx, TxBody};
use gridmint_node::node::dev_epochs;

/// Goal: OS5 on a dev network: with 60-second epochs (60 slots of 1 s) the 18-hours-of-24 points
/// threshold becomes 45 of 60 slots, and a node online for 50 of them earns its uptime point (it
/// used to need 216 slots of an epoch that has 60: a dev OSMI network never awarded points). A
/// node online for 44 slots earns none. Method: OSMI shaped by `dev_epochs(60)`, two machines
/// sending real heartbeats, each in its own slot, then the epoch's close.
#[test]
fn dev_osmi_with_short_epochs_awards_points() {
    let policy = dev_epochs(&Policy::preset("osmi").unwrap(), 60).unwrap();
    assert_eq!((policy.epoch.seconds, policy.slots_per_epoch()), (60, 60));
    assert_eq!(policy.points.as_ref().unwrap().min_online_slots, 45, "216 of 288 slots → 45 of 60");
    let mut state = State::genesis(policy, 1_000_000);
    let owner = Address::system("dev-owner");
    let (online, short) = (Address::system("dev-machine-online"), Address::system("dev-machine-short"));
    let online_id = state.add_machine(owner, online, 1, 100).unwrap();
    let short_id = state.add_machine(owner, short, 1, 100).unwrap();
    let producer = Address::system("dev-producer");
    for slot in 0..50u64 {
        state.advance_time(state.genesis_time + slot);
        state.apply_tx(&Tx { signer: online, nonce: 0, body: TxBody::Heartbeat { slot } }, producer).unwrap();
        if slot < 44 {
            state.apply_tx(&Tx { signer: short, nonce: 0, body: TxBody::Heartbeat { slot } }, producer).unwrap();
        }
    }
    let closed = state.advance_time(state.epoch_end_time(1));
    let points = closed[0].programs.iter().find(|p| p.program == "points").unwrap();
    assert_eq!(points.recipients, 1);
    assert!(points.paid > 0, "the pool paid 5% of its balance by points");
    assert_eq!(state.machine_rewards_total(online_id), points.paid, "one point: all of it");
    assert_eq!(state.machine_rewards_total(short_id), 0);
    state.assert_invariants();
}

/// Goal: every slot-count threshold scales alike (rounding up, the same share of an epoch), and
/// a day-long dev epoch changes nothing. Method: netmind's connection reward (61 of 288) and
/// OSMI's points (216 of 288) at 60 s (60 slots), 3,600 s (240 slots of 15 s) and 86,400 s.
#[test]
fn dev_epochs_scale_every_slot_threshold() {
    let netmind = Policy::preset("netmind").unwrap();
    let osmi = Policy::preset("osmi").unwrap();
    for (seconds, connection, points) in [(60, 13, 45), (3_600, 51, 180), (86_400, 61, 216)] {
        let shaped = dev_epochs(&netmind, seconds).unwrap();
        assert_eq!(shaped.connection_reward.as_ref().unwrap().min_online_slots, connection, "{seconds} s");
        let shaped = dev_epochs(&osmi, seconds).unwrap();
        assert_eq!(shaped.points.as_ref().unwrap().min_online_slots, points, "{seconds} s");
    }
}
