"""KYC provider events a wrong clock cannot break, replays that change nothing, and an officer's
override — through the webhook and the investor routes, against PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from conftest import bearer
from prometheus_client import REGISTRY
from provider_env import WEBHOOK_SECRET, Env, build_env, check, event, post_webhook, scene
from support import Headers, transfer, unique
from vendors import Vendors

from compliance_shield.adapters.ballerine import sign
from compliance_shield.db import audit
from compliance_shield.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def env(database_url: str, redis_url: str) -> AsyncIterator[Env]:
    async for built in build_env(database_url, redis_url, Vendors()):
        yield built


def webhooks(result: str) -> float:
    return REGISTRY.get_sample_value("compliance_webhooks_total", {"provider": "ballerine", "result": result}) or 0.0


async def deliver(env: Env, ref: str, state: str, at: datetime, **extra: Any) -> Any:
    body = event(ref, state, at=at, **extra)
    return await post_webhook(env, body, sign(body, WEBHOOK_SECRET))


async def verified_party(env: Env, admin: Headers) -> tuple[dict[str, Any], str, str, str]:
    """A token, a funded seller and a KYC-verified buyer known to Ballerine by ``ref``."""
    ref = unique("INV")
    token, seller, buyer = await scene(env, admin, external_ref=ref, kyc_status="pending")
    assert (await deliver(env, ref, "approved", datetime.now(UTC))).json()["status"] == "applied"
    return token, seller, buyer, ref


async def test_a_future_dated_event_is_refused_and_a_genuine_rejection_still_applies(
    env: Env, admin: Headers, checker: Headers
) -> None:
    token, seller, buyer, ref = await verified_party(env, admin)
    before = webhooks("future_dated")
    refused = await deliver(env, ref, "approved", datetime(2030, 1, 1, tzinfo=UTC))
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "EVENT_TIME_OUT_OF_RANGE"
    assert refused.json()["error"]["details"][0]["field"] == "timestamp"
    assert webhooks("future_dated") == before + 1

    rejected = await deliver(env, ref, "rejected", datetime.now(UTC))
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "applied"
    assert rejected.json()["kyc_status"] == "rejected"
    body = await check(env, checker, transfer(token["id"], seller, buyer, 10))
    assert body["status"] == "REJECTED"


async def test_an_event_within_the_clock_skew_applies(env: Env, admin: Headers) -> None:
    _, _, _, ref = await verified_party(env, admin)
    ahead = await deliver(env, ref, "rejected", datetime.now(UTC) + timedelta(minutes=2))
    assert ahead.json()["status"] == "applied"


async def test_an_event_older_than_the_horizon_is_refused_even_with_nothing_newer(env: Env, admin: Headers) -> None:
    ref = unique("INV")
    _, _, buyer = await scene(env, admin, external_ref=ref, kyc_status="pending")
    before = webhooks("too_old")
    old = await deliver(env, ref, "approved", datetime(2019, 6, 1, tzinfo=UTC))
    assert old.status_code == 422
    assert old.json()["error"]["code"] == "EVENT_TIME_OUT_OF_RANGE"
    assert webhooks("too_old") == before + 1
    investor_id = (await env.client.get(f"/v1/wallets/{buyer}", headers=admin)).json()["investor_id"]
    assert (await env.client.get(f"/v1/investors/{investor_id}", headers=admin)).json()["kyc_status"] == "pending"


async def test_a_redelivered_event_is_a_duplicate_whatever_it_says(env: Env, admin: Headers) -> None:
    _, _, _, ref = await verified_party(env, admin)
    event_id = unique("evt")
    now = datetime.now(UTC)
    first = await deliver(env, ref, "rejected", now, event_id=event_id)
    assert first.json()["status"] == "applied"
    before = webhooks("duplicate")
    # the same id again — even dated later and saying something else — changes nothing
    again = await deliver(env, ref, "approved", now + timedelta(seconds=30), event_id=event_id)
    assert again.status_code == 200
    assert again.json() | {"investor_id": None} == {
        "status": "duplicate",
        "event": "workflow.completed",
        "event_id": event_id,
        "investor_id": None,
        "kyc_status": "rejected",
        "event_kyc_status": "verified",
    }
    assert webhooks("duplicate") == before + 1


async def test_a_stale_answer_states_the_investors_status_not_the_events(env: Env, admin: Headers) -> None:
    _, _, _, ref = await verified_party(env, admin)
    older = await deliver(env, ref, "rejected", datetime.now(UTC) - timedelta(hours=1))
    assert older.json()["status"] == "stale"
    assert older.json()["kyc_status"] == "verified"
    assert older.json()["event_kyc_status"] == "rejected"


async def test_a_malformed_signed_webhook_is_counted(env: Env) -> None:
    before = webhooks("invalid")
    body = b'{"eventName": "workflow.completed", "timestamp": "not a time"}'
    assert (await post_webhook(env, body, sign(body, WEBHOOK_SECRET))).status_code == 422
    assert webhooks("invalid") == before + 1


async def test_an_officer_sees_the_events_and_overrides_with_a_reason(
    env: Env, admin: Headers, checker: Headers, settings: Settings, database_url: str
) -> None:
    token, seller, buyer, ref = await verified_party(env, admin)
    investor_id = (await env.client.get(f"/v1/wallets/{buyer}", headers=admin)).json()["investor_id"]
    await deliver(env, ref, "rejected", datetime.now(UTC) - timedelta(hours=1))  # stale, kept in the history
    officer = bearer(settings, "officer", sub="officer-meera")

    state = await env.client.get(f"/v1/investors/{investor_id}/kyc", headers=officer)
    assert state.status_code == 200
    assert state.json()["kyc_status"] == "verified"
    assert [e["outcome"] for e in state.json()["events"]] == ["stale", "applied"]

    override = {"status": "rejected", "reason": "passport reported stolen by the issuing authority"}
    analyst = bearer(settings, "analyst")
    forbidden = await env.client.post(f"/v1/investors/{investor_id}/kyc/override", json=override, headers=analyst)
    assert forbidden.status_code == 403
    for bad, field in (({"status": "rejected"}, "reason"), ({**override, "reason": "x\x00y z"}, "reason")):
        refused = await env.client.post(f"/v1/investors/{investor_id}/kyc/override", json=bad, headers=officer)
        assert refused.status_code == 422
        assert field in str(refused.json()["error"]["details"])

    done = await env.client.post(f"/v1/investors/{investor_id}/kyc/override", json=override, headers=officer)
    assert done.status_code == 200, done.text
    assert (done.json()["kyc_status"], done.json()["kyc_provider"]) == ("rejected", "officer")
    assert (await check(env, checker, transfer(token["id"], seller, buyer, 10)))["status"] == "REJECTED"

    conn = await asyncpg.connect(database_url)
    try:
        entry = await conn.fetchrow(
            """SELECT actor, payload FROM audit_log
                WHERE action = 'investor.kyc_overridden' AND entity_id = $1""",
            investor_id,
        )
        assert (await audit.verify(conn)).ok
    finally:
        await conn.close()
    assert entry["actor"] == "officer-meera"
    assert '"passport reported stolen by the issuing authority"' in entry["payload"]

    # an event sent before the override does not undo it; one sent after it is the provider's new word
    assert (await deliver(env, ref, "approved", datetime.now(UTC) - timedelta(seconds=5))).json()["status"] == "stale"
    assert (await deliver(env, ref, "approved", datetime.now(UTC) + timedelta(seconds=1))).json()["status"] == "applied"
    assert (await check(env, checker, transfer(token["id"], seller, buyer, 10)))["status"] == "APPROVED"


async def test_an_override_unfreezes_a_status_a_mis_dated_event_left_in_the_future(
    env: Env, admin: Headers, checker: Headers, settings: Settings, database_url: str
) -> None:
    token, seller, buyer, ref = await verified_party(env, admin)
    investor_id = (await env.client.get(f"/v1/wallets/{buyer}", headers=admin)).json()["investor_id"]
    conn = await asyncpg.connect(database_url)
    try:  # as a mis-dated event applied before events were vetted would have left it
        await conn.execute("UPDATE investors SET kyc_checked_at = '2030-01-01Z' WHERE id = $1", investor_id)
    finally:
        await conn.close()
    assert (await deliver(env, ref, "rejected", datetime.now(UTC))).json()["status"] == "stale"

    officer = bearer(settings, "officer")
    override = {"status": "pending", "reason": "re-verification requested after a provider clock fault"}
    assert (
        await env.client.post(f"/v1/investors/{investor_id}/kyc/override", json=override, headers=officer)
    ).status_code == 200
    assert (await deliver(env, ref, "rejected", datetime.now(UTC) + timedelta(seconds=1))).json()["status"] == "applied"
    assert (await check(env, checker, transfer(token["id"], seller, buyer, 10)))["status"] == "REJECTED"


async def test_after_an_override_the_provider_is_not_asked(
    env: Env, admin: Headers, checker: Headers, settings: Settings
) -> None:
    end_user = unique("eu")
    env.vendors.end_users[end_user] = "APPROVED"
    token, seller, buyer = await scene(env, admin, kyc_provider="ballerine", kyc_provider_ref=end_user)
    assert (await check(env, checker, transfer(token["id"], seller, buyer, 10)))["status"] == "APPROVED"
    investor_id = (await env.client.get(f"/v1/wallets/{buyer}", headers=admin)).json()["investor_id"]
    override = {"status": "rejected", "reason": "adverse media confirmed by the compliance team"}
    officer = bearer(settings, "officer")
    assert (
        await env.client.post(f"/v1/investors/{investor_id}/kyc/override", json=override, headers=officer)
    ).status_code == 200
    calls = env.vendors.calls["ballerine"]
    body = await check(env, checker, transfer(token["id"], seller, buyer, 11))
    assert body["status"] == "REJECTED"
    assert "KYC_NOT_VERIFIED" in {r["code"] for r in body["reasons"]}
    assert env.vendors.calls["ballerine"] == calls


async def test_unknown_investor_state_is_404(env: Env, settings: Settings) -> None:
    missing = await env.client.get(
        "/v1/investors/00000000-0000-4000-8000-000000000000/kyc", headers=bearer(settings, "officer")
    )
    assert missing.status_code == 404
