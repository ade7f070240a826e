"""HTTP load benchmark of ``POST /v1/compliance/transfer-check``, against the machine's ceiling.

By default it runs the service the way users do, on a throw-away data folder:

1. ``compliance-shield seed --investors N`` loads the demo data set into the embedded PostgreSQL
   in ``DATA_DIR`` (a temporary folder); ``compliance-shield token`` makes an admin token;
2. ``compliance-shield serve --workers W`` starts the server on a free port; the bench waits for
   ``GET /ready`` and stops the server (SIGTERM, then kill) and PostgreSQL at the end;
3. it reads tokens, holdings, investors and wallets through the API and builds a request mix:
   small secondary transfers between compliant holders of the demo tokens (approved until a
   sender reaches its velocity limit), transfers to unbound addresses and above the sender's
   balance (rejected), and repeats carrying an ``Idempotency-Key`` already answered;
4. it drives the server from this process (``--concurrency`` HTTP/1.1 keep-alive connections,
   one request in flight on each) and prints throughput, latency percentiles, CPU used by each
   process, errors and the outcome mix;
5. it checks that every distinct decision answered is stored (read directly from the database),
   that every repeat got its original decision back, and that nothing answered 5xx;
6. unless ``--no-baseline``: with the service stopped, it serves ``bench.baseline`` (a FastAPI
   endpoint answering a fixed object) the same way — uvicorn, same workers and host, no access
   log — drives it with the same connections, bodies and duration, and prints the service's
   throughput as a share of that ceiling.

With ``--url`` and ``--token`` it targets a running server seeded with the demo data set
instead, and skips the database check (the baseline still runs on this machine). Exit status:
0 when every check passed, 1 when one failed, 2 when the bench could not run.

    python -m bench.checks [--seconds 20 | --requests N] [--concurrency 64] [--workers 1]
                           [--investors 1000] [--url U --token T] [--no-baseline] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractContextManager, AsyncExitStack, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, NamedTuple, TypeVar

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from bench._harness import (
    BenchError,
    Connection,
    LocalService,
    Service,
    Tally,
    client,
    connections,
    count_stored,
    cpu_cores,
    cpu_ms_each,
    cpu_now,
    describe_metrics,
    err,
    latency_ms,
    run_load,
    runner,
    server_metrics,
    timed_post,
)
from bench.baseline import BaselineServer, measure_baseline

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


async def _pages(http: httpx.AsyncClient, path: str, **params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = params | {"limit": "500"} | ({"cursor": cursor} if cursor else {})
        response = await http.get(path, params=query)
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


async def load_tokens(http: httpx.AsyncClient) -> list[TradedToken]:
    """The traded demo tokens with their compliant holders (each with an active bound wallet)."""
    now = datetime.now(UTC)
    tokens = {t["symbol"]: t for t in await _pages(http, "/v1/tokens") if t["symbol"] in TRADED}
    if not tokens:
        raise BenchError(f"none of the demo tokens {', '.join(TRADED)} exists: run `compliance-shield seed` first")
    investors = {i["id"]: i for i in await _pages(http, "/v1/investors")}
    eligible = {
        symbol: [
            h
            for h in await _pages(http, f"/v1/tokens/{token['id']}/holdings")
            if int(h["balance"]) > 0 and _compliant(investors[h["investor_id"]], token["id"], now)
        ]
        for symbol, token in tokens.items()
    }
    limit = asyncio.Semaphore(16)

    async def wallet_of(investor_id: str) -> tuple[str, str | None]:
        async with limit:
            response = await http.get("/v1/wallets", params={"investor_id": investor_id})
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
class CheckTally(Tally):
    outcomes: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[tuple[str, str]] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    repeats: int = 0
    repeat_mismatches: int = 0


class Pick(NamedTuple):
    kind: str
    key: str
    body: bytes
    #: the decision id a repeat must get back (None for a fresh request)
    original: str | None


class Driver:
    """Picks the plans round-robin and records what each decision says about the service."""

    def __init__(self, plans: list[Plan], rng: random.Random) -> None:
        self.plans = plans
        self.rng = rng
        self.prefix = f"bench-{uuid.uuid4().hex[:12]}"
        self.next = 0
        #: (key, body, id) of answered fresh requests: what repeats resend
        self.answered: list[tuple[str, bytes, str]] = []
        self.ids: set[str] = set()

    def pick(self) -> Pick:
        plan = self.plans[self.next % len(self.plans)]
        self.next += 1
        if plan.body is None:
            if self.answered:
                key, body, original = self.answered[self.rng.randrange(len(self.answered))]
                return Pick("repeat", key, body, original)
            plan = next(p for p in self.plans if p.body is not None)
        assert plan.body is not None
        return Pick(plan.kind, f"{self.prefix}-{self.next}", plan.body, None)

    def record(self, tally: CheckTally, pick: Pick, decision: dict[str, Any]) -> None:
        check_id, status = decision["id"], decision["status"]
        self.ids.add(check_id)
        if pick.original is not None:
            tally.repeats += 1
            tally.repeat_mismatches += check_id != pick.original
            return
        if len(self.answered) < 20_000:
            self.answered.append((pick.key, pick.body, check_id))
        codes = [r["code"] for r in decision["reasons"]]
        tally.outcomes[status] += 1
        tally.by_kind[(pick.kind, status + (f" ({codes[0]})" if codes else ""))] += 1
        expected = EXPECTED_REJECTION.get(pick.kind)
        if expected is not None and (status != "REJECTED" or expected not in codes):
            tally.unexpected[pick.kind] += 1

    async def send(self, conn: Connection, tally: CheckTally) -> None:
        pick = self.pick()
        content = await timed_post(conn, CHECK_PATH, pick.body, {"Idempotency-Key": pick.key}, tally)
        if content is not None:
            self.record(tally, pick, orjson.loads(content))


T = TypeVar("T", bound=CheckTally)


@dataclass
class Measured(Generic[T]):
    """One run: the warm-up and measured tallies and what the service did meanwhile."""

    tokens: list[TradedToken]
    driver: Driver
    warmup: T
    tally: T
    elapsed: float
    cpu_cores: dict[str, float]
    server_metrics: dict[str, float]
    #: (rows added, answered ids found) when the database was read
    stored: tuple[int, int] | None


async def measure(
    service: Service,
    args: argparse.Namespace,
    new_tally: Callable[[], T],
    sender: Callable[[Driver], Callable[[Connection, T], Awaitable[None]]],
    *,
    warmup: int,
    requests: int | None = None,
) -> Measured[T]:
    """Load the data set, warm up with ``warmup`` requests, measure, then count what was stored."""
    async with AsyncExitStack() as stack:
        setup = await stack.enter_async_context(client(service, 16))
        tokens = await load_tokens(setup)
        rng = random.Random(args.seed)
        driver = Driver(build_plans(tokens, rng), rng)
        send = sender(driver)
        conns = await stack.enter_async_context(connections(service, args.concurrency))
        stored_before = await count_stored(service.database_url) if service.database_url else None
        warm = new_tally()
        err.print(f"warming up ({warmup} requests), then measuring ...")
        await run_load(conns, send, warm, seconds=None, requests=warmup)
        tally = new_tally()
        before = cpu_now(service)
        elapsed = await run_load(conns, send, tally, seconds=args.seconds, requests=requests)
        cores = cpu_cores(before, cpu_now(service), elapsed)
        metrics = await server_metrics(setup)
    stored = None
    if service.database_url and stored_before is not None:
        added = await count_stored(service.database_url) - stored_before
        stored = (added, await count_stored(service.database_url, driver.ids))
    return Measured(tokens, driver, warm, tally, elapsed, cores, metrics, stored)


# -- the report ------------------------------------------------------------------------------


def correctness(run: Measured[Any], server_errors: int) -> list[dict[str, Any]]:
    """The checks every run must pass, whatever the endpoint."""
    transport = dict(run.warmup.transport_errors + run.tally.transport_errors)
    mismatches = run.warmup.repeat_mismatches + run.tally.repeat_mismatches
    unexpected = dict(run.warmup.unexpected + run.tally.unexpected)
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
    if run.stored is not None:
        added, found = run.stored
        distinct = len(run.driver.ids)
        checks.append(
            {
                "check": "stored decisions == distinct decisions answered",
                "ok": added == distinct == found,
                "detail": f"{added} rows added, {distinct} distinct ids answered, {found} of them found",
            }
        )
    return checks


def findings(run: Measured[Any]) -> dict[str, Any]:
    """The parts of the report about decisions, shared by the single and batch benchmarks."""
    return {
        "tokens": {t.symbol: len(t.holders) for t in run.tokens},
        "outcomes": dict(run.warmup.outcomes + run.tally.outcomes),
        "by_kind": {f"{k} → {v}": n for (k, v), n in sorted((run.warmup.by_kind + run.tally.by_kind).items())},
        "idempotent_repeats": run.warmup.repeats + run.tally.repeats,
        "repeat_mismatches": run.warmup.repeat_mismatches + run.tally.repeat_mismatches,
        "distinct_decisions": len(run.driver.ids),
        "stored_decisions": None if run.stored is None else run.stored[0],
        "db_check": "done" if run.stored is not None else "skipped (--url: no access to the server's database)",
        "error_samples": run.warmup.error_samples + run.tally.error_samples,
        "cpu_cores": run.cpu_cores,
        "server_metrics": run.server_metrics,
    }


def summarize(service: Service, args: argparse.Namespace, run: Measured[CheckTally]) -> dict[str, Any]:
    statuses = run.warmup.statuses + run.tally.statuses
    checks = correctness(run, sum(n for s, n in statuses.items() if s >= 500))
    answered = sum(run.tally.statuses.values())
    rate = answered / run.elapsed if run.elapsed else 0.0
    return {
        "target": service.base_url,
        "workers": service.workers,
        "concurrency": args.concurrency,
        "seconds": round(run.elapsed, 3),
        "warmup_requests": sum(run.warmup.statuses.values()),
        "requests": answered,
        "errors": {str(s): n for s, n in sorted(statuses.items()) if s != 200},
        "transport_errors": dict(run.warmup.transport_errors + run.tally.transport_errors),
        "throughput_rps": round(rate, 1),
        "latency_ms": latency_ms(run.tally.latencies),
        **findings(run),
        "cpu_ms_per_request": cpu_ms_each(run.cpu_cores, rate),
        "checks": checks,
        "ok": all(c["ok"] for c in checks),
    }


async def bench(service: Service, args: argparse.Namespace) -> tuple[dict[str, Any], list[bytes]]:
    """The report, and the request bodies sent (the baseline is sent the same)."""
    run = await measure(
        service, args, CheckTally, lambda d: d.send, warmup=2 * args.concurrency, requests=args.requests
    )
    return summarize(service, args, run), [p.body for p in run.driver.plans if p.body is not None]


def render_table(title: str, rows: Sequence[tuple[str, str]], console: Console) -> None:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def render_findings(report: dict[str, Any], console: Console) -> None:
    """The outcome mix, error samples and the checks, with their verdicts."""
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


def _latencies(lat: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.1f}" for k, v in lat.items())


def _cores(cores: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in cores.items()) or "—"


def _ms(each: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in each.items()) or "—"


def render(report: dict[str, Any], console: Console) -> None:
    rows = [
        ("server workers", str(report["workers"] or "?")),
        ("connections", str(report["concurrency"])),
        ("traded tokens", ", ".join(f"{s} ({n} holders)" for s, n in report["tokens"].items())),
        ("duration", f"{report['seconds']:.1f} s (after {report['warmup_requests']} warm-up requests)"),
        ("requests", f"{report['requests']:,}"),
        ("errors", ", ".join(f"{s}: {n}" for s, n in report["errors"].items()) or "0"),
        ("throughput", f"{report['throughput_rps']:,.1f} req/s"),
        ("latency ms", _latencies(report["latency_ms"])),
        ("outcomes", ", ".join(f"{k} {v:,}" for k, v in sorted(report["outcomes"].items()))),
        ("idempotent repeats", f"{report['idempotent_repeats']:,} ({report['repeat_mismatches']} mismatched)"),
        ("distinct decisions", f"{report['distinct_decisions']:,}"),
        ("stored decisions", "—" if report["stored_decisions"] is None else f"{report['stored_decisions']:,}"),
        ("database check", report["db_check"]),
        ("server counters", describe_metrics(report["server_metrics"], report["workers"])),
        ("CPU (cores busy)", _cores(report["cpu_cores"])),
        ("CPU ms per request", _ms(report["cpu_ms_per_request"])),
    ]
    render_table(f"POST {CHECK_PATH} → {report['target']}", rows, console)
    base = report.get("baseline")
    if base is not None:
        ratio = report["ratio_to_baseline"]
        render_table(
            f"baseline: POST {base['target']} (fixed answer, same server setup and load)",
            [
                ("requests", f"{base['requests']:,} in {base['seconds']:.1f} s"),
                ("errors", ", ".join(f"{s}: {n}" for s, n in base["errors"].items()) or "0"),
                ("throughput", f"{base['throughput_rps']:,.1f} req/s"),
                ("latency ms", _latencies(base["latency_ms"])),
                ("CPU (cores busy)", _cores(base["cpu_cores"])),
                ("CPU ms per request", _ms(base["cpu_ms_per_request"])),
                ("service / baseline", "—" if ratio is None else f"{ratio:.3f} of the baseline's throughput"),
            ],
            console,
        )
    render_findings(report, console)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.checks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time (default 20)")
    parser.add_argument("--requests", type=int, help="stop after this many measured requests instead")
    parser.add_argument("--concurrency", type=int, default=64, help="keep-alive connections (default 64)")
    add_service_arguments(parser)
    parser.add_argument("--no-baseline", action="store_true", help="skip measuring the trivial baseline app")
    args = parser.parse_args(argv)
    if args.requests is not None:
        args.seconds = None
    check_arguments(parser, args, ("concurrency", "workers", "investors", "requests", "seconds"))
    return args


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=1, help="server processes to start (default 1)")
    parser.add_argument("--investors", type=int, default=1000, help="investors to seed (default 1000)")
    parser.add_argument("--url", help="target a running, demo-seeded server instead of starting one")
    parser.add_argument("--token", help="bearer token with roles admin,checker (with --url)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the request mix")
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line (last)")


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace, positive: Sequence[str]) -> None:
    if (args.url is None) != (args.token is None):
        parser.error("--url and --token go together")
    for name in positive:
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")


def run_main(
    args: argparse.Namespace,
    run_bench: Callable[[Service, argparse.Namespace], Coroutine[Any, Any, tuple[dict[str, Any], list[bytes]]]],
    render_report: Callable[[dict[str, Any], Console], None],
    *,
    baseline: bool,
) -> int:
    """Start (or reach) the service, run the bench, then the baseline; print; the exit status."""
    # stopped like Ctrl-C: the servers and the database we started are stopped on the way out
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    target: AbstractContextManager[Service] = (
        nullcontext(Service(args.url.rstrip("/"), args.token))
        if args.url
        else LocalService(args.workers, args.investors)
    )
    try:
        with runner() as loop:
            with target as service:
                report, bodies = loop.run(run_bench(service, args))
            if baseline:  # after the service stopped: nothing of ours competes with it
                with BaselineServer(service.workers or args.workers, service.token) as trivial:
                    base = loop.run(
                        measure_baseline(
                            trivial, bodies, concurrency=args.concurrency, seconds=args.seconds, requests=args.requests
                        )
                    )
                report["baseline"] = base
                rate = base["throughput_rps"]
                report["ratio_to_baseline"] = round(report["throughput_rps"] / rate, 3) if rate else None
    except BenchError as exc:
        err.print(f"[red]the bench could not run:[/red] {exc}")
        return 2
    except KeyboardInterrupt:
        err.print("[yellow]interrupted: servers and database stopped[/yellow]")
        return 130
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    render_report(report, console)
    if args.json:
        print(json.dumps(report), flush=True)
    return 0 if report["ok"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    return run_main(args, bench, render, baseline=not args.no_baseline)


if __name__ == "__main__":
    sys.exit(main())
