"""What a worker has left to do, read from the database (and the chain) for its gauges.

Each probe is one query on the worker's operations connection, run every few seconds beside the
worker (``process.run_worker``): the backlog is a property of the shared database, so every
replica, standby or active, reports the same figure and the rules take the ``max``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from compliance_shield.adapters.chain.client import ChainClient
from compliance_shield.db import chain as chain_repo
from compliance_shield.observability.metrics import (
    INDEXER_LAG,
    ORACLE_OLDEST_OPEN,
    ORACLE_OPEN_WRITES,
    OUTBOX_LAG,
    RELAY_UNPUBLISHED,
)

#: a probe: given a connection, read and set the worker's backlog gauges
Probe = Callable[[asyncpg.Connection], Awaitable[None]]

OUTBOX_SQL = """
    SELECT count(*) AS waiting,
           coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest
      FROM outbox WHERE published_at IS NULL
"""
ORACLE_SQL = """
    SELECT status, count(*) AS open, extract(epoch FROM now() - min(created_at))::float8 AS oldest
      FROM oracle_writes WHERE status IN ('pending', 'submitted') GROUP BY status
"""


async def outbox_backlog(conn: asyncpg.Connection) -> None:
    row = await conn.fetchrow(OUTBOX_SQL)
    assert row is not None
    RELAY_UNPUBLISHED.set(row["waiting"])
    OUTBOX_LAG.set(row["oldest"])


async def oracle_backlog(conn: asyncpg.Connection) -> None:
    rows = {r["status"]: r for r in await conn.fetch(ORACLE_SQL)}
    for status in ("pending", "submitted"):
        ORACLE_OPEN_WRITES.labels(status).set(rows[status]["open"] if status in rows else 0)
    ORACLE_OLDEST_OPEN.set(max((r["oldest"] for r in rows.values()), default=0.0))


def indexer_lag(client: ChainClient, chain_id: int, name: str = "token-transfers") -> Probe:
    """Blocks between the node's head and the indexer's cursor (the whole chain before its first pass)."""

    async def probe(conn: asyncpg.Connection) -> None:
        head = await client.block_number()
        cursor = await chain_repo.get_cursor(conn, chain_id, name)
        INDEXER_LAG.set(max(0, head - (cursor[0] if cursor is not None else -1)))

    return probe
