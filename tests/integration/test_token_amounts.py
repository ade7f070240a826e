"""Real token data: amounts of any size up to 2**256 - 1, exact from the request to the event.

Property-based (Hypothesis) over every shipped template, with the decimals tokens use and
amounts, balances and supplies up to uint256: each check is decided (never a 5xx), stored,
replayed identically, and its event carries the same numbers — and no stored JSON carries an
integer beyond what every JSON reader keeps exact (amounts are decimal strings).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import Headers, hold, make_party, make_token, publish_template, transfer

from compliance_shield.domain import encoding
from compliance_shield.domain.encoding import UINT256_MAX
from compliance_shield.services.checks.replay import replay

pytestmark = pytest.mark.integration

TEMPLATES = ("india-private-placement", "india-aif", "india-sm-reit", "india-listed-equity")
TRAVEL_RULE = {
    "originator": {"name": "Seller", "account": "DP-IN300000-10000002"},
    "beneficiary": {"name": "Buyer", "account": "DP-IN300000-10000001"},
}
#: the largest integer every JSON reader (JavaScript's included) keeps exact
JS_SAFE = 2**53 - 1

_policies: dict[str, str] = {}


async def _policy(client: httpx.AsyncClient, admin: Headers, template: str) -> str:
    if template not in _policies:
        _policies[template] = await publish_template(client, admin, template)
    return _policies[template]


def _wide_numbers(value: Any, path: str = "$") -> list[str]:
    """Paths of JSON numbers beyond the exact range of common JSON readers."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [path] if abs(value) > JS_SAFE else []
    if isinstance(value, float):
        return [path] if abs(value) > JS_SAFE else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _wide_numbers(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _wide_numbers(v, f"{path}[{i}]")]
    return []


def _differing(differences: list[dict[str, Any]]) -> list[Any]:
    """The differing items of each differing field (the trace is long)."""
    out: list[Any] = []
    for d in differences:
        stored, replayed = d["stored"], d["replayed"]
        if isinstance(stored, list) and isinstance(replayed, list):
            out += [(d["field"], a, b) for a, b in zip(stored, replayed, strict=False) if a != b]
        else:
            out.append(d)
    return out


amounts = st.one_of(
    st.integers(1, 10**6), st.integers(1, UINT256_MAX), st.sampled_from([UINT256_MAX, 2**64, 2**63, 10**24])
)


@given(
    template=st.sampled_from(TEMPLATES),
    decimals=st.sampled_from([0, 2, 6, 8, 18]),
    amount=amounts,
    balance=st.one_of(st.just(0), amounts),
    supply=st.one_of(st.none(), amounts),
    price=st.sampled_from(["1000", "0.01", "100000", "2500.5", "0.000000000000000001"]),
)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_any_amount_on_any_template_is_decided_stored_replayed_and_streamed(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    conn: asyncpg.Connection,
    container: Any,
    template: str,
    decimals: int,
    amount: int,
    balance: int,
    supply: int | None,
    price: str,
) -> None:
    extra = {"total_supply": str(supply)} if supply is not None else {}
    token = await make_token(
        client, admin, await _policy(client, admin, template), decimals=decimals, price_per_unit=price, **extra
    )
    seller, seller_address = await make_party(client, admin)
    if balance:
        await hold(client, admin, token["id"], seller["id"], balance)
    _, buyer = await make_party(client, admin, category="accredited")

    answer = await client.post(
        "/v1/compliance/transfer-check", json=transfer(token["id"], seller_address, buyer, amount), headers=checker
    )
    assert answer.status_code == 200, answer.text
    decided = answer.json()
    assert decided["status"] in ("APPROVED", "REJECTED", "ESCALATED")
    assert decided["amount"] == str(amount)

    stored = await client.get(f"/v1/compliance/checks/{decided['id']}", headers=checker)
    assert stored.status_code == 200, stored.text
    assert (stored.json()["amount"], stored.json()["status"]) == (str(amount), decided["status"])

    row = await conn.fetchrow(
        "SELECT facts::text AS facts, rules::text AS rules, amount FROM transfer_compliance_checks WHERE id = $1",
        UUID(decided["id"]),
    )
    assert row is not None
    assert int(row["amount"]) == amount
    for column in ("facts", "rules"):
        document = encoding.loads(row[column])
        assert _wide_numbers(document) == [], column
    facts = encoding.loads(row["facts"])
    assert facts["transfer"]["amount"] == str(amount)
    assert facts["sender"]["balance"] == str(balance)
    assert facts["token"]["total_supply"] == (str(supply) if supply is not None else None)

    async with container.pool.acquire() as pooled:  # (the service's connections: JSON decoded)
        replayed = await replay(pooled, UUID(decided["id"]))
    assert replayed.reproduced, _differing(replayed.differences)

    event = await conn.fetchval(
        "SELECT payload FROM outbox WHERE event_type = 'transfer_check.decided' AND payload->'data'->>'check_id' = $1",
        decided["id"],
    )
    assert event is not None
    event = encoding.loads(event)
    assert event["data"]["amount"] == str(amount)
    assert event["data"]["status"] == decided["status"]


async def test_an_amount_of_zero_or_above_uint256_is_refused_naming_the_field(
    client: httpx.AsyncClient, admin: Headers, checker: Headers
) -> None:
    token = await make_token(client, admin, await _policy(client, admin, "india-sm-reit"), decimals=18)
    _, seller = await make_party(client, admin)
    _, buyer = await make_party(client, admin)
    for too_big in (str(UINT256_MAX + 1), "9" * 79, "0", "000"):
        answer = await client.post(
            "/v1/compliance/transfer-check", json=transfer(token["id"], seller, buyer, 1) | {"amount": too_big},
            headers=checker,
        )  # fmt: skip
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["details"][0]["field"] == "amount"
    exact = await client.post(
        "/v1/compliance/transfer-check", json=transfer(token["id"], seller, buyer, UINT256_MAX), headers=checker
    )
    assert exact.status_code == 200, exact.text


async def test_an_18_decimal_token_with_a_supply_of_10_pow_24_approves_an_ordinary_transfer(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, container: Any
) -> None:
    """The acceptance case: ₹1,000 a unit, 10**24 base units, on the SM REIT template."""
    token = await make_token(
        client, admin, await _policy(client, admin, "india-sm-reit"), decimals=18, total_supply=str(10**24)
    )
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 20_000 * 10**18)
    buyer, buyer_address = await make_party(client, admin)
    await hold(client, admin, token["id"], buyer["id"], 2_000 * 10**18)
    amount = 1_500 * 10**18  # ₹15 lakh of units
    answer = await client.post(
        "/v1/compliance/transfer-check",
        json=transfer(token["id"], seller_address, buyer_address, amount, travel_rule=TRAVEL_RULE),
        headers=checker,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "APPROVED", answer.json()["reasons"]
    async with container.pool.acquire() as pooled:
        assert (await replay(pooled, UUID(answer.json()["id"]))).reproduced
