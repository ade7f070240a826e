// SPDX-License-Identifier: LicenseRef-Proprietary
// GENERATED from compliance_shield/domain/reasons.py by compliance_shield.adapters.chain.codegen.
// Do not edit: regenerate, then recompile (npm run compile).
pragma solidity 0.8.37;

/// @title ERC-1404 restriction codes and messages shared with the ComplianceShield API.
/// @notice The numbers are a published contract: a code's number never changes and is never reused.
library RestrictionMessages {
    uint8 internal constant NO_RESTRICTION = 0;
    uint8 internal constant KYC_NOT_VERIFIED = 1;
    uint8 internal constant KYC_EXPIRED = 2;
    uint8 internal constant WALLET_NOT_BOUND = 3;
    uint8 internal constant CATEGORY_NOT_ALLOWED = 4;
    uint8 internal constant ACCREDITATION_EXPIRED = 5;
    uint8 internal constant PEP_REVIEW = 6;
    uint8 internal constant COUNTRY_BLOCKED = 7;
    uint8 internal constant COUNTRY_REVIEW = 8;
    uint8 internal constant SANCTIONED_ADDRESS = 9;
    uint8 internal constant TOKEN_PAUSED = 10;
    uint8 internal constant WALLET_FROZEN = 11;
    uint8 internal constant INSUFFICIENT_BALANCE = 12;
    uint8 internal constant MAX_HOLDERS_EXCEEDED = 13;
    uint8 internal constant MAX_BALANCE_EXCEEDED = 14;
    uint8 internal constant MAX_OWNERSHIP_EXCEEDED = 15;
    uint8 internal constant BELOW_MIN_INVESTMENT = 16;
    uint8 internal constant LOCKUP_ACTIVE = 17;
    uint8 internal constant TRADING_WINDOW_CLOSED = 18;
    uint8 internal constant TRANSFER_LIMIT_EXCEEDED = 19;
    uint8 internal constant LARGE_TRANSFER_REVIEW = 20;
    uint8 internal constant TRAVEL_RULE_DATA_MISSING = 21;
    uint8 internal constant EVIDENCE_UNAVAILABLE = 22;
    uint8 internal constant RULE_ERROR = 23;
    uint8 internal constant POLICY_MISSING = 24;
    uint8 internal constant RISK_SCORE_THRESHOLD = 25;
    uint8 internal constant APPROVAL_MISSING = 26;
    uint8 internal constant SANCTIONED_PARTY = 27;
    uint8 internal constant SANCTIONS_REVIEW = 28;
    uint8 internal constant WALLET_RISK_HIGH = 30;
    uint8 internal constant WALLET_RISK_REVIEW = 31;
    uint8 internal constant WALLET_RISK_PENDING = 32;
    uint8 internal constant MONITORING_DECLINED = 33;
    uint8 internal constant MONITORING_REVIEW = 34;

    /// @notice The human-readable text of `code` (ERC-1404 messageForTransferRestriction).
    function message(uint8 code) internal pure returns (string memory) {
        if (code == NO_RESTRICTION) return "No restriction";
        if (code == KYC_NOT_VERIFIED) return "A party's KYC is not verified";
        if (code == KYC_EXPIRED) return "A party's KYC has expired";
        if (code == WALLET_NOT_BOUND) return "An address is not bound to a known investor";
        if (code == CATEGORY_NOT_ALLOWED) return "The investor category is not allowed for this token";
        if (code == ACCREDITATION_EXPIRED) return "The investor's accreditation is missing or expired";
        if (code == PEP_REVIEW) return "A party is a politically exposed person";
        if (code == COUNTRY_BLOCKED) return "A party's country is blocked";
        if (code == COUNTRY_REVIEW) return "A party's country requires enhanced due diligence";
        if (code == SANCTIONED_ADDRESS) return "An address is on a sanctions list";
        if (code == TOKEN_PAUSED) return "The token is paused";
        if (code == WALLET_FROZEN) return "A wallet is frozen";
        if (code == INSUFFICIENT_BALANCE) return "The sender's available balance is insufficient";
        if (code == MAX_HOLDERS_EXCEEDED) return "The token's maximum number of holders would be exceeded";
        if (code == MAX_BALANCE_EXCEEDED) return "The receiver's maximum balance would be exceeded";
        if (code == MAX_OWNERSHIP_EXCEEDED) return "An ownership limit would be exceeded";
        if (code == BELOW_MIN_INVESTMENT) return "The investment is below the minimum amount";
        if (code == LOCKUP_ACTIVE) return "The tokens are in a lock-up period";
        if (code == TRADING_WINDOW_CLOSED) return "The trading window is closed for a designated person";
        if (code == TRANSFER_LIMIT_EXCEEDED) return "A transfer limit would be exceeded";
        if (code == LARGE_TRANSFER_REVIEW) return "Large transfer requires enhanced due diligence";
        if (code == TRAVEL_RULE_DATA_MISSING) return "Originator or beneficiary data is missing";
        if (code == EVIDENCE_UNAVAILABLE) return "Evidence needed for the decision is unavailable";
        if (code == RULE_ERROR) return "A rule could not be evaluated";
        if (code == POLICY_MISSING) return "The token has no published policy";
        if (code == RISK_SCORE_THRESHOLD) return "The risk score reached the policy's escalation threshold";
        if (code == APPROVAL_MISSING) return "No unused, unexpired compliance approval is recorded for this transfer";
        if (code == SANCTIONED_PARTY) return "A party's name matches an entry on a sanctions list";
        if (code == SANCTIONS_REVIEW) return "A party's name resembles an entry on a sanctions list and needs review";
        if (code == WALLET_RISK_HIGH) return "A wallet is linked to prohibited or severe-risk activity";
        if (code == WALLET_RISK_REVIEW) return "A wallet's risk profile requires review";
        if (code == WALLET_RISK_PENDING) return "Wallet risk screening of the transfer is still pending";
        if (code == MONITORING_DECLINED) return "The transaction-monitoring system declined the transfer";
        if (code == MONITORING_REVIEW) return "The transaction-monitoring system flagged the transfer for review";
        return "Unknown restriction code";
    }
}
