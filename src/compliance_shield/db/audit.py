"""The hash-chained, append-only audit log.

Each row's ``hash`` is ``sha256(prev_hash + canonical_json(row))`` where the row is ``seq``,
``occurred_at`` (ISO-8601 UTC with microseconds), ``actor``, ``action``, ``entity_type``,
``entity_id`` and ``payload``; canonical JSON has sorted keys and no whitespace. The first row
links to ``GENESIS_HASH``. Altering, inserting or deleting a row in the middle breaks the chain at
that row or the one after it; ``verify`` finds the first break. Removing rows from the *end*
leaves a valid, shorter chain: compare ``VerifyResult.head_hash`` with a head hash anchored
elsewhere (an export, a ticket, a chain) to detect that.

The database forbids UPDATE, DELETE and TRUNCATE by trigger, and ``prev_hash`` is UNIQUE, so two
writers cannot fork the chain.

Payloads must be JSON-native: ``str``, ``int``, ``bool``, ``None``, lists and dicts with ``str``
keys. JSONB keeps these exactly (and reorders keys, which canonical JSON ignores), so the hash
computed before the insert is the hash recomputed from the stored row. Floats are refused: JSONB
re-spells numbers (``1e+20`` comes back as ``100000000000000000000``, an ``int``); store decimals
as strings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from compliance_shield.domain import encoding

AnyConnection: TypeAlias = asyncpg.Connection | PoolConnectionProxy

GENESIS_HASH = "0" * 64

#: ``'cs-audit'`` as a big-endian integer: the transaction-scoped advisory lock serializing appends
AUDIT_LOCK_KEY = 0x63732D6175646974

_VERIFY_PREFETCH = 1000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    occurred_at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """``checked`` counts the rows read, the broken one included.

    ``head_hash`` is the hash of the last row that verified (None when none did).
    """

    ok: bool
    checked: int
    first_broken_seq: int | None
    reason: str | None
    head_hash: str | None = None


def _check_json_native(value: Any, path: str = "payload") -> None:
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: keys must be str, got {type(key).__name__}")
            _check_json_native(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json_native(item, f"{path}[{index}]")
        return
    raise TypeError(f"{path}: {type(value).__name__} is not JSON-native (use str for decimals, times and ids)")


def _canonical_json(value: Any) -> str:
    return encoding.canonical(value)


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    payload: Mapping[str, Any],
) -> str:
    """The chain hash of one row (hex sha256 of ``prev_hash`` + canonical JSON of the row)."""
    body = _canonical_json(
        {
            "seq": seq,
            "occurred_at": _iso_utc(occurred_at),
            "actor": actor,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "payload": payload,
        }
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


async def append(conn: AnyConnection, entries: Sequence[AuditEntry]) -> None:
    """Append ``entries`` in order. Must run inside the caller's (READ COMMITTED) transaction.

    Appends are serialized across processes by a transaction-scoped advisory lock held until the
    caller commits, so keep the transaction short after appending.
    """
    if not entries:
        return
    if not conn.is_in_transaction():
        raise RuntimeError("audit.append must be called inside a transaction")
    for entry in entries:
        _check_json_native(entry.payload)
        _iso_utc(entry.occurred_at)

    await conn.execute("SELECT pg_advisory_xact_lock($1)", AUDIT_LOCK_KEY)
    # a statement of its own after the lock: its snapshot then includes the previous holder's rows
    head = await conn.fetchrow(
        """SELECT (SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1) AS hash,
                  ARRAY(SELECT nextval('audit_log_seq_seq') FROM generate_series(1, $1)) AS seqs""",
        len(entries),
    )
    assert head is not None
    prev_hash = head["hash"] if head["hash"] is not None else GENESIS_HASH
    seqs = sorted(head["seqs"])

    prev_hashes: list[str] = []
    hashes: list[str] = []
    for seq, entry in zip(seqs, entries, strict=True):
        prev_hashes.append(prev_hash)
        prev_hash = entry_hash(
            prev_hash,
            seq,
            entry.occurred_at,
            entry.actor,
            entry.action,
            entry.entity_type,
            entry.entity_id,
            entry.payload,
        )
        hashes.append(prev_hash)

    # payload travels as text and is cast in SQL, independent of any jsonb codec on the connection
    await conn.execute(
        """INSERT INTO audit_log
               (seq, occurred_at, actor, action, entity_type, entity_id, payload, prev_hash, hash)
           SELECT seq, occurred_at, actor, action, entity_type, entity_id, payload::jsonb, prev_hash, hash
             FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::text[], $9::text[])
                  AS t(seq, occurred_at, actor, action, entity_type, entity_id, payload, prev_hash, hash)""",
        seqs,
        [e.occurred_at for e in entries],
        [e.actor for e in entries],
        [e.action for e in entries],
        [e.entity_type for e in entries],
        [e.entity_id for e in entries],
        [_canonical_json(e.payload) for e in entries],
        prev_hashes,
        hashes,
    )


async def verify(conn: AnyConnection) -> VerifyResult:
    """Walk the whole chain in ``seq`` order, streaming it, and report the first broken row.

    Outside a transaction it reads one consistent snapshot (REPEATABLE READ, read-only).
    """
    if conn.is_in_transaction():
        return await _walk(conn)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _walk(conn)


async def _walk(conn: AnyConnection) -> VerifyResult:
    checked = 0
    prev_seq: int | None = None
    prev_hash = GENESIS_HASH
    cursor = conn.cursor(
        """SELECT seq, occurred_at, actor, action, entity_type, entity_id, payload::text AS payload,
                  prev_hash, hash
             FROM audit_log ORDER BY seq""",
        prefetch=_VERIFY_PREFETCH,
    )
    async for row in cursor:
        checked += 1
        seq: int = row["seq"]
        if row["prev_hash"] != prev_hash:
            after = "the start of the log" if prev_seq is None else f"seq {prev_seq}"
            return VerifyResult(
                ok=False,
                checked=checked,
                first_broken_seq=seq,
                reason=f"prev_hash does not link to {after}: a row before it was removed or altered",
                head_hash=None if prev_seq is None else prev_hash,
            )
        expected = entry_hash(
            row["prev_hash"],
            seq,
            row["occurred_at"],
            row["actor"],
            row["action"],
            row["entity_type"],
            row["entity_id"],
            encoding.loads(row["payload"]),
        )
        if row["hash"] != expected:
            return VerifyResult(
                ok=False,
                checked=checked,
                first_broken_seq=seq,
                reason="hash does not match the row's contents: the row was altered",
                head_hash=None if prev_seq is None else prev_hash,
            )
        prev_seq = seq
        prev_hash = row["hash"]
    return VerifyResult(
        ok=True,
        checked=checked,
        first_broken_seq=None,
        reason=None,
        head_hash=None if prev_seq is None else prev_hash,
    )
