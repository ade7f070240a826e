"""Asynchronous transaction screening (Chainalysis KYT) of a transfer's receiving address.

KYT answers minutes, not milliseconds, after a withdrawal attempt is registered, so the check
path never waits for it:

1. the first check of a transfer registers a withdrawal attempt (one try: it creates a record at
   the vendor) and caches ``pending``: the transfer is ESCALATED with WALLET_RISK_PENDING;
2. a background poller asks KYT whether the attempt is processed and, once it is, caches its
   alerts under the transfer's key (``kyt:<attempt id>``, shared through Redis when configured);
3. a later check of the same transfer (same token, addresses and amount) finds the alerts, and
   the ``wallet_risk`` rule maps their levels.

A pending entry expires after ``pending_ttl``: if the registering process died, the next check
registers again. A failed registration is missing evidence (EVIDENCE_UNAVAILABLE).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import structlog

from compliance_shield.adapters.cache.tiered import TieredCache
from compliance_shield.adapters.chainalysis.kyt import KytResult, Registration
from compliance_shield.adapters.resilience import ProviderFailure
from compliance_shield.domain.facts import KytState, WalletRiskSignal
from compliance_shield.observability.metrics import KYT_PENDING
from compliance_shield.services.checks.evidence import base_units_to_decimal
from compliance_shield.services.checks.gather import CheckRequest
from compliance_shield.services.reference.snapshot import Snapshot

log = structlog.get_logger(__name__)


class KytApi(Protocol):
    async def register_withdrawal(
        self, user_id: str, address: str, attempt_id: str, amount: Decimal, at: datetime
    ) -> Registration: ...

    async def result(self, external_id: str, address: str) -> KytResult: ...


@dataclass(slots=True)
class _Pending:
    key: str
    external_id: str
    address: str
    #: after this (loop time) the attempt is given up here; its cache entry has expired by then
    give_up_at: float


def attempt_id(request: CheckRequest) -> str:
    """The same transfer (token, both addresses, amount) gets the same attempt identifier."""
    raw = f"{request.token_id}|{request.from_address}|{request.to_address}|{request.amount}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class KytScreening:
    """``TransferScreening`` by Chainalysis KYT withdrawal attempts."""

    sources: tuple[str, ...] = ("chainalysis-kyt",)

    def __init__(
        self,
        api: KytApi,
        cache: TieredCache,
        *,
        poll_interval: float = 5.0,
        pending_ttl: float = 900.0,
        result_ttl: float = 86400.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._api = api
        self._cache = cache
        self._interval = poll_interval
        self._pending_ttl = pending_ttl
        self._result_ttl = result_ttl
        self._clock = clock
        self._pending: dict[str, _Pending] = {}
        self._task: asyncio.Task[None] | None = None

    async def status(self, request: CheckRequest, snapshot: Snapshot) -> tuple[KytState, tuple[WalletRiskSignal, ...]]:
        attempt = attempt_id(request)
        key = f"kyt:{attempt}"

        async def register() -> dict[str, Any]:
            # concurrent checks of one transfer register it once (the cache's single flight)
            token = snapshot.tokens[request.token_id].facts
            wallet = snapshot.wallets.get(request.from_address)
            user = str(wallet.investor_id) if wallet is not None else request.from_address
            amount = base_units_to_decimal(request.amount, token.decimals)
            registration = await self._api.register_withdrawal(user, request.to_address, attempt, amount, self._clock())
            give_up_at = asyncio.get_running_loop().time() + self._pending_ttl
            self._pending[key] = _Pending(key, registration.external_id, request.to_address, give_up_at)
            KYT_PENDING.set(len(self._pending))
            return {"state": "pending", "external_id": registration.external_id}

        found = (await self._cache.get_or_load(key, register, self._pending_ttl)).value
        if found.get("state") == "complete":
            return "complete", tuple(WalletRiskSignal.model_validate(s) for s in found["signals"])
        return "pending", ()

    async def poll_once(self) -> int:
        """Ask KYT about every pending attempt; return how many completed."""
        completed = 0
        now = asyncio.get_running_loop().time()
        for item in list(self._pending.values()):
            if now >= item.give_up_at:
                self._pending.pop(item.key, None)
                continue
            try:
                result = await self._api.result(item.external_id, item.address)
            except ProviderFailure as exc:
                log.warning("kyt.poll_failed", external_id=item.external_id, error=str(exc))
                continue
            if not result.processed:
                continue
            signals = [s.model_dump(mode="json") for s in result.signals]
            await self._cache.set(item.key, {"state": "complete", "signals": signals}, self._result_ttl)
            self._pending.pop(item.key, None)
            completed += 1
        KYT_PENDING.set(len(self._pending))
        return completed

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kyt-poller")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.poll_once()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
