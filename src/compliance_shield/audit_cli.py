"""The work of ``compliance-shield audit verify`` and ``audit checkpoint`` (kept out of cli.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from compliance_shield.bootstrap import connect
from compliance_shield.db import Conn
from compliance_shield.db.audit import verify
from compliance_shield.db.decision_digest import verify_decisions
from compliance_shield.services import audit_checkpoints
from compliance_shield.settings import Settings


async def verify_all(conn: Conn, settings: Settings) -> tuple[list[str], bool]:
    """The report lines of a full verification, and whether everything holds."""
    lines: list[str] = []
    chain = await verify(conn)
    if chain.ok:
        lines.append(f"[green]audit log intact[/green]: {chain.checked} entries, head {chain.head_hash}")
    else:
        lines.append(f"[red]audit log broken[/red] at entry {chain.first_broken_seq}: {chain.reason}")
    if conn.is_in_transaction():
        decisions = await verify_decisions(conn)
    else:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            decisions = await verify_decisions(conn)
    if decisions.ok:
        lines.append(f"[green]decisions intact[/green]: {decisions.checked} audited decisions match their rows")
    else:
        lines.append(f"[red]decisions differ[/red]: {len(decisions.mismatches)} of {decisions.checked}")
        lines.extend(f"  {m.check_id}: {m.reason}" for m in decisions.mismatches)
    problems: list[str] = []
    if settings.audit_checkpoint_file is not None:
        points = audit_checkpoints.read(settings.audit_checkpoint_file)
        signer = _signer(settings)
        problems = await audit_checkpoints.check(conn, points, signer)
        if problems:
            lines.append(f"[red]checkpoints contradict the log[/red]: {len(problems)} of {len(points)}")
            lines.extend(f"  {p}" for p in problems)
        else:
            lines.append(f"[green]checkpoints hold[/green]: {len(points)} signed heads found in the log")
    else:
        lines.append("checkpoints not checked: AUDIT_CHECKPOINT_FILE is not set")
    return lines, chain.ok and decisions.ok and not problems


def _signer(settings: Settings) -> str:
    if settings.audit_checkpoint_signer:
        return settings.audit_checkpoint_signer
    if settings.audit_checkpoint_key is None:
        raise ValueError("set AUDIT_CHECKPOINT_SIGNER (or AUDIT_CHECKPOINT_KEY) to verify checkpoints")
    return audit_checkpoints.signer_address(settings.audit_checkpoint_key.get_secret_value())


async def checkpoint_loop(url: str, settings: Settings, every: float, say: Callable[[str], Any]) -> None:
    """Take a checkpoint now, then every ``every`` seconds when it is positive."""
    if settings.audit_checkpoint_file is None or settings.audit_checkpoint_key is None:
        raise ValueError("audit checkpoints need AUDIT_CHECKPOINT_FILE and AUDIT_CHECKPOINT_KEY")
    key = settings.audit_checkpoint_key.get_secret_value()
    while True:
        conn = await connect(url)
        try:
            point = await audit_checkpoints.take(conn, key, datetime.now(UTC))
        finally:
            await conn.close()
        if point is None:
            say("the audit log is empty: nothing to checkpoint")
        else:
            audit_checkpoints.append(settings.audit_checkpoint_file, point)
            say(f"checkpoint: entry {point.seq}, head {point.head_hash}, signed by {point.signer}")
        if every <= 0:
            return
        await asyncio.sleep(every)
