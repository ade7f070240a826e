"""The composition root: settings → database → snapshot → services. Nothing else wires.

With no ``DATABASE_URL`` an embedded PostgreSQL (the ``pgserver`` package) is started in
``DATA_DIR/postgres`` and migrated; with one, that server is used as it is (run
``compliance-shield migrate`` from the deployment's migration job).
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import structlog

from compliance_shield.adapters.chain.certificates import CertificateSigner
from compliance_shield.db import json_text, ledger_queries
from compliance_shield.db.migrate import upgrade
from compliance_shield.domain import encoding
from compliance_shield.domain.report import ReportingEntity
from compliance_shield.observability.database import observe_queries, sample_database
from compliance_shield.providers import Providers, build_providers
from compliance_shield.reference_data import load_country_lists
from compliance_shield.services.cases import CaseService
from compliance_shield.services.cases.reports import ReportService
from compliance_shield.services.chain.certificates import CertificateService
from compliance_shield.services.checks.service import DecisionService
from compliance_shield.services.checks.settlement import SettlementService
from compliance_shield.services.events.outbox import EventFeed
from compliance_shield.services.heap import freeze_long_lived, freeze_survivors
from compliance_shield.services.providers.kyc import KycService
from compliance_shield.services.reference.policies import PolicyService
from compliance_shield.services.reference.refdata import ReferenceDataService
from compliance_shield.services.reference.snapshot import Snapshot
from compliance_shield.services.screening.lists import ListService
from compliance_shield.services.screening.screening import ScreeningService
from compliance_shield.services.screening.wallet_labels import WalletLabelService
from compliance_shield.settings import Settings

log = structlog.get_logger(__name__)


def embedded_database_url(data_dir: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL server and return its URL.

    Every process that asks holds a handle on the server; the server stops when the last of them
    exits (``serve`` and a ``seed`` run beside it share one server, and nothing outlives them).
    """
    with warnings.catch_warnings():
        # without XDG_RUNTIME_DIR, platformdirs warns on import and falls back to /tmp/runtime-<uid>,
        # which is where pgserver keeps its lock: the fallback is right, the warning is noise
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver  # imported lazily: production never loads it

        pgdata = (data_dir / "postgres").resolve()
        pgdata.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(  # type: ignore[attr-defined]
            str(pgdata), cleanup_mode="stop"
        )
    return str(server.get_uri())


def database_url(settings: Settings) -> tuple[str, bool]:
    """The URL to use and whether it is the embedded server (which we migrate ourselves)."""
    if settings.database_url:
        return settings.database_url, False
    return embedded_database_url(settings.data_dir), True


async def _init_connection(conn: asyncpg.Connection) -> None:
    observe_queries(conn)
    for kind in ("jsonb", "json"):
        await conn.set_type_codec(
            kind,
            encoder=json_text,
            decoder=encoding.loads,
            schema="pg_catalog",
        )


async def connect(url: str, application_name: str = "compliance-shield") -> asyncpg.Connection:
    conn = await asyncpg.connect(
        url, timeout=5, command_timeout=10, server_settings={"application_name": application_name}
    )
    await _init_connection(conn)
    return conn


async def create_pool(url: str, size: int) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=size,
        init=_init_connection,
        timeout=5,
        command_timeout=10,
        server_settings={"application_name": "compliance-shield"},
    )
    assert pool is not None
    return pool


def certificate_signer(settings: Settings) -> CertificateSigner | None:
    """The EIP-712 certificate signer: SIGNER_PRIVATE_KEY (else ORACLE_PRIVATE_KEY), CHAIN_ID and ORACLE_ADDRESS."""
    key = settings.signer_private_key or settings.oracle_private_key
    if key is None or settings.chain_id is None or settings.oracle_address is None:
        return None
    return CertificateSigner(key.get_secret_value(), settings.chain_id, settings.oracle_address)


def reporting_entity(settings: Settings) -> ReportingEntity:
    """The reporting entity named on STR/SAR drafts (REPORT_ENTITY_* settings)."""
    return ReportingEntity(
        name=settings.report_entity_name,
        fiu_registration_id=settings.report_entity_fiu_id,
        address=settings.report_entity_address,
        principal_officer=settings.report_principal_officer,
        principal_officer_email=settings.report_principal_officer_email,
        tin=settings.report_entity_tin,
    )


@dataclass
class Container:
    settings: Settings
    database_url: str
    pool: asyncpg.Pool
    snapshot: Snapshot
    decisions: DecisionService
    refdata: ReferenceDataService
    policies: PolicyService
    settlement: SettlementService
    certificates: CertificateService
    feed: EventFeed
    #: the evidence providers, their caches and the services built on them (providers.py)
    providers: Providers
    #: name/address screening against the sanctions lists, and the lists' versions
    screening: ScreeningService
    lists: ListService
    #: review cases of escalated checks (four-eyes)
    cases: CaseService
    #: STR/SAR drafts of cases
    reports: ReportService
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    #: closed after the tasks stop (clients the tasks used)
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def kyc(self) -> KycService:
        return self.providers.kyc

    @property
    def wallet_labels(self) -> WalletLabelService:
        return self.providers.wallet_labels

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for close in self._closers:
            await close()
        await self.decisions.stop()
        await self.screening.close()
        await self.providers.close()
        await self.feed.close()
        await self.snapshot.close()
        await self.pool.close()


async def _maintenance(container: Container) -> None:
    """Expire lapsed approvals every second; every hour keep check partitions created ahead and
    prune the ledger change log (other processes catch up within seconds; an hour is ample); every
    ``GC_FREEZE_INTERVAL_SECONDS`` keep long-lived objects out of full GC passes."""
    ticks = 0
    while True:
        try:
            if ticks % 3600 == 0:
                async with container.pool.acquire() as conn:
                    await conn.execute("SELECT ensure_check_partitions(3)")
                    await ledger_queries.prune_changes(conn, datetime.now(UTC) - timedelta(hours=1))
            await container.settlement.expire_due()
            interval = container.settings.gc_freeze_interval_seconds
            if interval and ticks % interval == 0:
                freeze_survivors()
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("maintenance.failed", error=repr(exc))
        ticks += 1
        await asyncio.sleep(1)


async def _open_cases(container: Container) -> None:
    """Open a review case for every newly escalated check (off the decision path)."""
    while True:
        try:
            await container.cases.open_escalated()
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("cases.open_failed", error=repr(exc))
        await asyncio.sleep(container.settings.case_open_interval_seconds)


async def build_container(
    settings: Settings,
    *,
    url: str | None = None,
    migrate: bool | None = None,
    provider_http: httpx.AsyncClient | None = None,
) -> Container:
    """Wire everything from settings; the caller owns ``close()``.

    ``provider_http`` replaces the HTTP client of the evidence providers (tests drive it with a
    mock transport that speaks the vendors' documented shapes)."""
    if url is None:
        url, embedded = await asyncio.to_thread(database_url, settings)
        migrate = embedded if migrate is None else migrate
    assert url is not None
    if migrate:
        await asyncio.to_thread(upgrade, url)
    pool = await create_pool(url, settings.database_pool_size)
    snapshot = Snapshot(load_country_lists(), name_lists_required=settings.screening_lists_required)
    await snapshot.watch(lambda: connect(url, "compliance-shield-listener"))
    screening = ScreeningService(pool, snapshot)
    await screening.start()  # the name index is loaded before anything is screened
    freeze_long_lived()  # the snapshot and the name index stay: keep them out of GC passes
    refdata = ReferenceDataService(pool, snapshot, screening)
    providers = await build_providers(settings, pool, snapshot, refdata, http=provider_http)
    decisions = DecisionService(
        pool,
        snapshot,
        commit_window_ms=settings.commit_window_ms,
        max_batch=settings.commit_max_batch,
        max_pending=settings.max_pending_checks,
        evidence=providers.evidence,
        screener=screening,
    )
    decisions.start()
    container = Container(
        settings=settings,
        database_url=url,
        pool=pool,
        snapshot=snapshot,
        decisions=decisions,
        refdata=refdata,
        policies=PolicyService(pool, snapshot),
        providers=providers,
        settlement=SettlementService(pool),
        certificates=CertificateService(pool, certificate_signer(settings)),
        feed=EventFeed(pool, lambda: connect(url, "compliance-shield-feed")),
        screening=screening,
        lists=ListService(pool, screening, snapshot),
        cases=CaseService(pool, snapshot, decisions, four_eyes_min_risk=settings.case_four_eyes_min_risk),
        reports=ReportService(pool, snapshot, reporting_entity(settings)),
    )
    container._tasks.append(asyncio.create_task(_maintenance(container), name="maintenance"))
    sampling = sample_database(pool, settings.long_query_seconds)
    container._tasks.append(asyncio.create_task(sampling, name="database-metrics"))
    container._tasks.append(asyncio.create_task(_open_cases(container), name="case-opener"))
    if settings.enable_ai_reasoning:
        from compliance_shield.workers.reasoning import reasoning_service, run_loop

        reasoning_http = httpx.AsyncClient()
        container._closers.append(reasoning_http.aclose)
        service = reasoning_service(settings, pool, reasoning_http)
        container._tasks.append(asyncio.create_task(run_loop(service), name="reasoning"))
    return container
