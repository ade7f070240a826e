"""Console sign-in: the officer pastes a bearer token; it travels back as an HttpOnly cookie.

The token is the API's own JWT (``compliance-shield token`` or the identity provider's
exchange issues it), verified on every request exactly as the API verifies it, so the console
grants nothing the API would not. The cookie is ``SameSite=Strict``: another site cannot make a
signed-in browser post a console form.
"""

from __future__ import annotations

from fastapi import Request, Response

from compliance_shield.api.auth import Principal, TokenVerifier
from compliance_shield.errors import NotAuthenticated

COOKIE = "cs_console"
#: roles that may use the console at all (checkers are platforms, not people)
CONSOLE_ROLES = frozenset({"analyst", "officer", "admin"})


class SignInRequired(Exception):
    """The request carries no valid console session: the handler sends the browser to sign in."""


async def principal_of(request: Request) -> Principal:
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInRequired
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal = await verifier.verify(token)
    except NotAuthenticated as exc:
        raise SignInRequired from exc
    if not principal.roles & CONSOLE_ROLES:
        raise SignInRequired
    return principal


async def sign_in(request: Request, response: Response, token: str) -> Principal:
    """Verify ``token`` and set the session cookie (raises ``NotAuthenticated`` when invalid)."""
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(token.strip())
    if not principal.roles & CONSOLE_ROLES:
        raise NotAuthenticated("the console is for analysts and officers: this token has neither role")
    response.set_cookie(
        COOKIE, token.strip(), httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/console"
    )
    return principal


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/console")
