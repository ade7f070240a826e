"""Over capacity, checks are refused at once (503 OVERLOADED, Retry-After) instead of queuing
without bound; nothing is recorded for them and the service keeps answering the rest."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from support import Headers, hold, make_party, make_token, policy_document, publish_document, server_process, transfer

from compliance_shield.bootstrap import Container

pytestmark = pytest.mark.integration

LIMIT = 4
RULES = [{"rule": "wallet_bound"}, {"rule": "kyc_verified"}, {"rule": "sufficient_balance"}]


@pytest.fixture
async def small(settings: Any, database_url: str) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    """A server process that admits at most ``LIMIT`` undecided checks."""
    limited = settings.model_copy(update={"max_pending_checks": LIMIT})
    async with server_process(limited, database_url, "small") as (container, client, _):
        yield container, client


async def _world(client: httpx.AsyncClient, admin: Headers, buyers: int) -> tuple[str, str, list[str]]:
    token = await make_token(client, admin, await publish_document(client, admin, policy_document(RULES)))
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 1_000)
    return token["id"], seller_address, [(await make_party(client, admin))[1] for _ in range(buyers)]


async def _answered(tasks: list[asyncio.Task[httpx.Response]], count: int) -> list[asyncio.Task[httpx.Response]]:
    """The tasks answered once ``count`` of them are (or after 5 s)."""
    for _ in range(250):
        if sum(t.done() for t in tasks) >= count:
            break
        await asyncio.sleep(0.02)
    return [t for t in tasks if t.done()]


@contextlib.asynccontextmanager
async def _holding(conn: asyncpg.Connection, token_id: str) -> AsyncIterator[None]:
    """Hold the token's state row: checks admitted for it wait in the writer until released."""
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM token_state WHERE token_id = $1 FOR UPDATE", UUID(token_id))
        yield


async def _stored(conn: asyncpg.Connection, token_id: str) -> int:
    query = "SELECT count(*) FROM transfer_compliance_checks WHERE token_id = $1"
    return int(await conn.fetchval(query, UUID(token_id)))


async def test_checks_beyond_the_limit_are_refused_at_once_and_the_admitted_ones_are_decided(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    conn: asyncpg.Connection,
    small: tuple[Container, httpx.AsyncClient],
) -> None:
    container, small_client = small
    token_id, seller, buyers = await _world(client, admin, 10)
    post = [
        asyncio.create_task(
            small_client.post("/v1/compliance/transfer-check", json=transfer(token_id, seller, b, 1), headers=checker)
        )
        for b in buyers
    ]
    async with _holding(conn, token_id):  # the admitted checks wait in the writer: none is answered yet
        refused = await _answered(post, len(buyers) - LIMIT)
        await asyncio.sleep(0.2)
        assert [t for t in post if t.done()] == refused  # the admitted ones are still waiting
        for task in refused:
            answer = task.result()
            assert answer.status_code == 503
            assert answer.json()["error"]["code"] == "OVERLOADED"
            assert answer.headers["Retry-After"] == "1"
        assert container.decisions.pending == LIMIT
    answers = await asyncio.gather(*post)
    decided = [a for a in answers if a.status_code == 200]
    assert len(decided) == LIMIT
    assert all(a.json()["status"] == "APPROVED" for a in decided)
    assert await _stored(conn, token_id) == LIMIT  # nothing recorded for the refused checks
    assert container.decisions.pending == 0
    again = await small_client.post(
        "/v1/compliance/transfer-check", json=transfer(token_id, seller, buyers[0], 1), headers=checker
    )
    assert again.status_code == 200  # the service keeps serving once the load is gone


async def test_a_batch_is_admitted_whole_or_refused_whole(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    conn: asyncpg.Connection,
    small: tuple[Container, httpx.AsyncClient],
) -> None:
    _, small_client = small
    token_id, seller, buyers = await _world(client, admin, LIMIT + 2)
    items = [transfer(token_id, seller, b, 1) for b in buyers]
    # larger than the limit, but nothing else is waiting: admitted (a valid batch is never impossible)
    alone = await small_client.post("/v1/compliance/transfer-check/batch", json={"transfers": items}, headers=checker)
    assert alone.status_code == 200
    assert [r["status_code"] for r in alone.json()["results"]] == [200] * len(items)
    async with _holding(conn, token_id):
        single = asyncio.create_task(
            small_client.post(
                "/v1/compliance/transfer-check", json=transfer(token_id, seller, buyers[0], 1), headers=checker
            )
        )
        await asyncio.sleep(0.2)  # the single check is admitted and waits for the row
        crowded = await small_client.post(
            "/v1/compliance/transfer-check/batch", json={"transfers": items}, headers=checker
        )
        assert crowded.status_code == 503
        assert crowded.json()["error"]["code"] == "OVERLOADED"
    assert (await single).status_code == 200
    assert await _stored(conn, token_id) == len(items) + 1
