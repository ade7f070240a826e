"""The Kubernetes ``PrometheusRule`` object (Prometheus Operator) made from ``deploy/prometheus/rules.yml``.

``rules.yml`` is the one hand-kept source of the recording and alert rules (plain Prometheus
loads it as it is; ``promtool`` checks and unit-tests it). The operator wants the same groups
wrapped in a custom resource; this module wraps them, and a test keeps the committed
``deploy/prometheus/prometheusrule.yaml`` equal to what it makes::

    python -m compliance_shield.observability.rule_manifest deploy/prometheus/rules.yml \\
        > deploy/prometheus/prometheusrule.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

HEADER = (
    "# Generated from rules.yml by `python -m compliance_shield.observability.rule_manifest"
    " deploy/prometheus/rules.yml`: edit rules.yml, then regenerate.\n"
)


def manifest(rules: dict[str, Any], *, namespace: str = "compliance-shield") -> dict[str, Any]:
    """``rules`` (a parsed rules file) as a ``monitoring.coreos.com/v1`` PrometheusRule.

    The ``release: prometheus`` label is what kube-prometheus-stack installed as the deployment
    guide does (``helm install prometheus …``) selects rules by."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "compliance-shield",
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "compliance-shield", "release": "prometheus"},
        },
        "spec": {"groups": rules["groups"]},
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line expressions stay block scalars (``|``), as they read in rules.yml."""


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_Dumper.add_representer(str, _text)


def render(rules_file: Path) -> str:
    rules = yaml.safe_load(rules_file.read_text())
    return HEADER + yaml.dump(manifest(rules), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=200)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m compliance_shield.observability.rule_manifest RULES_FILE", file=sys.stderr)
        return 2
    sys.stdout.write(render(Path(argv[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
