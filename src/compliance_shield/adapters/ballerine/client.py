"""Pull client for Ballerine end users: ``GET /api/v1/external/end-users/{id}``.

Authenticated with the customer API key as a bearer token. The answer's ``approvalState``
(``APPROVED``, ``REJECTED``, ``PROCESSING``, ``NEW``) maps to our KYC status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from compliance_shield.adapters.ballerine.mapping import kyc_status
from compliance_shield.adapters.resilience import ProviderFailure, Resilient, check_status
from compliance_shield.domain.values import KycStatus

PROVIDER = "ballerine"


@dataclass(frozen=True, slots=True)
class EndUserKyc:
    end_user_id: str
    correlation_id: str | None
    approval_state: str
    status: KycStatus


class BallerineClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, api_key: str, resilient: Resilient) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._resilient = resilient

    async def end_user(self, end_user_id: str) -> EndUserKyc:
        """The end user's current approval state (idempotent GET: retried under the policy)."""

        async def fetch() -> EndUserKyc:
            url = f"{self._base}/api/v1/external/end-users/{quote(end_user_id, safe='')}"
            response = await self._http.get(url, headers=self._headers)
            check_status(PROVIDER, response)
            return _end_user(response)

        return await self._resilient.call("end_user", fetch, idempotent=True)


def _end_user(response: httpx.Response) -> EndUserKyc:
    try:
        data: Any = response.json()
    except ValueError as exc:
        raise ProviderFailure(PROVIDER, "end-user answer is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise ProviderFailure(PROVIDER, "end-user answer has no id")
    state = data.get("approvalState")
    if not isinstance(state, str) or not state:
        raise ProviderFailure(PROVIDER, "end-user answer has no approvalState")
    correlation = data.get("correlationId")
    return EndUserKyc(
        end_user_id=data["id"],
        correlation_id=correlation if isinstance(correlation, str) else None,
        approval_state=state,
        status=kyc_status(state),
    )
