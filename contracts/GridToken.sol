// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title The bridged gridmint token on an EVM chain (NM13).
/// @notice A minimal ERC-20 with 18 decimals: one base unit here is one base unit on gridmint.
/// Only the bridge that deployed it may mint and burn; there is no owner and no other way to
/// create or destroy tokens, so the total supply is exactly what the bridge minted minus what it
/// burned (= gridmint's bridge escrow once every transfer has settled).
contract GridToken {
    /// The caller is not the bridge.
    error NotBridge();
    /// `from` holds `balance`, less than `needed`.
    error InsufficientBalance(address from, uint256 balance, uint256 needed);
    /// `spender` may move `allowed` of `owner`'s tokens, less than `needed`.
    error InsufficientAllowance(address owner, address spender, uint256 allowed, uint256 needed);
    /// Tokens cannot be sent to, minted to or approved for the zero address.
    error ZeroAddress();

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    /// The bridge contract: the only minter and burner (the deployer).
    address public immutable bridge;
    uint8 public constant decimals = 18;
    string public name;
    string public symbol;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    constructor(string memory name_, string memory symbol_) {
        bridge = msg.sender;
        name = name_;
        symbol = symbol_;
    }

    modifier onlyBridge() {
        if (msg.sender != bridge) revert NotBridge();
        _;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        if (spender == address(0)) revert ZeroAddress();
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert InsufficientAllowance(from, msg.sender, allowed, value);
            allowance[from][msg.sender] = allowed - value;
        }
        _move(from, to, value);
        return true;
    }

    /// Creates `value` tokens for `to`. Bridge only.
    function mint(address to, uint256 value) external onlyBridge {
        if (to == address(0)) revert ZeroAddress();
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    /// Destroys `value` of `from`'s tokens, with no allowance: the bridge burns only what the
    /// holder itself sends through `bridgeOut`. Bridge only.
    function burn(address from, uint256 value) external onlyBridge {
        uint256 balance = balanceOf[from];
        if (balance < value) revert InsufficientBalance(from, balance, value);
        balanceOf[from] = balance - value;
        totalSupply -= value;
        emit Transfer(from, address(0), value);
    }

    function _move(address from, address to, uint256 value) private {
        if (to == address(0)) revert ZeroAddress();
        uint256 balance = balanceOf[from];
        if (balance < value) revert InsufficientBalance(from, balance, value);
        balanceOf[from] = balance - value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
