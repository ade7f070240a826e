"""``Idempotency-Key`` semantics of a batch: claims, stored repeats and repeats within the batch.

Keys are claimed first (inserted with the id their decision will have), so a repeat being decided
by another writer is waited for rather than decided twice; the claims commit, or roll back, with
the decisions they name. A repeat with the same body gets the stored decision; another body is
``IdempotencyKeyReused`` (409).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from compliance_shield.db import Conn
from compliance_shield.db import checks as repo
from compliance_shield.errors import IdempotencyKeyReused
from compliance_shield.observability.metrics import IDEMPOTENT_REPLAYS
from compliance_shield.services.checks.contract import Pending
from compliance_shield.services.ids import uuid7


def first_of_each_key(batch: list[Pending]) -> dict[tuple[str, str], int]:
    """The index of the first request of each ``Idempotency-Key`` in the batch (the others repeat it)."""
    first: dict[tuple[str, str], int] = {}
    for i, p in enumerate(batch):
        if p.request.idempotency_key:
            first.setdefault(p.key, i)
    return first


async def resolve(
    conn: Conn, batch: list[Pending], first: dict[tuple[str, str], int], results: list[Any], now: datetime
) -> list[tuple[int, UUID]]:
    """Answer stored repeats in ``results``; return the requests that need a new decision, with their ids."""
    # (drawn in batch order: ids sort as the decisions were made; a repeat within the batch has none)
    ids = {i: uuid7() for i, p in enumerate(batch) if first.get(p.key, i) == i}
    claimed = (
        await repo.claim_idempotency_keys(
            conn, [(*key, batch[i].request.request_hash, ids[i], now) for key, i in first.items()]
        )
        if first
        else set()
    )
    taken = [key for key in first if key not in claimed]
    stored = await repo.find_idempotency_keys(conn, taken) if taken else {}
    stored_checks = await repo.get_checks(conn, [r["check_id"] for r in stored.values()]) if stored else {}
    leaders = []
    for i, p in enumerate(batch):
        key = p.key
        if p.request.idempotency_key and key in stored:
            found = stored[key]
            if found["request_hash"] != p.request.request_hash:
                results[i] = key_reused(p.request.idempotency_key)
            else:
                IDEMPOTENT_REPLAYS.inc()
                results[i] = stored_checks[found["check_id"]]
        elif p.request.idempotency_key and first[key] != i:
            continue  # a repeat within this batch: answered from its leader after commit
        else:
            leaders.append((i, ids[i]))
    return leaders


def fill_followers(batch: list[Pending], first: dict[tuple[str, str], int], results: list[Any]) -> None:
    """Answer the repeats within the batch from their leader's result."""
    for i, p in enumerate(batch):
        if not p.request.idempotency_key or results[i] is not None:
            continue
        leader = first[p.key]
        if leader == i:
            continue
        if batch[leader].request.request_hash != p.request.request_hash:
            results[i] = key_reused(p.request.idempotency_key)
        else:
            IDEMPOTENT_REPLAYS.inc()
            results[i] = results[leader]


def key_reused(key: str | None) -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        "this Idempotency-Key was used with a different request",
        details=[{"field": "Idempotency-Key", "message": f"key {key!r} already used with another body"}],
    )
