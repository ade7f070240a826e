"""The built-in wallet-risk labels: an officer records what is known about an address.

Each change is written with its audit entry in one transaction; the snapshot reloads the
address at once here (other processes follow through LISTEN/NOTIFY on ``wallet_labels``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from compliance_shield.db import audit
from compliance_shield.db import wallet_labels as repo
from compliance_shield.domain.addresses import InvalidAddress, normalize_evm
from compliance_shield.errors import NotFound
from compliance_shield.services.reference.inputs import AnyAddress
from compliance_shield.services.reference.snapshot import Snapshot

Category = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,47}$")]
Source = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^\S+$")]


#: printable ASCII without spaces, and a value that starts with 0x is a whole EVM address
LABEL_ADDRESS_PATTERN = r"^(?:0x[0-9a-fA-F]{40}|0|0[!-WYZ-wyz-~][!-~]{0,126}|[!-/1-~][!-~]{0,127})$"
LabelAddress = Annotated[AnyAddress, StringConstraints(pattern=LABEL_ADDRESS_PATTERN)]


class WalletLabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    address: LabelAddress
    category: Category
    risk_level: Literal["low", "medium", "high", "severe"]
    source: Source = "operator"
    note: str | None = Field(default=None, max_length=500)

    @field_validator("address")
    @classmethod
    def _evm_when_hex(cls, value: str) -> str:
        # a 0x… value must be a whole EVM address: a truncated one would never match a transfer
        if value.lower().startswith("0x"):
            try:
                return normalize_evm(value)
            except InvalidAddress as exc:
                raise ValueError(str(exc)) from exc
        return value


class WalletLabelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: list[WalletLabelIn] = Field(min_length=1, max_length=10000)


class WalletLabelService:
    def __init__(self, pool: asyncpg.Pool, snapshot: Snapshot) -> None:
        self._pool = pool
        self._snapshot = snapshot

    async def put(self, data: WalletLabelsIn, actor: str) -> list[dict[str, Any]]:
        """Insert or replace labels (keyed by address and source; within one request the last
        label of an address and source wins, as it would sent one by one)."""
        latest = {(x.address, x.source): x for x in data.labels}
        rows = [(x.address, x.source, x.category, x.risk_level, x.note, actor) for x in latest.values()]
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await repo.upsert(conn, rows)
            entry = audit.AuditEntry(
                datetime.now(UTC),
                actor,
                "wallet_labels.put",
                "wallet_labels",
                data.labels[0].source,
                {"labels": [x.model_dump(mode="json") for x in data.labels]},
            )
            await audit.append(conn, [entry])
        await self._refresh({x.address for x in data.labels})
        return stored

    async def delete(self, address: str, source: str | None, actor: str) -> list[dict[str, Any]]:
        async with self._pool.acquire() as conn, conn.transaction():
            removed = await repo.delete(conn, address, source)
            if not removed:
                raise NotFound(f"no label for {address}" + (f" from {source}" if source else ""))
            entry = audit.AuditEntry(
                datetime.now(UTC),
                actor,
                "wallet_labels.deleted",
                "wallet_labels",
                address,
                {"source": source, "removed": [r["source"] for r in removed]},
            )
            await audit.append(conn, [entry])
        await self._refresh({address})
        return removed

    async def get(self, address: str) -> list[dict[str, Any]]:
        async with self._pool.acquire() as conn:
            return await repo.for_address(conn, address)

    async def page(self, after: tuple[str, str] | None, limit: int, category: str | None) -> list[dict[str, Any]]:
        async with self._pool.acquire() as conn:
            return await repo.page(conn, after=after, limit=limit, category=category)

    async def _refresh(self, addresses: set[str]) -> None:
        async with self._pool.acquire() as conn:
            for address in sorted(addresses):
                await self._snapshot.reload(conn, "wallet_labels", address)
