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
CHECKS_SHED = Counter(
    "compliance_checks_shed_total", "Checks refused at once (503 OVERLOADED): too many were waiting to be decided"
)
CHECKS_PENDING = Gauge("compliance_checks_pending", "Checks admitted and not yet answered (at most MAX_PENDING_CHECKS)")
CHECKS_FORWARDED = Counter(
    "compliance_checks_forwarded_total",
    "Single checks handed to the server process owning their token, by result (answered, unreachable, lost)",
    ["result"],
)
RATE_LIMITED = Counter("compliance_rate_limited_total", "Requests refused (429) because their subject's rate was spent")
RATE_LIMIT_UNAVAILABLE = Counter(
    "compliance_rate_limit_unavailable_total", "Requests let through because the rate limit's Redis was unavailable"
)
IDEMPOTENT_REPLAYS = Counter("compliance_idempotent_replays_total", "Requests answered from a stored decision")
SNAPSHOT_RELOADS = Counter("compliance_snapshot_reloads_total", "Reference-data snapshot reloads by table", ["table"])
LEDGER_CATCHUPS = Counter(
    "compliance_ledger_catchups_total",
    "Token ledgers brought up to date from another process's recorded changes (no reload)",
)
LEDGER_RELOADS = Counter(
    "compliance_ledger_reloads_total", "Token ledgers reloaded because another process changed them"
)
SNAPSHOT_SIZE = Gauge("compliance_snapshot_entities", "Entities held in the reference-data snapshot", ["kind"])

# -- external evidence providers (Ballerine, Chainalysis, Marble) and their caches ------------------
PROVIDER_CALLS = Counter(
    "compliance_provider_calls_total",
    "Calls to external evidence providers by outcome (ok, timeout, error, rejected, circuit_open)",
    ["provider", "operation", "outcome"],
)
PROVIDER_LATENCY = Histogram(
    "compliance_provider_call_duration_seconds",
    "Latency of one attempt of a call to an external evidence provider",
    ["provider", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PROVIDER_RETRIES = Counter(
    "compliance_provider_retries_total", "Retried attempts of idempotent provider calls", ["provider", "operation"]
)
PROVIDER_BREAKER_STATE = Gauge(
    "compliance_provider_circuit_state", "Circuit breaker per provider: 0 closed, 1 half-open, 2 open", ["provider"]
)
PROVIDER_BREAKER_OPENED = Counter(
    "compliance_provider_circuit_opened_total", "Times a provider's circuit breaker opened", ["provider"]
)
EVIDENCE_UNAVAILABLE = Counter(
    "compliance_evidence_unavailable_total", "Checks gathered without a piece of evidence (fail closed)", ["evidence"]
)
EVIDENCE_LATENCY = Histogram(
    "compliance_evidence_duration_seconds",
    "Time spent gathering external evidence for one check, before it is queued",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
CACHE_REQUESTS = Counter(
    "compliance_cache_requests_total",
    "Provider-answer cache look-ups by namespace, tier (local, redis) and result (hit, miss)",
    ["namespace", "tier", "result"],
)
CACHE_HIT_RATIO = Gauge(
    "compliance_cache_hit_ratio",
    "Share of provider-answer look-ups answered by a cache tier, per namespace",
    ["namespace"],
)
CACHE_ERRORS = Counter(
    "compliance_cache_errors_total", "Redis cache operations that failed (treated as misses)", ["op"]
)
KYT_PENDING = Gauge("compliance_kyt_pending", "KYT withdrawal attempts registered and not yet processed")
WEBHOOKS = Counter(
    "compliance_webhooks_total", "Provider webhooks received by provider and result", ["provider", "result"]
)

# -- Kafka workers: the outbox relay and the transfer-request consumer -----------------------------
RELAY_PUBLISHED = Counter("compliance_relay_published_total", "Outbox events published to Kafka and marked sent")
RELAY_FAILURES = Counter("compliance_relay_failures_total", "Relay rounds with batches the broker did not acknowledge")
RELAY_LEADER = Gauge("compliance_relay_leader", "1 while this process is the active outbox relay")
RELAY_UNPUBLISHED = Gauge("compliance_relay_unpublished", "Outbox events not yet published (seen by the active relay)")
CONSUMER_MESSAGES = Counter(
    "compliance_consumer_messages_total",
    "Transfer-request messages handled, by outcome (decided, dead_lettered)",
    ["outcome"],
)
CONSUMER_RETRIES = Counter(
    "compliance_consumer_retries_total", "Consumer batches rewound for a retry (decision or publish unavailable)"
)

# -- sanctions lists and name screening -------------------------------------------------------------
LIST_IMPORTS = Counter(
    "compliance_sanctions_list_imports_total", "Sanctions list imports by source and result", ["source", "result"]
)
NAME_SCREENINGS = Counter(
    "compliance_name_screenings_total", "Names screened against the sanctions lists by purpose", ["purpose"]
)
NAME_SCREENING_LATENCY = Histogram(
    "compliance_name_screening_duration_seconds",
    "Time to screen one name against the in-memory index",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025),
)
SCREENING_INDEX_NAMES = Gauge("compliance_screening_index_names", "Listed names held in the name-screening index")
