"""Read-only aggregates for the console's dashboard (never commits)."""

from __future__ import annotations

from datetime import datetime, timedelta

from compliance_shield.db import Conn


async def outcomes_since(conn: Conn, since: datetime) -> dict[str, int]:
    """Checks decided since ``since`` by status (the status index serves each count)."""
    rows = await conn.fetch(
        "SELECT status, count(*) AS n FROM transfer_compliance_checks WHERE created_at >= $1 GROUP BY status", since
    )
    counts = {"APPROVED": 0, "REJECTED": 0, "ESCALATED": 0}
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


async def checks_per_second(conn: Conn, now: datetime, window: timedelta = timedelta(minutes=1)) -> float:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM transfer_compliance_checks WHERE created_at >= $1 AND created_at < $2", now - window, now
    )
    return count / window.total_seconds()
