"""Enumerations shared by the domain: outcomes, rule results and reference-data states."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    ESCALATED = "ESCALATED"


class RuleResult(StrEnum):
    """What one rule concluded. ``error`` means its evidence was missing or unavailable."""

    PASS = "pass"
    FAIL = "fail"
    REVIEW = "review"
    NOT_APPLICABLE = "not_applicable"
    ERROR = "error"


class TransferType(StrEnum):
    ISSUANCE = "issuance"
    SECONDARY = "secondary"
    REDEMPTION = "redemption"


class BlockchainType(StrEnum):
    PERMISSIONED = "permissioned"
    PUBLIC = "public"


class InvestorType(StrEnum):
    INDIVIDUAL = "individual"
    ENTITY = "entity"


class KycStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    EXPIRED = "expired"


class RiskRating(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class WalletStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"


class Custody(StrEnum):
    CUSTODIAL = "custodial"
    SELF_HOSTED = "self_hosted"


class FailAction(StrEnum):
    """How a policy treats a failing rule: reject the transfer or send it to review."""

    REJECT = "reject"
    REVIEW = "review"


#: Investor categories known to the shipped templates. Policies may name others.
INVESTOR_CATEGORIES: tuple[str, ...] = (
    "retail",
    "accredited",
    "qib",
    "institutional",
    "nri",
    "fpi",
    "employee",
    "sponsor",
    "manager",
    "issuer",
)
