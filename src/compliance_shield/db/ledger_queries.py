"""Queries behind the per-token ledger: holdings, lots, reservations and the state version.

Every transaction that changes a token's holdings or reservations first locks its
``token_state`` row (``lock_tokens``) and bumps its version (``bump_versions``); a process
whose in-memory ledger carries an older version reloads it inside the same locked transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from compliance_shield.db import Conn


async def lock_tokens(conn: Conn, token_ids: Sequence[UUID]) -> dict[UUID, int]:
    """Lock the state rows of ``token_ids`` (in a stable order: no deadlocks) and return versions."""
    ordered = sorted(set(token_ids))
    await conn.execute("INSERT INTO token_state (token_id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING", ordered)
    rows = await conn.fetch(
        "SELECT token_id, version FROM token_state WHERE token_id = ANY($1::uuid[]) ORDER BY token_id FOR UPDATE",
        ordered,
    )
    return {r["token_id"]: r["version"] for r in rows}


async def bump_versions(conn: Conn, token_ids: Sequence[UUID]) -> dict[UUID, int]:
    rows = await conn.fetch(
        "UPDATE token_state SET version = version + 1 WHERE token_id = ANY($1::uuid[]) RETURNING token_id, version",
        sorted(set(token_ids)),
    )
    return {r["token_id"]: r["version"] for r in rows}


async def holdings(conn: Conn, token_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT investor_id, balance FROM holdings WHERE token_id = $1 AND balance > 0", token_id)


async def lots(conn: Conn, token_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT investor_id, acquired_at, amount FROM holding_lots WHERE token_id = $1 ORDER BY acquired_at, id",
        token_id,
    )


async def active_reservations(conn: Conn, token_id: UUID, now: datetime) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT check_id, from_investor_id, to_investor_id, amount, created_at, expires_at
           FROM reservations WHERE token_id = $1 AND status = 'active' AND expires_at > $2""",
        token_id,
        now,
    )


async def transfer_history(conn: Conn, token_id: UUID, since: datetime) -> list[asyncpg.Record]:
    """Approved outgoing transfers that still count (active or settled) since ``since``."""
    return await conn.fetch(
        """SELECT check_id, from_investor_id, amount, created_at FROM reservations
           WHERE token_id = $1 AND from_investor_id IS NOT NULL
             AND status IN ('active', 'settled') AND created_at > $2""",
        token_id,
        since,
    )
