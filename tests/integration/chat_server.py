"""A local HTTP server speaking OpenAI's chat-completions protocol, as xAI's API answers it.

What it answers next is queued by the test (a recorded completion by default, or malformed,
slow, or an HTTP error); every request it received is kept for the test to inspect.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from compliance_shield.domain import encoding

NARRATIVE = {
    "summary": "Transfer of 5 units to a politically exposed person; KYC and balance checks passed.",
    "trigger": "pep_review asked for review: the receiver is a politically exposed person (PEP_REVIEW).",
    "evidence_for": ["Both parties are KYC-verified", "The sender's balance covers the amount"],
    "evidence_against": ["The receiver is a PEP; source of funds is not on record"],
    "applicable_rules": ["pep_review — PMLA Rules 9(12): enhanced due diligence for PEPs"],
    "suggested_resolution": "needs_more_info",
    "suggested_reason": "Obtain the receiver's source-of-funds declaration and senior management approval.",
}


def recorded_completion(content: str) -> dict[str, Any]:
    """A chat completion as xAI's API returns it (shape recorded from its documentation)."""
    return {
        "id": "a3d1008e-4544-40d4-d075-11527e794e4a",
        "object": "chat.completion",
        "created": 1764835200,
        "model": "grok-4-0709",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content, "refusal": None}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 812, "completion_tokens": 164, "total_tokens": 976},
        "system_fingerprint": "fp_3a40c5e4b0",
    }


@dataclass
class ChatServer:
    """What the server answers next (one behaviour per request; the default when none is queued)."""

    url: str = ""
    script: list[Callable[[], Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        self.requests.append({"headers": dict(request.headers), "body": encoding.loads(await request.body())})
        behaviour = self.script.pop(0) if self.script else ok()
        result = behaviour()
        if asyncio.iscoroutine(result):
            result = await result
        assert isinstance(result, Response)
        return result


def ok(content: dict[str, Any] | None = None) -> Callable[[], Response]:
    return lambda: JSONResponse(recorded_completion(encoding.dumps_text(content or NARRATIVE)))


def raw(status: int, body: str, headers: dict[str, str] | None = None) -> Callable[[], Response]:
    return lambda: Response(body, status_code=status, headers=headers, media_type="application/json")


def slow(seconds: float) -> Callable[[], Any]:
    async def answer() -> Response:
        await asyncio.sleep(seconds)
        return JSONResponse(recorded_completion(encoding.dumps_text(NARRATIVE)))

    return answer


@asynccontextmanager
async def serving() -> AsyncIterator[ChatServer]:
    """The server on a free loopback port; ``url`` is its base (``…/v1``)."""
    state = ChatServer()
    app = Starlette(routes=[Route("/v1/chat/completions", state.handle, methods=["POST"])])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.02)
    state.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield state
    finally:
        server.should_exit = True
        await task
