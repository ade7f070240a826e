"""The per-token ledger: reservations count against limits until they settle, cancel or expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from compliance_shield.services.ledger import Reservation, TokenLedger

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
