"""Per-client rate limits: each token subject may send ``RATE_LIMIT_PER_SECOND`` requests a second
on average, with bursts of up to ``RATE_LIMIT_BURST``; beyond that it is answered 429
``RATE_LIMITED`` with ``Retry-After``, before any work.

The rule is the generic cell rate algorithm (GCRA, a token bucket kept as one timestamp per
subject: the theoretical arrival time of the next request). With ``REDIS_URL`` set the timestamp
lives in Redis and one Lua script reads and moves it atomically, so every server process shares
one limit per subject; otherwise it lives in the process. Redis being unavailable lets requests
through (counted in ``compliance_rate_limit_unavailable_total``): the limit protects the
service, and refusing every platform's checks because the limiter's store is down would be the
larger harm.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from compliance_shield.errors import RateLimited
from compliance_shield.observability.metrics import RATE_LIMIT_UNAVAILABLE, RATE_LIMITED
from compliance_shield.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: int

    @property
    def interval(self) -> float:
        """Seconds one request uses up."""
        return 1.0 / self.per_second

    @property
    def tolerance(self) -> float:
        """How far ahead of now the theoretical arrival time may run (the burst)."""
        return self.interval * (self.burst - 1)


def next_arrival(tat: float | None, now: float, rate: Rate) -> tuple[float | None, float]:
    """GCRA: the new theoretical arrival time if the request is admitted (None when refused), and
    the seconds to wait before retrying (0 when admitted)."""
    start = max(tat if tat is not None else now, now)
    moved = start + rate.interval
    allowed_at = moved - rate.interval - rate.tolerance
    if now < allowed_at:
        return None, allowed_at - now
    return moved, 0.0


class Limiter(Protocol):
    async def acquire(self, subject: str) -> float:
        """0 when the request may go ahead; else the seconds until it may."""
        ...


class LocalLimiter:
    """Per-process limits (no Redis configured)."""

    def __init__(self, rate: Rate, max_subjects: int = 100_000) -> None:
        self._rate = rate
        self._max_subjects = max_subjects
        self._tat: dict[str, float] = {}

    async def acquire(self, subject: str) -> float:
        now = time.monotonic()
        moved, wait = next_arrival(self._tat.get(subject), now, self._rate)
        if moved is not None:
            if len(self._tat) >= self._max_subjects:
                # entries whose arrival time has passed carry no state: drop them
                self._tat = {s: t for s, t in self._tat.items() if t > now}
            self._tat[subject] = moved
        return wait


#: KEYS[1]: the subject's key; ARGV: interval and tolerance in microseconds. Redis's own clock is
#: used, so that processes with drifting clocks share one limit. Returns microseconds to wait.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allowed_at = tat - tolerance
if now < allowed_at then return allowed_at - now end
local moved = tat + interval
redis.call('SET', KEYS[1], moved, 'PX', math.ceil((moved - now) / 1000) + 1)
return 0
"""


class RedisLimiter:
    """Limits shared by every process through Redis."""

    def __init__(self, client: aioredis.Redis, rate: Rate, prefix: str = "cs:rate:") -> None:
        self._client = client
        self._rate = rate
        self._prefix = prefix
        self._script = client.register_script(_GCRA)

    async def close(self) -> None:
        await self._client.aclose()

    async def acquire(self, subject: str) -> float:
        try:
            wait_us = await self._script(
                keys=[self._prefix + subject],
                args=[round(self._rate.interval * 1e6), round(self._rate.tolerance * 1e6)],
            )
        except (RedisError, OSError) as exc:
            RATE_LIMIT_UNAVAILABLE.inc()
            log.warning("rate_limit.unavailable", error=repr(exc))
            return 0.0
        return int(wait_us) / 1e6


def build_limiter(settings: Settings) -> Limiter | None:
    """The limiter the settings ask for: none, Redis-shared (REDIS_URL) or per process."""
    if settings.rate_limit_per_second <= 0:
        return None
    rate = Rate(settings.rate_limit_per_second, settings.rate_limit_burst)
    if settings.redis_url:
        # no connection is made until the first request; the client reconnects by itself
        return RedisLimiter(aioredis.from_url(settings.redis_url, socket_timeout=0.5), rate)
    return LocalLimiter(rate)


async def close_limiter(limiter: Limiter | None) -> None:
    if isinstance(limiter, RedisLimiter):
        await limiter.close()


async def enforce(limiter: Limiter | None, subject: str) -> None:
    """Raise ``RateLimited`` when ``subject`` has spent its rate."""
    if limiter is None:
        return
    wait = await limiter.acquire(subject)
    if wait > 0:
        RATE_LIMITED.inc()
        retry_after = max(1, math.ceil(wait))
        raise RateLimited(f"rate limit exceeded: retry after {retry_after} s", retry_after=retry_after)
