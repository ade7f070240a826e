"""Every log line written while a request is served carries its request id (and check id)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from compliance_shield.observability.http import RequestObservabilityMiddleware
from compliance_shield.observability.logging import configure_logging


async def _logs_something(request: Request) -> JSONResponse:
    structlog.get_logger("test").info("handled", path=request.url.path)
    return JSONResponse({"ok": True})


@pytest.fixture
def http() -> httpx.AsyncClient:
    app = Starlette(
        routes=[
            Route("/v1/compliance/checks/{check_id}", _logs_something),
            Route("/anything", _logs_something),
        ]
    )
    app.add_middleware(RequestObservabilityMiddleware)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


async def test_a_callers_request_id_is_on_the_log_line_and_echoed(
    http: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "api")
    answer = await http.get("/anything", headers={"X-Request-ID": "order-42.retry:1"})
    assert answer.headers["x-request-id"] == "order-42.retry:1"
    [line] = [line for line in _lines(capsys.readouterr().err) if line["event"] == "handled"]
    assert line["request_id"] == "order-42.retry:1"
    assert line["process"] == "api"
    assert line["level"] == "info"


async def test_a_request_without_one_or_with_a_malformed_one_gets_a_fresh_id(
    http: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "api")
    first = await http.get("/anything")
    second = await http.get("/anything", headers={"X-Request-ID": "bad id\twith spaces"})
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert ids[0] != ids[1]
    assert all(len(i) == 32 for i in ids)
    logged = [line["request_id"] for line in _lines(capsys.readouterr().err) if line["event"] == "handled"]
    assert logged == ids


async def test_the_routes_of_one_check_log_its_id_and_nothing_leaks_to_the_next_request(
    http: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "api")
    check_id = str(uuid.uuid4())
    await http.get(f"/v1/compliance/checks/{check_id.upper()}")
    await http.get("/anything")
    one, other = [line for line in _lines(capsys.readouterr().err) if line["event"] == "handled"]
    assert one["check_id"] == check_id
    assert "check_id" not in other


async def test_log_level_filters_our_lines_and_the_libraries(
    http: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    configure_logging("WARNING", "relay")
    structlog.get_logger("test").info("quiet")
    structlog.get_logger("test").warning("loud")
    logging.getLogger("aiokafka").info("library quiet")
    logging.getLogger("aiokafka").error("library loud")
    lines = _lines(capsys.readouterr().err)
    assert [line["event"] for line in lines] == ["loud", "library loud"]
    assert {line["process"] for line in lines} == {"relay"}
    configure_logging("INFO", "api")
