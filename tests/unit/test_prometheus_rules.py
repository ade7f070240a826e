"""The alert and recording rules: valid for Prometheus, each alert unit-tested both ways, each
pointing at its runbook section, and the PrometheusRule object generated from them up to date."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from compliance_shield.observability.rule_manifest import render

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules.yml"
ALERT_TESTS = PROMETHEUS / "tests" / "alerts.yml"
RUNBOOK = ROOT / "docs" / "runbooks" / "alerts.md"


def _promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed: run scripts/test (it installs Debian's prometheus package)")
    return binary


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False)  # noqa: S603
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_fires_on_a_breach_and_stays_quiet_without_one() -> None:
    done = subprocess.run(  # noqa: S603
        [_promtool(), "test", "rules", ALERT_TESTS.name], cwd=ALERT_TESTS.parent, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    cases = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for expectation in case["alert_rule_test"]:
            (firing if expectation["exp_alerts"] else quiet).add(expectation["alertname"])
    names = {alert["alert"] for alert in _alerts()}
    assert names - firing == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown quiet"


def test_every_alert_has_a_severity_a_summary_a_damped_for_and_an_existing_runbook_section() -> None:
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    }
    for alert in _alerts():
        assert alert["labels"]["severity"] in {"critical", "warning"}, alert["alert"]
        assert alert["annotations"]["summary"], alert["alert"]
        assert "for" in alert, alert["alert"]
        path, _, anchor = alert["annotations"]["runbook_url"].partition("#")
        assert (ROOT / path) == RUNBOOK, alert["alert"]
        assert anchor in anchors, f"{alert['alert']}: no section #{anchor} in {RUNBOOK.name}"


def test_the_prometheusrule_object_is_generated_from_the_current_rules() -> None:
    committed = (PROMETHEUS / "prometheusrule.yaml").read_text()
    assert committed == render(RULES), "regenerate prometheusrule.yaml (see its first line)"
    manifest = yaml.safe_load(committed)
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]


def test_the_kustomization_renders_the_prometheusrule_object() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed (it renders the kustomizations)")
    done = subprocess.run([kubectl, "kustomize", str(PROMETHEUS)], capture_output=True, text=True, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr
    rendered = yaml.safe_load(done.stdout)
    assert rendered == yaml.safe_load((PROMETHEUS / "prometheusrule.yaml").read_text())
