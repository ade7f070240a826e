"""The benchmarks run end to end and report correct results; their timings are never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compliance_shield.reference_data import list_templates

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180


@pytest.fixture(scope="module")
def bench_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of the benchmark processes: pgserver needs a private runtime directory."""
    env = dict(os.environ)
    if not env.get("XDG_RUNTIME_DIR"):
        runtime = tmp_path_factory.mktemp("xdg-runtime")
        runtime.chmod(0o700)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    return env


def run_bench(env: dict[str, str], module: str, *args: str) -> tuple[int, str, str]:
    """Run ``python -m module args``; on timeout interrupt it so that it stops what it started."""
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.terminate()  # the bench then stops the server and PostgreSQL it started
        try:
            stdout, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        pytest.fail(f"{module} did not finish within {TIMEOUT} s:\n{stdout}\n{stderr}")
    return process.returncode, stdout, stderr


def test_engine_benchmark_prints_a_line_per_template(bench_env: dict[str, str]) -> None:
    code, stdout, stderr = run_bench(bench_env, "bench.engine", "--seconds", "0.05")
    assert code == 0, stdout + stderr
    lines = stdout.splitlines()
    for template in list_templates():
        assert len([line for line in lines if f" {template} " in line]) == 1, stdout


def test_engine_benchmark_runs_a_fixed_count_for_instruction_counters(bench_env: dict[str, str]) -> None:
    code, stdout, stderr = run_bench(bench_env, "bench.engine", "--count", "1000", "--template", "india-aif")
    assert code == 0, stdout + stderr
    assert len([line for line in stdout.splitlines() if " india-aif " in line]) == 1, stdout
    code, _, stderr = run_bench(bench_env, "bench.engine", "--count", "0")
    assert code == 2
    assert "--count must be positive" in stderr


def test_load_benchmark_stores_every_decision_it_answers_and_measures_the_baseline(
    bench_env: dict[str, str],
) -> None:
    code, stdout, stderr = run_bench(
        bench_env, "bench.checks", "--seconds", "2", "--concurrency", "8", "--json", "--runs", "2",
        "--investors", "400", "--wallets-per-investor", "2", "--tokens", "8",
    )  # fmt: skip
    assert code == 0, stdout + stderr
    report = json.loads(stdout.strip().splitlines()[-1])
    # the data set seeded is the one asked for (the issuer's treasury is one more investor, one wallet)
    data_set = report["data_set"]
    assert (data_set["investors"], data_set["wallets"], data_set["tokens"]) == (401, 801, 8)
    assert data_set["holdings"] > 400
    assert len(report["tokens"]) == 8
    assert report["seed_seconds"] > 0
    assert report["ready_seconds"] > 0
    assert report["requests"] > 0
    assert report["errors"] == {}
    assert report["transport_errors"] == {}
    assert report["db_check"] == "done"
    assert report["stored_decisions"] == report["distinct_decisions"] > 0
    assert {"APPROVED", "REJECTED", "ESCALATED"} <= set(report["outcomes"])
    assert report["outcomes"]["APPROVED"] > report["outcomes"]["REJECTED"] + report["outcomes"]["ESCALATED"]
    assert {kind.split(" → ")[0] for kind in report["by_kind"]} == {"ordinary", "unbound", "over_balance", "pep"}
    assert report["idempotent_repeats"] > 0
    assert report["repeat_mismatches"] == 0
    assert all(check["ok"] for check in report["checks"]), report["checks"]
    baseline = report["baseline"]
    assert baseline["workers"] == report["workers"] == 2
    assert baseline["requests"] > 0
    assert baseline["errors"] == {}
    assert baseline["transport_errors"] == {}
    assert baseline["throughput_rps"] > 0
    assert set(baseline["latency_ms"]) == set(report["latency_ms"])
    # two runs of each: the medians make the ratio, every run's correctness checks held
    assert len(report["runs"]) == 2
    assert len(baseline["runs_rps"]) == 2
    assert report["rate_median"] == sum(r["rate"] for r in report["runs"]) / 2
    assert report["ratio_to_baseline"] == round(report["rate_median"] / baseline["throughput_rps_median"], 3)
    assert report["ratio_to_baseline"] > 0


def test_batch_benchmark_answers_every_item_and_stores_every_decision(bench_env: dict[str, str]) -> None:
    code, stdout, stderr = run_bench(
        bench_env, "bench.batch", "--seconds", "2", "--batch-size", "50", "--investors", "200", "--view", "summary",
        "--json", "--runs", "1",
    )  # fmt: skip
    assert code == 0, stdout + stderr
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["batch_size"] == 50
    assert report["view"] == "summary"
    assert report["batches"] > 0
    assert report["transfers_checked"] > 0
    assert report["errors"] == {}
    assert report["item_errors"] == {}
    assert report["transport_errors"] == {}
    assert report["db_check"] == "done"
    assert report["stored_decisions"] == report["distinct_decisions"] > 0
    assert {"APPROVED", "REJECTED"} <= set(report["outcomes"])
    assert report["idempotent_repeats"] > 0
    assert report["repeat_mismatches"] == 0
    assert "baseline" not in report
    assert {c["check"] for c in report["checks"]} >= {
        "stored decisions == distinct decisions answered",
        "every item answered in its place",
        "no item errors",
    }
    assert all(check["ok"] for check in report["checks"]), report["checks"]


def test_paced_load_never_runs_ahead_of_its_schedule(bench_env: dict[str, str]) -> None:
    code, stdout, stderr = run_bench(
        bench_env, "bench.checks", "--seconds", "2", "--rate", "40", "--concurrency", "8", "--json",
        "--investors", "200", "--tokens", "4", "--workers", "1", "--no-baseline", "--runs", "1",
    )  # fmt: skip
    assert code == 0, stdout + stderr
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["rate"] == 40
    assert 0 < report["requests"] <= 40 * 2  # the n-th request is due at n / rate seconds
    assert report["errors"] == {}
    assert report["stored_decisions"] == report["distinct_decisions"] > 0
