"""The in-memory reference-data snapshot that serves the check path.

Investors, wallets, tokens, published policies and sanctioned addresses are loaded once and
then kept current by PostgreSQL ``LISTEN cs_refdata`` notifications, which triggers in the
schema send on every change, from any process. While the listening connection is down the
snapshot cannot know about changes, so it reports itself *stale*: the sanctions evidence is then
withheld (the ``sanctioned_address`` rule answers ``error``) and nothing is approved until it has
reconnected and reloaded everything.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from compliance_shield.db import Conn
from compliance_shield.db import snapshot_queries as q
from compliance_shield.domain import encoding
from compliance_shield.domain.facts import (
    CountryLists,
    InvestorFacts,
    SanctionsHit,
    TokenFacts,
    TradingWindow,
    WalletFacts,
    WalletRiskSignal,
)
from compliance_shield.domain.policy import CompiledPolicy, compile_policy
from compliance_shield.domain.screening import NameMatch, PartyScreening, ScreeningStatus
from compliance_shield.observability.metrics import SNAPSHOT_RELOADS, SNAPSHOT_SIZE

log = structlog.get_logger(__name__)

CHANNEL = "cs_refdata"


@dataclass(frozen=True, slots=True)
class TokenEntry:
    facts: TokenFacts
    policy_id: UUID | None


@dataclass(frozen=True, slots=True)
class PolicyEntry:
    policy_id: UUID
    version: int
    compiled: CompiledPolicy


def investor_facts(row: asyncpg.Record) -> InvestorFacts:
    return InvestorFacts(
        id=row["id"],
        type=row["type"],
        name=row["name"],
        country=row["country"].strip(),
        nationality=row["nationality"].strip() if row["nationality"] else None,
        category=row["category"],
        kyc_status=row["kyc_status"],
        kyc_expires_at=row["kyc_expires_at"],
        accreditation_expires_at=row["accreditation_expires_at"],
        pep=row["pep"],
        risk_rating=row["risk_rating"],
        designated_tokens=frozenset(row["designated_tokens"] or ()),
        kyc_provider=row["kyc_provider"],
        kyc_provider_ref=row["kyc_provider_ref"],
        screening=party_screening(row),
    )


def party_screening(row: asyncpg.Record) -> PartyScreening | None:
    """The stored name-screening result of an investor row (None while it is pending)."""
    if row["screening_status"] == ScreeningStatus.PENDING:
        return None
    return PartyScreening(
        status=row["screening_status"],
        hits=tuple(NameMatch.model_validate(h) for h in row["screening_hits"] or ()),
        list_versions=tuple(row["screening_list_versions"] or ()),
        screened_at=row["screened_at"],
    )


def wallet_facts(row: asyncpg.Record) -> WalletFacts:
    return WalletFacts(
        address=row["address"], investor_id=row["investor_id"], status=row["status"], custody=row["custody"]
    )


def token_entry(row: asyncpg.Record) -> TokenEntry:
    windows = row["trading_windows"] or []
    if isinstance(windows, str):
        windows = encoding.loads(windows)
    price = row["price_per_unit"]
    facts = TokenFacts(
        id=row["id"],
        symbol=row["symbol"],
        decimals=row["decimals"],
        price_per_unit=Decimal(price) if price is not None else None,
        price_currency=row["price_currency"].strip() if row["price_currency"] else None,
        paused=row["paused"],
        lockup_until=row["lockup_until"],
        trading_windows=tuple(TradingWindow.model_validate(w) for w in windows),
        total_supply=int(row["total_supply"]) if row["total_supply"] is not None else None,
    )
    return TokenEntry(facts=facts, policy_id=row["policy_id"])


class Snapshot:
    """Reference data for the check path. Reads are plain dict look-ups (no awaits)."""

    def __init__(self, countries: CountryLists, *, name_lists_required: bool = False) -> None:
        self.countries = countries
        #: no active list of names is itself a failure of name screening (production: see settings)
        self.name_lists_required = name_lists_required
        self.investors: dict[UUID, InvestorFacts] = {}
        self.wallets: dict[str, WalletFacts] = {}
        self.tokens: dict[UUID, TokenEntry] = {}
        self.policies: dict[UUID, PolicyEntry] = {}
        #: sanctioned addresses: operator entries and the active list versions' addresses, merged
        self.sanctions: dict[str, tuple[SanctionsHit, ...]] = {}
        self._operator_sanctions: dict[str, tuple[SanctionsHit, ...]] = {}
        self._list_sanctions: dict[str, tuple[SanctionsHit, ...]] = {}
        #: labels of the active sanctions list versions (every screening consults them)
        self.list_versions: tuple[str, ...] = ()
        #: the active versions that list names (an address-only list does not date a name screening)
        self.name_list_versions: tuple[str, ...] = ()
        #: the built-in wallet-risk labels by address (table ``wallet_labels``)
        self.wallet_labels: dict[str, tuple[WalletRiskSignal, ...]] = {}
        self.stale = True
        self._listener: Conn | None = None
        self._connect: Callable[[], Awaitable[Conn]] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self._changes: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._lost = asyncio.Event()
        #: callbacks run after an entity was reloaded: (table, key)
        self.on_change: list[Callable[[str, str], None]] = []
        self._reload_lock = asyncio.Lock()

    # -- loading -----------------------------------------------------------------------------

    async def load_all(self, conn: Conn) -> None:
        async with self._reload_lock:  # (see ``reload``)
            investors = {r["id"]: investor_facts(r) for r in await q.investors(conn)}
            wallets = {r["address"]: wallet_facts(r) for r in await q.wallets(conn)}
            tokens = {r["id"]: token_entry(r) for r in await q.tokens(conn)}
            policies = {r["policy_id"]: self._policy_entry(r) for r in await q.published_policies(conn)}
            operator_sanctions = self._group_sanctions(await q.sanctioned_addresses(conn))
            list_sanctions = self._group_sanctions(await q.list_addresses(conn))
            list_versions, name_list_versions = await q.list_versions(conn)
            self.investors, self.wallets, self.tokens = investors, wallets, tokens
            self.policies = policies
            self._operator_sanctions, self._list_sanctions = operator_sanctions, list_sanctions
            self.list_versions, self.name_list_versions = list_versions, name_list_versions
            self._merge_sanctions()
            self.wallet_labels = self._group_labels(await q.wallet_labels(conn))
            SNAPSHOT_RELOADS.labels("all").inc()
            self._publish_sizes()

    @staticmethod
    def _policy_entry(row: asyncpg.Record) -> PolicyEntry:
        return PolicyEntry(row["policy_id"], row["version"], compile_policy(row["document"]))

    @staticmethod
    def _group_sanctions(rows: Iterable[asyncpg.Record]) -> dict[str, tuple[SanctionsHit, ...]]:
        grouped: dict[str, list[SanctionsHit]] = {}
        for r in rows:
            fields = set(r.keys())
            grouped.setdefault(r["address"], []).append(
                SanctionsHit(
                    address=r["address"],
                    source=r["source"],
                    entity=r["entity"],
                    list_version=r["list_version"],
                    entity_uid=r["entity_uid"] if "entity_uid" in fields else None,
                    asset=r["asset"] if "asset" in fields else None,
                )
            )
        return {k: tuple(v) for k, v in grouped.items()}

    def _merge_sanctions(self, keys: Iterable[str] | None = None) -> None:
        """Rebuild the merged address map (for ``keys`` only, when given)."""
        if keys is None:
            merged = dict(self._operator_sanctions)
            for key, hits in self._list_sanctions.items():
                merged[key] = merged.get(key, ()) + hits
            self.sanctions = merged
            return
        for key in keys:
            hits = self._operator_sanctions.get(key, ()) + self._list_sanctions.get(key, ())
            if hits:
                self.sanctions[key] = hits
            else:
                self.sanctions.pop(key, None)

    @staticmethod
    def _group_labels(rows: Iterable[asyncpg.Record]) -> dict[str, tuple[WalletRiskSignal, ...]]:
        grouped: dict[str, list[WalletRiskSignal]] = {}
        for r in rows:
            grouped.setdefault(r["address"], []).append(
                WalletRiskSignal(
                    address=r["address"], source=r["source"], category=r["category"], level=r["risk_level"],
                    kind="label", name=r["note"],
                )
            )  # fmt: skip
        return {k: tuple(v) for k, v in grouped.items()}

    def _publish_sizes(self) -> None:
        SNAPSHOT_SIZE.labels("investors").set(len(self.investors))
        SNAPSHOT_SIZE.labels("wallets").set(len(self.wallets))
        SNAPSHOT_SIZE.labels("tokens").set(len(self.tokens))
        SNAPSHOT_SIZE.labels("sanctioned_addresses").set(len(self.sanctions))
        SNAPSHOT_SIZE.labels("wallet_labels").set(len(self.wallet_labels))

    async def reload(self, conn: Conn, table: str, key: str) -> None:
        """Reload one entity after a change notification (or a local write).

        Reloads run one at a time: a notified reload and a local one of the same data would
        otherwise interleave, and the one that read first could be applied last (an older state
        of the sanctions lists overwriting the newer one, for instance).
        """
        async with self._reload_lock:
            await self._reload(conn, table, key)

    async def _reload(self, conn: Conn, table: str, key: str) -> None:
        SNAPSHOT_RELOADS.labels(table).inc()
        if table == "investors":
            await self._reload_one(self.investors, UUID(key), await q.investors(conn, [key]), investor_facts)
        elif table == "wallets":
            await self._reload_one(self.wallets, key, await q.wallets(conn, [key]), wallet_facts)
        elif table == "tokens":
            await self._reload_one(self.tokens, UUID(key), await q.tokens(conn, [key]), token_entry)
        elif table in ("policies", "policy_versions"):
            await self._reload_one(
                self.policies, UUID(key), await q.published_policies(conn, [key]), self._policy_entry
            )
        elif table == "wallet_labels":
            labels = self._group_labels(await q.wallet_labels(conn, [key]))
            if key in labels:
                self.wallet_labels[key] = labels[key]
            else:
                self.wallet_labels.pop(key, None)
        elif table == "sanctioned_addresses":
            hits = self._group_sanctions(await q.sanctioned_addresses(conn, [key]))
            if key in hits:
                self._operator_sanctions[key] = hits[key]
            else:
                self._operator_sanctions.pop(key, None)
            self._merge_sanctions([key])
        elif table == "sanctions_list_versions":
            # a list version was imported or superseded: swap in the active versions' addresses
            self._list_sanctions = self._group_sanctions(await q.list_addresses(conn))
            self.list_versions, self.name_list_versions = await q.list_versions(conn)
            self._merge_sanctions()
        for callback in self.on_change:
            callback(table, key)
        self._publish_sizes()

    @staticmethod
    async def _reload_one(
        target: dict[Any, Any], key: Any, rows: list[asyncpg.Record], build: Callable[[asyncpg.Record], Any]
    ) -> None:
        if rows:
            target[key] = build(rows[0])
        else:
            target.pop(key, None)

    # -- change notifications ----------------------------------------------------------------

    async def watch(self, connect: Callable[[], Awaitable[Conn]]) -> None:
        """Start listening for changes; reconnects (and reloads everything) when the link drops."""
        self._connect = connect
        await self._open_listener()
        self._watch_task = asyncio.create_task(self._supervise(), name="snapshot-watch")
        self._drain_task = asyncio.create_task(self._drain(), name="snapshot-drain")

    async def _open_listener(self) -> None:
        assert self._connect is not None
        conn = await self._connect()
        await conn.add_listener(CHANNEL, self._on_notify)
        conn.add_termination_listener(lambda _c: self._lost.set())
        await self.load_all(conn)
        self._listener = conn
        self.stale = False

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        message = encoding.loads(str(payload))
        if message.get("key") is None:  # a TRUNCATE: reload everything
            self._lost.set()
            return
        self._changes.put_nowait((message["table"], str(message["key"])))

    async def _drain(self) -> None:
        """Apply notified changes one at a time (a connection runs one query at a time)."""
        while True:
            table, key = await self._changes.get()
            conn = self._listener
            if conn is None:
                continue  # the reconnect reloads everything anyway
            try:
                await self.reload(conn, table, key)
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
                log.warning("snapshot.reload_failed", table=table, key=key)
                self._lost.set()

    async def _supervise(self) -> None:
        delay = 0.2
        while True:
            await self._lost.wait()
            self.stale = True
            log.warning("snapshot.listener_lost")
            if self._listener is not None:
                with contextlib.suppress(Exception):
                    self._listener.terminate()
                self._listener = None
            try:
                await self._open_listener()
                self._lost.clear()
                delay = 0.2
                log.info("snapshot.listener_restored")
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError, TimeoutError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        for task in (self._watch_task, self._drain_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=2)
