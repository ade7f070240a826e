"""Queries that load the reference-data snapshot (whole tables or one entity)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from compliance_shield.db import Conn, lists

INVESTOR_COLUMNS = """id, type, name, country, nationality, category, kyc_status, kyc_expires_at,
    accreditation_expires_at, pep, risk_rating, designated_tokens, kyc_provider, kyc_provider_ref,
    screening_status, screening_hits, screening_list_versions, screened_at"""
WALLET_COLUMNS = "address, investor_id, status, custody"
TOKEN_COLUMNS = """id, symbol, decimals, price_per_unit, price_currency, paused, lockup_until,
    trading_windows, total_supply, policy_id"""
SANCTION_COLUMNS = "address, source, entity, list_version"


async def _rows(
    conn: Conn, table: str, columns: str, key: str, key_type: str, keys: Sequence[Any] | None
) -> list[asyncpg.Record]:
    """The whole table, or the rows whose ``key`` is in ``keys`` (names come from this module)."""
    sql = f"SELECT {columns} FROM {table}"  # noqa: S608
    if keys is None:
        return await conn.fetch(sql)
    return await conn.fetch(f"{sql} WHERE {key} = ANY($1::{key_type}[])", list(keys))


async def investors(conn: Conn, ids: Sequence[Any] | None = None) -> list[asyncpg.Record]:
    return await _rows(conn, "investors", INVESTOR_COLUMNS, "id", "uuid", ids)


async def wallets(conn: Conn, addresses: Sequence[str] | None = None) -> list[asyncpg.Record]:
    return await _rows(conn, "wallets", WALLET_COLUMNS, "address", "text", addresses)


async def tokens(conn: Conn, ids: Sequence[Any] | None = None) -> list[asyncpg.Record]:
    return await _rows(conn, "tokens", TOKEN_COLUMNS, "id", "uuid", ids)


async def published_policies(conn: Conn, policy_ids: Sequence[Any] | None = None) -> list[asyncpg.Record]:
    """The current published version of each policy (or of the given ones)."""
    sql = """SELECT p.id AS policy_id, v.version, v.document, v.content_hash
             FROM policies p JOIN policy_versions v
               ON v.policy_id = p.id AND v.version = p.current_version"""
    if policy_ids is None:
        return await conn.fetch(sql)
    return await conn.fetch(sql + " WHERE p.id = ANY($1::uuid[])", list(policy_ids))


async def sanctioned_addresses(conn: Conn, addresses: Sequence[str] | None = None) -> list[asyncpg.Record]:
    return await _rows(conn, "sanctioned_addresses", SANCTION_COLUMNS, "address", "text", addresses)


WALLET_LABEL_COLUMNS = "address, source, category, risk_level, note"


async def wallet_labels(conn: Conn, addresses: Sequence[str] | None = None) -> list[asyncpg.Record]:
    return await _rows(conn, "wallet_labels", WALLET_LABEL_COLUMNS, "address", "text", addresses)


async def list_addresses(conn: Conn) -> list[asyncpg.Record]:
    """Addresses of the active sanctions list versions (imported lists), with entity names."""
    return await lists.active_addresses(conn)


async def list_versions(conn: Conn) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Labels of the active sanctions list versions — what every screening consults — and of
    those among them that list names (what a party's name screening must have used)."""
    rows = await conn.fetch(
        "SELECT label, name_count > 0 AS lists_names FROM sanctions_list_versions"
        " WHERE status = 'active' ORDER BY label"
    )
    return tuple(r["label"] for r in rows), tuple(r["label"] for r in rows if r["lists_names"])
