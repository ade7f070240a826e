"""The machine's ceiling for the HTTP benchmarks: a FastAPI app that answers a fixed object.

``bench.checks`` serves ``app`` the way ``compliance-shield serve`` serves the service (uvicorn
with its default event loop and HTTP parser, the same worker count and host, access log off, a
subprocess) and drives it with the same load generator: same connections, request bodies and
headers, warm-up and duration. The service's throughput is then read as a share of what this
machine does with no work per request. By hand::

    uvicorn bench.baseline:app --app-dir . --workers 1 --no-access-log

The server processes import this module whole; the harness it imports costs them start-up time,
nothing per request.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI

from bench._harness import (
    HOST,
    Connection,
    ServerProcess,
    Service,
    Tally,
    connections,
    err,
    free_port,
    latency_ms,
    run_load,
    timed_post,
)
from bench.accounting import cpu_cores, cpu_ms_each, cpu_now

PATH = "/baseline"
#: the answer: shaped like a (much shorter) decision
ANSWER: dict[str, Any] = {"status": "APPROVED", "risk_score": 0}

app = FastAPI(title="bench baseline", openapi_url=None, docs_url=None, redoc_url=None)


@app.get(PATH)
@app.post(PATH)
async def baseline() -> dict[str, Any]:
    """The fixed answer; a request body is accepted and not read."""
    return ANSWER


class BaselineServer(AbstractContextManager[Service]):
    """``app`` under uvicorn in a subprocess, stopped on exit.

    ``token`` is not checked by the app: it is only sent along so that requests carry the same
    headers as those sent to the service.
    """

    def __init__(self, workers: int, token: str) -> None:
        self.workers = workers
        self.token = token
        self.root = Path(tempfile.mkdtemp(prefix="cs-baseline-"))
        self.server: ServerProcess | None = None

    def __enter__(self) -> Service:
        port = free_port()
        argv = [sys.executable, "-m", "uvicorn", "bench.baseline:app", "--app-dir", str(Path(__file__).parents[1])]
        argv += ["--host", HOST, "--port", str(port), "--workers", str(self.workers)]
        argv += ["--log-level", "warning", "--no-access-log"]
        err.print(f"starting the baseline app (uvicorn --workers {self.workers}) on port {port} ...")
        try:
            self.server = ServerProcess(argv, dict(os.environ), self.root / "baseline.log")
            base = f"http://{HOST}:{port}"
            self.server.wait_ready(base + PATH)
        except BaseException:
            self.__exit__()
            raise
        return Service(base, self.token, workers=self.workers, server_pid=self.server.process.pid)

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.stop()
        shutil.rmtree(self.root, ignore_errors=True)


async def measure_baseline(
    service: Service, bodies: Sequence[bytes], *, concurrency: int, seconds: float | None, requests: int | None
) -> dict[str, Any]:
    """Drive the baseline as the service was driven; throughput, latency and CPU as reported for it."""
    numbers = itertools.count()
    prefix = f"baseline-{uuid.uuid4().hex[:12]}"

    async def send(conn: Connection, tally: Tally) -> None:
        n = next(numbers)
        headers = {"Idempotency-Key": f"{prefix}-{n}"}
        content = await timed_post(conn, PATH, bodies[n % len(bodies)], headers, tally)
        if content is not None:
            orjson.loads(content)  # parsed, as a decision is

    async with connections(service, concurrency) as conns:
        err.print(f"baseline: warming up ({2 * concurrency} requests), then measuring ...")
        await run_load(conns, send, Tally(), seconds=None, requests=2 * concurrency)
        tally = Tally()
        before = cpu_now(service)
        elapsed = await run_load(conns, send, tally, seconds=seconds, requests=requests)
        cores = cpu_cores(before, cpu_now(service), elapsed)
    answered = sum(tally.statuses.values())
    rate = answered / elapsed if elapsed else 0.0
    return {
        "target": service.base_url + PATH,
        "workers": service.workers,
        "seconds": round(elapsed, 3),
        "requests": answered,
        "errors": {str(s): n for s, n in sorted(tally.statuses.items()) if s != 200},
        "transport_errors": dict(tally.transport_errors),
        "error_samples": tally.error_samples,
        "throughput_rps": round(rate, 1),
        "latency_ms": latency_ms(tally.latencies),
        "cpu_cores": cores,
        "cpu_ms_per_request": cpu_ms_each(cores, rate),
    }
