"""Caches for provider answers: an in-process TTL cache in front of an optional shared Redis."""

from compliance_shield.adapters.cache.local import LocalCache
from compliance_shield.adapters.cache.redis import RedisCache
from compliance_shield.adapters.cache.tiered import TieredCache

__all__ = ["LocalCache", "RedisCache", "TieredCache"]
