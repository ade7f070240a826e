"""Review cases: the work item an escalated (or referred) check becomes, and its four-eyes rules.

Pure: every transition takes the acting principal and the time as arguments and returns the next
state or raises. The use cases in ``services/cases`` load a case, call these, and persist what
comes back in the same transaction as its audit entry and outbox event.

    open ──propose──▶ proposed ──confirm──▶ resolved (approved | rejected)
     ▲  ▲                │  │
     │  └────decline─────┘  └─confirm needs_more_info─▶ awaiting_info ──propose──▶ proposed
     └───────── approval refused (the limits no longer allow it) ◀── confirm approve

Four-eyes: the confirmation of a case that needs it must come from another person than the
proposer, whatever their roles (an admin is no exception); ``four_eyes`` is decided when the case
opens, from its risk score.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from compliance_shield.errors import Conflict, Forbidden


class CaseStatus(StrEnum):
    OPEN = "open"
    PROPOSED = "proposed"
    AWAITING_INFO = "awaiting_info"
    RESOLVED = "resolved"


class Resolution(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    NEEDS_MORE_INFO = "needs_more_info"


class Origin(StrEnum):
    ESCALATED = "escalated"
    REQUESTED = "requested"


#: roles that may propose a resolution, and those that may confirm one
PROPOSERS = frozenset({"analyst", "officer", "admin"})
CONFIRMERS = frozenset({"officer", "admin"})

#: review deadline per reason code, in hours (the policy-independent defaults); others: DEFAULT_SLA_HOURS
SLA_HOURS: dict[str, int] = {
    "SANCTIONED_PARTY": 4,
    "SANCTIONS_REVIEW": 4,
    "SANCTIONED_ADDRESS": 4,
    "WALLET_RISK_HIGH": 8,
    "WALLET_RISK_REVIEW": 24,
    "PEP_REVIEW": 24,
    "COUNTRY_REVIEW": 24,
    "LARGE_TRANSFER_REVIEW": 24,
    "MONITORING_REVIEW": 24,
    "EVIDENCE_UNAVAILABLE": 4,
    "WALLET_RISK_PENDING": 4,
}
DEFAULT_SLA_HOURS = 48


def sla(reason_codes: tuple[str, ...]) -> timedelta:
    """The tightest deadline among the case's reasons."""
    return timedelta(hours=min((SLA_HOURS.get(code, DEFAULT_SLA_HOURS) for code in reason_codes), default=48))


@dataclass(frozen=True, slots=True)
class Proposal:
    resolution: Resolution
    reason: str
    proposed_by: str
    proposed_at: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "resolution": self.resolution.value,
            "reason": self.reason,
            "proposed_by": self.proposed_by,
            "proposed_at": self.proposed_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Proposal:
        return cls(
            Resolution(data["resolution"]),
            data["reason"],
            data["proposed_by"],
            datetime.fromisoformat(data["proposed_at"]),
        )


@dataclass(frozen=True, slots=True)
class ReviewCase:
    id: UUID
    check_id: UUID
    check_created_at: datetime
    token_id: UUID
    origin: Origin
    reason_codes: tuple[str, ...]
    primary_reason: str
    risk_score: int
    #: the engine's answer (status, restriction code) when the case opened
    engine_status: str
    engine_restriction_code: int
    four_eyes: bool
    status: CaseStatus
    opened_at: datetime
    opened_by: str
    due_at: datetime
    assignee: str | None = None
    proposal: Proposal | None = None
    outcome: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    version: int = 1

    def overdue(self, now: datetime) -> bool:
        return self.status is not CaseStatus.RESOLVED and now > self.due_at


def open_case(
    case_id: UUID,
    *,
    check_id: UUID,
    check_created_at: datetime,
    token_id: UUID,
    reason_codes: tuple[str, ...],
    risk_score: int,
    engine_status: str,
    engine_restriction_code: int,
    origin: Origin,
    opened_by: str,
    four_eyes_min_risk: int,
    now: datetime,
) -> ReviewCase:
    """A new case; four-eyes applies when the check's risk score reaches ``four_eyes_min_risk``."""
    codes = reason_codes or ("MANUAL_REVIEW",)
    return ReviewCase(
        id=case_id,
        check_id=check_id,
        check_created_at=check_created_at,
        token_id=token_id,
        origin=origin,
        reason_codes=codes,
        primary_reason=codes[0],
        risk_score=risk_score,
        engine_status=engine_status,
        engine_restriction_code=engine_restriction_code,
        four_eyes=risk_score >= four_eyes_min_risk,
        status=CaseStatus.OPEN,
        opened_at=now,
        opened_by=opened_by,
        due_at=now + sla(codes),
    )


def require_role(roles: frozenset[str], allowed: frozenset[str], action: str) -> None:
    if not roles & allowed:
        raise Forbidden(f"{action} needs one of the roles: {', '.join(sorted(allowed - {'admin'}))}")


def assign(case: ReviewCase, assignee: str | None) -> ReviewCase:
    if case.status is CaseStatus.RESOLVED:
        raise Conflict("the case is resolved")
    return replace(case, assignee=assignee, version=case.version + 1)


def propose(
    case: ReviewCase, actor: str, roles: frozenset[str], resolution: Resolution, reason: str, now: datetime
) -> ReviewCase:
    require_role(roles, PROPOSERS, "proposing a resolution")
    if case.status not in (CaseStatus.OPEN, CaseStatus.AWAITING_INFO):
        raise Conflict(f"the case is {case.status.value}: only an open case can take a proposal")
    proposal = Proposal(resolution, reason, actor, now)
    return replace(case, status=CaseStatus.PROPOSED, proposal=proposal, version=case.version + 1)


def check_confirmable(case: ReviewCase, actor: str, roles: frozenset[str]) -> Proposal:
    """The proposal ``actor`` may confirm (raises when they may not)."""
    require_role(roles, CONFIRMERS, "confirming a resolution")
    if case.status is not CaseStatus.PROPOSED or case.proposal is None:
        raise Conflict(f"the case is {case.status.value}: there is no proposal to confirm")
    if case.four_eyes and case.proposal.proposed_by == actor:
        raise Forbidden("four-eyes: the proposer cannot confirm their own proposal")
    return case.proposal


def resolve(case: ReviewCase, actor: str, outcome: str, now: datetime) -> ReviewCase:
    """The case closed with ``outcome`` (``approved`` or ``rejected``) by ``actor``."""
    return replace(
        case,
        status=CaseStatus.RESOLVED,
        outcome=outcome,
        resolved_by=actor,
        resolved_at=now,
        version=case.version + 1,
    )


def ask_for_information(case: ReviewCase) -> ReviewCase:
    """A confirmed needs-more-info: the case waits for a new proposal (the last one stays in history)."""
    return replace(case, status=CaseStatus.AWAITING_INFO, proposal=None, version=case.version + 1)


def reopen(case: ReviewCase) -> ReviewCase:
    """Back to open without a proposal (declined, or an approval the limits no longer allow)."""
    return replace(case, status=CaseStatus.OPEN, proposal=None, version=case.version + 1)


def decline(case: ReviewCase, actor: str, roles: frozenset[str]) -> ReviewCase:
    """A confirmer turns the proposal down; the case is open again."""
    require_role(roles, CONFIRMERS, "declining a proposal")
    if case.status is not CaseStatus.PROPOSED:
        raise Conflict(f"the case is {case.status.value}: there is no proposal to decline")
    if case.four_eyes and case.proposal is not None and case.proposal.proposed_by == actor:
        raise Forbidden("four-eyes: the proposer cannot decide on their own proposal")
    return reopen(case)
