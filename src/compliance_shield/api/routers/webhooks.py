"""Provider webhooks. Authenticated by the provider's signature, not by a bearer token.

``SIGNED_PATHS`` lists them: the route-auth invariant test admits these routes without a role
requirement and checks instead that they refuse an unsigned or badly signed request with 401.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from compliance_shield.adapters.ballerine.webhook import SIGNATURE_HEADER
from compliance_shield.api.deps import container
from compliance_shield.bootstrap import Container

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

#: routes authenticated by a provider signature instead of a bearer token
SIGNED_PATHS = frozenset({"/v1/webhooks/ballerine"})


class WebhookAck(BaseModel):
    #: ``applied``, ``stale`` (older than the answer in force), ``duplicate`` (this event id was
    #: received before) or ``ignored`` (an event we do not act on)
    status: str
    event: str
    #: the provider's id of the event
    event_id: str | None = None
    investor_id: str | None = None
    #: the investor's KYC status after the event (the one in force, whatever ``status`` says)
    kyc_status: str | None = None
    #: the status the event itself reported
    event_kyc_status: str | None = None


@router.post(
    "/ballerine",
    response_model=WebhookAck,
    summary="Ballerine workflow events (HMAC-signed)",
    responses={
        401: {"description": "missing or wrong X-HMAC-Signature"},
        404: {"description": "no investor matches correlationId"},
        422: {
            "description": "malformed payload (VALIDATION_FAILED naming the field), or a timestamp beyond the "
            "allowed clock skew or older than the horizon (EVENT_TIME_OUT_OF_RANGE, field timestamp)"
        },
    },
)
async def ballerine(request: Request, c: Container = Depends(container)) -> dict[str, Any]:
    """``workflow.completed`` and ``workflow.state.changed`` update the investor's KYC status.

    The body is verified against ``X-HMAC-Signature`` (HMAC-SHA256 of the raw body with
    ``BALLERINE_WEBHOOK_SECRET``); ``correlationId`` names our investor (``external_ref`` or id).
    Other events are acknowledged and ignored; an event older than the one applied is ``stale``,
    a redelivered event id a ``duplicate`` (neither changes anything). An event dated more than
    PROVIDER_EVENT_MAX_SKEW_SECONDS after its arrival, or older than PROVIDER_EVENT_HORIZON_DAYS,
    is refused (422 EVENT_TIME_OUT_OF_RANGE). Every answer and refusal is counted in
    ``compliance_webhooks_total{provider, result}``.
    """
    body = await request.body()
    return await c.kyc.handle_webhook(body, request.headers.get(SIGNATURE_HEADER))
