"""Rotating JWT_SECRET with an overlap: while JWT_SECRET_PREVIOUS is set, tokens signed with it
are still accepted (until they expire); nothing else is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from compliance_shield.api.auth import TokenVerifier, issue_token
from compliance_shield.errors import NotAuthenticated
from compliance_shield.settings import AppEnv, Settings

OLD = "old-secret-of-the-rotation-0123456789abcdef"
NEW = "new-secret-of-the-rotation-0123456789abcdef"
ISSUER = "compliance-shield"


def _token(secret: str, *, at: datetime | None = None, ttl: int = 600) -> str:
    return issue_token(secret, "platform", ["checker"], ttl, at or datetime.now(UTC), ISSUER)


async def test_during_the_overlap_tokens_of_either_secret_are_accepted() -> None:
    verifier = TokenVerifier(NEW, ISSUER, previous=OLD)
    assert (await verifier.verify(_token(NEW))).sub == "platform"
    assert (await verifier.verify(_token(OLD))).roles == frozenset({"checker"})


async def test_after_the_overlap_the_old_secrets_tokens_are_refused() -> None:
    with pytest.raises(NotAuthenticated, match="invalid bearer token"):
        await TokenVerifier(NEW, ISSUER).verify(_token(OLD))


async def test_an_expired_token_is_refused_as_expired_and_a_third_secret_as_invalid() -> None:
    verifier = TokenVerifier(NEW, ISSUER, previous=OLD)
    with pytest.raises(NotAuthenticated, match="expired"):
        await verifier.verify(_token(NEW, at=datetime.now(UTC) - timedelta(hours=2)))
    with pytest.raises(NotAuthenticated, match="expired"):
        await verifier.verify(_token(OLD, at=datetime.now(UTC) - timedelta(hours=2)))
    with pytest.raises(NotAuthenticated, match="invalid bearer token"):
        await verifier.verify(_token("a-third-secret-nobody-configured-0123456789"))


def test_production_refuses_a_short_or_development_previous_secret() -> None:
    base = {"app_env": AppEnv.PRODUCTION, "jwt_secret": NEW, "database_url": "postgresql://db/cs"}
    assert Settings(**base, jwt_secret_previous=OLD).jwt_secret_previous is not None
    with pytest.raises(ValidationError, match="JWT_SECRET_PREVIOUS"):
        Settings(**base, jwt_secret_previous="short")
