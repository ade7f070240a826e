"""Use cases closing an approval: settle (apply the holding change), cancel, and expire.

Each locks the token's state row first, like the decision writer, so holdings and reservations
change atomically with respect to concurrent decisions in every process.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from compliance_shield.db import Conn, audit, ledger_queries
from compliance_shield.db import chain as chain_repo
from compliance_shield.db import checks as checks_repo
from compliance_shield.db import refdata as refdata_repo
from compliance_shield.db import reservations as repo
from compliance_shield.errors import Conflict, NotFound, ValidationFailed
from compliance_shield.services.checks.ledger import Reservation, change_release, change_settle
from compliance_shield.services.events.events import outbox_row

log = structlog.get_logger(__name__)

TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


class SettlementService:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def _closable(self, conn: Conn, check_id: UUID, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        check = await checks_repo.get_check(conn, check_id)
        if check is None:
            raise NotFound(f"check {check_id} not found")
        await ledger_queries.lock_tokens(conn, [check["token_id"]])
        reservation = await repo.get_for_update(conn, check_id)
        if check["status"] != "APPROVED" or reservation is None:
            raise Conflict(f"check {check_id} is {check['status']}: only approvals can be settled or cancelled")
        if reservation["status"] != "active":
            raise Conflict(f"the approval is already {reservation['status']}")
        if reservation["expires_at"] <= now:
            raise Conflict(f"the approval expired at {reservation['expires_at'].isoformat()}")
        return check, reservation

    async def settle(self, check_id: UUID, tx_hash: str, actor: str) -> dict[str, Any]:
        """Apply the approved transfer to holdings and release its reservation."""
        if not TX_HASH.match(tx_hash):
            raise ValidationFailed("expected a 0x-prefixed 32-byte transaction hash", field="tx_hash")
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            check, reservation = await self._closable(conn, check_id, now)
            moved = await refdata_repo.move_holding(
                conn, check["token_id"], reservation["from_investor_id"], reservation["to_investor_id"],
                int(reservation["amount"]), now,
            )  # fmt: skip
            if not moved:
                raise Conflict("the sender's recorded balance is lower than the approved amount")
            await repo.close(conn, check_id, "settled", now)
            await repo.mark_check(conn, check_id, "settled", now, tx_hash.lower())
            change = change_settle(_reservation(reservation), now)
            await ledger_queries.bump_versions(conn, [check["token_id"]], {check["token_id"]: [change]})
            await self._record(conn, check, "transfer_check.settled", actor, now, {"tx_hash": tx_hash.lower()})
            updated = await checks_repo.get_check(conn, check_id)
        assert updated is not None
        return updated

    async def cancel(self, check_id: UUID, reason: str, actor: str) -> dict[str, Any]:
        """Withdraw an unsettled approval; its reservation stops counting at once.

        On chain: an approval write not yet sent is cancelled; one sent (or possibly sent) gets a
        revocation queued for the oracle writer.
        """
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            check, _ = await self._closable(conn, check_id, now)
            await repo.close(conn, check_id, "cancelled", now)
            await repo.mark_check(conn, check_id, "cancelled", now)
            await chain_repo.withdraw_approval(conn, check_id, now)
            change = change_release(check_id)
            await ledger_queries.bump_versions(conn, [check["token_id"]], {check["token_id"]: [change]})
            await self._record(conn, check, "transfer_check.cancelled", actor, now, {"reason": reason})
            updated = await checks_repo.get_check(conn, check_id)
        assert updated is not None
        return updated

    async def expire_due(self, max_tokens: int = 100) -> int:
        """Mark approvals whose reservation expired (run periodically by the service)."""
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            token_ids = await repo.tokens_with_due(conn, now, max_tokens)
            if not token_ids:
                return 0
            await ledger_queries.lock_tokens(conn, token_ids)  # same lock order as every writer
            rows = await repo.expire_due(conn, token_ids, now)
            for r in rows:
                await repo.mark_check(conn, r["check_id"], "expired", now)
            released: dict[UUID, list[dict[str, Any]]] = {token: [] for token in token_ids}
            for r in rows:
                released[r["token_id"]].append(change_release(r["check_id"]))
            await ledger_queries.bump_versions(conn, token_ids, released)
            await audit.append(
                conn,
                [audit.AuditEntry(now, "system", "transfer_check.expired", "transfer_check", str(r["check_id"]), {})
                 for r in rows],
            )  # fmt: skip
        return len(rows)

    @staticmethod
    async def _record(
        conn: Conn, check: dict[str, Any], action: str, actor: str, now: datetime, extra: dict[str, Any]
    ) -> None:
        payload = {"token_id": str(check["token_id"]), "amount": str(check["amount"]), **extra}
        await audit.append(conn, [audit.AuditEntry(now, actor, action, "transfer_check", str(check["id"]), payload)])
        await checks_repo.insert_outbox(
            conn, [outbox_row(action, str(check["token_id"]), {"check_id": str(check["id"]), **payload}, now)]
        )


def _reservation(row: dict[str, Any]) -> Reservation:
    return Reservation(
        row["check_id"], row["from_investor_id"], row["to_investor_id"], int(row["amount"]),
        row["created_at"], row["expires_at"],
    )  # fmt: skip
