"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by test_openapi_fuzz.py).

Some formats of the OpenAPI document cannot be written as a JSON-schema pattern; the generator is
given their valid values here, so that "valid by the document" means valid:

* ``evm-address``: a 0x address whose letters are all lower case, all upper case, or its EIP-55
  checksum;
* ``check-cursor``, ``event-cursor``, ``label-cursor``: the ``next_cursor`` values the list routes
  return (opaque to clients, so any other value is refused).

Two rules relate two fields, which JSON schema cannot say (the fields' descriptions do): a
transfer's ``to_address`` differs from its ``from_address``, and ``created_from`` comes before
``created_to``. Requests breaking them are left out of the positive cases.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import schemathesis
from eth_utils.address import to_checksum_address
from hypothesis import strategies as st

from compliance_shield.api.deps import encode_cursor
from compliance_shield.services.events.outbox import FeedCursor

_RAW = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
_MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))

schemathesis.openapi.format(
    "evm-address",
    st.one_of(_RAW, _RAW.map(lambda a: "0x" + a[2:].upper()), _RAW.map(to_checksum_address)),
)
schemathesis.openapi.format("check-cursor", st.builds(encode_cursor, _MOMENTS, st.uuids()))
schemathesis.openapi.format(
    "event-cursor", st.builds(lambda n: FeedCursor(n).encode(), st.integers(min_value=0, max_value=2**63 - 1))
)


def _label_cursor(address: str) -> str:
    return base64.urlsafe_b64encode(f"{address}\noperator".encode()).decode()


schemathesis.openapi.format("label-cursor", _RAW.map(_label_cursor))


def _distinct_parties(transfer: Any) -> bool:
    return not isinstance(transfer, dict) or transfer.get("from_address") != transfer.get("to_address")


@schemathesis.hook
def filter_body(context: Any, body: Any) -> bool:
    if not isinstance(body, dict):
        return True
    transfers = body.get("transfers")
    if isinstance(transfers, list):
        return all(_distinct_parties(t) for t in transfers)
    return _distinct_parties(body)


@schemathesis.hook
def filter_query(context: Any, query: Any) -> bool:
    if not isinstance(query, dict):
        return True
    start, end = query.get("created_from"), query.get("created_to")
    if isinstance(start, str) and isinstance(end, str):
        try:
            return datetime.fromisoformat(start) < datetime.fromisoformat(end)
        except ValueError:
            return True
    return True
