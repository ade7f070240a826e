"""Settings: one validated object; production refuses development secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from compliance_shield.settings import DEVELOPMENT_JWT_SECRET, AppEnv, Settings

REAL_SECRET = "a-real-secret-of-more-than-thirty-two-characters"


def test_development_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("APP_ENV", "DATABASE_URL", "JWT_SECRET", "PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.app_env is AppEnv.DEVELOPMENT
    assert settings.database_url is None
    assert settings.redis_ttl_kyc == 86400


def test_environment_names_of_the_deployment_guide_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9090")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("BLOCKCHAIN_TYPE", "public")
    monkeypatch.setenv("ENABLE_ORACLE", "false")
    monkeypatch.setenv("REDIS_TTL_KYC", "60")
    settings = Settings()
    assert (settings.port, settings.log_level, settings.blockchain_type.value) == (9090, "DEBUG", "public")
    assert settings.redis_ttl_kyc == 60


@pytest.mark.parametrize("secret", [None, DEVELOPMENT_JWT_SECRET, "short"])
def test_production_refuses_a_missing_or_development_secret(secret: str | None) -> None:
    kwargs = {"app_env": AppEnv.PRODUCTION, "database_url": "postgresql://db/cs"}
    if secret is not None:
        kwargs["jwt_secret"] = secret
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(**kwargs)  # type: ignore[arg-type]


def test_production_needs_a_database_url() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(app_env=AppEnv.PRODUCTION, jwt_secret=REAL_SECRET, database_url=None)  # type: ignore[arg-type]


def test_production_with_real_settings_starts() -> None:
    settings = Settings(app_env=AppEnv.PRODUCTION, jwt_secret=REAL_SECRET, database_url="postgresql://db/cs")  # type: ignore[arg-type]
    assert settings.jwt_secret_value == REAL_SECRET


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "not-a-port")
    with pytest.raises(ValidationError, match="port"):
        Settings()


def test_node_env_names_the_environment_when_app_env_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.setenv("NODE_ENV", "production")
    monkeypatch.delenv("JWT_SECRET", raising=False)
    # production guards run: the development secret is refused
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings()
    monkeypatch.setenv("JWT_SECRET", REAL_SECRET)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/cs")
    assert Settings().app_env is AppEnv.PRODUCTION


def test_app_env_wins_over_node_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("NODE_ENV", "production")
    assert Settings().app_env is AppEnv.TEST


@pytest.mark.parametrize(("given", "stored"), [("info", "INFO"), ("Warning", "WARNING"), (" debug ", "DEBUG")])
def test_log_level_in_any_case(monkeypatch: pytest.MonkeyPatch, given: str, stored: str) -> None:
    monkeypatch.setenv("LOG_LEVEL", given)
    monkeypatch.setenv("APP_ENV", "Development")
    settings = Settings()
    assert (settings.log_level, settings.app_env) == (stored, AppEnv.DEVELOPMENT)


def test_an_unknown_log_level_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "verbose")
    with pytest.raises(ValidationError, match="log_level"):
        Settings()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ENABLE_AI_REASONING": "true"}, "ENABLE_AI_REASONING is set but GROK_API_KEY is not"),
        ({"BALLERINE_BASE_URL": "https://ballerine.example"}, "BALLERINE_BASE_URL is set but BALLERINE_API_KEY"),
        ({"MARBLE_API_KEY": "k"}, "MARBLE_API_KEY is set but MARBLE_SCENARIO_ID"),
        ({"MARBLE_SCENARIO_ID": "s"}, "MARBLE_SCENARIO_ID is set but MARBLE_API_KEY"),
    ],
)
def test_a_capability_without_its_configuration_is_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        Settings()
