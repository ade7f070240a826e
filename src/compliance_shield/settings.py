"""The one validated settings object. Nothing else in the code base reads the environment.

Environment names follow the deployment guide (architecture §6).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from compliance_shield.domain.values import BlockchainType

#: The secret used when none is configured. Production refuses to start with it.
DEVELOPMENT_JWT_SECRET = "development-only-secret-change-me-0000000000"


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    app_env: AppEnv = AppEnv.DEVELOPMENT
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: number of server processes for ``serve``
    workers: int = Field(default=1, ge=1, le=64)

    #: PostgreSQL URL; empty means "start the embedded server in ``data_dir``"
    database_url: str | None = None
    data_dir: Path = Path(".data")
    database_pool_size: int = Field(default=10, ge=1, le=200)

    redis_url: str | None = None
    redis_ttl_kyc: int = Field(default=86400, ge=1)
    kafka_brokers: str | None = None

    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_JWT_SECRET)
    jwt_issuer: str = "compliance-shield"

    blockchain_type: BlockchainType = BlockchainType.PERMISSIONED
    besu_rpc_url: str | None = None
    enable_oracle: bool = False
    enable_ai_reasoning: bool = False

    ballerine_api_key: SecretStr | None = None
    marble_api_key: SecretStr | None = None
    chainalysis_api_key: SecretStr | None = None
    grok_api_key: SecretStr | None = None

    #: the group-commit writer waits at most this long to fill a batch
    commit_window_ms: float = Field(default=2.0, ge=0, le=100)
    commit_max_batch: int = Field(default=256, ge=1, le=10000)

    @model_validator(mode="after")
    def _production_needs_real_secret(self) -> Self:
        if self.app_env is AppEnv.PRODUCTION:
            secret = self.jwt_secret.get_secret_value()
            if not secret or secret == DEVELOPMENT_JWT_SECRET or len(secret) < 32:
                raise ValueError("JWT_SECRET must be set to a secret of at least 32 characters in production")
            if not self.database_url:
                raise ValueError("DATABASE_URL must be set in production")
        return self

    @property
    def jwt_secret_value(self) -> str:
        return self.jwt_secret.get_secret_value()


def load_settings() -> Settings:
    """Read and validate the environment (raises ``pydantic.ValidationError`` when invalid)."""
    return Settings()
