"""The KYC registry's writes: provider answers (webhook events, pulls) and officer overrides.

``investors.kyc_status`` is the record. Three kinds of writes reach it, each in one transaction
with its audit entry, the investor's row locked so concurrent writes of one investor take turns:

* a **provider event** (webhook) carries the provider's event id: it is stored in
  ``provider_events`` first, so a second delivery of the same id is a ``duplicate`` and changes
  nothing; the event applies only when it is newer than the answer in force
  (``kyc_checked_at``), otherwise it is ``stale`` (kept in the history, not applied);
* a **pull** (the provider's answer asked for on the check path) applies when newer, as above;
* an **officer override** sets the status with a mandatory reason and makes the officer the
  source (``kyc_provider = 'officer'``, ``kyc_checked_at`` = the time of the override): the
  provider is then no longer asked on the check path, and only a provider event dated after the
  override replaces it. An override also clears a ``kyc_checked_at`` that a mis-dated event left
  in the future.

Event times are vetted before they get here (``services.kyc.EventWindow``): an event dated
beyond the allowed clock skew into the future never reaches the registry, so it cannot make
every later event look ``stale``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg

from compliance_shield.db import audit
from compliance_shield.domain.values import KycStatus
from compliance_shield.errors import NotFound
from compliance_shield.services.reference.snapshot import Snapshot

#: the ``kyc_provider`` of a status set by an officer's override
OFFICER = "officer"

Outcome = Literal["applied", "stale", "duplicate"]


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """One answer of a KYC provider about one investor."""

    investor_id: UUID
    status: KycStatus
    provider: str
    provider_ref: str | None
    #: when the provider says the answer was given (webhook ``timestamp``) or when we asked (pull)
    checked_at: datetime
    actor: str
    evidence: dict[str, Any]
    #: the provider's event id (webhooks): a second delivery of it is a ``duplicate``
    event_id: str | None = None
    event_name: str | None = None


@dataclass(frozen=True, slots=True)
class AnswerResult:
    outcome: Outcome
    #: the investor's status after the write (the one in force, whatever the outcome)
    kyc_status: KycStatus


@dataclass(frozen=True, slots=True)
class Override:
    investor_id: UUID
    status: KycStatus
    reason: str
    actor: str
    at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProviderEventRecord:
    """One provider event as received; ``outcome``: ``applied`` (it set the status) or ``stale``."""

    provider: str
    event_id: str
    event_name: str
    kyc_status: KycStatus
    occurred_at: datetime
    received_at: datetime
    outcome: str


@dataclass(frozen=True, slots=True)
class KycState:
    """What an officer sees: the status in force, where it came from, and the provider events."""

    investor_id: UUID
    kyc_status: KycStatus
    kyc_expires_at: datetime | None
    #: where the status in force came from: a provider (``ballerine``), ``officer``, or none
    kyc_provider: str | None
    kyc_provider_ref: str | None
    #: the time of the answer in force (a provider event's timestamp, a pull, an override)
    kyc_checked_at: datetime | None
    #: the latest provider events, newest first, applied or not
    events: tuple[ProviderEventRecord, ...]


_LOCK = "SELECT kyc_status, kyc_checked_at, kyc_provider, kyc_provider_ref FROM investors WHERE id = $1 FOR UPDATE"


class KycRecords:
    def __init__(self, pool: asyncpg.Pool, snapshot: Snapshot) -> None:
        self._pool = pool
        self._snapshot = snapshot

    async def apply(self, answer: ProviderAnswer, received_at: datetime) -> AnswerResult:
        """Record ``answer`` unless it repeats a stored event or is older than the answer in force."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_LOCK, answer.investor_id)
            if row is None:
                raise NotFound(f"investor {answer.investor_id} not found")
            current = KycStatus(row["kyc_status"])
            newer = row["kyc_checked_at"] is None or row["kyc_checked_at"] < answer.checked_at
            if answer.event_id is not None:
                stored = await conn.fetchval(
                    """INSERT INTO provider_events
                           (provider, event_id, investor_id, event_name, kyc_status, occurred_at, received_at, outcome)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                       ON CONFLICT (provider, event_id) DO NOTHING
                       RETURNING true""",
                    answer.provider, answer.event_id, answer.investor_id, answer.event_name or "",
                    answer.status.value, answer.checked_at, received_at, "applied" if newer else "stale",
                )  # fmt: skip
                if not stored:
                    return AnswerResult("duplicate", current)
            if not newer:
                return AnswerResult("stale", current)
            await conn.execute(
                """UPDATE investors
                      SET kyc_status = $2, kyc_provider = $3,
                          kyc_provider_ref = COALESCE($4, kyc_provider_ref), kyc_checked_at = $5,
                          updated_at = now(), version = version + 1
                    WHERE id = $1""",
                answer.investor_id, answer.status.value, answer.provider, answer.provider_ref, answer.checked_at,
            )  # fmt: skip
            payload: dict[str, Any] = {
                "kyc_status": answer.status.value,
                "previous_status": current.value,
                "kyc_provider": answer.provider,
                "kyc_provider_ref": answer.provider_ref,
                "kyc_checked_at": answer.checked_at.isoformat(),
                "event_id": answer.event_id,
                **answer.evidence,
            }
            await _audit(conn, received_at, answer.actor, "investor.kyc_updated", answer.investor_id, payload)
        await self._refresh(answer.investor_id)
        return AnswerResult("applied", answer.status)

    async def override(self, override: Override) -> KycState:
        """Set the investor's KYC status on an officer's authority (audited with the reason)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_LOCK, override.investor_id)
            if row is None:
                raise NotFound(f"investor {override.investor_id} not found")
            await conn.execute(
                """UPDATE investors
                      SET kyc_status = $2, kyc_provider = $3, kyc_checked_at = $4,
                          kyc_expires_at = COALESCE($5, kyc_expires_at),
                          updated_at = now(), version = version + 1
                    WHERE id = $1""",
                override.investor_id, override.status.value, OFFICER, override.at, override.expires_at,
            )  # fmt: skip
            payload = {
                "kyc_status": override.status.value,
                "previous_status": row["kyc_status"],
                "previous_provider": row["kyc_provider"],
                "previous_checked_at": row["kyc_checked_at"].isoformat() if row["kyc_checked_at"] else None,
                "kyc_expires_at": override.expires_at.isoformat() if override.expires_at else None,
                "reason": override.reason,
            }
            await _audit(conn, override.at, override.actor, "investor.kyc_overridden", override.investor_id, payload)
        await self._refresh(override.investor_id)
        return await self.state(override.investor_id)

    async def state(self, investor_id: UUID, *, events: int = 50) -> KycState:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT kyc_status, kyc_expires_at, kyc_provider, kyc_provider_ref, kyc_checked_at
                     FROM investors WHERE id = $1""",
                investor_id,
            )
            if row is None:
                raise NotFound(f"investor {investor_id} not found")
            rows = await conn.fetch(
                """SELECT provider, event_id, event_name, kyc_status, occurred_at, received_at, outcome
                     FROM provider_events WHERE investor_id = $1
                    ORDER BY received_at DESC, event_id LIMIT $2""",
                investor_id, events,
            )  # fmt: skip
        return KycState(
            investor_id=investor_id,
            kyc_status=KycStatus(row["kyc_status"]),
            kyc_expires_at=row["kyc_expires_at"],
            kyc_provider=row["kyc_provider"],
            kyc_provider_ref=row["kyc_provider_ref"],
            kyc_checked_at=row["kyc_checked_at"],
            events=tuple(
                ProviderEventRecord(
                    provider=r["provider"],
                    event_id=r["event_id"],
                    event_name=r["event_name"],
                    kyc_status=KycStatus(r["kyc_status"]),
                    occurred_at=r["occurred_at"],
                    received_at=r["received_at"],
                    outcome=r["outcome"],
                )
                for r in rows
            ),
        )

    async def _refresh(self, investor_id: UUID) -> None:
        async with self._pool.acquire() as conn:
            await self._snapshot.reload(conn, "investors", str(investor_id))


async def _audit(conn: Any, at: datetime, actor: str, action: str, investor_id: UUID, payload: dict[str, Any]) -> None:
    await audit.append(conn, [audit.AuditEntry(at, actor, action, "investor", str(investor_id), payload)])
