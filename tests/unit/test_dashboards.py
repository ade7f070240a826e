"""The Grafana dashboards: committed as generated, valid PromQL, built on declared metrics and
on recording rules that exist. (That the metrics are really exported after traffic is checked
against running processes in tests/integration/test_operations.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from compliance_shield.observability.dashboard_model import build, expressions, series_names
from compliance_shield.observability.dashboards import DASHBOARDS

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "deploy" / "grafana" / "dashboards"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
REGENERATE = "python -m compliance_shield.observability.dashboards deploy/grafana/dashboards"
REGENERATE = "python -m compliance_shield.observability.dashboards deploy/grafana/dashboards"


def _recorded() -> set[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}


def _declared_series() -> set[str]:
    """Every series name the service's metrics module can export (histogram and counter suffixes included)."""
    import compliance_shield.observability.metrics  # noqa: F401 (registers the metrics)

    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("compliance_"):
            names |= {family.name, f"{family.name}_total", f"{family.name}_bucket", f"{family.name}_sum",
                      f"{family.name}_count"}  # fmt: skip
    return names


def test_the_committed_json_is_what_the_generator_makes() -> None:
    committed = {path.name for path in COMMITTED.glob("*.json")}
    assert committed == {f"{d.uid}.json" for d in DASHBOARDS}
    for dashboard in DASHBOARDS:
        on_disk = json.loads((COMMITTED / f"{dashboard.uid}.json").read_text())
        assert on_disk == build(dashboard), f"regenerate {dashboard.uid}.json: {REGENERATE}"


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_panels_have_unique_ids_and_fit_the_grid(dashboard: object) -> None:
    model = build(dashboard)  # type: ignore[arg-type]
    ids = [panel["id"] for panel in model["panels"]]
    assert len(ids) == len(set(ids))
    assert all(p["gridPos"]["x"] >= 0 and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in model["panels"])
    assert all(panel.get("targets") for panel in model["panels"] if panel["type"] != "row")


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: run scripts/test (it installs Debian's prometheus package)")
    queries = [expr for d in DASHBOARDS for expr in expressions(build(d))]
    rules = {"groups": [{"name": "panels", "rules": [{"record": f"panel:query:{i}", "expr": e}
                                                     for i, e in enumerate(queries)]}]}  # fmt: skip
    (tmp_path / "panels.yml").write_text(yaml.safe_dump(rules))
    command = [promtool, "check", "rules", str(tmp_path / "panels.yml")]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    assert done.returncode == 0, done.stdout + done.stderr


def test_panels_and_rules_read_only_declared_metrics_and_existing_recording_rules() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    queries = [expr for d in DASHBOARDS for expr in expressions(build(d))]
    queries += [rule["expr"] for group in groups for rule in group["rules"]]
    used = set().union(*(series_names(q) for q in queries))
    recorded = {name for name in used if ":" in name}
    assert recorded - _recorded() == set(), "recording rules used but not defined in rules.yml"
    assert used - recorded - _declared_series() == set(), "metrics nobody declares in observability/metrics.py"


def test_the_series_name_reader_sees_through_promql_syntax() -> None:
    expr = (
        'sum by (route, le) (rate(a_bucket{route!="/v1/stream", x=~"a|b"}[5m])) / on() group_left '
        "count(b_total offset 5m) and time() - max(c:rule) > 3 * 3600"
    )
    assert series_names(expr) == {"a_bucket", "b_total", "c:rule"}


def test_the_kustomization_ships_every_dashboard_in_one_configmap_for_grafanas_sidecar() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed (it renders the kustomizations)")
    command = [kubectl, "kustomize", str(COMMITTED.parent)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr
    config_map = yaml.safe_load(done.stdout)
    assert config_map["kind"] == "ConfigMap"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert {name: json.loads(text) for name, text in config_map["data"].items()} == {
        f"{d.uid}.json": build(d) for d in DASHBOARDS
    }
    assert len(done.stdout.encode()) < 256 * 1024  # fits kubectl apply's last-applied annotation
