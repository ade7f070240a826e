"""``/metrics`` of ``serve --workers N`` answers the sum over its N processes: known traffic,
spread over the processes, then one scrape with exact totals."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import multiprocess
from served import base_env, free_port, scrape, started, value
from support import Headers, hold, make_party, make_token, policy_document, publish_document, transfer

pytestmark = pytest.mark.integration

PROCESSES = 3
RULES = [{"rule": "wallet_bound"}, {"rule": "kyc_verified"}, {"rule": "sufficient_balance"}]
CHECK_ROUTE = "/v1/compliance/transfer-check"


async def _fire(url: str, requests: list[tuple[str, str, dict[str, Any] | None]], headers: Headers) -> list[int]:
    """Each request on a connection of its own, eight at a time, so every process gets a share."""

    async def one(method: str, path: str, body: dict[str, Any] | None) -> int:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            answer = await http.request(method, path, json=body, headers={**headers, "Connection": "close"})
            return answer.status_code

    gate = asyncio.Semaphore(8)

    async def bounded(request: tuple[str, str, dict[str, Any] | None]) -> int:
        async with gate:
            return await one(*request)

    return list(await asyncio.gather(*(bounded(r) for r in requests)))


def _http_counts_by_process(directory: Path) -> dict[str, float]:
    """Requests each process recorded in its own file (``histogram_<pid>.db``)."""
    counts = {}
    for file in directory.glob("histogram_*.db"):
        families = multiprocess.MultiProcessCollector.merge([str(file)], accumulate=True)
        counts[file.stem] = sum(
            s.value
            for family in families
            if family.name == "compliance_http_request_duration_seconds"
            for s in family.samples
            if s.name.endswith("_count")
        )
    return counts


async def test_one_scrape_of_any_process_reports_exact_totals_over_all_of_them(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    policy = await publish_document(client, admin, policy_document(RULES))
    token = await make_token(client, admin, policy)
    seller, seller_address = await make_party(client, admin)
    _, buyer_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 1_000_000)
    approved, rejected, health, unknown = 40, 25, 30, 10
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        *[("POST", CHECK_ROUTE, transfer(token["id"], seller_address, buyer_address, 1)) for _ in range(approved)],
        # an unbound receiver: REJECTED (WALLET_NOT_BOUND)
        *[("POST", CHECK_ROUTE, transfer(token["id"], seller_address, "0x" + "ab" * 20, 1)) for _ in range(rejected)],
        *[("GET", "/health", None) for _ in range(health)],
        *[("GET", "/no-such-route", None) for _ in range(unknown)],
    ]
    runtime = tmp_path_factory.mktemp("xdg")
    runtime.chmod(0o700)
    metrics_dir = tmp_path_factory.mktemp("metrics")
    port = free_port()
    env = base_env(database_url, runtime, PORT=str(port), PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    log = tmp_path_factory.mktemp("logs") / "serve.log"
    with started(["serve", "--workers", str(PROCESSES)], env, port, log, "/ready") as server:
        statuses = await _fire(server.url, requests, checker)
        assert statuses.count(200) == approved + rejected + health
        assert statuses.count(404) == unknown
        samples = scrape(server.url)
        by_process = _http_counts_by_process(metrics_dir)
    # every line the supervisor and its server processes wrote is one JSON object, tagged
    lines = [json.loads(line) for line in server.logs().splitlines() if line.strip()]
    assert {line["process"] for line in lines} <= {"cli", "serve", "api"}  # the command, then what it became
    assert len({line["pid"] for line in lines if line["process"] == "api"}) == PROCESSES
    assert all({"event", "level", "timestamp"} <= line.keys() for line in lines)

    checks = samples["compliance_checks"]
    assert value(checks, "compliance_checks_total", status="APPROVED") == approved
    assert value(checks, "compliance_checks_total", status="REJECTED") == rejected
    http = samples["compliance_http_request_duration_seconds"]
    count = "compliance_http_request_duration_seconds_count"
    assert value(http, count, route=CHECK_ROUTE, method="POST", status="200") == approved + rejected
    assert value(http, count, route="/health", method="GET", status="200") == health
    assert value(http, count, route="unmatched", method="GET", status="404") == unknown
    # the +Inf bucket of a histogram holds every observation: the buckets are summed too
    bucket = "compliance_http_request_duration_seconds_bucket"
    assert value(http, bucket, route=CHECK_ROUTE, le="+Inf") == approved + rejected
    # the totals above were spread over several processes, each holding only its share
    served = {pid: n for pid, n in by_process.items() if n > 0}
    assert len(served) >= 2, by_process
    assert all(n < approved + rejected + health + unknown for n in served.values())
    batches = samples["compliance_commit_batch_size"]
    assert value(batches, "compliance_commit_batch_size_sum") == approved + rejected  # decisions committed
