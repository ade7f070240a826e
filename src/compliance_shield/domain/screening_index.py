"""An in-memory index of listed names for fast fuzzy screening (pure: built from list entities).

Blocking keeps a query to a few dozen candidates out of tens of thousands of names. Each
significant part (not a particle, at least two characters) is posted under:

* its exact form and its spelling key (``screening_normalize.spelling``),
* its phonetic key (``screening_normalize.phonetic``: transliteration variants), three letters or more,
* its one-character deletions when it has five or more characters (symmetric-deletion keys:
  one typo, insertion, deletion or transposition on either side still shares a key).

A query part that is no listed part also looks up its pieces (it may be two parts written
together), credited by how much of it they cover; adjacent query parts are looked up joined (a
space typed inside a part). Fuzzy keys shared by more than ``MAX_FUZZY_POSTING`` names are not
followed. Names are ranked by the Dice score the parts that reached them could give — so a short
name is not crowded out by longer names sharing its common parts — and the best
``max_candidates``, plus every listed name equal to the query, are scored in full
(``screening_names.align``). A match resting on little information (few, short or common parts)
is damped unless it is the listed name itself; then the qualifiers apply
(``screening_names.qualify``). Part weights fall with how common a part is on the lists
(``mohammad`` counts less than a rare surname).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass

from compliance_shield.domain.screening import Feature, ListEntity, NameMatch, NameQuery
from compliance_shield.domain.screening_names import align, qualify, token_weight
from compliance_shield.domain.screening_normalize import LOW_WEIGHT_TOKENS, phonetic, spelling, tokens

#: a token found in this many names (or fewer) weighs fully; each tenfold more costs COMMON_STEP
RARE_DF = 5
COMMON_STEP = 0.2
MIN_COMMON_WEIGHT = 0.5


@dataclass(frozen=True, slots=True)
class ListedEntity:
    """An entity of an active list version, as the index serves it."""

    source: str
    list_version: str
    entity: ListEntity


@dataclass(frozen=True, slots=True)
class _Name:
    entity: int
    text: str
    tokens: tuple[str, ...]
    weights: tuple[float, ...]
    #: the parts sorted: equal keys are the same name written in another order
    key: tuple[str, ...]
    #: information of each part
    parts_information: tuple[float, ...]
    #: Σ information of the parts
    information: float


#: a part of this many letters (plus one) or more is fully informative; shorter ones less
INFORMATIVE_LENGTH = 4
#: a name score is damped when the matched information (Σ similarity × information of the listed
#: name's matched parts) falls short of EVIDENCE_SHARE of the listed name's, bounded to MIN–MAX_EVIDENCE
MIN_EVIDENCE = 1.0
MAX_EVIDENCE = 1.5
EVIDENCE_SHARE = 0.9
DAMPING = 0.5
#: the most the qualifiers add to a name score (date of birth and country)
QUALIFIER_ROOM = 0.1
#: how much reaching a name through each kind of key says (exact beats a phonetic or typo key)
KEY_QUALITY = {"t": 1.0, "s": 0.9, "p": 0.8, "d": 0.7}
#: a piece of a part that may be two parts written together
SPLIT_QUALITY = 0.9
#: a phonetic, typo or split key reaching more names than this is not followed
MAX_FUZZY_POSTING = 300
MIN_SPLIT = 5
MIN_PIECE = 2
MIN_FUZZY_PIECE = 5


def _keys(token: str) -> list[str]:
    """Blocking keys of a token, exact first."""
    if len(token) < 2 or token in LOW_WEIGHT_TOKENS:
        return []
    keys = ["t" + token]
    folded = spelling(token)
    if folded != token and len(folded) >= 3:
        keys.append("s" + folded)
    elif len(token) >= 3:
        keys.append("s" + token)
    key = phonetic(token)
    if len(key) >= 3:
        keys.append("p" + key)
    if len(token) >= 5:
        keys.append("d" + token)
        keys.extend("d" + token[:i] + token[i + 1 :] for i in range(len(token)))
    return keys


class NameIndex:
    """Names (primary and aliases) of the listed entities, searchable by fuzzy name."""

    def __init__(self, listed: Iterable[ListedEntity]) -> None:
        self.entities: tuple[ListedEntity, ...] = tuple(listed)
        self.versions: tuple[str, ...] = tuple(sorted({e.list_version for e in self.entities}))
        self._by_key: dict[tuple[str, str], ListedEntity] = {(e.source, e.entity.uid): e for e in self.entities}
        raw: list[tuple[int, str, tuple[str, ...]]] = []
        for number, listed_entity in enumerate(self.entities):
            entity = listed_entity.entity
            seen: set[tuple[str, ...]] = set()
            for text in (entity.name, *entity.aliases):
                parts = tokens(text)
                if parts and parts not in seen:
                    seen.add(parts)
                    raw.append((number, text, parts))
        self._df: dict[str, int] = {}
        for _, _, parts in raw:
            for token in set(parts):
                self._df[token] = self._df.get(token, 0) + 1
        self._names: list[_Name] = []
        self._postings: dict[str, list[int]] = {}
        self._totals: list[float] = []
        self._exact: dict[tuple[str, ...], list[int]] = {}
        for number, text, parts in raw:
            name_id = len(self._names)
            name_weights = tuple(self.weight(t) for t in parts)
            order_free = tuple(sorted(parts))
            information = tuple(self.information(t) for t in parts)
            self._names.append(_Name(number, text, parts, name_weights, order_free, information, sum(information)))
            self._totals.append(sum(name_weights))
            self._exact.setdefault(order_free, []).append(name_id)
            for key in {k for t in parts for k in _keys(t)}:
                self._postings.setdefault(key, []).append(name_id)

    def __len__(self) -> int:
        return len(self._names)

    def _query_keys(self, token: str) -> list[tuple[str, float]]:
        """The blocking keys of a query part, exact first, with how much reaching a name through each says."""
        return [(key, KEY_QUALITY[key[0]]) for key in _keys(token)]

    def _piece_keys(self, token: str) -> list[tuple[str, str]]:
        """(key, piece) for a long part that is no listed part: it may be two parts written
        together (a dropped space), so its pieces at every split, with and without one letter
        where the space was, and each piece with a typo of its own, are keys too."""
        if len(token) < MIN_SPLIT or "t" + token in self._postings:
            return []
        pieces: set[str] = set()
        for i in range(MIN_PIECE, len(token) - MIN_PIECE + 1):
            pieces.update((token[:i], token[i:], token[i + 1 :]))
        out = []
        for piece in pieces:
            if len(piece) < MIN_PIECE or piece in LOW_WEIGHT_TOKENS:
                continue
            out.append(("t" + piece, piece))
            if len(piece) >= MIN_FUZZY_PIECE:
                out.append(("d" + piece, piece))
                out.extend(("d" + piece[:k] + piece[k + 1 :], piece) for k in range(len(piece)))
        return out

    def information(self, token: str) -> float:
        """What finding a part says: its weight, less for parts of two or three letters."""
        return self.weight(token) * min(1.0, (len(token) - 1) / INFORMATIVE_LENGTH)

    def weight(self, token: str) -> float:
        """How much a token counts in an alignment: particles and common names count less."""
        base = token_weight(token)
        df = self._df.get(token, 0)
        if base < 1.0 or df <= RARE_DF:
            return base
        return max(MIN_COMMON_WEIGHT, 1.0 - COMMON_STEP * math.log10(df / RARE_DF))

    def entity(self, source: str, uid: str) -> ListedEntity | None:
        return self._by_key.get((source, uid))

    def search(
        self, query: NameQuery, *, floor: float = 0.5, limit: int = 20, max_candidates: int = 30
    ) -> list[NameMatch]:
        """List entries scoring at least ``floor`` for ``query``, best first (one per entity)."""
        parts = tokens(query.name)
        if not parts:
            return []
        weights = tuple(self.weight(t) for t in parts)
        query_key = tuple(sorted(parts))
        reach: dict[int, float] = {}
        for token, weight in zip(parts, weights, strict=True):
            hits: dict[int, float] = {}
            for key, quality in self._query_keys(token):
                posting = self._postings.get(key)
                # a phonetic or typo key shared by hundreds of names says little and costs much
                if posting and (quality == 1.0 or len(posting) <= MAX_FUZZY_POSTING):
                    for name_id in posting:
                        if hits.get(name_id, 0.0) < quality:
                            hits[name_id] = quality
            # pieces of a merged part: a name reached by pieces covering more of it counts more
            covered: dict[int, dict[str, int]] = {}
            for key, piece in self._piece_keys(token):
                posting = self._postings.get(key)
                if posting and len(posting) <= MAX_FUZZY_POSTING:
                    for name_id in posting:
                        covered.setdefault(name_id, {})[piece] = len(piece)
            for name_id, found in covered.items():
                quality = SPLIT_QUALITY * min(1.0, sum(found.values()) / len(token))
                if hits.get(name_id, 0.0) < quality:
                    hits[name_id] = quality
            for name_id, quality in hits.items():
                reach[name_id] = reach.get(name_id, 0.0) + weight * quality
        # a part typed with a space inside (``kawtar ani``): adjacent parts written together
        for i in range(len(parts) - 1):
            joined = parts[i] + parts[i + 1]
            if len(joined) < MIN_SPLIT or parts[i] in LOW_WEIGHT_TOKENS or parts[i + 1] in LOW_WEIGHT_TOKENS:
                continue
            pair_weight = weights[i] + weights[i + 1]
            hits = {}
            for key in ("t" + joined, "d" + joined, *("d" + joined[:k] + joined[k + 1 :] for k in range(len(joined)))):
                posting = self._postings.get(key)
                if posting and len(posting) <= MAX_FUZZY_POSTING:
                    for name_id in posting:
                        hits[name_id] = KEY_QUALITY[key[0]] if key[0] == "t" else max(hits.get(name_id, 0.0), 0.7)
            for name_id, quality in hits.items():
                reach[name_id] = reach.get(name_id, 0.0) + pair_weight * quality
        # ranked by the Dice score the reached parts could give, so a short name made of common
        # parts is not crowded out by longer names sharing them; an exact name always competes
        query_weight = sum(weights)
        totals = self._totals
        ranked = heapq.nlargest(max_candidates, reach, key=lambda n: 2 * reach[n] / (query_weight + totals[n]))
        ranked.extend(n for n in self._exact.get(query_key, ()) if n not in ranked)
        if not ranked:
            return []
        best: dict[int, NameMatch] = {}
        for name_id in ranked:
            name = self._names[name_id]
            alignment = align(parts, weights, name.tokens, name.weights, floor - QUALIFIER_ROOM)
            name_score, pairs = alignment.score, alignment.pairs
            if name.key != query_key:
                # a match resting on a few short or common parts says little (li~li, yi~yi): the
                # score is damped by the shortfall of matched information against what the listed
                # name itself carries (bounded), so a listed name written exactly never is
                evidence = sum(similarity * name.parts_information[j] for j, similarity in alignment.matched_name)
                needed = min(MAX_EVIDENCE, max(MIN_EVIDENCE, EVIDENCE_SHARE * name.information))
                if evidence < needed:
                    name_score *= (evidence / needed) ** DAMPING
            if name_score + QUALIFIER_ROOM < floor:  # the qualifiers could not lift it to the floor
                continue
            listed = self.entities[name.entity]
            score, qualifiers = qualify(name_score, query, listed.entity)
            current = best.get(name.entity)
            if score < floor or (current is not None and current.score >= score):
                continue
            explanation = (
                Feature(
                    feature="name",
                    value=round(name_score, 4),
                    detail=", ".join(f"{q}~{c} {s:.2f}" for q, c, s in pairs) or "no token in common",
                ),
                *qualifiers,
            )
            best[name.entity] = NameMatch(
                source=listed.source,
                list_version=listed.list_version,
                entity_uid=listed.entity.uid,
                entity_name=listed.entity.name,
                entity_kind=listed.entity.kind,
                matched_name=name.text,
                score=score,
                programmes=listed.entity.programmes,
                explanation=explanation,
            )
        return sorted(best.values(), key=lambda m: (-m.score, m.source, m.entity_uid))[:limit]
