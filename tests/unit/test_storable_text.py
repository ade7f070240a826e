"""Text PostgreSQL cannot store is found wherever it is, and named by its path (the HTTP edge and
the transfer-check model both use this)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from compliance_shield.api.hygiene import find_unstorable
from compliance_shield.api.schemas import TransferCheckIn

_KEYS = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=8)
_LEAVES = st.none() | st.booleans() | st.integers() | _KEYS
_JSON = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4))


def _paths(value: Any, path: str = "") -> list[str]:
    """The path of every string (and of every string's container key) in ``value``."""
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _paths(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _paths(v, f"{path}[{i}]")]
    return []


def _poison(value: Any, target: str, path: str = "") -> Any:
    if isinstance(value, str):
        return value + "\x00" if path == target else value
    if isinstance(value, dict):
        return {k: _poison(v, target, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(v, target, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


@given(value=_JSON, data=st.data())
def test_a_nul_anywhere_is_found_at_its_path(value: Any, data: st.DataObject) -> None:
    assert find_unstorable(value, "metadata") is None
    paths = _paths(value, "metadata")
    if not paths:
        return
    target = data.draw(st.sampled_from(paths))
    found = find_unstorable(_poison(value, target, "metadata"), "metadata")
    assert found is not None
    assert found[0] == target


def test_a_deep_value_is_walked_without_recursion() -> None:
    value: Any = "bad\x00"
    for _ in range(100_000):
        value = [value]
    found = find_unstorable(value)
    assert found is not None
    assert found[0].endswith("[0]")


@pytest.mark.parametrize(
    ("extra", "member"),
    [({"reference": "a\u0000"}, "reference"), ({"metadata": {"k": ["x", "\u0000"]}}, "metadata.k[1]")],
)
def test_the_transfer_check_model_refuses_it_too(extra: dict[str, Any], member: str) -> None:
    body = {"from_address": "0x" + "1" * 40, "to_address": "0x" + "2" * 40, "amount": "1",
            "token_id": "00000000-0000-4000-8000-000000000001", "blockchain_type": "permissioned", **extra}  # fmt: skip
    with pytest.raises(ValidationError) as raised:
        TransferCheckIn.model_validate_json(json.dumps(body))
    assert raised.value.errors()[0]["ctx"]["member"] == member
