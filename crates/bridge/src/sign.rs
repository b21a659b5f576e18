//! What a committee member signs, and how signatures are handed to the bridge contract.
//!
//! Every message is EIP-712 typed data under the domain {name "GridmintBridge", version "1", the
//! EVM chain id, the bridge's address} ([`domain`]); a `Mint` also names the gridmint chain
//! ([`gridmint_chain_tag`]). So a signature is good for one EVM chain, one bridge contract and one
//! gridmint chain, and a signature over one message type is never valid as another (each type has
//! its own type hash). The contract wants signatures sorted by signer address, strictly
//! ascending: [`sorted_signatures`].

use crate::contracts::IGridmintBridge;
use alloy::primitives::{Address, B256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{Eip712Domain, SolStruct, eip712_domain};

/// The EIP-712 domain of the bridge at `bridge` on EVM chain `evm_chain_id`.
pub fn domain(evm_chain_id: u64, bridge: Address) -> Eip712Domain {
    eip712_domain! {
        name: "GridmintBridge",
        version: "1",
        chain_id: evm_chain_id,
        verifying_contract: bridge,
    }
}

/// The 32 bytes that name a gridmint chain to the bridge: blake3 of its chain id (the same tag
/// gridmint's snapshots use).
pub fn gridmint_chain_tag(chain_id: &str) -> B256 {
    B256::from(*blake3::hash(chain_id.as_bytes()).as_bytes())
}

/// An EVM address as a gridmint outbound record's recipient: left-padded to 32 bytes.
pub fn record_recipient(address: Address) -> B256 {
    address.into_word()
}

/// The EVM address of an outbound record's recipient, if it is one (the top 12 bytes zero and not
/// the zero address); the contract refuses any other.
pub fn evm_recipient(recipient: [u8; 32]) -> Option<Address> {
    let (pad, address) = recipient.split_at(12);
    if pad.iter().any(|&b| b != 0) || address.iter().all(|&b| b == 0) {
        return None;
    }
    Some(Address::from_slice(address))
}

/// A committee member's EVM key (secp256k1).
#[derive(Clone, Debug)]
pub struct CommitteeKey {
    signer: PrivateKeySigner,
}

/// One member's signature, with who signed (to sort by).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSignature {
    /// The member's address.
    pub signer: Address,
    /// The signature as the contract takes it: v in {27, 28}, low s.
    pub signature: IGridmintBridge::Signature,
}

impl CommitteeKey {
    /// The member holding `signer`.
    pub fn new(signer: PrivateKeySigner) -> Self {
        CommitteeKey { signer }
    }

    /// A deterministic key derived from `label` (keccak256): for tests and dev chains only,
    /// never for real funds.
    pub fn insecure_from_label(label: &str) -> Self {
        let mut seed = keccak256(label.as_bytes());
        loop {
            // a hash is a valid secp256k1 scalar except with probability about 2^-128
            if let Ok(signer) = PrivateKeySigner::from_bytes(&seed) {
                return CommitteeKey { signer };
            }
            seed = keccak256(seed);
        }
    }

    /// The member's EVM address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The member's key, to send transactions with (e.g. `pause`).
    pub fn signer(&self) -> &PrivateKeySigner {
        &self.signer
    }

    /// Signs `message` (a [`crate::contracts::Mint`], `CommitteeUpdate` or `Unpause`) under `domain`.
    pub fn sign<T: SolStruct>(
        &self,
        message: &T,
        domain: &Eip712Domain,
    ) -> Result<MemberSignature, alloy::signers::Error> {
        let signature = self.signer.sign_typed_data_sync(message, domain)?;
        Ok(MemberSignature {
            signer: self.address(),
            signature: IGridmintBridge::Signature {
                v: 27 + u8::from(signature.v()),
                r: B256::from(signature.r()),
                s: B256::from(signature.s()),
            },
        })
    }
}

/// The signatures in the order the contract requires: by signer address, ascending.
pub fn sorted_signatures(mut signatures: Vec<MemberSignature>) -> Vec<IGridmintBridge::Signature> {
    signatures.sort_by_key(|s| s.signer);
    signatures.into_iter().map(|s| s.signature).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::Mint;
    use alloy::primitives::{U256, address};

    #[test]
    fn recipients_round_trip_and_padding_is_checked() {
        // goal: an EVM address survives the outbound record's 32 bytes, and only it; method:
        // pad, unpad, then break the padding and the address
        let evm = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
        let record = record_recipient(evm);
        assert_eq!(&record[..12], &[0u8; 12]);
        assert_eq!(evm_recipient(record.0), Some(evm));
        let mut high = record.0;
        high[11] = 1;
        assert_eq!(evm_recipient(high), None, "a non-zero pad byte");
        assert_eq!(evm_recipient([0; 32]), None, "the zero address");
    }

    #[test]
    fn signatures_are_canonical_and_sorted_by_signer() {
        // goal: what members hand to the contract passes its low-s, v and order checks; method:
        // sign with three keys, check each signature and the order sorted_signatures gives
        let domain = domain(31337, Address::repeat_byte(0x42));
        let message = Mint {
            gridmintChain: gridmint_chain_tag("t"),
            outboundId: 3,
            recipient: B256::ZERO,
            amount: U256::from(5),
        };
        let keys: Vec<CommitteeKey> = (0..3).map(|i| CommitteeKey::insecure_from_label(&format!("k{i}"))).collect();
        assert_eq!(keys[0].address(), CommitteeKey::insecure_from_label("k0").address(), "deterministic");
        let signed: Vec<MemberSignature> = keys.iter().map(|k| k.sign(&message, &domain).unwrap()).collect();
        let hash = message.eip712_signing_hash(&domain);
        for s in &signed {
            assert!(s.signature.v == 27 || s.signature.v == 28);
            let sig =
                alloy::primitives::Signature::new(s.signature.r.into(), s.signature.s.into(), s.signature.v == 28);
            assert!(sig.normalize_s().is_none(), "low s");
            assert_eq!(sig.recover_address_from_prehash(&hash).unwrap(), s.signer);
        }
        let mut by_address = signed.clone();
        by_address.sort_by_key(|s| s.signer);
        let sorted = sorted_signatures(signed);
        assert_eq!(sorted, by_address.into_iter().map(|s| s.signature).collect::<Vec<_>>());
    }

    #[test]
    fn the_gridmint_chain_tag_is_blake3_of_the_chain_id() {
        // goal: the tag equals gridmint's snapshot chain tag (blake3 of the id); method: a known vector
        assert_eq!(gridmint_chain_tag("").0, *blake3::hash(b"").as_bytes());
        assert_ne!(gridmint_chain_tag("netmind-1"), gridmint_chain_tag("netmind-2"));
    }
}
