"""Repository of investors' name-screening results and dismissed false positives (never commits)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from compliance_shield.db import Conn

SCREENED_COLUMNS = "id, type, name, country, nationality"


async def due_for_screening(conn: Conn, versions: Sequence[str], limit: int) -> list[asyncpg.Record]:
    """Investors never screened or screened against other list versions than ``versions``.

    Rows are locked (``SKIP LOCKED``): processes sweeping at the same time share the work, and a
    concurrent edit of an investor (which screens it itself) is not overwritten.
    """
    return await conn.fetch(
        f"""SELECT {SCREENED_COLUMNS} FROM investors
            WHERE screening_status = 'pending' OR screening_list_versions <> $1::text[]
            ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED""",  # noqa: S608
        sorted(versions),
        limit,
    )


async def save_results(
    conn: Conn, results: Sequence[tuple[UUID, str, list[dict[str, Any]], list[str], datetime]]
) -> None:
    """Rows of (investor id, status, hits as JSON, list versions, screened at)."""
    await conn.executemany(
        """UPDATE investors SET screening_status = $2, screening_hits = $3::jsonb,
                  screening_list_versions = $4::text[], screened_at = $5
           WHERE id = $1""",
        results,
    )


async def dismissed_entries(conn: Conn, investor_ids: Sequence[UUID]) -> dict[UUID, set[tuple[str, str]]]:
    rows = await conn.fetch(
        "SELECT investor_id, source, entity_uid FROM screening_dismissals WHERE investor_id = ANY($1::uuid[])",
        list(investor_ids),
    )
    out: dict[UUID, set[tuple[str, str]]] = {}
    for r in rows:
        out.setdefault(r["investor_id"], set()).add((r["source"], r["entity_uid"]))
    return out


async def insert_dismissal(
    conn: Conn,
    investor_id: UUID,
    source: str,
    entity_uid: str,
    entity_name: str | None,
    score: float | None,
    reason: str,
    actor: str,
) -> asyncpg.Record | None:
    """The new dismissal, or None when this list entry is already dismissed for the investor."""
    return await conn.fetchrow(
        """INSERT INTO screening_dismissals
              (investor_id, source, entity_uid, entity_name, score, reason, dismissed_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (investor_id, source, entity_uid) DO NOTHING
           RETURNING id, investor_id, source, entity_uid, entity_name, score, reason, dismissed_by, dismissed_at""",
        investor_id,
        source,
        entity_uid,
        entity_name,
        score,
        reason,
        actor,
    )


async def dismissals(conn: Conn, investor_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, investor_id, source, entity_uid, entity_name, score, reason, dismissed_by, dismissed_at
           FROM screening_dismissals WHERE investor_id = $1 ORDER BY dismissed_at""",
        investor_id,
    )


async def screening_of(conn: Conn, investor_id: UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"""SELECT {SCREENED_COLUMNS}, screening_status, screening_hits, screening_list_versions, screened_at
            FROM investors WHERE id = $1{lock}""",  # noqa: S608
        investor_id,
    )
