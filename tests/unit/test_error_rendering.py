"""What an error answer says about retrying: 503 with ``Retry-After`` only when a retry can help."""

from __future__ import annotations

import asyncpg
import pytest

from compliance_shield.api.errors import render_error
from compliance_shield.domain import encoding
from compliance_shield.errors import InternalError, Overloaded, ServiceUnavailable


@pytest.mark.parametrize(
    "failure",
    [
        ConnectionRefusedError("database down"),
        TimeoutError(),
        asyncpg.CannotConnectNowError("starting up"),
        ServiceUnavailable("the database is unavailable"),
        Overloaded("too many checks waiting"),
    ],
)
def test_what_a_retry_can_cure_is_a_503_with_retry_after(failure: Exception) -> None:
    response = render_error(failure)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"


@pytest.mark.parametrize(
    "failure",
    [
        TypeError("Integer exceeds 64-bit range"),
        ValueError("bad value"),
        asyncpg.exceptions.UntranslatableCharacterError("\\u0000 cannot be converted to text"),
        InternalError("the decision could not be recorded"),
    ],
)
def test_what_will_recur_is_a_500_with_an_error_id_and_no_retry_after(failure: Exception) -> None:
    response = render_error(failure)
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
    error = encoding.loads(bytes(response.body))["error"]
    assert error["code"] == "INTERNAL_ERROR"
    assert len(error["details"]["error_id"]) == 32


def test_an_internal_error_keeps_the_id_its_log_line_carries() -> None:
    failure = InternalError(error_id="0" * 32)
    error = encoding.loads(bytes(render_error(failure).body))["error"]
    assert error["details"]["error_id"] == "0" * 32
