"""Operator-managed sanctioned addresses (screened exactly, after normalization)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from compliance_shield.api.auth import WRITE, Principal
from compliance_shield.api.deps import container
from compliance_shield.api.schemas import SanctionsChangeOut
from compliance_shield.bootstrap import Container
from compliance_shield.services.reference.inputs import SanctionedAddressesDelete, SanctionedAddressesIn

router = APIRouter(prefix="/v1/sanctions", tags=["sanctions"])


@router.post("/addresses", response_model=SanctionsChangeOut, summary="Add sanctioned addresses")
async def add(
    body: SanctionedAddressesIn, p: Principal = Depends(WRITE), c: Container = Depends(container)
) -> dict[str, Any]:
    return {"addresses": await c.refdata.add_sanctioned(body, p.sub)}


@router.delete("/addresses", response_model=SanctionsChangeOut, summary="Remove sanctioned addresses")
async def remove(
    body: SanctionedAddressesDelete, p: Principal = Depends(WRITE), c: Container = Depends(container)
) -> dict[str, Any]:
    return {"addresses": await c.refdata.delete_sanctioned(body, p.sub)}
