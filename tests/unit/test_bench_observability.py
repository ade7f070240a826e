"""The observability benchmark runs and reports each figure (timings are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_it_reports_the_middleware_and_both_metrics_modes() -> None:
    command = [sys.executable, "-m", "bench.observability", "--requests", "200", "--rounds", "1", "--json"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report) == {
        "plain_us_per_request", "observed_us_per_request", "middleware_overhead_us",
        "metric_update_us_in_memory", "metric_update_us_multiprocess",
    }  # fmt: skip
    assert all(report[key] > 0 for key in report if key != "middleware_overhead_us")
    assert report["middleware_overhead_us"] == round(
        report["observed_us_per_request"] - report["plain_us_per_request"], 2
    )
