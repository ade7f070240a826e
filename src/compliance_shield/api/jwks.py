"""An identity provider's signing keys, read from its JWKS URL (RFC 7517), by key id.

Tokens an identity provider issues (RS256 or ES256) name their key in the ``kid`` header. The
set is fetched on first use, again every ``refresh_seconds``, and again when a token names a key
the set lacks (the provider rotated) — at most once per ``min_refetch_seconds``, so tokens with
made-up key ids cannot make the service hammer the provider. A provider that cannot be reached
means no such token can be verified: the caller answers 503 (fail closed, never admitted).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt
import structlog

from compliance_shield.errors import NotAuthenticated, ServiceUnavailable

log = structlog.get_logger(__name__)

#: the asymmetric algorithms accepted from an identity provider
ASYMMETRIC = ("RS256", "ES256")


class JwksKeys:
    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        refresh_seconds: float = 300.0,
        min_refetch_seconds: float = 30.0,
    ) -> None:
        self._url = url
        self._http = http
        self._refresh_seconds = refresh_seconds
        self._min_refetch_seconds = min_refetch_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str, algorithm: str) -> Any:
        """The verification key for ``kid`` (refetching the set once when it is unknown)."""
        now = time.monotonic()
        age = None if self._fetched_at is None else now - self._fetched_at
        if age is None or age > self._refresh_seconds or (kid not in self._keys and age > self._min_refetch_seconds):
            await self._fetch()
        found = self._keys.get(kid)
        if found is None:
            raise NotAuthenticated(f"the bearer token's key id {kid!r} is not among the identity provider's keys")
        if found.algorithm_name != algorithm:
            raise NotAuthenticated(f"key {kid!r} is a {found.algorithm_name} key, the token says {algorithm}")
        return found.key

    async def _fetch(self) -> None:
        async with self._lock:
            try:
                response = await self._http.get(self._url)
                response.raise_for_status()
                keys = jwt.PyJWKSet.from_dict(response.json()).keys
            except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
                log.warning("jwks.unavailable", url=self._url, error=repr(exc))
                raise ServiceUnavailable("the identity provider's signing keys are unavailable; retry later") from exc
            self._keys = {k.key_id: k for k in keys if k.key_id and k.algorithm_name in ASYMMETRIC}
            self._fetched_at = time.monotonic()

    async def close(self) -> None:
        await self._http.aclose()
