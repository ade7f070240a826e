"""bench.evidence_cache runs end to end, small: every phase answers, the figures are consistent.
Its timings are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_evidence_cache_benchmark_reports_every_kind_and_phase() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.evidence_cache", "--seconds", "1", "--warm-seconds", "0.5",
         "--investors", "200", "--concurrency", "8", "--redis-deadline-ms", "50", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert [k["kind"] for k in report["kinds"]] == ["kyc", "chainalysis-sanctions"]
    for kind in report["kinds"]:
        counted = kind["local_hits"] + kind["redis_hits"] + kind["coalesced"] + kind["misses"]
        assert kind["lookups"] == counted > 0
        assert kind["hit_rate"] == pytest.approx((kind["local_hits"] + kind["redis_hits"]) / kind["lookups"])
    assert [p["phase"] for p in report["phases"]] == ["warm", "hung", "recovered", "killed"]
    assert all(p["checks"] > 0 and p["p50_ms"] <= p["p99_ms"] <= p["max_ms"] for p in report["phases"])
    assert report["setup"]["ballerine_backed"] < report["setup"]["investors"]
