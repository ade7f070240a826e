"""Request-scoped access to the container built by the lifespan."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import Request, Response

from compliance_shield.bootstrap import Container
from compliance_shield.domain import encoding
from compliance_shield.errors import ValidationFailed


async def container(request: Request) -> Container:
    """The container built by the lifespan (async: a sync dependency would cost a thread hop)."""
    built: Container = request.app.state.container
    return built


def encode_cursor(created_at: datetime, check_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{check_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        created, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationFailed("malformed cursor", field="cursor") from exc


def json_response(content: Any, status_code: int = 200) -> Response:
    """Serialize an already-shaped body with the one encoder, skipping FastAPI's response-model validation.

    For the hot routes only: their bodies are built by ``check_out`` from rows the service wrote
    itself, and re-validating every trace line of a 1,000-item batch cost more than deciding it.
    The route still declares its ``response_model`` for the OpenAPI document; a test compares the
    two serializations.
    """
    return Response(json_bytes(content), status_code=status_code, media_type="application/json")


def json_bytes(content: Any) -> bytes:
    """The JSON of an answer body (see ``json_response``)."""
    return encoding.dumps(content)
