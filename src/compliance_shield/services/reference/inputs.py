"""Validated input models shared by the use cases (and used as API request bodies).

The types are strict where lax parsing would store nonsense: dates are ISO 8601 strings (never a
number of seconds: ``-0.5`` is not a date), amounts are integers written in decimal, and a mixed-
case EVM address must carry a valid EIP-55 checksum (a mistyped address is refused, not
normalized). Each type states its constraint in the JSON schema, so the OpenAPI document says what
is accepted. In the PATCH models a field whose column cannot be null has a non-nullable type: left
out it stays unset (``None`` on the model, not in ``model_fields_set``), but an explicit ``null``
is refused with 422 naming the field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from compliance_shield.domain import encoding
from compliance_shield.domain.addresses import InvalidAddress, has_valid_checksum, normalize_any
from compliance_shield.domain.encoding import BaseUnits
from compliance_shield.domain.values import (
    BlockchainType,
    Custody,
    InvestorType,
    KycStatus,
    RiskRating,
    WalletStatus,
)

EVM_ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
_EVM = re.compile(EVM_ADDRESS_PATTERN)
#: what a date-time must start with: a four-digit year, month and day (ISO 8601 / RFC 3339)
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _evm(value: str) -> str:
    # exact, no trimming: the schema's pattern is the whole rule
    if not _EVM.match(value):
        raise ValueError("expected a 0x-prefixed, 40-hex-digit EVM address")
    if not has_valid_checksum(value):
        raise ValueError("mixed-case address with an invalid EIP-55 checksum (mistyped?); "
                         "send it all lower case only if you are sure of it")  # fmt: skip
    return value.lower()


def _any_address(value: str) -> str:
    try:
        return normalize_any(value)
    except InvalidAddress as exc:
        raise ValueError(str(exc)) from exc


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value  # built in code, not parsed from a request
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be an ISO 8601 date-time string such as 2027-03-31T00:00:00Z")
    return value


def _utc(value: datetime) -> datetime:
    # a date-time without an offset is taken as UTC; an offset that moves it out of the
    # representable range (year 1 or 9999) is refused rather than failing in the database
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is out of the supported range of dates") from exc


def _price_text(value: Any) -> Any:
    if not isinstance(value, str) or not _PRICE.match(value):
        raise ValueError("must be a decimal string with at most 20 digits before the point and 18 after")
    return value


#: a price per unit: a decimal string (a JSON number would arrive as a binary float)
PRICE_PATTERN = r"^[0-9]{1,20}(\.[0-9]{1,18})?$"
_PRICE = re.compile(PRICE_PATTERN)
Price = Annotated[
    Decimal,
    BeforeValidator(_price_text),
    WithJsonSchema({"type": "string", "pattern": PRICE_PATTERN, "description": "decimal string, e.g. 1000.50"}),
]

EvmAddress = Annotated[
    str,
    AfterValidator(_evm),
    WithJsonSchema(
        {
            "type": "string",
            "format": "evm-address",
            "pattern": EVM_ADDRESS_PATTERN,
            "description": "EVM address: all lower case, all upper case, or mixed case with a valid EIP-55 checksum",
        }
    ),
]
#: an address of any chain (sanctions lists): printable ASCII without spaces
ANY_ADDRESS_PATTERN = r"^[!-~]{1,128}$"
AnyAddress = Annotated[str, StringConstraints(pattern=ANY_ADDRESS_PATTERN), AfterValidator(_any_address)]
#: a point in time: an ISO 8601 string (numbers are refused); without an offset it is UTC
Timestamp = Annotated[datetime, BeforeValidator(_iso_datetime), AfterValidator(_utc)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
Category = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]


#: how deep free-form JSON (metadata, policy documents) may nest: real documents are a few levels
#: deep, and deeper ones cost recursion in every encoder that touches them
MAX_JSON_DEPTH = 32


def _json_depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            members = item.values() if isinstance(item, dict) else item
            stack.extend((m, depth + 1) for m in members)
    return deepest


def _encoded_size(value: Any) -> int:
    return len(encoding.dumps(value))


def bounded_json(max_bytes: int) -> AfterValidator:
    """A validator for a free-form JSON member: at most ``MAX_JSON_DEPTH`` levels of objects and
    arrays and ``max_bytes`` once encoded."""

    def check(value: Any) -> Any:
        if _json_depth(value) > MAX_JSON_DEPTH:
            raise ValueError(f"nests objects and arrays deeper than {MAX_JSON_DEPTH} levels")
        if _encoded_size(value) > max_bytes:
            raise ValueError(f"is larger than {max_bytes:,} bytes once encoded as JSON")
        return value

    return AfterValidator(check)


def member_error(member: str, message: str) -> PydanticCustomError:
    """An error a model validator raises about one of its members: the API's 422 names
    ``member`` below the model's own location (``transfers[3].to_address``)."""
    return PydanticCustomError("member_invalid", message, {"member": member})


class TradingWindowIn(BaseModel):
    """A closed trading window as sent (strict dates)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: Timestamp
    end: Timestamp
    reason: str = Field(default="", max_length=500)


#: the default of a PATCH field whose column cannot be null: the field is typed without ``None``
#: (so the schema, and validation, refuse an explicit null) yet a field left out reads as None
UNSET: Any = None


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InvestorCreate(_Input):
    id: UUID | None = None
    external_ref: str | None = Field(default=None, max_length=200)
    type: InvestorType = InvestorType.INDIVIDUAL
    name: Name
    country: CountryCode
    nationality: CountryCode | None = None
    category: Category
    kyc_status: KycStatus = KycStatus.PENDING
    kyc_expires_at: Timestamp | None = None
    kyc_provider: str | None = Field(default=None, max_length=64)
    kyc_provider_ref: str | None = Field(default=None, max_length=200)
    accreditation_expires_at: Timestamp | None = None
    pep: StrictBool = False
    risk_rating: RiskRating = RiskRating.LOW
    designated_tokens: list[UUID] = Field(default_factory=list, max_length=1000)


class InvestorPatch(_Input):
    external_ref: str | None = Field(default=None, max_length=200)
    type: InvestorType = UNSET
    name: Name = UNSET
    country: CountryCode = UNSET
    nationality: CountryCode | None = None
    category: Category = UNSET
    kyc_status: KycStatus = UNSET
    kyc_expires_at: Timestamp | None = None
    kyc_provider: str | None = Field(default=None, max_length=64)
    kyc_provider_ref: str | None = Field(default=None, max_length=200)
    accreditation_expires_at: Timestamp | None = None
    pep: StrictBool = UNSET
    risk_rating: RiskRating = UNSET
    designated_tokens: list[UUID] = Field(default=UNSET, max_length=1000)


class WalletCreate(_Input):
    address: EvmAddress
    investor_id: UUID
    status: WalletStatus = WalletStatus.ACTIVE
    custody: Custody = Custody.CUSTODIAL
    label: str | None = Field(default=None, max_length=200)


class WalletPatch(_Input):
    investor_id: UUID = UNSET
    status: WalletStatus = UNSET
    custody: Custody = UNSET
    label: str | None = Field(default=None, max_length=200)


class TokenCreate(_Input):
    id: UUID | None = None
    symbol: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.\-]{1,16}$")]
    name: Name | None = None
    contract_address: EvmAddress | None = None
    blockchain_type: BlockchainType = BlockchainType.PERMISSIONED
    decimals: StrictInt = Field(default=0, ge=0, le=36)
    asset_type: str = Field(default="security", max_length=64)
    issuer: str | None = Field(default=None, max_length=300)
    price_per_unit: Price | None = None
    price_currency: CurrencyCode | None = None
    total_supply: BaseUnits | None = None
    policy_id: UUID | None = None
    paused: StrictBool = False
    lockup_until: Timestamp | None = None
    trading_windows: list[TradingWindowIn] = Field(default_factory=list, max_length=500)


class TokenPatch(_Input):
    symbol: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.\-]{1,16}$")] = UNSET
    name: Name | None = None
    contract_address: EvmAddress | None = None
    blockchain_type: BlockchainType = UNSET
    decimals: StrictInt = Field(default=UNSET, ge=0, le=36)
    asset_type: str | None = Field(default=None, max_length=64)
    issuer: str | None = Field(default=None, max_length=300)
    price_per_unit: Price | None = None
    price_currency: CurrencyCode | None = None
    total_supply: BaseUnits | None = None
    policy_id: UUID | None = None
    paused: StrictBool = UNSET
    lockup_until: Timestamp | None = None
    trading_windows: list[TradingWindowIn] = Field(default=UNSET, max_length=500)


class HoldingPut(_Input):
    """An issuer-registry sync: the investor's balance replaces the stored one."""

    balance: BaseUnits
    #: when the holding was acquired (for holding-period lock-ups); defaults to now
    acquired_at: Timestamp | None = None


class SanctionedAddressIn(_Input):
    address: AnyAddress
    chain: str = Field(default="any", max_length=16)
    source: str = Field(default="operator", min_length=1, max_length=64)
    entity: str | None = Field(default=None, max_length=300)
    list_version: str | None = Field(default=None, max_length=64)


class SanctionedAddressesIn(_Input):
    addresses: list[SanctionedAddressIn] = Field(min_length=1, max_length=10000)


class SanctionedAddressesDelete(_Input):
    addresses: list[AnyAddress] = Field(min_length=1, max_length=10000)
    source: str | None = Field(default=None, max_length=64)
