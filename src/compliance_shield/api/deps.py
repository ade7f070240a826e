"""Request-scoped access to the container built by the lifespan."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from uuid import UUID

from fastapi import Request

from compliance_shield.bootstrap import Container
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
