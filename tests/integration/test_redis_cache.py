"""The shared provider-answer cache against a real Redis on loopback."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from prometheus_client import REGISTRY

from compliance_shield.adapters.cache import LocalCache, RedisCache, TieredCache

pytestmark = pytest.mark.integration

#: these tests are about what is stored and seen, not deadlines: generous on a loaded test machine
TIMEOUT = 0.25


def prefix() -> str:
    return f"test-{secrets.token_hex(4)}:"


async def eventually(condition: object, within: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_values_round_trip_and_expire(redis_url: str) -> None:
    cache = RedisCache.from_url(redis_url, prefix=prefix(), op_timeout=TIMEOUT)
    try:
        await cache.set("kyc:ballerine:eu-1", {"status": "verified", "checked_at": "2026-03-02T10:00:00+00:00"}, 0.2)
        assert await cache.get("kyc:ballerine:eu-1") == {
            "status": "verified",
            "checked_at": "2026-03-02T10:00:00+00:00",
        }
        await asyncio.sleep(0.3)
        assert await cache.get("kyc:ballerine:eu-1") is None
        assert await cache.ping()
    finally:
        await cache.close()


async def test_a_second_process_reads_what_the_first_cached(redis_url: str) -> None:
    shared = prefix()
    first = TieredCache(LocalCache(), RedisCache.from_url(redis_url, prefix=shared, op_timeout=TIMEOUT))
    second = TieredCache(LocalCache(), RedisCache.from_url(redis_url, prefix=shared, op_timeout=TIMEOUT))
    try:
        await first.set("chainalysis-sanctions:0xabc", [{"category": "sanctions"}], ttl=60)
        assert await second.get("chainalysis-sanctions:0xabc") == [{"category": "sanctions"}]
        assert second.local.get("chainalysis-sanctions:0xabc") is not None  # now in front, locally
        assert await second.get("chainalysis-sanctions:0xabc") is not None
        assert second.hit_ratio("chainalysis-sanctions") == 1.0
        samples = {
            (s.labels["namespace"], s.labels["tier"], s.labels["result"]): s.value
            for metric in REGISTRY.collect()
            if metric.name == "compliance_cache_requests"
            for s in metric.samples
            if s.name.endswith("_total")
        }
        assert samples[("chainalysis-sanctions", "redis", "hit")] >= 1
        assert samples[("chainalysis-sanctions", "local", "hit")] >= 1
    finally:
        await first.close()
        await second.close()


async def test_a_delete_invalidates_every_process_in_front_cache(redis_url: str) -> None:
    shared = prefix()
    first = TieredCache(LocalCache(), RedisCache.from_url(redis_url, prefix=shared, op_timeout=TIMEOUT))
    second = TieredCache(LocalCache(), RedisCache.from_url(redis_url, prefix=shared, op_timeout=TIMEOUT))
    try:
        await asyncio.sleep(0.2)  # let both subscribe to the invalidation channel
        await first.set("kyc:ballerine:eu-2", {"status": "pending"}, ttl=60)
        assert await second.get("kyc:ballerine:eu-2") == {"status": "pending"}
        await first.delete("kyc:ballerine:eu-2")
        await eventually(lambda: second.local.get("kyc:ballerine:eu-2") is None)
        assert await second.get("kyc:ballerine:eu-2") is None
    finally:
        await first.close()
        await second.close()


async def test_redis_down_is_a_miss_not_an_error() -> None:
    cache = TieredCache(LocalCache(), RedisCache.from_url("redis://127.0.0.1:1/0", op_timeout=0.2))
    try:
        assert await cache.get("kyc:x") is None
        await cache.set("kyc:x", {"status": "verified"}, ttl=60)  # kept locally, Redis failure logged
        assert await cache.get("kyc:x") == {"status": "verified"}
        await cache.delete("kyc:x")
        assert await cache.get("kyc:x") is None
    finally:
        await cache.close()
