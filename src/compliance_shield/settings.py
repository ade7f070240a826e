"""The one validated settings object. Nothing else in the code base reads the environment.

Environment names follow the deployment guide (architecture §6).
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from compliance_shield.domain.values import BlockchainType

#: The secret used when none is configured. Production refuses to start with it.
DEVELOPMENT_JWT_SECRET = "development-only-secret-change-me-0000000000"


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False, populate_by_name=True)

    #: the environment's name: APP_ENV, or the deployment guide's NODE_ENV when APP_ENV is unset
    app_env: AppEnv = Field(default=AppEnv.DEVELOPMENT, validation_alias=AliasChoices("APP_ENV", "NODE_ENV"))
    #: any case (the guide sets ``info``); stored upper-case
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: number of server processes for ``serve``
    workers: int = Field(default=1, ge=1, le=64)
    #: a directory private to one ``serve`` of several processes: each decides the checks of
    #: the tokens it owns and hands the others to their owner (``serve`` sets it; see api/affinity.py)
    writer_peers_dir: Path | None = None
    #: false: every process decides whatever reaches it (the row locks keep that correct)
    writer_affinity: bool = True

    #: PostgreSQL URL; empty means "start the embedded server in ``data_dir``"
    database_url: str | None = None
    data_dir: Path = Path(".data")
    database_pool_size: int = Field(default=10, ge=1, le=200)

    redis_url: str | None = None
    redis_ttl_kyc: int = Field(default=86400, ge=1)
    #: Redis is an optional accelerator: the deadline of one cache operation, and the breaker
    #: in front of it (consecutive failures that open it, seconds it stays open)
    redis_deadline_ms: float = Field(default=5.0, gt=0, le=1000)
    redis_breaker_failures: int = Field(default=3, ge=1, le=1000)
    redis_breaker_reset_seconds: float = Field(default=5.0, gt=0, le=3600)
    #: comma-separated ``host:port`` list; unset or empty → no Kafka (events stay in the outbox and /v1/events)
    kafka_brokers: str | None = Field(default=None, pattern=r"^([^\s,]+:\d{1,5}(,[^\s,]+:\d{1,5})*)?$")
    #: partitions of a topic the workers create because it is missing (production topics are provisioned)
    kafka_topic_partitions: int = Field(default=6, ge=1, le=1000)
    #: idempotent producers (Kafka ≥ 0.11, MSK); off by default because tansu refuses InitProducerId
    kafka_idempotent_producer: bool = False
    #: outbox rows the relay publishes per round
    relay_batch_size: int = Field(default=500, ge=1, le=10000)

    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_JWT_SECRET)
    jwt_issuer: str = "compliance-shield"
    #: during a rotation, the secret being replaced: tokens it signed are still accepted (never issued)
    jwt_secret_previous: SecretStr | None = None
    #: the key id of JWT_SECRET: tokens the service issues name it, so it can be rotated
    jwt_kid: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    #: more HS256 secrets accepted by key id, as a JSON object {"kid": "secret"} (rotation: add the
    #: new one, move issuers over, remove the old one)
    jwt_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    #: an identity provider's JWKS URL: its RS256/ES256 tokens are accepted (issuer JWT_JWKS_ISSUER,
    #: audience JWT_AUDIENCE when set); keys are refetched every JWT_JWKS_REFRESH_SECONDS
    jwt_jwks_url: str | None = Field(default=None, pattern=r"^https?://")
    jwt_jwks_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_refresh_seconds: float = Field(default=300, gt=0, le=86400)

    blockchain_type: BlockchainType = BlockchainType.PERMISSIONED
    besu_rpc_url: str | None = None
    enable_oracle: bool = False
    #: the chain's id; when set, the workers refuse a node that reports another (certificates need it)
    chain_id: int | None = Field(default=None, ge=1)
    #: the ComplianceOracle contract (EIP-712 verifying contract of certificates)
    oracle_address: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{40}$")
    #: key of the account holding WRITER_ROLE on the oracle (sends the approval transactions)
    oracle_private_key: SecretStr | None = None
    #: key of an account holding SIGNER_ROLE (signs certificates); ORACLE_PRIVATE_KEY when unset
    signer_private_key: SecretStr | None = None
    oracle_confirmations: int = Field(default=1, ge=1, le=1000)
    oracle_max_attempts: int = Field(default=5, ge=1, le=100)
    oracle_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    #: permissioned chains: legacy gas price in wei (Besu free-gas networks: 0); unset → the node's eth_gasPrice
    oracle_gas_price_wei: int | None = Field(default=None, ge=0)
    #: public chains: cap on an EIP-1559 transaction's maxFeePerGas
    oracle_max_fee_wei: int = Field(default=500 * 10**9, ge=0)
    #: also record refused checks' restriction codes on chain (ERC-1404 callers see the API's reason)
    oracle_record_restrictions: bool = True
    indexer_confirmations: int = Field(default=6, ge=0, le=10000)
    indexer_batch_blocks: int = Field(default=500, ge=1, le=100000)
    indexer_poll_seconds: float = Field(default=2.0, gt=0, le=300)
    #: the first block the indexer reads when it has no cursor yet
    indexer_start_block: int = Field(default=0, ge=0)
    enable_ai_reasoning: bool = False

    ballerine_api_key: SecretStr | None = None
    marble_api_key: SecretStr | None = None
    chainalysis_api_key: SecretStr | None = None
    grok_api_key: SecretStr | None = None

    # -- evidence providers (each optional; the built-in sources are the default) ------------
    #: Ballerine API (pull client for stale KYC answers): needs BALLERINE_API_KEY too
    ballerine_base_url: str | None = Field(default=None, pattern=r"^https?://")
    #: shared secret that signs Ballerine webhooks (X-HMAC-Signature); unset → webhooks refused
    ballerine_webhook_secret: SecretStr | None = None
    #: Chainalysis sanctions screening API (enabled by CHAINALYSIS_API_KEY)
    chainalysis_base_url: str = Field(default="https://public.chainalysis.com", pattern=r"^https?://")
    #: Chainalysis KYT (enabled by CHAINALYSIS_KYT_API_KEY)
    chainalysis_kyt_base_url: str = Field(default="https://api.chainalysis.com", pattern=r"^https?://")
    chainalysis_kyt_api_key: SecretStr | None = None
    chainalysis_kyt_network: str = "Ethereum"
    chainalysis_kyt_asset: str = "ETH"
    kyt_poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    #: provider events (webhooks) dated more than this after their arrival are refused (a wrong clock)
    provider_event_max_skew_seconds: float = Field(default=300.0, ge=0, le=86400)
    #: provider events older than this are refused, even when nothing newer was applied
    provider_event_horizon_days: float = Field(default=30.0, gt=0, le=3650)
    #: Marble decisions (enabled by MARBLE_API_KEY and MARBLE_SCENARIO_ID)
    marble_base_url: str = Field(default="https://api.checkmarble.com", pattern=r"^https?://")
    marble_scenario_id: str | None = None
    marble_object_type: str = "transfers"
    #: per attempt of a provider call
    provider_timeout_ms: int = Field(default=2000, ge=10, le=60000)
    #: extra attempts of idempotent provider calls (GETs)
    provider_retries: int = Field(default=2, ge=0, le=10)
    #: consecutive failures that open a provider's circuit breaker, and how long it stays open
    provider_breaker_failures: int = Field(default=5, ge=1, le=1000)
    provider_breaker_reset_seconds: float = Field(default=30.0, gt=0, le=3600)
    #: bound on the whole evidence step of one check, whatever the retries
    evidence_deadline_ms: int = Field(default=5000, ge=10, le=120000)
    #: seconds provider answers stay cached (KYC: REDIS_TTL_KYC)
    redis_ttl_sanctions: int = Field(default=3600, ge=1)
    redis_ttl_kyt: int = Field(default=86400, ge=1)
    #: the in-process cache in front of Redis: longest life of a local copy, and its size
    cache_local_ttl_seconds: float = Field(default=60.0, gt=0, le=86400)
    cache_local_max_entries: int = Field(default=100_000, ge=100)

    #: requests per second each token subject may send on average (0: no limit), and the burst
    #: it may send at once; shared through Redis when REDIS_URL is set (api/rate_limit.py)
    rate_limit_per_second: float = Field(default=0, ge=0, le=1_000_000)
    rate_limit_burst: int = Field(default=100, ge=1, le=1_000_000)

    # -- review cases and AI-drafted reasoning -----------------------------------------------
    #: cases of checks with at least this risk score need a second person to confirm (0: every case)
    case_four_eyes_min_risk: int = Field(default=0, ge=0, le=101)
    #: how often the service opens cases for newly escalated checks
    case_open_interval_seconds: float = Field(default=1.0, gt=0, le=3600)
    #: an OpenAI-compatible chat-completions API (xAI's by default; a self-hosted server works too)
    grok_base_url: str = Field(default="https://api.x.ai/v1", pattern=r"^https?://")
    grok_model: str = Field(default="grok-4", min_length=1, max_length=200)
    #: per attempt of a chat-completions call
    grok_timeout_ms: int = Field(default=30000, ge=100, le=300000)
    #: extra attempts after a timeout, 429 or 5xx (with backoff; Retry-After is honoured)
    grok_retries: int = Field(default=2, ge=0, le=10)
    #: chat-completions calls the reasoning worker makes per hour at most (the rest wait)
    grok_max_calls_per_hour: int = Field(default=120, ge=1, le=100000)
    #: what the prompt may carry besides reason codes, rule trace and amounts (PII minimisation):
    #: comma-separated among names, countries, categories, addresses
    grok_send_fields: str = Field(
        default="countries,categories",
        pattern=r"^((names|countries|categories|addresses)(,(names|countries|categories|addresses))*)?$",
    )

    # -- suspicious-transaction reports (FIU-IND STR, FinCEN SAR): the reporting entity ----------
    report_entity_name: str = Field(default="ComplianceShield demo reporting entity", min_length=1, max_length=200)
    #: FIU-IND registration id (FIUREID) of the reporting entity
    report_entity_fiu_id: str | None = Field(default=None, max_length=64)
    report_entity_address: str | None = Field(default=None, max_length=500)
    #: the principal officer (PMLA Rule 2(1)(f)) who signs reports, and their e-mail
    report_principal_officer: str | None = Field(default=None, max_length=200)
    report_principal_officer_email: str | None = Field(default=None, max_length=200)
    #: the filer's TIN (FinCEN SAR part III/IV)
    report_entity_tin: str | None = Field(default=None, max_length=32)

    #: the largest request body accepted (413 PAYLOAD_TOO_LARGE beyond it); a full batch of
    #: 1,000 transfers with travel-rule data is well under 1 MiB
    max_request_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)

    #: the group-commit writer waits at most this long to fill a batch
    commit_window_ms: float = Field(default=2.0, ge=0, le=100)
    commit_max_batch: int = Field(default=256, ge=1, le=10000)
    #: checks a process admits before refusing more with 503 OVERLOADED (Retry-After: 1); about
    #: this many divided by the throughput is the longest a check waits in the queue
    max_pending_checks: int = Field(default=5000, ge=1, le=1_000_000)
    #: how often objects that have survived a young collection are frozen out of full GC passes
    #: (0: only once, after start-up); see ``services/heap.py``
    gc_freeze_interval_seconds: int = Field(default=10, ge=0, le=3600)

    # -- observability: metrics of many processes, the workers' operations ports ---------------
    #: prometheus-client's multiprocess directory: every server process of one ``serve`` writes
    #: its metrics there and ``/metrics`` answers their sum. ``serve --workers N`` (N > 1) makes
    #: a private one when unset; set it to put the files on a volume of your choice (it is
    #: emptied when ``serve`` starts). Never share one directory between two ``serve``s.
    prometheus_multiproc_dir: Path | None = None
    #: ports on which each worker serves ``/metrics`` and ``/health`` (on ``HOST``); 0: none
    relay_metrics_port: int = Field(default=9101, ge=0, le=65535)
    consumer_metrics_port: int = Field(default=9102, ge=0, le=65535)
    oracle_metrics_port: int = Field(default=9103, ge=0, le=65535)
    indexer_metrics_port: int = Field(default=9104, ge=0, le=65535)
    audit_metrics_port: int = Field(default=9105, ge=0, le=65535)
    #: seconds between two walks of the audit hash chain by ``worker audit``
    audit_verify_interval_seconds: float = Field(default=3600.0, ge=1, le=7 * 86400)
    #: statements running at least this long are counted as long-running (alert: any, for 1 min)
    long_query_seconds: float = Field(default=5.0, gt=0, le=3600)

    #: name screening with no active list of names is an error (checks escalate, /ready fails);
    #: unset → required in production only
    screening_require_lists: bool | None = None

    # -- audit chain checkpoints (services/audit_checkpoints.py) -------------------------------
    #: where signed checkpoints of the audit chain's head are appended: a file on a volume the
    #: database user cannot write; unset → ``audit checkpoint`` refuses and ``audit verify`` skips them
    audit_checkpoint_file: Path | None = None
    #: the 32-byte hex key that signs checkpoints (an Ethereum key; its address verifies them)
    audit_checkpoint_key: SecretStr | None = None
    #: the address whose signatures ``audit verify`` accepts; the key's own address when unset
    audit_checkpoint_signer: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{40}$")

    @field_validator("app_env", mode="before")
    @classmethod
    def _env_name_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _capabilities_are_configured(self) -> Self:
        """A setting that turns on a capability needs what the capability runs on: refuse at start
        rather than run without it and say nothing."""
        needs = (
            ("ENABLE_AI_REASONING", self.enable_ai_reasoning, "GROK_API_KEY", self.grok_api_key),
            ("BALLERINE_BASE_URL", self.ballerine_base_url, "BALLERINE_API_KEY", self.ballerine_api_key),
            ("MARBLE_API_KEY", self.marble_api_key, "MARBLE_SCENARIO_ID", self.marble_scenario_id),
            ("MARBLE_SCENARIO_ID", self.marble_scenario_id, "MARBLE_API_KEY", self.marble_api_key),
        )
        for name, wanted, needed, present in needs:
            if wanted and not present:
                raise ValueError(f"{name} is set but {needed} is not: set {needed} or unset {name}")
        return self

    @model_validator(mode="after")
    def _production_needs_real_secret(self) -> Self:
        if self.app_env is AppEnv.PRODUCTION:
            secret = self.jwt_secret.get_secret_value()
            if not secret or secret == DEVELOPMENT_JWT_SECRET or len(secret) < 32:
                raise ValueError("JWT_SECRET must be set to a secret of at least 32 characters in production")
            if not self.database_url:
                raise ValueError("DATABASE_URL must be set in production")
        return self

    @model_validator(mode="after")
    def _oracle_needs_its_key(self) -> Self:
        if self.enable_oracle:
            missing = [
                name
                for name, value in (
                    ("BESU_RPC_URL", self.besu_rpc_url),
                    ("ORACLE_ADDRESS", self.oracle_address),
                    ("ORACLE_PRIVATE_KEY", self.oracle_private_key),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"ENABLE_ORACLE needs {', '.join(missing)}")
        keys = (
            ("ORACLE_PRIVATE_KEY", self.oracle_private_key),
            ("SIGNER_PRIVATE_KEY", self.signer_private_key),
            ("AUDIT_CHECKPOINT_KEY", self.audit_checkpoint_key),
        )
        for name, key in keys:
            if key is not None and not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", key.get_secret_value()):
                raise ValueError(f"{name} must be a 32-byte hex private key")
        return self

    @model_validator(mode="after")
    def _previous_secret_is_a_real_one(self) -> Self:
        previous = self.jwt_secret_previous.get_secret_value() if self.jwt_secret_previous else None
        weak = previous is not None and (previous == DEVELOPMENT_JWT_SECRET or len(previous) < 32)
        if weak and self.app_env is AppEnv.PRODUCTION:
            raise ValueError("JWT_SECRET_PREVIOUS must be a secret of at least 32 characters in production")
        return self

    @property
    def grok_fields(self) -> frozenset[str]:
        """GROK_SEND_FIELDS as a set."""
        return frozenset(f for f in self.grok_send_fields.split(",") if f)

    @property
    def screening_lists_required(self) -> bool:
        if self.screening_require_lists is not None:
            return self.screening_require_lists
        return self.app_env is AppEnv.PRODUCTION

    @property
    def jwt_secret_value(self) -> str:
        return self.jwt_secret.get_secret_value()


def load_settings() -> Settings:
    """Read and validate the environment (raises ``pydantic.ValidationError`` when invalid)."""
    return Settings()
