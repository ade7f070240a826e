"""HTTP load benchmark of ``POST /v1/compliance/transfer-check``, against the machine's ceiling.

By default it runs the service the way users do, on a throw-away data folder:

1. ``compliance-shield seed --investors N --wallets-per-investor W --tokens T`` loads the data
   set (default 100,000 investors, 2 wallets each, 20 tokens over the shipped templates, with
   their holdings) into the embedded PostgreSQL in ``DATA_DIR`` (a temporary folder);
   ``compliance-shield token`` makes an admin token;
2. ``compliance-shield serve --workers W`` starts the server on a free port; the bench waits for
   ``GET /ready`` and stops the server (SIGTERM, then kill) and PostgreSQL at the end;
3. it reads the tokens, holders and wallets straight from that database and makes requests in a
   realistic mix (``bench.plans``): small secondary transfers between compliant holders of every
   token, senders taking turns so velocity limits are reached late (approved), transfers to
   unbound addresses and above the sender's balance (rejected), to politically exposed
   investors (escalated), and repeats carrying an ``Idempotency-Key`` already answered;
4. it drives the server from this process (``--concurrency`` HTTP/1.1 keep-alive connections,
   one request in flight on each) and prints the data set, seeding and start-up times,
   throughput, latency percentiles, CPU used by each process, errors and the outcome mix;
5. it checks that every distinct decision answered is stored (read directly from the database),
   that every repeat got its original decision back, that each non-compliant kind got its
   outcome and reason, and that nothing answered 5xx;
6. unless ``--no-baseline``: with the service stopped, it serves ``bench.baseline`` (a FastAPI
   endpoint answering a fixed object) the same way — uvicorn, same workers and host, no access
   log — drives it with the same connections, bodies and duration, and prints the service's
   throughput as a share of that ceiling.

With ``--url`` and ``--token`` it targets a running server instead (seeded with
``compliance-shield seed``; its data set is read through the API, which suits the 1,000-investor
demo) and skips the database check (the baseline still runs on this machine). Exit status: 0
when every check passed, 1 when one failed, 2 when the bench could not run.

    python -m bench.checks [--seconds 20 | --requests N] [--concurrency 64] [--workers 2]
                           [--view full|summary] [--rate R] [--investors 100000] [--wallets-per-investor 2]
                           [--tokens 20] [--url U --token T] [--no-baseline] [--json]

``--view summary`` asks for answers without the rule trace and request echo, as a platform that
only needs the outcome would (the records keep both). ``--rate R`` sends R checks a second at a
fixed pace instead of one after another on each connection (an open loop: latency counts from when
a request was due, so the percentiles show what callers see at that load, not at saturation).
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from rich.console import Console

from bench._harness import BenchError, Service, err, runner
from bench.baseline import BaselineServer, measure_baseline
from bench.load import CheckTally, measure
from bench.report import render, summarize
from bench.service import LocalService
from compliance_shield.services.reference.seed_data import DataSetSize


async def bench(service: Service, args: argparse.Namespace) -> tuple[dict[str, Any], list[bytes]]:
    """The report, and the request bodies sent (the baseline is sent the same)."""
    run = await measure(
        service, args, CheckTally, lambda d: d.send, warmup=2 * args.concurrency, requests=args.requests
    )
    return summarize(service, args, run), run.driver.bodies


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.checks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time (default 20)")
    parser.add_argument("--requests", type=int, help="stop after this many measured requests instead")
    parser.add_argument("--concurrency", type=int, default=64, help="keep-alive connections (default 64)")
    parser.add_argument(
        "--view", choices=("full", "summary"), default="full", help="answer shape asked for (default full)"
    )
    parser.add_argument(
        "--rate", type=float, help="checks per second at a fixed pace (open loop; default: as fast as answered)"
    )
    add_service_arguments(parser)
    parser.add_argument("--no-baseline", action="store_true", help="skip measuring the trivial baseline app")
    args = parser.parse_args(argv)
    if args.requests is not None:
        args.seconds = None
    check_arguments(parser, args, ("concurrency", "requests", "seconds", "rate", "runs"))
    return args


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=2, help="server processes to start (default 2)")
    parser.add_argument("--investors", type=int, default=100_000, help="investors to seed (default 100000)")
    parser.add_argument("--wallets-per-investor", type=int, default=2, help="wallets each (default 2)")
    parser.add_argument("--tokens", type=int, default=20, help="tokens over the shipped templates (default 20)")
    parser.add_argument("--url", help="target a running, seeded server instead of starting one")
    parser.add_argument("--token", help="bearer token with roles admin,checker (with --url)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the request mix (run i uses seed + i)")
    parser.add_argument(
        "--runs", type=int, default=3, help="measured runs of the service, then of the baseline; medians (default 3)"
    )
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line (last)")


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace, positive: Sequence[str]) -> None:
    """Check the service arguments and the ``positive`` ones; ``args.size`` is the data set to seed."""
    if (args.url is None) != (args.token is None):
        parser.error("--url and --token go together")
    if args.workers <= 0:
        parser.error("--workers must be positive")
    try:
        args.size = DataSetSize(args.investors, args.wallets_per_investor, args.tokens)
    except ValueError as exc:
        parser.error(str(exc))
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
    rate_key: str = "throughput_rps",
    latency_key: str = "latency_ms",
) -> int:
    """Start (or reach) the service, run the bench, then the baseline; print; the exit status."""
    # stopped like Ctrl-C: the servers and the database we started are stopped on the way out
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    target: AbstractContextManager[Service] = (
        nullcontext(Service(args.url.rstrip("/"), args.token)) if args.url else LocalService(args.workers, args.size)
    )
    try:
        with runner() as loop:
            reports: list[dict[str, Any]] = []
            with target as service:
                for i in range(args.runs):  # each run its own mix (a new seed), on the same data set
                    report, bodies = loop.run(
                        run_bench(service, argparse.Namespace(**{**vars(args), "seed": args.seed + i}))
                    )
                    reports.append(report)
            bases: list[dict[str, Any]] = []
            if baseline:  # after the service stopped: nothing of ours competes with it
                with BaselineServer(service.workers or args.workers, service.token) as trivial:
                    for _ in range(args.runs):
                        bases.append(
                            loop.run(
                                measure_baseline(
                                    trivial, bodies, concurrency=args.concurrency, seconds=args.seconds,
                                    requests=args.requests,
                                )
                            )
                        )  # fmt: skip
            report = combine_runs(reports, bases, rate_key=rate_key, latency_key=latency_key)
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


def combine_runs(
    reports: list[dict[str, Any]],
    bases: list[dict[str, Any]],
    *,
    rate_key: str = "throughput_rps",
    latency_key: str = "latency_ms",
) -> dict[str, Any]:
    """One report of several runs: the run of median throughput is shown in full; throughput, the
    baseline and their ratio are medians; every run's correctness checks must have held."""
    by_rate = sorted(reports, key=lambda r: r[rate_key])
    report = dict(by_rate[(len(by_rate) - 1) // 2])
    report["ok"] = all(r["ok"] for r in reports)
    report["runs"] = [
        {"rate": r[rate_key], "p50_ms": r[latency_key].get("p50"), "p99_ms": r[latency_key].get("p99")} for r in reports
    ]
    report["rate_median"] = statistics.median(r[rate_key] for r in reports)
    if bases:
        base = dict(sorted(bases, key=lambda b: b["throughput_rps"])[(len(bases) - 1) // 2])
        base["runs_rps"] = [b["throughput_rps"] for b in bases]
        base["throughput_rps_median"] = statistics.median(b["throughput_rps"] for b in bases)
        report["baseline"] = base
        rate = base["throughput_rps_median"]
        report["ratio_to_baseline"] = round(report["rate_median"] / rate, 3) if rate else None
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    return run_main(args, bench, render, baseline=not args.no_baseline)


if __name__ == "__main__":
    sys.exit(main())
