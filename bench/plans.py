"""The load benchmark's data set and request mix.

The traded tokens and their parties come either straight from the database the bench seeded
(``from_database``: one query a table, fast at any size) or, against a running server, through
the API (``from_api``: pages through tokens, investors and holdings, then each holder's wallets —
meant for the 1,000-investor demo data set).

``Plans`` then makes requests without end, in the ``MIX`` proportions:

- ordinary: a small secondary transfer between two compliant holders of a token (verified,
  Indian, not a PEP nor an insider of the token). Senders are (token, holder) pairs taken in a
  shuffled round, so each pair sends once per round and per-sender velocity limits are reached
  only after as many rounds as the template allows (on the 100,000-investor data set, a round is
  ~60,000 transfers); the sender's wallet is one of its active ones, chosen at random;
- unbound: to an address bound to no investor (REJECTED, WALLET_NOT_BOUND);
- over_balance: more than the sender holds (REJECTED, INSUFFICIENT_BALANCE);
- pep: to a politically exposed investor otherwise compliant (ESCALATED, PEP_REVIEW; left out
  of the mix when the data set has no such investor);
- repeat: a request already answered, sent again with its ``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson

from bench._harness import BenchError

#: share of each kind of request; repeats reuse a key (and body) answered earlier
MIX: dict[str, float] = {"ordinary": 0.73, "unbound": 0.07, "over_balance": 0.06, "pep": 0.04, "repeat": 0.10}
#: what each deliberately non-compliant kind must get: the statuses allowed and a reason among its reasons
EXPECTED: dict[str, tuple[frozenset[str], str]] = {
    "unbound": (frozenset({"REJECTED"}), "WALLET_NOT_BOUND"),
    "over_balance": (frozenset({"REJECTED"}), "INSUFFICIENT_BALANCE"),
    # a sender at its velocity limit makes it REJECTED; it is never approved
    "pep": (frozenset({"ESCALATED", "REJECTED"}), "PEP_REVIEW"),
}
#: the largest ordinary transfer of each template, in whole units (each well below its review thresholds)
TRADE_UNITS = {"india-private-placement": 5, "india-sm-reit": 2, "india-aif": 1, "india-listed-equity": 10}
#: templates without a minimum position or a holder cap: anyone compliant may become a holder
OPEN_TEMPLATES = frozenset({"india-listed-equity"})


@dataclass(frozen=True, slots=True)
class Investor:
    id: str
    name: str
    kyc_status: str
    kyc_expires_at: datetime | None
    accreditation_expires_at: datetime | None
    pep: bool
    country: str
    nationality: str | None
    category: str
    designated_tokens: frozenset[str]

    def eligible(self, token_id: str, now: datetime, *, pep: bool = False) -> bool:
        """A party every template approves: verified, Indian, not an insider of the token; a PEP
        only when ``pep``."""
        return (
            self.kyc_status == "verified"
            and (self.kyc_expires_at is None or self.kyc_expires_at > now)
            and self.pep == pep
            and self.country == "IN"
            and self.nationality == "IN"
            and self.category != "issuer"
            and token_id not in self.designated_tokens
            and (
                self.category != "accredited"
                or (self.accreditation_expires_at is not None and self.accreditation_expires_at > now)
            )
        )


@dataclass(frozen=True, slots=True)
class Party:
    investor_id: str
    name: str
    #: active bound wallets
    addresses: tuple[str, ...]
    balance: int = 0


@dataclass(frozen=True, slots=True)
class TradedToken:
    id: str
    symbol: str
    template: str
    unit: int
    holders: list[Party]
    #: politically exposed investors who may receive it (holders, or anyone on an open template)
    peps: list[Party] = field(default_factory=list)


def _investor(row: Any) -> Investor:
    def when(value: Any) -> datetime | None:
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    return Investor(
        id=str(row["id"]),
        name=row["name"],
        kyc_status=row["kyc_status"],
        kyc_expires_at=when(row["kyc_expires_at"]),
        accreditation_expires_at=when(row["accreditation_expires_at"]),
        pep=row["pep"],
        country=row["country"].strip(),
        nationality=row["nationality"].strip() if row["nationality"] else None,
        category=row["category"],
        designated_tokens=frozenset(str(t) for t in row["designated_tokens"]),
    )


def assemble(
    tokens: Iterable[tuple[str, str, str, int]],
    investors: dict[str, Investor],
    wallets: dict[str, tuple[str, ...]],
    holdings: dict[str, dict[str, int]],
) -> list[TradedToken]:
    """The tradable tokens from (id, symbol, template, decimals), investors, wallets and balances."""
    now = datetime.now(UTC)
    peps = [i for i in investors.values() if i.pep and wallets.get(i.id)]
    traded = []
    for token_id, symbol, template, decimals in tokens:
        if template not in TRADE_UNITS:
            continue
        held = holdings.get(token_id, {})
        holders = [
            Party(i, investors[i].name, wallets[i], balance)
            for i, balance in held.items()
            if balance > 0 and wallets.get(i) and investors[i].eligible(token_id, now)
        ]
        receivers = [
            Party(p.id, p.name, wallets[p.id])
            for p in peps
            if p.eligible(token_id, now, pep=True) and (p.id in held or template in OPEN_TEMPLATES)
        ]
        if len(holders) >= 2:
            traded.append(TradedToken(token_id, symbol, template, 10**decimals, holders, receivers))
    if not traded:
        raise BenchError("no token has two compliant holders with active wallets: run `compliance-shield seed` first")
    return traded


async def from_database(database_url: str) -> list[TradedToken]:
    """The traded tokens, read from the service's database."""
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        tokens = [
            (str(r["id"]), r["symbol"], r["template"] or "", r["decimals"])
            for r in await conn.fetch(
                "SELECT t.id, t.symbol, p.name AS template, t.decimals FROM tokens t "
                "LEFT JOIN policies p ON p.id = t.policy_id ORDER BY t.symbol"
            )
        ]
        investors = {
            str(r["id"]): _investor(r)
            for r in await conn.fetch(
                """SELECT id, name, kyc_status, kyc_expires_at, accreditation_expires_at, pep, country,
                          nationality, category, designated_tokens FROM investors"""
            )
        }
        wallets: dict[str, list[str]] = {}
        for r in await conn.fetch(
            "SELECT investor_id, address FROM wallets WHERE status = 'active' ORDER BY investor_id, address"
        ):
            wallets.setdefault(str(r["investor_id"]), []).append(r["address"])
        holdings: dict[str, dict[str, int]] = {}
        for r in await conn.fetch("SELECT token_id, investor_id, balance FROM holdings WHERE balance > 0"):
            holdings.setdefault(str(r["token_id"]), {})[str(r["investor_id"])] = int(r["balance"])
    finally:
        await conn.close()
    return assemble(tokens, investors, {k: tuple(v) for k, v in wallets.items()}, holdings)


async def _pages(http: httpx.AsyncClient, path: str, **params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = params | {"limit": "500"} | ({"cursor": cursor} if cursor else {})
        response = await http.get(path, params=query)
        if response.status_code != 200:
            raise BenchError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def _get(http: httpx.AsyncClient, path: str, **params: str) -> dict[str, Any]:
    response = await http.get(path, params=params)
    if response.status_code != 200:
        raise BenchError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
    result: dict[str, Any] = response.json()
    return result


async def from_api(http: httpx.AsyncClient) -> list[TradedToken]:
    """The traded tokens, read through the API of a running server."""
    token_rows = await _pages(http, "/v1/tokens")
    policy_ids = {t["policy_id"] for t in token_rows if t.get("policy_id")}
    names = {p: (await _get(http, f"/v1/policies/{p}"))["name"] for p in policy_ids}
    tokens = [
        (t["id"], t["symbol"], names.get(t.get("policy_id"), ""), int(t["decimals"]))
        for t in token_rows
        if names.get(t.get("policy_id")) in TRADE_UNITS
    ]
    investors = {i["id"]: _investor(i) for i in await _pages(http, "/v1/investors")}
    holdings = {
        token_id: {h["investor_id"]: int(h["balance"]) for h in await _pages(http, f"/v1/tokens/{token_id}/holdings")}
        for token_id, *_ in tokens
    }
    wanted = sorted({i for held in holdings.values() for i in held} | {i.id for i in investors.values() if i.pep})
    limit = asyncio.Semaphore(16)

    async def wallets_of(investor_id: str) -> tuple[str, tuple[str, ...]]:
        async with limit:
            page = await _get(http, "/v1/wallets", investor_id=investor_id)
        return investor_id, tuple(w["address"] for w in page["items"] if w["status"] == "active")

    wallets = dict(await asyncio.gather(*(wallets_of(i) for i in wanted)))
    return assemble(tokens, investors, wallets, holdings)


@dataclass(frozen=True, slots=True)
class Plan:
    kind: str
    #: the serialized request body (None for a repeat: it reuses an answered one)
    body: bytes | None


def _body(
    token: TradedToken, sender: Party, from_address: str, to: Party, to_address: str, amount: int, n: int
) -> bytes:
    return orjson.dumps(
        {
            "from_address": from_address,
            "to_address": to_address,
            "amount": str(amount),
            "token_id": token.id,
            "blockchain_type": "permissioned",
            "transfer_type": "secondary",
            "reference": f"bench-order-{n}",
            "travel_rule": {
                "originator": {"name": sender.name, "account": from_address},
                "beneficiary": {"name": to.name, "account": to_address},
            },
        }
    )


class Plans:
    """Requests in the ``MIX`` proportions, made on demand and without end (see the module doc)."""

    def __init__(self, tokens: list[TradedToken], rng: random.Random) -> None:
        self.tokens = tokens
        self.rng = rng
        self.mix = {k: w for k, w in MIX.items() if k != "pep" or any(t.peps for t in tokens)}
        self.pairs = [(t, h) for t in tokens for h in t.holders]
        self.round = 0
        self.turn = len(self.pairs)
        self.made = 0

    def _next_pair(self) -> tuple[TradedToken, Party]:
        if self.turn == len(self.pairs):
            self.rng.shuffle(self.pairs)
            self.turn, self.round = 0, self.round + 1
        self.turn += 1
        return self.pairs[self.turn - 1]

    def _receiver(self, token: TradedToken, sender: Party) -> Party:
        receiver = self.rng.choice(token.holders)
        while receiver is sender:
            receiver = self.rng.choice(token.holders)
        return receiver

    def next(self) -> Plan:
        kind = self.rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
        if kind == "repeat":
            return Plan(kind, None)
        self.made += 1
        if kind == "ordinary":
            token, sender = self._next_pair()
        else:  # rejected or escalated: they spend no velocity, so any pair will do
            token, sender = self.rng.choice(self.pairs)
            if kind == "pep" and not token.peps:
                token = self.rng.choice([t for t in self.tokens if t.peps])
                sender = self.rng.choice(token.holders)
        from_address = self.rng.choice(sender.addresses)
        small = token.unit * self.rng.randint(1, TRADE_UNITS[token.template])
        if kind == "unbound":
            to, amount = Party("", "Unknown Buyer", ("0x" + self.rng.randbytes(20).hex(),)), token.unit
        elif kind == "pep":
            to, amount = self.rng.choice(token.peps), token.unit
        else:
            to = self._receiver(token, sender)
            amount = small if kind == "ordinary" else sender.balance + small
        to_address = self.rng.choice(to.addresses)
        return Plan(kind, _body(token, sender, from_address, to, to_address, amount, self.made))
