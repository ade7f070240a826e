"""The event-loop lag the Redis deadlines add: what a blocked loop shows, and nothing otherwise."""

from __future__ import annotations

import asyncio
import time

from compliance_shield.adapters.cache.loop_lag import LoopLag


async def test_a_blocked_loop_shows_as_lag_and_a_closed_sampler_stops() -> None:
    lag = LoopLag(interval=0.001, window=1000)
    assert lag.current == 0.0
    lag.start()
    await asyncio.sleep(0.005)
    time.sleep(0.05)  # noqa: ASYNC251  (blocking the loop on purpose: the sampler wakes at least this late)
    await asyncio.sleep(0.005)
    assert lag.current >= 0.04
    await lag.close()
    await lag.close()  # closing twice is harmless
