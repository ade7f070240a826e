"""The evidence caches on a warm, realistic mix, and what a hung Redis costs a check.

It starts a ``redis-server`` of its own and stand-ins for Ballerine and Chainalysis that speak
their documented HTTP shapes on loopback (each answer after ``--vendor-ms``), and builds two
"server processes" — each its own in-process cache and Ballerine/Chainalysis clients — sharing
that Redis, as ``serve --workers 2`` does. A token's policy runs ``kyc_verified`` and
``wallet_risk``; ``--investors`` parties are bound to one wallet each, ``--ballerine-share`` of
them with KYC from Ballerine (the others from the registry). Each check picks its two parties by a
Zipf-like popularity (a few parties trade often, most rarely) and, with ``--new-share``, a
receiver seen for the first time; ``--concurrency`` checks are in flight, alternating between
the two processes, and each runs the evidence step exactly as the check path does
(``ProviderEvidence.gather``): the only part of a check that touches Redis or the providers.

Phases, ``--seconds`` each, after ``--warm-seconds`` of warm-up:

1. ``warm`` — Redis healthy: the hit rate per evidence kind (look-ups answered by the in-process
   tier or Redis, over all look-ups; look-ups that waited for another check's provider call are
   counted apart, as ``coalesced``), the provider calls made, and the latency of the evidence step;
2. ``hung`` — Redis stopped with SIGSTOP (it accepts nothing and refuses nothing);
3. ``recovered`` — SIGCONT, the breaker probes and closes;
4. ``killed`` — Redis killed with SIGKILL.

For each phase it prints checks, p50, p99 and max of the evidence step per check, the Redis
breaker's state and the Redis errors and refusals::

    python -m bench.evidence_cache [--seconds 10] [--concurrency 32] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import httpx
import uvicorn
from prometheus_client import REGISTRY
from rich.console import Console
from rich.table import Table
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from compliance_shield.adapters.ballerine.client import BallerineClient
from compliance_shield.adapters.cache import LocalCache, RedisCache, TieredCache
from compliance_shield.adapters.cache.redis import redis_breaker
from compliance_shield.adapters.chainalysis.sanctions import SanctionsClient
from compliance_shield.adapters.resilience import BreakerState, CircuitBreaker, Resilient, RetryPolicy
from compliance_shield.domain.facts import InvestorFacts, TokenFacts, WalletFacts
from compliance_shield.domain.policy import compile_policy
from compliance_shield.domain.values import BlockchainType, KycStatus, TransferType
from compliance_shield.observability.logging import configure_logging
from compliance_shield.reference_data import load_country_lists
from compliance_shield.services.checks.evidence import ProviderEvidence
from compliance_shield.services.checks.gather import CheckRequest
from compliance_shield.services.providers.kyc import KycService
from compliance_shield.services.reference.snapshot import PolicyEntry, Snapshot, TokenEntry

HOST = "127.0.0.1"
TOKEN = uuid5(NAMESPACE_URL, "bench:evidence-cache:token")
POLICY = uuid5(NAMESPACE_URL, "bench:evidence-cache:policy")
KINDS = ("kyc", "chainalysis-sanctions")


# -- the stand-in vendors and Redis ------------------------------------------------------------


def vendor_app(delay: float) -> Starlette:
    """Ballerine's end-user API and Chainalysis's sanctions API, answering after ``delay`` seconds."""

    async def end_user(request: Request) -> JSONResponse:
        await asyncio.sleep(delay)
        return JSONResponse({"id": request.path_params["end_user"], "approvalState": "APPROVED"})

    async def address(request: Request) -> JSONResponse:
        await asyncio.sleep(delay)
        return JSONResponse({"identifications": []})

    return Starlette(
        routes=[
            Route("/api/v1/external/end-users/{end_user}", end_user),
            Route("/api/v1/address/{address}", address),
        ]
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def vendors_server(delay_ms: float) -> Iterator[str]:
    """The stand-in vendors in a process of their own (as real vendors are): their base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.evidence_cache", "--serve-vendors", str(port), "--vendor-ms", str(delay_ms)],
    )
    try:
        wait_for_port(port, server)
        yield f"http://{HOST}:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_for_port(port: int, server: subprocess.Popen[bytes], probe: bytes | None = None) -> None:
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2) as sock:
            if probe is None:
                return
            sock.sendall(probe)
            if sock.recv(16).startswith(b"+PONG"):
                return
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit(f"the server on port {port} did not start")
        time.sleep(0.05)


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (scripts/test installs Debian's redis-server)")
    port, workdir = free_port(), tempfile.mkdtemp(prefix="cs-bench-redis-")
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port, server, b"PING\r\n")
        yield f"redis://{HOST}:{port}/0", server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGCONT)
            server.kill()
            server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


# -- the reference data and the mix ------------------------------------------------------------


class Mix:
    """Parties with a Zipf-like popularity, and receivers seen for the first time."""

    def __init__(self, snapshot: Snapshot, investors: int, ballerine_share: float, new_share: float, seed: int) -> None:
        self.snapshot = snapshot
        self.rng = random.Random(seed)
        self.ballerine_share = ballerine_share
        self.new_share = new_share
        self.addresses = [self.add_party() for _ in range(investors)]
        weights = [1 / (rank + 1) for rank in range(investors)]
        self.cumulative = list(itertools.accumulate(weights))
        self.new_parties = 0

    def add_party(self) -> str:
        index = len(self.snapshot.wallets)
        address = f"0x{index + 1:040x}"
        ballerine = self.rng.random() < self.ballerine_share
        investor = InvestorFacts(
            id=uuid5(NAMESPACE_URL, f"bench:evidence-cache:{index}"),
            name=f"investor {index}",
            country="IN",
            category="retail",
            kyc_status=KycStatus.VERIFIED,
            kyc_provider="ballerine" if ballerine else None,
            kyc_provider_ref=f"eu-{index}" if ballerine else None,
        )
        self.snapshot.investors[investor.id] = investor
        self.snapshot.wallets[address] = WalletFacts(address=address, investor_id=investor.id)
        return address

    def pairs(self) -> Iterator[CheckRequest]:
        """One check per party (each with the next): what a service that has been up a while has seen."""
        for i, sender in enumerate(self.addresses):
            yield self.check(sender, self.addresses[(i + 1) % len(self.addresses)], i + 1)

    def pick(self) -> str:
        return self.rng.choices(self.addresses, cum_weights=self.cumulative)[0]

    def request(self, amount: int) -> CheckRequest:
        sender = self.pick()
        if self.rng.random() < self.new_share:
            receiver = self.add_party()
            self.new_parties += 1
        else:
            receiver = self.pick()
            while receiver == sender:
                receiver = self.pick()
        return self.check(sender, receiver, amount)

    @staticmethod
    def check(sender: str, receiver: str, amount: int) -> CheckRequest:
        return CheckRequest(
            token_id=TOKEN,
            from_address=sender,
            to_address=receiver,
            amount=amount,
            blockchain_type=BlockchainType.PERMISSIONED,
            transfer_type=TransferType.SECONDARY,
            principal="bench",
            request_hash=f"{amount:064x}",
        )


def build_snapshot() -> Snapshot:
    snap = Snapshot(load_country_lists())
    snap.tokens[TOKEN] = TokenEntry(TokenFacts(id=TOKEN, symbol="BENCH", price_per_unit=1000), POLICY)
    document = {
        "name": "bench-evidence-cache",
        "jurisdiction": "IN",
        "as_of": "2026-12-04",
        "rules": [{"rule": r, "source": "bench"} for r in ("kyc_verified", "wallet_risk")],
    }
    snap.policies[POLICY] = PolicyEntry(POLICY, 1, compile_policy(document))
    snap.stale = False
    return snap


# -- one "server process" ------------------------------------------------------------------------


@dataclass
class Process:
    cache: TieredCache
    evidence: ProviderEvidence
    kyc: KycService


def process(snapshot: Snapshot, http: httpx.AsyncClient, vendors: str, redis_url: str, deadline_ms: float) -> Process:
    shared = RedisCache.from_url(redis_url, op_timeout=deadline_ms / 1000, breaker=redis_breaker(3, 5.0))
    cache = TieredCache(LocalCache(), shared)

    def resilient(name: str) -> Resilient:
        return Resilient(name, RetryPolicy(timeout=2.0, retries=1), CircuitBreaker(name, failure_threshold=50))

    ballerine = BallerineClient(http, vendors, "bench-key", resilient("ballerine"))
    # the registry is not written: every end user is APPROVED and every investor verified, so
    # no pulled answer differs from the registry's (no background write is started)
    kyc = KycService(None, None, snapshot, cache, client=ballerine)  # type: ignore[arg-type]
    sanctions = SanctionsClient(http, vendors, "bench-key", resilient("chainalysis"))
    evidence = ProviderEvidence(cache=cache, sanctions=sanctions, kyc=kyc, deadline=5.0)
    return Process(cache, evidence, kyc)


# -- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KindRate:
    kind: str
    lookups: int
    local_hits: int
    redis_hits: int
    coalesced: int
    misses: int
    hit_rate: float


@dataclass(frozen=True, slots=True)
class PhaseResult:
    phase: str
    checks: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    breaker: str
    redis_errors: int
    redis_refused: int
    vendor_calls: int


def cache_counts() -> Counter[tuple[str, str, str]]:
    counts: Counter[tuple[str, str, str]] = Counter()
    for metric in REGISTRY.collect():
        if metric.name == "compliance_cache_requests":
            for s in metric.samples:
                if s.name.endswith("_total"):
                    counts[(s.labels["namespace"], s.labels["tier"], s.labels["result"])] += int(s.value)
    return counts


def provider_calls() -> int:
    """Calls to the providers (every outcome), from the service's own metric."""
    return sum(
        int(s.value)
        for metric in REGISTRY.collect()
        if metric.name == "compliance_provider_calls"
        for s in metric.samples
        if s.name.endswith("_total")
    )


def redis_counts() -> tuple[int, int]:
    errors = refused = 0
    for metric in REGISTRY.collect():
        for s in metric.samples:
            if s.name == "compliance_cache_errors_total":
                errors += int(s.value)
            elif s.name == "compliance_redis_refused_total":
                refused += int(s.value)
    return errors, refused


def rates(before: Counter[tuple[str, str, str]], after: Counter[tuple[str, str, str]]) -> list[KindRate]:
    delta = after - before
    out = []
    for kind in KINDS:
        local = delta[(kind, "local", "hit")]
        redis = delta[(kind, "redis", "hit")]
        coalesced = delta[(kind, "flight", "coalesced")]
        misses = delta[(kind, "local", "miss")] + delta[(kind, "redis", "miss")]
        total = local + redis + coalesced + misses
        out.append(KindRate(kind, total, local, redis, coalesced, misses, (local + redis) / total if total else 0.0))
    return out


async def drive(processes: list[Process], mix: Mix, seconds: float, concurrency: int) -> list[float]:
    """Run checks' evidence steps for ``seconds`` with ``concurrency`` in flight; their latencies (ms)."""
    latencies: list[float] = []
    counter = itertools.count()
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < stop:
            n = next(counter)
            chosen = processes[n % len(processes)]
            request = mix.request(n + 1)
            started = time.perf_counter()
            await chosen.evidence.gather(request, mix.snapshot)
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def warm(processes: list[Process], mix: Mix, concurrency: int) -> None:
    """Every party once, ``concurrency`` checks at a time, alternating between the processes."""
    requests = list(mix.pairs())
    for start in range(0, len(requests), concurrency):
        chunk = requests[start : start + concurrency]
        await asyncio.gather(
            *(processes[i % len(processes)].evidence.gather(r, mix.snapshot) for i, r in enumerate(chunk))
        )


def breaker_state(processes: list[Process]) -> str:
    states = {p.cache.shared.breaker.state.name.lower() for p in processes if p.cache.shared is not None}
    return "/".join(sorted(states))


async def phase(name: str, processes: list[Process], mix: Mix, seconds: float, concurrency: int) -> PhaseResult:
    errors, refused = redis_counts()
    calls = provider_calls()
    latencies = await drive(processes, mix, seconds, concurrency)
    errors_after, refused_after = redis_counts()
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return PhaseResult(
        phase=name,
        checks=len(latencies),
        p50_ms=statistics.median(latencies),
        p99_ms=quantiles[98],
        max_ms=max(latencies),
        breaker=breaker_state(processes),
        redis_errors=errors_after - errors,
        redis_refused=refused_after - refused,
        vendor_calls=provider_calls() - calls,
    )


async def run(args: argparse.Namespace) -> tuple[list[KindRate], list[PhaseResult], dict[str, Any]]:
    snapshot = build_snapshot()
    mix = Mix(snapshot, args.investors, args.ballerine_share, args.new_share, args.seed)
    with redis_server() as (redis_url, redis), vendors_server(args.vendor_ms) as base:
        async with httpx.AsyncClient(timeout=5.0, limits=httpx.Limits(max_connections=100)) as http:
            processes = [process(snapshot, http, base, redis_url, args.redis_deadline_ms) for _ in range(2)]
            try:
                for p in processes:
                    assert p.cache.shared is not None
                    await p.cache.shared.open_connections()
                await warm(processes, mix, args.concurrency)
                await drive(processes, mix, args.warm_seconds, args.concurrency)
                before = cache_counts()
                results = [await phase("warm", processes, mix, args.seconds, args.concurrency)]
                kinds = rates(before, cache_counts())
                redis.send_signal(signal.SIGSTOP)
                results.append(await phase("hung", processes, mix, args.seconds, args.concurrency))
                redis.send_signal(signal.SIGCONT)
                await asyncio.sleep(5.0)  # the breaker's reset time: the next operation probes
                results.append(await phase("recovered", processes, mix, args.seconds, args.concurrency))
                redis.kill()
                redis.wait(timeout=10)
                results.append(await phase("killed", processes, mix, args.seconds, args.concurrency))
            finally:
                if redis.poll() is None:
                    redis.send_signal(signal.SIGCONT)
                for p in processes:
                    await p.kyc.close()
                    await p.cache.close()
    ballerine_parties = sum(1 for i in snapshot.investors.values() if i.kyc_provider == "ballerine")
    setup = {
        "investors": len(snapshot.investors),
        "ballerine_backed": ballerine_parties,
        "new_parties": mix.new_parties,
        "vendor_ms": args.vendor_ms,
        "redis_deadline_ms": args.redis_deadline_ms,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        # the other work on the host: the latencies here are the host's as much as the code's
        "load_average_1m": round(os.getloadavg()[0], 2),
        "breaker_closed_at_end": all(
            p.cache.shared is None or p.cache.shared.breaker.state is not BreakerState.OPEN for p in processes
        ),
    }
    return kinds, results, setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per phase")
    parser.add_argument("--warm-seconds", type=float, default=5.0, help="warm-up before the first phase")
    parser.add_argument("--concurrency", type=int, default=32, help="checks in flight")
    parser.add_argument("--investors", type=int, default=2000, help="parties, one wallet each")
    parser.add_argument("--ballerine-share", type=float, default=0.6, help="share of parties KYC'd by Ballerine")
    parser.add_argument("--new-share", type=float, default=0.005, help="share of checks with a first-seen receiver")
    parser.add_argument("--vendor-ms", type=float, default=20.0, help="latency of each stand-in vendor answer")
    parser.add_argument("--redis-deadline-ms", type=float, default=5.0, help="REDIS_DEADLINE_MS")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--log-level", default="error", help="of the service's own log lines")
    parser.add_argument("--serve-vendors", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_vendors:
        uvicorn.run(vendor_app(args.vendor_ms / 1000), host=HOST, port=args.serve_vendors, log_level="warning")
        return
    # the breaker's and Redis's warnings would drown the tables: only errors are logged
    configure_logging(args.log_level.upper())
    kinds, phases, setup = asyncio.run(run(args))
    if args.json:
        print(json.dumps({"setup": setup, "kinds": [asdict(k) for k in kinds], "phases": [asdict(p) for p in phases]}))
        return
    console = Console()
    table = Table(title=f"hit rate per evidence kind on the warm mix ({setup['investors']:,} parties, 2 processes)")
    for column in ("kind", "look-ups", "local hits", "redis hits", "coalesced", "misses", "hit rate"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for k in kinds:
        table.add_row(
            k.kind, f"{k.lookups:,}", f"{k.local_hits:,}", f"{k.redis_hits:,}", f"{k.coalesced:,}",
            f"{k.misses:,}", f"{k.hit_rate:.2%}",
        )  # fmt: skip
    table.add_row("kyc (registry)", "—", "snapshot", "—", "—", "—", "no look-up")
    console.print(table)
    table = Table(
        title="evidence step per check (the part of a check that touches Redis and the providers), "
        f"host load average {setup['load_average_1m']}"
    )
    for column in ("phase", "checks", "p50 ms", "p99 ms", "max ms", "breaker", "redis errors", "refused", "calls"):
        table.add_column(column, justify="left" if column in ("phase", "breaker") else "right")
    for r in phases:
        table.add_row(
            r.phase, f"{r.checks:,}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", f"{r.max_ms:.1f}", r.breaker,
            f"{r.redis_errors:,}", f"{r.redis_refused:,}", f"{r.vendor_calls:,}",
        )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
