"""Marble (transaction monitoring): one decision per transfer as an extra signal."""

from compliance_shield.adapters.marble.client import MarbleClient

__all__ = ["MarbleClient"]
