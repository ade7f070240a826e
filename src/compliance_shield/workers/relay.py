"""The outbox relay: publish committed outbox events to Kafka, in order per key, then mark them sent.

**One active relay.** Replicas compete for a PostgreSQL session advisory lock; the holder
publishes, the others stand by and take over when its connection ends (stopped, crashed, cut
off). Several relays claiming disjoint batches with ``SKIP LOCKED`` would not double-publish,
but their batches interleave: replica B could publish a token's event 101 while replica A is
still sending event 100 — the token's order would be lost. One relay in id order keeps it, and
it is not the bottleneck (a round is a few milliseconds of SQL around one produce request per
partition). As a second guard the claim waits on locked rows instead of skipping them, so even
two relays that both believed themselves active (e.g. behind a transaction-pooling proxy that
breaks session locks) would take turns rather than interleave.

**A round**, in one transaction on the lock-holding connection:

1. claim the oldest unpublished rows in id order (``FOR UPDATE``);
2. build one record batch per partition (key → partition as Kafka's default partitioner
   computes it), rows in id order; when a partition's batch is full, that partition's later
   rows wait for the next round;
3. send every batch and wait for the acknowledgements (``acks=all``);
4. mark the rows of acknowledged batches published, and commit.

A record batch is appended whole or not at all, and a round starts only when the previous one
has finished, so a partition's log never holds a key's later event without its earlier ones.
A failed batch leaves its rows unpublished for the next round. If the broker appended a batch
but its acknowledgement was lost, the next round sends it again: delivery is at-least-once and
consumers deduplicate on ``event_id``. If the lock connection dies mid-round its transaction
dies with it, so nothing is marked that was not acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from compliance_shield.bootstrap import connect, database_url
from compliance_shield.db import Conn
from compliance_shield.db import outbox as repo
from compliance_shield.db.migrate import upgrade
from compliance_shield.domain import encoding
from compliance_shield.observability.metrics import RELAY_FAILURES, RELAY_LEADER, RELAY_PUBLISHED, RELAY_UNPUBLISHED
from compliance_shield.services.events.outbox import CHANNEL
from compliance_shield.settings import Settings
from compliance_shield.workers.kafka import EVENTS_TOPIC, KafkaConfig, ensure_topics, start_with_retry

log = structlog.get_logger(__name__)

#: the advisory lock the active relay holds (any constant shared by all replicas; "CSOR")
LEADER_LOCK = 0x43534F52

_DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
_partition_of = DefaultPartitioner()


class PublishFailed(Exception):
    """Some batches of a round were not acknowledged; their rows stay unpublished."""


@dataclass
class _Batch:
    topic: str
    partition: int
    builder: Any
    ids: list[int] = field(default_factory=list)


def _headers(row: asyncpg.Record) -> list[tuple[str, bytes]]:
    return [
        ("event_id", str(row["event_id"]).encode()),
        ("event_type", row["event_type"].encode()),
        ("schema_version", str(row["payload"].get("schema_version", "")).encode()),
        ("content-type", b"application/json"),
    ]


class OutboxRelay:
    """Runs until cancelled: stand by, lead, publish; survives database and broker outages."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Conn]],
        kafka: KafkaConfig,
        *,
        batch_size: int = 500,
        idle_poll_seconds: float = 1.0,
        standby_poll_seconds: float = 2.0,
        name: str = "compliance-relay",
    ) -> None:
        self._connect = connect
        self._kafka = kafka
        self._batch_size = batch_size
        self._idle_poll = idle_poll_seconds
        self._standby_poll = standby_poll_seconds
        self._name = name
        #: True while this relay holds the lock and publishes
        self.leading = False
        #: events this relay has published (acknowledged and marked)
        self.published = 0
        #: rounds in which the broker did not acknowledge everything
        self.failed_rounds = 0

    async def run(self) -> None:
        producer = await start_with_retry(lambda: self._kafka.producer(self._name), "relay.producer")
        try:
            while True:
                try:
                    await self._session(producer)
                except _DB_ERRORS as exc:
                    log.warning("relay.database_unavailable", error=repr(exc))
                    await asyncio.sleep(self._standby_poll)
        finally:
            self._set_leading(False)
            await producer.stop()

    def _set_leading(self, leading: bool) -> None:
        if leading != self.leading:
            log.info("relay.leading" if leading else "relay.standing_by", relay=self._name)
        self.leading = leading
        RELAY_LEADER.set(1 if leading else 0)

    async def _session(self, producer: AIOKafkaProducer) -> None:
        conn = await self._connect()
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK):
                self._set_leading(False)
                await asyncio.sleep(self._standby_poll)
            self._set_leading(True)
            await self._lead(conn, producer)
        finally:
            self._set_leading(False)
            conn.terminate()  # also releases the lock and any open claim

    async def _lead(self, conn: Conn, producer: AIOKafkaProducer) -> None:
        wake = asyncio.Event()
        await conn.add_listener(CHANNEL, lambda *_: wake.set())
        backoff = 0.2
        while True:
            wake.clear()
            try:
                more = await self.publish_round(conn, producer)
            except (KafkaError, PublishFailed) as exc:
                self.failed_rounds += 1
                RELAY_FAILURES.inc()
                log.warning("relay.publish_failed", error=repr(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.2
            if more:
                continue
            RELAY_UNPUBLISHED.set(await repo.count_unpublished(conn))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._idle_poll)

    async def publish_round(self, conn: Conn, producer: AIOKafkaProducer) -> bool:
        """Publish one claimed batch; True when more rows are waiting."""
        failures: list[BaseException] = []
        async with conn.transaction():
            rows = await repo.claim_unpublished(conn, self._batch_size)
            if not rows:
                return False
            batches, deferred = await self._build(producer, rows)
            futures = [await producer.send_batch(b.builder, b.topic, partition=b.partition) for b in batches]
            results = await asyncio.gather(*futures, return_exceptions=True)
            acked: list[int] = []
            for batch, result in zip(batches, results, strict=True):
                if isinstance(result, BaseException):
                    failures.append(result)
                else:
                    acked.extend(batch.ids)
            if acked:
                await repo.mark_published(conn, acked, datetime.now(UTC))
        self.published += len(acked)
        RELAY_PUBLISHED.inc(len(acked))
        if failures:
            raise PublishFailed(f"{len(failures)} of {len(batches)} batches failed: {failures[0]!r}")
        return len(rows) == self._batch_size or deferred > 0

    async def _build(self, producer: AIOKafkaProducer, rows: list[asyncpg.Record]) -> tuple[list[_Batch], int]:
        """One record batch per (topic, partition) in id order; rows that do not fit wait."""
        partitions: dict[str, list[int]] = {}
        batches: dict[tuple[str, int], _Batch] = {}
        full: set[tuple[str, int]] = set()
        deferred = 0
        for row in rows:
            topic = row["topic"]
            if topic not in partitions:
                partitions[topic] = sorted(await producer.partitions_for(topic))
            key = row["key"].encode()
            tp = (topic, _partition_of(key, partitions[topic], partitions[topic]))
            if tp in full:
                deferred += 1
                continue
            batch = batches.get(tp)
            if batch is None:
                batch = batches[tp] = _Batch(topic, tp[1], producer.create_batch())
            appended = batch.builder.append(
                timestamp=int(row["created_at"].timestamp() * 1000),
                key=key,
                value=encoding.dumps(row["payload"]),
                headers=_headers(row),
            )
            if appended is None:  # the batch is full: this partition's later rows go next round
                full.add(tp)
                deferred += 1
                continue
            batch.ids.append(row["id"])
        return [b for b in batches.values() if b.ids], deferred


async def run(settings: Settings) -> None:
    """The ``worker relay`` command: publish this database's outbox until cancelled."""
    kafka = KafkaConfig.from_settings(settings)
    url, embedded = await asyncio.to_thread(database_url, settings)
    if embedded:
        await asyncio.to_thread(upgrade, url)
    await ensure_topics(kafka, sorted({EVENTS_TOPIC}))
    relay = OutboxRelay(lambda: connect(url, "compliance-shield-relay"), kafka, batch_size=settings.relay_batch_size)
    await relay.run()
