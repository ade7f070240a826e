"""Per-client rate limits through the API: 429 RATE_LIMITED with Retry-After past the burst, per
subject, shared by every process through Redis, and let through when Redis is down."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from conftest import bearer
from prometheus_client import REGISTRY
from support import app_with

from compliance_shield.bootstrap import Container
from compliance_shield.settings import Settings

pytestmark = pytest.mark.integration


def _limited(settings: Settings, **extra: Any) -> Settings:
    return settings.model_copy(update={"rate_limit_per_second": 0.5, "rate_limit_burst": 3, **extra})


def _metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def _statuses(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> list[int]:
    return [(await client.get("/v1/tokens?limit=1", headers=headers)).status_code for _ in range(n)]


async def test_past_the_burst_a_subject_gets_429_with_retry_after(settings: Settings, container: Container) -> None:
    before = _metric("compliance_rate_limited_total")
    alice, bob = bearer(settings, "analyst", sub="alice"), bearer(settings, "analyst", sub="bob")
    async with app_with(_limited(settings), container) as client:
        assert await _statuses(client, alice, 3) == [200, 200, 200]
        refused = await client.get("/v1/tokens?limit=1", headers=alice)
        assert await _statuses(client, bob, 3) == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["retry-after"]) <= 2
    assert _metric("compliance_rate_limited_total") == before + 1


async def test_the_check_route_is_limited_too(settings: Settings, container: Container) -> None:
    checker = bearer(settings, "checker", sub="busy-platform")
    async with app_with(_limited(settings), container) as client:
        statuses = [
            (await client.post("/v1/compliance/transfer-check", json={}, headers=checker)).status_code for _ in range(4)
        ]
    assert statuses == [422, 422, 422, 429]


async def test_processes_share_one_limit_through_redis(
    settings: Settings, container: Container, redis_url: str
) -> None:
    shared = _limited(settings, redis_url=redis_url)
    carol = bearer(settings, "analyst", sub=f"carol-{id(shared)}")
    async with app_with(shared, container) as first, app_with(shared, container) as second:
        assert await _statuses(first, carol, 2) == [200, 200]
        assert await _statuses(second, carol, 2) == [200, 429]


async def test_an_unreachable_redis_lets_requests_through(settings: Settings, container: Container) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe is closed
    before = _metric("compliance_rate_limit_unavailable_total")
    dave = bearer(settings, "analyst", sub="dave")
    async with app_with(_limited(settings, redis_url=f"redis://127.0.0.1:{port}/0"), container) as client:
        assert await _statuses(client, dave, 5) == [200] * 5
    assert _metric("compliance_rate_limit_unavailable_total") == before + 5
