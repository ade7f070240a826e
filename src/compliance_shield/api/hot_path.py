"""The two transfer-check routes, served without FastAPI's per-request dependency resolution.

Every platform call goes through ``POST /v1/compliance/transfer-check`` (or its batch form). For
these two, FastAPI's dependency machinery — working out cache keys, security scopes and
parameter models on every request — cost about a fifth of the server's CPU per check. The
routes are still declared in ``routers/checks.py`` (that declaration is the OpenAPI document);
``install`` puts these lean Starlette endpoints in front of them. They run inside the same app,
so middleware and the error handlers apply unchanged, and they validate with the same models and
parameter types, raising the same ``RequestValidationError`` (same fields, same messages) and
the same authentication errors. The test suite drives the routes through the app, so every
route test (authentication matrix, bad input naming the field, idempotency) covers these.
With several server processes, a check (or a batch's share) whose token another process owns is
decided by that process (``api/affinity.py``).
"""

from __future__ import annotations

import email.message
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from compliance_shield.api.affinity import batch_by_owner, forward_if_owned_elsewhere
from compliance_shield.api.auth import CHECK, authorize
from compliance_shield.api.deps import json_response
from compliance_shield.api.routers.checks import IdempotencyKey, View, batch_results
from compliance_shield.api.schemas import TransferCheckBatchIn, TransferCheckIn, check_out
from compliance_shield.bootstrap import Container
from compliance_shield.domain import encoding

CHECK_PATH = "/v1/compliance/transfer-check"
BATCH_PATH = "/v1/compliance/transfer-check/batch"

_CHECK_ROLES: frozenset[str] = CHECK.required_roles  # type: ignore[attr-defined]
_VIEW: TypeAdapter[Any] = TypeAdapter(View)
_IDEMPOTENCY_KEY: TypeAdapter[Any] = TypeAdapter(IdempotencyKey)
_CHECK_BODY: TypeAdapter[TransferCheckIn] = TypeAdapter(TransferCheckIn)
_BATCH_BODY: TypeAdapter[TransferCheckBatchIn] = TypeAdapter(TransferCheckBatchIn)

#: what FastAPI reports for a required body that was not sent
_MISSING_BODY = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}


def _is_json(content_type: str | None) -> bool:
    """FastAPI's rule: ``application/json`` or ``application/*+json`` (a missing type is not JSON)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _located(exc: ValidationError, *prefix: str | int) -> list[dict[str, Any]]:
    return [{**error, "loc": (*prefix, *error["loc"])} for error in exc.errors(include_url=False)]


async def _body(request: Request, model: TypeAdapter[Any], errors: list[dict[str, Any]]) -> tuple[Any, Any]:
    """The body validated as ``model``, and as parsed (to forward it as it came); problems are
    added to ``errors`` (the validated body is then None)."""
    raw = await request.body()
    if not raw:
        errors.append(_MISSING_BODY)
        return None, None
    data: Any = raw
    if _is_json(request.headers.get("content-type")):
        try:
            data = encoding.loads(raw)
        except encoding.InvalidJSON as exc:
            errors.append(
                {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {},
                 "ctx": {"error": exc.msg}}
            )  # fmt: skip
            return None, None
    try:
        return model.validate_python(data, from_attributes=True), data  # as FastAPI validates a body
    except ValidationError as exc:
        errors.extend(_located(exc, "body"))
        return None, data


def _param(adapter: TypeAdapter[Any], value: Any, where: str, name: str, errors: list[dict[str, Any]]) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        errors.extend(_located(exc, where, name))
        return None


async def transfer_check(request: Request) -> Response:
    """``POST /v1/compliance/transfer-check`` (see ``routers.checks.transfer_check``)."""
    principal = await authorize(request, _CHECK_ROLES)
    errors: list[dict[str, Any]] = []
    view = _param(_VIEW, request.query_params.get("view", "full"), "query", "view", errors)
    key = _param(_IDEMPOTENCY_KEY, request.headers.get("idempotency-key"), "header", "Idempotency-Key", errors)
    body, _ = await _body(request, _CHECK_BODY, errors)
    if errors:
        raise RequestValidationError(errors)
    peers = getattr(request.app.state, "peers", None)
    forwarded = await forward_if_owned_elsewhere(peers, body.token_id, principal.sub, key, view, await request.body())
    if forwarded is not None:
        return forwarded
    container: Container = request.app.state.container
    row = await container.decisions.check(body.to_check_request(principal.sub, key))
    return json_response(check_out(row, view))


async def transfer_check_batch(request: Request) -> Response:
    """``POST /v1/compliance/transfer-check/batch`` (see ``routers.checks.transfer_check_batch``)."""
    principal = await authorize(request, _CHECK_ROLES)
    errors: list[dict[str, Any]] = []
    view = _param(_VIEW, request.query_params.get("view", "full"), "query", "view", errors)
    body, data = await _body(request, _BATCH_BODY, errors)
    if errors:
        raise RequestValidationError(errors)
    container: Container = request.app.state.container
    peers = getattr(request.app.state, "peers", None)
    if peers is None:
        return json_response(await batch_results(container, principal, body, view))
    return json_response(await batch_by_owner(peers, container, principal, body, view, data["transfers"]))


def install(app: FastAPI) -> None:
    """Serve the two routes with the lean endpoints (ahead of their declared FastAPI routes)."""
    app.router.routes[0:0] = [
        Route(CHECK_PATH, transfer_check, methods=["POST"], include_in_schema=False),
        Route(BATCH_PATH, transfer_check_batch, methods=["POST"], include_in_schema=False),
    ]
