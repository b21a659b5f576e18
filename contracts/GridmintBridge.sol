// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {GridToken} from "./GridToken.sol";

/// @title The EVM half of gridmint's bridge (NM13).
/// @notice gridmint → EVM: the committee signs a gridmint outbound record (EIP-712 typed data);
/// with signatures of at least `threshold` current members, `mint` creates the tokens, once per
/// record id. EVM → gridmint: `bridgeOut` burns the caller's tokens and emits `BridgeOut` with a
/// new deposit id (1, 2, 3, ...), which the committee attests on gridmint.
///
/// Signatures: EIP-712, domain {name "GridmintBridge", version "1", chainId, verifyingContract}; the
/// gridmint chain (blake3 of its chain id, fixed at deployment) is a field of every `Mint`, so a
/// signature is valid for one EVM chain, one bridge contract and one gridmint chain. Signatures
/// are given sorted by signer address, strictly ascending (which refuses a duplicate without
/// storage), with v in {27, 28} and a low s (EIP-2: no malleable twin).
///
/// Committee changes and unpausing need signatures of `threshold` current members over a message
/// carrying `nonce`, which each such action increments: an old message cannot be replayed. Any
/// single member may pause (an emergency stop must be fast); while paused, `mint` and `bridgeOut`
/// are refused and committee changes still work, so a member who keeps pausing can be removed.
contract GridmintBridge {
    struct Signature {
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// The bridge is paused: no mint and no bridgeOut.
    error Paused();
    /// `unpause` on a bridge that is not paused.
    error NotPaused();
    /// An amount of 0.
    error ZeroAmount();
    error BelowMinimumDeposit(uint256 amount, uint256 minimum);
    /// `amount` is above `max` (2^128 - 1: gridmint's amounts are u128).
    error AmountTooLarge(uint256 amount, uint256 max);
    /// The outbound record `outboundId` was already minted.
    error AlreadyMinted(uint64 outboundId);
    /// A record's recipient is not a left-padded EVM address (non-zero top 12 bytes, or zero).
    error RecipientNotEvmAddress(bytes32 recipient);
    /// A gridmint recipient gridmint would refuse to pay: zero or a small-order (weak) key.
    error InvalidGridmintRecipient(bytes32 recipient);
    /// Signature `index` has a v other than 27 or 28.
    error InvalidSignatureV(uint256 index, uint8 v);
    /// Signature `index` has a high s (the malleable twin of a valid signature).
    error MalleableSignature(uint256 index);
    /// Signature `index` recovers no address.
    error InvalidSignature(uint256 index);
    /// Signature `index`'s signer is not above the previous one's: not sorted, or a duplicate.
    error SignersNotAscending(uint256 index, address signer);
    /// `account` is not a member of the current committee.
    error NotCommitteeMember(address account);
    /// `valid` member signatures, fewer than `threshold`.
    error NotEnoughSignatures(uint256 valid, uint256 threshold);
    /// A signed action for `given`, but the bridge expects `expected`.
    error StaleNonce(uint64 given, uint64 expected);
    /// A committee whose threshold is not between 1 and its size.
    error InvalidThreshold(uint32 threshold, uint256 members);
    /// Member `index` is zero or not above the previous one (members must be strictly ascending).
    error MembersNotAscending(uint256 index);
    /// More members than `max`.
    error TooManyMembers(uint256 count, uint256 max);

    event Minted(uint64 indexed outboundId, address indexed recipient, uint256 amount);
    event BridgeOut(uint64 indexed depositId, address indexed from, bytes32 gridmintRecipient, uint256 amount);
    event CommitteeChanged(uint64 indexed nonce, address[] members, uint32 threshold);
    event PausedBy(address indexed member);
    event Unpaused(uint64 indexed nonce);

    uint256 public constant MAX_AMOUNT = type(uint128).max;
    /// The smallest `bridgeOut`: each deposit costs every committee member an attestation on
    /// gridmint, so a dust deposit must not buy that for the gas of one call (gridmint's
    /// `bridge.outbound_min` is the same bound the other way).
    uint256 public immutable minDeposit;
    uint256 public constant MAX_MEMBERS = 64;
    /// secp256k1's group order divided by 2: a valid s is at most this (EIP-2).
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("GridmintBridge");
    bytes32 private constant VERSION_HASH = keccak256("1");
    bytes32 public constant MINT_TYPEHASH =
        keccak256("Mint(bytes32 gridmintChain,uint64 outboundId,bytes32 recipient,uint256 amount)");
    bytes32 public constant COMMITTEE_UPDATE_TYPEHASH =
        keccak256("CommitteeUpdate(address[] members,uint32 threshold,uint64 nonce)");
    bytes32 public constant UNPAUSE_TYPEHASH = keccak256("Unpause(uint64 nonce)");

    /// The token this bridge mints and burns (deployed by the constructor).
    GridToken public immutable token;
    /// blake3 of the gridmint chain id whose outbound records this bridge mints.
    bytes32 public immutable gridmintChain;
    uint256 private immutable cachedChainId;
    bytes32 private immutable cachedDomainSeparator;

    address[] private members;
    mapping(address => bool) public isMember;
    uint32 public threshold;
    /// The nonce the next committee change or unpause must carry.
    uint64 public nonce;
    bool public paused;
    /// The id the next `bridgeOut` gets; ids start at 1.
    uint64 public nextDepositId = 1;
    /// Whether outbound record `id` was minted.
    mapping(uint64 => bool) public minted;

    constructor(
        bytes32 gridmintChain_,
        address[] memory members_,
        uint32 threshold_,
        string memory tokenName,
        string memory tokenSymbol,
        uint256 minDeposit_
    ) {
        gridmintChain = gridmintChain_;
        minDeposit = minDeposit_;
        cachedChainId = block.chainid;
        cachedDomainSeparator = _buildDomainSeparator();
        token = new GridToken(tokenName, tokenSymbol);
        _setCommittee(members_, threshold_);
    }

    // ---- gridmint → EVM

    /// Mints `amount` to `recipient` (a left-padded EVM address) for gridmint outbound record
    /// `outboundId`, given signatures of at least `threshold` committee members over it.
    function mint(uint64 outboundId, bytes32 recipient, uint256 amount, Signature[] calldata signatures) external {
        if (paused) revert Paused();
        _checkAmount(amount);
        if (minted[outboundId]) revert AlreadyMinted(outboundId);
        if (uint256(recipient) >> 160 != 0 || recipient == bytes32(0)) revert RecipientNotEvmAddress(recipient);
        _checkSignatures(hashMint(outboundId, recipient, amount), signatures);
        minted[outboundId] = true;
        address to = address(uint160(uint256(recipient)));
        token.mint(to, amount);
        emit Minted(outboundId, to, amount);
    }

    // ---- EVM → gridmint

    /// Burns `amount` of the caller's tokens and emits `BridgeOut` with a new deposit id; the
    /// committee then pays `gridmintRecipient` (a gridmint address, 32 bytes) on gridmint.
    function bridgeOut(bytes32 gridmintRecipient, uint256 amount) external returns (uint64 depositId) {
        if (paused) revert Paused();
        _checkAmount(amount);
        if (amount < minDeposit) revert BelowMinimumDeposit(amount, minDeposit);
        if (_isWeakKey(gridmintRecipient)) revert InvalidGridmintRecipient(gridmintRecipient);
        depositId = nextDepositId++;
        token.burn(msg.sender, amount);
        emit BridgeOut(depositId, msg.sender, gridmintRecipient, amount);
    }

    // ---- the committee

    /// Replaces the committee, given signatures of at least `threshold` current members over
    /// (newMembers, newThreshold, nonce). Allowed while paused.
    function updateCommittee(
        address[] calldata newMembers,
        uint32 newThreshold,
        uint64 givenNonce,
        Signature[] calldata signatures
    ) external {
        if (givenNonce != nonce) revert StaleNonce(givenNonce, nonce);
        _checkSignatures(hashCommitteeUpdate(newMembers, newThreshold, givenNonce), signatures);
        nonce = givenNonce + 1;
        uint256 count = members.length;
        for (uint256 i = 0; i < count; i++) {
            isMember[members[i]] = false;
        }
        _setCommittee(newMembers, newThreshold);
        emit CommitteeChanged(givenNonce, newMembers, newThreshold);
    }

    /// Pauses the bridge. Any single committee member may (a fast emergency stop).
    function pause() external {
        if (!isMember[msg.sender]) revert NotCommitteeMember(msg.sender);
        if (paused) return;
        paused = true;
        emit PausedBy(msg.sender);
    }

    /// Unpauses the bridge, given signatures of at least `threshold` members over `nonce`.
    function unpause(uint64 givenNonce, Signature[] calldata signatures) external {
        if (!paused) revert NotPaused();
        if (givenNonce != nonce) revert StaleNonce(givenNonce, nonce);
        _checkSignatures(hashUnpause(givenNonce), signatures);
        nonce = givenNonce + 1;
        paused = false;
        emit Unpaused(givenNonce);
    }

    function committee() external view returns (address[] memory) {
        return members;
    }

    // ---- EIP-712

    function domainSeparator() public view returns (bytes32) {
        return block.chainid == cachedChainId ? cachedDomainSeparator : _buildDomainSeparator();
    }

    /// The digest the committee signs for outbound record (outboundId, recipient, amount).
    function hashMint(uint64 outboundId, bytes32 recipient, uint256 amount) public view returns (bytes32) {
        return _digest(keccak256(abi.encode(MINT_TYPEHASH, gridmintChain, outboundId, recipient, amount)));
    }

    function hashCommitteeUpdate(address[] calldata newMembers, uint32 newThreshold, uint64 givenNonce)
        public
        view
        returns (bytes32)
    {
        bytes32 membersHash = keccak256(abi.encodePacked(newMembers));
        return _digest(keccak256(abi.encode(COMMITTEE_UPDATE_TYPEHASH, membersHash, newThreshold, givenNonce)));
    }

    function hashUnpause(uint64 givenNonce) public view returns (bytes32) {
        return _digest(keccak256(abi.encode(UNPAUSE_TYPEHASH, givenNonce)));
    }

    // ---- internals

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    function _digest(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function _checkAmount(uint256 amount) private pure {
        if (amount == 0) revert ZeroAmount();
        if (amount > MAX_AMOUNT) revert AmountTooLarge(amount, MAX_AMOUNT);
    }

    /// Every signature must be a current member's, signers strictly ascending; at least
    /// `threshold` of them.
    function _checkSignatures(bytes32 digest, Signature[] calldata signatures) private view {
        address last = address(0);
        uint256 count = signatures.length;
        for (uint256 i = 0; i < count; i++) {
            Signature calldata sig = signatures[i];
            if (sig.v != 27 && sig.v != 28) revert InvalidSignatureV(i, sig.v);
            if (uint256(sig.s) > HALF_ORDER) revert MalleableSignature(i);
            address signer = ecrecover(digest, sig.v, sig.r, sig.s);
            if (signer == address(0)) revert InvalidSignature(i);
            if (signer <= last) revert SignersNotAscending(i, signer);
            if (!isMember[signer]) revert NotCommitteeMember(signer);
            last = signer;
        }
        if (count < threshold) revert NotEnoughSignatures(count, threshold);
    }

    function _setCommittee(address[] memory newMembers, uint32 newThreshold) private {
        uint256 count = newMembers.length;
        if (count > MAX_MEMBERS) revert TooManyMembers(count, MAX_MEMBERS);
        if (newThreshold == 0 || newThreshold > count) revert InvalidThreshold(newThreshold, count);
        address last = address(0);
        for (uint256 i = 0; i < count; i++) {
            if (newMembers[i] <= last) revert MembersNotAscending(i);
            last = newMembers[i];
            isMember[last] = true;
        }
        members = newMembers;
        threshold = newThreshold;
    }

    /// gridmint's `Address::is_weak_key`: with the sign bit cleared, y is one of the seven values
    /// that decode to a small-order ed25519 point. gridmint refuses to pay such a recipient, so a
    /// burn for one would leave its tokens in the escrow for ever.
    function _isWeakKey(bytes32 key) private pure returns (bool) {
        bytes32 y = key & ~bytes32(uint256(0x80));
        return y == bytes32(0)
            || y == 0x0100000000000000000000000000000000000000000000000000000000000000
            || y == 0xecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f
            || y == 0xedffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f
            || y == 0xeeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f
            || y == 0x26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05
            || y == 0xc7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a;
    }
}
