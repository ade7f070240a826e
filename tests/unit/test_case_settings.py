"""The settings of review cases and AI reasoning."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from compliance_shield.settings import Settings


def test_reasoning_defaults_to_xai_and_needs_its_key() -> None:
    settings = Settings()
    assert settings.grok_base_url == "https://api.x.ai/v1"
    assert settings.grok_fields == frozenset({"countries", "categories"})
    with pytest.raises(ValidationError, match="ENABLE_AI_REASONING is set but GROK_API_KEY is not"):
        Settings(enable_ai_reasoning=True)
    assert Settings(enable_ai_reasoning=True, grok_api_key="k").enable_ai_reasoning


def test_reasoning_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROK_BASE_URL", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("GROK_MODEL", "llama-3.1-8b-instruct")
    monkeypatch.setenv("GROK_SEND_FIELDS", "")
    monkeypatch.setenv("CASE_FOUR_EYES_MIN_RISK", "60")
    settings = Settings()
    assert (settings.grok_base_url, settings.grok_model) == ("http://127.0.0.1:8080/v1", "llama-3.1-8b-instruct")
    assert settings.grok_fields == frozenset()
    assert settings.case_four_eyes_min_risk == 60


@pytest.mark.parametrize(
    ("name", "value"),
    [("GROK_SEND_FIELDS", "names,passport"), ("GROK_BASE_URL", "ftp://x"), ("CASE_FOUR_EYES_MIN_RISK", "-1")],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()
