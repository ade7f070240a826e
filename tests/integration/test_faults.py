"""Fault injection on loopback: the server process killed mid-load, and Redis killed under load.
Each test prints its counts.

* server killed (SIGKILL) while checks with an ``Idempotency-Key`` are in flight: every check that
  was answered is stored, and the retry of every check with its key — answered or not — gets one
  decision: the stored one when there was one (the same id), a new one otherwise; one record per key;
* Redis killed while it holds the rate limits: checks go on being decided, correctly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from conftest import TEST_SECRET, bearer
from support import hold, make_party, make_token, policy_document, publish_document, server_process, transfer

from compliance_shield.db import migrate
from compliance_shield.settings import AppEnv, Settings

pytestmark = pytest.mark.integration

CHECKS = 240
CONCURRENCY = 24


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _serve(url: str, port: int, log: Path) -> asyncio.subprocess.Process:
    """``compliance-shield serve`` in a process of its own, once it answers /health."""
    env = {**os.environ, "DATABASE_URL": url, "JWT_SECRET": TEST_SECRET, "APP_ENV": "test", "PORT": str(port),
           "LOG_LEVEL": "WARNING", "WORKERS": "1"}  # fmt: skip
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "compliance-shield"), "serve", env=env, stdout=out, stderr=out
        )
    async with httpx.AsyncClient() as probe:
        for _ in range(300):
            try:
                if (await probe.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            if process.returncode is not None:
                break
            await asyncio.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()
    raise AssertionError("the server did not start: see " + str(log))


async def _stop(process: asyncio.subprocess.Process, how: signal.Signals) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(how)
        await asyncio.wait_for(process.wait(), timeout=30)


async def test_server_killed_mid_load_then_retried_with_the_same_keys(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    url = new_database()
    migrate.upgrade(url)
    settings = Settings(app_env=AppEnv.TEST, jwt_secret=TEST_SECRET, database_url=url)
    admin, checker = bearer(settings, "admin"), bearer(settings, "checker", sub="platform")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = await _serve(url, port, tmp_path / "serve.log")
    answered: dict[str, dict[str, Any]] = {}
    failed = 0
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            policy_id = await publish_document(client, admin, policy_document([{"rule": "sufficient_balance"}]))
            token = await make_token(client, admin, policy_id)
            seller, seller_address = await make_party(client, admin)
            await hold(client, admin, token["id"], seller["id"], CHECKS)
            _, buyer = await make_party(client, admin)
            bodies = {f"key-{i}": transfer(token["id"], seller_address, buyer, 1) for i in range(CHECKS)}
            queue: asyncio.Queue[str] = asyncio.Queue()
            for key in bodies:
                queue.put_nowait(key)

            async def send() -> None:
                nonlocal failed
                while not queue.empty():
                    key = queue.get_nowait()
                    try:
                        response = await client.post("/v1/compliance/transfer-check?view=summary", json=bodies[key],
                                                     headers={**checker, "Idempotency-Key": key})  # fmt: skip
                    except httpx.TransportError:
                        failed += 1
                        continue
                    if response.status_code == 200:
                        answered[key] = response.json()
                    else:
                        failed += 1

            senders = [asyncio.create_task(send()) for _ in range(CONCURRENCY)]
            while len(answered) < CHECKS // 3:  # noqa: ASYNC110 (the senders count; no event to wait on)
                await asyncio.sleep(0.005)
            await _stop(server, signal.SIGKILL)  # no shutdown: requests in flight are cut off
            await asyncio.gather(*senders)
    finally:
        await _stop(server, signal.SIGKILL)
    killed_answered = len(answered)
    print(f"\nserver killed after {killed_answered} answers; {failed} requests cut off or refused, "
          f"{CHECKS - killed_answered - failed} never sent")  # fmt: skip
    assert 0 < killed_answered < CHECKS

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT id, idempotency_key FROM transfer_compliance_checks WHERE principal = 'platform'"
        )
        stored = {r["idempotency_key"]: str(r["id"]) for r in rows}
        without_record = [key for key, check in answered.items() if stored.get(key) != check["id"]]
        assert not without_record, "answers without a record"

        server = await _serve(url, port, tmp_path / "serve.log")
        try:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                retried = {
                    key: await client.post(
                        "/v1/compliance/transfer-check?view=summary",
                        json=body,
                        headers={**checker, "Idempotency-Key": key},
                    )
                    for key, body in bodies.items()
                }
        finally:
            await _stop(server, signal.SIGTERM)
        assert all(r.status_code == 200 for r in retried.values())
        same = sum(retried[key].json()["id"] == check["id"] for key, check in answered.items())
        records = await conn.fetchval("SELECT count(*) FROM transfer_compliance_checks WHERE principal = 'platform'")
        approved = sum(r.json()["status"] == "APPROVED" for r in retried.values())
    finally:
        await conn.close()
    print(
        f"after restart: {CHECKS} retries answered, {same} of {killed_answered} answered keys got the same "
        f"decision, {len(stored)} decisions stored before the retries, {records} after, {approved} approved"
    )
    assert same == killed_answered
    assert records == CHECKS  # one record per key, whether or not the first attempt was answered
    assert approved == CHECKS  # the seller held exactly enough: no approval was counted twice


async def test_redis_killed_under_load_decisions_go_on(settings: Settings, database_url: str, tmp_path: Path) -> None:
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is installed by scripts/test"
    port = _free_port()
    redis = await asyncio.create_subprocess_exec(
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
        str(tmp_path), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    limited = settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{port}/0", "rate_limit_per_second": 10_000, "rate_limit_burst": 10_000}
    )
    admin, checker = bearer(settings, "admin"), bearer(settings, "checker", sub="redis-load")
    statuses: list[int] = []
    try:
        async with (
            server_process(limited, database_url, "redis-load") as (_, client, app),
            app.router.lifespan_context(app),
        ):
            policy_id = await publish_document(client, admin, policy_document([{"rule": "sufficient_balance"}]))
            token = await make_token(client, admin, policy_id)
            seller, seller_address = await make_party(client, admin)
            await hold(client, admin, token["id"], seller["id"], 60)
            _, buyer = await make_party(client, admin)

            async def check(amount: int) -> str:
                response = await client.post("/v1/compliance/transfer-check?view=summary",
                                                 json=transfer(token["id"], seller_address, buyer, amount),
                                                 headers=checker)  # fmt: skip
                statuses.append(response.status_code)
                return str(response.json()["status"])

            before = [await check(1) for _ in range(20)]
            await _stop(redis, signal.SIGKILL)
            after = [await check(1) for _ in range(20)]
            too_much = await check(1000)
    finally:
        await _stop(redis, signal.SIGKILL)
    print(f"\nRedis killed after 20 checks: {statuses.count(200)} of {len(statuses)} answered 200, "
          f"{before.count('APPROVED')} approved before, {after.count('APPROVED')} after")  # fmt: skip
    assert statuses == [200] * 41
    assert before == after == ["APPROVED"] * 20
    assert too_much == "REJECTED"
