"""The in-process cache and the tiered cache without Redis."""

from __future__ import annotations

from compliance_shield.adapters.cache import LocalCache, TieredCache


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire() -> None:
    clock = Clock()
    cache = LocalCache(clock=clock)
    cache.set("kyc:a", {"status": "verified"}, ttl=10)
    assert cache.get("kyc:a") == {"status": "verified"}
    clock.now = 9.9
    assert cache.get("kyc:a") is not None
    clock.now = 10
    assert cache.get("kyc:a") is None
    assert len(cache) == 0


def test_the_least_recently_used_entry_is_evicted_first() -> None:
    cache = LocalCache(max_entries=2)
    cache.set("a", 1, 60)
    cache.set("b", 2, 60)
    assert cache.get("a") == 1  # a is now the most recent
    cache.set("c", 3, 60)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_a_non_positive_ttl_removes_the_entry() -> None:
    cache = LocalCache()
    cache.set("a", 1, 60)
    cache.set("a", 1, 0)
    assert cache.get("a") is None


async def test_tiered_cache_without_redis_counts_hits_per_namespace() -> None:
    cache = TieredCache(LocalCache(), None, local_ttl=60)
    assert await cache.get("kyc:x") is None
    await cache.set("kyc:x", {"status": "pending"}, ttl=3600)
    assert await cache.get("kyc:x") == {"status": "pending"}
    assert await cache.get("kyc:x") == {"status": "pending"}
    assert cache.hit_ratio("kyc") == 2 / 3
    await cache.delete("kyc:x")
    assert await cache.get("kyc:x") is None
    assert cache.hit_ratio("other") == 0.0
