"""Ballerine (KYC/KYB workflows): signed webhooks in, end-user pull client out."""

from compliance_shield.adapters.ballerine.client import BallerineClient
from compliance_shield.adapters.ballerine.webhook import KycEvent, parse_event, sign, verify_signature

__all__ = ["BallerineClient", "KycEvent", "parse_event", "sign", "verify_signature"]
