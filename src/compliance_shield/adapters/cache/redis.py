"""The shared cache in Redis (``redis.asyncio``): JSON values with TTLs, and invalidation messages.

Redis is an optimisation, never a dependency of a decision: every operation that fails is
logged, counted and answered as a miss (or ignored, for writes), so a Redis outage costs
provider calls, not availability.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from compliance_shield.domain import encoding
from compliance_shield.observability.metrics import CACHE_ERRORS

log = structlog.get_logger(__name__)

#: pub/sub channel on which every process hears keys to drop from its in-process cache
INVALIDATION_CHANNEL = "cs:cache:invalidate"

_FAILURES = (RedisError, OSError, TimeoutError)


class RedisCache:
    def __init__(self, client: aioredis.Redis, *, prefix: str = "cs:", op_timeout: float = 0.25) -> None:
        self._client = client
        self._prefix = prefix
        self._timeout = op_timeout
        self._listener: asyncio.Task[None] | None = None

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisCache:
        client = aioredis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        return cls(client, **kwargs)

    async def get(self, key: str) -> Any | None:
        try:
            async with asyncio.timeout(self._timeout):
                raw = await self._client.get(self._prefix + key)
        except _FAILURES as exc:
            self._failed("get", exc)
            return None
        if raw is None:
            return None
        try:
            return encoding.loads(raw)
        except encoding.InvalidJSON:
            self._failed("decode", ValueError(f"undecodable value under {key}"))
            return None

    async def set(self, key: str, value: Any, ttl: float) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.set(self._prefix + key, encoding.dumps(value), px=max(1, int(ttl * 1000)))
        except _FAILURES as exc:
            self._failed("set", exc)

    async def delete(self, key: str) -> None:
        """Delete ``key`` and tell every process to drop it from its in-process cache."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.delete(self._prefix + key)
                await self._client.publish(self._prefix + INVALIDATION_CHANNEL, key)
        except _FAILURES as exc:
            self._failed("delete", exc)

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                return bool(await self._client.ping())
        except _FAILURES as exc:
            self._failed("ping", exc)
            return False

    def listen(self, on_invalidate: Callable[[str], None]) -> None:
        """Start a task that calls ``on_invalidate(key)`` for every invalidation message."""
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
                self._failed("subscribe", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._client.aclose()

    @staticmethod
    def _failed(op: str, exc: BaseException) -> None:
        CACHE_ERRORS.labels(op).inc()
        log.warning("cache.redis_failed", op=op, error=repr(exc))
