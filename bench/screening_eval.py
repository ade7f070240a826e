"""The name-screening evaluation set: perturbed listed names (positives) and realistic non-listed
names (negatives), generated reproducibly from the real lists and a seed.

**Positives** are names of listed individuals and entities (primary names and aliases, Latin
script) changed the way names really arrive at a screening desk. Each ``KINDS`` entry is one kind
of change; a case keeps the list entry it came from, so recall counts only the *right* entry:

* ``case_punctuation`` — case changed, commas, hyphens, apostrophes and dots dropped or moved;
* ``reordered`` — parts in another order (``SURNAME, Given`` written ``Given Surname`` or shuffled);
* ``typo_1`` / ``typo_2`` — one or two edits (substitution, insertion, deletion, transposition) at
  any position of the written name, spaces included (names of at least 8 / 12 letters);
* ``merged_parts`` — the space between two parts dropped (``ABDULHAFID ZLITNI`` →
  ``ABDULHAFIDZLITNI``), sometimes with a typo in the merged part;
* ``split_part`` — a space typed inside a part of six or more letters;
* ``dropped_middle`` — a middle name of an individual left out (three or more parts);
* ``added_middle`` — a given name (another listed individual's) added in the middle;
* ``initials`` — a given name cut to its initial;
* ``honorific_prefix`` — a title added (Mr, Dr, Sheikh, Haji, Mullah, Engineer) or an Arabic
  particle written another way (``Al-X`` / ``Al X`` / ``AlX`` / ``El-X`` / ``X``; ``bin`` / ``ibn``;
  ``Muhammad`` as ``Mohd.``);
* ``transliteration`` — a usual romanization alternative of an Arabic, Persian, Cyrillic or Korean
  name part (``TRANSLITERATIONS``: Mohammed/Muhammad/Mohamad, Yusuf/Yousef, Hossein/Husayn,
  -ov/-off, -sky/-skiy, Kh/H, Zh/J, Kim/Gim, Park/Pak …);
* ``entity_suffix`` — an entity's legal form changed, dropped, added or translated (LLC/Ltd/Company,
  OOO/LLC, S.A./Sociedad Anonima, GmbH …).

**Negatives** are Faker names from the places the investors come from, in these shares: Indian
(``en_IN``, ``hi_IN`` in Devanagari), Arabic (``ar_AA``, ``ar_SA`` in Arabic script) and Persian
(``fa_IR``), Russian (``ru_RU`` in Cyrillic), Latin American (``es_MX``, ``es_CO``, ``es_AR``,
``pt_BR``), Chinese (``zh_CN`` half in characters, half romanized; ``zh_TW``) and Western
(``en_US``, ``en_GB``, ``de_DE``, ``fr_FR``). A negative is a false positive when *any* entry scores
at or above the threshold.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from compliance_shield.domain.screening import EntityKind, ListEntity, ParsedList

KINDS = (
    "case_punctuation",
    "reordered",
    "typo_1",
    "typo_2",
    "merged_parts",
    "split_part",
    "dropped_middle",
    "added_middle",
    "initials",
    "honorific_prefix",
    "transliteration",
    "entity_suffix",
)

#: negatives per locale group, in proportion (Indian first)
LOCALE_SHARES: tuple[tuple[str, int], ...] = (
    ("en_IN", 26),
    ("hi_IN", 8),
    ("ar_AA", 7),
    ("ar_SA", 5),
    ("fa_IR", 3),
    ("ru_RU", 9),
    ("es_MX", 6),
    ("es_CO", 4),
    ("es_AR", 3),
    ("pt_BR", 6),
    ("zh_CN", 6),
    ("zh_TW", 2),
    ("en_US", 6),
    ("en_GB", 4),
    ("de_DE", 2),
    ("fr_FR", 3),
)

#: usual romanization alternatives (whole name parts, lower case), each group interchangeable
TRANSLITERATIONS: tuple[tuple[str, ...], ...] = (
    # Arabic
    ("muhammad", "mohammed", "mohamed", "mohamad", "mohammad", "muhammed", "mohamud"),
    ("ahmad", "ahmed", "ahmet"),
    ("yusuf", "yousef", "youssef", "yousif", "yusef"),
    ("husayn", "hussein", "husain", "hussain", "hosein"),
    ("hasan", "hassan"),
    ("abdallah", "abdullah", "abdulla"),
    ("abdul", "abdel", "abdal"),
    ("umar", "omar"),
    ("usama", "osama"),
    ("khalid", "khaled"),
    ("said", "saeed", "sayed", "sayyid"),
    ("rahman", "rehman"),
    ("ibrahim", "ebrahim", "ibraheem"),
    ("ismail", "esmail", "ismael"),
    ("mustafa", "mostafa", "moustafa"),
    ("mahmud", "mahmoud", "mehmood"),
    ("abu", "abou"),
    ("jamal", "gamal"),
    ("qasim", "kasim", "qassem", "kassem"),
    ("zayd", "zaid", "zeid"),
    ("faysal", "faisal"),
    ("nasir", "nasser", "naser"),
    ("salih", "saleh", "salah"),
    ("sulayman", "suleiman", "sulaiman", "soliman"),
    ("yahya", "yahia"),
    ("yasin", "yassin", "yaseen"),
    ("tariq", "tarek", "tarik"),
    ("hamza", "hamzah"),
    ("aziz", "azeez"),
    ("uthman", "othman", "osman"),
    ("ali", "aly"),
    ("shaykh", "sheikh", "shaikh"),
    ("abd", "abdu"),
    ("hamid", "hameed"),
    ("rashid", "rasheed"),
    ("majid", "majeed"),
    ("walid", "waleed"),
    ("sa'id", "said"),
    # Persian
    ("hossein", "hosein", "hussein"),
    ("mohsen", "muhsin"),
    ("reza", "riza"),
    ("javad", "jawad"),
    ("gholam", "qolam", "golam"),
    ("ghasem", "qasem"),
    ("mehdi", "mahdi"),
    ("jafar", "jaafar", "ja'far"),
    ("hosseini", "husseini", "hoseini"),
    ("mohammadi", "mohamadi", "muhammadi"),
    ("rahimi", "rahimy"),
    # Cyrillic
    ("aleksandr", "alexander", "aleksander", "alexandr"),
    ("sergei", "sergey", "serguei"),
    ("andrei", "andrey"),
    ("dmitri", "dmitry", "dmitriy"),
    ("yuri", "yuriy", "iurii", "yury"),
    ("yevgeny", "evgeny", "evgeniy", "yevgeniy"),
    ("aleksei", "alexey", "aleksey", "alexei"),
    ("nikolai", "nikolay"),
    ("vyacheslav", "viacheslav"),
    ("mikhail", "mihail"),
    ("vladimirovich", "wladimirowitsch"),
    # Korean
    ("kim", "gim"),
    ("pak", "park", "bak"),
    ("ri", "lee", "yi", "rhee"),
    ("choe", "choi"),
    ("jong", "chong"),
    ("un", "eun"),
    ("yong", "young"),
    ("chol", "cheol"),
    ("song", "sung"),
    ("kwang", "gwang"),
    ("hyok", "hyeok"),
    ("myong", "myung"),
)
_VARIANT_OF = {part: group for group in TRANSLITERATIONS for part in group}

#: letter-level romanization alternatives for parts that no whole-part group covers
_SUFFIXES = (
    ("ov", "off"),
    ("ev", "eff"),
    ("ova", "ova"),
    ("sky", "skiy"),
    ("ski", "sky"),
    ("skiy", "skii"),
    ("iy", "y"),
    ("ich", "itch"),
)
_INFIXES = (("kh", "h"), ("zh", "j"), ("ts", "tz"), ("ya", "ia"), ("yu", "iu"), ("ou", "u"), ("ee", "i"), ("q", "k"))

HONORIFICS = ("Mr", "Mr.", "Dr", "Dr.", "Sheikh", "Haji", "Mullah", "Engineer", "Maulana", "Mrs")

#: legal forms and their usual alternatives and translations
ENTITY_FORMS: tuple[tuple[str, ...], ...] = (
    ("LLC", "L.L.C.", "Limited Liability Company", "Ltd", "OOO"),
    ("LTD", "Ltd.", "Limited", "Co. Ltd", "Company Limited"),
    ("CO", "Co.", "Company", "Corp", "Corporation"),
    ("COMPANY", "Co.", "Company Ltd", "Corp."),
    ("S.A.", "SA", "Sociedad Anonima", "S.A. de C.V."),
    ("GMBH", "GmbH", "Gesellschaft mit beschraenkter Haftung"),
    ("INC", "Inc.", "Incorporated"),
    ("OOO", "LLC", "Limited Liability Company", "Obshchestvo s Ogranichennoy Otvetstvennostyu"),
    ("JSC", "Joint Stock Company", "OAO", "AO"),
    ("CJSC", "ZAO", "Closed Joint Stock Company"),
    ("PJSC", "Public Joint Stock Company", "PAO"),
    ("FZE", "FZCO", "Free Zone Establishment"),
    ("EST", "Establishment", "Est."),
    ("TRADING", "Trading Co.", "General Trading"),
    ("GROUP", "Holding", "Group of Companies"),
)
_FORM_LOOKUP = {form.upper().replace(".", "").replace(" ", ""): group for group in ENTITY_FORMS for form in group}
_ADDED_FORMS = ("LLC", "Ltd", "Company", "Co.", "Limited", "S.A.", "Inc.", "Group")


@dataclass(frozen=True, slots=True)
class Case:
    """One query of the evaluation set; ``uid`` is None for a negative."""

    query: str
    kind: str
    source: str | None = None
    uid: str | None = None
    original: str | None = None


@dataclass(frozen=True, slots=True)
class _Listed:
    source: str
    uid: str
    name: str
    individual: bool


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[\s,]+", name) if w]


def _letters(name: str) -> int:
    return sum(c.isalpha() for c in name)


def _plain(name: str) -> str:
    """``SURNAME, Given Names`` as ``Given Names SURNAME`` (how a person writes their own name)."""
    surname, comma, given = name.partition(",")
    return f"{given.strip()} {surname.strip()}" if comma and given.strip() else name.replace(",", " ")


def _edit(text: str, rng: random.Random) -> str:
    """One edit at a random position (spaces included): substitute, insert, delete or transpose."""
    positions = [i for i, c in enumerate(text) if c.isalpha() or c == " "]
    i = rng.choice(positions)
    letter = rng.choice(string.ascii_lowercase if text[i].islower() else string.ascii_uppercase)
    edit = rng.choice(("substitute", "insert", "delete", "transpose"))
    if edit == "substitute":
        return text[:i] + letter + text[i + 1 :]
    if edit == "insert":
        return text[:i] + letter + text[i:]
    if edit == "delete":
        return text[:i] + text[i + 1 :]
    if i + 1 < len(text):
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + letter


def case_punctuation(item: _Listed, rng: random.Random) -> str | None:
    name = rng.choice((_plain(item.name), item.name))
    name = rng.choice((str.lower, str.upper, str.title))(name)
    name = re.sub(r"[-'’.]", rng.choice(("", " ")), name)
    return name.replace(",", rng.choice(("", " ", ","))) if rng.random() < 0.5 else name


def reordered(item: _Listed, rng: random.Random) -> str | None:
    words = _words(item.name)
    if len(words) < 2:
        return None
    if "," in item.name and rng.random() < 0.5:
        return _plain(item.name)
    shuffled = words[:]
    while shuffled == words:
        rng.shuffle(shuffled)
    return " ".join(shuffled)


def typo_1(item: _Listed, rng: random.Random) -> str | None:
    name = _plain(item.name)
    return _edit(name, rng) if _letters(name) >= 8 else None


def typo_2(item: _Listed, rng: random.Random) -> str | None:
    name = _plain(item.name)
    return _edit(_edit(name, rng), rng) if _letters(name) >= 12 else None


def merged_parts(item: _Listed, rng: random.Random) -> str | None:
    name = _plain(item.name)
    spaces = [m.start() for m in re.finditer(" ", name)]
    if not spaces:
        return None
    at = rng.choice(spaces)
    merged = name[:at] + name[at + 1 :]
    return _edit(merged, rng) if rng.random() < 0.3 and _letters(merged) >= 10 else merged


def split_part(item: _Listed, rng: random.Random) -> str | None:
    name = _plain(item.name)
    long_words = [m for m in re.finditer(r"[A-Za-z]{6,}", name)]
    if not long_words:
        return None
    word = rng.choice(long_words)
    at = rng.randrange(word.start() + 2, word.end() - 2)
    return name[:at] + " " + name[at:]


def _significant(word: str) -> bool:
    return len(word) >= 2 and word.lower().strip(".") not in {"al", "el", "bin", "ibn", "abu", "abd", "de", "del"}


def dropped_middle(item: _Listed, rng: random.Random) -> str | None:
    if not item.individual:
        return None
    words = _words(_plain(item.name))
    middles = [i for i in range(1, len(words) - 1) if _significant(words[i])]
    if len(words) < 3 or not middles:
        return None
    del words[rng.choice(middles)]
    return " ".join(words)


def added_middle(item: _Listed, rng: random.Random, given_names: Sequence[str] = ()) -> str | None:
    if not item.individual or not given_names:
        return None
    words = _words(_plain(item.name))
    if len(words) < 2:
        return None
    extra = rng.choice(given_names)
    if extra.lower() in (w.lower() for w in words):
        return None
    words.insert(rng.randrange(1, len(words)), extra)
    return " ".join(words)


def initials(item: _Listed, rng: random.Random) -> str | None:
    if not item.individual:
        return None
    words = _words(_plain(item.name))
    if len(words) < 3:  # a two-part name cut to an initial identifies nobody
        return None
    given = [i for i in range(len(words) - 1) if len(words[i]) >= 3 and _significant(words[i])]
    if not given:
        return None
    i = rng.choice(given)
    words[i] = words[i][0].upper() + "."
    return " ".join(words)


def honorific_prefix(item: _Listed, rng: random.Random) -> str | None:
    name = _plain(item.name)
    lowered = name.lower()
    options: list[Callable[[], str | None]] = []
    if item.individual:
        options.append(lambda: f"{rng.choice(HONORIFICS)} {name}")
    particle = re.search(r"\b(al|el)[- ]([A-Za-z]+)", name, re.IGNORECASE)
    if particle:
        start, end = particle.span()
        rest = particle.group(2)
        options.append(
            lambda: (
                name[:start]
                + rng.choice((f"Al-{rest}", f"Al {rest}", f"Al{rest}", f"El-{rest}", f"El {rest}", rest))
                + name[end:]
            )
        )
    if re.search(r"\b(bin|ibn)\b", lowered):
        options.append(lambda: re.sub(r"\b(bin|ibn)\b", rng.choice(("bin", "ibn", "b.", "Bin")), name, flags=re.I))
    if re.search(r"\b(muhammad|mohammed|mohamed|mohammad)\b", lowered):
        options.append(lambda: re.sub(r"\b(muhammad|mohammed|mohamed|mohammad)\b", "Mohd.", name, count=1, flags=re.I))
    if not options:
        return None
    return rng.choice(options)()


def _suffix_variant(word: str, rng: random.Random) -> str | None:
    lowered = word.lower()
    for old, new in rng.sample(_SUFFIXES, len(_SUFFIXES)):
        if lowered.endswith(old) and old != new and len(lowered) > len(old) + 2:
            return word[: len(word) - len(old)] + new
    for old, new in rng.sample(_INFIXES, len(_INFIXES)):
        for a, b in ((old, new), (new, old)):
            if a in lowered[1:]:
                at = lowered.index(a, 1)
                return word[:at] + b + word[at + len(a) :]
    return None


def transliteration(item: _Listed, rng: random.Random) -> str | None:
    words = _words(_plain(item.name))
    covered = [i for i, w in enumerate(words) if w.lower().replace("-", "") in _VARIANT_OF]
    if covered:
        i = rng.choice(covered)
        key = words[i].lower().replace("-", "")
        words[i] = rng.choice([v for v in _VARIANT_OF[key] if v != key]).title()
        return " ".join(words)
    candidates = [(i, v) for i, w in enumerate(words) if len(w) >= 5 and (v := _suffix_variant(w, rng))]
    if not candidates:
        return None
    i, variant = rng.choice(candidates)
    words[i] = variant
    return " ".join(words)


def entity_suffix(item: _Listed, rng: random.Random) -> str | None:
    if item.individual:
        return None
    words = _words(item.name)
    if len(words) < 2:
        return None
    last = words[-1].upper().replace(".", "")
    group = _FORM_LOOKUP.get(last)
    if group is not None:
        choice = rng.random()
        if choice < 0.25:
            return " ".join(words[:-1])  # the legal form left out
        alternatives = [g for g in group if g.upper().replace(".", "").replace(" ", "") != last]
        return " ".join([*words[:-1], rng.choice(alternatives)])
    return " ".join([*words, rng.choice(_ADDED_FORMS)])


_GENERATORS: dict[str, Callable[..., str | None]] = {
    "case_punctuation": case_punctuation,
    "reordered": reordered,
    "typo_1": typo_1,
    "typo_2": typo_2,
    "merged_parts": merged_parts,
    "split_part": split_part,
    "dropped_middle": dropped_middle,
    "added_middle": added_middle,
    "initials": initials,
    "honorific_prefix": honorific_prefix,
    "transliteration": transliteration,
    "entity_suffix": entity_suffix,
}


def _normal(text: str) -> str:
    return " ".join(sorted(re.sub(r"[^a-z0-9]+", " ", text.lower()).split()))


def positives(lists: Sequence[ParsedList], count: int, rng: random.Random) -> list[Case]:
    """``count`` perturbed listed names, spread evenly over ``KINDS``."""
    pool = [
        _Listed(parsed.source, entity.uid, name, entity.kind is EntityKind.INDIVIDUAL)
        for parsed in lists
        for entity in parsed.entities
        if entity.kind in (EntityKind.INDIVIDUAL, EntityKind.ENTITY)
        for name in (entity.name, *entity.aliases)
        if name.isascii() and len(_words(name)) >= 2 and _letters(name) >= 5
    ]
    given_names = _given_names(lists)
    per_kind = -(-count // len(KINDS))
    cases: list[Case] = []
    for kind in KINDS:
        generate = _GENERATORS[kind]
        order = pool[:]
        rng.shuffle(order)
        made = 0
        for item in order:
            if made >= per_kind:
                break
            query = generate(item, rng, given_names) if kind == "added_middle" else generate(item, rng)
            if query is None or not query.strip():
                continue
            if kind not in ("case_punctuation", "reordered") and _normal(query) == _normal(item.name):
                continue
            cases.append(Case(query.strip(), kind, item.source, item.uid, item.name))
            made += 1
    return cases[:count]


def _given_names(lists: Sequence[ParsedList]) -> list[str]:
    """Given names of listed individuals (OFAC ``SURNAME, Given``): what an added middle name is."""
    names: set[str] = set()
    for parsed in lists:
        for entity in parsed.entities:
            if entity.kind is EntityKind.INDIVIDUAL and "," in entity.name and entity.name.isascii():
                given = entity.name.partition(",")[2].split()
                names.update(g for g in given if len(g) >= 3 and g.isalpha())
    return sorted(names)


def negatives(count: int, seed: int) -> list[Case]:
    """``count`` Faker names, spread over ``LOCALE_SHARES``."""
    from faker import Faker

    total = sum(share for _, share in LOCALE_SHARES)
    cases: list[Case] = []
    for number, (locale, share) in enumerate(LOCALE_SHARES):
        faker = Faker(locale)
        faker.seed_instance(seed * 1000 + number)
        wanted = round(count * share / total)
        for i in range(wanted):
            romanized = locale == "zh_CN" and i % 2 == 1
            name = faker.romanized_name() if romanized else faker.name()
            cases.append(Case(name, f"{locale}-latn" if romanized else locale))
    return cases[:count]


def entities_of(lists: Sequence[ParsedList]) -> list[tuple[str, ListEntity]]:
    """The (source, entity) pairs screened against: individuals and entities."""
    return [
        (parsed.source, entity)
        for parsed in lists
        for entity in parsed.entities
        if entity.kind in (EntityKind.INDIVIDUAL, EntityKind.ENTITY)
    ]
