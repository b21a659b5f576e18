//! Compile-time checks that the types here are what `start_engine` / `EngineBuilder` accept in
//! 0.8.2: if an upgrade changes a bound, this file stops compiling.

use gridmint_consensus::app_channel::app::types::codec::{ConsensusCodec, SyncCodec, WalCodec};
use gridmint_consensus::app_channel::{ConsensusContext, NetworkContext, SyncContext, WalContext};
use gridmint_consensus::{ChainId, GridmintCodec, GridmintContext, GridmintSigner, GridmintVerifier};

fn engine_codecs<C>()
where
    C: Clone + ConsensusCodec<GridmintContext> + SyncCodec<GridmintContext> + WalCodec<GridmintContext>,
{
}

#[test]
fn codec_satisfies_the_engine_bounds() {
    engine_codecs::<GridmintCodec>();
    let _wal = WalContext::new("consensus.wal".into(), GridmintCodec);
    let _sync = SyncContext::new(GridmintCodec);
    let _ = std::mem::size_of::<NetworkContext<GridmintCodec>>();
}

#[test]
fn signer_and_verifier_plug_into_the_consensus_context() {
    let chain = ChainId::new("gridmint-test").unwrap();
    let signer = GridmintSigner::new([1; 32], chain.clone());
    let address = signer.address();
    let validator = ConsensusContext::<GridmintContext>::new_validator(
        address,
        Box::new(GridmintVerifier::new(chain.clone())),
        Box::new(signer),
    );
    assert!(validator.signer.is_some());
    let follower = ConsensusContext::<GridmintContext>::new_full_node(address, Box::new(GridmintVerifier::new(chain)));
    assert!(follower.signer.is_none());
}
