"""The lean transfer-check endpoints answer every malformed or unauthorized request exactly as the
declared FastAPI routes do (same status, same error body), and decide the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import bearer
from starlette.routing import Route
from support import Headers, make_party, make_token, policy_document, publish_document, transfer

from compliance_shield.api import hot_path
from compliance_shield.api.app import create_app
from compliance_shield.api.auth import issue_token
from compliance_shield.bootstrap import Container

pytestmark = pytest.mark.integration

CHECK = "/v1/compliance/transfer-check"
BATCH = "/v1/compliance/transfer-check/batch"
TOKEN_ID = "00000000-0000-4000-8000-000000000001"
GOOD = transfer(TOKEN_ID, "0x" + "11" * 20, "0x" + "22" * 20, 5)


@pytest.fixture
async def declared(settings: Any, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The same app with the lean endpoints taken out: FastAPI's declared routes answer."""
    app = create_app(settings, container=container)
    lean = (hot_path.transfer_check, hot_path.transfer_check_batch)
    app.router.routes[:] = [r for r in app.router.routes if not (isinstance(r, Route) and r.endpoint in lean)]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://declared") as client:
        yield client


def _cases(settings: Any, checker: Headers) -> list[tuple[str, str, dict[str, str], bytes | None]]:
    expired = issue_token(
        settings.jwt_secret_value, "p", ["checker"], 60, datetime.now(UTC) - timedelta(hours=2), settings.jwt_issuer
    )
    json_type = {"content-type": "application/json"}
    good = httpx.Request("POST", "/", json=GOOD).content
    return [
        # (name, path, headers, body)
        ("no token", CHECK, json_type, good),
        ("basic scheme", CHECK, json_type | {"Authorization": "Basic abc"}, good),
        ("empty bearer", CHECK, json_type | {"Authorization": "Bearer "}, good),
        ("expired token", CHECK, json_type | {"Authorization": f"Bearer {expired}"}, good),
        ("garbage token", CHECK, json_type | {"Authorization": "Bearer not.a.jwt"}, good),
        ("analyst role", CHECK, json_type | bearer(settings, "analyst"), good),
        ("empty body", CHECK, json_type | checker, None),
        ("malformed JSON", CHECK, json_type | checker, b'{"amount": '),
        ("not JSON type", CHECK, {"content-type": "text/plain"} | checker, good),
        ("no content type", CHECK, checker, good),
        ("JSON array", CHECK, json_type | checker, b"[1, 2]"),
        ("unknown field", CHECK, json_type | checker, httpx.Request("POST", "/", json=GOOD | {"x": 1}).content),
        ("bad amount and view", CHECK + "?view=everything", json_type | checker,
         httpx.Request("POST", "/", json=GOOD | {"amount": "1.5"}).content),
        ("bad key", CHECK, json_type | checker | {"Idempotency-Key": "has space"}, good),
        ("long key", CHECK, json_type | checker | {"Idempotency-Key": "k" * 201}, good),
        ("unknown token", CHECK, json_type | checker, good),
        ("batch no token", BATCH, json_type, b'{"transfers": []}'),
        ("batch empty", BATCH, json_type | checker, b'{"transfers": []}'),
        ("batch bad item", BATCH + "?view=summary", json_type | checker,
         httpx.Request("POST", "/", json={"transfers": [GOOD, GOOD | {"to_address": "0x12"}]}).content),
        ("batch bad view", BATCH + "?view=", json_type | checker,
         httpx.Request("POST", "/", json={"transfers": [GOOD]}).content),
    ]  # fmt: skip


async def test_refusals_are_the_same_as_the_declared_routes(
    client: httpx.AsyncClient, declared: httpx.AsyncClient, settings: Any, checker: Headers
) -> None:
    for name, path, headers, body in _cases(settings, checker):
        lean = await client.post(path, headers=headers, content=body)
        reference = await declared.post(path, headers=headers, content=body)
        assert lean.status_code >= 400, name
        assert (lean.status_code, lean.json()) == (reference.status_code, reference.json()), name
        assert lean.headers.get("www-authenticate") == reference.headers.get("www-authenticate"), name


async def test_a_decision_has_the_same_shape_either_way(
    client: httpx.AsyncClient, declared: httpx.AsyncClient, admin: Headers, checker: Headers
) -> None:
    token = await make_token(
        client, admin, await publish_document(client, admin, policy_document([{"rule": "wallet_bound"}]))
    )
    _, seller = await make_party(client, admin)
    answers = []
    for via in (client, declared):
        _, buyer = await make_party(client, admin)
        answer = await via.post(CHECK, json=transfer(token["id"], seller, buyer, 1), headers=checker)
        assert answer.status_code == 200
        answers.append(answer.json())
    lean, reference = answers
    assert lean.keys() == reference.keys()
    assert (lean["status"], lean["reasons"]) == (reference["status"], reference["reasons"])


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", [CHECK, BATCH, "/v1/investors"])
async def test_a_body_over_the_limit_is_413_in_the_error_envelope(
    client: httpx.AsyncClient, checker: Headers, settings: Any, path: str, declared: bool
) -> None:
    oversized = b'{"x": "' + b"a" * settings.max_request_body_bytes + b'"}'

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams in
        for start in range(0, len(oversized), 65536):
            yield oversized[start : start + 65536]

    content: Any = oversized if declared else chunks()
    answer = await client.post(path, content=content, headers=checker | {"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
