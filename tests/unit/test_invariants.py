"""Architecture invariants, checked by walking the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import compliance_shield

PACKAGE = Path(compliance_shield.__file__).parent
DOMAIN = PACKAGE / "domain"

#: modules the pure core must never import: I/O, clocks, randomness, environment, network
FORBIDDEN_IMPORTS = {
    "os", "sys", "time", "random", "secrets", "socket", "subprocess", "asyncio", "asyncpg", "httpx",
    "sqlalchemy", "psycopg", "redis", "fastapi", "structlog", "logging", "pathlib", "io",
}  # fmt: skip
FORBIDDEN_CALLS = re.compile(r"\b(datetime\.now|datetime\.utcnow|date\.today|time\.time|open|uuid[14])\(")


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_domain_does_no_io_and_reads_no_clock() -> None:
    offenders = []
    for path in sorted(DOMAIN.rglob("*.py")):
        source = path.read_text()
        bad = _imports(ast.parse(source)) & FORBIDDEN_IMPORTS
        if bad:
            offenders.append(f"{path.relative_to(PACKAGE)} imports {sorted(bad)}")
        if FORBIDDEN_CALLS.search(source):
            offenders.append(f"{path.relative_to(PACKAGE)} calls a clock or opens a file")
    assert offenders == []


def test_only_settings_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        # (writing a setting for the server processes ``serve`` starts is not reading it)
        if re.search(r"os\.environ\b(?!\[\"[A-Z_]+\"\] = )|os\.getenv\(", path.read_text())
    ]
    assert readers == []


def test_every_metric_is_declared_in_the_metrics_module() -> None:
    declaring = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if re.search(r"\b(Counter|Gauge|Histogram|Summary)\(", path.read_text())
    ]
    assert declaring == ["observability/metrics.py"]


def test_every_reason_code_has_a_restriction_code_and_a_message() -> None:
    from compliance_shield.domain.reasons import MESSAGES, RESTRICTION_CODES, ReasonCode

    assert set(RESTRICTION_CODES) == set(ReasonCode) == set(MESSAGES)
    numbers = list(RESTRICTION_CODES.values())
    assert len(set(numbers)) == len(numbers)
    assert all(1 <= n <= 255 for n in numbers)


#: the one module that may call a JSON library; the others go through it (amounts of any size stay
#: exact, decimals stay plain), with the one reason for an exception each
JSON_CODEC = "domain/encoding.py"
JSON_EXCEPTIONS = {
    # writes Solidity string literals: Python's ASCII-escaped JSON strings are valid Solidity escapes
    "adapters/chain/codegen.py": "json.dumps",
}
JSON_CALL = re.compile(r"\b(orjson|json|ujson|simplejson|rapidjson)\.(dumps?|loads?|Fragment)\b")
#: serializers that bypass the codec's handling of wide integers and decimals
MODEL_JSON = re.compile(r"\.model_dump_json\(|json\.JSONEncoder")


def test_every_json_writer_and_reader_uses_the_one_codec() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = str(path.relative_to(PACKAGE))
        if relative == JSON_CODEC:
            continue
        source = path.read_text()
        calls = {m.group(0) for m in JSON_CALL.finditer(source)} | {m.group(0) for m in MODEL_JSON.finditer(source)}
        allowed = JSON_EXCEPTIONS.get(relative)
        calls -= {allowed} if allowed else set()
        if calls:
            offenders.append(f"{relative}: {sorted(calls)}")
    assert offenders == []
