"""STR/SAR drafts of a review case: draft, edit, submit, sign (four-eyes), filed for good.

A draft is built from the case's stored check and its AI narrative (when there is one); officers
edit the grounds, the categories and the action taken while it is a draft; one person submits it
for sign-off and another (an officer, never the submitter) signs it. Signing renders the report
in its format, hashes the canonical JSON and files it: the row can no longer change (a database
trigger refuses), and the hash goes into the audit chain with ``report.filed``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import ValidationError

from compliance_shield.db import Conn
from compliance_shield.db import cases as cases_repo
from compliance_shield.db import checks as checks_repo
from compliance_shield.db import reports as repo
from compliance_shield.db.reports import ReportRow
from compliance_shield.domain import report as rpt
from compliance_shield.domain.case import CONFIRMERS, PROPOSERS, require_role
from compliance_shield.errors import Conflict, Forbidden, NotFound, ValidationFailed
from compliance_shield.services.cases.records import record
from compliance_shield.services.ids import uuid7
from compliance_shield.services.reference.snapshot import Snapshot


class ReportService:
    def __init__(self, pool: asyncpg.Pool, snapshot: Snapshot, entity: rpt.ReportingEntity) -> None:
        self._pool = pool
        self._snapshot = snapshot
        self._entity = entity

    async def create(self, case_id: UUID, actor: str, roles: frozenset[str], fmt: rpt.ReportFormat | None) -> ReportRow:
        require_role(roles, PROPOSERS, "drafting a report")
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            case = await cases_repo.get_case(conn, case_id, for_update=True)
            if case is None:
                raise NotFound(f"case {case_id} not found")
            check = await checks_repo.get_check(conn, case.check_id)
            assert check is not None
            jurisdiction = self._jurisdiction(check)
            narrative = await cases_repo.latest_narrative(conn, case_id)
            draft = rpt.build_draft(str(case_id), check, jurisdiction=jurisdiction, entity=self._entity,
                                    reason_codes=case.reason_codes, narrative=narrative)  # fmt: skip
            row = ReportRow(
                id=uuid7(), case_id=case_id, format=(fmt or rpt.format_for(jurisdiction)).value, status="draft",
                document=draft.model_dump(mode="json"), created_by=actor, created_at=now, updated_at=now,
                submitted_by=None, submitted_at=None, signed_by=None, filed_at=None, content_sha256=None, version=1,
            )  # fmt: skip
            await repo.insert(conn, row)
            await record(conn, case, "report.drafted", actor, now, {"report_id": str(row.id), "format": row.format})
            return row

    def _jurisdiction(self, check: dict[str, Any]) -> str:
        token = self._snapshot.tokens.get(check["token_id"])
        policy = self._snapshot.policies.get(token.policy_id) if token is not None and token.policy_id else None
        return policy.compiled.document.jurisdiction if policy is not None else "IN"

    async def get(self, report_id: UUID) -> ReportRow:
        async with self._pool.acquire() as conn:
            row = await repo.get(conn, report_id)
        if row is None:
            raise NotFound(f"report {report_id} not found")
        return row

    async def of_case(self, case_id: UUID) -> list[ReportRow]:
        async with self._pool.acquire() as conn:
            return await repo.of_case(conn, case_id)

    async def edit(self, report_id: UUID, actor: str, roles: frozenset[str], edit: rpt.DraftEdit) -> ReportRow:
        require_role(roles, PROPOSERS, "editing a report")
        async with self._changing(report_id) as (conn, row, now):
            if row.status != "draft":
                raise Conflict(f"the report is {row.status}: only a draft can be edited")
            try:
                draft = rpt.apply_edit(rpt.ReportDraft.model_validate(row.document), edit)
            except ValueError as exc:
                raise ValidationFailed(str(exc), field="suspicion_due_to") from exc
            changed = replace(row, document=draft.model_dump(mode="json"), updated_at=now, version=row.version + 1)
            await repo.update(conn, changed)
            await self._record(conn, changed, "report.edited", actor, now, {})
            return changed

    async def submit(self, report_id: UUID, actor: str, roles: frozenset[str]) -> ReportRow:
        require_role(roles, PROPOSERS, "submitting a report")
        async with self._changing(report_id) as (conn, row, now):
            if row.status != "draft":
                raise Conflict(f"the report is {row.status}: only a draft can be submitted")
            if not str(row.document.get("grounds_of_suspicion", "")).strip():
                raise ValidationFailed("the grounds of suspicion are empty", field="grounds_of_suspicion")
            changed = replace(row, status="pending_signoff", submitted_by=actor, submitted_at=now, updated_at=now,
                              version=row.version + 1)  # fmt: skip
            await repo.update(conn, changed)
            await self._record(conn, changed, "report.submitted", actor, now, {})
            return changed

    async def send_back(self, report_id: UUID, actor: str, roles: frozenset[str], reason: str) -> ReportRow:
        require_role(roles, CONFIRMERS, "returning a report")
        async with self._changing(report_id) as (conn, row, now):
            if row.status != "pending_signoff":
                raise Conflict(f"the report is {row.status}: there is no submission to return")
            changed = replace(row, status="draft", submitted_by=None, submitted_at=None, updated_at=now,
                              version=row.version + 1)  # fmt: skip
            await repo.update(conn, changed)
            await self._record(conn, changed, "report.returned", actor, now, {"reason": reason})
            return changed

    async def sign(self, report_id: UUID, actor: str, roles: frozenset[str]) -> ReportRow:
        """Four-eyes sign-off: an officer other than the submitter files the report."""
        require_role(roles, CONFIRMERS, "signing a report")
        async with self._changing(report_id) as (conn, row, now):
            if row.status != "pending_signoff":
                raise Conflict(f"the report is {row.status}: only a submitted report can be signed")
            if row.submitted_by == actor:
                raise Forbidden("four-eyes: the submitter cannot sign their own report")
            rendered = self.rendered(row)
            digest = rpt.content_hash(rendered)
            changed = replace(row, status="filed", signed_by=actor, filed_at=now, content_sha256=digest,
                              updated_at=now, version=row.version + 1)  # fmt: skip
            await repo.update(conn, changed)
            await self._record(conn, changed, "report.filed", actor, now, {"content_sha256": digest})
            return changed

    @staticmethod
    def rendered(row: ReportRow) -> dict[str, Any]:
        """The report in its filing format."""
        try:
            draft = rpt.ReportDraft.model_validate(row.document)
        except ValidationError as exc:  # (stored by this service: cannot happen short of a hand edit)
            raise Conflict(f"the stored draft is invalid: {exc.error_count()} error(s)") from exc
        return rpt.render(rpt.ReportFormat(row.format), draft)

    @contextlib.asynccontextmanager
    async def _changing(self, report_id: UUID) -> AsyncIterator[tuple[Conn, ReportRow, datetime]]:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await repo.get(conn, report_id, for_update=True)
            if row is None:
                raise NotFound(f"report {report_id} not found")
            yield conn, row, datetime.now(UTC)

    @staticmethod
    async def _record(
        conn: Conn, row: ReportRow, action: str, actor: str, now: datetime, extra: dict[str, Any]
    ) -> None:
        case = await cases_repo.get_case(conn, row.case_id)
        assert case is not None
        await record(conn, case, action, actor, now,
                     {"report_id": str(row.id), "format": row.format, "status": row.status, **extra})  # fmt: skip
