"""Name and address screening against the active sanctions list versions.

``ScreeningService`` holds the in-memory ``NameIndex`` of every active list version's entities
(rebuilt when a version changes, in any process: the ``cs_refdata`` notification of
``sanctions_list_versions``). It:

* screens names for the API (batch queries, with explanations);
* screens an investor when it is created or changed, inside that write's transaction
  (``screen_row``), so no investor is stored unscreened once lists are loaded;
* re-screens every investor whose result is ``pending`` or was computed against other list
  versions than the active ones (``rescreen_due``): after an import, at start-up and whenever a
  version changes — continuous screening. Rows are claimed with ``FOR UPDATE SKIP LOCKED`` in
  batches, so several processes share the work and an edit in flight is never overwritten;
* records an officer's dismissal of a hit (a false positive for one list entry): audited, and the
  entry never counts for that investor again, in this or any later list version.

Address screening reads the snapshot's address set (operator entries and active list versions).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from compliance_shield.db import Conn, audit
from compliance_shield.db import lists as lists_repo
from compliance_shield.db import screening as repo
from compliance_shield.domain.addresses import InvalidAddress, normalize_any
from compliance_shield.domain.facts import InvestorFacts
from compliance_shield.domain.screening import (
    EntityKind,
    ListEntity,
    NameMatch,
    NameQuery,
    PartyScreening,
    status_for,
)
from compliance_shield.domain.screening_index import ListedEntity, NameIndex
from compliance_shield.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from compliance_shield.observability.metrics import NAME_SCREENING_LATENCY, NAME_SCREENINGS, SCREENING_INDEX_NAMES
from compliance_shield.services.reference.snapshot import Snapshot

log = structlog.get_logger(__name__)

#: hits below this score are not kept (regulatory-defaults row 2: "log ≥ 0.50")
REPORT_FLOOR = 0.50
#: at most this many hits are kept per investor (best first)
MAX_STORED_HITS = 20
SWEEP_BATCH = 500
RECONCILE_SECONDS = 60.0
LIST_TABLE = "sanctions_list_versions"


#: a UN reference number (QDi.001, KPe.023): the committee, i for individuals or e for entities, a number
UN_REFERENCE = re.compile(r"^[A-Z]{2}[ie]\.\d{3}$")


def served_identity(uid: str, programmes: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """The entry's uid and programmes as served: a UN version imported before the reference number
    became the uid (uid = DATAID, the reference among the programmes) is served by its reference,
    as a new import of the same list is (migration 0012 moved dismissals the same way)."""
    if uid.isdigit():
        reference = next((p for p in programmes if UN_REFERENCE.match(p)), None)
        if reference is not None:
            return reference, tuple(p for p in programmes if p != reference)
    return uid, tuple(programmes)


def _entity(row: asyncpg.Record) -> ListedEntity:
    uid, programmes = served_identity(row["uid"], row["programmes"])
    return ListedEntity(
        source=row["source"],
        list_version=row["label"],
        entity=ListEntity(
            uid=uid,
            kind=row["kind"],
            name=row["name"],
            aliases=tuple(row["aliases"]),
            dates_of_birth=tuple(row["dates_of_birth"]),
            nationalities=tuple(row["nationalities"]),
            countries=tuple(row["countries"]),
            programmes=programmes,
        ),
    )


def investor_query(row: asyncpg.Record | dict[str, Any]) -> NameQuery:
    """What an investor is screened with: name, kind, residence and nationality."""
    countries = tuple(dict.fromkeys(c.strip() for c in (row["country"], row["nationality"]) if c))
    return NameQuery(name=row["name"], kind=EntityKind(row["type"]), countries=countries)


def _facts_query(investor: InvestorFacts) -> NameQuery:
    return investor_query(
        {"name": investor.name, "type": investor.type.value, "country": investor.country,
         "nationality": investor.nationality}
    )  # fmt: skip


class ScreeningService:
    def __init__(self, pool: asyncpg.Pool, snapshot: Snapshot | None = None) -> None:
        self._pool = pool
        self._snapshot = snapshot
        self.index = NameIndex(())
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._reload_lock = asyncio.Lock()
        if snapshot is not None:
            snapshot.on_change.append(self._on_change)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the index and screen every investor still pending (or screened against other
        versions) before the service answers; then keep both current in the background."""
        await self.reload_index()
        count = await self.rescreen_due()
        if count:
            log.info("screening.startup_sweep", investors=count)
        self._task = asyncio.create_task(self._watch(), name="screening-watch")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_change(self, table: str, _key: str) -> None:
        if table == LIST_TABLE:
            self._changed.set()

    async def _watch(self) -> None:
        while True:
            # woken by a list-version change; every RECONCILE_SECONDS regardless, so a change
            # missed while the notification link was down is still picked up
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RECONCILE_SECONDS):
                    await self._changed.wait()
            self._changed.clear()
            try:
                await self.reload_index()
                count = await self.rescreen_due()
                if count:
                    log.info("screening.rescreened", investors=count, versions=list(self.index.versions))
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("screening.sweep_failed", error=repr(exc))
                await asyncio.sleep(1)
                self._changed.set()

    async def reload_index(self) -> None:
        """Rebuild the name index from the active list versions (a no-op when they are unchanged)."""
        async with self._reload_lock:
            async with self._pool.acquire() as conn:
                labels = sorted(r["label"] for r in await lists_repo.active_versions(conn))
                if tuple(labels) == self.index.versions and (labels or not len(self.index)):
                    return
                rows = await lists_repo.active_entities(conn)
            listed = [_entity(r) for r in rows]
            index = await asyncio.to_thread(NameIndex, listed)
            # versions without entities (address-only lists) are consulted too
            index.versions = tuple(labels)
            self.index = index
            SCREENING_INDEX_NAMES.set(len(index))
            log.info("screening.index_loaded", names=len(index), versions=labels)

    # -- names -------------------------------------------------------------------------------

    def screen(self, query: NameQuery, *, floor: float = REPORT_FLOOR, limit: int = MAX_STORED_HITS) -> list[NameMatch]:
        started = time.perf_counter()
        matches = self.index.search(query, floor=floor, limit=limit)
        NAME_SCREENING_LATENCY.observe(time.perf_counter() - started)
        return matches

    def screen_now(self, investor: InvestorFacts, required: Collection[str], at: datetime) -> PartyScreening | None:
        """Screen ``investor`` against the loaded lists for one check, without storing the result.

        For a party whose stored result predates an active list of names (the sweep stores theirs
        later). The investor's dismissed hits stay dismissed. None when the loaded lists do not yet
        include every version in ``required``: there is then no current evidence (fail closed).
        """
        versions = self.index.versions
        if not set(required) <= set(versions):
            return None
        NAME_SCREENINGS.labels("check").inc()
        stored = investor.screening
        dismissed = {(h.source, h.entity_uid) for h in stored.hits if h.dismissed} if stored is not None else set()
        hits = self._hits(_facts_query(investor), dismissed)
        return PartyScreening(status=status_for(hits), hits=hits, list_versions=versions, screened_at=at)

    def _hits(self, query: NameQuery, dismissed: set[tuple[str, str]]) -> tuple[NameMatch, ...]:
        """The matches of ``query``, those of a dismissed (source, entry) marked dismissed."""
        return tuple(
            m.model_copy(update={"dismissed": True}) if (m.source, m.entity_uid) in dismissed else m
            for m in self.screen(query)
        )

    async def screen_names(self, queries: Sequence[NameQuery], *, floor: float, limit: int) -> list[list[NameMatch]]:
        """Screen a batch (in a worker thread: a large batch must not stall the check path)."""
        NAME_SCREENINGS.labels("api").inc(len(queries))
        return await asyncio.to_thread(lambda: [self.screen(q, floor=floor, limit=limit) for q in queries])

    def _result(
        self, row: asyncpg.Record | dict[str, Any], dismissed: set[tuple[str, str]]
    ) -> tuple[str, list[dict[str, Any]], list[str]]:
        hits = self._hits(investor_query(row), dismissed)
        return status_for(hits).value, [h.model_dump(mode="json") for h in hits], list(self.index.versions)

    def _screen_batch(
        self, rows: Sequence[asyncpg.Record], dismissed: dict[UUID, set[tuple[str, str]]], now: datetime
    ) -> list[tuple[UUID, str, list[dict[str, Any]], list[str], datetime]]:
        return [(r["id"], *self._result(r, dismissed.get(r["id"], set())), now) for r in rows]

    async def screen_row(self, conn: Conn, row: dict[str, Any]) -> dict[str, Any]:
        """Screen an investor row inside the caller's transaction and store the result on it."""
        NAME_SCREENINGS.labels("investor").inc()
        if not await self._index_is_current(conn):
            await self.reload_index()
        dismissed = (await repo.dismissed_entries(conn, [row["id"]])).get(row["id"], set())
        status, hits, versions = self._result(row, dismissed)
        now = datetime.now(UTC)
        await repo.save_results(conn, [(row["id"], status, hits, versions, now)])
        return row | {
            "screening_status": status,
            "screening_hits": hits,
            "screening_list_versions": versions,
            "screened_at": now,
        }

    async def _index_is_current(self, conn: Conn) -> bool:
        """Inside a transaction: lock the active versions (shared) and compare them with the index."""
        await lists_repo.lock_versions(conn, shared=True)
        active = sorted(r["label"] for r in await lists_repo.active_versions(conn))
        return tuple(active) == self.index.versions

    async def rescreen_due(self, batch: int = SWEEP_BATCH) -> int:
        """Screen every investor pending or screened against other versions; return how many.

        Each batch is stored only if the index still matches the active versions (checked under
        the versions lock): a sweep racing an import never overwrites a newer result.
        """
        total = 0
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                if not await self._index_is_current(conn):
                    stale = True
                else:
                    stale = False
                    rows = await repo.due_for_screening(conn, self.index.versions, batch)
                    if not rows:
                        return total
                    dismissed = await repo.dismissed_entries(conn, [r["id"] for r in rows])
                    now = datetime.now(UTC)
                    # CPU-bound: off the event loop, so checks keep flowing while a list change sweeps
                    results = await asyncio.to_thread(self._screen_batch, rows, dismissed, now)
                    NAME_SCREENINGS.labels("rescreen").inc(len(rows))
                    await repo.save_results(conn, results)
            if stale:
                await self.reload_index()
                continue
            total += len(rows)

    # -- investors' results and dismissals ----------------------------------------------------

    async def investor_screening(self, investor_id: UUID) -> dict[str, Any]:
        async with self._pool.acquire() as conn:
            row = await repo.screening_of(conn, investor_id)
            if row is None:
                raise NotFound(f"investor {investor_id} not found")
            dismissals = [dict(d) for d in await repo.dismissals(conn, investor_id)]
        return {
            "investor_id": investor_id,
            "name": row["name"],
            "status": row["screening_status"],
            "hits": row["screening_hits"],
            "list_versions": list(row["screening_list_versions"]),
            "screened_at": row["screened_at"],
            "dismissals": dismissals,
        }

    async def dismiss(self, investor_id: UUID, source: str, entity_uid: str, reason: str, actor: str) -> dict[str, Any]:
        """Record that the investor is not the listed entry ``(source, entity_uid)``; re-screen it."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await repo.screening_of(conn, investor_id, for_update=True)
            if row is None:
                raise NotFound(f"investor {investor_id} not found")
            hit = next(
                (h for h in row["screening_hits"] if h["source"] == source and h["entity_uid"] == entity_uid), None
            )
            if hit is None:
                message = f"the investor's current screening has no hit on {source} entry {entity_uid}"
                raise NotFound(message, details=[{"field": "entity_uid", "message": message}])
            created = await repo.insert_dismissal(
                conn, investor_id, source, entity_uid, hit.get("entity_name"), hit.get("score"), reason, actor
            )
            if created is None:
                raise Conflict(f"{source} entry {entity_uid} is already dismissed for this investor")
            screened = await self.screen_row(conn, dict(row))
            entry = audit.AuditEntry(
                datetime.now(UTC), actor, "screening.hit_dismissed", "investor", str(investor_id),
                {"source": source, "entity_uid": entity_uid, "entity_name": hit.get("entity_name"),
                 "score": str(hit.get("score")), "list_version": hit.get("list_version"), "reason": reason,
                 "status_after": screened["screening_status"]},
            )  # fmt: skip
            await audit.append(conn, [entry])
        if self._snapshot is not None:
            async with self._pool.acquire() as conn:
                await self._snapshot.reload(conn, "investors", str(investor_id))
        return dict(created) | {"screening_status": screened["screening_status"]}

    # -- addresses ---------------------------------------------------------------------------

    def address_hits(self, address: str) -> dict[str, Any]:
        """Hits for one address of any chain, from the in-memory address set."""
        try:
            key = normalize_any(address)
        except InvalidAddress as exc:
            raise ValidationFailed(str(exc), field="address") from exc
        if self._snapshot is None or self._snapshot.stale:
            raise ServiceUnavailable("the sanctions address set is being reloaded; retry shortly")
        hits = self._snapshot.sanctions.get(key, ())
        return {
            "address": key,
            "sanctioned": bool(hits),
            "hits": [h.model_dump(mode="json") for h in hits],
            "list_versions": sorted(set(self._snapshot.list_versions) | {h.list_version or h.source for h in hits}),
        }
