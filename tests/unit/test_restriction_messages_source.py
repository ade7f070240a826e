"""The Solidity restriction table is generated from the API's reason codes and is not stale."""

from __future__ import annotations

from pathlib import Path

from compliance_shield.adapters.chain.codegen import restriction_library_source
from compliance_shield.domain.reasons import MESSAGES, RESTRICTION_CODES

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def test_committed_library_is_what_the_generator_writes_now() -> None:
    committed = (CONTRACTS / "RestrictionMessages.sol").read_text()
    assert committed == restriction_library_source(), (
        "contracts/RestrictionMessages.sol is stale: run "
        "`python -m compliance_shield.adapters.chain.codegen > contracts/RestrictionMessages.sol` and `npm run compile`"
    )


def test_every_code_and_message_appears_in_the_library() -> None:
    source = restriction_library_source()
    for code, number in RESTRICTION_CODES.items():
        assert f"uint8 internal constant {code.value} = {number};" in source
        assert f'if (code == {code.value}) return "{MESSAGES[code]}";' in source
