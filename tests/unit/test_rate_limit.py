"""The GCRA rule of the per-client rate limits: never more than the burst plus the rate over any
window, and a refused request is told a wait after which it is admitted."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from compliance_shield.api.rate_limit import Rate, next_arrival


@given(
    per_second=st.floats(min_value=0.5, max_value=1000),
    burst=st.integers(min_value=1, max_value=50),
    gaps=st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=300),
)
def test_admitted_requests_never_exceed_burst_plus_rate(per_second: float, burst: int, gaps: list[float]) -> None:
    rate = Rate(per_second, burst)
    tat: float | None = None
    now = 0.0
    admitted: list[float] = []
    for gap in gaps:
        now += gap
        moved, wait = next_arrival(tat, now, rate)
        if moved is None:
            assert wait > 0
            retried, _ = next_arrival(tat, now + wait + 1e-9, rate)
            assert retried is not None, "the advertised wait admits the request"
        else:
            assert wait == 0
            tat = moved
            admitted.append(now)
    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            window = admitted[j] - start
            assert j - i + 1 <= burst + window * per_second + 1e-6


def test_a_burst_is_admitted_at_once_then_the_rate_applies() -> None:
    rate = Rate(per_second=2, burst=3)
    tat = None
    for _ in range(3):
        tat, wait = next_arrival(tat, 10.0, rate)
        assert wait == 0
    refused, wait = next_arrival(tat, 10.0, rate)
    assert refused is None
    assert wait == 0.5
