"""Request and response bodies of the HTTP API (OpenAPI is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from compliance_shield.api.hygiene import find_unstorable
from compliance_shield.domain.addresses import checksum, is_evm_address
from compliance_shield.domain.encoding import PlainDecimal, PositiveBaseUnits
from compliance_shield.domain.facts import TradingWindow, TravelRuleData
from compliance_shield.domain.values import BlockchainType, Outcome, RuleResult, TransferType
from compliance_shield.services.checks.contract import request_hash
from compliance_shield.services.checks.gather import CheckRequest
from compliance_shield.services.reference.inputs import (
    MAX_JSON_DEPTH,
    UNSET,
    EvmAddress,
    bounded_json,
    member_error,
)

#: the largest ``metadata`` of a check, encoded as JSON (it is stored with every decision)
METADATA_BYTES = 16 * 1024
#: the largest policy document given as an object, encoded as JSON
POLICY_BYTES = 1024 * 1024


class TransferCheckIn(BaseModel):
    """A transfer the platform is about to make. ``amount`` is in base units (a decimal string)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "from_address": "0x1111111111111111111111111111111111111111",
                "to_address": "0x2222222222222222222222222222222222222222",
                "amount": "1000",
                "token_id": "00000000-0000-4000-8000-000000000001",
                "blockchain_type": "permissioned",
                "transfer_type": "secondary",
            }
        },
    )

    from_address: EvmAddress
    to_address: EvmAddress = Field(description="must differ from from_address")
    amount: PositiveBaseUnits = Field(description="integer amount in base units, as a decimal string")
    token_id: UUID
    blockchain_type: BlockchainType
    transfer_type: TransferType = TransferType.SECONDARY
    reference: str | None = Field(default=None, max_length=200)
    travel_rule: TravelRuleData | None = None
    metadata: (
        Annotated[dict[Annotated[str, StringConstraints(max_length=200)], Any], bounded_json(METADATA_BYTES)] | None
    ) = Field(
        default=None,
        max_length=50,
        description=f"free-form: at most 50 keys, {MAX_JSON_DEPTH} levels deep and {METADATA_BYTES:,} bytes as JSON",
    )

    def to_check_request(
        self, principal: str, idempotency_key: str | None, *, exclude: set[str] | None = None
    ) -> CheckRequest:
        """The use case's request; the echo (stored and hashed) leaves out ``exclude`` fields."""
        echo = self.model_dump(mode="json", exclude_none=True, exclude=exclude)
        return CheckRequest(
            token_id=self.token_id,
            from_address=self.from_address,
            to_address=self.to_address,
            amount=self.amount,
            blockchain_type=self.blockchain_type,
            transfer_type=self.transfer_type,
            principal=principal,
            request_hash=request_hash(echo),
            echo=echo,
            reference=self.reference,
            travel_rule=self.travel_rule,
            idempotency_key=idempotency_key,
        )

    @model_validator(mode="after")
    def _two_parties(self) -> TransferCheckIn:
        if self.from_address == self.to_address:
            raise member_error("to_address", "must differ from from_address")
        return self

    @model_validator(mode="after")
    def _storable(self) -> TransferCheckIn:
        # the HTTP edge refuses such text before parsing (api/hygiene.py); this holds it for the
        # other ways in (the Kafka consumer parses messages with this model)
        travel = self.travel_rule.model_dump(mode="json") if self.travel_rule is not None else None
        for name, value in (("reference", self.reference), ("metadata", self.metadata), ("travel_rule", travel)):
            found = find_unstorable(value, name) if value is not None else None
            if found is not None:
                raise member_error(*found)
        return self


class BatchItemIn(TransferCheckIn):
    """One transfer of a batch; ``idempotency_key`` plays the role of the header."""

    idempotency_key: str | None = Field(default=None, max_length=200, pattern=r"^[\x21-\x7e]+$")


class TransferCheckBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transfers: list[BatchItemIn] = Field(min_length=1, max_length=1000)


class ReasonOut(BaseModel):
    code: str
    message: str
    rule: str


class RuleTraceOut(BaseModel):
    rule: str
    result: RuleResult
    code: str | None
    message: str = ""
    risk_points: int
    params: dict[str, Any]
    details: dict[str, Any] = Field(default_factory=dict)


class PolicyRef(BaseModel):
    id: UUID | None
    version: int | None
    hash: str | None


class SettlementOut(BaseModel):
    status: str
    tx_hash: str | None = None
    settled_at: datetime | None = None


class OracleRevocationOut(BaseModel):
    """The ``revokeApproval`` write withdrawing the approval of a cancelled check."""

    status: str = Field(description="pending (queued or sent, awaiting confirmation), confirmed or failed")
    tx_hash: str | None = None
    block_number: int | None = None
    attempts: int
    error: str | None = None
    updated_at: datetime


class OracleWriteOut(BaseModel):
    """How the decision is being recorded on the ComplianceOracle contract."""

    kind: str = Field(description="approval (APPROVED checks) or restriction (the refusal's restriction code)")
    status: str = Field(
        description="pending (queued or sent, awaiting confirmation), confirmed, failed, or cancelled "
        "(an approval whose check was cancelled before it was sent: never written)"
    )
    tx_hash: str | None = None
    block_number: int | None = None
    attempts: int
    error: str | None = None
    updated_at: datetime
    revoked: bool = Field(default=False, description="the approval's revocation is confirmed on chain")
    revocation: OracleRevocationOut | None = Field(
        default=None, description="the revocation of an approval sent before its check was cancelled"
    )


class CheckSummaryOut(BaseModel):
    """A recorded decision without its rule trace and request echo (``view=summary``)."""

    id: UUID
    status: Outcome
    risk_score: int = Field(ge=0, le=100)
    reasons: list[ReasonOut]
    restriction_code: int = Field(ge=0, le=255, description="ERC-1404 restriction code; 0 = none")
    policy: PolicyRef
    token_id: UUID
    from_address: str
    to_address: str
    amount: str
    created_at: datetime
    expires_at: datetime | None = Field(description="until when an approval (and its reservation) is valid")
    processing_ms: float
    engine_version: str
    settlement: SettlementOut
    oracle: OracleWriteOut | None = Field(default=None, description="on-chain oracle write; null when none is queued")


class CheckOut(CheckSummaryOut):
    """A recorded decision: the summary, the per-rule trace and the request as received."""

    rules: list[RuleTraceOut]
    request: dict[str, Any]


#: ``full``: the decision with its rule trace (the default); ``summary``: without trace and request
CheckView = Literal["full", "summary"]


def _display(address: str) -> str:
    return checksum(address) if is_evm_address(address) else address


def check_out(row: dict[str, Any], view: CheckView = "full") -> dict[str, Any]:
    """Shape a stored check row as ``CheckOut`` (or ``CheckSummaryOut`` for ``view="summary"``)."""
    shaped = {
        "id": row["id"],
        "status": row["status"],
        "risk_score": row["risk_score"],
        "reasons": row["reasons"],
        "restriction_code": row["restriction_code"],
        "policy": {"id": row["policy_id"], "version": row["policy_version"], "hash": row["policy_hash"]},
        "token_id": row["token_id"],
        "from_address": _display(row["from_address"]),
        "to_address": _display(row["to_address"]),
        "amount": str(row["amount"]),
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "processing_ms": row["processing_ms"],
        "engine_version": row["engine_version"],
        "settlement": {
            "status": row["settlement_status"],
            "tx_hash": row["tx_hash"],
            "settled_at": row["settled_at"],
        },
        "oracle": _oracle_out(row.get("oracle")),
    }
    if view == "full":
        shaped["rules"] = row["rules"]
        shaped["request"] = row["request"]
    return shaped


def _write_out(write: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": "pending" if write["status"] == "submitted" else write["status"],
        "tx_hash": write["tx_hash"],
        "block_number": write["block_number"],
        "attempts": write["attempts"],
        "error": write["last_error"],
        "updated_at": write["updated_at"],
    }


def _oracle_out(write: dict[str, Any] | None) -> dict[str, Any] | None:
    if write is None:
        return None
    revocation = write.get("revocation")
    return {
        "kind": write["kind"],
        **_write_out(write),
        "revoked": revocation is not None and revocation["status"] == "confirmed",
        "revocation": _write_out(revocation) if revocation is not None else None,
    }


class ItemError(BaseModel):
    code: str
    message: str
    details: Any = None


class BatchResultOut(BaseModel):
    """Exactly one of ``check`` and ``error`` is set; ``status_code`` is what a single check would answer."""

    status_code: int
    check: CheckOut | CheckSummaryOut | None = None
    error: ItemError | None = None


class TransferCheckBatchOut(BaseModel):
    results: list[BatchResultOut]


class CheckPage(BaseModel):
    items: list[CheckOut]
    next_cursor: str | None


class SettleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tx_hash: str = Field(pattern=r"^0x[0-9a-fA-F]{64}$")


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class InvestorOut(BaseModel):
    id: UUID
    external_ref: str | None
    type: str
    name: str
    country: str
    nationality: str | None
    category: str
    kyc_status: str
    kyc_expires_at: datetime | None
    kyc_provider: str | None
    kyc_provider_ref: str | None
    accreditation_expires_at: datetime | None
    pep: bool
    risk_rating: str
    screening_status: str
    designated_tokens: list[UUID]
    created_at: datetime
    updated_at: datetime
    version: int


class WalletOut(BaseModel):
    address: str
    investor_id: UUID
    status: str
    custody: str
    label: str | None
    created_at: datetime
    updated_at: datetime


def wallet_out(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"address": _display(row["address"])}


class TokenOut(BaseModel):
    id: UUID
    symbol: str
    name: str | None
    contract_address: str | None
    blockchain_type: str
    decimals: int
    asset_type: str | None
    issuer: str | None
    price_per_unit: PlainDecimal | None
    price_currency: str | None
    total_supply: str | None
    policy_id: UUID | None
    paused: bool
    lockup_until: datetime | None
    trading_windows: list[TradingWindow]
    created_at: datetime
    updated_at: datetime


def token_out(row: dict[str, Any]) -> dict[str, Any]:
    return row | {
        "contract_address": _display(row["contract_address"]) if row["contract_address"] else None,
        "total_supply": str(int(row["total_supply"])) if row["total_supply"] is not None else None,
    }


class HoldingOut(BaseModel):
    token_id: UUID
    investor_id: UUID
    balance: str
    updated_at: datetime


def holding_out(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"balance": str(int(row["balance"]))}


class PolicyIn(BaseModel):
    """A draft: either a ``document`` (object, or YAML/JSON text) or the name of a shipped ``template``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"oneOf": [{"required": ["document"]}, {"required": ["template"]}]}
    )
    document: Annotated[dict[str, Any], bounded_json(POLICY_BYTES)] | str = UNSET
    template: str = Field(default=UNSET, max_length=64)

    @model_validator(mode="after")
    def _one(self) -> PolicyIn:
        if (self.document is None) == (self.template is None):
            raise ValueError("give exactly one of document or template")
        return self


class PolicyVersionOut(BaseModel):
    version: int
    content_hash: str
    engine_version: str
    published_at: datetime
    published_by: str | None
    document: dict[str, Any]


class PolicyOut(BaseModel):
    id: UUID
    name: str
    title: str | None
    description: str | None
    draft: dict[str, Any] | None
    draft_updated_at: datetime | None
    current_version: int | None
    created_at: datetime
    updated_at: datetime
    versions: list[PolicyVersionOut] = Field(default_factory=list)


class SanctionsChangeOut(BaseModel):
    addresses: list[str]


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
