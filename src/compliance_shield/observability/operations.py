"""The operations port of a worker: ``GET /metrics`` (Prometheus) and ``GET /health`` (liveness).

Served from a thread (the standard library's WSGI server), so a scrape never waits on the
worker's event loop. Liveness is about that loop: a heartbeat task stamps it every second, and
``/health`` answers 503 once the stamp is older than ``stale_after`` — a worker whose loop is
blocked or dead is restarted by its orchestrator instead of looking alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from compliance_shield.domain import encoding

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass
class Heartbeat:
    """The last time the worker's event loop ran, and how old that may be while it is healthy."""

    stale_after: float = 10.0
    last: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self.last = time.monotonic()

    @property
    def age(self) -> float:
        return time.monotonic() - self.last

    async def run(self, every: float = 1.0) -> None:
        while True:
            self.beat()
            await asyncio.sleep(every)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes and probes every few seconds are not worth a log line each."""


def wsgi_app(worker: str, registry: Callable[[], CollectorRegistry], heartbeat: Heartbeat) -> Any:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
            return [b""]
        if path == "/metrics":
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [generate_latest(registry())]
        if path == "/health":
            age = heartbeat.age
            healthy = age <= heartbeat.stale_after
            body = {"status": "ok" if healthy else "stalled", "worker": worker, "seconds_since_beat": round(age, 3)}
            start_response("200 OK" if healthy else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [encoding.dumps(body)]
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"error": {"code": "NOT_FOUND", "message": "only /metrics and /health are served here"}}']

    return app


@contextlib.asynccontextmanager
async def operations_port(
    worker: str, host: str, port: int, registry: Callable[[], CollectorRegistry]
) -> AsyncIterator[int | None]:
    """Serve ``/metrics`` and ``/health`` on ``host:port`` while the block runs; yields the port
    bound (``None`` when ``port`` is 0: no operations port)."""
    if port == 0:
        yield None
        return
    heartbeat = Heartbeat()
    server = make_server(host, port, wsgi_app(worker, registry, heartbeat), _Server, _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name=f"{worker}-operations", daemon=True)
    thread.start()
    beating = asyncio.create_task(heartbeat.run(), name=f"{worker}-heartbeat")
    try:
        yield server.server_address[1]
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
        server.shutdown()
        server.server_close()
