"""Suspicious-transaction reports: the draft an officer edits, and its two filing shapes.

A draft (``ReportDraft``) is built from a review case's stored decision: the reporting entity,
the subjects with their KYC, the transaction, and the grounds of suspicion (the AI narrative's
summary as a starting point, when there is one). Officers edit the grounds, the categories and
the action taken; two renderers turn the draft into what the regulator's format asks for:

* ``fiu_ind_str`` — FIU-IND's Suspicious Transaction Report (PMLA s.12, Rule 3(1)(D)): reporting
  entity and principal officer, the persons (individuals/entities) with their identification,
  the transactions, "suspicion due to" categories and the grounds of suspicion;
* ``fincen_sar`` — FinCEN's SAR (BSA e-filing form 111), for US tokens: Part I subject
  information, Part II suspicious activity (dates, amount, categories), Part III/IV the financial
  institution and its contact, Part V the narrative.

Pure: the caller passes the time.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from compliance_shield.domain import encoding


class ReportFormat(StrEnum):
    FIU_IND_STR = "fiu-ind-str"
    FINCEN_SAR = "fincen-sar"


#: FIU-IND's "suspicion due to" heads, and the FinCEN SAR categories they map to
SUSPICION_CATEGORIES: dict[str, str] = {
    "identity_of_client": "Other suspicious activities: suspicious use of identification",
    "background_of_client": "Other suspicious activities: politically exposed person / adverse background",
    "multiple_accounts": "Other suspicious activities: multiple accounts or wallets",
    "activity_in_account": "Money laundering: suspicious account activity",
    "nature_of_transaction": "Money laundering: transaction with no apparent economic purpose",
    "value_of_transaction": "Structuring: transaction value out of profile",
    "sanctions": "Other suspicious activities: sanctions screening match",
}

Text = Annotated[str, Field(max_length=20000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReportingEntity(_Model):
    name: str
    fiu_registration_id: str | None = None
    address: str | None = None
    principal_officer: str | None = None
    principal_officer_email: str | None = None
    tin: str | None = None


class Subject(_Model):
    role: str
    wallet_address: str
    bound: bool
    name: str | None = None
    type: str | None = None
    nationality: str | None = None
    country: str | None = None
    category: str | None = None
    kyc_status: str | None = None
    kyc_provider_ref: str | None = None
    pep: bool = False
    risk_rating: str | None = None
    screening_status: str | None = None


class Transaction(_Model):
    check_id: str
    decided_at: datetime
    token_id: str
    token_symbol: str
    amount_base_units: str
    decimals: int
    value: str | None
    currency: str | None
    from_address: str
    to_address: str
    outcome: str
    #: not carried out (refused or withdrawn): FIU-IND asks for attempted transactions too
    attempted: bool


class ReportDraft(_Model):
    case_id: str
    jurisdiction: str
    reporting_entity: ReportingEntity
    subjects: tuple[Subject, ...]
    transactions: tuple[Transaction, ...]
    reason_codes: tuple[str, ...]
    suspicion_due_to: tuple[str, ...] = ()
    grounds_of_suspicion: Text = ""
    action_taken: Text = ""
    #: the AI draft the grounds started from, if any (model and inputs hash)
    narrative_source: str | None = None


class DraftEdit(_Model):
    """What officers may change in a draft; None leaves a field as it is."""

    suspicion_due_to: tuple[str, ...] | None = None
    grounds_of_suspicion: Text | None = None
    action_taken: Text | None = None


def apply_edit(draft: ReportDraft, edit: DraftEdit) -> ReportDraft:
    unknown = set(edit.suspicion_due_to or ()) - set(SUSPICION_CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories: {', '.join(sorted(unknown))}")
    changes = {k: v for k, v in edit.model_dump(exclude_none=True).items()}
    if "suspicion_due_to" in changes:
        changes["suspicion_due_to"] = tuple(changes["suspicion_due_to"])
    return draft.model_copy(update=changes)


def format_for(jurisdiction: str) -> ReportFormat:
    return ReportFormat.FINCEN_SAR if jurisdiction.upper().startswith("US") else ReportFormat.FIU_IND_STR


def _value(amount: int, decimals: int, price: str | None) -> str | None:
    if price is None:
        return None
    return str((Decimal(amount) / (Decimal(10) ** decimals) * Decimal(price)).quantize(Decimal("0.01")))


def _subject(role: str, party: dict[str, Any], address: str) -> Subject:
    investor = party.get("investor")
    if not investor:
        return Subject(role=role, wallet_address=str(party.get("address") or address), bound=False)
    return Subject(
        role=role,
        wallet_address=str(party.get("address") or address),
        bound=True,
        name=investor.get("name"),
        type=investor.get("type"),
        nationality=investor.get("nationality"),
        country=investor.get("country"),
        category=investor.get("category"),
        kyc_status=investor.get("kyc_status"),
        kyc_provider_ref=investor.get("kyc_provider_ref"),
        pep=bool(investor.get("pep")),
        risk_rating=investor.get("risk_rating"),
        screening_status=(investor.get("screening") or {}).get("status"),
    )


def build_draft(
    case_id: str,
    check: dict[str, Any],
    *,
    jurisdiction: str,
    entity: ReportingEntity,
    reason_codes: tuple[str, ...],
    narrative: dict[str, Any] | None,
) -> ReportDraft:
    """A draft from the case's stored check (its facts are what the engine saw)."""
    facts = check.get("facts") or {}
    token = facts.get("token") or {}
    subjects = tuple(
        _subject(role, facts.get(role) or {}, check["from_address" if role == "sender" else "to_address"])
        for role in ("sender", "receiver")
    )
    decimals = int(token.get("decimals") or 0)
    price = token.get("price_per_unit")
    transaction = Transaction(
        check_id=str(check["id"]), decided_at=check["created_at"], token_id=str(check["token_id"]),
        token_symbol=str(token.get("symbol") or ""), amount_base_units=str(check["amount"]), decimals=decimals,
        value=_value(int(check["amount"]), decimals, str(price) if price is not None else None),
        currency=token.get("price_currency"), from_address=check["from_address"], to_address=check["to_address"],
        outcome=check["status"], attempted=check["status"] != "APPROVED" or check.get("settlement_status") != "settled",
    )  # fmt: skip
    story = (narrative or {}).get("narrative") or {}
    grounds = " ".join(p for p in (story.get("summary"), story.get("trigger")) if p)
    return ReportDraft(
        case_id=case_id, jurisdiction=jurisdiction, reporting_entity=entity, subjects=subjects,
        transactions=(transaction,), reason_codes=reason_codes, grounds_of_suspicion=grounds,
        narrative_source=f"{narrative['model']} {narrative['inputs_sha256'][:12]}" if narrative else None,
    )  # fmt: skip


def fiu_ind_str(draft: ReportDraft) -> dict[str, Any]:
    """The draft in the shape of FIU-IND's STR."""
    e = draft.reporting_entity
    return {
        "report_type": "STR",
        "reporting_entity": {"name": e.name, "fiu_registration_id": e.fiu_registration_id, "address": e.address},
        "principal_officer": {"name": e.principal_officer, "email": e.principal_officer_email},
        "persons": [
            {
                "relation": "originator" if s.role == "sender" else "beneficiary",
                "name": s.name,
                "person_type": s.type,
                "nationality": s.nationality,
                "country_of_residence": s.country,
                "customer_category": s.category,
                "kyc_status": s.kyc_status,
                "identification_reference": s.kyc_provider_ref,
                "politically_exposed": s.pep,
                "risk_category": s.risk_rating,
                "wallet_address": s.wallet_address,
                "identified": s.bound,
            }
            for s in draft.subjects
        ],
        "transactions": [
            {
                "transaction_reference": t.check_id,
                "date": t.decided_at.date().isoformat(),
                "instrument": f"security token {t.token_symbol} ({t.token_id})",
                "mode": "virtual digital asset transfer",
                "amount_base_units": t.amount_base_units,
                "decimals": t.decimals,
                "value": t.value,
                "currency": t.currency,
                "from_wallet": t.from_address,
                "to_wallet": t.to_address,
                "attempted_not_executed": t.attempted,
            }
            for t in draft.transactions
        ],
        "suspicion_due_to": list(draft.suspicion_due_to),
        "alert_indicators": list(draft.reason_codes),
        "grounds_of_suspicion": draft.grounds_of_suspicion,
        "action_taken": draft.action_taken,
    }


def fincen_sar(draft: ReportDraft) -> dict[str, Any]:
    """The draft in the shape of FinCEN's SAR (form 111 parts)."""
    e = draft.reporting_entity
    dates = [t.decided_at.date().isoformat() for t in draft.transactions]
    values = [t.value for t in draft.transactions if t.value is not None]
    return {
        "form": "FinCEN SAR",
        "part_i_subjects": [
            {
                "subject_type": s.type,
                "name": s.name,
                "country": s.country,
                "citizenship": s.nationality,
                "identification": s.kyc_provider_ref,
                "relationship": s.role,
                "wallet_address": s.wallet_address,
                "subject_information_unavailable": not s.bound,
            }
            for s in draft.subjects
        ],
        "part_ii_suspicious_activity": {
            "date_from": min(dates) if dates else None,
            "date_to": max(dates) if dates else None,
            "amount_involved": str(sum(float(v) for v in values)) if values else None,
            "currency": next((t.currency for t in draft.transactions if t.currency), None),
            "categories": [SUSPICION_CATEGORIES[c] for c in draft.suspicion_due_to],
            "product_types": ["Security tokens (digital securities)"],
            "instrument_types": ["Virtual currency / digital asset"],
            "transactions": [
                {
                    "reference": t.check_id,
                    "from_wallet": t.from_address,
                    "to_wallet": t.to_address,
                    "amount_base_units": t.amount_base_units,
                    "attempted": t.attempted,
                }
                for t in draft.transactions
            ],
        },
        "part_iii_financial_institution": {"name": e.name, "tin": e.tin, "address": e.address},
        "part_iv_filing_contact": {"name": e.principal_officer, "email": e.principal_officer_email},
        "part_v_narrative": "\n\n".join(p for p in (draft.grounds_of_suspicion, draft.action_taken) if p),
    }


RENDERERS = {ReportFormat.FIU_IND_STR: fiu_ind_str, ReportFormat.FINCEN_SAR: fincen_sar}


def render(fmt: ReportFormat, draft: ReportDraft) -> dict[str, Any]:
    return RENDERERS[fmt](draft)


def content_hash(rendered: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys) of a rendered report: what the audit chain keeps."""
    return hashlib.sha256(encoding.dumps(rendered, sort_keys=True)).hexdigest()
