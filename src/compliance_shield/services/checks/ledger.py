"""Per-token ledger held in memory: balances, lots, live reservations and transfer history.

The ledger answers the state-dependent facts (positions, holder counts, ownership aggregates)
without a database read. It is authoritative only while its ``version`` equals the token's
``token_state.version``; the decision writer checks that under the row lock and reloads when
another process has changed the token. Expired reservations stop counting at their expiry.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from compliance_shield.db import Conn
from compliance_shield.db import ledger_queries as q
from compliance_shield.domain.facts import Lot, PastTransfer, TokenStateFacts

#: cap on the transfer-history look-back kept in memory
MAX_LOOKBACK = timedelta(days=400)


@dataclass(frozen=True, slots=True)
class Reservation:
    check_id: UUID
    from_investor: UUID | None
    to_investor: UUID | None
    amount: int
    created_at: datetime
    expires_at: datetime


@dataclass(slots=True)
class _Contribution:
    category: str
    holder: bool
    projected: int


@dataclass
class TokenLedger:
    token_id: UUID
    version: int
    lookback: timedelta
    category_of: Callable[[UUID], str]
    balances: dict[UUID, int] = field(default_factory=dict)
    lots: dict[UUID, list[Lot]] = field(default_factory=dict)
    reservations: dict[UUID, Reservation] = field(default_factory=dict)
    history: dict[UUID, dict[UUID, PastTransfer]] = field(default_factory=dict)
    _reserved_in: dict[UUID, int] = field(default_factory=dict)
    _reserved_out: dict[UUID, int] = field(default_factory=dict)
    _expiries: list[tuple[datetime, UUID]] = field(default_factory=list)
    _contrib: dict[UUID, _Contribution] = field(default_factory=dict)
    _holders_by_category: dict[str, int] = field(default_factory=dict)
    _balance_by_category: dict[str, int] = field(default_factory=dict)
    _outstanding: int = 0

    # -- loading -----------------------------------------------------------------------------

    @classmethod
    async def load(
        cls,
        conn: Conn,
        token_id: UUID,
        version: int,
        now: datetime,
        lookback_seconds: int,
        category_of: Callable[[UUID], str],
    ) -> TokenLedger:
        lookback = min(timedelta(seconds=lookback_seconds), MAX_LOOKBACK)
        ledger = cls(token_id=token_id, version=version, lookback=lookback, category_of=category_of)
        for r in await q.holdings(conn, token_id):
            ledger.balances[r["investor_id"]] = int(r["balance"])
        for r in await q.lots(conn, token_id):
            ledger.lots.setdefault(r["investor_id"], []).append(
                Lot(acquired_at=r["acquired_at"], amount=int(r["amount"]))
            )
        for r in await q.active_reservations(conn, token_id, now):
            ledger.add_reservation(
                Reservation(
                    r["check_id"],
                    r["from_investor_id"],
                    r["to_investor_id"],
                    int(r["amount"]),
                    r["created_at"],
                    r["expires_at"],
                ),
                record_history=False,
            )
        if lookback:
            for r in sorted(await q.transfer_history(conn, token_id, now - lookback), key=lambda r: r["created_at"]):
                ledger.history.setdefault(r["from_investor_id"], {})[r["check_id"]] = PastTransfer(
                    at=r["created_at"], amount=int(r["amount"])
                )
        for investor in set(ledger.balances) | set(ledger._reserved_in) | set(ledger._reserved_out):
            ledger._refresh(investor)
        ledger._outstanding = sum(ledger.balances.values()) + sum(
            r.amount for r in ledger.reservations.values() if r.from_investor is None
        )
        return ledger

    # -- reads ------------------------------------------------------------------------------

    def party(self, address: str, investor_id: UUID | None, now: datetime) -> dict[str, object]:
        """Position fields of ``PartyFacts`` for ``investor_id`` (empty when unbound)."""
        if investor_id is None:
            return {"address": address}
        since = now - self.lookback
        # history is kept in time order (sorted at load, appended as decided)
        recent = tuple(t for t in self.history.get(investor_id, {}).values() if t.at > since)
        return {
            "address": address,
            "balance": self.balances.get(investor_id, 0),
            "reserved_out": self._reserved_out.get(investor_id, 0),
            "reserved_in": self._reserved_in.get(investor_id, 0),
            "lots": tuple(self.lots.get(investor_id, ())),
            "recent_transfers": recent,
        }

    def state(self) -> TokenStateFacts:
        return TokenStateFacts(
            holder_count=sum(self._holders_by_category.values()),
            holder_count_by_category={k: v for k, v in self._holders_by_category.items() if v},
            outstanding=self._outstanding,
            balance_by_category={k: v for k, v in self._balance_by_category.items() if v},
        )

    # -- changes ----------------------------------------------------------------------------

    def expire(self, now: datetime) -> None:
        """Drop reservations whose expiry has passed (they no longer count)."""
        while self._expiries and self._expiries[0][0] <= now:
            _, check_id = heapq.heappop(self._expiries)
            reservation = self.reservations.get(check_id)
            if reservation is not None and reservation.expires_at <= now:
                self.remove_reservation(check_id)

    def add_reservation(self, r: Reservation, *, record_history: bool = True) -> None:
        if r.check_id in self.reservations:  # a recorded change seen twice counts once
            return
        self.reservations[r.check_id] = r
        heapq.heappush(self._expiries, (r.expires_at, r.check_id))
        if r.from_investor is not None:
            self._reserved_out[r.from_investor] = self._reserved_out.get(r.from_investor, 0) + r.amount
            if record_history:
                self.history.setdefault(r.from_investor, {})[r.check_id] = PastTransfer(
                    at=r.created_at, amount=r.amount
                )
            self._refresh(r.from_investor)
        else:
            self._outstanding += r.amount
        if r.to_investor is not None:
            self._reserved_in[r.to_investor] = self._reserved_in.get(r.to_investor, 0) + r.amount
            self._refresh(r.to_investor)

    def settle(self, r: Reservation, at: datetime) -> None:
        """Apply a settled transfer: balances and lots move, the transfer stays in the history.

        ``r`` describes the settled reservation; the ledger may already have let it lapse in
        memory (expiry is checked at decision time), so the move never depends on finding it.
        """
        live = self.reservations.pop(r.check_id, None)
        if live is not None:
            if live.from_investor is not None:
                self._reserved_out[live.from_investor] -= live.amount
            if live.to_investor is not None:
                self._reserved_in[live.to_investor] -= live.amount
        if r.from_investor is not None:
            self.balances[r.from_investor] = self.balances.get(r.from_investor, 0) - r.amount
            self._consume_lots(r.from_investor, r.amount)
            self.history.setdefault(r.from_investor, {})[r.check_id] = PastTransfer(at=r.created_at, amount=r.amount)
            self._refresh(r.from_investor)
        if r.to_investor is not None:
            self.balances[r.to_investor] = self.balances.get(r.to_investor, 0) + r.amount
            self.lots.setdefault(r.to_investor, []).append(Lot(acquired_at=at, amount=r.amount))
            self._refresh(r.to_investor)
        self._recount_outstanding()  # settlements are rare: recount rather than track each case

    def replace_holding(self, investor: UUID, balance: int, acquired_at: datetime) -> None:
        """An issuer-registry sync: the investor's balance and lots are replaced."""
        self.balances[investor] = balance
        self.lots[investor] = [Lot(acquired_at=acquired_at, amount=balance)] if balance > 0 else []
        self._refresh(investor)
        self._recount_outstanding()

    def _recount_outstanding(self) -> None:
        self._outstanding = sum(self.balances.values()) + sum(
            r.amount for r in self.reservations.values() if r.from_investor is None
        )

    def _consume_lots(self, investor: UUID, amount: int) -> None:
        """Oldest lots first, as ``db.refdata.move_holding`` does."""
        remaining, kept = amount, []
        for lot in self.lots.get(investor, []):
            if remaining <= 0:
                kept.append(lot)
                continue
            take = min(lot.amount, remaining)
            remaining -= take
            if take < lot.amount:
                kept.append(Lot(acquired_at=lot.acquired_at, amount=lot.amount - take))
        self.lots[investor] = kept

    def apply(self, changes: list[dict[str, Any]]) -> None:
        """Apply changes recorded by another process (see ``change_*`` below)."""
        for change in changes:
            kind = change["kind"]
            if kind == "reserve":
                self.add_reservation(_reservation(change))
            elif kind == "release":
                self.remove_reservation(UUID(change["check_id"]))
            elif kind == "settle":
                self.settle(_reservation(change), datetime.fromisoformat(change["at"]))
            elif kind == "holding":
                self.replace_holding(
                    UUID(change["investor_id"]), int(change["balance"]), datetime.fromisoformat(change["acquired_at"])
                )
            else:
                raise ValueError(f"unknown ledger change {kind!r}")

    def remove_reservation(self, check_id: UUID) -> None:
        """Forget a reservation that expired or was cancelled (its transfer never happened)."""
        r = self.reservations.pop(check_id, None)
        if r is None:
            return
        if r.from_investor is not None:
            self._reserved_out[r.from_investor] -= r.amount
            self.history.get(r.from_investor, {}).pop(check_id, None)
            self._refresh(r.from_investor)
        else:
            self._outstanding -= r.amount
        if r.to_investor is not None:
            self._reserved_in[r.to_investor] -= r.amount
            self._refresh(r.to_investor)

    def recategorize(self, investor: UUID) -> None:
        """Re-file an investor's contribution after their category may have changed."""
        if investor in self._contrib:
            self._refresh(investor)

    def _refresh(self, investor: UUID) -> None:
        """Recompute one investor's contribution to the per-category aggregates."""
        old = self._contrib.pop(investor, None)
        if old is not None:
            self._holders_by_category[old.category] -= int(old.holder)
            self._balance_by_category[old.category] -= old.projected
        balance = self.balances.get(investor, 0)
        incoming = self._reserved_in.get(investor, 0)
        projected = balance + incoming - self._reserved_out.get(investor, 0)
        holder = balance > 0 or incoming > 0
        if not holder and projected == 0:
            return
        category = self.category_of(investor)
        self._contrib[investor] = _Contribution(category, holder, projected)
        self._holders_by_category[category] = self._holders_by_category.get(category, 0) + int(holder)
        self._balance_by_category[category] = self._balance_by_category.get(category, 0) + projected


def _uuid(value: str | None) -> UUID | None:
    return UUID(value) if value is not None else None


def _reservation(change: dict[str, Any]) -> Reservation:
    return Reservation(
        UUID(change["check_id"]), _uuid(change["from"]), _uuid(change["to"]), int(change["amount"]),
        datetime.fromisoformat(change["created_at"]), datetime.fromisoformat(change["expires_at"]),
    )  # fmt: skip


# -- the recorded form of each change (``ledger_changes.change``) ------------------------------


def change_reserve(r: Reservation, kind: str = "reserve") -> dict[str, Any]:
    return {
        "kind": kind,
        "check_id": str(r.check_id),
        "from": str(r.from_investor) if r.from_investor else None,
        "to": str(r.to_investor) if r.to_investor else None,
        "amount": str(r.amount),
        "created_at": r.created_at.isoformat(),
        "expires_at": r.expires_at.isoformat(),
    }


def change_release(check_id: UUID) -> dict[str, Any]:
    return {"kind": "release", "check_id": str(check_id)}


def change_settle(r: Reservation, at: datetime) -> dict[str, Any]:
    return change_reserve(r, "settle") | {"at": at.isoformat()}


def change_holding(investor: UUID, balance: int, acquired_at: datetime) -> dict[str, Any]:
    return {
        "kind": "holding",
        "investor_id": str(investor),
        "balance": str(balance),
        "acquired_at": acquired_at.isoformat(),
    }
