"""Demo data: tokens on each shipped template, ~1,000 investors, wallets and holdings.

Deterministic for a given ``seed`` so that documentation examples stay valid. Loaded in one
transaction with one audit entry; running it twice is refused (the data would collide).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from compliance_shield.db import audit
from compliance_shield.domain.addresses import checksum
from compliance_shield.errors import Conflict
from compliance_shield.services.policies import PolicyService

FIRST = ("Aarav", "Vivaan", "Aditya", "Ananya", "Diya", "Ishaan", "Kavya", "Meera", "Rohan", "Saanvi",
         "Arjun", "Priya", "Rahul", "Sneha", "Vikram", "Lakshmi", "Karthik", "Nisha", "Farhan", "Zoya",
         "Harpreet", "Gurpreet", "Tenzin", "Rajesh", "Sunita", "Amit", "Pooja", "Suresh", "Deepa", "Imran")  # fmt: skip
LAST = ("Sharma", "Verma", "Iyer", "Nair", "Reddy", "Patel", "Shah", "Mehta", "Gupta", "Singh",
        "Khan", "Das", "Banerjee", "Chatterjee", "Menon", "Pillai", "Rao", "Joshi", "Kulkarni", "Bose")  # fmt: skip
ENTITY = ("Capital", "Investments", "Holdings", "Ventures", "Family Office", "Trust", "Partners")

#: (category, share of investors, residence countries)
MIX: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("retail", 0.52, ("IN",)),
    ("accredited", 0.12, ("IN",)),
    ("qib", 0.04, ("IN",)),
    ("institutional", 0.05, ("IN", "SG")),
    ("nri", 0.12, ("AE", "US", "GB", "SG", "CA")),
    ("fpi", 0.05, ("SG", "MU", "US", "GB")),
    ("employee", 0.09, ("IN",)),
    ("manager", 0.01, ("IN",)),
)

#: (symbol, name, template, price per unit in INR, decimals, total supply in whole units)
TOKENS = (
    (
        "ACME-PP",
        "Acme Robotics Pvt Ltd — Series A CCPS",
        "india-private-placement",
        Decimal("1000"),
        0,
        2_000_000,
    ),
    (
        "ALPHA-AIF",
        "Alpha Credit Opportunities Fund (Cat II AIF) units",
        "india-aif",
        Decimal("100000"),
        2,
        50_000,
    ),
    ("METRO-SMR", "Metro Offices SM REIT units", "india-sm-reit", Decimal("10000"), 0, 500_000),
    ("BHARAT-EQ", "Bharat Infra Ltd equity shares", "india-listed-equity", Decimal("2500"), 0, 10_000_000),
)


@dataclass(frozen=True, slots=True)
class SeedSummary:
    tokens: dict[str, UUID]
    investors: int
    wallets: int
    holdings: int
    sample: dict[str, Any]


def _address(seed: int, n: int) -> str:
    return "0x" + hashlib.sha256(f"cs-demo-{seed}-{n}".encode()).hexdigest()[:40]


def _uuid(seed: int, kind: str, n: int) -> UUID:
    digest = bytearray(hashlib.sha256(f"{kind}-{seed}-{n}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x40
    digest[8] = (digest[8] & 0x3F) | 0x80
    return UUID(bytes=bytes(digest))


def _investor(rng: random.Random, seed: int, n: int, now: datetime) -> tuple[Any, ...]:
    roll, acc = rng.random(), 0.0
    category: str = "retail"
    countries: tuple[str, ...] = ("IN",)
    for cat, share, where in MIX:
        acc += share
        if roll < acc:
            category, countries = cat, where
            break
    entity = category in ("qib", "institutional", "fpi") or (category == "accredited" and rng.random() < 0.3)
    name = f"{rng.choice(LAST)} {rng.choice(ENTITY)}" if entity else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    country = rng.choice(countries)
    nationality = "IN" if category in ("nri", "retail", "employee", "accredited", "manager") else country
    kyc_roll = rng.random()
    kyc_status = "verified" if kyc_roll < 0.93 else ("pending" if kyc_roll < 0.97 else "expired")
    kyc_expires = now + timedelta(days=rng.randint(30, 720)) if kyc_status == "verified" else now - timedelta(days=5)
    accreditation = now + timedelta(days=rng.randint(60, 700)) if category == "accredited" else None
    return (
        _uuid(seed, "investor", n), f"DEMO-{n:05d}", "entity" if entity else "individual", name, country,
        nationality, category, kyc_status, kyc_expires, "registry", f"KRA-{n:07d}", accreditation,
        rng.random() < 0.01, rng.choice(("low", "low", "low", "medium", "high")), [],
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class DemoRows:
    people: list[tuple[Any, ...]]
    wallets: list[tuple[Any, ...]]
    tokens: list[tuple[Any, ...]]
    holdings: list[tuple[Any, ...]]
    lots: list[tuple[Any, ...]]


def build_demo(seed: int, investors: int, now: datetime, policy_ids: dict[str, UUID | None]) -> DemoRows:
    """The demo rows: the same for the same ``seed`` and ``investors`` (timestamps aside)."""
    rng = random.Random(seed)  # noqa: S311  (demo data, not security)
    people = [_investor(rng, seed, n, now) for n in range(investors)]
    issuer: tuple[Any, ...] = (
        _uuid(seed, "investor", -1), "DEMO-ISSUER", "entity", "Demo Issuer Treasury", "IN", "IN", "issuer",
        "verified", now + timedelta(days=3650), "registry", "KRA-ISSUER", None, False, "low", [],
    )  # fmt: skip
    people.append(issuer)
    wallets = [(_address(seed, n), p[0], "active", "custodial") for n, p in enumerate(people)]
    # a few self-hosted and frozen wallets, as real registries have
    wallets = [
        (a, inv, "frozen" if n % 97 == 13 else status, "self_hosted" if n % 11 == 0 else custody)
        for n, (a, inv, status, custody) in enumerate(wallets)
    ]
    token_rows, holding_rows, lot_rows = [], [], []
    designated = [p[0] for p in people if p[6] == "employee"][:20]
    for i, (symbol, name, template, price, decimals, supply) in enumerate(TOKENS):
        token_id = _uuid(seed, "token", i)
        windows: list[dict[str, str]] = []
        if template == "india-listed-equity":
            start = now - timedelta(days=3)
            windows = [{"start": start.isoformat(), "end": (start + timedelta(days=10)).isoformat(),
                        "reason": "quarter-end closure until results + 48 h (PIT Sch B cl.4)"}]  # fmt: skip
        token_rows.append((
            token_id, symbol, name, _address(seed, 10_000 + i), "permissioned", decimals, "security",
            "Demo Issuer", price, "INR", supply * 10**decimals, policy_ids[template], False, None, windows,
        ))  # fmt: skip
        holders = rng.sample(range(investors), k=min(investors, {"india-private-placement": 120}.get(template, 300)))
        for n in holders:
            person = people[n]
            if person[7] != "verified" or person[6] == "issuer":
                continue
            units = max(1, int(supply * rng.uniform(0.00005, 0.001)))
            if template == "india-aif" and person[6] != "accredited":
                units = max(units, 110)  # keep AIF holders above the ₹1 crore minimum
            if template == "india-sm-reit":
                units = max(units, 110)  # ₹10 lakh minimum
            balance = units * 10**decimals
            acquired = now - timedelta(days=rng.randint(30, 900))
            holding_rows.append((token_id, person[0], balance))
            lot_rows.append((token_id, person[0], balance, acquired))
    designated_token = next(row[0] for row in token_rows if row[1] == "BHARAT-EQ")
    people = [(*p[:14], [designated_token] if p[0] in designated else []) for p in people]

    return DemoRows(people, wallets, token_rows, holding_rows, lot_rows)


def demo_sample(seed: int = 7, investors: int = 1000) -> dict[str, Any]:
    """The example transfer of an already loaded demo data set."""
    rows = build_demo(seed, investors, datetime.now(UTC), dict.fromkeys(t[2] for t in TOKENS))
    return _sample_transfer(rows.people, rows.wallets, rows.holdings, rows.tokens)


async def seed_demo(
    pool: asyncpg.Pool, policies: PolicyService, *, investors: int = 1000, seed: int = 7
) -> SeedSummary:
    now = datetime.now(UTC).replace(microsecond=0)
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT count(*) FROM tokens WHERE symbol = ANY($1::text[])", [t[0] for t in TOKENS]):
            raise Conflict("demo data is already loaded")
    policy_ids: dict[str, UUID | None] = {}
    for template in sorted({t[2] for t in TOKENS}):
        draft = await policies.save_template_draft(template, "seed")
        await policies.publish(draft["id"], "seed")
        policy_ids[template] = draft["id"]
    rows = build_demo(seed, investors, now, policy_ids)
    people, wallets, token_rows, holding_rows, lot_rows = (
        rows.people,
        rows.wallets,
        rows.tokens,
        rows.holdings,
        rows.lots,
    )

    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            """INSERT INTO investors (id, external_ref, type, name, country, nationality, category, kyc_status,
                 kyc_expires_at, kyc_provider, kyc_provider_ref, accreditation_expires_at, pep, risk_rating,
                 designated_tokens) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)""",
            people,
        )
        await conn.executemany(
            "INSERT INTO wallets (address, investor_id, status, custody) VALUES ($1, $2, $3, $4)", wallets
        )
        await conn.executemany(
            """INSERT INTO tokens (id, symbol, name, contract_address, blockchain_type, decimals, asset_type,
                 issuer, price_per_unit, price_currency, total_supply, policy_id, paused, lockup_until,
                 trading_windows) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)""",
            token_rows,
        )
        await conn.executemany(
            "INSERT INTO holdings (token_id, investor_id, balance, updated_at) VALUES ($1, $2, $3, now())",
            holding_rows,
        )
        await conn.executemany(
            "INSERT INTO holding_lots (token_id, investor_id, amount, acquired_at) VALUES ($1, $2, $3, $4)",
            lot_rows,
        )
        await audit.append(conn, [audit.AuditEntry(now, "seed", "demo.loaded", "dataset", f"demo-{seed}", {
            "investors": len(people), "wallets": len(wallets), "tokens": len(token_rows),
            "holdings": len(holding_rows)})])  # fmt: skip

    sample = _sample_transfer(people, wallets, holding_rows, token_rows)
    return SeedSummary(
        tokens={t[1]: t[0] for t in token_rows},
        investors=len(people),
        wallets=len(wallets),
        holdings=len(holding_rows),
        sample=sample,
    )


def _sample_transfer(
    people: list[tuple[Any, ...]],
    wallets: list[tuple[Any, ...]],
    holdings: list[tuple[Any, ...]],
    tokens: list[tuple[Any, ...]],
) -> dict[str, Any]:
    """A transfer of the private-placement token between two verified, unfrozen retail holders."""
    token_id = tokens[0][0]
    by_investor = {w[1]: w for w in wallets if w[2] == "active"}
    info = {p[0]: p for p in people}
    holders = [h for h in holdings if h[0] == token_id and h[1] in by_investor and not info[h[1]][12]]
    sender = holders[0]
    held = {h[1] for h in holders}
    receiver = next(
        p for p in people
        if p[0] in held and p[0] != sender[1] and p[0] in by_investor and p[7] == "verified" and not p[12]
        and p[4] == "IN"
    )  # fmt: skip
    return {
        "from_address": checksum(by_investor[sender[1]][0]),
        "to_address": checksum(by_investor[receiver[0]][0]),
        "amount": "10",
        "token_id": str(token_id),
        "blockchain_type": "permissioned",
        "transfer_type": "secondary",
    }
