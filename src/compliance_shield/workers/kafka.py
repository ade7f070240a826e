"""Kafka plumbing shared by the workers: topic names, clients built from settings, missing topics.

Producers wait for every in-sync replica (``acks=all``). aiokafka keeps at most one request in
flight per partition, so a partition's batches reach the log in the order they were sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from compliance_shield.services.events.events import TOPIC as EVENTS_TOPIC
from compliance_shield.settings import Settings
from compliance_shield.workers import on_stop_signals

log = structlog.get_logger(__name__)

__all__ = [
    "CONSUMER_GROUP",
    "DECISIONS_TOPIC",
    "DLQ_TOPIC",
    "EVENTS_TOPIC",
    "REQUESTS_TOPIC",
    "KafkaConfig",
    "KafkaNotConfigured",
    "ensure_topics",
    "run_until_signalled",
    "start_with_retry",
]

REQUESTS_TOPIC = "compliance.transfer-requests"
DECISIONS_TOPIC = "compliance.decisions"
DLQ_TOPIC = "compliance-events-dlq"
CONSUMER_GROUP = "compliance-consumer-group"

#: the largest record batch the relay builds per partition (brokers accept 1 MiB by default)
MAX_BATCH_BYTES = 512 * 1024


class KafkaNotConfigured(RuntimeError):
    """``KAFKA_BROKERS`` is unset: there is no Kafka to talk to."""


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    bootstrap_servers: tuple[str, ...]
    #: partitions of a topic a worker creates because it is missing
    topic_partitions: int = 6
    #: an idempotent producer (broker-side deduplication of retried batches); tansu lacks it
    idempotent: bool = False
    request_timeout_ms: int = 10_000

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaConfig:
        if not settings.kafka_brokers:
            raise KafkaNotConfigured("KAFKA_BROKERS is not set")
        servers = tuple(s.strip() for s in settings.kafka_brokers.split(",") if s.strip())
        return cls(servers, settings.kafka_topic_partitions, settings.kafka_idempotent_producer)

    def producer(self, client_id: str) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=list(self.bootstrap_servers),
            client_id=client_id,
            acks="all",
            enable_idempotence=self.idempotent,
            max_batch_size=MAX_BATCH_BYTES,
            request_timeout_ms=self.request_timeout_ms,
            retry_backoff_ms=200,
        )

    def consumer(self, topic: str, group_id: str, client_id: str, *, max_records: int) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=list(self.bootstrap_servers),
            client_id=client_id,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_records,
            request_timeout_ms=max(self.request_timeout_ms, 40_000),
            retry_backoff_ms=200,
        )


async def ensure_topics(config: KafkaConfig, topics: list[str]) -> None:
    """Create the topics that do not exist yet (replication: up to 3, bounded by the brokers).

    Waits (with backoff) while no broker answers, like the workers themselves.
    """
    delay = 0.5
    while True:
        try:
            await _create_missing(config, topics)
            return
        except KafkaError as exc:
            log.warning("kafka.unavailable", client="admin", error=repr(exc), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def _create_missing(config: KafkaConfig, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=list(config.bootstrap_servers), request_timeout_ms=config.request_timeout_ms
    )
    await admin.start()
    try:
        missing = sorted(set(topics) - set(await admin.list_topics()))
        if not missing:
            return
        brokers = len((await admin.describe_cluster())["brokers"])
        replication = max(1, min(3, brokers))
        response = await admin.create_topics(
            [NewTopic(t, num_partitions=config.topic_partitions, replication_factor=replication) for t in missing]
        )
        for topic, code, message in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise RuntimeError(f"cannot create Kafka topic {topic}: error {code} {message}")
        log.info("kafka.topics_created", topics=missing, partitions=config.topic_partitions, replication=replication)
    finally:
        await admin.close()


async def start_with_retry(factory: Callable[[], Any], what: str) -> Any:
    """A started producer or consumer; waits (with backoff) while no broker answers."""
    delay = 0.5
    while True:
        client = factory()
        try:
            await client.start()
            return client
        except KafkaError as exc:
            log.warning("kafka.unavailable", client=what, error=repr(exc), retry_in=delay)
            with contextlib.suppress(Exception):
                await client.stop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def run_until_signalled(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` until SIGINT or SIGTERM, then cancel it (its ``finally`` blocks close the clients)."""
    task = asyncio.ensure_future(work)
    on_stop_signals(task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
