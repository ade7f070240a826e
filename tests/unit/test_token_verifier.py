"""Bearer-token verification with a memory of verified tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from compliance_shield.api.auth import TokenVerifier, issue_token
from compliance_shield.errors import NotAuthenticated

SECRET = "unit-test-secret-long-enough-0123456789"


async def test_a_verified_token_is_remembered_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(SECRET, "compliance-shield")
    now = datetime.now(UTC)
    token = issue_token(SECRET, "platform", ["checker"], 60, now, "compliance-shield")
    assert (await verifier.verify(token)).roles == frozenset({"checker"})
    assert (await verifier.verify(token)).sub == "platform"  # from memory

    later = (now + timedelta(seconds=120)).timestamp()
    monkeypatch.setattr("compliance_shield.api.auth.time.time", lambda: later)
    with pytest.raises(NotAuthenticated, match="expired"):
        await verifier.verify(token)


async def test_invalid_tokens_are_never_remembered() -> None:
    verifier = TokenVerifier(SECRET, "compliance-shield")
    forged = issue_token(
        "another-secret-long-enough-0123456789", "x", ["admin"], 60, datetime.now(UTC), "compliance-shield"
    )
    for _ in range(2):
        with pytest.raises(NotAuthenticated):
            await verifier.verify(forged)
