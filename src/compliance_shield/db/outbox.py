"""Repository of outbox rows: the relay's claims and the event feed's pages (never commits).

Outbox rows are written by the use cases in the transaction that records what they describe
(``db.checks.insert_outbox``). Ids come from a sequence taken before commit, so ids are in
commit order for one key (every writer holds the key's row lock — the token's ``token_state``
row, or the policy row — from before it takes the id until it commits) but not across keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from compliance_shield.db import Conn

FEED_COLUMNS = "id, event_id, topic, key, event_type, payload, created_at, published_at"


async def claim_unpublished(conn: Conn, limit: int) -> list[asyncpg.Record]:
    """The oldest unpublished rows in id order, locked until the caller's transaction ends.

    Must run inside a transaction. It waits for rows another transaction holds rather than
    skipping them (no ``SKIP LOCKED``): a second relay that claimed past a held row could
    publish a key's later event before the held one, so two claimers are serialized instead.
    """
    return await conn.fetch(
        """SELECT id, event_id, topic, key, event_type, payload, created_at FROM outbox
           WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE""",
        limit,
    )


async def mark_published(conn: Conn, ids: Sequence[int], now: datetime) -> None:
    await conn.execute("UPDATE outbox SET published_at = $2 WHERE id = ANY($1::bigint[])", list(ids), now)


async def count_unpublished(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))


async def current_snapshot(conn: Conn) -> str:
    """The snapshot of the caller's transaction (``xmin:xmax:xip,...``)."""
    return str(await conn.fetchval("SELECT pg_current_snapshot()::text"))


async def last_id(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox"))


async def page_after(conn: Conn, after_id: int, seen: str | None, limit: int) -> list[asyncpg.Record]:
    """Rows a reader has not received yet, in id order, at most ``limit``.

    The reader has received every row with ``id <= after_id`` that was visible in snapshot
    ``seen``. New to it are the rows above ``after_id`` and the *late* rows at or below it:
    those whose transaction was still open (or not yet started) in ``seen`` and has committed
    since — found through ``txid`` (an index on it bounds the search to recent transactions).
    """
    return await conn.fetch(
        f"""(SELECT {FEED_COLUMNS} FROM outbox WHERE id > $1 ORDER BY id LIMIT $3)
            UNION ALL
            (SELECT {FEED_COLUMNS} FROM outbox
             WHERE $2::text IS NOT NULL
               AND txid >= pg_snapshot_xmin($2::text::pg_snapshot)
               AND id <= $1
               AND NOT pg_visible_in_snapshot(txid, $2::text::pg_snapshot)
             ORDER BY id LIMIT $3)
            ORDER BY id LIMIT $3""",  # noqa: S608
        after_id,
        seen,
        limit,
    )
