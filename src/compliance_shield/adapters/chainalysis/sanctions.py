"""Chainalysis sanctions screening: ``GET /api/v1/address/{address}`` with ``X-API-Key``.

The answer is ``{"identifications": [...]}``, each with ``category`` (``sanctions``), ``name``,
``description`` and ``url``; an empty list means the address is not identified. Each
identification becomes a severe wallet-risk signal of the identification's category.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from compliance_shield.adapters.resilience import ProviderFailure, Resilient, check_status
from compliance_shield.domain.facts import WalletRiskSignal

PROVIDER = "chainalysis"
SOURCE = "chainalysis-sanctions"


class SanctionsClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, api_key: str, resilient: Resilient) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {"X-API-Key": api_key, "Accept": "application/json"}
        self._resilient = resilient

    async def screen(self, address: str) -> tuple[WalletRiskSignal, ...]:
        """Identifications of ``address`` as signals (empty: not identified)."""

        async def fetch() -> tuple[WalletRiskSignal, ...]:
            url = f"{self._base}/api/v1/address/{quote(address, safe='')}"
            response = await self._http.get(url, headers=self._headers)
            check_status(PROVIDER, response)
            return _signals(address, response)

        return await self._resilient.call("sanctions", fetch, idempotent=True)


def _signals(address: str, response: httpx.Response) -> tuple[WalletRiskSignal, ...]:
    try:
        data: Any = response.json()
    except ValueError as exc:
        raise ProviderFailure(PROVIDER, "sanctions answer is not JSON") from exc
    identifications = data.get("identifications") if isinstance(data, dict) else None
    if not isinstance(identifications, list):
        raise ProviderFailure(PROVIDER, "sanctions answer has no identifications list")
    signals = []
    for item in identifications:
        if not isinstance(item, dict):
            raise ProviderFailure(PROVIDER, "an identification is not an object")
        category = item.get("category")
        name = item.get("name")
        signals.append(
            WalletRiskSignal(
                address=address,
                source=SOURCE,
                category=str(category or "sanctions").strip().lower().replace(" ", "_"),
                level="severe",
                kind="identification",
                name=str(name) if name else None,
            )
        )
    return tuple(signals)
