"""The event feed without Kafka: ``GET /v1/events`` by cursor and the ``GET /v1/stream`` SSE stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import bearer
from kafka_fixtures import schema_errors, trading_token
from support import Headers, transfer

from compliance_shield.api.app import create_app
from compliance_shield.bootstrap import Container, connect
from compliance_shield.db.checks import insert_outbox
from compliance_shield.services.events.events import outbox_row
from compliance_shield.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def analyst(settings: Settings) -> Headers:
    return bearer(settings, "analyst", sub="test-analyst")


async def read_all(
    client: httpx.AsyncClient, headers: Headers, cursor: str | None, limit: int = 500
) -> tuple[list[dict[str, Any]], str]:
    """Every event after ``cursor`` (page by page) and the cursor after the last page."""
    items: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"after": cursor} if cursor else {})
        response = await client.get("/v1/events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if len(page["items"]) < limit:
            return items, str(cursor)


async def decide(client: httpx.AsyncClient, checker: Headers, token: tuple[str, str, str], n: int) -> list[str]:
    token_id, seller, buyer = token
    ids = []
    for _ in range(n):
        response = await client.post("/v1/compliance/transfer-check", json=transfer(token_id, seller, buyer, 1),
                                     headers=checker)  # fmt: skip
        assert response.status_code == 200, response.text
        ids.append(response.json()["id"])
    return ids


async def test_pages_return_every_event_once_in_order(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, analyst: Headers
) -> None:
    token = await trading_token(client, admin)
    _, start = await read_all(client, analyst, None)
    checks = await decide(client, checker, token, 7)

    items, cursor = [], start
    for _ in range(20):  # pages of 2
        page = (await client.get("/v1/events", params={"after": cursor, "limit": 2}, headers=analyst)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not page["items"]:
            break
    mine = [i for i in items if i["key"] == token[0]]
    assert [i["payload"]["data"]["check_id"] for i in mine] == checks
    assert [i["id"] for i in items] == sorted(i["id"] for i in items)
    assert len({i["event_id"] for i in items}) == len(items)
    first = mine[0]
    assert first["event_type"] == "transfer_check.decided"
    assert first["topic"] == "compliance-events"
    assert first["payload"]["event_id"] == first["event_id"]
    assert first["payload"]["schema_version"] == 1
    # an empty page keeps the place
    again = (await client.get("/v1/events", params={"after": cursor}, headers=analyst)).json()
    assert again["items"] == []


async def test_an_event_committed_late_with_a_lower_id_is_not_skipped(
    client: httpx.AsyncClient, analyst: Headers, database_url: str
) -> None:
    """Ids are taken before commit: id N can commit after a reader has passed N+1."""
    _, start = await read_all(client, analyst, None)
    slow = await connect(database_url)
    fast = await connect(database_url)
    now = datetime.now(UTC)
    try:
        transaction = slow.transaction()
        await transaction.start()
        await insert_outbox(slow, [outbox_row("test.slow", "late-key", {}, now)])  # takes the lower id
        await insert_outbox(fast, [outbox_row("test.fast", "late-key-2", {}, now)])  # commits at once
        first, cursor = await read_all(client, analyst, start)
        assert [i["event_type"] for i in first if i["event_type"].startswith("test.")] == ["test.fast"]
        await transaction.commit()
        later, _ = await read_all(client, analyst, cursor)
    finally:
        await slow.close()
        await fast.close()
    late = [i for i in later if i["event_type"].startswith("test.")]
    assert [i["event_type"] for i in late] == ["test.slow"]
    assert late[0]["id"] < next(i["id"] for i in first if i["event_type"] == "test.fast")


async def test_every_event_type_matches_the_published_schema(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, analyst: Headers
) -> None:
    _, start = await read_all(client, analyst, None)
    token = await trading_token(client, admin)
    settled, cancelled = await decide(client, checker, token, 2)
    tx_hash = "0x" + "ab" * 32
    assert (await client.post(f"/v1/compliance/checks/{settled}/settle", json={"tx_hash": tx_hash},
                              headers=checker)).status_code == 200  # fmt: skip
    assert (await client.post(f"/v1/compliance/checks/{cancelled}/cancel", json={"reason": "withdrawn"},
                              headers=checker)).status_code == 200  # fmt: skip
    items, _ = await read_all(client, analyst, start)
    mine = [i for i in items if i["key"] == token[0]]
    assert [i["event_type"] for i in mine] == [
        "transfer_check.decided", "transfer_check.decided", "transfer_check.settled", "transfer_check.cancelled",
    ]  # fmt: skip
    assert mine[2]["payload"]["data"] | {"check_id": settled, "tx_hash": tx_hash} == mine[2]["payload"]["data"]
    assert "policy.published" in {i["event_type"] for i in items}
    assert [e for i in items for e in schema_errors("compliance-event", i["payload"])] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [({"after": "not-a-cursor"}, "after"), ({"after": "eHw"}, "after"), ({"after": "MXw1OjM6NA"}, "after"),
     ({"limit": 0}, "limit"), ({"limit": 1001}, "limit")],
)  # fmt: skip
async def test_bad_cursor_or_limit_is_422_naming_the_field(
    client: httpx.AsyncClient, analyst: Headers, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/v1/events", params=params, headers=analyst)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "VALIDATION_FAILED"
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


async def test_the_feed_needs_a_reading_role(client: httpx.AsyncClient, checker: Headers) -> None:
    assert (await client.get("/v1/events")).status_code == 401
    assert (await client.get("/v1/events", headers=checker)).status_code == 403
    assert (await client.get("/v1/stream", headers=checker)).status_code == 403


# -- the server-sent-events stream, over a real HTTP connection ------------------------------------


@pytest.fixture(scope="module")
async def server(settings: Settings, container: Container) -> AsyncIterator[str]:
    config = uvicorn.Config(
        create_app(settings, container=container), host="127.0.0.1", port=0, lifespan="off", ws="none",
        log_level="warning",
    )  # fmt: skip
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    port = uv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        await task


async def sse_events(response: httpx.Response) -> AsyncIterator[dict[str, str]]:
    """Parse ``text/event-stream`` into dicts of its fields (comments dropped)."""
    event: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if event:
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")


async def collect(
    base: str, headers: Headers, key: str, count: int, *, last_event_id: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Events of ``key`` from a fresh stream until ``count`` arrived; and the last ``id:`` seen."""
    got: list[dict[str, Any]] = []
    last_id = None
    extra = {"Last-Event-ID": last_event_id} if last_event_id else {}
    async with (
        httpx.AsyncClient(base_url=base, timeout=30) as http,
        http.stream("GET", "/v1/stream", headers=headers | extra) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event in sse_events(response):
            if "id" in event:
                last_id = event["id"]
            if "data" not in event:
                continue
            item = json.loads(event["data"])
            assert event["event"] == item["event_type"]
            if item["key"] == key:
                got.append(item)
            if len(got) == count and "id" in event:
                return got, last_id
    raise AssertionError("the stream ended")


async def test_stream_sends_events_as_they_are_committed_and_resumes_from_its_id(
    server: str, client: httpx.AsyncClient, admin: Headers, checker: Headers, analyst: Headers
) -> None:
    token = await trading_token(client, admin)

    async def decide_soon(n: int) -> list[str]:
        await asyncio.sleep(0.5)  # after the stream has started
        return await decide(client, checker, token, n)

    (first, last_id), checks = await asyncio.wait_for(
        asyncio.gather(collect(server, analyst, token[0], 3), decide_soon(3)), 60
    )
    assert [e["payload"]["data"]["check_id"] for e in first] == checks
    assert last_id is not None

    # disconnected; more events are committed; reconnecting with the last id resumes exactly there
    more = await decide(client, checker, token, 2)
    resumed, _ = await asyncio.wait_for(collect(server, analyst, token[0], 2, last_event_id=last_id), 60)
    assert [e["payload"]["data"]["check_id"] for e in resumed] == more


async def test_stream_refuses_a_malformed_last_event_id(server: str, analyst: Headers) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        response = await http.get("/v1/stream", headers=analyst | {"Last-Event-ID": "garbage!"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "Last-Event-ID"
