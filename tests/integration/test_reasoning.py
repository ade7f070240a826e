"""AI-drafted reasoning against a real local HTTP server speaking the chat-completions protocol.

The server answers as xAI's API does (a recorded completion), or malformed, slowly, or with 429 —
whatever the test queues. The service runs on a database of its own, so a pass sees only the
cases of these tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from chat_server import NARRATIVE, ChatServer, ok, raw, recorded_completion, serving, slow
from conftest import TEST_SECRET, bearer
from starlette.responses import Response
from support import Headers, hold, make_party, make_token, policy_document, publish_document, transfer

from compliance_shield.api.app import create_app
from compliance_shield.bootstrap import Container, build_container
from compliance_shield.db import migrate
from compliance_shield.domain import encoding
from compliance_shield.services.cases.reasoning import PROMPT_VERSION, ReasoningService
from compliance_shield.settings import AppEnv, Settings
from compliance_shield.workers.reasoning import reasoning_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def chat_server() -> AsyncIterator[ChatServer]:
    async with serving() as server:
        yield server


@pytest.fixture(scope="module")
async def own(new_database: Callable[[], str]) -> AsyncIterator[tuple[Container, httpx.AsyncClient, Settings]]:
    """A container and API client on a database of these tests' own."""
    url = new_database()
    migrate.upgrade(url)
    settings = Settings(app_env=AppEnv.TEST, jwt_secret=TEST_SECRET, database_url=url)
    container = await build_container(settings, url=url, migrate=False)
    try:
        app = create_app(settings, container=container)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reasoning") as client:
            yield container, client, settings
    finally:
        await container.close()


@pytest.fixture
async def service(
    own: tuple[Container, httpx.AsyncClient, Settings], chat_server: ChatServer
) -> AsyncIterator[ReasoningService]:
    container, _, _ = own
    settings = Settings(
        app_env=AppEnv.TEST, jwt_secret=TEST_SECRET, enable_ai_reasoning=True, grok_api_key="xai-test-key",
        grok_base_url=chat_server.url, grok_model="grok-4", grok_timeout_ms=300, grok_retries=1,
        grok_send_fields="countries",
    )  # fmt: skip
    async with httpx.AsyncClient() as http:
        drafted = reasoning_service(settings, container.pool, http)
        chat_server.script.clear()
        await drafted.run_pass(limit=1000)  # earlier tests' cases get their narrative now: each test sees its own
        chat_server.requests.clear()
        yield drafted


async def escalated_case(own: tuple[Container, httpx.AsyncClient, Settings]) -> dict[str, Any]:
    """A transfer to a PEP (named, so the test can look for the name in what was sent)."""
    container, client, settings = own
    admin = bearer(settings, "admin", sub="admin")
    checker = bearer(settings, "checker", sub="platform")
    token = await make_token(client, admin, await publish_document(client, admin, policy_document(
        [{"rule": "wallet_bound"}, {"rule": "pep_review"}, {"rule": "sufficient_balance"}])))  # fmt: skip
    seller, a = await make_party(client, admin, name="Asha Raman")
    await hold(client, admin, token["id"], seller["id"], 100)
    _, b = await make_party(client, admin, pep=True, name="Vikram Sethi", country="AE")
    check = (
        await client.post("/v1/compliance/transfer-check", json=transfer(token["id"], a, b, 5), headers=checker)
    ).json()
    assert check["status"] == "ESCALATED"
    await container.cases.open_escalated()
    return dict((await client.get(f"/v1/cases/by-check/{check['id']}", headers=admin)).json())


async def case_detail(own: tuple[Container, httpx.AsyncClient, Settings], case_id: str) -> dict[str, Any]:
    _, client, settings = own
    headers: Headers = bearer(settings, "analyst", sub="analyst")
    return dict((await client.get(f"/v1/cases/{case_id}", headers=headers)).json())


async def test_a_recorded_answer_is_stored_with_model_prompt_version_and_inputs_hash(
    own: tuple[Container, httpx.AsyncClient, Settings], service: ReasoningService, chat_server: ChatServer
) -> None:
    case = await escalated_case(own)
    result = await service.run_pass()
    assert (result.drafted, result.failed) == (1, 0)
    detail = await case_detail(own, case["id"])
    stored = detail["narrative"]
    assert stored["narrative"] == NARRATIVE
    assert stored["model"] == "grok-4-0709"
    assert stored["prompt_version"] == PROMPT_VERSION
    assert len(stored["inputs_sha256"]) == 64
    assert stored["sent_fields"] == ["countries"]
    assert detail["history"][-1]["action"] == "case.narrative_drafted"

    sent = chat_server.requests[-1]
    assert sent["headers"]["authorization"] == "Bearer xai-test-key"
    body = sent["body"]
    assert body["model"] == "grok-4"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["additionalProperties"] is False
    prompt = body["messages"][1]["content"]
    # PII minimisation: countries were allowed, names and addresses were not
    assert "AE" in prompt
    assert "Vikram" not in prompt
    assert "Asha" not in prompt
    assert case["check_id"] not in prompt
    assert "PEP_REVIEW" in prompt

    # drafted once: the next pass leaves the case alone
    assert (await service.run_pass()).drafted == 0


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (raw(200, "not json at all"), "malformed answer: the body is not JSON"),
        (raw(200, encoding.dumps_text(recorded_completion('{"summary": "x"'))), "the content is not JSON"),
        (raw(200, encoding.dumps_text({"choices": []})), "no choices"),
        (ok({**NARRATIVE, "suggested_resolution": "approve it"}), "does not match the schema"),
        (raw(401, '{"error": "bad key"}'), "HTTP 401"),
    ],
)
async def test_an_unusable_answer_is_recorded_and_nothing_is_stored(
    own: tuple[Container, httpx.AsyncClient, Settings],
    service: ReasoningService,
    chat_server: ChatServer,
    answer: Callable[[], Response],
    error: str,
) -> None:
    case = await escalated_case(own)
    chat_server.script.append(answer)
    result = await service.run_pass()
    assert result.failed == 1
    detail = await case_detail(own, case["id"])
    assert detail["narrative"] is None
    failure = detail["history"][-1]
    assert failure["action"] == "case.narrative_failed"
    assert error in failure["payload"]["error"]
    await service.run_pass()  # later passes try again, up to three attempts in all
    await service.run_pass()
    assert (await case_detail(own, case["id"]))["narrative"] is not None


async def test_a_timeout_is_retried_then_recorded_and_never_blocks_the_case(
    own: tuple[Container, httpx.AsyncClient, Settings], service: ReasoningService, chat_server: ChatServer
) -> None:
    case = await escalated_case(own)
    chat_server.script += [slow(2.0), slow(2.0)]
    result = await service.run_pass()
    assert result.failed == 1
    assert len(chat_server.requests) == 2  # the first attempt and one retry (GROK_RETRIES=1)
    detail = await case_detail(own, case["id"])
    assert "timed out" in detail["history"][-1]["payload"]["error"]
    assert detail["status"] == "open"


async def test_a_429_pauses_the_worker_for_its_retry_after(
    own: tuple[Container, httpx.AsyncClient, Settings], service: ReasoningService, chat_server: ChatServer
) -> None:
    case = await escalated_case(own)
    too_many = raw(429, '{"error": "rate limit"}', {"Retry-After": "120"})
    chat_server.script += [too_many, too_many]
    result = await service.run_pass()
    assert result.failed == 1
    assert "rate limited (retry after 120 s)" in (await case_detail(own, case["id"]))["history"][-1]["payload"]["error"]
    calls = len(chat_server.requests)
    paused = await service.run_pass()
    assert paused.deferred >= 1
    assert len(chat_server.requests) == calls  # nothing sent while paused
