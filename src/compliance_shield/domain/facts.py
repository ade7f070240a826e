"""Everything a policy may look at, gathered before evaluation.

Facts are plain, immutable and JSON-serializable: the decision stores them, and ``replay``
re-evaluates from them. Amounts are :data:`~compliance_shield.domain.encoding.Units`: exact
integers of any size, stored as decimal strings. ``None`` for a piece of evidence means that its source was missing or
unavailable; rules that need it answer ``error`` (fail closed).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from compliance_shield.domain.encoding import PlainDecimal, Units
from compliance_shield.domain.screening import PartyScreening
from compliance_shield.domain.values import (
    BlockchainType,
    Custody,
    InvestorType,
    KycStatus,
    RiskRating,
    TransferType,
    WalletStatus,
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InvestorFacts(_Frozen):
    id: UUID
    type: InvestorType = InvestorType.INDIVIDUAL
    name: str
    country: str
    nationality: str | None = None
    category: str
    kyc_status: KycStatus
    kyc_expires_at: datetime | None = None
    accreditation_expires_at: datetime | None = None
    pep: bool = False
    risk_rating: RiskRating = RiskRating.LOW
    #: tokens whose issuer lists this investor as a designated person (insider-trading rules)
    designated_tokens: frozenset[UUID] = frozenset()
    #: the external KYC provider (e.g. ``ballerine``) and its reference for this investor, if any
    kyc_provider: str | None = None
    kyc_provider_ref: str | None = None
    #: the stored result of name screening against the sanctions lists (None: never screened)
    screening: PartyScreening | None = None


class WalletFacts(_Frozen):
    address: str
    investor_id: UUID
    status: WalletStatus = WalletStatus.ACTIVE
    custody: Custody = Custody.CUSTODIAL


class Lot(_Frozen):
    """A parcel of a holding with the time it was acquired (for holding-period lock-ups)."""

    acquired_at: datetime
    amount: Units


class PastTransfer(_Frozen):
    """An approved, not cancelled outgoing transfer of the sender in this token."""

    at: datetime
    amount: Units


class PartyFacts(_Frozen):
    """One side of the transfer: the address, whom it is bound to, and their position in the token.

    ``balance`` is the settled balance; ``reserved_out``/``reserved_in`` are the amounts of approved,
    unsettled checks leaving/arriving (they count against limits until settled or expired).
    """

    address: str
    wallet: WalletFacts | None = None
    investor: InvestorFacts | None = None
    balance: Units = 0
    reserved_out: Units = 0
    reserved_in: Units = 0
    lots: tuple[Lot, ...] = ()
    #: approved outgoing transfers in this token within the policy's longest look-back window
    recent_transfers: tuple[PastTransfer, ...] = ()

    @property
    def projected_balance(self) -> int:
        """Balance once every approved, unsettled transfer has settled."""
        return self.balance + self.reserved_in - self.reserved_out

    @property
    def available(self) -> int:
        """What may still leave: settled balance less outgoing reservations."""
        return self.balance - self.reserved_out


class TradingWindow(_Frozen):
    """A closed trading window of the issuer (e.g. quarter end until results + 48 h)."""

    start: datetime
    end: datetime
    reason: str = ""


class TokenFacts(_Frozen):
    id: UUID
    symbol: str
    decimals: int = 0
    price_per_unit: PlainDecimal | None = None
    price_currency: str | None = None
    paused: bool = False
    lockup_until: datetime | None = None
    trading_windows: tuple[TradingWindow, ...] = ()
    #: paid-up capital / units outstanding in base units; ownership % uses it when known
    total_supply: Units | None = None


class TokenStateFacts(_Frozen):
    """Aggregates over all holders of the token, reservations included (conservatively).

    A holder counts when their settled balance or incoming reservations are positive.
    """

    holder_count: int = 0
    holder_count_by_category: dict[str, int] = Field(default_factory=dict)
    #: sum of settled balances plus reserved issuance
    outstanding: Units = 0
    #: projected balance held per investor category
    balance_by_category: dict[str, Units] = Field(default_factory=dict)


class SanctionsHit(_Frozen):
    address: str
    source: str
    entity: str | None = None
    list_version: str | None = None
    #: the list's own id of the entity and the asset it files the address under (imported lists)
    entity_uid: str | None = None
    asset: str | None = None


class SanctionsEvidence(_Frozen):
    """The result of screening both addresses against the sanctions address set."""

    hits: tuple[SanctionsHit, ...] = ()
    list_versions: tuple[str, ...] = ()
    #: the active list versions that list names when the facts were gathered: a party's name
    #: screening must have consulted each of them (None in facts recorded before this field
    #: existed: not compared)
    active_list_versions: tuple[str, ...] | None = None
    #: the deployment must screen names (production): no active list of names is no evidence
    name_lists_required: bool = False


RiskLevel = Literal["low", "medium", "high", "severe"]
KytState = Literal["not_requested", "pending", "complete"]


class WalletRiskSignal(_Frozen):
    """One risk finding about an address: a label (built-in table, provider identification) or a
    KYT alert. ``category`` is lower-case (``mixer``, ``darknet``, ``sanctions``, ``exchange`` …)."""

    address: str
    source: str
    category: str
    level: RiskLevel
    kind: Literal["label", "identification", "alert"] = "label"
    name: str | None = None


class WalletRiskEvidence(_Frozen):
    """What the wallet-risk sources said about the transfer's addresses.

    ``kyt`` is the state of asynchronous transaction screening: ``not_requested`` (no KYT
    configured), ``pending`` (registered, not yet processed: the transfer waits for it) or
    ``complete`` (its alerts are among ``signals``).
    """

    signals: tuple[WalletRiskSignal, ...] = ()
    sources: tuple[str, ...] = ()
    kyt: KytState = "not_requested"


MonitoringOutcome = Literal["approve", "review", "block_and_review", "decline"]


class MonitoringEvidence(_Frozen):
    """The answer of an external transaction-monitoring system (Marble) for this transfer.

    ``configured=False`` means no monitoring system is set up (the rule does not apply).
    """

    configured: bool = True
    provider: str | None = None
    decision_id: str | None = None
    outcome: MonitoringOutcome | None = None
    score: int | None = None
    scenario: str | None = None


class ProviderKyc(_Frozen):
    """A KYC provider's answer for an investor, used instead of the registry's stored status.

    ``status`` None: the provider could not be asked and no fresh answer was cached (fail closed).
    """

    investor_id: UUID
    provider: str
    reference: str
    status: KycStatus | None
    checked_at: datetime | None = None
    from_cache: bool = False


class CountryLists(_Frozen):
    """Dated country lists (FATF call for action / increased monitoring)."""

    as_of: date
    source: str
    call_for_action: frozenset[str] = frozenset()
    call_for_action_edd: frozenset[str] = frozenset()
    increased_monitoring: frozenset[str] = frozenset()


class TravelRuleParty(_Frozen):
    name: str | None = None
    account: str | None = None
    address: str | None = None
    national_id: str | None = None
    date_of_birth: str | None = None
    country: str | None = None
    vasp: str | None = None


class TravelRuleData(_Frozen):
    originator: TravelRuleParty | None = None
    beneficiary: TravelRuleParty | None = None


class TransferFacts(_Frozen):
    token_id: UUID
    from_address: str
    to_address: str
    amount: Units
    blockchain_type: BlockchainType
    transfer_type: TransferType = TransferType.SECONDARY
    travel_rule: TravelRuleData | None = None


class Facts(_Frozen):
    transfer: TransferFacts
    token: TokenFacts
    token_state: TokenStateFacts
    sender: PartyFacts
    receiver: PartyFacts
    sanctions: SanctionsEvidence | None = None
    countries: CountryLists | None = None
    #: None: the wallet-risk sources were not consulted or are unavailable (fail closed)
    wallet_risk: WalletRiskEvidence | None = None
    #: None: the monitoring system is configured but did not answer (fail closed)
    monitoring: MonitoringEvidence | None = None
    #: answers of external KYC providers for the parties' investors (empty: the registry decides)
    kyc_checks: tuple[ProviderKyc, ...] = ()
    extra: dict[str, Any] = Field(default_factory=dict)

    def value_in_currency(self, amount: int) -> Decimal | None:
        """The currency value of ``amount`` base units, or None when the token has no price."""
        if self.token.price_per_unit is None:
            return None
        return Decimal(amount).scaleb(-self.token.decimals) * self.token.price_per_unit
