"""The providers' test environment: an app wired to stand-in vendors (mock transport) and a real
Redis, and the helpers the provider and KYC-event tests share."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
from conftest import TEST_SECRET
from support import Headers, hold, make_party, make_token, policy_document, publish_document, unique
from vendors import BALLERINE, CHAINALYSIS, MARBLE, Vendors

from compliance_shield.api.app import create_app
from compliance_shield.bootstrap import Container, build_container
from compliance_shield.settings import AppEnv, Settings

WEBHOOK_SECRET = "ballerine-webhook-secret-for-tests"
RULES = [
    {"rule": "wallet_bound"},
    {"rule": "kyc_verified"},
    {"rule": "sufficient_balance"},
    {"rule": "wallet_risk"},
    {"rule": "external_monitoring"},
]


class Env:
    def __init__(self, container: Container, client: httpx.AsyncClient, vendors: Vendors) -> None:
        self.container, self.client, self.vendors = container, client, vendors


async def build_env(database_url: str, redis_url: str, vendors: Vendors, **overrides: Any) -> AsyncIterator[Env]:
    settings = Settings(
        app_env=AppEnv.TEST,
        jwt_secret=TEST_SECRET,
        database_url=database_url,
        redis_url=redis_url,
        ballerine_base_url=BALLERINE,
        ballerine_api_key="b-key",
        ballerine_webhook_secret=WEBHOOK_SECRET,
        chainalysis_base_url=CHAINALYSIS,
        chainalysis_api_key="c-key",
        marble_base_url=MARBLE,
        marble_api_key="m-key",
        marble_scenario_id="scenario-1",
        provider_timeout_ms=200,
        provider_retries=1,
        provider_breaker_failures=50,
        # these tests are about the providers: a loaded test machine must not trip the Redis breaker
        **{"redis_deadline_ms": 250, **overrides},
    )
    http = httpx.AsyncClient(transport=vendors.transport())
    container = await build_container(settings, url=database_url, migrate=False, provider_http=http)
    app = create_app(settings, container=container)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield Env(container, client, vendors)
    finally:
        await container.close()
        await http.aclose()


async def scene(env: Env, admin: Headers, **receiver: Any) -> tuple[dict[str, Any], str, str]:
    """A token under a provider-aware policy, a funded seller and a buyer."""
    policy_id = await publish_document(env.client, admin, policy_document(RULES))
    token = await make_token(env.client, admin, policy_id)
    seller, seller_address = await make_party(env.client, admin)
    await hold(env.client, admin, token["id"], seller["id"], 1000)
    _, buyer = await make_party(env.client, admin, **receiver)
    return token, seller_address, buyer


async def check(env: Env, checker: Headers, body: dict[str, Any]) -> dict[str, Any]:
    response = await env.client.post("/v1/compliance/transfer-check", json=body, headers=checker)
    assert response.status_code == 200, response.text
    return dict(response.json())


def codes(body: dict[str, Any]) -> set[str]:
    return {r["code"] for r in body["reasons"]}


# -- the Ballerine webhook ---------------------------------------------------------------------


def event(
    correlation_id: str,
    state: str,
    *,
    at: datetime,
    entity: str = "clt0enduser",
    event_id: str | None = None,
    **extra: Any,
) -> bytes:
    """A signed-to-be Ballerine ``workflow.completed`` body (a fresh event id unless given)."""
    payload = {
        "id": event_id or unique("evt"),
        "eventName": "workflow.completed",
        "apiVersion": 1,
        "timestamp": at.isoformat(),
        "workflowCreatedAt": at.isoformat(),
        "workflowResolvedAt": at.isoformat(),
        "workflowDefinitionId": "kyc",
        "workflowRuntimeId": "clt0runtime",
        "workflowStatus": "completed",
        "workflowFinalState": state,
        "ballerineEntityId": entity,
        "correlationId": correlation_id,
        "environment": "production",
        "data": {},
        **extra,
    }
    return json.dumps(payload).encode()


async def post_webhook(env: Env, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-HMAC-Signature"] = signature
    return await env.client.post("/v1/webhooks/ballerine", content=body, headers=headers)
