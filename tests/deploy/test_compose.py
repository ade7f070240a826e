"""The local stack (docker-compose.dev.yml) and its documented environment (.env.example).

The compose file is validated against the Compose Specification's JSON Schema (the copy that
check-jsonschema vendors); no container engine runs here, so the stack itself is not started.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml
from deploy_support import ROOT, env_file_entries, public_get_routes, setting_names

from compliance_shield.settings import Settings

COMPOSE = ROOT / "docker-compose.dev.yml"
ENV_EXAMPLE = ROOT / ".env.example"
APP_IMAGE = "compliance-shield-api"
WORKERS = ("relay", "consumer", "oracle", "indexer")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if str(s.get("image", "")).startswith(APP_IMAGE)}


def test_the_file_follows_the_compose_specification() -> None:
    result = subprocess.run(  # noqa: S603 - the venv's own validator
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_stack_has_the_api_four_workers_and_their_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "kafka", "besu", "migrate", "api", *WORKERS} <= set(services)
    app = _app_services(compose)
    assert app["api"]["command"] == ["serve"]
    assert app["migrate"]["command"] == ["migrate"]
    for worker in WORKERS:
        assert app[worker]["command"] == ["worker", worker]


def test_kafka_runs_in_kraft_mode_without_zookeeper(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "CONTROLLER" in kafka["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert not any("zookeeper" in name for name in compose["services"])
    assert not any("ZOOKEEPER" in key for key in kafka)


def test_infrastructure_has_healthchecks_and_the_app_waits_for_them(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("postgres", "redis", "kafka", "besu"):
        assert services[name]["healthcheck"]["test"], name
    app = _app_services(compose)
    for name, service in app.items():
        depends = service["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        if name != "migrate":
            # the migration is a one-shot: nothing starts on a schema that is not at head
            assert depends["migrate"]["condition"] == "service_completed_successfully", name
        for dependency, condition in depends.items():
            expected = "service_completed_successfully" if dependency == "migrate" else "service_healthy"
            assert condition["condition"] == expected, (name, dependency)
    assert app["migrate"]["restart"] == "no"
    api_check = " ".join(app["api"]["healthcheck"]["test"])
    assert any(f"{route}'" in api_check for route in public_get_routes())


def test_app_containers_are_read_only_and_unprivileged(compose: dict[str, Any]) -> None:
    for name, service in _app_services(compose).items():
        assert service["read_only"] is True, name
        assert service["tmpfs"] == ["/tmp"], name  # noqa: S108 - the container's own tmpfs
        assert not service["user"].startswith("0"), name
        assert service["cap_drop"] == ["ALL"], name


def test_every_environment_name_given_to_the_app_is_a_setting(compose: dict[str, Any]) -> None:
    for name, service in _app_services(compose).items():
        unknown = set(service.get("environment", {})) - setting_names()
        assert not unknown, f"{name}: {sorted(unknown)} are not settings"


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    active, commented = env_file_entries(ENV_EXAMPLE.read_text())
    listed = set(active) | commented
    assert not listed - setting_names(), f"not settings: {sorted(listed - setting_names())}"
    assert not setting_names() - listed, f"missing from .env.example: {sorted(setting_names() - listed)}"


def test_env_example_values_are_valid_settings() -> None:
    active, _ = env_file_entries(ENV_EXAMPLE.read_text())
    settings = Settings(**{name.lower(): value for name, value in active.items()})  # type: ignore[arg-type]
    assert settings.database_url is not None
    assert settings.kafka_brokers is not None
    # the example is for a laptop: the values must not pass for production
    with pytest.raises(ValueError, match="JWT_SECRET"):
        Settings(**{name.lower(): value for name, value in active.items()} | {"app_env": "production"})  # type: ignore[arg-type]


def test_the_default_image_tag_is_the_release_version(compose: dict[str, Any]) -> None:
    from compliance_shield import __version__

    images = {s["image"] for s in _app_services(compose).values()}
    assert images == {f"{APP_IMAGE}:${{IMAGE_TAG:-{__version__}}}"}
