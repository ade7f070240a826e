"""JWT bearer authentication (HS256) and role checks.

Roles live in the ``roles`` claim: ``checker`` (transfer checks), ``analyst`` (read),
``officer`` (reference data, reviews), ``admin`` (everything, policies and tokens).
Tokens without a valid HS256 signature (``alg=none`` included), expired or not yet valid
tokens, and tokens without ``sub``/``exp`` are refused with 401.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from compliance_shield.api.rate_limit import enforce
from compliance_shield.errors import Forbidden, NotAuthenticated

ROLES = ("checker", "analyst", "officer", "admin")
ALGORITHM = "HS256"

_bearer = HTTPBearer(auto_error=False, description="JWT signed with JWT_SECRET (HS256)")


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    roles: frozenset[str]


def issue_token(secret: str, sub: str, roles: Iterable[str], ttl_seconds: int, now: datetime, issuer: str) -> str:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(sorted(unknown))}")
    claims = {
        "sub": sub,
        "roles": sorted(set(roles)),
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=ttl_seconds),
        "iss": issuer,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, secret: str, issuer: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=issuer,
            options={"require": ["sub", "exp", "iat"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("the bearer token has expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise NotAuthenticated("the bearer token is not valid yet") from exc
    except jwt.InvalidTokenError as exc:
        raise NotAuthenticated(f"invalid bearer token: {exc}") from exc
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise NotAuthenticated("the roles claim must be a list of strings")
    return Principal(sub=str(claims["sub"]), roles=frozenset(roles))


class TokenVerifier:
    """Verifies bearer tokens, remembering each verified token until it expires.

    A platform sends the same service token with every check; verifying its HMAC and claims once
    instead of per request matters on the hot path. A remembered token is still refused once its
    ``exp`` has passed (same leeway as ``decode_token``).
    """

    LEEWAY = 5

    def __init__(self, secret: str, issuer: str, max_entries: int = 10_000) -> None:
        self._secret = secret
        self._issuer = issuer
        self._max_entries = max_entries
        self._verified: dict[str, tuple[Principal, float]] = {}

    def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        now = time.time()
        if remembered is not None:
            if now <= remembered[1] + self.LEEWAY:
                return remembered[0]
            del self._verified[token]
            raise NotAuthenticated("the bearer token has expired")
        principal = decode_token(token, self._secret, self._issuer)
        if len(self._verified) >= self._max_entries:
            self._verified.clear()  # simple bound; entries are cheap to rebuild
        expires = jwt.decode(token, options={"verify_signature": False})["exp"]
        self._verified[token] = (principal, float(expires))
        return principal


def require(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting principals with any of ``roles`` (``admin`` is always admitted)."""
    allowed = frozenset(roles) | {"admin"}

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise NotAuthenticated("a bearer token is required")
        return await _with_role(request, credentials.credentials, allowed)

    dependency.required_roles = allowed  # type: ignore[attr-defined]
    return dependency


async def authorize(request: Request, allowed: frozenset[str]) -> Principal:
    """What ``require(...)`` does, for an endpoint outside FastAPI's dependency injection."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if not (scheme and token) or scheme.lower() != "bearer":
        raise NotAuthenticated("a bearer token is required")
    return await _with_role(request, token, allowed)


async def _with_role(request: Request, token: str, allowed: frozenset[str]) -> Principal:
    """The token's principal, if it holds one of ``allowed`` and its subject's rate is not spent."""
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = verifier.verify(token)
    if not principal.roles & allowed:
        raise Forbidden(f"this action needs one of the roles: {', '.join(sorted(allowed))}")
    await enforce(getattr(request.app.state, "rate_limiter", None), principal.sub)
    return principal


READ = require("analyst", "officer")
CHECK = require("checker")
CHECK_OR_READ = require("checker", "analyst", "officer")
SETTLE = require("checker", "officer")
WRITE = require("officer")
ADMIN = require()
