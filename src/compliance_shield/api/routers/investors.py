"""Investors and their wallets (the identity registry / whitelist)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status

from compliance_shield.api.auth import READ, WRITE, Principal
from compliance_shield.api.deps import container
from compliance_shield.api.schemas import InvestorOut, Page, WalletOut, wallet_out
from compliance_shield.bootstrap import Container
from compliance_shield.services.reference.inputs import (
    Category,
    EvmAddress,
    InvestorCreate,
    InvestorPatch,
    WalletCreate,
    WalletPatch,
)

router = APIRouter(tags=["investors and wallets"])


def _page(items: list[dict[str, Any]], limit: int, key: str) -> dict[str, Any]:
    return {"items": items, "next_cursor": str(items[-1][key]) if len(items) == limit else None}


@router.post("/v1/investors", response_model=InvestorOut, status_code=status.HTTP_201_CREATED)
async def create_investor(
    body: InvestorCreate, p: Principal = Depends(WRITE), c: Container = Depends(container)
) -> dict[str, Any]:
    """Register an investor (screened and KYC'd party)."""
    return await c.refdata.create_investor(body, p.sub)


@router.get("/v1/investors", response_model=Page[InvestorOut])
async def list_investors(
    category: Category | None = None,
    cursor: UUID | None = None,
    limit: int = Query(default=100, ge=1, le=500),
    _: Principal = Depends(READ),
    c: Container = Depends(container),
) -> dict[str, Any]:
    return _page(await c.refdata.list_investors(cursor, limit, category), limit, "id")


@router.get("/v1/investors/{investor_id}", response_model=InvestorOut)
async def get_investor(
    investor_id: UUID, _: Principal = Depends(READ), c: Container = Depends(container)
) -> dict[str, Any]:
    return await c.refdata.get_investor(investor_id)


@router.patch("/v1/investors/{investor_id}", response_model=InvestorOut)
async def update_investor(
    investor_id: UUID, body: InvestorPatch, p: Principal = Depends(WRITE), c: Container = Depends(container)
) -> dict[str, Any]:
    """Change fields of an investor (only the fields sent)."""
    return await c.refdata.update_investor(investor_id, body, p.sub)


@router.post("/v1/wallets", response_model=WalletOut, status_code=status.HTTP_201_CREATED)
async def create_wallet(
    body: WalletCreate, p: Principal = Depends(WRITE), c: Container = Depends(container)
) -> dict[str, Any]:
    """Bind an address to an investor."""
    return wallet_out(await c.refdata.create_wallet(body, p.sub))


@router.get("/v1/wallets", response_model=Page[WalletOut])
async def list_wallets(
    investor_id: UUID | None = None,
    cursor: EvmAddress | None = None,
    limit: int = Query(default=100, ge=1, le=500),
    _: Principal = Depends(READ),
    c: Container = Depends(container),
) -> dict[str, Any]:
    rows = await c.refdata.list_wallets(cursor, limit, investor_id)
    page = _page(rows, limit, "address")
    page["items"] = [wallet_out(r) for r in rows]
    return page


@router.get("/v1/wallets/{address}", response_model=WalletOut)
async def get_wallet(
    address: EvmAddress, _: Principal = Depends(READ), c: Container = Depends(container)
) -> dict[str, Any]:
    return wallet_out(await c.refdata.get_wallet(address))


@router.patch("/v1/wallets/{address}", response_model=WalletOut)
async def update_wallet(
    address: EvmAddress, body: WalletPatch, p: Principal = Depends(WRITE), c: Container = Depends(container)
) -> dict[str, Any]:
    """Freeze/unfreeze, rebind or relabel a wallet."""
    return wallet_out(await c.refdata.update_wallet(address, body, p.sub))
