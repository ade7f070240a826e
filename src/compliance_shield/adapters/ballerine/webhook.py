"""Ballerine's outgoing webhooks: signature check and payload mapping.

Ballerine signs each webhook with HMAC-SHA256 over the JSON body, keyed with the customer's
webhook shared secret, hex-encoded in the ``X-HMAC-Signature`` header. We verify over the raw
bytes received (the body as signed), in constant time.

Handled events (others are acknowledged and ignored):

* ``workflow.completed`` — ``workflowFinalState`` (or ``workflowStatus``) is the outcome;
* ``workflow.state.changed`` — ``state`` is the new state.

Both carry ``id`` (the event's own id: a redelivery repeats it), ``correlationId`` (our
investor's ``external_ref`` or id), ``ballerineEntityId`` (the end user, for the pull client) and
``timestamp`` (ISO-8601, when Ballerine sent it). Ballerine events carry no sequence number or
version, so events are ordered by ``timestamp``, which the service bounds (clock skew, horizon).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from compliance_shield.adapters.ballerine.mapping import kyc_status
from compliance_shield.domain import encoding
from compliance_shield.domain.values import KycStatus
from compliance_shield.errors import ValidationFailed

SIGNATURE_HEADER = "X-HMAC-Signature"
HANDLED_EVENTS = frozenset({"workflow.completed", "workflow.state.changed"})


def sign(body: bytes, secret: str) -> str:
    """The signature Ballerine sends for ``body``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, signature: str | None, secret: str) -> bool:
    if not signature or not secret:
        return False
    candidate = signature.strip()
    if candidate.lower().startswith("sha256="):
        candidate = candidate[len("sha256=") :]
    return hmac.compare_digest(sign(body, secret), candidate.lower())


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str | None = Field(default=None, max_length=200)
    event_name: str = Field(alias="eventName", min_length=1)
    timestamp: AwareDatetime
    correlation_id: str | None = Field(default=None, alias="correlationId")
    entity_id: str | None = Field(default=None, alias="ballerineEntityId")
    state: str | None = None
    workflow_final_state: str | None = Field(default=None, alias="workflowFinalState")
    workflow_status: str | None = Field(default=None, alias="workflowStatus")
    workflow_runtime_id: str | None = Field(default=None, alias="workflowRuntimeId")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL: refuse it here, naming the field, not at the insert
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


@dataclass(frozen=True, slots=True)
class KycEvent:
    """A webhook mapped to our terms. ``status`` is None for events we do not act on."""

    event: str
    #: the provider's id of this event (always present on events we act on)
    event_id: str | None
    correlation_id: str | None
    entity_id: str | None
    state: str | None
    status: KycStatus | None
    occurred_at: datetime
    workflow_id: str | None


_FIELD_NAMES = {"event_name": "eventName", "correlation_id": "correlationId", "entity_id": "ballerineEntityId"}


def parse_event(body: bytes) -> KycEvent:
    """Map a (verified) webhook body; raise ``ValidationFailed`` naming the offending field."""
    try:
        data: Any = encoding.loads(body)
    except encoding.InvalidJSON as exc:
        raise ValidationFailed(f"malformed JSON: {exc}", field="body") from exc
    if not isinstance(data, dict):
        raise ValidationFailed("the webhook body must be a JSON object", field="body")
    try:
        payload = _Payload.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "body"
        raise ValidationFailed(
            f"{_FIELD_NAMES.get(name, name)}: {first['msg']}", field=_FIELD_NAMES.get(name, name)
        ) from exc
    if payload.event_name not in HANDLED_EVENTS:
        return KycEvent(
            payload.event_name,
            payload.id,
            payload.correlation_id,
            payload.entity_id,
            None,
            None,
            payload.timestamp,
            payload.workflow_runtime_id,
        )
    if not payload.id:
        raise ValidationFailed("id is required: it makes a redelivered event recognisable", field="id")
    if not payload.correlation_id:
        raise ValidationFailed("correlationId is required to find the investor", field="correlationId")
    if payload.event_name == "workflow.completed":
        state = payload.workflow_final_state or payload.workflow_status
    else:
        state = payload.state
    if not state:
        field = "workflowFinalState" if payload.event_name == "workflow.completed" else "state"
        raise ValidationFailed(f"{field} is required for {payload.event_name}", field=field)
    return KycEvent(
        event=payload.event_name,
        event_id=payload.id,
        correlation_id=payload.correlation_id,
        entity_id=payload.entity_id,
        state=state,
        status=kyc_status(state),
        occurred_at=payload.timestamp,
        workflow_id=payload.workflow_runtime_id,
    )
