"""JWT key rotation by ``kid`` (HS256) and an identity provider's RS256/ES256 keys from its JWKS
URL, served here by a local HTTP server speaking RFC 7517."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import SecretStr
from support import app_with

from compliance_shield.api.auth import issue_token
from compliance_shield.bootstrap import Container
from compliance_shield.settings import Settings

pytestmark = pytest.mark.integration

IDP = "https://idp.example.test/"
AUDIENCE = "compliance-shield-api"


class _Jwks:
    """What the identity provider publishes, and how often it was asked."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self.down = False


@pytest.fixture
def jwks() -> Iterator[tuple[str, _Jwks]]:
    state = _Jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.fetches += 1
            if state.down:
                self.send_response(503)
                self.end_headers()
                return
            body = json.dumps({"keys": state.keys}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", state
    finally:
        server.shutdown()
        server.server_close()


def _public(kid: str, key: Any) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}
    jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "ES256", "use": "sig"}


def _idp_token(key: Any, kid: str, algorithm: str, **claims: Any) -> str:
    now = datetime.now(UTC)
    body = {"sub": "idp-user", "roles": ["analyst"], "iss": IDP, "aud": AUDIENCE, "iat": now,
            "exp": now + timedelta(minutes=5), **claims}  # fmt: skip
    return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid})


async def _status(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/v1/tokens?limit=1", headers={"Authorization": f"Bearer {token}"})).status_code


async def test_identity_provider_tokens_by_key_id(
    settings: Settings, container: Container, jwks: tuple[str, _Jwks]
) -> None:
    url, idp = jwks
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    idp.keys = [_public("rsa-1", rsa_key), _public("ec-1", ec_key)]
    configured = settings.model_copy(update={"jwt_jwks_url": url, "jwt_jwks_issuer": IDP, "jwt_audience": AUDIENCE})
    async with app_with(configured, container) as client:
        assert await _status(client, _idp_token(rsa_key, "rsa-1", "RS256")) == 200
        assert await _status(client, _idp_token(ec_key, "ec-1", "ES256")) == 200
        impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert await _status(client, _idp_token(impostor, "rsa-1", "RS256")) == 401
        assert await _status(client, _idp_token(rsa_key, "rsa-1", "RS256", aud="someone-else")) == 401
        assert await _status(client, _idp_token(rsa_key, "rsa-1", "RS256", iss="https://evil.test/")) == 401
        assert await _status(client, _idp_token(ec_key, "rsa-1", "ES256")) == 401  # the key is not ES256
        assert idp.fetches == 1

        # the provider rotates: a token naming the new key makes the set be fetched again
        rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        idp.keys = [_public("rsa-2", rotated)]
        verifier = client._transport.app.state.token_verifier  # type: ignore[attr-defined]
        verifier._provider.keys._min_refetch_seconds = 0  # the 30 s guard is not what is tested here
        assert await _status(client, _idp_token(rotated, "rsa-2", "RS256")) == 200
        assert idp.fetches == 2
        assert await _status(client, _idp_token(rsa_key, "unknown-kid", "RS256")) == 401
        print(f"\nJWKS fetched {idp.fetches} times")


async def test_an_unreachable_identity_provider_fails_closed(
    settings: Settings, container: Container, jwks: tuple[str, _Jwks]
) -> None:
    url, idp = jwks
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    idp.down = True
    configured = settings.model_copy(update={"jwt_jwks_url": url, "jwt_jwks_issuer": IDP, "jwt_audience": AUDIENCE})
    async with app_with(configured, container) as client:
        response = await client.get(
            "/v1/tokens?limit=1", headers={"Authorization": f"Bearer {_idp_token(key, 'rsa-1', 'RS256')}"}
        )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"


async def test_hs256_keys_rotate_by_key_id(settings: Settings, container: Container) -> None:
    old, new = "old-secret-long-enough-for-hs256-0123456789", "new-secret-long-enough-for-hs256-0123456789"
    configured = settings.model_copy(update={"jwt_kid": "2026-12", "jwt_secrets": {"2026-11": SecretStr(old)}})
    now = datetime.now(UTC)
    async with app_with(configured, container) as client:
        current = issue_token(settings.jwt_secret_value, "p", ["analyst"], 60, now, settings.jwt_issuer, kid="2026-12")
        previous = issue_token(old, "p", ["analyst"], 60, now, settings.jwt_issuer, kid="2026-11")
        unnamed = issue_token(settings.jwt_secret_value, "p", ["analyst"], 60, now, settings.jwt_issuer)
        unknown = issue_token(new, "p", ["analyst"], 60, now, settings.jwt_issuer, kid="2027-01")
        wrong = issue_token(new, "p", ["analyst"], 60, now, settings.jwt_issuer, kid="2026-11")
        assert [await _status(client, t) for t in (current, previous, unnamed, unknown, wrong)] == [
            200, 200, 200, 401, 401,
        ]  # fmt: skip
        unsigned = jwt.encode(
            {"sub": "p", "roles": ["admin"], "exp": now + timedelta(minutes=1)}, None, algorithm="none"
        )
        assert await _status(client, unsigned) == 401
