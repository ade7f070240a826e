"""Vendor adapters against ``httpx.MockTransport`` speaking each vendor's documented shapes:
success, timeout, 5xx, malformed payload, wrong signature, and the breaker opening and recovering."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from compliance_shield.adapters.ballerine import BallerineClient, parse_event, sign, verify_signature
from compliance_shield.adapters.chainalysis import KytClient, SanctionsClient
from compliance_shield.adapters.marble import MarbleClient
from compliance_shield.adapters.resilience import (
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    ProviderFailure,
    Resilient,
    RetryPolicy,
)
from compliance_shield.domain.values import KycStatus
from compliance_shield.errors import ValidationFailed

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]
TORNADO = "0x8589427373d6d84e98730d7795d8f6f8731fda16"


async def no_sleep(_: float) -> None:
    return None


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def resilient(provider: str, *, retries: int = 2, timeout: float = 0.2, clock: Clock | None = None) -> Resilient:
    breaker = CircuitBreaker(provider, failure_threshold=3, reset_after=10, clock=clock or Clock())
    return Resilient(
        provider, RetryPolicy(timeout=timeout, retries=retries), breaker, sleep=no_sleep, rng=random.Random(3)
    )


class Vendor:
    """A scripted vendor: answers from a queue of responses (or a default), records requests."""

    def __init__(self, default: Callable[[httpx.Request], httpx.Response]) -> None:
        self.default = default
        self.script: list[Callable[[httpx.Request], httpx.Response] | str] = []
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0) if self.script else self.default
        if step == "hang":
            await asyncio.sleep(5)
        if step == "drop":
            raise httpx.ConnectError("connection refused", request=request)
        assert callable(step)
        return step(request)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


def ok(body: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _request: httpx.Response(200, json=body)


def status(code: int, text: str = "") -> Callable[[httpx.Request], httpx.Response]:
    return lambda _request: httpx.Response(code, text=text)


# -- Chainalysis sanctions -------------------------------------------------------------------

SANCTIONED = {
    "identifications": [
        {
            "category": "sanctions",
            "name": "SANCTIONS: OFAC SDN Tornado Cash 2022-08-08 8589427373D6D84E98730D7795D8F6F8731FDA16",
            "description": "Tornado Cash is a mixer …",
            "url": "https://home.treasury.gov/news/press-releases/jy0916",
        }
    ]
}


async def test_sanctions_screening_maps_identifications_and_sends_the_api_key() -> None:
    vendor = Vendor(ok(SANCTIONED))
    async with vendor.client() as http:
        client = SanctionsClient(http, "https://public.chainalysis.test", "key-1", resilient("chainalysis"))
        signals = await client.screen(TORNADO)
    request = vendor.requests[0]
    assert request.method == "GET"
    assert request.url.path == f"/api/v1/address/{TORNADO}"
    assert request.headers["X-API-Key"] == "key-1"
    assert len(signals) == 1
    assert signals[0].category == "sanctions"
    assert signals[0].level == "severe"
    assert signals[0].kind == "identification"
    assert "Tornado" in (signals[0].name or "")


async def test_sanctions_screening_of_a_clean_address_is_empty() -> None:
    vendor = Vendor(ok({"identifications": []}))
    async with vendor.client() as http:
        client = SanctionsClient(http, "https://x.test", "k", resilient("chainalysis"))
        assert await client.screen("0x" + "11" * 20) == ()


@pytest.mark.parametrize("failure", [status(503), status(500), "drop", "hang"])
async def test_sanctions_screening_retries_transient_failures(failure: Any) -> None:
    vendor = Vendor(ok({"identifications": []}))
    vendor.script = [failure]
    async with vendor.client() as http:
        client = SanctionsClient(http, "https://x.test", "k", resilient("chainalysis", timeout=0.05))
        assert await client.screen(TORNADO) == ()
    assert len(vendor.requests) == 2


@pytest.mark.parametrize(
    "answer",
    [
        ok({"unexpected": True}),
        ok(["not", "an", "object"]),
        ok({"identifications": ["x"]}),
        lambda _r: httpx.Response(200, text="<html>gateway</html>"),
        status(403),
        status(404),
    ],
)
async def test_sanctions_screening_refuses_answers_it_cannot_use(answer: Any) -> None:
    vendor = Vendor(answer)
    async with vendor.client() as http:
        client = SanctionsClient(http, "https://x.test", "k", resilient("chainalysis"))
        with pytest.raises(ProviderFailure):
            await client.screen(TORNADO)
    assert len(vendor.requests) == 1  # a malformed payload or a 4xx is not worth repeating


async def test_the_breaker_opens_on_an_outage_and_recovers_when_the_vendor_is_back() -> None:
    clock = Clock()
    vendor = Vendor(status(502))
    async with vendor.client() as http:
        client = SanctionsClient(http, "https://x.test", "k", resilient("chainalysis", retries=0, clock=clock))
        for _ in range(3):
            with pytest.raises(ProviderFailure):
                await client.screen(TORNADO)
        with pytest.raises(CircuitOpen):
            await client.screen(TORNADO)
        assert len(vendor.requests) == 3
        vendor.default = ok({"identifications": []})
        clock.now += 11
        assert await client.screen(TORNADO) == ()
        assert client._resilient.breaker.state is BreakerState.CLOSED


# -- Chainalysis KYT -------------------------------------------------------------------------


def kyt_vendor(processed: bool, alerts: list[dict[str, Any]]) -> Vendor:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            return httpx.Response(202, json={**body, "updatedAt": None, "externalId": "e27adb25-7344-3ae3"})
        if request.url.path.endswith("/alerts"):
            return httpx.Response(200, json={"alerts": alerts})
        return httpx.Response(
            200,
            json={
                "externalId": "e27adb25-7344-3ae3",
                "asset": "ETH",
                "updatedAt": "2026-03-02T10:00:05Z" if processed else None,
            },
        )

    return Vendor(answer)


async def test_kyt_registers_a_withdrawal_attempt_in_the_documented_shape() -> None:
    vendor = kyt_vendor(False, [])
    async with vendor.client() as http:
        client = KytClient(http, "https://api.chainalysis.test", "kyt-key", resilient("chainalysis"))
        registration = await client.register_withdrawal(
            "investor-1", TORNADO, "attempt-1", Decimal("12.5"), datetime(2026, 3, 2, tzinfo=UTC)
        )
    request = vendor.requests[0]
    assert request.url.path == "/api/kyt/v2/users/investor-1/withdrawal-attempts"
    assert request.headers["Token"] == "kyt-key"
    assert json.loads(request.content) == {
        "network": "Ethereum",
        "asset": "ETH",
        "address": TORNADO,
        "attemptIdentifier": "attempt-1",
        "assetAmount": 12.5,
        "attemptTimestamp": "2026-03-02T00:00:00+00:00",
    }
    assert registration.external_id == "e27adb25-7344-3ae3"


async def test_kyt_is_pending_until_processed_then_maps_alert_levels() -> None:
    alerts = [
        {
            "alertLevel": "SEVERE",
            "category": "sanctioned entity",
            "service": "Tornado.cash",
            "externalId": "a1",
            "alertAmount": 5000.0,
            "exposureType": "DIRECT",
        },
        {"alertLevel": "LOW", "category": "exchange", "service": "Binance", "exposureType": "INDIRECT"},
    ]
    async with kyt_vendor(False, alerts).client() as http:
        client = KytClient(http, "https://k.test", "k", resilient("chainalysis"))
        assert (await client.result("e27adb25-7344-3ae3", TORNADO)).processed is False
    async with kyt_vendor(True, alerts).client() as http:
        client = KytClient(http, "https://k.test", "k", resilient("chainalysis"))
        result = await client.result("e27adb25-7344-3ae3", TORNADO)
    assert result.processed
    assert [(s.level, s.category, s.kind) for s in result.signals] == [
        ("severe", "sanctioned_entity", "alert"),
        ("low", "exchange", "alert"),
    ]


async def test_kyt_registration_is_not_retried_and_malformed_alerts_are_refused() -> None:
    vendor = Vendor(status(503))
    async with vendor.client() as http:
        client = KytClient(http, "https://k.test", "k", resilient("chainalysis"))
        with pytest.raises(ProviderFailure):
            await client.register_withdrawal("u", TORNADO, "a", Decimal(1), datetime(2026, 1, 1, tzinfo=UTC))
    assert len(vendor.requests) == 1
    async with kyt_vendor(True, [{"alertLevel": "CATASTROPHIC"}]).client() as http:
        client = KytClient(http, "https://k.test", "k", resilient("chainalysis"))
        with pytest.raises(ProviderFailure, match="alertLevel"):
            await client.result("e1", TORNADO)


# -- Marble ----------------------------------------------------------------------------------

DECISION = {
    "id": "0c6d3f9e-2a41-4bd5-9d0a-3f3c7e1b2a10",
    "created_at": "2026-03-02T10:00:00Z",
    "app_link": "https://app.checkmarble.com/decisions/0c6d3f9e",
    "outcome": "block_and_review",
    "review_status": "pending",
    "score": 65,
    "scenario": {"id": "5d1f0a2e", "name": "Token transfers", "description": "", "version": 3},
    "rules": [{"name": "velocity", "score_modifier": 40, "result": True}],
    "trigger_object": {"object_id": "t-1"},
}


async def test_marble_decision_request_and_answer() -> None:
    vendor = Vendor(ok(DECISION))
    async with vendor.client() as http:
        client = MarbleClient(http, "https://api.marble.test", "m-key", "scenario-1", resilient("marble"))
        evidence = await client.decide({"object_id": "t-1", "updated_at": "2026-03-02T10:00:00Z"})
    request = vendor.requests[0]
    assert (request.method, request.url.path) == ("POST", "/v1/decisions")
    assert request.headers["X-API-Key"] == "m-key"
    assert json.loads(request.content) == {
        "scenario_id": "scenario-1",
        "object_type": "transfers",
        "trigger_object": {"object_id": "t-1", "updated_at": "2026-03-02T10:00:00Z"},
    }
    assert (evidence.outcome, evidence.score, evidence.decision_id) == ("block_and_review", 65, DECISION["id"])
    assert evidence.scenario == "Token transfers"


@pytest.mark.parametrize(
    "answer",
    [
        status(500),
        ok({**DECISION, "outcome": "maybe"}),
        ok({**DECISION, "score": "high"}),
        lambda _r: httpx.Response(200, text="not json"),
    ],
)
async def test_marble_failures_are_not_retried(answer: Any) -> None:
    vendor = Vendor(answer)
    async with vendor.client() as http:
        client = MarbleClient(http, "https://m.test", "k", "s", resilient("marble"))
        with pytest.raises(ProviderFailure):
            await client.decide({"object_id": "t", "updated_at": "2026-01-01T00:00:00Z"})
    assert len(vendor.requests) == 1  # creating a decision is not idempotent


async def test_marble_timeout_is_a_failure() -> None:
    vendor = Vendor(ok(DECISION))
    vendor.script = ["hang"]
    async with vendor.client() as http:
        client = MarbleClient(http, "https://m.test", "k", "s", resilient("marble", timeout=0.05))
        with pytest.raises(ProviderFailure) as raised:
            await client.decide({"object_id": "t", "updated_at": "2026-01-01T00:00:00Z"})
    assert raised.value.outcome == "timeout"


# -- Ballerine -------------------------------------------------------------------------------


def completed(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "webhook-1",
        "eventName": "workflow.completed",
        "apiVersion": 1,
        "timestamp": "2026-03-02T10:00:00.000Z",
        "workflowCreatedAt": "2026-03-01T09:00:00.000Z",
        "workflowResolvedAt": "2026-03-02T09:59:00.000Z",
        "workflowDefinitionId": "kyc_email_session_example",
        "workflowRuntimeId": "clt0runtime",
        "workflowStatus": "completed",
        "workflowFinalState": "approved",
        "ballerineEntityId": "clt0enduser",
        "correlationId": "INV-0001",
        "environment": "production",
        "data": {"entity": {"type": "individual", "data": {"firstName": "Asha"}}},
        **overrides,
    }


def test_signature_is_hmac_sha256_hex_of_the_raw_body() -> None:
    body = json.dumps(completed()).encode()
    signature = sign(body, "whsec")
    assert len(signature) == 64
    assert verify_signature(body, signature, "whsec")
    assert verify_signature(body, signature.upper(), "whsec")
    assert verify_signature(body, "sha256=" + signature, "whsec")
    assert not verify_signature(body, signature, "other-secret")
    assert not verify_signature(body + b" ", signature, "whsec")
    assert not verify_signature(body, None, "whsec")
    assert not verify_signature(body, signature, "")


@pytest.mark.parametrize(
    ("payload", "status_"),
    [
        (completed(), KycStatus.VERIFIED),
        (completed(workflowFinalState="rejected"), KycStatus.REJECTED),
        (completed(workflowFinalState="manual_review"), KycStatus.PENDING),
        (completed(workflowFinalState=None, workflowStatus="failed"), KycStatus.PENDING),
        (completed(eventName="workflow.state.changed", state="approved", workflowFinalState=None), KycStatus.VERIFIED),
        (completed(eventName="workflow.state.changed", state="declined"), KycStatus.REJECTED),
        (completed(eventName="workflow.state.changed", state="collection_flow"), KycStatus.PENDING),
    ],
)
def test_workflow_events_map_to_kyc_status(payload: dict[str, Any], status_: KycStatus) -> None:
    event = parse_event(json.dumps(payload).encode())
    assert event.status is status_
    assert (event.correlation_id, event.entity_id) == ("INV-0001", "clt0enduser")
    assert event.occurred_at == datetime(2026, 3, 2, 10, tzinfo=UTC)


def test_other_events_are_ignored() -> None:
    event = parse_event(json.dumps(completed(eventName="workflow.context_document_changed")).encode())
    assert event.status is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (json.dumps(completed(timestamp="yesterday")).encode(), "timestamp"),
        (json.dumps({k: v for k, v in completed().items() if k != "eventName"}).encode(), "eventName"),
        (json.dumps(completed(correlationId=None)).encode(), "correlationId"),
        (json.dumps(completed(eventName="workflow.state.changed")).encode(), "state"),
        # without its id a redelivery could not be recognised
        (json.dumps(completed(id=None)).encode(), "id"),
        (json.dumps(completed(id="")).encode(), "id"),
        # a time without a zone cannot be ordered against ours
        (json.dumps(completed(timestamp="2026-03-02T10:00:00")).encode(), "timestamp"),
        (json.dumps(completed(correlationId="INV\u0000-1")).encode(), "correlationId"),
        (json.dumps(completed(id="evt\u0000")).encode(), "id"),
    ],
)
def test_malformed_webhooks_name_the_field(body: bytes, field: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_event(body)
    assert raised.value.field == field


async def test_pull_client_reads_the_end_user_approval_state() -> None:
    vendor = Vendor(
        ok(
            {
                "id": "clt0enduser",
                "correlationId": "INV-0001",
                "approvalState": "APPROVED",
                "firstName": "Asha",
                "lastName": "Rao",
            }
        )
    )
    async with vendor.client() as http:
        client = BallerineClient(http, "https://ballerine.test", "b-key", resilient("ballerine"))
        answer = await client.end_user("clt0enduser")
    request = vendor.requests[0]
    assert request.url.path == "/api/v1/external/end-users/clt0enduser"
    assert request.headers["Authorization"] == "Bearer b-key"
    assert (answer.status, answer.correlation_id) == (KycStatus.VERIFIED, "INV-0001")


@pytest.mark.parametrize(
    ("state", "expected"),
    [("REJECTED", KycStatus.REJECTED), ("PROCESSING", KycStatus.PENDING), ("NEW", KycStatus.PENDING)],
)
async def test_pull_client_maps_each_approval_state(state: str, expected: KycStatus) -> None:
    async with Vendor(ok({"id": "u", "approvalState": state})).client() as http:
        client = BallerineClient(http, "https://b.test", "k", resilient("ballerine"))
        assert (await client.end_user("u")).status is expected


@pytest.mark.parametrize("answer", [ok({"id": "u"}), ok({"approvalState": "APPROVED"}), status(404)])
async def test_pull_client_refuses_unusable_answers(answer: Any) -> None:
    async with Vendor(answer).client() as http:
        client = BallerineClient(http, "https://b.test", "k", resilient("ballerine"))
        with pytest.raises(ProviderFailure):
            await client.end_user("u")


async def test_pull_client_retries_a_5xx_and_times_out_a_hang() -> None:
    vendor = Vendor(ok({"id": "u", "approvalState": "APPROVED"}))
    vendor.script = [status(502)]
    async with vendor.client() as http:
        client = BallerineClient(http, "https://b.test", "k", resilient("ballerine", timeout=0.05))
        assert (await client.end_user("u")).status is KycStatus.VERIFIED
        vendor.script = ["hang", "hang", "hang"]
        with pytest.raises(ProviderFailure) as raised:
            await client.end_user("u")
    assert raised.value.outcome == "timeout"
