"""The rows of the demo data set, generated deterministically at any size.

``build_demo`` makes investors (a realistic mix of categories, residences and KYC states), their
wallets, tokens on the shipped templates and holdings; the same ``seed`` and ``DataSetSize``
always give the same rows (timestamps aside). The default size (1,000 investors, one wallet each,
four tokens) is the demo that documentation examples use; larger sizes keep its first investors,
wallets and tokens and add to them.

Holdings respect each template's own limits: at most ``PP_HOLDER_CAP`` non-exempt holders of a
private placement, at most ``AIF_HOLDER_CAP`` non-accredited holders of an AIF scheme, every AIF
and SM REIT position above its minimum investment, and supplies large enough that no holder (nor
the NRIs together) comes near an ownership cap.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from compliance_shield.domain.addresses import checksum

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

PP, AIF, SMR, EQ = "india-private-placement", "india-aif", "india-sm-reit", "india-listed-equity"


@dataclass(frozen=True, slots=True)
class TokenSpec:
    symbol: str
    name: str
    template: str
    #: price of one whole unit in INR
    price: Decimal
    decimals: int
    #: whole units issued when the token has at most ``BASE_HOLDERS`` holders (more scale it up)
    supply: int


#: the first token of each template: the demo's four, in the order they are generated
DEMO_TOKENS = (
    TokenSpec("ACME-PP", "Acme Robotics Pvt Ltd — Series A CCPS", PP, Decimal("1000"), 0, 2_000_000),
    TokenSpec("ALPHA-AIF", "Alpha Credit Opportunities Fund (Cat II AIF) units", AIF, Decimal("100000"), 2, 50_000),
    # ERC-20's usual 18 decimals: supplies of 10**23 to 10**25 base units, beyond 64-bit integers
    TokenSpec("METRO-SMR", "Metro Offices SM REIT units", SMR, Decimal("10000"), 18, 500_000),
    TokenSpec("BHARAT-EQ", "Bharat Infra Ltd equity shares", EQ, Decimal("1000"), 18, 10_000_000),
)
#: further issuers on each template, added in turn (one per template per round) after the demo's
MORE_TOKENS = (
    TokenSpec("ZENITH-PP", "Zenith Biologics Pvt Ltd — Series B CCPS", PP, Decimal("1500"), 0, 1_500_000),
    TokenSpec("BANYAN-AIF", "Banyan Growth Fund (Cat I AIF) units", AIF, Decimal("100000"), 2, 40_000),
    TokenSpec("HARBOUR-SMR", "Harbour Warehousing SM REIT units", SMR, Decimal("10000"), 0, 400_000),
    TokenSpec("GANGA-EQ", "Ganga Power Ltd equity shares", EQ, Decimal("1800"), 0, 12_000_000),
    TokenSpec("KAVERI-PP", "Kaveri Agritech Pvt Ltd — non-convertible debentures", PP, Decimal("1000"), 0, 2_500_000),
    TokenSpec("DECCAN-AIF", "Deccan Infrastructure Debt Fund (Cat II AIF) units", AIF, Decimal("100000"), 2, 60_000),
    TokenSpec("LOTUS-SMR", "Lotus Retail Parks SM REIT units", SMR, Decimal("10000"), 0, 450_000),
    TokenSpec("SAGAR-EQ", "Sagar Ports Ltd equity shares", EQ, Decimal("3200"), 0, 8_000_000),
    TokenSpec("NIMBUS-PP", "Nimbus Fintech Pvt Ltd — Series A CCPS", PP, Decimal("2000"), 0, 1_000_000),
    TokenSpec("EVEREST-AIF", "Everest Special Situations Fund (Cat III AIF) units", AIF, Decimal("100000"), 2, 45_000),
    TokenSpec("CYBER-SMR", "Cyber Towers SM REIT units", SMR, Decimal("10000"), 0, 550_000),
    TokenSpec("VINDHYA-EQ", "Vindhya Cement Ltd equity shares", EQ, Decimal("900"), 0, 20_000_000),
    TokenSpec("SAHYADRI-PP", "Sahyadri EV Pvt Ltd — Series C CCPS", PP, Decimal("5000"), 0, 800_000),
    TokenSpec("COROMANDEL-AIF", "Coromandel Venture Fund (Cat I AIF) units", AIF, Decimal("100000"), 2, 30_000),
    TokenSpec("RIVERSIDE-SMR", "Riverside Data Centres SM REIT units", SMR, Decimal("10000"), 0, 600_000),
    TokenSpec("HIMALAYA-EQ", "Himalaya Pharma Ltd equity shares", EQ, Decimal("4100"), 0, 6_000_000),
)
CATALOGUE = DEMO_TOKENS + MORE_TOKENS

#: holders each token gets at least (all investors when there are fewer)
BASE_HOLDERS = 300
#: Companies Act s.42: at most 200 non-exempt holders of a private placement (headroom kept)
PP_HOLDER_CAP = 180
PP_EXEMPT = frozenset({"qib", "employee"})
#: AIF Regulations 10(f): at most 1,000 non-accredited investors per scheme (headroom kept)
AIF_HOLDER_CAP = 950
#: minimum position in whole units: ₹1.1 crore of AIF units, ₹11 lakh of SM REIT units
MIN_UNITS = {AIF: 110, SMR: 110}
#: designated persons (insiders under SEBI PIT) of each listed company
DESIGNATED_PER_COMPANY = 20
#: first wallets of investors numbered from here on are derived apart: this numbering names the
#: tokens' contract addresses
CONTRACT_BASE = 10_000


def holder_target(template: str, investors: int) -> int:
    """How many investors a token of ``template`` is offered to, for a data set of ``investors``."""
    scaled: dict[str, Callable[[int], int]] = {
        PP: lambda n: max(120, min(PP_HOLDER_CAP, n // 500)),
        AIF: lambda n: max(BASE_HOLDERS, n * 3 // 200),
        SMR: lambda n: max(BASE_HOLDERS, n * 3 // 100),
        EQ: lambda n: max(BASE_HOLDERS, n // 5),
    }
    return min(investors, scaled[template](investors))


@dataclass(frozen=True, slots=True)
class DataSetSize:
    investors: int = 1000
    wallets_per_investor: int = 1
    tokens: int = len(DEMO_TOKENS)

    def __post_init__(self) -> None:
        if self.investors < 1 or not 1 <= self.wallets_per_investor <= 10 or not 1 <= self.tokens <= len(CATALOGUE):
            raise ValueError(f"a data set has at least one investor, 1-10 wallets each and 1-{len(CATALOGUE)} tokens")

    @property
    def token_specs(self) -> tuple[TokenSpec, ...]:
        return CATALOGUE[: self.tokens]


@dataclass(frozen=True, slots=True)
class DemoRows:
    """Rows in the column order of ``seed.COLUMNS`` (investors without their screening result)."""

    people: list[tuple[Any, ...]]
    wallets: list[tuple[Any, ...]]
    tokens: list[tuple[Any, ...]]
    holdings: list[tuple[Any, ...]]
    lots: list[tuple[Any, ...]]
    #: the template of each token row, by token id
    templates: dict[UUID, str]


def _address(seed: int, n: int) -> str:
    return "0x" + hashlib.sha256(f"cs-demo-{seed}-{n}".encode()).hexdigest()[:40]


def _wallet_address(seed: int, n: int, k: int) -> str:
    if k == 0 and n < CONTRACT_BASE:
        return _address(seed, n)
    return "0x" + hashlib.sha256(f"cs-demo-wallet-{seed}-{n}-{k}".encode()).hexdigest()[:40]


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


def _wallets(seed: int, people: list[tuple[Any, ...]], per_investor: int) -> list[tuple[Any, ...]]:
    """Each investor's wallets (the issuer's treasury has one); a few self-hosted or frozen ones,
    as real registries have."""
    rows = []
    for k in range(per_investor):
        for n, person in enumerate(people if k == 0 else people[:-1]):
            frozen, self_hosted = (n + k) % 97 == 13, (n + k) % 11 == 0
            rows.append((_wallet_address(seed, n, k), person[0], "frozen" if frozen else "active",
                         "self_hosted" if self_hosted else "custodial"))  # fmt: skip
    return rows


class _Caps:
    """Counts the holders a template limits, so a token never reaches its cap."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.limited = 0

    def admits(self, category: str) -> bool:
        if self.template == PP and category not in PP_EXEMPT:
            cap = PP_HOLDER_CAP
        elif self.template == AIF and category != "accredited":
            cap = AIF_HOLDER_CAP
        else:
            return True
        if self.limited >= cap:
            return False
        self.limited += 1
        return True


def build_demo(seed: int, size: DataSetSize, now: datetime, policy_ids: dict[str, UUID | None]) -> DemoRows:
    """The data set's rows: the same for the same ``seed`` and ``size`` (timestamps aside)."""
    investors = size.investors
    rng = random.Random(seed)  # noqa: S311  (demo data, not security)
    people = [_investor(rng, seed, n, now) for n in range(investors)]
    issuer: tuple[Any, ...] = (
        _uuid(seed, "investor", -1), "DEMO-ISSUER", "entity", "Demo Issuer Treasury", "IN", "IN", "issuer",
        "verified", now + timedelta(days=3650), "registry", "KRA-ISSUER", None, False, "low", [],
    )  # fmt: skip
    people.append(issuer)
    wallets = _wallets(seed, people, size.wallets_per_investor)
    token_rows, holding_rows, lot_rows = [], [], []
    templates: dict[UUID, str] = {}
    employees = [p[0] for p in people if p[6] == "employee"]
    designated: dict[UUID, list[UUID]] = {}
    listed = 0
    for i, spec in enumerate(size.token_specs):
        token_id = _uuid(seed, "token", i)
        templates[token_id] = spec.template
        target = holder_target(spec.template, investors)
        windows: list[dict[str, str]] = []
        if spec.template == EQ:
            start = now - timedelta(days=3)
            windows = [{"start": start.isoformat(), "end": (start + timedelta(days=10)).isoformat(),
                        "reason": "quarter-end closure until results + 48 h (PIT Sch B cl.4)"}]  # fmt: skip
            for person in employees[listed * DESIGNATED_PER_COMPANY : (listed + 1) * DESIGNATED_PER_COMPANY]:
                designated.setdefault(person, []).append(token_id)
            listed += 1
        # more holders, more units issued: the share each holder has stays what it is at the base size
        supply = spec.supply * max(target, BASE_HOLDERS) // BASE_HOLDERS
        token_rows.append((
            token_id, spec.symbol, spec.name, _address(seed, CONTRACT_BASE + i), "permissioned", spec.decimals,
            "security", "Demo Issuer", spec.price, "INR", supply * 10**spec.decimals, policy_ids[spec.template],
            False, None, windows,
        ))  # fmt: skip
        caps = _Caps(spec.template)
        for n in rng.sample(range(investors), k=target):
            person = people[n]
            if person[7] != "verified" or person[6] == "issuer" or not caps.admits(person[6]):
                continue
            units = max(1, int(spec.supply * rng.uniform(0.00005, 0.001)))
            if spec.template in MIN_UNITS and (spec.template != AIF or person[6] != "accredited"):
                units = max(units, MIN_UNITS[spec.template])
            balance = units * 10**spec.decimals
            acquired = now - timedelta(days=rng.randint(30, 900))
            holding_rows.append((token_id, person[0], balance))
            lot_rows.append((token_id, person[0], balance, acquired))
    people = [(*p[:14], designated.get(p[0], [])) for p in people]
    return DemoRows(people, wallets, token_rows, holding_rows, lot_rows, templates)


def sample_transfer(rows: DemoRows) -> dict[str, Any]:
    """A transfer of the first (private-placement) token between two verified, unfrozen retail holders."""
    token_id = rows.tokens[0][0]
    by_investor: dict[UUID, tuple[Any, ...]] = {}
    for w in rows.wallets:
        if w[2] == "active":
            by_investor.setdefault(w[1], w)
    info = {p[0]: p for p in rows.people}
    holders = [h for h in rows.holdings if h[0] == token_id and h[1] in by_investor and not info[h[1]][12]]
    sender = holders[0]
    held = {h[1] for h in holders}
    receiver = next(
        p for p in rows.people
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
