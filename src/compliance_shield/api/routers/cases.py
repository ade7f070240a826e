"""Review cases: the queue, one case, and the four-eyes steps (propose, confirm, decline)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from compliance_shield.api.auth import CHECK_OR_READ, READ, Principal, require
from compliance_shield.api.case_schemas import (
    AssignIn,
    CaseDetailOut,
    CaseOpenIn,
    CaseOut,
    CasePage,
    DeclineIn,
    NoteIn,
    ProposeIn,
    case_detail_out,
    case_out,
)
from compliance_shield.api.deps import container
from compliance_shield.api.schemas import check_out
from compliance_shield.bootstrap import Container
from compliance_shield.errors import NotFound
from compliance_shield.services.cases import CaseFilter

router = APIRouter(prefix="/v1/cases", tags=["review cases"])

#: analysts read and propose; officers also confirm (admins hold every role, not the right to
#: confirm their own proposal: four-eyes compares people, not roles)
WORK = require("analyst", "officer")
CONFIRM = require("officer")

_UNRESOLVED = ("open", "proposed", "awaiting_info")
StatusFilter = Literal["unresolved", "open", "proposed", "awaiting_info", "resolved"]


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("", response_model=CasePage, summary="The review queue (earliest deadline first)")
async def list_cases(
    status: StatusFilter = "unresolved",
    token_id: UUID | None = None,
    reason: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Z_]+$")] = None,
    min_risk: Annotated[int | None, Query(ge=0, le=100)] = None,
    assignee: Annotated[str | None, Query(max_length=200)] = None,
    overdue: bool = False,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    _: Principal = Depends(READ),
    c: Container = Depends(container),
) -> dict[str, Any]:
    statuses = _UNRESOLVED if status == "unresolved" else (status,)
    query = CaseFilter(statuses, token_id, reason, min_risk, assignee, overdue, offset, limit)
    cases = await c.cases.list(query)
    now = _now()
    return {
        "items": [case_out(case, now) for case in cases],
        "next_offset": offset + limit if len(cases) == limit else None,
    }


@router.post("", response_model=CaseOut, status_code=201, summary="Open a case for a check")
async def open_case(body: CaseOpenIn, principal: Principal = Depends(WORK), c: Container = Depends(container)) -> Any:
    """Escalated checks get a case by themselves; this opens one on request (e.g. to look at a
    rejected check again). 409 when the check already has a case or is approved."""
    return case_out(await c.cases.open_for_check(body.check_id, principal.sub, body.reason), _now())


@router.get("/by-check/{check_id}", response_model=CaseOut, summary="The case of a check")
async def case_of_check(
    check_id: UUID, _: Principal = Depends(CHECK_OR_READ), c: Container = Depends(container)
) -> Any:
    """For a platform waiting on an escalated check: the case's status and outcome (404 until opened)."""
    case = await c.cases.of_check(check_id)
    if case is None:
        raise NotFound(f"check {check_id} has no case")
    return case_out(case, _now())


@router.get("/{case_id}", response_model=CaseDetailOut, summary="One case with its check, history and notes")
async def get_case(case_id: UUID, _: Principal = Depends(READ), c: Container = Depends(container)) -> Any:
    detail = await c.cases.get(case_id)
    return case_detail_out(detail, check_out(detail.check), _now())


@router.post("/{case_id}/assign", response_model=CaseOut, summary="Assign (or unassign) a case")
async def assign(
    case_id: UUID, body: AssignIn, principal: Principal = Depends(WORK), c: Container = Depends(container)
) -> Any:
    return case_out(await c.cases.assign(case_id, body.assignee, principal.sub), _now())


@router.post("/{case_id}/notes", status_code=201, summary="Add a note (attachments by reference)")
async def add_note(
    case_id: UUID, body: NoteIn, principal: Principal = Depends(WORK), c: Container = Depends(container)
) -> dict[str, int]:
    attachments = [a.model_dump(exclude_none=True) for a in body.attachments]
    return {"id": await c.cases.add_note(case_id, principal.sub, body.body, attachments)}


@router.post("/{case_id}/propose", response_model=CaseOut, summary="Propose a resolution (first pair of eyes)")
async def propose(
    case_id: UUID, body: ProposeIn, principal: Principal = Depends(WORK), c: Container = Depends(container)
) -> Any:
    changed = await c.cases.propose(case_id, principal.sub, principal.roles, body.resolution, body.reason)
    return case_out(changed, _now())


@router.post("/{case_id}/confirm", response_model=CaseOut, summary="Confirm the proposal (second pair of eyes)")
async def confirm(case_id: UUID, principal: Principal = Depends(CONFIRM), c: Container = Depends(container)) -> Any:
    """An officer other than the proposer confirms. A confirmed approval takes the transfer's
    reservation atomically and makes the check APPROVED; if the limits no longer allow it the case
    is reopened with ``case.approval_refused`` in its history (200, ``status`` ``open``)."""
    return case_out(await c.cases.confirm(case_id, principal.sub, principal.roles), _now())


@router.post("/{case_id}/decline", response_model=CaseOut, summary="Turn the proposal down")
async def decline(
    case_id: UUID, body: DeclineIn, principal: Principal = Depends(CONFIRM), c: Container = Depends(container)
) -> Any:
    return case_out(await c.cases.decline(case_id, principal.sub, principal.roles, body.reason), _now())
