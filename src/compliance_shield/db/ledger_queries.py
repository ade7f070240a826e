"""Queries behind the per-token ledger: holdings, lots, reservations and the state version.

Every transaction that changes a token's holdings or reservations first locks its
``token_state`` row (``lock_tokens``) and bumps its version (``bump_versions``); a process
whose in-memory ledger carries an older version catches up inside the same locked transaction:
by applying the recorded ``ledger_changes`` of the versions it missed, or by reloading.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from compliance_shield.db import Conn

_LOCK = "SELECT token_id, version FROM token_state WHERE token_id = ANY($1::uuid[]) ORDER BY token_id FOR UPDATE"


async def lock_tokens(conn: Conn, token_ids: Sequence[UUID]) -> dict[UUID, int]:
    """Lock the state rows of ``token_ids`` (in a stable order: no deadlocks) and return versions.

    Every token gets its row when it is created (migration 0009), so this is one round trip. The
    fallback for a missing row creates it after the others were locked — out of order, so two
    transactions taking it could deadlock; it is kept for rows removed by hand.
    """
    ordered = sorted(set(token_ids))
    rows = await conn.fetch(_LOCK, ordered)
    if len(rows) < len(ordered):
        await conn.execute(
            "INSERT INTO token_state (token_id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING", ordered
        )
        rows = await conn.fetch(_LOCK, ordered)
    return {r["token_id"]: r["version"] for r in rows}


async def bump_versions(
    conn: Conn, token_ids: Sequence[UUID], changes: Mapping[UUID, list[dict[str, Any]]] | None = None
) -> dict[UUID, int]:
    """Bump the tokens' versions; record ``changes[token]`` (the ledger changes made) under the new one.

    A token bumped without a change row makes other processes reload its ledger in full.
    """
    recorded = [(token, {"changes": items}) for token, items in (changes or {}).items()]
    # one statement: bump, and record each token's changes under its new version
    rows = await conn.fetch(
        """WITH bumped AS (
               UPDATE token_state SET version = version + 1 WHERE token_id = ANY($1::uuid[])
               RETURNING token_id, version
           ), recorded AS (
               INSERT INTO ledger_changes (token_id, version, change)
               SELECT b.token_id, b.version, c.change
                 FROM bumped b JOIN unnest($2::uuid[], $3::jsonb[]) AS c(token_id, change) USING (token_id)
           )
           SELECT token_id, version FROM bumped""",
        sorted(set(token_ids)),
        [token for token, _ in recorded],
        [change for _, change in recorded],
    )
    return {r["token_id"]: r["version"] for r in rows}


async def changes_since(
    conn: Conn, spans: Mapping[UUID, tuple[int, int]]
) -> dict[UUID, list[list[dict[str, Any]]] | None]:
    """Per token, the recorded changes of versions ``after+1 .. upto`` (``spans[token]``) in order;
    None for a token whose record misses one of them. One round trip for all tokens."""
    tokens = list(spans)
    rows = await conn.fetch(
        """SELECT c.token_id, c.change FROM ledger_changes c
             JOIN unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS w(token_id, after, upto)
               ON c.token_id = w.token_id AND c.version > w.after AND c.version <= w.upto
            ORDER BY c.token_id, c.version""",
        tokens,
        [spans[t][0] for t in tokens],
        [spans[t][1] for t in tokens],
    )
    found: dict[UUID, list[list[dict[str, Any]]]] = {t: [] for t in tokens}
    for row in rows:
        found[row["token_id"]].append(row["change"]["changes"])
    return {t: (changes if len(changes) == spans[t][1] - spans[t][0] else None) for t, changes in found.items()}


async def prune_changes(conn: Conn, older_than: datetime) -> None:
    await conn.execute("DELETE FROM ledger_changes WHERE created_at < $1", older_than)


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
