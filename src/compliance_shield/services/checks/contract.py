"""What the transfer-check package shares with its callers and between its modules."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from compliance_shield.domain import encoding
from compliance_shield.domain.facts import InvestorFacts
from compliance_shield.domain.screening import PartyScreening
from compliance_shield.services.checks.gather import CheckRequest

#: a stored decision as the repositories read and write it (the API shapes it with ``check_out``)
CheckRow = dict[str, Any]


def request_hash(echo: dict[str, Any]) -> str:
    """The identity of a request's body, compared when an ``Idempotency-Key`` is repeated."""
    return hashlib.sha256(encoding.dumps(echo, sort_keys=True)).hexdigest()


@dataclass(slots=True)
class Pending:
    """A request admitted and queued for the writer; its future is resolved after the commit."""

    request: CheckRequest
    received: float
    future: asyncio.Future[CheckRow] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def key(self) -> tuple[str, str]:
        """The (principal, Idempotency-Key) pair; the key is empty when none was given."""
        return self.request.principal, self.request.idempotency_key or ""


class PartyScreener(Protocol):
    def screen_now(self, investor: InvestorFacts, required: Collection[str], at: datetime) -> PartyScreening | None:
        """The investor's name screened against the loaded lists (None: they lack a required version)."""
        ...
