"""Repository of reservations (the held effect of approved, unsettled checks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from compliance_shield.db import Conn


async def get_for_update(conn: Conn, check_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM reservations WHERE check_id = $1 FOR UPDATE", check_id)
    return dict(row) if row is not None else None


async def close(conn: Conn, check_id: UUID, status: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE reservations SET status = $2, released_at = $3 WHERE check_id = $1", check_id, status, at
    )


async def mark_check(conn: Conn, check_id: UUID, status: str, at: datetime, tx_hash: str | None = None) -> None:
    await conn.execute(
        """UPDATE transfer_compliance_checks SET settlement_status = $2, settled_at = $3,
               tx_hash = COALESCE($4, tx_hash)
           WHERE id = $1""",
        check_id,
        status,
        at,
        tx_hash,
    )


async def tokens_with_due(conn: Conn, now: datetime, limit: int) -> list[UUID]:
    rows = await conn.fetch(
        """SELECT DISTINCT token_id FROM reservations WHERE status = 'active' AND expires_at <= $1 LIMIT $2""",
        now,
        limit,
    )
    return [r["token_id"] for r in rows]


async def expire_due(conn: Conn, token_ids: list[UUID], now: datetime) -> list[asyncpg.Record]:
    """Mark the tokens' active reservations past expiry as expired (caller holds the token locks)."""
    return await conn.fetch(
        """UPDATE reservations SET status = 'expired', released_at = $2
           WHERE token_id = ANY($1::uuid[]) AND status = 'active' AND expires_at <= $2
           RETURNING check_id, token_id""",
        token_ids,
        now,
    )
