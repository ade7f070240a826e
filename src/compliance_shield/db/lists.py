"""Repository of sanctions list versions, their entities and addresses (never commits)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg

from compliance_shield.db import Conn
from compliance_shield.domain.screening import ListAddress, ListEntity

VERSION_COLUMNS = """id, source, label, format, published_on, content_hash, entity_count, name_count,
    address_count, origin, imported_at, imported_by, status, superseded_at"""


async def lock_source(conn: Conn, source: str) -> None:
    """Serialize imports of one source (transaction-scoped advisory lock)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('cs-lists:' || $1))", source)


#: the advisory lock that orders list-version changes against stored screening results
_VERSIONS_LOCK = "cs-lists:versions"


async def lock_versions(conn: Conn, *, shared: bool) -> None:
    """Transaction-scoped lock on "which versions are active".

    An import takes it exclusively before it changes the active versions; a screening write takes
    it shared and then checks that the versions it screened against are still the active ones, so
    a result computed against superseded lists can never overwrite a newer one.
    """
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    await conn.execute(f"SELECT {function}(hashtext($1))", _VERSIONS_LOCK)


async def active_version(conn: Conn, source: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {VERSION_COLUMNS} FROM sanctions_list_versions WHERE source = $1 AND status = 'active'",  # noqa: S608
        source,
    )


async def active_versions(conn: Conn) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {VERSION_COLUMNS} FROM sanctions_list_versions WHERE status = 'active' ORDER BY source"  # noqa: S608
    )


async def versions(conn: Conn, source: str | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {VERSION_COLUMNS} FROM sanctions_list_versions
            WHERE ($1::text IS NULL OR source = $1) ORDER BY imported_at DESC, id DESC LIMIT $2""",  # noqa: S608
        source,
        limit,
    )


async def supersede(conn: Conn, source: str) -> str | None:
    """Mark the active version of ``source`` superseded; return its label."""
    label: str | None = await conn.fetchval(
        """UPDATE sanctions_list_versions SET status = 'superseded', superseded_at = now()
           WHERE source = $1 AND status = 'active' RETURNING label""",
        source,
    )
    return label


async def insert_version(
    conn: Conn,
    *,
    source: str,
    label: str,
    list_format: str,
    published_on: date | None,
    content_hash: str,
    counts: tuple[int, int, int],
    origin: str | None,
    actor: str,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""INSERT INTO sanctions_list_versions
              (source, label, format, published_on, content_hash, entity_count, name_count, address_count,
               origin, imported_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {VERSION_COLUMNS}""",  # noqa: S608
        source,
        label,
        list_format,
        published_on,
        content_hash,
        *counts,
        origin,
        actor,
    )
    assert row is not None
    return row


async def copy_entities(conn: Conn, version_id: int, entities: Sequence[ListEntity]) -> None:
    await conn.copy_records_to_table(
        "sanctions_list_entities",
        columns=[
            "version_id", "uid", "kind", "name", "aliases", "dates_of_birth", "nationalities", "countries",
            "programmes", "remarks",
        ],
        records=[
            (
                version_id, e.uid, e.kind.value, e.name, list(e.aliases), list(e.dates_of_birth),
                list(e.nationalities), list(e.countries), list(e.programmes), e.remarks,
            )
            for e in entities
        ],
    )  # fmt: skip


async def copy_addresses(conn: Conn, version_id: int, addresses: Sequence[ListAddress]) -> None:
    await conn.copy_records_to_table(
        "sanctions_list_addresses",
        columns=["version_id", "address", "asset", "entity_uid"],
        records=[(version_id, a.address, a.asset, a.entity_uid) for a in addresses],
    )


async def active_entities(conn: Conn) -> list[asyncpg.Record]:
    """Every entity of every active version, with its version's source and label."""
    return await conn.fetch(
        """SELECT v.source, v.label, e.uid, e.kind, e.name, e.aliases, e.dates_of_birth, e.nationalities,
                  e.countries, e.programmes
           FROM sanctions_list_versions v JOIN sanctions_list_entities e ON e.version_id = v.id
           WHERE v.status = 'active'"""
    )


async def active_addresses(conn: Conn) -> list[asyncpg.Record]:
    """Every address of every active version with its source, label, asset and entity name."""
    return await conn.fetch(
        """SELECT a.address, v.source, v.label AS list_version, a.asset, a.entity_uid, e.name AS entity
           FROM sanctions_list_versions v
           JOIN sanctions_list_addresses a ON a.version_id = v.id
           LEFT JOIN sanctions_list_entities e ON e.version_id = v.id AND e.uid = a.entity_uid
           WHERE v.status = 'active'"""
    )


def version_out(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in (
        "source", "label", "format", "published_on", "content_hash", "entity_count", "name_count", "address_count",
        "origin", "imported_at", "imported_by", "status", "superseded_at",
    )}  # fmt: skip
