"""The entry point of a transfer check: ``DecisionService.check`` and ``check_many``.

A check is admitted (or refused at once, ``Overloaded``), its external evidence gathered, then it
is queued to the group-commit writer and answered after its decision is recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from compliance_shield.domain.screening import PartyScreening
from compliance_shield.errors import ComplianceShieldError, NotFound
from compliance_shield.services.checks.commit import Clock, Committer
from compliance_shield.services.checks.contract import CheckRow, PartyScreener, Pending
from compliance_shield.services.checks.evidence import Evidence, EvidenceGatherer, ProviderEvidence
from compliance_shield.services.checks.gather import CheckRequest
from compliance_shield.services.checks.ledger import TokenLedger
from compliance_shield.services.checks.writer import Admission, GroupCommitWriter
from compliance_shield.services.reference.snapshot import Snapshot


def utcnow() -> datetime:
    return datetime.now(UTC)


class DecisionService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        snapshot: Snapshot,
        *,
        commit_window_ms: float = 2.0,
        max_batch: int = 256,
        max_pending: int = 5000,
        clock: Clock = utcnow,
        evidence: EvidenceGatherer | None = None,
        screener: PartyScreener | None = None,
    ) -> None:
        self._snapshot = snapshot
        #: external evidence, gathered before a request is queued (the writer does no such I/O)
        self._evidence: EvidenceGatherer = evidence if evidence is not None else ProviderEvidence()
        #: screens, for one check, a party whose stored name screening predates an active list
        self._screener = screener
        self._clock = clock
        self._admission = Admission(max_pending)
        self._committer = Committer(pool, snapshot, clock)
        self._writer = GroupCommitWriter(self._committer, commit_window_ms=commit_window_ms, max_batch=max_batch)

    @property
    def pending(self) -> int:
        """Checks admitted and not yet answered (queued, gathering evidence or being recorded)."""
        return self._admission.pending

    @property
    def max_batch(self) -> int:
        """The most decisions recorded in one transaction."""
        return self._writer.max_batch

    @property
    def ledgers(self) -> dict[UUID, TokenLedger]:
        """This process's in-memory token ledgers."""
        return self._committer.ledgers

    def start(self) -> None:
        self._writer.start()

    async def stop(self) -> None:
        await self._writer.stop()

    async def check(self, request: CheckRequest) -> CheckRow:
        """Decide ``request`` and return the stored check row (after it is committed)."""
        if request.token_id not in self._snapshot.tokens:
            raise _token_not_found(request)
        with self._admission.admit(1):
            received = time.perf_counter()
            request = await self.with_evidence(request)
            pending = Pending(request, received)
            self._writer.submit(pending)
            return await pending.future

    async def check_many(self, requests: list[CheckRequest]) -> list[CheckRow | ComplianceShieldError]:
        """Decide several transfers with the semantics of ``check`` each, in order.

        Items fail independently (an unknown token or a reused key is that item's error); a
        failure to record fails the items it touched (see ``writer``). The items are queued
        together, so they share group commits. The batch is admitted whole or refused whole.
        """
        with self._admission.admit(len(requests)):
            received = time.perf_counter()
            # evidence is gathered concurrently first, so that queuing (and deciding) keeps the order
            requests = list(await asyncio.gather(*(self.with_evidence(r) for r in requests)))
            results: list[CheckRow | ComplianceShieldError | None] = [None] * len(requests)
            queued: list[tuple[int, Pending]] = []
            for i, request in enumerate(requests):
                if request.token_id not in self._snapshot.tokens:
                    results[i] = _token_not_found(request)
                    continue
                pending = Pending(request, received)
                self._writer.submit(pending)
                queued.append((i, pending))
            for i, pending in queued:
                try:
                    results[i] = await pending.future
                except ComplianceShieldError as exc:
                    results[i] = exc
            return [r for r in results if r is not None]

    async def with_evidence(self, request: CheckRequest) -> CheckRequest:
        """``request`` carrying its external evidence (gathered now unless it already carries it)."""
        if request.evidence is not None or request.token_id not in self._snapshot.tokens:
            return request
        evidence = await self._evidence.gather(request, self._snapshot)
        return dataclasses.replace(request, evidence=self._with_fresh_screenings(request, evidence))

    def _with_fresh_screenings(self, request: CheckRequest, evidence: Evidence) -> Evidence:
        """Screen now the parties whose stored name screening predates an active list of names.

        After a list import the sweep re-screens every investor, which takes a while for a large
        register; until it reaches a party, that party's transfers would be escalated for want of
        current evidence. Screening the two parties of a check costs ~1 ms of CPU instead.
        """
        required = self._snapshot.name_list_versions
        if self._screener is None or not required:
            return evidence
        fresh: list[tuple[UUID, PartyScreening]] = []
        for address in (request.from_address, request.to_address):
            wallet = self._snapshot.wallets.get(address)
            investor = self._snapshot.investors.get(wallet.investor_id) if wallet is not None else None
            if investor is None or any(owner == investor.id for owner, _ in fresh):
                continue
            stored = investor.screening
            if stored is not None and set(required) <= set(stored.list_versions):
                continue
            result = self._screener.screen_now(investor, required, self._clock())
            if result is not None:
                fresh.append((investor.id, result))
        return dataclasses.replace(evidence, screenings=tuple(fresh)) if fresh else evidence


def _token_not_found(request: CheckRequest) -> NotFound:
    return NotFound(f"token {request.token_id} not found", details={"field": "token_id"})
