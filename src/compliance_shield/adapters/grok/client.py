"""An OpenAI-compatible chat-completions client that asks for JSON matching a schema.

``POST {base_url}/chat/completions`` with ``Authorization: Bearer <key>``, ``model``,
``messages`` and ``response_format`` ``{"type": "json_schema", "json_schema": {"name", "strict",
"schema"}}`` (xAI's structured outputs, as OpenAI's). The answer's ``choices[0].message.content``
must be a JSON object; anything else is a non-retryable ``ProviderFailure`` (``malformed``).
Timeouts, 5xx and 429 are retried by the ``Resilient`` caller; a 429's ``Retry-After`` is carried
on the failure so the caller can wait that long before its next call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from compliance_shield.adapters.resilience import ProviderFailure, Resilient, check_status
from compliance_shield.domain import encoding

PROVIDER = "grok"
#: longest Retry-After honoured (a server asking for more is waited for this long, then asked again)
MAX_RETRY_AFTER = 3600.0


class RateLimited(ProviderFailure):
    """HTTP 429: ``retry_after`` seconds (from the header, else a default) before the next call."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(PROVIDER, f"rate limited (retry after {retry_after:g} s)", retryable=True, outcome="error")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class StructuredAnswer:
    #: the model that answered (as the server names it)
    model: str
    content: dict[str, Any]


class ChatCompletions:
    def __init__(self, http: httpx.AsyncClient, resilient: Resilient, *, base_url: str, api_key: str, model: str):
        self._http = http
        self._resilient = resilient
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self.model = model

    async def complete_json(self, system: str, user: str, schema_name: str, schema: dict[str, Any]) -> StructuredAnswer:
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "strict": True, "schema": schema},
            },
        }
        payload = encoding.dumps(body)

        async def attempt() -> StructuredAnswer:
            response = await self._http.post(self._url, content=payload, headers=self._headers)
            if response.status_code == 429:
                raise RateLimited(_retry_after(response.headers.get("retry-after")))
            check_status(PROVIDER, response)
            return _answer(response)

        # a completion creates nothing at the vendor: safe to try again
        return await self._resilient.call("chat_completions", attempt, idempotent=True)


def _retry_after(header: str | None) -> float:
    try:
        seconds = float(header) if header is not None else 60.0
    except ValueError:
        seconds = 60.0  # (an HTTP date: rare from these APIs; a minute is a safe wait)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _malformed(reason: str) -> ProviderFailure:
    return ProviderFailure(PROVIDER, f"malformed answer: {reason}", outcome="malformed")


def _answer(response: httpx.Response) -> StructuredAnswer:
    try:
        data = response.json()
    except ValueError as exc:
        raise _malformed("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise _malformed("the body is not an object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _malformed("no choices")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        refusal = message.get("refusal") if isinstance(message, dict) else None
        raise _malformed(f"refused: {refusal}" if refusal else "no message content")
    try:
        parsed = encoding.loads(content)
    except ValueError as exc:
        raise _malformed("the content is not JSON") from exc
    if not isinstance(parsed, dict):
        raise _malformed("the content is not a JSON object")
    model = data.get("model")
    return StructuredAnswer(model=model if isinstance(model, str) and model else "unknown", content=parsed)
