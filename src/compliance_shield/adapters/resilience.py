"""Calling external providers without letting them take the service down.

Every provider call goes through a ``Resilient`` caller of that provider:

* **timeout** per attempt (``asyncio.timeout``);
* **retries** — bounded, with full jitter (``uniform(0, base * 2**n)`` capped), and only for calls
  the caller marks idempotent (a GET). A POST that creates something at the vendor is tried once;
* **circuit breaker** per provider — after ``failure_threshold`` consecutive failures it opens and
  refuses calls at once for ``reset_after`` seconds; then it is half-open: one probe call goes
  through while the others are refused; the probe's success closes it, its failure re-opens it;
* **metrics** — calls by outcome, attempt latency, retries, breaker state and openings.

A failure is a ``ProviderFailure``; the evidence layer turns it into missing evidence, so the
decision fails closed. Vendor adapters raise ``ProviderFailure`` themselves for an answer they
cannot use (a 5xx, a malformed payload), marking whether trying again could help.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TypeVar

import httpx
import structlog
from prometheus_client import Counter, Gauge

from compliance_shield.observability.metrics import (
    PROVIDER_BREAKER_OPENED,
    PROVIDER_BREAKER_STATE,
    PROVIDER_CALLS,
    PROVIDER_LATENCY,
    PROVIDER_RETRIES,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")


class ProviderFailure(Exception):
    """A provider call did not produce a usable answer.

    ``retryable``: trying again may help (timeouts, connection errors, 5xx, 429); a 4xx or a
    malformed payload will not get better by repeating the same request.
    """

    def __init__(self, provider: str, message: str, *, retryable: bool = False, outcome: str = "error") -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.retryable = retryable
        self.outcome = outcome


class CircuitOpen(ProviderFailure):
    """The provider's circuit breaker refused the call without trying it."""

    def __init__(self, provider: str) -> None:
        super().__init__(provider, "circuit breaker is open", outcome="circuit_open")


def check_status(provider: str, response: httpx.Response) -> None:
    """Raise ``ProviderFailure`` for a non-2xx answer (retryable for 5xx and 429)."""
    if response.is_success:
        return
    status = response.status_code
    raise ProviderFailure(
        provider,
        f"HTTP {status} from {response.request.method} {response.request.url.path}",
        retryable=status >= 500 or status == 429,
        outcome="error" if status >= 500 or status == 429 else "rejected",
    )


class BreakerState(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass
class CircuitBreaker:
    """Consecutive-failure breaker with a single half-open probe. Not thread-safe (one event loop).

    ``provider`` names what it guards (a provider, or ``redis``): it is the label of the
    ``state_gauge`` and ``opened_counter`` it keeps current (the provider metrics by default).
    """

    provider: str
    failure_threshold: int = 5
    reset_after: float = 30.0
    clock: Callable[[], float] = time.monotonic
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    state_gauge: Gauge = field(default=PROVIDER_BREAKER_STATE, repr=False)
    opened_counter: Counter = field(default=PROVIDER_BREAKER_OPENED, repr=False)
    _probing: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.state_gauge.labels(self.provider).set(self.state)

    def allow(self) -> bool:
        """Whether a call may go out now (claims the probe slot when half-open)."""
        if self.state is BreakerState.OPEN:
            if self.clock() - self.opened_at < self.reset_after:
                return False
            self._set(BreakerState.HALF_OPEN)
        if self.state is BreakerState.HALF_OPEN:
            if self._probing:
                return False
            self._probing = True
        return True

    def record_success(self) -> None:
        self.failures = 0
        self._probing = False
        if self.state is not BreakerState.CLOSED:
            log.info("provider.circuit_closed", provider=self.provider)
            self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self.failures += 1
        was_probe = self.state is BreakerState.HALF_OPEN
        self._probing = False
        if was_probe or (self.state is BreakerState.CLOSED and self.failures >= self.failure_threshold):
            self.opened_at = self.clock()
            self.opened_counter.labels(self.provider).inc()
            log.warning("provider.circuit_opened", provider=self.provider, failures=self.failures)
            self._set(BreakerState.OPEN)

    @property
    def open(self) -> bool:
        """Whether calls are refused now (without claiming a half-open probe)."""
        return self.state is BreakerState.OPEN and self.clock() - self.opened_at < self.reset_after

    def release(self) -> None:
        """A claimed call ended without a verdict on the provider (e.g. cancelled)."""
        self._probing = False

    def _set(self, state: BreakerState) -> None:
        self.state = state
        self.state_gauge.labels(self.provider).set(state)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    timeout: float = 2.0
    #: extra attempts for idempotent calls (0 = try once)
    retries: int = 2
    backoff_base: float = 0.05
    backoff_max: float = 1.0


class Resilient:
    """The one way a provider adapter calls out: timeout, retries, breaker and metrics."""

    def __init__(
        self,
        provider: str,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.provider = provider
        self.policy = policy or RetryPolicy()
        self.breaker = breaker or CircuitBreaker(provider)
        self._rng = rng or random.Random()  # noqa: S311  (jitter, not cryptography)
        self._sleep = sleep

    def backoff(self, attempt: int) -> float:
        """Full jitter: a uniform delay up to ``base * 2**attempt`` (capped)."""
        ceiling = min(self.policy.backoff_max, self.policy.backoff_base * (2**attempt))
        return self._rng.uniform(0, ceiling)

    async def call(self, operation: str, fn: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        """Run ``fn`` under the policy; raise ``ProviderFailure`` (``CircuitOpen``) when it fails."""
        attempts = 1 + (self.policy.retries if idempotent else 0)
        for attempt in range(attempts):
            if not self.breaker.allow():
                PROVIDER_CALLS.labels(self.provider, operation, "circuit_open").inc()
                raise CircuitOpen(self.provider)
            started = time.perf_counter()
            try:
                async with asyncio.timeout(self.policy.timeout):
                    result = await fn()
            except asyncio.CancelledError:
                self.breaker.release()
                raise
            except Exception as exc:  # every failure is classified below, none escapes unlabelled
                failure = _classify(self.provider, exc)
                PROVIDER_LATENCY.labels(self.provider, operation).observe(time.perf_counter() - started)
                PROVIDER_CALLS.labels(self.provider, operation, failure.outcome).inc()
                if failure.outcome == "rejected":
                    # the provider answered (4xx): it is up, the request was wrong
                    self.breaker.record_success()
                else:
                    self.breaker.record_failure()
                if not failure.retryable or attempt + 1 >= attempts:
                    log.warning("provider.call_failed", provider=self.provider, operation=operation, error=str(failure))
                    raise failure from exc
                PROVIDER_RETRIES.labels(self.provider, operation).inc()
                await self._sleep(self.backoff(attempt))
                continue
            PROVIDER_LATENCY.labels(self.provider, operation).observe(time.perf_counter() - started)
            PROVIDER_CALLS.labels(self.provider, operation, "ok").inc()
            self.breaker.record_success()
            return result
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _classify(provider: str, exc: Exception) -> ProviderFailure:
    if isinstance(exc, ProviderFailure):
        return exc
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return ProviderFailure(provider, "timed out", retryable=True, outcome="timeout")
    if isinstance(exc, httpx.TransportError):
        return ProviderFailure(provider, f"transport error: {type(exc).__name__}: {exc}", retryable=True)
    return ProviderFailure(provider, f"unexpected {type(exc).__name__}: {exc}")
