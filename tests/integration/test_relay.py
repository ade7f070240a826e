"""The outbox relay against a real Kafka-protocol broker (tansu) on loopback.

The relay tests share one fresh database, so "every outbox row" means this module's events;
the topic is shared with other tests, so each test reads back only the event ids it made.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka_fixtures import TansuBroker, cli_worker, read_topic, schema_errors, trading_token
from support import Headers, transfer

from compliance_shield.api.app import create_app
from compliance_shield.bootstrap import Container, build_container, connect
from compliance_shield.db import Conn, migrate
from compliance_shield.settings import Settings
from compliance_shield.workers.kafka import EVENTS_TOPIC, KafkaConfig, ensure_topics
from compliance_shield.workers.relay import OutboxRelay

pytestmark = pytest.mark.integration


@dataclass
class Env:
    url: str
    container: Container
    client: httpx.AsyncClient
    kafka: KafkaConfig


@pytest.fixture(scope="module")
async def env(new_database: Callable[[], str], settings: Settings, kafka_brokers: str) -> AsyncIterator[Env]:
    url = new_database()
    await asyncio.to_thread(migrate.upgrade, url)
    own = settings.model_copy(update={"database_url": url})
    container = await build_container(own, url=url, migrate=False)
    kafka = KafkaConfig((kafka_brokers,), topic_partitions=4, request_timeout_ms=3000)
    await ensure_topics(kafka, [EVENTS_TOPIC])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(own, container=container)), base_url="http://relay"
    ) as client:
        try:
            yield Env(url, container, client, kafka)
        finally:
            await container.close()


@contextlib.asynccontextmanager
async def running(*relays: OutboxRelay) -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def relay(env: Env, name: str = "relay") -> OutboxRelay:
    return OutboxRelay(
        lambda: connect(env.url, name), env.kafka, batch_size=7, idle_poll_seconds=0.5, standby_poll_seconds=0.2,
        name=name,
    )  # fmt: skip


async def with_conn(env: Env, work: Callable[[Conn], Awaitable[Any]]) -> Any:
    conn = await connect(env.url)
    try:
        return await work(conn)
    finally:
        await conn.close()


async def outbox(env: Env) -> list[dict[str, Any]]:
    rows = await with_conn(env, lambda c: c.fetch("SELECT id, event_id, key, published_at FROM outbox ORDER BY id"))
    return [dict(r) | {"event_id": str(r["event_id"])} for r in rows]


async def all_published(env: Env, seconds: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while True:
        rows = await outbox(env)
        if all(r["published_at"] is not None for r in rows):
            return rows
        assert time.monotonic() < deadline, f"{sum(r['published_at'] is None for r in rows)} events unpublished"
        await asyncio.sleep(0.2)


async def decide(env: Env, admin: Headers, token: tuple[str, str, str], n: int) -> None:
    token_id, seller, buyer = token
    answers = await asyncio.gather(
        *(env.client.post("/v1/compliance/transfer-check", json=transfer(token_id, seller, buyer, 1), headers=admin)
          for _ in range(n))
    )  # fmt: skip
    assert {a.status_code for a in answers} == {200}


async def published_records(env: Env, event_ids: set[str]) -> list[Any]:
    """Records of ``event_ids`` on the topic, in log order per partition (all of them, duplicates too)."""

    def seen(records: list[Any]) -> bool:
        return event_ids <= {json.loads(r.value)["event_id"] for r in records}

    records = await read_topic(env.kafka.bootstrap_servers[0], EVENTS_TOPIC, seen)
    return [r for r in records if json.loads(r.value)["event_id"] in event_ids]


def assert_in_order_per_key(records: list[Any], rows: list[dict[str, Any]]) -> None:
    """Each key's events appear in outbox order (the first delivery of each; later ones are repeats)."""
    expected: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        expected[row["key"]].append(row["event_id"])
    by_key: dict[str, list[str]] = defaultdict(list)
    partition_of: dict[str, set[int]] = defaultdict(set)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        event = json.loads(r.value)
        assert r.key.decode() == event["key"]
        partition_of[event["key"]].add(r.partition)
        if event["event_id"] not in by_key[event["key"]]:
            by_key[event["key"]].append(event["event_id"])
    assert {k: v for k, v in by_key.items()} == {k: v for k, v in expected.items() if k in by_key}
    assert all(len(p) == 1 for p in partition_of.values())  # one key, one partition


async def test_events_arrive_in_order_per_token(env: Env, admin: Headers) -> None:
    tokens = [await trading_token(env.client, admin) for _ in range(3)]
    for _ in range(4):  # interleaved, concurrent decisions: several per group commit
        await asyncio.gather(*(decide(env, admin, t, 5) for t in tokens))
    async with running(relay(env)):
        rows = await all_published(env)
    records = await published_records(env, {r["event_id"] for r in rows})
    assert_in_order_per_key(records, rows)
    assert {t[0] for t in tokens} <= {r["key"] for r in rows}
    assert {json.loads(r.value)["event_type"] for r in records} == {"policy.published", "transfer_check.decided"}
    assert [e for r in records for e in schema_errors("compliance-event", json.loads(r.value))] == []
    headers = dict(records[0].headers)
    assert headers["event_id"].decode() == json.loads(records[0].value)["event_id"]
    assert headers["content-type"] == b"application/json"


async def test_broker_stopped_and_restarted_mid_stream_loses_nothing(
    env: Env, admin: Headers, kafka_broker: TansuBroker
) -> None:
    token = await trading_token(env.client, admin)
    worker = relay(env)
    async with running(worker):
        await decide(env, admin, token, 10)
        await all_published(env)
        await asyncio.to_thread(kafka_broker.stop)
        try:
            await decide(env, admin, token, 10)  # decisions do not wait for Kafka
            deadline = time.monotonic() + 30
            while worker.failed_rounds < 2:  # rounds fail meanwhile (3 s request timeout) ...
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
            assert sum(r["published_at"] is None for r in await outbox(env)) >= 10  # ... and mark nothing
        finally:
            await asyncio.to_thread(kafka_broker.start)
        await decide(env, admin, token, 10)
        rows = await all_published(env)
    mine = [r for r in rows if r["key"] == token[0]]
    assert len(mine) == 30
    records = await published_records(env, {r["event_id"] for r in mine})
    assert {json.loads(r.value)["event_id"] for r in records} == {r["event_id"] for r in mine}
    assert_in_order_per_key(records, mine)


async def test_relay_restarted_mid_stream_loses_nothing(env: Env, admin: Headers) -> None:
    token = await trading_token(env.client, admin)
    async with running(relay(env, "first")):
        await decide(env, admin, token, 10)
        await all_published(env)
        await decide(env, admin, token, 10)  # some of these may be mid-round when it stops
    await decide(env, admin, token, 10)
    async with running(relay(env, "second")):
        rows = await all_published(env)
    mine = [r for r in rows if r["key"] == token[0]]
    assert len(mine) == 30
    records = await published_records(env, {r["event_id"] for r in mine})
    assert_in_order_per_key(records, mine)


async def test_several_relays_publish_each_event_once_and_fail_over(env: Env, admin: Headers) -> None:
    await all_published(env, seconds=1)  # earlier tests left nothing behind
    tokens = [await trading_token(env.client, admin) for _ in range(2)]
    waiting = sum(r["published_at"] is None for r in await outbox(env))  # the tokens' policy events
    replicas = [relay(env, f"replica-{i}") for i in range(3)]
    async with running(*replicas) as tasks:
        for _ in range(3):
            await asyncio.gather(*(decide(env, admin, t, 6) for t in tokens))
        await all_published(env)
        leaders = [r for r in replicas if r.leading]
        assert len(leaders) == 1
        assert sum(r.published for r in replicas) == leaders[0].published == waiting + 36

        tasks[replicas.index(leaders[0])].cancel()  # the active relay goes away; a standby takes over
        await asyncio.gather(*(decide(env, admin, t, 6) for t in tokens))
        rows = await all_published(env)
        assert sum(r.leading for r in replicas) == 1
    mine = [r for r in rows if r["key"] in {t[0] for t in tokens}]
    assert len(mine) == 48
    records = await published_records(env, {r["event_id"] for r in mine})
    assert len(records) == 48  # no event twice
    assert_in_order_per_key(records, mine)


async def test_the_relay_command_publishes_and_stops_on_sigterm(env: Env, admin: Headers, tmp_path: Path) -> None:
    token = await trading_token(env.client, admin)
    await decide(env, admin, token, 5)
    variables = {"DATABASE_URL": env.url, "KAFKA_BROKERS": env.kafka.bootstrap_servers[0], "LOG_LEVEL": "INFO"}
    with cli_worker("relay", variables, tmp_path):
        rows = await all_published(env)
    mine = [r for r in rows if r["key"] == token[0]]
    assert len(mine) == 5
    assert_in_order_per_key(await published_records(env, {r["event_id"] for r in mine}), mine)
