"""The tiered cache's single flight: concurrent misses of one key make one provider call."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance_shield.adapters.cache import LocalCache, TieredCache
from compliance_shield.adapters.resilience import ProviderFailure


class Provider:
    """Answers after ``release`` is set, counting calls per key."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.release = asyncio.Event()
        self.fail = False

    def loader(self, key: str) -> Callable[[], Awaitable[dict[str, str]]]:
        async def load() -> dict[str, str]:
            self.calls[key] += 1
            await self.release.wait()
            if self.fail:
                raise ProviderFailure("ballerine", "HTTP 503", retryable=True)
            return {"answer": key}

        return load


async def test_concurrent_misses_of_one_key_make_one_call_and_all_get_its_answer() -> None:
    cache, provider = TieredCache(LocalCache()), Provider()
    waiting = [
        asyncio.create_task(cache.get_or_load("kyc:ballerine:eu-1", provider.loader("eu-1"), 60)) for _ in range(20)
    ]
    await asyncio.sleep(0)
    provider.release.set()
    lookups = await asyncio.gather(*waiting)
    assert provider.calls == {"eu-1": 1}
    assert {str(lookup.value) for lookup in lookups} == {"{'answer': 'eu-1'}"}
    assert sorted(lookup.source for lookup in lookups) == ["coalesced"] * 19 + ["loaded"]
    # the next look-up is a hit of the in-process tier, and only hits count towards the ratio
    assert (await cache.get_or_load("kyc:ballerine:eu-1", provider.loader("eu-1"), 60)).source == "local"
    assert cache.hit_ratio("kyc") == pytest.approx(1 / 21)


async def test_a_failed_call_reaches_every_waiter_and_nothing_is_cached() -> None:
    cache, provider = TieredCache(LocalCache()), Provider()
    provider.fail = True
    waiting = [
        asyncio.create_task(cache.get_or_load("kyc:ballerine:eu-2", provider.loader("eu-2"), 60)) for _ in range(5)
    ]
    await asyncio.sleep(0)
    provider.release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, ProviderFailure) for r in results)
    assert provider.calls == {"eu-2": 1}
    assert cache.local.get("kyc:ballerine:eu-2") is None
    provider.fail = False
    assert (await cache.get_or_load("kyc:ballerine:eu-2", provider.loader("eu-2"), 60)).source == "loaded"
    assert provider.calls == {"eu-2": 2}


async def test_a_caller_that_gives_up_does_not_cancel_the_call_for_the_others() -> None:
    cache, provider = TieredCache(LocalCache()), Provider()
    first = asyncio.create_task(cache.get_or_load("chainalysis-sanctions:0xa", provider.loader("0xa"), 60))
    second = asyncio.create_task(cache.get_or_load("chainalysis-sanctions:0xa", provider.loader("0xa"), 60))
    await asyncio.sleep(0)
    first.cancel()  # its deadline passed
    provider.release.set()
    assert (await second).value == {"answer": "0xa"}
    assert first.cancelled()
    assert provider.calls == {"0xa": 1}
    assert cache.local.get("chainalysis-sanctions:0xa") == {"answer": "0xa"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=40))
def test_a_cold_burst_calls_the_provider_once_per_distinct_key_and_counts_every_lookup(keys: list[str]) -> None:
    async def burst() -> None:
        cache, provider = TieredCache(LocalCache()), Provider()
        waiting = [asyncio.create_task(cache.get_or_load(f"kyt:{k}", provider.loader(k), 60)) for k in keys]
        await asyncio.sleep(0)
        provider.release.set()
        lookups = await asyncio.gather(*waiting)
        assert provider.calls == Counter(set(keys))
        sources = Counter(lookup.source for lookup in lookups)
        assert sources["loaded"] == len(set(keys))
        assert sources["coalesced"] == len(keys) - len(set(keys))
        # a second burst is all hits
        again = [await cache.get_or_load(f"kyt:{k}", provider.loader(k), 60) for k in keys]
        assert {lookup.source for lookup in again} == {"local"}
        assert cache.hit_ratio("kyt") == pytest.approx(len(keys) / (2 * len(keys)))

    asyncio.run(burst())
