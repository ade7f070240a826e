"""Builders for integration tests: each test makes its own tokens, investors and wallets."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from compliance_shield.api.app import create_app
from compliance_shield.bootstrap import Container, build_container

Headers = dict[str, str]


@contextlib.asynccontextmanager
async def server_process(
    settings: Any, database_url: str, name: str = "other"
) -> AsyncIterator[tuple[Container, httpx.AsyncClient, FastAPI]]:
    """Another server process on the same database: its own container, app and client."""
    container = await build_container(settings, url=database_url, migrate=False)
    try:
        app = create_app(settings, container=container)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}") as client:
            yield container, client, app
    finally:
        await container.close()


@contextlib.asynccontextmanager
async def app_with(settings: Any, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """An app built from ``settings`` on the shared ``container``, its lifespan run (what it opens
    on start, it closes on exit), and a client of it."""
    app = create_app(settings, container=container)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://configured") as client,
    ):
        yield client


def random_address() -> str:
    return "0x" + secrets.token_hex(20)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def publish_document(client: httpx.AsyncClient, admin: Headers, document: dict[str, Any]) -> str:
    draft = await client.post("/v1/policies", json={"document": document}, headers=admin)
    assert draft.status_code == 201, draft.text
    published = await client.post(f"/v1/policies/{draft.json()['id']}/publish", headers=admin)
    assert published.status_code == 200, published.text
    return str(draft.json()["id"])


async def publish_template(client: httpx.AsyncClient, admin: Headers, template: str) -> str:
    draft = await client.post("/v1/policies", json={"template": template}, headers=admin)
    assert draft.status_code == 201, draft.text
    published = await client.post(f"/v1/policies/{draft.json()['id']}/publish", headers=admin)
    assert published.status_code == 200, published.text
    return str(draft.json()["id"])


def policy_document(rules: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    return {
        "name": unique("test-policy"),
        "jurisdiction": "IN",
        "as_of": "2026-02-27",
        "rules": [{"source": "test fixture", **r} for r in rules],
        **overrides,
    }


async def make_token(client: httpx.AsyncClient, admin: Headers, policy_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "symbol": unique("T")[:16],
        "policy_id": policy_id,
        "decimals": 0,
        "price_per_unit": "1000",
        "price_currency": "INR",
        "blockchain_type": "permissioned",
        **overrides,
    }
    response = await client.post("/v1/tokens", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def make_party(
    client: httpx.AsyncClient, admin: Headers, *, wallet_status: str = "active", **investor: Any
) -> tuple[dict[str, Any], str]:
    """An investor (verified retail in India unless overridden) with one bound wallet."""
    body = {
        "name": unique("Investor"),
        "country": "IN",
        "nationality": "IN",
        "category": "retail",
        "kyc_status": "verified",
        "kyc_expires_at": (datetime.now(UTC) + timedelta(days=365)).isoformat(),
        **investor,
    }
    created = await client.post("/v1/investors", json=body, headers=admin)
    assert created.status_code == 201, created.text
    address = random_address()
    wallet = await client.post(
        "/v1/wallets",
        json={"address": address, "investor_id": created.json()["id"], "status": wallet_status},
        headers=admin,
    )
    assert wallet.status_code == 201, wallet.text
    return dict(created.json()), address.lower()


async def hold(
    client: httpx.AsyncClient, admin: Headers, token_id: str, investor_id: str, balance: int, **extra: Any
) -> None:
    response = await client.put(
        f"/v1/tokens/{token_id}/holdings/{investor_id}",
        json={"balance": str(balance), **extra},
        headers=admin,
    )
    assert response.status_code == 200, response.text


def transfer(token_id: str, sender: str, receiver: str, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "from_address": sender,
        "to_address": receiver,
        "amount": str(amount),
        "token_id": token_id,
        "blockchain_type": "permissioned",
        **extra,
    }
