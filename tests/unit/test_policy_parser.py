"""Policy documents: every problem is reported with its path; the content hash is canonical."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from builders import policy_document

from compliance_shield.domain.policy import compile_policy, parse_policy
from compliance_shield.domain.rules import REGISTRY, rule
from compliance_shield.domain.rules.registry import NoParams
from compliance_shield.errors import PolicyInvalid

VALID_YAML = """
name: pp-test
jurisdiction: IN
as_of: 2026-02-13
escalation_threshold: 60
rules:
  - rule: max_holders
    source: Companies Act 2013 s.42(2)
    params:
      max_holders: 200
      exempt_categories: [qib, employee]
  - rule: kyc_verified
    source: SEBI KYC Master Circular 2023/169
"""


def errors_of(data: Any) -> list[dict[str, str]]:
    with pytest.raises(PolicyInvalid) as caught:
        compile_policy(data)
    return caught.value.errors


def fields_of(data: Any) -> list[str]:
    return [e["field"] for e in errors_of(data)]


def test_valid_document_compiles_with_defaults_dumped() -> None:
    policy = parse_policy(VALID_YAML)
    assert policy.name == "pp-test"
    assert [c.spec.rule for c in policy.rules] == ["max_holders", "kyc_verified"]
    assert policy.rules[0].params_dump == {"max_holders": 200, "exempt_categories": ["qib", "employee"]}
    assert policy.document.approval_ttl_seconds == 900


@pytest.mark.parametrize(
    ("document", "field"),
    [
        pytest.param(
            policy_document({"rule": "kyc_verified"}, {"rule": "no_such_rule"}), "rules[1].rule", id="unknown-rule"
        ),
        pytest.param(
            policy_document({"rule": "max_holders", "params": {"max_holders": "many"}}),
            "rules[0].params.max_holders",
            id="bad-param-type",
        ),
        pytest.param(
            policy_document({"rule": "max_holders", "params": {"max_holders": 0}}),
            "rules[0].params.max_holders",
            id="bad-param-range",
        ),
        pytest.param(
            policy_document({"rule": "max_holders", "params": {"max_holders": 5, "cap": 1}}),
            "rules[0].params.cap",
            id="unknown-param",
        ),
        pytest.param(
            {**policy_document(), "rules": [{"rule": "kyc_verified"}]}, "rules[0].source", id="missing-source"
        ),
        pytest.param(policy_document({"rule": "kyc_verified", "source": ""}), "rules[0].source", id="empty-source"),
        pytest.param(
            policy_document({"rule": "kyc_verified", "on_fail": "ignore"}), "rules[0].on_fail", id="bad-on-fail"
        ),
        pytest.param(
            {k: v for k, v in policy_document({"rule": "kyc_verified"}).items() if k != "as_of"},
            "as_of",
            id="missing-as-of",
        ),
        pytest.param(policy_document({"rule": "kyc_verified"}, name="Bad Name"), "name", id="bad-name"),
        pytest.param(policy_document(), "rules", id="no-rules"),
        pytest.param(policy_document({"rule": "kyc_verified"}, surprise=True), "surprise", id="unknown-top-level-key"),
        pytest.param(["not", "a", "mapping"], "$", id="not-a-mapping"),
    ],
)
def test_bad_document_names_the_path(document: Any, field: str) -> None:
    assert field in fields_of(document)


def test_all_rule_errors_are_reported_at_once() -> None:
    document = policy_document(
        {"rule": "max_holders", "params": {"max_holders": 0}},
        {"rule": "no_such_rule"},
        {"rule": "travel_rule", "params": {"threshold": "1000"}},
    )
    assert fields_of(document) == [
        "rules[0].params.max_holders",
        "rules[1].rule",
        "rules[2].params.currency",
    ]


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy("name: x\nrules: [\n  - rule: kyc_verified\n")
    (error,) = caught.value.errors
    assert error["field"].startswith("line ")
    assert "not valid YAML" in error["message"]


def test_json_is_accepted() -> None:
    document = policy_document({"rule": "token_paused"})
    assert parse_policy(json.dumps(document)).content_hash == compile_policy(document).content_hash


def test_content_hash_is_stable_across_key_order() -> None:
    data = yaml.safe_load(VALID_YAML)
    reordered = {key: data[key] for key in reversed(list(data))}
    reordered["rules"] = [{key: spec[key] for key in reversed(list(spec))} for spec in data["rules"]]
    reordered["rules"][0]["params"] = {"exempt_categories": ["qib", "employee"], "max_holders": 200}
    assert compile_policy(reordered).content_hash == parse_policy(VALID_YAML).content_hash


def test_content_hash_changes_with_a_parameter() -> None:
    changed = VALID_YAML.replace("max_holders: 200", "max_holders: 150")
    assert parse_policy(changed).content_hash != parse_policy(VALID_YAML).content_hash


def test_a_rule_name_cannot_be_registered_twice() -> None:
    before = dict(REGISTRY)
    with pytest.raises(RuntimeError, match="registered twice"):
        rule("kyc_verified", NoParams, "duplicate")(REGISTRY["kyc_verified"].check)
    assert before == REGISTRY
