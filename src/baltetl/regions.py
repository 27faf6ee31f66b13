"""Region and town names in English and in their own language, learned from reference data (issue 14).

    rows = learn(shared_data_folder)     # [(national word, English word, share, ROR locations)]
    write(rows)                          # reference/region_names.csv (translations.load reads it too)
    towns = learn_towns(shared_data_folder)   # [(English name, own name, ROR records)]
    write_towns(towns)                   # reference/city_names.csv (resolve's EXONYMS read it too)

'LANDWIRTSCHAFTSKAMMER NIEDERSACHSEN' is the 'Chamber of Agriculture, Lower Saxony', 'Region Midtjylland' the
'Central Denmark Region': a region's English name (an exonym) shares no word with its own name.  Both are in
reference data: ROR gives each organisation's location with its region's English name (GeoNames' first-order
subdivision: 'Lower Saxony', 'Central Jutland'), and the NUTS table the shipped LAU table points to names every
NUTS region in its own language ('Niedersachsen', 'Midtjylland').  A ROR location's town is looked up in the
LAU table (one municipality of that name in its country), which gives its NUTS3 region; a subdivision and a
NUTS region are one region when nearly all of the subdivision's ROR locations lie in the NUTS region and nearly
all of the NUTS region's in the subdivision (MIN_SHARE both ways, MIN_LOCATIONS at least), the NUTS region
covering less than half of its country's municipalities (not the country itself); of several NUTS levels, the one
holding most of the subdivision's locations and fewest others is taken (none when two levels of two names tie).  A row is kept for a national name of one word that is neither the English name nor a cognate of it,
and also for the words of ROR's names that begin as it does (its adjective: 'niedersächsisches',
'dolnośląski'); each English word gets an equal share.  No name is listed by hand.
"""

from __future__ import annotations

import csv
import gzip
from collections import Counter, defaultdict
from pathlib import Path

from . import cognates
from .normalise import fold

REFERENCE = Path(__file__).resolve().parent / "reference"
TABLE = REFERENCE / "region_names.csv"
CITIES = REFERENCE / "city_names.csv"
NUTS = REFERENCE / "nuts_changes_1999-2021.csv"
LAU = REFERENCE / "lau2019_nuts2016_fua.csv.gz"
MIN_SHARE = 0.9  # of a subdivision's ROR locations in the NUTS region, and of the NUTS region's in the subdivision
MIN_LOCATIONS = 3
PROVENANCE = "\n".join([
    "# ROR (https://ror.org), CC0 1.0: locations (town, first-order subdivision) of the EU/EEA cut registries/ror/ror_eu_eea.jsonl.gz",
    "# NUTS region names (Eurostat, reference/nuts_changes_1999-2021.csv) and the LAU table (reference/lau2019_nuts2016_fua.csv.gz)",
    "# learned by scripts/make_translations.py (regions.learn)"])  # fmt: skip


def nuts_names(path: Path = NUTS) -> dict[str, str]:
    """NUTS code -> its name in the region's language (the 2016 version, else 2013, else 2021)."""
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            for v in ("2016", "2013", "2021"):
                if r.get(f"code_{v}") and r.get(f"geo_name_{v}"):
                    out.setdefault(r[f"code_{v}"], r[f"geo_name_{v}"])
    return out


def _lau(path: Path = LAU) -> tuple[dict[tuple[str, str], set[str]], Counter]:
    """(country, folded municipality name) -> its NUTS3 codes; municipalities per NUTS code of every level."""
    towns: dict[tuple[str, str], set[str]] = defaultdict(set)
    per_code: Counter = Counter()
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            code = r["code_2016"]
            for n in {r["lau_name_national"], r["lau_name_latin"]} - {"", None}:
                for name in {n, n.split(",")[0]}:  # 'Braunschweig, Stadt' is Braunschweig
                    towns[(r["country"], fold(name))].add(code)
            per_code.update({code[:k] for k in range(2, len(code) + 1)})
    return towns, per_code


def learn(shared: Path) -> list[tuple[str, str, float, int]]:
    """Rows (national word, English word, share, ROR locations) of the shared data's ROR cut (module docstring)."""
    from .translations import ROR_CUT, _records

    names, (towns, per_code) = nuts_names(), _lau()
    in_sub: Counter = Counter()  # (country, subdivision) -> ROR locations placed in a NUTS3 region
    both: Counter = Counter()  # ((country, subdivision), NUTS code of any level) -> ROR locations
    in_code: Counter = Counter()
    words: set[str] = set()  # every word of ROR's names (for the adjectives)
    for rec in _records(Path(shared) / ROR_CUT):
        words.update(w for n in rec.get("names") or () for w in fold(n.get("value")).split())
        for loc in rec.get("locations") or ():
            country, sub, town = loc.get("country_code"), loc.get("subdivision"), loc.get("city")
            codes = towns.get((country, fold(town))) if country and sub and town else None
            if not codes or len(codes) != 1:
                continue
            n3 = next(iter(codes))
            in_sub[(country, sub)] += 1
            for k in range(3, len(n3) + 1):
                both[((country, sub), n3[:k])] += 1
                in_code[n3[:k]] += 1
    country_size = {c: per_code[c] for c in {k[0][0] for k in both}}
    fits: dict[tuple[str, str], list] = defaultdict(list)
    for (cs, code), n in both.items():
        if (n >= MIN_LOCATIONS and code in names and n >= MIN_SHARE * in_sub[cs] and n >= MIN_SHARE * in_code[code]
                and per_code[code] < 0.5 * country_size.get(cs[0], 0)):  # fmt: skip
            fits[cs].append(((-n, -n / in_code[code]), code, n))
    rows = {}
    for (_country, sub), found in fits.items():
        # the NUTS region holding most of the subdivision's locations and fewest others (Niederösterreich, AT12,
        # not Ostösterreich, AT1; Aragón, ES24, not its province Zaragoza); none when two levels tie (the
        # locations cannot tell Jihozápad, CZ03, from Jihočeský kraj, CZ031); a tie of one name is no doubt (Bretagne,
        # FRH / FRH0)
        found.sort()
        if any(f[0] == found[0][0] and fold(names[f[1]]) != fold(names[found[0][1]]) for f in found[1:]):
            continue
        _rank, code, n = found[0]
        national, english = fold(names[code]).split(), fold(sub).split()
        if len(national) != 1 or national == english or any(cognates.alike(national[0], e) for e in english):
            continue
        key = national[0]
        stem = key[: max(6, len(key) - 2)]
        for form in {key} | {w for w in words if w.startswith(stem)}:
            for e in english:
                rows[(form, e)] = (round(1 / len(english), 3), n)
    return sorted((f, e, p, n) for (f, e), (p, n) in rows.items())


def write(rows: list[tuple[str, str, float, int]], path: Path = TABLE) -> None:
    from .translations import write as write_table

    write_table(rows, path, PROVENANCE)


def learn_towns(shared: Path, min_records: int = MIN_LOCATIONS) -> list[tuple[str, str, int]]:
    """(English town name, its own name, ROR records): ROR gives a record's town in English ('Munich'); where that
    is no municipality's name in the LAU table of its country, the record's names in another language than English
    may hold the town's own name ('Ludwig-Maximilians-Universität München'): a municipality's name of that
    country beginning with the same two letters.  Kept: one word each, the own name the commonest such for that
    town, in min_records records at least."""
    from .translations import ROR_CUT, _records

    towns, _ = _lau()
    names: dict[str, set[str]] = defaultdict(set)
    for country, n in towns:
        names[country].add(n)
    found: Counter = Counter()
    for rec in _records(Path(shared) / ROR_CUT):
        country, town = rec.get("country_code"), fold(rec.get("city") or "")
        if not country or not town or " " in town or town in names[country]:
            continue
        own = {w for n in rec.get("names") or () if n.get("lang") not in (None, "", "en")
               for w in fold(n.get("value")).split() if w[:2] == town[:2] and w != town and w in names[country]}  # fmt: skip
        found.update((town, w) for w in own)
    best: dict[str, tuple[int, str]] = {}
    for (town, own), n in found.items():
        if n >= min_records and (town not in best or (n, own) > best[town]):
            best[town] = (n, own)
    return sorted((town, own, n) for town, (n, own) in best.items())


def write_towns(rows: list[tuple[str, str, int]], path: Path = CITIES) -> None:
    from .translations import write as write_table

    write_table(rows, path, TOWN_PROVENANCE, ("english", "own", "records"))


def load_towns(path: Path = CITIES) -> dict[str, str]:
    """English town name -> its own name (folded), of the shipped file."""
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as f:
        return {r["english"]: r["own"] for r in csv.DictReader(ln for ln in f if not ln.startswith("#"))}


TOWN_PROVENANCE = "\n".join([
    "# ROR (https://ror.org), CC0 1.0: records' towns and names of the EU/EEA cut registries/ror/ror_eu_eea.jsonl.gz",
    "# municipalities' names: the LAU table (reference/lau2019_nuts2016_fua.csv.gz)",
    "# learned by scripts/make_translations.py (regions.learn_towns)"])  # fmt: skip
