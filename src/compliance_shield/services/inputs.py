"""Validated input models shared by the use cases (and used as API request bodies)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from compliance_shield.domain.addresses import InvalidAddress, normalize_any, normalize_evm
from compliance_shield.domain.encoding import BaseUnits
from compliance_shield.domain.facts import TradingWindow
from compliance_shield.domain.values import (
    BlockchainType,
    Custody,
    InvestorType,
    KycStatus,
    RiskRating,
    WalletStatus,
)


def _evm(value: str) -> str:
    try:
        return normalize_evm(value)
    except InvalidAddress as exc:
        raise ValueError(str(exc)) from exc


def _any_address(value: str) -> str:
    try:
        return normalize_any(value)
    except InvalidAddress as exc:
        raise ValueError(str(exc)) from exc


EvmAddress = Annotated[str, AfterValidator(_evm)]
AnyAddress = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_any_address)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
Category = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]


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
    kyc_expires_at: datetime | None = None
    kyc_provider: str | None = Field(default=None, max_length=64)
    kyc_provider_ref: str | None = Field(default=None, max_length=200)
    accreditation_expires_at: datetime | None = None
    pep: bool = False
    risk_rating: RiskRating = RiskRating.LOW
    designated_tokens: list[UUID] = Field(default_factory=list, max_length=1000)


class InvestorPatch(_Input):
    external_ref: str | None = Field(default=None, max_length=200)
    type: InvestorType | None = None
    name: Name | None = None
    country: CountryCode | None = None
    nationality: CountryCode | None = None
    category: Category | None = None
    kyc_status: KycStatus | None = None
    kyc_expires_at: datetime | None = None
    kyc_provider: str | None = Field(default=None, max_length=64)
    kyc_provider_ref: str | None = Field(default=None, max_length=200)
    accreditation_expires_at: datetime | None = None
    pep: bool | None = None
    risk_rating: RiskRating | None = None
    designated_tokens: list[UUID] | None = Field(default=None, max_length=1000)


class WalletCreate(_Input):
    address: EvmAddress
    investor_id: UUID
    status: WalletStatus = WalletStatus.ACTIVE
    custody: Custody = Custody.CUSTODIAL
    label: str | None = Field(default=None, max_length=200)


class WalletPatch(_Input):
    investor_id: UUID | None = None
    status: WalletStatus | None = None
    custody: Custody | None = None
    label: str | None = Field(default=None, max_length=200)


class TokenCreate(_Input):
    id: UUID | None = None
    symbol: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.\-]{1,16}$")]
    name: Name | None = None
    contract_address: EvmAddress | None = None
    blockchain_type: BlockchainType = BlockchainType.PERMISSIONED
    decimals: int = Field(default=0, ge=0, le=36)
    asset_type: str = Field(default="security", max_length=64)
    issuer: str | None = Field(default=None, max_length=300)
    price_per_unit: Decimal | None = Field(default=None, ge=0, max_digits=38, decimal_places=18)
    price_currency: CurrencyCode | None = None
    total_supply: BaseUnits | None = None
    policy_id: UUID | None = None
    paused: bool = False
    lockup_until: datetime | None = None
    trading_windows: list[TradingWindow] = Field(default_factory=list, max_length=500)


class TokenPatch(_Input):
    symbol: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.\-]{1,16}$")] | None = None
    name: Name | None = None
    contract_address: EvmAddress | None = None
    blockchain_type: BlockchainType | None = None
    decimals: int | None = Field(default=None, ge=0, le=36)
    asset_type: str | None = Field(default=None, max_length=64)
    issuer: str | None = Field(default=None, max_length=300)
    price_per_unit: Decimal | None = Field(default=None, ge=0, max_digits=38, decimal_places=18)
    price_currency: CurrencyCode | None = None
    total_supply: BaseUnits | None = None
    policy_id: UUID | None = None
    paused: bool | None = None
    lockup_until: datetime | None = None
    trading_windows: list[TradingWindow] | None = Field(default=None, max_length=500)


class HoldingPut(_Input):
    """An issuer-registry sync: the investor's balance replaces the stored one."""

    balance: BaseUnits
    #: when the holding was acquired (for holding-period lock-ups); defaults to now
    acquired_at: datetime | None = None


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
