"""Review-case use cases: open, assign, note, propose, confirm (four-eyes), decline, read.

Each step is one transaction that also writes the case's history row, an audit-chain entry and
an outbox event (``case.*``). A confirmed approval takes the transfer's reservation in that same
transaction (``approval.take_approval``) and turns the check into an approval; a confirmed
rejection makes it a final rejection. Both emit ``transfer_check.decided`` again with the new
status, so a platform waiting on the check learns the answer where it learns the engine's.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import structlog

from compliance_shield.db import Conn
from compliance_shield.db import cases as repo
from compliance_shield.db import chain as chain_repo
from compliance_shield.db import checks as checks_repo
from compliance_shield.domain import case as rules
from compliance_shield.domain.case import CaseStatus, Origin, Resolution, ReviewCase
from compliance_shield.errors import Conflict, NotFound, ValidationFailed
from compliance_shield.services.cases.approval import ApprovalRefused, request_of, take_approval
from compliance_shield.services.cases.records import record, record_check_answer
from compliance_shield.services.checks.gather import CheckRequest
from compliance_shield.services.ids import uuid7
from compliance_shield.services.reference.snapshot import Snapshot

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]

#: the opener reads escalated checks again this far behind its high-water mark: a decision's
#: ``created_at`` is taken before its batch commits (cases are unique per check, so no double)
LATE_COMMIT_WINDOW_SECONDS = 30


class EvidenceSource(Protocol):
    async def with_evidence(self, request: CheckRequest) -> CheckRequest:
        """``request`` carrying its external evidence, gathered now."""
        ...


@dataclass(frozen=True, slots=True)
class CaseFilter:
    statuses: tuple[str, ...] = ("open", "proposed", "awaiting_info")
    token_id: UUID | None = None
    reason: str | None = None
    min_risk: int | None = None
    assignee: str | None = None
    overdue: bool = False
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True, slots=True)
class CaseDetail:
    case: ReviewCase
    check: dict[str, Any]
    history: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    narrative: dict[str, Any] | None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CaseService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        snapshot: Snapshot,
        evidence: EvidenceSource,
        *,
        four_eyes_min_risk: int = 0,
        clock: Clock = _utcnow,
    ) -> None:
        self._pool = pool
        self._snapshot = snapshot
        self._evidence = evidence
        self._four_eyes_min_risk = four_eyes_min_risk
        self._clock = clock

    # -- opening --------------------------------------------------------------------------------

    async def open_escalated(self, limit: int = 500) -> int:
        """Open a case for every escalated check that has none (run periodically; idempotent)."""
        now = self._clock()
        async with self._pool.acquire() as conn, conn.transaction():
            since = await repo.high_water(conn, "escalated")
            window = since - timedelta(seconds=LATE_COMMIT_WINDOW_SECONDS) if since is not None else None
            rows = await repo.escalated_without_case(conn, window, limit)
            opened = 0
            for row in rows:
                if await self._open(conn, row, Origin.ESCALATED, "system", now):
                    opened += 1
            if rows:
                await repo.set_high_water(conn, "escalated", max(r["created_at"] for r in rows))
        return opened

    async def open_for_check(self, check_id: UUID, actor: str, reason: str) -> ReviewCase:
        """Open a case on request (a rejected check to look at again, or an escalated one now)."""
        now = self._clock()
        async with self._pool.acquire() as conn, conn.transaction():
            check = await checks_repo.get_check(conn, check_id)
            if check is None:
                raise NotFound(f"check {check_id} not found", details=[{"field": "check_id", "message": "unknown"}])
            if check["status"] == "APPROVED":
                raise Conflict("an approved check needs no review (cancel it instead)")
            origin = Origin.ESCALATED if check["status"] == "ESCALATED" else Origin.REQUESTED
            opened = await self._open(conn, check, origin, actor, now, {"reason": reason})
            if opened is None:
                raise Conflict(f"check {check_id} already has a case")
            return opened

    async def _open(
        self,
        conn: Conn,
        check: dict[str, Any],
        origin: Origin,
        actor: str,
        now: datetime,
        extra: dict[str, Any] | None = None,
    ) -> ReviewCase | None:
        """A case for ``check`` (a stored check row) unless it has one."""
        case = rules.open_case(
            uuid7(), check_id=check["id"], check_created_at=check["created_at"], token_id=check["token_id"],
            reason_codes=tuple(r["code"] for r in check["reasons"]), risk_score=check["risk_score"],
            engine_status=check["status"], engine_restriction_code=check["restriction_code"], origin=origin,
            opened_by=actor, four_eyes_min_risk=self._four_eyes_min_risk, now=now,
        )  # fmt: skip
        if not await repo.insert_case(conn, case):
            return None
        await record(conn, case, "case.opened", actor, now, extra)
        return case

    # -- reading ---------------------------------------------------------------------------------

    async def get(self, case_id: UUID) -> CaseDetail:
        async with self._pool.acquire() as conn:
            case = await repo.get_case(conn, case_id)
            if case is None:
                raise NotFound(f"case {case_id} not found")
            check = await checks_repo.get_check(conn, case.check_id)
            assert check is not None
            return CaseDetail(
                case, check, await repo.history(conn, case_id), await repo.notes(conn, case_id),
                await repo.latest_narrative(conn, case_id),
            )  # fmt: skip

    async def of_check(self, check_id: UUID) -> ReviewCase | None:
        async with self._pool.acquire() as conn:
            return await repo.case_of_check(conn, check_id)

    async def list(self, query: CaseFilter) -> list[ReviewCase]:
        async with self._pool.acquire() as conn:
            return await repo.list_cases(
                conn, statuses=query.statuses, token_id=query.token_id, reason=query.reason,
                min_risk=query.min_risk, assignee=query.assignee,
                overdue_at=self._clock() if query.overdue else None, offset=query.offset, limit=query.limit,
            )  # fmt: skip

    async def open_counts(self) -> dict[str, int]:
        async with self._pool.acquire() as conn:
            return await repo.open_counts(conn, self._clock())

    # -- working a case ----------------------------------------------------------------------------

    async def assign(self, case_id: UUID, assignee: str | None, actor: str) -> ReviewCase:
        async with self._changing(case_id) as (conn, case, now):
            changed = rules.assign(case, assignee)
            await repo.update_case(conn, changed)
            await record(conn, changed, "case.assigned", actor, now, {"assignee": assignee})
            return changed

    async def add_note(self, case_id: UUID, actor: str, body: str, attachments: Sequence[dict[str, str]]) -> int:
        async with self._changing(case_id, resolved_ok=True) as (conn, case, now):
            note_id = await repo.add_note(conn, case.id, now, actor, body, list(attachments))
            await record(
                conn, case, "case.note_added", actor, now, {"note_id": note_id, "attachments": list(attachments)}
            )
            return note_id

    async def record_hit_verdict(
        self,
        case_id: UUID,
        actor: str,
        roles: frozenset[str],
        verdict: str,
        investor_id: UUID,
        source: str,
        entity_uid: str,
        reason: str,
    ) -> None:
        """Record an officer's verdict (``dismiss`` or ``confirm``) on a party's screening hit."""
        rules.require_role(roles, rules.CONFIRMERS, "a verdict on a screening hit")
        async with self._changing(case_id) as (conn, case, now):
            payload = {"investor_id": str(investor_id), "source": source, "entity_uid": entity_uid, "reason": reason}
            await record(conn, case, f"case.hit_{'dismissed' if verdict == 'dismiss' else 'confirmed'}", actor, now,
                         payload)  # fmt: skip

    async def propose(
        self, case_id: UUID, actor: str, roles: frozenset[str], resolution: Resolution, reason: str
    ) -> ReviewCase:
        async with self._changing(case_id) as (conn, case, now):
            changed = rules.propose(case, actor, roles, resolution, reason, now)
            if resolution is Resolution.APPROVE and case.origin is Origin.REQUESTED:
                check = await checks_repo.get_check(conn, case.check_id)
                if check is not None and check["status"] != "ESCALATED":
                    raise Conflict(f"the check is {check['status']}: only an escalated check can be approved on review")
            await repo.update_case(conn, changed)
            await record(conn, changed, "case.proposed", actor, now, {"resolution": resolution.value, "reason": reason})
            return changed

    async def decline(self, case_id: UUID, actor: str, roles: frozenset[str], reason: str) -> ReviewCase:
        async with self._changing(case_id) as (conn, case, now):
            changed = rules.decline(case, actor, roles)
            await repo.update_case(conn, changed)
            proposal = case.proposal.to_json() if case.proposal else None
            await record(conn, changed, "case.declined", actor, now, {"reason": reason, "proposal": proposal})
            return changed

    async def confirm(self, case_id: UUID, actor: str, roles: frozenset[str]) -> ReviewCase:
        """Confirm the standing proposal (four-eyes). An approval the limits no longer allow
        reopens the case and records why (``case.approval_refused``); nothing is approved then."""
        async with self._pool.acquire() as conn:
            current = await repo.get_case(conn, case_id)
            check = await checks_repo.get_check(conn, current.check_id) if current is not None else None
        if current is None or check is None:
            raise NotFound(f"case {case_id} not found")
        proposal = rules.check_confirmable(current, actor, roles)
        request = None
        if proposal.resolution is Resolution.APPROVE:
            # provider evidence is gathered before the transaction, as for a new check
            request = await self._evidence.with_evidence(request_of(check))
        async with self._changing(case_id) as (conn, case, now):
            confirmed = rules.check_confirmable(case, actor, roles)
            if confirmed != proposal:
                raise Conflict("the proposal changed meanwhile; review it again")
            check = await checks_repo.get_check(conn, case.check_id, for_update=True)
            assert check is not None
            if proposal.resolution is Resolution.NEEDS_MORE_INFO:
                changed = rules.ask_for_information(case)
                await repo.update_case(conn, changed)
                await record(conn, changed, "case.info_requested", actor, now, {"proposal": proposal.to_json()})
                return changed
            if proposal.resolution is Resolution.REJECT:
                return await self._reject(conn, case, check, actor, now, proposal.to_json())
            assert request is not None
            return await self._approve(conn, case, check, request, actor, now, proposal.to_json())

    async def _reject(
        self, conn: Conn, case: ReviewCase, check: dict[str, Any], actor: str, now: datetime, proposal: dict[str, Any]
    ) -> ReviewCase:
        if check["status"] == "ESCALATED":
            await repo.reject_check(conn, check["id"], check["created_at"])
            check = {**check, "status": "REJECTED"}
            await record_check_answer(conn, check, case, actor, now)
        elif check["status"] != "REJECTED":
            raise Conflict(f"the check is {check['status']}: it can no longer be rejected on review")
        changed = rules.resolve(case, actor, "rejected", now)
        await repo.update_case(conn, changed)
        await record(conn, changed, "case.resolved", actor, now, {"proposal": proposal})
        return changed

    async def _approve(
        self,
        conn: Conn,
        case: ReviewCase,
        check: dict[str, Any],
        request: CheckRequest,
        actor: str,
        now: datetime,
        proposal: dict[str, Any],
    ) -> ReviewCase:
        if check["status"] != "ESCALATED":
            raise Conflict(f"the check is {check['status']}: only an escalated check can be approved on review")
        reviewed = frozenset(str(t["rule"]) for t in check["rules"] if t["result"] in ("review", "error"))
        taken = await take_approval(conn, self._snapshot, request, check["id"], reviewed, now)
        if isinstance(taken, ApprovalRefused):
            changed = rules.reopen(case)
            await repo.update_case(conn, changed)
            await record(conn, changed, "case.approval_refused", actor, now,
                         {"codes": list(taken.codes), "message": taken.message, "proposal": proposal})  # fmt: skip
            return changed
        await repo.approve_check(conn, check["id"], check["created_at"], taken.expires_at)
        approved = {**check, "status": "APPROVED", "restriction_code": 0, "expires_at": taken.expires_at}
        await record_check_answer(conn, approved, case, actor, now)
        await chain_repo.enqueue_reviewed_approval(conn, check["id"], now)
        changed = rules.resolve(case, actor, "approved", now)
        await repo.update_case(conn, changed)
        await record(conn, changed, "case.resolved", actor, now,
                     {"proposal": proposal, "expires_at": taken.expires_at.isoformat()})  # fmt: skip
        return changed

    # -- the transaction of one step ---------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _changing(
        self, case_id: UUID, *, resolved_ok: bool = False
    ) -> AsyncIterator[tuple[Conn, ReviewCase, datetime]]:
        """A transaction holding the case's row lock: steps on one case are serialized."""
        async with self._pool.acquire() as conn, conn.transaction():
            case = await repo.get_case(conn, case_id, for_update=True)
            if case is None:
                raise NotFound(f"case {case_id} not found")
            if case.status is CaseStatus.RESOLVED and not resolved_ok:
                raise Conflict(f"the case is resolved ({case.outcome})")
            yield conn, case, self._clock()


def validate_reason(reason: str, field: str = "reason") -> str:
    text = reason.strip()
    if not text:
        raise ValidationFailed("a reason is required", field=field)
    return text
