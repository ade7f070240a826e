"""The shared cache in Redis (``redis.asyncio``): JSON values with TTLs, and invalidation messages.

Redis is an optimisation, never a dependency of a decision: every operation that fails is
logged, counted and answered as a miss (or ignored, for writes), so a Redis outage costs
provider calls, not availability.

A Redis that is *hung* (stopped, overloaded, a network partition that drops packets) fails no
faster than a deadline, so two things bound what it costs a check:

* a tight **deadline** per operation (REDIS_DEADLINE_MS, a few milliseconds: a healthy Redis on
  the same network answers in well under one), to which the event loop's own recent lateness is
  added (``LoopLag``): a busy loop delays reading a reply that has arrived, which says nothing
  about Redis;
* a **circuit breaker** (``compliance_redis_circuit_state{client="cache"}``): after
  REDIS_BREAKER_FAILURES consecutive failures it opens and every operation is refused at once (a
  miss, counted in ``compliance_redis_refused_total``) for REDIS_BREAKER_RESET_SECONDS; then a
  PING in the background, under a generous deadline, probes Redis — no check waits for the probe
  — and its success closes the breaker. Decisions carry on from the in-process tier and the
  providers meanwhile.

Failures count towards the breaker at most once per half deadline: when the event loop itself stalls (a long
GC pause, a CPU-starved host), every operation in flight times out at the same moment — one
event, not a Redis outage — whereas a hung Redis goes on failing operation after operation.

A timed-out command leaves its connection in an unknown state, so redis-py drops it, and the
next command opens a new one within the deadline; ``open_connections`` opens a few at start-up,
under the generous deadline, so that the first burst of checks does not pay for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from compliance_shield.adapters.cache.loop_lag import LoopLag
from compliance_shield.adapters.resilience import BreakerState, CircuitBreaker
from compliance_shield.domain import encoding
from compliance_shield.observability.metrics import (
    CACHE_ERRORS,
    REDIS_BREAKER_OPENED,
    REDIS_BREAKER_STATE,
    REDIS_REFUSED,
)

log = structlog.get_logger(__name__)

#: pub/sub channel on which every process hears keys to drop from its in-process cache
INVALIDATION_CHANNEL = "cs:cache:invalidate"

_FAILURES = (RedisError, OSError, TimeoutError)

#: the deadline of the background probe and of the start-up connections (not on the check path)
PROBE_TIMEOUT = 0.5


def redis_breaker(
    failures: int = 3, reset_after: float = 5.0, clock: Callable[[], float] = time.monotonic
) -> CircuitBreaker:
    """The breaker in front of Redis (its own metrics: ``compliance_redis_circuit_*{client="cache"}``)."""
    return CircuitBreaker(
        "cache",
        failure_threshold=failures,
        reset_after=reset_after,
        clock=clock,
        state_gauge=REDIS_BREAKER_STATE,
        opened_counter=REDIS_BREAKER_OPENED,
    )


class RedisCache:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "cs:",
        op_timeout: float = 0.005,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        """``op_timeout``: the deadline of one operation, in seconds."""
        self._client = client
        self._prefix = prefix
        self._timeout = op_timeout
        self.breaker = breaker or redis_breaker()
        self._listener: asyncio.Task[None] | None = None
        self._probe: asyncio.Task[None] | None = None
        #: loop time of the last failure counted towards the breaker
        self._counted_at = -1.0
        self.lag = LoopLag()

    @property
    def _deadline(self) -> float:
        return self._timeout + self.lag.current

    @property
    def available(self) -> bool:
        """Whether operations are tried now (the breaker is not open)."""
        return not self.breaker.open

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisCache:
        client = aioredis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        return cls(client, **kwargs)

    async def get(self, key: str) -> Any | None:
        raw = await self._attempt("get", lambda: self._client.get(self._prefix + key))
        if raw is None:
            return None
        try:
            return encoding.loads(raw)
        except encoding.InvalidJSON:
            self._failed("decode", ValueError(f"undecodable value under {key}"))
            return None

    async def set(self, key: str, value: Any, ttl: float) -> None:
        await self._attempt(
            "set", lambda: self._client.set(self._prefix + key, encoding.dumps(value), px=max(1, int(ttl * 1000)))
        )

    async def _attempt(self, op: str, command: Callable[[], Awaitable[Any]]) -> Any | None:
        """``command``'s answer, or None when the breaker refuses it or it fails (counted, logged)."""
        if not self._claim(op):
            return None
        try:
            async with asyncio.timeout(self._deadline):
                answer = await command()
        except _FAILURES as exc:
            self._failed(op, exc)
            return None
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        self.breaker.record_success()
        return answer

    async def delete(self, key: str) -> None:
        """Delete ``key`` and tell every process to drop it from its in-process cache.

        Not refused by an open breaker, and given a longer deadline: a lost invalidation leaves
        other processes a stale copy for up to CACHE_LOCAL_TTL_SECONDS, and deletes are rare
        (a webhook, an override), never on the check path.
        """
        try:
            async with asyncio.timeout(max(self._timeout, 0.25)):
                await self._client.delete(self._prefix + key)
                await self._client.publish(self._prefix + INVALIDATION_CHANNEL, key)
        except _FAILURES as exc:
            self._failed("delete", exc, count=False)

    async def ping(self) -> bool:
        """Whether Redis answers a PING within the probe deadline (readiness; not a verdict for the breaker)."""
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                return bool(await self._client.ping())
        except _FAILURES as exc:
            self._failed("ping", exc, count=False)
            return False

    async def open_connections(self, count: int = 8) -> bool:
        """Open ``count`` pooled connections now (concurrent PINGs), so that checks find them open."""
        answers = await asyncio.gather(*(self.ping() for _ in range(count)))
        return all(answers)

    def listen(self, on_invalidate: Callable[[str], None]) -> None:
        """Start a task that calls ``on_invalidate(key)`` for every invalidation message (and the
        event-loop lag sampler the deadlines use)."""
        self.lag.start()
        self._listener = asyncio.create_task(self._listen(on_invalidate), name="redis-cache-invalidations")

    async def _listen(self, on_invalidate: Callable[[str], None]) -> None:
        delay = 0.2
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._prefix + INVALIDATION_CHANNEL)
                    delay = 0.2
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            data = message["data"]
                            on_invalidate(data.decode() if isinstance(data, bytes) else str(data))
            except _FAILURES as exc:
                self._failed("subscribe", exc, count=False)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        await self.lag.close()
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._client.aclose()

    def _claim(self, op: str) -> bool:
        """Whether ``op`` may go to Redis now; while the breaker is not closed it is refused, and
        once its reset time has passed a background probe is started instead."""
        if self.breaker.state is BreakerState.CLOSED:
            return True
        if self.breaker.allow():  # the probe slot: the probe runs in the background, not in this check
            self._probe = asyncio.create_task(self._run_probe(), name="redis-cache-probe")
        REDIS_REFUSED.labels(op).inc()
        return False

    async def _run_probe(self) -> None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await self._client.ping()
        except _FAILURES as exc:
            self._failed("probe", exc)
            return
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        self.breaker.record_success()

    def _failed(self, op: str, exc: BaseException, *, count: bool = True) -> None:
        """Count and log a failure; ``count``: it is a verdict on Redis for the breaker."""
        CACHE_ERRORS.labels(op).inc()
        log.warning("cache.redis_failed", op=op, error=repr(exc) or type(exc).__name__)
        if not count or op == "decode":
            return
        now = asyncio.get_running_loop().time()
        if isinstance(exc, TimeoutError) and now - self._counted_at < self._timeout / 2:
            return  # the same stall as the timeout just counted
        self._counted_at = now
        self.breaker.record_failure()
