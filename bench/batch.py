"""HTTP load benchmark of ``POST /v1/compliance/transfer-check/batch``.

Runs on the harness of ``bench.checks`` (seed and serve on a throw-away data folder, or
``--url``/``--token``) with its request mix: each batch carries ``--batch-size`` transfers of
that mix, each with an ``idempotency_key`` of its own — fresh, or for a repeat the key of a
transfer answered in an earlier batch (never the same key twice in one batch). ``--concurrency``
connections each keep one batch in flight.

It prints checks per second, batch latency percentiles, errors (of batches and of items) and the
outcome mix, and checks that every item got an answer in its place, that no item failed, that
repeats got their original decision back, that the non-compliant kinds were rejected with their
reason and that every distinct decision answered is stored (read from the database). Exit
status: 0 when every check passed, 1 when one failed, 2 when the bench could not run.

    python -m bench.batch [--seconds 20] [--batch-size 1000] [--concurrency 4] [--view full|summary]
                          [--workers 2] [--investors 100000 --wallets-per-investor 2 --tokens 20]
                          [--url U --token T] [--json]

``--view summary`` asks for answers without the rule trace and request echo (the records keep
both), as a platform that only needs the outcome would.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from rich.console import Console

from bench._harness import Connection, Service, latency_ms, timed_post
from bench.accounting import cpu_ms_each, describe_metrics
from bench.checks import add_service_arguments, check_arguments, run_main
from bench.load import CHECK_PATH, CheckTally, Driver, Measured, Pick, measure
from bench.report import correctness, findings, render_findings, render_table, runs_row

BATCH_PATH = f"{CHECK_PATH}/batch"
#: the most transfers the endpoint takes in one batch
MAX_BATCH = 1000


@dataclass
class BatchTally(CheckTally):
    #: items answered with a decision
    checked: int = 0
    #: items answered with an error, by "status code"
    item_errors: Counter[str] = field(default_factory=Counter)
    #: batches whose results did not match their items one for one
    short_answers: int = 0


def _item(pick: Pick) -> bytes:
    """The single-check body with the pick's key added as ``idempotency_key``."""
    return pick.body[:-1] + b',"idempotency_key":' + orjson.dumps(pick.key) + b"}"


class BatchSender:
    """Sends batches of the driver's picks and records each item's answer as a single check's."""

    def __init__(self, driver: Driver, size: int, view: str) -> None:
        self.driver = driver
        self.size = size
        self.path = f"{BATCH_PATH}?view={view}"

    def picks(self) -> list[Pick]:
        picks: list[Pick] = []
        keys: set[str] = set()
        while len(picks) < self.size:
            pick = self.driver.pick()
            if pick.key not in keys:  # a repeat drawn twice: the second is left out
                keys.add(pick.key)
                picks.append(pick)
        return picks

    async def send(self, conn: Connection, tally: BatchTally) -> None:
        picks = self.picks()
        payload = b'{"transfers":[' + b",".join(_item(p) for p in picks) + b"]}"
        content = await timed_post(conn, self.path, payload, {}, tally)
        if content is None:
            return
        results = orjson.loads(content)["results"]
        if len(results) != len(picks):
            tally.short_answers += 1
        for pick, result in zip(picks, results, strict=False):  # a length mismatch is counted above
            if result["status_code"] == 200:
                tally.checked += 1
                self.driver.record(tally, pick, result["check"])
                continue
            error = result.get("error") or {}
            tally.item_errors[f"{result['status_code']} {error.get('code')}"] += 1
            if len(tally.error_samples) < 5:
                tally.error_samples.append(f"item {result['status_code']} {orjson.dumps(error).decode()[:300]}")


def summarize(service: Service, args: argparse.Namespace, run: Measured[BatchTally]) -> dict[str, Any]:
    warmup, tally = run.warmup, run.tally
    statuses = warmup.statuses + tally.statuses
    item_errors = dict(warmup.item_errors + tally.item_errors)
    short = warmup.short_answers + tally.short_answers
    checks = [
        *correctness(run, sum(n for s, n in statuses.items() if s >= 500)),
        {"check": "every item answered in its place", "ok": short == 0, "detail": f"{short} batches mismatched"},
        {"check": "no item errors", "ok": not item_errors, "detail": str(item_errors or "none")},
    ]
    batches = sum(tally.statuses.values())
    rate = tally.checked / run.elapsed if run.elapsed else 0.0
    return {
        "target": service.base_url,
        "workers": service.workers,
        "concurrency": args.concurrency,
        "batch_size": args.batch_size,
        "view": args.view,
        "seconds": round(run.elapsed, 3),
        "warmup_batches": sum(warmup.statuses.values()),
        "batches": batches,
        "transfers_checked": tally.checked,
        "errors": {str(s): n for s, n in sorted(statuses.items()) if s != 200},
        "item_errors": item_errors,
        "transport_errors": dict(warmup.transport_errors + tally.transport_errors),
        "shed_batches": warmup.shed + tally.shed,
        "checks_per_second": round(rate, 1),
        "batches_per_second": round(batches / run.elapsed, 2) if run.elapsed else 0.0,
        "batch_latency_ms": latency_ms(tally.latencies),
        **findings(run),
        "cpu_ms_per_check": cpu_ms_each(run.cpu_cores, rate),
        "checks": checks,
        "ok": all(c["ok"] for c in checks),
    }


async def bench(service: Service, args: argparse.Namespace) -> tuple[dict[str, Any], list[bytes]]:
    def sender(driver: Driver) -> Any:
        return BatchSender(driver, args.batch_size, args.view).send

    run = await measure(service, args, BatchTally, sender, warmup=args.concurrency)
    return summarize(service, args, run), []


def render(report: dict[str, Any], console: Console) -> None:
    rows = [
        ("server workers", str(report["workers"] or "?")),
        ("connections", f"{report['concurrency']} (one batch in flight each)"),
        ("batch size", f"{report['batch_size']:,} transfers, view={report['view']}"),
        ("traded tokens", ", ".join(f"{s} ({n} holders)" for s, n in report["tokens"].items())),
        ("duration", f"{report['seconds']:.1f} s (after {report['warmup_batches']} warm-up batches)"),
        ("batches", f"{report['batches']:,} ({report['batches_per_second']:,.2f}/s)"),
        ("transfers checked", f"{report['transfers_checked']:,}"),
        ("throughput", f"{report['checks_per_second']:,.1f} checks/s"),
        *runs_row(report, "checks/s"),
        ("batch latency ms", "  ".join(f"{k} {v:.1f}" for k, v in report["batch_latency_ms"].items())),
        ("batch errors", ", ".join(f"{s}: {n}" for s, n in report["errors"].items()) or "0"),
        ("shed batches (503 OVERLOADED)", f"{report['shed_batches']:,}"),
        ("item errors", ", ".join(f"{s}: {n}" for s, n in report["item_errors"].items()) or "0"),
        ("outcomes", ", ".join(f"{k} {v:,}" for k, v in sorted(report["outcomes"].items()))),
        ("idempotent repeats", f"{report['idempotent_repeats']:,} ({report['repeat_mismatches']} mismatched)"),
        ("distinct decisions", f"{report['distinct_decisions']:,}"),
        ("stored decisions", "—" if report["stored_decisions"] is None else f"{report['stored_decisions']:,}"),
        ("server counters", describe_metrics(report["server_metrics"], report["workers"])),
        ("CPU (cores busy)", ", ".join(f"{k} {v:.2f}" for k, v in report["cpu_cores"].items()) or "—"),
        ("CPU ms per check", ", ".join(f"{k} {v:.3f}" for k, v in report["cpu_ms_per_check"].items()) or "—"),
    ]
    render_table(f"POST {BATCH_PATH} → {report['target']}", rows, console)
    render_findings(report, console)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time (default 20)")
    parser.add_argument("--batch-size", type=int, default=MAX_BATCH, help=f"transfers a batch (default {MAX_BATCH})")
    parser.add_argument("--concurrency", type=int, default=4, help="keep-alive connections (default 4)")
    parser.add_argument(
        "--view", choices=("full", "summary"), default="full", help="answer shape asked for (default full)"
    )
    add_service_arguments(parser)
    args = parser.parse_args(argv)
    check_arguments(parser, args, ("seconds", "batch_size", "concurrency", "workers", "investors", "runs"))
    if args.batch_size > MAX_BATCH:
        parser.error(f"--batch-size is at most {MAX_BATCH} (the endpoint's limit)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(
        _parse(argv), bench, render, baseline=False, rate_key="checks_per_second", latency_key="batch_latency_ms"
    )


if __name__ == "__main__":
    sys.exit(main())
