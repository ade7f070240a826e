"""Stable reason codes and their ERC-1404 restriction codes.

The numbers are a published contract: clients and the on-chain oracle act on them, so a code's
number never changes and a retired code's number is never reused. ``0`` means "no restriction".
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    KYC_NOT_VERIFIED = "KYC_NOT_VERIFIED"
    KYC_EXPIRED = "KYC_EXPIRED"
    WALLET_NOT_BOUND = "WALLET_NOT_BOUND"
    CATEGORY_NOT_ALLOWED = "CATEGORY_NOT_ALLOWED"
    ACCREDITATION_EXPIRED = "ACCREDITATION_EXPIRED"
    PEP_REVIEW = "PEP_REVIEW"
    COUNTRY_BLOCKED = "COUNTRY_BLOCKED"
    COUNTRY_REVIEW = "COUNTRY_REVIEW"
    SANCTIONED_ADDRESS = "SANCTIONED_ADDRESS"
    TOKEN_PAUSED = "TOKEN_PAUSED"
    WALLET_FROZEN = "WALLET_FROZEN"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    MAX_HOLDERS_EXCEEDED = "MAX_HOLDERS_EXCEEDED"
    MAX_BALANCE_EXCEEDED = "MAX_BALANCE_EXCEEDED"
    MAX_OWNERSHIP_EXCEEDED = "MAX_OWNERSHIP_EXCEEDED"
    BELOW_MIN_INVESTMENT = "BELOW_MIN_INVESTMENT"
    LOCKUP_ACTIVE = "LOCKUP_ACTIVE"
    TRADING_WINDOW_CLOSED = "TRADING_WINDOW_CLOSED"
    TRANSFER_LIMIT_EXCEEDED = "TRANSFER_LIMIT_EXCEEDED"
    LARGE_TRANSFER_REVIEW = "LARGE_TRANSFER_REVIEW"
    TRAVEL_RULE_DATA_MISSING = "TRAVEL_RULE_DATA_MISSING"
    EVIDENCE_UNAVAILABLE = "EVIDENCE_UNAVAILABLE"
    RULE_ERROR = "RULE_ERROR"
    POLICY_MISSING = "POLICY_MISSING"
    RISK_SCORE_THRESHOLD = "RISK_SCORE_THRESHOLD"
    #: on chain only: the oracle holds no unused, unexpired approval for the transfer
    APPROVAL_MISSING = "APPROVAL_MISSING"
    WALLET_RISK_HIGH = "WALLET_RISK_HIGH"
    WALLET_RISK_REVIEW = "WALLET_RISK_REVIEW"
    WALLET_RISK_PENDING = "WALLET_RISK_PENDING"
    MONITORING_DECLINED = "MONITORING_DECLINED"
    MONITORING_REVIEW = "MONITORING_REVIEW"
    SANCTIONED_PARTY = "SANCTIONED_PARTY"
    SANCTIONS_REVIEW = "SANCTIONS_REVIEW"


#: ERC-1404 ``uint8`` restriction code of each reason. 0 is reserved for "no restriction".
RESTRICTION_CODES: dict[ReasonCode, int] = {
    ReasonCode.KYC_NOT_VERIFIED: 1,
    ReasonCode.KYC_EXPIRED: 2,
    ReasonCode.WALLET_NOT_BOUND: 3,
    ReasonCode.CATEGORY_NOT_ALLOWED: 4,
    ReasonCode.ACCREDITATION_EXPIRED: 5,
    ReasonCode.PEP_REVIEW: 6,
    ReasonCode.COUNTRY_BLOCKED: 7,
    ReasonCode.COUNTRY_REVIEW: 8,
    ReasonCode.SANCTIONED_ADDRESS: 9,
    ReasonCode.TOKEN_PAUSED: 10,
    ReasonCode.WALLET_FROZEN: 11,
    ReasonCode.INSUFFICIENT_BALANCE: 12,
    ReasonCode.MAX_HOLDERS_EXCEEDED: 13,
    ReasonCode.MAX_BALANCE_EXCEEDED: 14,
    ReasonCode.MAX_OWNERSHIP_EXCEEDED: 15,
    ReasonCode.BELOW_MIN_INVESTMENT: 16,
    ReasonCode.LOCKUP_ACTIVE: 17,
    ReasonCode.TRADING_WINDOW_CLOSED: 18,
    ReasonCode.TRANSFER_LIMIT_EXCEEDED: 19,
    ReasonCode.LARGE_TRANSFER_REVIEW: 20,
    ReasonCode.TRAVEL_RULE_DATA_MISSING: 21,
    ReasonCode.EVIDENCE_UNAVAILABLE: 22,
    ReasonCode.RULE_ERROR: 23,
    ReasonCode.POLICY_MISSING: 24,
    ReasonCode.RISK_SCORE_THRESHOLD: 25,
    ReasonCode.APPROVAL_MISSING: 26,
    ReasonCode.WALLET_RISK_HIGH: 30,
    ReasonCode.WALLET_RISK_REVIEW: 31,
    ReasonCode.WALLET_RISK_PENDING: 32,
    ReasonCode.MONITORING_DECLINED: 33,
    ReasonCode.MONITORING_REVIEW: 34,
    ReasonCode.SANCTIONED_PARTY: 27,
    ReasonCode.SANCTIONS_REVIEW: 28,
}

#: Default human-readable text per code (ERC-1404 ``messageForTransferRestriction``).
MESSAGES: dict[ReasonCode, str] = {
    ReasonCode.KYC_NOT_VERIFIED: "A party's KYC is not verified",
    ReasonCode.KYC_EXPIRED: "A party's KYC has expired",
    ReasonCode.WALLET_NOT_BOUND: "An address is not bound to a known investor",
    ReasonCode.CATEGORY_NOT_ALLOWED: "The investor category is not allowed for this token",
    ReasonCode.ACCREDITATION_EXPIRED: "The investor's accreditation is missing or expired",
    ReasonCode.PEP_REVIEW: "A party is a politically exposed person",
    ReasonCode.COUNTRY_BLOCKED: "A party's country is blocked",
    ReasonCode.COUNTRY_REVIEW: "A party's country requires enhanced due diligence",
    ReasonCode.SANCTIONED_ADDRESS: "An address is on a sanctions list",
    ReasonCode.TOKEN_PAUSED: "The token is paused",
    ReasonCode.WALLET_FROZEN: "A wallet is frozen",
    ReasonCode.INSUFFICIENT_BALANCE: "The sender's available balance is insufficient",
    ReasonCode.MAX_HOLDERS_EXCEEDED: "The token's maximum number of holders would be exceeded",
    ReasonCode.MAX_BALANCE_EXCEEDED: "The receiver's maximum balance would be exceeded",
    ReasonCode.MAX_OWNERSHIP_EXCEEDED: "An ownership limit would be exceeded",
    ReasonCode.BELOW_MIN_INVESTMENT: "The investment is below the minimum amount",
    ReasonCode.LOCKUP_ACTIVE: "The tokens are in a lock-up period",
    ReasonCode.TRADING_WINDOW_CLOSED: "The trading window is closed for a designated person",
    ReasonCode.TRANSFER_LIMIT_EXCEEDED: "A transfer limit would be exceeded",
    ReasonCode.LARGE_TRANSFER_REVIEW: "Large transfer requires enhanced due diligence",
    ReasonCode.TRAVEL_RULE_DATA_MISSING: "Originator or beneficiary data is missing",
    ReasonCode.EVIDENCE_UNAVAILABLE: "Evidence needed for the decision is unavailable",
    ReasonCode.RULE_ERROR: "A rule could not be evaluated",
    ReasonCode.POLICY_MISSING: "The token has no published policy",
    ReasonCode.RISK_SCORE_THRESHOLD: "The risk score reached the policy's escalation threshold",
    ReasonCode.APPROVAL_MISSING: "No unused, unexpired compliance approval is recorded for this transfer",
    ReasonCode.WALLET_RISK_HIGH: "A wallet is linked to prohibited or severe-risk activity",
    ReasonCode.WALLET_RISK_REVIEW: "A wallet's risk profile requires review",
    ReasonCode.WALLET_RISK_PENDING: "Wallet risk screening of the transfer is still pending",
    ReasonCode.MONITORING_DECLINED: "The transaction-monitoring system declined the transfer",
    ReasonCode.MONITORING_REVIEW: "The transaction-monitoring system flagged the transfer for review",
    ReasonCode.SANCTIONED_PARTY: "A party's name matches an entry on a sanctions list",
    ReasonCode.SANCTIONS_REVIEW: "A party's name resembles an entry on a sanctions list and needs review",
}


def restriction_code(code: ReasonCode | None) -> int:
    """The ERC-1404 code for ``code``; 0 when there is no restriction."""
    return 0 if code is None else RESTRICTION_CODES[code]
