"""Console sign-in over plain HTTP: who may sign in, where unsigned requests go, and where not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import bearer
from fastapi import FastAPI
from support import Headers

from compliance_shield.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def browserless(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of its own: the cookies it keeps stay out of the session's shared client."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console") as http:
        yield http


def token_of(headers: Headers) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def test_unsigned_pages_go_to_the_sign_in_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/console/cases")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=%2Fconsole%2Fcases"
    htmx = await client.get("/console/cases", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"].startswith("/console/login")
    assert (await client.post("/console/cases/00000000-0000-4000-8000-000000000001/confirm")).status_code == 303


@pytest.mark.parametrize("token", ["not-a-jwt", ""])
async def test_an_invalid_token_does_not_sign_in(browserless: httpx.AsyncClient, token: str) -> None:
    response = await browserless.post("/console/login", data={"token": token})
    assert response.status_code == 401
    assert "cs_console" not in response.cookies


async def test_a_checker_token_does_not_open_the_console(
    browserless: httpx.AsyncClient, checker: Headers, settings: Settings
) -> None:
    refused = await browserless.post("/console/login", data={"token": token_of(checker)})
    assert refused.status_code == 401
    assert "analysts and officers" in refused.text
    analyst = bearer(settings, "analyst", sub="console-analyst")
    signed = await browserless.post("/console/login", data={"token": token_of(analyst), "next": "//evil.example/x"})
    assert signed.status_code == 303
    assert signed.headers["location"] == "/console/"  # never off the console
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/console" in cookie
    browserless.cookies.set("cs_console", token_of(analyst))
    page = await browserless.get("/console/")
    assert page.status_code == 200
    assert "console-analyst" in page.text


async def test_queue_filters_name_the_bad_field(browserless: httpx.AsyncClient, settings: Settings) -> None:
    browserless.cookies.set("cs_console", token_of(bearer(settings, "officer", sub="console-officer")))
    bad = await browserless.get("/console/cases", params={"token_id": "nope"})
    assert bad.status_code == 422
    assert "token must be a token id" in bad.text
    assert (await browserless.get("/console/cases", params={"min_risk": "500"})).status_code == 422
