"""STR/SAR drafts of review cases: draft, edit, submit, sign (four-eyes); JSON and PDF."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from compliance_shield.api.auth import READ, Principal, require
from compliance_shield.api.case_schemas import Text
from compliance_shield.api.deps import container
from compliance_shield.bootstrap import Container
from compliance_shield.db.reports import ReportRow
from compliance_shield.domain.report import SUSPICION_CATEGORIES, DraftEdit, ReportFormat
from compliance_shield.services.cases.report_pdf import render_pdf

router = APIRouter(tags=["reports"])

WORK = require("analyst", "officer")
SIGN = require("officer")

#: FIU-IND "suspicion due to" heads (each maps to a FinCEN SAR category)
Category = Annotated[str, Field(description=", ".join(SUSPICION_CATEGORIES), max_length=64)]


class ReportCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: absent: FinCEN SAR for a token whose policy is a US one, else FIU-IND STR
    format: ReportFormat | None = None


class ReportEditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    suspicion_due_to: list[Category] | None = Field(default=None, max_length=len(SUSPICION_CATEGORIES))
    grounds_of_suspicion: Text | None = None
    action_taken: Text | None = None


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text


class ReportOut(BaseModel):
    id: UUID
    case_id: UUID
    format: ReportFormat
    status: Literal["draft", "pending_signoff", "filed"]
    created_by: str
    created_at: datetime
    updated_at: datetime
    submitted_by: str | None
    submitted_at: datetime | None
    signed_by: str | None
    filed_at: datetime | None
    content_sha256: str | None
    version: int
    draft: dict[str, Any]
    rendered: dict[str, Any]


def report_out(row: ReportRow, c: Container) -> dict[str, Any]:
    return {
        "id": row.id, "case_id": row.case_id, "format": row.format, "status": row.status,
        "created_by": row.created_by, "created_at": row.created_at, "updated_at": row.updated_at,
        "submitted_by": row.submitted_by, "submitted_at": row.submitted_at, "signed_by": row.signed_by,
        "filed_at": row.filed_at, "content_sha256": row.content_sha256, "version": row.version,
        "draft": row.document, "rendered": c.reports.rendered(row),
    }  # fmt: skip


@router.post("/v1/cases/{case_id}/reports", response_model=ReportOut, status_code=201, summary="Draft an STR/SAR")
async def create(
    case_id: UUID, body: ReportCreateIn, principal: Principal = Depends(WORK), c: Container = Depends(container)
) -> Any:
    """A draft from the case's decision and AI narrative, in FIU-IND STR or FinCEN SAR shape."""
    return report_out(await c.reports.create(case_id, principal.sub, principal.roles, body.format), c)


@router.get("/v1/cases/{case_id}/reports", response_model=list[ReportOut], summary="The reports of a case")
async def of_case(case_id: UUID, _: Principal = Depends(READ), c: Container = Depends(container)) -> Any:
    return [report_out(row, c) for row in await c.reports.of_case(case_id)]


@router.get("/v1/reports/{report_id}", response_model=ReportOut, summary="One report (draft or filed)")
async def get(report_id: UUID, _: Principal = Depends(READ), c: Container = Depends(container)) -> Any:
    return report_out(await c.reports.get(report_id), c)


@router.get(
    "/v1/reports/{report_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="The report as a printable PDF",
)
async def pdf(report_id: UUID, _: Principal = Depends(READ), c: Container = Depends(container)) -> Response:
    row = await c.reports.get(report_id)
    title = f"{'FIU-IND Suspicious Transaction Report' if row.format == 'fiu-ind-str' else 'FinCEN SAR'} {row.id}"
    body = render_pdf(title, c.reports.rendered(row), status=row.status, content_sha256=row.content_sha256)
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="report-{row.id}.pdf"'})  # fmt: skip


@router.patch("/v1/reports/{report_id}", response_model=ReportOut, summary="Edit a draft")
async def edit(
    report_id: UUID, body: ReportEditIn, principal: Principal = Depends(WORK), c: Container = Depends(container)
) -> Any:
    change = DraftEdit(
        suspicion_due_to=tuple(body.suspicion_due_to) if body.suspicion_due_to is not None else None,
        grounds_of_suspicion=body.grounds_of_suspicion,
        action_taken=body.action_taken,
    )
    return report_out(await c.reports.edit(report_id, principal.sub, principal.roles, change), c)


@router.post("/v1/reports/{report_id}/submit", response_model=ReportOut, summary="Submit for sign-off")
async def submit(report_id: UUID, principal: Principal = Depends(WORK), c: Container = Depends(container)) -> Any:
    return report_out(await c.reports.submit(report_id, principal.sub, principal.roles), c)


@router.post("/v1/reports/{report_id}/return", response_model=ReportOut, summary="Send back to draft")
async def send_back(
    report_id: UUID, body: ReturnIn, principal: Principal = Depends(SIGN), c: Container = Depends(container)
) -> Any:
    return report_out(await c.reports.send_back(report_id, principal.sub, principal.roles, body.reason), c)


@router.post("/v1/reports/{report_id}/sign", response_model=ReportOut, summary="Sign and file (four-eyes)")
async def sign(report_id: UUID, principal: Principal = Depends(SIGN), c: Container = Depends(container)) -> Any:
    """An officer other than the submitter signs: the report is filed, immutable, its hash audited."""
    return report_out(await c.reports.sign(report_id, principal.sub, principal.roles), c)
