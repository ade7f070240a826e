"""Marble decisions: ``POST /v1/decisions`` with ``{scenario_id, object_type, trigger_object}``.

Authenticated with ``X-API-Key``. The trigger object follows the customer's Marble data model;
it must carry ``object_id`` and ``updated_at``. The answer is a decision with ``id``, ``outcome``
(``approve``, ``review``, ``block_and_review``, ``decline``), ``score`` and ``scenario``.
Creating a decision is not idempotent at our end, so the call is tried once.
"""

from __future__ import annotations

from typing import Any, get_args

import httpx

from compliance_shield.adapters.resilience import ProviderFailure, Resilient, check_status
from compliance_shield.domain.facts import MonitoringEvidence, MonitoringOutcome

PROVIDER = "marble"
_OUTCOMES = frozenset(get_args(MonitoringOutcome))


class MarbleClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        api_key: str,
        scenario_id: str,
        resilient: Resilient,
        *,
        object_type: str = "transfers",
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {"X-API-Key": api_key, "Accept": "application/json"}
        self._scenario = scenario_id
        self._object_type = object_type
        self._resilient = resilient

    async def decide(self, trigger_object: dict[str, Any]) -> MonitoringEvidence:
        body = {"scenario_id": self._scenario, "object_type": self._object_type, "trigger_object": trigger_object}

        async def post() -> MonitoringEvidence:
            response = await self._http.post(f"{self._base}/v1/decisions", headers=self._headers, json=body)
            check_status(PROVIDER, response)
            return _decision(response)

        return await self._resilient.call("decision", post, idempotent=False)


def _decision(response: httpx.Response) -> MonitoringEvidence:
    try:
        data: Any = response.json()
    except ValueError as exc:
        raise ProviderFailure(PROVIDER, "decision answer is not JSON") from exc
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        data = data["data"]  # newer API versions wrap the decision in {"data": …}
    if not isinstance(data, dict):
        raise ProviderFailure(PROVIDER, "decision answer is not an object")
    outcome = data.get("outcome")
    if outcome not in _OUTCOMES:
        raise ProviderFailure(PROVIDER, f"decision has an unknown outcome {outcome!r}")
    score = data.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int)):
        raise ProviderFailure(PROVIDER, f"decision score is not an integer: {score!r}")
    scenario = data.get("scenario")
    return MonitoringEvidence(
        configured=True,
        provider=PROVIDER,
        decision_id=str(data["id"]) if data.get("id") is not None else None,
        outcome=outcome,
        score=score,
        scenario=str(scenario.get("name") or scenario.get("id")) if isinstance(scenario, dict) else None,
    )
