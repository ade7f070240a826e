"""The OpenAPI document tells the truth: every route's error answers, with the one error envelope,
and the text every string field refuses.

Each route's possible errors follow from what the route is, so they are derived rather than
listed by hand on forty routes (and forgotten on the forty-first):

* every route can fail unexpectedly (500) or lose its database (503);
* a route that requires a role answers 401 (no or bad token), 403 (role missing) and 429 (the
  caller's rate limit);
* a route with parameters or a body answers 422 naming the field;
* a route with a body answers 413 past ``MAX_REQUEST_BODY_BYTES``;
* a route with path parameters or a body answers 404 for an unknown entity it names;
* a route that changes state answers 409 when the state forbids the change (a unique value
  another row has, an idempotency key reused, a check already settled).

Routes may add their own descriptions (``responses=`` on the decorator); those are kept.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. VALIDATION_FAILED, NOT_FOUND")
    message: str
    details: Any = Field(default=None, description='for 422: a list of {"field", "message"}, field a path')


class ErrorOut(BaseModel):
    """The one error envelope of every 4xx and 5xx answer."""

    error: ErrorDetail


_DESCRIPTIONS = {
    401: "no bearer token, or an invalid or expired one",
    403: "the token lacks the role",
    404: "the entity does not exist",
    409: "the state forbids the change (unique value taken, key reused, already done)",
    413: "the request body is larger than MAX_REQUEST_BODY_BYTES",
    422: "a parameter or field is invalid; details name each field",
    429: "the caller's rate limit is spent; retry after Retry-After seconds",
    500: "an unexpected error (logged with its error id)",
    503: "a dependency (the database) is unavailable, or the service is overloaded; retry later",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}


def _statuses(method: str, operation: dict[str, Any]) -> set[int]:
    statuses = {500, 503}
    if operation.get("security"):
        statuses |= {401, 403, 429}
    params = operation.get("parameters", [])
    body = "requestBody" in operation
    if params or body:
        statuses.add(422)
    if body:
        statuses.add(413)
    if body or any(p.get("in") == "path" for p in params):
        statuses.add(404)
    if method not in ("get", "head"):
        statuses.add(409)
    return statuses


def with_errors(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (an OpenAPI document) with the error answers of every operation declared."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs"))
    schemas["ErrorOut"] = error_schema
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses(method, operation)):
                declared = responses.setdefault(str(status), {})
                if status == 422:  # FastAPI's own 422 describes its default body, not the envelope
                    declared.clear()
                declared.setdefault("description", _DESCRIPTIONS[status])
                declared.setdefault("content", content)
                if status in (429, 503):
                    declared["headers"] = _RETRY_AFTER
    return document


#: what every free-text string of a request must match: the middleware refuses NUL (``api/hygiene``)
STORABLE_TEXT = "^[^\\u0000]*$"


def _storable_strings(node: Any) -> None:
    """Give each string schema that has no pattern, format or value list the storable-text pattern."""
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & node.keys():
            node["pattern"] = STORABLE_TEXT
        for value in node.values():
            _storable_strings(value)
    elif isinstance(node, list):
        for value in node:
            _storable_strings(value)


def truthful(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with every operation's errors declared and NUL refused in every string."""
    _storable_strings(document)
    return with_errors(document)


def document_errors(app: FastAPI) -> None:
    """Serve ``app``'s OpenAPI document with every operation's error answers (see ``with_errors``)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = truthful(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
