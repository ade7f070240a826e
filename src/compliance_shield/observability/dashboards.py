"""The Grafana dashboards, as code: four dashboards defined here and committed as JSON.

Generated rather than hand-kept because the four share their panel shapes, units and the guide's
targets (drawn as threshold lines), and because a generator is reviewed as a diff of Python
while a Grafana export is thousands of lines of layout noise. The committed JSON under
``deploy/grafana/dashboards`` is what Grafana provisions; a test fails when it differs from what
this module makes, and another checks that every metric a panel queries is really exported::

    python -m compliance_shield.observability.dashboards deploy/grafana/dashboards

The guide's derived figures come from the recording rules of ``deploy/prometheus/rules.yml``
(``compliance:…``), so a panel and the alert on the same figure cannot disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from compliance_shield.domain import encoding
from compliance_shield.observability.dashboard_model import Dashboard, Panel, build, p, q, rate

HITS_BY_NAMESPACE = (
    rate('compliance_cache_requests_total{result="hit"}', "namespace", "30m")
    + " / "
    + rate("compliance_cache_requests_total", "namespace", "30m")
)

# The definitions read as tables, a panel a line or two: the formatter is kept off them.
# fmt: off
OVERVIEW = Dashboard(
    "compliance-overview",
    "ComplianceShield / Overview",
    "The deployment guide's application metrics against their targets.",
    (
        ("Targets", (
            Panel("Transfer-check latency p99 (target < 100 ms)",
                  (q("compliance:transfer_check_latency_seconds:p99_5m", "p99"),), "s", 0.1),
            Panel("Checks per second (design: 10,000+)", (
                q("compliance:checks:rate5m", "all"), q("compliance:checks:rate5m_by_status", "{{status}}"),
            ), "reqps"),
            Panel("Approval rate (expected 80–90 %)",
                  (q("compliance:checks:approval_ratio_30m", "approved"),), "percentunit", 0.8, "below"),
            Panel("Escalation rate (expected < 10 %)",
                  (q("compliance:checks:escalation_ratio_30m", "escalated"),), "percentunit", 0.1),
            Panel("API error rate, 5xx (target < 0.1 %)",
                  (q("compliance:http_requests:error_ratio_5m", "5xx"),), "percentunit", 0.001),
            Panel("Provider-answer cache hit rate (target > 95 %)",
                  (q("compliance:cache:hit_ratio_30m", "hit rate"),), "percentunit", 0.95, "below"),
        )),
        ("Traffic", (
            Panel("Requests by status", (
                q(rate("compliance_http_request_duration_seconds_count", "status"), "{{status}}"),
            ), "reqps"),
            Panel("Processes by kind", (q("count by (kind) (compliance_build_info)", "{{kind}}"),)),
        )),
    ),
)

DECISION_PATH = Dashboard(
    "compliance-decision-path",
    "ComplianceShield / Decision path",
    "Where a check spends its time, how decisions are committed, and admission.",
    (
        ("Latency by stage", (
            Panel("API latency p99 by route",
                  (q("compliance:http_request_duration_seconds:p99_by_route_5m", "{{route}}"),), "s", 0.1),
            Panel("Check: admission to committed decision", (
                q(p(0.5, "compliance_check_duration_seconds"), "p50"),
                q("compliance:check_latency_seconds:p99_5m", "p99"),
            ), "s", 0.1),
            Panel("Evidence gathering (providers, before queueing)", (
                q(p(0.5, "compliance_evidence_duration_seconds"), "p50"),
                q(p(0.99, "compliance_evidence_duration_seconds"), "p99"),
            ), "s"),
            Panel("Name screening of one name",
                  (q(p(0.99, "compliance_name_screening_duration_seconds"), "p99"),), "s"),
        )),
        ("Group commit", (
            Panel("Decisions per commit", (
                q("compliance:commit_batch_size:mean_5m", "mean"),
                q(p(0.99, "compliance_commit_batch_size"), "p99"),
            )),
            Panel("Commits per second and failures", (
                q(rate("compliance_commit_batch_size_count"), "commits"),
                q(rate("compliance_commit_failures_total"), "failed"),
            ), "ops"),
        )),
        ("Admission and routing", (
            Panel("Checks waiting, per process sum", (q("sum(compliance_checks_pending)", "pending"),)),
            Panel("Refused: 503 OVERLOADED", (q("compliance:checks_shed:rate5m", "refused/s"),), "reqps", 0.0),
            Panel("Checks handed to their token's owner process", (
                q(rate("compliance_checks_forwarded_total", "result"), "{{result}}"),
            ), "reqps"),
            Panel("Answered from a stored decision (Idempotency-Key)", (
                q(rate("compliance_idempotent_replays_total"), "replays"),
            ), "reqps"),
            Panel("Evidence missing (checks escalated, fail closed)", (
                q(rate("compliance_evidence_unavailable_total", "evidence"), "{{evidence}}"),
            ), "reqps"),
        )),
    ),
)

PROVIDERS = Dashboard(
    "compliance-providers",
    "ComplianceShield / Providers and breakers",
    "Ballerine, Chainalysis and Marble: latency against the guide's targets, failures, breakers, cache.",
    (
        ("Providers", (
            Panel("Latency p99 by provider (Ballerine, Marble < 200 ms; Chainalysis < 500 ms)",
                  (q("compliance:provider_call_duration_seconds:p99_5m", "{{provider}}"),), "s", 0.2),
            Panel("Calls by outcome", (
                q(rate("compliance_provider_calls_total", "provider, outcome"), "{{provider}} {{outcome}}"),
            ), "reqps"),
            Panel("Failed calls per minute (alert > 10/min)",
                  (q("compliance:provider_failures:increase1m", "{{provider}}"),), "short", 10),
            Panel("Retries", (q(rate("compliance_provider_retries_total", "provider"), "{{provider}}"),), "reqps"),
        )),
        ("Circuit breakers", (
            Panel("Breaker state (0 closed, 1 half-open, 2 open)", (
                q("max by (provider) (compliance_provider_circuit_state)", "{{provider}}"),
            ), "short", 2),
            Panel("Breaker openings per hour", (
                q("sum by (provider) (increase(compliance_provider_circuit_opened_total[1h]))", "{{provider}}"),
            )),
        )),
        ("Cache and webhooks", (
            Panel("Cache hit rate by namespace", (q(HITS_BY_NAMESPACE, "{{namespace}}"),),
                  "percentunit", 0.95, "below"),
            Panel("Cache look-ups by tier and result", (
                q(rate("compliance_cache_requests_total", "tier, result"), "{{tier}} {{result}}"),
                q(rate("compliance_cache_errors_total", "op"), "redis error {{op}}"),
            ), "ops"),
            Panel("KYT withdrawal attempts pending", (q("max(compliance_kyt_pending)", "pending"),)),
            Panel("Webhooks by result", (
                q(rate("compliance_webhooks_total", "provider, result"), "{{provider}} {{result}}"),
            ), "reqps"),
        )),
    ),
)

DATA = Dashboard(
    "compliance-data",
    "ComplianceShield / Data",
    "PostgreSQL, the outbox and Kafka, the chain, the audit chain and the reference data.",
    (
        ("PostgreSQL", (
            Panel("Statement p99 (target < 20 ms)",
                  (q("compliance:db_query_duration_seconds:p99_5m", "p99"),), "s", 0.02),
            Panel("Statements per second", (
                q(rate("compliance_db_query_duration_seconds_count", "outcome"), "{{outcome}}"),
            ), "ops"),
            Panel("Pool utilisation by pod (target < 80 %)",
                  (q("compliance:db_pool:utilisation", "{{instance}}"),), "percentunit", 0.8),
            Panel("Long-running statements (> LONG_QUERY_SECONDS)", (
                q("max(compliance_db_long_running_queries)", "count"),
                q("max(compliance_db_longest_query_seconds)", "longest (s)"),
            ), "short", 0.0),
        )),
        ("Outbox and Kafka", (
            Panel("Outbox: unpublished events and age of the oldest", (
                q("max(compliance_relay_unpublished)", "unpublished"),
                q("max(compliance_relay_lag_seconds)", "oldest (s)"),
            )),
            Panel("Relay: published, failed rounds, leaders", (
                q(rate("compliance_relay_published_total"), "published/s"),
                q(rate("compliance_relay_failures_total"), "failed rounds/s"),
                q("sum(compliance_relay_leader)", "leaders"),
            )),
            Panel("compliance-consumer-group lag by partition", (
                q("sum by (partition) (compliance_consumer_lag_messages)", "partition {{partition}}"),
            ), "short", 1000),
            Panel("Consumer: requests by outcome, retries", (
                q(rate("compliance_consumer_messages_total", "outcome"), "{{outcome}}"),
                q(rate("compliance_consumer_retries_total"), "retries"),
            ), "ops"),
        )),
        ("Chain", (
            Panel("Oracle writes open, and age of the oldest", (
                q("max by (status) (compliance_oracle_open_writes)", "{{status}}"),
                q("max(compliance_oracle_oldest_open_write_seconds)", "oldest (s)"),
            )),
            Panel("Oracle write transitions",
                  (q(rate("compliance_oracle_writes_total", "result"), "{{result}}"),), "ops"),
            Panel("Chain indexer: blocks behind the head",
                  (q("max(compliance_indexer_lag_blocks)", "blocks"),), "short", 100),
        )),
        ("Audit chain and reference data", (
            Panel("Audit chain intact (1) at the last walk", (q("min(compliance_audit_chain_intact)", "intact"),),
                  "short", 1, "below", kind="stat", width=6),
            Panel("Since the last walk", (
                q("time() - max(compliance_audit_chain_verified_timestamp_seconds)", "age"),
            ), "s", 3 * 3600, kind="stat", width=6),
            Panel("Audit entries checked",
                  (q("max(compliance_audit_chain_entries)", "entries"),), kind="stat", width=6),
            Panel("Listed names in the screening index",
                  (q("max(compliance_screening_index_names)", "names"),), kind="stat", width=6),
            Panel("Snapshot entities by kind", (q("max by (kind) (compliance_snapshot_entities)", "{{kind}}"),)),
            Panel("Snapshot reloads, ledger catch-ups and reloads", (
                q(rate("compliance_snapshot_reloads_total", "table"), "{{table}}"),
                q(rate("compliance_ledger_catchups_total"), "ledger catch-ups"),
                q(rate("compliance_ledger_reloads_total"), "ledger reloads"),
            ), "ops"),
            Panel("Names screened, and list imports", (
                q(rate("compliance_name_screenings_total", "purpose"), "{{purpose}}"),
                q("sum by (source, result) (increase(compliance_sanctions_list_imports_total[1h]))",
                  "import {{source}} {{result}}"),
            )),
        )),
    ),
)
# fmt: on

DASHBOARDS = (OVERVIEW, DECISION_PATH, PROVIDERS, DATA)


def write(directory: Path) -> list[Path]:
    """Write each dashboard as ``<uid>.json`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for dashboard in DASHBOARDS:
        path = directory / f"{dashboard.uid}.json"
        path.write_text(encoding.dumps_readable(build(dashboard)))
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m compliance_shield.observability.dashboards DIRECTORY", file=sys.stderr)
        return 2
    for path in write(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
