"""JWT bearer authentication and role checks.

Roles live in the ``roles`` claim: ``checker`` (transfer checks), ``analyst`` (read),
``officer`` (reference data, reviews), ``admin`` (everything, policies and tokens).
Tokens are HS256 with ``JWT_SECRET`` (or, by ``kid``, one of ``JWT_SECRETS``: key rotation), or
RS256/ES256 from an identity provider's JWKS (``JWT_JWKS_URL``). Tokens with any other algorithm
(``alg=none`` included) or an invalid signature, expired or not yet valid tokens, and tokens
without ``sub``/``exp`` are refused with 401.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from compliance_shield.api.jwks import ASYMMETRIC, JwksKeys
from compliance_shield.api.rate_limit import enforce
from compliance_shield.errors import Forbidden, NotAuthenticated
from compliance_shield.settings import Settings

ROLES = ("checker", "analyst", "officer", "admin")
ALGORITHM = "HS256"

_bearer = HTTPBearer(auto_error=False, description="JWT signed with JWT_SECRET (HS256)")


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    roles: frozenset[str]


def issue_token(
    secret: str, sub: str, roles: Iterable[str], ttl_seconds: int, now: datetime, issuer: str, kid: str | None = None
) -> str:
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
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": kid} if kid else None)


def decode_token(
    token: str, key: Any, issuer: str, algorithm: str = ALGORITHM, audience: str | None = None
) -> Principal:
    """The principal of a token signed with ``key`` by ``algorithm`` (nothing else is accepted)."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=issuer,
            audience=audience,
            options={"require": ["sub", "exp", "iat"], "verify_aud": audience is not None},
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


@dataclass(frozen=True, slots=True)
class IdentityProvider:
    """Tokens an identity provider signs (RS256/ES256) with the keys of its JWKS."""

    keys: JwksKeys
    issuer: str
    audience: str | None = None


class TokenVerifier:
    """Verifies bearer tokens, remembering each verified token until it expires.

    HS256 tokens are signed with ``secret`` or, naming it in their ``kid`` header, with one of
    ``secrets`` (several keys at once: a new one is added, tokens move over, the old one is
    removed); tokens without a key id signed with ``previous`` are accepted while it is set (a
    rotation of ``secret`` itself). RS256/ES256 tokens come from the identity ``provider`` and name a key of its JWKS.
    Any other algorithm (``none`` included) is refused.

    A platform sends the same service token with every check; verifying its signature and claims
    once instead of per request matters on the hot path. A remembered token is still refused once
    its ``exp`` has passed (same leeway as ``decode_token``).
    """

    LEEWAY = 5

    def __init__(
        self,
        secret: str,
        issuer: str,
        max_entries: int = 10_000,
        *,
        secrets: Mapping[str, str] | None = None,
        provider: IdentityProvider | None = None,
        previous: str | None = None,
    ) -> None:
        self._secret = secret
        #: the secret being rotated out (JWT_SECRET_PREVIOUS): tokens it signed without a key id
        #: stay valid until they expire, so callers can switch without an outage
        self._previous = previous
        self._secrets = dict(secrets or {})
        self._issuer = issuer
        self._provider = provider
        self._max_entries = max_entries
        self._verified: dict[str, tuple[Principal, float]] = {}

    async def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        now = time.time()
        if remembered is not None:
            if now <= remembered[1] + self.LEEWAY:
                return remembered[0]
            del self._verified[token]
            raise NotAuthenticated("the bearer token has expired")
        principal = await self._decode(token)
        if len(self._verified) >= self._max_entries:
            self._verified.clear()  # simple bound; entries are cheap to rebuild
        expires = jwt.decode(token, options={"verify_signature": False})["exp"]
        self._verified[token] = (principal, float(expires))
        return principal

    async def _decode(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise NotAuthenticated(f"invalid bearer token: {exc}") from exc
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm == ALGORITHM:
            if kid is None:
                try:
                    return decode_token(token, self._secret, self._issuer)
                except NotAuthenticated as exc:
                    if self._previous is None or not isinstance(exc.__cause__, jwt.InvalidSignatureError):
                        raise
                    return decode_token(token, self._previous, self._issuer)
            if not isinstance(kid, str) or kid not in self._secrets:
                raise NotAuthenticated(f"the bearer token's key id {kid!r} is not a configured HS256 key")
            return decode_token(token, self._secrets[kid], self._issuer)
        if algorithm in ASYMMETRIC and self._provider is not None:
            if not isinstance(kid, str):
                raise NotAuthenticated(f"a {algorithm} bearer token must name its key (kid)")
            key = await self._provider.keys.key(kid, algorithm)
            return decode_token(token, key, self._provider.issuer, algorithm, self._provider.audience)
        raise NotAuthenticated(f"bearer tokens signed with {algorithm!r} are not accepted")

    async def close(self) -> None:
        if self._provider is not None:
            await self._provider.keys.close()


def build_verifier(settings: Settings) -> TokenVerifier:
    """The verifier the settings describe (HS256 keys, and the identity provider when configured)."""
    secrets = {kid: value.get_secret_value() for kid, value in settings.jwt_secrets.items()}
    if settings.jwt_kid:
        secrets[settings.jwt_kid] = settings.jwt_secret_value
    provider = None
    if settings.jwt_jwks_url:
        keys = JwksKeys(
            settings.jwt_jwks_url,
            httpx.AsyncClient(timeout=5.0),
            refresh_seconds=settings.jwt_jwks_refresh_seconds,
        )
        provider = IdentityProvider(keys, settings.jwt_jwks_issuer or settings.jwt_issuer, settings.jwt_audience)
    previous = settings.jwt_secret_previous.get_secret_value() if settings.jwt_secret_previous else None
    return TokenVerifier(
        settings.jwt_secret_value, settings.jwt_issuer, secrets=secrets, provider=provider, previous=previous
    )


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
    principal = await verifier.verify(token)
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
