"""HTTP load benchmark of ``POST /v1/compliance/transfer-check``.

By default it runs the service the way users do, on a throw-away data folder:

1. ``compliance-shield seed --investors N`` loads the demo data set into the embedded PostgreSQL
   in ``DATA_DIR`` (a temporary folder); ``compliance-shield token`` makes an admin token;
2. ``compliance-shield serve --workers W`` starts the server on a free port; the bench waits for
   ``GET /ready`` and stops the server (SIGTERM, then kill) and PostgreSQL at the end;
3. it reads tokens, holdings, investors and wallets through the API and builds a request mix:
   small secondary transfers between compliant holders of the demo tokens (approved until a
   sender reaches its velocity limit), transfers to unbound addresses and above the sender's
   balance (rejected), and repeats carrying an ``Idempotency-Key`` already answered;
4. it drives the server from this process (httpx, HTTP/1.1 keep-alive connections) and prints
   throughput, latency percentiles, errors and the outcome mix;
5. it checks that every distinct decision answered is stored (read directly from the database),
   that every repeat got its original decision back, and that nothing answered 5xx.

With ``--url`` and ``--token`` it targets a running server seeded with the demo data set
instead, and skips the database check. Exit status: 0 when every check passed, 1 when one
failed, 2 when the bench could not run.

    python -m bench.checks [--seconds 20 | --requests N] [--concurrency 64] [--workers 1]
                           [--investors 1000] [--url U --token T] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import math
import os
import random
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
from collections.abc import Sequence
from contextlib import AbstractContextManager, AsyncExitStack, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from rich.console import Console
from rich.table import Table

CHECK_PATH = "/v1/compliance/transfer-check"
#: demo tokens traded by ordinary transfers: share of those transfers, largest amount in whole units
TRADED: dict[str, tuple[float, int]] = {
    "ACME-PP": (0.30, 5),  # private placement, ₹1,000 a unit
    "METRO-SMR": (0.25, 2),  # SM REIT, ₹10,000 a unit
    "ALPHA-AIF": (0.20, 1),  # AIF, ₹1 lakh a unit
    "BHARAT-EQ": (0.25, 10),  # listed equity, ₹2,500 a unit
}
#: share of each kind of request; repeats reuse a key (and body) answered earlier
MIX: dict[str, float] = {"ordinary": 0.75, "unbound": 0.08, "over_balance": 0.07, "repeat": 0.10}
#: the reason each deliberately non-compliant kind must be rejected with
EXPECTED_REJECTION = {"unbound": "WALLET_NOT_BOUND", "over_balance": "INSUFFICIENT_BALANCE"}
PLANS = 8192

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


# -- running the service as users do ---------------------------------------------------------


def _cli() -> str:
    beside = Path(sys.executable).with_name("compliance-shield")
    found = str(beside) if beside.exists() else shutil.which("compliance-shield")
    if found is None:
        raise BenchError("the compliance-shield command is not installed (pip install -e .)")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class LocalService(AbstractContextManager[Service]):
    """Seed, start and finally stop ``compliance-shield serve`` on a temporary ``DATA_DIR``."""

    def __init__(self, workers: int, investors: int) -> None:
        self.workers = workers
        self.investors = investors
        self.root = Path(tempfile.mkdtemp(prefix="cs-bench-"))  # short: PostgreSQL's socket lives in it
        self.data_dir = self.root / "data"
        self.log = self.root / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
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
        port = _free_port()
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
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [_cli(), "serve", "--workers", str(self.workers)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the bench, which stops the server itself
            )
        base = f"http://127.0.0.1:{port}"
        self._wait_ready(base)
        return Service(
            base_url=base,
            token=token,
            workers=self.workers,
            database_url=str(self.pg.get_uri()),
            server_pid=self.process.pid,
            postgres_pid=self.pg.get_pid(),
        )

    def _wait_ready(self, base: str, timeout: float = 120) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=base, timeout=2, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise BenchError(f"the server exited ({self.process.returncode}):\n{_tail(self.log)}")
                try:
                    if client.get("/ready").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        raise BenchError(f"the server was not ready within {timeout:.0f} s:\n{_tail(self.log)}")

    def _stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                err.print("[yellow]the server ignored SIGTERM for 30 s: killing it[/yellow]")
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if self.pg is not None:
            import pgserver

            try:
                pgserver.pg_ctl(  # type: ignore[attr-defined]
                    ["-w", "-m", "fast", "stop"], pgdata=self.pg.pgdata, user=self.pg.system_user, timeout=60
                )
            except (subprocess.SubprocessError, OSError) as exc:
                err.print(f"[yellow]could not stop PostgreSQL in {self.pg.pgdata}: {exc}[/yellow]")
        shutil.rmtree(self.root, ignore_errors=True)


# -- the data set, read through the API ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holder:
    investor_id: str
    address: str
    name: str
    balance: int


@dataclass(frozen=True, slots=True)
class TradedToken:
    id: str
    symbol: str
    unit: int
    holders: list[Holder]


async def _pages(client: httpx.AsyncClient, path: str, **params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = params | {"limit": "500"} | ({"cursor": cursor} if cursor else {})
        response = await client.get(path, params=query)
        if response.status_code != 200:
            raise BenchError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items


def _compliant(investor: dict[str, Any], token_id: str, now: datetime) -> bool:
    """A party every template approves: verified, Indian, not a PEP, not an insider of the token."""
    expires = investor["kyc_expires_at"]
    accredited = investor["accreditation_expires_at"]
    return (
        investor["kyc_status"] == "verified"
        and (expires is None or datetime.fromisoformat(expires) > now)
        and not investor["pep"]
        and investor["country"] == "IN"
        and investor["nationality"] == "IN"
        and investor["category"] != "issuer"
        and token_id not in investor["designated_tokens"]
        and (investor["category"] != "accredited" or (accredited and datetime.fromisoformat(accredited) > now))
    )


async def load_tokens(client: httpx.AsyncClient) -> list[TradedToken]:
    """The traded demo tokens with their compliant holders (each with an active bound wallet)."""
    now = datetime.now(UTC)
    tokens = {t["symbol"]: t for t in await _pages(client, "/v1/tokens") if t["symbol"] in TRADED}
    if not tokens:
        raise BenchError(f"none of the demo tokens {', '.join(TRADED)} exists: run `compliance-shield seed` first")
    investors = {i["id"]: i for i in await _pages(client, "/v1/investors")}
    eligible = {
        symbol: [
            h
            for h in await _pages(client, f"/v1/tokens/{token['id']}/holdings")
            if int(h["balance"]) > 0 and _compliant(investors[h["investor_id"]], token["id"], now)
        ]
        for symbol, token in tokens.items()
    }
    limit = asyncio.Semaphore(16)

    async def wallet_of(investor_id: str) -> tuple[str, str | None]:
        async with limit:
            response = await client.get("/v1/wallets", params={"investor_id": investor_id})
        if response.status_code != 200:
            raise BenchError(f"GET /v1/wallets answered {response.status_code}: {response.text[:300]}")
        active = [w["address"] for w in response.json()["items"] if w["status"] == "active"]
        return investor_id, active[0] if active else None

    wanted = sorted({h["investor_id"] for rows in eligible.values() for h in rows})
    wallets = dict(await asyncio.gather(*(wallet_of(i) for i in wanted)))
    traded = []
    for symbol, rows in eligible.items():
        holders = [
            Holder(h["investor_id"], address, investors[h["investor_id"]]["name"], int(h["balance"]))
            for h in rows
            if (address := wallets[h["investor_id"]]) is not None
        ]
        if len(holders) >= 2:
            traded.append(TradedToken(tokens[symbol]["id"], symbol, 10 ** int(tokens[symbol]["decimals"]), holders))
    if not traded:
        raise BenchError("no demo token has two compliant holders with active wallets")
    return traded


# -- the request mix -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    kind: str
    #: the serialized request body (None for a repeat: it reuses an answered one)
    body: bytes | None


def _body(token: TradedToken, sender: Holder, to_address: str, amount: int, to_name: str, n: int) -> bytes:
    return orjson.dumps(
        {
            "from_address": sender.address,
            "to_address": to_address,
            "amount": str(amount),
            "token_id": token.id,
            "blockchain_type": "permissioned",
            "transfer_type": "secondary",
            "reference": f"bench-order-{n}",
            "travel_rule": {
                "originator": {"name": sender.name, "account": sender.address},
                "beneficiary": {"name": to_name, "account": to_address},
            },
        }
    )


def build_plans(tokens: list[TradedToken], rng: random.Random, count: int = PLANS) -> list[Plan]:
    """``count`` requests in the ``MIX`` proportions; senders take turns so limits are reached late."""
    turns = {t.symbol: 0 for t in tokens}
    order = {t.symbol: rng.sample(t.holders, len(t.holders)) for t in tokens}
    kinds = rng.choices(list(MIX), weights=list(MIX.values()), k=count)
    plans = []
    for n, kind in enumerate(kinds):
        if kind == "repeat":
            plans.append(Plan(kind, None))
            continue
        token = rng.choices(tokens, weights=[TRADED[t.symbol][0] for t in tokens])[0]
        senders = order[token.symbol]
        sender = senders[turns[token.symbol] % len(senders)]
        turns[token.symbol] += 1
        if kind == "unbound":
            to, name, amount = "0x" + rng.randbytes(20).hex(), "Unknown Buyer", token.unit
        else:
            receiver = rng.choice(senders)
            while receiver is sender:
                receiver = rng.choice(senders)
            to, name = receiver.address, receiver.name
            small = token.unit * rng.randint(1, TRADED[token.symbol][1])
            amount = small if kind == "ordinary" else sender.balance + small
        plans.append(Plan(kind, _body(token, sender, to, amount, name, n)))
    return plans


# -- driving the load ------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[tuple[str, str]] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    repeats: int = 0
    repeat_mismatches: int = 0
    sent: int = 0


class Driver:
    """Sends the plans round-robin, one task per keep-alive connection.

    Each task has a client of its own with one connection, reused for the whole run: httpcore's
    pool examines every pooled connection (a ``poll()`` system call each) on every request, so one
    client holding 64 connections cost ~2.5 ms of CPU per request here, against ~0.5 ms this way —
    on a machine whose cores the server and PostgreSQL need too.
    """

    def __init__(self, plans: list[Plan], rng: random.Random) -> None:
        self.plans = plans
        self.rng = rng
        self.prefix = f"bench-{uuid.uuid4().hex[:12]}"
        self.next = 0
        #: (key, body, id) of answered fresh requests: what repeats resend
        self.answered: list[tuple[str, bytes, str]] = []
        self.ids: set[str] = set()

    def _pick(self) -> tuple[str, str, bytes, str | None]:
        plan = self.plans[self.next % len(self.plans)]
        self.next += 1
        if plan.body is None:
            if self.answered:
                key, body, original = self.answered[self.rng.randrange(len(self.answered))]
                return "repeat", key, body, original
            plan = next(p for p in self.plans if p.body is not None)
        assert plan.body is not None
        return plan.kind, f"{self.prefix}-{self.next}", plan.body, None

    async def send(self, client: httpx.AsyncClient, tally: Tally) -> None:
        kind, key, body, original = self._pick()
        tally.sent += 1
        started = time.perf_counter()
        try:
            response = await client.post(CHECK_PATH, content=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError as exc:
            tally.transport_errors[type(exc).__name__] += 1
            return
        tally.latencies.append(time.perf_counter() - started)
        tally.statuses[response.status_code] += 1
        if response.status_code != 200:
            if len(tally.error_samples) < 5:
                tally.error_samples.append(f"{response.status_code} {response.text[:300]}")
            return
        decision = orjson.loads(response.content)
        check_id, status = decision["id"], decision["status"]
        self.ids.add(check_id)
        if original is not None:
            tally.repeats += 1
            tally.repeat_mismatches += check_id != original
            return
        if len(self.answered) < 20_000:
            self.answered.append((key, body, check_id))
        codes = [r["code"] for r in decision["reasons"]]
        tally.outcomes[status] += 1
        tally.by_kind[(kind, status + (f" ({codes[0]})" if codes else ""))] += 1
        expected = EXPECTED_REJECTION.get(kind)
        if expected is not None and (status != "REJECTED" or expected not in codes):
            tally.unexpected[kind] += 1

    async def run(
        self, clients: list[httpx.AsyncClient], tally: Tally, *, seconds: float | None, requests: int | None
    ) -> float:
        """Send until ``seconds`` passed or ``requests`` were sent; return the elapsed time."""
        started = time.perf_counter()
        deadline = started + (seconds if seconds is not None else float("inf"))

        async def loop(client: httpx.AsyncClient) -> None:
            while time.perf_counter() < deadline and (requests is None or tally.sent < requests):
                await self.send(client, tally)

        await asyncio.gather(*(loop(c) for c in clients))
        return time.perf_counter() - started


# -- CPU accounting (Linux /proc): where the two cores went -----------------------------------


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


def _cpu_now(service: Service) -> dict[str, float | None]:
    return {
        "load generator": time.process_time(),
        "server": _tree_cpu(service.server_pid),
        "postgres": _tree_cpu(service.postgres_pid),
    }


# -- the run ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values`` by the nearest-rank method (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def _stored(database_url: str, ids: set[str] | None = None) -> int:
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


async def _server_metrics(client: httpx.AsyncClient) -> dict[str, float]:
    """The ``SERVER_METRICS`` of whichever server process answers (all of them with one worker)."""
    response = await client.get("/metrics")
    if response.status_code != 200:
        return {}
    values: dict[str, float] = {}
    for line in response.text.splitlines():
        name, _, value = line.partition(" ")
        if name in SERVER_METRICS:
            values[name] = float(value)
    return values


def _client(service: Service, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=service.base_url,
        headers={"Authorization": f"Bearer {service.token}", "Content-Type": "application/json"},
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=300),
        timeout=httpx.Timeout(60, connect=10),
        trust_env=False,  # never through a proxy
    )


async def bench(service: Service, args: argparse.Namespace) -> dict[str, Any]:
    async with AsyncExitStack() as stack:
        setup = await stack.enter_async_context(_client(service, 16))
        tokens = await load_tokens(setup)
        rng = random.Random(args.seed)
        driver = Driver(build_plans(tokens, rng), rng)
        clients = [await stack.enter_async_context(_client(service, 1)) for _ in range(args.concurrency)]
        stored_before = await _stored(service.database_url) if service.database_url else None
        warmup = Tally()
        err.print(f"warming up ({2 * args.concurrency} requests), then measuring ...")
        await driver.run(clients, warmup, seconds=None, requests=2 * args.concurrency)
        tally = Tally()
        cpu_before = _cpu_now(service)
        elapsed = await driver.run(clients, tally, seconds=args.seconds, requests=args.requests)
        cpu_after = _cpu_now(service)
        metrics = await _server_metrics(setup)
    stored = None
    if service.database_url and stored_before is not None:
        added = await _stored(service.database_url) - stored_before
        stored = (added, await _stored(service.database_url, driver.ids))
    return summarize(service, args, tokens, (warmup, tally), driver, elapsed, stored) | {
        "cpu_cores": {
            name: round((after - before) / elapsed, 2)
            for name, after in cpu_after.items()
            if after is not None and (before := cpu_before[name]) is not None
        },
        "server_metrics": metrics,
    }


def summarize(
    service: Service,
    args: argparse.Namespace,
    tokens: list[TradedToken],
    tallies: tuple[Tally, Tally],
    driver: Driver,
    elapsed: float,
    stored: tuple[int, int] | None,
) -> dict[str, Any]:
    """The report; ``stored`` is (rows added, answered ids found) when the database was read."""
    warmup, tally = tallies
    errors = {str(s): n for s, n in sorted((warmup.statuses + tally.statuses).items()) if s != 200}
    transport = dict(warmup.transport_errors + tally.transport_errors)
    server_errors = sum(n for s, n in (warmup.statuses + tally.statuses).items() if s >= 500)
    repeats = warmup.repeats + tally.repeats
    mismatches = warmup.repeat_mismatches + tally.repeat_mismatches
    unexpected = dict(warmup.unexpected + tally.unexpected)
    distinct = len(driver.ids)
    checks = [
        {"check": "no 5xx answers", "ok": server_errors == 0, "detail": f"{server_errors} answered 5xx"},
        {"check": "no transport errors", "ok": not transport, "detail": str(transport or "none")},
        {"check": "repeats return the original decision", "ok": mismatches == 0, "detail": f"{mismatches} differ"},
        {
            "check": "non-compliant requests rejected with their reason",
            "ok": not unexpected,
            "detail": str(unexpected or "all"),
        },
    ]
    if stored is not None:
        added, found = stored
        checks.append(
            {
                "check": "stored decisions == distinct decisions answered",
                "ok": added == distinct == found,
                "detail": f"{added} rows added, {distinct} distinct ids answered, {found} of them found",
            }
        )
    latencies_ms = [x * 1000 for x in tally.latencies]
    answered = sum(tally.statuses.values())
    return {
        "target": service.base_url,
        "workers": service.workers,
        "concurrency": args.concurrency,
        "seconds": round(elapsed, 3),
        "tokens": {t.symbol: len(t.holders) for t in tokens},
        "warmup_requests": sum(warmup.statuses.values()),
        "requests": answered,
        "errors": errors,
        "transport_errors": transport,
        "throughput_rps": round(answered / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {
            name: round(percentile(latencies_ms, q), 2)
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999), ("max", 1.0))
        },
        "outcomes": dict(warmup.outcomes + tally.outcomes),
        "by_kind": {f"{k} → {v}": n for (k, v), n in sorted((warmup.by_kind + tally.by_kind).items())},
        "idempotent_repeats": repeats,
        "repeat_mismatches": mismatches,
        "distinct_decisions": distinct,
        "stored_decisions": None if stored is None else stored[0],
        "db_check": "done" if stored is not None else "skipped (--url: no access to the server's database)",
        "error_samples": warmup.error_samples + tally.error_samples,
        "checks": checks,
        "ok": all(c["ok"] for c in checks),
    }


def _describe_metrics(metrics: dict[str, float], workers: int | None) -> str:
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


def render(report: dict[str, Any], console: Console) -> None:
    lat = report["latency_ms"]
    table = Table(title=f"POST {CHECK_PATH} → {report['target']}", title_justify="left", show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    rows = [
        ("server workers", str(report["workers"] or "?")),
        ("connections", str(report["concurrency"])),
        ("traded tokens", ", ".join(f"{s} ({n} holders)" for s, n in report["tokens"].items())),
        ("duration", f"{report['seconds']:.1f} s (after {report['warmup_requests']} warm-up requests)"),
        ("requests", f"{report['requests']:,}"),
        ("errors", ", ".join(f"{s}: {n}" for s, n in report["errors"].items()) or "0"),
        ("throughput", f"{report['throughput_rps']:,.1f} req/s"),
        ("latency ms", "  ".join(f"{k} {v:.1f}" for k, v in lat.items())),
        ("outcomes", ", ".join(f"{k} {v:,}" for k, v in sorted(report["outcomes"].items()))),
        ("idempotent repeats", f"{report['idempotent_repeats']:,} ({report['repeat_mismatches']} mismatched)"),
        ("distinct decisions", f"{report['distinct_decisions']:,}"),
        ("stored decisions", "—" if report["stored_decisions"] is None else f"{report['stored_decisions']:,}"),
        ("database check", report["db_check"]),
        ("server counters", _describe_metrics(report["server_metrics"], report["workers"])),
        ("CPU (cores busy)", ", ".join(f"{k} {v:.2f}" for k, v in report["cpu_cores"].items()) or "—"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    mix = Table("request kind → outcome (first reason)", "count", title="mix (warm-up included)", title_justify="left")
    for name, n in report["by_kind"].items():
        mix.add_row(name, f"{n:,}")
    console.print(mix)
    for sample in report["error_samples"]:
        console.print(f"[red]error sample:[/red] {sample}")
    for c in report["checks"]:
        mark = "[green]ok[/green]" if c["ok"] else "[red]FAILED[/red]"
        console.print(f"{mark}  {c['check']}: {c['detail']}")
    if report["db_check"] != "done":
        console.print(f"[yellow]not checked[/yellow]  stored decisions: {report['db_check']}")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.checks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time (default 20)")
    parser.add_argument("--requests", type=int, help="stop after this many measured requests instead")
    parser.add_argument("--concurrency", type=int, default=64, help="keep-alive connections (default 64)")
    parser.add_argument("--workers", type=int, default=1, help="server processes to start (default 1)")
    parser.add_argument("--investors", type=int, default=1000, help="investors to seed (default 1000)")
    parser.add_argument("--url", help="target a running, demo-seeded server instead of starting one")
    parser.add_argument("--token", help="bearer token with roles admin,checker (with --url)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the request mix")
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line (last)")
    args = parser.parse_args(argv)
    if (args.url is None) != (args.token is None):
        parser.error("--url and --token go together")
    if args.requests is not None:
        args.seconds = None
    for name in ("concurrency", "workers", "investors", "requests", "seconds"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name} must be positive")
    return args


def _runner() -> asyncio.Runner:
    try:
        import uvloop  # the load generator competes for the same cores: keep its overhead low
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    # stopped like Ctrl-C: the server and PostgreSQL we started are stopped on the way out
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    target: AbstractContextManager[Service] = (
        nullcontext(Service(args.url.rstrip("/"), args.token))
        if args.url
        else LocalService(args.workers, args.investors)
    )
    try:
        with target as service, _runner() as runner:
            report = runner.run(bench(service, args))
    except BenchError as exc:
        err.print(f"[red]the bench could not run:[/red] {exc}")
        return 2
    except KeyboardInterrupt:
        err.print("[yellow]interrupted: server and database stopped[/yellow]")
        return 130
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    render(report, console)
    if args.json:
        print(json.dumps(report), flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
