"""The report of the transfer-check benchmarks: the correctness checks, the findings and tables."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from bench._harness import Service, latency_ms
from bench.accounting import cpu_ms_each, describe_metrics
from bench.load import CHECK_PATH, CheckTally, Measured


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
            "check": "non-compliant requests get their outcome and reason",
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
        "data_set": run.data_set,
        "escalation_receivers": sum(len(t.peps) for t in run.tokens),
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
        "seed_seconds": service.seed_seconds,
        "ready_seconds": service.ready_seconds,
        "concurrency": args.concurrency,
        "view": args.view,
        "rate": args.rate,
        "seconds": round(run.elapsed, 3),
        "warmup_requests": sum(run.warmup.statuses.values()),
        "requests": answered,
        "errors": {str(s): n for s, n in sorted(statuses.items()) if s != 200},
        "transport_errors": dict(run.warmup.transport_errors + run.tally.transport_errors),
        "shed": run.warmup.shed + run.tally.shed,
        "throughput_rps": round(rate, 1),
        "latency_ms": latency_ms(run.tally.latencies),
        **findings(run),
        "cpu_ms_per_request": cpu_ms_each(run.cpu_cores, rate),
        "checks": checks,
        "ok": all(c["ok"] for c in checks),
    }


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


def describe_data_set(report: dict[str, Any]) -> str:
    """The seeded rows and how long seeding and start-up took (when the bench ran the server)."""
    counts = report["data_set"]
    if counts is None:
        return "the running server's (not counted)"
    text = ", ".join(f"{n:,} {table}" for table, n in counts.items())
    timings = [
        f"{label} in {report[key]:.1f} s"
        for key, label in (("seed_seconds", "seeded"), ("ready_seconds", "server ready"))
        if report.get(key) is not None
    ]
    return text + (f" ({', '.join(timings)})" if timings else "")


def describe_tokens(tokens: dict[str, int]) -> str:
    """Each traded token with its compliant holders (the senders of ordinary transfers)."""
    return f"{len(tokens)}: " + ", ".join(f"{s} ({n:,})" for s, n in tokens.items())


def _latencies(lat: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.1f}" for k, v in lat.items())


def _cores(cores: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in cores.items()) or "—"


def _ms(each: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in each.items()) or "—"


def runs_row(report: dict[str, Any], unit: str = "req/s") -> list[tuple[str, str]]:
    """The per-run line when there were several runs (the table shows the run of median throughput)."""
    runs = report.get("runs", ())
    if len(runs) < 2:
        return []
    each = ", ".join(f"{r['rate']:,.0f} (p99 {r['p99_ms'] or 0:.1f} ms)" for r in runs)
    return [(f"runs ({unit})", f"{each}; median {report['rate_median']:,.1f}; shown: the median run")]


def render(report: dict[str, Any], console: Console) -> None:
    rows = [
        ("data set", describe_data_set(report)),
        ("server workers", str(report["workers"] or "?")),
        (
            "connections",
            f"{report['concurrency']}, view={report['view']}"
            + (f", paced at {report['rate']:,.0f}/s (open loop)" if report["rate"] else ""),
        ),
        ("traded tokens", describe_tokens(report["tokens"])),
        ("duration", f"{report['seconds']:.1f} s (after {report['warmup_requests']} warm-up requests)"),
        ("requests", f"{report['requests']:,}"),
        ("errors", ", ".join(f"{s}: {n}" for s, n in report["errors"].items()) or "0"),
        ("shed (503 OVERLOADED)", f"{report['shed']:,}"),
        ("throughput", f"{report['throughput_rps']:,.1f} req/s"),
        ("latency ms", _latencies(report["latency_ms"])),
        *runs_row(report),
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
                *(
                    [
                        (
                            "runs (req/s)",
                            ", ".join(f"{r:,.0f}" for r in base["runs_rps"])
                            + f"; median {base['throughput_rps_median']:,.1f}",
                        )
                    ]
                    if len(base.get("runs_rps", ())) > 1
                    else []
                ),
                ("latency ms", _latencies(base["latency_ms"])),
                ("CPU (cores busy)", _cores(base["cpu_cores"])),
                ("CPU ms per request", _ms(base["cpu_ms_per_request"])),
                ("service / baseline", "—" if ratio is None else f"{ratio:.3f} of the baseline's throughput (medians)"),
            ],
            console,
        )
    render_findings(report, console)
