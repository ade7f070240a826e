"""Deciding transfer checks: gather facts, evaluate, reserve, record — then answer.

Requests are queued to one group-commit writer per process. The writer takes every request that
arrives within ``commit_window_ms`` (up to ``commit_max_batch``) and, in ONE transaction:

1. claims the batch's ``Idempotency-Key`` values (a repeat being decided by another writer is
   waited for) and resolves repeats to their stored decision (a different body → 409);
2. locks the ``token_state`` rows of the batch's tokens and reloads any in-memory ledger that
   another process changed (version mismatch) — so state-dependent limits are checked and
   reserved atomically across processes;
3. evaluates each request in arrival order, reserving each approval's effect in the ledger so
   the next request in the batch sees it;
4. inserts the decision rows, reservations, outbox events and audit entries.

Each caller is answered only after that transaction commits (record before answering). If it
cannot commit, every caller of the batch gets ``ServiceUnavailable`` (HTTP 503) and the touched
ledgers are dropped, so no approval leaves the service unrecorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import orjson
import structlog

from compliance_shield.db import Conn, audit, ledger_queries
from compliance_shield.db import checks as repo
from compliance_shield.db.decision_digest import decision_digest
from compliance_shield.domain.decision import Decision, Reason
from compliance_shield.domain.engine import ENGINE_VERSION, evaluate
from compliance_shield.domain.facts import InvestorFacts
from compliance_shield.domain.reasons import MESSAGES, ReasonCode, restriction_code
from compliance_shield.domain.rules.limits import lookback_seconds
from compliance_shield.domain.screening import PartyScreening
from compliance_shield.domain.values import Outcome
from compliance_shield.errors import (
    ComplianceShieldError,
    IdempotencyKeyReused,
    NotFound,
    Overloaded,
    ServiceUnavailable,
)
from compliance_shield.observability.metrics import (
    CHECK_LATENCY,
    CHECKS,
    CHECKS_PENDING,
    CHECKS_SHED,
    COMMIT_BATCH_SIZE,
    COMMIT_FAILURES,
    IDEMPOTENT_REPLAYS,
    LEDGER_CATCHUPS,
    LEDGER_RELOADS,
)
from compliance_shield.services.events import outbox_row
from compliance_shield.services.evidence import Evidence, EvidenceGatherer, ProviderEvidence
from compliance_shield.services.gather import CheckRequest, gather_facts
from compliance_shield.services.heap import freeze_survivors
from compliance_shield.services.ids import uuid7
from compliance_shield.services.ledger import Reservation, TokenLedger, change_reserve
from compliance_shield.services.snapshot import Snapshot

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def request_hash(echo: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(echo, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(slots=True)
class _Pending:
    request: CheckRequest
    received: float
    future: asyncio.Future[dict[str, Any]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class PartyScreener(Protocol):
    def screen_now(self, investor: InvestorFacts, required: Collection[str], at: datetime) -> PartyScreening | None:
        """The investor's name screened against the loaded lists (None: they lack a required version)."""
        ...


def _no_policy_decision() -> Decision:
    code = ReasonCode.POLICY_MISSING
    return Decision(
        status=Outcome.REJECTED,
        risk_score=100,
        reasons=(Reason(code=code, message=MESSAGES[code], rule="policy"),),
        rules=(),
        restriction_code=restriction_code(code),
        engine_version=ENGINE_VERSION,
    )


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
        self._pool = pool
        self._snapshot = snapshot
        #: external evidence, gathered before a request is queued (the writer does no such I/O)
        self._evidence: EvidenceGatherer = evidence if evidence is not None else ProviderEvidence()
        #: screens, for one check, a party whose stored name screening predates an active list
        self._screener = screener
        self._window = commit_window_ms / 1000
        self._max_batch = max_batch
        #: admission bound: beyond it a check is refused at once rather than queued (see ``_admitted``)
        self._max_pending = max_pending
        self._pending = 0
        self._clock = clock
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.ledgers: dict[UUID, TokenLedger] = {}
        snapshot.on_change.append(self._on_reference_change)

    @property
    def pending(self) -> int:
        """Checks admitted and not yet answered (queued, gathering evidence or being recorded)."""
        return self._pending

    @property
    def max_batch(self) -> int:
        """The most decisions recorded in one transaction."""
        return self._max_batch

    def _on_reference_change(self, table: str, key: str) -> None:
        """Keep ledgers consistent with reference data that their aggregates or look-back use."""
        if table == "investors":  # the category may have changed: re-file the investor's holding
            investor = UUID(key)
            for ledger in self.ledgers.values():
                ledger.recategorize(investor)
        elif table == "tokens":  # the policy (so the look-back) may have changed
            self.ledgers.pop(UUID(key), None)
        elif table in ("policies", "policy_versions"):
            self.ledgers.clear()  # rare; each ledger reloads on its next check

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="decision-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(ServiceUnavailable("service is shutting down"))

    # -- the public use case -----------------------------------------------------------------

    async def check(self, request: CheckRequest) -> dict[str, Any]:
        """Decide ``request`` and return the stored check row (after it is committed)."""
        if request.token_id not in self._snapshot.tokens:
            raise _token_not_found(request)
        with self._admitted(1):
            received = time.perf_counter()
            request = await self.with_evidence(request)
            pending = _Pending(request, received)
            self._queue.put_nowait(pending)
            return await pending.future

    @contextlib.contextmanager
    def _admitted(self, count: int) -> Iterator[None]:
        """Admit ``count`` checks, or refuse them at once with ``Overloaded``.

        Beyond ``max_pending`` undecided checks, queuing more only makes every caller wait longer
        (and a caller that gave up would still leave an approval holding limits until it
        expires): refusing before any work keeps the answered ones fast and records nothing.
        A batch larger than the bound is admitted when nothing else is waiting.
        """
        if self._pending and self._pending + count > self._max_pending:
            CHECKS_SHED.inc(count)
            raise Overloaded(
                f"{self._pending} checks are waiting to be decided (at most {self._max_pending}); retry shortly",
                details={"pending": self._pending, "max_pending": self._max_pending},
            )
        self._pending += count
        CHECKS_PENDING.inc(count)
        try:
            yield
        finally:
            self._pending -= count
            CHECKS_PENDING.dec(count)

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

    async def check_many(self, requests: list[CheckRequest]) -> list[dict[str, Any] | ComplianceShieldError]:
        """Decide several transfers with the semantics of ``check`` each, in order.

        Items fail independently (an unknown token or a reused key is that item's error); a
        failure to record the decisions fails every item it touched with ``ServiceUnavailable``.
        The items are queued together, so they share group commits (up to ``max_batch`` each).
        The batch is admitted whole or refused whole (``Overloaded``).
        """
        with self._admitted(len(requests)):
            received = time.perf_counter()
            # evidence is gathered concurrently first, so that queuing (and deciding) keeps the order
            requests = list(await asyncio.gather(*(self.with_evidence(r) for r in requests)))
            results: list[dict[str, Any] | ComplianceShieldError | None] = [None] * len(requests)
            queued: list[tuple[int, _Pending]] = []
            for i, request in enumerate(requests):
                if request.token_id not in self._snapshot.tokens:
                    results[i] = _token_not_found(request)
                    continue
                pending = _Pending(request, received)
                self._queue.put_nowait(pending)
                queued.append((i, pending))
            for i, pending in queued:
                try:
                    results[i] = await pending.future
                except ComplianceShieldError as exc:
                    results[i] = exc
            return [r for r in results if r is not None]

    # -- the writer --------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            self._drain(batch)
            deadline = time.perf_counter() + self._window
            while len(batch) < self._max_batch:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
                self._drain(batch)
            await self._commit(batch)

    def _drain(self, batch: list[_Pending]) -> None:
        """Add what is already queued (up to the batch limit) without waiting."""
        while len(batch) < self._max_batch and not self._queue.empty():
            batch.append(self._queue.get_nowait())

    async def _commit(self, batch: list[_Pending]) -> None:
        #: the ledger changes made per token in this batch (also: which ledgers to drop on failure)
        touched: dict[UUID, list[dict[str, Any]]] = {}
        try:
            results = await self._commit_batch(batch, touched)
        except Exception as exc:
            COMMIT_FAILURES.inc()
            log.error("decision.commit_failed", error=repr(exc), batch=len(batch))
            for token_id in touched:
                self.ledgers.pop(token_id, None)
            error = ServiceUnavailable("the decision could not be recorded; retry later")
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(error)
            return
        COMMIT_BATCH_SIZE.observe(len(batch))
        for p, outcome in zip(batch, results, strict=True):
            if p.future.done():
                continue
            if isinstance(outcome, Exception):
                p.future.set_exception(outcome)
            else:
                CHECK_LATENCY.observe(time.perf_counter() - p.received)
                p.future.set_result(outcome)

    async def _commit_batch(
        self, batch: list[_Pending], touched: dict[UUID, list[dict[str, Any]]]
    ) -> list[dict[str, Any] | Exception]:
        now = self._clock()
        results: list[dict[str, Any] | Exception | None] = [None] * len(batch)
        async with self._pool.acquire(timeout=5) as conn, conn.transaction():
            first = _first_of_each_key(batch)
            leaders = await self._resolve_idempotency(conn, batch, first, results, now)
            versions = await ledger_queries.lock_tokens(conn, [batch[i].request.token_id for i, _ in leaders])
            await self._ensure_ledgers(conn, versions, now)
            rows: list[dict[str, Any]] = []
            reservations: list[tuple[Any, ...]] = []
            for i, check_id in leaders:
                row, reservation = self._decide(batch[i], check_id, now, touched)
                rows.append(row)
                results[i] = row
                if reservation is not None:
                    reservations.append(reservation)
            await self._persist(conn, rows, reservations, now)
            new_versions = await ledger_queries.bump_versions(conn, list(touched), touched) if touched else {}
        for token_id, version in new_versions.items():
            ledger = self.ledgers.get(token_id)
            if ledger is not None:  # (a reference change may have dropped it meanwhile)
                ledger.version = version
        self._fill_followers(batch, first, results)
        for row in rows:
            CHECKS.labels(row["status"]).inc()
        return [r if r is not None else ServiceUnavailable("not decided") for r in results]

    async def _resolve_idempotency(
        self, conn: Conn, batch: list[_Pending], first: dict[tuple[str, str], int], results: list[Any], now: datetime
    ) -> list[tuple[int, UUID]]:
        """Answer stored repeats; return the requests that need a new decision, with their check ids.

        Keys are claimed first (inserted with the id their decision will have), so a repeat being
        decided by another writer is waited for rather than decided twice; the rows commit, or
        roll back, with the decisions they name.
        """
        # (drawn in batch order: ids sort as the decisions were made; a repeat within the batch has none)
        ids = {i: uuid7() for i, p in enumerate(batch) if first.get(_key_of(p), i) == i}
        claimed = (
            await repo.claim_idempotency_keys(
                conn, [(*key, batch[i].request.request_hash, ids[i], now) for key, i in first.items()]
            )
            if first
            else set()
        )
        taken = [key for key in first if key not in claimed]
        stored = await repo.find_idempotency_keys(conn, taken) if taken else {}
        stored_checks = await repo.get_checks(conn, [r["check_id"] for r in stored.values()]) if stored else {}
        leaders = []
        for i, p in enumerate(batch):
            key = _key_of(p)
            if p.request.idempotency_key and key in stored:
                found = stored[key]
                if found["request_hash"] != p.request.request_hash:
                    results[i] = _key_reused(p.request.idempotency_key)
                else:
                    IDEMPOTENT_REPLAYS.inc()
                    results[i] = stored_checks[found["check_id"]]
            elif p.request.idempotency_key and first[key] != i:
                continue  # a repeat within this batch: answered from its leader after commit
            else:
                leaders.append((i, ids[i]))
        return leaders

    def _fill_followers(self, batch: list[_Pending], first: dict[tuple[str, str], int], results: list[Any]) -> None:
        """Answer the repeats within the batch from their leader's result."""
        for i, p in enumerate(batch):
            if not p.request.idempotency_key or results[i] is not None:
                continue
            leader = first[_key_of(p)]
            if leader == i:
                continue
            if batch[leader].request.request_hash != p.request.request_hash:
                results[i] = _key_reused(p.request.idempotency_key)
            else:
                IDEMPOTENT_REPLAYS.inc()
                results[i] = results[leader]

    async def _ensure_ledgers(self, conn: Conn, versions: dict[UUID, int], now: datetime) -> None:
        """Bring the in-memory ledgers of the locked tokens to the versions read under the lock."""
        behind = {
            token_id: (ledger.version, version)
            for token_id, version in versions.items()
            if (ledger := self.ledgers.get(token_id)) is not None and ledger.version < version
        }
        # another process changed these tokens: apply what it recorded (one query for all of them)
        missed = await ledger_queries.changes_since(conn, behind) if behind else {}
        for token_id, version in versions.items():
            ledger = self.ledgers.get(token_id)
            if ledger is not None and ledger.version == version:
                continue
            recorded = missed.get(token_id)
            if ledger is not None and recorded is not None:
                for changes in recorded:
                    ledger.apply(changes)
                ledger.version = version
                LEDGER_CATCHUPS.inc()
                continue
            if ledger is not None:  # ahead of the database (cannot happen) or a change not recorded
                LEDGER_RELOADS.inc()
            await self._load_ledger(conn, token_id, version, now)

    async def _load_ledger(self, conn: Conn, token_id: UUID, version: int, now: datetime) -> None:
        token = self._snapshot.tokens.get(token_id)
        policy = self._snapshot.policies.get(token.policy_id) if token and token.policy_id else None
        investors = self._snapshot.investors

        def category_of(investor_id: UUID) -> str:
            investor = investors.get(investor_id)
            return investor.category if investor is not None else "unknown"

        self.ledgers[token_id] = await TokenLedger.load(
            conn, token_id, version, now, lookback_seconds(policy.compiled) if policy else 0, category_of
        )
        # a ledger lives as long as the process: out of full GC passes at once (on the benchmark data,
        # leaving it to the periodic freeze let full collections walk it: p99.9 230 ms against 161,
        # one run each)
        freeze_survivors()

    def _decide(
        self, pending: _Pending, check_id: UUID, now: datetime, touched: dict[UUID, list[dict[str, Any]]]
    ) -> tuple[dict[str, Any], tuple[Any, ...] | None]:
        request = pending.request
        token = self._snapshot.tokens[request.token_id]
        ledger = self.ledgers[request.token_id]
        ledger.expire(now)
        facts = gather_facts(self._snapshot, ledger, request, now)
        policy = self._snapshot.policies.get(token.policy_id) if token.policy_id else None
        decision = evaluate(policy.compiled, facts, now) if policy else _no_policy_decision()
        facts_json = facts.__pydantic_serializer__.to_json(facts)
        ttl = policy.compiled.document.approval_ttl_seconds if policy else 0
        approved = decision.status is Outcome.APPROVED
        expires_at = now + timedelta(seconds=ttl) if approved else None
        reservation = None
        if approved and expires_at is not None:
            sender = facts.sender.investor.id if facts.sender.investor else None
            receiver = facts.receiver.investor.id if facts.receiver.investor else None
            made = Reservation(check_id, sender, receiver, request.amount, now, expires_at)
            ledger.add_reservation(made)
            touched.setdefault(request.token_id, []).append(change_reserve(made))
            reservation = (check_id, request.token_id, sender, receiver, request.amount, now, expires_at)
        row = {
            "id": check_id,
            "created_at": now,
            "token_id": request.token_id,
            "from_address": request.from_address,
            "to_address": request.to_address,
            "amount": request.amount,
            "transfer_type": request.transfer_type.value,
            "blockchain_type": request.blockchain_type.value,
            "status": decision.status.value,
            "risk_score": decision.risk_score,
            "restriction_code": decision.restriction_code,
            "reasons": [r.to_json() for r in decision.reasons],
            "rules": [t.to_json() for t in decision.rules],
            # serialized once, by pydantic's native encoder; stored as is (orjson.Fragment)
            "facts": orjson.Fragment(facts_json),
            "facts_sha256": hashlib.sha256(facts_json).hexdigest(),
            "request_hash": request.request_hash,
            "request": request.echo,
            "reference": request.reference,
            "policy_id": policy.policy_id if policy else None,
            "policy_version": policy.version if policy else None,
            "policy_hash": policy.compiled.content_hash if policy else None,
            "engine_version": decision.engine_version,
            "idempotency_key": request.idempotency_key,
            "principal": request.principal,
            "expires_at": expires_at,
            "processing_ms": round((time.perf_counter() - pending.received) * 1000, 3),
            "settlement_status": "pending" if approved else "not_applicable",
            "tx_hash": None,
            "settled_at": None,
        }
        return row, reservation

    async def _persist(
        self,
        conn: Conn,
        rows: list[dict[str, Any]],
        reservations: list[tuple[Any, ...]],
        now: datetime,
    ) -> None:
        if not rows:
            return
        await repo.insert_checks(conn, rows)
        if reservations:
            await repo.insert_reservations(conn, reservations)
        await repo.insert_outbox(
            conn,
            [outbox_row("transfer_check.decided", str(r["token_id"]), _event_data(r), now) for r in rows],
        )
        await audit.append(conn, [_audit_entry(r) for r in rows])


def _key_of(pending: _Pending) -> tuple[str, str]:
    return pending.request.principal, pending.request.idempotency_key or ""


def _first_of_each_key(batch: list[_Pending]) -> dict[tuple[str, str], int]:
    """The index of the first request of each ``Idempotency-Key`` in the batch (the others repeat it)."""
    first: dict[tuple[str, str], int] = {}
    for i, p in enumerate(batch):
        if p.request.idempotency_key:
            first.setdefault(_key_of(p), i)
    return first


def _token_not_found(request: CheckRequest) -> NotFound:
    return NotFound(f"token {request.token_id} not found", details={"field": "token_id"})


def _key_reused(key: str | None) -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        "this Idempotency-Key was used with a different request",
        details=[{"field": "Idempotency-Key", "message": f"key {key!r} already used with another body"}],
    )


def _event_data(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "check_id": str(row["id"]),
        "token_id": str(row["token_id"]),
        "from_address": row["from_address"],
        "to_address": row["to_address"],
        "amount": str(row["amount"]),
        "status": row["status"],
        "risk_score": row["risk_score"],
        "restriction_code": row["restriction_code"],
        "reasons": [r["code"] for r in row["reasons"]],
        "policy_hash": row["policy_hash"],
        "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
    }


def _audit_entry(row: dict[str, Any]) -> audit.AuditEntry:
    return audit.AuditEntry(
        occurred_at=row["created_at"],
        actor=row["principal"] or "unknown",
        action="transfer_check.decided",
        entity_type="transfer_check",
        entity_id=str(row["id"]),
        payload={
            "status": row["status"],
            "risk_score": row["risk_score"],
            "restriction_code": row["restriction_code"],
            "reasons": [r["code"] for r in row["reasons"]],
            "policy_hash": row["policy_hash"],
            "request_sha256": row["request_hash"],
            "facts_sha256": row["facts_sha256"],
            "decision_sha256": decision_digest(row, row["facts_sha256"]),
        },
    )
