"""The built-in wallet-risk labels: managed by officers, served from memory to ``wallet_risk``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from support import Headers, hold, make_party, make_token, policy_document, publish_document, random_address, transfer

pytestmark = pytest.mark.integration

RULES: list[dict[str, Any]] = [{"rule": "wallet_bound"}, {"rule": "sufficient_balance"}, {"rule": "wallet_risk"}]


@pytest.fixture
async def scene(client: httpx.AsyncClient, admin: Headers) -> tuple[str, str, str]:
    policy_id = await publish_document(client, admin, policy_document(RULES))
    token = await make_token(client, admin, policy_id)
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 1000)
    _, buyer = await make_party(client, admin)
    return token["id"], seller_address, buyer


async def decide(client: httpx.AsyncClient, checker: Headers, token: str, seller: str, buyer: str) -> dict[str, Any]:
    response = await client.post(
        "/v1/compliance/transfer-check", json=transfer(token, seller, buyer, 5), headers=checker
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_labels_drive_the_wallet_risk_rule(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, scene: tuple[str, str, str]
) -> None:
    token, seller, buyer = scene
    assert (await decide(client, checker, token, seller, buyer))["status"] == "APPROVED"

    put = await client.put(
        "/v1/wallet-labels",
        json={
            "labels": [
                {
                    "address": buyer.upper().replace("0X", "0x"),
                    "category": "mixer",
                    "risk_level": "high",
                    "source": "analyst-desk",
                    "note": "funds routed through a mixer",
                }
            ]
        },
        headers=admin,
    )
    assert put.status_code == 200, put.text
    assert put.json()["labels"][0]["address"] == buyer  # normalized
    escalated = await decide(client, checker, token, seller, buyer)
    assert escalated["status"] == "ESCALATED"
    assert [r["code"] for r in escalated["reasons"]] == ["WALLET_RISK_REVIEW"]

    await client.put(
        "/v1/wallet-labels",
        json={"labels": [{"address": buyer, "category": "darknet", "risk_level": "severe", "source": "vendor-feed"}]},
        headers=admin,
    )
    rejected = await decide(client, checker, token, seller, buyer)
    assert rejected["status"] == "REJECTED"
    assert rejected["restriction_code"] == 30

    listed = await client.get(f"/v1/wallet-labels/{buyer}", headers=admin)
    assert {x["source"] for x in listed.json()["labels"]} == {"analyst-desk", "vendor-feed"}
    removed = await client.delete(f"/v1/wallet-labels/{buyer}", headers=admin)
    assert len(removed.json()["labels"]) == 2
    assert (await decide(client, checker, token, seller, buyer))["status"] == "APPROVED"
    assert (await client.delete(f"/v1/wallet-labels/{buyer}", headers=admin)).status_code == 404


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ({"address": "0x123", "category": "mixer", "risk_level": "high"}, "labels[0].address"),
        ({"address": "0x" + "ab" * 20, "category": "Mixer!", "risk_level": "high"}, "labels[0].category"),
        ({"address": "0x" + "ab" * 20, "category": "mixer", "risk_level": "extreme"}, "labels[0].risk_level"),
        ({"address": "0x" + "ab" * 20, "category": "mixer", "risk_level": "high", "colour": "red"}, "labels[0].colour"),
    ],
)
async def test_bad_labels_are_refused_naming_the_field(
    client: httpx.AsyncClient, admin: Headers, label: dict[str, Any], field: str
) -> None:
    response = await client.put("/v1/wallet-labels", json={"labels": [label]}, headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == field


async def test_labels_page_by_address_and_source(client: httpx.AsyncClient, admin: Headers) -> None:
    addresses = sorted(random_address() for _ in range(3))
    labels = [
        {"address": a, "category": "exchange", "risk_level": "low", "source": s} for a in addresses for s in ("a", "b")
    ]
    assert (await client.put("/v1/wallet-labels", json={"labels": labels}, headers=admin)).status_code == 200
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        params = {"limit": 4, "category": "exchange", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/wallet-labels", params=params, headers=admin)).json()
        seen += [(x["address"], x["source"]) for x in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    mine = [pair for pair in seen if pair[0] in addresses]
    assert mine == [(a, s) for a in addresses for s in ("a", "b")]
    assert (await client.get("/v1/wallet-labels", params={"cursor": "%%%"}, headers=admin)).status_code == 422
