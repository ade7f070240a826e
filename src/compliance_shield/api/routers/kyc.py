"""An investor's KYC as the registry holds it, its provider events, and an officer's override."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, StringConstraints

from compliance_shield.api.auth import READ, WRITE, Principal
from compliance_shield.api.deps import container
from compliance_shield.bootstrap import Container
from compliance_shield.domain.values import KycStatus
from compliance_shield.services.kyc_records import KycState

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
    expires_at: AwareDatetime | None = None


class ProviderEventOut(BaseModel):
    provider: str
    event_id: str
    event_name: str
    kyc_status: KycStatus
    occurred_at: datetime
    received_at: datetime
    #: ``applied`` (it set the status) or ``stale`` (older than the answer in force)
    outcome: str


class KycStateOut(BaseModel):
    investor_id: UUID
    kyc_status: KycStatus
    kyc_expires_at: datetime | None
    #: where the status in force came from: a provider (``ballerine``), ``officer``, or none
    kyc_provider: str | None
    kyc_provider_ref: str | None
    #: the time of the answer in force (a provider event's timestamp, a pull, an override)
    kyc_checked_at: datetime | None
    #: the latest provider events (newest first, at most 50), applied or not
    events: list[ProviderEventOut]


def _out(state: KycState) -> KycStateOut:
    return KycStateOut(
        investor_id=state.investor_id,
        kyc_status=state.kyc_status,
        kyc_expires_at=state.kyc_expires_at,
        kyc_provider=state.kyc_provider,
        kyc_provider_ref=state.kyc_provider_ref,
        kyc_checked_at=state.kyc_checked_at,
        events=[ProviderEventOut.model_validate(e, from_attributes=True) for e in state.events],
    )


@router.get("/{investor_id}/kyc", response_model=KycStateOut, summary="KYC status in force and provider events")
async def kyc_state(investor_id: UUID, _: Principal = Depends(READ), c: Container = Depends(container)) -> KycStateOut:
    return _out(await c.kyc.state(investor_id))


@router.post("/{investor_id}/kyc/override", response_model=KycStateOut, summary="Set the KYC status (officer)")
async def kyc_override(
    investor_id: UUID, body: KycOverrideIn, p: Principal = Depends(WRITE), c: Container = Depends(container)
) -> KycStateOut:
    """Set the investor's KYC status with a reason, recorded in the audit trail.

    The officer becomes the source of the status: the KYC provider is not asked on the check
    path any more, and only a provider event dated after the override replaces it. This is also
    how a status that a mis-dated event set is corrected.
    """
    state = await c.kyc.override(investor_id, body.status, body.reason, p.sub, expires_at=body.expires_at)
    return _out(state)
