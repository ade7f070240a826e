"""End to end with the external providers wired (vendors behind a mock transport, Redis real):
wallet risk, monitoring, KYC pulls and webhooks — and an unavailable provider never approves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from provider_env import WEBHOOK_SECRET, Env, build_env, check, codes, event, post_webhook, scene
from support import Headers, transfer, unique
from vendors import KYT, Vendors

from compliance_shield.adapters.ballerine import sign

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def env(database_url: str, redis_url: str) -> AsyncIterator[Env]:
    async for built in build_env(database_url, redis_url, Vendors()):
        yield built


@pytest.fixture(scope="module")
async def kyt_env(database_url: str, redis_url: str) -> AsyncIterator[Env]:
    async for built in build_env(
        database_url,
        redis_url,
        Vendors(),
        chainalysis_kyt_api_key="k-key",
        chainalysis_kyt_base_url=KYT,
        kyt_poll_seconds=0.05,
    ):
        yield built


@pytest.fixture(autouse=True)
def vendors_up(env: Env, kyt_env: Env) -> None:
    for vendors in (env.vendors, kyt_env.vendors):
        vendors.down.clear()
        vendors.slow.clear()
        vendors.marble_outcome = "approve"


async def test_all_providers_clear_the_transfer(env: Env, admin: Headers, checker: Headers) -> None:
    token, seller, buyer = await scene(env, admin)
    body = await check(env, checker, transfer(token["id"], seller, buyer, 10))
    assert body["status"] == "APPROVED", body["reasons"]
    rules = {r["rule"]: r for r in body["rules"]}
    assert rules["wallet_risk"]["details"] == {"sources": ["wallet_labels", "chainalysis-sanctions"]}
    assert rules["external_monitoring"]["details"]["outcome"] == "approve"
    stored = await env.client.get(f"/v1/compliance/checks/{body['id']}", headers=checker)
    assert stored.json()["status"] == "APPROVED"


async def test_with_chainalysis_down_the_transfer_is_escalated_never_approved(
    env: Env, admin: Headers, checker: Headers
) -> None:
    token, seller, buyer = await scene(env, admin)
    env.vendors.down.add("chainalysis")
    body = await check(env, checker, transfer(token["id"], seller, buyer, 10))
    assert body["status"] == "ESCALATED"
    assert "EVIDENCE_UNAVAILABLE" in codes(body)
    assert body["restriction_code"] == 22
    wallet = next(r for r in body["rules"] if r["rule"] == "wallet_risk")
    assert wallet["result"] == "error"


async def test_a_slow_provider_times_out_into_an_escalation(env: Env, admin: Headers, checker: Headers) -> None:
    token, seller, buyer = await scene(env, admin)
    env.vendors.slow.add("marble")
    body = await check(env, checker, transfer(token["id"], seller, buyer, 10))
    assert body["status"] == "ESCALATED"
    monitoring = next(r for r in body["rules"] if r["rule"] == "external_monitoring")
    assert (monitoring["result"], monitoring["code"]) == ("error", "EVIDENCE_UNAVAILABLE")


async def test_a_chainalysis_identification_rejects(env: Env, admin: Headers, checker: Headers) -> None:
    token, seller, buyer = await scene(env, admin)
    env.vendors.sanctioned[buyer] = "SANCTIONS: OFAC SDN Example Mixer"
    body = await check(env, checker, transfer(token["id"], seller, buyer, 10))
    assert body["status"] == "REJECTED"
    assert "WALLET_RISK_HIGH" in codes(body)
    assert "OFAC SDN Example Mixer" in next(r["message"] for r in body["reasons"] if r["code"] == "WALLET_RISK_HIGH")


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [("decline", "REJECTED", "MONITORING_DECLINED"), ("block_and_review", "ESCALATED", "MONITORING_REVIEW")],
)
async def test_marble_outcomes_map_through_external_monitoring(
    env: Env, admin: Headers, checker: Headers, outcome: str, status: str, code: str
) -> None:
    token, seller, buyer = await scene(env, admin)
    env.vendors.marble_outcome = outcome
    body = await check(env, checker, transfer(token["id"], seller, buyer, 10))
    assert body["status"] == status
    assert code in codes(body)


async def test_kyt_pending_escalates_until_its_alerts_arrive(kyt_env: Env, admin: Headers, checker: Headers) -> None:
    token, seller, buyer = await scene(kyt_env, admin)
    kyt_env.vendors.kyt_processed = False
    first = await check(kyt_env, checker, transfer(token["id"], seller, buyer, 10))
    assert first["status"] == "ESCALATED"
    assert "WALLET_RISK_PENDING" in codes(first)

    kyt_env.vendors.kyt_alerts = [
        {"alertLevel": "HIGH", "category": "gambling", "service": "Casino", "exposureType": "INDIRECT"}
    ]
    kyt_env.vendors.kyt_processed = True
    kyt = kyt_env.container.providers.kyt
    assert kyt is not None
    for _ in range(100):
        if await kyt.poll_once() == 0 and not kyt._pending:
            break
        await asyncio.sleep(0.02)
    again = await check(kyt_env, checker, transfer(token["id"], seller, buyer, 10))
    assert again["status"] == "ESCALATED"
    assert codes(again) == {"WALLET_RISK_REVIEW"}


async def test_kyc_pull_refreshes_a_stale_answer_and_the_cache_serves_the_next(
    env: Env, admin: Headers, checker: Headers, database_url: str
) -> None:
    end_user = unique("eu")
    env.vendors.end_users[end_user] = "REJECTED"
    token, seller, buyer = await scene(env, admin, kyc_provider="ballerine", kyc_provider_ref=end_user)
    calls = env.vendors.calls["ballerine"]
    body = await check(env, checker, transfer(token["id"], seller, buyer, 10))
    assert body["status"] == "REJECTED"
    assert "KYC_NOT_VERIFIED" in codes(body)
    assert env.vendors.calls["ballerine"] == calls + 1
    again = await check(env, checker, transfer(token["id"], seller, buyer, 11))
    assert again["status"] == "REJECTED"
    assert env.vendors.calls["ballerine"] == calls + 1  # a fresh cached answer: no call
    # the registry follows the provider (in the background, audited)
    wallet = await env.client.get(f"/v1/wallets/{buyer}", headers=admin)
    investor_id = wallet.json()["investor_id"]
    for _ in range(100):
        investor = (await env.client.get(f"/v1/investors/{investor_id}", headers=admin)).json()
        if investor["kyc_status"] == "rejected":
            break
        await asyncio.sleep(0.02)
    assert investor["kyc_status"] == "rejected"
    conn = await asyncpg.connect(database_url)
    try:
        actions = await conn.fetch(
            "SELECT actor, payload FROM audit_log WHERE entity_id = $1 AND action = 'investor.kyc_updated'", investor_id
        )
    finally:
        await conn.close()
    assert [a["actor"] for a in actions] == ["provider:ballerine"]


async def test_kyc_provider_down_without_a_cached_answer_escalates(env: Env, admin: Headers, checker: Headers) -> None:
    end_user = unique("eu")
    env.vendors.end_users[end_user] = "APPROVED"
    token, seller, buyer = await scene(env, admin, kyc_provider="ballerine", kyc_provider_ref=end_user)
    env.vendors.down.add("ballerine")
    body = await check(env, checker, transfer(token["id"], seller, buyer, 10))
    assert body["status"] == "ESCALATED"
    kyc = next(r for r in body["rules"] if r["rule"] == "kyc_verified")
    assert (kyc["result"], kyc["code"]) == ("error", "EVIDENCE_UNAVAILABLE")


async def test_webhook_updates_kyc_through_the_audited_registry(env: Env, admin: Headers, checker: Headers) -> None:
    ref = unique("INV")
    token, seller, buyer = await scene(env, admin, external_ref=ref, kyc_status="pending")
    assert (await check(env, checker, transfer(token["id"], seller, buyer, 10)))["status"] == "REJECTED"

    now = datetime.now(UTC)
    body = event(ref, "approved", at=now, entity=unique("eu"))
    response = await post_webhook(env, body, sign(body, WEBHOOK_SECRET))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "applied"
    assert response.json()["kyc_status"] == "verified"
    approved = await check(env, checker, transfer(token["id"], seller, buyer, 10))
    assert approved["status"] == "APPROVED", approved["reasons"]

    replay = await post_webhook(env, body, sign(body, WEBHOOK_SECRET))
    assert replay.json()["status"] == "duplicate"  # the same event again changes nothing
    older = event(ref, "rejected", at=now - timedelta(minutes=5))
    assert (await post_webhook(env, older, sign(older, WEBHOOK_SECRET))).json()["status"] == "stale"
    investor = (await env.client.get(f"/v1/investors/{response.json()['investor_id']}", headers=admin)).json()
    assert investor["kyc_status"] == "verified"
    assert investor["kyc_provider"] == "ballerine"

    newer = event(ref, "rejected", at=now + timedelta(seconds=1))
    assert (await post_webhook(env, newer, sign(newer, WEBHOOK_SECRET))).json()["status"] == "applied"
    assert (await check(env, checker, transfer(token["id"], seller, buyer, 10)))["status"] == "REJECTED"


@pytest.mark.parametrize("signature", [None, "", "0" * 64, "not-hex", "wrong-secret"])
async def test_webhook_with_a_bad_signature_is_refused(env: Env, signature: str | None) -> None:
    body = event("INV-unknown", "approved", at=datetime.now(UTC))
    if signature == "wrong-secret":
        signature = sign(body, "another-secret")
    response = await post_webhook(env, body, signature)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"


async def test_webhook_signed_but_malformed_or_unknown(env: Env) -> None:
    body = b'{"eventName": "workflow.completed", "timestamp": "not a time"}'
    response = await post_webhook(env, body, sign(body, WEBHOOK_SECRET))
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "timestamp"

    body = event("INV-does-not-exist", "approved", at=datetime.now(UTC))
    response = await post_webhook(env, body, sign(body, WEBHOOK_SECRET))
    assert response.status_code == 404
    assert response.json()["error"]["details"][0]["field"] == "correlationId"

    body = event("INV-x", "approved", at=datetime.now(UTC), eventName="workflow.context_document_changed")
    response = await post_webhook(env, body, sign(body, WEBHOOK_SECRET))
    assert response.json()["status"] == "ignored"


async def test_webhook_is_refused_when_no_secret_is_configured(client: httpx.AsyncClient) -> None:
    body = event("INV-1", "approved", at=datetime.now(UTC))
    response = await client.post("/v1/webhooks/ballerine", content=body, headers={"X-HMAC-Signature": sign(body, "")})
    assert response.status_code == 401
