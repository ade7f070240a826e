"""Request and response bodies of the review-case routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from compliance_shield.domain.case import Resolution, ReviewCase
from compliance_shield.services.cases import CaseDetail


def _text(value: str) -> str:
    """Trimmed, non-empty, and storable (PostgreSQL text cannot hold NUL)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


Text = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_text)]
ShortText = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_text)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseOpenIn(_In):
    check_id: UUID
    reason: Text


class AssignIn(_In):
    #: null unassigns
    assignee: ShortText | None


class Attachment(_In):
    """A reference to evidence kept elsewhere (document store, ticket); never the content itself."""

    uri: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")]
    name: ShortText
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None


class NoteIn(_In):
    body: Text
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)


class ProposeIn(_In):
    resolution: Resolution
    reason: Text


class DeclineIn(_In):
    reason: Text


class ProposalOut(BaseModel):
    resolution: Resolution
    reason: str
    proposed_by: str
    proposed_at: datetime


class CaseOut(BaseModel):
    id: UUID
    check_id: UUID
    token_id: UUID
    origin: Literal["escalated", "requested"]
    status: Literal["open", "proposed", "awaiting_info", "resolved"]
    outcome: Literal["approved", "rejected"] | None
    reason_codes: list[str]
    primary_reason: str
    risk_score: int
    four_eyes: bool
    assignee: str | None
    opened_at: datetime
    opened_by: str
    due_at: datetime
    overdue: bool
    proposal: ProposalOut | None
    resolved_by: str | None
    resolved_at: datetime | None
    version: int


class HistoryOut(BaseModel):
    at: datetime
    actor: str
    action: str
    payload: dict[str, Any]


class NoteOut(BaseModel):
    id: int
    at: datetime
    author: str
    body: str
    attachments: list[dict[str, Any]]


class NarrativeOut(BaseModel):
    created_at: datetime
    model: str
    prompt_version: str
    inputs_sha256: str
    sent_fields: list[str]
    narrative: dict[str, Any]


class CaseDetailOut(CaseOut):
    check: dict[str, Any]
    history: list[HistoryOut]
    notes: list[NoteOut]
    narrative: NarrativeOut | None


class CasePage(BaseModel):
    items: list[CaseOut]
    next_offset: int | None


def case_out(case: ReviewCase, now: datetime) -> dict[str, Any]:
    return {
        "id": case.id,
        "check_id": case.check_id,
        "token_id": case.token_id,
        "origin": case.origin.value,
        "status": case.status.value,
        "outcome": case.outcome,
        "reason_codes": list(case.reason_codes),
        "primary_reason": case.primary_reason,
        "risk_score": case.risk_score,
        "four_eyes": case.four_eyes,
        "assignee": case.assignee,
        "opened_at": case.opened_at,
        "opened_by": case.opened_by,
        "due_at": case.due_at,
        "overdue": case.overdue(now),
        "proposal": case.proposal.to_json() if case.proposal else None,
        "resolved_by": case.resolved_by,
        "resolved_at": case.resolved_at,
        "version": case.version,
    }


def case_detail_out(detail: CaseDetail, check: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        **case_out(detail.case, now),
        "check": check,
        "history": detail.history,
        "notes": detail.notes,
        "narrative": detail.narrative,
    }
