"""Part of the composition root: settings → provider adapters → the evidence services.

Each external provider is wired only when configured; without any, the built-in sources
(wallet labels, the KYC registry) decide and no network call is made. ``Providers.close``
closes what ``build_providers`` opened (HTTP client, Redis, background tasks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import httpx

from compliance_shield.adapters.ballerine.client import BallerineClient
from compliance_shield.adapters.cache import LocalCache, RedisCache, TieredCache
from compliance_shield.adapters.cache.redis import redis_breaker
from compliance_shield.adapters.chainalysis.kyt import KytClient
from compliance_shield.adapters.chainalysis.sanctions import SanctionsClient
from compliance_shield.adapters.marble.client import MarbleClient
from compliance_shield.adapters.resilience import CircuitBreaker, Resilient, RetryPolicy
from compliance_shield.services.checks.evidence import ProviderEvidence
from compliance_shield.services.providers.kyc import EventWindow, KycService
from compliance_shield.services.providers.kyc_records import KycRecords
from compliance_shield.services.providers.kyt import KytScreening
from compliance_shield.services.reference.refdata import ReferenceDataService
from compliance_shield.services.reference.snapshot import Snapshot
from compliance_shield.services.screening.wallet_labels import WalletLabelService
from compliance_shield.settings import Settings


@dataclass
class Providers:
    cache: TieredCache
    evidence: ProviderEvidence
    kyc: KycService
    wallet_labels: WalletLabelService
    kyt: KytScreening | None
    http: httpx.AsyncClient
    #: whether ``http`` was built here (an injected client stays open: its owner closes it)
    owns_http: bool = True

    async def close(self) -> None:
        if self.kyt is not None:
            await self.kyt.close()
        await self.kyc.close()
        if self.owns_http:
            await self.http.aclose()
        await self.cache.close()


def resilient(settings: Settings, provider: str) -> Resilient:
    return Resilient(
        provider,
        RetryPolicy(timeout=settings.provider_timeout_ms / 1000, retries=settings.provider_retries),
        CircuitBreaker(
            provider,
            failure_threshold=settings.provider_breaker_failures,
            reset_after=settings.provider_breaker_reset_seconds,
        ),
    )


async def build_providers(
    settings: Settings,
    pool: asyncpg.Pool,
    snapshot: Snapshot,
    refdata: ReferenceDataService,
    *,
    http: httpx.AsyncClient | None = None,
) -> Providers:
    """Wire the configured providers. ``http`` (tests) replaces the HTTP client built here."""
    shared = (
        RedisCache.from_url(
            settings.redis_url,
            op_timeout=settings.redis_deadline_ms / 1000,
            breaker=redis_breaker(settings.redis_breaker_failures, settings.redis_breaker_reset_seconds),
        )
        if settings.redis_url
        else None
    )
    if shared is not None:
        # opens the first connections now, under a longer deadline than a cache operation has
        await shared.open_connections()
    cache = TieredCache(
        LocalCache(settings.cache_local_max_entries), shared, local_ttl=settings.cache_local_ttl_seconds
    )
    client = http or httpx.AsyncClient(
        timeout=httpx.Timeout(settings.provider_timeout_ms / 1000),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )
    ballerine = None
    if settings.ballerine_base_url and settings.ballerine_api_key:
        ballerine = BallerineClient(
            client,
            settings.ballerine_base_url,
            settings.ballerine_api_key.get_secret_value(),
            resilient(settings, "ballerine"),
        )
    secret = settings.ballerine_webhook_secret.get_secret_value() if settings.ballerine_webhook_secret else None
    window = EventWindow(
        max_skew=timedelta(seconds=settings.provider_event_max_skew_seconds),
        horizon=timedelta(days=settings.provider_event_horizon_days),
    )
    kyc = KycService(
        refdata,
        KycRecords(pool, snapshot),
        snapshot,
        cache,
        client=ballerine,
        webhook_secret=secret,
        ttl=settings.redis_ttl_kyc,
        window=window,
    )
    sanctions = None
    if settings.chainalysis_api_key:
        sanctions = SanctionsClient(
            client,
            settings.chainalysis_base_url,
            settings.chainalysis_api_key.get_secret_value(),
            resilient(settings, "chainalysis"),
        )
    kyt = None
    if settings.chainalysis_kyt_api_key:
        api = KytClient(
            client,
            settings.chainalysis_kyt_base_url,
            settings.chainalysis_kyt_api_key.get_secret_value(),
            resilient(settings, "chainalysis-kyt"),  # another host than the sanctions API: its own breaker
            network=settings.chainalysis_kyt_network,
            asset=settings.chainalysis_kyt_asset,
        )
        kyt = KytScreening(api, cache, poll_interval=settings.kyt_poll_seconds, result_ttl=settings.redis_ttl_kyt)
        kyt.start()
    monitor = None
    if settings.marble_api_key and settings.marble_scenario_id:
        monitor = MarbleClient(
            client,
            settings.marble_base_url,
            settings.marble_api_key.get_secret_value(),
            settings.marble_scenario_id,
            resilient(settings, "marble"),
            object_type=settings.marble_object_type,
        )
    evidence = ProviderEvidence(
        cache=cache,
        sanctions=sanctions,
        sanctions_ttl=settings.redis_ttl_sanctions,
        screening=kyt,
        monitor=monitor,
        kyc=kyc if ballerine is not None else None,
        deadline=settings.evidence_deadline_ms / 1000,
    )
    return Providers(cache, evidence, kyc, WalletLabelService(pool, snapshot), kyt, client, owns_http=http is None)
