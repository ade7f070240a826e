"""Each shipped template on a realistic scenario, through the API on the real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from support import Headers, hold, make_party, make_token, publish_template, transfer

pytestmark = pytest.mark.integration

TRAVEL_RULE = {
    "originator": {"name": "Demo Issuer Treasury", "account": "ISSUER-001"},
    "beneficiary": {"name": "Buyer", "account": "DP-IN300000-10000001"},
}


def _codes(body: dict[str, Any]) -> list[str]:
    return [r["code"] for r in body["reasons"]]


async def _check(client: httpx.AsyncClient, checker: Headers, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/compliance/transfer-check", json=body, headers=checker)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_private_placement_refuses_the_201st_holder(
    client: httpx.AsyncClient, admin: Headers, checker: Headers
) -> None:
    token = await make_token(client, admin, await publish_template(client, admin, "india-private-placement"))
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 1_000_000)

    holders: list[str] = []

    async def holder() -> None:
        investor, address = await make_party(client, admin)
        await hold(client, admin, token["id"], investor["id"], 100)
        holders.append(address)

    for _ in range(0, 199, 20):  # the seller plus 199 others: 200 holders
        await asyncio.gather(*(holder() for _ in range(min(20, 199 - _))))
    existing = await client.get(f"/v1/tokens/{token['id']}/holdings", params={"limit": 500}, headers=admin)
    assert len(existing.json()["items"]) == 200
    _, newcomer = await make_party(client, admin)
    body = await _check(client, checker, transfer(token["id"], seller_address, newcomer, 10))
    assert body["status"] == "REJECTED"
    assert "MAX_HOLDERS_EXCEEDED" in _codes(body)
    # a QIB is outside the s.42 count and may still come in
    _, qib = await make_party(client, admin, category="qib", type="entity")
    assert (await _check(client, checker, transfer(token["id"], seller_address, qib, 10)))["status"] == "APPROVED"
    # a holder who sells part of its units to a newcomer would make 201 holders ...
    partial = await _check(client, checker, transfer(token["id"], holders[0], newcomer, 50, travel_rule=TRAVEL_RULE))
    assert partial["status"] == "REJECTED"
    assert "MAX_HOLDERS_EXCEEDED" in _codes(partial)
    # ... one who sells all of them leaves the register: the newcomer takes its place
    whole = await _check(client, checker, transfer(token["id"], holders[1], newcomer, 100, travel_rule=TRAVEL_RULE))
    assert whole["status"] == "APPROVED", whole["reasons"]
    # until that transfer settles, its seller still counts: no one else may come in meanwhile
    _, another = await make_party(client, admin)
    late = await _check(client, checker, transfer(token["id"], holders[2], another, 100, travel_rule=TRAVEL_RULE))
    assert late["status"] == "REJECTED"
    assert "MAX_HOLDERS_EXCEEDED" in _codes(late)


async def _aif(client: httpx.AsyncClient, admin: Headers) -> tuple[dict[str, Any], str]:
    token = await make_token(
        client, admin, await publish_template(client, admin, "india-aif"), price_per_unit="100000", decimals=0
    )
    _, treasury = await make_party(client, admin, category="issuer", type="entity")
    return token, treasury


async def test_aif_refuses_a_50_lakh_purchase_by_a_retail_investor(
    client: httpx.AsyncClient, admin: Headers, checker: Headers
) -> None:
    token, treasury = await _aif(client, admin)
    _, retail = await make_party(client, admin, category="retail")
    body = await _check(
        client,
        checker,
        transfer(token["id"], treasury, retail, 50, transfer_type="issuance", travel_rule=TRAVEL_RULE),
    )
    assert body["status"] == "REJECTED"
    assert "BELOW_MIN_INVESTMENT" in _codes(body)


async def test_aif_admits_a_50_lakh_purchase_by_an_accredited_investor(
    client: httpx.AsyncClient, admin: Headers, checker: Headers
) -> None:
    token, treasury = await _aif(client, admin)
    expiry = (datetime.now(UTC) + timedelta(days=200)).isoformat()
    _, accredited = await make_party(client, admin, category="accredited", accreditation_expires_at=expiry)
    body = await _check(
        client,
        checker,
        transfer(token["id"], treasury, accredited, 50, transfer_type="issuance", travel_rule=TRAVEL_RULE),
    )
    assert body["status"] == "APPROVED", body["reasons"]


async def test_listed_equity_refuses_a_designated_person_in_a_closed_window(
    client: httpx.AsyncClient, admin: Headers, checker: Headers
) -> None:
    now = datetime.now(UTC)
    window = {"start": (now - timedelta(days=2)).isoformat(), "end": (now + timedelta(days=5)).isoformat(),
              "reason": "Q3 results"}  # fmt: skip
    token = await make_token(
        client,
        admin,
        await publish_template(client, admin, "india-listed-equity"),
        price_per_unit="2500",
        total_supply="10000000",
        trading_windows=[window],
    )
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 1_000)
    _, insider_address = await make_party(client, admin, designated_tokens=[token["id"]])
    _, outsider_address = await make_party(client, admin)
    insider_buy = await _check(client, checker, transfer(token["id"], seller_address, insider_address, 10))
    assert insider_buy["status"] == "REJECTED"
    assert "TRADING_WINDOW_CLOSED" in _codes(insider_buy)
    assert (await _check(client, checker, transfer(token["id"], seller_address, outsider_address, 10)))[
        "status"
    ] == "APPROVED"


async def test_sm_reit_escalates_a_transfer_to_a_pep(
    client: httpx.AsyncClient, admin: Headers, checker: Headers
) -> None:
    token = await make_token(
        client, admin, await publish_template(client, admin, "india-sm-reit"), price_per_unit="10000"
    )
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 1_000)
    _, pep = await make_party(client, admin, pep=True)
    body = await _check(client, checker, transfer(token["id"], seller_address, pep, 100, travel_rule=TRAVEL_RULE))
    assert body["status"] == "ESCALATED"
    assert _codes(body) == ["PEP_REVIEW"]
    assert body["restriction_code"] == 6
