"""The reasoning worker: AI-drafted narratives for open review cases (ENABLE_AI_REASONING).

Runs inside ``serve`` (the embedded default) or alone as ``compliance-shield worker reasoning``.
It only reads cases and writes narratives beside them: a slow, failing or rate-limited model
never touches a decision.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import httpx
import structlog

from compliance_shield.adapters.grok.client import PROVIDER, ChatCompletions
from compliance_shield.adapters.resilience import CircuitBreaker, Resilient, RetryPolicy
from compliance_shield.services.cases.reasoning import Budget, ReasoningService
from compliance_shield.settings import Settings

log = structlog.get_logger(__name__)

#: seconds between passes over the open cases
POLL_SECONDS = 2.0


def chat_client(settings: Settings, http: httpx.AsyncClient) -> ChatCompletions:
    """The chat-completions client configured by GROK_* settings."""
    assert settings.grok_api_key is not None  # (settings refuse ENABLE_AI_REASONING without it)
    timeout = settings.grok_timeout_ms / 1000
    resilient = Resilient(
        PROVIDER,
        RetryPolicy(timeout=timeout, retries=settings.grok_retries, backoff_base=0.5, backoff_max=10.0),
        CircuitBreaker(PROVIDER, settings.provider_breaker_failures, settings.provider_breaker_reset_seconds),
    )
    return ChatCompletions(
        http, resilient, base_url=settings.grok_base_url, api_key=settings.grok_api_key.get_secret_value(),
        model=settings.grok_model,
    )  # fmt: skip


def reasoning_service(settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient) -> ReasoningService:
    return ReasoningService(
        pool, chat_client(settings, http), fields=settings.grok_fields, budget=Budget(settings.grok_max_calls_per_hour)
    )


async def run_loop(service: ReasoningService, stop: asyncio.Event | None = None) -> None:
    """Pass over the open cases until ``stop`` is set (or the task is cancelled)."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            result = await service.run_pass()
            if result.drafted or result.failed:
                log.info("reasoning.pass", drafted=result.drafted, failed=result.failed, deferred=result.deferred)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("reasoning.pass_failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_SECONDS)


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """The standalone worker: its own pool and HTTP client."""
    from compliance_shield.bootstrap import create_pool, database_url

    url, _ = await asyncio.to_thread(database_url, settings)
    pool = await create_pool(url, 2)
    async with httpx.AsyncClient() as http:
        try:
            await run_loop(reasoning_service(settings, pool, http), stop)
        finally:
            await pool.close()
