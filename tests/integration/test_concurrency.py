"""No over-approval: state-dependent limits are checked and reserved atomically."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import httpx
import pytest
from support import Headers, hold, make_party, make_token, policy_document, publish_document, transfer

from compliance_shield.api.app import create_app
from compliance_shield.bootstrap import build_container

pytestmark = pytest.mark.integration

RULES = [
    {"rule": "wallet_bound"},
    {"rule": "kyc_verified"},
    {"rule": "sufficient_balance"},
    {"rule": "max_holders", "params": {"max_holders": 3}},
]


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
    client: httpx.AsyncClient, admin: Headers, checker: Headers, settings: Any, database_url: str
) -> None:
    """A second, independent container stands in for another server process on the same database."""
    token_id, seller, buyers = await _last_slot_world(client, admin, 40)
    other = await build_container(settings, url=database_url, migrate=False)
    try:
        other_client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, container=other)), base_url="http://other"
        )
        async with other_client:
            calls = [
                (client if i % 2 else other_client).post(
                    "/v1/compliance/transfer-check", json=transfer(token_id, seller, b, 1), headers=checker
                )
                for i, b in enumerate(buyers)
            ]
            answers = await asyncio.gather(*calls)
    finally:
        await other.close()
    assert [a.status_code for a in answers] == [200] * len(buyers)
    assert [a.json()["status"] for a in answers].count("APPROVED") == 1


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
    client: httpx.AsyncClient, admin: Headers, checker: Headers, settings: Any, database_url: str
) -> None:
    """Decisions, cancellations, settlements and registry syncs made by one process reach the
    other's ledger through the change log; its ledger object is kept, not reloaded."""
    token = await make_token(client, admin, await publish_document(client, admin, policy_document(RULES)))
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 100)
    buyers = [(await make_party(client, admin))[1] for _ in range(3)]
    other = await build_container(settings, url=database_url, migrate=False)
    try:
        other_client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, container=other)), base_url="http://other"
        )
        async with other_client:

            async def decide(via: httpx.AsyncClient, buyer: str, amount: int) -> dict[str, Any]:
                body = transfer(token["id"], seller_address, buyer, amount)
                response = await via.post("/v1/compliance/transfer-check", json=body, headers=checker)
                return dict(response.json())

            first = await decide(other_client, buyers[0], 10)  # loads the other process's ledger
            ledger = other.decisions.ledgers[UUID(token["id"])]
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
            assert other.decisions.ledgers[UUID(token["id"])] is ledger
    finally:
        await other.close()
