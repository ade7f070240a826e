"""AI-drafted reasoning for review cases, off the decision path.

The worker looks for open cases without a narrative (every ``case.opened`` leaves one, so a
restart loses nothing), builds a prompt from the case's stored decision with only the fields
``GROK_SEND_FIELDS`` allows (PII minimisation: reason codes, the rule trace, amounts and flags
always; names, countries, categories, addresses only when listed), asks the chat-completions
model for a ``Narrative`` and stores it with the model, the prompt version and the SHA-256 of the
inputs. It decides nothing and blocks nothing: a failure is recorded on the case
(``case.narrative_failed``) and tried again on a later pass, at most ``MAX_ATTEMPTS`` times; a
budget bounds the calls per hour; a 429 pauses the worker for its ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import structlog
from pydantic import ValidationError

from compliance_shield.adapters.resilience import ProviderFailure
from compliance_shield.db import cases as repo
from compliance_shield.db import checks as checks_repo
from compliance_shield.domain import encoding
from compliance_shield.domain.case import ReviewCase
from compliance_shield.domain.case_narrative import Narrative, narrative_schema
from compliance_shield.observability.metrics import CASE_NARRATIVES
from compliance_shield.services.cases.records import record

log = structlog.get_logger(__name__)

PROMPT_VERSION = "case-narrative/1"
MAX_ATTEMPTS = 3
#: ``'cs-reasn'`` as a big-endian integer: the advisory lock of a drafting pass
PASS_LOCK_KEY = 0x63732D726561736E
OPTIONAL_FIELDS = frozenset({"names", "countries", "categories", "addresses"})

SYSTEM_PROMPT = """You assist compliance officers reviewing escalated transfers of tokenized securities
(Indian rules first: SEBI, PMLA, FEMA; EU/US/UAE variants). From the decision record given as JSON, draft:
what triggered the escalation, the evidence for and against approving the transfer, which policy rules
and regulations apply, and a suggested resolution with its reason. Use only the record; say when evidence
is missing. You draft; the officers decide. Answer with the JSON object the schema describes."""


class StructuredModel(Protocol):
    model: str

    async def complete_json(self, system: str, user: str, schema_name: str, schema: dict[str, Any]) -> Any:
        """An answer with ``model`` (str) and ``content`` (the JSON object)."""
        ...


@dataclass
class Budget:
    """At most ``per_hour`` calls in any sliding hour."""

    per_hour: int
    clock: Callable[[], float] = time.monotonic
    _calls: deque[float] = field(default_factory=deque)

    def take(self) -> bool:
        now = self.clock()
        while self._calls and now - self._calls[0] >= 3600:
            self._calls.popleft()
        if len(self._calls) >= self.per_hour:
            return False
        self._calls.append(now)
        return True


@dataclass(frozen=True, slots=True)
class PassResult:
    drafted: int = 0
    failed: int = 0
    #: cases left for a later pass (budget spent or the server asked to wait)
    deferred: int = 0


def prompt_inputs(case: ReviewCase, check: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """What the model may see of a case: the decision, and of each party only the allowed fields."""
    facts = check.get("facts") or {}

    def party(side: str) -> dict[str, Any]:
        p = facts.get(side) or {}
        investor = p.get("investor")
        out: dict[str, Any] = {"bound_to_investor": investor is not None, "balance": str(p.get("balance", 0))}
        if "addresses" in fields:
            out["address"] = p.get("address")
        if investor:
            out |= {
                "kyc_status": investor.get("kyc_status"),
                "pep": investor.get("pep"),
                "risk_rating": investor.get("risk_rating"),
                "screening_status": (investor.get("screening") or {}).get("status"),
                "screening_hit_scores": [h.get("score") for h in (investor.get("screening") or {}).get("hits", [])],
            }
            if "names" in fields:
                out["name"] = investor.get("name")
            if "countries" in fields:
                out |= {"country": investor.get("country"), "nationality": investor.get("nationality")}
            if "categories" in fields:
                out["category"] = investor.get("category")
        return out

    return {
        "case": {"reason_codes": list(case.reason_codes), "risk_score": case.risk_score, "origin": case.origin.value},
        "decision": {
            "status": check["status"],
            "restriction_code": check["restriction_code"],
            "amount_base_units": str(check["amount"]),
            "transfer_type": check["transfer_type"],
            "policy_version": check["policy_version"],
            "reasons": check["reasons"],
            "rules": [
                {k: t.get(k) for k in ("rule", "result", "code", "message", "risk_points", "params")}
                for t in check.get("rules") or ()
            ],
        },
        "token": {k: (facts.get("token") or {}).get(k) for k in ("symbol", "decimals", "price_currency")},
        "sender": party("sender"),
        "receiver": party("receiver"),
    }


class ReasoningService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        model: StructuredModel,
        *,
        fields: frozenset[str],
        budget: Budget,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        unknown = fields - OPTIONAL_FIELDS
        if unknown:
            raise ValueError(f"unknown fields to send: {', '.join(sorted(unknown))}")
        self._pool = pool
        self._model = model
        self._fields = fields
        self._budget = budget
        self._clock = clock
        self._paused_until = 0.0

    async def run_pass(self, limit: int = 20) -> PassResult:
        """Draft narratives for the open cases that lack one (oldest first)."""
        drafted = failed = deferred = 0
        async with self._pool.acquire() as lock_conn:
            # one drafting pass at a time across the processes of a deployment (each runs the worker)
            if not await lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", PASS_LOCK_KEY):
                return PassResult()
            try:
                waiting = await repo.cases_without_narrative(lock_conn, MAX_ATTEMPTS, limit)
                for case_id in waiting:
                    if self._clock() < self._paused_until or not self._budget.take():
                        deferred += 1
                        continue
                    if await self._draft(case_id):
                        drafted += 1
                    else:
                        failed += 1
            finally:
                await lock_conn.execute("SELECT pg_advisory_unlock($1)", PASS_LOCK_KEY)
        for outcome, count in (("drafted", drafted), ("failed", failed), ("deferred", deferred)):
            if count:
                CASE_NARRATIVES.labels(outcome).inc(count)
        return PassResult(drafted, failed, deferred)

    async def _draft(self, case_id: UUID) -> bool:
        async with self._pool.acquire() as conn:
            case = await repo.get_case(conn, case_id)
            check = await checks_repo.get_check(conn, case.check_id) if case is not None else None
        if case is None or check is None:
            return False
        inputs = prompt_inputs(case, check, self._fields)
        user = encoding.dumps_text(inputs, sort_keys=True)
        digest = hashlib.sha256(user.encode()).hexdigest()
        sent = sorted(self._fields)
        log.info("reasoning.request", case_id=str(case_id), model=self._model.model, prompt_version=PROMPT_VERSION,
                 inputs_sha256=digest, optional_fields_sent=sent)  # fmt: skip
        try:
            answer = await self._model.complete_json(SYSTEM_PROMPT, user, "case_narrative", narrative_schema())
            narrative = Narrative.model_validate(answer.content)
        except ProviderFailure as exc:
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None:
                self._paused_until = self._clock() + float(retry_after)
            return await self._failed(case, str(exc), digest)
        except ValidationError as exc:
            return await self._failed(
                case, f"the answer does not match the schema: {exc.error_count()} error(s)", digest
            )
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            await repo.add_narrative(
                conn, case.id, now, model=answer.model, prompt_version=PROMPT_VERSION, inputs_sha256=digest,
                sent_fields=sent, narrative=narrative.model_dump(mode="json"),
            )  # fmt: skip
            await record(conn, case, "case.narrative_drafted", "reasoning-worker", now,
                         {"model": answer.model, "prompt_version": PROMPT_VERSION, "inputs_sha256": digest,
                          "suggested_resolution": narrative.suggested_resolution})  # fmt: skip
        return True

    async def _failed(self, case: ReviewCase, error: str, digest: str) -> bool:
        log.warning("reasoning.failed", case_id=str(case.id), error=error)
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            await repo.add_history(conn, case.id, now, "reasoning-worker", "case.narrative_failed",
                                   {"error": error[:500], "inputs_sha256": digest})  # fmt: skip
        return False
