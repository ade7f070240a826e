// SPDX-License-Identifier: LicenseRef-Proprietary
pragma solidity 0.8.37;

/// @title What a security token asks the ComplianceShield oracle.
/// @notice Restriction codes are those of the ComplianceShield API (RestrictionMessages.sol).
interface IComplianceOracle {
    /// @notice ERC-1404 for the calling token: 0 when `from` may send `amount` to `to` now.
    function detectTransferRestriction(address from, address to, uint256 amount) external view returns (uint8);

    /// @notice ERC-1404 text of a restriction code.
    function messageForTransferRestriction(uint8 code) external view returns (string memory);

    /// @notice Whether `wallet` is frozen (no transfers to or from it, no issuance to it).
    function frozen(address wallet) external view returns (bool);

    /// @notice The restriction code of a transfer of `token`, for callers other than the token.
    function detectTransferRestrictionFor(address token, address from, address to, uint256 amount)
        external
        view
        returns (uint8);

    /// @notice Consume the oldest unused, unexpired approval of this transfer of the calling token.
    /// @return code 0 and the approval's nonce when one was consumed; otherwise the restriction code and 0.
    function consume(address from, address to, uint256 amount) external returns (uint8 code, uint256 nonce);

    /// @notice Consume an EIP-712 certificate signed by an authorized signer for this transfer of the calling token.
    /// @dev Reverts when the certificate is expired, its signature is not an authorized signer's or its nonce is used.
    /// @return code 0 when consumed, or the restriction that still applies (a frozen wallet).
    function consumeCertificate(
        address from,
        address to,
        uint256 amount,
        uint256 nonce,
        uint256 expiry,
        bytes calldata signature
    ) external returns (uint8 code);
}
