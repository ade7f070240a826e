"""Chainalysis KYT (v2) withdrawal attempts: register, then poll until processed and read alerts.

* ``POST /api/kyt/v2/users/{userId}/withdrawal-attempts`` with ``network``, ``asset``, ``address``,
  ``attemptIdentifier``, ``assetAmount``, ``attemptTimestamp`` → ``externalId`` (202);
* ``GET /api/kyt/v2/withdrawal-attempts/{externalId}`` → ``updatedAt`` stays null until KYT has
  processed the attempt;
* ``GET /api/kyt/v2/withdrawal-attempts/{externalId}/alerts`` → ``{"alerts": [{"alertLevel":
  "SEVERE|HIGH|MEDIUM|LOW", "category", "service", "exposureType", "alertAmount", ...}]}``.

Authenticated with the API key in the ``Token`` header. Registration is not idempotent at our
end (it creates an attempt), so it is tried once; the reads are retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

import httpx

from compliance_shield.adapters.resilience import ProviderFailure, Resilient, check_status
from compliance_shield.domain.facts import RiskLevel, WalletRiskSignal

PROVIDER = "chainalysis"
SOURCE = "chainalysis-kyt"

_LEVELS: dict[str, RiskLevel] = {"SEVERE": "severe", "HIGH": "high", "MEDIUM": "medium", "LOW": "low"}


@dataclass(frozen=True, slots=True)
class Registration:
    external_id: str


@dataclass(frozen=True, slots=True)
class KytResult:
    """``processed`` False: KYT has not finished (alerts are then empty)."""

    processed: bool
    signals: tuple[WalletRiskSignal, ...] = ()


class KytClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        api_key: str,
        resilient: Resilient,
        *,
        network: str = "Ethereum",
        asset: str = "ETH",
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {"Token": api_key, "Accept": "application/json"}
        self._resilient = resilient
        self.network = network
        self.asset = asset

    async def register_withdrawal(
        self, user_id: str, address: str, attempt_id: str, amount: Decimal, at: datetime
    ) -> Registration:
        body = {
            "network": self.network,
            "asset": self.asset,
            "address": address,
            "attemptIdentifier": attempt_id,
            "assetAmount": float(amount),
            "attemptTimestamp": at.isoformat(),
        }

        async def post() -> Registration:
            url = f"{self._base}/api/kyt/v2/users/{quote(user_id, safe='')}/withdrawal-attempts"
            response = await self._http.post(url, headers=self._headers, json=body)
            check_status(PROVIDER, response)
            data = _json(response)
            external_id = data.get("externalId")
            if not isinstance(external_id, str) or not external_id:
                raise ProviderFailure(PROVIDER, "withdrawal-attempt answer has no externalId")
            return Registration(external_id)

        return await self._resilient.call("kyt_register", post, idempotent=False)

    async def result(self, external_id: str, address: str) -> KytResult:
        """Whether KYT has processed the attempt and, once it has, its alerts as signals."""
        attempt = quote(external_id, safe="")

        async def summary() -> bool:
            response = await self._http.get(
                f"{self._base}/api/kyt/v2/withdrawal-attempts/{attempt}", headers=self._headers
            )
            check_status(PROVIDER, response)
            data = _json(response)
            if "updatedAt" not in data:
                raise ProviderFailure(PROVIDER, "withdrawal-attempt summary has no updatedAt")
            return data["updatedAt"] is not None

        async def alerts() -> tuple[WalletRiskSignal, ...]:
            response = await self._http.get(
                f"{self._base}/api/kyt/v2/withdrawal-attempts/{attempt}/alerts", headers=self._headers
            )
            check_status(PROVIDER, response)
            return _alerts(address, _json(response))

        if not await self._resilient.call("kyt_summary", summary, idempotent=True):
            return KytResult(processed=False)
        return KytResult(processed=True, signals=await self._resilient.call("kyt_alerts", alerts, idempotent=True))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise ProviderFailure(PROVIDER, "KYT answer is not JSON") from exc
    if not isinstance(data, dict):
        raise ProviderFailure(PROVIDER, "KYT answer is not an object")
    return data


def _alerts(address: str, data: dict[str, Any]) -> tuple[WalletRiskSignal, ...]:
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        raise ProviderFailure(PROVIDER, "KYT alerts answer has no alerts list")
    signals = []
    for alert in alerts:
        level = _LEVELS.get(str(alert.get("alertLevel", "")).upper()) if isinstance(alert, dict) else None
        if level is None:
            raise ProviderFailure(PROVIDER, f"KYT alert has an unknown alertLevel: {alert!r}")
        category = str(alert.get("category") or "unknown").strip().lower().replace(" ", "_")
        service = alert.get("service")
        exposure: Literal["DIRECT", "INDIRECT"] | str = str(alert.get("exposureType") or "")
        signals.append(
            WalletRiskSignal(
                address=address,
                source=SOURCE,
                category=category,
                level=level,
                kind="alert",
                name=" ".join(part for part in (str(service) if service else "", exposure.lower()) if part) or None,
            )
        )
    return tuple(signals)
