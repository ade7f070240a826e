// SPDX-License-Identifier: LicenseRef-Proprietary
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

import {IComplianceOracle} from "./IComplianceOracle.sol";
import {RestrictionMessages} from "./RestrictionMessages.sol";

/// @title Reference security token (ERC-20 + ERC-1404) gated by the ComplianceShield oracle.
/// @notice Every transfer between holders consumes a compliance approval: either one the
/// service recorded on the oracle (plain `transfer` / `transferFrom`) or an EIP-712 certificate
/// the caller presents (`transferWithCertificate` / `transferFromWithCertificate`). Without one
/// the transfer reverts with `TransferRestricted(code)`, the API's restriction code.
/// Issuance and redemption (`mint` / `burn`) are the issuer's and skip approvals, not freezes.
contract SecurityToken is ERC20, AccessControl {
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    IComplianceOracle public immutable oracle;
    uint8 private immutable _decimals;

    /// @notice Emitted right before the Transfer it authorizes: `nonce` is the approving check's id.
    event ComplianceConsumed(address indexed from, address indexed to, uint256 amount, uint256 nonce);

    error TransferRestricted(uint8 code);

    constructor(string memory name_, string memory symbol_, uint8 decimals_, IComplianceOracle oracle_, address admin)
        ERC20(name_, symbol_)
    {
        oracle = oracle_;
        _decimals = decimals_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ISSUER_ROLE, admin);
    }

    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    // -- ERC-1404 -------------------------------------------------------------------------------

    function detectTransferRestriction(address from, address to, uint256 amount) external view returns (uint8) {
        if (balanceOf(from) < amount) return RestrictionMessages.INSUFFICIENT_BALANCE;
        return oracle.detectTransferRestrictionFor(address(this), from, to, amount);
    }

    function messageForTransferRestriction(uint8 code) external view returns (string memory) {
        return oracle.messageForTransferRestriction(code);
    }

    // -- transfers ------------------------------------------------------------------------------

    function transfer(address to, uint256 amount) public override returns (bool) {
        _consumeApproval(msg.sender, to, amount);
        return super.transfer(to, amount);
    }

    function transferFrom(address from, address to, uint256 amount) public override returns (bool) {
        _consumeApproval(from, to, amount);
        return super.transferFrom(from, to, amount);
    }

    function transferWithCertificate(address to, uint256 amount, uint256 nonce, uint256 expiry, bytes calldata signature)
        external
        returns (bool)
    {
        _consumeCertificate(msg.sender, to, amount, nonce, expiry, signature);
        _transfer(msg.sender, to, amount);
        return true;
    }

    function transferFromWithCertificate(
        address from,
        address to,
        uint256 amount,
        uint256 nonce,
        uint256 expiry,
        bytes calldata signature
    ) external returns (bool) {
        _spendAllowance(from, msg.sender, amount);
        _consumeCertificate(from, to, amount, nonce, expiry, signature);
        _transfer(from, to, amount);
        return true;
    }

    // -- issuer ---------------------------------------------------------------------------------

    function mint(address to, uint256 amount) external onlyRole(ISSUER_ROLE) {
        if (oracle.frozen(to)) revert TransferRestricted(RestrictionMessages.WALLET_FROZEN);
        _mint(to, amount);
    }

    function burn(address from, uint256 amount) external onlyRole(ISSUER_ROLE) {
        _burn(from, amount);
    }

    // -- internals -------------------------------------------------------------------------------

    function _consumeApproval(address from, address to, uint256 amount) private {
        (uint8 code, uint256 nonce) = oracle.consume(from, to, amount);
        if (code != RestrictionMessages.NO_RESTRICTION) revert TransferRestricted(code);
        emit ComplianceConsumed(from, to, amount, nonce);
    }

    function _consumeCertificate(
        address from,
        address to,
        uint256 amount,
        uint256 nonce,
        uint256 expiry,
        bytes calldata signature
    ) private {
        uint8 code = oracle.consumeCertificate(from, to, amount, nonce, expiry, signature);
        if (code != RestrictionMessages.NO_RESTRICTION) revert TransferRestricted(code);
        emit ComplianceConsumed(from, to, amount, nonce);
    }
}
