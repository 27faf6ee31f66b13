"""Organisation records named after a natural person.

Some sources give a person's name as an organisation's: CORDIS lists sole traders under their own name, mostly
surname first ('BECKER MARC'), and now and then gives a contact person's name as the legal name (with the body
as its short name); keep.eu's partner lists hold a few too.  A name is personal data, so such a record's name
is never published (README, "Names of persons among the organisations").

A name is read as a person's when all of these hold:
- the record is no municipality (no place, no municipal type);
- it has two to four words, each of letters (a hyphen or an apostrophe inside) or an initial ('M.');
- no word is a legal form (cleanco's table: 'AD', 'Ky', 'SAS', 'GmbH' ...), and a name not in capitals only
  writes each word but a particle with a capital;
- it is given names then a surname, or a surname then given names: every given name (not an initial or a
  surname particle such as 'de', 'van', 'von') is a first name of Faker's person providers (its European
  locales, reference/given_names.txt); a surname of two words holds a family name of theirs;
- the surname (each part of a double-barrelled one) is rare among the organisation names of the data: in at
  most MAX_SURNAME_NAMES of them, and each given name in at most MAX_GIVEN_NAMES ('Institut', 'Foundation',
  or the Greek 'Dimos' of every municipality are not surnames).
The two limits were chosen on the dev half of tests/fixtures/personal/labelled.csv (scripts/eval_person_names.py
scores each half).  The counts are the build's own, and at least those of the full real data
(reference/organisation_words.csv), so that a small build does not take 'Marina' or 'Scotland' for a surname.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

MAX_SURNAME_NAMES = 3  # organisation names a surname may occur in
MAX_GIVEN_NAMES = 30  # organisation names a given name may occur in
PARTICLES = frozenset({"de", "da", "das", "do", "dos", "du", "del", "della", "di", "van", "von", "der", "den", "ter",
                       "ten", "la", "le", "af", "av", "zu", "mc", "mac", "o"})  # fmt: skip
# legal forms cleanco's table lacks (besides the project's own, resolve.LEGAL_PREFIXES and LEGAL_SUFFIXES): the
# Danish I/S written without its slash, the Portuguese ACE
EXTRA_LEGAL = frozenset({"is", "ace"})
# '<ACRONYM> ERIC' is the EU's research infrastructure consortium ('CLARIN ERIC'); as the last of more words ERIC
# is a given name ('WESTERHOF BEREND ERIC')
ERIC = "eric"
_WORD = re.compile(r"^[^\W\d_]+(?:[-'’][^\W\d_]+)*\.?$")
_NAME = re.compile(r"^\s*[^\W\d_]+(?:[-'’][^\W\d_]+)*\.?(?:\s+[^\W\d_]+(?:[-'’][^\W\d_]+)*\.?){1,3}\s*$")  # 2-4 such words


GIVEN_NAMES = Path(__file__).parent / "reference" / "given_names.txt"


FAMILY_NAMES = Path(__file__).parent / "reference" / "family_names.txt"


def _name_list(path: Path) -> frozenset[str]:
    with open(path, encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    """The first names of Faker's person providers (European locales, Latin script, folded), as
    scripts/make_given_names.py wrote them into reference/given_names.txt (read in ≈ 20 ms; importing Faker's
    providers takes ≈ 0.3 s)."""
    return _name_list(GIVEN_NAMES)


@lru_cache(maxsize=1)
def family_names() -> frozenset[str]:
    """The family names of Faker's person providers (European locales), reference/family_names.txt."""
    return _name_list(FAMILY_NAMES)


@lru_cache(maxsize=1)
def legal_words() -> frozenset[str]:
    """The one-word legal forms of cleanco's table ('ad', 'ky', 'sas', 'gmbh' ...), of the project's (resolve) and
    EXTRA_LEGAL."""
    from cleanco import prepare_default_terms

    from .resolve import LEGAL_PREFIXES, LEGAL_SUFFIXES

    own = {w for w in (*LEGAL_PREFIXES, *LEGAL_SUFFIXES) if " " not in w}
    return frozenset({t[0].replace(".", "") for n, t in prepare_default_terms() if n == 1} | own | EXTRA_LEGAL)


@lru_cache(maxsize=1)
def _names():
    """resolve's company(), fold(), norm_name() and STOP (imported on first use: resolve imports this module)."""
    from .resolve import STOP, company, fold, norm_name

    return company, fold, norm_name, STOP


REFERENCE = Path(__file__).parent / "reference" / "organisation_words.csv"


def word_counts(names: Iterable[str]) -> Counter:
    """In how many of `names` (normalised organisation names, Rec.norm) each word occurs, and at least as many
    as in the full real data (reference_counts): a build of a few records finds few words frequent."""
    counts: Counter = Counter()
    for name in names:
        counts.update(set(name.split()))
    return counts | reference_counts()


@lru_cache(maxsize=1)
def reference_counts() -> Counter:
    """The words of organisation names frequent in the full real data (scripts/make_name_words.py) -> in how
    many of its names each is."""
    with open(REFERENCE, encoding="utf-8") as f:
        rows = csv.reader(line for line in f if not line.startswith("#"))
        next(rows)  # header
        return Counter({w: int(n) for w, n in rows})


def person_named(recs, counts: Counter | None = None) -> set[str]:
    """The keys of the records (resolve.Rec) whose name is a person's (is_person; a municipality never is).
    counts: word_counts of the records' names (made here if not given)."""
    from .resolve import MUNI_TYPES, fold

    municipal_types = MUNI_TYPES | {"region"}
    counts = word_counts(r.norm for r in recs) if counts is None else counts
    out = set()
    for r in recs:
        if r.place or not _NAME.match(r.name):  # (the cheap tests first: most names fail them)
            continue
        if is_person(r.name, counts, municipal=fold(r.org_type or "") in municipal_types):
            out.add(r.key)
    return out


def is_person(name: str, counts: Counter, municipal: bool = False) -> bool:
    """Whether the organisation name `name` is a person's name (see the module's doc).  `counts`: word_counts of
    all the organisation names; municipal: the record is a municipality."""
    if municipal or not name:
        return False
    raw = name.split()
    if not 2 <= len(raw) <= 4 or not all(_WORD.match(w) for w in raw):
        return False
    company, fold, norm_name, stop = _names()
    if company(name):
        return False
    words = [fold(w).strip(".").replace("’", "'") for w in raw]
    legal, given, family = legal_words(), given_names(), family_names()
    if any(w in legal for i, w in enumerate(words) if not (w in PARTICLES and i < len(words) - 1)):
        return False
    if len(words) == 2 and words[1] == ERIC:
        return False
    if not name.isupper() and any(w[0].islower() for w, f in zip(raw, words) if f not in PARTICLES):
        return False  # a name written in small letters too capitalises a person's names ('... ressurssenter')

    def rare(word: str, most: int) -> bool:
        return all(counts[norm_name(part) or part] <= most for part in re.split(r"[^a-z]+", word) if part)

    def given_name(word: str) -> bool:
        return len(word) == 1 or (word in given and word not in PARTICLES and rare(word, MAX_GIVEN_NAMES))

    def surname(parts: list[str], given: list[str]) -> bool:
        """Particles before it ('de vries', 'van der berg'); two words, one of them a family name of Faker's (the
        Spanish 'GARCIA LOPEZ', not 'FILMUNIVERSITAT BABELSBERG'); as frequent as a given name beside two given
        names."""
        core = parts[next((i for i, w in enumerate(parts) if w not in PARTICLES), len(parts)):]
        most = MAX_GIVEN_NAMES if sum(len(w) > 1 for w in given) >= 2 else MAX_SURNAME_NAMES
        return (1 <= len(core) <= 2 and all(w not in PARTICLES and w not in stop and len(w) > 1 and rare(w, most)
                                            for w in core)
                and (len(core) == 1 or bool(family & set(core))))  # two: one of them a known family name

    for cut in range(1, len(words)):
        head, tail = words[:cut], words[cut:]
        # given names, then the surname ('Marc Becker', 'Sandra de Vries'); the surname, then given names
        # ('BECKER MARC', 'DE VRIES SANDRA')
        if all(given_name(w) for w in head) and surname(tail, head) and len(head[0]) > 1:
            return True
        if surname(head, tail) and all(given_name(w) for w in tail) and len(tail[0]) > 1:
            return True
    return False


PLACEHOLDER = "Name withheld (a person's name)"


def _words_of(text: str | None) -> set[str]:
    """The folded words (three letters or more, hyphen parts too) of `text`."""
    fold = _names()[1]
    return {w for w in re.split(r"[^a-z]+", fold(text or "")) if len(w) >= 3 and w not in PARTICLES}


def withhold_names(con, members_of: dict[str, list[str]], persons: set[str], rec_of: dict, counts: Counter) -> int:
    """Keep the names of the records `persons` (person_named) out of the golden organisations they are in:
    - a cluster with other records takes its name (and short name) from the best source among those others when
      the name it has is a person's (or holds one of the person's names);
    - a cluster of such records only is named by its short name when that holds none of the person's names and
      is no person's name itself, else PLACEHOLDER; a short name or website holding one of them is dropped;
      `golden_organisations.name_withheld` is set.
    A partner's correction of the name (a revision) still applies after this.  Returns how many golden
    organisations had a name withheld.  counts: word_counts of all the records' names."""
    import pandas as pd

    from .resolve import golden_name, source_rank

    touched = {gid: keys for gid, keys in members_of.items() if persons.intersection(keys)}
    if not touched:
        return 0
    current = con.execute(
        "SELECT golden_id, name, short_name, website FROM golden_organisations WHERE golden_id IN (SELECT unnest(?))",
        [list(touched)]).fetchall()  # fmt: skip
    prio = source_rank()
    rows = []
    for gid, name, short, web in current:
        keys = touched[gid]
        person_words = set().union(*(_words_of(rec_of[k].name) for k in keys if k in persons and k in rec_of))
        holds = lambda text: bool(person_words & _words_of(text))  # noqa: E731
        others = [rec_of[k] for k in keys if k not in persons and k in rec_of]
        withheld = False
        if others:
            if holds(name):
                name = golden_name(others, prio)  # as the golden name is chosen, among the others
            if holds(short):
                short = None
        else:
            if short and not holds(short) and not is_person(short, counts):
                name, short = short, None
            else:
                name, short = PLACEHOLDER, None
            withheld = True
        if holds(web):
            web = None
        rows.append((gid, name, short, web, withheld))
    con.register("withheld_frame", pd.DataFrame(rows, columns=["golden_id", "name", "short_name", "website", "name_withheld"]))
    try:
        con.execute("""UPDATE golden_organisations g SET name = w.name, short_name = w.short_name, website = w.website,
                              name_withheld = w.name_withheld
                       FROM withheld_frame w WHERE w.golden_id = g.golden_id""")  # fmt: skip
    finally:
        con.unregister("withheld_frame")
    return len(rows)
