"""One body's name in two languages, told by the words the two names share as cognates (issue 14).

    cover = Cover.of(all_normalised_names)
    share, cognates = cover.score("rzeszowska agencja rozwoju regionalnego", "rzeszow regional development agency")

Two words are one word when they are written alike once spelling habits are set aside (`skeleton`: c/k,
ph/f, w/v, y/j/i, z/s, doubled letters): they begin with the same five letters ('regionalnego' /
'regional', 'informacijas' / 'information'), one is the beginning of the other ('balti' / 'baltic',
'erft' / 'erftverband'), or one (five letters or more) is inside the other ('foorum' in
'keskkonnafoorum', 'akademie' in 'wirtschaftsakademie').  `score` gives the share of each name's weight the
other name covers (words weighted by their inverse document frequency over all names, so rare words count
most), the smaller of the two, and how many covered words are cognates rather than the same word.

`Cover.translated` adds a word translation table learned from ROR and CORDIS (`translations.load`: national
word -> English words): two names are one when every word of each is a cognate of a word of the other or its
translation ('hochschule' / 'university', 'laitos' / 'institute'), a compound word covered by its two parts
('landwirtschafts|kammer'); resolve joins such names of one city or one street address (rule `name_translated`).
`Cover.nearly` allows one word of the two names uncovered, at one street address (rule `address_translated`).

`translated` is stricter: every word of either name is close to one of the other (`close`), and resolve
joins two such names of one city (rule `name_cognate`).

The cover is no evidence on its own: resolve uses it only at one street address that no source gives to any other
body (`resolve.cluster`, rule `address_cognate`), where it tells a translation ('Institute for Ecology of
Industrial Areas' / 'INSTYTUT EKOLOGII TERENOW UPRZEMYSLOWIONYCH') from two bodies sharing a building
('Ferdinand-Steinbeis-Institute' / 'Steinbeis Innovation gGmbH': one word, written the same).
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from anyascii import anyascii

MIN_SHARE = 0.4  # of each name's weight covered by the other (chosen on the dev half of the labelled pairs)
_SPELLING = (("ph", "f"), ("th", "t"), ("ch", "k"), ("c", "k"), ("q", "k"), ("w", "v"), ("y", "i"), ("j", "i"),
             ("z", "s"), ("x", "ks"))  # fmt: skip
_DOUBLE = re.compile(r"(.)\1+")


@lru_cache(maxsize=1 << 17)
def skeleton(word: str) -> str:
    """A folded word with spelling habits set aside: 'klasteris' -> 'klasteris', 'cluster' -> 'kluster'."""
    for a, b in _SPELLING:
        word = word.replace(a, b)
    # an 'h' inside a word is the 'ch' of other languages: 'tehnologiju' / 'technologies' / 'teknologi'
    word = word[:1] + word[1:].replace("h", "k")
    return _DOUBLE.sub(_one, word)


def _one(m: re.Match) -> str:
    """The letter of a run of one letter (`_DOUBLE.sub` with a function: faster than the template r"\1")."""
    return m.group(1)


@lru_cache(maxsize=1 << 17)
def start(word: str) -> str:
    """The first five letters of a word's skeleton ('' when it has fewer): close words begin alike."""
    k = skeleton(word)
    return k[:5] if len(k) >= 5 else ""


def _prefix(sa: str, sb: str) -> int:
    """How many letters two skeletons share at their start."""
    return len(os.path.commonprefix((sa, sb)))


def _words(name: str, drop: frozenset | set) -> list[str]:
    """A normalised name's distinct words in order, those in `drop` left out."""
    return [w for w in dict.fromkeys(name.split()) if w not in drop]


@lru_cache(maxsize=1 << 18)
def alike(a: str, b: str) -> bool:
    """Two folded words that are one word in two languages (or one spelling)."""
    if a == b:
        return True
    if min(len(a), len(b)) < 4:
        return False
    sa, sb = skeleton(a), skeleton(b)
    if sa == sb:
        return True
    short, long_ = sorted((sa, sb), key=len)
    # five letters in common at the start, or the shorter (four letters or more) the start of the longer, or
    # the shorter (five letters or more) inside the longer
    return (len(short) >= 5 and (short[:5] == long_[:5] or short in long_)) or (len(short) >= 4 and long_.startswith(short))


@lru_cache(maxsize=1 << 18)
def close(a: str, b: str) -> bool:
    """`alike`, strictly: the same skeleton, or a shared beginning of five letters or more that is at least
    60 % of the longer word ('logistics' / 'logistikas', 'association' / 'asociacija'), never a part of a
    compound ('wirtschaftskammer' is not 'wirtschaftsforderungsfonds', 'land' not 'landesvermessungsamt')."""
    if a == b:
        return True
    sa, sb = skeleton(a), skeleton(b)
    if sa == sb:
        return True
    return sa[:5] == sb[:5] and _prefix(sa, sb) >= max(5, 0.6 * max(len(sa), len(sb)))


def translated(a: str, b: str, drop: frozenset | set = frozenset()) -> bool:
    """Two names (two content words or more each) whose every word is `close` to a word of the other, and at
    least one of them a cognate, not the same word: 'latvia hydroecology institute' / 'latvia
    hidroekologijas instituts'."""
    wa, wb = _words(a, drop), _words(b, drop)
    if len(wa) < 2 or len(wb) < 2 or set(wa) == set(wb):
        return False
    return all(any(close(w, v) for v in wb) for w in wa) and all(any(close(w, v) for v in wa) for w in wb)


_AND = re.compile(r"&|\+|\b(?:and|und|og|och|ja|un|ir|et|oraz|es|en)\b|\b[aeiy]\b(?!\s*\.)")  # not an initial: 'J. E. Purkyne'
# kinds of organisation in the plural: a name with one names several bodies ('Universities of Glasgow & ...')
_BODIES = re.compile(r"\b(?:universities|institutes|academies|agencies|authorities|ministries|municipalities|cities|"
                     r"councils|colleges|schools|centres|centers|universitaten|hochschulen|institute der)\b")


@lru_cache(maxsize=1 << 16)
def joint(name: str) -> bool:
    """A name that lists bodies: kinds of organisation in the plural joined by 'and' (in the region's languages,
    or '&'): 'Universities of Glasgow & Strathclyde'.  It is a joint body (or the bodies together), not one of
    them, whatever its words."""
    n = anyascii(name or "").lower()
    return bool(_BODIES.search(n) and _AND.search(n))


class Cover:
    """Word weights of a body of names, and the cover score of two of them."""

    def __init__(self, df: Counter, n: int):
        self.df, self.n = df, max(n, 1)

    @classmethod
    def of(cls, names: Iterable[str]) -> Cover:
        df, n = Counter(), 0
        for name in names:
            df.update(set(name.split()))
            n += 1
        return cls(df, n)

    def weight(self, word: str) -> float:
        return max(math.log(self.n / (1 + self.df[word])), 0.1)

    def score(self, a: str, b: str, drop: frozenset | set = frozenset()) -> tuple[float, int]:
        """(the smaller share of either name's weight the other covers, how many covered words are cognates);
        words in `drop` (stop words, the city's name) are left out of both names."""
        wa, wb = _words(a, drop), _words(b, drop)
        if not wa or not wb:
            return 0.0, 0
        ca = [w for w in wa if any(alike(w, v) for v in wb)]
        cb = [w for w in wb if any(alike(w, v) for v in wa)]
        share = min(sum(map(self.weight, ca)) / sum(map(self.weight, wa)),
                    sum(map(self.weight, cb)) / sum(map(self.weight, wb)))  # fmt: skip
        return share, sum(1 for w in ca if w not in wb)

    def translated(self, a: str, b: str, table: dict, drop: frozenset | set = frozenset()) -> tuple[bool, int]:
        """(every word of each name covered by the other's words, as a cognate or through the translation
        `table`, how many words only the table covers).  A word of one name may be covered by a part of a
        compound word of the other ('chamber' by 'landwirtschafts|kammer').  Words in `drop` are left out; each
        name keeps one word at least."""
        sides = _sides(a, b, table, drop)
        if not sides:
            return False, 0
        n = 0
        for words, units in sides:
            for w in words:
                c = _covered(w, units, table)
                if not c:
                    return False, 0
                n += c == 2
        return n > 0, n

    def nearly(self, a: str, b: str, table: dict, drop: frozenset | set = frozenset()) -> bool:
        """`translated` with one word left over: one word of the two names uncovered at most, more of each name's
        words covered than not, and one word at least covered as a cognate or through the table (two languages,
        not only shared words): 'erftverband' / 'erft river association' ('river' is left).  Not one word of
        each ('drustvo' / 'survey': the Slovenian Geological Society is not the Geological Survey)."""
        sides = _sides(a, b, table, drop)
        if not sides:
            return False
        other = left = 0
        for words, units in sides:
            covered = [_covered(w, units, table) for w in words]
            left += covered.count(0)
            if left > 1 or 2 * covered.count(0) >= len(words):
                return False
            other += sum(c > 0 and w not in units for w, c in zip(words, covered))
        return other > 0


def _sides(a: str, b: str, table: dict, drop: frozenset | set) -> tuple | None:
    """((a's words, b's words and their compounds' parts), (b's words, a's ...)): each name's words against
    what may cover them (Cover.translated, Cover.nearly); None when a name has no word or both the same."""
    wa, wb = _words(a, drop), _words(b, drop)
    if not wa or not wb or set(wa) == set(wb):
        return None
    units_a = wa + [p for w in wa for hp in parts(w, table) for p in hp]
    units_b = wb + [p for w in wb for hp in parts(w, table) for p in hp]
    return (wa, units_b), (wb, units_a)


MIN_MASS = 0.5  # of a national word's translation probability the other name's words must carry


def by_table(w: str, v: str, table: dict) -> bool:
    """v is (close to) one of the national word w's English words in `table`."""
    return any(close(e, v) for e in table.get(w, ()))


def _mass(w: str, others: list[str], table: dict) -> float:
    """How much of the national word w's translation probability the words `others` carry."""
    return sum(p for e, p in table.get(w, {}).items() if any(close(e, v) for v in others))


_PARTS: dict[tuple[int, str], list] = {}


def parts(w: str, table: dict) -> list[tuple[str, str]]:
    """`_parts`, remembered per table and word."""
    k = (id(table), w)
    if k not in _PARTS:
        if len(_PARTS) > 1 << 18:
            _PARTS.clear()
        _PARTS[k] = _parts(w, table)
    return _PARTS[k]


def _parts(w: str, table: dict) -> list[tuple[str, str]]:
    """The ways to read a compound word as two words of four letters or more, at least one of them in the
    table ('landwirtschaftskammer' -> ('landwirtschaft', 'kammer'): a linking 's' after the first part
    dropped when the part without it is in the table)."""
    out = []
    for i in range(4, len(w) - 3):
        h, t = w[:i], w[i:]
        if h.endswith("s") and h[:-1] in table:
            h = h[:-1]
        if len(h) >= 4 and (h in table or t in table):
            out.append((h, t))
    return out


def _covered(w: str, others: list[str], table: dict) -> int:
    """0 the word w is not covered by the words `others`, 1 by a cognate, 2 through the table: w is a national
    word whose English words among `others` carry MIN_MASS of its translation probability ('hochschule' is
    'university' 0.36 and 'applied' 0.33: 'university' alone is not it, 'university ... applied' is), or an
    English word of a national word among `others`; a compound word also by its two parts."""
    if any(alike(w, v) for v in others):
        return 1
    if _mass(w, others, table) >= MIN_MASS or any(by_table(v, w, table) for v in others):
        return 2
    for h, t in parts(w, table):
        if all(any(alike(x, v) for v in others) or _mass(x, others, table) >= MIN_MASS for x in (h, t)):
            return 2
    return 0
