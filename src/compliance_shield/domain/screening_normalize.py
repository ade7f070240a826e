"""Name normalization: what a name is made of before it is compared (pure, cached).

* ``tokens``: transliterated to ASCII (``anyascii``; Chinese and Hangul syllable by syllable),
  lower case, apostrophes dropped, dotted abbreviations kept as one part (``S.A.`` → ``sa``),
  split on anything else; legal forms written out, translated, abbreviated or mistyped become one
  spelling (``Limited Liability Company`` / ``OOO`` → ``llc``), ``Mohd.`` → ``muhammad``.
* ``LOW_WEIGHT_TOKENS``: particles, titles and legal forms, which barely count in a match.
* ``spelling``: a key folding spelling conventions that keeps vowel quality (``kabeer``/``kabir``).
* ``phonetic``: a vowel-less transliteration key (``mohammed``/``muhammad``), for blocking and,
  on long parts, to lift a similar spelling.
"""

from __future__ import annotations

import re
from functools import lru_cache

from anyascii import anyascii
from rapidfuzz.distance import OSA

#: particles, titles and honorifics, legal forms: kept, but they barely count
_LOW_WEIGHT_WORDS = """al el ul ud bin ibn bint ben abu abd abdel umm
    de del della der den di da du des dos la le van von
    y e i the and of for
    mr mrs ms miss sir dr dra doctor prof professor eng engineer col colonel gen general
    sheikh shaikh shaykh haji hajji mullah maulana maulvi mufti imam hafiz qari
    ltd llc inc co corp corporation company limited sa sas sarl de cv sl ltda srl spa gmbh ag kg jsc ojsc cjsc
    pjsc ooo zao oao plc bv nv lp llp sdn bhd pte pvt fze fzc fzco est"""
LOW_WEIGHT_TOKENS = frozenset(_LOW_WEIGHT_WORDS.split())

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
