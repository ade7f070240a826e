"""Event-feed cursors: opaque, round-trip, and anything not issued by the service is a 422 on its field."""

from __future__ import annotations

import base64

import pytest

from compliance_shield.errors import ValidationFailed
from compliance_shield.services.events.outbox import FeedCursor


def raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor", [FeedCursor(0), FeedCursor(42, "100:105:"), FeedCursor(7, "100:110:101,104,109"), FeedCursor(2**63 - 1)]
)
def test_a_cursor_survives_its_encoding(cursor: FeedCursor) -> None:
    text = cursor.encode()
    assert "=" not in text
    assert FeedCursor.decode(text) == cursor


@pytest.mark.parametrize(
    "text",
    [
        "",
        "!!!",
        raw("x|"),
        raw("-1|"),
        raw(str(2**63) + "|"),
        raw("١٢|"),  # digits, but not ASCII ones
        raw("5|100:99:"),  # xmin above xmax
        raw("5|0:1:"),  # xmin must be a valid transaction id
        raw("5|100:105:105"),  # an in-progress id at or above xmax
        raw("5|100:105:99"),  # ... or below xmin
        raw("5|100:110:104,101"),  # not ascending
        raw("5|100:110:1 01"),
        raw("5|junk"),
    ],
)
def test_anything_else_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        FeedCursor.decode(text, field="Last-Event-ID")
    assert refused.value.field == "Last-Event-ID"
