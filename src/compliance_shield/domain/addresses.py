"""Chain addresses: validation and the normalized form used as a key.

EVM addresses (Besu and public EVM chains) match case-insensitively; the key is lower-case hex
and output uses the EIP-55 checksum. Addresses of other chains (held on sanctions lists) are
normalized by ``normalize_any``, by their shape rather than by a chain label (lists file Tron
addresses under XBT and one address under several tokens):

* EVM ``0x`` + 40 hex: lower-case;
* bech32/bech32m (``bc1…``, ``ltc1…``, ``tb1…``, ``bnb1…``, ``zs1…`` …) and Bitcoin Cash
  cashaddr (``bitcoincash:q…`` or bare ``q…``/``p…``): case-insensitive by definition (a valid one
  is all lower or all upper case), so lower-cased, the cashaddr prefix dropped;
* Tron in hex form (``41`` + 40 hex): converted to its base58check ``T…`` form, so both spellings
  of one account share a key;
* bare 64-digit hex (e.g. Monero payment ids) and ``0x`` hex of another length (typos on the
  lists): lower-case;
* anything else — base58 (Bitcoin legacy, Tron ``T…``, Litecoin, Dash, XRP, Zcash ``t1…``, Monero)
  — kept exactly, since base58 is case-sensitive.
"""

from __future__ import annotations

import functools
import hashlib
import re

from eth_utils.address import to_checksum_address

_EVM = re.compile(r"^0x[0-9a-fA-F]{40}$")
_BECH32 = re.compile(r"^[a-z]{1,20}1[02-9ac-hj-np-z]{6,90}$", re.IGNORECASE)
_CASHADDR = re.compile(r"^(?:bitcoincash:|bchtest:)?([qp][02-9ac-hj-np-z]{41})$", re.IGNORECASE)
_TRON_HEX = re.compile(r"^41[0-9a-fA-F]{40}$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_HEX_PREFIXED = re.compile(r"^0x[0-9a-fA-F]+$")
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


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


def has_valid_checksum(value: str) -> bool:
    """False for a mixed-case EVM address whose case is not its EIP-55 checksum (a mistyped
    address); all-lower and all-upper hex carry no checksum and are accepted."""
    digits = value[2:]
    if digits == digits.lower() or digits == digits.upper():
        return True
    return _eip55(value.lower()) == value


def checksum(value: str) -> str:
    """EIP-55 form of a (normalized or not) EVM address."""
    return _eip55(normalize_evm(value))


@functools.lru_cache(maxsize=1 << 16)
def _eip55(normalized: str) -> str:
    # a Keccak hash per call (~60 µs); every answer shows both parties' addresses this way, and a
    # platform's active wallets repeat, so the forms are remembered
    return str(to_checksum_address(normalized))


def normalize_any(value: str) -> str:
    """Normalized key of an address of any chain, for sanctions matching."""
    candidate = value.strip()
    if not candidate:
        raise InvalidAddress("address is empty")
    if _EVM.match(candidate):
        return candidate.lower()
    if any(c.isspace() for c in candidate) or len(candidate) > 128:
        raise InvalidAddress("address contains whitespace or is too long")
    cashaddr = _CASHADDR.match(candidate)
    if cashaddr and _single_case(cashaddr.group(1)):
        return cashaddr.group(1).lower()
    if _BECH32.match(candidate) and _single_case(candidate):
        return candidate.lower()
    if _TRON_HEX.match(candidate):
        return tron_base58(candidate)
    if _HEX64.match(candidate) or _HEX_PREFIXED.match(candidate):
        # hex is case-insensitive; a malformed 0x value (lists carry a few, e.g. 39 digits) is kept
        return candidate.lower()
    return candidate


def _single_case(value: str) -> bool:
    # bech32 and cashaddr forbid mixed case: a mixed-case value is something else (e.g. base58)
    return value in (value.lower(), value.upper())


def tron_base58(hex_address: str) -> str:
    """The base58check (``T…``) form of a Tron address given as ``41`` + 40 hex digits."""
    payload = bytes.fromhex(hex_address)
    check = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    number = int.from_bytes(payload + check, "big")
    out = ""
    while number:
        number, digit = divmod(number, 58)
        out = _BASE58[digit] + out
    return out
