"""The provider-answer cache: the in-process cache first, then Redis when configured.

What is cached where, per evidence kind (the namespace is the key's prefix before ``:``):

========================  ==========================  =====================================
kind (namespace)           in-process (this module)    Redis (shared by every process)
========================  ==========================  =====================================
``kyc`` (Ballerine)        ≤ CACHE_LOCAL_TTL_SECONDS   REDIS_TTL_KYC
``chainalysis-sanctions``  ≤ CACHE_LOCAL_TTL_SECONDS   REDIS_TTL_SANCTIONS
``kyt`` (pending/result)   ≤ CACHE_LOCAL_TTL_SECONDS   15 min pending, REDIS_TTL_KYT result
========================  ==========================  =====================================

KYC from the registry (no provider, or an officer's override) is not a provider answer: the
``kyc_verified`` rule reads it from the snapshot, the in-process copy of PostgreSQL kept current
by NOTIFY, and it never passes through here. Marble decisions are made per transfer and are not
cached.

``get_or_load`` is the check path's way in: on a miss in both tiers it runs the loader (the
provider call) once per key however many callers miss that key at the same time — the others
wait for the same answer (single flight) — and stores the answer in both tiers.

Each look-up is counted exactly once, per namespace, by the tier that answered and the result:
``local``/``redis`` ``hit``, ``flight`` ``coalesced`` (waited for another caller's provider call:
not a hit, no call either) or ``miss`` (the provider was asked). The hit-ratio gauge is
hits / look-ups since the process started; rates over a window come from the counter. Values
must be JSON-native (they may go to Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from compliance_shield.adapters.cache.local import LocalCache
from compliance_shield.adapters.cache.redis import RedisCache
from compliance_shield.observability.metrics import CACHE_HIT_RATIO, CACHE_REQUESTS

Source = Literal["local", "redis", "coalesced", "loaded"]


@dataclass(frozen=True, slots=True)
class Lookup:
    """A value and where it came from (``loaded``: this caller's loader asked the provider)."""

    value: Any
    source: Source


class TieredCache:
    def __init__(self, local: LocalCache, shared: RedisCache | None = None, *, local_ttl: float = 60.0) -> None:
        """``local_ttl`` caps how long the in-process copy lives, so that a change made through
        another process is seen within that time even if its invalidation message is lost."""
        self.local = local
        self.shared = shared
        self._local_ttl = local_ttl
        self._stats: dict[str, list[int]] = {}
        self._flights: dict[str, asyncio.Future[Lookup]] = {}
        if shared is not None:
            shared.listen(local.delete)

    async def get(self, key: str) -> Any | None:
        """The cached value of ``key`` (local, then Redis), or None; counted as one look-up."""
        namespace = key.partition(":")[0]
        found = await self._find(key)
        if found is None:
            self._count(namespace, self._last_tier, "miss")
            return None
        self._count(namespace, found.source, "hit")
        return found.value

    async def get_or_load(self, key: str, load: Callable[[], Awaitable[Any]], ttl: float) -> Lookup:
        """The cached value of ``key``, or the loader's answer — one loader call per key at a time.

        The loader's exception reaches every caller waiting on it and nothing is cached. A caller
        cancelled while waiting (its deadline passed) does not cancel the flight for the others.
        """
        namespace = key.partition(":")[0]
        value = self.local.get(key)
        if value is not None:
            self._count(namespace, "local", "hit")
            return Lookup(value, "local")
        flight = self._flights.get(key)
        if flight is not None:
            self._count(namespace, "flight", "coalesced")
            found = await asyncio.shield(flight)
            return Lookup(found.value, "coalesced")
        flight = asyncio.ensure_future(self._fly(key, load, ttl))
        self._flights[key] = flight
        flight.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(flight)

    async def _fly(self, key: str, load: Callable[[], Awaitable[Any]], ttl: float) -> Lookup:
        namespace = key.partition(":")[0]
        if self.shared is not None:
            value = await self.shared.get(key)
            if value is not None:
                self._count(namespace, "redis", "hit")
                self.local.set(key, value, min(ttl, self._local_ttl))
                return Lookup(value, "redis")
        self._count(namespace, self._last_tier, "miss")
        value = await load()
        await self.set(key, value, ttl)
        return Lookup(value, "loaded")

    def _landed(self, key: str, flight: asyncio.Future[Lookup]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.cancelled():
            flight.exception()  # retrieved here: a failure nobody waited for is not logged as lost

    async def _find(self, key: str) -> Lookup | None:
        value = self.local.get(key)
        if value is not None:
            return Lookup(value, "local")
        if self.shared is not None:
            value = await self.shared.get(key)
            if value is not None:
                self.local.set(key, value, self._local_ttl)
                return Lookup(value, "redis")
        return None

    @property
    def _last_tier(self) -> str:
        # the tier consulted last when a look-up found nothing (not Redis while its breaker is open)
        return "redis" if self.shared is not None and self.shared.available else "local"

    async def set(self, key: str, value: Any, ttl: float) -> None:
        self.local.set(key, value, min(ttl, self._local_ttl))
        if self.shared is not None:
            await self.shared.set(key, value, ttl)

    async def delete(self, key: str) -> None:
        """Drop ``key`` here, in Redis and (through Redis pub/sub) in every other process."""
        self.local.delete(key)
        if self.shared is not None:
            await self.shared.delete(key)

    def hit_ratio(self, namespace: str) -> float:
        hits, total = self._stats.get(namespace, [0, 0])
        return hits / total if total else 0.0

    def _count(self, namespace: str, tier: str, result: str) -> None:
        CACHE_REQUESTS.labels(namespace, tier, result).inc()
        stats = self._stats.setdefault(namespace, [0, 0])
        stats[0] += result == "hit"
        stats[1] += 1
        CACHE_HIT_RATIO.labels(namespace).set(stats[0] / stats[1])

    async def close(self) -> None:
        for flight in list(self._flights.values()):
            flight.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await flight
        if self.shared is not None:
            await self.shared.close()
