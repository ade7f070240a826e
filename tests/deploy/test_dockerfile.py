"""The container image's recipe: the properties the platform relies on, read with a Dockerfile parser.

No container engine runs here; ``tests/integration/test_image_install.py`` runs the recipe's own
install commands in a virtual environment and starts the result.
"""

from __future__ import annotations

import json
import re
import shlex

import pytest
from deploy_support import ROOT, public_get_routes, setting_names
from dockerfile_parse import DockerfileParser


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    return parser


def _stages(dockerfile: DockerfileParser) -> list[list[dict[str, str]]]:
    """Instructions grouped by build stage (each starts with FROM)."""
    stages: list[list[dict[str, str]]] = []
    for instruction in dockerfile.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _values(stage: list[dict[str, str]], name: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == name]


def test_two_stages_on_a_slim_python_base_pinned_to_a_patch_version(dockerfile: DockerfileParser) -> None:
    stages = _stages(dockerfile)
    assert [s[0]["value"].split()[-1] for s in stages] == ["build", "runtime"]
    first_from = next(i for i, ins in enumerate(dockerfile.structure) if ins["instruction"] == "FROM")
    global_args = [ins["value"] for ins in dockerfile.structure[:first_from] if ins["instruction"] == "ARG"]
    base = dict(arg.partition("=")[::2] for arg in global_args).get("PYTHON_IMAGE", "")
    assert re.fullmatch(r"python:3\.1[1-9]\.\d+-slim-[a-z]+", base), base
    assert all(s[0]["value"].startswith("${PYTHON_IMAGE} AS ") for s in stages)


def test_wheels_are_built_in_the_first_stage_and_installed_offline_in_the_second(dockerfile: DockerfileParser) -> None:
    build, runtime = _stages(dockerfile)
    assert any("pip wheel --wheel-dir /wheels ." in run for run in _values(build, "RUN"))
    assert "--from=build /wheels /wheels" in _values(runtime, "COPY")
    installs = [run for run in _values(runtime, "RUN") if "pip install" in run]
    assert installs
    assert all("--no-index" in run for run in installs), "the runtime stage must install only the built wheels"
    assert not any(i.startswith("COPY ") and "src" in i for i in _values(runtime, "COPY")), "no sources in runtime"


def test_the_runtime_runs_as_a_numeric_non_root_user(dockerfile: DockerfileParser) -> None:
    _, runtime = _stages(dockerfile)
    users = _values(runtime, "USER")
    assert users, "the runtime stage must name a USER"
    uid, _, gid = users[-1].partition(":")
    # numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd
    assert uid.isdigit(), users[-1]
    assert int(uid) >= 10000, users[-1]
    assert gid.isdigit()
    assert int(gid) != 0


def test_nothing_is_written_outside_tmp_and_the_data_volume(dockerfile: DockerfileParser) -> None:
    """A read-only root filesystem: bytecode precompiled, HOME and TMPDIR in /tmp, data on a volume."""
    _, runtime = _stages(dockerfile)
    env = dockerfile.envs
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == env["TMPDIR"] == "/tmp"  # noqa: S108 - the container's writable tmpfs
    assert json.loads(_values(runtime, "VOLUME")[-1]) == [env["DATA_DIR"]]
    assert any("compileall" in run for run in _values(runtime, "RUN"))


def test_healthcheck_probes_the_liveness_route(dockerfile: DockerfileParser) -> None:
    _, runtime = _stages(dockerfile)
    (check,) = _values(runtime, "HEALTHCHECK")
    assert "/health'" in check
    assert "/health" in public_get_routes()
    assert "--interval=" in check
    assert "--timeout=" in check


def test_entry_point_is_the_cli_serving_by_default(dockerfile: DockerfileParser) -> None:
    _, runtime = _stages(dockerfile)
    assert json.loads(_values(runtime, "ENTRYPOINT")[-1]) == ["compliance-shield"]
    # the workers and the migration are the same image with another command: `worker relay`, `migrate`
    assert json.loads(_values(runtime, "CMD")[-1]) == ["serve"]
    env = dockerfile.envs
    assert env["HOST"] == "0.0.0.0"  # noqa: S104 - a container listens on its own interface
    assert _values(runtime, "EXPOSE") == [env["PORT"]]


def test_every_environment_name_of_the_image_is_a_setting_or_the_interpreters(dockerfile: DockerfileParser) -> None:
    runtime_only = {"PIP_DISABLE_PIP_VERSION_CHECK", "PIP_NO_CACHE_DIR", "PYTHONDONTWRITEBYTECODE",
                    "PYTHONUNBUFFERED", "PATH", "HOME", "TMPDIR", "XDG_RUNTIME_DIR"}  # fmt: skip
    unknown = set(dockerfile.envs) - setting_names() - runtime_only
    assert not unknown, f"not settings: {sorted(unknown)}"


def test_the_build_context_is_limited_to_what_the_build_copies() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "**"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    copied = set()
    for instruction in parser.structure:
        if instruction["instruction"] == "COPY" and not instruction["value"].startswith("--from"):
            copied.update(p.rstrip("/") for p in shlex.split(instruction["value"])[:-1])
    assert copied == allowed
