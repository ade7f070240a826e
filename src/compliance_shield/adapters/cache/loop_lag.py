"""How late the event loop runs: the part of a deadline that the process itself is spending.

A deadline of a few milliseconds on a Redis command is measured on the event loop's clock, so a
loop that is busy (a burst of checks, a GC pause, a CPU-starved host) makes a command that Redis
answered in 0.2 ms look like one that took 8: its reply sat in the socket until the loop got to
it. ``LoopLag`` samples how late a short sleep wakes up, keeps the worst of the recent samples,
and the Redis cache adds it to each deadline — so the deadline measures Redis, not us.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque


class LoopLag:
    def __init__(self, interval: float = 0.01, window: int = 50) -> None:
        """Sample every ``interval`` seconds; ``current`` is the worst of the last ``window`` samples."""
        self._interval = interval
        self._samples: deque[float] = deque([0.0], maxlen=window)
        self._task: asyncio.Task[None] | None = None

    @property
    def current(self) -> float:
        """Seconds the loop has recently been running late (0 when it keeps time)."""
        return max(self._samples)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-loop-lag")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self._interval)
            self._samples.append(max(0.0, loop.time() - started - self._interval))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
