"""Hostile input at the edge: text PostgreSQL cannot store, deep or large free-form JSON, lax
dates, explicit nulls, unique clashes and mistyped addresses are each refused with a 4xx naming
the exact field, and none of them harms a valid request sent beside it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from eth_utils.address import to_checksum_address
from support import Headers, hold, make_party, make_token, policy_document, publish_document, random_address, transfer

pytestmark = pytest.mark.integration

CHECK = "/v1/compliance/transfer-check"
BATCH = "/v1/compliance/transfer-check/batch"


@pytest.fixture
async def parties(client: httpx.AsyncClient, admin: Headers) -> tuple[str, str, str]:
    """A token and two bound parties, the seller holding 1,000 units."""
    policy_id = await publish_document(client, admin, policy_document([{"rule": "wallet_bound"}]))
    token = await make_token(client, admin, policy_id)
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 1000)
    _, buyer_address = await make_party(client, admin)
    return token["id"], seller_address, buyer_address


async def _send(client: httpx.AsyncClient, method: str, url: str, body: Any, headers: Headers) -> httpx.Response:
    """A JSON request written with escapes (httpx's own encoder cannot write a lone surrogate)."""
    content = json.dumps(body)
    return await client.request(method, url, content=content, headers={**headers, "content-type": "application/json"})


def _field(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    return str(error["details"][0]["field"])


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"reference": "bad\u0000ref"}, "reference"),
        ({"metadata": {"note": "a\u0000b"}}, "metadata.note"),
        ({"metadata": {"bad\u0000key": "x"}}, "metadata.bad\\u0000key"),
        ({"metadata": {"nested": [1, {"deep": "\ud800"}]}}, "metadata.nested[1].deep"),
        ({"metadata": {"k": "\udfff"}}, "metadata.k"),
    ],
)
async def test_unstorable_text_in_a_check_is_422_naming_the_member(
    client: httpx.AsyncClient,
    checker: Headers,
    parties: tuple[str, str, str],
    extra: dict[str, Any],
    field: str,
) -> None:
    token_id, seller, buyer = parties
    body = transfer(token_id, seller, buyer, 1, **extra)
    assert _field(await _send(client, "POST", CHECK, body, checker)) == field
    batch = {"transfers": [transfer(token_id, seller, buyer, 1), body]}
    assert _field(await _send(client, "POST", BATCH, batch, checker)) == f"transfers[1].{field}"


async def test_poisonous_checks_sent_with_valid_ones_leave_them_decided(
    client: httpx.AsyncClient, checker: Headers, parties: tuple[str, str, str]
) -> None:
    token_id, seller, buyer = parties
    valid = [transfer(token_id, seller, buyer, 1, reference=f"ok-{i}") for i in range(20)]
    poison = [transfer(token_id, seller, buyer, 1, reference=f"bad\u0000{i}") for i in range(20)]
    answers = await asyncio.gather(
        *(client.post(CHECK, json=b, headers=checker) for pair in zip(valid, poison, strict=True) for b in pair)
    )
    statuses = [a.status_code for a in answers]
    print(f"\nvalid and poisonous checks interleaved: {statuses.count(200)} decided, {statuses.count(422)} refused")
    assert statuses == [200, 422] * 20
    for answer in answers[::2]:
        stored = await client.get(f"/v1/compliance/checks/{answer.json()['id']}", headers=checker)
        assert stored.status_code == 200


async def test_unstorable_text_on_reference_data_routes_is_422(client: httpx.AsyncClient, admin: Headers) -> None:
    investor = {"name": "Ann\udc00", "country": "IN", "category": "retail"}
    assert _field(await _send(client, "POST", "/v1/investors", investor, admin)) == "name"
    label = {"labels": [{"address": random_address(), "category": "scam", "note": "x\u0000"}]}
    assert _field(await client.put("/v1/wallet-labels", json=label, headers=admin)) == "labels[0].note"
    assert _field(await client.get("/v1/wallet-labels?category=a%00b", headers=admin)) == "category"
    assert _field(await client.get("/v1/wallet-labels/0x%00", headers=admin)) == "path"


async def test_escaped_text_that_is_storable_passes(
    client: httpx.AsyncClient, checker: Headers, parties: tuple[str, str, str]
) -> None:
    token_id, seller, buyer = parties
    # a surrogate pair (an emoji written as escapes) and a literal backslash-u are ordinary text
    body = json.dumps(transfer(token_id, seller, buyer, 1, reference="@"))
    raw = body.replace('"@"', '"\\ud83d\\ude00 \\\\u0000"')
    response = await client.post(CHECK, content=raw, headers={**checker, "content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["request"]["reference"] == "\U0001f600 \\u0000"


def _nested(depth: int) -> Any:
    """``depth`` levels of objects around a string."""
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize("depth", [33, 300, 1000])
async def test_deep_metadata_is_422_not_a_server_error(
    client: httpx.AsyncClient, checker: Headers, parties: tuple[str, str, str], depth: int
) -> None:
    token_id, seller, buyer = parties
    body = transfer(token_id, seller, buyer, 1, metadata=_nested(depth))
    assert _field(await client.post(CHECK, json=body, headers=checker)) in {"metadata", "body"}
    batch = {"transfers": [body]}
    assert _field(await client.post(BATCH, json=batch, headers=checker)) in {"transfers[0].metadata", "body"}


async def test_metadata_at_the_depth_limit_is_accepted(
    client: httpx.AsyncClient, checker: Headers, parties: tuple[str, str, str]
) -> None:
    token_id, seller, buyer = parties
    body = transfer(token_id, seller, buyer, 1, metadata=_nested(32))
    response = await client.post(CHECK, json=body, headers=checker)
    assert response.status_code == 200, response.text


async def test_large_metadata_is_422(
    client: httpx.AsyncClient, checker: Headers, parties: tuple[str, str, str]
) -> None:
    token_id, seller, buyer = parties
    body = transfer(token_id, seller, buyer, 1, metadata={"blob": "x" * 20_000})
    assert _field(await client.post(CHECK, json=body, headers=checker)) == "metadata"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": " 12"}, "amount"),
        ({"amount": "1.5"}, "amount"),
        ({"to_address": "same"}, "to_address"),
    ],
)
async def test_every_check_422_names_its_field(
    client: httpx.AsyncClient, checker: Headers, parties: tuple[str, str, str], change: dict[str, str], field: str
) -> None:
    token_id, seller, buyer = parties
    body = transfer(token_id, seller, buyer, 1) | change
    if body["to_address"] == "same":
        body["to_address"] = seller
    assert _field(await client.post(CHECK, json=body, headers=checker)) == field
    batch = {"transfers": [transfer(token_id, seller, buyer, 1), body]}
    assert _field(await client.post(BATCH, json=batch, headers=checker)) == f"transfers[1].{field}"


async def test_mixed_case_addresses_must_carry_their_checksum(
    client: httpx.AsyncClient, checker: Headers, parties: tuple[str, str, str]
) -> None:
    token_id, seller, buyer = parties
    good = to_checksum_address(buyer)
    flipped = good[:2] + "".join(c.swapcase() if c.isalpha() else c for c in good[2:])
    assert flipped.lower() == buyer
    assert good != good.lower(), "the test needs an address with letters"
    bad = _field(await client.post(CHECK, json=transfer(token_id, seller, flipped, 1), headers=checker))
    assert bad == "to_address"
    for spelling in (good, buyer.upper().replace("0X", "0x"), buyer):
        response = await client.post(CHECK, json=transfer(token_id, seller, spelling, 1), headers=checker)
        assert response.status_code == 200, (spelling, response.text)
        assert response.json()["to_address"] == good


@pytest.mark.parametrize("value", [-0.5, 0, 1700000000, "-0.5", "1700000000", True, "tomorrow"])
async def test_dates_are_iso_strings_only(client: httpx.AsyncClient, admin: Headers, value: Any) -> None:
    investor = {"name": "Dana", "country": "IN", "category": "retail", "accreditation_expires_at": value}
    assert _field(await client.post("/v1/investors", json=investor, headers=admin)) == "accreditation_expires_at"


async def test_a_date_without_offset_is_utc(client: httpx.AsyncClient, admin: Headers) -> None:
    investor = {"name": "Eve", "country": "IN", "category": "retail", "kyc_expires_at": "2030-01-02T03:04:05"}
    response = await client.post("/v1/investors", json=investor, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["kyc_expires_at"].startswith("2030-01-02T03:04:05")
    assert response.json()["kyc_expires_at"].endswith(("Z", "+00:00"))


@pytest.mark.parametrize("field", ["kyc_status", "name", "type", "country", "category", "pep", "risk_rating"])
async def test_patch_with_null_for_a_required_field_is_422(
    client: httpx.AsyncClient, admin: Headers, field: str
) -> None:
    investor, _ = await make_party(client, admin)
    response = await client.patch(f"/v1/investors/{investor['id']}", json={field: None}, headers=admin)
    assert _field(response) == field


async def test_patch_with_null_for_a_nullable_field_clears_it(client: httpx.AsyncClient, admin: Headers) -> None:
    investor, _ = await make_party(client, admin)
    response = await client.patch(f"/v1/investors/{investor['id']}", json={"nationality": None}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["nationality"] is None


@pytest.mark.parametrize("field", ["paused", "decimals", "symbol", "blockchain_type", "trading_windows"])
async def test_token_patch_with_null_is_422(
    client: httpx.AsyncClient, admin: Headers, parties: tuple[str, str, str], field: str
) -> None:
    response = await client.patch(f"/v1/tokens/{parties[0]}", json={field: None}, headers=admin)
    assert _field(response) == field


async def test_unique_clashes_are_409_naming_the_field(client: httpx.AsyncClient, admin: Headers) -> None:
    first, _ = await make_party(client, admin, external_ref=f"ref-{random_address()}")
    second, address = await make_party(client, admin)
    clash = await client.patch(f"/v1/investors/{second['id']}", json={"external_ref": first["external_ref"]},
                               headers=admin)  # fmt: skip
    assert clash.status_code == 409, clash.text
    assert clash.json()["error"]["details"][0]["field"] == "external_ref"

    policy_id = await publish_document(client, admin, policy_document([{"rule": "wallet_bound"}]))
    contract = random_address()
    await make_token(client, admin, policy_id, contract_address=contract)
    other = await make_token(client, admin, policy_id)
    clash = await client.patch(f"/v1/tokens/{other['id']}", json={"contract_address": contract}, headers=admin)
    assert clash.status_code == 409, clash.text
    assert clash.json()["error"]["details"][0]["field"] == "contract_address"

    rebound = await client.post("/v1/wallets", json={"address": address, "investor_id": first["id"]}, headers=admin)
    assert rebound.status_code == 409
    assert rebound.json()["error"]["details"][0]["field"] == "address"


async def test_trading_window_dates_are_strict(
    client: httpx.AsyncClient, admin: Headers, parties: tuple[str, str, str]
) -> None:
    window = {"start": 0, "end": "2030-01-01T00:00:00Z"}
    response = await client.patch(f"/v1/tokens/{parties[0]}", json={"trading_windows": [window]}, headers=admin)
    assert _field(response) == "trading_windows[0].start"
