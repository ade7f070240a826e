"""Timeouts, bounded jittered retries for idempotent calls only, and the per-provider breaker."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from compliance_shield.adapters.resilience import (
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    ProviderFailure,
    Resilient,
    RetryPolicy,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """Fails ``failures`` times (with ``error``), then answers ``"ok"``; counts calls."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or httpx.ConnectError("refused")
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


async def no_sleep(_: float) -> None:
    return None


def caller(clock: Clock | None = None, *, retries: int = 2, threshold: int = 3, timeout: float = 1.0) -> Resilient:
    breaker = CircuitBreaker("vendor", failure_threshold=threshold, reset_after=30, clock=clock or Clock())
    return Resilient(
        "vendor", RetryPolicy(timeout=timeout, retries=retries), breaker, sleep=no_sleep, rng=random.Random(7)
    )


async def test_idempotent_calls_are_retried_until_they_succeed() -> None:
    flaky = Flaky(2)
    assert await caller().call("get", flaky, idempotent=True) == "ok"
    assert flaky.calls == 3


async def test_retries_are_bounded() -> None:
    flaky = Flaky(10)
    with pytest.raises(ProviderFailure, match="transport error"):
        await caller(retries=2, threshold=100).call("get", flaky, idempotent=True)
    assert flaky.calls == 3


async def test_non_idempotent_calls_are_tried_once() -> None:
    flaky = Flaky(1)
    with pytest.raises(ProviderFailure):
        await caller().call("post", flaky, idempotent=False)
    assert flaky.calls == 1


async def test_a_rejected_request_is_not_retried_and_does_not_trip_the_breaker() -> None:
    flaky = Flaky(10, ProviderFailure("vendor", "HTTP 400", outcome="rejected"))
    resilient = caller(threshold=1)
    for _ in range(3):
        with pytest.raises(ProviderFailure, match="HTTP 400"):
            await resilient.call("get", flaky, idempotent=True)
    assert flaky.calls == 3
    assert resilient.breaker.state is BreakerState.CLOSED


async def test_a_slow_call_times_out() -> None:
    async def slow() -> str:
        await asyncio.sleep(5)
        return "late"

    with pytest.raises(ProviderFailure) as raised:
        await caller(retries=0, timeout=0.01).call("get", slow, idempotent=True)
    assert raised.value.outcome == "timeout"


def test_backoff_is_full_jitter_below_a_capped_exponential() -> None:
    resilient = Resilient("vendor", RetryPolicy(backoff_base=0.1, backoff_max=0.5), rng=random.Random(1))
    for attempt in range(8):
        ceiling = min(0.5, 0.1 * 2**attempt)
        delays = [resilient.backoff(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # spread over the range, not a fixed delay


async def test_the_breaker_opens_refuses_then_recovers_through_one_probe() -> None:
    clock = Clock()
    resilient = caller(clock, retries=0, threshold=3)
    down = Flaky(1000)
    for _ in range(3):
        with pytest.raises(ProviderFailure):
            await resilient.call("get", down, idempotent=True)
    assert resilient.breaker.state is BreakerState.OPEN
    calls = down.calls
    with pytest.raises(CircuitOpen):
        await resilient.call("get", down, idempotent=True)
    assert down.calls == calls  # refused without calling out

    clock.now += 31  # reset time passed: one probe may go; it fails and re-opens the breaker
    with pytest.raises(ProviderFailure):
        await resilient.call("get", down, idempotent=True)
    assert resilient.breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        await resilient.call("get", down, idempotent=True)

    clock.now += 31  # the provider is back: the probe succeeds and closes the breaker
    assert await resilient.call("get", Flaky(0), idempotent=True) == "ok"
    assert resilient.breaker.state is BreakerState.CLOSED
    assert await resilient.call("get", Flaky(0), idempotent=True) == "ok"


def test_half_open_admits_a_single_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker("vendor", failure_threshold=1, reset_after=10, clock=clock)
    assert breaker.allow()
    breaker.record_failure()
    assert not breaker.allow()
    clock.now += 10
    assert breaker.allow()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # others wait for the probe's verdict
    breaker.record_success()
    assert breaker.allow()
    assert breaker.allow()


def test_successes_reset_the_failure_count() -> None:
    breaker = CircuitBreaker("vendor", failure_threshold=3, clock=Clock())
    for _ in range(5):
        breaker.record_failure()
        breaker.record_failure()
        breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
