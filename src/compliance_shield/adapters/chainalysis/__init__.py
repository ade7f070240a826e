"""Chainalysis: the sanctions screening API (inline) and KYT withdrawal-attempt screening (async)."""

from compliance_shield.adapters.chainalysis.kyt import KytClient, KytResult, Registration
from compliance_shield.adapters.chainalysis.sanctions import SanctionsClient

__all__ = ["KytClient", "KytResult", "Registration", "SanctionsClient"]
