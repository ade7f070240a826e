"""Per-request observability of the API: duration by route and status, and the request id bound
to every log line written while the request is served.

A plain ASGI middleware (no ``BaseHTTPMiddleware``: that would run each request in a task of
its own and cost the check path noticeably). The route label is the matched route's template
(``/v1/compliance/checks/{check_id}``), never the raw path, so the series stay bounded; a
request that matched no route is ``unmatched``. An exception that escapes the app is counted as
a 500 — the server answers 500 for it.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from compliance_shield.observability.metrics import HTTP_REQUEST_DURATION

#: the header a caller (or a proxy) may send to correlate its logs with ours; echoed back
REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
_CHECK_PATH = re.compile(r"^/v1/compliance/checks/([0-9a-fA-F-]{36})(?:/|$)")


#: new request ids: this process's random prefix and a counter — unique across processes and
#: restarts like a UUID, at a fraction of its cost on the check path
_PREFIX = os.urandom(8).hex()
_SERIAL = itertools.count(1)


def request_id_of(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER and _VALID_REQUEST_ID.match(value):
            return str(value.decode())
    return f"{_PREFIX}{next(_SERIAL):016x}"


#: route template of each plain Starlette endpoint (FastAPI's router names only its own routes in the scope)
_TEMPLATES: dict[Any, str] = {}


def _route_of(scope: Scope) -> str:
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    endpoint = scope.get("endpoint")
    if endpoint is None:
        return "unmatched"
    if endpoint not in _TEMPLATES:
        router = scope.get("router")
        for route in getattr(router, "routes", ()):
            if getattr(route, "endpoint", None) is endpoint and isinstance(getattr(route, "path", None), str):
                _TEMPLATES[endpoint] = route.path
                break
        else:
            return "unmatched"
    return _TEMPLATES[endpoint]


class RequestObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], Any] = {}

    def _observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = HTTP_REQUEST_DURATION.labels(route, method, str(status))
        child.observe(seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        context: dict[str, str] = {"request_id": request_id}
        if (match := _CHECK_PATH.match(scope["path"])) is not None:
            context["check_id"] = match.group(1).lower()
        status = 500
        header = (REQUEST_ID_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        bound = structlog.contextvars.bind_contextvars(**context)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**bound)
            self._observe(_route_of(scope), scope["method"], status, time.perf_counter() - started)
