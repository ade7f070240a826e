"""Repository of transfer checks, reservations, idempotency keys and outbox rows (never commits)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from compliance_shield.db import Conn, json_text

#: the columns of a decision row and their SQL types; each becomes one array parameter of the
#: batch insert (JSON travels as text and is cast in SQL)
_CHECK_COLUMN_TYPES = (
    ("id", "uuid"), ("created_at", "timestamptz"), ("token_id", "uuid"), ("from_address", "text"),
    ("to_address", "text"), ("amount", "numeric"), ("transfer_type", "text"), ("blockchain_type", "text"),
    ("status", "text"), ("risk_score", "smallint"), ("restriction_code", "smallint"), ("reasons", "jsonb"),
    ("rules", "json"), ("facts", "json"), ("request", "jsonb"), ("reference", "text"), ("policy_id", "uuid"),
    ("policy_version", "integer"), ("policy_hash", "text"), ("engine_version", "text"),
    ("idempotency_key", "text"), ("principal", "text"), ("expires_at", "timestamptz"),
    ("processing_ms", "real"), ("settlement_status", "text"), ("tx_hash", "text"), ("settled_at", "timestamptz"),
)  # fmt: skip
CHECK_COLUMNS = tuple(column for column, _ in _CHECK_COLUMN_TYPES)
_JSON_TYPES = {column: kind for column, kind in _CHECK_COLUMN_TYPES if kind in ("json", "jsonb")}

_ARRAYS = ", ".join(
    f"${i}::{'text' if column in _JSON_TYPES else kind}[]" for i, (column, kind) in enumerate(_CHECK_COLUMN_TYPES, 1)
)
_INSERT_CHECKS = (
    f"INSERT INTO transfer_compliance_checks ({', '.join(CHECK_COLUMNS)}) "  # noqa: S608
    f"SELECT {', '.join(f'{c}::{_JSON_TYPES[c]}' if c in _JSON_TYPES else c for c in CHECK_COLUMNS)} "
    f"FROM unnest({_ARRAYS}) AS t({', '.join(CHECK_COLUMNS)})"
)


def _columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as columns: one array parameter each for ``unnest``."""
    return [list(column) for column in zip(*rows, strict=True)]


async def insert_checks(conn: Conn, rows: Sequence[dict[str, Any]]) -> None:
    """Insert decision rows with ONE statement (a column array each): a row per statement cost the
    database an executor start-up per decision. JSON columns travel as text, cast in SQL."""
    columns = [[json_text(r[c]) for r in rows] if c in _JSON_TYPES else [r[c] for r in rows] for c in CHECK_COLUMNS]
    await conn.execute(_INSERT_CHECKS, *columns)


async def insert_reservations(conn: Conn, rows: Sequence[tuple[Any, ...]]) -> None:
    """Rows of (check_id, token_id, from_investor_id, to_investor_id, amount, created_at, expires_at)."""
    await conn.execute(
        """INSERT INTO reservations
           (check_id, token_id, from_investor_id, to_investor_id, amount, created_at, expires_at)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::numeric[],
                                $6::timestamptz[], $7::timestamptz[])""",
        *_columns(rows),
    )


async def claim_idempotency_keys(
    conn: Conn, rows: Sequence[tuple[str, str, str, UUID, datetime]]
) -> set[tuple[str, str]]:
    """Insert rows of (principal, key, request_hash, check_id, created_at); the (principal, key)
    pairs claimed. A pair already stored is not claimed; one being inserted by another open
    transaction is waited for (the primary key's uniqueness check) and then claimed only if that
    transaction rolled back. Rows go in one sorted order, so two writers cannot deadlock here.
    """
    claimed = await conn.fetch(
        """INSERT INTO idempotency_keys (principal, key, request_hash, check_id, created_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[])
           ORDER BY 1, 2
           ON CONFLICT DO NOTHING
           RETURNING principal, key""",
        *_columns(sorted(rows)),
    )
    return {(r["principal"], r["key"]) for r in claimed}


async def find_idempotency_keys(
    conn: Conn, principal_keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], asyncpg.Record]:
    rows = await conn.fetch(
        """SELECT k.principal, k.key, k.request_hash, k.check_id FROM idempotency_keys k
           JOIN unnest($1::text[], $2::text[]) AS wanted(principal, key)
             ON k.principal = wanted.principal AND k.key = wanted.key""",
        [p for p, _ in principal_keys],
        [k for _, k in principal_keys],
    )
    return {(r["principal"], r["key"]): r for r in rows}


async def insert_outbox(conn: Conn, rows: Sequence[tuple[Any, ...]]) -> None:
    """Rows of (event_id, topic, key, event_type, payload, created_at)."""
    event_ids, topics, keys, types, payloads, created = _columns(rows)
    await conn.execute(
        """INSERT INTO outbox (event_id, topic, key, event_type, payload, created_at)
           SELECT event_id, topic, key, event_type, payload::jsonb, created_at
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
                  AS t(event_id, topic, key, event_type, payload, created_at)""",
        event_ids, topics, keys, types, [json_text(p) for p in payloads], created,
    )  # fmt: skip


async def get_checks(conn: Conn, ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {', '.join(CHECK_COLUMNS)} FROM transfer_compliance_checks"  # noqa: S608
        " WHERE id = ANY($1::uuid[])",
        list(ids),
    )
    return {r["id"]: normalize(dict(r)) for r in rows}


async def get_check(conn: Conn, check_id: UUID, *, for_update: bool = False) -> dict[str, Any] | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {', '.join(CHECK_COLUMNS)} FROM transfer_compliance_checks WHERE id = $1{lock}",  # noqa: S608
        check_id,
    )
    return normalize(dict(row)) if row is not None else None


def normalize(row: dict[str, Any]) -> dict[str, Any]:
    """Database types to the in-memory shape used when the row was built (numeric → int)."""
    row["amount"] = int(row["amount"])
    row["processing_ms"] = round(row["processing_ms"], 3)  # stored as float4: undo its binary noise
    return row


async def list_checks(
    conn: Conn,
    *,
    status: str | None,
    token_id: UUID | None,
    address: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    cursor: tuple[datetime, UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first; ``cursor`` is the (created_at, id) of the last row of the previous page."""
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if status == "ESCALATED":
        # spelled out, so that the planner uses the partial index of the review queue
        where.append("status = 'ESCALATED'")
    elif status:
        where.append(f"status = {arg(status)}")
    if token_id:
        where.append(f"token_id = {arg(token_id)}")
    if address:
        p = arg(address)
        where.append(f"(from_address = {p} OR to_address = {p})")
    if created_from:
        where.append(f"created_at >= {arg(created_from)}")
    if created_to:
        where.append(f"created_at < {arg(created_to)}")
    if cursor:
        where.append(f"(created_at, id) < ({arg(cursor[0])}, {arg(cursor[1])})")
    sql = f"SELECT {', '.join(CHECK_COLUMNS)} FROM transfer_compliance_checks"  # noqa: S608
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY created_at DESC, id DESC LIMIT {arg(limit)}"
    return [normalize(dict(r)) for r in await conn.fetch(sql, *args)]
