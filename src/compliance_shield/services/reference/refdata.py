"""Use cases for reference data: investors, wallets, tokens, holdings and sanctioned addresses.

Every change is written together with its audit entry in one transaction; after the commit the
local snapshot reloads the entity at once (other processes follow via LISTEN/NOTIFY).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from pydantic import BaseModel

from compliance_shield.db import Conn, audit, ledger_queries
from compliance_shield.db import refdata as repo
from compliance_shield.errors import Conflict, NotFound
from compliance_shield.services.checks.ledger import change_holding
from compliance_shield.services.reference.inputs import (
    HoldingPut,
    InvestorCreate,
    InvestorPatch,
    SanctionedAddressesDelete,
    SanctionedAddressesIn,
    TokenCreate,
    TokenPatch,
    WalletCreate,
    WalletPatch,
)
from compliance_shield.services.reference.snapshot import Snapshot
from compliance_shield.services.screening.screening import ScreeningService


def _json_values(model: BaseModel, *, exclude_unset: bool) -> dict[str, Any]:
    values = model.model_dump(exclude_unset=exclude_unset)
    if "trading_windows" in values and values["trading_windows"] is not None:
        values["trading_windows"] = [w.model_dump(mode="json") for w in model.trading_windows]  # type: ignore[attr-defined]
    return values


def _audit_payload(values: dict[str, Any]) -> dict[str, Any]:
    """JSON-native copy of changed values for the audit log."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, list):
            out[key] = [str(v) if not isinstance(v, (dict, str)) else v for v in value]
        elif value is None or isinstance(value, (bool, str, dict)):
            out[key] = value
        else:
            out[key] = str(value)
    return out


#: the column a unique constraint guards, named by PostgreSQL's default constraint names
_UNIQUE_FIELDS = {
    "investors_pkey": "id",
    "investors_external_ref_key": "external_ref",
    "wallets_pkey": "address",
    "tokens_pkey": "id",
    "tokens_contract_address_key": "contract_address",
}


def _clash(exc: asyncpg.UniqueViolationError, what: str) -> Conflict:
    """409 naming the field whose value another row already has."""
    field = _UNIQUE_FIELDS.get(exc.constraint_name or "", "id")
    message = f"another {what} has this {field}"
    return Conflict(message, details=[{"field": field, "message": message}])


@asynccontextmanager
async def _unique(what: str) -> AsyncIterator[None]:
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        raise _clash(exc, what) from exc


def _missing(message: str, field: str) -> NotFound:
    """404 naming the field that refers to an entity that does not exist."""
    return NotFound(message, details=[{"field": field, "message": message}])


#: investor fields whose change means screening the name again
SCREENED_FIELDS = frozenset({"name", "type", "country", "nationality"})


class ReferenceDataService:
    def __init__(self, pool: asyncpg.Pool, snapshot: Snapshot, screening: ScreeningService | None = None) -> None:
        self._pool = pool
        self._snapshot = snapshot
        #: name screening of investors as they are written (None: left pending for the sweep)
        self.screening = screening

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Conn]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    async def _audit(self, conn: Conn, actor: str, action: str, kind: str, key: str, payload: dict[str, Any]) -> None:
        entry = audit.AuditEntry(datetime.now(UTC), actor, action, kind, key, _audit_payload(payload))
        await audit.append(conn, [entry])

    async def _refresh(self, table: str, key: str) -> None:
        async with self._pool.acquire() as conn:
            await self._snapshot.reload(conn, table, key)

    async def _read(self, table: str, key: Any) -> dict[str, Any]:
        async with self._pool.acquire() as conn:
            row = await repo.get(conn, table, key)
        if row is None:
            raise NotFound(f"{table[:-1]} {key} not found")
        return row

    async def _page(self, table: str, after: Any, limit: int, **filters: Any) -> list[dict[str, Any]]:
        async with self._pool.acquire() as conn:
            return await repo.page(
                conn,
                table,
                after=after,
                limit=limit,
                filters={k: v for k, v in filters.items() if v is not None},
            )

    # -- investors ---------------------------------------------------------------------------

    async def create_investor(self, data: InvestorCreate, actor: str) -> dict[str, Any]:
        values = _json_values(data, exclude_unset=False)
        values["id"] = values["id"] or uuid4()
        async with self._write() as conn:
            async with _unique("investor"):
                row = await repo.insert(conn, "investors", values)
            if self.screening is not None:
                row = await self.screening.screen_row(conn, row)
            await self._audit(conn, actor, "investor.created", "investor", str(row["id"]), values)
        await self._refresh("investors", str(row["id"]))
        return row

    async def update_investor(self, investor_id: UUID, patch: InvestorPatch, actor: str) -> dict[str, Any]:
        values = _json_values(patch, exclude_unset=True)
        if not values:
            return await self.get_investor(investor_id)
        async with self._write() as conn:
            async with _unique("investor"):
                row = await repo.update(conn, "investors", investor_id, values)
            if row is None:
                raise NotFound(f"investor {investor_id} not found")
            if self.screening is not None and SCREENED_FIELDS & values.keys():
                row = await self.screening.screen_row(conn, row)
            await self._audit(conn, actor, "investor.updated", "investor", str(investor_id), values)
        await self._refresh("investors", str(investor_id))
        return row

    async def get_investor(self, investor_id: UUID) -> dict[str, Any]:
        return await self._read("investors", investor_id)

    async def list_investors(self, after: UUID | None, limit: int, category: str | None) -> list[dict[str, Any]]:
        return await self._page("investors", after, limit, category=category)

    async def find_investor_by_ref(self, ref: str) -> UUID | None:
        """The investor whose ``external_ref`` — or, failing that, id — is ``ref``."""
        async with self._pool.acquire() as conn:
            found = await conn.fetchval("SELECT id FROM investors WHERE external_ref = $1", ref)
            if found is None:
                try:
                    found = await conn.fetchval("SELECT id FROM investors WHERE id = $1", UUID(ref))
                except ValueError:
                    return None
        return found if isinstance(found, UUID) else None

    # -- wallets -----------------------------------------------------------------------------

    async def _require_investor(self, conn: Conn, investor_id: UUID) -> None:
        if await repo.get(conn, "investors", investor_id) is None:
            raise _missing(f"investor {investor_id} does not exist", "investor_id")

    async def create_wallet(self, data: WalletCreate, actor: str) -> dict[str, Any]:
        values = _json_values(data, exclude_unset=False)
        async with self._write() as conn:
            await self._require_investor(conn, data.investor_id)
            try:
                row = await repo.insert(conn, "wallets", values)
            except asyncpg.UniqueViolationError as exc:
                message = f"wallet {data.address} is already bound"
                raise Conflict(message, details=[{"field": "address", "message": message}]) from exc
            await self._audit(conn, actor, "wallet.created", "wallet", data.address, values)
        await self._refresh("wallets", data.address)
        return row

    async def update_wallet(self, address: str, patch: WalletPatch, actor: str) -> dict[str, Any]:
        values = _json_values(patch, exclude_unset=True)
        if not values:
            return await self.get_wallet(address)
        async with self._write() as conn:
            if patch.investor_id is not None:
                await self._require_investor(conn, patch.investor_id)
            row = await repo.update(conn, "wallets", address, values)
            if row is None:
                raise NotFound(f"wallet {address} not found")
            await self._audit(conn, actor, "wallet.updated", "wallet", address, values)
        await self._refresh("wallets", address)
        return row

    async def get_wallet(self, address: str) -> dict[str, Any]:
        return await self._read("wallets", address)

    async def list_wallets(self, after: str | None, limit: int, investor_id: UUID | None) -> list[dict[str, Any]]:
        return await self._page("wallets", after, limit, investor_id=investor_id)

    # -- tokens ------------------------------------------------------------------------------

    async def _require_policy(self, conn: Conn, policy_id: UUID | None) -> None:
        if policy_id is not None and await conn.fetchval("SELECT 1 FROM policies WHERE id = $1", policy_id) is None:
            raise _missing(f"policy {policy_id} does not exist", "policy_id")

    async def create_token(self, data: TokenCreate, actor: str) -> dict[str, Any]:
        values = _json_values(data, exclude_unset=False)
        values["id"] = values["id"] or uuid4()
        async with self._write() as conn:
            await self._require_policy(conn, data.policy_id)
            async with _unique("token"):
                row = await repo.insert(conn, "tokens", values)
            await self._audit(conn, actor, "token.created", "token", str(row["id"]), values)
        await self._refresh("tokens", str(row["id"]))
        return row

    async def update_token(self, token_id: UUID, patch: TokenPatch, actor: str) -> dict[str, Any]:
        values = _json_values(patch, exclude_unset=True)
        if not values:
            return await self.get_token(token_id)
        async with self._write() as conn:
            await self._require_policy(conn, patch.policy_id)
            async with _unique("token"):
                row = await repo.update(conn, "tokens", token_id, values)
            if row is None:
                raise NotFound(f"token {token_id} not found")
            await self._audit(conn, actor, "token.updated", "token", str(token_id), values)
        await self._refresh("tokens", str(token_id))
        return row

    async def get_token(self, token_id: UUID) -> dict[str, Any]:
        return await self._read("tokens", token_id)

    async def list_tokens(self, after: UUID | None, limit: int) -> list[dict[str, Any]]:
        return await self._page("tokens", after, limit)

    # -- holdings ----------------------------------------------------------------------------

    async def put_holding(self, token_id: UUID, investor_id: UUID, data: HoldingPut, actor: str) -> dict[str, Any]:
        acquired_at = data.acquired_at or datetime.now(UTC)
        async with self._write() as conn:
            if await repo.get(conn, "tokens", token_id) is None:
                raise NotFound(f"token {token_id} not found")
            await self._require_investor(conn, investor_id)
            await ledger_queries.lock_tokens(conn, [token_id])
            row = await repo.put_holding(conn, token_id, investor_id, data.balance, acquired_at)
            change = change_holding(investor_id, data.balance, acquired_at)
            await ledger_queries.bump_versions(conn, [token_id], {token_id: [change]})
            await self._audit(
                conn, actor, "holding.synced", "holding", f"{token_id}:{investor_id}",
                {"balance": str(data.balance), "acquired_at": acquired_at.isoformat()},
            )  # fmt: skip
        return row

    async def get_holding(self, token_id: UUID, investor_id: UUID) -> dict[str, Any]:
        async with self._pool.acquire() as conn:
            row = await repo.get_holding(conn, token_id, investor_id)
        if row is None:
            raise NotFound(f"no holding of investor {investor_id} in token {token_id}")
        return row

    async def list_holdings(self, token_id: UUID, after: UUID | None, limit: int) -> list[dict[str, Any]]:
        async with self._pool.acquire() as conn:
            if await repo.get(conn, "tokens", token_id) is None:
                raise NotFound(f"token {token_id} not found")
            return await repo.list_holdings(conn, token_id, after=after, limit=limit)

    # -- sanctioned addresses ----------------------------------------------------------------

    async def add_sanctioned(self, data: SanctionedAddressesIn, actor: str) -> list[str]:
        rows = [(a.address, a.chain, a.source, a.entity, a.list_version, actor) for a in data.addresses]
        async with self._write() as conn:
            await repo.add_sanctioned(conn, rows)
            await self._audit(
                conn, actor, "sanctions.addresses_added", "sanctioned_addresses", data.addresses[0].source,
                {"addresses": [a.address for a in data.addresses]},
            )  # fmt: skip
        for a in {a.address for a in data.addresses}:
            await self._refresh("sanctioned_addresses", a)
        return sorted({a.address for a in data.addresses})

    async def delete_sanctioned(self, data: SanctionedAddressesDelete, actor: str) -> list[str]:
        async with self._write() as conn:
            removed = await repo.delete_sanctioned(conn, data.addresses, data.source)
            await self._audit(
                conn, actor, "sanctions.addresses_removed", "sanctioned_addresses", data.source or "any",
                {"addresses": removed},
            )  # fmt: skip
        for a in removed:
            await self._refresh("sanctioned_addresses", a)
        return removed
