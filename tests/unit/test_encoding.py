"""The one JSON codec: integers exact at any size, amounts as decimal strings, plain decimals."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from compliance_shield.domain import encoding
from compliance_shield.domain.encoding import UINT256_MAX, UINT256_PATTERN, BaseUnits, PlainDecimal, Units

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**300), 2**300) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(st.integers(0, 2**300))
def test_the_amount_pattern_admits_exactly_0_to_uint256(number: int) -> None:
    assert bool(re.fullmatch(UINT256_PATTERN, str(number))) is (number <= UINT256_MAX)
    assert bool(re.fullmatch(UINT256_PATTERN, "000" + str(number))) is (number <= UINT256_MAX)


@pytest.mark.parametrize("number", [0, 1, 2**64 - 1, 2**64, UINT256_MAX - 1, UINT256_MAX, 10**77])
def test_the_amount_pattern_at_its_edges(number: int) -> None:
    assert re.fullmatch(UINT256_PATTERN, str(number))
    assert not re.fullmatch(UINT256_PATTERN, str(UINT256_MAX + 1 + number))


@given(json_values)
def test_loads_reads_back_what_dumps_wrote_with_wide_integers_as_decimal_strings(value: Any) -> None:
    def widened(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int | list | dict):
            return v
        if isinstance(v, int):
            return v if -(2**63) <= v < 2**64 else str(v)
        if isinstance(v, list):
            return [widened(x) for x in v]
        return {k: widened(x) for k, x in v.items()}

    assert encoding.loads(encoding.dumps(value)) == widened(value)


def test_loads_keeps_integers_of_any_size_exact() -> None:
    assert encoding.loads(b'{"supply": 1000000000000000000000000}') == {"supply": 10**24}
    assert encoding.loads(str(UINT256_MAX)) == UINT256_MAX


@pytest.mark.parametrize("text", ["{", "[1,]", "NaN", "[" * 300 + "]" * 300])
def test_loads_refuses_what_is_not_json_with_a_position(text: str) -> None:
    with pytest.raises(encoding.InvalidJSON) as caught:
        encoding.loads(text)
    assert caught.value.pos >= 0
    assert caught.value.msg


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1E+5"), "100000"),
        (Decimal("0.50"), "0.50"),
        (Decimal("2500.5"), "2500.5"),
        (Decimal("1e-7"), "0.0000001"),
    ],
)
def test_decimals_are_plain_decimal_strings(value: Decimal, text: str) -> None:
    assert encoding.dumps({"price": value}) == b'{"price":"' + text.encode() + b'"}'


class _Record(BaseModel):
    amount: BaseUnits
    balance: Units = 0
    price: PlainDecimal | None = None


def test_a_json_number_is_accepted_up_to_what_every_reader_keeps_exact() -> None:
    assert _Record(amount=2**53 - 1).amount == 2**53 - 1


def test_leading_zeros_do_not_count_towards_the_bound() -> None:
    assert _Record(amount="0" * 100 + str(UINT256_MAX)).amount == UINT256_MAX


def test_amount_types_write_decimal_strings_and_read_both_forms() -> None:
    record = _Record(amount=str(UINT256_MAX), balance=10**24, price=Decimal("1E+5"))
    assert record.model_dump(mode="json") == {"amount": str(UINT256_MAX), "balance": str(10**24), "price": "100000"}
    again = _Record.model_validate_json(record.model_dump_json())
    assert again == record
    assert again.price is not None
    assert again.price.as_tuple().exponent == 0


@pytest.mark.parametrize(
    "amount", [str(UINT256_MAX + 1), "9" * 79, "1.5", "-1", "1e3", True, 1.0, None, 2**53, UINT256_MAX]
)
def test_an_amount_beyond_uint256_or_not_an_integer_is_refused(amount: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        _Record(amount=amount)
    assert caught.value.errors()[0]["loc"] == ("amount",)


def test_canonical_form_sorts_keys_and_keeps_big_integers() -> None:
    assert encoding.canonical({"b": 10**30, "a": "ä"}) == '{"a":"ä","b":1000000000000000000000000000000}'
