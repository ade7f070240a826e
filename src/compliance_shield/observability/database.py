"""Database figures: the time of each statement, pool use per process, long-running statements.

Statement times come from asyncpg's query logger, attached to every pooled connection when it
is opened (``observe_queries``); the logger is called after the statement, off its path. Pool
use and long-running statements are sampled (``sample_database``): a pool has no event to hook,
and a scrape in multiprocess mode cannot call into the process that owns the pool.
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog
from asyncpg.connection import LoggedQuery

from compliance_shield.observability.metrics import (
    DB_LONG_RUNNING,
    DB_LONGEST_QUERY,
    DB_POOL_IN_USE,
    DB_POOL_MAX,
    DB_QUERY_DURATION,
)

log = structlog.get_logger(__name__)

_OK = DB_QUERY_DURATION.labels("ok")
_ERROR = DB_QUERY_DURATION.labels("error")

#: active statements of every client but this one, how many run longer than $1 seconds and the oldest
LONG_RUNNING_SQL = """
    SELECT count(*) FILTER (WHERE now() - query_start > make_interval(secs => $1)) AS long_running,
           coalesce(extract(epoch FROM max(now() - query_start)), 0)::float8 AS longest
      FROM pg_stat_activity
     WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


def _record(query: LoggedQuery) -> None:
    (_OK if query.exception is None else _ERROR).observe(query.elapsed)


def observe_queries(conn: asyncpg.Connection) -> None:
    """Time every statement ``conn`` runs from now on."""
    conn.add_query_logger(_record)


def sample_pool(pool: asyncpg.Pool) -> None:
    DB_POOL_MAX.set(pool.get_max_size())
    DB_POOL_IN_USE.set(pool.get_size() - pool.get_idle_size())


async def sample_long_running(pool: asyncpg.Pool, threshold_seconds: float) -> None:
    async with pool.acquire(timeout=2) as conn:
        row = await conn.fetchrow(LONG_RUNNING_SQL, threshold_seconds)
    assert row is not None
    DB_LONG_RUNNING.set(row["long_running"])
    DB_LONGEST_QUERY.set(row["longest"])


async def sample_database(pool: asyncpg.Pool, threshold_seconds: float, *, every: float = 1.0) -> None:
    """Runs until cancelled: the pool every ``every`` seconds, ``pg_stat_activity`` every fifth time."""
    ticks = 0
    while True:
        sample_pool(pool)
        if ticks % 5 == 0:
            try:
                await sample_long_running(pool, threshold_seconds)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                log.warning("metrics.database_sample_failed", error=repr(exc))
        ticks += 1
        await asyncio.sleep(every)
