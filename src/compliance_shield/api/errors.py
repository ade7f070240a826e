"""The one error renderer: ``{"error": {"code", "message", "details"}}`` for every failure."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from compliance_shield.db import DATABASE_UNAVAILABLE
from compliance_shield.errors import ComplianceShieldError, RateLimited, ServiceUnavailable, new_error_id

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    401: "NOT_AUTHENTICATED",
    403: "FORBIDDEN",
    413: "PAYLOAD_TOO_LARGE",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _field(loc: tuple[Any, ...], member: str | None = None) -> str:
    """``transfers[0].amount``: the location without its source (body, query…), plus the member a
    model validator named (``services.inputs.member_error``)."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    if member:
        parts.append(member)
    if not parts:
        return str(loc[0]) if loc else "body"
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out


def render_error(exc: Exception) -> JSONResponse:
    """The answer the app's handlers give for ``exc`` (for work done outside a route: a check
    another server process forwarded)."""
    if isinstance(exc, ComplianceShieldError):
        return _domain_response(exc)
    return _unexpected_response(exc)


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ComplianceShieldError)
    return _domain_response(exc)


def _domain_response(exc: ComplianceShieldError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if isinstance(exc, ServiceUnavailable | RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    if exc.status >= 500:
        log.warning("request.failed", code=exc.code, message=exc.message, details=exc.details)
    return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = []
    for e in exc.errors():
        if e.get("type") == "json_invalid":
            details.append({"field": "body", "message": f"malformed JSON: {e.get('msg')}"})
        else:
            member = (e.get("ctx") or {}).get("member")
            details.append({"field": _field(tuple(e.get("loc", ())), member), "message": str(e.get("msg"))})
    first = details[0] if details else {"field": "body", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}"
    return JSONResponse(error_body("VALIDATION_FAILED", message, details), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's answer to a body it cannot decode (not UTF-8, not JSON): a malformed body is a
        # 422 naming the body, as the check routes answer it
        message = f"malformed JSON: {exc.detail}"
        details = [{"field": "body", "message": message}]
        return JSONResponse(error_body("VALIDATION_FAILED", f"body: {message}", details), status_code=422)
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers)


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (Starlette names only the first route's)."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return allowed


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    return _unexpected_response(exc)


def _unexpected_response(exc: Exception) -> JSONResponse:
    if isinstance(exc, DATABASE_UNAVAILABLE):
        log.warning("request.database_unavailable", error=repr(exc))
        return JSONResponse(
            error_body("SERVICE_UNAVAILABLE", "the database is unavailable; retry later"),
            status_code=503,
            headers={"Retry-After": "1"},
        )
    error_id = new_error_id()
    log.error("request.unexpected_error", error=repr(exc), error_id=error_id, exc_info=exc)
    return JSONResponse(error_body("INTERNAL_ERROR", "internal error", {"error_id": error_id}), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ComplianceShieldError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
