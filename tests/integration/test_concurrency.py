"""No over-approval: state-dependent limits are checked and reserved atomically."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from support import Headers, hold, make_party, make_token, policy_document, publish_document, server_process, transfer

from compliance_shield.bootstrap import Container

pytestmark = pytest.mark.integration

RULES = [
    {"rule": "wallet_bound"},
    {"rule": "kyc_verified"},
    {"rule": "sufficient_balance"},
    {"rule": "max_holders", "params": {"max_holders": 3}},
]


@pytest.fixture
async def other(settings: Any, database_url: str) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    async with server_process(settings, database_url) as (container, client, _):
        yield container, client


async def _last_slot_world(client: httpx.AsyncClient, admin: Headers, racers: int) -> tuple[str, str, list[str]]:
    token = await make_token(client, admin, await publish_document(client, admin, policy_document(RULES)))
    seller, seller_address = await make_party(client, admin)
    other, _ = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 10_000)
    await hold(client, admin, token["id"], other["id"], 10)  # two holders: one slot left
    buyers = [(await make_party(client, admin))[1] for _ in range(racers)]
    return token["id"], seller_address, buyers


async def test_fifty_concurrent_checks_for_the_last_holder_slot_approve_exactly_one(
    client: httpx.AsyncClient, admin: Headers, checker: Headers
) -> None:
    token_id, seller, buyers = await _last_slot_world(client, admin, 50)
    answers = await asyncio.gather(
        *(
            client.post("/v1/compliance/transfer-check", json=transfer(token_id, seller, b, 1), headers=checker)
            for b in buyers
        )
    )
    statuses = [a.json()["status"] for a in answers]
    assert statuses.count("APPROVED") == 1
    rejected = [a.json() for a in answers if a.json()["status"] == "REJECTED"]
    assert all("MAX_HOLDERS_EXCEEDED" in [r["code"] for r in body["reasons"]] for body in rejected)


async def test_two_processes_racing_for_the_last_slot_approve_exactly_one(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, other: tuple[Container, httpx.AsyncClient]
) -> None:
    token_id, seller, buyers = await _last_slot_world(client, admin, 40)
    _, other_client = other
    calls = [
        (client if i % 2 else other_client).post(
            "/v1/compliance/transfer-check", json=transfer(token_id, seller, b, 1), headers=checker
        )
        for i, b in enumerate(buyers)
    ]
    answers = await asyncio.gather(*calls)
    assert [a.status_code for a in answers] == [200] * len(buyers)
    assert [a.json()["status"] for a in answers].count("APPROVED") == 1


async def test_repeats_of_one_key_racing_in_two_processes_get_one_decision(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    container: Container,
    other: tuple[Container, httpx.AsyncClient],
) -> None:
    """A platform retrying on another server process while the first attempt is being decided
    gets the first attempt's decision; neither attempt's batch fails."""
    token_id, seller, buyers = await _last_slot_world(client, admin, 2)
    _, other_client = other
    body = transfer(token_id, seller, buyers[0], 1)
    keyed = checker | {"Idempotency-Key": f"retry-{uuid4()}"}
    calls = [(client if i % 2 else other_client) for i in range(10)]
    answers = await asyncio.gather(
        *(via.post("/v1/compliance/transfer-check", json=body, headers=keyed) for via in calls),
        # an unrelated check in the same batches must not be failed by the repeats
        *(via.post("/v1/compliance/transfer-check", json=transfer(token_id, seller, buyers[1], 1), headers=checker)
          for via in (client, other_client)),
    )  # fmt: skip
    assert [a.status_code for a in answers] == [200] * 12
    assert len({a.json()["id"] for a in answers[:10]}) == 1
    async with container.pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM transfer_compliance_checks WHERE idempotency_key = $1", keyed["Idempotency-Key"]
        )
    assert stored == 1


async def test_one_key_with_two_bodies_in_two_processes_is_decided_once_and_refused_once(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, other: tuple[Container, httpx.AsyncClient]
) -> None:
    """The same key for different transfers (here: of different tokens, so no token lock is
    shared) reaching two processes at once: one is decided, the other is 409, nothing else fails."""
    first_token, seller, buyers = await _last_slot_world(client, admin, 1)
    second_token, second_seller, second_buyers = await _last_slot_world(client, admin, 1)
    _, other_client = other
    for _ in range(3):  # the race is decided by timing: give it several chances to collide
        keyed = checker | {"Idempotency-Key": f"reused-{uuid4()}"}
        answers = await asyncio.gather(
            client.post(
                "/v1/compliance/transfer-check", json=transfer(first_token, seller, buyers[0], 1), headers=keyed
            ),
            other_client.post(
                "/v1/compliance/transfer-check",
                json=transfer(second_token, second_seller, second_buyers[0], 1),
                headers=keyed,
            ),
        )
        assert sorted(a.status_code for a in answers) == [200, 409]
        refused = next(a for a in answers if a.status_code == 409)
        assert refused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_a_cancelled_reservation_frees_its_slot(
    client: httpx.AsyncClient, admin: Headers, checker: Headers
) -> None:
    token = await make_token(
        client, admin, await publish_document(client, admin, policy_document(RULES, approval_ttl_seconds=10))
    )
    seller, seller_address = await make_party(client, admin)
    other, _ = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 100)
    await hold(client, admin, token["id"], other["id"], 1)
    _, first = await make_party(client, admin)
    _, second = await make_party(client, admin)
    approved = (
        await client.post(
            "/v1/compliance/transfer-check",
            json=transfer(token["id"], seller_address, first, 1),
            headers=checker,
        )
    ).json()
    assert approved["status"] == "APPROVED"
    blocked = (
        await client.post(
            "/v1/compliance/transfer-check",
            json=transfer(token["id"], seller_address, second, 1),
            headers=checker,
        )
    ).json()
    assert blocked["status"] == "REJECTED"
    cancelled = await client.post(
        f"/v1/compliance/checks/{approved['id']}/cancel", json={"reason": "test"}, headers=checker
    )
    assert cancelled.status_code == 200
    freed = (
        await client.post(
            "/v1/compliance/transfer-check",
            json=transfer(token["id"], seller_address, second, 1),
            headers=checker,
        )
    ).json()
    assert freed["status"] == "APPROVED"


async def test_another_process_catches_up_from_recorded_changes_without_reloading(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, other: tuple[Container, httpx.AsyncClient]
) -> None:
    """Decisions, cancellations, settlements and registry syncs made by one process reach the
    other's ledger through the change log; its ledger object is kept, not reloaded."""
    token = await make_token(client, admin, await publish_document(client, admin, policy_document(RULES)))
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 100)
    buyers = [(await make_party(client, admin))[1] for _ in range(3)]
    other_container, other_client = other

    async def decide(via: httpx.AsyncClient, buyer: str, amount: int) -> dict[str, Any]:
        body = transfer(token["id"], seller_address, buyer, amount)
        response = await via.post("/v1/compliance/transfer-check", json=body, headers=checker)
        return dict(response.json())

    first = await decide(other_client, buyers[0], 10)  # loads the other process's ledger
    ledger = other_container.decisions.ledgers[UUID(token["id"])]
    approved = await decide(client, buyers[1], 60)  # this process reserves 60 of 100
    assert approved["status"] == "APPROVED"
    short = await decide(other_client, buyers[2], 40)  # 100 - 10 - 60 = 30 left
    assert short["status"] == "REJECTED"
    assert "INSUFFICIENT_BALANCE" in [r["code"] for r in short["reasons"]]
    await client.post(f"/v1/compliance/checks/{approved['id']}/cancel", json={"reason": "t"}, headers=checker)
    assert (await decide(other_client, buyers[2], 40))["status"] == "APPROVED"
    await client.post(
        f"/v1/compliance/checks/{first['id']}/settle", json={"tx_hash": "0x" + "cd" * 32}, headers=checker
    )
    await hold(client, admin, token["id"], seller["id"], 1_000)  # registry sync: 1,000 held
    assert (await decide(other_client, buyers[0], 900))["status"] == "APPROVED"  # 1,000 - 40 reserved
    assert (await decide(other_client, buyers[0], 100))["status"] == "REJECTED"
    assert other_container.decisions.ledgers[UUID(token["id"])] is ledger


async def test_every_token_has_its_state_row_from_the_start(
    client: httpx.AsyncClient, admin: Headers, container: Container
) -> None:
    """Writers lock existing rows only: creating a missing row inside a writer's transaction, after
    other rows were locked, let two writers' first checks of new tokens deadlock."""
    token = await make_token(client, admin, await publish_document(client, admin, policy_document(RULES)))
    async with container.pool.acquire() as conn:
        version = await conn.fetchval("SELECT version FROM token_state WHERE token_id = $1", UUID(token["id"]))
        orphans = await conn.fetchval(
            "SELECT count(*) FROM tokens t WHERE NOT EXISTS (SELECT 1 FROM token_state s WHERE s.token_id = t.id)"
        )
    assert version == 0
    assert orphans == 0
