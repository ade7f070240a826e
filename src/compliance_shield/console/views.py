"""What the console's pages show, built from stored records (typed, so templates stay simple)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_RESULT_WORDS = {
    "pass": "passed",
    "fail": "failed (rejects)",
    "review": "asks for review",
    "error": "could not be evaluated (evidence missing)",
    "not_applicable": "did not apply",
}


@dataclass(frozen=True, slots=True)
class TraceLine:
    rule: str
    result: str
    words: str
    message: str
    code: str | None
    risk_points: int


@dataclass(frozen=True, slots=True)
class Hit:
    list_name: str
    entity: str
    score: str
    dismissed: bool
    source: str = ""
    entity_uid: str = ""


@dataclass(frozen=True, slots=True)
class Party:
    side: str
    address: str
    bound: bool
    investor_id: str | None = None
    name: str | None = None
    country: str | None = None
    category: str | None = None
    kyc_status: str | None = None
    pep: bool = False
    risk_rating: str | None = None
    screening_status: str | None = None
    hits: tuple[Hit, ...] = ()
    balance: str = "0"


def trace_lines(check: dict[str, Any]) -> list[TraceLine]:
    """The rule trace in words, the rules that did not pass first."""
    lines = [
        TraceLine(
            rule=str(t["rule"]),
            result=str(t["result"]),
            words=_RESULT_WORDS.get(str(t["result"]), str(t["result"])),
            message=str(t.get("message") or ""),
            code=t.get("code"),
            risk_points=int(t.get("risk_points") or 0),
        )
        for t in check.get("rules") or ()
    ]
    order = {"fail": 0, "review": 1, "error": 2, "pass": 3, "not_applicable": 4}
    return sorted(lines, key=lambda line: order.get(line.result, 5))


def _hits(screening: dict[str, Any] | None) -> tuple[Hit, ...]:
    if not screening:
        return ()
    return tuple(
        Hit(
            list_name=str(h.get("source") or h.get("list_version") or "list"),
            entity=str(h.get("entity_name") or h.get("name") or h.get("entity_uid") or "?"),
            score=f"{float(h.get('score') or 0):.2f}",
            dismissed=bool(h.get("dismissed")),
            source=str(h.get("source") or ""),
            entity_uid=str(h.get("entity_uid") or ""),
        )
        for h in screening.get("hits") or ()
    )


def parties(facts: dict[str, Any] | None) -> list[Party]:
    """Sender and receiver as the engine saw them (from the stored facts)."""
    out = []
    for side in ("sender", "receiver"):
        party = (facts or {}).get(side) or {}
        investor = party.get("investor")
        if investor is None:
            out.append(Party(side=side, address=str(party.get("address", "?")), bound=False))
            continue
        screening = investor.get("screening")
        out.append(
            Party(
                side=side,
                address=str(party.get("address", "?")),
                bound=True,
                investor_id=str(investor.get("id")),
                name=investor.get("name"),
                country=investor.get("country"),
                category=investor.get("category"),
                kyc_status=investor.get("kyc_status"),
                pep=bool(investor.get("pep")),
                risk_rating=investor.get("risk_rating"),
                screening_status=screening.get("status") if screening else "never screened",
                hits=_hits(screening),
                balance=str(party.get("balance", 0)),
            )
        )
    return out


def evidence(facts: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Provider evidence the decision used, as (source, summary) lines."""
    facts = facts or {}
    lines: list[tuple[str, str]] = []
    risk = facts.get("wallet_risk")
    if risk:
        signals = [f"{s.get('address', '?')}: {s.get('level', '?')}" for s in risk.get("signals", [])]
        lines.append(("wallet risk", ", ".join(signals) or "no signals"))
    monitoring = facts.get("monitoring")
    if monitoring:
        if monitoring.get("configured"):
            text = f"{monitoring.get('provider')}: {monitoring.get('outcome')} (score {monitoring.get('score')})"
        else:
            text = "no monitoring provider configured"
        lines.append(("monitoring", text))
    for kyc in facts.get("kyc_checks") or ():
        lines.append(("KYC provider", f"{kyc.get('investor_id')}: {kyc.get('status')}"))
    sanctions = facts.get("sanctions")
    if sanctions is None:
        lines.append(("sanctions lists", "withheld (the reference data was not current)"))
    else:
        hits = sanctions.get("hits") or []
        lines.append(
            (
                "sanctions lists",
                f"{len(hits)} address hit(s); lists {', '.join(sanctions.get('list_versions') or []) or 'none loaded'}",
            )
        )
    return lines
