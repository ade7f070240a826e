"""Where the cores went and what the service's database holds.

``cpu_now`` reads the CPU time of the load generator, the server, PostgreSQL and the whole
machine; ``count_stored`` counts decision rows, ``count_data_set`` the seeded rows;
``server_metrics`` reads the service's own counters.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

from bench._harness import Service

#: the tables of the data set ``compliance-shield seed`` loads, as the report names them
DATA_SET_TABLES = {"investors": "investors", "wallets": "wallets", "tokens": "tokens", "holdings": "holdings"}


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


async def count_data_set(database_url: str) -> dict[str, int]:
    """Rows of each table of the data set (the issuer's treasury among the investors)."""
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        return {
            name: int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608 (names of this module)
            for name, table in DATA_SET_TABLES.items()
        }
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
