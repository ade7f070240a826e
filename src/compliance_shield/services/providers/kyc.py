"""External KYC providers (Ballerine): webhook events in, answers pulled on the check path.

The registry in PostgreSQL (``investors.kyc_status``) stays the record; ``KycRecords`` writes it.
A provider's answer reaches it two ways, both audited and followed by a snapshot refresh:

* **webhook** — a signed ``workflow.completed`` / ``workflow.state.changed`` event is mapped by
  its ``correlationId`` to our investor. Ballerine events carry no sequence or version, so they
  are ordered by their ``timestamp`` — which a wrong clock could make lie, so it is bounded
  first (``EventWindow``): an event dated more than ``max_skew`` after its arrival, or older than
  ``horizon``, is refused with 422 EVENT_TIME_OUT_OF_RANGE (metered and logged) and changes
  nothing. A redelivered event id is a ``duplicate``; an event older than the answer in force is
  ``stale``; either way the answer states the investor's current status. An applied event
  replaces the cached answer everywhere;
* **pull** — on the check path, an investor whose KYC comes from Ballerine needs a current
  answer: the cached one when it is younger than ``ttl`` (REDIS_TTL_KYC); otherwise the provider
  is asked (``GET /api/v1/external/end-users/{id}``) — once, however many checks miss the same
  key together (single flight) — the answer cached and, if it differs, written to the registry in
  the background.

An officer may override the status with a reason (``override``); the officer is then the source
and the provider is not asked again until a provider event dated after the override arrives.
Investors whose KYC comes from the registry itself (no provider, another provider, an override)
are answered from the snapshot by the ``kyc_verified`` rule: no cache look-up, no I/O.

When neither a fresh cached answer nor the provider is available, the answer has no status and
``kyc_verified`` answers ``error`` (fail closed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import structlog

from compliance_shield.adapters.ballerine.client import EndUserKyc
from compliance_shield.adapters.ballerine.webhook import KycEvent, parse_event, verify_signature
from compliance_shield.adapters.cache.tiered import TieredCache
from compliance_shield.domain.facts import InvestorFacts, ProviderKyc
from compliance_shield.domain.values import KycStatus
from compliance_shield.errors import EventTimeOutOfRange, NotAuthenticated, NotFound, ValidationFailed
from compliance_shield.observability.metrics import WEBHOOKS
from compliance_shield.services.providers.kyc_records import KycRecords, KycState, Override, ProviderAnswer
from compliance_shield.services.reference.refdata import ReferenceDataService
from compliance_shield.services.reference.snapshot import Snapshot

log = structlog.get_logger(__name__)

PROVIDER = "ballerine"
WEBHOOK_ACTOR = "webhook:ballerine"


class EndUserSource(Protocol):
    async def end_user(self, end_user_id: str) -> EndUserKyc: ...


def cache_key(provider: str, reference: str) -> str:
    return f"kyc:{provider}:{reference}"


@dataclass(frozen=True, slots=True)
class EventWindow:
    """The event times accepted from a provider, relative to the time an event arrives.

    ``max_skew`` bounds how far a sender's clock may run ahead of ours: an event dated later than
    arrival + ``max_skew`` is refused, so no event can claim a future that blocks every genuine
    event after it. ``horizon`` bounds how old an event may be: an older one is refused even when
    nothing newer was applied (a replay of an old delivery must not set today's status).
    """

    max_skew: timedelta = timedelta(minutes=5)
    horizon: timedelta = timedelta(days=30)

    def vet(self, occurred_at: datetime, received_at: datetime) -> None:
        """Raise ``EventTimeOutOfRange`` (naming ``timestamp``) for a time outside the window."""
        if occurred_at > received_at + self.max_skew:
            raise EventTimeOutOfRange(
                f"timestamp {occurred_at.isoformat()} is more than {self.max_skew} ahead of the time it "
                f"arrived ({received_at.isoformat()}): the sender's clock is wrong",
                field="timestamp",
            )
        if occurred_at < received_at - self.horizon:
            raise EventTimeOutOfRange(
                f"timestamp {occurred_at.isoformat()} is older than the {self.horizon} horizon for provider events",
                field="timestamp",
            )


class KycService:
    def __init__(
        self,
        refdata: ReferenceDataService,
        records: KycRecords,
        snapshot: Snapshot,
        cache: TieredCache,
        *,
        client: EndUserSource | None = None,
        webhook_secret: str | None = None,
        ttl: float = 86400.0,
        window: EventWindow | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._refdata = refdata
        self._records = records
        self._snapshot = snapshot
        self._cache = cache
        self._client = client
        self._secret = webhook_secret
        self._ttl = ttl
        self._window = window or EventWindow()
        self._clock = clock
        self._background: set[asyncio.Task[Any]] = set()
        snapshot.on_change.append(self._on_reference_change)

    # -- webhooks ----------------------------------------------------------------------------

    async def handle_webhook(self, body: bytes, signature: str | None) -> dict[str, Any]:
        """Verify, vet, map and apply a Ballerine webhook. Raises NotAuthenticated for a bad
        signature, ValidationFailed for a malformed body (EventTimeOutOfRange for a timestamp
        outside the window), NotFound for an unknown correlationId; every refusal is counted."""
        received_at = self._clock()
        if not self._secret:
            WEBHOOKS.labels(PROVIDER, "not_configured").inc()
            raise NotAuthenticated("Ballerine webhooks are not configured (BALLERINE_WEBHOOK_SECRET)")
        if not verify_signature(body, signature, self._secret):
            WEBHOOKS.labels(PROVIDER, "bad_signature").inc()
            raise NotAuthenticated("the webhook signature (X-HMAC-Signature) does not match")
        try:
            event = parse_event(body)
        except ValidationFailed as exc:
            WEBHOOKS.labels(PROVIDER, "invalid").inc()
            log.warning("webhook.invalid", provider=PROVIDER, field=exc.field, error=exc.message)
            raise
        if event.status is None:
            WEBHOOKS.labels(PROVIDER, "ignored").inc()
            return {"status": "ignored", "event": event.event}
        try:
            self._window.vet(event.occurred_at, received_at)
        except EventTimeOutOfRange as exc:
            result = "future_dated" if event.occurred_at > received_at else "too_old"
            WEBHOOKS.labels(PROVIDER, result).inc()
            log.warning("webhook.refused", provider=PROVIDER, result=result, event_id=event.event_id,
                        timestamp=event.occurred_at.isoformat(), received_at=received_at.isoformat(),
                        error=exc.message)  # fmt: skip
            raise
        assert event.correlation_id is not None
        investor_id = await self._refdata.find_investor_by_ref(event.correlation_id)
        if investor_id is None:
            WEBHOOKS.labels(PROVIDER, "unknown_investor").inc()
            raise NotFound(
                f"no investor has external_ref or id {event.correlation_id!r}",
                details=[{"field": "correlationId", "message": "no investor with this reference"}],
            )
        outcome, current = await self._apply(investor_id, event, received_at)
        WEBHOOKS.labels(PROVIDER, outcome).inc()
        assert event.status is not None
        return {
            "status": outcome,
            "event": event.event,
            "event_id": event.event_id,
            "investor_id": str(investor_id),
            "kyc_status": current.value,
            "event_kyc_status": event.status.value,
        }

    async def _apply(self, investor_id: UUID, event: KycEvent, received_at: datetime) -> tuple[str, KycStatus]:
        assert event.status is not None
        previous = self._snapshot.investors.get(investor_id)
        reference = event.entity_id or (previous.kyc_provider_ref if previous else None)
        result = await self._records.apply(
            ProviderAnswer(
                investor_id=investor_id,
                status=event.status,
                provider=PROVIDER,
                provider_ref=event.entity_id,
                checked_at=event.occurred_at,
                actor=WEBHOOK_ACTOR,
                evidence={"event": event.event, "state": event.state, "workflow_id": event.workflow_id},
                event_id=event.event_id,
                event_name=event.event,
            ),
            received_at,
        )
        if result.outcome == "applied" and reference:
            # the webhook's answer is the freshest there is: replace the cached one everywhere
            key = cache_key(PROVIDER, reference)
            await self._cache.delete(key)
            await self._cache.set(key, _cached(event.status, event.occurred_at), self._ttl)
        return result.outcome, result.kyc_status

    # -- the officer's view and override -----------------------------------------------------

    async def state(self, investor_id: UUID) -> KycState:
        return await self._records.state(investor_id)

    async def override(
        self, investor_id: UUID, status: KycStatus, reason: str, actor: str, *, expires_at: datetime | None = None
    ) -> KycState:
        """Set ``investor_id``'s KYC status on an officer's authority; the reason is audited."""
        before = self._snapshot.investors.get(investor_id)
        state = await self._records.override(
            Override(investor_id, status, reason, actor, self._clock(), expires_at=expires_at)
        )
        if before is not None and before.kyc_provider and before.kyc_provider_ref:
            # the provider's cached answer no longer speaks for this investor
            await self._cache.delete(cache_key(before.kyc_provider, before.kyc_provider_ref))
        log.info("kyc.overridden", investor_id=str(investor_id), status=status.value, actor=actor)
        return state

    # -- answers on the check path -----------------------------------------------------------

    def serves(self, investor: InvestorFacts) -> bool:
        """Whether the check path asks this service about ``investor`` (its KYC is Ballerine's)."""
        return self._client is not None and investor.kyc_provider == PROVIDER and bool(investor.kyc_provider_ref)

    async def current(self, investor: InvestorFacts) -> ProviderKyc:
        """The provider's current answer for ``investor`` (raises ProviderFailure when it cannot be had)."""
        client = self._client
        reference = investor.kyc_provider_ref or ""
        if client is None or not self.serves(investor):
            raise ValueError(f"investor {investor.id}'s KYC is not Ballerine's (check serves() first)")
        pulled: list[EndUserKyc] = []

        async def pull() -> dict[str, str]:
            answer = await client.end_user(reference)
            pulled.append(answer)
            return _cached(answer.status, self._clock())

        lookup = await self._cache.get_or_load(cache_key(PROVIDER, reference), pull, self._ttl)
        status, checked_at = KycStatus(lookup.value["status"]), datetime.fromisoformat(lookup.value["checked_at"])
        if pulled and status != investor.kyc_status:
            self._spawn(self._record_pull(investor.id, pulled[0], checked_at))
        return ProviderKyc(
            investor_id=investor.id,
            provider=PROVIDER,
            reference=reference,
            status=status,
            checked_at=checked_at,
            from_cache=not pulled,
        )

    async def _record_pull(self, investor_id: UUID, answer: EndUserKyc, checked_at: datetime) -> None:
        try:
            await self._records.apply(
                ProviderAnswer(
                    investor_id=investor_id,
                    status=answer.status,
                    provider=PROVIDER,
                    provider_ref=answer.end_user_id,
                    checked_at=checked_at,
                    actor="provider:ballerine",
                    evidence={"approval_state": answer.approval_state, "via": "pull"},
                ),
                self._clock(),
            )
        except Exception as exc:  # the answer is cached; the registry catches up on the next pull
            log.warning("kyc.record_failed", investor_id=str(investor_id), error=repr(exc))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _on_reference_change(self, table: str, key: str) -> None:
        # another process may have applied an answer: drop our in-process copy of it
        if table != "investors":
            return
        with contextlib.suppress(ValueError):
            investor = self._snapshot.investors.get(UUID(key))
            if investor is not None and investor.kyc_provider and investor.kyc_provider_ref:
                self._cache.local.delete(cache_key(investor.kyc_provider, investor.kyc_provider_ref))

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _cached(status: KycStatus, checked_at: datetime) -> dict[str, str]:
    return {"status": status.value, "checked_at": checked_at.isoformat()}
