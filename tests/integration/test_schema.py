"""The migrations and what the schema itself enforces: partitions, immutability, notifications."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import psycopg
import pytest

from compliance_shield.db import migrate

pytestmark = pytest.mark.integration

OUR_FUNCTIONS = ("create_token_state", "ensure_check_partitions", "forbid_modification", "notify_refdata")


def _month_start(moment: datetime, months_ahead: int) -> tuple[int, int]:
    index = moment.year * 12 + moment.month - 1 + months_ahead
    return index // 12, index % 12 + 1


def _partition_name(moment: datetime, months_ahead: int) -> str:
    year, month = _month_start(moment, months_ahead)
    return f"transfer_compliance_checks_y{year:04d}m{month:02d}"


async def _partitions(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'transfer_compliance_checks'::regclass"""
    )
    return {r["relname"] for r in rows}


async def _insert_check(conn: asyncpg.Connection, created_at: datetime) -> uuid.UUID:
    check_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO transfer_compliance_checks
               (id, created_at, token_id, from_address, to_address, amount, transfer_type,
                blockchain_type, status, risk_score, reasons, rules, facts, request, engine_version)
           VALUES ($1, $2, $3, '0x' || repeat('a', 40), '0x' || repeat('b', 40), 10, 'secondary',
                   'permissioned', 'APPROVED', 0, '[]', '[]', '{}', '{}', 'test')""",
        check_id,
        created_at,
        uuid.uuid4(),
    )
    return check_id


async def _partition_of(conn: asyncpg.Connection, check_id: uuid.UUID) -> str:
    name: str = await conn.fetchval(
        "SELECT tableoid::regclass::text FROM transfer_compliance_checks WHERE id = $1", check_id
    )
    return name


def test_database_is_at_the_head_revision(database_url: str) -> None:
    assert migrate.current_revision(database_url) == migrate.head_revision()


def test_downgrade_to_base_and_upgrade_again(new_database: Callable[[], str]) -> None:
    url = new_database()
    assert migrate.current_revision(url) is None

    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()

    migrate.downgrade(url, "base")
    assert migrate.current_revision(url) is None
    with psycopg.connect(url) as pg:
        tables = pg.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        functions = pg.execute("SELECT proname FROM pg_proc WHERE proname = ANY(%s)", [list(OUR_FUNCTIONS)]).fetchall()
    assert tables == [("alembic_version",)]
    assert functions == []

    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()
    migrate.upgrade(url)  # already at head: nothing to do
    assert migrate.current_revision(url) == migrate.head_revision()


async def test_partitions_exist_for_this_month_and_three_ahead(conn: asyncpg.Connection) -> None:
    now: datetime = await conn.fetchval("SELECT now()")
    expected = {_partition_name(now, i) for i in range(4)} | {"transfer_compliance_checks_default"}
    assert expected <= await _partitions(conn)


async def test_ensure_check_partitions_is_idempotent(tx_conn: asyncpg.Connection) -> None:
    assert await tx_conn.fetchval("SELECT ensure_check_partitions(3)") == 0
    now: datetime = await tx_conn.fetchval("SELECT now()")
    before = await _partitions(tx_conn)

    assert await tx_conn.fetchval("SELECT ensure_check_partitions(5)") == 2
    assert await _partitions(tx_conn) - before == {_partition_name(now, 4), _partition_name(now, 5)}
    assert await tx_conn.fetchval("SELECT ensure_check_partitions(5)") == 0


async def test_decision_documents_are_stored_without_pglz_in_every_partition(tx_conn: asyncpg.Connection) -> None:
    """facts and rules use lz4 where the server has it, else out-of-line storage without compression."""
    await tx_conn.fetchval("SELECT ensure_check_partitions(6)")  # partitions made after the migration too
    rows = await tx_conn.fetch(
        """SELECT c.relname, a.attname, a.attstorage, a.attcompression FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relname LIKE 'transfer_compliance_checks%' AND c.relkind IN ('r', 'p')
              AND a.attname IN ('facts', 'rules')"""
    )
    now = datetime.now(UTC)
    assert {r["relname"] for r in rows} >= {_partition_name(now, 6), "transfer_compliance_checks_default"}
    for row in rows:
        assert row["attcompression"] == b"l" or row["attstorage"] == b"e", dict(row)


async def test_ensure_check_partitions_rejects_a_silly_horizon(tx_conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.RaiseError, match="months_ahead"):
        await tx_conn.fetchval("SELECT ensure_check_partitions(-1)")


async def test_rows_without_a_partition_land_in_default_and_move_when_it_is_created(
    tx_conn: asyncpg.Connection,
) -> None:
    now: datetime = await tx_conn.fetchval("SELECT now()")
    far_future = await _insert_check(tx_conn, datetime(2199, 6, 1, tzinfo=now.tzinfo))
    # the 15th of the month eight months ahead: beyond the partitions the migration made
    year, month = _month_start(now, 8)
    eight_months_on = await _insert_check(tx_conn, datetime(year, month, 15, tzinfo=now.tzinfo))
    assert await _partition_of(tx_conn, far_future) == "transfer_compliance_checks_default"
    assert await _partition_of(tx_conn, eight_months_on) == "transfer_compliance_checks_default"

    # the DEFAULT partition holds a row of the new range: it is moved, not an error
    assert await tx_conn.fetchval("SELECT ensure_check_partitions(8)") >= 1

    assert await _partition_of(tx_conn, eight_months_on) == _partition_name(now, 8)
    assert await _partition_of(tx_conn, far_future) == "transfer_compliance_checks_default"
    count = await tx_conn.fetchval("SELECT count(*) FROM transfer_compliance_checks WHERE id = $1", eight_months_on)
    assert count == 1
    # the moved partition carries the parent's indexes and constraints
    indexes = await tx_conn.fetchval("SELECT count(*) FROM pg_indexes WHERE tablename = $1", _partition_name(now, 8))
    assert indexes == 6
    with pytest.raises(asyncpg.CheckViolationError):
        async with tx_conn.transaction():
            await tx_conn.execute(
                "UPDATE transfer_compliance_checks SET risk_score = 101 WHERE id = $1", eight_months_on
            )


async def test_partition_bounds_are_utc_months(tx_conn: asyncpg.Connection) -> None:
    await tx_conn.execute("SET LOCAL TimeZone = 'Asia/Kolkata'")
    now: datetime = await tx_conn.fetchval("SELECT now()")
    bound = await tx_conn.fetchval(
        """SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.relname = $1""",
        _partition_name(now, 1),
    )
    year, month = _month_start(now, 1)
    assert f"FROM ('{year:04d}-{month:02d}-01 05:30:00+05:30')" in bound


async def _policy_version(conn: asyncpg.Connection) -> uuid.UUID:
    policy_id = uuid.uuid4()
    await conn.execute("INSERT INTO policies (id, name) VALUES ($1, $2)", policy_id, f"p-{policy_id}")
    await conn.execute(
        """INSERT INTO policy_versions
               (policy_id, version, document, content_hash, engine_version, published_by)
           VALUES ($1, 1, '{"rules": []}', 'h1', 'e1', 'tester')""",
        policy_id,
    )
    await conn.execute("UPDATE policies SET current_version = 1 WHERE id = $1", policy_id)
    return policy_id


async def test_policy_versions_are_immutable(tx_conn: asyncpg.Connection) -> None:
    policy_id = await _policy_version(tx_conn)
    with pytest.raises(asyncpg.RaiseError, match="UPDATE is not allowed"):
        async with tx_conn.transaction():
            await tx_conn.execute("UPDATE policy_versions SET document = '{}' WHERE policy_id = $1", policy_id)
    with pytest.raises(asyncpg.RaiseError, match="DELETE is not allowed"):
        async with tx_conn.transaction():
            await tx_conn.execute("DELETE FROM policy_versions WHERE policy_id = $1", policy_id)
    document = await tx_conn.fetchval("SELECT document::text FROM policy_versions WHERE policy_id = $1", policy_id)
    assert json.loads(document) == {"rules": []}


async def test_current_version_must_be_published(tx_conn: asyncpg.Connection) -> None:
    policy_id = await _policy_version(tx_conn)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await tx_conn.execute("UPDATE policies SET current_version = 2 WHERE id = $1", policy_id)


async def test_evm_addresses_must_be_stored_lower_case(tx_conn: asyncpg.Connection) -> None:
    investor_id = await tx_conn.fetchval(
        "INSERT INTO investors (name, country, category) VALUES ('A', 'IN', 'retail') RETURNING id"
    )
    with pytest.raises(asyncpg.CheckViolationError):
        async with tx_conn.transaction():
            await tx_conn.execute(
                "INSERT INTO wallets (address, investor_id) VALUES ($1, $2)",
                "0xAbCdEf0123456789abcdef0123456789ABCDEF01",
                investor_id,
            )
    await tx_conn.execute(
        "INSERT INTO wallets (address, investor_id) VALUES ($1, $2)",
        "0xabcdef0123456789abcdef0123456789abcdef01",
        investor_id,
    )


async def test_reference_data_changes_are_notified_and_token_state_bumps_are_not(
    conn: asyncpg.Connection, database_url: str
) -> None:
    received: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def on_notify(_conn: object, _pid: int, channel: str, payload: object) -> None:
        received.put_nowait((channel, str(payload)))

    await conn.add_listener("cs_refdata", on_notify)
    await conn.add_listener("cs_token_state", on_notify)
    writer = await asyncpg.connect(database_url)
    try:
        investor_id = uuid.uuid4()
        token_id = uuid.uuid4()
        address = "0x" + uuid.uuid4().hex + "0" * 8
        async with writer.transaction():
            await writer.execute(
                "INSERT INTO investors (id, name, country, category) VALUES ($1, 'N', 'IN', 'retail')",
                investor_id,
            )
            await writer.execute("INSERT INTO wallets (address, investor_id) VALUES ($1, $2)", address, investor_id)
            await writer.execute("INSERT INTO token_state (token_id) VALUES ($1)", token_id)
            await writer.execute("UPDATE token_state SET version = version + 1 WHERE token_id = $1", token_id)
        await writer.execute("UPDATE wallets SET status = 'frozen' WHERE address = $1", address)

        messages = [await asyncio.wait_for(received.get(), timeout=5) for _ in range(3)]
        await asyncio.sleep(0.2)  # (a token_state notification would have arrived by now)
    finally:
        await writer.close()
    refdata = [json.loads(p) for c, p in messages if c == "cs_refdata"]
    assert refdata == [
        {"table": "investors", "key": str(investor_id), "op": "insert"},
        {"table": "wallets", "key": address, "op": "insert"},
        {"table": "wallets", "key": address, "op": "update"},
    ]
    assert received.empty()  # writers catch up from ledger_changes under the token locks


async def test_the_review_queue_is_listed_through_its_partial_index(tx_conn: asyncpg.Connection) -> None:
    """Listing escalated decisions (the officers' queue) does not scan the approved bulk."""
    await tx_conn.execute("SET LOCAL enable_seqscan = off")
    plan = "\n".join(
        r[0]
        for r in await tx_conn.fetch(
            "EXPLAIN SELECT id FROM transfer_compliance_checks WHERE status = 'ESCALATED'"
            " ORDER BY created_at DESC, id DESC LIMIT 50"
        )
    )
    # the partial index implies the predicate: no row is read and filtered out
    assert "Index Only Scan" in plan, plan
    assert "Filter" not in plan, plan
