"""Every Prometheus metric of the service, declared in one place."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CHECKS = Counter("compliance_checks_total", "Completed transfer checks by outcome", ["status"])
CHECK_LATENCY = Histogram(
    "compliance_check_duration_seconds",
    "Time from request to committed decision",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
COMMIT_BATCH_SIZE = Histogram(
    "compliance_commit_batch_size",
    "Decisions committed per group-commit transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
COMMIT_FAILURES = Counter("compliance_commit_failures_total", "Group commits that failed (decisions not recorded)")
IDEMPOTENT_REPLAYS = Counter("compliance_idempotent_replays_total", "Requests answered from a stored decision")
SNAPSHOT_RELOADS = Counter("compliance_snapshot_reloads_total", "Reference-data snapshot reloads by table", ["table"])
LEDGER_RELOADS = Counter(
    "compliance_ledger_reloads_total", "Token ledgers reloaded because another process changed them"
)
SNAPSHOT_SIZE = Gauge("compliance_snapshot_entities", "Entities held in the reference-data snapshot", ["kind"])
