"""The hash-chained audit log: appends, verification, tamper detection, concurrent writers."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from compliance_shield.db import audit
from compliance_shield.db.audit import GENESIS_HASH, AuditEntry

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 27, 9, 30, 0, 123456, tzinfo=UTC)


def _entries(n: int, *, tag: str = "t", payload: dict[str, Any] | None = None) -> list[AuditEntry]:
    return [
        AuditEntry(
            occurred_at=T0 + timedelta(seconds=i),
            actor="officer@example.com",
            action="check.decided",
            entity_type="transfer_check",
            entity_id=f"{tag}-{i}",
            payload=payload if payload is not None else {"n": i, "tag": tag},
        )
        for i in range(n)
    ]


async def _append_committed(conn: asyncpg.Connection, entries: Sequence[AuditEntry]) -> None:
    async with conn.transaction():
        await audit.append(conn, entries)


async def _tail_seqs(conn: asyncpg.Connection, n: int) -> list[int]:
    rows = await conn.fetch("SELECT seq FROM audit_log ORDER BY seq DESC LIMIT $1", n)
    return sorted(r["seq"] for r in rows)


def test_entry_hash_is_sha256_of_prev_hash_and_canonical_json() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    canonical = (
        '{"action":"b","actor":"a","entity_id":"d","entity_type":"c",'
        '"occurred_at":"2026-01-01T00:00:00.000000Z","payload":{"x":1,"y":["é"]},"seq":7}'
    )
    expected = hashlib.sha256((GENESIS_HASH + canonical).encode()).hexdigest()
    occurred = datetime(2026, 1, 1, 5, 30, tzinfo=ist)  # the same instant, in IST
    assert audit.entry_hash(GENESIS_HASH, 7, occurred, "a", "b", "c", "d", {"y": ["é"], "x": 1}) == expected


async def test_append_and_verify_three_batches(conn: asyncpg.Connection) -> None:
    before = await audit.verify(conn)
    assert before.ok, before

    nested = {"zeta": [1, {"b": None, "a": True}], "amount": 10**30, "name": "Zoë ₹ 名", "empty": {}}
    batches = [_entries(1, tag="one"), _entries(5, tag="five"), _entries(3, tag="three", payload=nested)]
    for batch in batches:
        await _append_committed(conn, batch)

    result = await audit.verify(conn)
    assert result.ok, result
    assert result.checked == before.checked + 9
    assert result.first_broken_seq is None
    assert result.reason is None
    assert result.head_hash == await conn.fetchval("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1")

    rows = await conn.fetch("SELECT seq, prev_hash, hash, entity_id FROM audit_log ORDER BY seq DESC LIMIT 9")
    rows = rows[::-1]
    assert [r["entity_id"] for r in rows] == [e.entity_id for batch in batches for e in batch]
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in itertools.pairwise(rows))
    if before.head_hash is None:
        assert rows[0]["prev_hash"] == GENESIS_HASH
    else:
        assert rows[0]["prev_hash"] == before.head_hash


async def test_append_needs_a_transaction(conn: asyncpg.Connection) -> None:
    with pytest.raises(RuntimeError, match="inside a transaction"):
        await audit.append(conn, _entries(1))


@pytest.mark.parametrize(
    "payload",
    [{"price": 1.5}, {"at": datetime(2026, 1, 1, tzinfo=UTC)}, {1: "x"}, {"nested": [{"nan": float("nan")}]}],
    ids=["float", "datetime", "int-key", "nested-float"],
)
async def test_append_refuses_payloads_that_would_not_round_trip(
    tx_conn: asyncpg.Connection, payload: dict[Any, Any]
) -> None:
    with pytest.raises(TypeError):
        await audit.append(tx_conn, _entries(1, payload=payload))


async def test_append_refuses_naive_times(tx_conn: asyncpg.Connection) -> None:
    naive = AuditEntry(datetime(2026, 1, 1), "a", "b", "c", "d", {})
    with pytest.raises(ValueError, match="timezone-aware"):
        await audit.append(tx_conn, [naive])


async def test_rows_cannot_be_updated_deleted_or_truncated(tx_conn: asyncpg.Connection) -> None:
    await audit.append(tx_conn, _entries(2, tag="guarded"))
    (seq, _) = await _tail_seqs(tx_conn, 2)
    statements = [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = $1", (seq,)),
        ("DELETE FROM audit_log WHERE seq = $1", (seq,)),
        ("TRUNCATE audit_log", ()),
    ]
    for statement, args in statements:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            async with tx_conn.transaction():
                await tx_conn.execute(statement, *args)
    assert (await audit.verify(tx_conn)).ok


async def test_an_edited_payload_is_detected_at_its_row(tx_conn: asyncpg.Connection) -> None:
    await audit.append(tx_conn, _entries(3, tag="edit"))
    (_, middle, _) = await _tail_seqs(tx_conn, 3)
    await tx_conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
    await tx_conn.execute("""UPDATE audit_log SET payload = '{"n": 99, "tag": "edit"}' WHERE seq = $1""", middle)

    result = await audit.verify(tx_conn)

    assert not result.ok
    assert result.first_broken_seq == middle
    assert result.reason is not None
    assert "altered" in result.reason


async def test_a_deleted_middle_row_is_detected_at_the_next_row(tx_conn: asyncpg.Connection) -> None:
    await audit.append(tx_conn, _entries(3, tag="delete"))
    (first, middle, last) = await _tail_seqs(tx_conn, 3)
    await tx_conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
    await tx_conn.execute("DELETE FROM audit_log WHERE seq = $1", middle)

    result = await audit.verify(tx_conn)

    assert not result.ok
    assert result.first_broken_seq == last
    assert result.reason is not None
    assert f"seq {first}" in result.reason
    assert result.head_hash == await tx_conn.fetchval("SELECT hash FROM audit_log WHERE seq = $1", first)


async def test_a_rehashed_row_is_caught_by_the_link_from_the_next_row(tx_conn: asyncpg.Connection) -> None:
    await audit.append(tx_conn, _entries(2, tag="rehash"))
    (edited, following) = await _tail_seqs(tx_conn, 2)
    row = await tx_conn.fetchrow("SELECT * FROM audit_log WHERE seq = $1", edited)
    assert row is not None
    forged = {"n": 0, "tag": "forged"}
    forged_hash = audit.entry_hash(
        row["prev_hash"], edited, row["occurred_at"], row["actor"], row["action"],
        row["entity_type"], row["entity_id"], forged,
    )  # fmt: skip
    await tx_conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
    await tx_conn.execute(
        """UPDATE audit_log SET payload = '{"n": 0, "tag": "forged"}', hash = $2 WHERE seq = $1""",
        edited,
        forged_hash,
    )

    result = await audit.verify(tx_conn)

    assert not result.ok
    assert result.first_broken_seq == following


async def test_concurrent_appends_from_two_connections_keep_one_chain(
    conn: asyncpg.Connection, database_url: str
) -> None:
    before = await audit.verify(conn)

    async def writer(tag: str) -> None:
        connection = await asyncpg.connect(database_url)
        try:
            for i in range(15):
                await _append_committed(connection, _entries(1 + i % 3, tag=f"{tag}{i}"))
        finally:
            await connection.close()

    await asyncio.gather(writer("a"), writer("b"))

    result = await audit.verify(conn)
    assert result.ok, result
    assert result.checked == before.checked + 2 * sum(1 + i % 3 for i in range(15))
