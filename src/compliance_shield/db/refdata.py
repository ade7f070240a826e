"""Repository for reference data (investors, wallets, tokens, holdings, sanctioned addresses).

Table and column names come from this module's own constants, never from input.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from compliance_shield.db import Conn

TABLE_KEYS = {"investors": "id", "wallets": "address", "tokens": "id"}


async def insert(conn: Conn, table: str, values: dict[str, Any]) -> dict[str, Any]:
    columns = list(values)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(f'${i}' for i in range(1, len(columns) + 1))}) RETURNING *"
    )
    row = await conn.fetchrow(sql, *values.values())
    assert row is not None
    return dict(row)


async def update(conn: Conn, table: str, key: Any, values: dict[str, Any]) -> dict[str, Any] | None:
    key_column = TABLE_KEYS[table]
    assignments = [f"{column} = ${i}" for i, column in enumerate(values, start=2)]
    assignments.append("updated_at = now()")
    if table == "investors":
        assignments.append("version = version + 1")
    sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {key_column} = $1 RETURNING *"  # noqa: S608
    row = await conn.fetchrow(sql, key, *values.values())
    return dict(row) if row is not None else None


async def get(conn: Conn, table: str, key: Any, *, for_update: bool = False) -> dict[str, Any] | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT * FROM {table} WHERE {TABLE_KEYS[table]} = $1{lock}", key)  # noqa: S608
    return dict(row) if row is not None else None


async def page(
    conn: Conn,
    table: str,
    *,
    after: Any | None,
    limit: int,
    filters: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Keyset page ordered by the table's key."""
    key_column = TABLE_KEYS[table]
    where, args = [], []
    for column, value in (filters or {}).items():
        args.append(value)
        where.append(f"{column} = ${len(args)}")
    if after is not None:
        args.append(after)
        where.append(f"{key_column} > ${len(args)}")
    args.append(limit)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = await conn.fetch(
        f"SELECT * FROM {table}{clause} ORDER BY {key_column} LIMIT ${len(args)}",  # noqa: S608
        *args,
    )
    return [dict(r) for r in rows]


async def put_holding(
    conn: Conn, token_id: UUID, investor_id: UUID, balance: int, acquired_at: datetime
) -> dict[str, Any]:
    """Replace a holding (issuer-registry sync): one lot of the whole balance."""
    await conn.execute("DELETE FROM holding_lots WHERE token_id = $1 AND investor_id = $2", token_id, investor_id)
    if balance > 0:
        await conn.execute(
            "INSERT INTO holding_lots (token_id, investor_id, amount, acquired_at) VALUES ($1, $2, $3, $4)",
            token_id,
            investor_id,
            balance,
            acquired_at,
        )
    row = await conn.fetchrow(
        """INSERT INTO holdings (token_id, investor_id, balance, updated_at) VALUES ($1, $2, $3, now())
           ON CONFLICT (token_id, investor_id) DO UPDATE SET balance = EXCLUDED.balance, updated_at = now()
           RETURNING token_id, investor_id, balance, updated_at""",
        token_id,
        investor_id,
        balance,
    )
    assert row is not None
    return dict(row)


async def get_holding(conn: Conn, token_id: UUID, investor_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT token_id, investor_id, balance, updated_at FROM holdings WHERE token_id = $1 AND investor_id = $2",
        token_id,
        investor_id,
    )
    return dict(row) if row is not None else None


async def list_holdings(conn: Conn, token_id: UUID, *, after: UUID | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT token_id, investor_id, balance, updated_at FROM holdings
           WHERE token_id = $1 AND ($2::uuid IS NULL OR investor_id > $2) AND balance > 0
           ORDER BY investor_id LIMIT $3""",
        token_id,
        after,
        limit,
    )
    return [dict(r) for r in rows]


async def move_holding(
    conn: Conn,
    token_id: UUID,
    from_investor: UUID | None,
    to_investor: UUID | None,
    amount: int,
    at: datetime,
) -> bool:
    """Apply a settled transfer: debit the sender's oldest lots first, credit the receiver.

    Returns False (and changes nothing the caller keeps) when the sender lacks the balance.
    """
    if from_investor is not None:
        debited = await conn.fetchval(
            """UPDATE holdings SET balance = balance - $3, updated_at = now()
               WHERE token_id = $1 AND investor_id = $2 AND balance >= $3 RETURNING balance""",
            token_id,
            from_investor,
            amount,
        )
        if debited is None:
            return False
        await _consume_lots(conn, token_id, from_investor, amount)
    if to_investor is not None:
        await conn.execute(
            """INSERT INTO holdings (token_id, investor_id, balance, updated_at) VALUES ($1, $2, $3, now())
               ON CONFLICT (token_id, investor_id) DO UPDATE SET balance = holdings.balance + EXCLUDED.balance,
               updated_at = now()""",
            token_id,
            to_investor,
            amount,
        )
        await conn.execute(
            "INSERT INTO holding_lots (token_id, investor_id, amount, acquired_at) VALUES ($1, $2, $3, $4)",
            token_id,
            to_investor,
            amount,
            at,
        )
    return True


async def _consume_lots(conn: Conn, token_id: UUID, investor: UUID, amount: int) -> None:
    lots = await conn.fetch(
        "SELECT id, amount FROM holding_lots WHERE token_id = $1 AND investor_id = $2"
        " ORDER BY acquired_at, id FOR UPDATE",
        token_id,
        investor,
    )
    remaining = amount
    for lot in lots:
        if remaining <= 0:
            break
        take = min(int(lot["amount"]), remaining)
        remaining -= take
        if take == int(lot["amount"]):
            await conn.execute("DELETE FROM holding_lots WHERE id = $1", lot["id"])
        else:
            await conn.execute("UPDATE holding_lots SET amount = amount - $2 WHERE id = $1", lot["id"], take)


async def add_sanctioned(conn: Conn, rows: Sequence[tuple[Any, ...]]) -> None:
    """Rows of (address, chain, source, entity, list_version, added_by)."""
    await conn.executemany(
        """INSERT INTO sanctioned_addresses (address, chain, source, entity, list_version, added_at, added_by)
           VALUES ($1, $2, $3, $4, $5, now(), $6)
           ON CONFLICT (address, source) DO UPDATE SET chain = EXCLUDED.chain, entity = EXCLUDED.entity,
             list_version = EXCLUDED.list_version, added_at = now(), added_by = EXCLUDED.added_by""",
        rows,
    )


async def delete_sanctioned(conn: Conn, addresses: Sequence[str], source: str | None) -> list[str]:
    rows = await conn.fetch(
        """DELETE FROM sanctioned_addresses WHERE address = ANY($1::text[])
           AND ($2::text IS NULL OR source = $2) RETURNING address""",
        list(addresses),
        source,
    )
    return sorted({r["address"] for r in rows})
