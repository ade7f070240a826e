"""Repository of review cases, their history, notes and narratives (never commits)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from compliance_shield.db import Conn
from compliance_shield.domain.case import CaseStatus, Origin, Proposal, ReviewCase

_COLUMNS = (
    "id, check_id, check_created_at, token_id, origin, reason_codes, primary_reason, risk_score, engine_status, "
    "engine_restriction_code, four_eyes, "
    "status, assignee, opened_at, opened_by, due_at, proposal, outcome, resolved_by, resolved_at, version"
)


def _case(row: asyncpg.Record) -> ReviewCase:
    return ReviewCase(
        id=row["id"],
        check_id=row["check_id"],
        check_created_at=row["check_created_at"],
        token_id=row["token_id"],
        origin=Origin(row["origin"]),
        reason_codes=tuple(row["reason_codes"]),
        primary_reason=row["primary_reason"],
        risk_score=row["risk_score"],
        engine_status=row["engine_status"],
        engine_restriction_code=row["engine_restriction_code"],
        four_eyes=row["four_eyes"],
        status=CaseStatus(row["status"]),
        assignee=row["assignee"],
        opened_at=row["opened_at"],
        opened_by=row["opened_by"],
        due_at=row["due_at"],
        proposal=Proposal.from_json(row["proposal"]) if row["proposal"] is not None else None,
        outcome=row["outcome"],
        resolved_by=row["resolved_by"],
        resolved_at=row["resolved_at"],
        version=row["version"],
    )


async def insert_case(conn: Conn, case: ReviewCase) -> bool:
    """Insert ``case``; False when its check already has one (nothing is written then)."""
    inserted = await conn.fetchval(
        f"""INSERT INTO review_cases ({_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
            ON CONFLICT (check_id) DO NOTHING RETURNING true""",  # noqa: S608
        case.id, case.check_id, case.check_created_at, case.token_id, case.origin.value, list(case.reason_codes),
        case.primary_reason, case.risk_score, case.engine_status, case.engine_restriction_code, case.four_eyes,
        case.status.value, case.assignee, case.opened_at, case.opened_by, case.due_at,
        case.proposal.to_json() if case.proposal else None, case.outcome, case.resolved_by, case.resolved_at,
        case.version,
    )  # fmt: skip
    return bool(inserted)


async def update_case(conn: Conn, case: ReviewCase) -> None:
    await conn.execute(
        """UPDATE review_cases SET status = $2, assignee = $3, proposal = $4, outcome = $5, resolved_by = $6,
               resolved_at = $7, version = $8
           WHERE id = $1""",
        case.id, case.status.value, case.assignee, case.proposal.to_json() if case.proposal else None,
        case.outcome, case.resolved_by, case.resolved_at, case.version,
    )  # fmt: skip


async def get_case(conn: Conn, case_id: UUID, *, for_update: bool = False) -> ReviewCase | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM review_cases WHERE id = $1{lock}", case_id)  # noqa: S608
    return _case(row) if row is not None else None


async def case_of_check(conn: Conn, check_id: UUID) -> ReviewCase | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM review_cases WHERE check_id = $1", check_id)  # noqa: S608
    return _case(row) if row is not None else None


async def list_cases(
    conn: Conn,
    *,
    statuses: Sequence[str],
    token_id: UUID | None,
    reason: str | None,
    min_risk: int | None,
    assignee: str | None,
    overdue_at: datetime | None,
    offset: int,
    limit: int,
) -> list[ReviewCase]:
    """The queue: the earliest deadline first (resolved cases: the latest resolution first)."""
    where = ["status = ANY($1::text[])"]
    args: list[Any] = [list(statuses)]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if token_id is not None:
        where.append(f"token_id = {arg(token_id)}")
    if reason:
        where.append(f"{arg(reason)} = ANY(reason_codes)")
    if min_risk is not None:
        where.append(f"risk_score >= {arg(min_risk)}")
    if assignee:
        where.append(f"assignee = {arg(assignee)}")
    if overdue_at is not None:
        where.append(f"due_at < {arg(overdue_at)}")
    order = "resolved_at DESC NULLS LAST, id" if list(statuses) == ["resolved"] else "due_at, id"
    sql = (
        f"SELECT {_COLUMNS} FROM review_cases WHERE {' AND '.join(where)} "  # noqa: S608
        f"ORDER BY {order} OFFSET {arg(offset)} LIMIT {arg(limit)}"
    )
    return [_case(r) for r in await conn.fetch(sql, *args)]


async def open_counts(conn: Conn, now: datetime) -> dict[str, int]:
    """Unresolved cases by SLA state: ``overdue``, ``due_4h`` (within four hours), ``later``."""
    row = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE due_at < $1) AS overdue,
                  count(*) FILTER (WHERE due_at >= $1 AND due_at < $1 + interval '4 hours') AS due_4h,
                  count(*) FILTER (WHERE due_at >= $1 + interval '4 hours') AS later
           FROM review_cases WHERE status <> 'resolved'""",
        now,
    )
    assert row is not None
    return {"overdue": row["overdue"], "due_4h": row["due_4h"], "later": row["later"]}


# -- history, notes, narratives -------------------------------------------------------------------


async def add_history(
    conn: Conn, case_id: UUID, at: datetime, actor: str, action: str, payload: dict[str, Any]
) -> None:
    await conn.execute(
        "INSERT INTO review_case_history (case_id, at, actor, action, payload) VALUES ($1, $2, $3, $4, $5)",
        case_id, at, actor, action, payload,
    )  # fmt: skip


async def history(conn: Conn, case_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT at, actor, action, payload FROM review_case_history WHERE case_id = $1 ORDER BY id", case_id
    )
    return [dict(r) for r in rows]


async def add_note(
    conn: Conn, case_id: UUID, at: datetime, author: str, body: str, attachments: list[dict[str, str]]
) -> int:
    note_id: int = await conn.fetchval(
        """INSERT INTO review_case_notes (case_id, at, author, body, attachments)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        case_id, at, author, body, attachments,
    )  # fmt: skip
    return note_id


async def notes(conn: Conn, case_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT id, at, author, body, attachments FROM review_case_notes WHERE case_id = $1 ORDER BY id", case_id
    )
    return [dict(r) for r in rows]


async def add_narrative(
    conn: Conn,
    case_id: UUID,
    at: datetime,
    *,
    model: str,
    prompt_version: str,
    inputs_sha256: str,
    sent_fields: Sequence[str],
    narrative: dict[str, Any],
) -> None:
    await conn.execute(
        """INSERT INTO review_case_narratives
               (case_id, created_at, model, prompt_version, inputs_sha256, sent_fields, narrative)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        case_id, at, model, prompt_version, inputs_sha256, list(sent_fields), narrative,
    )  # fmt: skip


async def latest_narrative(conn: Conn, case_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT created_at, model, prompt_version, inputs_sha256, sent_fields, narrative
           FROM review_case_narratives WHERE case_id = $1 ORDER BY id DESC LIMIT 1""",
        case_id,
    )
    return dict(row) if row is not None else None


# -- opening cases for escalated checks ------------------------------------------------------------


async def high_water(conn: Conn, name: str) -> datetime | None:
    value: datetime | None = await conn.fetchval("SELECT high_water FROM review_case_cursor WHERE name = $1", name)
    return value


async def set_high_water(conn: Conn, name: str, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO review_case_cursor (name, high_water) VALUES ($1, $2)
           ON CONFLICT (name) DO UPDATE
               SET high_water = GREATEST(review_case_cursor.high_water, EXCLUDED.high_water)""",
        name,
        at,
    )


async def escalated_without_case(conn: Conn, since: datetime | None, limit: int) -> list[dict[str, Any]]:
    """Escalated checks decided after ``since`` (all when None) that have no case yet, oldest first."""
    rows = await conn.fetch(
        """SELECT c.id, c.created_at, c.token_id, c.risk_score, c.reasons, c.status, c.restriction_code
           FROM transfer_compliance_checks c
           WHERE c.status = 'ESCALATED' AND ($1::timestamptz IS NULL OR c.created_at > $1)
             AND NOT EXISTS (SELECT 1 FROM review_cases r WHERE r.check_id = c.id)
           ORDER BY c.created_at LIMIT $2""",
        since,
        limit,
    )
    return [dict(r) for r in rows]


# -- the check a resolution turns into an answer ----------------------------------------------------


async def approve_check(conn: Conn, check_id: UUID, created_at: datetime, expires_at: datetime) -> None:
    """The escalated check becomes an approval holding until ``expires_at`` (its trace is kept)."""
    await conn.execute(
        """UPDATE transfer_compliance_checks
           SET status = 'APPROVED', restriction_code = 0, expires_at = $3, settlement_status = 'pending'
           WHERE id = $1 AND created_at = $2 AND status = 'ESCALATED'""",
        check_id,
        created_at,
        expires_at,
    )


async def reject_check(conn: Conn, check_id: UUID, created_at: datetime) -> None:
    """The check becomes a final rejection; its restriction code stays the escalation's."""
    await conn.execute(
        """UPDATE transfer_compliance_checks SET status = 'REJECTED'
           WHERE id = $1 AND created_at = $2 AND status = 'ESCALATED'""",
        check_id,
        created_at,
    )


async def pep_transfers(conn: Conn, limit: int) -> list[asyncpg.Record]:
    """(token_id, from_address, to_address): a verified holder's transfer to a verified politically
    exposed holder of the same token, one per receiver (the demo's escalations)."""
    return await conn.fetch(
        """WITH verified AS (
               SELECT i.id, i.pep, w.address, h.token_id, h.balance FROM investors i
                 JOIN wallets w ON w.investor_id = i.id AND w.status = 'active'
                 JOIN holdings h ON h.investor_id = i.id AND h.balance > 0
               WHERE i.kyc_status = 'verified' AND (i.kyc_expires_at IS NULL OR i.kyc_expires_at > now())
           )
           SELECT DISTINCT ON (r.id) r.token_id, s.address AS from_address, r.address AS to_address
             FROM verified r JOIN verified s ON s.token_id = r.token_id AND NOT s.pep AND s.balance >= 100
           WHERE r.pep
           ORDER BY r.id, s.balance DESC, s.address LIMIT $1""",
        limit,
    )


async def cases_without_narrative(conn: Conn, max_attempts: int, limit: int) -> list[UUID]:
    """Unresolved cases with no narrative and fewer than ``max_attempts`` failed drafts, oldest first."""
    rows = await conn.fetch(
        """SELECT r.id FROM review_cases r
           WHERE r.status <> 'resolved'
             AND NOT EXISTS (SELECT 1 FROM review_case_narratives n WHERE n.case_id = r.id)
             AND (SELECT count(*) FROM review_case_history h
                   WHERE h.case_id = r.id AND h.action = 'case.narrative_failed') < $1
           ORDER BY r.opened_at, r.id LIMIT $2""",
        max_attempts,
        limit,
    )
    return [r["id"] for r in rows]
