"""Load the demo data set: tokens on each shipped template, investors, wallets and holdings.

The rows come from ``seed_data.build_demo`` (deterministic for a ``seed`` and a size). They are
loaded with ``COPY`` in one transaction, with one audit entry: all of them or none. Running it
twice is refused (the data would collide). The templates' policies are published first through
``PolicyService`` (in their own transactions, as any publication; publishing a template again
changes nothing).

Every investor is name-screened here, against the active sanctions list versions (held still by
the versions lock for the whole transaction), and stored with its result, exactly as an investor
created through the API is. Otherwise each server process would screen them all at start-up, and
every result written then would be announced to every process's snapshot one investor at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from compliance_shield.db import Conn, audit
from compliance_shield.db import lists as lists_repo
from compliance_shield.db import screening as screening_repo
from compliance_shield.domain.screening import status_for
from compliance_shield.errors import Conflict
from compliance_shield.services.reference.policies import PolicyService
from compliance_shield.services.reference.seed_data import DataSetSize, DemoRows, build_demo, sample_transfer
from compliance_shield.services.screening.screening import ScreeningService, investor_query

#: the columns of each table's rows, in ``DemoRows`` order
INVESTOR_COLUMNS = (
    "id", "external_ref", "type", "name", "country", "nationality", "category", "kyc_status", "kyc_expires_at",
    "kyc_provider", "kyc_provider_ref", "accreditation_expires_at", "pep", "risk_rating", "designated_tokens",
)  # fmt: skip
#: a result's hits (jsonb, which COPY cannot encode here) are stored apart, for the few that have any
SCREENING_COLUMNS = ("screening_status", "screening_list_versions", "screened_at")
TOKEN_COLUMNS = (
    "id", "symbol", "name", "contract_address", "blockchain_type", "decimals", "asset_type", "issuer",
    "price_per_unit", "price_currency", "total_supply", "policy_id", "paused", "lockup_until", "trading_windows",
)  # fmt: skip
WALLET_COLUMNS = ("address", "investor_id", "status", "custody")
HOLDING_COLUMNS = ("token_id", "investor_id", "balance")
LOT_COLUMNS = ("token_id", "investor_id", "amount", "acquired_at")
#: rows per COPY statement: the progress bar moves between them
CHUNK = 20_000
#: COPY of a large table may take longer than the pool's per-statement timeout
COPY_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class SeedSummary:
    tokens: dict[str, UUID]
    investors: int
    wallets: int
    holdings: int
    sample: dict[str, Any]


def seed_progress() -> Progress:
    """The progress display of a seed, on stderr (Rich shows nothing when it is not a terminal)."""
    return Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


def demo_sample(seed: int = 7, investors: int = 1000) -> dict[str, Any]:
    """The example transfer of an already loaded demo data set."""
    size = DataSetSize(investors=investors)
    policies = dict.fromkeys(s.template for s in size.token_specs)
    return sample_transfer(build_demo(seed, size, datetime.now(UTC), policies))


@dataclass(frozen=True, slots=True)
class _Screened:
    #: the investor rows followed by the ``SCREENING_COLUMNS``
    people: list[tuple[Any, ...]]
    #: results with hits, as ``db.screening.save_results`` stores them
    with_hits: list[tuple[UUID, str, list[dict[str, Any]], list[str], datetime]]


async def _screen(
    conn: Conn, screening: ScreeningService, people: list[tuple[Any, ...]], progress: Progress
) -> _Screened:
    """The investors' name-screening results, against the active list versions.

    Inside the loading transaction: the versions lock (shared) keeps an import from changing the
    active versions until the results are committed.
    """
    await lists_repo.lock_versions(conn, shared=True)
    active = tuple(sorted(r["label"] for r in await lists_repo.active_versions(conn)))
    if active != screening.index.versions:
        await screening.reload_index()
    versions = list(screening.index.versions)
    task = progress.add_task("screening names", total=len(people))
    screened_at = datetime.now(UTC)

    out = _Screened([], [])

    def batch(rows: Sequence[tuple[Any, ...]]) -> None:
        for row in rows:
            hits = tuple(screening.screen(investor_query(dict(zip(INVESTOR_COLUMNS, row, strict=True)))))
            status = status_for(hits).value
            out.people.append((*row, status, versions, screened_at))
            if hits:
                out.with_hits.append((row[0], status, [h.model_dump(mode="json") for h in hits], versions, screened_at))

    for start in range(0, len(people), CHUNK):
        # CPU-bound with loaded lists: in a thread, so the event loop stays responsive
        await asyncio.to_thread(batch, people[start : start + CHUNK])
        progress.advance(task, min(CHUNK, len(people) - start))
    return out


async def _copy(
    conn: Conn, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], progress: Progress
) -> None:
    task = progress.add_task(f"loading {table}", total=len(rows))
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        await conn.copy_records_to_table(table, records=chunk, columns=list(columns), timeout=COPY_TIMEOUT)
        progress.advance(task, len(chunk))


async def seed_demo(
    pool: asyncpg.Pool,
    policies: PolicyService,
    screening: ScreeningService,
    *,
    size: DataSetSize | None = None,
    seed: int = 7,
    progress: Progress | None = None,
) -> SeedSummary:
    """Load the data set of ``size`` (the 1,000-investor demo by default); refuse if it is loaded."""
    size = size or DataSetSize()
    progress = progress or Progress(disable=True)
    now = datetime.now(UTC).replace(microsecond=0)
    symbols = [s.symbol for s in size.token_specs]
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT count(*) FROM tokens WHERE symbol = ANY($1::text[])", symbols):
            raise Conflict("demo data is already loaded")
    policy_ids: dict[str, UUID | None] = {}
    for template in sorted({s.template for s in size.token_specs}):
        draft = await policies.save_template_draft(template, "seed")
        await policies.publish(draft["id"], "seed")
        policy_ids[template] = draft["id"]
    generating = progress.add_task("generating", total=1)
    rows: DemoRows = await asyncio.to_thread(build_demo, seed, size, now, policy_ids)
    progress.advance(generating)

    async with pool.acquire() as conn, conn.transaction():
        screened = await _screen(conn, screening, rows.people, progress)
        await _copy(conn, "investors", INVESTOR_COLUMNS + SCREENING_COLUMNS, screened.people, progress)
        await screening_repo.save_results(conn, screened.with_hits)
        await _copy(conn, "wallets", WALLET_COLUMNS, rows.wallets, progress)
        # a few rows, with a jsonb column: not worth a COPY
        await conn.executemany(
            f"INSERT INTO tokens ({', '.join(TOKEN_COLUMNS)}) "  # noqa: S608 (column names of this module)
            f"VALUES ({', '.join(f'${i}' for i in range(1, len(TOKEN_COLUMNS) + 1))})",
            rows.tokens,
        )
        await _copy(conn, "holdings", HOLDING_COLUMNS, rows.holdings, progress)
        await _copy(conn, "holding_lots", LOT_COLUMNS, rows.lots, progress)
        await audit.append(conn, [audit.AuditEntry(now, "seed", "demo.loaded", "dataset", f"demo-{seed}", {
            "investors": len(rows.people), "wallets": len(rows.wallets), "tokens": len(rows.tokens),
            "holdings": len(rows.holdings)})])  # fmt: skip

    return SeedSummary(
        tokens={t[1]: t[0] for t in rows.tokens},
        investors=len(rows.people),
        wallets=len(rows.wallets),
        holdings=len(rows.holdings),
        sample=sample_transfer(rows),
    )
