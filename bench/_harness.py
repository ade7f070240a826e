"""What the HTTP benchmarks share: where the load goes, server processes and the load loop.

- ``ServerProcess`` runs a server in a session of its own and stops it (SIGTERM, then kill);
  ``bench.service.LocalService`` (the service, seeded) and ``bench.baseline`` (the trivial app)
  start theirs with it.
- ``run_load`` keeps one request in flight per keep-alive ``Connection`` (a lean HTTP/1.1 client)
  until a time or a count is reached; ``timed_post`` records each answer's latency and status
  in a ``Tally``.

``bench.accounting`` says where the cores went and what the database holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
from rich.console import Console

#: where the servers listen: the service's default ``HOST``
HOST = "127.0.0.1"

err = Console(stderr=True)


class BenchError(Exception):
    """The bench could not run (setup failed); not a finding about the service."""


@dataclass
class Service:
    """Where the load goes; the process and database ids are known only when we started it."""

    base_url: str
    token: str
    workers: int | None = None
    database_url: str | None = None
    server_pid: int | None = None
    postgres_pid: int | None = None
    #: how long seeding took and how long the server took to answer ``/ready`` (when we started it)
    seed_seconds: float | None = None
    ready_seconds: float | None = None


# -- server processes ------------------------------------------------------------------------


def cli_path() -> str:
    """The installed ``compliance-shield`` command (beside this interpreter, else on the PATH)."""
    beside = Path(sys.executable).with_name("compliance-shield")
    found = str(beside) if beside.exists() else shutil.which("compliance-shield")
    if found is None:
        raise BenchError("the compliance-shield command is not installed (pip install -e .)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class ServerProcess:
    """A server subprocess in a session of its own (Ctrl-C reaches the bench, which stops it)."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, url: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise BenchError(f"the server exited ({self.process.returncode}):\n{_tail(self.log)}")
                try:
                    if client.get(url).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        raise BenchError(f"the server was not ready within {timeout:.0f} s:\n{_tail(self.log)}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                err.print("[yellow]the server ignored SIGTERM for 30 s: killing it[/yellow]")
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


# -- the load loop ---------------------------------------------------------------------------


@dataclass
class Tally:
    """What the HTTP answers were; one per phase (warm-up, measurement)."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    sent: int = 0
    #: answers 503 OVERLOADED: refused at once by the server's admission bound, nothing decided
    #: (kept out of ``statuses`` and ``latencies``, which describe the requests that were served)
    shed: int = 0


T = TypeVar("T", bound=Tally)


def client(service: Service, connections: int) -> httpx.AsyncClient:
    """An httpx client for setup and reading results: never on the measured path (see ``Connection``)."""
    return httpx.AsyncClient(
        base_url=service.base_url,
        headers={"Authorization": f"Bearer {service.token}", "Content-Type": "application/json"},
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=300),
        timeout=httpx.Timeout(60, connect=10),
        trust_env=False,  # never through a proxy
    )


#: what a failed exchange raises: counted as a transport error under the exception's name
TRANSPORT_ERRORS = (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


class Connection:
    """One HTTP/1.1 keep-alive connection that POSTs pre-encoded bodies: the load generator.

    The service and the baseline are measured through it. httpx cost ~0.6 ms of CPU per request
    here (one core for ~1,600 requests/s against the trivial baseline app, so the "ceiling" was
    the client's); this costs ~0.03 ms, which leaves the machine's cores to the server and
    PostgreSQL. It reads ``Content-Length`` and chunked bodies and reconnects after
    ``Connection: close`` or a failed exchange.
    """

    def __init__(self, service: Service, timeout: float = 60) -> None:
        url = urlsplit(service.base_url)
        self.tls = url.scheme == "https"
        self.host = url.hostname or HOST
        self.port = url.port or (443 if self.tls else 80)
        self.root = url.path.rstrip("/")
        fixed = {"Host": url.netloc, "Authorization": f"Bearer {service.token}", "Content-Type": "application/json"}
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode()
        self.timeout = timeout
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """The status and body of the answer to ``POST path``."""
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        request = b"POST %s HTTP/1.1\r\n%s%sContent-Length: %d\r\n\r\n%s" % (
            (self.root + path).encode(),
            self.fixed,
            extra,
            len(body),
            body,
        )
        try:
            async with asyncio.timeout(self.timeout):
                if self.streams is None:
                    self.streams = await asyncio.open_connection(self.host, self.port, ssl=self.tls or None)
                reader, writer = self.streams
                writer.write(request)
                status, content, close = await self._answer(reader)
        except BaseException:
            await self.close()
            raise
        if close:
            await self.close()
        return status, content

    @staticmethod
    async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        status = int(lines[0].split(None, 2)[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        if b"content-length" in fields:
            content = await reader.readexactly(int(fields[b"content-length"]))
        elif fields.get(b"transfer-encoding") == b"chunked":
            chunks = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readuntil(b"\r\n")
            content = b"".join(chunks)
        else:  # delimited by the end of the connection
            return status, await reader.read(), True
        return status, content, fields.get(b"connection") == b"close"

    async def close(self) -> None:
        if self.streams is not None:
            writer = self.streams[1]
            self.streams = None
            writer.close()
            with contextlib.suppress(*TRANSPORT_ERRORS):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def connections(service: Service, count: int) -> AsyncIterator[list[Connection]]:
    """``count`` connections (opened on first use), closed on the way out."""
    opened = [Connection(service) for _ in range(count)]
    try:
        yield opened
    finally:
        await asyncio.gather(*(c.close() for c in opened))


#: when a paced load meant the current request to start (its latency counts from then, so that a
#: request delayed behind a busy connection is not measured as fast: no coordinated omission)
SCHEDULED: contextvars.ContextVar[float | None] = contextvars.ContextVar("scheduled", default=None)


async def timed_post(conn: Connection, path: str, body: bytes, headers: dict[str, str], tally: Tally) -> bytes | None:
    """POST and record the answer; its body when it is a 200, else None."""
    tally.sent += 1
    scheduled = SCHEDULED.get()
    started = time.perf_counter() if scheduled is None else scheduled
    try:
        status, content = await conn.post(path, body, headers)
    except TRANSPORT_ERRORS as exc:
        tally.transport_errors[type(exc).__name__] += 1
        return None
    if status == 503 and b'"OVERLOADED"' in content:
        tally.shed += 1
        return None
    tally.latencies.append(time.perf_counter() - started)
    tally.statuses[status] += 1
    if status == 200:
        return content
    if len(tally.error_samples) < 5:
        tally.error_samples.append(f"{status} {content[:300].decode(errors='replace')}")
    return None


async def run_load(
    conns: list[Connection],
    send: Callable[[Connection, T], Awaitable[None]],
    tally: T,
    *,
    seconds: float | None,
    requests: int | None,
    rate: float | None = None,
) -> float:
    """Keep a request in flight on each connection until ``seconds`` passed or ``requests`` were sent.

    With ``rate``, requests are due at a fixed pace instead (open loop): the n-th at n / rate
    seconds, sent by whichever connection is free, and timed from when it was due. Returns the
    elapsed time.
    """
    started = time.perf_counter()
    deadline = started + (seconds if seconds is not None else float("inf"))
    due = itertools.count()

    async def loop(conn: Connection) -> None:
        while time.perf_counter() < deadline and (requests is None or tally.sent < requests):
            if rate is not None:
                at = started + next(due) / rate
                if at >= deadline:
                    return
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                SCHEDULED.set(at)
            await send(conn, tally)

    await asyncio.gather(*(loop(c) for c in conns))
    return time.perf_counter() - started


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values`` by the nearest-rank method (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def latency_ms(latencies: Sequence[float]) -> dict[str, float]:
    ms = [x * 1000 for x in latencies]
    quantiles = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999), ("max", 1.0))
    return {name: round(percentile(ms, q), 2) for name, q in quantiles}


def runner() -> asyncio.Runner:
    try:
        import uvloop  # the load generator competes for the same cores: keep its overhead low
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)
