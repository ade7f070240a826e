"""Sanctions screening: list versions and imports, name and address screening, wallet-risk labels."""
