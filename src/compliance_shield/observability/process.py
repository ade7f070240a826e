"""The one entry point that sets up logging and metrics for every kind of process.

``configure_process`` is called first thing by the API's ASGI module, by ``serve`` and by every
CLI command; ``run_worker`` wraps a worker's main coroutine with its operations port
(``/metrics``, ``/health``) and its backlog probe.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from enum import StrEnum

import asyncpg
import structlog

from compliance_shield import __version__
from compliance_shield.observability import multiprocess
from compliance_shield.observability.backlogs import Probe
from compliance_shield.observability.logging import configure_logging
from compliance_shield.observability.metrics import BUILD_INFO
from compliance_shield.observability.operations import operations_port
from compliance_shield.settings import Settings

log = structlog.get_logger(__name__)

_PROBE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class ProcessKind(StrEnum):
    API = "api"
    SERVE = "serve"
    RELAY = "relay"
    CONSUMER = "consumer"
    ORACLE = "oracle"
    INDEXER = "indexer"
    AUDIT = "audit"
    CLI = "cli"


def configure_process(settings: Settings, kind: ProcessKind) -> None:
    """JSON logs at ``LOG_LEVEL`` tagged with ``kind``, and the process's ``compliance_build_info``."""
    configure_logging(settings.log_level, kind.value)
    BUILD_INFO.labels(__version__, kind.value).set(1)


def worker_port(settings: Settings, kind: ProcessKind) -> int:
    ports = {
        ProcessKind.RELAY: settings.relay_metrics_port,
        ProcessKind.CONSUMER: settings.consumer_metrics_port,
        ProcessKind.ORACLE: settings.oracle_metrics_port,
        ProcessKind.INDEXER: settings.indexer_metrics_port,
        ProcessKind.AUDIT: settings.audit_metrics_port,
    }
    return ports[kind]


async def _probe_forever(connect: Callable[[], Awaitable[asyncpg.Connection]], probe: Probe, every: float) -> None:
    """Run ``probe`` every ``every`` seconds on one connection, reconnecting after a failure."""
    conn: asyncpg.Connection | None = None
    try:
        while True:
            try:
                if conn is None or conn.is_closed():
                    conn = await connect()
                await probe(conn)
            except _PROBE_ERRORS as exc:
                log.warning("metrics.probe_failed", error=repr(exc))
                if conn is not None:
                    conn.terminate()
                conn = None
            await asyncio.sleep(every)
    finally:
        if conn is not None:
            conn.terminate()


async def run_worker(
    settings: Settings,
    kind: ProcessKind,
    work: Awaitable[None],
    *,
    probe: Probe | None = None,
    connect: Callable[[], Awaitable[asyncpg.Connection]] | None = None,
    probe_every: float = 5.0,
) -> None:
    """Run ``work`` with the worker's operations port open and its backlog probed; returns when
    ``work`` does (stopped by a signal) and closes both."""
    configure_process(settings, kind)
    directory = settings.prometheus_multiproc_dir
    port = worker_port(settings, kind)
    async with operations_port(kind.value, settings.host, port, lambda: multiprocess.registry(directory)) as bound:
        log.info("operations.listening", host=settings.host, port=bound, paths=["/metrics", "/health"])
        probing = None
        if probe is not None and connect is not None:
            probing = asyncio.create_task(_probe_forever(connect, probe, probe_every), name=f"{kind}-probe")
        try:
            await work
        finally:
            if probing is not None:
                probing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await probing
            multiprocess.process_exited(directory)


async def observed(settings: Settings, kind: ProcessKind, work: Awaitable[None], probe: Probe | None = None) -> None:
    """``run_worker`` with the probe's connection to the service's database (embedded or not)."""
    from compliance_shield.bootstrap import connect, database_url

    url, _ = await asyncio.to_thread(database_url, settings)
    await run_worker(
        settings, kind, work, probe=probe, connect=lambda: connect(url, f"compliance-shield-{kind}-metrics")
    )


async def observed_indexer(settings: Settings, work: Awaitable[None]) -> None:
    """The indexer's ``observed``: its probe asks the node for the head (CHAIN_ID, else the node's id)."""
    from compliance_shield.adapters.chain.client import ChainClient
    from compliance_shield.observability.backlogs import indexer_lag

    assert settings.besu_rpc_url is not None
    client = ChainClient(settings.besu_rpc_url)
    try:
        chain_id = settings.chain_id or await client.chain_id()
        await observed(settings, ProcessKind.INDEXER, work, indexer_lag(client, chain_id))
    finally:
        await client.close()
