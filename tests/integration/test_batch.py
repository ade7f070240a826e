"""POST /v1/compliance/transfer-check/batch: single-check semantics per item, in order."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from support import Headers, hold, make_party, make_token, policy_document, publish_document, random_address, transfer

pytestmark = pytest.mark.integration

RULES: list[dict[str, Any]] = [
    {"rule": "wallet_bound"},
    {"rule": "sufficient_balance"},
    {"rule": "max_holders", "params": {"max_holders": 2}},
]


async def test_batch_decides_each_item_in_order_and_stores_each(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, container: Any
) -> None:
    token = await make_token(client, admin, await publish_document(client, admin, policy_document(RULES)))
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 100)
    buyers = [(await make_party(client, admin))[1] for _ in range(3)]
    items = [transfer(token["id"], seller_address, b, 10) for b in buyers]  # one slot left: first wins
    items.append(transfer(token["id"], seller_address, random_address(), 10))
    items.append(transfer(token["id"], seller_address, buyers[0], 10) | {"idempotency_key": "batch-k1"})
    items.append(transfer("00000000-0000-4000-8000-00000000beef", seller_address, buyers[0], 1))
    response = await client.post("/v1/compliance/transfer-check/batch", json={"transfers": items}, headers=checker)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status_code"] for r in results] == [200, 200, 200, 200, 200, 404]
    statuses = [r["check"]["status"] for r in results[:5]]
    assert statuses == ["APPROVED", "REJECTED", "REJECTED", "REJECTED", "APPROVED"]
    assert results[5]["error"]["code"] == "NOT_FOUND"
    ids = [r["check"]["id"] for r in results[:5]]
    async with container.pool.acquire() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM transfer_compliance_checks WHERE id = ANY($1::uuid[])", ids)
    assert stored == 5
    again = await client.post("/v1/compliance/transfer-check/batch", json={"transfers": [items[4]]}, headers=checker)
    assert again.json()["results"][0]["check"]["id"] == ids[4]


async def test_a_malformed_item_rejects_the_batch_naming_it(client: httpx.AsyncClient, checker: Headers) -> None:
    good = transfer("00000000-0000-4000-8000-000000000001", random_address(), random_address(), 1)
    response = await client.post(
        "/v1/compliance/transfer-check/batch", json={"transfers": [good, good | {"amount": "1e3"}]}, headers=checker
    )
    assert response.status_code == 422
    assert "transfers[1].amount" in [d["field"] for d in response.json()["error"]["details"]]
    too_many = await client.post(
        "/v1/compliance/transfer-check/batch", json={"transfers": [good] * 1001}, headers=checker
    )
    assert too_many.status_code == 422


async def test_summary_view_leaves_out_the_trace_but_the_record_keeps_it(
    client: httpx.AsyncClient, admin: Headers, checker: Headers
) -> None:
    from compliance_shield.api.schemas import CheckSummaryOut

    token = await make_token(client, admin, await publish_document(client, admin, policy_document(RULES)))
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 100)
    buyer = (await make_party(client, admin))[1]
    items = [transfer(token["id"], seller_address, buyer, 1), transfer(token["id"], seller_address, buyer, 1000)]
    response = await client.post(
        "/v1/compliance/transfer-check/batch?view=summary", json={"transfers": items}, headers=checker
    )
    assert response.status_code == 200, response.text
    checks = [r["check"] for r in response.json()["results"]]
    assert [c["status"] for c in checks] == ["APPROVED", "REJECTED"]
    assert checks[1]["reasons"][0]["code"] == "INSUFFICIENT_BALANCE"
    for check in checks:
        assert "rules" not in check
        assert "request" not in check
        assert CheckSummaryOut.model_validate(check).model_dump(mode="json") == check
    stored = await client.get(f"/v1/compliance/checks/{checks[1]['id']}", headers=checker)
    assert [r["rule"] for r in stored.json()["rules"]] == [r["rule"] for r in RULES]

    single = await client.post(
        "/v1/compliance/transfer-check?view=summary",
        json=transfer(token["id"], seller_address, buyer, 1),
        headers=checker,
    )
    assert single.status_code == 200
    assert "rules" not in single.json()
    wrong = await client.post(
        "/v1/compliance/transfer-check?view=compact",
        json=transfer(token["id"], seller_address, buyer, 1),
        headers=checker,
    )
    assert wrong.status_code == 422
    assert "view" in [d["field"] for d in wrong.json()["error"]["details"]]


async def test_a_batch_is_recorded_in_as_few_commits_as_the_batch_limit_allows(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, container: Any
) -> None:
    from compliance_shield.observability.metrics import COMMIT_BATCH_SIZE

    def commits() -> float:
        return next(s.value for m in COMMIT_BATCH_SIZE.collect() for s in m.samples if s.name.endswith("_count"))

    token = await make_token(client, admin, await publish_document(client, admin, policy_document(RULES)))
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 10_000)
    items = [transfer(token["id"], seller_address, random_address(), 1) for _ in range(600)]
    before = commits()
    response = await client.post(
        "/v1/compliance/transfer-check/batch?view=summary", json={"transfers": items}, headers=checker
    )
    assert response.status_code == 200
    assert len(response.json()["results"]) == 600
    limit = container.decisions.max_batch
    assert commits() - before <= -(-600 // limit) + 1  # one more when a single check was queued first
