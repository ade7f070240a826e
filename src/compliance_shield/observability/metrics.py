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
CHECKS_PENDING = Gauge(
    "compliance_checks_pending",
    "Checks admitted and not yet answered (at most MAX_PENDING_CHECKS)",
    multiprocess_mode="livesum",
)
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
SNAPSHOT_SIZE = Gauge(
    "compliance_snapshot_entities",
    "Entities held in the reference-data snapshot",
    ["kind"],
    multiprocess_mode="max",
)

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
    "compliance_provider_circuit_state",
    "Circuit breaker per provider: 0 closed, 1 half-open, 2 open",
    ["provider"],
    multiprocess_mode="max",
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
    multiprocess_mode="mostrecent",
)
CACHE_ERRORS = Counter(
    "compliance_cache_errors_total", "Redis cache operations that failed (treated as misses)", ["op"]
)
# -- Redis as an optional accelerator: its breaker ------------------------------------------------
REDIS_BREAKER_STATE = Gauge(
    "compliance_redis_circuit_state",
    "Circuit breaker in front of Redis: 0 closed, 1 half-open, 2 open",
    ["client"],
    multiprocess_mode="max",
)
REDIS_BREAKER_OPENED = Counter("compliance_redis_circuit_opened_total", "Times the Redis breaker opened", ["client"])
REDIS_REFUSED = Counter(
    "compliance_redis_refused_total", "Redis operations not tried because its breaker was open", ["op"]
)
KYT_PENDING = Gauge(
    "compliance_kyt_pending", "KYT withdrawal attempts registered and not yet processed", multiprocess_mode="max"
)
WEBHOOKS = Counter(
    "compliance_webhooks_total", "Provider webhooks received by provider and result", ["provider", "result"]
)

# -- Kafka workers: the outbox relay and the transfer-request consumer -----------------------------
RELAY_PUBLISHED = Counter("compliance_relay_published_total", "Outbox events published to Kafka and marked sent")
RELAY_FAILURES = Counter("compliance_relay_failures_total", "Relay rounds with batches the broker did not acknowledge")
RELAY_LEADER = Gauge(
    "compliance_relay_leader", "1 while this process is the active outbox relay", multiprocess_mode="livesum"
)
RELAY_UNPUBLISHED = Gauge(
    "compliance_relay_unpublished",
    "Outbox events not yet published (seen by the active relay)",
    multiprocess_mode="max",
)
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
SCREENING_INDEX_NAMES = Gauge(
    "compliance_screening_index_names", "Listed names held in the name-screening index", multiprocess_mode="max"
)

# -- operations: HTTP, database, worker backlogs, audit chain (dashboards and alert rules use these) --
# Gauges name how the processes of one ``serve`` combine in multiprocess mode: ``livesum`` adds
# what each live process holds, ``max`` keeps the largest (every process sees the same figure).
BUILD_INFO = Gauge(
    "compliance_build_info",
    "1 per running process: the package version and the kind of process (api, relay, consumer, ...)",
    ["version", "kind"],
    multiprocess_mode="liveall",
)
HTTP_REQUEST_DURATION = Histogram(
    "compliance_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template, method and status code",
    ["route", "method", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_QUERY_DURATION = Histogram(
    "compliance_db_query_duration_seconds",
    "Time of one database statement issued through the connection pools, by outcome (ok, error)",
    ["outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_POOL_MAX = Gauge(
    "compliance_db_pool_max_connections",
    "Connections the process's database pool may open (DATABASE_POOL_SIZE)",
    multiprocess_mode="livesum",
)
DB_POOL_IN_USE = Gauge(
    "compliance_db_pool_in_use_connections",
    "Connections of the process's database pool lent out to work",
    multiprocess_mode="livesum",
)
DB_LONG_RUNNING = Gauge(
    "compliance_db_long_running_queries",
    "Statements of any client active on the database for longer than LONG_QUERY_SECONDS",
    multiprocess_mode="max",
)
DB_LONGEST_QUERY = Gauge(
    "compliance_db_longest_query_seconds",
    "Age of the longest-running active statement on the database (0 when none)",
    multiprocess_mode="max",
)
OUTBOX_LAG = Gauge(
    "compliance_relay_lag_seconds",
    "Age of the oldest outbox event not yet published to Kafka (0 when none is waiting)",
    multiprocess_mode="max",
)
CONSUMER_LAG = Gauge(
    "compliance_consumer_lag_messages",
    "Transfer requests not yet consumed by compliance-consumer-group, per partition this consumer holds",
    ["topic", "partition"],
    multiprocess_mode="max",
)
ORACLE_OPEN_WRITES = Gauge(
    "compliance_oracle_open_writes",
    "Oracle writes neither confirmed nor failed, by status (pending, submitted)",
    ["status"],
    multiprocess_mode="max",
)
ORACLE_OLDEST_OPEN = Gauge(
    "compliance_oracle_oldest_open_write_seconds",
    "Age of the oldest oracle write neither confirmed nor failed (0 when none)",
    multiprocess_mode="max",
)
ORACLE_WRITES = Counter(
    "compliance_oracle_writes_total",
    "Oracle write transitions by result (queued, submitted, confirmed, retried, failed, cancelled)",
    ["result"],
)
INDEXER_LAG = Gauge(
    "compliance_indexer_lag_blocks",
    "Blocks between the chain head and the indexer's cursor (INDEXER_CONFIRMATIONS of them on purpose)",
    multiprocess_mode="max",
)
AUDIT_CHAIN_INTACT = Gauge(
    "compliance_audit_chain_intact",
    "1 when the last walk of the audit hash chain found it intact, 0 when it found a broken entry",
    multiprocess_mode="min",
)
AUDIT_CHAIN_VERIFIED_AT = Gauge(
    "compliance_audit_chain_verified_timestamp_seconds",
    "Unix time the audit hash chain was last walked",
    multiprocess_mode="max",
)
AUDIT_CHAIN_ENTRIES = Gauge(
    "compliance_audit_chain_entries",
    "Entries checked by the last walk of the audit hash chain",
    multiprocess_mode="max",
)

# -- review cases, AI-drafted reasoning and reports ----------------------------------------------
CASE_STEPS = Counter(
    "compliance_case_steps_total",
    "Review-case steps recorded, by action (case.opened, case.proposed, case.resolved, case.approval_refused, …)",
    ["action"],
)
CASE_NARRATIVES = Counter(
    "compliance_case_narratives_total", "AI narrative drafts by outcome (drafted, failed, deferred)", ["outcome"]
)
