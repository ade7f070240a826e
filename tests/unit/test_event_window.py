"""Provider event times: a bounded clock skew into the future, a horizon into the past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance_shield.errors import EventTimeOutOfRange
from compliance_shield.services.providers.kyc import EventWindow

ARRIVAL = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
WINDOW = EventWindow(max_skew=timedelta(minutes=5), horizon=timedelta(days=30))


@given(st.timedeltas(min_value=timedelta(days=-4000), max_value=timedelta(days=4000)))
def test_an_event_is_accepted_exactly_within_the_window(offset: timedelta) -> None:
    occurred = ARRIVAL + offset
    inside = -WINDOW.horizon <= offset <= WINDOW.max_skew
    if inside:
        WINDOW.vet(occurred, ARRIVAL)
    else:
        with pytest.raises(EventTimeOutOfRange) as refused:
            WINDOW.vet(occurred, ARRIVAL)
        assert refused.value.field == "timestamp"
        assert refused.value.status == 422
        assert refused.value.code == "EVENT_TIME_OUT_OF_RANGE"


@pytest.mark.parametrize(
    "occurred",
    [
        datetime(2030, 1, 1, tzinfo=UTC),  # a sender's clock years ahead
        ARRIVAL + timedelta(minutes=5, microseconds=1),
        datetime(2019, 6, 1, tzinfo=UTC),  # an old delivery replayed
        ARRIVAL - timedelta(days=30, microseconds=1),
    ],
)
def test_mis_dated_events_are_refused(occurred: datetime) -> None:
    with pytest.raises(EventTimeOutOfRange):
        WINDOW.vet(occurred, ARRIVAL)


def test_another_time_zone_is_the_same_instant() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    WINDOW.vet(ARRIVAL.astimezone(ist) + timedelta(minutes=4), ARRIVAL)
