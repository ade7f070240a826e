"""The event feed without Kafka: outbox events by cursor, and as a server-sent-events stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import structlog
from fastapi import APIRouter, Depends, Header, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from compliance_shield.api.auth import READ, Principal
from compliance_shield.api.deps import container
from compliance_shield.bootstrap import Container
from compliance_shield.domain import encoding
from compliance_shield.services.events.outbox import START, EventFeed, FeedCursor

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1", tags=["events"])

#: seconds a stream waits for new events before looking again (a keep-alive comment goes out
#: every 15 s of silence regardless)
STREAM_WAIT_SECONDS = 10.0
STREAM_PAGE = 200
_UNAVAILABLE = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

Cursor = Annotated[
    str | None,
    Query(
        max_length=4096,
        description="a `next_cursor` from an earlier page (or an `id:` of the stream); absent → the beginning",
        json_schema_extra={"format": "event-cursor"},
    ),
]


class EventOut(BaseModel):
    """One outbox event. ``payload`` is the message published on Kafka (``schemas/compliance-event``)."""

    id: int
    event_id: UUID
    topic: str
    key: str
    event_type: str
    created_at: datetime
    published_at: datetime | None
    payload: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str


@router.get("/events", response_model=EventPage, summary="Outbox events after a cursor, oldest first")
async def list_events(
    after: Cursor = None,
    limit: int = Query(default=100, ge=1, le=1000),
    _: Principal = Depends(READ),
    c: Container = Depends(container),
) -> dict[str, Any]:
    """Events in commit-safe order: nothing committed later is ever skipped by a cursor.

    ``next_cursor`` is always returned: pass it as ``after`` to continue (an empty page means
    "nothing new yet"). An event may occasionally come twice; deduplicate on ``event_id``.
    """
    cursor = FeedCursor.decode(after) if after else START
    page = await c.feed.page(cursor, limit)
    return {"items": page.items, "next_cursor": page.cursor.encode()}


StreamCursor = Annotated[
    str | None,
    Query(
        max_length=4096,
        description="resume after this cursor (an `id:` or `next_cursor`); absent → from now",
        json_schema_extra={"format": "event-cursor"},
    ),
]


def _stream_start(
    after: StreamCursor = None,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=4096, json_schema_extra={"format": "event-cursor"})
    ] = None,
) -> FeedCursor | None:
    """Validated before the response starts, so a bad cursor is a 422 and not a broken stream."""
    if after:
        return FeedCursor.decode(after)
    if last_event_id:
        return FeedCursor.decode(last_event_id, field="Last-Event-ID")
    return None


@router.get("/stream", response_class=EventSourceResponse, summary="Server-sent events as they are committed")
async def stream_events(
    start: FeedCursor | None = Depends(_stream_start),
    _: Principal = Depends(READ),
    c: Container = Depends(container),
) -> AsyncIterator[ServerSentEvent]:
    """Each event is sent as ``event: <event_type>`` with the ``/v1/events`` item as JSON ``data``.

    Without ``after`` (or a ``Last-Event-ID`` header) the stream starts with the next committed
    event. The last event of each burst carries an ``id:`` — a cursor: reconnecting with it as
    ``Last-Event-ID`` (browsers do) resumes without a gap.
    """
    feed: EventFeed = c.feed
    cursor = start if start is not None else await feed.tail()
    yield ServerSentEvent(retry=2000, comment="connected")
    while True:
        signal = feed.signal()
        try:
            page = await feed.page(cursor, STREAM_PAGE)
        except _UNAVAILABLE as exc:  # end the stream: the client reconnects from its last id
            log.warning("stream.database_unavailable", error=repr(exc))
            return
        cursor = page.cursor
        for i, item in enumerate(page.items):
            last = i == len(page.items) - 1
            yield ServerSentEvent(
                raw_data=encoding.dumps_text(item),
                event=item["event_type"],
                id=cursor.encode() if last else None,
            )
        if len(page.items) < STREAM_PAGE:
            await feed.wait(signal, STREAM_WAIT_SECONDS)
