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


async def investors(conn: Conn, ids: Sequence[Any] | None = None) -> list[asyncpg.Record]:
    if ids is None:
        return await conn.fetch(f"SELECT {INVESTOR_COLUMNS} FROM investors")  # noqa: S608
    return await conn.fetch(
        f"SELECT {INVESTOR_COLUMNS} FROM investors WHERE id = ANY($1::uuid[])",  # noqa: S608
        list(ids),
    )


async def wallets(conn: Conn, addresses: Sequence[str] | None = None) -> list[asyncpg.Record]:
    if addresses is None:
        return await conn.fetch(f"SELECT {WALLET_COLUMNS} FROM wallets")  # noqa: S608
    return await conn.fetch(
        f"SELECT {WALLET_COLUMNS} FROM wallets WHERE address = ANY($1::text[])",  # noqa: S608
        list(addresses),
    )


async def tokens(conn: Conn, ids: Sequence[Any] | None = None) -> list[asyncpg.Record]:
    if ids is None:
        return await conn.fetch(f"SELECT {TOKEN_COLUMNS} FROM tokens")  # noqa: S608
    return await conn.fetch(
        f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ANY($1::uuid[])",  # noqa: S608
        list(ids),
    )


async def published_policies(conn: Conn, policy_ids: Sequence[Any] | None = None) -> list[asyncpg.Record]:
    """The current published version of each policy (or of the given ones)."""
    sql = """SELECT p.id AS policy_id, v.version, v.document, v.content_hash
             FROM policies p JOIN policy_versions v
               ON v.policy_id = p.id AND v.version = p.current_version"""
    if policy_ids is None:
        return await conn.fetch(sql)
    return await conn.fetch(sql + " WHERE p.id = ANY($1::uuid[])", list(policy_ids))


async def sanctioned_addresses(conn: Conn, addresses: Sequence[str] | None = None) -> list[asyncpg.Record]:
    if addresses is None:
        return await conn.fetch(f"SELECT {SANCTION_COLUMNS} FROM sanctioned_addresses")  # noqa: S608
    return await conn.fetch(
        f"SELECT {SANCTION_COLUMNS} FROM sanctioned_addresses WHERE address = ANY($1::text[])",  # noqa: S608
        list(addresses),
    )


WALLET_LABEL_COLUMNS = "address, source, category, risk_level, note"


async def wallet_labels(conn: Conn, addresses: Sequence[str] | None = None) -> list[asyncpg.Record]:
    if addresses is None:
        return await conn.fetch(f"SELECT {WALLET_LABEL_COLUMNS} FROM wallet_labels")  # noqa: S608
    return await conn.fetch(
        f"SELECT {WALLET_LABEL_COLUMNS} FROM wallet_labels WHERE address = ANY($1::text[])",  # noqa: S608
        list(addresses),
    )


async def list_addresses(conn: Conn) -> list[asyncpg.Record]:
    """Addresses of the active sanctions list versions (imported lists), with entity names."""
    return await lists.active_addresses(conn)


async def list_versions(conn: Conn) -> list[str]:
    """Labels of the active sanctions list versions: what every screening consults."""
    rows = await conn.fetch("SELECT label FROM sanctions_list_versions WHERE status = 'active' ORDER BY label")
    return [r["label"] for r in rows]
