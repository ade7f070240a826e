"""Text that PostgreSQL cannot store is refused at the edge, on every route, naming the field.

PostgreSQL refuses the NUL character in ``text`` (and ``\\u0000`` in ``jsonb``), and UTF-8 cannot
encode a lone UTF-16 surrogate (``\\ud800``…``\\udfff``), which Python's JSON parser lets through.
Such a value used to reach the database and fail there: a 500 on the reference-data routes, and a
whole group commit of other callers' checks lost on the check routes. This middleware answers
422 ``VALIDATION_FAILED`` before any route runs, with ``details[0].field`` naming the offending
member as the other 422s do (``transfers[0].metadata.note``, ``reference``, the query
parameter's name, ``path``).

It is cheap on ordinary traffic: JSON can carry these characters only as ``\\u`` escapes (a raw
NUL is not valid JSON), so the body is parsed again only when a suspicious escape is present.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from compliance_shield.domain import encoding

#: escapes of NUL and of UTF-16 surrogates: bodies containing one are parsed and walked
_SUSPICIOUS_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
#: characters PostgreSQL cannot store: NUL, and lone surrogates (not encodable as UTF-8)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_reason(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "contains a NUL character (U+0000), which cannot be stored"
    return f"contains a lone UTF-16 surrogate (U+{ord(char):04X}), which is not valid Unicode text"


def field_path(parent: str, member: str | int) -> str:
    """``parent.member`` or ``parent[i]`` (the spelling of the field paths in every 422)."""
    if isinstance(member, int):
        return f"{parent}[{member}]"
    return f"{parent}.{member}" if parent else member


def _printable(key: str) -> str:
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", key)


def find_unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first string (or object key) in a parsed JSON value that cannot be stored, as
    ``(field path, reason)``; walked without recursion, so any depth is safe."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            reason = unstorable_reason(item)
            if reason is not None:
                return where or "body", reason
        elif isinstance(item, dict):
            for key, member in reversed(list(item.items())):
                reason = unstorable_reason(key)
                if reason is not None:
                    return field_path(where, _printable(key)), f"the key {reason}"
                stack.append((field_path(where, key), member))
        elif isinstance(item, list):
            stack.extend((field_path(where, i), member) for i, member in reversed(list(enumerate(item))))
    return None


def _parsed(body: bytes) -> Any:
    # Python's parser, not the fast one: that one already refuses lone surrogates (as malformed JSON)
    try:
        return encoding.loads_as_sent(body)
    except encoding.InvalidJSON:
        return None  # not JSON (or too deep for the parser): the route answers as it does for any such body


def _query_problem(query_string: bytes) -> tuple[str, str] | None:
    # as Starlette decodes it (bytes that are not UTF-8 become U+FFFD): only a NUL is left to refuse
    if b"%00" not in query_string:
        return None
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, errors="replace"):
        for text, what in ((name, "parameter name"), (value, "value")):
            reason = unstorable_reason(text)
            if reason is not None:
                return _printable(name), f"the {what} {reason}"
    return None


def _validation_failed(field: str, message: str) -> bytes:
    return encoding.dumps(
        {
            "error": {
                "code": "VALIDATION_FAILED",
                "message": f"{field}: {message}",
                "details": [{"field": field, "message": message}],
            }
        }
    )


class StorableTextMiddleware:
    """Refuses (422) a request whose path, query or JSON body holds text that cannot be stored."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reason = unstorable_reason(scope["path"])
        problem = ("path", f"the URL path {reason}") if reason else _query_problem(scope.get("query_string", b""))
        if problem is not None:
            await _answer(send, *problem)
            return
        messages: list[Message] = []
        try:
            await _read_body(receive, messages)
        except Exception as exc:  # e.g. the body limit's 413: raised where the app's handlers render it
            await self.app(scope, _replay(messages, receive, exc), send)
            return
        body = b"".join(m.get("body", b"") for m in messages)
        if _SUSPICIOUS_ESCAPE.search(body):
            found = find_unstorable(_parsed(body))
            if found is not None:
                await _answer(send, *found)
                return
        await self.app(scope, _replay(messages, receive, None), send)


async def _read_body(receive: Receive, messages: list[Message]) -> None:
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def _replay(messages: list[Message], receive: Receive, error: Exception | None) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        if error is not None:
            raise error
        return await receive()  # after the body: the disconnect, when it comes

    return replayed


async def _answer(send: Send, field: str, message: str) -> None:
    body = _validation_failed(field, message)
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
