"""Repository of suspicious-transaction report drafts (never commits)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from compliance_shield.db import Conn

_COLUMNS = (
    "id, case_id, format, status, document, created_by, created_at, updated_at, submitted_by, submitted_at, "
    "signed_by, filed_at, content_sha256, version"
)


@dataclass(frozen=True, slots=True)
class ReportRow:
    id: UUID
    case_id: UUID
    format: str
    status: str
    document: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime
    submitted_by: str | None
    submitted_at: datetime | None
    signed_by: str | None
    filed_at: datetime | None
    content_sha256: str | None
    version: int


async def insert(conn: Conn, row: ReportRow) -> None:
    await conn.execute(
        f"INSERT INTO case_reports ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",  # noqa: S608
        row.id, row.case_id, row.format, row.status, row.document, row.created_by, row.created_at, row.updated_at,
        row.submitted_by, row.submitted_at, row.signed_by, row.filed_at, row.content_sha256, row.version,
    )  # fmt: skip


async def update(conn: Conn, row: ReportRow) -> None:
    await conn.execute(
        """UPDATE case_reports SET status = $2, document = $3, updated_at = $4, submitted_by = $5, submitted_at = $6,
               signed_by = $7, filed_at = $8, content_sha256 = $9, version = $10
           WHERE id = $1""",
        row.id, row.status, row.document, row.updated_at, row.submitted_by, row.submitted_at, row.signed_by,
        row.filed_at, row.content_sha256, row.version,
    )  # fmt: skip


async def get(conn: Conn, report_id: UUID, *, for_update: bool = False) -> ReportRow | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM case_reports WHERE id = $1{lock}", report_id)  # noqa: S608
    return ReportRow(**dict(row)) if row is not None else None


async def of_case(conn: Conn, case_id: UUID) -> list[ReportRow]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM case_reports WHERE case_id = $1 ORDER BY created_at", case_id)  # noqa: S608
    return [ReportRow(**dict(r)) for r in rows]
