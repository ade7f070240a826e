"""External KYC providers (Ballerine): webhook updates in, stale answers refreshed on demand.

The registry in PostgreSQL (``investors.kyc_status``) stays the record. A provider's answer
reaches it two ways, both audited and followed by a snapshot refresh:

* **webhook** — a signed ``workflow.completed`` / ``workflow.state.changed`` event is mapped by
  its ``correlationId`` to our investor and applied; the cached answer is replaced and every
  process's in-process copy invalidated;
* **pull** — on the check path, an investor whose KYC comes from a provider needs a current
  answer: the cached one when it is younger than ``ttl`` (REDIS_TTL_KYC); otherwise the provider
  is asked (``GET /api/v1/external/end-users/{id}``), the answer cached and, if it differs,
  written to the registry in the background. A cached answer is never re-fetched while fresh.

When neither a fresh cached answer nor the provider is available, the answer has no status and
``kyc_verified`` answers ``error`` (fail closed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import structlog

from compliance_shield.adapters.ballerine.client import EndUserKyc
from compliance_shield.adapters.ballerine.webhook import KycEvent, parse_event, verify_signature
from compliance_shield.adapters.cache.tiered import TieredCache
from compliance_shield.domain.facts import InvestorFacts, ProviderKyc
from compliance_shield.domain.values import KycStatus
from compliance_shield.errors import NotAuthenticated, NotFound
from compliance_shield.observability.metrics import WEBHOOKS
from compliance_shield.services.refdata import ReferenceDataService
from compliance_shield.services.snapshot import Snapshot

log = structlog.get_logger(__name__)

PROVIDER = "ballerine"
WEBHOOK_ACTOR = "webhook:ballerine"


class EndUserSource(Protocol):
    async def end_user(self, end_user_id: str) -> EndUserKyc: ...


def cache_key(provider: str, reference: str) -> str:
    return f"kyc:{provider}:{reference}"


class KycService:
    def __init__(
        self,
        refdata: ReferenceDataService,
        snapshot: Snapshot,
        cache: TieredCache,
        *,
        client: EndUserSource | None = None,
        webhook_secret: str | None = None,
        ttl: float = 86400.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._refdata = refdata
        self._snapshot = snapshot
        self._cache = cache
        self._client = client
        self._secret = webhook_secret
        self._ttl = ttl
        self._clock = clock
        self._background: set[asyncio.Task[Any]] = set()
        snapshot.on_change.append(self._on_reference_change)

    # -- webhooks ----------------------------------------------------------------------------

    async def handle_webhook(self, body: bytes, signature: str | None) -> dict[str, Any]:
        """Verify, map and apply a Ballerine webhook. Raises NotAuthenticated for a bad signature,
        ValidationFailed for a malformed body, NotFound for an unknown correlationId."""
        if not self._secret:
            WEBHOOKS.labels(PROVIDER, "not_configured").inc()
            raise NotAuthenticated("Ballerine webhooks are not configured (BALLERINE_WEBHOOK_SECRET)")
        if not verify_signature(body, signature, self._secret):
            WEBHOOKS.labels(PROVIDER, "bad_signature").inc()
            raise NotAuthenticated("the webhook signature (X-HMAC-Signature) does not match")
        event = parse_event(body)
        if event.status is None:
            WEBHOOKS.labels(PROVIDER, "ignored").inc()
            return {"status": "ignored", "event": event.event}
        assert event.correlation_id is not None
        investor_id = await self._refdata.find_investor_by_ref(event.correlation_id)
        if investor_id is None:
            WEBHOOKS.labels(PROVIDER, "unknown_investor").inc()
            raise NotFound(
                f"no investor has external_ref or id {event.correlation_id!r}",
                details=[{"field": "correlationId", "message": "no investor with this reference"}],
            )
        applied = await self._apply(investor_id, event)
        WEBHOOKS.labels(PROVIDER, "applied" if applied else "stale").inc()
        return {
            "status": "applied" if applied else "stale",
            "event": event.event,
            "investor_id": str(investor_id),
            "kyc_status": event.status.value,
        }

    async def _apply(self, investor_id: UUID, event: KycEvent) -> bool:
        assert event.status is not None
        previous = self._snapshot.investors.get(investor_id)
        reference = event.entity_id or (previous.kyc_provider_ref if previous else None)
        applied = await self._refdata.apply_kyc_answer(
            investor_id,
            event.status,
            provider=PROVIDER,
            provider_ref=event.entity_id,
            checked_at=event.occurred_at,
            actor=WEBHOOK_ACTOR,
            evidence={"event": event.event, "state": event.state, "workflow_id": event.workflow_id},
        )
        if applied and reference:
            # the webhook's answer is the freshest there is: replace the cached one everywhere
            await self._cache.delete(cache_key(PROVIDER, reference))
            await self._cache.set(cache_key(PROVIDER, reference), _cached(event.status, event.occurred_at), self._ttl)
        return applied

    # -- answers on the check path -----------------------------------------------------------

    async def current(self, investor: InvestorFacts) -> ProviderKyc:
        """The provider's current answer for ``investor`` (raises ProviderFailure when it cannot be had)."""
        provider, reference = investor.kyc_provider or PROVIDER, investor.kyc_provider_ref or ""
        key = cache_key(provider, reference)
        cached = await self._cache.get(key)
        if cached is not None:
            return ProviderKyc(
                investor_id=investor.id,
                provider=provider,
                reference=reference,
                status=KycStatus(cached["status"]),
                checked_at=datetime.fromisoformat(cached["checked_at"]),
                from_cache=True,
            )
        if self._client is None or provider != PROVIDER:
            # nobody to ask: the registry's status, as last set by the provider, is the answer
            return ProviderKyc(
                investor_id=investor.id,
                provider=provider,
                reference=reference,
                status=investor.kyc_status,
                from_cache=True,
            )
        answer = await self._client.end_user(reference)
        checked_at = self._clock()
        await self._cache.set(key, _cached(answer.status, checked_at), self._ttl)
        if answer.status != investor.kyc_status:
            self._spawn(self._record_pull(investor.id, answer, checked_at))
        return ProviderKyc(
            investor_id=investor.id, provider=provider, reference=reference, status=answer.status, checked_at=checked_at
        )

    async def _record_pull(self, investor_id: UUID, answer: EndUserKyc, checked_at: datetime) -> None:
        try:
            await self._refdata.apply_kyc_answer(
                investor_id,
                answer.status,
                provider=PROVIDER,
                provider_ref=answer.end_user_id,
                checked_at=checked_at,
                actor="provider:ballerine",
                evidence={"approval_state": answer.approval_state, "via": "pull"},
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
