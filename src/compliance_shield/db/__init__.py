"""Tables (built by the migrations), repositories (never commit) and the audit chain."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

#: a plain connection or one borrowed from a pool: repositories accept either
Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy
