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
    status: str
    event: str
    investor_id: str | None = None
    kyc_status: str | None = None


@router.post(
    "/ballerine",
    response_model=WebhookAck,
    summary="Ballerine workflow events (HMAC-signed)",
    responses={
        401: {"description": "missing or wrong X-HMAC-Signature"},
        404: {"description": "no investor matches correlationId"},
        422: {"description": "malformed payload"},
    },
)
async def ballerine(request: Request, c: Container = Depends(container)) -> dict[str, Any]:
    """``workflow.completed`` and ``workflow.state.changed`` update the investor's KYC status.

    The body is verified against ``X-HMAC-Signature`` (HMAC-SHA256 of the raw body with
    ``BALLERINE_WEBHOOK_SECRET``); ``correlationId`` names our investor (``external_ref`` or id).
    Other events are acknowledged and ignored; an event older than the one applied is ``stale``.
    """
    body = await request.body()
    return await c.kyc.handle_webhook(body, request.headers.get(SIGNATURE_HEADER))
