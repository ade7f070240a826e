"""Every route refuses a missing, expired, unsigned (alg=none) or badly signed token, and a wrong role."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi.routing import APIRoute

from compliance_shield.api.auth import issue_token
from compliance_shield.api.routers.health import PUBLIC_PATHS
from compliance_shield.api.routers.webhooks import SIGNED_PATHS

pytestmark = pytest.mark.integration

_PARAM_VALUES = {
    "check_id": "00000000-0000-4000-8000-000000000001",
    "investor_id": "00000000-0000-4000-8000-000000000002",
    "token_id": "00000000-0000-4000-8000-000000000003",
    "policy_id": "00000000-0000-4000-8000-000000000004",
    "address": "0x" + "11" * 20,
}


def _protected_routes(app: Any) -> list[tuple[str, str, frozenset[str]]]:
    routes = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path in PUBLIC_PATHS | SIGNED_PATHS:
            continue
        roles = next(
            (getattr(d.call, "required_roles", None) for d in route.dependant.dependencies
             if getattr(d.call, "required_roles", None)),
            None,
        )  # fmt: skip
        assert roles, f"{route.path} has no role requirement"
        path = re.sub(r"\{(\w+)\}", lambda m: _PARAM_VALUES[m.group(1)], route.path)
        for method in route.methods:
            routes.append((method, path, roles))
    return routes


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _bad_tokens(secret: str, issuer: str) -> dict[str, str]:
    now = datetime.now(UTC)
    claims = {"sub": "mallory", "roles": ["admin"], "iat": int(now.timestamp()), "iss": issuer,
              "exp": int((now + timedelta(hours=1)).timestamp())}  # fmt: skip
    return {
        "expired": issue_token(secret, "mallory", ["admin"], 1, now - timedelta(hours=2), issuer),
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "wrong_secret": jwt.encode(claims, "another-secret-that-is-long-enough-0000", algorithm="HS256"),
        "not_yet_valid": jwt.encode(
            claims | {"nbf": int((now + timedelta(hours=1)).timestamp())}, secret, algorithm="HS256"
        ),
        "garbage": "not.a.jwt",
    }


async def test_every_route_requires_a_valid_token(client: httpx.AsyncClient, app: Any, settings: Any) -> None:
    bad = _bad_tokens(settings.jwt_secret_value, settings.jwt_issuer)
    for method, path, _ in _protected_routes(app):
        missing = await client.request(method, path)
        assert missing.status_code == 401, (method, path, missing.text)
        assert missing.json()["error"]["code"] == "NOT_AUTHENTICATED"
        for name, token in bad.items():
            response = await client.request(method, path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, (method, path, name, response.text)


async def test_every_route_refuses_a_role_it_does_not_admit(client: httpx.AsyncClient, app: Any, settings: Any) -> None:
    now = datetime.now(UTC)
    for method, path, roles in _protected_routes(app):
        outsider = [r for r in ("checker", "analyst", "officer") if r not in roles][:1]  # [] = no role at all
        token = issue_token(settings.jwt_secret_value, "eve", outsider, 600, now, settings.jwt_issuer)
        response = await client.request(method, path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403, (method, path, outsider, response.text)
        assert response.json()["error"]["code"] == "FORBIDDEN"


async def test_health_is_public_and_ready_reports_current(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "snapshot": "ok"}
    assert (await client.get("/openapi.json")).status_code == 200
