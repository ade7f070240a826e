"""The built-in wallet-risk labels (mixer, darknet, scam, exchange, …) used by ``wallet_risk``."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from compliance_shield.api.auth import READ, WRITE, Principal
from compliance_shield.api.deps import container
from compliance_shield.bootstrap import Container
from compliance_shield.domain.addresses import InvalidAddress, normalize_any
from compliance_shield.errors import ValidationFailed
from compliance_shield.services.reference.inputs import ANY_ADDRESS_PATTERN
from compliance_shield.services.screening.wallet_labels import WalletLabelsIn

PathAddress = Annotated[str, Path(pattern=ANY_ADDRESS_PATTERN)]

router = APIRouter(prefix="/v1/wallet-labels", tags=["wallet risk"])


class WalletLabelOut(BaseModel):
    address: str
    source: str
    category: str
    risk_level: str
    note: str | None = None
    added_at: datetime
    added_by: str | None = None


class WalletLabelList(BaseModel):
    labels: list[WalletLabelOut]


class WalletLabelPage(BaseModel):
    items: list[WalletLabelOut]
    next_cursor: str | None = None


def _address(value: str) -> str:
    try:
        return normalize_any(value)
    except InvalidAddress as exc:
        raise ValidationFailed(str(exc), field="address") from exc


def _cursor(value: str) -> tuple[str, str]:
    try:
        address, sep, source = base64.urlsafe_b64decode(value.encode()).decode().partition("\n")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed("malformed cursor", field="cursor") from exc
    if not sep:
        raise ValidationFailed("malformed cursor", field="cursor")
    return address, source


@router.put("", response_model=WalletLabelList, summary="Add or replace labels (by address and source)")
async def put(body: WalletLabelsIn, p: Principal = Depends(WRITE), c: Container = Depends(container)) -> dict[str, Any]:
    return {"labels": await c.wallet_labels.put(body, p.sub)}


@router.get("", response_model=WalletLabelPage, summary="List labels, by address")
async def list_labels(
    category: str | None = Query(default=None, max_length=48),
    cursor: str | None = Query(
        default=None,
        max_length=400,
        description="a next_cursor this route returned; anything else is 422",
        json_schema_extra={"format": "label-cursor"},
    ),
    limit: int = Query(default=100, ge=1, le=1000),
    _: Principal = Depends(READ),
    c: Container = Depends(container),
) -> dict[str, Any]:
    rows = await c.wallet_labels.page(_cursor(cursor) if cursor else None, limit, category)
    next_cursor = None
    if len(rows) == limit:
        last = rows[-1]
        next_cursor = base64.urlsafe_b64encode(f"{last['address']}\n{last['source']}".encode()).decode()
    return {"items": rows, "next_cursor": next_cursor}


@router.get("/{address}", response_model=WalletLabelList, summary="Labels of one address")
async def get(address: PathAddress, _: Principal = Depends(READ), c: Container = Depends(container)) -> dict[str, Any]:
    return {"labels": await c.wallet_labels.get(_address(address))}


@router.delete("/{address}", response_model=WalletLabelList, summary="Remove an address's labels")
async def delete(
    address: PathAddress,
    source: str | None = Query(default=None, max_length=64, description="only this source's label"),
    p: Principal = Depends(WRITE),
    c: Container = Depends(container),
) -> dict[str, Any]:
    return {"labels": await c.wallet_labels.delete(_address(address), source, p.sub)}
