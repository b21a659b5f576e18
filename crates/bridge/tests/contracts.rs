//! The bridge contracts against a real EVM node: each test starts its own anvil (from the npm
//! package pinned in package.json; `bash scripts/evm-tools.sh` installs it), deploys
//! `contracts/out/GridmintBridge.json` and drives it through the `sol!` bindings, signing as
//! committee members with EIP-712. Every refusal is checked by its custom error, and by the
//! state it must leave unchanged (supply, balances, minted flags).

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, U256, address};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{Eip712Domain, SolCall, SolStruct};
use gridmint_bridge::IGridToken::{IGridTokenErrors as TokenError, IGridTokenInstance};
use gridmint_bridge::IGridmintBridge::{IGridmintBridgeErrors as BridgeError, IGridmintBridgeInstance, Signature};
use gridmint_bridge::{
    Anvil, CommitteeKey, CommitteeUpdate, Deployed, IGridToken, IGridmintBridge, Mint, Unpause, connect, deploy,
    domain, gridmint_chain_tag, record_recipient, sorted_signatures,
};

/// The EVM chain id the tests' anvil runs with.
const EVM_CHAIN_ID: u64 = 31337;
/// The largest amount the bridge takes: gridmint's amounts are u128.
const MAX_AMOUNT: U256 = U256::from_limbs([u64::MAX, u64::MAX, 0, 0]);
/// secp256k1's group order n.
const SECP256K1_ORDER: U256 =
    U256::from_be_bytes(alloy::primitives::hex!("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"));

/// One token (18 decimals).
fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// A chain with a deployed bridge: `members` sorted by address, threshold `threshold`.
struct Bridge {
    anvil: Anvil,
    provider: DynProvider,
    deployed: Deployed,
    members: Vec<CommitteeKey>,
    threshold: u32,
    chain: B256,
    bridge: IGridmintBridgeInstance<DynProvider>,
    token: IGridTokenInstance<DynProvider>,
    /// anvil's account 0: deploys and submits.
    user: Address,
}

fn committee(label: &str, size: usize) -> Vec<CommitteeKey> {
    let mut keys: Vec<CommitteeKey> =
        (0..size).map(|i| CommitteeKey::insecure_from_label(&format!("{label} member {i}"))).collect();
    keys.sort_by_key(CommitteeKey::address);
    keys
}

fn addresses(keys: &[CommitteeKey]) -> Vec<Address> {
    keys.iter().map(CommitteeKey::address).collect()
}

async fn provider_for(anvil: &Anvil, key: PrivateKeySigner) -> DynProvider {
    connect(anvil.url(), key).expect("anvil's url")
}

/// Starts anvil and deploys a `threshold`-of-`size` bridge that takes deposits of 1 base unit.
async fn start(size: usize, threshold: u32) -> Bridge {
    start_with_minimum(size, threshold, 1).await
}

/// As [`start`], with the smallest deposit `min_deposit`.
async fn start_with_minimum(size: usize, threshold: u32, min_deposit: u128) -> Bridge {
    let anvil = Anvil::spawn(EVM_CHAIN_ID).unwrap_or_else(|e| panic!("{e}"));
    let user_key: PrivateKeySigner = anvil.private_keys()[0].parse().expect("anvil's key");
    let user = user_key.address();
    let provider = provider_for(&anvil, user_key).await;
    let members = committee("genesis", size);
    let chain = gridmint_chain_tag("netmind-test");
    let deployed = deploy(&provider, chain, &addresses(&members), threshold, "Gridmint NMT", "NMT", min_deposit)
        .await
        .expect("deploy");
    let bridge = IGridmintBridge::new(deployed.bridge, provider.clone());
    let token = IGridToken::new(deployed.token, provider.clone());
    Bridge { anvil, provider, deployed, members, threshold, chain, bridge, token, user }
}

impl Bridge {
    fn domain(&self) -> Eip712Domain {
        domain(EVM_CHAIN_ID, self.deployed.bridge)
    }

    fn mint_message(&self, outbound_id: u64, to: Address, amount: U256) -> Mint {
        Mint { gridmintChain: self.chain, outboundId: outbound_id, recipient: record_recipient(to), amount }
    }

    /// Signatures of the members at `which` over `message` under this bridge's domain, sorted.
    fn sign<T: SolStruct>(&self, which: &[usize], message: &T) -> Vec<Signature> {
        let domain = self.domain();
        sorted_signatures(which.iter().map(|&i| self.members[i].sign(message, &domain).expect("sign")).collect())
    }

    /// The first `threshold` members' signatures.
    fn quorum<T: SolStruct>(&self, message: &T) -> Vec<Signature> {
        let which: Vec<usize> = (0..self.threshold as usize).collect();
        self.sign(&which, message)
    }

    async fn mint(&self, message: &Mint, signatures: Vec<Signature>) -> Result<u64, BridgeError> {
        let call = self.bridge.mint(message.outboundId, message.recipient, message.amount, signatures);
        match call.send().await {
            Ok(pending) => {
                let receipt = pending.get_receipt().await.expect("receipt");
                assert!(receipt.status(), "mint's transaction reverted on chain");
                Ok(receipt.gas_used)
            }
            Err(e) => Err(decode(&e)),
        }
    }

    async fn bridge_out(&self, recipient: B256, amount: U256) -> Result<u64, BridgeError> {
        match self.bridge.bridgeOut(recipient, amount).send().await {
            Ok(pending) => {
                let receipt = pending.get_receipt().await.expect("receipt");
                assert!(receipt.status(), "bridgeOut's transaction reverted on chain");
                Ok(receipt.gas_used)
            }
            Err(e) => Err(decode(&e)),
        }
    }

    async fn supply(&self) -> U256 {
        self.token.totalSupply().call().await.expect("totalSupply")
    }

    async fn balance(&self, who: Address) -> U256 {
        self.token.balanceOf(who).call().await.expect("balanceOf")
    }

    /// A provider sending from committee member `index`, funded with 1 ETH.
    async fn member_provider(&self, index: usize) -> DynProvider {
        let member = &self.members[index];
        let _: serde_json::Value = self
            .provider
            .raw_request("anvil_setBalance".into(), (member.address(), tokens(1)))
            .await
            .expect("anvil_setBalance");
        provider_for(&self.anvil, member.signer().clone()).await
    }
}

/// Waits for a sent transaction to be mined and succeed, or decodes why it was refused.
async fn confirmed(
    sent: Result<alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>, alloy::contract::Error>,
) -> Result<(), BridgeError> {
    let pending = sent.map_err(|e| decode(&e))?;
    let receipt = pending.get_receipt().await.expect("receipt");
    assert!(receipt.status(), "the transaction reverted on chain");
    Ok(())
}

/// The bridge's custom error in a failed call or send.
fn decode(error: &alloy::contract::Error) -> BridgeError {
    error.as_decoded_interface_error::<BridgeError>().unwrap_or_else(|| panic!("not a bridge error: {error}"))
}

/// A gridmint address that is a plausible ed25519 key (not a weak one).
fn gridmint_address(byte: u8) -> B256 {
    B256::repeat_byte(byte)
}

const ALICE: Address = address!("0x00000000000000000000000000000000000a11ce");

#[tokio::test]
async fn two_of_three_mint_credits_the_recipient_once_and_the_digest_matches_alloys() {
    // goal: the happy path, and that Rust and Solidity agree on the EIP-712 encoding; method:
    // compare the contract's domain separator and Mint digest with alloy's, then mint with 2 of 3
    let b = start(3, 2).await;
    let message = b.mint_message(0, ALICE, tokens(5));
    assert_eq!(b.bridge.domainSeparator().call().await.unwrap(), b.domain().separator());
    let digest = b.bridge.hashMint(0, record_recipient(ALICE), tokens(5)).call().await.unwrap();
    assert_eq!(digest, message.eip712_signing_hash(&b.domain()));
    assert_eq!(b.bridge.gridmintChain().call().await.unwrap(), b.chain);

    // members 0 and 2: any two of the three will do
    b.mint(&message, b.sign(&[0, 2], &message)).await.expect("mint");
    assert_eq!(b.balance(ALICE).await, tokens(5));
    assert_eq!(b.supply().await, tokens(5));
    assert!(b.bridge.minted(0).call().await.unwrap());
    assert!(!b.bridge.minted(1).call().await.unwrap());
    let events = b.bridge.Minted_filter().from_block(0).query().await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].0.outboundId, events[0].0.recipient, events[0].0.amount), (0, ALICE, tokens(5)));

    // a second record mints too: supply rises again
    let second = b.mint_message(1, ALICE, tokens(2));
    b.mint(&second, b.sign(&[1, 2], &second)).await.expect("second mint");
    assert_eq!(b.supply().await, tokens(7));
}

#[tokio::test]
async fn a_replayed_record_id_mints_nothing() {
    // goal: an outbound record mints at most once; method: mint it, then replay the very same
    // call (through gas estimation, and straight on chain with a fixed gas limit)
    let b = start(3, 2).await;
    let message = b.mint_message(7, ALICE, tokens(3));
    let signatures = b.quorum(&message);
    b.mint(&message, signatures.clone()).await.expect("first mint");
    assert_eq!(
        b.mint(&message, signatures.clone()).await,
        Err(BridgeError::AlreadyMinted(IGridmintBridge::AlreadyMinted { outboundId: 7 }))
    );
    // other signers, other recipient, other amount: still the same record id
    let other = b.mint_message(7, b.user, tokens(1));
    assert!(matches!(b.mint(&other, b.sign(&[1, 2], &other)).await, Err(BridgeError::AlreadyMinted(_))));

    // on chain, skipping estimation: the transaction is mined and reverts
    let input =
        IGridmintBridge::mintCall { outboundId: 7, recipient: message.recipient, amount: message.amount, signatures }
            .abi_encode();
    let request = TransactionRequest::default().with_to(b.deployed.bridge).with_input(input).with_gas_limit(300_000);
    let receipt = b.provider.send_transaction(request).await.unwrap().get_receipt().await.unwrap();
    assert!(!receipt.status(), "the replay must revert on chain");
    assert_eq!(b.supply().await, tokens(3));
    assert_eq!(b.balance(ALICE).await, tokens(3));
}

#[tokio::test]
async fn a_minority_duplicates_and_unsorted_signatures_are_refused() {
    // goal: fewer than M distinct members never mint; method: 1 of a 2-of-3, none at all, the
    // same member twice, the right two in the wrong order, an outsider with a member
    let b = start(3, 2).await;
    let message = b.mint_message(1, ALICE, tokens(1));
    let not_enough = |valid: u64| {
        BridgeError::NotEnoughSignatures(IGridmintBridge::NotEnoughSignatures {
            valid: U256::from(valid),
            threshold: U256::from(2),
        })
    };
    assert_eq!(b.mint(&message, b.sign(&[1], &message)).await, Err(not_enough(1)));
    assert_eq!(b.mint(&message, vec![]).await, Err(not_enough(0)));

    let one = b.sign(&[0], &message).remove(0);
    let duplicated = b.mint(&message, vec![one.clone(), one.clone()]).await;
    assert_eq!(
        duplicated,
        Err(BridgeError::SignersNotAscending(IGridmintBridge::SignersNotAscending {
            index: U256::from(1),
            signer: b.members[0].address()
        }))
    );

    let mut unsorted = b.sign(&[0, 1], &message);
    unsorted.reverse();
    assert!(
        matches!(b.mint(&message, unsorted).await, Err(BridgeError::SignersNotAscending(e)) if e.index == U256::from(1))
    );

    let outsider = CommitteeKey::insecure_from_label("outsider");
    let mut with_outsider =
        vec![b.members[0].sign(&message, &b.domain()).unwrap(), outsider.sign(&message, &b.domain()).unwrap()];
    with_outsider.sort_by_key(|s| s.signer);
    let refused = b.mint(&message, with_outsider.into_iter().map(|s| s.signature).collect()).await;
    assert_eq!(
        refused,
        Err(BridgeError::NotCommitteeMember(IGridmintBridge::NotCommitteeMember { account: outsider.address() }))
    );

    // 3 of 5: two are a minority
    let five = start(5, 3).await;
    let message = five.mint_message(1, ALICE, tokens(1));
    assert!(matches!(
        five.mint(&message, five.sign(&[0, 4], &message)).await,
        Err(BridgeError::NotEnoughSignatures(_))
    ));
    five.mint(&message, five.sign(&[0, 3, 4], &message)).await.expect("3 of 5");
    assert_eq!(b.supply().await, U256::ZERO);
    assert_eq!(five.supply().await, tokens(1));
}

#[tokio::test]
async fn signatures_for_another_domain_or_record_are_refused() {
    // goal: a signature is good for one EVM chain, one bridge, one gridmint chain and one record;
    // method: sign with each of these changed and submit to the real bridge
    let b = start(3, 2).await;
    let message = b.mint_message(4, ALICE, tokens(9));
    let sign_under = |domain: &Eip712Domain, message: &Mint| {
        sorted_signatures(b.members[..2].iter().map(|m| m.sign(message, domain).unwrap()).collect())
    };
    let expect_foreign_signer = |result: Result<u64, BridgeError>| match result {
        // the signature recovers to some address that is no member
        Err(BridgeError::NotCommitteeMember(e)) => assert!(!addresses(&b.members).contains(&e.account)),
        other => panic!("expected NotCommitteeMember, got {other:?}"),
    };
    // another EVM chain id
    let other_chain = domain(EVM_CHAIN_ID + 1, b.deployed.bridge);
    expect_foreign_signer(b.mint(&message, sign_under(&other_chain, &message)).await);
    // another contract: a second bridge with the same committee on the same chain
    let second = deploy(&b.provider, b.chain, &addresses(&b.members), 2, "Gridmint NMT", "NMT", 1).await.unwrap();
    assert_ne!(second.bridge, b.deployed.bridge);
    expect_foreign_signer(b.mint(&message, sign_under(&domain(EVM_CHAIN_ID, second.bridge), &message)).await);
    // another gridmint chain
    let other_gridmint = Mint { gridmintChain: gridmint_chain_tag("osmi-test"), ..message.clone() };
    expect_foreign_signer(b.mint(&message, sign_under(&b.domain(), &other_gridmint)).await);
    // the record changed after signing: amount, recipient, id
    let signed = b.quorum(&message);
    for tampered in [
        b.mint_message(4, ALICE, tokens(10)),
        b.mint_message(4, b.user, tokens(9)),
        b.mint_message(5, ALICE, tokens(9)),
    ] {
        expect_foreign_signer(b.mint(&tampered, signed.clone()).await);
    }
    assert_eq!(b.supply().await, U256::ZERO);
    // the right domain still works: the refusals were about the domain, not the committee
    b.mint(&message, sign_under(&b.domain(), &message)).await.expect("mint");
    assert_eq!(b.supply().await, tokens(9));
}

#[tokio::test]
async fn malleable_and_malformed_signatures_are_refused() {
    // goal: only canonical signatures count (EIP-2 low s, v in {27, 28}, recoverable); method:
    // turn a valid signature into its high-s twin, a bad v, and an unrecoverable one
    let b = start(1, 1).await;
    let message = b.mint_message(2, ALICE, tokens(1));
    let good = b.quorum(&message).remove(0);
    let low_s = U256::from_be_bytes(good.s.0);
    assert!(low_s <= SECP256K1_ORDER >> 1, "alloy signs with a low s");
    // (r, n - s, flipped v) recovers the same key: ecrecover alone would accept it
    let twin = Signature { v: if good.v == 27 { 28 } else { 27 }, r: good.r, s: B256::from(SECP256K1_ORDER - low_s) };
    assert_eq!(
        b.mint(&message, vec![twin]).await,
        Err(BridgeError::MalleableSignature(IGridmintBridge::MalleableSignature { index: U256::ZERO }))
    );
    let bad_v = Signature { v: 29, ..good.clone() };
    assert_eq!(
        b.mint(&message, vec![bad_v]).await,
        Err(BridgeError::InvalidSignatureV(IGridmintBridge::InvalidSignatureV { index: U256::ZERO, v: 29 }))
    );
    let zero_r = Signature { r: B256::ZERO, ..good.clone() };
    assert_eq!(
        b.mint(&message, vec![zero_r]).await,
        Err(BridgeError::InvalidSignature(IGridmintBridge::InvalidSignature { index: U256::ZERO }))
    );
    assert_eq!(b.supply().await, U256::ZERO);
    b.mint(&message, vec![good]).await.expect("the canonical signature mints");
}

#[tokio::test]
async fn a_paused_bridge_refuses_mint_and_bridge_out_until_m_of_n_unpause() {
    // goal: any one member can stop the bridge, only M can restart it, and the committee can
    // still be changed while paused; method: pause from one member's account and try everything
    let b = start(3, 2).await;
    let first = b.mint_message(0, b.user, tokens(10));
    b.mint(&first, b.quorum(&first)).await.expect("mint before the pause");

    // an outsider cannot pause
    let paused = b.bridge.pause().send().await.map(|_| ());
    assert_eq!(
        paused.map_err(|e| decode(&e)),
        Err(BridgeError::NotCommitteeMember(IGridmintBridge::NotCommitteeMember { account: b.user }))
    );
    let member = IGridmintBridge::new(b.deployed.bridge, b.member_provider(2).await);
    member.pause().send().await.unwrap().get_receipt().await.unwrap();
    assert!(b.bridge.paused().call().await.unwrap());

    let message = b.mint_message(1, ALICE, tokens(1));
    assert_eq!(b.mint(&message, b.quorum(&message)).await, Err(BridgeError::Paused(IGridmintBridge::Paused {})));
    assert_eq!(
        b.bridge_out(gridmint_address(7), tokens(1)).await,
        Err(BridgeError::Paused(IGridmintBridge::Paused {}))
    );
    assert_eq!((b.supply().await, b.balance(b.user).await), (tokens(10), tokens(10)));

    // one member cannot unpause
    let nonce = b.bridge.nonce().call().await.unwrap();
    let unpause = Unpause { nonce };
    let minority = b.bridge.unpause(nonce, b.sign(&[2], &unpause)).send().await.map(|_| ());
    assert!(matches!(minority.map_err(|e| decode(&e)), Err(BridgeError::NotEnoughSignatures(_))));
    // a committee change is allowed while paused
    let update = CommitteeUpdate { members: addresses(&b.members), threshold: 2, nonce };
    b.bridge
        .updateCommittee(update.members.clone(), 2, nonce, b.quorum(&update))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    // so the unpause must carry the next nonce; the old one is stale
    let stale = b.bridge.unpause(nonce, b.quorum(&unpause)).send().await.map(|_| ());
    assert_eq!(
        stale.map_err(|e| decode(&e)),
        Err(BridgeError::StaleNonce(IGridmintBridge::StaleNonce { given: nonce, expected: nonce + 1 }))
    );
    let unpause = Unpause { nonce: nonce + 1 };
    let signatures = b.quorum(&unpause);
    b.bridge.unpause(nonce + 1, signatures.clone()).send().await.unwrap().get_receipt().await.unwrap();
    assert!(!b.bridge.paused().call().await.unwrap());

    b.mint(&message, b.quorum(&message)).await.expect("mint after unpausing");
    b.bridge_out(gridmint_address(7), tokens(1)).await.expect("bridgeOut after unpausing");

    // a replayed unpause cannot undo a later pause
    member.pause().send().await.unwrap().get_receipt().await.unwrap();
    let replay = b.bridge.unpause(nonce + 1, signatures).send().await.map(|_| ());
    assert!(matches!(replay.map_err(|e| decode(&e)), Err(BridgeError::StaleNonce(_))));
    assert!(b.bridge.paused().call().await.unwrap());
}

#[tokio::test]
async fn amounts_at_the_edges() {
    // goal: 0 is refused, 2^128 - 1 (gridmint's largest amount) passes both ways, 2^128 is
    // refused both ways; method: mint and bridgeOut each edge
    let b = start(3, 2).await;
    assert_eq!(b.bridge.MAX_AMOUNT().call().await.unwrap(), MAX_AMOUNT);
    let zero = b.mint_message(0, b.user, U256::ZERO);
    assert_eq!(b.mint(&zero, b.quorum(&zero)).await, Err(BridgeError::ZeroAmount(IGridmintBridge::ZeroAmount {})));
    let over = b.mint_message(0, b.user, MAX_AMOUNT + U256::from(1));
    assert_eq!(
        b.mint(&over, b.quorum(&over)).await,
        Err(BridgeError::AmountTooLarge(IGridmintBridge::AmountTooLarge {
            amount: MAX_AMOUNT + U256::from(1),
            max: MAX_AMOUNT
        }))
    );
    let max = b.mint_message(0, b.user, MAX_AMOUNT);
    b.mint(&max, b.quorum(&max)).await.expect("the largest amount mints");
    assert_eq!(b.supply().await, MAX_AMOUNT);
    // one unit more, as a second record: each record is capped, the supply is not
    let one = b.mint_message(1, b.user, U256::from(1));
    b.mint(&one, b.quorum(&one)).await.expect("one more unit");
    assert_eq!(b.supply().await, MAX_AMOUNT + U256::from(1));

    assert_eq!(
        b.bridge_out(gridmint_address(7), U256::ZERO).await,
        Err(BridgeError::ZeroAmount(IGridmintBridge::ZeroAmount {}))
    );
    assert!(matches!(
        b.bridge_out(gridmint_address(7), MAX_AMOUNT + U256::from(1)).await,
        Err(BridgeError::AmountTooLarge(_))
    ));
    b.bridge_out(gridmint_address(7), MAX_AMOUNT).await.expect("the largest amount bridges out");
    assert_eq!(b.supply().await, U256::from(1));
    assert_eq!(b.balance(b.user).await, U256::from(1));
    // more than the balance: the token refuses the burn
    let error = b.bridge.bridgeOut(gridmint_address(7), U256::from(2)).send().await.map(|_| ()).unwrap_err();
    let refused = error.as_decoded_interface_error::<TokenError>().expect("a token error");
    assert_eq!(
        refused,
        TokenError::InsufficientBalance(IGridToken::InsufficientBalance {
            from: b.user,
            balance: U256::from(1),
            needed: U256::from(2)
        })
    );
    // a mint to something that is not a left-padded EVM address
    let mut padded = record_recipient(ALICE);
    padded.0[0] = 1;
    let bad = Mint { recipient: padded, ..b.mint_message(2, ALICE, U256::from(1)) };
    assert_eq!(
        b.mint(&bad, b.quorum(&bad)).await,
        Err(BridgeError::RecipientNotEvmAddress(IGridmintBridge::RecipientNotEvmAddress { recipient: padded }))
    );
}

#[tokio::test]
async fn a_deposit_below_the_minimum_is_refused() {
    // goal: a dust deposit (it would cost every member an attestation on gridmint) is refused,
    // one unit less than the minimum too, and exactly the minimum passes; method: deploy with a
    // minimum of 1,000 base units, mint the user 5,000, deposit at the edges
    let b = start_with_minimum(3, 2, 1_000).await;
    assert_eq!(b.bridge.minDeposit().call().await.unwrap(), U256::from(1_000));
    let funds = b.mint_message(0, b.user, U256::from(5_000));
    b.mint(&funds, b.quorum(&funds)).await.expect("mint");
    for dust in [1u64, 999] {
        assert_eq!(
            b.bridge_out(gridmint_address(7), U256::from(dust)).await,
            Err(BridgeError::BelowMinimumDeposit(IGridmintBridge::BelowMinimumDeposit {
                amount: U256::from(dust),
                minimum: U256::from(1_000)
            }))
        );
    }
    assert_eq!(b.balance(b.user).await, U256::from(5_000), "a refused deposit burns nothing");
    assert_eq!(b.bridge.bridgeOut(gridmint_address(7), U256::from(1_000)).call().await.unwrap(), 1, "deposit id 1");
    b.bridge_out(gridmint_address(7), U256::from(1_000)).await.expect("exactly the minimum");
    assert_eq!(b.supply().await, U256::from(4_000));
}

#[tokio::test]
async fn bridge_out_burns_and_emits_increasing_deposit_ids() {
    // goal: each bridgeOut burns the caller's tokens and gets the next deposit id (1, 2, 3...),
    // and recipients gridmint could never pay are refused; method: three deposits, read the events
    let b = start(3, 2).await;
    let message = b.mint_message(0, b.user, tokens(100));
    b.mint(&message, b.quorum(&message)).await.expect("mint");
    assert_eq!(b.bridge.nextDepositId().call().await.unwrap(), 1);
    // the call's return value is the id the deposit would get
    assert_eq!(b.bridge.bridgeOut(gridmint_address(1), tokens(1)).call().await.unwrap(), 1);
    for (i, amount) in [tokens(10), tokens(20), U256::from(1)].into_iter().enumerate() {
        b.bridge_out(gridmint_address(i as u8 + 1), amount).await.expect("bridgeOut");
    }
    let events = b.bridge.BridgeOut_filter().from_block(0).query().await.unwrap();
    let seen: Vec<(u64, Address, B256, U256)> =
        events.iter().map(|(e, _)| (e.depositId, e.from, e.gridmintRecipient, e.amount)).collect();
    assert_eq!(
        seen,
        vec![
            (1, b.user, gridmint_address(1), tokens(10)),
            (2, b.user, gridmint_address(2), tokens(20)),
            (3, b.user, gridmint_address(3), U256::from(1)),
        ]
    );
    assert_eq!(b.bridge.nextDepositId().call().await.unwrap(), 4);
    let left = tokens(70) - U256::from(1);
    assert_eq!((b.supply().await, b.balance(b.user).await), (left, left));
    // the burns are Transfers to the zero address
    let burns = b.token.Transfer_filter().topic2(Address::ZERO).from_block(0).query().await.unwrap();
    assert_eq!(burns.len(), 3);

    // weak ed25519 keys (gridmint refuses to pay them): all 14 encodings gridmint flags (the
    // seven small-order y values, each with either sign bit)
    let weak_keys: Vec<B256> = gridmint_core::Address::weak_keys().iter().map(|a| B256::from(a.0)).collect();
    assert_eq!(weak_keys.len(), 14);
    for weak in weak_keys {
        assert_eq!(
            b.bridge_out(weak, tokens(1)).await,
            Err(BridgeError::InvalidGridmintRecipient(IGridmintBridge::InvalidGridmintRecipient { recipient: weak }))
        );
    }
    assert_eq!(b.bridge.nextDepositId().call().await.unwrap(), 4);
    assert_eq!(b.supply().await, left);
}

#[tokio::test]
async fn a_committee_change_needs_m_of_n_and_retires_the_old_keys() {
    // goal: the committee changes only with M of the current members, once per nonce, and the
    // old members' signatures stop counting; method: rotate a 2-of-3 to a new 3-of-4
    let b = start(3, 2).await;
    let new = committee("rotated", 4);
    let update = CommitteeUpdate { members: addresses(&new), threshold: 3, nonce: 0 };
    let digest = b.bridge.hashCommitteeUpdate(update.members.clone(), 3, 0).call().await.unwrap();
    assert_eq!(digest, update.eip712_signing_hash(&b.domain()), "address[] hashes alike in alloy and Solidity");

    // a minority, and a mint signature replayed as an update, are refused
    let send = |signatures: Vec<Signature>, nonce: u64| {
        let call = b.bridge.updateCommittee(update.members.clone(), 3, nonce, signatures);
        async move { confirmed(call.send().await).await }
    };
    assert!(matches!(send(b.sign(&[0], &update), 0).await, Err(BridgeError::NotEnoughSignatures(_))));
    let mint = b.mint_message(0, ALICE, tokens(1));
    assert!(matches!(send(b.quorum(&mint), 0).await, Err(BridgeError::NotCommitteeMember(_))));
    // invalid new committees
    let invalid = |members: Vec<Address>, threshold: u32| {
        let update = CommitteeUpdate { members: members.clone(), threshold, nonce: 0 };
        let call = b.bridge.updateCommittee(members, threshold, 0, b.quorum(&update));
        async move { confirmed(call.send().await).await }
    };
    assert!(matches!(invalid(addresses(&new), 0).await, Err(BridgeError::InvalidThreshold(_))));
    assert!(matches!(invalid(addresses(&new), 5).await, Err(BridgeError::InvalidThreshold(_))));
    let mut unsorted = addresses(&new);
    unsorted.swap(0, 1);
    assert!(matches!(invalid(unsorted, 2).await, Err(BridgeError::MembersNotAscending(e)) if e.index == U256::from(1)));
    assert!(matches!(invalid(vec![Address::ZERO], 1).await, Err(BridgeError::MembersNotAscending(_))));
    assert!(matches!(
        invalid(vec![new[0].address(), new[0].address()], 1).await,
        Err(BridgeError::MembersNotAscending(_))
    ));
    assert_eq!(b.bridge.committee().call().await.unwrap(), addresses(&b.members));

    // M of the current committee
    send(b.sign(&[1, 2], &update), 0).await.expect("update");
    assert_eq!(b.bridge.committee().call().await.unwrap(), addresses(&new));
    assert_eq!((b.bridge.threshold().call().await.unwrap(), b.bridge.nonce().call().await.unwrap()), (3, 1));
    for old in &b.members {
        assert!(!b.bridge.isMember(old.address()).call().await.unwrap());
    }
    let changed = b.bridge.CommitteeChanged_filter().from_block(0).query().await.unwrap();
    assert_eq!((changed.len(), changed[0].0.nonce, changed[0].0.threshold), (1, 0, 3));
    // the same update again: stale nonce
    assert_eq!(
        send(b.sign(&[1, 2], &update), 0).await,
        Err(BridgeError::StaleNonce(IGridmintBridge::StaleNonce { given: 0, expected: 1 }))
    );

    // the old committee can no longer mint, even all three of them
    let refused = b.mint(&mint, b.sign(&[0, 1, 2], &mint)).await;
    assert!(matches!(refused, Err(BridgeError::NotCommitteeMember(e)) if e.account == b.members[0].address()));
    // the new one, with its new threshold
    let domain = b.domain();
    let by_new =
        |which: &[usize]| sorted_signatures(which.iter().map(|&i| new[i].sign(&mint, &domain).unwrap()).collect());
    assert!(matches!(b.mint(&mint, by_new(&[0, 1])).await, Err(BridgeError::NotEnoughSignatures(_))));
    b.mint(&mint, by_new(&[0, 2, 3])).await.expect("mint by the new committee");
    assert_eq!(b.supply().await, tokens(1));
}

#[tokio::test]
async fn only_the_bridge_mints_and_burns_the_token() {
    // goal: no account but the bridge can create or destroy tokens; method: call the token's
    // mint and burn directly, then check the ERC-20 basics the bridge relies on
    let b = start(3, 2).await;
    assert_eq!(b.token.bridge().call().await.unwrap(), b.deployed.bridge);
    assert_eq!(b.token.decimals().call().await.unwrap(), 18);
    assert_eq!(b.token.symbol().call().await.unwrap(), "NMT");
    let message = b.mint_message(0, b.user, tokens(5));
    b.mint(&message, b.quorum(&message)).await.expect("mint");

    let not_bridge = |e: alloy::contract::Error| e.as_decoded_interface_error::<TokenError>();
    let minted = b.token.mint(b.user, tokens(1)).send().await.map(|_| ()).map_err(not_bridge);
    assert_eq!(minted, Err(Some(TokenError::NotBridge(IGridToken::NotBridge {}))));
    let burned = b.token.burn(b.user, tokens(1)).send().await.map(|_| ()).map_err(not_bridge);
    assert_eq!(burned, Err(Some(TokenError::NotBridge(IGridToken::NotBridge {}))));
    // nor a committee member
    let member = IGridToken::new(b.deployed.token, b.member_provider(0).await);
    let minted = member.mint(b.user, tokens(1)).send().await.map(|_| ()).map_err(not_bridge);
    assert_eq!(minted, Err(Some(TokenError::NotBridge(IGridToken::NotBridge {}))));
    assert_eq!(b.supply().await, tokens(5));

    // transfers move balances and keep the supply
    b.token.transfer(ALICE, tokens(2)).send().await.unwrap().get_receipt().await.unwrap();
    assert_eq!((b.balance(b.user).await, b.balance(ALICE).await, b.supply().await), (tokens(3), tokens(2), tokens(5)));
    let too_much = b.token.transfer(ALICE, tokens(4)).send().await.map(|_| ()).map_err(not_bridge);
    assert!(matches!(too_much, Err(Some(TokenError::InsufficientBalance(_)))));
    let to_zero = b.token.transfer(Address::ZERO, tokens(1)).send().await.map(|_| ()).map_err(not_bridge);
    assert_eq!(to_zero, Err(Some(TokenError::ZeroAddress(IGridToken::ZeroAddress {}))));
    // transferFrom spends the allowance
    let spender_key: PrivateKeySigner = b.anvil.private_keys()[1].parse().unwrap();
    let spender_address = spender_key.address();
    let spender = IGridToken::new(b.deployed.token, provider_for(&b.anvil, spender_key).await);
    b.token.approve(spender_address, tokens(1)).send().await.unwrap().get_receipt().await.unwrap();
    let over = spender.transferFrom(b.user, ALICE, tokens(2)).send().await.map(|_| ()).map_err(not_bridge);
    assert!(matches!(over, Err(Some(TokenError::InsufficientAllowance(_)))));
    spender.transferFrom(b.user, ALICE, tokens(1)).send().await.unwrap().get_receipt().await.unwrap();
    assert_eq!(b.token.allowance(b.user, spender_address).call().await.unwrap(), U256::ZERO);
    assert_eq!(b.balance(ALICE).await, tokens(3));
}

#[tokio::test]
async fn gas_per_mint_and_per_burn() {
    // goal: pin the gas a mint (2 of 3, and 3 of 5) and a bridgeOut cost, so a change that makes
    // them much dearer fails here; method: read the receipts (figures in docs/PERFORMANCE.md)
    let b = start(3, 2).await;
    let first = b.mint_message(0, b.user, tokens(10));
    let first_mint = b.mint(&first, b.quorum(&first)).await.unwrap();
    // the second mint to the same holder: no fresh balance slot
    let second = b.mint_message(1, b.user, tokens(10));
    let second_mint = b.mint(&second, b.quorum(&second)).await.unwrap();
    let first_burn = b.bridge_out(gridmint_address(9), tokens(1)).await.unwrap();
    let second_burn = b.bridge_out(gridmint_address(9), tokens(1)).await.unwrap();
    let five = start(5, 3).await;
    let third = five.mint_message(0, five.user, tokens(10));
    let mint_3_of_5 = five.mint(&third, five.quorum(&third)).await.unwrap();
    println!(
        "gas: mint 2-of-3 first {first_mint}, next {second_mint}; mint 3-of-5 {mint_3_of_5}; \
         bridgeOut first {first_burn}, next {second_burn}"
    );
    assert!(first_mint < 150_000 && second_mint < first_mint, "mint: {first_mint}, {second_mint}");
    assert!(mint_3_of_5 > first_mint && mint_3_of_5 < 160_000, "3-of-5 mint: {mint_3_of_5}");
    assert!(first_burn < 90_000 && second_burn <= first_burn, "bridgeOut: {first_burn}, {second_burn}");
}

#[tokio::test]
async fn after_a_chain_id_change_only_signatures_for_the_new_chain_count() {
    // goal: the domain follows block.chainid (a fork that changes the chain id must not accept
    // signatures made for the old one); method: anvil_setChainId, then mint with each domain
    let b = start(3, 2).await;
    let message = b.mint_message(0, ALICE, tokens(1));
    let for_old_chain = b.quorum(&message);
    let new_chain_id = EVM_CHAIN_ID + 100;
    let _: serde_json::Value = b.provider.raw_request("anvil_setChainId".into(), (new_chain_id,)).await.unwrap();
    // a provider that learns the new chain id (transactions are signed for it)
    let user_key: PrivateKeySigner = b.anvil.private_keys()[0].parse().unwrap();
    let bridge = IGridmintBridge::new(b.deployed.bridge, provider_for(&b.anvil, user_key).await);
    let new_domain = domain(new_chain_id, b.deployed.bridge);
    assert_eq!(bridge.domainSeparator().call().await.unwrap(), new_domain.separator());

    let mint = |signatures: Vec<Signature>| {
        let call = bridge.mint(message.outboundId, message.recipient, message.amount, signatures);
        async move { confirmed(call.send().await).await }
    };
    assert!(matches!(mint(for_old_chain).await, Err(BridgeError::NotCommitteeMember(_))));
    let for_new_chain =
        sorted_signatures(b.members[..2].iter().map(|m| m.sign(&message, &new_domain).unwrap()).collect());
    mint(for_new_chain).await.expect("signatures for the new chain id");
    assert_eq!(b.supply().await, tokens(1));
}

#[tokio::test]
async fn anvil_answers_on_the_port_it_printed_and_is_gone_after_drop() {
    // goal: the spawner's contract: the parsed address serves the chosen chain id, the banner's
    // keys are funded, and dropping the guard ends the process; method: ask it, drop it, look
    // for the pid
    let anvil = Anvil::spawn(EVM_CHAIN_ID + 7).unwrap_or_else(|e| panic!("{e}"));
    let key: PrivateKeySigner = anvil.private_keys()[0].parse().unwrap();
    let address = key.address();
    let provider = provider_for(&anvil, key).await;
    assert_eq!(provider.get_chain_id().await.unwrap(), EVM_CHAIN_ID + 7);
    assert!(provider.get_balance(address).await.unwrap() > U256::ZERO);
    assert_eq!(anvil.private_keys().len(), 4);
    let pid = anvil.pid();
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    assert!(proc_dir.exists());
    drop(anvil);
    assert!(!proc_dir.exists(), "anvil {pid} still runs after drop");
}
