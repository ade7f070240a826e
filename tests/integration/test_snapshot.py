"""The reference-data snapshot follows changes made anywhere, through LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from support import Headers, hold, make_party, make_token, policy_document, publish_document, transfer

pytestmark = pytest.mark.integration


async def _eventually(predicate: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110  (polling state owned by the service)
            await asyncio.sleep(0.01)


async def test_a_change_written_by_another_process_reaches_the_check_path(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, container: Any
) -> None:
    policy = await publish_document(
        client, admin, policy_document([{"rule": "wallet_bound"}, {"rule": "wallet_frozen"}])
    )
    token = await make_token(client, admin, policy)
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 100)
    _, buyer = await make_party(client, admin)
    body = transfer(token["id"], seller_address, buyer, 1)
    assert (await client.post("/v1/compliance/transfer-check", json=body, headers=checker)).json()[
        "status"
    ] == "APPROVED"

    # another process (here: a plain SQL session) freezes the wallet behind the service's back
    async with container.pool.acquire() as conn:
        await conn.execute("UPDATE wallets SET status = 'frozen' WHERE address = $1", buyer)
    await _eventually(lambda: container.snapshot.wallets[buyer].status == "frozen")

    frozen = (await client.post("/v1/compliance/transfer-check", json=body, headers=checker)).json()
    assert frozen["status"] == "REJECTED"
    assert [r["code"] for r in frozen["reasons"]] == ["WALLET_FROZEN"]


async def test_changes_made_while_the_listener_was_down_are_not_lost(
    client: httpx.AsyncClient, admin: Headers, container: Any
) -> None:
    _, buyer = await make_party(client, admin)
    snapshot = container.snapshot
    async with container.pool.acquire() as conn:
        # end the listening session as a failover would, and change data before it is back
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            "compliance-shield-listener",
        )
        await conn.execute("UPDATE wallets SET status = 'frozen' WHERE address = $1", buyer)
    await _eventually(lambda: not snapshot.stale and snapshot.wallets[buyer].status == "frozen")


async def test_a_stale_snapshot_withholds_sanctions_evidence(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, container: Any
) -> None:
    policy = await publish_document(client, admin, policy_document([{"rule": "sanctioned_address"}]))
    token = await make_token(client, admin, policy)
    _, seller = await make_party(client, admin)
    _, buyer = await make_party(client, admin)
    body = transfer(token["id"], seller, buyer, 1)
    container.snapshot.stale = True  # as while the change feed is down
    try:
        during = (await client.post("/v1/compliance/transfer-check", json=body, headers=checker)).json()
    finally:
        container.snapshot.stale = False
    assert during["status"] == "ESCALATED"
    assert [r["code"] for r in during["reasons"]] == ["EVIDENCE_UNAVAILABLE"]
    after = (await client.post("/v1/compliance/transfer-check", json=body, headers=checker)).json()
    assert after["status"] == "APPROVED"
