"""Outbox events: one envelope for everything published on ``compliance-events``.

Events are keyed so that one token's events stay ordered (key = token id, or the entity id for
events that concern no token). Consumers deduplicate on ``event_id``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from compliance_shield.services.ids import uuid7

TOPIC = "compliance-events"
SCHEMA_VERSION = 1


def outbox_row(event_type: str, key: str, data: dict[str, Any], now: datetime) -> tuple[Any, ...]:
    """(event_id, topic, key, event_type, payload, created_at) for ``db.checks.insert_outbox``."""
    event_id = uuid7()
    payload = {
        "schema_version": SCHEMA_VERSION,
        "event_id": str(event_id),
        "event_type": event_type,
        "occurred_at": now.isoformat(),
        "key": key,
        "data": data,
    }
    return (event_id, TOPIC, key, event_type, payload, now)
