"""Kafka-driven transfer checks against a real Kafka-protocol broker (tansu) on loopback.

Each test works on its own topics and consumer group (the names the service uses by default
are the defaults of ``ConsumerTopics``), and decides through the shared service container.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka_fixtures import cli_worker, read_topic, schema_errors, trading_token
from support import Headers, transfer

from compliance_shield.bootstrap import Container, connect
from compliance_shield.workers.consumer import ConsumerTopics, TransferRequestConsumer
from compliance_shield.workers.kafka import KafkaConfig, ensure_topics

pytestmark = pytest.mark.integration


@pytest.fixture
async def topics(kafka_brokers: str) -> ConsumerTopics:
    tag = secrets.token_hex(4)
    names = ConsumerTopics(f"requests-{tag}", f"decisions-{tag}", f"dlq-{tag}", f"group-{tag}")
    await ensure_topics(kafka(kafka_brokers), [names.requests, names.decisions, names.dead_letters])
    return names


def kafka(brokers: str) -> KafkaConfig:
    return KafkaConfig((brokers,), topic_partitions=3, request_timeout_ms=5000)


@contextlib.asynccontextmanager
async def consuming(
    container: Container, brokers: str, topics: ConsumerTopics
) -> AsyncIterator[TransferRequestConsumer]:
    consumer = TransferRequestConsumer(container.decisions, kafka(brokers), topics=topics, max_records=50)
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def produce(brokers: str, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=brokers, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def request(token: tuple[str, str, str], request_id: str, amount: int = 1, **extra: Any) -> tuple[bytes, bytes]:
    token_id, seller, buyer = token
    body = transfer(token_id, seller, buyer, amount, request_id=request_id, client_id="desk-7", **extra)
    return token_id.encode(), json.dumps(body).encode()


def values(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in sorted(records, key=lambda r: (r.partition, r.offset))]


def count(n: int) -> Callable[[list[Any]], bool]:
    return lambda records: len(records) >= n


async def committed(brokers: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets (asked as a member that joins nothing)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=brokers, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions and topic in await consumer.topics():
            partitions = consumer.partitions_for_topic(topic) or set()
        offsets = {p: await consumer.committed(TopicPartition(topic, p)) for p in sorted(partitions)}
    finally:
        await consumer.stop()
    return {p: o for p, o in offsets.items() if o is not None}


async def stored(database_url: str, request_ids: list[str]) -> list[dict[str, Any]]:
    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT id, idempotency_key FROM transfer_compliance_checks WHERE principal = 'kafka:desk-7'"
            " AND idempotency_key = ANY($1::text[])",
            request_ids,
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


async def test_requests_are_decided_in_order_published_and_committed(
    container: Container, client: httpx.AsyncClient, admin: Headers, checker: Headers, kafka_brokers: str,
    topics: ConsumerTopics, database_url: str,
) -> None:  # fmt: skip
    token = await trading_token(client, admin)
    ids = [f"order-{secrets.token_hex(4)}-{i}" for i in range(5)]
    async with consuming(container, kafka_brokers, topics) as consumer:
        await produce(kafka_brokers, topics.requests, [request(token, i) for i in ids])
        decisions = values(await read_topic(kafka_brokers, topics.decisions, count(5)))
        deadline = time.monotonic() + 20
        while sum((await committed(kafka_brokers, topics.group, topics.requests)).values()) < 5:
            assert time.monotonic() < deadline, "offsets were not committed"
            await asyncio.sleep(0.2)
    assert consumer.decided == 5
    assert [d["request_id"] for d in decisions] == ids
    assert {d["check"]["status"] for d in decisions} == {"APPROVED"}
    assert all(d["client_id"] == "desk-7" and d["schema_version"] == 1 for d in decisions)
    # the decision published is the decision recorded, as the API shows it
    assert [schema_errors("decision", d) for d in decisions] == [[]] * 5
    first = decisions[0]["check"]
    shown = await client.get(f"/v1/compliance/checks/{first['id']}", headers=checker)
    assert shown.json() == first
    assert len(await stored(database_url, ids)) == 5


async def test_a_redelivered_request_yields_the_same_decision_and_no_second_record(
    container: Container, client: httpx.AsyncClient, admin: Headers, kafka_brokers: str, topics: ConsumerTopics,
    database_url: str,
) -> None:  # fmt: skip
    token = await trading_token(client, admin)
    ids = [f"dup-{secrets.token_hex(4)}-{i}" for i in range(3)]
    messages = [request(token, i) for i in ids]
    async with consuming(container, kafka_brokers, topics):
        await produce(kafka_brokers, topics.requests, messages + messages[:1])  # one sent twice
        first = values(await read_topic(kafka_brokers, topics.decisions, count(4)))
    # the whole topic delivered again: a consumer group with no committed offsets
    again = ConsumerTopics(topics.requests, topics.decisions, topics.dead_letters, topics.group + "-again")
    async with consuming(container, kafka_brokers, again):
        every = values(await read_topic(kafka_brokers, topics.decisions, count(8)))
    check_of = {d["request_id"]: d["check"]["id"] for d in first[:3]}
    assert first[3]["check"]["id"] == check_of[ids[0]]
    assert all(d["check"]["id"] == check_of[d["request_id"]] for d in every)
    assert all(d["check"] == next(f["check"] for f in first if f["request_id"] == d["request_id"]) for d in every)
    rows = await stored(database_url, ids)
    assert sorted(r["idempotency_key"] for r in rows) == sorted(ids)  # one record each


async def test_garbage_goes_to_the_dead_letter_topic_and_the_consumer_keeps_going(
    container: Container, client: httpx.AsyncClient, admin: Headers, kafka_brokers: str, topics: ConsumerTopics,
) -> None:  # fmt: skip
    token = await trading_token(client, admin)
    good = [f"ok-{secrets.token_hex(4)}-{i}" for i in range(2)]
    reused = f"reused-{secrets.token_hex(4)}"
    unknown_token = json.loads(request(token, "unknown-token")[1]) | {
        "token_id": "00000000-0000-4000-8000-00000000dead"
    }
    messages: list[tuple[bytes | None, bytes]] = [
        request(token, good[0]),
        (b"k", b"\xff\x00 not json"),
        (None, b'{"request_id": "r1", "amount": "-5"}'),
        (b"k", json.dumps(unknown_token).encode()),
        request(token, reused, amount=1),
        request(token, reused, amount=2),  # the same request id with another body
        request(token, good[1]),
    ]
    async with consuming(container, kafka_brokers, topics) as consumer:
        for message in messages:  # one at a time: each its own poll, in one partition
            await produce(kafka_brokers, topics.requests, [(b"same-key", message[1])])
        dead = values(await read_topic(kafka_brokers, topics.dead_letters, count(4)))
        decided = values(await read_topic(kafka_brokers, topics.decisions, count(3)))
    assert [d["request_id"] for d in decided] == [good[0], reused, good[1]]
    assert consumer.decided == 3
    assert consumer.dead_lettered == 4
    codes = [d["error"]["code"] for d in dead]
    assert codes == ["VALIDATION_FAILED", "VALIDATION_FAILED", "NOT_FOUND", "IDEMPOTENCY_KEY_REUSED"]
    binary, invalid = dead[0], dead[1]
    assert binary["value_encoding"] == "base64"
    assert binary["error"]["details"][0]["field"] == "body"
    assert invalid["value"] == '{"request_id": "r1", "amount": "-5"}'
    assert {d["field"] for d in invalid["error"]["details"]} >= {"amount", "from_address", "token_id"}
    assert dead[2]["error"]["details"] == {"field": "token_id"}
    assert dead[3]["error"]["details"][0]["field"] == "request_id"
    assert all(d["source"]["topic"] == topics.requests for d in dead)
    assert [schema_errors("dead-letter", d) for d in dead] == [[]] * 4
    assert [schema_errors("decision", d) for d in decided] == [[]] * 3


async def test_offsets_are_committed_only_after_the_decision_is_recorded(
    container: Container, client: httpx.AsyncClient, admin: Headers, kafka_brokers: str, topics: ConsumerTopics,
    database_url: str,
) -> None:  # fmt: skip
    token = await trading_token(client, admin)
    request_id = f"blocked-{secrets.token_hex(4)}"
    blocker = await connect(database_url)
    transaction = blocker.transaction()
    await transaction.start()
    held = True
    try:
        # hold the token's state row: the decision cannot be recorded (the writer times out → 503)
        await blocker.execute("SELECT 1 FROM token_state WHERE token_id = $1 FOR UPDATE", token[0])
        async with consuming(container, kafka_brokers, topics) as consumer:
            await produce(kafka_brokers, topics.requests, [request(token, request_id)])
            deadline = time.monotonic() + 60
            while consumer.retries == 0:
                assert time.monotonic() < deadline, "the consumer never retried"
                await asyncio.sleep(0.2)
            assert await committed(kafka_brokers, topics.group, topics.requests) == {}
            assert await stored(database_url, [request_id]) == []
            await transaction.rollback()  # the database can record again
            held = False
            decided = values(await read_topic(kafka_brokers, topics.decisions, count(1)))
            while sum((await committed(kafka_brokers, topics.group, topics.requests)).values()) < 1:
                assert time.monotonic() < deadline, "offsets were not committed"
                await asyncio.sleep(0.2)
    finally:
        if held:
            await transaction.rollback()
        await blocker.close()
    assert [d["request_id"] for d in decided] == [request_id]
    assert len(await stored(database_url, [request_id])) == 1


async def test_the_consumer_command_decides_on_the_service_topics_and_stops_on_sigterm(
    client: httpx.AsyncClient, admin: Headers, kafka_brokers: str, database_url: str, tmp_path: Path
) -> None:
    defaults = ConsumerTopics()
    token = await trading_token(client, admin)
    request_id = f"cli-{secrets.token_hex(4)}"
    variables = {"DATABASE_URL": database_url, "KAFKA_BROKERS": kafka_brokers}
    with cli_worker("consumer", variables, tmp_path):
        await produce(kafka_brokers, defaults.requests, [request(token, request_id)])

        def answered(records: list[Any]) -> bool:
            return any(json.loads(r.value)["request_id"] == request_id for r in records)

        decisions = values(await read_topic(kafka_brokers, defaults.decisions, answered, seconds=60))
    mine = [d for d in decisions if d["request_id"] == request_id]
    assert [d["check"]["status"] for d in mine] == ["APPROVED"]
    assert len(await stored(database_url, [request_id])) == 1


def test_the_workers_refuse_to_start_without_kafka_brokers(tmp_path: Path) -> None:
    for name in ("relay", "consumer"):
        log = tmp_path / f"{name}.log"
        with log.open("wb") as out:
            done = subprocess.run(  # noqa: S603
                [str(Path(sys.executable).parent / "compliance-shield"), "worker", name],
                env={k: v for k, v in os.environ.items() if k != "KAFKA_BROKERS"},
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=60,
                check=False,
            )
        assert done.returncode == 2
        assert "KAFKA_BROKERS" in log.read_text()
