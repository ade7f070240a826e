"""A small model of Grafana dashboards (rows of panels of PromQL queries) and its JSON form."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    targets: tuple[Target, ...]
    unit: str = "short"
    #: the guide's target, drawn as a line: values beyond it are red (``above``) or below it (``below``)
    threshold: float | None = None
    bad: str = "above"
    kind: str = "timeseries"
    description: str = ""
    width: int = 12


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[tuple[str, tuple[Panel, ...]], ...] = field(default_factory=tuple)


def q(expr: str, legend: str = "") -> Target:
    return Target(expr, legend)


def _thresholds(panel: Panel) -> dict[str, Any]:
    if panel.threshold is None:
        return {"mode": "absolute", "steps": [{"color": "green", "value": None}]}
    good, bad = ("green", "red") if panel.bad == "above" else ("red", "green")
    return {"mode": "absolute", "steps": [{"color": good, "value": None}, {"color": bad, "value": panel.threshold}]}


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    if panel.kind == "timeseries":
        custom = {"thresholdsStyle": {"mode": "line" if panel.threshold is not None else "off"}, "fillOpacity": 10}
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": 8},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": t.expr, "legendFormat": t.legend}
            for i, t in enumerate(panel.targets)
        ],
        "fieldConfig": {
            "defaults": {"unit": panel.unit, "thresholds": _thresholds(panel), "custom": custom},
            "overrides": [],
        },
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}} if panel.kind == "timeseries" else {},
    }


def build(dashboard: Dashboard) -> dict[str, Any]:
    """The Grafana JSON model of ``dashboard`` (rows of panels, laid out two by two)."""
    panels: list[dict[str, Any]] = []
    y = 0
    next_id = 1
    for row_title, row in dashboard.rows:
        panels.append({"id": next_id, "type": "row", "title": row_title, "collapsed": False,
                       "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})  # fmt: skip
        next_id += 1
        y += 1
        x = 0
        for panel in row:
            if x + panel.width > 24:
                x, y = 0, y + 8
            panels.append(_panel(panel, next_id, x, y))
            next_id += 1
            x += panel.width
        y += 8
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["compliance-shield"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "panels": panels,
    }


def expressions(model: dict[str, Any]) -> list[str]:
    """Every query of a dashboard's JSON model."""
    return [t["expr"] for p in model["panels"] for t in p.get("targets", [])]


def rate(metric: str, by: str = "", window: str = "5m") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({metric}[{window}]))"


def p(quantile: float, histogram: str, by: str = "", window: str = "5m") -> str:
    keys = f"{by}, le" if by else "le"
    return f"histogram_quantile({quantile}, sum by ({keys}) (rate({histogram}_bucket[{window}])))"


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETED = re.compile(r"\{[^}]*\}|\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
    }
)


def series_names(expr: str) -> set[str]:
    """The names of the series a PromQL expression reads (metrics and recording rules).

    Enough PromQL for our rules and panels: label matchers, ranges, grouping clauses and
    strings are removed first; what remains that is not a function call, a keyword or a number
    is a series name."""
    stripped = _GROUPING.sub(" ", _BRACKETED.sub(" ", _STRINGS.sub(" ", expr)))
    return {name for name in _IDENTIFIER.findall(stripped) if name.lower() not in _KEYWORDS}
