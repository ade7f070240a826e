// SPDX-License-Identifier: LicenseRef-Proprietary
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IComplianceOracle} from "./IComplianceOracle.sol";
import {RestrictionMessages} from "./RestrictionMessages.sol";

/// @title ComplianceShield on-chain oracle.
/// @notice The service's writer records each APPROVED check as an approval keyed by
/// (token, from, to, amount, nonce) with an expiry; the token consumes an approval exactly once
/// when the transfer happens. As a gasless alternative, the caller may present an EIP-712
/// TransferCertificate signed by the service's signer. Wallets can be frozen.
/// @dev A nonce (the check id as a uint256) is single-use per token across approvals and
/// certificates: a check approves one transfer, whichever way it reaches the chain.
contract ComplianceOracle is IComplianceOracle, AccessControl, EIP712 {
    bytes32 public constant WRITER_ROLE = keccak256("WRITER_ROLE");
    bytes32 public constant SIGNER_ROLE = keccak256("SIGNER_ROLE");
    bytes32 public constant FREEZER_ROLE = keccak256("FREEZER_ROLE");

    bytes32 public constant CERTIFICATE_TYPEHASH = keccak256(
        "TransferCertificate(address token,address from,address to,uint256 amount,uint256 nonce,uint256 expiry)"
    );

    struct Approval {
        bytes32 transfer; // keccak256(from, to, amount)
        uint64 expiresAt; // 0: no approval with this nonce
        bool used;
    }

    /// token => nonce => approval
    mapping(address => mapping(uint256 => Approval)) private _approvals;
    /// token => nonce => consumed or revoked (approvals and certificates alike)
    mapping(address => mapping(uint256 => bool)) public nonceUsed;
    /// keccak256(token, from, to, amount) => nonces in the order they were recorded
    mapping(bytes32 => uint256[]) private _queue;
    /// keccak256(token, from, to, amount) => index of the first queue entry that may still be usable
    mapping(bytes32 => uint256) private _head;
    /// keccak256(token, from, to, amount) => restriction code of the latest non-approving decision
    mapping(bytes32 => uint8) private _restrictions;
    mapping(address => bool) public frozen;

    event ApprovalRecorded(
        address indexed token, address indexed from, address indexed to, uint256 amount, uint256 nonce, uint64 expiresAt
    );
    event ApprovalRevoked(address indexed token, uint256 nonce);
    event ApprovalConsumed(
        address indexed token, address indexed from, address indexed to, uint256 amount, uint256 nonce
    );
    event CertificateConsumed(
        address indexed token, address indexed from, address indexed to, uint256 amount, uint256 nonce, address signer
    );
    event RestrictionRecorded(
        address indexed token, address indexed from, address indexed to, uint256 amount, uint8 code
    );
    event WalletFrozen(address indexed wallet, bool frozen);

    error NonceTaken(address token, uint256 nonce);
    error ExpiryNotInFuture(uint256 expiresAt);
    error InvalidRestrictionCode(uint8 code);
    error CertificateExpired(uint256 expiry);
    error CertificateNonceUsed(uint256 nonce);
    error UnauthorizedSigner(address signer);

    constructor(address admin) EIP712("ComplianceShield", "1") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // -- writer ---------------------------------------------------------------------------------

    /// @notice Record an approval. Idempotent: re-recording the same approval, or one whose nonce
    /// was already consumed, changes nothing and returns false (a writer may retry safely).
    function recordApproval(address token, address from, address to, uint256 amount, uint256 nonce, uint64 expiresAt)
        external
        onlyRole(WRITER_ROLE)
        returns (bool recorded)
    {
        bytes32 transfer_ = _transferHash(from, to, amount);
        Approval storage existing = _approvals[token][nonce];
        if (existing.expiresAt != 0 || nonceUsed[token][nonce]) {
            if (existing.expiresAt != 0 && existing.transfer != transfer_) revert NonceTaken(token, nonce);
            return false;
        }
        if (expiresAt <= block.timestamp) revert ExpiryNotInFuture(expiresAt);
        _approvals[token][nonce] = Approval({transfer: transfer_, expiresAt: expiresAt, used: false});
        _queue[_transferKey(token, from, to, amount)].push(nonce);
        emit ApprovalRecorded(token, from, to, amount, nonce, expiresAt);
        return true;
    }

    /// @notice Withdraw an unused approval (a cancelled check).
    function revokeApproval(address token, uint256 nonce) external onlyRole(WRITER_ROLE) {
        _approvals[token][nonce].used = true;
        nonceUsed[token][nonce] = true;
        emit ApprovalRevoked(token, nonce);
    }

    /// @notice Record why a transfer is not approved, so ERC-1404 callers learn the API's reason.
    function recordRestriction(address token, address from, address to, uint256 amount, uint8 code)
        external
        onlyRole(WRITER_ROLE)
    {
        if (code == RestrictionMessages.NO_RESTRICTION) revert InvalidRestrictionCode(code);
        _restrictions[_transferKey(token, from, to, amount)] = code;
        emit RestrictionRecorded(token, from, to, amount, code);
    }

    function setFrozen(address wallet, bool isFrozen) external onlyRole(FREEZER_ROLE) {
        frozen[wallet] = isFrozen;
        emit WalletFrozen(wallet, isFrozen);
    }

    // -- ERC-1404 -------------------------------------------------------------------------------

    function detectTransferRestriction(address from, address to, uint256 amount) external view returns (uint8) {
        return detectTransferRestrictionFor(msg.sender, from, to, amount);
    }

    function detectTransferRestrictionFor(address token, address from, address to, uint256 amount)
        public
        view
        returns (uint8)
    {
        if (frozen[from] || frozen[to]) return RestrictionMessages.WALLET_FROZEN;
        bytes32 key = _transferKey(token, from, to, amount);
        (bool found,,) = _findUsable(token, key);
        return found ? RestrictionMessages.NO_RESTRICTION : _restrictionOf(key);
    }

    function messageForTransferRestriction(uint8 code) external pure returns (string memory) {
        return RestrictionMessages.message(code);
    }

    /// @notice Whether `nonce` of `token` holds an approval that is recorded, unused and unexpired.
    function isApproved(address token, uint256 nonce) external view returns (bool) {
        Approval storage a = _approvals[token][nonce];
        return a.expiresAt > block.timestamp && !a.used;
    }

    // -- consumption by the token -------------------------------------------------------------

    function consume(address from, address to, uint256 amount) external returns (uint8 code, uint256 nonce) {
        if (frozen[from] || frozen[to]) return (RestrictionMessages.WALLET_FROZEN, 0);
        bytes32 key = _transferKey(msg.sender, from, to, amount);
        (bool found, uint256 index, uint256 found_nonce) = _findUsable(msg.sender, key);
        if (!found) return (_restrictionOf(key), 0);
        _approvals[msg.sender][found_nonce].used = true;
        nonceUsed[msg.sender][found_nonce] = true;
        _head[key] = index + 1; // every earlier entry is used or expired
        emit ApprovalConsumed(msg.sender, from, to, amount, found_nonce);
        return (RestrictionMessages.NO_RESTRICTION, found_nonce);
    }

    function consumeCertificate(
        address from,
        address to,
        uint256 amount,
        uint256 nonce,
        uint256 expiry,
        bytes calldata signature
    ) external returns (uint8 code) {
        if (expiry <= block.timestamp) revert CertificateExpired(expiry);
        if (nonceUsed[msg.sender][nonce]) revert CertificateNonceUsed(nonce);
        bytes32 digest = certificateDigest(msg.sender, from, to, amount, nonce, expiry);
        address signer = ECDSA.recover(digest, signature);
        if (!hasRole(SIGNER_ROLE, signer)) revert UnauthorizedSigner(signer);
        if (frozen[from] || frozen[to]) return RestrictionMessages.WALLET_FROZEN;
        nonceUsed[msg.sender][nonce] = true;
        _approvals[msg.sender][nonce].used = true; // an on-chain approval of the same check is spent too
        emit CertificateConsumed(msg.sender, from, to, amount, nonce, signer);
        return RestrictionMessages.NO_RESTRICTION;
    }

    /// @notice The EIP-712 digest a signer signs for a TransferCertificate.
    function certificateDigest(
        address token,
        address from,
        address to,
        uint256 amount,
        uint256 nonce,
        uint256 expiry
    ) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(CERTIFICATE_TYPEHASH, token, from, to, amount, nonce, expiry)));
    }

    // -- internals -------------------------------------------------------------------------------

    function _findUsable(address token, bytes32 key) private view returns (bool found, uint256 index, uint256 nonce) {
        uint256[] storage queue = _queue[key];
        uint256 length = queue.length;
        for (uint256 i = _head[key]; i < length; ++i) {
            Approval storage a = _approvals[token][queue[i]];
            if (!a.used && a.expiresAt > block.timestamp) return (true, i, queue[i]);
        }
        return (false, 0, 0);
    }

    function _restrictionOf(bytes32 key) private view returns (uint8) {
        uint8 code = _restrictions[key];
        return code == RestrictionMessages.NO_RESTRICTION ? RestrictionMessages.APPROVAL_MISSING : code;
    }

    function _transferKey(address token, address from, address to, uint256 amount) private pure returns (bytes32) {
        return keccak256(abi.encode(token, from, to, amount));
    }

    function _transferHash(address from, address to, uint256 amount) private pure returns (bytes32) {
        return keccak256(abi.encode(from, to, amount));
    }
}
