"""The event feed: outbox events in order for readers without Kafka (``/v1/events``, ``/v1/stream``).

A reader pages through the outbox with an opaque cursor. Outbox ids are taken before commit,
so a transaction can commit id 7 after a reader already received id 8; a plain "id > last"
cursor would skip 7 for ever. The cursor therefore also carries the database snapshot of the
read that produced it: the reader has received every row with ``id <= last_id`` that was
visible in that snapshot, and the next read returns the rows above ``last_id`` plus the rows at
or below it whose transaction was still open then (see ``db.outbox.page_after``). Nothing is
skipped; one token's events keep their order because its writers commit one after another.

A full page ending below ``last_id`` (only when more than ``limit`` late rows arrive at once)
moves the cursor back to that page's end, so some events may come again: readers deduplicate on
``event_id``, as Kafka consumers of the same events do.

New events are announced by ``NOTIFY cs_outbox`` (sent by a trigger, delivered at commit); one
listening connection per process wakes every waiting stream. While that connection is down,
waiters poll instead.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from compliance_shield.db import Conn
from compliance_shield.db import outbox as repo
from compliance_shield.errors import ValidationFailed

log = structlog.get_logger(__name__)

CHANNEL = "cs_outbox"
_SNAPSHOT = re.compile(r"^(\d{1,19}):(\d{1,19}):(\d{1,19}(?:,\d{1,19})*)?$")
_BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class FeedCursor:
    """Everything with ``id <= last_id`` visible in ``snapshot`` was received (``None``: everything)."""

    last_id: int
    snapshot: str | None = None

    def encode(self) -> str:
        text = f"{self.last_id}|{self.snapshot or ''}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, *, field: str = "after") -> FeedCursor:
        """Parse a cursor this service issued; anything else is a ``ValidationFailed`` on ``field``."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            last, _, snapshot = raw.partition("|")
            if not last.isascii() or not last.isdigit() or int(last) > _BIGINT_MAX:
                raise ValueError(raw)
            if snapshot and not _valid_snapshot(snapshot):
                raise ValueError(raw)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed(
                "malformed cursor: pass a next_cursor (or event id) this API returned", field=field
            ) from exc
        return cls(int(last), snapshot or None)


#: the cursor of a reader that has received nothing yet
START = FeedCursor(0)


def _valid_snapshot(text: str) -> bool:
    """``xmin:xmax:xip,...`` as PostgreSQL accepts it: xmin ≤ xip < xmax, ascending."""
    match = _SNAPSHOT.match(text)
    if match is None:
        return False
    xmin, xmax = int(match[1]), int(match[2])
    xips = [int(x) for x in match[3].split(",")] if match[3] else []
    if not 1 <= xmin <= xmax <= _BIGINT_MAX:
        return False
    return all(xmin <= x < xmax for x in xips) and xips == sorted(xips)


@dataclass(frozen=True, slots=True)
class FeedPage:
    items: list[dict[str, Any]]
    #: where the next read continues (also when ``items`` is empty)
    cursor: FeedCursor


def event_item(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "event_id": str(row["event_id"]),
        "topic": row["topic"],
        "key": row["key"],
        "event_type": row["event_type"],
        "created_at": row["created_at"],
        "published_at": row["published_at"],
        "payload": row["payload"],
    }


class EventFeed:
    """Pages of outbox events after a cursor, and a wake-up when new ones are committed."""

    def __init__(
        self, pool: asyncpg.Pool, connect: Callable[[], Awaitable[Conn]], *, fallback_poll_seconds: float = 1.0
    ) -> None:
        self._pool = pool
        self._connect = connect
        self._fallback_poll = fallback_poll_seconds
        self._signal = asyncio.Event()
        self._listener_task: asyncio.Task[None] | None = None
        #: whether the listening connection is up (waiters poll while it is not)
        self.listening = False

    # -- reading -----------------------------------------------------------------------------

    async def page(self, after: FeedCursor, limit: int) -> FeedPage:
        """At most ``limit`` events the holder of ``after`` has not received, in id order."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await repo.current_snapshot(conn)
            rows = await repo.page_after(conn, after.last_id, after.snapshot, limit)
        # a full page may end below after.last_id (many late rows): continue from its end
        last = max([after.last_id, *(r["id"] for r in rows)]) if len(rows) < limit else rows[-1]["id"]
        return FeedPage([event_item(r) for r in rows], FeedCursor(last, snapshot))

    async def tail(self) -> FeedCursor:
        """A cursor after every event committed so far (a stream from "now")."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await repo.current_snapshot(conn)
            last = await repo.last_id(conn)
        return FeedCursor(last, snapshot)

    # -- waiting for new events ----------------------------------------------------------------

    def signal(self) -> asyncio.Event:
        """The event the next commit sets. Take it BEFORE reading, then ``wait`` on it: no wake-up is lost."""
        return self._signal

    async def wait(self, signal: asyncio.Event, seconds: float) -> bool:
        """Wait until ``signal`` is set (True) or ``seconds`` pass (False); polls while not listening."""
        if self._listener_task is None:
            self._listener_task = asyncio.create_task(self._listen(), name="event-feed-listener")
        if not self.listening:
            seconds = min(seconds, self._fallback_poll)
        try:
            await asyncio.wait_for(signal.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def _wake(self, *_args: object) -> None:
        signal, self._signal = self._signal, asyncio.Event()
        signal.set()

    async def _listen(self) -> None:
        delay = 0.2
        while True:
            lost = asyncio.Event()
            conn: Conn | None = None
            try:
                conn = await self._connect()
                await conn.add_listener(CHANNEL, self._wake)
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                self.listening = True
                self._wake()  # events committed while nobody listened
                delay = 0.2
                await lost.wait()
                log.warning("event_feed.listener_lost")
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("event_feed.listen_failed", error=repr(exc))
            finally:
                self.listening = False
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        if self._listener_task is not None:
            self._listener_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener_task
