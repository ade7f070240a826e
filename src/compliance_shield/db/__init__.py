"""Tables (built by the migrations), repositories (never commit) and the audit chain."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from compliance_shield.domain import encoding

#: a plain connection or one borrowed from a pool: repositories accept either
Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy


#: failures of the database link: nothing was recorded and a retry can help (HTTP 503)
DATABASE_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)


def json_text(value: Any) -> str:
    """The text PostgreSQL receives for a json/jsonb value (the connections' codec and the
    repositories that send JSON as text arrays both use it)."""
    return encoding.dumps_text(value)
