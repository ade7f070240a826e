"""Chain addresses: validation and the normalized form used as a key.

EVM addresses (Besu and public EVM chains) match case-insensitively; the key is lower-case hex
and output uses the EIP-55 checksum. Addresses of other chains (held on sanctions lists) are
normalized by ``normalize_any``: EVM-looking values as above, bech32 (``bc1…``/``ltc1…``/``tb1…``)
lower-cased, anything else (base58, Tron, XMR …) kept exactly, since those are case-sensitive.
"""

from __future__ import annotations

import re

from eth_utils.address import to_checksum_address

_EVM = re.compile(r"^0x[0-9a-fA-F]{40}$")
_BECH32 = re.compile(r"^(bc|tb|ltc|bcrt)1[02-9ac-hj-np-z]{6,87}$", re.IGNORECASE)


class InvalidAddress(ValueError):
    """The value is not an address of the expected kind."""


def is_evm_address(value: str) -> bool:
    return bool(_EVM.match(value))


def normalize_evm(value: str) -> str:
    """Lower-case key of an EVM address; raises ``InvalidAddress`` when malformed."""
    candidate = value.strip()
    if not _EVM.match(candidate):
        raise InvalidAddress("expected a 0x-prefixed, 40-hex-digit EVM address")
    return candidate.lower()


def checksum(value: str) -> str:
    """EIP-55 form of a (normalized or not) EVM address."""
    return str(to_checksum_address(normalize_evm(value)))


def normalize_any(value: str) -> str:
    """Normalized key of an address of any chain, for sanctions matching."""
    candidate = value.strip()
    if not candidate:
        raise InvalidAddress("address is empty")
    if _EVM.match(candidate):
        return candidate.lower()
    if _BECH32.match(candidate):
        return candidate.lower()
    if any(c.isspace() for c in candidate) or len(candidate) > 128:
        raise InvalidAddress("address contains whitespace or is too long")
    return candidate
