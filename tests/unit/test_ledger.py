"""The per-token ledger: reservations count against limits until they settle, cancel or expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from compliance_shield.services.checks.ledger import Reservation, TokenLedger

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _ledger(categories: dict[UUID, str]) -> TokenLedger:
    return TokenLedger(
        token_id=uuid4(), version=1, lookback=timedelta(days=30), category_of=lambda i: categories.get(i, "retail")
    )


def test_an_incoming_reservation_makes_a_holder_until_it_expires() -> None:
    buyer, seller = uuid4(), uuid4()
    ledger = _ledger({seller: "retail", buyer: "nri"})
    ledger.balances[seller] = 100
    ledger._refresh(seller)
    assert ledger.state().holder_count == 1
    ledger.add_reservation(Reservation(uuid4(), seller, buyer, 40, NOW, NOW + timedelta(minutes=15)))
    state = ledger.state()
    assert state.holder_count == 2
    assert state.holder_count_by_category == {"retail": 1, "nri": 1}
    assert state.balance_by_category == {"retail": 60, "nri": 40}
    position = ledger.party("0xseller", seller, NOW)
    assert (position["balance"], position["reserved_out"]) == (100, 40)
    assert len(position["recent_transfers"]) == 1  # type: ignore[arg-type]

    ledger.expire(NOW + timedelta(minutes=14))
    assert ledger.state().holder_count == 2
    ledger.expire(NOW + timedelta(minutes=15))
    assert ledger.state().holder_count == 1
    after = ledger.party("0xseller", seller, NOW)
    assert (after["reserved_out"], after["recent_transfers"]) == (0, ())


def test_issuance_reservations_count_in_outstanding_supply() -> None:
    buyer = uuid4()
    ledger = _ledger({})
    ledger.add_reservation(Reservation(uuid4(), None, buyer, 500, NOW, NOW + timedelta(minutes=5)))
    assert ledger.state().outstanding == 500
    check = next(iter(ledger.reservations))
    ledger.remove_reservation(check)
    assert ledger.state().outstanding == 0
    assert ledger.state().holder_count == 0


def test_history_is_limited_to_the_look_back_window() -> None:
    seller = uuid4()
    ledger = _ledger({})
    ledger.balances[seller] = 10
    old = Reservation(uuid4(), seller, uuid4(), 1, NOW - timedelta(days=40), NOW + timedelta(days=1))
    ledger.add_reservation(old)
    assert ledger.party("0xs", seller, NOW)["recent_transfers"] == ()
    assert ledger.party("0xunbound", None, NOW) == {"address": "0xunbound"}


def test_recorded_changes_rebuild_the_same_state_as_the_writer() -> None:
    """A ledger applying another process's recorded changes ends where that process's ledger is."""
    from compliance_shield.services.checks.ledger import change_holding, change_release, change_reserve, change_settle

    seller, buyer, other = uuid4(), uuid4(), uuid4()
    categories = {seller: "retail", buyer: "nri", other: "retail"}
    writer, follower = _ledger(categories), _ledger(categories)
    recorded = []
    for ledger in (writer, follower):
        ledger.replace_holding(seller, 100, NOW - timedelta(days=400))
    sale = Reservation(uuid4(), seller, buyer, 30, NOW, NOW + timedelta(minutes=15))
    withdrawn = Reservation(uuid4(), seller, other, 20, NOW, NOW + timedelta(minutes=15))
    for r in (sale, withdrawn):
        writer.add_reservation(r)
        recorded.append(change_reserve(r))
    writer.remove_reservation(withdrawn.check_id)
    recorded.append(change_release(withdrawn.check_id))
    writer.settle(sale, NOW + timedelta(minutes=1))
    recorded.append(change_settle(sale, NOW + timedelta(minutes=1)))
    writer.replace_holding(other, 5, NOW)
    recorded.append(change_holding(other, 5, NOW))

    follower.apply(recorded)
    assert follower.balances == writer.balances == {seller: 70, buyer: 30, other: 5}
    assert follower.lots == writer.lots
    assert follower.state() == writer.state()
    assert follower.state().outstanding == 105
    assert follower.party("0xs", seller, NOW) == writer.party("0xs", seller, NOW)
    assert [t.amount for t in follower.party("0xs", seller, NOW)["recent_transfers"]] == [30]  # type: ignore[union-attr]


def test_a_settlement_applies_even_after_the_reservation_lapsed_in_memory() -> None:
    seller, buyer = uuid4(), uuid4()
    ledger = _ledger({})
    ledger.replace_holding(seller, 10, NOW - timedelta(days=1))
    sale = Reservation(uuid4(), seller, buyer, 4, NOW, NOW + timedelta(seconds=30))
    ledger.add_reservation(sale)
    ledger.expire(NOW + timedelta(minutes=5))
    ledger.settle(sale, NOW + timedelta(seconds=20))
    assert ledger.balances == {seller: 6, buyer: 4}
