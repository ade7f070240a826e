"""Kafka-driven transfer checks: requests in, decisions out, bad messages to the dead-letter topic.

Consumer group ``compliance-consumer-group`` reads ``compliance.transfer-requests``. A message is
the HTTP request body plus a ``request_id`` (and an optional ``client_id``; the JSON Schema is
``schemas/transfer-request.schema.json``). Each poll is handled as a whole:

1. every message is validated with the same model as ``POST /v1/compliance/transfer-check``;
2. the valid ones are decided through the API's ``DecisionService`` — one group commit; the
   request id is the idempotency key of principal ``kafka:<client_id>``, so a redelivered
   message gets the stored decision back and no second record;
3. each decision is published to ``compliance.decisions`` (key: the token id), each invalid
   message to ``compliance-events-dlq`` with the error, and every send is acknowledged;
4. only then are the offsets committed.

If a decision cannot be recorded (database down) or a send is not acknowledged, nothing is
committed: the consumer rewinds to the poll's first offsets and retries after a pause. Whatever
was decided meanwhile is answered again from its stored record, so retries are harmless.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import Field, ValidationError

from compliance_shield.api.schemas import CheckOut, TransferCheckIn, check_out
from compliance_shield.bootstrap import build_container
from compliance_shield.domain import encoding
from compliance_shield.errors import ComplianceShieldError, IdempotencyKeyReused, ServiceUnavailable
from compliance_shield.observability.kafka_lag import LagGauge
from compliance_shield.observability.metrics import CONSUMER_MESSAGES, CONSUMER_RETRIES
from compliance_shield.services.checks.gather import CheckRequest
from compliance_shield.services.checks.service import DecisionService
from compliance_shield.settings import Settings
from compliance_shield.workers.kafka import (
    CONSUMER_GROUP,
    DECISIONS_TOPIC,
    DLQ_TOPIC,
    REQUESTS_TOPIC,
    KafkaConfig,
    ensure_topics,
    start_with_retry,
)

log = structlog.get_logger(__name__)

SCHEMA_VERSION = 1
_ENVELOPE_FIELDS = {"schema_version", "request_id", "client_id"}


class TransferRequestMessage(TransferCheckIn):
    """A message on ``compliance.transfer-requests``: the HTTP request body plus its identity."""

    schema_version: Literal[1] = 1
    request_id: str = Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
    client_id: str = Field(default="default", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")


@dataclass(frozen=True, slots=True)
class ConsumerTopics:
    requests: str = REQUESTS_TOPIC
    decisions: str = DECISIONS_TOPIC
    dead_letters: str = DLQ_TOPIC
    group: str = CONSUMER_GROUP


class Retry(Exception):
    """The poll could not be completed; rewind and try again."""


def principal_of(client_id: str) -> str:
    return f"kafka:{client_id}"


def to_request(message: TransferRequestMessage) -> CheckRequest:
    return message.to_check_request(principal_of(message.client_id), message.request_id, exclude=_ENVELOPE_FIELDS)


def _field(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in (str(p) for p in loc):
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or "body"


def validation_error(exc: ValidationError) -> dict[str, Any]:
    """The API's ``VALIDATION_FAILED`` error body for a message that failed validation."""
    details = []
    for e in exc.errors():
        if e["type"] == "json_invalid":
            details.append({"field": "body", "message": f"malformed JSON: {e['msg']}"})
        else:
            details.append({"field": _field(tuple(e["loc"])), "message": e["msg"]})
    first = details[0] if details else {"field": "body", "message": "invalid message"}
    return {"code": "VALIDATION_FAILED", "message": f"{first['field']}: {first['message']}", "details": details}


def _error_body(error: ComplianceShieldError) -> dict[str, Any]:
    if isinstance(error, IdempotencyKeyReused):  # the API names its header; here it is the request id
        message = "this request_id was used with a different request"
        return {"code": error.code, "message": message, "details": [{"field": "request_id", "message": message}]}
    return {"code": error.code, "message": error.message, "details": error.details}


def _text(raw: bytes | None) -> tuple[str | None, str]:
    if raw is None:
        return None, "none"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode(), "base64"


def dead_letter(record: Any, error: dict[str, Any], now: datetime) -> dict[str, Any]:
    value, encoding = _text(record.value)
    key, key_encoding = _text(record.key)
    return {
        "schema_version": SCHEMA_VERSION,
        "failed_at": now.isoformat(),
        "error": error,
        "source": {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "timestamp": record.timestamp,
            "key": key,
            "key_encoding": key_encoding,
        },
        "value": value,
        "value_encoding": encoding,
    }


def decision_message(message: TransferRequestMessage, row: dict[str, Any]) -> dict[str, Any]:
    check = CheckOut.model_validate(check_out(row)).model_dump(mode="json")
    return {
        "schema_version": SCHEMA_VERSION,
        "request_id": message.request_id,
        "client_id": message.client_id,
        "check": check,
    }


@dataclass(slots=True)
class _Outcome:
    record: Any
    topic: str
    key: bytes | None
    value: dict[str, Any]
    headers: list[tuple[str, bytes]]
    dead: bool


class TransferRequestConsumer:
    """Runs until cancelled; see the module docstring for the delivery guarantees."""

    def __init__(
        self,
        decisions: DecisionService,
        kafka: KafkaConfig,
        *,
        topics: ConsumerTopics | None = None,
        max_records: int = 200,
        name: str = "compliance-consumer",
    ) -> None:
        self._decisions = decisions
        self._kafka = kafka
        self._topics = topics or ConsumerTopics()
        self._max_records = max_records
        self._name = name
        #: messages decided and dead-lettered by this consumer (each counted once per delivery)
        self.decided = 0
        self.dead_lettered = 0
        #: polls rewound because a decision could not be recorded or a send was not acknowledged
        self.retries = 0

    async def run(self) -> None:
        producer = await start_with_retry(lambda: self._kafka.producer(self._name), "consumer.producer")
        try:
            consumer = await start_with_retry(
                lambda: self._kafka.consumer(
                    self._topics.requests, self._topics.group, self._name, max_records=self._max_records
                ),
                "consumer.consumer",
            )
        except BaseException:
            await producer.stop()
            raise
        backoff = 0.2
        lag = LagGauge()
        try:
            while True:
                polled = await consumer.getmany(timeout_ms=1000, max_records=self._max_records)
                await lag.record(consumer)
                if not polled:
                    continue
                try:
                    await self.handle(consumer, producer, polled)
                    backoff = 0.2
                except (Retry, KafkaError, ServiceUnavailable) as exc:
                    self.retries += 1
                    CONSUMER_RETRIES.inc()
                    log.warning("consumer.retry", error=repr(exc), retry_in=backoff)
                    self._rewind(consumer, polled)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            await consumer.stop()
            await producer.stop()

    @staticmethod
    def _rewind(consumer: AIOKafkaConsumer, polled: dict[Any, list[Any]]) -> None:
        for tp, records in polled.items():
            if records and tp in consumer.assignment():
                consumer.seek(tp, records[0].offset)

    async def handle(
        self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, polled: dict[Any, list[Any]]
    ) -> None:
        """Decide, publish and commit one poll (raises ``Retry`` when it must be redone)."""
        now = datetime.now(UTC)
        records = [r for tp in sorted(polled, key=lambda t: (t.topic, t.partition)) for r in polled[tp]]
        outcomes = await self._decide(records, now)
        futures = [
            await producer.send(o.topic, encoding.dumps(o.value), key=o.key, headers=o.headers) for o in outcomes
        ]
        results = await asyncio.gather(*futures, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise Retry(f"{len(failed)} of {len(results)} sends were not acknowledged: {failed[0]!r}")
        offsets = {tp: batch[-1].offset + 1 for tp, batch in polled.items() if batch}
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:  # e.g. a rebalance took the partitions: the new owner redoes them
            log.warning("consumer.commit_failed", error=repr(exc))
        dead = sum(o.dead for o in outcomes)
        self.decided += len(outcomes) - dead
        self.dead_lettered += dead
        CONSUMER_MESSAGES.labels("decided").inc(len(outcomes) - dead)
        CONSUMER_MESSAGES.labels("dead_lettered").inc(dead)

    async def _decide(self, records: list[Any], now: datetime) -> list[_Outcome]:
        parsed: list[TransferRequestMessage | dict[str, Any]] = []
        for record in records:
            try:
                parsed.append(TransferRequestMessage.model_validate_json(record.value or b""))
            except ValidationError as exc:
                parsed.append(validation_error(exc))
        valid = [p for p in parsed if isinstance(p, TransferRequestMessage)]
        answers = iter(await self._decisions.check_many([to_request(m) for m in valid]) if valid else [])
        outcomes = []
        for record, item in zip(records, parsed, strict=True):
            if isinstance(item, dict):
                outcomes.append(self._dead(record, item, now))
                continue
            answer = next(answers)
            if isinstance(answer, ServiceUnavailable):
                raise Retry(answer.message)
            if isinstance(answer, ComplianceShieldError):
                outcomes.append(self._dead(record, _error_body(answer), now))
                continue
            headers = [("request_id", item.request_id.encode()), ("client_id", item.client_id.encode())]
            outcomes.append(
                _Outcome(record, self._topics.decisions, str(item.token_id).encode(),
                         decision_message(item, answer), headers, dead=False)
            )  # fmt: skip
        return outcomes

    def _dead(self, record: Any, error: dict[str, Any], now: datetime) -> _Outcome:
        log.info("consumer.dead_letter", topic=record.topic, partition=record.partition, offset=record.offset,
                 code=error["code"])  # fmt: skip
        headers = [("error_code", str(error["code"]).encode())]
        return _Outcome(record, self._topics.dead_letters, record.key, dead_letter(record, error, now), headers, True)


async def run(settings: Settings) -> None:
    """The ``worker consumer`` command: decide Kafka transfer requests until cancelled."""
    kafka = KafkaConfig.from_settings(settings)
    topics = ConsumerTopics()
    await ensure_topics(kafka, [topics.requests, topics.decisions, topics.dead_letters])
    container = await build_container(settings)
    try:
        await TransferRequestConsumer(container.decisions, kafka, topics=topics).run()
    finally:
        await container.close()
