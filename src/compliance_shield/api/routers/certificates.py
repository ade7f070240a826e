"""EIP-712 transfer certificates for approved checks (the gasless alternative to on-chain approvals)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from compliance_shield.api.auth import CHECK, Principal
from compliance_shield.api.deps import container
from compliance_shield.bootstrap import Container

router = APIRouter(prefix="/v1/compliance", tags=["transfer checks"])


class CertificateMessage(BaseModel):
    token: str = Field(description="the token contract (EIP-55)")
    from_: str = Field(alias="from")
    to: str
    amount: str = Field(description="base units, decimal string")
    nonce: str = Field(description="the check id as a uint256, decimal string")
    expiry: int = Field(description="unix seconds; the oracle refuses the certificate from then on")


class CertificateOut(BaseModel):
    """Pass ``certificate.nonce``, ``certificate.expiry`` and ``signature`` to the token's
    ``transferWithCertificate(to, amount, nonce, expiry, signature)``."""

    check_id: UUID
    certificate: CertificateMessage
    domain: dict[str, Any] = Field(description="EIP-712 domain: name, version, chainId, verifyingContract (the oracle)")
    types: dict[str, list[dict[str, str]]]
    primary_type: str
    digest: str = Field(description="the EIP-712 digest that was signed")
    signature: str = Field(description="65-byte r‖s‖v signature, 0x-hex")
    signer: str


@router.post(
    "/checks/{check_id}/certificate",
    response_model=CertificateOut,
    response_model_by_alias=True,
    summary="Sign an EIP-712 certificate for an approved transfer",
    responses={404: {"description": "unknown check"},
               409: {"description": "not an unsettled, unexpired approval on a token contract, or not configured"}},
)  # fmt: skip
async def certificate(
    check_id: UUID, principal: Principal = Depends(CHECK), c: Container = Depends(container)
) -> dict[str, Any]:
    """A single-use, expiring certificate signed by the service's signer key; no transaction needed."""
    return await c.certificates.issue(check_id, principal.sub)
