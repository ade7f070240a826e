"""The one JSON encoder and decoder of the code base, and the types of integer amounts.

Token amounts are integers in base units up to ``2**256 - 1`` (an 18-decimal ERC-20 token with a
supply of 10**24 base units is ordinary). JSON numbers that large are not portable: JavaScript and
most JSON tools read them as doubles, orjson refuses to write integers beyond 64 bits and reads
them back as floats. So there is one representation on the wire and in storage:

* every amount, balance, supply and unit count is a **decimal string** (``"1000000000000000000"``).
  Records declare such fields as :data:`Units` (internal) or :data:`BaseUnits` (validated input);
  rule details write them with :func:`units`;
* decimals (prices, percentages) are plain decimal strings (``"100000"``, never ``"1E+5"``);
* any other integer beyond 64 bits that reaches the encoder is written as its decimal string too
  rather than failing — nothing is ever narrowed to a float.

:func:`dumps` / :func:`dumps_text` write JSON; :func:`loads` reads it with exact integers;
:func:`canonical` is the sorted, compact form that hashes are taken of. A test walks the code
base and fails if any module calls ``json``/``orjson`` directly instead of these.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

import orjson
import pydantic_core
from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

#: the largest amount a token can hold (ERC-20 balances are uint256)
UINT256_MAX = 2**256 - 1
#: the largest integer every JSON reader (JavaScript's included) keeps exact: an amount sent as a
#: JSON number may be at most this; larger ones come as decimal strings
MAX_JSON_INTEGER = 2**53 - 1
#: orjson writes integers within this range natively
_INT64 = range(-(2**63), 2**64)

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z


#: already-encoded JSON that :func:`dumps` embeds as is
Fragment = orjson.Fragment


class InvalidJSON(ValueError):
    """Text that is not JSON (or nests deeper than the decoder allows).

    ``msg`` and ``pos`` (a character offset) are those Python's own decoder reports, which is what
    FastAPI's request validation shows for a malformed body.
    """

    def __init__(self, msg: str, pos: int) -> None:
        super().__init__(f"{msg} (char {pos})")
        self.msg = msg
        self.pos = pos


def plain_decimal(value: Decimal) -> str:
    """``Decimal("1E+5")`` → ``"100000"``; ``Decimal("0.50")`` → ``"0.50"``: never exponent notation."""
    return format(value, "f")


def units(value: int) -> str:
    """An amount of base units as it is written in JSON: its decimal string."""
    return str(value)


def _default(value: Any) -> Any:
    """JSON for what orjson does not write natively."""
    if isinstance(value, Decimal):
        return plain_decimal(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def _widen(value: Any) -> Any:
    """``value`` with every integer beyond 64 bits as its decimal string (the encoder's fallback)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if value in _INT64 else str(value)
    if isinstance(value, dict):
        return {k: _widen(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_widen(v) for v in value]
    return value


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """``value`` as UTF-8 JSON (datetimes ISO 8601 with ``Z``, UUIDs, enums, decimals as plain strings)."""
    options = _OPTIONS | orjson.OPT_SORT_KEYS if sort_keys else _OPTIONS
    try:
        return orjson.dumps(value, default=_default, option=options)
    except orjson.JSONEncodeError as exc:
        if "64-bit" not in str(exc):
            raise
        # rare (amounts are strings by the time they get here): one more pass, never a float
        return orjson.dumps(_widen(value), default=_default, option=options)


def dumps_text(value: Any, *, sort_keys: bool = False) -> str:
    """:func:`dumps` as ``str`` (what PostgreSQL receives for a json/jsonb parameter)."""
    return dumps(value, sort_keys=sort_keys).decode()


def dumps_readable(value: Any) -> str:
    """JSON for people and diffs (files kept in the repository): indented by two, a final newline."""
    return orjson.dumps(value, default=_default, option=_OPTIONS | orjson.OPT_INDENT_2).decode() + "\n"


def loads(data: bytes | bytearray | str) -> Any:
    """Parse JSON with integers kept exact at any size. Raises :class:`InvalidJSON`."""
    try:
        return pydantic_core.from_json(data, allow_inf_nan=False)
    except ValueError as exc:
        raise _invalid(data, exc) from exc


def loads_as_sent(data: bytes | bytearray | str) -> Any:
    """Parse JSON with Python's own parser, which keeps what the fast one refuses (lone UTF-16
    surrogates, deeper nesting): for finding, and naming, text that cannot be stored. Raises
    :class:`InvalidJSON`."""
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise InvalidJSON(exc.msg, exc.pos) from exc
    except (ValueError, RecursionError) as exc:
        raise InvalidJSON(str(exc) or type(exc).__name__, 0) from exc


def _invalid(data: bytes | bytearray | str, exc: ValueError) -> InvalidJSON:
    """The error for text the fast decoder refused, located as Python's decoder locates it."""
    try:
        json.loads(data)
    except json.JSONDecodeError as stdlib:
        return InvalidJSON(stdlib.msg, stdlib.pos)
    except (ValueError, RecursionError):
        pass
    # valid for Python's decoder, refused by ours: nesting beyond its depth limit, or NaN/Infinity
    return InvalidJSON(str(exc), 0)


def canonical(value: Any) -> str:
    """The sorted, compact, UTF-8 form that content and chain hashes are taken of.

    Python's own encoder writes integers of any size exactly; audit entries and policy versions
    already hashed with this form keep their hashes.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
    )


def _at_most(limit: int) -> str:
    """A regular expression for the decimal strings of 0..``limit`` (leading zeros allowed).

    JSON Schema has no integer bounds for strings, so the bound is spelled out digit by digit:
    fewer digits than ``limit``, or as many with a smaller digit after a common prefix, or ``limit``.
    """
    top = str(limit)
    alternatives = [f"[0-9]{{1,{len(top) - 1}}}"] if len(top) > 1 else []
    for i, digit in enumerate(top):
        if digit != "0":
            smaller = "0" if digit == "1" else f"[0-{int(digit) - 1}]"
            rest = len(top) - i - 1
            alternatives.append(top[:i] + smaller + (f"[0-9]{{{rest}}}" if rest else ""))
    alternatives.append(top)
    return "^0*(" + "|".join(alternatives) + ")$"


#: the decimal strings of 0..2**256 - 1: the pattern of every amount in the OpenAPI and the JSON Schemas
UINT256_PATTERN = _at_most(UINT256_MAX)


def _parse_base_units(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be a decimal string of base units (an integer, no decimals)")
    if isinstance(value, int):
        if not 0 <= value <= MAX_JSON_INTEGER:
            raise ValueError(
                f"as a JSON number must be between 0 and {MAX_JSON_INTEGER}: send larger amounts as a decimal string"
            )
        return value
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        raise ValueError("must be a non-negative integer in base units, written as a decimal string")
    digits = text.lstrip("0") or "0"  # (leading zeros are allowed, as the schema's pattern allows them)
    if len(digits) > 78 or int(digits) > UINT256_MAX:
        raise ValueError("is larger than 2**256 - 1, the largest amount a token can hold")
    return int(digits)


_UNITS_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": UINT256_PATTERN},
        {"type": "integer", "minimum": 0, "maximum": MAX_JSON_INTEGER},
    ],
    "description": "an integer number of base units up to 2**256 - 1, as a decimal string "
    f"(a JSON number only up to {MAX_JSON_INTEGER})",
    "examples": ["1000000000000000000"],
}

#: a validated amount at the edge: a decimal string from 0 to 2**256 - 1 (a JSON number up to
#: 2**53 - 1, which every reader keeps exact), written back as a decimal string
BaseUnits = Annotated[
    int,
    BeforeValidator(_parse_base_units),
    PlainSerializer(units, return_type=str),
    WithJsonSchema(_UNITS_SCHEMA),
]


def _positive(value: int) -> int:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


#: a transfer's amount: :data:`BaseUnits` above zero
PositiveBaseUnits = Annotated[
    int,
    BeforeValidator(_parse_base_units),
    AfterValidator(_positive),
    PlainSerializer(units, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "allOf": [{"pattern": "^0*[1-9][0-9]*$"}, {"pattern": UINT256_PATTERN}]},
                {"type": "integer", "minimum": 1, "maximum": MAX_JSON_INTEGER},
            ],
            "description": "an integer number of base units above zero, up to 2**256 - 1, as a decimal string "
            f"(a JSON number only up to {MAX_JSON_INTEGER})",
            "examples": ["1000000000000000000"],
        }
    ),
]

#: an amount inside a record the service made itself (facts, parameters): validated by pydantic's
#: native integer parsing (a decimal string or an integer, any size), written as a decimal string
Units = Annotated[int, PlainSerializer(units, return_type=str, when_used="json")]


def _no_positive_exponent(value: Decimal) -> Decimal:
    """``Decimal("1E+5")`` → ``Decimal("100000")``: the same number, in the form its plain string
    reads back as (so a stored record replays with the very values it was decided with)."""
    return Decimal(plain_decimal(value)) if value.is_finite() and value.as_tuple().exponent > 0 else value  # type: ignore[operator]


#: a decimal written as a plain decimal string in JSON (and kept in the form that string reads back as)
PlainDecimal = Annotated[
    Decimal,
    AfterValidator(_no_positive_exponent),
    PlainSerializer(plain_decimal, return_type=str, when_used="json"),
]
