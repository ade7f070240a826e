"""The shipped JSON Schemas are valid and say what the Kafka consumer actually accepts."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from compliance_shield.workers.consumer import TransferRequestMessage

SCHEMAS = ["compliance-event", "transfer-request", "decision", "dead-letter"]


def load(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        files("compliance_shield").joinpath("schemas", f"{name}.schema.json").read_text()
    )
    return schema


@pytest.mark.parametrize("name", SCHEMAS)
def test_each_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    Draft202012Validator.check_schema(load(name))


BASE = {
    "request_id": "order-1",
    "from_address": "0x1111111111111111111111111111111111111111",
    "to_address": "0x2222222222222222222222222222222222222222",
    "amount": "10",
    "token_id": "ce96c0a2-7bfd-4c9f-a9e6-1fed492fdfe2",
    "blockchain_type": "permissioned",
}

ACCEPTED = [
    {},
    {"amount": 5},
    {"amount": "0010"},
    {"amount": str(2**256 - 1)},
    {"amount": 2**53 - 1},
    {"schema_version": 1, "client_id": "desk-7.eu:1", "transfer_type": "issuance", "reference": "r" * 200},
    {"travel_rule": {"originator": {"name": "Meera Iyer", "country": "IN"}, "beneficiary": None}},
    {"metadata": {"desk": "7"}, "reference": None, "travel_rule": None},
    {"from_address": "0xB8AE773a69038C348367e2cF632eB5C88f30E8E8"},
]

REFUSED = [
    {"request_id": None},
    {"request_id": ""},
    {"request_id": "has space"},
    {"request_id": "x" * 201},
    {"amount": "0"},
    {"amount": 0},
    {"amount": "-1"},
    {"amount": "1.5"},
    {"amount": True},
    {"amount": "9" * 79},
    {"amount": str(2**256)},
    {"amount": 2**256},
    {"amount": 2**53},
    {"amount": "0" * 3 + str(2**256)},
    {"from_address": "0x123"},
    {"token_id": "not-a-uuid"},
    {"blockchain_type": "private"},
    {"transfer_type": "gift"},
    {"client_id": "bad id!"},
    {"schema_version": 2},
    {"reference": "r" * 201},
    {"metadata": {str(i): i for i in range(51)}},
    {"travel_rule": {"originator": {"nickname": "x"}}},
    {"unexpected": 1},
]


def message(change: dict[str, Any]) -> dict[str, Any]:
    body = BASE | change
    return {k: v for k, v in body.items() if not (k == "request_id" and v is None)}


def model_accepts(body: dict[str, Any]) -> bool:
    try:
        TransferRequestMessage.model_validate_json(json.dumps(body))
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("change", ACCEPTED)
def test_requests_the_schema_accepts_are_accepted_by_the_consumer(change: dict[str, Any]) -> None:
    body = message(change)
    assert list(Draft202012Validator(load("transfer-request")).iter_errors(body)) == []
    assert model_accepts(body)


@pytest.mark.parametrize("change", REFUSED)
def test_requests_the_schema_refuses_are_refused_by_the_consumer(change: dict[str, Any]) -> None:
    body = message(change)
    assert list(Draft202012Validator(load("transfer-request")).iter_errors(body)) != []
    assert not model_accepts(body)
