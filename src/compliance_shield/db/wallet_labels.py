"""Repository of the built-in wallet-risk labels (``wallet_labels``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from compliance_shield.db import Conn

_COLUMNS = "address, source, category, risk_level, note, added_at, added_by"


async def upsert(conn: Conn, rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Insert or replace labels: rows of (address, source, category, risk_level, note, added_by)."""
    stored = await conn.fetch(
        f"""INSERT INTO wallet_labels (address, source, category, risk_level, note, added_by)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
            ON CONFLICT (address, source) DO UPDATE
               SET category = EXCLUDED.category, risk_level = EXCLUDED.risk_level, note = EXCLUDED.note,
                   added_by = EXCLUDED.added_by, added_at = now()
            RETURNING {_COLUMNS}""",  # noqa: S608
        *(list(column) for column in zip(*rows, strict=True)),
    )
    return [dict(r) for r in stored]


async def delete(conn: Conn, address: str, source: str | None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"DELETE FROM wallet_labels WHERE address = $1 AND ($2::text IS NULL OR source = $2) RETURNING {_COLUMNS}",  # noqa: S608
        address,
        source,
    )
    return [dict(r) for r in rows]


async def for_address(conn: Conn, address: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM wallet_labels WHERE address = $1 ORDER BY source",  # noqa: S608
        address,
    )
    return [dict(r) for r in rows]


async def page(conn: Conn, *, after: tuple[str, str] | None, limit: int, category: str | None) -> list[dict[str, Any]]:
    """Keyset page ordered by (address, source), after the given pair."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM wallet_labels
            WHERE ($1::text IS NULL OR (address, source) > ($1, $2)) AND ($3::text IS NULL OR category = $3)
            ORDER BY address, source LIMIT $4""",  # noqa: S608
        after[0] if after else None,
        after[1] if after else None,
        category,
        limit,
    )
    return [dict(r) for r in rows]
