"""Generate ``contracts/RestrictionMessages.sol`` from the reason-code table.

The contracts answer ERC-1404 ``messageForTransferRestriction`` with the same numbers and
texts as the API (``domain/reasons.py``); generating the library from that table keeps them
from drifting, and a test fails when the committed file is stale. Regenerate with
``python -m compliance_shield.adapters.chain.codegen > contracts/RestrictionMessages.sol``.
"""

from __future__ import annotations

import json
import sys

from compliance_shield.domain.reasons import MESSAGES, RESTRICTION_CODES

NO_RESTRICTION_MESSAGE = "No restriction"
UNKNOWN_MESSAGE = "Unknown restriction code"

_HEADER = """\
// SPDX-License-Identifier: LicenseRef-Proprietary
// GENERATED from compliance_shield/domain/reasons.py by compliance_shield.adapters.chain.codegen.
// Do not edit: regenerate, then recompile (npm run compile).
pragma solidity 0.8.37;

/// @title ERC-1404 restriction codes and messages shared with the ComplianceShield API.
/// @notice The numbers are a published contract: a code's number never changes and is never reused.
library RestrictionMessages {
    uint8 internal constant NO_RESTRICTION = 0;
"""


def _solidity_string(text: str) -> str:
    if not text.isascii():
        raise ValueError(f"restriction messages must be ASCII for Solidity string literals: {text!r}")
    return json.dumps(text)  # ASCII JSON string escapes are valid Solidity escapes


def restriction_library_source() -> str:
    """The Solidity source of the ``RestrictionMessages`` library."""
    ordered = sorted(RESTRICTION_CODES.items(), key=lambda item: item[1])
    lines = [_HEADER]
    lines.extend(f"    uint8 internal constant {code.value} = {number};\n" for code, number in ordered)
    lines.append("\n    /// @notice The human-readable text of `code` (ERC-1404 messageForTransferRestriction).\n")
    lines.append("    function message(uint8 code) internal pure returns (string memory) {\n")
    lines.append(f"        if (code == NO_RESTRICTION) return {_solidity_string(NO_RESTRICTION_MESSAGE)};\n")
    lines.extend(
        f"        if (code == {code.value}) return {_solidity_string(MESSAGES[code])};\n" for code, _ in ordered
    )
    lines.append(f"        return {_solidity_string(UNKNOWN_MESSAGE)};\n")
    lines.append("    }\n}\n")
    return "".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(restriction_library_source())
