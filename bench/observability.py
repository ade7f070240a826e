"""What observing a request costs: the HTTP middleware, and a metric update in each metrics mode.

1. The same trivial endpoint called through the ASGI stack ``--requests`` times, with and
   without ``RequestObservabilityMiddleware`` (duration histogram, request id, log context),
   alternately ``--rounds`` times; the best round of each is compared (the least disturbed by
   other work on the machine).
2. A counter increment plus a histogram observation, in a child process in prometheus-client's
   default (in-memory) mode and in one in multiprocess mode (memory-mapped files, as the server
   processes of ``serve --workers N`` run)::

    python -m bench.observability [--requests 20000] [--rounds 4] [--json]

No network, no database: per-request overhead only, on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from compliance_shield.observability.http import RequestObservabilityMiddleware

PATH = "/v1/compliance/transfer-check"

#: run in a child process, so that the metrics mode is chosen before prometheus-client is imported
METRIC_LOOP = """
import sys, time
from prometheus_client import Counter, Histogram
counter = Counter("bench_total", "bench", ["status"]).labels("APPROVED")
histogram = Histogram("bench_seconds", "bench", buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25))
n = int(sys.argv[1])
started = time.perf_counter()
for _ in range(n):
    counter.inc()
    histogram.observe(0.003)
print((time.perf_counter() - started) / n * 1e6)
"""


async def _endpoint(request: Request) -> Response:
    return Response(b"{}", media_type="application/json")


def _app(observed: bool) -> Starlette:
    app = Starlette(routes=[Route(PATH, _endpoint, methods=["POST"])])
    if observed:
        app.add_middleware(RequestObservabilityMiddleware)
    return app


async def _per_request_us(app: Starlette, requests: int) -> float:
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": PATH, "raw_path": PATH.encode(), "root_path": "", "query_string": b"", "server": ("bench", 80),
        "headers": [(b"content-type", b"application/json"), (b"authorization", b"Bearer x")],
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Any) -> None:
        return None

    await app(dict(scope), receive, send)  # warm up: routes, label children
    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - started) / requests * 1e6


def _metric_update_us(multiprocess: bool, updates: int) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as directory:
        if multiprocess:
            env["PROMETHEUS_MULTIPROC_DIR"] = directory
        done = subprocess.run(
            [sys.executable, "-c", METRIC_LOOP, str(updates)], env=env, capture_output=True, text=True, check=True
        )
    return float(done.stdout)


def measure(requests: int, rounds: int) -> dict[str, float]:
    plain, observed = [], []
    for _ in range(rounds):
        plain.append(asyncio.run(_per_request_us(_app(False), requests)))
        observed.append(asyncio.run(_per_request_us(_app(True), requests)))
    updates = requests * 5
    best_plain, best_observed = round(min(plain), 2), round(min(observed), 2)
    return {
        "plain_us_per_request": best_plain,
        "observed_us_per_request": best_observed,
        "middleware_overhead_us": round(best_observed - best_plain, 2),
        "metric_update_us_in_memory": round(_metric_update_us(False, updates), 2),
        "metric_update_us_multiprocess": round(_metric_update_us(True, updates), 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.observability", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000, help="requests per round (default 20000)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds; the best of each counts")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.rounds < 1:
        parser.error("--requests and --rounds must be positive")
    result = measure(args.requests, args.rounds)
    if args.json:
        print(json.dumps(result))
    else:
        for name, value in result.items():
            print(f"{name:32} {value:10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
