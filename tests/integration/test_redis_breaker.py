"""Redis as an optional accelerator: stopped (SIGSTOP) or killed, it costs a deadline until its
breaker opens, then nothing — the in-process tier and the providers answer, and checks go on."""

from __future__ import annotations

import asyncio
import functools
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import redis_server
from prometheus_client import REGISTRY
from provider_env import WEBHOOK_SECRET, Env, build_env, check, event, post_webhook, scene
from support import Headers, transfer, unique
from vendors import Vendors

from compliance_shield.adapters.ballerine import sign
from compliance_shield.adapters.cache import LocalCache, RedisCache, TieredCache
from compliance_shield.adapters.cache.redis import redis_breaker
from compliance_shield.adapters.resilience import BreakerState

pytestmark = pytest.mark.integration


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis server of this test's own, which it may stop, continue or kill."""
    with redis_server(tmp_path) as started:
        yield started


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def errors() -> float:
    return sum(sample("compliance_cache_errors_total", op=op) for op in ("get", "set"))


def refused() -> float:
    return sum(sample("compliance_redis_refused_total", op=op) for op in ("get", "set"))


async def answer(key: str) -> dict[str, str]:
    return {"answer": key}


async def open_by_misses(cache: TieredCache, count: int) -> list[str]:
    """``count`` look-ups of new keys: each is answered by its loader whatever Redis does."""
    answered = []
    for i in range(count):
        key = f"chainalysis-sanctions:0x{i:040x}"
        found = await cache.get_or_load(key, functools.partial(answer, key), 60)
        answered.append(found.value["answer"])
    return answered


async def test_a_stopped_redis_opens_the_breaker_then_costs_nothing_and_recovers(
    redis: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, server = redis
    clock = Clock()
    shared = RedisCache.from_url(url, prefix=f"{unique('t')}:", op_timeout=0.05, breaker=redis_breaker(3, 5.0, clock))
    cache = TieredCache(LocalCache(), shared)
    try:
        await cache.set("kyc:ballerine:eu-1", {"status": "verified"}, 60)
        await shared.set("kyc:ballerine:eu-2", {"status": "rejected"}, 60)  # in Redis only
        server.send_signal(signal.SIGSTOP)

        # what the in-process tier holds is served without asking Redis
        assert (await cache.get_or_load("kyc:ballerine:eu-1", lambda: answer("x"), 60)).source == "local"
        # misses wait out the deadline until three consecutive failures open the breaker …
        assert await open_by_misses(cache, 3) == [f"chainalysis-sanctions:0x{i:040x}" for i in range(3)]
        assert shared.breaker.state is BreakerState.OPEN
        assert sample("compliance_redis_circuit_state", client="cache") == BreakerState.OPEN
        # … then Redis is not tried at all: no more errors, only refusals
        failed, skipped = errors(), refused()
        assert len(await open_by_misses(cache, 10)) == 10
        assert errors() == failed
        assert refused() >= skipped + 10

        server.send_signal(signal.SIGCONT)
        clock.now += 5.0  # after its reset time, the next operation starts a probe in the background …
        assert (await cache.get_or_load("kyc:ballerine:eu-3", lambda: answer("eu-3"), 60)).source == "loaded"
        await until(lambda: shared.breaker.state is BreakerState.CLOSED)  # … which closes the breaker
        assert (await cache.get_or_load("kyc:ballerine:eu-2", lambda: answer("x"), 60)).source == "redis"
        assert sample("compliance_redis_circuit_state", client="cache") == BreakerState.CLOSED
    finally:
        server.send_signal(signal.SIGCONT)
        await cache.close()


async def test_a_killed_redis_opens_the_breaker(redis: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, server = redis
    opened = sample("compliance_redis_circuit_opened_total", client="cache")
    shared = RedisCache.from_url(url, prefix=f"{unique('t')}:", op_timeout=0.05, breaker=redis_breaker(3, 60.0))
    cache = TieredCache(LocalCache(), shared)
    try:
        assert await shared.ping()
        server.kill()
        server.wait(timeout=10)
        assert len(await open_by_misses(cache, 5)) == 5
        assert shared.breaker.state is BreakerState.OPEN
        assert sample("compliance_redis_circuit_opened_total", client="cache") == opened + 1
        assert cache.hit_ratio("chainalysis-sanctions") == 0.0
    finally:
        await cache.close()


@pytest.fixture
async def hung_env(
    database_url: str, redis: tuple[str, subprocess.Popen[bytes]]
) -> AsyncIterator[tuple[Env, subprocess.Popen[bytes]]]:
    url, server = redis
    async for built in build_env(
        database_url, url, Vendors(), redis_deadline_ms=50, redis_breaker_failures=3, redis_breaker_reset_seconds=600
    ):
        try:
            yield built, server
        finally:
            server.send_signal(signal.SIGCONT)


async def test_checks_go_on_while_redis_is_stopped(
    hung_env: tuple[Env, subprocess.Popen[bytes]], admin: Headers, checker: Headers
) -> None:
    env, server = hung_env
    end_user = unique("eu")
    env.vendors.end_users[end_user] = "APPROVED"
    token, seller, buyer = await scene(env, admin, kyc_provider="ballerine", kyc_provider_ref=end_user)
    server.send_signal(signal.SIGSTOP)
    decided = [await check(env, checker, transfer(token["id"], seller, buyer, 10 + i)) for i in range(12)]
    assert {body["status"] for body in decided} == {"APPROVED"}
    # the provider answers were kept in the in-process tier: asked once per key, not per check
    assert env.vendors.calls["ballerine"] == 1

    # webhooks still apply (the registry is the record; Redis only carries the cached copy)
    ref = (await env.client.get(f"/v1/wallets/{buyer}", headers=admin)).json()["investor_id"]
    body = event(ref, "rejected", at=datetime.now(UTC), entity=end_user)
    applied = await post_webhook(env, body, sign(body, WEBHOOK_SECRET))
    assert applied.json()["status"] == "applied"
    assert (await check(env, checker, transfer(token["id"], seller, buyer, 99)))["status"] == "REJECTED"


async def test_operations_timing_out_together_are_one_failure(redis: tuple[str, subprocess.Popen[bytes]]) -> None:
    """An event-loop stall times out everything in flight at once: one event, not three failures."""
    url, server = redis
    shared = RedisCache.from_url(url, prefix=f"{unique('t')}:", op_timeout=0.05, breaker=redis_breaker(3, 60.0))
    try:
        assert await shared.open_connections(4)
        server.send_signal(signal.SIGSTOP)
        assert await asyncio.gather(*(shared.get(f"kyc:ballerine:eu-{i}") for i in range(10))) == [None] * 10
        assert shared.breaker.state is BreakerState.CLOSED
        assert shared.breaker.failures == 1
    finally:
        server.send_signal(signal.SIGCONT)
        await shared.close()
