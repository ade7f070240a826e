"""Fuzzy name matching: part similarity, alignment and the qualifiers (pure functions).

The score of a query against one listed name is built from parts (``screening_normalize.tokens``):

1. **Part similarity** in 0–1 (``token_similarity``): equal → 1; an initial against a part
   starting with it → 0.6; the same spelling key (``kabeer``/``kabir``) → 0.95; parts of three or
   four letters one edit apart → 0.5 (as often another name as a typo: ``kang``/``fang``); five
   letters: optimal-string-alignment similarity; longer: its mean with Jaro-Winkler (rapidfuzz);
   parts of six letters or more with the same phonetic key lifted towards 0.92
   (``mohammed``/``muhammad``); below 0.8 no match.
2. **Alignment** (``align``): parts paired best first, each used once; the name score is the
   weighted Dice coefficient Σ sim × (w_q + w_c) / (Σ w_q + Σ w_c), so order costs nothing and a
   part missing on either side costs its weight (``Frank Bwambale`` vs ``Frank Kakolele
   Bwambale`` = 0.80, review band). A part left unmatched or weak is also compared with two parts
   of the other side written together (a dropped, added or moved space: ``abdulhafidzlitni`` ~
   ``abdulhafid zlitni``). Particles, titles and legal forms weigh 0.2, initials 0.5; common parts
   weigh less (weights come from the index).
3. **Qualifiers** (``qualify``): the same date of birth +0.05 (same year +0.02), a year two or more
   apart −0.15 (one apart −0.05); a shared country +0.03, only different ones −0.05; a person
   against a company/vessel (or the reverse) −0.15. They lower any score but raise only a name
   already at or above the review band (0.70). The result is clamped to 0–1.

Every step lands in the explanation (``Feature``), so an analyst sees why a hit scored as it did.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz.distance import OSA, JaroWinkler

from compliance_shield.domain.screening import EntityKind, Feature, ListEntity, NameQuery
from compliance_shield.domain.screening_normalize import LOW_WEIGHT_TOKENS, phonetic, spelling

LOW_WEIGHT = 0.2
INITIAL_WEIGHT = 0.5

PHONETIC_MATCH = 0.92
SPELLING_MATCH = 0.95
PHONETIC_BASE = 0.65
PHONETIC_LIFT = 0.15
INITIAL_MATCH = 0.60
TOKEN_FLOOR = 0.8
#: two parts written together must match more closely than two single parts
JOIN_FLOOR = 0.85
#: ... and be this long unless equal (short syllables joined resemble too much: jian huang/jinhua hong)
MIN_FUZZY_JOIN = 10
#: parts of up to this many letters are compared by edit distance alone
SHORT = 5
VERY_SHORT = 4
SHORT_EDIT = 0.5
PHONETIC_MIN_LENGTH = 6
PHONETIC_MAX_LENGTH_GAP = 2
#: merged parts: a part this long (or longer) may be two parts of the other side written together
MIN_JOINED = 5
MAX_JOIN_PARTS = 8
#: a part matched at least this well is not tried against merged parts
STRONG = 0.9

DOB_EXACT = 0.05
DOB_SAME_YEAR = 0.02
DOB_NEAR = -0.05
DOB_MISMATCH = -0.15
COUNTRY_MATCH = 0.03
COUNTRY_MISMATCH = -0.05
KIND_MISMATCH = -0.15
#: the default review threshold: qualifiers that raise a score apply only to names at or above it
REVIEW_BAND = 0.70


def token_weight(token: str) -> float:
    if token in LOW_WEIGHT_TOKENS:
        return LOW_WEIGHT
    if len(token) == 1:
        return INITIAL_WEIGHT
    return 1.0


@lru_cache(maxsize=262144)
def token_similarity(a: str, b: str) -> float:
    """Similarity of two normalized tokens in 0–1 (0 below the floor).

    Short parts are held to their spelling: one letter in four is a different name more often than
    a typo (``fang``/``kang``, ``ming``/``maung``), so parts of up to ``SHORT`` letters are compared
    by edit distance alone; longer ones by the mean of Jaro-Winkler and edit distance. The phonetic
    lift (transliteration variants) needs parts long enough for the key to say something.
    """
    if a == b:
        return 1.0
    if len(a) == 1 or len(b) == 1:
        return INITIAL_MATCH if a[0] == b[0] else 0.0
    if a.isdigit() or b.isdigit():
        return 0.0
    if len(a) >= 3 and len(b) >= 3 and spelling(a) == spelling(b):
        return SPELLING_MATCH  # the same name in another spelling convention
    longest = max(len(a), len(b))
    if longest <= VERY_SHORT:
        # three or four letters: one edit is as likely another name (kang/fang) as a typo; it
        # counts a little, never enough to carry a two-part name into the review band
        return SHORT_EDIT if min(len(a), len(b)) >= 3 and OSA.distance(a, b) == 1 else 0.0
    osa = OSA.normalized_similarity(a, b)
    similarity = osa if longest <= SHORT else (JaroWinkler.similarity(a, b) + osa) / 2
    if (
        similarity >= PHONETIC_BASE
        and min(len(a), len(b)) >= PHONETIC_MIN_LENGTH
        and abs(len(a) - len(b)) <= PHONETIC_MAX_LENGTH_GAP
    ):
        key = phonetic(a)
        if len(key) >= 3 and key == phonetic(b):
            # a spelling variant of the same sound: lifted, but only from a similar spelling
            # (vowel-less keys alone conflate too much: myers/mirza, malone/milan)
            similarity = max(similarity, min(PHONETIC_MATCH, similarity + PHONETIC_LIFT))
    return similarity if similarity >= TOKEN_FLOOR else 0.0


class Alignment(NamedTuple):
    """How a query's parts lined up with a listed name's."""

    #: weighted Dice coefficient in 0–1
    score: float
    #: (query part(s), listed part(s), similarity), best first
    pairs: list[tuple[str, str, float]]
    #: the query parts that found a partner, with the similarity of the pair
    matched_query: list[tuple[int, float]]
    #: the listed name's parts that found a partner, with the similarity of the pair
    matched_name: list[tuple[int, float]]
    #: every significant part on both sides (not a particle or legal form) found a strong partner
    complete: bool


def _greedy(
    candidates: list[tuple[float, tuple[int, ...], tuple[int, ...]]],
    query_weights: Sequence[float],
    name_weights: Sequence[float],
) -> tuple[float, list[tuple[float, tuple[int, ...], tuple[int, ...]]]]:
    """Pairs taken best similarity first (among equals, the one covering more parts), each part once."""
    candidates.sort(key=lambda c: (c[0], len(c[1]) + len(c[2])), reverse=True)
    used_q: set[int] = set()
    used_c: set[int] = set()
    matched = 0.0
    chosen = []
    for candidate in candidates:
        similarity, iz, js = candidate
        if used_q.intersection(iz) or used_c.intersection(js):
            continue
        used_q.update(iz)
        used_c.update(js)
        matched += similarity * (sum(query_weights[i] for i in iz) + sum(name_weights[j] for j in js))
        chosen.append(candidate)
    return matched, chosen


def _pairs(parts: Sequence[str], weak: set[int]) -> list[tuple[int, int, str]]:
    """Every ordered pair of weak parts, written together."""
    return [(j, k, parts[j] + parts[k]) for j in weak for k in weak if j != k]


def _join_candidates(
    query: Sequence[str], name: Sequence[str], weak_q: set[int], weak_c: set[int]
) -> list[tuple[float, tuple[int, ...], tuple[int, ...]]]:
    """A weakly matched part against two weakly matched parts of the other side written together,
    and two against two (the space between them moved)."""
    out: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = []
    query_pairs = _pairs(query, weak_q) if len(query) <= MAX_JOIN_PARTS else []
    name_pairs = _pairs(name, weak_c) if len(name) <= MAX_JOIN_PARTS else []
    sides = ((query, name_pairs, weak_q, False), (name, query_pairs, weak_c, True))
    for one, two_pairs, one_weak, flip in sides:
        if not two_pairs:
            continue
        for i in one_weak:
            part = one[i]
            size = len(part)
            if size < MIN_JOINED:
                continue
            slack = max(2, size // 4)
            for j, k, joined in two_pairs:
                if abs(size - len(joined)) > slack:
                    continue
                similarity = token_similarity(part, joined)
                if similarity == 1.0 or (similarity >= JOIN_FLOOR and size >= MIN_FUZZY_JOIN):
                    out.append((similarity, (j, k), (i,)) if flip else (similarity, (i,), (j, k)))
    # the space moved by a letter or two (``habuj ewelry`` / ``habu jewelry``): two against two
    if len(query) <= MAX_JOIN_PARTS and len(name) <= MAX_JOIN_PARTS:
        for a, b, joined_q in query_pairs:
            size = len(joined_q)
            if size < MIN_FUZZY_JOIN:
                continue
            for c, d, joined_c in name_pairs:
                if abs(size - len(joined_c)) > 2:
                    continue
                similarity = token_similarity(joined_q, joined_c)
                if similarity >= JOIN_FLOOR:
                    out.append((similarity, (a, b), (c, d)))
    return out


def align(
    query: Sequence[str],
    query_weights: Sequence[float],
    name: Sequence[str],
    name_weights: Sequence[float],
    floor: float = 0.0,
) -> Alignment:
    """Weighted Dice score of the best greedy pairing of two token lists, and the pairs used.

    Parts are paired best similarity first, each used once. A part left unmatched or matched
    weakly is then also compared with two such parts of the other side written together, when
    the lengths fit (a dropped or an extra space: ``abdulhafidzlitni`` / ``abdulhafid zlitni``,
    ``al haq`` / ``alhaq``); such a pair covers all three parts. That pass is skipped when it could
    not lift the score to ``floor``.
    """
    total = sum(query_weights) + sum(name_weights)
    if total <= 0:
        return Alignment(0.0, [], [], [], False)
    candidates: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = []
    for i, q in enumerate(query):
        for j, c in enumerate(name):
            similarity = token_similarity(q, c)
            if similarity > 0:
                candidates.append((similarity, (i,), (j,)))
    matched, chosen = _greedy(candidates, query_weights, name_weights)
    strong_q = {i for s, iz, _ in chosen if s >= STRONG for i in iz}
    strong_c = {j for s, _, js in chosen if s >= STRONG for j in js}
    weak_q = set(range(len(query))) - strong_q
    weak_c = set(range(len(name))) - strong_c
    # the merged-part pass, only where it could change the outcome: the weak parts' weight is
    # the most it can add
    reachable = matched + sum(query_weights[i] for i in weak_q) + sum(name_weights[j] for j in weak_c)
    if weak_q and weak_c and (len(weak_q) >= 2 or len(weak_c) >= 2) and reachable / total >= floor:
        joins = _join_candidates(query, name, weak_q, weak_c)
        if joins:
            rematched, rechosen = _greedy(candidates + joins, query_weights, name_weights)
            if rematched > matched:
                matched, chosen = rematched, rechosen
    pairs = [
        (" ".join(query[i] for i in iz), " ".join(name[j] for j in js), round(similarity, 3))
        for similarity, iz, js in chosen
    ]
    matched_query = [(i, similarity) for similarity, iz, _ in chosen for i in iz]
    matched_name = [(j, similarity) for similarity, _, js in chosen for j in js]
    strong_q = {i for s, iz, _ in chosen if s >= STRONG for i in iz}
    strong_c = {j for s, _, js in chosen if s >= STRONG for j in js}
    complete = all(i in strong_q for i, w in enumerate(query_weights) if w > LOW_WEIGHT) and all(
        j in strong_c for j, w in enumerate(name_weights) if w > LOW_WEIGHT
    )
    return Alignment(min(1.0, matched / total), pairs, matched_query, matched_name, complete)


# -- qualifiers -----------------------------------------------------------------------------


def _dob_feature(query_dob: str | None, listed: Sequence[str]) -> Feature | None:
    if not query_dob or not listed:
        return None
    year = query_dob[:4]
    if not year.isdigit():
        return None
    if any(d == query_dob for d in listed if len(d) == 10):
        return Feature(feature="date_of_birth", value=DOB_EXACT, detail=f"{query_dob} is a listed date of birth")
    if any(d[:4] == year for d in listed):
        return Feature(feature="date_of_birth", value=DOB_SAME_YEAR, detail=f"listed year of birth {year}")
    gap = min(abs(int(d[:4]) - int(year)) for d in listed if d[:4].isdigit())
    if gap <= 1:
        return Feature(feature="date_of_birth", value=DOB_NEAR, detail=f"listed year of birth {gap} year apart")
    return Feature(
        feature="date_of_birth",
        value=DOB_MISMATCH,
        detail=f"born {year}; listed {', '.join(sorted({d[:4] for d in listed}))}",
    )


def _country_feature(query_countries: Sequence[str], entity: ListEntity) -> Feature | None:
    listed = set(entity.nationalities) | set(entity.countries)
    if not query_countries or not listed:
        return None
    shared = sorted(listed & set(query_countries))
    if shared:
        return Feature(feature="country", value=COUNTRY_MATCH, detail=f"shared {', '.join(shared)}")
    return Feature(
        feature="country",
        value=COUNTRY_MISMATCH,
        detail=f"{', '.join(query_countries)} not among listed {', '.join(sorted(listed))}",
    )


def _kind_feature(kind: EntityKind | None, entity: ListEntity) -> Feature | None:
    if kind is None or entity.kind is EntityKind.UNKNOWN:
        return None
    person_query = kind is EntityKind.INDIVIDUAL
    person_listed = entity.kind is EntityKind.INDIVIDUAL
    if person_query == person_listed:
        return None
    return Feature(feature="kind", value=KIND_MISMATCH, detail=f"a {kind.value} against a listed {entity.kind.value}")


def qualify(name_score: float, query: NameQuery, entity: ListEntity) -> tuple[float, list[Feature]]:
    """Apply the qualifiers to a name score; return the final score and the qualifier features."""
    features = [
        f
        for f in (
            _dob_feature(query.date_of_birth, entity.dates_of_birth),
            _country_feature(query.countries, entity),
            _kind_feature(query.kind, entity),
        )
        if f is not None
    ]
    if name_score < REVIEW_BAND:
        # secondary evidence lowers a weak name match but never lifts it into the review band:
        # a shared birth date or country does not make another person's name a match
        features = [
            f if f.value <= 0 else f.model_copy(update={"value": 0.0, "detail": f"{f.detail} (name below review)"})
            for f in features
        ]
    score = name_score + sum(f.value for f in features)
    return max(0.0, min(1.0, round(score, 4))), features
