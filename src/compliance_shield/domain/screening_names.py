"""Fuzzy name matching: normalization, token similarity, alignment and the qualifiers.

Pure functions (no I/O). The score of a query against one listed name is built from tokens:

1. **Normalize**: transliterate to ASCII (``anyascii``: Arabic, Cyrillic, Devanagari, CJK …),
   lower-case, drop apostrophes (``SAB'AWI`` = ``sabawi``), split on anything else. Order is
   ignored (``TIAN, Yinyin`` = ``Yinyin Tian``).
2. **Token similarity** in 0–1: equal → 1; the same *phonetic key* (transliteration variants:
   Mohammed/Muhammad, Yousef/Yusuf) → 0.92; an initial against a name starting with it → 0.60;
   otherwise the mean of Jaro-Winkler and optimal-string-alignment similarity (rapidfuzz), which
   absorbs typos and transpositions; below 0.60 counts as no match.
3. **Alignment**: tokens are paired greedily, best pair first, each used once. The name score is
   Σ sim × (w_q + w_c) / (Σ w_q + Σ w_c) — a weighted Dice coefficient, so a part missing on either
   side costs its weight (``Frank Bwambale`` vs ``Frank Kakolele Bwambale`` = 0.80, review band)
   while reordering costs nothing. Particles and legal forms (``al``, ``bin``, ``de``, ``llc``) weigh
   0.2; very common given names weigh less than rare surnames (weights come from the index).
4. **Qualifiers** move the best name score: the same date of birth +0.05 (same year +0.02), a year
   two or more apart −0.15 (one apart −0.05); a shared country +0.03, only different ones −0.05;
   a person against a company/vessel (or the reverse) −0.15. The result is clamped to 0–1.

Every step lands in the explanation (``Feature``), so an analyst sees why a hit scored as it did.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from anyascii import anyascii
from rapidfuzz.distance import OSA, JaroWinkler

from compliance_shield.domain.screening import EntityKind, Feature, ListEntity, NameQuery

#: particles, titles and honorifics, legal forms: kept, but they barely count
_LOW_WEIGHT_WORDS = """al el ul ud bin ibn bint ben abu abd abdel umm
    de del della der den di da du des dos la le van von
    y e i the and of for
    mr mrs ms miss sir dr dra doctor prof professor eng engineer col colonel gen general
    sheikh shaikh shaykh haji hajji mullah maulana maulvi mufti imam hafiz qari
    ltd llc inc co corp corporation company limited sa sas sarl de cv sl ltda srl spa gmbh ag kg jsc ojsc cjsc
    pjsc ooo zao oao plc bv nv lp llp sdn bhd pte pvt fze fzc fzco est"""
LOW_WEIGHT_TOKENS = frozenset(_LOW_WEIGHT_WORDS.split())
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

_SPLIT = re.compile(r"[^a-z0-9]+")
_APOSTROPHES = re.compile(r"['`\u2019\u2018\u02bc\u02bb]")

_DIGRAPHS = (
    ("tch", "c"),
    ("sch", "s"),
    ("ch", "c"),
    ("sh", "s"),
    ("zh", "j"),
    ("dh", "d"),
    ("th", "t"),
    ("kh", "h"),
    ("gh", "g"),
    ("ph", "f"),
    ("ck", "k"),
    ("dj", "j"),
)
_LETTERS = str.maketrans({"q": "k", "c": "k", "z": "s", "w": "v", "y": "i", "x": "s"})
_VOWELS = frozenset("aeiouy")


def _syllabic(char: str) -> bool:
    """CJK ideographs and Hangul syllables: each is a syllable of its own when romanized."""
    code = ord(char)
    return 0x3400 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7AF or 0xF900 <= code <= 0xFAFF


def _transliterate(name: str) -> str:
    if name.isascii():
        return name
    # anyascii runs CJK and Hangul syllables together (王伟 → WangWei); a name written so is
    # romanized syllable by syllable (Wang Wei), as the lists write them
    return "".join(anyascii(c) + " " if _syllabic(c) else anyascii(c) for c in name)


#: legal forms written out, translated or abbreviated, and name abbreviations → one spelling
#: (``S.A.`` = ``Sociedad Anonima``, ``OOO`` = ``LLC``, ``Mohd.`` = ``Muhammad``)
_CANONICAL_PHRASES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("limited", "liability", "company"): ("llc",),
    ("obshchestvo", "s", "ogranichennoy", "otvetstvennostyu"): ("llc",),
    ("ooo",): ("llc",),
    ("closed", "joint", "stock", "company"): ("cjsc",),
    ("zao",): ("cjsc",),
    ("public", "joint", "stock", "company"): ("pjsc",),
    ("pao",): ("pjsc",),
    ("open", "joint", "stock", "company"): ("ojsc",),
    ("joint", "stock", "company"): ("jsc",),
    ("oao",): ("ojsc",),
    ("sociedad", "anonima"): ("sa",),
    ("societe", "anonyme"): ("sa",),
    ("gesellschaft", "mit", "beschraenkter", "haftung"): ("gmbh",),
    ("free", "zone", "establishment"): ("fze",),
    ("private", "limited"): ("pvt", "ltd"),
    ("corporation",): ("corp",),
    ("limited",): ("ltd",),
    ("company",): ("co",),
    ("incorporated",): ("inc",),
    ("establishment",): ("est",),
    ("mohd",): ("muhammad",),
    ("muhd",): ("muhammad",),
}
_PHRASE_STARTS: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
for _phrase, _replacement in sorted(_CANONICAL_PHRASES.items(), key=lambda item: -len(item[0])):
    _PHRASE_STARTS.setdefault(_phrase[0], []).append((_phrase, _replacement))
#: dotted abbreviations (``S.A.``, ``L.L.C.``, ``U.M.V.``) are one part, not single letters
_DOTTED = re.compile(r"(?<![a-z0-9])((?:[a-z]\.){1,}[a-z])\.?(?![a-z0-9])")


#: long legal-form words, recognised through a typo too (``corpsoration``, ``limitde``)
_LONG_FORMS = {"corporation": "corp", "company": "co", "limited": "ltd", "incorporated": "inc", "establishment": "est"}


def _legal_form_typo(part: str) -> str | None:
    if len(part) < 6 or (part,) in _CANONICAL_PHRASES:
        return None
    for word, short in _LONG_FORMS.items():
        if abs(len(word) - len(part)) <= 2 and OSA.distance(word, part) <= (2 if len(word) >= 9 else 1):
            return short
    return None


def _canonical(parts: list[str]) -> tuple[str, ...]:
    parts = [_legal_form_typo(p) or p for p in parts]
    out: list[str] = []
    i = 0
    while i < len(parts):
        for phrase, replacement in _PHRASE_STARTS.get(parts[i], ()):
            if tuple(parts[i : i + len(phrase)]) == phrase:
                out.extend(replacement)
                i += len(phrase)
                break
        else:
            out.append(parts[i])
            i += 1
    return tuple(out)


@lru_cache(maxsize=65536)
def tokens(name: str) -> tuple[str, ...]:
    """Normalized tokens of a name, in their original order."""
    text = _APOSTROPHES.sub("", _transliterate(name).lower())
    text = _DOTTED.sub(lambda m: m.group(1).replace(".", ""), text)
    return _canonical([t for t in _SPLIT.split(text) if t])


_SPELLINGS = (
    ("sch", "sh"),
    ("tch", "ch"),
    ("ee", "i"),
    ("ie", "i"),
    ("oo", "u"),
    ("ou", "u"),
    ("kh", "h"),
    ("ph", "f"),
    ("dh", "d"),
    ("gh", "g"),
    ("ck", "k"),
    ("q", "k"),
    ("y", "i"),
    ("w", "v"),
)


@lru_cache(maxsize=65536)
def spelling(token: str) -> str:
    """A key that folds spelling conventions but keeps every vowel's quality: doubled vowels and
    letters, ``ee``/``i``, ``oo``/``ou``/``u``, ``kh``/``h``, ``q``/``k``, ``y``/``i``, ``w``/``v``
    (``kabeer``, ``kabir`` → ``kabir``; ``haqqani``, ``haqani``; but ``zheng`` ≠ ``zhang``)."""
    text = token
    for written, folded in _SPELLINGS:
        text = text.replace(written, folded)
    out = text[:1]
    for c in text[1:]:
        if c != out[-1]:
            out += c
    return out


@lru_cache(maxsize=65536)
def phonetic(token: str) -> str:
    """A transliteration-tolerant key: digraphs folded, vowels after the first letter dropped,
    repeated letters collapsed (``mohammed``, ``muhammad`` → ``mhmd``; ``yousef``, ``yusuf`` → ``asf``).
    """
    if token.isdigit():
        return token
    text = token
    for digraph, single in _DIGRAPHS:
        text = text.replace(digraph, single)
    first = "a" if text[0] in _VOWELS else text[0].translate(_LETTERS)
    rest = [c for c in text[1:].translate(_LETTERS) if c not in _VOWELS and c != "h"]
    out = first
    for c in rest:
        if c != out[-1]:
            out += c
    return out


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


def _join_candidates(
    query: Sequence[str], name: Sequence[str], weak_q: set[int], weak_c: set[int]
) -> list[tuple[float, tuple[int, ...], tuple[int, ...]]]:
    """A weakly matched part against two weakly matched parts of the other side written together,
    and two against two (the space between them moved)."""
    out: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = []
    sides = ((query, name, weak_q, weak_c, False), (name, query, weak_c, weak_q, True))
    for one, two, one_weak, two_weak, flip in sides:
        if len(two_weak) < 2 or len(two) > MAX_JOIN_PARTS:
            continue
        for i in one_weak:
            part = one[i]
            size = len(part)
            if size < MIN_JOINED:
                continue
            slack = max(2, size // 4)
            for j in two_weak:
                for k in two_weak:
                    if j == k or abs(size - len(two[j]) - len(two[k])) > slack:
                        continue
                    similarity = token_similarity(part, two[j] + two[k])
                    if similarity == 1.0 or (similarity >= JOIN_FLOOR and size >= MIN_FUZZY_JOIN):
                        out.append((similarity, (j, k), (i,)) if flip else (similarity, (i,), (j, k)))
    # the space moved by a letter or two (``habuj ewelry`` / ``habu jewelry``): two against two
    if len(query) <= MAX_JOIN_PARTS and len(name) <= MAX_JOIN_PARTS:
        for a in weak_q:
            for b in weak_q:
                if a == b:
                    continue
                joined_q = query[a] + query[b]
                if len(joined_q) < MIN_FUZZY_JOIN:
                    continue
                for c in weak_c:
                    for d in weak_c:
                        if c == d or abs(len(joined_q) - len(name[c]) - len(name[d])) > 2:
                            continue
                        similarity = token_similarity(joined_q, name[c] + name[d])
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
