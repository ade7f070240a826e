"""The OpenAPI document tells the truth: schemathesis drives every operation of a served app,
with a bounded budget, and every check holds — no server error, no status code or response body
the document does not declare, no request valid by the document refused, no invalid one accepted.

The app is served by uvicorn on loopback, on a database of its own (the fuzzer writes whatever it
likes), and schemathesis runs as its CLI against it. ``FUZZ_MAX_EXAMPLES`` widens the budget for
a longer run by hand.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import uvicorn
from conftest import TEST_SECRET, bearer

from compliance_shield.api.app import create_app
from compliance_shield.bootstrap import build_container
from compliance_shield.db import migrate
from compliance_shield.settings import AppEnv, Settings

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "4"))
SEED = os.environ.get("FUZZ_SEED", "12")


@pytest.fixture
async def served(new_database: Callable[[], str]) -> AsyncIterator[tuple[str, Settings]]:
    url = new_database()
    migrate.upgrade(url)
    settings = Settings(app_env=AppEnv.TEST, jwt_secret=TEST_SECRET, database_url=url)
    container = await build_container(settings, url=url, migrate=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, container=container), host="127.0.0.1", port=port, log_level="error")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}", settings
    finally:
        server.should_exit = True
        await task
        await container.close()


async def test_every_operation_holds_every_check(served: tuple[str, Settings], tmp_path: Path) -> None:
    base, settings = served
    token = bearer(settings, "admin", sub="fuzzer")["Authorization"]
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(HERE / "schemathesis.toml"),
        "run", f"{base}/openapi.json", "--checks", "all", "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES), "--seed", SEED, "--workers", "1", "--no-shrink",
        "--request-timeout", "30", "--suppress-health-check", "all", "--header", f"Authorization: {token}",
        # a server-sent-events stream answers for as long as the client listens: not a request to fuzz
        "--exclude-path", "/v1/stream",
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks", "PYTHONPATH": str(HERE), "NO_COLOR": "1"}
    process = await asyncio.create_subprocess_exec(
        # in a folder of its own: schemathesis keeps a cache of crashes where it runs
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    output, _ = await process.communicate()
    text = output.decode()
    summary = text[text.rfind("=== SUMMARY ===") :] if "=== SUMMARY ===" in text else text[-3000:]
    print(f"\nschemathesis, {MAX_EXAMPLES} examples per operation:\n{summary}")
    assert process.returncode == 0, text


async def test_every_operation_documents_its_errors_with_the_envelope(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    envelope = {"$ref": "#/components/schemas/ErrorOut"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert {"500", "503"} <= responses.keys(), (method, path)
            if operation.get("security"):
                assert {"401", "403", "429"} <= responses.keys(), (method, path)
            if operation.get("parameters") or "requestBody" in operation:
                assert responses["422"]["content"]["application/json"]["schema"] == envelope, (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_405_names_every_method_of_the_path(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.delete("/v1/investors", headers=admin)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_an_undecodable_body_is_422_naming_the_body(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.post(
        "/v1/investors", content=b"\xff\xfe{", headers={**admin, "content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "body"
