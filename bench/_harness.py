"""What the HTTP benchmarks share: the servers they start, the load loop, and the accounting.

- ``LocalService`` seeds the demo data set into a throw-away ``DATA_DIR``, makes an admin token
  and runs ``compliance-shield serve``; it stops what it started (SIGTERM, then kill; PostgreSQL
  too). ``ServerProcess`` is the part ``bench.baseline`` reuses for its trivial app.
- ``run_load`` keeps one request in flight per keep-alive ``Connection`` (a lean HTTP/1.1 client)
  until a time or a count is reached; ``timed_post`` records each answer's latency and status
  in a ``Tally``.
- ``cpu_now`` says where the cores went (load generator, server, PostgreSQL, the whole machine);
  ``count_stored`` counts decision rows in the service's database.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
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


# -- server processes ------------------------------------------------------------------------


def _cli() -> str:
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


class LocalService(AbstractContextManager[Service]):
    """Seed, start and finally stop ``compliance-shield serve`` on a temporary ``DATA_DIR``."""

    def __init__(self, workers: int, investors: int) -> None:
        self.workers = workers
        self.investors = investors
        self.root = Path(tempfile.mkdtemp(prefix="cs-bench-"))  # short: PostgreSQL's socket lives in it
        self.data_dir = self.root / "data"
        self.server: ServerProcess | None = None
        self.pg: Any = None

    def __enter__(self) -> Service:
        try:
            return self._start()
        except BaseException:
            self._stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _env(self, port: int, secret: str) -> dict[str, str]:
        if not os.environ.get("XDG_RUNTIME_DIR"):
            # pgserver keeps its lock there and warns without it; removed after pgserver's own exit hook
            runtime = tempfile.mkdtemp(prefix="cs-bench-xdg-")  # mode 0700
            atexit.register(shutil.rmtree, runtime, True)
            os.environ["XDG_RUNTIME_DIR"] = runtime
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WORKERS", "HOST")}
        env |= {"DATA_DIR": str(self.data_dir), "PORT": str(port), "JWT_SECRET": secret, "LOG_LEVEL": "WARNING"}
        return env

    def _run(self, env: dict[str, str], *args: str) -> str:
        done = subprocess.run(
            [_cli(), *args], env=env | {"COLUMNS": "250"}, capture_output=True, timeout=900, check=False
        )
        if done.returncode != 0:
            raise BenchError(f"compliance-shield {' '.join(args)} failed ({done.returncode}):\n{done.stderr.decode()}")
        return done.stdout.decode()

    def _start(self) -> Service:
        port = free_port()
        env = self._env(port, secrets.token_urlsafe(36))  # 48 characters
        self.data_dir.mkdir()
        err.print(f"seeding {self.investors} investors into {self.data_dir} ...")
        out = self._run(env, "seed", "--investors", str(self.investors))
        seeded = json.loads(out[out.index("{") :])
        tokens = ", ".join(seeded["tokens"])
        err.print(f"seeded {seeded['investors']} investors, {seeded['holdings']} holdings of {tokens}")
        import pgserver  # only now: it reads XDG_RUNTIME_DIR on import

        self.pg = pgserver.get_server(  # type: ignore[attr-defined]
            str(self.data_dir / "postgres"), cleanup_mode=None
        )
        token = self._run(env, "token", "--sub", "bench", "--roles", "admin,checker", "--ttl", "86400").strip()
        err.print(f"starting compliance-shield serve --workers {self.workers} on port {port} ...")
        self.server = ServerProcess([_cli(), "serve", "--workers", str(self.workers)], env, self.root / "serve.log")
        base = f"http://{HOST}:{port}"
        self.server.wait_ready(base + "/ready")
        return Service(
            base_url=base,
            token=token,
            workers=self.workers,
            database_url=str(self.pg.get_uri()),
            server_pid=self.server.process.pid,
            postgres_pid=self.pg.get_pid(),
        )

    def _stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.pg is not None:
            import pgserver

            try:
                pgserver.pg_ctl(  # type: ignore[attr-defined]
                    ["-w", "-m", "fast", "stop"], pgdata=self.pg.pgdata, user=self.pg.system_user, timeout=60
                )
            except (subprocess.SubprocessError, OSError) as exc:
                err.print(f"[yellow]could not stop PostgreSQL in {self.pg.pgdata}: {exc}[/yellow]")
        shutil.rmtree(self.root, ignore_errors=True)


# -- the load loop ---------------------------------------------------------------------------


@dataclass
class Tally:
    """What the HTTP answers were; one per phase (warm-up, measurement)."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    sent: int = 0


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


async def timed_post(conn: Connection, path: str, body: bytes, headers: dict[str, str], tally: Tally) -> bytes | None:
    """POST and record the answer; its body when it is a 200, else None."""
    tally.sent += 1
    started = time.perf_counter()
    try:
        status, content = await conn.post(path, body, headers)
    except TRANSPORT_ERRORS as exc:
        tally.transport_errors[type(exc).__name__] += 1
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
) -> float:
    """Keep a request in flight on each connection until ``seconds`` passed or ``requests`` were sent.

    Returns the elapsed time.
    """
    started = time.perf_counter()
    deadline = started + (seconds if seconds is not None else float("inf"))

    async def loop(conn: Connection) -> None:
        while time.perf_counter() < deadline and (requests is None or tally.sent < requests):
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


# -- accounting ------------------------------------------------------------------------------


def _tree_cpu(root: int | None) -> float | None:
    """CPU seconds used by ``root`` and its descendants (reaped children included)."""
    if root is None or not Path("/proc/self/stat").exists():
        return None
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            stats[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK"))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo.extend(child for child, (parent, _) in stats.items() if parent == pid)
    return total


def _machine_cpu() -> float | None:
    """CPU seconds all processes used (``/proc/stat``): the noise of a shared machine shows here."""
    try:
        ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    idle, iowait = ticks[3], ticks[4]
    return (sum(ticks) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def cpu_now(service: Service) -> dict[str, float | None]:
    return {
        "load generator": time.process_time(),
        "server": _tree_cpu(service.server_pid),
        "postgres": _tree_cpu(service.postgres_pid),
        "whole machine": _machine_cpu(),
    }


def cpu_cores(before: dict[str, float | None], after: dict[str, float | None], elapsed: float) -> dict[str, float]:
    """Cores busy on average between two ``cpu_now`` readings."""
    return {
        name: round((end - start) / elapsed, 2)
        for name, end in after.items()
        if end is not None and (start := before[name]) is not None
    }


def cpu_ms_each(cores: dict[str, float], rate: float) -> dict[str, float]:
    """CPU milliseconds per unit of work (request, check) of each of our processes, at ``rate`` a second.

    Unlike throughput, this does not depend on which side ran out of cores first.
    """
    if not rate:
        return {}
    return {name: round(busy / rate * 1000, 3) for name, busy in cores.items() if name != "whole machine"}


async def count_stored(database_url: str, ids: set[str] | None = None) -> int:
    """Decision rows in the database: all of them, or those among ``ids``."""
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        if ids is None:
            return int(await conn.fetchval("SELECT count(*) FROM transfer_compliance_checks"))
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM transfer_compliance_checks WHERE id = ANY($1::uuid[])",
                [uuid.UUID(i) for i in ids],
            )
        )
    finally:
        await conn.close()


#: counters of the service read from ``/metrics`` after the run (cumulative since the server started)
SERVER_METRICS = (
    "compliance_commit_batch_size_sum",
    "compliance_commit_batch_size_count",
    "compliance_commit_failures_total",
    "compliance_ledger_reloads_total",
)


async def server_metrics(http: httpx.AsyncClient) -> dict[str, float]:
    """The ``SERVER_METRICS`` of whichever server process answers (all of them with one worker)."""
    response = await http.get("/metrics")
    if response.status_code != 200:
        return {}
    values: dict[str, float] = {}
    for line in response.text.splitlines():
        name, _, value = line.partition(" ")
        if name in SERVER_METRICS:
            values[name] = float(value)
    return values


def describe_metrics(metrics: dict[str, float], workers: int | None) -> str:
    commits = metrics.get("compliance_commit_batch_size_count")
    if not commits:
        return "—"
    batch = metrics["compliance_commit_batch_size_sum"] / commits
    return (
        f"{commits:,.0f} group commits, {batch:.1f} decisions each on average; "
        f"{metrics.get('compliance_ledger_reloads_total', 0):,.0f} ledger reloads; "
        f"{metrics.get('compliance_commit_failures_total', 0):,.0f} failed commits"
        + ("" if workers == 1 else " (counters of the one server process that answered /metrics)")
    )
