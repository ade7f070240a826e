"""Tokens and their holdings (issuer-registry sync)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status

from compliance_shield.api.auth import ADMIN, READ, WRITE, Principal
from compliance_shield.api.deps import container
from compliance_shield.api.schemas import HoldingOut, Page, TokenOut, holding_out, token_out
from compliance_shield.bootstrap import Container
from compliance_shield.services.reference.inputs import HoldingPut, TokenCreate, TokenPatch

router = APIRouter(tags=["tokens and holdings"])


@router.post("/v1/tokens", response_model=TokenOut, status_code=status.HTTP_201_CREATED)
async def create_token(
    body: TokenCreate, p: Principal = Depends(ADMIN), c: Container = Depends(container)
) -> dict[str, Any]:
    """Register a security token and the policy it follows."""
    return token_out(await c.refdata.create_token(body, p.sub))


@router.get("/v1/tokens", response_model=Page[TokenOut])
async def list_tokens(
    cursor: UUID | None = None,
    limit: int = Query(default=100, ge=1, le=500),
    _: Principal = Depends(READ),
    c: Container = Depends(container),
) -> dict[str, Any]:
    rows = await c.refdata.list_tokens(cursor, limit)
    return {
        "items": [token_out(r) for r in rows],
        "next_cursor": str(rows[-1]["id"]) if len(rows) == limit else None,
    }


@router.get("/v1/tokens/{token_id}", response_model=TokenOut)
async def get_token(token_id: UUID, _: Principal = Depends(READ), c: Container = Depends(container)) -> dict[str, Any]:
    return token_out(await c.refdata.get_token(token_id))


@router.patch("/v1/tokens/{token_id}", response_model=TokenOut)
async def update_token(
    token_id: UUID, body: TokenPatch, p: Principal = Depends(ADMIN), c: Container = Depends(container)
) -> dict[str, Any]:
    """Pause, re-price, change policy, lock-up or trading windows of a token."""
    return token_out(await c.refdata.update_token(token_id, body, p.sub))


@router.put("/v1/tokens/{token_id}/holdings/{investor_id}", response_model=HoldingOut)
async def put_holding(
    token_id: UUID,
    investor_id: UUID,
    body: HoldingPut,
    p: Principal = Depends(WRITE),
    c: Container = Depends(container),
) -> dict[str, Any]:
    """Set an investor's balance from the issuer's register (replaces the stored holding)."""
    return holding_out(await c.refdata.put_holding(token_id, investor_id, body, p.sub))


@router.get("/v1/tokens/{token_id}/holdings", response_model=Page[HoldingOut])
async def list_holdings(
    token_id: UUID,
    cursor: UUID | None = None,
    limit: int = Query(default=100, ge=1, le=500),
    _: Principal = Depends(READ),
    c: Container = Depends(container),
) -> dict[str, Any]:
    rows = await c.refdata.list_holdings(token_id, cursor, limit)
    return {
        "items": [holding_out(r) for r in rows],
        "next_cursor": str(rows[-1]["investor_id"]) if len(rows) == limit else None,
    }


@router.get("/v1/tokens/{token_id}/holdings/{investor_id}", response_model=HoldingOut)
async def get_holding(
    token_id: UUID, investor_id: UUID, _: Principal = Depends(READ), c: Container = Depends(container)
) -> dict[str, Any]:
    return holding_out(await c.refdata.get_holding(token_id, investor_id))
