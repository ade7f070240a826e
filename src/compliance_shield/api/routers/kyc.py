"""An investor's KYC as the registry holds it, its provider events, and an officer's override."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from compliance_shield.api.auth import READ, WRITE, Principal
from compliance_shield.api.deps import container
from compliance_shield.bootstrap import Container
from compliance_shield.domain.values import KycStatus
from compliance_shield.services.providers.kyc_records import KycState
from compliance_shield.services.reference.inputs import Timestamp

router = APIRouter(prefix="/v1/investors", tags=["investors and wallets"])


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Reason = Annotated[
    str, StringConstraints(min_length=3, max_length=2000, strip_whitespace=True), AfterValidator(_no_nul)
]


class KycOverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: KycStatus
    #: why the officer sets this status (kept in the audit trail)
    reason: Reason
    #: a new KYC expiry; absent → the current one stays
    expires_at: Timestamp | None = None


@router.get("/{investor_id}/kyc", response_model=KycState, summary="KYC status in force and provider events")
async def kyc_state(investor_id: UUID, _: Principal = Depends(READ), c: Container = Depends(container)) -> KycState:
    """The status in force, where it came from (a provider, ``officer`` or none), the time of
    its answer, and the latest provider events (newest first, at most 50) with their outcome."""
    return await c.kyc.state(investor_id)


@router.post("/{investor_id}/kyc/override", response_model=KycState, summary="Set the KYC status (officer)")
async def kyc_override(
    investor_id: UUID, body: KycOverrideIn, p: Principal = Depends(WRITE), c: Container = Depends(container)
) -> KycState:
    """Set the investor's KYC status with a reason, recorded in the audit trail.

    The officer becomes the source of the status: the KYC provider is not asked on the check
    path any more, and only a provider event dated after the override replaces it. This is also
    how a status that a mis-dated event set is corrected.
    """
    return await c.kyc.override(investor_id, body.status, body.reason, p.sub, expires_at=body.expires_at)
