"""``compliance-shield worker audit``: walk the audit hash chain on a schedule and export the verdict.

The chain is only as trustworthy as the last time someone walked it. This worker walks it every
``interval`` seconds (one read-only, repeatable-read pass, streaming) and exports whether it was
intact, how many entries it checked and when — the ``AuditChainBroken`` and
``AuditChainNotVerified`` alerts read these. A walk that cannot reach the database is logged and
leaves the previous verdict (and its timestamp, which then ages into the second alert).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from compliance_shield.db.audit import VerifyResult, verify
from compliance_shield.observability.metrics import AUDIT_CHAIN_ENTRIES, AUDIT_CHAIN_INTACT, AUDIT_CHAIN_VERIFIED_AT

log = structlog.get_logger(__name__)


def record(result: VerifyResult, at: float) -> None:
    AUDIT_CHAIN_INTACT.set(1 if result.ok else 0)
    AUDIT_CHAIN_ENTRIES.set(result.checked)
    AUDIT_CHAIN_VERIFIED_AT.set(at)


async def verify_once(connect: Callable[[], Awaitable[asyncpg.Connection]]) -> VerifyResult:
    conn = await connect()
    try:
        result = await verify(conn)
    finally:
        await conn.close()
    record(result, time.time())
    if result.ok:
        log.info("audit.verified", entries=result.checked)
    else:
        log.error("audit.broken", first_broken_seq=result.first_broken_seq, reason=result.reason)
    return result


async def watch(connect: Callable[[], Awaitable[asyncpg.Connection]], interval: float) -> None:
    """Runs until cancelled."""
    while True:
        try:
            await verify_once(connect)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            log.warning("audit.verify_failed", error=repr(exc))
        await asyncio.sleep(interval)
