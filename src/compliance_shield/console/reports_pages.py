"""Console: the STR/SAR draft editor (draft, edit, submit, sign-off) and its PDF."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from compliance_shield.api.auth import Principal
from compliance_shield.api.case_schemas import Text
from compliance_shield.console.common import Person, act, container_of, page
from compliance_shield.domain.report import SUSPICION_CATEGORIES, DraftEdit
from compliance_shield.services.cases.report_pdf import render_pdf

router = APIRouter(prefix="/console", include_in_schema=False)


class _Edit(DraftEdit):
    grounds_of_suspicion: Text | None = None
    action_taken: Text | None = None


async def _report_page(
    request: Request, person: Principal, report_id: UUID, status_code: int = 200, error: str | None = None
) -> Response:
    reports = container_of(request).reports
    row = await reports.get(report_id)
    return page(
        request, "report.html", person, status_code=status_code, error=error, report=row,
        rendered=reports.rendered(row), categories=SUSPICION_CATEGORIES,
        can_sign=bool(person.roles & {"officer", "admin"}) and row.submitted_by != person.sub,
    )  # fmt: skip


async def _act(request: Request, person: Principal, report_id: UUID, step: Callable[[], Awaitable[object]]) -> Response:
    async def refused(status: int, message: str) -> Response:
        return await _report_page(request, person, report_id, status, message)

    return await act(step, f"/console/reports/{report_id}", refused)


@router.post("/cases/{case_id}/reports")
async def draft(request: Request, person: Person, case_id: UUID) -> Response:
    row = await container_of(request).reports.create(case_id, person.sub, person.roles, None)
    return RedirectResponse(f"/console/reports/{row.id}", status_code=303)


@router.get("/reports/{report_id}", response_class=HTMLResponse)
async def report_page(request: Request, person: Person, report_id: UUID) -> Response:
    return await _report_page(request, person, report_id)


@router.get("/reports/{report_id}/pdf")
async def report_pdf(request: Request, person: Person, report_id: UUID) -> Response:
    reports = container_of(request).reports
    row = await reports.get(report_id)
    title = f"{'FIU-IND Suspicious Transaction Report' if row.format == 'fiu-ind-str' else 'FinCEN SAR'} {row.id}"
    body = render_pdf(title, reports.rendered(row), status=row.status, content_sha256=row.content_sha256)
    return Response(body, media_type="application/pdf")


@router.post("/reports/{report_id}/edit")
async def edit(
    request: Request,
    person: Person,
    report_id: UUID,
    grounds_of_suspicion: Annotated[str, Form(max_length=20000)] = "",
    action_taken: Annotated[str, Form(max_length=20000)] = "",
    suspicion_due_to: Annotated[list[str] | None, Form()] = None,
) -> Response:
    async def step() -> object:
        change = _Edit.model_validate({
            "grounds_of_suspicion": grounds_of_suspicion, "action_taken": action_taken or None,
            "suspicion_due_to": tuple(suspicion_due_to or ()),
        })  # fmt: skip
        return await container_of(request).reports.edit(report_id, person.sub, person.roles, change)

    return await _act(request, person, report_id, step)


@router.post("/reports/{report_id}/submit")
async def submit(request: Request, person: Person, report_id: UUID) -> Response:
    return await _act(
        request, person, report_id, lambda: container_of(request).reports.submit(report_id, person.sub, person.roles)
    )


@router.post("/reports/{report_id}/sign")
async def sign(request: Request, person: Person, report_id: UUID) -> Response:
    return await _act(
        request, person, report_id, lambda: container_of(request).reports.sign(report_id, person.sub, person.roles)
    )
