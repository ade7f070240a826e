"""Ballerine states and approval states → our KYC status (the vendor's words stop here)."""

from __future__ import annotations

from compliance_shield.domain.values import KycStatus

#: workflow states (``state`` / ``workflowFinalState``) and end-user ``approvalState`` values
_VERIFIED = frozenset({"approved", "verified", "completed_approved"})
_REJECTED = frozenset({"rejected", "declined", "denied", "failed_rejected"})


def kyc_status(state: str | None) -> KycStatus:
    """Approved → verified, rejected/declined → rejected, anything else (manual review,
    resubmission, processing, new …) → pending: only an explicit approval verifies."""
    value = (state or "").strip().lower()
    if value in _VERIFIED:
        return KycStatus.VERIFIED
    if value in _REJECTED:
        return KycStatus.REJECTED
    return KycStatus.PENDING
