"""Admission and the group-commit writer.

Requests are queued to one writer per process. The writer takes every request that arrives within
``commit_window_ms`` (up to ``max_batch``) and records them in one transaction (``commit.py``).
Each caller is answered only after that transaction commits (record before answering). When it
cannot commit, no approval leaves the service unrecorded, and the failure is isolated:

* the database is unreachable (a retry can help): every caller of the batch gets
  ``ServiceUnavailable`` (HTTP 503 with ``Retry-After``);
* anything else (a value the database refuses, a bug) would fail again on retry: the batch is
  split in halves and each half committed on its own, down to the one request that fails, which
  alone gets ``InternalError`` (HTTP 500 with an error id on its log line). One poisonous request
  never fails the others it was grouped with.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import structlog

from compliance_shield.db import DATABASE_UNAVAILABLE
from compliance_shield.errors import ComplianceShieldError, InternalError, Overloaded, ServiceUnavailable
from compliance_shield.observability.metrics import (
    CHECK_LATENCY,
    CHECKS_PENDING,
    CHECKS_SHED,
    COMMIT_BATCH_SIZE,
    COMMIT_FAILURES,
)
from compliance_shield.services.checks.commit import Committer, Touched
from compliance_shield.services.checks.contract import Pending

log = structlog.get_logger(__name__)


class Admission:
    """The bound on undecided checks: beyond it a check is refused at once rather than queued.

    Queuing more only makes every caller wait longer (and a caller that gave up would still leave
    an approval holding limits until it expires): refusing before any work keeps the answered ones
    fast and records nothing. A batch larger than the bound is admitted when nothing else waits.
    """

    def __init__(self, max_pending: int) -> None:
        self._max_pending = max_pending
        self.pending = 0

    @contextlib.contextmanager
    def admit(self, count: int) -> Iterator[None]:
        """Admit ``count`` checks for the duration of the block, or raise ``Overloaded``."""
        if self.pending and self.pending + count > self._max_pending:
            CHECKS_SHED.inc(count)
            raise Overloaded(
                f"{self.pending} checks are waiting to be decided (at most {self._max_pending}); retry shortly",
                details={"pending": self.pending, "max_pending": self._max_pending},
            )
        self.pending += count
        CHECKS_PENDING.inc(count)
        try:
            yield
        finally:
            self.pending -= count
            CHECKS_PENDING.dec(count)


class GroupCommitWriter:
    """The queue and the loop that groups what it holds into commits."""

    def __init__(self, committer: Committer, *, commit_window_ms: float, max_batch: int) -> None:
        self._committer = committer
        self._window = commit_window_ms / 1000
        self.max_batch = max_batch
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def submit(self, pending: Pending) -> None:
        self._queue.put_nowait(pending)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="decision-writer")

    async def stop(self) -> None:
        """Stop the loop; what is still queued is answered ``ServiceUnavailable`` (nothing recorded)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(ServiceUnavailable("service is shutting down"))

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            self._drain(batch)
            deadline = time.perf_counter() + self._window
            while len(batch) < self.max_batch:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
                self._drain(batch)
            await self._commit(batch)

    def _drain(self, batch: list[Pending]) -> None:
        """Add what is already queued (up to the batch limit) without waiting."""
        while len(batch) < self.max_batch and not self._queue.empty():
            batch.append(self._queue.get_nowait())

    async def _commit(self, batch: list[Pending]) -> None:
        touched: Touched = {}
        try:
            results = await self._committer.commit(batch, touched)
        except Exception as exc:
            COMMIT_FAILURES.inc()
            self._committer.drop(touched)
            if isinstance(exc, DATABASE_UNAVAILABLE):
                log.warning("decision.commit_failed", error=repr(exc), batch=len(batch), retryable=True)
                _fail(batch, ServiceUnavailable("the database is unavailable; the check was not recorded"))
            elif len(batch) > 1:
                log.warning("decision.commit_isolating", error=repr(exc), batch=len(batch))
                half = len(batch) // 2
                await self._commit(batch[:half])
                await self._commit(batch[half:])
            else:
                error = InternalError("the decision could not be recorded")
                log.error("decision.commit_failed", error=repr(exc), error_id=error.error_id, exc_info=exc)
                _fail(batch, error)
            return
        COMMIT_BATCH_SIZE.observe(len(batch))
        for p, outcome in zip(batch, results, strict=True):
            if p.future.done():
                continue
            if isinstance(outcome, Exception):
                p.future.set_exception(outcome)
            else:
                CHECK_LATENCY.observe(time.perf_counter() - p.received)
                p.future.set_result(outcome)


def _fail(batch: list[Pending], error: ComplianceShieldError) -> None:
    for p in batch:
        if not p.future.done():
            p.future.set_exception(error)
