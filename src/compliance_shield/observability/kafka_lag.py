"""Consumer lag of ``compliance-consumer-group``, as the consumer itself sees it.

For each partition it holds: the partition's high watermark (learned from the last fetch) minus
the consumer's position. The group's total lag is the sum over its members' gauges; a partition
that moved to another member in a rebalance is dropped from this one's.
"""

from __future__ import annotations

from typing import Any

from aiokafka.errors import IllegalStateError, KafkaError

from compliance_shield.observability.metrics import CONSUMER_LAG


class LagGauge:
    def __init__(self) -> None:
        self._reported: set[tuple[str, str]] = set()

    async def record(self, consumer: Any) -> None:
        """Set the lag of every partition ``consumer`` holds (an ``AIOKafkaConsumer``)."""
        seen: set[tuple[str, str]] = set()
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:  # nothing fetched from this partition yet
                continue
            try:
                position = await consumer.position(tp)
            except (IllegalStateError, KafkaError):  # revoked meanwhile
                continue
            labels = (tp.topic, str(tp.partition))
            CONSUMER_LAG.labels(*labels).set(max(0, high - position))
            seen.add(labels)
        for gone in self._reported - seen:
            CONSUMER_LAG.remove(*gone)
        self._reported = seen
