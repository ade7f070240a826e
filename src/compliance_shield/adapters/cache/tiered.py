"""The provider-answer cache: the in-process cache first, then Redis when configured.

Look-ups are counted per namespace (the key's prefix before ``:``), tier and result; the hit
ratio gauge is kept per namespace. Values must be JSON-native (they may go to Redis).
"""

from __future__ import annotations

from typing import Any

from compliance_shield.adapters.cache.local import LocalCache
from compliance_shield.adapters.cache.redis import RedisCache
from compliance_shield.observability.metrics import CACHE_HIT_RATIO, CACHE_REQUESTS


class TieredCache:
    def __init__(self, local: LocalCache, shared: RedisCache | None = None, *, local_ttl: float = 60.0) -> None:
        """``local_ttl`` caps how long the in-process copy lives, so that a change made through
        another process is seen within that time even if its invalidation message is lost."""
        self.local = local
        self.shared = shared
        self._local_ttl = local_ttl
        self._stats: dict[str, list[int]] = {}
        if shared is not None:
            shared.listen(local.delete)

    async def get(self, key: str) -> Any | None:
        namespace = key.partition(":")[0]
        value = self.local.get(key)
        if value is not None:
            self._count(namespace, "local", hit=True)
            return value
        if self.shared is not None:
            value = await self.shared.get(key)
            if value is not None:
                self._count(namespace, "redis", hit=True)
                self.local.set(key, value, self._local_ttl)
                return value
        self._count(namespace, "redis" if self.shared is not None else "local", hit=False)
        return None

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

    def _count(self, namespace: str, tier: str, *, hit: bool) -> None:
        CACHE_REQUESTS.labels(namespace, tier, "hit" if hit else "miss").inc()
        stats = self._stats.setdefault(namespace, [0, 0])
        stats[0] += hit
        stats[1] += 1
        CACHE_HIT_RATIO.labels(namespace).set(stats[0] / stats[1])

    async def close(self) -> None:
        if self.shared is not None:
            await self.shared.close()
