"""The transfer-check API end to end on the real embedded PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from support import (
    Headers,
    hold,
    make_party,
    make_token,
    policy_document,
    publish_document,
    random_address,
    transfer,
)

pytestmark = pytest.mark.integration

BASIC_RULES: list[dict[str, Any]] = [
    {"rule": "wallet_bound"},
    {"rule": "kyc_verified"},
    {"rule": "sanctioned_address"},
    {"rule": "token_paused"},
    {"rule": "wallet_frozen"},
    {"rule": "pep_review"},
    {"rule": "sufficient_balance"},
]


@pytest.fixture
async def token(client: httpx.AsyncClient, admin: Headers) -> dict[str, Any]:
    policy_id = await publish_document(client, admin, policy_document(BASIC_RULES))
    return await make_token(client, admin, policy_id)


@pytest.fixture
async def seller(client: httpx.AsyncClient, admin: Headers, token: dict[str, Any]) -> str:
    investor, address = await make_party(client, admin)
    await hold(client, admin, token["id"], investor["id"], 1000)
    return address


async def test_approved_check_has_the_documented_shape(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, token: dict[str, Any], seller: str
) -> None:
    _, buyer = await make_party(client, admin)
    response = await client.post(
        "/v1/compliance/transfer-check",
        json=transfer(token["id"], seller, buyer, 10, reference="ord-1"),
        headers=checker,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "APPROVED"
    assert body["restriction_code"] == 0
    assert body["risk_score"] == 0
    assert body["reasons"] == []
    assert {r["rule"] for r in body["rules"]} == {r["rule"] for r in BASIC_RULES}
    assert all(r["result"] == "pass" for r in body["rules"])
    assert body["policy"]["version"] == 1
    assert body["policy"]["hash"].startswith("sha256:")
    assert body["request"]["reference"] == "ord-1"
    assert body["expires_at"] > body["created_at"]
    assert body["settlement"]["status"] == "pending"
    stored = await client.get(f"/v1/compliance/checks/{body['id']}", headers=checker)
    assert stored.json() == body


async def test_unbound_receiver_is_rejected_with_reason_and_restriction_code(
    client: httpx.AsyncClient, checker: Headers, token: dict[str, Any], seller: str
) -> None:
    response = await client.post(
        "/v1/compliance/transfer-check",
        json=transfer(token["id"], seller, random_address(), 10),
        headers=checker,
    )
    body = response.json()
    assert body["status"] == "REJECTED"
    codes = [r["code"] for r in body["reasons"]]
    assert "WALLET_NOT_BOUND" in codes
    assert body["restriction_code"] == 3
    assert body["expires_at"] is None


async def test_transfer_to_pep_is_escalated(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, token: dict[str, Any], seller: str
) -> None:
    _, pep = await make_party(client, admin, pep=True)
    body = (
        await client.post("/v1/compliance/transfer-check", json=transfer(token["id"], seller, pep, 5), headers=checker)
    ).json()
    assert body["status"] == "ESCALATED"
    assert [r["code"] for r in body["reasons"]] == ["PEP_REVIEW"]


async def test_sanctioned_address_is_rejected_and_names_the_list(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, token: dict[str, Any], seller: str
) -> None:
    _, buyer = await make_party(client, admin)
    added = await client.post(
        "/v1/sanctions/addresses",
        json={"addresses": [{"address": buyer.upper().replace("0X", "0x"), "source": "ofac-sdn",
                             "list_version": "ofac-2024-09-27", "entity": "Test Entity"}]},
        headers=admin,
    )  # fmt: skip
    assert added.status_code == 200, added.text
    body = (
        await client.post(
            "/v1/compliance/transfer-check", json=transfer(token["id"], seller, buyer, 5), headers=checker
        )
    ).json()
    assert body["status"] == "REJECTED"
    trace = next(r for r in body["rules"] if r["rule"] == "sanctioned_address")
    assert trace["code"] == "SANCTIONED_ADDRESS"
    assert "ofac-2024-09-27" in str(trace["details"])
    removed = await client.request("DELETE", "/v1/sanctions/addresses", json={"addresses": [buyer]}, headers=admin)
    assert removed.json()["addresses"] == [buyer]
    again = (
        await client.post(
            "/v1/compliance/transfer-check", json=transfer(token["id"], seller, buyer, 5), headers=checker
        )
    ).json()
    assert again["status"] == "APPROVED"


async def test_idempotency_key_returns_the_same_decision_and_stores_one_row(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    token: dict[str, Any],
    seller: str,
    container: Any,
) -> None:
    _, buyer = await make_party(client, admin)
    body = transfer(token["id"], seller, buyer, 7)
    headers = checker | {"Idempotency-Key": "order-42-" + buyer[-8:]}
    first = await client.post("/v1/compliance/transfer-check", json=body, headers=headers)
    second = await client.post("/v1/compliance/transfer-check", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    async with container.pool.acquire() as conn:
        rows = await conn.fetchval("SELECT count(*) FROM transfer_compliance_checks WHERE to_address = $1", buyer)
    assert rows == 1
    reused = await client.post("/v1/compliance/transfer-check", json=body | {"amount": "8"}, headers=headers)
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_concurrent_repeats_of_one_key_store_one_row(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    token: dict[str, Any],
    seller: str,
    container: Any,
) -> None:
    import asyncio

    _, buyer = await make_party(client, admin)
    body = transfer(token["id"], seller, buyer, 3)
    headers = checker | {"Idempotency-Key": "burst-" + buyer[-8:]}
    answers = await asyncio.gather(
        *(client.post("/v1/compliance/transfer-check", json=body, headers=headers) for _ in range(10))
    )
    assert {a.json()["id"] for a in answers} == {answers[0].json()["id"]}
    async with container.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM transfer_compliance_checks WHERE to_address = $1", buyer) == 1


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"amount": "1.5"}, "amount"),
        ({"amount": "-3"}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": "12abc"}, "amount"),
        ({"from_address": "0x123"}, "from_address"),
        ({"to_address": "not-an-address"}, "to_address"),
        ({"token_id": "not-a-uuid"}, "token_id"),
        ({"blockchain_type": "sidechain"}, "blockchain_type"),
        ({"transfer_type": "gift"}, "transfer_type"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_input_is_422_naming_the_field(
    client: httpx.AsyncClient, checker: Headers, patch: dict[str, Any], field: str
) -> None:
    body = transfer("00000000-0000-4000-8000-000000000001", random_address(), random_address(), 1) | patch
    response = await client.post("/v1/compliance/transfer-check", json=body, headers=checker)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert field in [d["field"] for d in error["details"]]


async def test_malformed_json_is_422(client: httpx.AsyncClient, checker: Headers) -> None:
    response = await client.post(
        "/v1/compliance/transfer-check",
        content=b'{"amount": ',
        headers=checker | {"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "body"


async def test_unknown_token_is_404(client: httpx.AsyncClient, checker: Headers) -> None:
    body = transfer("00000000-0000-4000-8000-00000000dead", random_address(), random_address(), 1)
    response = await client.post("/v1/compliance/transfer-check", json=body, headers=checker)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_settle_applies_holdings_and_releases_the_reservation(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, token: dict[str, Any], seller: str
) -> None:
    buyer_investor, buyer = await make_party(client, admin)
    approved = (
        await client.post(
            "/v1/compliance/transfer-check", json=transfer(token["id"], seller, buyer, 600), headers=checker
        )
    ).json()
    assert approved["status"] == "APPROVED"
    # the reservation holds 600 of the seller's 1000: a second 600 is refused
    _, other = await make_party(client, admin)
    second = (
        await client.post(
            "/v1/compliance/transfer-check", json=transfer(token["id"], seller, other, 600), headers=checker
        )
    ).json()
    assert second["status"] == "REJECTED"
    assert "INSUFFICIENT_BALANCE" in [r["code"] for r in second["reasons"]]
    settled = await client.post(
        f"/v1/compliance/checks/{approved['id']}/settle", json={"tx_hash": "0x" + "ab" * 32}, headers=checker
    )
    assert settled.status_code == 200, settled.text
    assert settled.json()["settlement"]["status"] == "settled"
    holding = await client.get(f"/v1/tokens/{token['id']}/holdings/{buyer_investor['id']}", headers=admin)
    assert holding.json()["balance"] == "600"
    twice = await client.post(
        f"/v1/compliance/checks/{approved['id']}/settle", json={"tx_hash": "0x" + "ab" * 32}, headers=checker
    )
    assert twice.status_code == 409


async def test_cancel_releases_the_reservation(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, token: dict[str, Any], seller: str
) -> None:
    _, buyer = await make_party(client, admin)
    approved = (
        await client.post(
            "/v1/compliance/transfer-check", json=transfer(token["id"], seller, buyer, 900), headers=checker
        )
    ).json()
    cancelled = await client.post(
        f"/v1/compliance/checks/{approved['id']}/cancel", json={"reason": "order withdrawn"}, headers=checker
    )
    assert cancelled.json()["settlement"]["status"] == "cancelled"
    again = (
        await client.post(
            "/v1/compliance/transfer-check", json=transfer(token["id"], seller, buyer, 900), headers=checker
        )
    ).json()
    assert again["status"] == "APPROVED"


async def test_list_filters_and_paginates(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, token: dict[str, Any], seller: str
) -> None:
    _, buyer = await make_party(client, admin)
    ids = []
    for _ in range(5):
        r = await client.post(
            "/v1/compliance/transfer-check", json=transfer(token["id"], seller, buyer, 1), headers=checker
        )
        ids.append(r.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"token_id": token["id"], "address": buyer, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/compliance/checks", params=params, headers=checker)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    rejected = (
        await client.get(
            "/v1/compliance/checks", params={"token_id": token["id"], "status": "REJECTED"}, headers=checker
        )
    ).json()
    assert all(item["status"] == "REJECTED" for item in rejected["items"])
    bad = await client.get("/v1/compliance/checks", params={"cursor": "%%%"}, headers=checker)
    assert bad.status_code == 422


async def test_the_fast_serialization_matches_the_declared_response_model(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, token: dict[str, Any], seller: str
) -> None:
    """The hot routes bypass response-model validation: their bodies must still be exactly the model's."""
    from compliance_shield.api.schemas import CheckOut

    _, buyer = await make_party(client, admin)
    body = (
        await client.post(
            "/v1/compliance/transfer-check", json=transfer(token["id"], seller, buyer, 1), headers=checker
        )
    ).json()
    assert CheckOut.model_validate(body).model_dump(mode="json") == body
