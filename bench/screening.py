"""Name-screening benchmark: recall per kind of perturbation and per threshold, false-positive rate
per locale, and latency, on the real lists.

Builds the in-memory name index from the OFAC SDN (legacy CSV set) and UN consolidated lists in
``--data`` (default: the shared data folder next to the repository; every entry, vessels and
aircraft included), generates the evaluation set of ``bench.screening_eval`` (seeded: the same
seed gives the same set) and screens every case through ``NameIndex.search``:

* a **positive** (a perturbed listed name) is found at a threshold when its *own* list entry scores
  at or above it;
* a **negative** (a Faker name) is a false positive when *any* entry scores at or above it.

It prints recall and false-positive rate per threshold, recall per kind at the review (0.70) and
reject (0.90) thresholds, the false-positive rate per locale, the latency per name (p50/p99 on one
core) and the cost of the ``sanctioned_party`` rule on the check path::

    python -m bench.screening [--positives 6000] [--negatives 6000] [--seed 7] [--json] [--examples N]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.screening_eval import KINDS, Case, negatives, positives
from compliance_shield.adapters.sanctions import parse_list
from compliance_shield.domain.screening import EntityKind, NameQuery, ParsedList
from compliance_shield.domain.screening_index import ListedEntity, NameIndex

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sanctions"
REVIEW, REJECT = 0.70, 0.90
THRESHOLDS = (0.50, 0.60, 0.65, REVIEW, 0.75, 0.80, 0.85, REJECT)


def load_lists(data: Path) -> list[ParsedList]:
    """The OFAC SDN CSV set in ``data/ofac-sdn`` and the UN list in ``data/un``."""
    sdn = data / "ofac-sdn"
    un = next((data / "un").glob("*.xml"))
    return [
        parse_list("ofac-sdn", {p.name: p.read_bytes() for p in sdn.iterdir() if p.suffix == ".csv"}, "ofac-csv"),
        parse_list("un", {un.name: un.read_bytes()}, "un-xml"),
    ]


def build_index(lists: list[ParsedList]) -> NameIndex:
    return NameIndex(ListedEntity(p.source, f"{p.source}:bench", entity) for p in lists for entity in p.entities)


def _rate(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def run(data: Path, n_positive: int, n_negative: int, seed: int, examples: int = 10) -> dict[str, Any]:
    rng = random.Random(seed)
    lists = load_lists(data)
    started = time.perf_counter()
    index = build_index(lists)
    build_seconds = time.perf_counter() - started
    cases: list[Case] = positives(lists, n_positive, rng) + negatives(n_negative, seed)
    floor = min(THRESHOLDS)
    latencies: list[float] = []
    own_scores: list[float] = []
    any_scores: list[float] = []
    gc.collect()
    gc.disable()  # a collection pause would be charged to whichever query it lands in
    try:
        for case in cases:
            query = NameQuery(name=case.query)
            began = time.thread_time_ns()
            matches = index.search(query, floor=floor, limit=100)
            latencies.append((time.thread_time_ns() - began) / 1e6)
            any_scores.append(max((m.score for m in matches), default=0.0))
            own = [m.score for m in matches if m.source == case.source and m.entity_uid == case.uid]
            own_scores.append(max(own, default=0.0))
    finally:
        gc.enable()
    pos = [(c, s) for c, s in zip(cases, own_scores, strict=True) if c.uid is not None]
    neg = [(c, s) for c, s in zip(cases, any_scores, strict=True) if c.uid is None]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for case, score in pos:
        by_kind[case.kind].append(score)
    by_locale: dict[str, list[float]] = defaultdict(list)
    for case, score in neg:
        by_locale[case.kind].append(score)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) >= 100 else None
    return {
        "names_indexed": len(index),
        "entities_indexed": len(index.entities),
        "index_build_seconds": round(build_seconds, 3),
        "seed": seed,
        "positives": len(pos),
        "negatives": len(neg),
        "latency_ms": {
            "p50": round(statistics.median(latencies), 4),
            "p99": round(quantiles[98], 4) if quantiles else None,
            "mean": round(statistics.fmean(latencies), 4),
        },
        "thresholds": {
            f"{t:.2f}": {
                "recall": _rate([s >= t for _, s in pos]),
                "false_positive_rate": _rate([s >= t for _, s in neg]),
                "false_positives": sum(s >= t for _, s in neg),
            }
            for t in THRESHOLDS
        },
        "recall_by_kind": {
            kind: {
                "cases": len(by_kind[kind]),
                "review": _rate([s >= REVIEW for s in by_kind[kind]]),
                "reject": _rate([s >= REJECT for s in by_kind[kind]]),
            }
            for kind in KINDS
            if by_kind[kind]
        },
        "false_positive_rate_by_locale": {
            locale: {"cases": len(scores), "review": _rate([s >= REVIEW for s in scores])}
            for locale, scores in by_locale.items()
        },
        "false_positive_examples": [{"query": c.query, "locale": c.kind, "score": s} for c, s in neg if s >= REVIEW][
            :examples
        ],
        "missed_examples": [
            {"query": c.query, "kind": c.kind, "listed": c.original, "source": c.source, "uid": c.uid, "score": s}
            for c, s in pos
            if s < REVIEW
        ][:examples],
    }


def check_path_cost(seconds: float = 0.5) -> dict[str, float]:
    """Microseconds per evaluation of the ``sanctioned_party`` rule on the check path.

    The check path never matches names: it reads each investor's stored screening result from the
    snapshot, so the cost is that of evaluating the rule on facts (a clear result, and one with
    three stored hits of which one is dismissed).
    """
    from datetime import UTC, datetime
    from uuid import uuid4

    from compliance_shield.domain.engine import evaluate
    from compliance_shield.domain.facts import (
        Facts,
        InvestorFacts,
        PartyFacts,
        TokenFacts,
        TokenStateFacts,
        TransferFacts,
        WalletFacts,
    )
    from compliance_shield.domain.policy import compile_policy
    from compliance_shield.domain.screening import NameMatch, PartyScreening, ScreeningStatus, status_for
    from compliance_shield.domain.values import BlockchainType, KycStatus

    now = datetime.now(UTC)
    rules = [{"rule": "sanctioned_party", "source": "bench"}]
    policy = compile_policy({"name": "bench-party", "jurisdiction": "IN", "as_of": "2026-02-27", "rules": rules})

    def party(address: str, screening: PartyScreening) -> PartyFacts:
        investor = InvestorFacts(
            id=uuid4(), name="Asha Rao", country="IN", category="retail", kyc_status=KycStatus.VERIFIED,
            screening=screening,
        )  # fmt: skip
        wallet = WalletFacts(address=address, investor_id=investor.id)
        return PartyFacts(address=address, wallet=wallet, investor=investor)

    def facts(screening: PartyScreening) -> Facts:
        token = TokenFacts(id=uuid4(), symbol="BENCH")
        sender, receiver = "0x" + "a1" * 20, "0x" + "b2" * 20
        transfer = TransferFacts(
            token_id=token.id, from_address=sender, to_address=receiver, amount=1,
            blockchain_type=BlockchainType.PERMISSIONED,
        )  # fmt: skip
        return Facts(
            transfer=transfer, token=token, token_state=TokenStateFacts(),
            sender=party(sender, screening), receiver=party(receiver, screening),
        )  # fmt: skip

    hits = tuple(
        NameMatch(
            source="un", list_version="un:bench", entity_uid=str(i), entity_name=f"Listed {i}",
            entity_kind=EntityKind.INDIVIDUAL, matched_name=f"Listed {i}", score=score, dismissed=i == 0,
        )
        for i, score in enumerate((0.95, 0.62, 0.55))
    )  # fmt: skip
    cases = {
        "clear": PartyScreening(status=ScreeningStatus.CLEAR, list_versions=("un:bench",), screened_at=now),
        "three_hits": PartyScreening(status=status_for(hits), hits=hits, list_versions=("un:bench",), screened_at=now),
    }
    out = {}
    for label, screening in cases.items():
        prepared = facts(screening)
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for _ in range(200):
                evaluate(policy, prepared, now)
            count += 200
        out[f"{label}_us"] = round((time.perf_counter() - started) / count * 1e6, 2)
    return out


def _print(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    console.print(
        f"{results['entities_indexed']} entries, {results['names_indexed']} names indexed in "
        f"{results['index_build_seconds']} s; seed {results['seed']}: {results['positives']} perturbed listed "
        f"names, {results['negatives']} non-listed names"
    )
    table = Table("threshold", "recall (right entry)", "false-positive rate", "false positives")
    for label, row in results["thresholds"].items():
        marker = " (review, default)" if float(label) == REVIEW else " (reject)" if float(label) == REJECT else ""
        table.add_row(
            label + marker, f"{row['recall']:.4f}", f"{row['false_positive_rate']:.4f}", str(row["false_positives"])
        )
    console.print(table)
    kinds = Table("kind", "cases", f"recall ≥ {REVIEW:.2f}", f"recall ≥ {REJECT:.2f}")
    for kind, row in results["recall_by_kind"].items():
        kinds.add_row(kind, str(row["cases"]), f"{row['review']:.4f}", f"{row['reject']:.4f}")
    console.print(kinds)
    locales = Table("negatives from", "cases", f"false-positive rate ≥ {REVIEW:.2f}")
    for locale, row in results["false_positive_rate_by_locale"].items():
        locales.add_row(locale, str(row["cases"]), f"{row['review']:.4f}")
    console.print(locales)
    latency = results["latency_ms"]
    console.print(
        f"latency per name: p50 {latency['p50']:.3f} ms, p99 {latency['p99']} ms, mean {latency['mean']:.3f} ms"
    )
    for example in results["false_positive_examples"]:
        console.print(f"  false positive: {example['query']!r} ({example['locale']}) {example['score']:.3f}")
    for example in results["missed_examples"]:
        console.print(
            f"  missed: {example['query']!r} ({example['kind']}) for {example['listed']!r} {example['score']:.3f}"
        )
    cost = results.get("check_path")
    if cost:
        console.print(
            f"check path: sanctioned_party evaluates in {cost['clear_us']} µs (clear), {cost['three_hits_us']} µs "
            "(three stored hits); names are matched when investors or lists change, never per transfer"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with ofac-sdn/ and un/")
    parser.add_argument("--positives", type=int, default=6000)
    parser.add_argument("--negatives", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--examples", type=int, default=10, help="false positives and misses to print")
    parser.add_argument("--no-check-path", action="store_true", help="skip the sanctioned_party rule timing")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if not (args.data / "ofac-sdn").is_dir():
        print(f"no list data in {args.data} (use --data)", file=sys.stderr)
        return 2
    results = run(args.data, args.positives, args.negatives, args.seed, args.examples)
    if not args.no_check_path:
        results["check_path"] = check_path_cost()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
